/*
** summary_state.c: the per-thread summary state of tf.summary: default writer, default step and
** recording condition. Each thread has its own, as in TensorFlow; a thread's default writer holds a
** reference that is dropped when the thread exits.
*/
#include "summary.h"

#include <pthread.h>

static __thread tbt_writer *t_writer;
static __thread int t_has_step;
static __thread int64_t t_step;
static __thread tbt_record_cond t_cond = {TBT_RECORD_ALWAYS, NULL, NULL};

static pthread_key_t g_writer_key;
static pthread_once_t g_key_once = PTHREAD_ONCE_INIT;

/* Runs at thread exit with the thread's default writer. */
static void release_writer(void *w) {
  tbt_writer_free(w);
}

static void make_key(void) {
  pthread_key_create(&g_writer_key, release_writer);
}

tbt_writer *tbt_default_writer(void) {
  return t_writer;
}

int tbt_set_default_writer(tbt_writer *w) {
  if (w && tbt_writer_is_noop(w)) return 0;
  if (w && tbt_writer_is_closed(w)) return TBT_ECLOSED;
  pthread_once(&g_key_once, make_key);
  tbt_writer *old = t_writer;
  t_writer = tbt_writer_retain(w);
  pthread_setspecific(g_writer_key, t_writer);
  tbt_writer_free(old);
  return 0;
}

int tbt_get_step(int64_t *step) {
  if (t_has_step && step) *step = t_step;
  return t_has_step;
}

void tbt_set_step(int64_t step) {
  t_step = step;
  t_has_step = 1;
}

void tbt_unset_step(void) {
  t_has_step = 0;
  t_step = 0;
}

tbt_record_cond tbt_record_if(int record) {
  tbt_record_cond old = t_cond;
  t_cond.mode = record ? TBT_RECORD_ALWAYS : TBT_RECORD_NEVER;
  t_cond.fn = NULL;
  t_cond.ud = NULL;
  return old;
}

tbt_record_cond tbt_record_if_fn(tbt_record_fn fn, void *ud) {
  tbt_record_cond old = t_cond;
  if (!fn) {
    t_cond.mode = TBT_RECORD_ALWAYS;
    t_cond.fn = NULL;
    t_cond.ud = NULL;
  } else {
    t_cond.mode = TBT_RECORD_CALLBACK;
    t_cond.fn = fn;
    t_cond.ud = ud;
  }
  return old;
}

void tbt_record_restore(tbt_record_cond previous) {
  t_cond = previous;
}

int tbt_should_record_summaries(void) {
  if (!t_writer) return 0;
  switch (t_cond.mode) {
    case TBT_RECORD_NEVER: return 0;
    /* A callback condition without a function (a hand-made one) records, as tbt_record_if_fn(NULL) does. */
    case TBT_RECORD_CALLBACK: return t_cond.fn ? t_cond.fn(t_cond.ud) != 0 : 1;
    default: return 1;
  }
}

tbt_writer *tbt_summary_writer(void) {
  return tbt_should_record_summaries() ? t_writer : NULL;
}

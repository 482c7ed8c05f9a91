/*
** test_export_threads_mt.c: a large export, whose profile files are written at once (a thread
** each) and its RunMetadata sized beside them, while another thread keeps recording. Every file
** holds every span of the exporting thread; what the other thread recorded is either exported or
** counted late, never both and never lost. Also run under ThreadSanitizer.
*/
#include "check.h"
#include "gunzip.h"
#include "testutil.h"

#include "tbtrace.h"

#include "run_metadata.pb-c.h"
#include "xplane.pb-c.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sched.h>

static uint32_t id(const char *s) {
  return tbt_intern(s);
}

static size_t count_substr(const uint8_t *s, size_t n, const char *needle) {
  size_t k = strlen(needle), c = 0;
  for (size_t i = 0; i + k <= n; i++) c += memcmp(s + i, needle, k) == 0;
  return c;
}

/* The other thread: pairs of "bg" spans until told to stop (a bounded number, so a slow build
** does not fill the memory limit). */
typedef struct bg_args {
  int stop;       /* atomic */
  int started;    /* atomic: its first span is recorded */
} bg_args;

static void *record_bg(void *arg) {
  bg_args *a = arg;
  uint32_t bg = id("bg");
  for (int i = 0; i < 200000 && !__atomic_load_n(&a->stop, __ATOMIC_ACQUIRE); i++) {
    tbt_span_begin_id(bg, 0);
    tbt_span_end();
    if (i == 0) __atomic_store_n(&a->started, 1, __ATOMIC_RELEASE);
    if (i % 64 == 63) {
      struct timespec ts = {0, 20000};
      nanosleep(&ts, NULL);
    }
  }
  __atomic_store_n(&a->started, 1, __ATOMIC_RELEASE);
  return NULL;
}

/* Large enough that the profile files are written at once and the RunMetadata sized beside
** them: every file holds every span exported, the same ones. */
static void test_large_export(void) {
  enum { PAIRS = 40000 };
  const char *dir = tu_tmpdir("large");
  tbt_writer *w;
  CHECK_EQ_INT(tbt_writer_open(&w, dir, NULL), 0);
  CHECK_EQ_INT(tbt_set_default_writer(w), 0);
  tbt_trace_options o;
  tbt_trace_options_init(&o);
  o.profiler = 1;
  o.profiler_outdir = dir;
  CHECK_EQ_INT(tbt_trace_on(&o), 0);
  for (int i = 0; i < PAIRS; i++) {
    tbt_span_begin_id(id("outer"), id("train"));
    tbt_span_begin_id(id("inner"), 0);
    tbt_span_end();
    tbt_span_end();
  }
  bg_args bga = {0, 0};
  pthread_t bgt;
  CHECK_EQ_INT(pthread_create(&bgt, NULL, record_bg, &bga), 0);
  while (!__atomic_load_n(&bga.started, __ATOMIC_ACQUIRE)) sched_yield();

  tbt_export_result res;
  CHECK_EQ_INT(tu_export("large", TBT_STEP(3), NULL, &res), 0);
  __atomic_store_n(&bga.stop, 1, __ATOMIC_RELEASE);
  pthread_join(bgt, NULL);
  /* every span of this thread, and at least the other's first */
  CHECK(res.spans > 2 * PAIRS);
  CHECK_EQ_INT(tbt_writer_flush(w), 0);

  tu_events ev = tu_read_events(tbt_writer_path(w));
  CHECK(!ev.bad && ev.n == 2);
  Tensorflow__Summary__Value *v = ev.n == 2 ? tu_value(ev.ev[1]) : NULL;
  CHECK(v && v->tensor && v->tensor->n_string_val == 1);
  if (v && v->tensor && v->tensor->n_string_val == 1) {
    ProtobufCBinaryData *b = &v->tensor->string_val[0];
    Tensorflow__RunMetadata *rm = tensorflow__run_metadata__unpack(NULL, b->len, b->data);
    CHECK(rm && rm->step_stats && rm->step_stats->n_dev_stats == 2);
    if (rm && rm->step_stats && rm->step_stats->n_dev_stats == 2) {
      /* the exporting thread recorded first, so it is the first device */
      CHECK_EQ_U64(rm->step_stats->dev_stats[0]->n_node_stats, 2 * PAIRS);
      CHECK_EQ_U64(rm->step_stats->dev_stats[0]->n_node_stats + rm->step_stats->dev_stats[1]->n_node_stats,
                   res.spans);
    }
    CHECK(rm && rm->n_function_graphs == 1 && rm->function_graphs[0]->pre_optimization_graph->n_node == 3);
    if (rm) tensorflow__run_metadata__free_unpacked(rm, NULL);
  }
  tu_events_free(&ev);

  size_t xl = 0, jl = 0, ul = 0;
  const char *xp = tbt_export_result_path(&res, "xplane"), *jp = tbt_export_result_path(&res, "chrome_trace");
  uint8_t *x = xp ? tu_read_file(xp, &xl) : NULL;
  uint8_t *j = jp ? tu_read_file(jp, &jl) : NULL;
  Tensorflow__Profiler__XSpace *xs = x ? tensorflow__profiler__xspace__unpack(NULL, xl, x) : NULL;
  CHECK(xs && xs->n_planes == 1 && xs->planes[0]->n_lines == 2);
  if (xs && xs->n_planes == 1 && xs->planes[0]->n_lines == 2) {
    CHECK_EQ_U64(xs->planes[0]->lines[0]->n_events, 2 * PAIRS);
    CHECK_EQ_U64(xs->planes[0]->lines[0]->n_events + xs->planes[0]->lines[1]->n_events, res.spans);
  }
  if (xs) tensorflow__profiler__xspace__free_unpacked(xs, NULL);
  uint8_t *u = j ? tu_gunzip(j, jl, &ul) : NULL;
  CHECK(u != NULL);
  if (u) {
    CHECK_EQ_U64(count_substr(u, ul, "\"ph\":\"X\""), res.spans);
    CHECK_EQ_U64(count_substr(u, ul, "\"name\":\"outer\""), PAIRS);
  }
  free(u);
  free(x);
  free(j);
  tbt_export_result_free(&res);
  tbt_set_default_writer(NULL);
  tbt_writer_free(w);
}

int main(void) {
  test_large_export();
  return CHECK_DONE();
}

/*
** test_track_cache.c: spans recorded through a tbt_track_cache, as the Lua binding records them.
** While the cache holds the calling thread's buffer the record is written inline; a first record,
** a track switch, a full chunk, a new trace, another thread or a clock other than the TSC goes
** out of line. Every case reads back what was recorded: the names, nesting, entries and record
** counts. The program runs itself again with TBTRACE_CLOCK=monotonic, where nothing is inline.
*/
#include "check.h"

#include "clock.h"
#include "tbtrace.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define ROUNDS 3000   /* 4 records each: about a dozen chunks */

static const char *nm(const tbt_trace_model *m, uint32_t i) {
  return i < m->nnames ? m->names[i] : "(bad index)";
}

/* The inline write holds where the header says it does. */
static int inline_expected(void) {
#if defined(__x86_64__)
  return strcmp(tbt_clock_source(), "tsc") == 0;
#else
  return 0;
#endif
}

static const tbt_model_thread *entry(const tbt_trace_model *m, uint64_t tid, int coroutine) {
  for (size_t t = 0; t < m->nthreads; t++)
    if (m->threads[t].tid == tid && (strstr(nm(m, m->threads[t].name), "coroutine") != NULL) == coroutine)
      return &m->threads[t];
  return NULL;
}

/* Nested spans across chunks, with a track switch now and then; the inline write itself. */
static void test_spans(void) {
  uint32_t a = tbt_intern("a"), b = tbt_intern("b"), t5 = tbt_intern("t5"), x = tbt_intern("x");
  tbt_track_cache c = {NULL};
  CHECK_EQ_INT(tbt_trace_on(NULL), 0);
  for (int i = 0; i < ROUNDS; i++) {
    if (i % 100 == 0) {
      tbt_track_begin_cached(&c, 5, t5, 0);
      tbt_track_end_cached(&c, 5);
    }
    tbt_track_begin_cached(&c, 0, a, 0);
    tbt_track_begin_cached(&c, 0, b, a);
    tbt_track_end_cached(&c, 0);
    tbt_track_end_cached(&c, 0);
  }
  /* The cache holds this thread's buffer, last written on track 0: a record there is inline. */
  CHECK_EQ_INT(tbt_track_put_(&c, 0, x, TBT_REC_BEGIN_), inline_expected());
  if (!inline_expected()) tbt_track_begin_cached(&c, 0, x, 0);
  CHECK_EQ_INT(tbt_track_put_(&c, 7, 0, TBT_REC_END_), 0);   /* another track: never inline */
  tbt_track_end_cached(&c, 0);

  tbt_trace_stats st;
  tbt_trace_get_stats(&st);
  /* 4 per round; per span on track 5 a switch there and one back; the span x. */
  CHECK_EQ_U64(st.records, (uint64_t)ROUNDS * 4 + (ROUNDS / 100) * 4 + 2);
  CHECK_EQ_U64(st.dropped, 0);

  tbt_trace_model m;
  CHECK_EQ_INT(tbt_trace_snapshot(&m), 0);
  uint64_t tid = (uint64_t)syscall(SYS_gettid);
  const tbt_model_thread *main_ = entry(&m, tid, 0), *five = entry(&m, tid, 1);
  CHECK(main_ && five);
  CHECK_EQ_INT(m.nthreads, 2);
  if (main_ && five) {
    CHECK_EQ_INT(main_->nspans, ROUNDS * 2 + 1);
    int bad = 0;
    for (size_t i = 0; i + 1 < main_->nspans; i += 2) {
      const tbt_model_span *p = &main_->spans[i], *q = &main_->spans[i + 1];
      bad += strcmp(nm(&m, p->name), "a") != 0 || p->depth != 0 || p->parent != -1;
      bad += strcmp(nm(&m, q->name), "b") != 0 || q->depth != 1 || q->parent != (int32_t)i;
      bad += strcmp(nm(&m, q->category), "a") != 0 || strcmp(nm(&m, q->path), "a/b") != 0;
      bad += q->start_ns < p->start_ns || q->end_ns > p->end_ns || p->end_ns < p->start_ns;
      bad += (p->flags | q->flags) != 0;
      if (i >= 2) bad += p->start_ns < main_->spans[i - 1].end_ns;
    }
    CHECK_EQ_INT(bad, 0);
    const tbt_model_span *last = &main_->spans[main_->nspans - 1];
    CHECK_EQ_STR(nm(&m, last->name), "x");
    CHECK_EQ_INT(last->depth, 0);
    CHECK_EQ_INT(last->flags, 0);
    CHECK_EQ_INT(five->nspans, ROUNDS / 100);
    for (size_t i = 0; i < five->nspans; i++) {
      CHECK_EQ_STR(nm(&m, five->spans[i].name), "t5");
      CHECK_EQ_INT(five->spans[i].depth, 0);
    }
  }
  tbt_trace_model_free(&m);

  /* With no trace on nothing is written, inline or not. */
  tbt_trace_off();
  CHECK_EQ_INT(tbt_track_put_(&c, 0, a, TBT_REC_BEGIN_), 0);
  tbt_track_begin_cached_(&c, 0, a, 0);
  tbt_track_end_cached_(&c, 0);

  /* A new trace: the cache's buffer belongs to the old one until the first record goes out of
  ** line; only the new trace's spans are in it. */
  CHECK_EQ_INT(tbt_trace_on(NULL), 0);
  CHECK_EQ_INT(tbt_track_put_(&c, 0, a, TBT_REC_BEGIN_), 0);
  tbt_track_begin_cached(&c, 0, b, 0);
  tbt_track_end_cached(&c, 0);
  tbt_track_begin_cached(&c, 0, x, 0);
  tbt_track_end_cached(&c, 0);
  tbt_trace_get_stats(&st);
  CHECK_EQ_U64(st.records, 4);
  CHECK_EQ_INT(tbt_trace_snapshot(&m), 0);
  CHECK_EQ_INT(m.nthreads, 1);
  if (m.nthreads == 1) {
    CHECK_EQ_INT(m.threads[0].nspans, 2);
    if (m.threads[0].nspans == 2) {
      CHECK_EQ_STR(nm(&m, m.threads[0].spans[0].name), "b");
      CHECK_EQ_STR(nm(&m, m.threads[0].spans[1].name), "x");
    }
  }
  tbt_trace_model_free(&m);
  tbt_trace_off();
}

/* A cache used by another thread while its first thread lives, then by the first again. */
static tbt_track_cache g_shared;
static uint64_t g_other_tid;

static void *other(void *arg) {
  (void)arg;
  g_other_tid = (uint64_t)syscall(SYS_gettid);
  tbt_track_begin_cached(&g_shared, 0, tbt_intern("other"), 0);
  tbt_track_begin_cached(&g_shared, 0, tbt_intern("other_inner"), 0);
  tbt_track_end_cached(&g_shared, 0);
  tbt_track_end_cached(&g_shared, 0);
  return NULL;
}

static void test_threads(void) {
  CHECK_EQ_INT(tbt_trace_on(NULL), 0);
  tbt_track_begin_cached(&g_shared, 0, tbt_intern("main1"), 0);
  tbt_track_end_cached(&g_shared, 0);
  tbt_track_begin_cached(&g_shared, 0, tbt_intern("main_open"), 0);
  pthread_t th;
  CHECK_EQ_INT(pthread_create(&th, NULL, other, NULL), 0);
  pthread_join(th, NULL);
  tbt_track_begin_cached(&g_shared, 0, tbt_intern("main2"), 0);
  tbt_track_end_cached(&g_shared, 0);
  tbt_track_end_cached(&g_shared, 0);

  tbt_trace_model m;
  CHECK_EQ_INT(tbt_trace_snapshot(&m), 0);
  CHECK_EQ_INT(m.nthreads, 2);
  const tbt_model_thread *mine = entry(&m, (uint64_t)syscall(SYS_gettid), 0);
  const tbt_model_thread *theirs = entry(&m, g_other_tid, 0);
  CHECK(mine && theirs && mine != theirs);
  if (mine && theirs) {
    CHECK_EQ_INT(mine->nspans, 3);
    if (mine->nspans == 3) {
      CHECK_EQ_STR(nm(&m, mine->spans[0].name), "main1");
      CHECK_EQ_STR(nm(&m, mine->spans[1].name), "main_open");
      CHECK_EQ_STR(nm(&m, mine->spans[2].name), "main2");
      CHECK_EQ_INT(mine->spans[2].depth, 1);   /* inside main_open, which the other thread never ended */
      CHECK_EQ_INT(mine->spans[1].flags, 0);
    }
    CHECK_EQ_INT(theirs->nspans, 2);
    if (theirs->nspans == 2) {
      CHECK_EQ_STR(nm(&m, theirs->spans[0].name), "other");
      CHECK_EQ_STR(nm(&m, theirs->spans[1].name), "other_inner");
      CHECK_EQ_INT(theirs->spans[1].parent, 0);
      CHECK_EQ_INT(theirs->spans[0].flags | theirs->spans[1].flags, 0);
    }
  }
  tbt_trace_model_free(&m);
  tbt_trace_off();
}

int main(int argc, char **argv) {
  (void)argc;
  test_spans();
  test_threads();
  const char *clk = getenv("TBTRACE_CLOCK");
  fprintf(stderr, "clock %s, inline writes %s\n", tbt_clock_source(), inline_expected() ? "on" : "off");
  if (!clk || strcmp(clk, "monotonic") != 0) {
    /* Again with the monotonic clock: every record out of line. */
    pid_t pid = fork();
    if (pid == 0) {
      setenv("TBTRACE_CLOCK", "monotonic", 1);
      execv("/proc/self/exe", argv);
      _exit(127);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  } else {
    CHECK_EQ_STR(tbt_clock_source(), "monotonic");
  }
  return CHECK_DONE();
}

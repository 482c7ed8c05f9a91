/*
** test_clock_reads.c: how often a scalar reads a clock. This program defines clock_gettime itself,
** so the library's calls come here (counted per clock, for the calling thread only) and go on to
** the kernel. A scalar reads CLOCK_REALTIME once, for its wall_time, and nothing else: the flush
** interval is the timer thread's to watch. A write() of the queue reads the coarse clock once.
*/
#include "check.h"
#include "testutil.h"

#include "tbtrace.h"

#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static __thread long t_realtime, t_other;

int clock_gettime(clockid_t id, struct timespec *ts) {
  if (id == CLOCK_REALTIME) t_realtime++;
  else t_other++;
  return (int)syscall(SYS_clock_gettime, id, ts);
}

static tbt_writer *g_w;

/* A default writer with the default options (max_queue 10, flush_millis 120000). */
static void open_default(const char *tag) {
  CHECK_EQ_INT(tbt_writer_open(&g_w, tu_tmpdir(tag), NULL), 0);
  tbt_set_default_writer(g_w);
}

static void close_default(void) {
  tbt_set_default_writer(NULL);
  tbt_writer_free(g_w);
  g_w = NULL;
}

static void reset(void) {
  t_realtime = t_other = 0;
}

static double now(void) {
  struct timespec ts;
  syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* n scalars of each kind at the default max_queue: one realtime read each, and no more other
** reads than the queue had writes. What was read is what was written: wall times in order and
** within the test's own readings. */
static void test_one_read_per_scalar(void) {
  open_default("clock_reads");
  CHECK_EQ_INT(tbt_scalar("warm", 0, TBT_STEP(0), NULL), 1);   /* the timer thread starts */
  CHECK_EQ_INT(tbt_writer_flush(g_w), 0);
  tbt_writer_stats st0, st1;
  CHECK_EQ_INT(tbt_writer_get_stats(g_w, &st0), 0);
  const long n = 3000;
  char long_tag[200];
  memset(long_tag, 't', sizeof long_tag - 1);
  long_tag[sizeof long_tag - 1] = '\0';
  double before = now();
  reset();
  for (long i = 0; i < n; i++) {
    /* The short-tag path, a tag too long for it, and a description. */
    const char *tag = i % 3 == 1 ? long_tag : "loss";
    CHECK_EQ_INT(tbt_scalar(tag, (double)i, TBT_STEP(i), i % 3 == 2 ? "d" : NULL), 1);
  }
  long realtime = t_realtime, other = t_other;
  double after = now();
  CHECK_EQ_INT(tbt_writer_get_stats(g_w, &st1), 0);
  CHECK_EQ_INT(realtime, n);
  CHECK(st1.flushes - st0.flushes >= (uint64_t)(n / 11));   /* max_queue 10: a write per 11 */
  CHECK(other <= (long)(st1.flushes - st0.flushes));
  CHECK_EQ_INT(tbt_writer_flush(g_w), 0);
  tu_events r = tu_read_events(tbt_writer_path(g_w));
  CHECK(!r.bad);
  CHECK_EQ_INT(r.n, n + 2);
  for (size_t k = 2; k < r.n; k++) {
    CHECK(r.ev[k]->wall_time >= before - 0.001 && r.ev[k]->wall_time <= after + 0.001);
    if (k > 2) CHECK(r.ev[k]->wall_time >= r.ev[k - 1]->wall_time);
  }
  tu_events_free(&r);
  close_default();
}

/* Nothing to write (no default writer, recording off): no clock is read at all. */
static void test_no_read_when_not_written(void) {
  reset();
  CHECK_EQ_INT(tbt_scalar("x", 1, TBT_STEP(1), NULL), 0);
  CHECK_EQ_INT(t_realtime + t_other, 0);
  open_default("clock_reads_off");
  reset();
  tbt_record_cond old = tbt_record_if(0);
  CHECK_EQ_INT(tbt_scalar("x", 1, TBT_STEP(1), NULL), 0);
  tbt_record_restore(old);
  CHECK_EQ_INT(t_realtime + t_other, 0);
  close_default();
}

int main(void) {
  test_one_read_per_scalar();
  test_no_read_when_not_written();
  return CHECK_DONE();
}

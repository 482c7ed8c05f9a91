/*
** test_late_mt.c: threads record spans without pause while another thread exports. What they
** record after the export read the trace must be counted in late_records when the export ends
** the trace, so exported spans plus late ones account for every span, up to the one record
** each thread can be writing at the instant recording switches off.
*/
#include "check.h"
#include "testutil.h"

#include "tbtrace.h"

#include <pthread.h>
#include <stdlib.h>

#define THREADS 3
#define MAX_PAIRS 500000L   /* per thread and round: bounds memory when an export is slow */

static volatile int g_go;
static uint32_t g_name;

static void *recorder(void *arg) {
  long *pairs = arg;
  while (!__atomic_load_n(&g_go, __ATOMIC_ACQUIRE)) {
  }
  long n = 0;
  while (tbt_trace_is_on() && n < MAX_PAIRS) {
    tbt_span_begin_id(g_name, 0);
    tbt_span_end();
    n++;
  }
  *pairs = n;
  return NULL;
}

int main(void) {
  char outdir[4200];
  snprintf(outdir, sizeof outdir, "%s", tu_tmpdir("late"));
  g_name = tbt_intern("busy");
  int late_seen = 0;
  for (int round = 0; round < 3; round++) {
    tbt_trace_options o;
    tbt_trace_options_init(&o);
    o.profiler = 1;   /* profile files make the export long enough for late records */
    o.profiler_outdir = outdir;
    o.memory_limit = (size_t)1 << 30;
    CHECK_EQ_INT(tbt_trace_on(&o), 0);
    pthread_t th[THREADS];
    long pairs[THREADS] = {0};
    g_go = 0;
    for (int i = 0; i < THREADS; i++) pthread_create(&th[i], NULL, recorder, &pairs[i]);
    __atomic_store_n(&g_go, 1, __ATOMIC_RELEASE);
    struct timespec ts = {0, 2 * 1000000};
    nanosleep(&ts, NULL);
    tbt_export_result res;
    CHECK_EQ_INT(tu_export("late", TBT_STEP(round), NULL, &res), 0);
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    const tbt_export_result *r = &res;
    long total = 0;
    for (int i = 0; i < THREADS; i++) total += pairs[i];
    late_seen += r->late_records > 0;
    CHECK_EQ_U64(r->dropped, 0);
    /* Spans in the export (a span still open at the snapshot is in it, its end is late) plus
    ** late pairs (each thread's first record is a track switch only when it records on a
    ** track other than 0, which C code never does). */
    double accounted = (double)r->spans + (double)r->late_records / 2.0;
    double diff = accounted - (double)total;
    if (diff < 0) diff = -diff;
    CHECK(diff <= 2.0 * THREADS);
    if (diff > 2.0 * THREADS)
      fprintf(stderr, "round %d: %ld pairs recorded, %llu exported + %llu late records\n", round,
              total, (unsigned long long)r->spans, (unsigned long long)r->late_records);
    tbt_export_result_free(&res);
  }
  CHECK(late_seen > 0);   /* the profile files take long enough for some */
  return CHECK_DONE();
}

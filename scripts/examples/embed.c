/*
** embed.c: a C program that traces its work and exports through a Lua policy.
**
**   embed <logdir> <policy.lua>
**
** Three worker threads "train" in steps; every few steps the main thread exports a trace. The
** policy (scripts/examples/embed_policy.lua) names the tags, numbers the steps and the profile
** runs, so the C code says only what happened, never how the results are laid out.
*/
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tbtrace.h"
#include "tbtrace_policy.h"

static void busy_us(long us) {
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  do clock_gettime(CLOCK_MONOTONIC, &t);
  while ((t.tv_sec - t0.tv_sec) * 1000000L + (t.tv_nsec - t0.tv_nsec) / 1000 < us);
}

static void *worker(void *arg) {
  char name[32];
  snprintf(name, sizeof name, "worker-%d", (int)(long)arg);
  tbt_thread_name(name);
  uint32_t batch = tbt_intern("batch"), compute = tbt_intern("compute");
  for (int i = 0; i < 20; i++) {
    TBT_SPAN("load") busy_us(50);
    tbt_span_begin_id(batch, compute);
    TBT_SPAN("forward") busy_us(100);
    TBT_SPAN("backward") busy_us(150);
    tbt_span_end();
    tbt_counter("queue_depth", (double)(i % 5));
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s LOGDIR POLICY.lua\n", argv[0]);
    return 2;
  }
  if (tbt_policy_load(argv[2], 0) != 0) {
    fprintf(stderr, "embed: %s\n", tbt_policy_error());
    return 1;
  }
  tbt_writer *w;
  int rc = tbt_writer_open(&w, argv[1], NULL);
  if (rc) {
    fprintf(stderr, "embed: %s: %s\n", argv[1], tbt_strerror(rc));
    return 1;
  }
  tbt_set_default_writer(w);
  tbt_thread_name("main");

  for (int round = 0; round < 3; round++) {
    tbt_trace_options opts;
    tbt_trace_options_init(&opts);
    opts.profiler = 1;
    tbt_trace_on(&opts);
    pthread_t t[3];
    for (long i = 0; i < 3; i++) pthread_create(&t[i], NULL, worker, (void *)i);
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    tbt_span_depends("load", "batch");
    /* No name, no step: the policy decides both. */
    tbt_export_result r;
    rc = tbt_policy_export(NULL, TBT_DEFAULT_STEP, NULL, &r);
    if (rc) {
      fprintf(stderr, "embed: export: %s\n", rc == TBT_EPOLICY ? tbt_policy_error() : tbt_export_error());
      return 1;
    }
    printf("exported %llu spans to %s\n", (unsigned long long)r.spans,
           tbt_export_result_path(&r, "profile_dir"));
    tbt_export_result_free(&r);
  }
  tbt_writer_close(w);
  tbt_set_default_writer(NULL);
  tbt_writer_free(w);
  tbt_policy_unload();
  return 0;
}

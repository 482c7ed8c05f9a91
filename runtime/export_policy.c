/*
** export_policy.c: the export resolver slot (tbtrace_policy.h) and the per-thread message of the
** last export failure.
*/
#include "export_policy.h"

#include "alloc.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static tbt_export_resolver g_fn;
static void *g_ud;
static uint64_t g_exports;
static __thread char t_error[1024];

void tbt_set_export_resolver(tbt_export_resolver fn, void *ud) {
  pthread_mutex_lock(&g_mu);
  g_fn = fn;
  g_ud = ud;
  pthread_mutex_unlock(&g_mu);
}

const char *tbt_export_error(void) {
  return t_error;
}

void tbt_export_set_error(const char *msg) {
  snprintf(t_error, sizeof t_error, "%s", msg ? msg : "");
}

int tbt_export_resolve(const tbt_export_facts *facts, tbt_export_decision *out) {
  memset(out, 0, sizeof *out);
  out->max_queue = -1;
  out->flush_millis = -1;
  pthread_mutex_lock(&g_mu);
  tbt_export_resolver fn = g_fn;
  void *ud = g_ud;
  pthread_mutex_unlock(&g_mu);
  if (!fn) return 0;
  char err[1024] = "";
  int rc = fn(ud, facts, out, err, sizeof err);
  err[sizeof err - 1] = '\0';   /* a resolver may fill errbuf to the end */
  if (rc) {
    tbt_export_decision_free(out);
    tbt_export_set_error(err[0] ? err : tbt_strerror(rc));
    return TBT_EPOLICY;
  }
  return 0;
}

void tbt_export_decision_free(tbt_export_decision *d) {
  tbt_free(d->name);
  tbt_free(d->logdir);
  tbt_free(d->profiler_outdir);
  tbt_free(d->run_name);
  tbt_free(d->filename_suffix);
  d->name = d->logdir = d->profiler_outdir = d->run_name = d->filename_suffix = NULL;
}

uint64_t tbt_export_count(void) {
  return __atomic_load_n(&g_exports, __ATOMIC_RELAXED);
}

void tbt_export_count_success(void) {
  __atomic_fetch_add(&g_exports, 1, __ATOMIC_RELAXED);
}

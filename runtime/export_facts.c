/*
** export_facts.c: what an export knows, read from the trace and the calling thread's writer
** state: tbt_export_get_facts for the caller that decides (tbtrace_trace.h), tbt_export_read_state for
** the rules (export_plan.h), and the count of exports that succeeded.
*/
#include "export_facts.h"

#include "alloc.h"
#include "summary.h"
#include "trace_buffer.h"

#include <string.h>
#include <unistd.h>

static uint64_t g_exports;
static uint64_t g_attempts;

void tbt_export_count_success(void) {
  __atomic_fetch_add(&g_exports, 1, __ATOMIC_RELAXED);
}

void tbt_export_count_attempt(void) {
  __atomic_fetch_add(&g_attempts, 1, __ATOMIC_RELAXED);
}

/* The record condition alone (tbt_should_record_summaries also needs a default writer). */
static int record_condition(void) {
  tbt_record_cond c = tbt_record_if(1);
  tbt_record_restore(c);
  switch (c.mode) {
    case TBT_RECORD_NEVER: return 0;
    case TBT_RECORD_CALLBACK: return c.fn ? c.fn(c.ud) != 0 : 1;
    default: return 1;
  }
}

/* The calling thread's default writer, when it records somewhere (a no-op writer does not). */
static tbt_writer *recording_writer(void) {
  tbt_writer *w = tbt_default_writer();
  return w && !tbt_writer_is_noop(w) ? w : NULL;
}

int tbt_export_read_state(const tbt_export_request *req, tbt_trace_options *topts,
                          tbt_export_state *s) {
  memset(s, 0, sizeof *s);
  if (tbt_trace_get_options_dup(topts)) return TBT_ENOMEM;
  s->trace_on = tbt_trace_is_on();
  s->graph = topts->graph;
  s->profiler = topts->profiler;
  s->trace_outdir = topts->profiler_outdir;
  tbt_writer *w = recording_writer();
  if (w) {
    s->has_writer = 1;
    s->writer_logdir = tbt_writer_logdir(w);
    s->writer_closed = tbt_writer_is_closed(w);
  }
  s->has_default_step = tbt_get_step(&s->default_step);
  if (tbt_export_needs_condition(s, req)) s->condition = record_condition();
  return 0;
}

static int copy(const char **dst, const char *src) {
  if (!src) return 0;
  *dst = tbt_strdup(src);
  return *dst ? 0 : TBT_ENOMEM;
}

int tbt_export_get_facts(tbt_export_facts *f) {
  if (!f) return TBT_EINVAL;
  memset(f, 0, sizeof *f);
  tbt_trace_options topts;
  if (tbt_trace_get_options_dup(&topts)) return TBT_ENOMEM;
  tbt_trace_stats st;
  tbt_trace_get_stats(&st);
  tbt_writer *w = recording_writer();
  char host[256];
  tbt_hostname(host, sizeof host);
  f->has_default_step = tbt_get_step(&f->default_step);
  f->graph = topts.graph;
  f->profiler = topts.profiler;
  f->trace_on = tbt_trace_is_on();
  f->pid = (long)getpid();
  f->time = tbt_wall_time();
  f->export_index = __atomic_load_n(&g_exports, __ATOMIC_RELAXED) + 1;
  f->export_attempt = __atomic_load_n(&g_attempts, __ATOMIC_RELAXED) + 1;
  f->spans = st.records;
  f->dropped = st.dropped;
  f->threads = st.threads;
  f->profiler_outdir = topts.profiler_outdir;   /* already a copy */
  int rc = 0;
  if (w) rc = copy(&f->logdir, tbt_writer_logdir(w));
  if (!rc) rc = copy(&f->host, host);
  tbt_cluster c;
  if (!rc && tbt_cluster_get(&c) == 1) {
    tbt_cluster *own = tbt_malloc(sizeof *own);
    if (own) *own = c;
    else rc = TBT_ENOMEM;
    f->cluster = own;
  }
  if (rc) tbt_export_facts_free(f);
  return rc;
}

void tbt_export_facts_free(tbt_export_facts *f) {
  if (!f) return;
  tbt_free((void *)f->logdir);
  tbt_free((void *)f->profiler_outdir);
  tbt_free((void *)f->host);
  tbt_free((void *)f->cluster);
  memset(f, 0, sizeof *f);
}

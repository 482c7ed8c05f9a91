/*
** trace.c: trace control: trace_on / trace_off, the options of the current trace, stats, and
** the snapshot entry point for the exporter. Buffers are in trace_buffer.c, the drain in
** trace_drain.c.
**
** One mutex serializes control, stats and snapshots; recording never takes it. The flag the
** inline span functions test (tbt_trace_active_: the generation while a trace is on, see
** tbtrace_trace.h) is set last by trace_on and cleared first by trace_off.
*/
#include "trace_buffer.h"
#include "trace_drain.h"
#include "trace_source.h"

#include "alloc.h"
#include "clock.h"

#include <pthread.h>
#include <string.h>

uint32_t tbt_trace_active_;

static pthread_mutex_t g_ctl = PTHREAD_MUTEX_INITIALIZER;
static int g_on;
static tbt_trace_options g_opts;     /* profiler_outdir points to g_outdir */
static char *g_outdir;
static int64_t g_start_ns;           /* realtime at trace_on */
static int64_t g_epoch_offset;       /* realtime - monotonic at trace_on */

void tbt_trace_options_init(tbt_trace_options *opts) {
  if (!opts) return;
  opts->graph = 1;
  opts->profiler = 0;
  opts->profiler_outdir = NULL;
  opts->memory_limit = 0;
}

int tbt_trace_on(const tbt_trace_options *opts) {
  tbt_trace_options o;
  tbt_trace_options_init(&o);
  if (opts) o = *opts;
  pthread_mutex_lock(&g_ctl);
  if (g_on) {
    pthread_mutex_unlock(&g_ctl);
    return 1;
  }
  char *outdir = NULL;
  if (o.profiler_outdir && !(outdir = tbt_strdup(o.profiler_outdir))) {
    pthread_mutex_unlock(&g_ctl);
    return TBT_ENOMEM;
  }
  tbt_clock_init();
  g_outdir = outdir;
  g_opts.graph = o.graph != 0;
  g_opts.profiler = o.profiler != 0;
  g_opts.profiler_outdir = outdir;
  g_opts.memory_limit = o.memory_limit ? o.memory_limit : TBT_TRACE_DEFAULT_LIMIT;
  g_epoch_offset = tbt_clock_epoch_offset();
  g_start_ns = tbt_clock_real_ns();
  tbt_buffers_start_(g_opts.memory_limit);
  g_on = 1;
  /* The inline recorders (tbtrace_trace.h) write where this is a buffer's generation: only
  ** with ticks read by rdtsc, as theirs are. */
  uint32_t active = tbt_buffers_generation_();
  if (!__atomic_load_n(&tbt_clock_tsc_, __ATOMIC_RELAXED)) active ^= 0x80000000u;
  __atomic_store_n(&tbt_trace_active_, active, __ATOMIC_RELEASE);
  pthread_mutex_unlock(&g_ctl);
  return 0;
}

void tbt_trace_off(void) {
  tbt_trace_end_(0, NULL);
}

/* gen 0: whatever trace is on. */
int tbt_trace_end_(uint32_t gen, tbt_trace_stats *final) {
  pthread_mutex_lock(&g_ctl);
  int ended = 0;
  if (final) memset(final, 0, sizeof *final);
  if (g_on && (gen == 0 || gen == tbt_buffers_generation_())) {
    ended = 1;
    __atomic_store_n(&tbt_trace_active_, 0, __ATOMIC_RELEASE);
    tbt_buffers_stop_(final);
    g_on = 0;
    tbt_free(g_outdir);
    g_outdir = NULL;
    tbt_trace_options_init(&g_opts);
  }
  pthread_mutex_unlock(&g_ctl);
  return ended;
}

int tbt_trace_is_on(void) {
  return __atomic_load_n(&tbt_trace_active_, __ATOMIC_ACQUIRE) != 0;
}

void tbt_trace_get_options(tbt_trace_options *out) {
  if (!out) return;
  pthread_mutex_lock(&g_ctl);
  if (g_on)
    *out = g_opts;
  else
    tbt_trace_options_init(out);
  pthread_mutex_unlock(&g_ctl);
}

int tbt_trace_get_options_dup(tbt_trace_options *out) {
  pthread_mutex_lock(&g_ctl);
  if (g_on)
    *out = g_opts;
  else
    tbt_trace_options_init(out);
  int rc = 0;
  if (out->profiler_outdir && !(out->profiler_outdir = tbt_strdup(out->profiler_outdir))) rc = TBT_ENOMEM;
  pthread_mutex_unlock(&g_ctl);
  return rc;
}

void tbt_trace_get_stats(tbt_trace_stats *out) {
  if (!out) return;
  pthread_mutex_lock(&g_ctl);
  tbt_buffers_stats_(out);
  pthread_mutex_unlock(&g_ctl);
}

int tbt_trace_read_(tbt_source *out) {
  pthread_mutex_lock(&g_ctl);
  int rc = g_on ? tbt_buffers_source_(out, g_epoch_offset) : TBT_ENOTRACE;
  if (rc) {
    memset(out, 0, sizeof *out);
    pthread_mutex_unlock(&g_ctl);
    return rc;
  }
  out->start_ns = g_start_ns;
  out->graph = g_opts.graph;
  out->profiler = g_opts.profiler;
  return 0;   /* the lock stays held: the source reads the buffers where they lie */
}

void tbt_trace_read_end_(tbt_source *s) {
  if (!s || !s->ops) return;
  tbt_source_free(s);
  pthread_mutex_unlock(&g_ctl);
}

int tbt_trace_snapshot(tbt_trace_model *out) {
  if (!out) return TBT_EINVAL;
  pthread_mutex_lock(&g_ctl);
  if (!g_on) {
    pthread_mutex_unlock(&g_ctl);
    return TBT_ENOTRACE;
  }
  tbt_trace_model m;
  memset(&m, 0, sizeof m);
  int rc = tbt_buffers_snapshot_(&m, g_epoch_offset);
  if (rc == 0) {
    m.start_ns = g_start_ns;
    m.generation = tbt_buffers_generation_();
    m.graph = g_opts.graph;
    m.profiler = g_opts.profiler;
    *out = m;
  }
  pthread_mutex_unlock(&g_ctl);
  return rc;
}

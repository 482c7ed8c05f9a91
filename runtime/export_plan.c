/*
** export_plan.c: what trace_export does, decided before anything is done (export_plan.h).
**
** The rules, in the order they apply (TensorFlow's trace_export, summary_ops_v2.py, with
** tbtrace's departures marked):
**   1. no trace on -> TBT_ENOTRACE.
**   2. a decided run_name must be one path component -> TBT_EINVAL (tbtrace: TF has none).
**   3. the tag: the decided name, else the caller's; empty or not UTF-8 -> TBT_EINVAL.
**   4. with the profiler on, the outdir: the caller's, else trace_on's, else the decided one,
**      else the writer's logdir (TF 2.2-2.5's fallback, which never worked there; a decided
**      logdir counts as the writer's) -> none or empty: TBT_ENOOUTDIR. TF checks this before it
**      writes anything, so before the step.
**   5. the step: the caller's, else the decided one, else (only when recording) the thread's
**      default step.
**   6. recording, as for any summary: without a default writer nothing is written and no step is
**      needed; with one, the record condition decides, then a missing step is TBT_ENOSTEP, then a
**      closed writer TBT_ECLOSED. Without a writer but with a decided logdir, a writer opened
**      there records under the same condition and step rules (tbtrace: policies).
**   7. graph on and profiler off: plugin graph_run_metadata_graph; otherwise, both flags off
**      included, graph_run_metadata.
** Every failure comes before any write, so a failed export changes nothing and the trace stays on
** (TF drains the trace before its missing-step error and loses it).
*/
#include "export_plan.h"

#include <string.h>

int tbt_export_needs_condition(const tbt_export_state *s, const tbt_export_request *req) {
  return s->trace_on && (s->has_writer || req->decision.logdir);
}

/* NULL (no decision), or one path component: a directory name below plugins/profile. */
static int is_file_name(const char *s) {
  return !s || (*s && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0);
}

static void fail(tbt_export_plan *p, int rc, const char *why) {
  p->rc = rc;
  p->why = why;
}

void tbt_plan_export(const tbt_export_state *s, const tbt_export_request *req, tbt_export_plan *p) {
  const tbt_export_decision *d = &req->decision;
  memset(p, 0, sizeof *p);
  if (!s->trace_on) return fail(p, TBT_ENOTRACE, NULL);
  if (!is_file_name(d->run_name))
    return fail(p, TBT_EINVAL, "trace_export: the run name must be a single file name");
  p->run_name = d->run_name;
  p->tag = d->name ? d->name : req->name;
  if (!p->tag || !*p->tag || !tbt_utf8_valid(p->tag, strlen(p->tag)))
    return fail(p, TBT_EINVAL, "trace_export: the name must be a non-empty UTF-8 string");

  p->writer_logdir = s->has_writer ? s->writer_logdir : d->logdir;
  if (s->profiler) {
    p->outdir = req->profiler_outdir ? req->profiler_outdir
                : s->trace_outdir ? s->trace_outdir
                : d->profiler_outdir ? d->profiler_outdir
                : p->writer_logdir;
    if (!p->outdir || !*p->outdir) return fail(p, TBT_ENOOUTDIR, NULL);
    p->profile = 1;
  }

  tbt_step step = req->step;
  if (!step.has_step && d->has_step) step = TBT_STEP(d->step);
  p->record = (s->has_writer || d->logdir) && s->condition;
  if (p->record && !step.has_step) {
    if (!s->has_default_step) return fail(p, TBT_ENOSTEP, NULL);
    step = TBT_STEP(s->default_step);
  }
  if (p->record && s->has_writer && s->writer_closed) return fail(p, TBT_ECLOSED, NULL);
  p->step = step.step;
  p->open_writer = p->record && !s->has_writer;
  /* The writer about to open there makes outdir a run: no marker needed. */
  p->no_marker = p->profile && p->open_writer && strcmp(p->outdir, d->logdir) == 0;
  p->graph_only = s->graph && !s->profiler;
}

/*
** export_plan.h: TensorFlow's trace_export rules as a pure function (internal).
**
** tbt_trace_export_ex reads the state an export depends on into a tbt_export_state, asks
** tbt_plan_export what to do, and only then does it. The plan touches nothing: no files, no
** clocks, no globals, so each rule is tested from a table (spec/c/test_export_plan.c).
*/
#ifndef TBT_EXPORT_PLAN_H
#define TBT_EXPORT_PLAN_H

#include "tbtrace.h"

/* What the rules look at, read before planning. */
typedef struct tbt_export_state {
  int trace_on;
  int graph, profiler;          /* the trace_on flags */
  const char *trace_outdir;     /* trace_on's profiler_outdir (NULL: none) */
  int has_writer;               /* a default writer that records (a no-op writer counts as none) */
  const char *writer_logdir;
  int writer_closed;
  int condition;                /* the record condition's verdict; asked only when it matters
                                   (tbt_export_needs_condition) */
  int has_default_step;
  int64_t default_step;
} tbt_export_state;

/* 1 when the plan depends on the record condition: there is a writer to record to, or one the
** decisions would open. The reader asks the condition (which may run a callback) only then. */
int tbt_export_needs_condition(const tbt_export_state *s, const tbt_export_request *req);

typedef struct tbt_export_plan {
  int rc;                       /* 0, or the code the export fails with (nothing done) */
  const char *why;              /* with rc: what failed, for the message (NULL: tbt_strerror) */
  const char *tag;              /* the summary tag */
  int record;                   /* write the summary */
  int64_t step;                 /* its step */
  int graph_only;               /* plugin graph_run_metadata_graph, RunMetadata with graphs only;
                                   else graph_run_metadata with step_stats */
  int open_writer;              /* open a writer at writer_logdir first, as the default */
  const char *writer_logdir;
  int profile;                  /* write the profile files */
  const char *outdir;
  const char *run_name;         /* NULL: the local time */
  int no_marker;                /* outdir is about to hold an event file: no .profile-empty */
} tbt_export_plan;

/* Plans the export of req in state s. Strings in the plan point into s and req. */
void tbt_plan_export(const tbt_export_state *s, const tbt_export_request *req, tbt_export_plan *p);

#endif

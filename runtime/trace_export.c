/*
** trace_export.c: tbt_trace_export and tbt_last_export (tbtrace_trace.h), tf.summary.trace_export
** with TensorFlow's rules and without its losses.
**
** Order of work, every check before any write, so a failed export changes nothing and the trace
** stays exportable (TF drains the trace before its missing-step error and loses it):
**   1. no trace on                          -> TBT_ENOTRACE
**   2. the export policy, if one is installed (tbtrace_policy.h): name, step, logdir for a writer
**      it creates when there is no default writer, profiler outdir, run name -> TBT_EPOLICY
**   3. the tag: the policy's name, else the caller's; empty or not UTF-8 -> TBT_EINVAL; open
**      summary scopes in front
**   4. recording: the default writer and the record condition, as for any summary; then the
**      step: the caller's, else the policy's, else tbt_get_step(); none while recording ->
**      TBT_ENOSTEP (without a default writer no step is needed, as in TF); a closed default
**      writer -> TBT_ECLOSED
**   5. with the profiler on, the outdir: the caller's, else trace_on's, else the policy's, else
**      the default writer's logdir (or the policy writer's) -> TBT_ENOOUTDIR
**   6. snapshot the trace (it keeps recording until step 8)
**   7. profile files (profile_files.c), then the summary: tag = name, DT_STRING scalar holding
**      the serialized RunMetadata, plugin "graph_run_metadata_graph" with the graph only when
**      trace_on had graph and not profiler, else "graph_run_metadata" with step_stats too
**      (also when both flags are off: TF would write an empty RunMetadata), content "1".
**      If the summary fails, the profile files are removed again.
**   8. end the trace, and tbt_last_export() describes what was written. Records other threads
**      made after the snapshot (while files were written) end with the trace: they are counted
**      in late_records, never silently lost.
** Exports are serialized by a process-wide lock.
*/

#include "alloc.h"
#include "encoders.h"
#include "export_policy.h"
#include "fs.h"
#include "summary.h"
#include "tensor.pb-c.h"
#include "trace_buffer.h"
#include "tbtrace.h"
#include "utf8.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t g_export_mu = PTHREAD_MUTEX_INITIALIZER;
static tbt_export_result g_last;
static tbt_profile_paths g_last_paths;

const tbt_export_result *tbt_last_export(void) {
  return &g_last;
}

static const char PLUGIN_GRAPH[] = "graph_run_metadata_graph";
static const char PLUGIN_FULL[] = "graph_run_metadata";

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

static int fail(int rc, const char *what) {
  char msg[2048];
  if (what) snprintf(msg, sizeof msg, "%s: %s", what, tbt_strerror(rc));
  else snprintf(msg, sizeof msg, "%s", tbt_strerror(rc));
  tbt_export_set_error(msg);
  return rc;
}

/* NULL (no decision), or one path component: a directory name below plugins/profile. */
static int is_file_name(const char *s) {
  return !s || (!strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0);
}

static uint64_t count_spans(const tbt_trace_model *m) {
  uint64_t n = 0;
  for (size_t t = 0; t < m->nthreads; t++) n += m->threads[t].nspans;
  return n;
}

/* Spans still open when the trace was read (a scope() never closed, a suspended coroutine); the
** paths of the first few go to names. */
static char g_last_unfinished[512];

static uint64_t count_unfinished(const tbt_trace_model *m, char *names, size_t size) {
  uint64_t n = 0;
  size_t used = 0;
  names[0] = '\0';
  for (size_t t = 0; t < m->nthreads; t++)
    for (size_t i = 0; i < m->threads[t].nspans; i++) {
      const tbt_model_span *s = &m->threads[t].spans[i];
      if (!(s->flags & TBT_SPAN_UNFINISHED)) continue;
      const char *path = s->path < m->nnames ? m->names[s->path] : "";
      if (used + strlen(path) + 8 < size) {
        used += (size_t)snprintf(names + used, size - used, "%s%s", n ? ", " : "", path);
      } else if (used + 6 < size && !strstr(names, ", ...")) {
        used += (size_t)snprintf(names + used, size - used, ", ...");
      }
      n++;
    }
  return n;
}

static int export_locked(const char *name, tbt_step step, const char *profiler_outdir) {
  if (!tbt_trace_is_on()) return fail(TBT_ENOTRACE, NULL);
  tbt_trace_options topts;
  tbt_trace_get_options(&topts);
  tbt_trace_stats tstats;
  tbt_trace_get_stats(&tstats);
  tbt_writer *w = tbt_default_writer();
  if (w && tbt_writer_is_noop(w)) w = NULL;
  char host[256];
  tbt_hostname(host, sizeof host);

  tbt_export_facts facts;
  memset(&facts, 0, sizeof facts);
  facts.name = name;
  facts.has_step = step.has_step;
  facts.step = step.step;
  facts.has_default_step = tbt_get_step(&facts.default_step);
  facts.logdir = w ? tbt_writer_logdir(w) : NULL;
  facts.profiler_outdir = profiler_outdir ? profiler_outdir : topts.profiler_outdir;
  facts.graph = topts.graph;
  facts.profiler = topts.profiler;
  facts.host = host;
  facts.pid = (long)getpid();
  facts.time = tbt_wall_time();
  facts.export_index = tbt_export_count() + 1;
  facts.spans = tstats.records;
  facts.dropped = tstats.dropped;
  facts.threads = tstats.threads;
  tbt_export_decision d;
  int rc = tbt_export_resolve(&facts, &d);
  if (rc) return rc;   /* the message is set */
  if (!is_file_name(d.run_name)) {
    /* Lua policies check this themselves; a C resolver could name a directory anywhere. */
    char msg[1200];
    snprintf(msg, sizeof msg, "export policy: run_name '%.1000s' is not a single file name", d.run_name);
    tbt_export_set_error(msg);
    tbt_export_decision_free(&d);
    return TBT_EPOLICY;
  }

  tbt_trace_model model;
  memset(&model, 0, sizeof model);
  int have_model = 0;
  tbt_buf rm = {0};
  tbt_profile_paths paths = {0};
  tbt_writer *created = NULL;

  const char *tag = d.name ? d.name : name;
  if (!tag || !*tag || !tbt_utf8_valid(tag, strlen(tag))) {
    rc = fail(TBT_EINVAL, "trace_export: the name must be a non-empty UTF-8 string");
    goto done;
  }
  /* TF writes the summary inside summary_scope(name): open summary scopes prefix the tag. */
  rc = tbt_summary_scoped_tag(&tag, "");
  if (rc) {
    rc = fail(rc, NULL);
    goto done;
  }
  if (!step.has_step && d.has_step) step = TBT_STEP(d.step);
  const char *logdir = w ? tbt_writer_logdir(w) : d.logdir;
  int recording;
  if (w) {
    recording = tbt_summary_prepare(&step);   /* 1, 0, TBT_ENOSTEP or TBT_ECLOSED */
    if (recording < 0) {
      rc = fail(recording, NULL);
      goto done;
    }
  } else if (d.logdir) {
    recording = record_condition();
    if (recording && !step.has_step) {
      if (!tbt_get_step(&step.step)) {
        rc = fail(TBT_ENOSTEP, NULL);
        goto done;
      }
      step.has_step = 1;
    }
  } else {
    recording = 0;
  }
  const char *outdir = NULL;
  if (topts.profiler) {
    outdir = profiler_outdir ? profiler_outdir
             : topts.profiler_outdir ? topts.profiler_outdir
             : d.profiler_outdir ? d.profiler_outdir
             : logdir;
    if (!outdir || !*outdir) {
      rc = fail(TBT_ENOOUTDIR, NULL);
      goto done;
    }
  }

  rc = tbt_trace_snapshot(&model);
  if (rc) {
    rc = fail(rc, "trace_export: reading the trace");
    goto done;
  }
  have_model = 1;
  int graph_only = topts.graph && !topts.profiler;
  if (recording) {
    rc = tbt_encode_run_metadata(&model, graph_only ? TBT_RUN_METADATA_GRAPH : TBT_RUN_METADATA_FULL,
                                 &rm);
    if (rc) {
      rc = fail(rc, "trace_export: encoding the RunMetadata");
      goto done;
    }
  }
  if (topts.profiler) {
    tbt_profile_options po;
    memset(&po, 0, sizeof po);
    po.outdir = outdir;
    po.run_name = d.run_name;
    po.gzip_level = -1;
    /* The writer the policy is about to open makes outdir a run: no marker needed there. */
    po.no_marker = recording && !w && strcmp(outdir, d.logdir) == 0;
    rc = tbt_profile_write(&model, &po, &paths);
    if (rc) {
      char what[1200];
      snprintf(what, sizeof what, "trace_export: writing profile files under %s", outdir);
      rc = fail(rc, what);
      goto done;
    }
  }
  int wrote = 0;
  if (recording) {
    if (!w) {
      tbt_writer_options wo;
      tbt_writer_options_init(&wo);
      wo.max_queue = d.max_queue;
      wo.flush_millis = d.flush_millis;
      wo.filename_suffix = d.filename_suffix;
      rc = tbt_writer_open(&created, d.logdir, &wo);
      if (!rc) rc = tbt_set_default_writer(created);
      if (rc) {
        char what[1200];
        snprintf(what, sizeof what, "trace_export: opening a writer in %s", d.logdir);
        rc = fail(rc, what);
        goto undo;
      }
    }
    Tensorflow__TensorShapeProto shape = TENSORFLOW__TENSOR_SHAPE_PROTO__INIT;
    Tensorflow__TensorProto tensor = TENSORFLOW__TENSOR_PROTO__INIT;
    ProtobufCBinaryData value = {rm.len, rm.data};
    tensor.dtype = TENSORFLOW__DATA_TYPE__DT_STRING;
    tensor.tensor_shape = &shape;
    tensor.n_string_val = 1;
    tensor.string_val = &value;
    rc = tbt_summary_emit_prepared(tag, &tensor, graph_only ? PLUGIN_GRAPH : PLUGIN_FULL, "1", 1,
                                   NULL, step.step);
    if (rc < 0) {
      rc = fail(rc, "trace_export: writing the summary");
      if (created) tbt_set_default_writer(NULL);
      goto undo;
    }
    wrote = rc == 1;
    rc = 0;
  }

  /* Only the trace that was exported ends: another thread may have replaced it meanwhile. */
  tbt_trace_stats final;
  if (!tbt_trace_end_(model.generation, &final)) {
    final.records = model.records;
    final.dropped = model.dropped;
  }
  tbt_profile_paths_free(&g_last_paths);
  g_last_paths = paths;
  memset(&paths, 0, sizeof paths);
  memset(&g_last, 0, sizeof g_last);
  g_last.wrote_summary = wrote;
  g_last.profile_dir = g_last_paths.run_dir;
  g_last.xplane_path = g_last_paths.xplane_path;
  g_last.chrome_trace_path = g_last_paths.chrome_path;
  g_last.spans = count_spans(&model);
  g_last.unfinished = count_unfinished(&model, g_last_unfinished, sizeof g_last_unfinished);
  g_last.unfinished_names = g_last_unfinished;
  g_last.dropped = final.dropped > model.dropped ? final.dropped : model.dropped;
  g_last.late_records = final.records > model.records ? final.records - model.records : 0;
  tbt_export_count_success();
  tbt_export_set_error(NULL);
  goto done;

undo:
  tbt_profile_remove(&paths);
done:
  if (created) tbt_writer_free(created);
  tbt_profile_paths_free(&paths);
  tbt_buf_free(&rm);
  if (have_model) tbt_trace_model_free(&model);
  tbt_export_decision_free(&d);
  return rc;
}

int tbt_trace_export(const char *name, tbt_step step, const char *profiler_outdir) {
  pthread_mutex_lock(&g_export_mu);
  int rc = export_locked(name, step, profiler_outdir);
  pthread_mutex_unlock(&g_export_mu);
  return rc;
}

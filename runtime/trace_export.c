/*
** trace_export.c: carrying out an export (tbt_trace_export, tbt_trace_export_ex: tbtrace_trace.h),
** tf.summary.trace_export with TensorFlow's rules and without its losses.
**
** The rules are export_plan.c's; this file only reads the state, asks for the plan, and does it:
**   1. read the trace where it lies (a source, trace_source.h: threads keep recording until
**      step 5, what they record meanwhile is not read) and size the RunMetadata;
**   2. profile files (profile_files.c), each encoder streaming into its file;
**   3. the summary: tag (under the open summary scopes), a DT_STRING scalar holding the
**      serialized RunMetadata, the plan's plugin, content "1", framed into the event file as the
**      RunMetadata is encoded; first opening the writer the decisions asked for. If this fails,
**      the profile files are removed again;
**   4. the read ends, so no copy of the trace was ever held: what an export holds grows with the
**      trace's distinct names, not its spans (trace_drain.c says what a read holds);
**   5. end the trace; the result lists what was written. Records other threads made after the
**      read began (while files were written) end with the trace: they are counted in
**      late_records, never silently lost.
** Exports are serialized by a process-wide lock: each one ends the process's trace.
*/
#include "tbtrace.h"

#include "alloc.h"
#include "cluster.h"
#include "encoders.h"
#include "export_facts.h"
#include "summary.h"
#include "trace_buffer.h"
#include "trace_source.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t g_export_mu = PTHREAD_MUTEX_INITIALIZER;
static __thread char t_error[1024];

static const char PLUGIN_GRAPH[] = "graph_run_metadata_graph";
static const char PLUGIN_FULL[] = "graph_run_metadata";

const char *tbt_export_error(void) {
  return t_error;
}

/* Records this thread's export error message and returns rc. */
static int fail(int rc, const char *what) {
  if (what) snprintf(t_error, sizeof t_error, "%.900s: %s", what, tbt_strerror(rc));
  else snprintf(t_error, sizeof t_error, "%s", tbt_strerror(rc));
  return rc;
}

void tbt_export_request_init(tbt_export_request *req) {
  if (!req) return;
  memset(req, 0, sizeof *req);
  req->step = TBT_DEFAULT_STEP;
  req->decision.max_queue = -1;
  req->decision.flush_millis = -1;
}

/* The paths of the first few spans still open when the trace was read (a scope() never closed, a
** suspended coroutine), ", "-separated into names (size bytes). */
static void unfinished_names(const tbt_source *src, char *names, size_t size) {
  size_t used = 0;
  names[0] = '\0';
  for (size_t i = 0; i < src->nunfinished_paths; i++) {
    uint32_t p = src->unfinished_paths[i];
    const char *path = p < src->nnames ? src->names[p] : "";
    if (used + strlen(path) + 8 < size) {
      used += (size_t)snprintf(names + used, size - used, "%s%s", i ? ", " : "", path);
    } else if (used + 6 < size && !strstr(names, ", ...")) {
      used += (size_t)snprintf(names + used, size - used, ", ...");
    }
  }
  if (src->unfinished > src->nunfinished_paths && used + 6 < size && !strstr(names, ", ..."))
    snprintf(names + used, size - used, ", ...");
}

#define UNFINISHED_NAMES 512

/* The most rows an export lists: events, profile_dir, one per profile format, profile_marker. */
#define MAX_FILES (3 + TBT_PROFILE_FORMATS)

/* Moves *path (when set) into a row of r, whose room was made before anything was written. */
static void add_file(tbt_export_result *r, const char *kind, char **path) {
  if (!*path) return;
  r->files[r->nfiles++] = (tbt_export_file){kind, *path};
  *path = NULL;
}

/* Exports of this many spans or more size the RunMetadata beside the profile files. */
enum { PARALLEL_SPANS = 1 << 16 };

typedef struct rm_job {
  tbt_source *src;
  int variant;
  tbt_run_metadata *rm;
  int rc;
} rm_job;

static void *prepare_rm(void *arg) {
  rm_job *j = arg;
  j->rc = tbt_run_metadata_prepare(j->src, j->variant, &j->rm);
  return NULL;
}

static int fill_run_metadata(void *ud, tbt_sink *out) {
  return tbt_run_metadata_write(ud, out);
}

/* The summary: a DT_STRING scalar holding the RunMetadata, written into the event file as it is
** encoded. */
static int write_summary(const tbt_export_plan *plan, tbt_run_metadata *rm) {
  return tbt_summary_emit_string_streamed(plan->tag, plan->graph_only ? PLUGIN_GRAPH : PLUGIN_FULL,
                                          "1", 1, plan->step, tbt_run_metadata_size(rm),
                                          fill_run_metadata, rm);
}

static int export_locked(const tbt_export_request *req, tbt_export_result *res) {
  tbt_trace_options topts;
  tbt_export_state state;
  int rc = tbt_export_read_state(req, &topts, &state);
  if (rc) {
    tbt_free((void *)topts.profiler_outdir);
    return fail(rc, "trace_export: reading the trace's options");
  }
  tbt_export_plan plan;
  tbt_plan_export(&state, req, &plan);
  /* TF writes the summary inside summary_scope(name): open summary scopes prefix the tag. */
  if (!plan.rc) plan.rc = tbt_summary_scoped_tag(&plan.tag, "");
  if (plan.rc) {
    tbt_free((void *)topts.profiler_outdir);
    return fail(plan.rc, plan.why);
  }

  tbt_source src;
  memset(&src, 0, sizeof src);
  tbt_run_metadata *rm = NULL;
  tbt_profile_paths paths = {0};
  tbt_writer *created = NULL;
  char *events_path = NULL;
  const tbt_export_decision *d = &req->decision;

  /* Room for the rows now: once the summary is written, nothing may fail. */
  if (res && !(res->files = tbt_calloc(MAX_FILES, sizeof *res->files))) {
    rc = fail(TBT_ENOMEM, "trace_export");
    goto done;
  }
  rc = tbt_trace_read_(&src);
  if (rc) {
    rc = fail(rc, "trace_export: reading the trace");
    goto done;
  }
  if (res) {
    if (!(res->unfinished_names = tbt_malloc(UNFINISHED_NAMES))) {
      rc = fail(TBT_ENOMEM, "trace_export");
      goto done;
    }
    res->unfinished = src.unfinished;
    unfinished_names(&src, res->unfinished_names, UNFINISHED_NAMES);
  }
  /* In a cluster the devices carry the task, so the processes of a job tell apart (the profile
  ** files' names and planes too: profile_files.c). */
  tbt_cluster cluster;
  char task[256];
  if (tbt_cluster_get(&cluster) == 1) {
    tbt_cluster_task_prefix(&cluster, task, sizeof task);
    src.task = task;
  }
  /* The RunMetadata is sized (two walks of the trace) while the profile files are written: beside
  ** them on a thread of its own for a large trace, so the walks overlap the gzip. */
  rm_job rj = {&src, plan.graph_only ? TBT_RUN_METADATA_GRAPH : TBT_RUN_METADATA_FULL, NULL, 0};
  pthread_t rm_thread;
  int rm_threaded = 0;
  if (plan.record) {
    if (plan.profile && src.spans >= PARALLEL_SPANS)
      rm_threaded = pthread_create(&rm_thread, NULL, prepare_rm, &rj) == 0;
    if (!rm_threaded) prepare_rm(&rj);
  }
  if (plan.profile && !(plan.record && !rm_threaded && rj.rc)) {
    tbt_profile_options po;
    memset(&po, 0, sizeof po);
    po.outdir = plan.outdir;
    po.run_name = plan.run_name;
    po.gzip_level = -1;
    po.no_marker = plan.no_marker;
    rc = tbt_profile_write_source(&src, &po, &paths);
  }
  if (rm_threaded) pthread_join(rm_thread, NULL);
  rm = rj.rm;
  if (rj.rc) {
    rc = fail(rj.rc, "trace_export: encoding the RunMetadata");
    goto undo;
  }
  if (rc) {
    char what[1200];
    snprintf(what, sizeof what, "trace_export: writing profile files under %.1000s", plan.outdir);
    rc = fail(rc, what);
    goto done;
  }
  int wrote = 0;
  if (plan.record) {
    if (plan.open_writer) {
      tbt_writer_options wo;
      tbt_writer_options_init(&wo);
      wo.max_queue = d->max_queue;
      wo.flush_millis = d->flush_millis;
      wo.filename_suffix = d->filename_suffix;
      rc = tbt_writer_open(&created, plan.writer_logdir, &wo);
      if (!rc) rc = tbt_set_default_writer(created);
      if (rc) {
        char what[1200];
        snprintf(what, sizeof what, "trace_export: opening a writer in %.1000s", plan.writer_logdir);
        rc = fail(rc, what);
        goto undo;
      }
    }
    if (res && !(events_path = tbt_strdup(tbt_writer_path(tbt_default_writer())))) {
      rc = fail(TBT_ENOMEM, "trace_export");
      if (created) tbt_set_default_writer(NULL);
      goto undo;
    }
    rc = write_summary(&plan, rm);
    if (rc < 0) {
      rc = fail(rc, "trace_export: writing the summary");
      if (created) tbt_set_default_writer(NULL);
      goto undo;
    }
    wrote = rc == 1;
    rc = 0;
  }

  if (res) {
    if (wrote) add_file(res, "events", &events_path);
    add_file(res, "profile_dir", &paths.run_dir);
    for (int i = 0; i < TBT_PROFILE_FORMATS; i++)
      add_file(res, tbt_profile_formats[i].kind, &paths.files[i]);
    add_file(res, "profile_marker", &paths.marker_path);
    res->wrote_summary = wrote;
    res->spans = src.spans;
  }
  /* Only the trace that was exported ends: another thread may have replaced it meanwhile. */
  tbt_trace_stats final;
  uint32_t generation = src.generation;
  uint64_t records = src.records, dropped = src.dropped;
  tbt_run_metadata_free(rm);
  rm = NULL;
  tbt_trace_read_end_(&src);   /* the trace read is over: it may end */
  if (!tbt_trace_end_(generation, &final)) {
    final.records = records;
    final.dropped = dropped;
  }
  if (res) {
    res->dropped = final.dropped > dropped ? final.dropped : dropped;
    res->late_records = final.records > records ? final.records - records : 0;
  }
  tbt_export_count_success();
  t_error[0] = '\0';
  goto done;

undo:
  tbt_profile_remove(&paths);
done:
  if (rc && res) tbt_export_result_free(res);
  tbt_free(events_path);
  if (created) tbt_writer_free(created);
  tbt_profile_paths_free(&paths);
  tbt_run_metadata_free(rm);
  tbt_trace_read_end_(&src);
  tbt_free((void *)topts.profiler_outdir);
  return rc;
}

int tbt_trace_export_ex(const tbt_export_request *req, tbt_export_result *result) {
  if (result) memset(result, 0, sizeof *result);
  if (!req) return fail(TBT_EINVAL, "trace_export");
  pthread_mutex_lock(&g_export_mu);
  tbt_export_count_attempt();
  int rc = export_locked(req, result);
  pthread_mutex_unlock(&g_export_mu);
  return rc;
}

int tbt_trace_export(const char *name, tbt_step step, const char *profiler_outdir) {
  tbt_export_request req;
  tbt_export_request_init(&req);
  req.name = name;
  req.step = step;
  req.profiler_outdir = profiler_outdir;
  return tbt_trace_export_ex(&req, NULL);
}

const char *tbt_export_result_path(const tbt_export_result *r, const char *kind) {
  if (!r || !kind) return NULL;
  for (size_t i = 0; i < r->nfiles; i++)
    if (strcmp(r->files[i].kind, kind) == 0) return r->files[i].path;
  return NULL;
}

void tbt_export_result_free(tbt_export_result *r) {
  if (!r) return;
  for (size_t i = 0; i < r->nfiles; i++) tbt_free(r->files[i].path);
  tbt_free(r->files);
  tbt_free(r->unfinished_names);
  memset(r, 0, sizeof *r);
}

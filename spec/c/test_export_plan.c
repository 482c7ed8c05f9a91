/*
** test_export_plan.c: tbt_plan_export, TensorFlow's trace_export rules (export_plan.c), one table
** row per case of each rule, no files touched. Each row gives the state an export reads and the
** request, and what the plan must say: the failure, or the tag, step, recording, plugin, writer
** to open and profile outdir.
*/
#include "check.h"

#include "export_plan.h"

#include <string.h>

/* A state field set / the state an export typically meets. */
#define ON .trace_on = 1, .graph = 1
#define WRITER .has_writer = 1, .writer_logdir = "/logs", .condition = 1
#define PROFILER .profiler = 1

typedef struct row {
  const char *rule;
  tbt_export_state s;
  tbt_export_request r;
  int rc;
  /* checked when rc is 0 */
  const char *tag;
  int record;
  int64_t step;
  int graph_only;
  int open_writer;
  const char *writer_logdir;
  const char *outdir;       /* NULL: no profile files */
  int no_marker;
  const char *run_name;
} row;

#define NAME(n) .r = {.name = (n)}
#define REQ(...) .r = {__VA_ARGS__}
#define STEP(n) .step = {1, (n)}
#define DECIDE(...) .decision = {__VA_ARGS__}

static const row rows[] = {
  /* 1. no trace */
  {"1: no trace on", {0}, NAME("x"), TBT_ENOTRACE},
  {"1: no trace on, before any other check", {WRITER}, REQ(.name = ""), TBT_ENOTRACE},
  {"1: a trace with both flags off is a trace", {.trace_on = 1}, NAME("x"), 0, "x", 0, 0, 0},

  /* 2. the run name */
  {"2: run name with '/'", {ON}, REQ(.name = "x", DECIDE(.run_name = "a/b")), TBT_EINVAL},
  {"2: run name '..'", {ON}, REQ(.name = "x", DECIDE(.run_name = "..")), TBT_EINVAL},
  {"2: run name '.'", {ON}, REQ(.name = "x", DECIDE(.run_name = ".")), TBT_EINVAL},
  {"2: empty run name", {ON}, REQ(.name = "x", DECIDE(.run_name = "")), TBT_EINVAL},
  {"2: run name escaping", {ON, PROFILER, .trace_outdir = "/o"},
   REQ(.name = "x", DECIDE(.run_name = "../up")), TBT_EINVAL},
  {"2: a run name that is one component", {ON, PROFILER, .trace_outdir = "/o"},
   REQ(.name = "x", DECIDE(.run_name = "run-1")), 0, "x", 0, 0, 0, 0, NULL, "/o", 0, "run-1"},

  /* 3. the tag */
  {"3: no name", {ON}, REQ(.name = NULL), TBT_EINVAL},
  {"3: empty name", {ON}, NAME(""), TBT_EINVAL},
  {"3: name not UTF-8", {ON}, NAME("\xc3"), TBT_EINVAL},
  {"3: name with a surrogate", {ON}, NAME("\xed\xa0\x80"), TBT_EINVAL},
  {"3: the decided name wins", {ON}, REQ(.name = "x", DECIDE(.name = "d")), 0, "d", 0, 0, 1},
  {"3: a decided name stands in for none", {ON}, REQ(DECIDE(.name = "d")), 0, "d", 0, 0, 1},
  {"3: a bad decided name fails a good one", {ON}, REQ(.name = "x", DECIDE(.name = "")), TBT_EINVAL},

  /* 4. the profile outdir */
  {"4: profiler, no outdir anywhere", {ON, PROFILER}, NAME("x"), TBT_ENOOUTDIR},
  {"4: the caller's outdir first", {ON, PROFILER, WRITER, .trace_outdir = "/t"},
   REQ(.name = "x", STEP(1), .profiler_outdir = "/c", DECIDE(.profiler_outdir = "/d")), 0, "x", 1, 1, 0, 0,
   "/logs", "/c"},
  {"4: then trace_on's", {ON, PROFILER, WRITER, .trace_outdir = "/t"},
   REQ(.name = "x", STEP(1), DECIDE(.profiler_outdir = "/d")), 0, "x", 1, 1, 0, 0, "/logs", "/t"},
  {"4: then the decided one", {ON, PROFILER, WRITER},
   REQ(.name = "x", STEP(1), DECIDE(.profiler_outdir = "/d")), 0, "x", 1, 1, 0, 0, "/logs", "/d"},
  {"4: then the writer's logdir", {ON, PROFILER, WRITER}, REQ(.name = "x", STEP(1)), 0, "x", 1, 1, 0, 0,
   "/logs", "/logs"},
  {"4: then a decided logdir", {ON, PROFILER, .condition = 1},
   REQ(.name = "x", STEP(1), DECIDE(.logdir = "/dl")), 0, "x", 1, 1, 0, 1, "/dl", "/dl", 1},
  {"4: a decided logdir is an outdir even when not recording", {ON, PROFILER, .condition = 0},
   REQ(.name = "x", DECIDE(.logdir = "/dl")), 0, "x", 0, 0, 0, 0, "/dl", "/dl", 0},
  {"4: an empty caller's outdir is none, and hides the others", {ON, PROFILER, WRITER, .trace_outdir = "/t"},
   REQ(.name = "x", STEP(1), .profiler_outdir = ""), TBT_ENOOUTDIR},
  {"4: an empty trace_on outdir is none", {ON, PROFILER, .trace_outdir = ""}, NAME("x"), TBT_ENOOUTDIR},
  {"4: checked before the step", {ON, PROFILER, WRITER}, REQ(.name = "x", .profiler_outdir = ""),
   TBT_ENOOUTDIR},
  {"4: no profiler, no outdir needed", {ON}, NAME("x"), 0, "x", 0, 0, 1, 0, NULL, NULL},
  {"4: no profiler: an outdir given is unused", {ON, .trace_outdir = "/t"},
   REQ(.name = "x", .profiler_outdir = "/c"), 0, "x", 0, 0, 1, 0, NULL, NULL},
  {"4: a decided logdir elsewhere needs a marker", {ON, PROFILER, .condition = 1, .trace_outdir = "/t"},
   REQ(.name = "x", STEP(1), DECIDE(.logdir = "/dl")), 0, "x", 1, 1, 0, 1, "/dl", "/t", 0},

  /* 5. the step */
  {"5: the caller's step", {ON, WRITER, .has_default_step = 1, .default_step = 9},
   REQ(.name = "x", STEP(5), DECIDE(.has_step = 1, .step = 7)), 0, "x", 1, 5, 1, 0, "/logs"},
  {"5: then the decided step", {ON, WRITER, .has_default_step = 1, .default_step = 9},
   REQ(.name = "x", DECIDE(.has_step = 1, .step = 7)), 0, "x", 1, 7, 1, 0, "/logs"},
  {"5: then the default step", {ON, WRITER, .has_default_step = 1, .default_step = 9}, NAME("x"), 0, "x", 1,
   9, 1, 0, "/logs"},
  {"5: extreme steps pass as they are", {ON, WRITER}, REQ(.name = "x", STEP(INT64_MIN)), 0, "x", 1,
   INT64_MIN, 1, 0, "/logs"},

  /* 6. recording */
  {"6: no writer: nothing written, no step needed", {ON}, NAME("x"), 0, "x", 0, 0, 1},
  {"6: a writer and no step at all", {ON, WRITER}, NAME("x"), TBT_ENOSTEP},
  {"6: the condition says no: no step needed", {ON, .has_writer = 1, .writer_logdir = "/logs"}, NAME("x"),
   0, "x", 0, 0, 1, 0, "/logs"},
  {"6: a closed writer", {ON, WRITER, .writer_closed = 1}, REQ(.name = "x", STEP(1)), TBT_ECLOSED},
  {"6: a closed writer and no step: the step first", {ON, WRITER, .writer_closed = 1}, NAME("x"),
   TBT_ENOSTEP},
  {"6: a closed writer that would not record", {ON, .has_writer = 1, .writer_logdir = "/logs",
   .writer_closed = 1}, NAME("x"), 0, "x", 0, 0, 1, 0, "/logs"},
  {"6: a decided logdir opens a writer", {ON, .condition = 1},
   REQ(.name = "x", STEP(3), DECIDE(.logdir = "/dl")), 0, "x", 1, 3, 1, 1, "/dl"},
  {"6: a decided logdir under a false condition opens none", {ON},
   REQ(.name = "x", DECIDE(.logdir = "/dl")), 0, "x", 0, 0, 1, 0, "/dl"},
  {"6: a decided logdir needs a step too", {ON, .condition = 1}, REQ(.name = "x", DECIDE(.logdir = "/dl")),
   TBT_ENOSTEP},
  {"6: a writer makes a decided logdir moot", {ON, WRITER},
   REQ(.name = "x", STEP(1), DECIDE(.logdir = "/dl")), 0, "x", 1, 1, 1, 0, "/logs"},

  /* 7. the plugin */
  {"7: graph only", {.trace_on = 1, .graph = 1}, NAME("x"), 0, "x", 0, 0, 1},
  {"7: graph and profiler", {.trace_on = 1, .graph = 1, .profiler = 1, .trace_outdir = "/t"}, NAME("x"), 0,
   "x", 0, 0, 0, 0, NULL, "/t"},
  {"7: profiler only", {.trace_on = 1, .profiler = 1, .trace_outdir = "/t"}, NAME("x"), 0, "x", 0, 0, 0, 0,
   NULL, "/t"},
  {"7: neither: the full RunMetadata", {.trace_on = 1}, NAME("x"), 0, "x", 0, 0, 0},
};

static int same_str(const char *a, const char *b) {
  return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int main(void) {
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    const row *w = &rows[i];
    tbt_export_plan p;
    memset(&p, 0x5a, sizeof p);
    tbt_plan_export(&w->s, &w->r, &p);
    int ok = p.rc == w->rc;
    if (ok && !w->rc) {
      ok = same_str(p.tag, w->tag) && p.record == w->record && (!w->record || p.step == w->step) &&
           p.graph_only == w->graph_only && p.open_writer == w->open_writer &&
           same_str(p.writer_logdir, w->writer_logdir) && p.profile == (w->outdir != NULL) &&
           (!w->outdir || same_str(p.outdir, w->outdir)) && p.no_marker == w->no_marker &&
           same_str(p.run_name, w->run_name);
    }
    if (ok && w->rc) ok = p.rc < 0;
    CHECK(ok);
    if (!ok)
      fprintf(stderr, "  row %zu (%s): rc %d (want %d), tag %s, record %d, step %lld, graph_only %d, "
              "open_writer %d, logdir %s, profile %d, outdir %s, no_marker %d\n", i, w->rule, p.rc,
              w->rc, p.rc ? "-" : p.tag, p.record, (long long)p.step, p.graph_only, p.open_writer,
              p.rc ? "-" : p.writer_logdir ? p.writer_logdir : "(none)", p.profile,
              p.profile && p.outdir ? p.outdir : "(none)", p.no_marker);
  }

  /* The condition is asked only when a writer could record. */
  tbt_export_request req;
  tbt_export_request_init(&req);
  tbt_export_state s = {ON};
  CHECK_EQ_INT(tbt_export_needs_condition(&s, &req), 0);
  s.has_writer = 1;
  CHECK_EQ_INT(tbt_export_needs_condition(&s, &req), 1);
  s.has_writer = 0;
  req.decision.logdir = "/dl";
  CHECK_EQ_INT(tbt_export_needs_condition(&s, &req), 1);
  s.trace_on = 0;
  CHECK_EQ_INT(tbt_export_needs_condition(&s, &req), 0);
  return CHECK_DONE();
}

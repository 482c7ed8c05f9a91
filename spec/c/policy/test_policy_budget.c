/*
** test_policy_budget.c: a C host (libtbtrace_policy) survives every policy an unlucky author could
** write: C-level work no instruction count sees (string.find/gsub backtracking, table.move over a
** huge range), memory (4 GiB in pieces, one 2 GiB string), an error whose __tostring loops, a
** looping __gc, __pairs or __index, an endless loop. Each export returns within the budget plus
** 0.5 s with TBT_EPOLICY and a message naming the policy, the hook and the budget; the trace stays
** on; the next export works and writes the spans recorded before the failed one.
*/
#include "check.h"
#include "testutil.h"

#include "tbtrace.h"
#include "tbtrace_policy.h"
#include "tbtrace_trace.h"

#include "run_metadata.pb-c.h"

#include <time.h>

static char g_dir[4096];

static const struct {
  const char *what, *code, *budget;
} ATTACKS[] = {
  {"string.find", "string.find(string.rep('a', 40), string.rep('a*', 20) .. 'b')", "time"},
  {"string.gsub", "string.gsub(string.rep('a', 40), string.rep('a*', 20) .. 'b', '')", "time"},
  {"table.move", "table.move({ 1 }, 1, math.maxinteger - 1, 2, {})", "time"},
  {"4 GiB of data", "local s = string.rep(string.rep('x', 1024), 1024) local t = {} for i = 1, 4096 do t[i] = s .. i end", "memory"},
  {"a 2 GiB string", "local s = string.rep('x', (1 << 31) - 2)", "memory"},
  {"__tostring", "error(setmetatable({}, { __tostring = function() while true do end end }))", "time"},
  {"__gc", "setmetatable({}, { __gc = function() while true do end end })", "time"},
  {"__pairs", "for _ in pairs(setmetatable({}, { __pairs = function() while true do end end })) do end", "instruction"},
  {"__index", "local _ = setmetatable({}, { __index = function() while true do end end }).x", "instruction"},
};

#define BUDGET 0.5   /* seconds, for the attacks the time budget stops; the others keep 1 s */

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int mentions(const char *s, const char *part) {
  int ok = s && strstr(s, part) != NULL;
  if (!ok) fprintf(stderr, "  message: \"%s\" (wanted \"%s\")\n", s ? s : "(null)", part);
  return ok;
}

static const char *write_policy(int i) {
  static char path[4200];
  snprintf(path, sizeof path, "%s/attack%d.lua", g_dir, i);
  FILE *f = fopen(path, "w");
  if (!f) abort();
  int timed = strcmp(ATTACKS[i].budget, "time") == 0;
  fprintf(f, "return {\n  %s\n  name = function(ctx) if ctx.name == 'attack' then %s end\n"
             "    return 'ok-' .. ctx.name end,\n}\n",
          timed ? "time_budget = 0.5," : "", ATTACKS[i].code);
  fclose(f);
  return path;
}

static void span(const char *name) {
  tbt_span_begin_(name, NULL);
  tbt_span_begin_("inner", NULL);
  tbt_span_end_();
  tbt_span_end_();
}

int main(void) {
  snprintf(g_dir, sizeof g_dir, "%s", tu_tmpdir("pbudget"));
  mkdir(g_dir, 0777);
  char logdir[4200];
  snprintf(logdir, sizeof logdir, "%s/logs", g_dir);
  tbt_writer_options wo;
  tbt_writer_options_init(&wo);
  wo.max_queue = 0;
  tbt_writer *w = NULL;
  CHECK_EQ_INT(tbt_writer_open(&w, logdir, &wo), 0);
  CHECK_EQ_INT(tbt_set_default_writer(w), 0);

  size_t n = sizeof ATTACKS / sizeof ATTACKS[0];
  for (size_t i = 0; i < n; i++) {
    const char *path = write_policy((int)i);
    CHECK_EQ_INT(tbt_policy_load(path, 0), 0);
    tbt_trace_options o;
    tbt_trace_options_init(&o);
    CHECK_EQ_INT(tbt_trace_on(&o), 0);
    char name[32];
    snprintf(name, sizeof name, "step%zu", i);
    span(name);
    double t0 = now();
    int rc = tbt_policy_export("attack", TBT_STEP(i), NULL, NULL);
    double dt = now() - t0;
    double budget = strcmp(ATTACKS[i].budget, "time") == 0 ? BUDGET : 1.0;
    fprintf(stderr, "%-16s %.3f s: %s\n", ATTACKS[i].what, dt, tbt_policy_error());
    CHECK_EQ_INT(rc, TBT_EPOLICY);
    CHECK(dt < budget + 0.5);
    char want[64];
    if (strcmp(ATTACKS[i].budget, "instruction") == 0) snprintf(want, sizeof want, "exceeded the instruction limit");
    else snprintf(want, sizeof want, "exceeded the %s budget", ATTACKS[i].budget);
    CHECK(mentions(tbt_policy_error(), want));
    CHECK(mentions(tbt_policy_error(), "hook 'name'"));
    CHECK(mentions(tbt_policy_error(), path));
    CHECK(tbt_trace_is_on());   /* the trace is kept */
    CHECK_EQ_INT(tbt_policy_export("fine", TBT_STEP(i), NULL, NULL), 0);
    CHECK(!tbt_trace_is_on());
    tbt_policy_unload();
  }

  /* Each later export wrote what was recorded before the failed one. */
  tu_events r = tu_read_events(tbt_writer_path(w));
  CHECK(!r.bad);
  CHECK_EQ_U64(r.n, n + 1);
  for (size_t i = 0; i < n && i + 1 < r.n; i++) {
    Tensorflow__Summary__Value *v = tu_value(r.ev[i + 1]);
    CHECK(v && strcmp(v->tag, "ok-fine") == 0);
    CHECK_EQ_U64((uint64_t)r.ev[i + 1]->step, i);
    if (!v || !v->tensor || v->tensor->n_string_val != 1) continue;
    Tensorflow__RunMetadata *rm = tensorflow__run_metadata__unpack(
        NULL, v->tensor->string_val[0].len, v->tensor->string_val[0].data);
    CHECK(rm && rm->n_function_graphs == 1 && rm->function_graphs[0]->pre_optimization_graph);
    if (!rm || rm->n_function_graphs != 1 || !rm->function_graphs[0]->pre_optimization_graph) continue;
    const Tensorflow__GraphDef *g = rm->function_graphs[0]->pre_optimization_graph;
    char want[64];
    snprintf(want, sizeof want, "step%zu", i);
    CHECK_EQ_U64(g->n_node, 2);
    if (g->n_node == 2) {
      CHECK_EQ_STR(g->node[0]->name, want);
      strcat(want, "/inner");
      CHECK_EQ_STR(g->node[1]->name, want);
    }
    tensorflow__run_metadata__free_unpacked(rm, NULL);
  }
  tu_events_free(&r);

  /* A policy loaded by a relative path restarts from the directory it was loaded in, wherever
  ** the host has gone since. */
  char cwd[4096];
  CHECK(getcwd(cwd, sizeof cwd) != NULL);
  CHECK_EQ_INT(chdir(g_dir), 0);
  CHECK_EQ_INT(tbt_policy_load("attack0.lua", 0), 0);
  CHECK_EQ_INT(chdir("/"), 0);
  tbt_trace_options o;
  tbt_trace_options_init(&o);
  CHECK_EQ_INT(tbt_trace_on(&o), 0);
  span("rel");
  CHECK_EQ_INT(tbt_policy_export("attack", TBT_STEP(100), NULL, NULL), TBT_EPOLICY);
  CHECK(mentions(tbt_policy_error(), "exceeded the time budget"));
  CHECK_EQ_INT(tbt_policy_export("fine", TBT_STEP(100), NULL, NULL), 0);
  tbt_policy_unload();
  CHECK_EQ_INT(chdir(cwd), 0);

  /* The host's budgets win over the policy file's (0.5 s there) and the default memory. */
  CHECK_EQ_INT(tbt_policy_set_budgets(0.3, 16), 0);
  for (int i = 0; i < 2; i++) {
    const char *path = write_policy(i == 0 ? 0 : 3);   /* string.find, then 4 GiB of data */
    CHECK_EQ_INT(tbt_policy_load(path, 0), 0);
    CHECK_EQ_INT(tbt_trace_on(&o), 0);
    span("host");
    double t0 = now();
    CHECK_EQ_INT(tbt_policy_export("attack", TBT_STEP(200), NULL, NULL), TBT_EPOLICY);
    CHECK(now() - t0 < 0.3 + 0.5);
    CHECK(mentions(tbt_policy_error(), i == 0 ? "exceeded the time budget (0.3 s)" : "exceeded the memory budget (16 MiB)"));
    CHECK_EQ_INT(tbt_policy_export("fine", TBT_STEP(200), NULL, NULL), 0);
    tbt_policy_unload();
  }
  CHECK_EQ_INT(tbt_policy_set_budgets(0, 0), 0);

  tbt_writer_free(w);
  return CHECK_DONE();
}

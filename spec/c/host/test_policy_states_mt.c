/*
** test_policy_states_mt.c: a C host running two Lua states in two threads, each with the tbtrace
** module and a policy of its own, both exporting many times at once. Policies belong to their
** state: every export must carry its own state's decisions (tag, step, profile outdir and run
** name), never the other's, and each state's last_export() must describe its own export. It
** links the module's objects (and Lua) into the host, so it is built apart from the spec/c/test_*.c
** programs; it also runs under TSan.
*/
#include "check.h"
#include "testutil.h"

#include <lauxlib.h>
#include <lualib.h>
#include <pthread.h>

int luaopen_tbtrace(lua_State *L);

#define ROUNDS 40

typedef struct state_job {
  char who;                 /* 'A' or 'B' */
  char logdir[4200];
  char outdir[4200];
  int exported;             /* exports that succeeded */
  int refused;              /* exports the other thread's export left without a trace */
  int failures;             /* wrong decisions or results seen from Lua */
  char error[512];
} state_job;

/* Each round: drop and set the state's policy again, start a trace (or join the other thread's),
** record, export under the state's policy. The policy numbers its own exports; the other thread ending the trace first is the
** one expected failure. */
static const char *const SCRIPT =
  "local who, logdir, outdir, rounds = ...\n"
  "local tbtrace = require 'tbtrace'\n"
  "local w = assert(tbtrace.create_file_writer(logdir))\n"
  "w:set_as_default()\n"
  "local n = 0\n"
  "local p = tbtrace.policy.from_table{\n"
  "  name = function(ctx) return who .. '/' .. ctx.name end,\n"
  "  step = function(ctx) return (who == 'A' and 1000 or 2000) + n end,\n"
  "  profiler_outdir = function(ctx) return outdir end,\n"
  "  run_name = function(ctx) return who .. '-' .. n end,\n"
  "}\n"
  "local exported, refused, failures = 0, 0, 0\n"
  "for i = 1, rounds do\n"
  "  tbtrace.policy.set(nil)   -- a moment without a policy in this state only\n"
  "  tbtrace.policy.set(p)\n"
  "  tbtrace.trace_on{graph = true, profiler = true}\n"
  "  tbtrace.span(who .. '-work', function() end)\n"
  "  local ok, err = pcall(tbtrace.trace_export, 'x')\n"
  "  if ok then\n"
  "    local r = tbtrace.last_export()\n"
  "    if r.profile_dir ~= outdir .. '/plugins/profile/' .. who .. '-' .. n then failures = failures + 1 end\n"
  "    if not r.wrote_summary then failures = failures + 1 end\n"
  "    exported, n = exported + 1, n + 1\n"
  "  elseif tostring(err):find('Must enable trace before export', 1, true) then\n"
  "    refused = refused + 1\n"
  "  else\n"
  "    error(err, 0)\n"
  "  end\n"
  "end\n"
  "w:close()\n"
  "return exported, refused, failures\n";

static void *run_state(void *arg) {
  state_job *j = arg;
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  luaL_requiref(L, "tbtrace", luaopen_tbtrace, 0);
  lua_pop(L, 1);
  char who[2] = {j->who, '\0'};
  if (luaL_loadstring(L, SCRIPT) != LUA_OK) abort();
  lua_pushstring(L, who);
  lua_pushstring(L, j->logdir);
  lua_pushstring(L, j->outdir);
  lua_pushinteger(L, ROUNDS);
  if (lua_pcall(L, 4, 3, 0) != LUA_OK) {
    snprintf(j->error, sizeof j->error, "%s", lua_tostring(L, -1));
  } else {
    j->exported = (int)lua_tointeger(L, -3);
    j->refused = (int)lua_tointeger(L, -2);
    j->failures = (int)lua_tointeger(L, -1);
  }
  lua_close(L);
  return NULL;
}

/* The state's event file: after file_version, only its own tags, at its own steps, in order. */
static void check_events(const state_job *j) {
  const char *path = tu_event_file(j->logdir);
  CHECK(path != NULL);
  if (!path) return;
  tu_events r = tu_read_events(path);
  CHECK(!r.bad);
  CHECK_EQ_INT(r.n, 1 + j->exported);
  char tag[8];
  snprintf(tag, sizeof tag, "%c/x", j->who);
  int64_t base = j->who == 'A' ? 1000 : 2000;
  for (size_t i = 1; i < r.n; i++) {
    Tensorflow__Summary__Value *v = tu_value(r.ev[i]);
    CHECK(v && strcmp(v->tag, tag) == 0);
    CHECK(r.ev[i]->step == base + (int64_t)i - 1);
  }
  tu_events_free(&r);
}

/* The state's profile runs: exactly its own, named by its own policy. */
static void check_runs(const state_job *j) {
  char dir[4400];
  snprintf(dir, sizeof dir, "%s/plugins/profile", j->outdir);
  char prefix[4];
  snprintf(prefix, sizeof prefix, "%c-", j->who);
  CHECK_EQ_INT(tu_count_tree(dir, prefix), j->exported);
  CHECK_EQ_INT(tu_count_tree(dir, j->who == 'A' ? "B-" : "A-"), 0);
  CHECK_EQ_INT(tu_count_tree(dir, ".xplane.pb"), j->exported);
}

int main(void) {
  state_job jobs[2] = {{.who = 'A'}, {.who = 'B'}};
  const char *base = tu_tmpdir("states");
  mkdir(base, 0777);
  for (int i = 0; i < 2; i++) {
    snprintf(jobs[i].logdir, sizeof jobs[i].logdir, "%s/logs-%c", base, jobs[i].who);
    snprintf(jobs[i].outdir, sizeof jobs[i].outdir, "%s/prof-%c", base, jobs[i].who);
  }
  pthread_t th[2];
  for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, run_state, &jobs[i]);
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < 2; i++) {
    state_job *j = &jobs[i];
    if (j->error[0]) fprintf(stderr, "state %c: %s\n", j->who, j->error);
    CHECK_EQ_STR(j->error, "");
    CHECK_EQ_INT(j->failures, 0);
    CHECK_EQ_INT(j->exported + j->refused, ROUNDS);
    CHECK(j->exported > 0);
    fprintf(stderr, "state %c: %d exports, %d found the trace already exported\n", j->who,
            j->exported, j->refused);
    check_events(j);
    check_runs(j);
  }
  return CHECK_DONE();
}

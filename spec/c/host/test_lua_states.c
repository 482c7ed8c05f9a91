/*
** test_lua_states.c: call tracing and sampling started in one Lua state reach every other state
** of a C host. A second state, on a thread of its own, runs Lua code that knows nothing of
** tracing while the first state traces; its calls and its samples are in what the first exports,
** and it stops when that trace ends.
*/
#include "check.h"
#include "testutil.h"

#include <lauxlib.h>
#include <lualib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

static atomic_int g_stop, g_ready;
static const char *g_module_dir;

static int l_should_stop(lua_State *L) {
  lua_pushboolean(L, atomic_load(&g_stop));
  return 1;
}

static int l_ready(lua_State *L) {
  (void)L;
  atomic_store(&g_ready, 1);
  return 0;
}

static void run(lua_State *L, const char *code) {
  if (luaL_dostring(L, code) != LUA_OK) {
    fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
    CHECK(0);
    lua_pop(L, 1);
  }
}

static lua_State *new_state(void) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  lua_register(L, "should_stop", l_should_stop);
  lua_register(L, "ready", l_ready);
  char code[4200];
  snprintf(code, sizeof code, "package.cpath = '%s/?.so'", g_module_dir);
  run(L, code);
  return L;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
  nanosleep(&ts, NULL);
}

/* The other state: busy in plain Lua until told to stop. */
static void *worker(void *arg) {
  (void)arg;
  lua_State *L = new_state();
  run(L, "local tbtrace = require 'tbtrace'\n"
         "local function bwork(n) local s = 0; for i = 1, n do s = s + i % 7 end; return s end\n"
         "ready()\n"
         "while not should_stop() do bwork(20000) end\n");
  lua_close(L);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s MODULE_DIR\n", argv[0]);
    return 2;
  }
  g_module_dir = argv[1];
  lua_State *A = new_state();
  char code[9000];
  snprintf(code, sizeof code, "tbtrace = require 'tbtrace'\nOUT = '%s'\n", tu_tmpdir("states"));
  run(A, code);
  pthread_t t;
  CHECK_EQ_INT(pthread_create(&t, NULL, worker, NULL), 0);
  while (!atomic_load(&g_ready)) sleep_ms(1);

  run(A, "assert(tbtrace.trace_on{lua_calls = true, lua_samples = 1000, profiler = true,\n"
         "                        profiler_outdir = OUT})\n");
  sleep_ms(600);   /* the other state works meanwhile */
  run(A, "local m = assert(require(\"tbtrace.internal\").snapshot())\n"
         "local calls = 0\n"
         "for _, th in ipairs(m.threads) do\n"
         "  for _, s in ipairs(th.spans) do\n"
         "    if s.name:find('^bwork %(') then calls = calls + 1; assert(s.category == 'lua') end\n"
         "  end\n"
         "end\n"
         "assert(calls >= 10, 'the other state made ' .. calls .. ' traced calls')\n"
         "assert(tbtrace.trace_export('states', 1))\n"
         "local r = tbtrace.last_export()\n"
         "local n, total = 0, 0\n"
         "for line in io.lines(r.folded_path) do\n"
         "  local stack, count = line:match('^(.+) (%d+)$')\n"
         "  assert(stack, line)\n"
         "  total = total + tonumber(count)\n"
         "  if stack:find('bwork (', 1, true) then n = n + tonumber(count) end\n"
         "end\n"
         "assert(n >= 100, 'the other state has ' .. n .. ' of ' .. total .. ' samples')\n");

  /* That trace is over: a new one without Lua options gets nothing from the other state. */
  run(A, "assert(tbtrace.trace_on{})\n");
  sleep_ms(200);
  run(A, "local m = assert(require(\"tbtrace.internal\").snapshot())\n"
         "for _, th in ipairs(m.threads) do\n"
         "  for _, s in ipairs(th.spans) do assert(not s.name:find('^bwork %('), 'still tracing') end\n"
         "  for _, i in ipairs(th.instants) do assert(i.category ~= 'lua.sample', 'still sampling') end\n"
         "end\n"
         "tbtrace.trace_off()\n");
  atomic_store(&g_stop, 1);
  pthread_join(t, NULL);
  lua_close(A);
  return CHECK_DONE();
}

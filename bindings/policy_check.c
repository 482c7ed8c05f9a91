/*
** policy_check.c: `tbtrace policy check` (policy_check.h). The work is Lua over tbtrace.policy,
** run in a state of its own.
*/
#include "policy_check.h"

#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

int luaopen_tbtrace(lua_State *L);

static const char CHECK[] =
  "local path = ...\n"
  "local args = { select(2, ...) }\n"
  "local tbtrace = require 'tbtrace'\n"
  "local P = tbtrace.policy\n"
  "local FACTS = { 'name', 'step', 'default_step', 'logdir', 'profiler_outdir', 'graph', 'profiler',\n"
  "  'host', 'pid', 'time', 'export_index', 'spans', 'dropped', 'threads' }\n"
  "local known = {}\n"
  "for _, k in ipairs(FACTS) do known[k] = true end\n"
  "local facts = { name = 'trace', graph = true, profiler = false, host = tbtrace.hostname(),\n"
  "  pid = tbtrace.pid(), time = os.time() + 0.0, export_index = 1, spans = 0, dropped = 0, threads = 1 }\n"
  "for _, a in ipairs(args) do\n"
  "  local k, v = a:match('^([%w_]+)=(.*)$')\n"
  "  if not k or not known[k] then\n"
  "    io.stderr:write(string.format(\"tbtrace policy check: '%s' is not fact=value; facts: %s\\n\", a,\n"
  "      table.concat(FACTS, ', ')))\n"
  "    return 2\n"
  "  end\n"
  "  if v == 'nil' then v = nil\n"
  "  elseif v == 'true' or v == 'false' then v = v == 'true'\n"
  "  elseif math.tointeger(tonumber(v)) and not v:find('[.eE]') then v = math.tointeger(tonumber(v))\n"
  "  elseif tonumber(v) then v = tonumber(v) end\n"
  "  facts[k] = v\n"
  "end\n"
  "local function show(v)\n"
  "  if type(v) == 'string' then return string.format('%q', v) end\n"
  "  return tostring(v)\n"
  "end\n"
  "local ok, p = pcall(P.load, path)\n"
  "if not ok then io.stderr:write('tbtrace policy check: ', tostring(p), '\\n') return 1 end\n"
  "print('policy ' .. path)\n"
  "if #p.chain > 1 then print('  extends ' .. table.concat(p.chain, ' <- ', 2)) end\n"
  "print(string.format('  budgets: %g s per export, %d MiB', p.budgets.time_budget, p.budgets.memory_budget))\n"
  "local keys = {}\n"
  "for k in pairs(p.settings) do keys[#keys + 1] = k end\n"
  "table.sort(keys)\n"
  "for _, k in ipairs(keys) do print(string.format('  %s = %s', k, show(p.settings[k]))) end\n"
  "print('facts')\n"
  "for _, k in ipairs(FACTS) do\n"
  "  print(string.format('  %-16s %s', k, facts[k] == nil and 'nil' or show(facts[k])))\n"
  "end\n"
  "local rok, out = pcall(P.resolve, p, facts)\n"
  "if not rok then io.stderr:write('tbtrace policy check: ', tostring(out), '\\n') return 1 end\n"
  "print('decisions')\n"
  "local skipped = {\n"
  "  step = facts.step ~= nil and 'not asked: the caller gave a step',\n"
  "  logdir = facts.logdir ~= nil and 'not asked: the driver has its own writer (logdir ' .. show(facts.logdir) .. ')',\n"
  "  profiler_outdir = facts.profiler_outdir ~= nil and 'not asked: the caller gave an outdir',\n"
  "}\n"
  "local default = {\n"
  "  name = 'the caller\\'s name', step = 'the caller\\'s step, else get_step()', logdir = 'no writer is created',\n"
  "  profiler_outdir = 'the caller\\'s outdir, else the logdir', run_name = 'the local time',\n"
  "}\n"
  "for _, h in ipairs { 'name', 'step', 'logdir', 'profiler_outdir', 'run_name' } do\n"
  "  local hook = p.hooks[h]\n"
  "  local what\n"
  "  if not hook then what = 'no hook: ' .. default[h]\n"
  "  elseif skipped[h] then what = skipped[h] .. ' (' .. hook.where .. ')'\n"
  "  elseif out[h] == nil then what = 'nil: ' .. default[h] .. ' (' .. hook.where .. ')'\n"
  "  else what = show(out[h]) .. ' (' .. hook.where .. ')' end\n"
  "  print(string.format('  %-16s %s', h, what))\n"
  "end\n"
  "return 0\n";

static int run(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = lua_touserdata(L, 2);
  luaL_openlibs(L);
  luaL_requiref(L, "tbtrace", luaopen_tbtrace, 0);
  lua_pop(L, 1);
  if (luaL_loadbuffer(L, CHECK, sizeof CHECK - 1, "=policy check") != LUA_OK) return lua_error(L);
  luaL_checkstack(L, argc, "too many arguments");
  for (int i = 2; i < argc; i++) lua_pushstring(L, argv[i]);
  lua_call(L, argc - 2, 1);
  return 1;
}

int tbt_policy_check_main(int argc, char **argv) {
  if (argc < 3 || strcmp(argv[1], "check") != 0) {
    fprintf(stderr, "usage: tbtrace policy check FILE [fact=value ...]\n");
    return 2;
  }
  lua_State *L = luaL_newstate();
  if (!L) {
    fprintf(stderr, "tbtrace policy check: not enough memory\n");
    return 1;
  }
  lua_pushcfunction(L, run);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  int rc = 1;
  if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
    fprintf(stderr, "tbtrace policy check: %s\n", lua_tostring(L, -1));
  } else {
    rc = (int)lua_tointeger(L, -1);
  }
  fflush(stdout);
  lua_close(L);
  return rc;
}

/*
** policy_host.c: libtbtrace_policy, Lua export policies for C hosts (tbtrace_policy.h).
**
** The library owns one Lua state, loads the same policy code the Lua module uses (tbtrace.policy,
** compiled in), and runs the policy's hooks between the two phases of tbt_policy_export. A mutex
** serializes exports from several threads through the one state.
*/
#include "tbtrace_policy.h"

#include "lhook.h"
#include "lpolicy.h"
#include "lsandbox.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

extern const char tbt_lua_policy[];
extern const size_t tbt_lua_policy_len;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static lua_State *g_L;
static int g_module_ref = LUA_NOREF;   /* the policy module table */
static int g_policy_ref = LUA_NOREF;   /* the loaded policy */
static __thread char t_error[1024];   /* each thread's own last message */
static double g_time_budget;        /* the host's budgets; 0: the policy's own */
static int g_memory_budget;

static void set_error(const char *msg) {
  snprintf(t_error, sizeof t_error, "%s", msg ? msg : "unknown error");
}

const char *tbt_policy_error(void) {
  return t_error;
}

/* Creates the state and loads the policy module once. Called with g_mu held. */
static int ensure_state(void) {
  if (g_L) return 0;
  lua_State *L = luaL_newstate();
  if (!L) {
    set_error("not enough memory for a Lua state");
    return TBT_ENOMEM;
  }
  luaL_openlibs(L);
  lua_newtable(L);   /* what the policy code takes from its host: the hook budget */
  tbt_lua_open_hooks(L);
  if (luaL_loadbuffer(L, tbt_lua_policy, tbt_lua_policy_len, "=tbtrace.policy") != LUA_OK) {
    set_error(lua_tostring(L, -1));
    lua_close(L);
    return TBT_EPOLICY;
  }
  lua_insert(L, -2);
  tbt_lua_push_policy_native(L);
  if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
    set_error(lua_tostring(L, -1));
    lua_close(L);
    return TBT_EPOLICY;
  }
  g_module_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  g_L = L;
  return 0;
}

/* ----------------------------------------------------------------- exporting */

int tbt_policy_export(const char *name, tbt_step step, const char *profiler_outdir,
                      tbt_export_result *result) {
  if (result) memset(result, 0, sizeof *result);
  tbt_export_request req;
  tbt_export_request_init(&req);
  req.name = name;
  req.step = step;
  req.profiler_outdir = profiler_outdir;
  tbt_export_facts facts;
  pthread_mutex_lock(&g_mu);
  lua_State *L = g_L;
  int top = L ? lua_gettop(L) : 0;
  int rc = 0;
  if (L && g_policy_ref != LUA_NOREF) {
    rc = tbt_export_get_facts(&facts);
    if (!rc) {
      tbt_export_facts seen = facts;
      seen.name = name;
      seen.has_step = step.has_step;
      seen.step = step.step;
      if (profiler_outdir) seen.profiler_outdir = profiler_outdir;
      lua_rawgeti(L, LUA_REGISTRYINDEX, g_module_ref);
      lua_rawgeti(L, LUA_REGISTRYINDEX, g_policy_ref);
      char err[1024];
      if (tbt_lua_resolve(L, top + 1, top + 2, &seen, &req.decision, err, sizeof err)) {
        rc = TBT_EPOLICY;
        set_error(err);
      }
      tbt_export_facts_free(&facts);
    }
  }
  /* The decision's strings live in the policy's state: it stays locked until the export is done. */
  if (!rc) rc = tbt_trace_export_ex(&req, result);
  if (L) lua_settop(L, top);
  pthread_mutex_unlock(&g_mu);
  return rc;
}

/* ----------------------------------------------------------------- loading */

int tbt_policy_load(const char *path, unsigned flags) {
  if (!path) {
    path = getenv("TBTRACE_POLICY");
    const char *t = getenv("TBTRACE_POLICY_TRUSTED");
    if (t && strcmp(t, "1") == 0) flags |= TBT_POLICY_TRUSTED;
    if (!path || !*path) {
      set_error("no policy given and TBTRACE_POLICY is not set");
      return TBT_EINVAL;
    }
  }
  pthread_mutex_lock(&g_mu);
  int rc = ensure_state();
  if (rc) {
    pthread_mutex_unlock(&g_mu);
    return rc;
  }
  lua_State *L = g_L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, g_module_ref);
  lua_getfield(L, -1, "load");
  lua_pushstring(L, path);
  lua_createtable(L, 0, 3);
  lua_pushboolean(L, (flags & TBT_POLICY_TRUSTED) != 0);
  lua_setfield(L, -2, "trusted");
  if (g_time_budget > 0) {
    lua_pushnumber(L, g_time_budget);
    lua_setfield(L, -2, "time_budget");
  }
  if (g_memory_budget > 0) {
    lua_pushinteger(L, g_memory_budget);
    lua_setfield(L, -2, "memory_budget");
  }
  if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
    set_error(lua_tostring(L, -1));
    lua_pop(L, 2);
    pthread_mutex_unlock(&g_mu);
    return TBT_EPOLICY;
  }
  luaL_unref(L, LUA_REGISTRYINDEX, g_policy_ref);
  g_policy_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pop(L, 1);
  t_error[0] = '\0';
  pthread_mutex_unlock(&g_mu);
  return 0;
}

int tbt_policy_set_budgets(double seconds, int memory_mib) {
  /* written as !(in range) so that NaN fails */
  if (!(seconds >= 0 && seconds <= 3600) || memory_mib < 0 || memory_mib > 65536) return TBT_EINVAL;
  pthread_mutex_lock(&g_mu);
  g_time_budget = seconds;
  g_memory_budget = memory_mib;
  pthread_mutex_unlock(&g_mu);
  return 0;
}

void tbt_policy_unload(void) {
  pthread_mutex_lock(&g_mu);
  if (g_L) {
    lua_close(g_L);
    g_L = NULL;
  }
  g_module_ref = g_policy_ref = LUA_NOREF;
  pthread_mutex_unlock(&g_mu);
}

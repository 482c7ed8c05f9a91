/*
** policy_host.c: libtbtrace_policy, Lua export policies for C hosts (tbtrace_policy.h).
**
** The library owns one Lua state, loads the same policy code the Lua module uses (tbtrace.policy,
** compiled in), and installs a resolver that runs the policy's hooks at export time. A mutex
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
static char g_error[1024];
static double g_time_budget;        /* the host's budgets; 0: the policy's own */
static int g_memory_budget;

static void set_error(const char *msg) {
  snprintf(g_error, sizeof g_error, "%s", msg ? msg : "unknown error");
}

const char *tbt_policy_error(void) {
  return g_error;
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

/* ----------------------------------------------------------------- resolving */

static int resolve(void *ud, const tbt_export_facts *facts, tbt_export_decision *out, char *err,
                   size_t errlen) {
  (void)ud;
  pthread_mutex_lock(&g_mu);
  int rc = 0;
  lua_State *L = g_L;
  if (L && g_policy_ref != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, g_module_ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, g_policy_ref);
    rc = tbt_lua_resolve(L, lua_gettop(L) - 1, lua_gettop(L), facts, out, err, errlen);
    lua_pop(L, 2);
  }
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
  g_error[0] = '\0';
  pthread_mutex_unlock(&g_mu);
  tbt_set_export_resolver(resolve, NULL);
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
  tbt_set_export_resolver(NULL, NULL);
  pthread_mutex_lock(&g_mu);
  if (g_L) {
    lua_close(g_L);
    g_L = NULL;
  }
  g_module_ref = g_policy_ref = LUA_NOREF;
  pthread_mutex_unlock(&g_mu);
}

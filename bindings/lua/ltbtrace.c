/*
** ltbtrace.c: the Lua module "tbtrace": its entry point, which opens each part (lbind.h).
**
** The module takes the Lua API from the interpreter that loads it (it never links liblua), and
** luaopen_tbtrace can run any number of times in one state.
*/
#include "lbind.h"

#include "lcalls.h"
#include "lhook.h"
#include "lsample.h"
#include "lsandbox.h"
#include "lpolicy.h"
#include "ltrace.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

/* The module's parts written in Lua, compiled in by the build (bindings/lua/embed.cmake). */
extern const char tbt_lua_policy[];
extern const size_t tbt_lua_policy_len;

/* Sets module field `policy` (of the module table at the top) to the state's policy module,
** loading it the first time. The chunk gets the module table and the policy helpers of
** lsandbox.h, with the module's internal table as their field `internal` (the hook budget). */
static void open_policy(lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, TBT_POLICY_KEY) != LUA_TTABLE) {
    lua_pop(L, 1);
    if (luaL_loadbuffer(L, tbt_lua_policy, tbt_lua_policy_len, "=tbtrace.policy") != LUA_OK)
      lua_error(L);
    lua_pushvalue(L, -2);
    tbt_lua_push_policy_native(L);
    tbt_lua_push_internal(L);
    lua_setfield(L, -2, "internal");
    lua_call(L, 2, 1);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, TBT_POLICY_KEY);
  }
  lua_setfield(L, -2, "policy");
}

static int l_strerror(lua_State *L) {
  lua_Integer code = luaL_checkinteger(L, 1);
  /* Outside int a code would wrap onto a real one (2^32 - 5001 is not TBT_EINVAL). */
  lua_pushstring(L, code < INT_MIN || code > INT_MAX ? "unknown error" : tbt_strerror((int)code));
  return 1;
}

/* The host name and process id, as file names and policies use them. */
static int l_host(lua_State *L) {
  char host[256];
  tbt_hostname(host, sizeof host);
  lua_pushstring(L, host);
  return 1;
}

static int l_pid(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)getpid());
  return 1;
}

static int l_crc32c(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  lua_Integer crc = luaL_optinteger(L, 2, 0);
  luaL_argcheck(L, crc >= 0 && crc <= 0xFFFFFFFF, 2, "crc must be in 0..0xffffffff");
  lua_pushinteger(L, (lua_Integer)tbt_crc32c((uint32_t)crc, s, len));
  return 1;
}

/* The Lua states that opened the module. When the last one closes, the writers still open are
** closed: their queued events would be lost when the program ends, and their timer threads would
** run on with no state left to use them (the module itself stays loaded: it is linked with
** -z nodelete, see CMakeLists.txt). The guard is a userdata made before the module table, so its
** finalizer runs after those of the writers' userdata and before lua_close releases the module. */
static pthread_mutex_t g_states_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_states;   /* under g_states_mu, so a state opening cannot race the last one closing */

static int guard_gc(lua_State *L) {
  (void)L;
  pthread_mutex_lock(&g_states_mu);
  if (--g_states == 0) {
    int rc = tbt_writers_close_all();
    if (rc) lua_writestringerror("tbtrace: closing writers at exit: %s\n", tbt_strerror(rc));
  }
  pthread_mutex_unlock(&g_states_mu);
  return 0;
}

/* Keyed by this copy's own address: another copy of the module in the same state keeps its own. */
static void guard_unload(lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &g_states) != LUA_TNIL) {   /* opened twice */
    lua_pop(L, 1);
    return;
  }
  lua_pop(L, 1);
  lua_newuserdatauv(L, 0, 0);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &g_states);   /* may raise: before the count changes */
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, guard_gc);
  lua_setfield(L, -2, "__gc");
  pthread_mutex_lock(&g_states_mu);
  g_states++;
  pthread_mutex_unlock(&g_states_mu);
  lua_setmetatable(L, -2);   /* cannot fail: the guard now counts */
  lua_pop(L, 1);
}

/* tbtrace.cluster() -> the cluster facts as a table, or nil outside a cluster. */
static int l_cluster(lua_State *L) {
  tbt_cluster c;
  if (tbt_cluster_get(&c) != 1) {
    lua_pushnil(L);
    return 1;
  }
  tbt_lua_push_cluster(L, &c);
  return 1;
}

/* A state catching up with the call tracing and sampling another state started. */
static void follow_trace(lua_State *L) {
  tbt_lua_calls_sync(L);
  tbt_lua_samples_sync(L);
}

__attribute__((visibility("default"))) int luaopen_tbtrace(lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"strerror", l_strerror},
    {"crc32c", l_crc32c},
    {"hostname", l_host},
    {"pid", l_pid},
    {"cluster", l_cluster},
    {NULL, NULL}
  };
  guard_unload(L);
  luaL_newlib(L, funcs);
  lua_pushliteral(L, TBT_VERSION);
  lua_setfield(L, -2, "_VERSION");
  lua_pushstring(L, tbt_crc32c_impl());
  lua_setfield(L, -2, "crc32c_impl");
  tbt_lua_open_writer(L);
  tbt_lua_open_summary(L);
  tbt_lua_open_record(L);
  tbt_lua_open_reader(L);
  tbt_lua_open_trace(L);
  tbt_hook_on_remote(follow_trace);
  /* Before the policy code, which takes its budget from the internal table. */
  tbt_lua_push_internal(L);
  tbt_lua_open_hooks(L);
  lua_pop(L, 1);
  open_policy(L);
  tbt_lua_open_export(L);
  tbt_lua_open_hparams(L);
  tbt_lua_open_plugins(L);
  return 1;
}

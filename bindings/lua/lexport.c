/*
** lexport.c: tbtrace.trace_export and the Lua side of export policies.
**
**   tbtrace.trace_export(name, step, profiler_outdir) or trace_export{name=, step=, profiler_outdir=}
**     -> true, or nil, msg, errno on an I/O failure; raises TF's errors ("Must enable trace before
**        export.", the missing-step error, ...) and policy errors (which name the policy file).
**   tbtrace.last_export() -> what the last successful export wrote.
**
** While a Lua policy is set (tbtrace.policy.set), the module's export resolver runs it in the
** Lua state that called trace_export. A failing export, policy errors included, leaves the trace
** on: nothing recorded is lost and the export can be retried.
*/
#include "lbind.h"
#include "lcalls.h"
#include "lsample.h"

#include "lpolicy.h"
#include "tbtrace_policy.h"

#include <stdlib.h>
#include <string.h>

/* The registry slot of tbtrace.policy, set when the module opens. */
static const char POLICY_KEY[] = "tbtrace.policy.module";

/* The Lua state exporting on this thread: the resolver runs the policy there. */
static __thread lua_State *t_exporting;

static int lua_resolver(void *ud, const tbt_export_facts *facts, tbt_export_decision *out,
                        char *err, size_t errlen) {
  (void)ud;
  lua_State *L = t_exporting;
  if (!L) return 0;   /* an export from C while a Lua policy is set: the policy needs its state */
  int top = lua_gettop(L);
  if (!lua_checkstack(L, 8)) return 0;
  lua_getfield(L, LUA_REGISTRYINDEX, POLICY_KEY);
  int module = lua_gettop(L);
  int rc = 0;
  if (lua_getfield(L, module, "current") == LUA_TFUNCTION && lua_pcall(L, 0, 1, 0) == LUA_OK &&
      lua_istable(L, -1)) {
    rc = tbt_lua_resolve(L, module, lua_gettop(L), facts, out, err, errlen);
  }
  lua_settop(L, top);
  return rc;
}

/* internal.on_policy_set(active): installs or removes the resolver as Lua policies come and go. */
static int l_on_policy_set(lua_State *L) {
  if (lua_toboolean(L, 1)) tbt_set_export_resolver(lua_resolver, NULL);
  else tbt_set_export_resolver(NULL, NULL);
  return 0;
}

static int export_error(lua_State *L, int rc) {
  switch (rc) {
    case TBT_ENOTRACE: return luaL_error(L, "Must enable trace before export.");
    case TBT_ENOSTEP:
      return luaL_error(L, "No step set via 'step' argument or tbtrace.experimental.set_step()");
    case TBT_ENOOUTDIR:
      return luaL_error(L, "Must set profiler_outdir or enable summary writer with logdir.");
    case TBT_EPOLICY: return luaL_error(L, "%s", tbt_export_error());
    case TBT_EINVAL: return luaL_error(L, "%s", tbt_export_error());   /* it names trace_export */
    case TBT_ENOMEM: return luaL_error(L, "not enough memory");
    case TBT_ECLOSED: return luaL_error(L, "SummaryWriter is already closed");
    default: break;
  }
  luaL_pushfail(L);
  lua_pushstring(L, tbt_export_error()[0] ? tbt_export_error() : tbt_strerror(rc));
  lua_pushinteger(L, (rc < 0 && rc >= TBT_ERRNO_MIN) ? -rc : rc);
  return 3;
}

/* Checks option key of trace_export{...}: nil, or a NUL-free string (or an integral number for
** step); raises in the shape of trace_on's bad options, since argument numbers would mislead. */
static void check_option(lua_State *L, int t, const char *key) {
  int ty = lua_getfield(L, t, key);
  const char *why = NULL;
  if (ty == LUA_TNIL) return;
  if (strcmp(key, "step") == 0) {
    int isint = 0;
    if (ty == LUA_TNUMBER) lua_tointegerx(L, -1, &isint);
    if (ty != LUA_TNUMBER) why = lua_pushfstring(L, "integer expected, got %s", luaL_typename(L, -1));
    else if (!isint) why = "step must be an integer";
  } else if (ty != LUA_TSTRING) {
    why = lua_pushfstring(L, "string expected, got %s", luaL_typename(L, -1));
  } else {
    size_t len;
    if (strlen(lua_tolstring(L, -1, &len)) != len) why = "contains a NUL byte";
  }
  if (why) luaL_error(L, "bad option '%s' to 'trace_export' (%s)", key, why);
}

/* nil, "<path>: <message>", errno: an I/O failure naming its file. */
static int fail_path(lua_State *L, int code, const char *path) {
  int n = tbt_lua_fail(L, code);
  if (path) {
    lua_pushfstring(L, "%s: %s", path, lua_tostring(L, -2));
    lua_replace(L, -3);
  }
  return n;
}

static int l_trace_export(lua_State *L) {
  int base = 1;
  if (lua_type(L, 1) == LUA_TTABLE) {
    static const char *const keys[] = {"name", "step", "profiler_outdir", NULL};
    tbt_lua_checkoptions(L, 1, "trace_export", keys);
    check_option(L, 1, "name");
    check_option(L, 1, "step");
    check_option(L, 1, "profiler_outdir");
    base = lua_gettop(L) - 2;
  }
  const char *name = NULL;
  if (!lua_isnoneornil(L, base)) name = tbt_lua_checkcstring(L, base, "name");
  tbt_step step = tbt_lua_optstep(L, base + 1);
  const char *outdir = lua_isnoneornil(L, base + 2) ? NULL : tbt_lua_checkcstring(L, base + 2, "profiler_outdir");
  lua_State *prev = t_exporting;
  t_exporting = L;
  tbt_lua_calls_pause(L, 1);   /* the export's own calls (policies) are not traced */
  tbt_lua_samples_pause(L, 1);
  int rc = tbt_trace_export(name, step, outdir);
  t_exporting = prev;
  tbt_lua_calls_pause(L, 0);
  tbt_lua_samples_pause(L, 0);
  if (rc) return export_error(L, rc);
  tbt_lua_calls_stop(L);
  const tbt_export_result *r = tbt_last_export();
  /* A scope() kept without <close> never ends, and every later span nests under it: say so. */
  if (r->unfinished) {
    lua_writestringerror("%s", lua_pushfstring(L,
        "tbtrace: trace_export: %I span%s still open at export, exported as ending there: %s "
        "(a scope() kept without <close>?)\n",
        (lua_Integer)r->unfinished, r->unfinished == 1 ? "" : "s", r->unfinished_names));
    lua_pop(L, 1);
  }
  const char *dir = tbt_last_export()->profile_dir, *folded = NULL;
  rc = tbt_lua_samples_write(L, dir, &folded);
  tbt_lua_samples_stop(L);
  if (rc < 0) return fail_path(L, rc, folded);
  lua_pushboolean(L, 1);
  return 1;
}

static void set_path(lua_State *L, const char *key, const char *v) {
  if (!v) return;
  lua_pushstring(L, v);
  lua_setfield(L, -2, key);
}

static int l_last_export(lua_State *L) {
  const tbt_export_result *r = tbt_last_export();
  lua_createtable(L, 0, 6);
  lua_pushboolean(L, r->wrote_summary);
  lua_setfield(L, -2, "wrote_summary");
  set_path(L, "profile_dir", r->profile_dir);
  set_path(L, "xplane_path", r->xplane_path);
  set_path(L, "chrome_trace_path", r->chrome_trace_path);
  set_path(L, "folded_path", tbt_lua_samples_path(L));
  lua_pushinteger(L, (lua_Integer)r->spans);
  lua_setfield(L, -2, "spans");
  lua_pushinteger(L, (lua_Integer)r->dropped);
  lua_setfield(L, -2, "dropped");
  lua_pushinteger(L, (lua_Integer)r->late_records);
  lua_setfield(L, -2, "late_records");
  lua_pushinteger(L, (lua_Integer)r->unfinished);
  lua_setfield(L, -2, "unfinished");
  lua_pushstring(L, r->unfinished_names ? r->unfinished_names : "");
  lua_setfield(L, -2, "unfinished_names");
  return 1;
}

/* A broken TBTRACE_POLICY breaks neither `require "tbtrace"` nor scripts that never export: it
** is reported once per process on stderr, and stands in as the policy, so that every export fails
** with the same message (keeping its trace). Replaces the error message at the top with it. */
static void broken_env_policy(lua_State *L, const char *env) {
  static int reported;
  const char *why = lua_tostring(L, -1);
  const char *msg = lua_pushfstring(L, "TBTRACE_POLICY=%s: %s", env, why ? why : "policy error");
  if (!__atomic_exchange_n(&reported, 1, __ATOMIC_RELAXED)) lua_writestringerror("tbtrace: %s\n", msg);
  lua_createtable(L, 0, 4);
  lua_pushvalue(L, -2);
  lua_setfield(L, -2, "error");
  lua_pushstring(L, env);
  lua_setfield(L, -2, "path");
  lua_newtable(L);
  lua_setfield(L, -2, "hooks");
  lua_createtable(L, 1, 0);
  lua_pushstring(L, env);
  lua_rawseti(L, -2, 1);
  lua_setfield(L, -2, "chain");
  lua_replace(L, -3);
  lua_pop(L, 1);
}

/* Expects the module table at the top, with its `policy` field already loaded. */
void tbt_lua_open_export(lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"trace_export", l_trace_export},
    {"last_export", l_last_export},
    {NULL, NULL}
  };
  luaL_setfuncs(L, funcs, 0);
  lua_getfield(L, -1, "policy");
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, POLICY_KEY);
  tbt_lua_push_internal(L);
  lua_pushcfunction(L, l_on_policy_set);
  lua_setfield(L, -2, "on_policy_set");
  lua_pop(L, 1);
  /* A policy named by the environment is in force from the start. */
  const char *env = getenv("TBTRACE_POLICY");
  if (env && *env) {
    const char *trusted = getenv("TBTRACE_POLICY_TRUSTED");
    lua_getfield(L, -1, "set");
    lua_getfield(L, -2, "load");
    lua_pushstring(L, env);
    lua_createtable(L, 0, 1);
    lua_pushboolean(L, trusted && strcmp(trusted, "1") == 0);
    lua_setfield(L, -2, "trusted");
    if (lua_pcall(L, 2, 1, 0) != LUA_OK) broken_env_policy(L, env);
    lua_call(L, 1, 0);
  }
  lua_pop(L, 1);
}

/*
** lexport.c: tbtrace.trace_export and the Lua side of export policies.
**
**   tbtrace.trace_export(name, step, profiler_outdir) or trace_export{name=, step=, profiler_outdir=}
**     -> true, or nil, msg, errno on an I/O failure; raises TF's errors ("Must enable trace before
**        export.", the missing-step error, ...) and policy errors (which name the policy file).
**   tbtrace.last_export() -> what this state's last successful export wrote.
**
** An export runs in two phases (tbtrace_trace.h): this state's policy, if one is set
** (tbtrace.policy.set), decides from the export's facts, then the core exports with those
** decisions. Policies and the last export's result belong to the Lua state (its registry): other
** states, in this thread or others, have their own. A failing export, policy errors included,
** leaves the trace on: nothing recorded is lost and the export can be retried.
*/
#include "lbind.h"
#include "lcalls.h"
#include "lsample.h"

#include "lpolicy.h"

#include <stdlib.h>
#include <string.h>

#define FACTS_MT "tbtrace.export_facts"
#define RESULT_MT "tbtrace.export_result"
/* The registry slot of this state's last export, as last_export() returns it. */
#define LAST_KEY "tbtrace.last_export"

/* Facts and results live in userdata while Lua code runs, so an error frees them. */
static int facts_gc(lua_State *L) {
  tbt_export_facts_free(luaL_checkudata(L, 1, FACTS_MT));
  return 0;
}

static int result_gc(lua_State *L) {
  tbt_export_result_free(luaL_checkudata(L, 1, RESULT_MT));
  return 0;
}

static void *new_box(lua_State *L, size_t size, const char *mt) {
  void *p = lua_newuserdatauv(L, size, 0);
  memset(p, 0, size);
  luaL_setmetatable(L, mt);
  return p;
}

/* Runs this state's policy, if one is set, filling req->decision; the decision table stays on
** the stack (req's strings point into it). Raises with the policy's message when it fails. */
static void decide(lua_State *L, tbt_export_request *req) {
  lua_getfield(L, LUA_REGISTRYINDEX, TBT_POLICY_KEY);
  int module = lua_gettop(L);
  if (lua_getfield(L, module, "current") != LUA_TFUNCTION) luaL_error(L, "tbtrace.policy.current is gone");
  lua_call(L, 0, 1);
  if (lua_isnil(L, -1)) return;
  int policy = lua_gettop(L);
  tbt_export_facts *f = new_box(L, sizeof *f, FACTS_MT);
  if (tbt_export_get_facts(f)) luaL_error(L, "not enough memory");
  /* The policy sees the caller's arguments among the facts. */
  tbt_export_facts seen = *f;
  seen.name = req->name;
  seen.has_step = req->step.has_step;
  seen.step = req->step.step;
  if (req->profiler_outdir) seen.profiler_outdir = req->profiler_outdir;
  char err[1024];
  if (tbt_lua_resolve(L, module, policy, &seen, &req->decision, err, sizeof err))
    luaL_error(L, "%s", err);
}

static int export_error(lua_State *L, int rc) {
  switch (rc) {
    case TBT_ENOTRACE: return luaL_error(L, "Must enable trace before export.");
    case TBT_ENOSTEP:
      return luaL_error(L, "No step set via 'step' argument or tbtrace.experimental.set_step()");
    case TBT_ENOOUTDIR:
      return luaL_error(L, "Must set profiler_outdir or enable summary writer with logdir.");
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

static void set_field(lua_State *L, const char *key, const char *v) {
  if (!v) return;
  lua_pushstring(L, v);
  lua_setfield(L, -2, key);
}

/* The last_export() table of a result: the counts, `files` = {{kind=, path=}, ...}, and each
** path also under its own key (profile_dir, xplane_path, chrome_trace_path) for convenience. */
static void push_result(lua_State *L, const tbt_export_result *r) {
  lua_createtable(L, 0, 8);
  lua_pushboolean(L, r->wrote_summary);
  lua_setfield(L, -2, "wrote_summary");
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
  set_field(L, "profile_dir", tbt_export_result_path(r, "profile_dir"));
  set_field(L, "xplane_path", tbt_export_result_path(r, "xplane"));
  set_field(L, "chrome_trace_path", tbt_export_result_path(r, "chrome_trace"));
  lua_createtable(L, (int)r->nfiles, 0);
  for (size_t i = 0; i < r->nfiles; i++) {
    lua_createtable(L, 0, 2);
    set_field(L, "kind", r->files[i].kind);
    set_field(L, "path", r->files[i].path);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "files");
}

/* The two phases, protected so that call tracing resumes whatever happens: the policy decides,
** then the core exports; the result becomes the state's last export. Returns the export's code. */
static int export_call(lua_State *L) {
  tbt_export_request *req = lua_touserdata(L, 1);
  decide(L, req);
  tbt_export_result *res = new_box(L, sizeof *res, RESULT_MT);
  int rc = tbt_trace_export_ex(req, res);
  if (!rc) {
    push_result(L, res);
    lua_setfield(L, LUA_REGISTRYINDEX, LAST_KEY);
    tbt_export_result_free(res);
  }
  lua_pushinteger(L, rc);
  return 1;
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
  tbt_export_request req;
  tbt_export_request_init(&req);
  if (!lua_isnoneornil(L, base)) req.name = tbt_lua_checkcstring(L, base, "name");
  req.step = tbt_lua_optstep(L, base + 1);
  if (!lua_isnoneornil(L, base + 2))
    req.profiler_outdir = tbt_lua_checkcstring(L, base + 2, "profiler_outdir");
  tbt_lua_calls_pause(L, 1);   /* the export's own calls (policies) are not traced */
  tbt_lua_samples_pause(L, 1);
  lua_pushcfunction(L, export_call);
  lua_pushlightuserdata(L, &req);
  int status = lua_pcall(L, 1, 1, 0);
  tbt_lua_calls_pause(L, 0);
  tbt_lua_samples_pause(L, 0);
  if (status != LUA_OK) return lua_error(L);
  int rc = (int)lua_tointeger(L, -1);
  if (rc) return export_error(L, rc);
  tbt_lua_calls_stop(L);
  /* The sampler's counts go beside the profile files, and join the state's last export. */
  lua_getfield(L, LUA_REGISTRYINDEX, LAST_KEY);
  int last = lua_gettop(L);
  /* A scope() kept without <close> never ends, and every later span nests under it: say so. */
  lua_getfield(L, last, "unfinished");
  lua_Integer unfinished = lua_tointeger(L, -1);
  lua_getfield(L, last, "unfinished_names");
  if (unfinished) {
    lua_writestringerror("%s", lua_pushfstring(L,
        "tbtrace: trace_export: %I span%s still open at export, exported as ending there: %s "
        "(a scope() kept without <close>?)\n",
        unfinished, unfinished == 1 ? "" : "s", lua_tostring(L, -1)));
    lua_pop(L, 1);
  }
  lua_pop(L, 2);
  lua_getfield(L, last, "profile_dir");
  const char *folded = NULL;
  rc = tbt_lua_samples_write(L, lua_tostring(L, -1), &folded);
  tbt_lua_samples_stop(L);
  if (rc < 0) return fail_path(L, rc, folded);
  if (rc == 0 && tbt_lua_samples_path(L)) {
    lua_pushstring(L, tbt_lua_samples_path(L));
    lua_setfield(L, last, "folded_path");
    lua_getfield(L, last, "files");
    lua_createtable(L, 0, 2);
    set_field(L, "kind", "folded");
    set_field(L, "path", tbt_lua_samples_path(L));
    lua_rawseti(L, -2, (lua_Integer)luaL_len(L, -2) + 1);
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* What this state's last successful export wrote (a fresh table each call). */
static int l_last_export(lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, LAST_KEY) != LUA_TTABLE) {
    tbt_export_result none = {0};
    push_result(L, &none);
    return 1;
  }
  int last = lua_gettop(L);
  lua_newtable(L);
  lua_pushnil(L);
  while (lua_next(L, last)) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, -4);
  }
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
  if (luaL_newmetatable(L, FACTS_MT)) {
    lua_pushcfunction(L, facts_gc);
    lua_setfield(L, -2, "__gc");
  }
  if (luaL_newmetatable(L, RESULT_MT)) {
    lua_pushcfunction(L, result_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 2);
  /* A policy named by the environment is in force from the start. */
  const char *env = getenv("TBTRACE_POLICY");
  if (env && *env) {
    lua_getfield(L, -1, "policy");
    const char *trusted = getenv("TBTRACE_POLICY_TRUSTED");
    lua_getfield(L, -1, "set");
    lua_getfield(L, -2, "load");
    lua_pushstring(L, env);
    lua_createtable(L, 0, 1);
    lua_pushboolean(L, trusted && strcmp(trusted, "1") == 0);
    lua_setfield(L, -2, "trusted");
    if (lua_pcall(L, 2, 1, 0) != LUA_OK) broken_env_policy(L, env);
    lua_call(L, 1, 0);
    lua_pop(L, 1);
  }
}

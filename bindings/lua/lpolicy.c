/*
** lpolicy.c: export facts in, decisions out, through tbtrace.policy.resolve (see lpolicy.h).
*/
#include "lpolicy.h"

#include <lauxlib.h>
#include <stdio.h>

static void set_string(lua_State *L, const char *key, const char *v) {
  if (!v) return;
  lua_pushstring(L, v);
  lua_setfield(L, -2, key);
}

static void set_integer(lua_State *L, const char *key, int64_t v) {
  lua_pushinteger(L, (lua_Integer)v);
  lua_setfield(L, -2, key);
}

void tbt_lua_push_cluster(lua_State *L, const tbt_cluster *c) {
  lua_createtable(L, 0, 7);
  set_integer(L, "rank", c->rank);
  set_integer(L, "world_size", c->world_size);
  if (c->local_rank >= 0) set_integer(L, "local_rank", c->local_rank);
  set_integer(L, "task_index", c->task_index);
  if (c->job_id[0]) set_string(L, "job_id", c->job_id);
  set_string(L, "job_name", c->job_name);
  set_string(L, "source", c->source);
}

void tbt_lua_push_facts(lua_State *L, const tbt_export_facts *f) {
  lua_createtable(L, 0, 16);
  set_string(L, "name", f->name);
  if (f->has_step) set_integer(L, "step", f->step);
  if (f->has_default_step) set_integer(L, "default_step", f->default_step);
  set_string(L, "logdir", f->logdir);
  set_string(L, "profiler_outdir", f->profiler_outdir);
  lua_pushboolean(L, f->graph);
  lua_setfield(L, -2, "graph");
  lua_pushboolean(L, f->profiler);
  lua_setfield(L, -2, "profiler");
  set_string(L, "host", f->host);
  set_integer(L, "pid", f->pid);
  lua_pushnumber(L, f->time);
  lua_setfield(L, -2, "time");
  set_integer(L, "export_index", (int64_t)f->export_index);
  set_integer(L, "export_attempt", (int64_t)f->export_attempt);
  if (f->cluster) {
    tbt_lua_push_cluster(L, f->cluster);
    lua_setfield(L, -2, "cluster");
  }
  set_integer(L, "spans", (int64_t)f->spans);
  set_integer(L, "dropped", (int64_t)f->dropped);
  set_integer(L, "threads", f->threads);
}

/* Points *out at string field key of the table at idx, if it is there (the table keeps it). */
static void take_string(lua_State *L, int idx, const char *key, const char **out) {
  if (lua_getfield(L, idx, key) == LUA_TSTRING) *out = lua_tostring(L, -1);
  lua_pop(L, 1);
}

static void take_int(lua_State *L, int idx, const char *key, int *out) {
  if (lua_getfield(L, idx, key) == LUA_TNUMBER) *out = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
}

/* resolve(policy, facts) with the facts pushed inside the protected call, where running out of
** memory is an error the caller gets back rather than a panic. */
static int resolve_call(lua_State *L) {
  const tbt_export_facts *facts = lua_touserdata(L, 3);
  lua_settop(L, 2);
  tbt_lua_push_facts(L, facts);
  lua_call(L, 2, 1);
  return 1;
}

int tbt_lua_resolve(lua_State *L, int module, int policy, const tbt_export_facts *facts,
                    tbt_export_decision *out, char *err, size_t errlen) {
  int top = lua_gettop(L);
  if (!lua_checkstack(L, 8)) {
    snprintf(err, errlen, "export policy: %s", tbt_strerror(TBT_ENOMEM));
    return TBT_EPOLICY;
  }
  lua_pushcfunction(L, resolve_call);
  lua_getfield(L, module, "resolve");
  lua_pushvalue(L, policy);
  lua_pushlightuserdata(L, (void *)facts);
  if (lua_pcall(L, 3, 1, 0) != LUA_OK) {
    snprintf(err, errlen, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "policy error");
    lua_settop(L, top);
    return TBT_EPOLICY;
  }
  int d = lua_gettop(L);
  if (lua_getfield(L, d, "step") == LUA_TNUMBER) {
    out->has_step = 1;
    out->step = (int64_t)lua_tointeger(L, -1);
  }
  lua_pop(L, 1);
  take_string(L, d, "name", &out->name);
  take_string(L, d, "logdir", &out->logdir);
  take_string(L, d, "profiler_outdir", &out->profiler_outdir);
  take_string(L, d, "run_name", &out->run_name);
  if (lua_getfield(L, d, "settings") == LUA_TTABLE) {
    int s = lua_gettop(L);
    take_int(L, s, "max_queue", &out->max_queue);
    take_int(L, s, "flush_millis", &out->flush_millis);
    take_string(L, s, "filename_suffix", &out->filename_suffix);
  }
  lua_settop(L, d);   /* the settings table is the policy's and held by it */
  return 0;
}

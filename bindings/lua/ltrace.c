/*
** ltrace.c: spans and trace control in Lua (see ltrace.h).
**
** Span names are interned once per string: Lua interns short strings, so a string's address
** identifies its contents, and a small open-addressing table keyed by that address gives the id
** without hashing the text or taking the intern lock. Every string in the table is kept alive by
** an anchor table (the cache userdata's user value), so an address is never reused while cached.
** Past LCACHE_MAX entries the table and its anchors are dropped and refilled.
**
** Each function reaches the cache through its first upvalue, a light userdata (cheaper to read
** than the full one), and holds the cache userdata itself as its second, which keeps it alive.
*/
#include "ltrace.h"

#include "lbind.h"
#include "lcalls.h"
#include "lsample.h"
#include "tbtrace.h"

#include <lauxlib.h>
#include <string.h>

#define CACHE_KEY "tbtrace.trace_names"
#define CLOSER_MT "tbtrace.span_scope"
#define HOLDER_MT "tbtrace.trace_model"

#define LCACHE_BITS 10
#define LCACHE_SLOTS (1u << LCACHE_BITS)
#define LCACHE_MAX (LCACHE_SLOTS / 2)

typedef struct lslot {
  const char *p;
  uint32_t id;
} lslot;

typedef struct lcache {
  lua_State *main;       /* the state's main thread: it records on track 0 */
  tbt_track_cache rec;   /* the recording thread's buffer: a module's thread-locals cost a call */
  uint32_t n;
  lslot slot[LCACHE_SLOTS];
} lcache;

#define CACHE(L) ((lcache *)lua_touserdata((L), lua_upvalueindex(1)))
#define CACHE_UD lua_upvalueindex(2)
#define CLOSER lua_upvalueindex(3)

static inline uintptr_t track_of(lua_State *L, const lcache *c) {
  return L == c->main ? 0 : (uintptr_t)L;
}

static inline uint32_t slot_of(const char *s) {
  return (uint32_t)(((uintptr_t)s * 0x9E3779B97F4A7C15ull) >> (64 - LCACHE_BITS));
}

static uint32_t lookup_miss(lua_State *L, lcache *c, int arg, const char *s) {
  size_t len;
  lua_tolstring(L, arg, &len);
  uint32_t id = tbt_intern_len(s, len);
  if (!id) return 0;
  if (c->n >= LCACHE_MAX) {
    memset(c->slot, 0, sizeof c->slot);
    c->n = 0;
    lua_newtable(L);
    lua_setiuservalue(L, CACHE_UD, 1);
  }
  lua_getiuservalue(L, CACHE_UD, 1);
  lua_pushvalue(L, arg);
  lua_pushboolean(L, 1);
  lua_rawset(L, -3);
  lua_pop(L, 1);
  uint32_t h = slot_of(s);
  while (c->slot[h].p) h = (h + 1) & (LCACHE_SLOTS - 1);
  c->slot[h].p = s;
  c->slot[h].id = id;
  c->n++;
  return id;
}

/* The id of the string at arg (its type already checked). */
static inline uint32_t lookup(lua_State *L, lcache *c, int arg) {
  const char *s = lua_tostring(L, arg);
  uint32_t h = slot_of(s);
  for (;;) {
    const lslot *e = &c->slot[h];
    if (e->p == s) return e->id;
    if (!e->p) return lookup_miss(L, c, arg, s);
    h = (h + 1) & (LCACHE_SLOTS - 1);
  }
}

static inline void check_name(lua_State *L, int arg) {
  if (lua_type(L, arg) != LUA_TSTRING) luaL_typeerror(L, arg, "string");
}

/* An optional category at arg: 1 when a string is there, 0 for none/nil; raises otherwise. */
static inline int opt_category(lua_State *L, int arg) {
  int t = lua_type(L, arg);
  if (t == LUA_TSTRING) return 1;
  if (t > LUA_TNIL) luaL_typeerror(L, arg, "string or nil");
  return 0;
}

/* ------------------------------------------------------------------ spans */

/* span_begin with a second argument: kept apart so the usual call, with a name alone, holds
** less in registers. */
static __attribute__((noinline)) int span_begin_cat(lua_State *L) {
  int has_cat = opt_category(L, 2);
  if (TBT_TRACE_ACTIVE_()) {
    lcache *c = CACHE(L);
    uint32_t id = lookup(L, c, 1);
    uint32_t cat = has_cat ? lookup(L, c, 2) : 0;
    tbt_track_begin_cached(&c->rec, track_of(L, c), id, cat);
  }
  return 0;
}

static int l_span_begin(lua_State *L) {
  check_name(L, 1);
  if (lua_gettop(L) > 1) return span_begin_cat(L);
  if (TBT_TRACE_ACTIVE_()) {
    lcache *c = CACHE(L);
    tbt_track_begin_cached(&c->rec, track_of(L, c), lookup(L, c, 1), 0);
  }
  return 0;
}

static int l_span_end(lua_State *L) {
  if (TBT_TRACE_ACTIVE_()) {
    lcache *c = CACHE(L);
    tbt_track_end_cached(&c->rec, track_of(L, c));
  }
  return 0;
}

/* After fn (also when resumed after a yield in it): the stack is name, closer, results. */
static int span_done(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  (void)ctx;
  return lua_gettop(L) - 2;   /* returning closes the closer: the span ends */
}

/* span(name, fn, ...): fn runs unprotected with the closer (upvalue 3) in a to-be-closed slot, so
** an error in fn reaches the caller's handler with all its frames, and the span ends as the stack
** unwinds. The stack is name, closer, fn, args. */
static int l_span(lua_State *L) {
  check_name(L, 1);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_pushvalue(L, CLOSER);
  lua_rotate(L, 2, 1);
  lua_toclose(L, 2);
  if (TBT_TRACE_ACTIVE_()) {
    lcache *c = CACHE(L);
    tbt_track_begin_cached(&c->rec, track_of(L, c), lookup(L, c, 1), 0);
  }
  lua_callk(L, lua_gettop(L) - 3, LUA_MULTRET, 0, span_done);
  return span_done(L, LUA_OK, 0);
}

/* scope(name [, category]) begins a span and returns the shared closer (upvalue 3), whose
** __close ends the innermost span of the closing coroutine. */
static int l_scope(lua_State *L) {
  l_span_begin(L);
  lua_pushvalue(L, CLOSER);
  return 1;
}

static int l_scope_close(lua_State *L) {
  return l_span_end(L);
}

static int l_scope_tostring(lua_State *L) {
  lua_pushliteral(L, "tbtrace.scope");
  return 1;
}

static int l_instant(lua_State *L) {
  check_name(L, 1);
  int has_cat = opt_category(L, 2);
  if (TBT_TRACE_ACTIVE_()) {
    lcache *c = CACHE(L);
    uint32_t id = lookup(L, c, 1);
    uint32_t cat = has_cat ? lookup(L, c, 2) : 0;
    tbt_track_instant(track_of(L, c), id, cat);
  }
  return 0;
}

static int l_counter(lua_State *L) {
  check_name(L, 1);
  double v = (double)luaL_checknumber(L, 2);
  if (TBT_TRACE_ACTIVE_()) {
    lcache *c = CACHE(L);
    tbt_track_counter(track_of(L, c), lookup(L, c, 1), v);
  }
  return 0;
}

static int l_depends(lua_State *L) {
  check_name(L, 1);
  check_name(L, 2);
  tbt_span_depends(lua_tostring(L, 1), lua_tostring(L, 2));
  return 0;
}

static int l_thread_name(lua_State *L) {
  if (lua_isnoneornil(L, 1)) {
    tbt_thread_name(NULL);
    return 0;
  }
  check_name(L, 1);
  tbt_thread_name(lua_tostring(L, 1));
  return 0;
}

/* ------------------------------------------------------------------ control */

static int opt_bool_field(lua_State *L, int t, const char *key, int dflt) {
  int ty = lua_getfield(L, t, key);
  int v = dflt;
  if (ty == LUA_TBOOLEAN)
    v = lua_toboolean(L, -1);
  else if (ty != LUA_TNIL)
    luaL_error(L, "bad option '%s' to 'trace_on' (boolean expected, got %s)", key,
               luaL_typename(L, -1));
  lua_pop(L, 1);
  return v;
}

static int opt_bool_arg(lua_State *L, int arg, int dflt) {
  if (lua_isnoneornil(L, arg)) return dflt;
  luaL_checktype(L, arg, LUA_TBOOLEAN);
  return lua_toboolean(L, arg);
}

static int l_trace_on(lua_State *L) {
  tbt_trace_options o;
  tbt_trace_options_init(&o);
  int calls = 0, hz = 0;
  if (lua_type(L, 1) == LUA_TTABLE) {
    static const char *const keys[] = {"graph", "profiler", "profiler_outdir", "memory_limit", "lua_calls", "lua_samples", NULL};
    tbt_lua_checkoptions(L, 1, "trace_on", keys);
    calls = tbt_lua_calls_check(L, 1);
    hz = tbt_lua_samples_check(L, 1);
    o.graph = opt_bool_field(L, 1, "graph", 1);
    o.profiler = opt_bool_field(L, 1, "profiler", 0);
    int ty = lua_getfield(L, 1, "profiler_outdir");   /* stays on the stack while used */
    if (ty == LUA_TSTRING) {
      size_t len;
      o.profiler_outdir = lua_tolstring(L, -1, &len);
      if (strlen(o.profiler_outdir) != len)
        return luaL_error(L, "bad option 'profiler_outdir' to 'trace_on' (contains a NUL byte)");
    } else if (ty != LUA_TNIL)
      return luaL_error(L, "bad option 'profiler_outdir' to 'trace_on' (string expected, got %s)",
                        luaL_typename(L, -1));
    if (lua_getfield(L, 1, "memory_limit") != LUA_TNIL) {
      int isint = 0;   /* numbers only */
      lua_Integer n = lua_type(L, -1) == LUA_TNUMBER ? lua_tointegerx(L, -1, &isint) : 0;
      if (!isint || n < 0)
        return luaL_error(L,
                          "bad option 'memory_limit' to 'trace_on' (non-negative integer expected, got %s)",
                          isint ? "negative" : luaL_typename(L, -1));
      o.memory_limit = (size_t)n;
    }
    lua_pop(L, 1);
  } else {
    o.graph = opt_bool_arg(L, 1, 1);
    o.profiler = opt_bool_arg(L, 2, 0);
    if (!lua_isnoneornil(L, 3)) o.profiler_outdir = tbt_lua_checkcstring(L, 3, "profiler_outdir");
  }
  int rc = tbt_trace_on(&o);
  if (rc == 1) {
    lua_pushboolean(L, 0);
    lua_pushliteral(L, "Trace already enabled");
    return 2;
  }
  if (rc < 0) return luaL_error(L, "trace_on: %s", tbt_strerror(rc));
  if (calls) tbt_lua_calls_start(L);
  if (hz && (rc = tbt_lua_samples_start(L, hz)) != 0) {
    tbt_lua_calls_stop(L);
    tbt_trace_off();
    return luaL_error(L, "trace_on: cannot start the sampler: %s", tbt_strerror(rc));
  }
  if (calls || hz) tbt_lua_samples_broadcast(L);   /* every other Lua state follows */
  lua_pushboolean(L, 1);
  return 1;
}

static int l_trace_off(lua_State *L) {
  tbt_lua_calls_stop(L);
  tbt_lua_samples_stop(L);
  tbt_trace_off();
  return 0;
}

static void set_int(lua_State *L, const char *k, lua_Integer v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

static int l_trace_stats(lua_State *L) {
  tbt_trace_stats st;
  tbt_trace_get_stats(&st);
  lua_createtable(L, 0, 5);
  set_int(L, "records", (lua_Integer)st.records);
  set_int(L, "dropped", (lua_Integer)st.dropped);
  set_int(L, "bytes", (lua_Integer)st.bytes);
  set_int(L, "threads", (lua_Integer)st.threads);
  lua_pushboolean(L, tbt_trace_is_on());
  lua_setfield(L, -2, "on");
  return 1;
}

/* ------------------------------------------------------------------ the model as a table */

static void set_name(lua_State *L, const tbt_trace_model *m, const char *k, uint32_t idx,
                     int empty_is_nil) {
  const char *s = idx < m->nnames ? m->names[idx] : "";
  if (empty_is_nil && !*s) return;
  lua_pushstring(L, s);
  lua_setfield(L, -2, k);
}

void tbt_lua_push_model(lua_State *L, const tbt_trace_model *m) {
  luaL_checkstack(L, 8, "model");
  lua_createtable(L, 0, 7);
  set_int(L, "start_ns", (lua_Integer)m->start_ns);
  set_int(L, "end_ns", (lua_Integer)m->end_ns);
  set_int(L, "dropped", (lua_Integer)m->dropped);
  lua_pushboolean(L, m->graph);
  lua_setfield(L, -2, "graph");
  lua_pushboolean(L, m->profiler);
  lua_setfield(L, -2, "profiler");
  lua_createtable(L, (int)m->nthreads, 0);
  for (size_t i = 0; i < m->nthreads; i++) {
    const tbt_model_thread *t = &m->threads[i];
    lua_createtable(L, 0, 5);
    set_int(L, "tid", (lua_Integer)t->tid);
    set_name(L, m, "name", t->name, 0);
    lua_createtable(L, (int)t->nspans, 0);
    for (size_t j = 0; j < t->nspans; j++) {
      const tbt_model_span *s = &t->spans[j];
      lua_createtable(L, 0, 8);
      set_name(L, m, "name", s->name, 0);
      set_name(L, m, "path", s->path, 0);
      set_name(L, m, "category", s->category, 1);
      if (s->parent >= 0) set_int(L, "parent", (lua_Integer)s->parent + 1);
      set_int(L, "depth", (lua_Integer)s->depth);
      set_int(L, "start_ns", (lua_Integer)s->start_ns);
      set_int(L, "end_ns", (lua_Integer)s->end_ns);
      lua_pushboolean(L, (s->flags & TBT_SPAN_UNFINISHED) != 0);
      lua_setfield(L, -2, "unfinished");
      lua_rawseti(L, -2, (lua_Integer)j + 1);
    }
    lua_setfield(L, -2, "spans");
    lua_createtable(L, (int)t->ninstants, 0);
    for (size_t j = 0; j < t->ninstants; j++) {
      lua_createtable(L, 0, 3);
      set_name(L, m, "name", t->instants[j].name, 0);
      set_name(L, m, "category", t->instants[j].category, 1);
      set_int(L, "time_ns", (lua_Integer)t->instants[j].time_ns);
      lua_rawseti(L, -2, (lua_Integer)j + 1);
    }
    lua_setfield(L, -2, "instants");
    lua_createtable(L, (int)t->ncounters, 0);
    for (size_t j = 0; j < t->ncounters; j++) {
      lua_createtable(L, 0, 3);
      set_name(L, m, "name", t->counters[j].name, 0);
      set_int(L, "time_ns", (lua_Integer)t->counters[j].time_ns);
      lua_pushnumber(L, (lua_Number)t->counters[j].value);
      lua_setfield(L, -2, "value");
      lua_rawseti(L, -2, (lua_Integer)j + 1);
    }
    lua_setfield(L, -2, "counters");
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "threads");
  lua_createtable(L, (int)m->nedges, 0);
  for (size_t i = 0; i < m->nedges; i++) {
    lua_createtable(L, 0, 2);
    set_name(L, m, "from", m->edges[i].from, 0);
    set_name(L, m, "to", m->edges[i].to, 0);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "edges");
}

/* A model held by a userdata, so a memory error while building the table cannot leak it. */
static int holder_gc(lua_State *L) {
  tbt_trace_model_free(lua_touserdata(L, 1));
  return 0;
}

static int l_snapshot(lua_State *L) {
  tbt_trace_model *m = lua_newuserdatauv(L, sizeof *m, 0);
  memset(m, 0, sizeof *m);
  if (luaL_newmetatable(L, HOLDER_MT)) {
    lua_pushcfunction(L, holder_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  int rc = tbt_trace_snapshot(m);
  if (rc == TBT_ENOTRACE) {
    luaL_pushfail(L);
    lua_pushliteral(L, "no trace is on");
    return 2;
  }
  if (rc != 0) return luaL_error(L, "snapshot: %s", tbt_strerror(rc));
  tbt_lua_push_model(L, m);
  tbt_trace_model_free(m);
  return 1;
}

/* ------------------------------------------------------------------ registration */

void tbt_lua_open_trace(lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"span_begin", l_span_begin},
    {"span_end", l_span_end},
    {"instant", l_instant},
    {"counter", l_counter},
    {"depends", l_depends},
    {"thread_name", l_thread_name},
    {NULL, NULL}
  };
  static const luaL_Reg control[] = {
    {"trace_on", l_trace_on},
    {"trace_off", l_trace_off},
    {"trace_stats", l_trace_stats},
    {NULL, NULL}
  };
  luaL_setfuncs(L, control, 0);
  tbt_lua_push_internal(L);
  lua_pushcfunction(L, l_snapshot);
  lua_setfield(L, -2, "snapshot");
  lua_pop(L, 1);
  if (lua_getfield(L, LUA_REGISTRYINDEX, CACHE_KEY) != LUA_TUSERDATA) {
    lua_pop(L, 1);
    lcache *c = lua_newuserdatauv(L, sizeof *c, 1);
    memset(c, 0, sizeof *c);
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    c->main = lua_tothread(L, -1);
    lua_pop(L, 1);
    lua_newtable(L);
    lua_setiuservalue(L, -2, 1);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, CACHE_KEY);
  }
  lcache *c = lua_touserdata(L, -1);
  /* module, cache */
  lua_pushlightuserdata(L, c);
  lua_insert(L, -2);
  luaL_setfuncs(L, funcs, 2);
  lua_pushlightuserdata(L, c);
  lua_getfield(L, LUA_REGISTRYINDEX, CACHE_KEY);
  /* module, light, cache: the closer's __close shares them as its upvalues */
  lua_newuserdatauv(L, 0, 0);
  if (luaL_newmetatable(L, CLOSER_MT)) {
    lua_pushvalue(L, -4);
    lua_pushvalue(L, -4);
    lua_pushcclosure(L, l_scope_close, 2);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, l_scope_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_setmetatable(L, -2);
  /* module, light, cache, closer */
  lua_pushvalue(L, -3);
  lua_pushvalue(L, -3);
  lua_pushvalue(L, -3);
  lua_pushcclosure(L, l_span, 3);
  lua_setfield(L, -5, "span");
  lua_pushcclosure(L, l_scope, 3);
  lua_setfield(L, -2, "scope");
}

/*
** lrecord.c: tf.summary.record_if and should_record_summaries in Lua.
*/
#include "lbind.h"

#include <stdlib.h>
#include <string.h>

/* Each record_if sets a condition of its own: a boolean, or a Lua function called each time a
** summary asks (errors in it count as "do not record" and are reported on stderr, since they
** surface inside C code).
**
** Scopes need not close in the order they opened (coroutines interleave, unclosed scopes are
** collected), so a condition can be restored after the scope that set it is gone. Conditions
** therefore live outside the scope userdata, counted by everything that may restore them, and a
** closed one forwards to the condition it replaced. A function runs on a thread of its own,
** anchored in the registry: the thread that called record_if may be dead or suspended by then. */
typedef struct lua_cond {
  int constant;            /* 0 or 1 for a boolean; -1 for a function */
  lua_State *L;            /* the function's own thread */
  int fn_ref, thread_ref;
  int refs;                /* its scope, and conditions and scopes that saved it as previous */
  int closed;
  int calling;             /* calls of fn under way: its thread stays anchored until they end */
  tbt_record_cond prev;    /* what it replaced (one of the references when a Lua condition) */
} lua_cond;

static void cond_release(tbt_record_cond c);

static void cond_unanchor(lua_cond *c) {
  luaL_unref(c->L, LUA_REGISTRYINDEX, c->fn_ref);
  luaL_unref(c->L, LUA_REGISTRYINDEX, c->thread_ref);
  c->fn_ref = c->thread_ref = LUA_NOREF;
}

static int call_lua_cond(void *ud) {
  lua_cond *c = ud;
  if (c->constant >= 0) return c->constant;
  if (c->closed) return 1;   /* the forwarding below never leaves a closed one current */
  /* fn may close its own scope, or let it be collected: c and its thread must outlive the call. */
  c->refs++;
  c->calling++;
  lua_State *L = c->L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->fn_ref);
  int r;
  if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    lua_writestringerror("tbtrace: record_if condition failed: %s\n", msg ? msg : "(error object is not a string)");
    r = 0;
  } else {
    r = lua_toboolean(L, -1);
  }
  lua_pop(L, 1);
  if (--c->calling == 0 && c->closed) cond_unanchor(c);
  cond_release((tbt_record_cond){TBT_RECORD_CALLBACK, call_lua_cond, c});
  return r;
}

static lua_cond *as_lua_cond(tbt_record_cond c) {
  return c.mode == TBT_RECORD_CALLBACK && c.fn == call_lua_cond ? c.ud : NULL;
}

static void cond_retain(tbt_record_cond c) {
  lua_cond *lc = as_lua_cond(c);
  if (lc) lc->refs++;
}

static void cond_release(tbt_record_cond c) {
  lua_cond *lc;
  while ((lc = as_lua_cond(c)) && --lc->refs == 0) {
    c = lc->prev;
    free(lc);
  }
}

/* c, or, when c is a condition whose scope has closed, what that one replaced. */
static tbt_record_cond live(tbt_record_cond c) {
  lua_cond *lc;
  while ((lc = as_lua_cond(c)) && lc->closed) c = lc->prev;
  return c;
}

#define RECORD_SCOPE_MT "tbtrace.record_scope"

typedef struct record_scope {
  tbt_record_cond prev;    /* a reference when a Lua condition */
  lua_cond *own;           /* the condition this scope set */
  int active;
} record_scope;

static void record_scope_exit(record_scope *s) {
  if (!s->active) return;
  s->active = 0;
  tbt_record_restore(live(s->prev));
  lua_cond *c = s->own;
  s->own = NULL;
  c->closed = 1;
  if (c->constant < 0 && c->calling == 0) cond_unanchor(c);   /* else the last call does it */
  cond_release((tbt_record_cond){TBT_RECORD_CALLBACK, call_lua_cond, c});
  cond_release(s->prev);
}

static int record_scope_close(lua_State *L) {
  record_scope_exit(luaL_checkudata(L, 1, RECORD_SCOPE_MT));
  return 0;
}

/* tbtrace.record_if(condition [, fn, ...]): condition is a boolean or a function returning one.
** With fn, runs it under the condition and restores the previous one; without, returns a
** to-be-closed scope. */
static int l_record_if(lua_State *L) {
  int t = lua_type(L, 1);
  luaL_argexpected(L, t == LUA_TBOOLEAN || t == LUA_TFUNCTION, 1, "boolean or function");
  int fn = lua_type(L, 2) == LUA_TFUNCTION;
  if (!fn && !lua_isnoneornil(L, 2)) luaL_typeerror(L, 2, "function");
  int top = lua_gettop(L);
  luaL_checkstack(L, top + 4, "too many arguments to 'record_if'");   /* fn's copies, below */
  record_scope *s = lua_newuserdatauv(L, sizeof *s, 0);
  memset(s, 0, sizeof *s);
  luaL_setmetatable(L, RECORD_SCOPE_MT);
  /* Everything that can raise comes before the condition changes. */
  lua_State *co = NULL;
  int fn_ref = LUA_NOREF, thread_ref = LUA_NOREF;
  if (t == LUA_TFUNCTION) {
    co = lua_newthread(L);
    thread_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushvalue(L, 1);
    fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  lua_cond *c = malloc(sizeof *c);
  if (!c) {
    luaL_unref(L, LUA_REGISTRYINDEX, fn_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, thread_ref);
    return luaL_error(L, "not enough memory");
  }
  c->constant = t == LUA_TFUNCTION ? -1 : lua_toboolean(L, 1);
  c->L = co;
  c->fn_ref = fn_ref;
  c->thread_ref = thread_ref;
  c->refs = 1;
  c->closed = 0;
  c->calling = 0;
  s->active = 1;
  s->own = c;
  s->prev = tbt_record_if_fn(call_lua_cond, c);
  c->prev = s->prev;
  cond_retain(s->prev);
  cond_retain(c->prev);
  if (!fn) return 1;
  /* As in w:as_default: fn unprotected, the scope to-be-closed, so errors keep their frames. */
  int scope = lua_gettop(L);
  lua_toclose(L, scope);
  lua_pushvalue(L, 2);
  for (int i = 3; i <= top; i++) lua_pushvalue(L, i);
  lua_call(L, top - 2, LUA_MULTRET);
  return lua_gettop(L) - scope;   /* returning closes the scope */
}

static int l_should_record(lua_State *L) {
  lua_pushboolean(L, tbt_should_record_summaries());
  return 1;
}

void tbt_lua_open_record(lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"record_if", l_record_if},
    {"should_record_summaries", l_should_record},
    {NULL, NULL}
  };
  if (luaL_newmetatable(L, RECORD_SCOPE_MT)) {
    lua_pushcfunction(L, record_scope_close);
    lua_setfield(L, -2, "__close");
    /* A scope dropped without closing must not leave a dangling condition behind. */
    lua_pushcfunction(L, record_scope_close);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  luaL_setfuncs(L, funcs, 0);
}

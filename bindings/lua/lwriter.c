/*
** lwriter.c: summary writers and the per-thread default writer and step, in Lua.
**
**   w = tbtrace.create_file_writer(logdir [, {max_queue=, flush_millis=, filename_suffix=,
**                                              max_queue_bytes=}])
**   w = tbtrace.create_noop_writer()
**   w:set_as_default([step]); w:as_default([step,] fn, ...); local _ <close> = w:as_default([step])
**   w:flush(); w:close(); w:logdir(); w:path(); w:closed()
**   tbtrace.flush([writer]); tbtrace.experimental.get_step() / set_step(n or nil)
**
** A writer userdata holds one reference; the default-writer slot holds another, so a writer that is
** some thread's default stays open after its userdata is collected, as in TensorFlow.
*/
#include "lbind.h"

#include <string.h>

#define SCOPE_MT "tbtrace.default_scope"

typedef struct lwriter {
  tbt_writer *w;
} lwriter;

tbt_writer *tbt_lua_checkwriter(lua_State *L, int arg) {
  lwriter *lw = luaL_checkudata(L, arg, TBT_WRITER_MT);
  /* Only a direct call of __gc empties it; the writer's memory may be gone. */
  if (!lw->w) luaL_error(L, "attempt to use a collected writer");
  return lw->w;
}

static void push_writer(lua_State *L, tbt_writer *w) {
  lwriter *lw = lua_newuserdatauv(L, sizeof *lw, 0);
  lw->w = w;
  luaL_setmetatable(L, TBT_WRITER_MT);
}

/* Reads an optional non-negative integer option from the table at arg. */
static int opt_int_field(lua_State *L, int arg, const char *key, int dflt) {
  int t = lua_getfield(L, arg, key);
  int v = dflt;
  if (t != LUA_TNIL) {
    int isint = 0;   /* numbers only: "10" is no queue length */
    lua_Integer n = t == LUA_TNUMBER ? lua_tointegerx(L, -1, &isint) : 0;
    if (!isint || n < 0 || n > 0x7fffffff)
      luaL_error(L, "bad option '%s' to 'create_file_writer' (non-negative integer expected, got %s)",
                 key, isint ? "out of range" : luaL_typename(L, -1));
    v = (int)n;
  }
  lua_pop(L, 1);
  return v;
}

static int l_create_file_writer(lua_State *L) {
  size_t len;
  const char *logdir = luaL_checklstring(L, 1, &len);
  luaL_argcheck(L, len > 0, 1, "logdir cannot be empty");
  luaL_argcheck(L, strlen(logdir) == len, 1, "logdir contains a NUL byte");
  tbt_writer_options opts;
  tbt_writer_options_init(&opts);
  if (!lua_isnoneornil(L, 2)) {
    static const char *const keys[] = {"max_queue", "flush_millis", "max_queue_bytes", "filename_suffix", NULL};
    luaL_checktype(L, 2, LUA_TTABLE);
    tbt_lua_checkoptions(L, 2, "create_file_writer", keys);
    opts.max_queue = opt_int_field(L, 2, "max_queue", -1);
    opts.flush_millis = opt_int_field(L, 2, "flush_millis", -1);
    opts.max_queue_bytes = (size_t)opt_int_field(L, 2, "max_queue_bytes", 0);
    if (lua_getfield(L, 2, "filename_suffix") != LUA_TNIL) {
      if (lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "bad option 'filename_suffix' to 'create_file_writer' (string expected, got %s)",
                   luaL_typename(L, -1));
      size_t slen;
      opts.filename_suffix = lua_tolstring(L, -1, &slen);
      if (strlen(opts.filename_suffix) != slen)
        luaL_error(L, "bad option 'filename_suffix' to 'create_file_writer' (contains a NUL byte)");
      if (strchr(opts.filename_suffix, '/'))
        luaL_error(L, "bad option 'filename_suffix' to 'create_file_writer' (contains '/')");
    }
    /* The suffix string stays on the stack until the writer is open. */
  }
  tbt_writer *w;
  int rc = tbt_writer_open(&w, logdir, &opts);
  if (rc == TBT_EINVAL) return luaL_error(L, "create_file_writer: invalid argument");
  if (rc == TBT_ENOMEM) return luaL_error(L, "not enough memory");
  if (rc) {
    luaL_pushfail(L);
    lua_pushfstring(L, "%s: %s", logdir, tbt_strerror(rc));
    lua_pushinteger(L, rc >= TBT_ERRNO_MIN ? -rc : rc);
    return 3;
  }
  push_writer(L, w);
  return 1;
}

static int l_create_noop_writer(lua_State *L) {
  tbt_writer *w;
  if (tbt_writer_open_noop(&w)) return luaL_error(L, "not enough memory");
  push_writer(L, w);
  return 1;
}

static tbt_writer *check_open_writer(lua_State *L, int arg) {
  tbt_writer *w = tbt_lua_checkwriter(L, arg);
  if (tbt_writer_is_closed(w) && !tbt_writer_is_noop(w)) luaL_error(L, "SummaryWriter is already closed");
  return w;
}

static int l_set_as_default(lua_State *L) {
  tbt_writer *w = check_open_writer(L, 1);
  tbt_step step = tbt_lua_optstep(L, 2);
  if (tbt_writer_is_noop(w)) return 0;
  tbt_set_default_writer(w);
  if (step.has_step) tbt_set_step(step.step);
  return 0;
}

/* What as_default replaced, to put back on exit. */
typedef struct default_scope {
  tbt_writer *prev_writer;   /* a reference */
  int noop;                  /* entered with a no-op writer: nothing to restore */
  int64_t prev_step;
  int prev_has_step;
  int set_step;
  int active;
} default_scope;

static void scope_enter(default_scope *s, tbt_writer *w, tbt_step step) {
  s->active = 1;
  s->set_step = 0;
  s->prev_writer = NULL;
  s->noop = tbt_writer_is_noop(w);
  if (s->noop) return;  /* a no-op writer changes nothing (tf.summary parity) */
  s->prev_writer = tbt_writer_retain(tbt_default_writer());
  tbt_set_default_writer(w);
  if (step.has_step) {
    s->set_step = 1;
    s->prev_has_step = tbt_get_step(&s->prev_step);
    tbt_set_step(step.step);
  }
}

/* Leaving: flush the current default writer, then restore. Flush errors are not raised here: the
** events stay queued and the next flush or close reports them. */
static void scope_exit(default_scope *s) {
  if (!s->active) return;
  s->active = 0;
  tbt_writer *cur = tbt_default_writer();
  if (cur) tbt_writer_flush(cur);
  if (s->noop) return;
  if (s->set_step) {
    if (s->prev_has_step) tbt_set_step(s->prev_step);
    else tbt_unset_step();
  }
  if (cur || s->prev_writer) {
    if (s->prev_writer && tbt_writer_is_closed(s->prev_writer)) tbt_set_default_writer(NULL);
    else if (cur != s->prev_writer) tbt_set_default_writer(s->prev_writer);
  }
  tbt_writer_free(s->prev_writer);
  s->prev_writer = NULL;
}

static int scope_close(lua_State *L) {
  default_scope *s = luaL_checkudata(L, 1, SCOPE_MT);
  scope_exit(s);
  return 0;
}

/* A scope collected without being closed leaves the defaults as they are (restoring them at some
** later collection would surprise more), but must not keep the previous writer alive. */
static int scope_gc(lua_State *L) {
  default_scope *s = luaL_checkudata(L, 1, SCOPE_MT);
  if (s->active) {
    s->active = 0;
    tbt_writer_free(s->prev_writer);
    s->prev_writer = NULL;
  }
  return 0;
}

/* w:as_default([step,] fn, ...) runs fn with w as default; w:as_default([step]) returns a
** to-be-closed scope instead. */
static int l_as_default(lua_State *L) {
  tbt_writer *w = check_open_writer(L, 1);
  int fn_arg = 0;
  tbt_step step = TBT_DEFAULT_STEP;
  if (lua_type(L, 2) == LUA_TFUNCTION) {
    fn_arg = 2;
  } else {
    step = tbt_lua_optstep(L, 2);
    if (lua_type(L, 3) == LUA_TFUNCTION) fn_arg = 3;
    else if (!lua_isnoneornil(L, 3)) luaL_typeerror(L, 3, "function");
  }
  default_scope *s = lua_newuserdatauv(L, sizeof *s, 0);
  memset(s, 0, sizeof *s);
  luaL_setmetatable(L, SCOPE_MT);
  scope_enter(s, w, step);
  if (!fn_arg) return 1;
  /* fn runs unprotected, the scope a to-be-closed slot: an error raised in fn reaches the caller's
  ** handler with every frame still on the stack (a traceback shows them all), and the scope
  ** closes as it unwinds. */
  int scope_idx = lua_gettop(L);
  lua_toclose(L, scope_idx);
  int nargs = scope_idx - fn_arg - 1;
  lua_pushvalue(L, fn_arg);
  for (int i = fn_arg + 1; i < scope_idx; i++) lua_pushvalue(L, i);
  lua_call(L, nargs, LUA_MULTRET);
  return lua_gettop(L) - scope_idx;   /* returning closes the scope */
}

static int l_flush_writer(lua_State *L) {
  tbt_writer *w = tbt_lua_checkwriter(L, 1);
  int rc = tbt_writer_flush(w);
  if (rc) return tbt_lua_fail(L, rc);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_close(lua_State *L) {
  tbt_writer *w = tbt_lua_checkwriter(L, 1);
  int rc = tbt_writer_close(w);
  if (rc) return tbt_lua_fail(L, rc);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_gc(lua_State *L) {
  lwriter *lw = luaL_checkudata(L, 1, TBT_WRITER_MT);
  if (lw->w) {
    tbt_writer_free(lw->w);
    lw->w = NULL;
  }
  return 0;
}

/* __close: leaving a `local w <close>` closes the writer (errors are not raised from __close). */
static int l_close_mm(lua_State *L) {
  lwriter *lw = luaL_checkudata(L, 1, TBT_WRITER_MT);
  if (lw->w) tbt_writer_close(lw->w);
  return 0;
}

static int l_logdir(lua_State *L) {
  lua_pushstring(L, tbt_writer_logdir(tbt_lua_checkwriter(L, 1)));
  return 1;
}

static int l_path(lua_State *L) {
  lua_pushstring(L, tbt_writer_path(tbt_lua_checkwriter(L, 1)));
  return 1;
}

static int l_closed(lua_State *L) {
  lua_pushboolean(L, tbt_writer_is_closed(tbt_lua_checkwriter(L, 1)));
  return 1;
}

static int l_stats(lua_State *L) {
  tbt_writer_stats st;
  int rc = tbt_writer_get_stats(tbt_lua_checkwriter(L, 1), &st);
  if (rc) return luaL_error(L, "stats: %s", tbt_strerror(rc));
  lua_createtable(L, 0, 6);
  lua_pushinteger(L, (lua_Integer)st.events_written);
  lua_setfield(L, -2, "events_written");
  lua_pushinteger(L, (lua_Integer)st.events_pending);
  lua_setfield(L, -2, "events_pending");
  lua_pushinteger(L, (lua_Integer)st.flushes);
  lua_setfield(L, -2, "flushes");
  lua_pushinteger(L, (lua_Integer)st.timer_flushes);
  lua_setfield(L, -2, "timer_flushes");
  lua_pushinteger(L, (lua_Integer)st.events_dropped);
  lua_setfield(L, -2, "events_dropped");
  lua_pushinteger(L, (lua_Integer)st.files_reopened);
  lua_setfield(L, -2, "files_reopened");
  return 1;
}

static int l_tostring(lua_State *L) {
  lwriter *lw = luaL_checkudata(L, 1, TBT_WRITER_MT);
  if (!lw->w)
    lua_pushfstring(L, "tbtrace.writer (collected) (%p)", (void *)lw);
  else if (tbt_writer_is_noop(lw->w))
    lua_pushfstring(L, "tbtrace.writer (noop) (%p)", (void *)lw);
  else
    lua_pushfstring(L, "tbtrace.writer (%s%s) (%p)", tbt_writer_path(lw->w),
                    tbt_writer_is_closed(lw->w) ? ", closed" : "", (void *)lw);
  return 1;
}

/* tbtrace.flush([writer]): the default writer when none is given; nothing to do without one. */
static int l_flush(lua_State *L) {
  tbt_writer *w;
  if (lua_isnoneornil(L, 1)) {
    w = tbt_default_writer();
    if (!w) {
      lua_pushboolean(L, 1);
      return 1;
    }
  } else {
    if (!luaL_testudata(L, 1, TBT_WRITER_MT))
      return luaL_error(L, "Invalid argument to flush(): %s", luaL_tolstring(L, 1, NULL));
    w = tbt_lua_checkwriter(L, 1);
  }
  int rc = tbt_writer_flush(w);
  if (rc) return tbt_lua_fail(L, rc);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_get_step(lua_State *L) {
  int64_t step;
  if (tbt_get_step(&step)) lua_pushinteger(L, (lua_Integer)step);
  else lua_pushnil(L);
  return 1;
}

static int l_set_step(lua_State *L) {
  luaL_checkany(L, 1);
  tbt_step s = tbt_lua_optstep(L, 1);
  if (s.has_step) tbt_set_step(s.step);
  else tbt_unset_step();
  return 0;
}

static int l_default_writer(lua_State *L) {
  /* The default writer as a fresh userdata (one more reference), or nil. */
  tbt_writer *w = tbt_default_writer();
  if (!w) return 0;
  push_writer(L, tbt_writer_retain(w));
  return 1;
}

void tbt_lua_open_writer(lua_State *L) {
  static const luaL_Reg methods[] = {
    {"set_as_default", l_set_as_default},
    {"as_default", l_as_default},
    {"flush", l_flush_writer},
    {"close", l_close},
    {"logdir", l_logdir},
    {"path", l_path},
    {"closed", l_closed},
    {"stats", l_stats},
    {NULL, NULL}
  };
  static const luaL_Reg meta[] = {
    {"__gc", l_gc},
    {"__close", l_close_mm},
    {"__tostring", l_tostring},
    {NULL, NULL}
  };
  static const luaL_Reg funcs[] = {
    {"create_file_writer", l_create_file_writer},
    {"create_noop_writer", l_create_noop_writer},
    {"flush", l_flush},
    {"default_writer", l_default_writer},
    {NULL, NULL}
  };
  static const luaL_Reg experimental[] = {
    {"get_step", l_get_step},
    {"set_step", l_set_step},
    {NULL, NULL}
  };
  if (luaL_newmetatable(L, TBT_WRITER_MT)) {
    luaL_setfuncs(L, meta, 0);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, SCOPE_MT)) {
    lua_pushcfunction(L, scope_close);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, scope_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  luaL_setfuncs(L, funcs, 0);
  luaL_newlib(L, experimental);
  lua_setfield(L, -2, "experimental");
  lua_pushcfunction(L, l_get_step);
  lua_setfield(L, -2, "get_step");
  lua_pushcfunction(L, l_set_step);
  lua_setfield(L, -2, "set_step");
}

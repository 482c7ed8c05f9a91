/*
** lplugins.c: the rest of tf.summary for Lua: summary_scope, experimental.write_raw_pb, graph and
** the custom_scalars layout.
*/

#include "lbind.h"

#include <string.h>

/* ------------------------------------------------------------------ summary_scope */

#define SCOPE_MT "tbtrace.summary_scope"

typedef struct scope_ud {
  int depth;     /* the depth this scope made; 0 once closed */
} scope_ud;

/* Closes s, and any scope opened inside it and left open. */
static void scope_exit(scope_ud *s) {
  if (!s->depth) return;
  while (tbt_summary_scope_depth() >= s->depth) tbt_summary_scope_pop();
  s->depth = 0;
}

static int scope_close(lua_State *L) {
  scope_exit(luaL_checkudata(L, 1, SCOPE_MT));
  return 0;
}

/* tbtrace.summary_scope(name [, fn, ...]): as tf.summary.experimental.summary_scope. With fn, runs
** fn(tag, scope, ...) inside the scope and returns its results; without, returns a to-be-closed
** scope object, the tag and the scope name. tag is name under the enclosing scopes
** ("outer/name"); scope is the scope summaries now go under, with a trailing "/". */
static int l_summary_scope(lua_State *L) {
  const char *name = "";
  if (!lua_isnoneornil(L, 1)) {
    size_t len;
    name = luaL_checklstring(L, 1, &len);
    luaL_argcheck(L, strlen(name) == len, 1, "name contains a NUL byte");
    luaL_argcheck(L, tbt_utf8_valid(name, len), 1, "name is not valid UTF-8");
  }
  int fn = lua_type(L, 2) == LUA_TFUNCTION;
  if (!fn && !lua_isnoneornil(L, 2)) luaL_typeerror(L, 2, "function");
  int top = lua_gettop(L);
  luaL_checkstack(L, top + 6, "too many arguments to 'summary_scope'");
  /* tag: the name as given (the default when empty) under the open scopes */
  const char *outer = tbt_summary_scope();
  const char *shown = *name ? name : "summary";
  if (*outer) lua_pushfstring(L, "%s/%s", outer, shown);
  else lua_pushstring(L, shown);
  int tag = lua_gettop(L);
  scope_ud *s = lua_newuserdatauv(L, sizeof *s, 0);
  s->depth = 0;
  luaL_setmetatable(L, SCOPE_MT);
  int ud = lua_gettop(L);
  int rc = tbt_summary_scope_push(name);
  if (rc) return luaL_error(L, "summary_scope: %s", tbt_strerror(rc));
  s->depth = tbt_summary_scope_depth();
  lua_pushfstring(L, "%s/", tbt_summary_scope());
  int scope = lua_gettop(L);
  if (!fn) {
    lua_pushvalue(L, ud);
    lua_pushvalue(L, tag);
    lua_pushvalue(L, scope);
    return 3;
  }
  int base = lua_gettop(L);
  lua_pushvalue(L, 2);
  lua_pushvalue(L, tag);
  lua_pushvalue(L, scope);
  for (int i = 3; i <= top; i++) lua_pushvalue(L, i);
  int status = lua_pcall(L, top, LUA_MULTRET, 0);
  scope_exit(s);
  if (status != LUA_OK) return lua_error(L);
  return lua_gettop(L) - base;
}

/* ------------------------------------------------------------------ write_raw_pb, graph */

/* tbtrace.experimental.write_raw_pb(data, step): data is a serialized Summary, or an array of
** them (one event each). */
static int l_write_raw_pb(lua_State *L) {
  int t = lua_type(L, 1);
  luaL_argexpected(L, t == LUA_TSTRING || t == LUA_TTABLE, 1, "string or table");
  tbt_step step = tbt_lua_optstep(L, 2);
  size_t n = 1;
  if (t == LUA_TTABLE) {
    static const char *const none[] = {NULL};
    tbt_lua_check_keys(L, 1, none, 1, 1, "summaries");
    n = lua_rawlen(L, 1);
  }
  const void **bufs = lua_newuserdatauv(L, (n ? n : 1) * sizeof *bufs, 0);
  size_t *lens = lua_newuserdatauv(L, (n ? n : 1) * sizeof *lens, 0);
  if (t == LUA_TSTRING) {
    bufs[0] = lua_tolstring(L, 1, &lens[0]);
  } else {
    for (size_t i = 0; i < n; i++) {
      if (lua_rawgeti(L, 1, (lua_Integer)i + 1) != LUA_TSTRING)
        return luaL_argerror(L, 1, lua_pushfstring(L, "string expected at element %I, got %s",
                                                   (lua_Integer)i + 1, luaL_typename(L, -1)));
      bufs[i] = lua_tolstring(L, -1, &lens[i]);   /* the table keeps it */
      lua_pop(L, 1);
    }
  }
  int rc = tbt_write_raw_pb(bufs, lens, n, step);
  if (rc == TBT_EINVAL) return luaL_argerror(L, 1, "not a serialized Summary (with UTF-8 strings)");
  return tbt_lua_summary_result(L, rc, "write_raw_pb");
}

/* tbtrace.graph(graph_def): a serialized GraphDef, written to Event.graph_def at step 0. */
static int l_graph(lua_State *L) {
  size_t len;
  const char *g = luaL_checklstring(L, 1, &len);
  int rc = tbt_graph(g, len);
  if (rc == TBT_EINVAL) return luaL_argerror(L, 1, "not a serialized GraphDef (with UTF-8 strings)");
  return tbt_lua_summary_result(L, rc, "graph");
}

/* ------------------------------------------------------------------ custom scalars */

static const char *const CATEGORY_KEYS[] = {"title", "charts", "closed", NULL};
static const char *const CHART_KEYS[] = {"title", "tags", "margin", NULL};
static const char *const SERIES_KEYS[] = {"value", "lower", "upper", NULL};

/* The array field key of the table at idx (empty when nil), pushed, and its length. */
static lua_Integer array_of(lua_State *L, int idx, const char *key, const char *what) {
  lua_pushstring(L, key);
  int t = lua_rawget(L, idx);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    lua_newtable(L);
  } else if (t != LUA_TTABLE) {
    luaL_argerror(L, 1, lua_pushfstring(L, "%s.%s must be a table, got %s", what, key, luaL_typename(L, -1)));
  }
  static const char *const none[] = {NULL};
  int arr = lua_gettop(L);
  tbt_lua_check_keys(L, arr, none, 1, 1, lua_pushfstring(L, "%s.%s", what, key));
  lua_pop(L, 1);
  return (lua_Integer)lua_rawlen(L, arr);
}

/* A string element i of the array at the top, kept by that array. */
static const char *string_at(lua_State *L, lua_Integer i, const char *what) {
  if (lua_rawgeti(L, -1, i) != LUA_TSTRING)
    luaL_argerror(L, 1, lua_pushfstring(L, "%s[%I] must be a string, got %s", what, i, luaL_typename(L, -1)));
  size_t len;
  const char *s = lua_tolstring(L, -1, &len);
  if (strlen(s) != len || len == 0 || !tbt_utf8_valid(s, len))
    luaL_argerror(L, 1, lua_pushfstring(L, "%s[%I] must be a non-empty UTF-8 string without NUL bytes", what, i));
  lua_pop(L, 1);
  return s;
}

/* tbtrace.custom_scalars{ {title =, closed =, charts = { {title =, tags = {...}} or
** {title =, margin = { {value =, lower =, upper =}, ... }} }}, ... } */
static int l_custom_scalars(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  static const char *const none[] = {NULL};
  tbt_lua_check_keys(L, 1, none, 1, 1, "layout");
  lua_Integer nc = (lua_Integer)lua_rawlen(L, 1);
  tbt_chart_category *cats = lua_newuserdatauv(L, (size_t)(nc ? nc : 1) * sizeof *cats, 0);   /* 2 */
  lua_newtable(L);   /* 3: anchors the arrays made below */
  lua_Integer anchors = 0;
  for (lua_Integer i = 1; i <= nc; i++) {
    const char *what = lua_pushfstring(L, "layout[%I]", i);
    if (lua_rawgeti(L, 1, i) != LUA_TTABLE)
      luaL_argerror(L, 1, lua_pushfstring(L, "%s must be a table, got %s", what, luaL_typename(L, -1)));
    int c = lua_gettop(L);
    tbt_lua_check_keys(L, c, CATEGORY_KEYS, 0, 1, what);
    tbt_chart_category *cat = &cats[i - 1];
    memset(cat, 0, sizeof *cat);
    cat->title = tbt_lua_opt_field_string(L, c, "title", 1, what);
    lua_pushstring(L, "closed");
    int ct = lua_rawget(L, c);
    if (ct != LUA_TNIL && ct != LUA_TBOOLEAN)
      luaL_argerror(L, 1, lua_pushfstring(L, "%s.closed must be a boolean, got %s", what, luaL_typename(L, -1)));
    cat->closed = lua_toboolean(L, -1);
    lua_pop(L, 1);
    lua_Integer nch = array_of(L, c, "charts", what);
    int charts_t = lua_gettop(L);
    tbt_chart *charts = lua_newuserdatauv(L, (size_t)(nch ? nch : 1) * sizeof *charts, 0);
    lua_rawseti(L, 3, ++anchors);
    cat->charts = charts;
    cat->n_charts = (size_t)nch;
    for (lua_Integer j = 1; j <= nch; j++) {
      const char *cw = lua_pushfstring(L, "%s.charts[%I]", what, j);
      if (lua_rawgeti(L, charts_t, j) != LUA_TTABLE)
        luaL_argerror(L, 1, lua_pushfstring(L, "%s must be a table, got %s", cw, luaL_typename(L, -1)));
      int ch = lua_gettop(L);
      tbt_lua_check_keys(L, ch, CHART_KEYS, 0, 1, cw);
      tbt_chart *chart = &charts[j - 1];
      memset(chart, 0, sizeof *chart);
      chart->title = tbt_lua_opt_field_string(L, ch, "title", 1, cw);
      lua_Integer nt = array_of(L, ch, "tags", cw);
      const char *tw = lua_pushfstring(L, "%s.tags", cw);
      lua_insert(L, -2);
      const char **tags = lua_newuserdatauv(L, (size_t)(nt ? nt : 1) * sizeof *tags, 0);
      lua_rawseti(L, 3, ++anchors);
      for (lua_Integer k = 1; k <= nt; k++) tags[k - 1] = string_at(L, k, tw);
      lua_pop(L, 2);
      lua_Integer nm = array_of(L, ch, "margin", cw);
      int mt = lua_gettop(L);
      if (nt && nm) luaL_argerror(L, 1, lua_pushfstring(L, "%s has both tags and margin", cw));
      if (!nt && !nm) luaL_argerror(L, 1, lua_pushfstring(L, "%s needs tags or margin", cw));
      const char **margin = lua_newuserdatauv(L, (size_t)(nm ? nm : 1) * 3 * sizeof *margin, 0);
      lua_rawseti(L, 3, ++anchors);
      for (lua_Integer k = 1; k <= nm; k++) {
        const char *sw = lua_pushfstring(L, "%s.margin[%I]", cw, k);
        if (lua_rawgeti(L, mt, k) != LUA_TTABLE)
          luaL_argerror(L, 1, lua_pushfstring(L, "%s must be a table, got %s", sw, luaL_typename(L, -1)));
        int se = lua_gettop(L);
        tbt_lua_check_keys(L, se, SERIES_KEYS, 0, 1, sw);
        for (int f = 0; f < 3; f++) {
          const char *v = tbt_lua_opt_field_string(L, se, SERIES_KEYS[f], 1, sw);
          if (!v || !*v) luaL_argerror(L, 1, lua_pushfstring(L, "%s.%s must be a non-empty string", sw, SERIES_KEYS[f]));
          margin[(k - 1) * 3 + f] = v;
        }
        lua_pop(L, 2);
      }
      lua_pop(L, 1);
      chart->tags = tags;
      chart->n_tags = (size_t)nt;
      chart->margin = margin;
      chart->n_margin = (size_t)nm;
      lua_pop(L, 2);
    }
    lua_pop(L, 3);
  }
  return tbt_lua_summary_result(L, tbt_custom_scalars(cats, (size_t)nc), "custom_scalars");
}

void tbt_lua_open_plugins(lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"summary_scope", l_summary_scope},
    {"graph", l_graph},
    {"custom_scalars", l_custom_scalars},
    {NULL, NULL}
  };
  if (luaL_newmetatable(L, SCOPE_MT)) {
    lua_pushcfunction(L, scope_close);
    lua_setfield(L, -2, "__close");
  }
  lua_pop(L, 1);
  luaL_setfuncs(L, funcs, 0);
  /* tf.summary.experimental.summary_scope and write_raw_pb */
  lua_getfield(L, -1, "experimental");
  lua_pushcfunction(L, l_summary_scope);
  lua_setfield(L, -2, "summary_scope");
  lua_pushcfunction(L, l_write_raw_pb);
  lua_setfield(L, -2, "write_raw_pb");
  lua_pop(L, 1);
}

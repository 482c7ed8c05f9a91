/*
** loptions.c: option tables, checked the same way by every function that takes one (see lbind.h).
*/
#include "lbind.h"

#include <string.h>

/* Names from TensorFlow and tensorboardX that users bring along, and what tbtrace calls them.
** A hint is given only when its replacement is an option of the function at hand. */
static const struct {
  const char *foreign, *ours, *why;
} hints[] = {
  {"flush_secs", "flush_millis", "tensorboardX's flush_secs is in seconds; flush_millis is in milliseconds"},
  {"flush_interval", "flush_millis", "in milliseconds"},
  {"max_queue_size", "max_queue", NULL},
  {"queue_size", "max_queue", NULL},
  {"filename_suffix_", "filename_suffix", NULL},
  {"suffix", "filename_suffix", NULL},
  {"profile", "profiler", NULL},
  {"profiling", "profiler", NULL},
  {"logdir", "profiler_outdir", "trace_export writes profile files under profiler_outdir"},
  {"outdir", "profiler_outdir", NULL},
  {"log_dir", "profiler_outdir", NULL},
  {"summary_description", "description", NULL},
  {"plugin", "plugin_name", NULL},
};

/* Edit distance with transpositions (optimal string alignment), capped: names are short. */
static size_t distance(const char *a, const char *b) {
  size_t n = strlen(a), m = strlen(b);
  if (n > 40 || m > 40) return (size_t)-1;
  size_t d[41][41];
  for (size_t i = 0; i <= n; i++) d[i][0] = i;
  for (size_t j = 0; j <= m; j++) d[0][j] = j;
  for (size_t i = 1; i <= n; i++)
    for (size_t j = 1; j <= m; j++) {
      size_t cost = a[i - 1] != b[j - 1];
      size_t v = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
      if (d[i - 1][j - 1] + cost < v) v = d[i - 1][j - 1] + cost;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
        v = d[i - 2][j - 2] + 1;
      d[i][j] = v;
    }
  return d[n][m];
}

static int known_key(const char *const known[], const char *k) {
  for (size_t i = 0; known[i]; i++)
    if (strcmp(known[i], k) == 0) return 1;
  return 0;
}

/* The known name a user most likely meant by k: the right name for a well-known foreign one
** (with why, when it needs saying), else the closest known name when k is a likely typo: at most
** 2 edits, and fewer than a third of the name for short ones. NULL when none fits. */
static const char *suggestion(const char *k, const char *const known[], const char **why) {
  *why = NULL;
  for (size_t i = 0; i < sizeof hints / sizeof hints[0]; i++)
    if (strcmp(hints[i].foreign, k) == 0 && known_key(known, hints[i].ours)) {
      *why = hints[i].why;
      return hints[i].ours;
    }
  const char *best = NULL;
  size_t bestd = (size_t)-1, klen = strlen(k);
  for (size_t i = 0; known[i]; i++) {
    size_t d = distance(k, known[i]);
    if (d < bestd) {
      bestd = d;
      best = known[i];
    }
  }
  return best && bestd <= 2 && bestd * 3 <= klen + 1 ? best : NULL;
}

/* Pushes " (did you mean 'x'? why)" for k, or "" when nothing fits. */
static const char *push_suggestion(lua_State *L, const char *k, const char *const known[]) {
  const char *why, *best = suggestion(k, known, &why);
  if (!best) return lua_pushliteral(L, "");
  if (why) return lua_pushfstring(L, " (did you mean '%s'? %s)", best, why);
  return lua_pushfstring(L, " (did you mean '%s'?)", best);
}

/* Raises for the unknown key at the top of the stack (the table's key; a copy, so it is ours).
** field names the option whose table it is (NULL at the top level). */
static int unknown(lua_State *L, const char *fname, const char *field, const char *const known[]) {
  const char *dot = field ? "." : "", *f = field ? field : "";
  if (lua_type(L, -1) != LUA_TSTRING) {
    int isint = lua_type(L, -1) == LUA_TNUMBER && lua_isinteger(L, -1);
    lua_Integer i = isint ? lua_tointeger(L, -1) : 0;
    const char *tname = luaL_typename(L, -1);
    const char *in = field ? lua_pushfstring(L, "option '%s'", field) : "the options";
    if (isint)
      return luaL_error(L, "unexpected value at index %I in %s to '%s' (options are named: %s = ...)", i, in,
                        fname, known[0] ? known[0] : "name");
    if (field)
      return luaL_error(L, "unknown option of type %s in %s to '%s' (options are named by strings)", tname, in,
                        fname);
    return luaL_error(L, "unknown option of type %s to '%s' (options are named by strings)", tname, fname);
  }
  const char *k = lua_tostring(L, -1);
  const char *why, *best = suggestion(k, known, &why);
  if (best && why)
    return luaL_error(L, "unknown option '%s%s%s' to '%s' (did you mean '%s%s%s'? %s)", f, dot, k, fname, f, dot,
                      best, why);
  if (best)
    return luaL_error(L, "unknown option '%s%s%s' to '%s' (did you mean '%s%s%s'?)", f, dot, k, fname, f, dot, best);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (size_t i = 0; known[i]; i++) {
    if (i) luaL_addstring(&b, ", ");
    luaL_addstring(&b, f);
    luaL_addstring(&b, dot);
    luaL_addstring(&b, known[i]);
  }
  luaL_pushresult(&b);
  return luaL_error(L, "unknown option '%s%s%s' to '%s' (options are: %s)", f, dot, k, fname, lua_tostring(L, -1));
}

static void check_options(lua_State *L, int idx, const char *fname, const char *field,
                          const char *const known[]) {
  idx = lua_absindex(L, idx);
  luaL_checkstack(L, 6, "options");
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING || !known_key(known, lua_tostring(L, -1))) {
      lua_pushvalue(L, -1);   /* lua_next's key stays untouched */
      unknown(L, fname, field, known);
    }
  }
}

void tbt_lua_checkoptions(lua_State *L, int arg, const char *fname, const char *const known[]) {
  check_options(L, arg, fname, NULL, known);
}

void tbt_lua_checksuboptions(lua_State *L, int idx, const char *fname, const char *field,
                             const char *const known[]) {
  check_options(L, idx, fname, field, known);
}

void tbt_lua_check_keys(lua_State *L, int idx, const char *const *keys, int allow_array, int arg,
                        const char *what) {
  idx = lua_absindex(L, idx);
  luaL_checkstack(L, 4, "options");
  lua_Integer n = allow_array ? (lua_Integer)lua_rawlen(L, idx) : 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING) {
      const char *k = lua_tostring(L, -1);
      if (!known_key(keys, k))
        luaL_argerror(L, arg, lua_pushfstring(L, "%s: unknown key '%s'%s", what, k, push_suggestion(L, k, keys)));
    } else {
      int isint = 0;
      lua_Integer i = lua_isinteger(L, -1) ? lua_tointegerx(L, -1, &isint) : 0;
      if (!isint || i < 1 || i > n) {
        lua_pushvalue(L, -1);
        const char *k = luaL_tolstring(L, -1, NULL);
        luaL_argerror(L, arg, lua_pushfstring(L, "%s: unknown key %s", what, k));
      }
    }
  }
}

const char *tbt_lua_opt_field_string(lua_State *L, int idx, const char *key, int arg,
                                     const char *what) {
  idx = lua_absindex(L, idx);
  lua_pushstring(L, key);
  int t = lua_rawget(L, idx);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return NULL;
  }
  if (t != LUA_TSTRING)
    luaL_argerror(L, arg, lua_pushfstring(L, "%s.%s must be a string, got %s", what, key,
                                          luaL_typename(L, -1)));
  size_t len;
  const char *s = lua_tolstring(L, -1, &len);
  if (strlen(s) != len)
    luaL_argerror(L, arg, lua_pushfstring(L, "%s.%s contains a NUL byte", what, key));
  if (!tbt_utf8_valid(s, len))
    luaL_argerror(L, arg, lua_pushfstring(L, "%s.%s is not valid UTF-8", what, key));
  lua_pop(L, 1);   /* the table keeps it */
  return s;
}

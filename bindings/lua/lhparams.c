/*
** lhparams.c: tbtrace.hparams, the HParams dashboard's summaries from Lua:
**   hparams.config{hparams = {...}, metrics = {...}, time_created = secs}
**   hparams.run(values [, {trial_id =, start_time =}]) -> session; session:close([status])
**   hparams.group_name(values)
** Tables are read with raw access, so no user code runs while their strings are borrowed.
*/

#include "lbind.h"

#include <math.h>
#include <string.h>

#define SESSION_MT "tbtrace.hparams_session"

/* Raw field of the table at idx, pushed. */
static int rawfield(lua_State *L, int idx, const char *key) {
  lua_pushstring(L, key);
  return lua_rawget(L, idx);
}

/* The value at the top of the stack as a tbt_hparam_value (strings stay on the stack's tables). */
static void to_value(lua_State *L, tbt_hparam_value *v, int arg, const char *what) {
  memset(v, 0, sizeof *v);
  switch (lua_type(L, -1)) {
    case LUA_TBOOLEAN:
      v->type = TBT_HPARAM_BOOL;
      v->boolean = lua_toboolean(L, -1);
      break;
    case LUA_TNUMBER:
      if (lua_isinteger(L, -1)) {
        v->type = TBT_HPARAM_INT;
        v->integer = (int64_t)lua_tointeger(L, -1);
      } else {
        v->type = TBT_HPARAM_NUMBER;
        v->number = (double)lua_tonumber(L, -1);
      }
      break;
    case LUA_TSTRING: {
      size_t len;
      const char *s = lua_tolstring(L, -1, &len);
      if (strlen(s) != len) luaL_argerror(L, arg, lua_pushfstring(L, "%s contains a NUL byte", what));
      if (!tbt_utf8_valid(s, len)) luaL_argerror(L, arg, lua_pushfstring(L, "%s is not valid UTF-8", what));
      v->type = TBT_HPARAM_STRING;
      v->string = s;
      break;
    }
    default:
      luaL_argerror(L, arg, lua_pushfstring(L, "%s must be a boolean, number or string, got %s", what,
                                            luaL_typename(L, -1)));
  }
}

static int kind_of(const tbt_hparam_value *v) {
  return v->type == TBT_HPARAM_INT ? TBT_HPARAM_NUMBER : v->type;
}

static const char *kind_name(int k) {
  return k == TBT_HPARAM_NUMBER ? "number" : k == TBT_HPARAM_BOOL ? "boolean" : "string";
}

/* values: a table of name = value. Fills *out (a userdata kept on the stack) and *n. */
static tbt_hparam *check_values(lua_State *L, int idx, size_t *n) {
  luaL_checktype(L, idx, LUA_TTABLE);
  size_t count = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) {
      const char *tn = luaL_typename(L, -1);
      lua_pushvalue(L, -1);
      const char *k = luaL_tolstring(L, -1, NULL);
      luaL_argerror(L, idx, lua_pushfstring(L, "hparam names must be strings, got %s %s", tn, k));
    }
    count++;
  }
  tbt_hparam *hp = lua_newuserdatauv(L, (count ? count : 1) * sizeof *hp, 0);
  size_t i = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    size_t len;
    const char *name = lua_tolstring(L, -2, &len);
    if (len == 0) luaL_argerror(L, idx, "hparam names cannot be empty");
    if (strlen(name) != len) luaL_argerror(L, idx, "hparam name contains a NUL byte");
    if (!tbt_utf8_valid(name, len)) luaL_argerror(L, idx, "hparam name is not valid UTF-8");
    hp[i].name = name;
    const char *w = lua_pushfstring(L, "hparam '%s'", name);
    lua_pushvalue(L, -2);
    to_value(L, &hp[i].value, idx, w);
    lua_pop(L, 3);   /* the value, its description and the copy: the name stays for lua_next */
    i++;
  }
  *n = count;
  return hp;
}

/* ------------------------------------------------------------------ config */

static const char *const HPARAM_KEYS[] = {"name", "display_name", "description", "values", "min", "max", NULL};
static const char *const METRIC_KEYS[] = {"tag", "group", "display_name", "description", "dataset_type", NULL};
static const char *const CONFIG_KEYS[] = {"hparams", "metrics", "time_created", NULL};

static double interval_end(lua_State *L, int idx, const char *key, const char *what, int *isint) {
  int t = rawfield(L, idx, key);
  if (t != LUA_TNUMBER)
    luaL_argerror(L, 1, lua_pushfstring(L, "%s.%s must be a number, got %s", what, key, luaL_typename(L, -1)));
  *isint = lua_isinteger(L, -1);
  double v = (double)lua_tonumber(L, -1);
  if (isnan(v)) luaL_argerror(L, 1, lua_pushfstring(L, "%s.%s is NaN", what, key));
  lua_pop(L, 1);
  return v;
}

/* Reads hparams[i] (the table at idx) into h; a discrete domain's values go into a userdata
** stored in the anchor table at `anchor`, so it lives until the config is written. */
static void check_hparam_info(lua_State *L, int idx, tbt_hparam_info *h, const char *what,
                              int anchor, lua_Integer slot) {
  tbt_lua_check_keys(L, idx, HPARAM_KEYS, 0, 1, what);
  memset(h, 0, sizeof *h);
  h->name = tbt_lua_opt_field_string(L, idx, "name", 1, what);
  if (!h->name || !*h->name) luaL_argerror(L, 1, lua_pushfstring(L, "%s.name must be a non-empty string", what));
  h->display_name = tbt_lua_opt_field_string(L, idx, "display_name", 1, what);
  h->description = tbt_lua_opt_field_string(L, idx, "description", 1, what);
  int has_values = rawfield(L, idx, "values") != LUA_TNIL;
  lua_pop(L, 1);
  int has_min = rawfield(L, idx, "min") != LUA_TNIL;
  int has_max = rawfield(L, idx, "max") != LUA_TNIL;
  lua_pop(L, 2);
  if (has_values && (has_min || has_max))
    luaL_argerror(L, 1, lua_pushfstring(L, "%s has both values and min/max", what));
  if (has_min || has_max) {
    int i1, i2;
    h->domain = TBT_DOMAIN_INTERVAL;
    h->min_value = interval_end(L, idx, "min", what, &i1);
    h->max_value = interval_end(L, idx, "max", what, &i2);
    if (h->min_value > h->max_value)
      luaL_argerror(L, 1, lua_pushfstring(L, "%s: min is greater than max", what));
  } else if (has_values) {
    h->domain = TBT_DOMAIN_DISCRETE;
    if (rawfield(L, idx, "values") != LUA_TTABLE)
      luaL_argerror(L, 1, lua_pushfstring(L, "%s.values must be a table, got %s", what, luaL_typename(L, -1)));
    int vt = lua_gettop(L);
    lua_Integer n = (lua_Integer)lua_rawlen(L, vt);
    if (n == 0) luaL_argerror(L, 1, lua_pushfstring(L, "%s.values is empty", what));
    static const char *const none[] = {NULL};
    tbt_lua_check_keys(L, vt, none, 1, 1, lua_pushfstring(L, "%s.values", what));
    lua_pop(L, 1);
    tbt_hparam_value *vals = lua_newuserdatauv(L, (size_t)n * sizeof *vals, 0);
    lua_rawseti(L, anchor, slot);
    for (lua_Integer i = 1; i <= n; i++) {
      lua_rawgeti(L, vt, i);
      const char *w = lua_pushfstring(L, "%s.values[%I]", what, i);
      lua_insert(L, -2);
      to_value(L, &vals[i - 1], 1, w);
      if (kind_of(&vals[i - 1]) != kind_of(&vals[0]))
        luaL_argerror(L, 1, lua_pushfstring(L, "%s is a %s, values[1] a %s", w,
                                            kind_name(kind_of(&vals[i - 1])), kind_name(kind_of(&vals[0]))));
      if (kind_of(&vals[i - 1]) == TBT_HPARAM_NUMBER && vals[i - 1].type == TBT_HPARAM_NUMBER &&
          isnan(vals[i - 1].number))
        luaL_argerror(L, 1, lua_pushfstring(L, "%s is NaN", w));
      lua_pop(L, 2);
    }
    h->values = vals;
    h->n_values = (size_t)n;
    lua_pop(L, 1);   /* the values table: still referenced by the hparam table */
  }
}

static int dataset_type(lua_State *L, int idx, const char *what) {
  int t = rawfield(L, idx, "dataset_type");
  int r = TBT_DATASET_UNKNOWN;
  if (t != LUA_TNIL) {
    const char *s = t == LUA_TSTRING ? lua_tostring(L, -1) : "";
    if (strcmp(s, "training") == 0) r = TBT_DATASET_TRAINING;
    else if (strcmp(s, "validation") == 0) r = TBT_DATASET_VALIDATION;
    else luaL_argerror(L, 1, lua_pushfstring(L, "%s.dataset_type must be 'training' or 'validation'", what));
  }
  lua_pop(L, 1);
  return r;
}

/* Reads an array field of the config into a list of tables (or strings, for metrics). */
static lua_Integer array_field(lua_State *L, const char *key) {
  int t = rawfield(L, 1, key);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    lua_newtable(L);
  } else if (t != LUA_TTABLE) {
    luaL_argerror(L, 1, lua_pushfstring(L, "%s must be a table, got %s", key, luaL_typename(L, -1)));
  }
  static const char *const none[] = {NULL};
  tbt_lua_check_keys(L, -1, none, 1, 1, key);
  return (lua_Integer)lua_rawlen(L, -1);
}

/* tbtrace.hparams.config{hparams = {...}, metrics = {...}, time_created = secs} */
static int l_config(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  tbt_lua_check_keys(L, 1, CONFIG_KEYS, 0, 1, "config");
  double created = 0;
  int t = rawfield(L, 1, "time_created");
  if (t != LUA_TNIL) {
    if (t != LUA_TNUMBER) luaL_argerror(L, 1, lua_pushfstring(L, "time_created must be a number, got %s", luaL_typename(L, -1)));
    created = (double)lua_tonumber(L, -1);
    if (!isfinite(created) || created < 0) luaL_argerror(L, 1, "time_created must be a finite number >= 0");
  }
  lua_pop(L, 1);

  lua_Integer nh = array_field(L, "hparams");   /* at 2 */
  tbt_hparam_info *hi = lua_newuserdatauv(L, (size_t)(nh ? nh : 1) * sizeof *hi, 0);   /* 3 */
  lua_newtable(L);   /* 4: anchors the discrete values */
  for (lua_Integer i = 1; i <= nh; i++) {
    const char *what = lua_pushfstring(L, "hparams[%I]", i);
    if (lua_rawgeti(L, 2, i) != LUA_TTABLE)
      luaL_argerror(L, 1, lua_pushfstring(L, "%s must be a table, got %s", what, luaL_typename(L, -1)));
    check_hparam_info(L, lua_gettop(L), &hi[i - 1], what, 4, i);
    lua_pop(L, 2);
  }
  lua_Integer nm = array_field(L, "metrics");   /* at 5 */
  tbt_metric_info *mi = lua_newuserdatauv(L, (size_t)(nm ? nm : 1) * sizeof *mi, 0);   /* 6 */
  for (lua_Integer i = 1; i <= nm; i++) {
    const char *what = lua_pushfstring(L, "metrics[%I]", i);
    memset(&mi[i - 1], 0, sizeof mi[i - 1]);
    int mt = lua_rawgeti(L, 5, i);
    if (mt == LUA_TSTRING) {
      size_t len;
      mi[i - 1].tag = lua_tolstring(L, -1, &len);
      if (strlen(mi[i - 1].tag) != len) mi[i - 1].tag = NULL;
    } else if (mt == LUA_TTABLE) {
      int m = lua_gettop(L);
      tbt_lua_check_keys(L, m, METRIC_KEYS, 0, 1, what);
      mi[i - 1].tag = tbt_lua_opt_field_string(L, m, "tag", 1, what);
      mi[i - 1].group = tbt_lua_opt_field_string(L, m, "group", 1, what);
      mi[i - 1].display_name = tbt_lua_opt_field_string(L, m, "display_name", 1, what);
      mi[i - 1].description = tbt_lua_opt_field_string(L, m, "description", 1, what);
      mi[i - 1].dataset_type = dataset_type(L, m, what);
    } else {
      luaL_argerror(L, 1, lua_pushfstring(L, "%s must be a table or string, got %s", what, luaL_typename(L, -1)));
    }
    if (!mi[i - 1].tag || !*mi[i - 1].tag || !tbt_utf8_valid(mi[i - 1].tag, strlen(mi[i - 1].tag)))
      luaL_argerror(L, 1, lua_pushfstring(L, "%s needs a non-empty UTF-8 tag", what));
    lua_pop(L, 2);
  }
  int rc = tbt_hparams_config(hi, (size_t)nh, mi, (size_t)nm, created);
  return tbt_lua_summary_result(L, rc, "config");
}

/* ------------------------------------------------------------------ sessions */

typedef struct session {
  int open;
} session;

static const char *const RUN_KEYS[] = {"trial_id", "start_time", NULL};

/* tbtrace.hparams.run(values [, {trial_id =, start_time =}]) -> session, written
** Writes the session start and returns an object whose close (or <close>) writes its end. */
static int l_run(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 2);
  size_t n;
  tbt_hparam *hp = check_values(L, 1, &n);

  const char *trial = NULL;
  double start = 0;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    tbt_lua_check_keys(L, 2, RUN_KEYS, 0, 2, "options");
    trial = tbt_lua_opt_field_string(L, 2, "trial_id", 2, "options");
    int t = rawfield(L, 2, "start_time");
    if (t != LUA_TNIL) {
      if (t != LUA_TNUMBER) luaL_argerror(L, 2, lua_pushfstring(L, "options.start_time must be a number, got %s", luaL_typename(L, -1)));
      start = (double)lua_tonumber(L, -1);
      if (!isfinite(start) || start <= 0) luaL_argerror(L, 2, "options.start_time must be a positive finite number");
    }
    lua_pop(L, 1);
  }
  session *s = lua_newuserdatauv(L, sizeof *s, 0);
  s->open = 1;
  luaL_setmetatable(L, SESSION_MT);
  int rc = tbt_hparams_session_start(hp, n, trial, start);
  if (rc < 0 && rc >= TBT_ERRNO_MIN) return tbt_lua_fail(L, rc);
  if (rc < 0) {
    s->open = 0;
    return tbt_lua_summary_result(L, rc, "run");
  }
  lua_pushboolean(L, rc == 1);
  return 2;
}

static const char *const STATUS_NAMES[] = {"unknown", "success", "failure", "running", NULL};

static session *check_session(lua_State *L) {
  return luaL_checkudata(L, 1, SESSION_MT);
}

/* session:close([status]): status "success" (the default), "failure", "running" or "unknown".
** The first close writes the session's end; later ones write nothing and return false. */
static int session_close(lua_State *L) {
  session *s = check_session(L);
  int status = luaL_checkoption(L, 2, "success", STATUS_NAMES);
  if (!s->open) {
    lua_pushboolean(L, 0);
    return 1;
  }
  s->open = 0;
  return tbt_lua_summary_result(L, tbt_hparams_session_end(status, 0), "close");
}

/* A to-be-closed session ends "failure" when the scope is left by an error. */
static int session_tbc(lua_State *L) {
  session *s = check_session(L);
  if (!s->open) return 0;
  s->open = 0;
  int rc = tbt_hparams_session_end(lua_isnoneornil(L, 2) ? TBT_HPARAMS_SUCCESS : TBT_HPARAMS_FAILURE, 0);
  if (rc < 0) lua_writestringerror("tbtrace: writing the hparams session end: %s\n", tbt_strerror(rc));
  return 0;
}

static int session_closed(lua_State *L) {
  lua_pushboolean(L, !check_session(L)->open);
  return 1;
}

static int session_tostring(lua_State *L) {
  session *s = check_session(L);
  lua_pushfstring(L, "hparams session (%s)", s->open ? "open" : "closed");
  return 1;
}

/* tbtrace.hparams.group_name(values): the session group TensorBoard derives from the values. */
static int l_group_name(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  size_t n;
  tbt_hparam *hp = check_values(L, 1, &n);
  char out[65];
  int rc = tbt_hparams_group_name(hp, n, out);
  if (rc) return luaL_error(L, "group_name: %s", tbt_strerror(rc));
  lua_pushstring(L, out);
  return 1;
}

void tbt_lua_open_hparams(lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"config", l_config},
    {"run", l_run},
    {"group_name", l_group_name},
    {NULL, NULL}
  };
  static const luaL_Reg methods[] = {
    {"close", session_close},
    {"closed", session_closed},
    {NULL, NULL}
  };
  if (luaL_newmetatable(L, SESSION_MT)) {
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, session_tbc);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, session_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  lua_setfield(L, -2, "hparams");
}

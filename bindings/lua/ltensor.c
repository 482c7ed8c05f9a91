/*
** ltensor.c: Lua values as tensors (ltensor.h).
*/
#include "ltensor.h"

#include "lbind.h"

#include <lauxlib.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

/* ---------------------------------------------------- nested tables as tensors */

/* A leaf is anything that is not a table; leaves go into the Lua table at `out`. */
static void flatten_rec(lua_State *L, int idx, int depth, tbt_lua_flat *f, int out, int arg) {
  if (lua_type(L, idx) != LUA_TTABLE) {
    if (depth != f->rank) luaL_argerror(L, arg, "ragged nested table");
    lua_pushvalue(L, idx);
    lua_rawseti(L, out, (lua_Integer)++f->count);
    return;
  }
  if (depth >= TBT_LUA_MAX_RANK) luaL_argerror(L, arg, lua_pushfstring(L, "more than %d dimensions", TBT_LUA_MAX_RANK));
  lua_Integer n = luaL_len(L, idx);
  /* Only a __len metamethod gives these; a negative size would wrap in the shape. */
  if (n < 0 || n > INT_MAX) luaL_argerror(L, arg, lua_pushfstring(L, "bad table length %I", n));
  if (depth == f->rank) {
    /* First time at this depth: it sets the dimension. */
    f->dims[f->rank++] = n;
  } else if (depth > f->rank || f->dims[depth] != n) {
    luaL_argerror(L, arg, "ragged nested table");
  }
  luaL_checkstack(L, 4, "nested table too deep");
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, idx, i);
    flatten_rec(L, lua_gettop(L), depth + 1, f, out, arg);
    lua_pop(L, 1);
  }
  /* An empty table fixes the rank here: its elements would have had no shape. */
  if (n == 0 && depth + 1 == f->rank) return;
}

void tbt_lua_flatten(lua_State *L, int idx, tbt_lua_flat *f, int arg) {
  f->rank = 0;
  f->count = 0;
  lua_newtable(L);
  int out = lua_gettop(L);
  flatten_rec(L, idx, 0, f, out, arg);
}

int tbt_lua_element_error(lua_State *L, int arg, const char *what, size_t i) {
  return luaL_argerror(L, arg, lua_pushfstring(L, "%s expected at element %I, got %s", what,
                                               (lua_Integer)i + 1, luaL_typename(L, -1)));
}

int tbt_lua_flat_full(const tbt_lua_flat *f) {
  size_t n = 1;
  for (int i = 0; i < f->rank; i++) n *= (size_t)f->dims[i];
  return n == f->count;
}

/* ---------------------------------------------------- leaves as elements of a dtype */

static const struct { const char *name; tbt_dtype dtype; } dtypes[] = {
  {"float32", TBT_DT_FLOAT}, {"float64", TBT_DT_DOUBLE}, {"int32", TBT_DT_INT32},
  {"uint8", TBT_DT_UINT8}, {"int16", TBT_DT_INT16}, {"int8", TBT_DT_INT8},
  {"int64", TBT_DT_INT64}, {"bool", TBT_DT_BOOL}, {"uint16", TBT_DT_UINT16},
  {"uint32", TBT_DT_UINT32}, {"uint64", TBT_DT_UINT64}, {"string", TBT_DT_STRING},
  {NULL, 0}
};

/* Stores leaf i (on the stack top) into buf as dtype; raises when it does not fit. */
static void store_element(lua_State *L, tbt_dtype dt, void *buf, size_t i, int arg) {
  int isint = 0;
  lua_Integer iv = 0;
  double dv = 0;
  if (dt == TBT_DT_BOOL) {
    if (!lua_isboolean(L, -1)) tbt_lua_element_error(L, arg, "boolean", i);
    ((uint8_t *)buf)[i] = (uint8_t)lua_toboolean(L, -1);
    return;
  }
  if (lua_type(L, -1) != LUA_TNUMBER) tbt_lua_element_error(L, arg, "number", i);
  if (dt == TBT_DT_FLOAT || dt == TBT_DT_DOUBLE) {
    dv = (double)lua_tonumber(L, -1);
  } else {
    iv = lua_tointegerx(L, -1, &isint);
    if (!isint)
      luaL_argerror(L, arg, lua_pushfstring(L, "integer expected at element %I", (lua_Integer)i + 1));
  }
#define RANGED(T, lo, hi)                                                                           \
  do {                                                                                              \
    if (iv < (lo) || iv > (hi))                                                                     \
      luaL_argerror(L, arg, lua_pushfstring(L, "element %I out of range", (lua_Integer)i + 1));    \
    ((T *)buf)[i] = (T)iv;                                                                          \
  } while (0)
  switch (dt) {
    case TBT_DT_FLOAT: ((float *)buf)[i] = (float)dv; break;
    case TBT_DT_DOUBLE: ((double *)buf)[i] = dv; break;
    case TBT_DT_INT8: RANGED(int8_t, INT8_MIN, INT8_MAX); break;
    case TBT_DT_UINT8: RANGED(uint8_t, 0, UINT8_MAX); break;
    case TBT_DT_INT16: RANGED(int16_t, INT16_MIN, INT16_MAX); break;
    case TBT_DT_UINT16: RANGED(uint16_t, 0, UINT16_MAX); break;
    case TBT_DT_INT32: RANGED(int32_t, INT32_MIN, INT32_MAX); break;
    case TBT_DT_UINT32: RANGED(uint32_t, 0, (lua_Integer)UINT32_MAX); break;
    case TBT_DT_INT64: ((int64_t *)buf)[i] = (int64_t)iv; break;
    case TBT_DT_UINT64: ((uint64_t *)buf)[i] = (uint64_t)iv; break;  /* Lua integers wrap */
    default: break;
  }
#undef RANGED
}

/* Copies the leaves (a sequence at `leaves`) into userdata arrays of t's dtype. */
static void store_leaves(lua_State *L, int leaves, int arg, tbt_lua_tensor *t) {
  size_t n = t->count ? t->count : 1;
  if (t->dtype == TBT_DT_STRING) {
    t->strings = lua_newuserdatauv(L, n * sizeof *t->strings, 0);
    t->lens = lua_newuserdatauv(L, n * sizeof *t->lens, 0);
    for (size_t i = 0; i < t->count; i++) {
      lua_rawgeti(L, leaves, (lua_Integer)i + 1);
      if (lua_type(L, -1) != LUA_TSTRING) tbt_lua_element_error(L, arg, "string", i);
      t->strings[i] = lua_tolstring(L, -1, &t->lens[i]);
      lua_pop(L, 1);   /* still referenced by the leaves table */
    }
    return;
  }
  size_t es = tbt_dtype_size(t->dtype);
  t->content = lua_newuserdatauv(L, n * es, 0);
  for (size_t i = 0; i < t->count; i++) {
    lua_rawgeti(L, leaves, (lua_Integer)i + 1);
    store_element(L, t->dtype, t->content, i, arg);
    lua_pop(L, 1);
  }
}

/* An explicit shape (the table at the top of the stack) overrides the nesting, as long as the
** element count agrees. */
static void explicit_shape(lua_State *L, int arg, tbt_lua_tensor *t) {
  lua_Integer r = luaL_len(L, -1);
  if (r < 0 || r > TBT_LUA_MAX_RANK) luaL_argerror(L, arg, "shape has too many dimensions");
  t->rank = (int)r;
  size_t n = 1;
  int big = 0;
  for (int i = 0; i < t->rank; i++) {
    lua_geti(L, -1, i + 1);
    int isint = 0;
    lua_Integer d = lua_type(L, -1) == LUA_TNUMBER ? lua_tointegerx(L, -1, &isint) : 0;
    if (!isint || d < 0) luaL_argerror(L, arg, "shape sizes must be non-negative integers");
    t->dims[i] = d;
    if (d && n > SIZE_MAX / (uint64_t)d) big = 1;   /* counted exactly, or a wrapped product could match */
    n *= (size_t)d;
    lua_pop(L, 1);
  }
  if (big) {
    for (int i = 0; i < t->rank; i++)
      if (t->dims[i] == 0) big = 0;   /* a zero size makes the product 0 however large the rest */
    if (big) luaL_argerror(L, arg, "shape too large");
    n = 0;
  }
  if (n != t->count)
    luaL_argerror(L, arg, lua_pushfstring(L, "shape holds %I elements, values has %I",
                                          (lua_Integer)n, (lua_Integer)t->count));
}

void tbt_lua_totensor(lua_State *L, int arg, tbt_lua_tensor *t) {
  memset(t, 0, sizeof *t);
  t->dtype = TBT_DT_DOUBLE;
  int values = arg;   /* where the leaves come from */
  int ta = lua_type(L, arg);
  if (ta == LUA_TTABLE && lua_getfield(L, arg, "dtype") != LUA_TNIL) {
    static const char *const keys[] = {"dtype", "shape", "values", NULL};
    tbt_lua_checkoptions(L, arg, "write", keys);
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_argerror(L, arg, lua_pushfstring(L, "dtype must be a string, got %s", luaL_typename(L, -1)));
    const char *name = lua_tostring(L, -1);
    int i = 0;
    while (dtypes[i].name && strcmp(dtypes[i].name, name) != 0) i++;
    if (!dtypes[i].name) luaL_argerror(L, arg, lua_pushfstring(L, "unknown dtype '%s'", name));
    t->dtype = dtypes[i].dtype;
    lua_getfield(L, arg, "values");
    values = lua_gettop(L);
  } else if (ta == LUA_TTABLE) {
    lua_pop(L, 1);
  }

  int leaves;
  if (lua_type(L, values) == LUA_TTABLE) {
    tbt_lua_flat f;
    tbt_lua_flatten(L, values, &f, arg);
    leaves = lua_gettop(L);
    if (!tbt_lua_flat_full(&f)) luaL_argerror(L, arg, "ragged nested table");
    t->rank = f.rank;
    memcpy(t->dims, f.dims, sizeof(int64_t) * (size_t)f.rank);
    t->count = f.count;
  } else {
    /* A scalar: wrap it in a one-element leaves table. */
    if (values != arg && lua_isnoneornil(L, values)) luaL_argerror(L, arg, "values missing");
    luaL_argexpected(L, !lua_isnoneornil(L, values), arg, "tensor");
    lua_createtable(L, 1, 0);
    lua_pushvalue(L, values);
    lua_rawseti(L, -2, 1);
    leaves = lua_gettop(L);
    t->count = 1;
  }
  if (values != arg) {
    if (lua_getfield(L, arg, "shape") != LUA_TNIL) {
      if (lua_type(L, -1) != LUA_TTABLE)
        luaL_argerror(L, arg, lua_pushfstring(L, "shape must be a table, got %s", luaL_typename(L, -1)));
      explicit_shape(L, arg, t);
    }
    lua_pop(L, 1);
  } else if (t->count) {
    /* Infer the dtype from the first leaf. */
    lua_rawgeti(L, leaves, 1);
    if (lua_type(L, -1) == LUA_TSTRING) t->dtype = TBT_DT_STRING;
    else if (lua_isboolean(L, -1)) t->dtype = TBT_DT_BOOL;
    lua_pop(L, 1);
  }
  store_leaves(L, leaves, arg, t);
}

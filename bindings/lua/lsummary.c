/*
** lsummary.c: tf.summary's ops in Lua: scalar, text, histogram, write, record_if and
** should_record_summaries. Each op returns true when it wrote, false when there is no default
** writer or recording is off, and raises on misuse.
*/
#include "lbind.h"

#include "alloc.h"
#include "summary.pb-c.h"
#include "utf8.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#define MAX_RANK 32

/* ---------------------------------------------------- nested tables as tensors */

/* A rectangular nest of tables flattened into leaves (pushed into a Lua table at `out`), with its
** shape. A leaf is anything that is not a table. */
typedef struct flat {
  int rank;
  int64_t dims[MAX_RANK];
  size_t count;
} flat;

static void flatten_rec(lua_State *L, int idx, int depth, flat *f, int out, int arg) {
  if (lua_type(L, idx) != LUA_TTABLE) {
    if (depth != f->rank) luaL_argerror(L, arg, "ragged nested table");
    lua_pushvalue(L, idx);
    lua_rawseti(L, out, (lua_Integer)++f->count);
    return;
  }
  if (depth >= MAX_RANK) luaL_argerror(L, arg, lua_pushfstring(L, "more than %d dimensions", MAX_RANK));
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

/* Flattens the table at idx (argument arg, for errors); leaves the flat Lua table of leaves on the
** top of the stack. */
static void flatten(lua_State *L, int idx, flat *f, int arg) {
  f->rank = 0;
  f->count = 0;
  lua_newtable(L);
  int out = lua_gettop(L);
  flatten_rec(L, idx, 0, f, out, arg);
}

/* Raises "bad argument #arg to '<fn>' (<what> expected at element i, got <type>)" for the value at
** the top of the stack. */
static int element_error(lua_State *L, int arg, const char *what, size_t i) {
  return luaL_argerror(L, arg, lua_pushfstring(L, "%s expected at element %I, got %s", what,
                                               (lua_Integer)i + 1, luaL_typename(L, -1)));
}

static int element_count_ok(const flat *f) {
  size_t n = 1;
  for (int i = 0; i < f->rank; i++) n *= (size_t)f->dims[i];
  return n == f->count;
}

/* ------------------------------------------------------------------ scalar */

static double check_real(lua_State *L, int arg) {
  int isnum;
  lua_Number v = lua_tonumberx(L, arg, &isnum);
  if (!isnum || lua_type(L, arg) != LUA_TNUMBER) luaL_typeerror(L, arg, "number");
  return (double)v;
}

/* Tags and descriptions are checked here, each with its own argument number in the error; the C
** library checks them again. */
static const char *check_tag(lua_State *L, int arg) {
  size_t len;
  const char *tag = luaL_checklstring(L, arg, &len);
  luaL_argcheck(L, len > 0, arg, "tag cannot be empty");
  luaL_argcheck(L, strlen(tag) == len, arg, "tag contains a NUL byte");
  luaL_argcheck(L, tbt_utf8_valid(tag, len), arg, "tag is not valid UTF-8");
  return tag;
}

static const char *opt_description(lua_State *L, int arg) {
  if (lua_isnoneornil(L, arg)) return NULL;
  size_t len;
  const char *d = luaL_checklstring(L, arg, &len);
  luaL_argcheck(L, strlen(d) == len, arg, "description contains a NUL byte");
  luaL_argcheck(L, tbt_utf8_valid(d, len), arg, "description is not valid UTF-8");
  return d;
}

/* tbtrace.scalar(name, data, step, description) */
static int l_scalar(lua_State *L) {
  const char *tag = check_tag(L, 1);
  double v = check_real(L, 2);
  tbt_step step = tbt_lua_optstep(L, 3);
  const char *desc = opt_description(L, 4);
  return tbt_lua_summary_result(L, tbt_scalar(tag, v, step, desc), "scalar");
}

/* ------------------------------------------------------------------ text */

/* tbtrace.text(name, data, step, description): data is a string or a nested table of strings. */
static int l_text(lua_State *L) {
  const char *tag = check_tag(L, 1);
  tbt_step step = tbt_lua_optstep(L, 3);
  const char *desc = opt_description(L, 4);
  int rc;
  if (lua_type(L, 2) == LUA_TSTRING) {
    size_t len;
    const char *s = lua_tolstring(L, 2, &len);
    rc = tbt_text(tag, &s, &len, 1, NULL, 0, step, desc);
  } else {
    luaL_argexpected(L, lua_type(L, 2) == LUA_TTABLE, 2, "string or table");
    flat f;
    flatten(L, 2, &f, 2);
    int leaves = lua_gettop(L);
    if (!element_count_ok(&f)) luaL_argerror(L, 2, "ragged nested table");
    const char **strs = lua_newuserdatauv(L, (f.count ? f.count : 1) * sizeof *strs, 0);
    size_t *lens = lua_newuserdatauv(L, (f.count ? f.count : 1) * sizeof *lens, 0);
    for (size_t i = 0; i < f.count; i++) {
      lua_rawgeti(L, leaves, (lua_Integer)i + 1);
      if (lua_type(L, -1) != LUA_TSTRING) element_error(L, 2, "string", i);
      strs[i] = lua_tolstring(L, -1, &lens[i]);
      lua_pop(L, 1);   /* still referenced by the leaves table */
    }
    rc = tbt_text(tag, strs, lens, f.count, f.dims, f.rank, step, desc);
  }
  return tbt_lua_summary_result(L, rc, "text");
}

/* ------------------------------------------------------------------ histogram */

/* Collects the numbers of a number or (nested) table into a userdata array; returns it. */
static double *collect_numbers(lua_State *L, int arg, size_t *n) {
  if (lua_type(L, arg) == LUA_TNUMBER) {
    double *v = lua_newuserdatauv(L, sizeof *v, 0);
    v[0] = (double)lua_tonumber(L, arg);
    *n = 1;
    return v;
  }
  luaL_argexpected(L, lua_type(L, arg) == LUA_TTABLE, arg, "number or table");
  flat f;
  flatten(L, arg, &f, arg);
  int leaves = lua_gettop(L);
  double *v = lua_newuserdatauv(L, (f.count ? f.count : 1) * sizeof *v, 0);
  for (size_t i = 0; i < f.count; i++) {
    lua_rawgeti(L, leaves, (lua_Integer)i + 1);
    if (lua_type(L, -1) != LUA_TNUMBER) element_error(L, arg, "number", i);
    v[i] = (double)lua_tonumber(L, -1);
    lua_pop(L, 1);
  }
  *n = f.count;
  return v;
}

/* tbtrace.histogram(name, data, step, buckets, description) */
static int l_histogram(lua_State *L) {
  const char *tag = check_tag(L, 1);
  luaL_checkany(L, 2);
  tbt_step step = tbt_lua_optstep(L, 3);
  int buckets = -1;
  if (!lua_isnoneornil(L, 4)) {
    lua_Integer b = luaL_checkinteger(L, 4);
    luaL_argcheck(L, b >= 0 && b <= (1 << 20), 4, "buckets must be in 0..1048576");
    buckets = (int)b;
  }
  const char *desc = opt_description(L, 5);
  size_t n;
  double *v = collect_numbers(L, 2, &n);
  for (size_t i = 0; i < n; i++)
    if (!isfinite(v[i])) luaL_argerror(L, 2, "values must be finite (got NaN or inf)");
  int rc = tbt_histogram(tag, v, n, buckets, step, desc);
  if (rc == TBT_ERANGE) luaL_argerror(L, 2, "value range too large for equal-width buckets");
  return tbt_lua_summary_result(L, rc, "histogram");
}

/* ------------------------------------------------------------------ image, audio */

static int opt_max_outputs(lua_State *L, int arg) {
  if (lua_isnoneornil(L, arg)) return -1;
  lua_Integer n = luaL_checkinteger(L, arg);
  luaL_argcheck(L, n >= 0 && n <= 0x7fffffff, arg, "max_outputs must be in 0..2147483647");
  return (int)n;
}

/* tbtrace.image(name, data, step, max_outputs, description)
**   data: nested tables [k][h][w][c] (or [h][w][c] for one image) of integers 0..255, c in 1, 3, 4;
**   or {height=, width=, channels=, pixels=<string of k*h*w*c bytes>}. */
static int l_image(lua_State *L) {
  const char *tag = check_tag(L, 1);
  tbt_step step = tbt_lua_optstep(L, 3);
  int max_outputs = opt_max_outputs(L, 4);
  const char *desc = opt_description(L, 5);
  luaL_checktype(L, 2, LUA_TTABLE);
  int64_t count, h, w, c;
  const uint8_t *pixels;
  if (lua_getfield(L, 2, "pixels") != LUA_TNIL) {
    size_t len;
    if (lua_type(L, -1) != LUA_TSTRING)
      return luaL_argerror(L, 2, lua_pushfstring(L, "pixels must be a string, got %s", luaL_typename(L, -1)));
    pixels = (const uint8_t *)lua_tolstring(L, -1, &len);
    lua_getfield(L, 2, "height");
    lua_getfield(L, 2, "width");
    lua_getfield(L, 2, "channels");
    int ok1, ok2, ok3;
    h = lua_tointegerx(L, -3, &ok1);
    w = lua_tointegerx(L, -2, &ok2);
    c = lua_tointegerx(L, -1, &ok3);
    lua_pop(L, 3);
    if (!ok1 || !ok2 || !ok3 || h <= 0 || w <= 0 || h > 1 << 16 || w > 1 << 16)
      return luaL_argerror(L, 2, "height and width must be positive integers");
    if (c != 1 && c != 3 && c != 4) return luaL_argerror(L, 2, "channels must be 1, 3 or 4");
    size_t one = (size_t)h * (size_t)w * (size_t)c;
    if (len == 0 || len % one) return luaL_argerror(L, 2, "pixels must hold whole images of height*width*channels bytes");
    count = (int64_t)(len / one);
  } else {
    lua_pop(L, 1);
    flat f;
    flatten(L, 2, &f, 2);
    int leaves = lua_gettop(L);
    if (!element_count_ok(&f) || (f.rank != 3 && f.rank != 4))
      return luaL_argerror(L, 2, "images must be nested [k][height][width][channels] (or [height][width][channels])");
    int o = f.rank == 4 ? 1 : 0;
    count = o ? f.dims[0] : 1;
    h = f.dims[o];
    w = f.dims[o + 1];
    c = f.dims[o + 2];
    if (c != 1 && c != 3 && c != 4) return luaL_argerror(L, 2, "channels must be 1, 3 or 4");
    if (h == 0 || w == 0) return luaL_argerror(L, 2, "images must not be empty");
    uint8_t *buf = lua_newuserdatauv(L, f.count ? f.count : 1, 0);
    for (size_t i = 0; i < f.count; i++) {
      lua_rawgeti(L, leaves, (lua_Integer)i + 1);
      int isint = 0;
      lua_Integer v = lua_type(L, -1) == LUA_TNUMBER ? lua_tointegerx(L, -1, &isint) : 0;
      if (!isint || v < 0 || v > 255)
        return luaL_argerror(L, 2, lua_pushfstring(L, "element %I must be an integer 0..255", (lua_Integer)i + 1));
      buf[i] = (uint8_t)v;
      lua_pop(L, 1);
    }
    pixels = buf;
  }
  if (count > 0x7fffffff) return luaL_argerror(L, 2, "too many images");
  int rc = tbt_image(tag, pixels, (int)count, (int)h, (int)w, (int)c, max_outputs, step, desc);
  if (rc == TBT_ERANGE) luaL_argerror(L, 2, "image too large");
  return tbt_lua_summary_result(L, rc, "image");
}

/* tbtrace.audio(name, data, sample_rate, step, max_outputs, encoding, description)
**   data: nested tables [k][frames][channels] (or [frames][channels] for one clip) of numbers in
**   [-1, 1] (clipped); encoding nil or "wav". */
static int l_audio(lua_State *L) {
  const char *tag = check_tag(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_Integer rate = luaL_checkinteger(L, 3);
  luaL_argcheck(L, rate > 0 && rate <= 0x7fffffff, 3, "sample_rate must be positive");
  tbt_step step = tbt_lua_optstep(L, 4);
  int max_outputs = opt_max_outputs(L, 5);
  if (!lua_isnoneornil(L, 6)) {
    const char *enc = tbt_lua_checkcstring(L, 6, "encoding");
    if (strcmp(enc, "wav") != 0) return luaL_error(L, "Unknown encoding: '%s'", enc);
  }
  const char *desc = opt_description(L, 7);
  flat f;
  flatten(L, 2, &f, 2);
  int leaves = lua_gettop(L);
  if (!element_count_ok(&f) || (f.rank != 2 && f.rank != 3))
    return luaL_argerror(L, 2, "audio must be nested [k][frames][channels] (or [frames][channels])");
  int o = f.rank == 3 ? 1 : 0;
  int64_t count = o ? f.dims[0] : 1, frames = f.dims[o], channels = f.dims[o + 1];
  if (channels < 1 || channels > 65535) return luaL_argerror(L, 2, "audio needs 1..65535 channels");
  float *buf = lua_newuserdatauv(L, (f.count ? f.count : 1) * sizeof *buf, 0);
  for (size_t i = 0; i < f.count; i++) {
    lua_rawgeti(L, leaves, (lua_Integer)i + 1);
    if (lua_type(L, -1) != LUA_TNUMBER) return element_error(L, 2, "number", i);
    buf[i] = (float)lua_tonumber(L, -1);
    if (isnan(buf[i])) return luaL_argerror(L, 2, lua_pushfstring(L, "element %I is NaN", (lua_Integer)i + 1));
    lua_pop(L, 1);
  }
  if (count > 0x7fffffff || frames > 0x7fffffff) return luaL_argerror(L, 2, "audio too large");
  int rc = tbt_audio(tag, buf, (int)count, (int)frames, (int)channels, (int)rate, max_outputs, step, desc);
  if (rc == TBT_ERANGE) luaL_argerror(L, 2, "audio too large");
  return tbt_lua_summary_result(L, rc, "audio");
}

/* ------------------------------------------------------------------ write */

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
    if (!lua_isboolean(L, -1)) element_error(L, arg, "boolean", i);
    ((uint8_t *)buf)[i] = (uint8_t)lua_toboolean(L, -1);
    return;
  }
  if (lua_type(L, -1) != LUA_TNUMBER) element_error(L, arg, "number", i);
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

static const char *opt_string_field(lua_State *L, int arg, const char *key, size_t *len) {
  if (lua_getfield(L, arg, key) == LUA_TNIL) {
    lua_pop(L, 1);
    return NULL;
  }
  if (lua_type(L, -1) != LUA_TSTRING)
    luaL_argerror(L, arg, lua_pushfstring(L, "metadata.%s must be a string, got %s", key, luaL_typename(L, -1)));
  const char *s = lua_tolstring(L, -1, len);
  /* content is bytes; the others go to C strings */
  if (strcmp(key, "content") != 0 && strlen(s) != *len)
    luaL_argerror(L, arg, lua_pushfstring(L, "metadata.%s contains a NUL byte", key));
  lua_pop(L, 1);   /* the table keeps it alive */
  return s;
}

/* Metadata for write(): a string is an already-serialized SummaryMetadata; a table
** {plugin_name=, content=, display_name=, description=} is serialized here. The bytes are left
** on the stack (as a string) while *data points into them. */
static void check_metadata(lua_State *L, int arg, const void **data, size_t *len) {
  if (lua_type(L, arg) == LUA_TSTRING) {
    *data = lua_tolstring(L, arg, len);
    return;
  }
  luaL_argexpected(L, lua_type(L, arg) == LUA_TTABLE, arg, "string or table");
  Tensorflow__SummaryMetadata md = TENSORFLOW__SUMMARY_METADATA__INIT;
  Tensorflow__SummaryMetadata__PluginData pd = TENSORFLOW__SUMMARY_METADATA__PLUGIN_DATA__INIT;
  size_t n;
  const char *plugin = opt_string_field(L, arg, "plugin_name", &n);
  const char *content = opt_string_field(L, arg, "content", &n);
  if (plugin || content) {
    pd.plugin_name = (char *)(plugin ? plugin : "");
    pd.content.data = (uint8_t *)content;
    pd.content.len = content ? n : 0;
    md.plugin_data = &pd;
  }
  const char *dn = opt_string_field(L, arg, "display_name", &n);
  if (dn) md.display_name = (char *)dn;
  const char *desc = opt_string_field(L, arg, "description", &n);
  if (desc) md.summary_description = (char *)desc;
  const char *checks[] = {plugin, dn, desc};
  for (int i = 0; i < 3; i++)
    if (checks[i] && !tbt_utf8_valid(checks[i], strlen(checks[i])))
      luaL_argerror(L, arg, "metadata strings must be valid UTF-8");
  size_t sz = tensorflow__summary_metadata__get_packed_size(&md);
  luaL_Buffer b;
  uint8_t *out = (uint8_t *)luaL_buffinitsize(L, &b, sz);
  tensorflow__summary_metadata__pack(&md, out);
  luaL_pushresultsize(&b, sz);
  *data = lua_tolstring(L, -1, len);
}

/* tbtrace.write(tag, tensor, step, metadata)
**   tensor: a number (float64 scalar), a string (string scalar), a boolean, a nested table of
**   numbers (float64) or strings, or {dtype="int64", shape={2,3}, values={...}} */
static int l_write(lua_State *L) {
  const char *tag = check_tag(L, 1);
  luaL_checkany(L, 2);
  tbt_step step = tbt_lua_optstep(L, 3);
  const void *md = NULL;
  size_t mdlen = 0;
  if (!lua_isnoneornil(L, 4)) check_metadata(L, 4, &md, &mdlen);

  tbt_dtype dt = TBT_DT_DOUBLE;
  int64_t dims[MAX_RANK];
  int rank = 0;
  int values = 2;   /* where the leaves come from */
  int t2 = lua_type(L, 2);
  if (t2 == LUA_TTABLE && lua_getfield(L, 2, "dtype") != LUA_TNIL) {
    if (lua_type(L, -1) != LUA_TSTRING)
      return luaL_argerror(L, 2, lua_pushfstring(L, "dtype must be a string, got %s", luaL_typename(L, -1)));
    const char *name = lua_tostring(L, -1);
    int i = 0;
    while (dtypes[i].name && strcmp(dtypes[i].name, name) != 0) i++;
    if (!dtypes[i].name) return luaL_argerror(L, 2, lua_pushfstring(L, "unknown dtype '%s'", name));
    dt = dtypes[i].dtype;
    lua_getfield(L, 2, "values");
    values = lua_gettop(L);
  } else if (t2 == LUA_TTABLE) {
    lua_pop(L, 1);
  }

  flat f = {0};
  int leaves;
  if (lua_type(L, values) == LUA_TTABLE) {
    flatten(L, values, &f, 2);
    leaves = lua_gettop(L);
    if (!element_count_ok(&f)) luaL_argerror(L, 2, "ragged nested table");
    rank = f.rank;
    memcpy(dims, f.dims, sizeof(int64_t) * (size_t)rank);
  } else {
    /* A scalar: wrap it in a one-element leaves table. */
    if (values != 2 && lua_isnoneornil(L, values)) luaL_argerror(L, 2, "values missing");
    luaL_argexpected(L, !lua_isnoneornil(L, values), 2, "tensor");
    lua_createtable(L, 1, 0);
    lua_pushvalue(L, values);
    lua_rawseti(L, -2, 1);
    leaves = lua_gettop(L);
    f.count = 1;
  }
  if (values != 2) {
    /* An explicit shape overrides the nesting, as long as the element count agrees. */
    if (lua_getfield(L, 2, "shape") != LUA_TNIL) {
      if (lua_type(L, -1) != LUA_TTABLE)
        return luaL_argerror(L, 2, lua_pushfstring(L, "shape must be a table, got %s", luaL_typename(L, -1)));
      lua_Integer r = luaL_len(L, -1);
      if (r < 0 || r > MAX_RANK) return luaL_argerror(L, 2, "shape has too many dimensions");
      rank = (int)r;
      size_t n = 1;
      int big = 0;
      for (int i = 0; i < rank; i++) {
        lua_geti(L, -1, i + 1);
        int isint = 0;
        lua_Integer d = lua_type(L, -1) == LUA_TNUMBER ? lua_tointegerx(L, -1, &isint) : 0;
        if (!isint || d < 0) return luaL_argerror(L, 2, "shape sizes must be non-negative integers");
        dims[i] = d;
        if (d && n > SIZE_MAX / (uint64_t)d) big = 1;   /* counted exactly, or a wrapped product could match */
        n *= (size_t)d;
        lua_pop(L, 1);
      }
      if (big) {
        for (int i = 0; i < rank; i++)
          if (dims[i] == 0) big = 0;   /* a zero size makes the product 0 however large the rest */
        if (big) return luaL_argerror(L, 2, "shape too large");
        n = 0;
      }
      if (n != f.count)
        return luaL_argerror(L, 2, lua_pushfstring(L, "shape holds %I elements, values has %I",
                                                   (lua_Integer)n, (lua_Integer)f.count));
    }
    lua_pop(L, 1);
  } else {
    /* Infer the dtype from the first leaf. */
    if (f.count) {
      lua_rawgeti(L, leaves, 1);
      if (lua_type(L, -1) == LUA_TSTRING) dt = TBT_DT_STRING;
      else if (lua_isboolean(L, -1)) dt = TBT_DT_BOOL;
      lua_pop(L, 1);
    }
  }

  int rc;
  if (dt == TBT_DT_STRING) {
    const char **strs = lua_newuserdatauv(L, (f.count ? f.count : 1) * sizeof *strs, 0);
    size_t *lens = lua_newuserdatauv(L, (f.count ? f.count : 1) * sizeof *lens, 0);
    for (size_t i = 0; i < f.count; i++) {
      lua_rawgeti(L, leaves, (lua_Integer)i + 1);
      if (lua_type(L, -1) != LUA_TSTRING) return element_error(L, 2, "string", i);
      strs[i] = lua_tolstring(L, -1, &lens[i]);
      lua_pop(L, 1);
    }
    rc = tbt_write_strings(tag, strs, lens, f.count, dims, rank, step, md, mdlen);
  } else {
    size_t es = tbt_dtype_size(dt);
    void *buf = lua_newuserdatauv(L, (f.count ? f.count : 1) * es, 0);
    for (size_t i = 0; i < f.count; i++) {
      lua_rawgeti(L, leaves, (lua_Integer)i + 1);
      store_element(L, dt, buf, i, 2);
      lua_pop(L, 1);
    }
    rc = tbt_write(tag, dt, buf, f.count * es, dims, rank, step, md, mdlen);
  }
  /* The tag and the shape are checked above: what the library still refuses is the metadata. */
  if (rc == TBT_EINVAL && md) luaL_argerror(L, 4, "metadata is not a SummaryMetadata");
  if (rc == TBT_ERANGE) luaL_argerror(L, 2, "shape too large");
  return tbt_lua_summary_result(L, rc, "write");
}

/* ------------------------------------------------------------------ record_if */

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
    tbt_free(lc);
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
  lua_cond *c = tbt_malloc(sizeof *c);
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
  int scope = lua_gettop(L);
  lua_pushvalue(L, 2);
  for (int i = 3; i <= top; i++) lua_pushvalue(L, i);
  int status = lua_pcall(L, top - 2, LUA_MULTRET, 0);
  record_scope_exit(s);
  if (status != LUA_OK) return lua_error(L);
  return lua_gettop(L) - scope;
}

static int l_should_record(lua_State *L) {
  lua_pushboolean(L, tbt_should_record_summaries());
  return 1;
}

void tbt_lua_open_summary(lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"scalar", l_scalar},
    {"text", l_text},
    {"histogram", l_histogram},
    {"image", l_image},
    {"audio", l_audio},
    {"write", l_write},
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

/*
** lsummary.c: tf.summary's ops in Lua: scalar, text, histogram, image, audio and write. Each op
** returns true when it wrote, false when there is no default writer or recording is off, and
** raises on misuse. Tensors come from Lua values through ltensor.h; the recording condition is
** lrecord.c's.
*/
#include "lbind.h"

#include "ltensor.h"

#include <limits.h>
#include <math.h>
#include <string.h>

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

/* Under a summary scope an empty tag is the op's default name (the library supplies it). */
static const char *check_scoped_tag(lua_State *L, int arg) {
  if (lua_type(L, arg) == LUA_TSTRING && lua_rawlen(L, arg) == 0 && tbt_summary_scope_depth() > 0)
    return "";   /* the scope depth last: it is the thread's state, dearer to read than the tag */
  return check_tag(L, arg);
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
  const char *tag = check_scoped_tag(L, 1);
  double v = check_real(L, 2);
  tbt_step step = tbt_lua_optstep(L, 3);
  const char *desc = opt_description(L, 4);
  return tbt_lua_summary_result(L, tbt_scalar(tag, v, step, desc), "scalar");
}

/* ------------------------------------------------------------------ text */

/* tbtrace.text(name, data, step, description): data is a string or a nested table of strings. */
static int l_text(lua_State *L) {
  const char *tag = check_scoped_tag(L, 1);
  tbt_step step = tbt_lua_optstep(L, 3);
  const char *desc = opt_description(L, 4);
  int rc;
  if (lua_type(L, 2) == LUA_TSTRING) {
    size_t len;
    const char *s = lua_tolstring(L, 2, &len);
    rc = tbt_text(tag, &s, &len, 1, NULL, 0, step, desc);
  } else {
    luaL_argexpected(L, lua_type(L, 2) == LUA_TTABLE, 2, "string or table");
    tbt_lua_flat f;
    tbt_lua_flatten(L, 2, &f, 2);
    int leaves = lua_gettop(L);
    if (!tbt_lua_flat_full(&f)) luaL_argerror(L, 2, "ragged nested table");
    const char **strs = lua_newuserdatauv(L, (f.count ? f.count : 1) * sizeof *strs, 0);
    size_t *lens = lua_newuserdatauv(L, (f.count ? f.count : 1) * sizeof *lens, 0);
    for (size_t i = 0; i < f.count; i++) {
      lua_rawgeti(L, leaves, (lua_Integer)i + 1);
      if (lua_type(L, -1) != LUA_TSTRING) tbt_lua_element_error(L, 2, "string", i);
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
  tbt_lua_flat f;
  tbt_lua_flatten(L, arg, &f, arg);
  int leaves = lua_gettop(L);
  double *v = lua_newuserdatauv(L, (f.count ? f.count : 1) * sizeof *v, 0);
  for (size_t i = 0; i < f.count; i++) {
    lua_rawgeti(L, leaves, (lua_Integer)i + 1);
    if (lua_type(L, -1) != LUA_TNUMBER) tbt_lua_element_error(L, arg, "number", i);
    v[i] = (double)lua_tonumber(L, -1);
    lua_pop(L, 1);
  }
  *n = f.count;
  return v;
}

/* tbtrace.histogram(name, data, step, buckets, description) */
static int l_histogram(lua_State *L) {
  const char *tag = check_scoped_tag(L, 1);
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
**   data: nested tables [k][h][w][c] (or [h][w][c] for one image), c in 1..4 (grey, grey + alpha,
**   RGB, RGBA), of integers 0..255, or of numbers in [0, 1] when any of them is a float (converted
**   as tf.image.convert_image_dtype does, tbt_image_float); or {height=, width=, channels=,
**   pixels=<string of k*h*w*c bytes>}. */
static int l_image(lua_State *L) {
  const char *tag = check_scoped_tag(L, 1);
  tbt_step step = tbt_lua_optstep(L, 3);
  int max_outputs = opt_max_outputs(L, 4);
  const char *desc = opt_description(L, 5);
  luaL_checktype(L, 2, LUA_TTABLE);
  int64_t count, h, w, c;
  const uint8_t *pixels;
  if (lua_getfield(L, 2, "pixels") != LUA_TNIL) {
    static const char *const keys[] = {"pixels", "height", "width", "channels", NULL};
    tbt_lua_checkoptions(L, 2, "image", keys);
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
    if (c < 1 || c > 4) return luaL_argerror(L, 2, "channels must be 1, 2, 3 or 4");
    size_t one = (size_t)h * (size_t)w * (size_t)c;
    if (len == 0 || len % one) return luaL_argerror(L, 2, "pixels must hold whole images of height*width*channels bytes");
    count = (int64_t)(len / one);
  } else {
    lua_pop(L, 1);
    tbt_lua_flat f;
    tbt_lua_flatten(L, 2, &f, 2);
    int leaves = lua_gettop(L);
    if (!tbt_lua_flat_full(&f) || (f.rank != 3 && f.rank != 4))
      return luaL_argerror(L, 2, "images must be nested [k][height][width][channels] (or [height][width][channels])");
    int o = f.rank == 4 ? 1 : 0;
    count = o ? f.dims[0] : 1;
    h = f.dims[o];
    w = f.dims[o + 1];
    c = f.dims[o + 2];
    if (c < 1 || c > 4) return luaL_argerror(L, 2, "channels must be 1, 2, 3 or 4");
    if (h == 0 || w == 0) return luaL_argerror(L, 2, "images must not be empty");
    /* Any float makes it a float image, as a Python list with one float makes a float tensor. */
    int floats = 0;
    for (size_t i = 0; i < f.count && !floats; i++) {
      lua_rawgeti(L, leaves, (lua_Integer)i + 1);
      floats = lua_type(L, -1) == LUA_TNUMBER && !lua_isinteger(L, -1);
      lua_pop(L, 1);
    }
    if (floats) {
      float *fbuf = lua_newuserdatauv(L, (f.count ? f.count : 1) * sizeof *fbuf, 0);
      for (size_t i = 0; i < f.count; i++) {
        lua_rawgeti(L, leaves, (lua_Integer)i + 1);
        if (lua_type(L, -1) != LUA_TNUMBER)
          return luaL_argerror(L, 2, lua_pushfstring(L, "element %I must be a number", (lua_Integer)i + 1));
        lua_Number v = lua_tonumber(L, -1);
        if (v != v) return luaL_argerror(L, 2, lua_pushfstring(L, "element %I is NaN", (lua_Integer)i + 1));
        fbuf[i] = (float)v;
        lua_pop(L, 1);
      }
      if (count > 0x7fffffff) return luaL_argerror(L, 2, "too many images");
      int rc = tbt_image_float(tag, fbuf, (int)count, (int)h, (int)w, (int)c, max_outputs, step, desc);
      if (rc == TBT_ERANGE) luaL_argerror(L, 2, "image too large");
      return tbt_lua_summary_result(L, rc, "image");
    }
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
  const char *tag = check_scoped_tag(L, 1);
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
  tbt_lua_flat f;
  tbt_lua_flatten(L, 2, &f, 2);
  int leaves = lua_gettop(L);
  if (!tbt_lua_flat_full(&f) || (f.rank != 2 && f.rank != 3))
    return luaL_argerror(L, 2, "audio must be nested [k][frames][channels] (or [frames][channels])");
  int o = f.rank == 3 ? 1 : 0;
  int64_t count = o ? f.dims[0] : 1, frames = f.dims[o], channels = f.dims[o + 1];
  if (channels < 1 || channels > 65535) return luaL_argerror(L, 2, "audio needs 1..65535 channels");
  float *buf = lua_newuserdatauv(L, (f.count ? f.count : 1) * sizeof *buf, 0);
  for (size_t i = 0; i < f.count; i++) {
    lua_rawgeti(L, leaves, (lua_Integer)i + 1);
    if (lua_type(L, -1) != LUA_TNUMBER) return tbt_lua_element_error(L, 2, "number", i);
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

/* A box for memory the library allocated, freed by the collector if a Lua error strikes first. */
#define BOX_MT "tbtrace.box"

static int box_gc(lua_State *L) {
  void **box = lua_touserdata(L, 1);
  tbt_free(*box);
  *box = NULL;
  return 0;
}

static void **push_box(lua_State *L) {
  void **box = lua_newuserdatauv(L, sizeof *box, 0);
  *box = NULL;
  if (luaL_newmetatable(L, BOX_MT)) {
    lua_pushcfunction(L, box_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  return box;
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
  static const char *const keys[] = {"plugin_name", "content", "display_name", "description", NULL};
  tbt_lua_checkoptions(L, arg, "write", keys);
  size_t n, content_len = 0;
  const char *plugin = opt_string_field(L, arg, "plugin_name", &n);
  const char *content = opt_string_field(L, arg, "content", &content_len);
  const char *dn = opt_string_field(L, arg, "display_name", &n);
  const char *desc = opt_string_field(L, arg, "description", &n);
  void **box = push_box(L);
  size_t mdlen;
  int rc = tbt_summary_metadata_encode(plugin, content, content ? content_len : 0, dn, desc,
                                       (uint8_t **)box, &mdlen);
  if (rc == TBT_EINVAL) luaL_argerror(L, arg, "metadata strings must be valid UTF-8");
  if (rc) luaL_error(L, "write: %s", tbt_strerror(rc));
  lua_pushlstring(L, *box, mdlen);
  tbt_free(*box);
  *box = NULL;
  *data = lua_tolstring(L, -1, len);
}

/* tbtrace.write(tag, tensor, step, metadata): tensor as ltensor.h takes it. */
static int l_write(lua_State *L) {
  const char *tag = check_tag(L, 1);
  luaL_checkany(L, 2);
  tbt_step step = tbt_lua_optstep(L, 3);
  const void *md = NULL;
  size_t mdlen = 0;
  if (!lua_isnoneornil(L, 4)) check_metadata(L, 4, &md, &mdlen);
  tbt_lua_tensor t;
  tbt_lua_totensor(L, 2, &t);
  int rc;
  if (t.dtype == TBT_DT_STRING)
    rc = tbt_write_strings(tag, t.strings, t.lens, t.count, t.dims, t.rank, step, md, mdlen);
  else
    rc = tbt_write(tag, t.dtype, t.content, t.count * tbt_dtype_size(t.dtype), t.dims, t.rank,
                   step, md, mdlen);
  /* The tag and the shape are checked above: what the library still refuses is the metadata. */
  if (rc == TBT_EINVAL && md) luaL_argerror(L, 4, "metadata is not a SummaryMetadata");
  if (rc == TBT_ERANGE) luaL_argerror(L, 2, "shape too large");
  return tbt_lua_summary_result(L, rc, "write");
}

void tbt_lua_open_summary(lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"scalar", l_scalar},
    {"text", l_text},
    {"histogram", l_histogram},
    {"image", l_image},
    {"audio", l_audio},
    {"write", l_write},
    {NULL, NULL}
  };
  luaL_setfuncs(L, funcs, 0);
}

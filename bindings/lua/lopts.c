/*
** lopts.c: option-table helpers shared by the plugin summaries.
*/
#include "lopts.h"

#include <string.h>

int tbt_lua_utf8_valid(const char *s, size_t len) {
  const unsigned char *p = (const unsigned char *)s, *e = p + len;
  while (p < e) {
    unsigned c = *p++;
    if (c < 0x80) continue;
    int n;
    unsigned min;
    if (c >= 0xc2 && c <= 0xdf) { n = 1; min = 0x80; c &= 0x1f; }
    else if (c >= 0xe0 && c <= 0xef) { n = 2; min = 0x800; c &= 0x0f; }
    else if (c >= 0xf0 && c <= 0xf4) { n = 3; min = 0x10000; c &= 0x07; }
    else return 0;
    if (e - p < n) return 0;
    for (int i = 0; i < n; i++) {
      if ((p[i] & 0xc0) != 0x80) return 0;
      c = c << 6 | (p[i] & 0x3f);
    }
    p += n;
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0;
  }
  return 1;
}

void tbt_lua_check_keys(lua_State *L, int idx, const char *const *keys, int allow_array, int arg,
                        const char *what) {
  idx = lua_absindex(L, idx);
  lua_Integer n = allow_array ? (lua_Integer)lua_rawlen(L, idx) : 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING) {
      const char *k = lua_tostring(L, -1);
      int known = 0;
      for (int i = 0; keys[i] && !known; i++) known = strcmp(keys[i], k) == 0;
      if (!known) luaL_argerror(L, arg, lua_pushfstring(L, "%s: unknown key '%s'", what, k));
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
  if (!tbt_lua_utf8_valid(s, len))
    luaL_argerror(L, arg, lua_pushfstring(L, "%s.%s is not valid UTF-8", what, key));
  lua_pop(L, 1);   /* the table keeps it */
  return s;
}

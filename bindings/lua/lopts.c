/*
** lopts.c: option-table helpers shared by the plugin summaries.
*/
#include "lopts.h"

#include <string.h>

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
  if (!tbt_utf8_valid(s, len))
    luaL_argerror(L, arg, lua_pushfstring(L, "%s.%s is not valid UTF-8", what, key));
  lua_pop(L, 1);   /* the table keeps it */
  return s;
}

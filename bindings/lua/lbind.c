/*
** lbind.c: the result conventions and argument helpers the parts of the Lua module share
** (lbind.h). It calls nothing of the module's parts, so each of them can use it.
*/
#include "lbind.h"

#include <string.h>

void tbt_lua_push_internal(lua_State *L) {
  if (luaL_getsubtable(L, LUA_REGISTRYINDEX, "tbtrace.internal")) return;
  /* new: require "tbtrace.internal" finds it too */
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_pushvalue(L, -2);
  lua_setfield(L, -2, "tbtrace.internal");
  lua_pop(L, 1);
}

int tbt_lua_fail(lua_State *L, int code) {
  luaL_pushfail(L);
  lua_pushstring(L, tbt_strerror(code));
  lua_pushinteger(L, (code < 0 && code >= TBT_ERRNO_MIN) ? -code : code);
  return 3;
}

int tbt_lua_summary_result(lua_State *L, int rc, const char *fname) {
  if (rc == 1 || rc == 0) {
    lua_pushboolean(L, rc);
    return 1;
  }
  if (rc < 0 && rc >= TBT_ERRNO_MIN) return tbt_lua_fail(L, rc);
  if (rc == TBT_ENOSTEP)
    return luaL_error(L, "No step set via 'step' argument or tbtrace.experimental.set_step()");
  if (rc == TBT_ECLOSED) return luaL_error(L, "SummaryWriter is already closed");
  return luaL_error(L, "%s: %s", fname, tbt_strerror(rc));
}

tbt_step tbt_lua_optstep(lua_State *L, int arg) {
  tbt_step s = TBT_DEFAULT_STEP;
  if (lua_isnoneornil(L, arg)) return s;
  /* Numbers only: TF's step is an int64 tensor, and "5" is no step. */
  if (lua_type(L, arg) != LUA_TNUMBER) luaL_typeerror(L, arg, "integer");
  int isint;
  lua_Integer n = lua_tointegerx(L, arg, &isint);
  if (!isint) luaL_argerror(L, arg, "step must be an integer");
  s.has_step = 1;
  s.step = (int64_t)n;
  return s;
}

const char *tbt_lua_checkcstring(lua_State *L, int arg, const char *what) {
  size_t len;
  const char *s = luaL_checklstring(L, arg, &len);
  if (strlen(s) != len) luaL_argerror(L, arg, lua_pushfstring(L, "%s contains a NUL byte", what));
  return s;
}

/*
** lreader.c: reading event files from Lua.
**
**   for data, offset in tbtrace.records(path) do ... end     raw records, checksums verified
**   for ev, offset in tbtrace.events(path) do ... end        each event as a JSON string
**   tbtrace.event_to_json(data)                              one serialized Event as JSON
**
** A corrupt or truncated record raises "<path>: data checksum mismatch in record at offset N"
** from the loop; an unreadable file makes records/events return nil, msg, errno.
*/
#include "lbind.h"

#define READER_MT "tbtrace.reader"

typedef struct lreader {
  tbt_reader *r;
  int json;
} lreader;

static void reader_close(lreader *lr) {
  if (lr->r) {
    tbt_reader_close(lr->r);
    lr->r = NULL;
  }
}

static int reader_gc(lua_State *L) {
  reader_close(luaL_checkudata(L, 1, READER_MT));
  return 0;
}

static int push_json(lua_State *L, const uint8_t *data, size_t len) {
  char *out;
  size_t out_len;
  int rc = tbt_event_to_json(data, len, &out, &out_len);
  if (rc) return rc;
  lua_pushlstring(L, out, out_len);
  tbt_free(out);
  return 0;
}

static int reader_next(lua_State *L) {
  lreader *lr = lua_touserdata(L, lua_upvalueindex(1));
  if (!lr->r) return 0;
  const uint8_t *data;
  size_t len;
  uint64_t offset;
  int rc = tbt_reader_next(lr->r, &data, &len, &offset);
  if (rc == TBT_EOF) {
    reader_close(lr);
    return 0;
  }
  if (rc) {
    lua_pushfstring(L, "%s: %s", lua_tostring(L, lua_upvalueindex(2)), tbt_reader_error(lr->r));
    reader_close(lr);
    return lua_error(L);
  }
  if (lr->json) {
    rc = push_json(L, data, len);
    if (rc)
      return luaL_error(L, "%s: record at offset %I is not an Event (%s)",
                        lua_tostring(L, lua_upvalueindex(2)), (lua_Integer)offset, tbt_strerror(rc));
  } else {
    lua_pushlstring(L, (const char *)data, len);
  }
  lua_pushinteger(L, (lua_Integer)offset);
  return 2;
}

static int open_iter(lua_State *L, int json) {
  const char *path = tbt_lua_checkcstring(L, 1, "path");
  luaL_argcheck(L, *path, 1, "path cannot be empty");
  lreader *lr = lua_newuserdatauv(L, sizeof *lr, 0);
  int ud = lua_gettop(L);
  lr->r = NULL;
  lr->json = json;
  luaL_setmetatable(L, READER_MT);
  int rc = tbt_reader_open(&lr->r, path);
  if (rc) {
    luaL_pushfail(L);
    lua_pushfstring(L, "%s: %s", path, tbt_strerror(rc));
    lua_pushinteger(L, rc >= TBT_ERRNO_MIN && rc < 0 ? -rc : rc);
    return 3;
  }
  lua_pushvalue(L, ud);
  lua_pushvalue(L, 1);
  lua_pushcclosure(L, reader_next, 2);
  /* The generic for closes the reader when the loop ends early (the fourth value). */
  lua_pushnil(L);
  lua_pushnil(L);
  lua_pushvalue(L, ud);
  return 4;
}

static int l_records(lua_State *L) {
  return open_iter(L, 0);
}

static int l_events(lua_State *L) {
  return open_iter(L, 1);
}

static int l_event_to_json(lua_State *L) {
  size_t len;
  const char *data = luaL_checklstring(L, 1, &len);
  int rc = push_json(L, (const uint8_t *)data, len);
  if (rc) return luaL_argerror(L, 1, "not a serialized Event");
  return 1;
}

void tbt_lua_open_reader(lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"records", l_records},
    {"events", l_events},
    {"event_to_json", l_event_to_json},
    {NULL, NULL}
  };
  if (luaL_newmetatable(L, READER_MT)) {
    lua_pushcfunction(L, reader_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, reader_gc);
    lua_setfield(L, -2, "__close");
  }
  lua_pop(L, 1);
  luaL_setfuncs(L, funcs, 0);
}

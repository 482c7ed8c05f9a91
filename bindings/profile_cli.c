/*
** profile_cli.c: `tbtrace --profile` and `tbtrace flame` (see profile_cli.h). Both run the
** module's own Lua code (profile.lua, flame.lua, compiled in) in a fresh state.
*/
#include "profile_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

int luaopen_tbtrace(lua_State *L);

extern const char tbt_lua_flame[];
extern const size_t tbt_lua_flame_len;
extern const char tbt_lua_profile[];
extern const size_t tbt_lua_profile_len;

static void usage(void) {
  fprintf(stderr,
          "usage: tbtrace --profile[=OUTDIR] [--calls] [--hz=N] script.lua [args...]\n"
          "       tbtrace flame FILE.folded\n");
}

static int traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
  return 1;
}

/* Pushes the flame module. */
static void push_flame(lua_State *L) {
  if (luaL_loadbuffer(L, tbt_lua_flame, tbt_lua_flame_len, "=tbtrace.flame") != LUA_OK) lua_error(L);
  lua_call(L, 0, 1);
}

/* Runs in protected mode: argv as a light userdata, argc; returns the exit status. */
static int pflame(lua_State *L) {
  char **argv = lua_touserdata(L, 1);
  luaL_openlibs(L);
  push_flame(L);
  lua_getfield(L, -1, "read");
  lua_pushstring(L, argv[1]);
  lua_call(L, 1, 2);
  if (lua_isnil(L, -2)) {
    fprintf(stderr, "tbtrace flame: %s\n", lua_tostring(L, -1));
    lua_pushinteger(L, 1);
    return 1;
  }
  lua_pop(L, 1);
  lua_getfield(L, -2, "report");
  lua_insert(L, -2);
  lua_call(L, 1, 1);
  fputs(lua_tostring(L, -1), stdout);
  lua_pushinteger(L, 0);
  return 1;
}

static int pprofile(lua_State *L) {
  char **argv = lua_touserdata(L, 1);
  int argc = (int)lua_tointeger(L, 2);
  const char *outdir = strchr(argv[0], '=') ? strchr(argv[0], '=') + 1 : NULL;
  int calls = 0, hz = 1000, i;
  for (i = 1; i < argc && argv[i][0] == '-'; i++) {
    if (strcmp(argv[i], "--calls") == 0)
      calls = 1;
    else if (strncmp(argv[i], "--hz=", 5) == 0 && (hz = atoi(argv[i] + 5)) > 0)
      continue;
    else {
      fprintf(stderr, "tbtrace: unrecognized option '%s'\n", argv[i]);
      usage();
      return 0;
    }
  }
  if (i >= argc) {
    usage();
    return 0;
  }
  luaL_openlibs(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_tbtrace);
  lua_setfield(L, -2, "tbtrace");
  lua_getglobal(L, "require");
  lua_pushliteral(L, "tbtrace");
  lua_call(L, 1, 1);
  lua_pushvalue(L, -1);
  lua_setglobal(L, "tbtrace");
  int tb = lua_gettop(L);
  /* arg as lua5.4 makes it: the script at 0, its arguments from 1, what came before negative */
  lua_createtable(L, argc - i - 1, i + 1);
  for (int j = 0; j < argc; j++) {
    lua_pushstring(L, argv[j]);
    lua_rawseti(L, -2, j - i);
  }
  lua_setglobal(L, "arg");
  if (luaL_loadbuffer(L, tbt_lua_profile, tbt_lua_profile_len, "=tbtrace.profile") != LUA_OK)
    lua_error(L);
  lua_pushvalue(L, tb);
  push_flame(L);
  if (outdir && *outdir)
    lua_pushstring(L, outdir);
  else
    lua_pushnil(L);
  lua_pushboolean(L, calls);
  lua_pushinteger(L, hz);
  lua_pushstring(L, argv[i]);
  lua_call(L, 6, 2);   /* the script's chunk and the function that ends the profile */
  if (lua_isnil(L, -2)) return 0;
  lua_pushinteger(L, i);
  lua_insert(L, -3);
  return 3;   /* the script's index in argv, its chunk, the ending */
}

static int run_flame(char **argv) {
  lua_State *L = luaL_newstate();
  if (!L) {
    fprintf(stderr, "tbtrace: cannot create state: not enough memory\n");
    return EXIT_FAILURE;
  }
  lua_pushcfunction(L, traceback);
  lua_pushcfunction(L, pflame);
  lua_pushlightuserdata(L, argv);
  int status = EXIT_FAILURE;
  if (lua_pcall(L, 1, 1, 1) != LUA_OK)
    fprintf(stderr, "tbtrace: %s\n", lua_tostring(L, -1));
  else
    status = (int)lua_tointeger(L, -1);
  lua_close(L);
  return status;
}

int tbt_profile_main(int argc, char **argv) {
  lua_State *L = luaL_newstate();
  if (!L) {
    fprintf(stderr, "tbtrace: cannot create state: not enough memory\n");
    return EXIT_FAILURE;
  }
  int status = EXIT_FAILURE;
  lua_pushcfunction(L, traceback);   /* 1 */
  lua_pushcfunction(L, pprofile);
  lua_pushlightuserdata(L, argv);
  lua_pushinteger(L, argc);
  if (lua_pcall(L, 2, 3, 1) != LUA_OK) {
    fprintf(stderr, "tbtrace: %s\n", lua_tostring(L, -1));
  } else if (lua_isinteger(L, 2)) {   /* the script, run from here so its stacks start with it */
    int script = (int)lua_tointeger(L, 2);
    luaL_checkstack(L, argc - script + 4, "too many arguments");
    lua_pushvalue(L, 4);   /* the ending, for after the script */
    lua_pushvalue(L, 3);
    for (int j = script + 1; j < argc; j++) lua_pushstring(L, argv[j]);
    if (lua_pcall(L, argc - script - 1, 0, 1) == LUA_OK) lua_pushnil(L);   /* else its error */
    if (lua_pcall(L, 1, 1, 1) != LUA_OK)
      fprintf(stderr, "tbtrace: %s\n", lua_tostring(L, -1));
    else
      status = (int)lua_tointeger(L, -1);
  }
  lua_close(L);
  return status;
}

int tbt_flame_main(int argc, char **argv) {
  if (argc != 2) {
    usage();
    return EXIT_FAILURE;
  }
  return run_flame(argv);
}

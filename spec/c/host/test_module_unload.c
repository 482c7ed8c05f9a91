/*
** test_module_unload.c: a C host that loads the Lua module into a state of its own, writes
** through a writer it never closes, closes the state (which unloads the module) and goes on
** running. The module's writers must be closed before it goes: their queued events are on disk,
** and no timer thread is left to wake up in unloaded code (flush_millis is short here, so one
** would within the wait below).
*/
#include "check.h"
#include "testutil.h"

#include <lauxlib.h>
#include <lualib.h>
#include <time.h>

static void run(lua_State *L, const char *code) {
  if (luaL_dostring(L, code) != LUA_OK) {
    fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
    CHECK(0);
    lua_pop(L, 1);
  }
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s MODULE_DIR\n", argv[0]);
    return 2;
  }
  char logdir[4200];
  snprintf(logdir, sizeof logdir, "%s", tu_tmpdir("unload"));
  for (int round = 0; round < 2; round++) {
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    char code[9000];
    snprintf(code, sizeof code,
             "package.cpath = '%s/?.so'\n"
             "local tbtrace = require 'tbtrace'\n"
             "local w = assert(tbtrace.create_file_writer('%s', {flush_millis = 50, max_queue = 100}))\n"
             "w:set_as_default(0)\n"
             "for i = 1, 5 do assert(tbtrace.scalar('x', i, i)) end\n",
             argv[1], logdir);
    run(L, code);
    lua_close(L);
    /* Longer than flush_millis: a timer thread left behind would run by now. */
    struct timespec ts = {0, 200 * 1000000};
    nanosleep(&ts, NULL);
  }
  /* Two files (one per state), each with its first record and all five scalars. */
  DIR *d = opendir(logdir);
  CHECK(d != NULL);
  int files = 0;
  for (struct dirent *e; d && (e = readdir(d));) {
    if (strncmp(e->d_name, "events.out.tfevents.", 20) != 0) continue;
    files++;
    char path[4500];
    snprintf(path, sizeof path, "%s/%s", logdir, e->d_name);
    tu_events r = tu_read_events(path);
    CHECK(!r.bad);
    CHECK_EQ_INT(r.n, 6);
    for (size_t k = 1; k < r.n; k++) CHECK_EQ_INT(r.ev[k]->step, (long)k);
    tu_events_free(&r);
  }
  if (d) closedir(d);
  CHECK_EQ_INT(files, 2);
  return CHECK_DONE();
}

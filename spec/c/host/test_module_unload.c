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
#include <pthread.h>
#include <time.h>

/* A state of its own that loads the module from module_dir, runs body with the global LOGDIR
** set to logdir, and closes (unloading the module when it is the last). */
static void session(const char *module_dir, const char *logdir, const char *body) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  char code[9000];
  snprintf(code, sizeof code, "package.cpath = '%s/?.so'\nLOGDIR = '%s'\n%s", module_dir, logdir, body);
  if (luaL_dostring(L, code) != LUA_OK) {
    fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
    CHECK(0);
  }
  lua_close(L);
}

/* A host thread that uses the module through a state of its own, closes it and exits: its
** per-thread state is released by destructors in the module's code, after the state is gone. */
typedef struct job {
  const char *module_dir, *logdir;
} job;

static void *thread_session(void *arg) {
  const job *j = arg;
  session(j->module_dir, j->logdir,
          "local tbtrace = require 'tbtrace'\n"
          "local w <close> = assert(tbtrace.create_file_writer(LOGDIR))\n"
          "w:set_as_default(0)\n"
          "assert(tbtrace.scalar('x', 1, 1))\n"
          "tbtrace.trace_on()\n"
          "tbtrace.span('s', function() end)\n"
          "tbtrace.trace_off()\n");
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s MODULE_DIR\n", argv[0]);
    return 2;
  }
  char logdir[4200];
  snprintf(logdir, sizeof logdir, "%s", tu_tmpdir("unload"));
  for (int round = 0; round < 2; round++) {
    session(argv[1], logdir,
            "local tbtrace = require 'tbtrace'\n"
            "local w = assert(tbtrace.create_file_writer(LOGDIR, {flush_millis = 50, max_queue = 100}))\n"
            "w:set_as_default(0)\n"
            "for i = 1, 5 do assert(tbtrace.scalar('x', i, i)) end\n");
    /* Longer than flush_millis: a timer thread left behind would run by now. */
    struct timespec ts = {0, 200 * 1000000};
    nanosleep(&ts, NULL);
  }
  /* The thread's session goes to a logdir of its own. */
  char thread_logdir[4300];
  snprintf(thread_logdir, sizeof thread_logdir, "%s.thread", logdir);
  job j = {argv[1], thread_logdir};
  pthread_t t;
  CHECK_EQ_INT(pthread_create(&t, NULL, thread_session, &j), 0);
  pthread_join(t, NULL);
  struct timespec ts = {0, 50 * 1000000};
  nanosleep(&ts, NULL);   /* still alive after the thread's destructors ran */
  const char *tf = tu_event_file(thread_logdir);
  CHECK(tf != NULL);
  if (tf) CHECK_EQ_INT(tu_count_records(tf), 2);

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

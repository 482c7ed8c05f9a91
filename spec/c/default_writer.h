/*
** default_writer.h: a fresh default writer per test case, and the events it wrote read back with
** testutil's independent reader (the summary and plugin tests share it).
*/
#ifndef TBT_DEFAULT_WRITER_H
#define TBT_DEFAULT_WRITER_H

#include "check.h"
#include "testutil.h"

static tbt_writer *g_w;

static void open_default(const char *tag) {
  tbt_writer_options o;
  tbt_writer_options_init(&o);
  o.max_queue = 1000;
  CHECK_EQ_INT(tbt_writer_open(&g_w, tu_tmpdir(tag), &o), 0);
  tbt_set_default_writer(g_w);
}

/* Flushes and returns the events written so far (the caller frees). */
static tu_events flush_and_read(void) {
  CHECK_EQ_INT(tbt_writer_flush(g_w), 0);
  tu_events r = tu_read_events(tbt_writer_path(g_w));
  CHECK(!r.bad);
  CHECK(tu_canonical(&r));
  return r;
}

static void close_default(void) {
  tbt_set_default_writer(NULL);
  tbt_writer_free(g_w);
  g_w = NULL;
}

#endif

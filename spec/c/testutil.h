/*
** testutil.h: helpers the C tests share: scratch directories, whole-file reads, and an event-file
** parser that is independent of the library (its own bitwise CRC-32C and framing code), so tests
** check the bytes on disk rather than the writer against itself. Events are decoded with
** protobuf-c's generic unpacker.
*/
#ifndef TBT_TESTUTIL_H
#define TBT_TESTUTIL_H

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "event.pb-c.h"

/* Tests that link the library (a host loading the Lua module does not see its headers). */
#if __has_include("tbtrace.h")
#include "tbtrace.h"
#define TU_HAVE_LIBRARY 1
#endif

#ifdef TU_HAVE_LIBRARY
/* tbt_trace_export with its result in *r (the caller frees it with tbt_export_result_free). */
static inline int tu_export(const char *name, tbt_step step, const char *outdir,
                            tbt_export_result *r) {
  tbt_export_request req;
  tbt_export_request_init(&req);
  req.name = name;
  req.step = step;
  req.profiler_outdir = outdir;
  return tbt_trace_export_ex(&req, r);
}
#endif

/* A fresh directory under $TBT_TEST_TMP (or /tmp); the name is returned in a static buffer. */
static inline const char *tu_tmpdir(const char *tag) {
  static char buf[4096];
  static int counter;
  const char *base = getenv("TBT_TEST_TMP");
  if (!base || !*base) base = "/tmp";
  mkdir(base, 0777);
  snprintf(buf, sizeof buf, "%s/%s.%ld.%d", base, tag, (long)getpid(), counter++);
  char cmd[4200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", buf);
  if (system(cmd) != 0) abort();
  return buf;
}

/* Entries directly in dir whose name contains needle ("" counts them all); -1 when dir cannot be
** read. */
static inline int tu_count_entries(const char *dir, const char *needle) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strstr(e->d_name, needle)) n++;
  closedir(d);
  return n;
}

/* Entries under dir, recursively, whose name contains needle. */
static inline int tu_count_tree(const char *dir, const char *needle) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    if (strstr(e->d_name, needle)) n++;
    char sub[4600];
    if (snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name) >= (int)sizeof sub) continue;
    struct stat st;
    if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode)) n += tu_count_tree(sub, needle);
  }
  closedir(d);
  return n;
}

/* Whole file into a malloc'ed buffer; NULL when it cannot be read. */
static inline uint8_t *tu_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, n = 0;
  uint8_t *buf = malloc(cap);
  size_t r;
  while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
    n += r;
    if (n == cap) buf = realloc(buf, cap *= 2);
  }
  fclose(f);
  *len = n;
  return buf;
}

/* The only regular file in dir whose name contains "tfevents" (path in a static buffer), or NULL
** when there is not exactly one. */
static inline const char *tu_event_file(const char *dir) {
  static char path[8192];
  DIR *d = opendir(dir);
  if (!d) return NULL;
  int found = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (strstr(e->d_name, "tfevents")) {
      found++;
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    }
  }
  closedir(d);
  return found == 1 ? path : NULL;
}

/* CRC-32C one bit at a time: slow and obviously right. */
static inline uint32_t tu_crc32c(const uint8_t *p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
  }
  return ~c;
}

static inline uint32_t tu_mask(uint32_t c) {
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

static inline uint64_t tu_le(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

/* Parsed event file: the events in order. tu_events_free releases it. */
typedef struct tu_events {
  Tensorflow__Event **ev;
  uint8_t **raw;     /* each record's bytes, as read */
  size_t *raw_len;
  size_t n;
  int bad;          /* a framing or checksum error was found */
} tu_events;

static inline tu_events tu_read_events(const char *path) {
  tu_events r = {NULL, NULL, NULL, 0, 0};
  size_t len;
  uint8_t *buf = tu_read_file(path, &len);
  if (!buf) {
    r.bad = 1;
    return r;
  }
  size_t off = 0;
  while (off < len) {
    if (len - off < 12) { r.bad = 1; break; }
    uint64_t n = tu_le(buf + off, 8);
    if ((uint32_t)tu_le(buf + off + 8, 4) != tu_mask(tu_crc32c(buf + off, 8))) { r.bad = 1; break; }
    if (len - off - 12 < n + 4) { r.bad = 1; break; }
    const uint8_t *data = buf + off + 12;
    if ((uint32_t)tu_le(data + n, 4) != tu_mask(tu_crc32c(data, n))) { r.bad = 1; break; }
    Tensorflow__Event *e = tensorflow__event__unpack(NULL, n, data);
    if (!e) { r.bad = 1; break; }
    r.ev = realloc(r.ev, (r.n + 1) * sizeof *r.ev);
    r.raw = realloc(r.raw, (r.n + 1) * sizeof *r.raw);
    r.raw_len = realloc(r.raw_len, (r.n + 1) * sizeof *r.raw_len);
    r.raw[r.n] = malloc(n ? n : 1);
    memcpy(r.raw[r.n], data, n);
    r.raw_len[r.n] = n;
    r.ev[r.n++] = e;
    off += 12 + n + 4;
  }
  free(buf);
  return r;
}

static inline void tu_events_free(tu_events *r) {
  for (size_t i = 0; i < r->n; i++) {
    tensorflow__event__free_unpacked(r->ev[i], NULL);
    free(r->raw[i]);
  }
  free(r->ev);
  free(r->raw);
  free(r->raw_len);
  r->ev = NULL;
  r->raw = NULL;
  r->raw_len = NULL;
  r->n = 0;
}

/* 1 when every record is exactly what protobuf-c's packer makes of its decoded form: the
** hand-encoded envelope is canonical protobuf. */
static inline int tu_canonical(const tu_events *r) {
  for (size_t i = 0; i < r->n; i++) {
    size_t n = tensorflow__event__get_packed_size(r->ev[i]);
    uint8_t *buf = malloc(n ? n : 1);
    tensorflow__event__pack(r->ev[i], buf);
    int same = n == r->raw_len[i] && memcmp(buf, r->raw[i], n) == 0;
    free(buf);
    if (!same) {
      fprintf(stderr, "record %zu is not canonical\n", i);
      return 0;
    }
  }
  return 1;
}

/* Counts records in the file (-1 on a framing error). */
static inline long tu_count_records(const char *path) {
  tu_events r = tu_read_events(path);
  long n = r.bad ? -1 : (long)r.n;
  tu_events_free(&r);
  return n;
}

/* The first Summary.Value of event e, or NULL. */
static inline Tensorflow__Summary__Value *tu_value(const Tensorflow__Event *e) {
  if (!e || e->what_case != TENSORFLOW__EVENT__WHAT_SUMMARY || !e->summary || e->summary->n_value < 1)
    return NULL;
  return e->summary->value[0];
}

/* A countdown allocator: the Nth allocation from now fails (0 = never). */
static long tu_fail_countdown;
static long tu_live_allocs;

static inline void *tu_failing_realloc(void *ud, void *p, size_t n) {
  (void)ud;
  if (n == 0) {
    if (p) tu_live_allocs--;
    free(p);
    return NULL;
  }
  if (tu_fail_countdown > 0 && --tu_fail_countdown == 0) return NULL;
  void *q = realloc(p, n);
  if (q && !p) tu_live_allocs++;
  return q;
}

#endif

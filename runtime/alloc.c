/*
** alloc.c: one place where libtbtrace gets memory, so a host can account for it or inject
** failures (tests use a countdown allocator, as SQLite's do).
*/
#include "alloc.h"
#include "tbtrace.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void *default_realloc(void *ud, void *p, size_t n) {
  (void)ud;
  if (n == 0) {
    free(p);
    return NULL;
  }
  return realloc(p, n);
}

static tbt_realloc_fn g_realloc = default_realloc;
static void *g_ud;

void tbt_set_allocator(tbt_realloc_fn fn, void *ud) {
  g_realloc = fn ? fn : default_realloc;
  g_ud = fn ? ud : NULL;
}

void *tbt_malloc(size_t n) {
  return g_realloc(g_ud, NULL, n ? n : 1);
}

void *tbt_calloc(size_t count, size_t size) {
  if (size && count > SIZE_MAX / size) return NULL;
  size_t n = count * size;
  void *p = tbt_malloc(n);
  if (p) memset(p, 0, n ? n : 1);
  return p;
}

void *tbt_realloc(void *p, size_t n) {
  return g_realloc(g_ud, p, n ? n : 1);
}

void tbt_free(void *p) {
  if (p) g_realloc(g_ud, p, 0);
}

char *tbt_strdup(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *d = tbt_malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

void *tbt_zalloc(void *opaque, unsigned items, unsigned size) {
  (void)opaque;
  return tbt_calloc(items, size);
}

void tbt_zfree(void *opaque, void *p) {
  (void)opaque;
  tbt_free(p);
}

/* protobuf-c's unpack returns NULL both for bad bytes and for no memory; counting the failed
** allocations per thread lets a caller tell the two apart. */
static __thread unsigned long t_pb_failures;

unsigned long tbt_pb_alloc_failures(void) {
  return t_pb_failures;
}

static void *pb_alloc(void *ud, size_t n) {
  (void)ud;
  void *p = tbt_malloc(n);
  if (!p) t_pb_failures++;
  return p;
}

static void pb_free(void *ud, void *p) {
  (void)ud;
  tbt_free(p);
}

ProtobufCAllocator tbt_pb_allocator = {pb_alloc, pb_free, NULL};

/*
** gunzip.h: a gzip stream inflated whole with zlib, for tests that read back what an export
** compressed (the Chrome trace).
*/
#ifndef TBT_TEST_GUNZIP_H
#define TBT_TEST_GUNZIP_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Inflates a gzip stream (one member) into a malloc'ed buffer of *out_len bytes, followed by a
** NUL (so text can be searched as a string); NULL on any error, trailing bytes included. */
static uint8_t *tu_gunzip(const uint8_t *data, size_t len, size_t *out_len) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return NULL;
  size_t cap = 1 << 16, n = 0;
  uint8_t *out = malloc(cap + 1);
  zs.next_in = (Bytef *)data;
  zs.avail_in = (uInt)len;
  int zr = Z_OK;
  while (out && zr == Z_OK) {
    if (n == cap) {
      uint8_t *grown = realloc(out, cap * 2 + 1);
      if (!grown) break;
      out = grown;
      cap *= 2;
    }
    zs.next_out = out + n;
    zs.avail_out = (uInt)(cap - n);
    zr = inflate(&zs, Z_NO_FLUSH);
    n = cap - zs.avail_out;
  }
  int ok = out && zr == Z_STREAM_END && zs.avail_in == 0;
  inflateEnd(&zs);
  if (!ok) {
    free(out);
    return NULL;
  }
  out[n] = '\0';
  *out_len = n;
  return out;
}

#endif

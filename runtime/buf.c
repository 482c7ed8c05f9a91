/*
** buf.c: the growable byte buffer the encoders write into (buf.h).
*/
#include "buf.h"

#include "alloc.h"
#include "tbtrace.h"

#include <stdint.h>
#include <string.h>

void tbt_buf_free(tbt_buf *b) {
  tbt_free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

int tbt_buf_reserve(tbt_buf *b, size_t n) {
  if (b->cap - b->len >= n) return 0;
  if (n > SIZE_MAX / 2 - b->len) return TBT_ENOMEM;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap - b->len < n) cap *= 2;
  uint8_t *d = tbt_realloc(b->data, cap);
  if (!d) return TBT_ENOMEM;
  b->data = d;
  b->cap = cap;
  return 0;
}

int tbt_buf_append(tbt_buf *b, const void *data, size_t n) {
  int rc = tbt_buf_reserve(b, n);
  if (rc) return rc;
  if (n) memcpy(b->data + b->len, data, n);
  b->len += n;
  return 0;
}

/*
** buf.h: a growable byte buffer, allocated with the library allocator (internal).
*/
#ifndef TBT_BUF_H
#define TBT_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct tbt_buf {
  uint8_t *data;
  size_t len;
  size_t cap;
} tbt_buf;   /* zeroed: empty */

void tbt_buf_free(tbt_buf *b);
/* Makes room for n more bytes; returns 0 or TBT_ENOMEM. */
int tbt_buf_reserve(tbt_buf *b, size_t n);
int tbt_buf_append(tbt_buf *b, const void *data, size_t n);

#endif

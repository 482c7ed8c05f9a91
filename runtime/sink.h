/*
** sink.h: where an encoder's bytes go, in pieces (internal; sink.c).
**
** An encoder asks for room (tbt_sink_room), writes its bytes there and says where it stopped
** (tbt_sink_done); the sink hands its buffer on when it is full. Sinks: a file descriptor, a
** growable buffer (tbt_buf), a function, and two that pass what they get on to another sink:
** gzip (compressed as it goes) and the CRC-32C a TFRecord's data is framed with. The buffer is 64 KiB, grown only
** for one item larger than that (a long name), so what an encoder holds does not grow with the
** trace. The first failure sticks: later calls do nothing and tbt_sink_finish returns it.
*/
#ifndef TBT_SINK_H
#define TBT_SINK_H

#include "buf.h"

#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#define TBT_SINK_CHUNK ((size_t)1 << 16)

/* A function a sink hands its bytes to: 0 or a negative code (which stops the encoder). */
typedef int (*tbt_sink_fn)(void *ud, const void *data, size_t len);

typedef struct tbt_sink tbt_sink;
struct tbt_sink {
  uint8_t *buf;
  size_t len, cap;
  int rc;                       /* the first failure */
  uint64_t total;               /* bytes taken so far */
  int (*drain)(tbt_sink *s, const uint8_t *data, size_t len);
  /* per kind */
  int fd;
  tbt_buf *out;
  z_stream *z;
  uint8_t *zout;
  tbt_sink *next;               /* gzip and CRC pass their bytes on to it */
  uint32_t crc;
  tbt_sink_fn call;
  void *ud;
};

/* A sink writing to fd; appending to *out; calling fn; gzip (level 0..9, -1 = 1) on its way to
** next; computing the CRC-32C (in s->crc) of what passes through on its way to next. Each returns
** 0 or TBT_ENOMEM. */
int tbt_sink_fd(tbt_sink *s, int fd);
int tbt_sink_buf(tbt_sink *s, tbt_buf *out);
int tbt_sink_call(tbt_sink *s, tbt_sink_fn fn, void *ud);
int tbt_sink_gzip(tbt_sink *s, tbt_sink *next, int level);
int tbt_sink_crc(tbt_sink *s, tbt_sink *next);

/* Hands on what is buffered (gzip: ends the stream), then finishes next; returns the sticky
** code. */
int tbt_sink_finish(tbt_sink *s);
void tbt_sink_free(tbt_sink *s);

/* Room for n bytes at the returned pointer, or NULL after a failure. */
uint8_t *tbt_sink_room_slow(tbt_sink *s, size_t n);
static inline uint8_t *tbt_sink_room(tbt_sink *s, size_t n) {
  if (s->cap - s->len >= n) return s->buf + s->len;
  return tbt_sink_room_slow(s, n);
}
static inline void tbt_sink_done(tbt_sink *s, uint8_t *end) {
  size_t n = (size_t)(end - s->buf);
  s->total += n - s->len;
  s->len = n;
}
int tbt_sink_write(tbt_sink *s, const void *data, size_t n);

#endif

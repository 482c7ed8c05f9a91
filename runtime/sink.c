/*
** sink.c: the sinks encoders write into (sink.h).
*/
#include "sink.h"

#include "alloc.h"
#include "fs.h"
#include "tbtrace.h"

#include <string.h>

enum { ZOUT = 1 << 17 };

static int sink_init(tbt_sink *s, int (*drain)(tbt_sink *, const uint8_t *, size_t)) {
  memset(s, 0, sizeof *s);
  s->fd = -1;
  s->drain = drain;
  s->buf = tbt_malloc(TBT_SINK_CHUNK);
  if (!s->buf) return TBT_ENOMEM;
  s->cap = TBT_SINK_CHUNK;
  return 0;
}

/* Hands the buffer on. */
static int sink_flush(tbt_sink *s) {
  if (s->len && !s->rc) s->rc = s->drain(s, s->buf, s->len);
  s->len = 0;
  return s->rc;
}

static uint8_t *buf_room(tbt_sink *s, size_t n);

uint8_t *tbt_sink_room_slow(tbt_sink *s, size_t n) {
  if (s->out) return buf_room(s, n);
  if (sink_flush(s)) return NULL;
  if (n > s->cap) {
    uint8_t *b = tbt_realloc(s->buf, n);
    if (!b) {
      s->rc = TBT_ENOMEM;
      return NULL;
    }
    s->buf = b;
    s->cap = n;
  }
  return s->buf;
}

int tbt_sink_write(tbt_sink *s, const void *data, size_t n) {
  if (s->rc || !n) return s->rc;
  if (n > s->cap - s->len && s->out) {
    uint8_t *p = buf_room(s, n);
    if (!p) return s->rc;
    memcpy(p, data, n);
    s->len += n;
  } else if (n <= s->cap - s->len) {
    memcpy(s->buf + s->len, data, n);
    s->len += n;
  } else {
    /* Big: straight to the drain, after what is buffered. */
    if (sink_flush(s)) return s->rc;
    s->rc = s->drain(s, data, n);
  }
  s->total += n;
  return s->rc;
}

/* ----------------------------------------------------------------- kinds */

static int drain_fd(tbt_sink *s, const uint8_t *data, size_t len) {
  return tbt_write_all(s->fd, data, len, NULL);
}

int tbt_sink_fd(tbt_sink *s, int fd) {
  int rc = sink_init(s, drain_fd);
  s->fd = fd;
  return rc;
}

/* Hands data to the next sink: straight to its drain when nothing waits in its buffer. */
static int pass_on(tbt_sink *n, const uint8_t *data, size_t len) {
  if (n->len || n->rc) return tbt_sink_write(n, data, len);
  n->total += len;
  return n->rc = n->drain(n, data, len);
}

static int deflate_on(tbt_sink *s, const uint8_t *data, size_t len, int flush) {
  z_stream *z = s->z;
  for (;;) {
    uInt chunk = len > (1u << 30) ? (1u << 30) : (uInt)len;
    z->next_in = (Bytef *)data;
    z->avail_in = chunk;
    int fl = chunk == len ? flush : Z_NO_FLUSH;
    int zr;
    do {
      z->next_out = s->zout;
      z->avail_out = ZOUT;
      zr = deflate(z, fl);
      if (zr == Z_STREAM_ERROR) return TBT_ENOMEM;
      size_t have = ZOUT - z->avail_out;
      if (have) {
        int rc = pass_on(s->next, s->zout, have);
        if (rc) return rc;
      }
    } while (z->avail_out == 0 || (fl == Z_FINISH && zr != Z_STREAM_END));
    data += chunk;
    len -= chunk;
    if (!len) return 0;
  }
}

static int drain_gzip(tbt_sink *s, const uint8_t *data, size_t len) {
  return deflate_on(s, data, len, Z_NO_FLUSH);
}

int tbt_sink_gzip(tbt_sink *s, tbt_sink *next, int level) {
  int rc = sink_init(s, drain_gzip);
  s->next = next;
  if (rc) return rc;
  /* Deflated in pieces of 256 KiB: fewer, larger calls into zlib. */
  uint8_t *b = tbt_realloc(s->buf, (size_t)1 << 18);
  if (b) {
    s->buf = b;
    s->cap = (size_t)1 << 18;
  }
  s->z = tbt_calloc(1, sizeof *s->z);
  s->zout = tbt_malloc(ZOUT);
  if (!s->z || !s->zout) {
    tbt_sink_free(s);
    return TBT_ENOMEM;
  }
  s->z->zalloc = tbt_zalloc;
  s->z->zfree = tbt_zfree;
  if (level < 0 || level > 9) level = 1;
  if (deflateInit2(s->z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    tbt_free(s->z);
    s->z = NULL;
    tbt_sink_free(s);
    return TBT_ENOMEM;
  }
  return 0;
}

static int drain_call(tbt_sink *s, const uint8_t *data, size_t len) {
  return s->call(s->ud, data, len);
}

int tbt_sink_call(tbt_sink *s, tbt_sink_fn fn, void *ud) {
  int rc = sink_init(s, drain_call);
  s->call = fn;
  s->ud = ud;
  return rc;
}

/* A buffer sink writes in place: its buffer is the free end of *out, taken into out->len when
** handed on. Bytes from elsewhere (a sink before it) are appended, after which the free end
** is looked up again. */
static int drain_buf(tbt_sink *s, const uint8_t *data, size_t len) {
  if (data == s->buf) {
    s->out->len += len;
    s->buf += len;
    s->cap -= len;
    return 0;
  }
  s->buf = NULL;
  s->cap = 0;
  return tbt_buf_append(s->out, data, len);
}

static uint8_t *buf_room(tbt_sink *s, size_t n) {
  if (sink_flush(s)) return NULL;
  int rc = tbt_buf_reserve(s->out, n > TBT_SINK_CHUNK ? n : TBT_SINK_CHUNK);
  if (rc) {
    s->rc = rc;
    return NULL;
  }
  s->buf = s->out->data + s->out->len;
  s->cap = s->out->cap - s->out->len;
  return s->buf;
}

int tbt_sink_buf(tbt_sink *s, tbt_buf *out) {
  memset(s, 0, sizeof *s);
  s->fd = -1;
  s->drain = drain_buf;
  s->out = out;
  return 0;
}

static int drain_crc(tbt_sink *s, const uint8_t *data, size_t len) {
  s->crc = tbt_crc32c(s->crc, data, len);
  return pass_on(s->next, data, len);
}

int tbt_sink_crc(tbt_sink *s, tbt_sink *next) {
  int rc = sink_init(s, drain_crc);
  s->next = next;
  return rc;
}

int tbt_sink_finish(tbt_sink *s) {
  sink_flush(s);
  if (s->z && !s->rc) s->rc = deflate_on(s, (const uint8_t *)"", 0, Z_FINISH);
  if (s->next && !s->rc) s->rc = tbt_sink_finish(s->next);
  return s->rc;
}

void tbt_sink_free(tbt_sink *s) {
  if (s->z) {
    deflateEnd(s->z);
    tbt_free(s->z);
  }
  tbt_free(s->zout);
  if (!s->out) tbt_free(s->buf);   /* a buffer sink's is the end of *out */
  s->z = NULL;
  s->zout = NULL;
  s->buf = NULL;
  s->len = s->cap = 0;
}

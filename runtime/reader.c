/*
** reader.c: reading TFRecord files (event files) back, verifying both checksums of every record.
**
** The reader keeps the offset of the next record. A record cut short at the end of the file is
** TBT_ETRUNCATED and the offset stays at its start, so a later call, after the writer appended
** the rest, reads it whole: the reader can follow a file that is being written.
*/
#include "tbtrace.h"

#include "alloc.h"
#include "record.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* Larger records are treated as corrupt rather than allocated: no event comes near this. */
#define MAX_RECORD (1u << 30)

struct tbt_reader {
  FILE *f;
  uint64_t offset;      /* where the next record starts */
  uint8_t *buf;
  size_t cap;
  int failed;           /* a corrupt record stops the reader: the code to repeat */
  int need_seek;        /* the stream is not at offset (after a short read) */
  char error[256];
};

int tbt_reader_open(tbt_reader **out, const char *path) {
  if (!out) return TBT_EINVAL;
  *out = NULL;
  if (!path || !*path) return TBT_EINVAL;
  tbt_reader *r = tbt_calloc(1, sizeof *r);
  if (!r) return TBT_ENOMEM;
  r->f = fopen(path, "rbe");
  int rc = r->f ? 0 : -errno;
  struct stat st;
  /* A directory opens, and would only fail at the first read: refuse it here. */
  if (!rc && fstat(fileno(r->f), &st) == 0 && S_ISDIR(st.st_mode)) rc = -EISDIR;
  if (rc) {
    if (r->f) fclose(r->f);
    tbt_free(r);
    return rc;
  }
  *out = r;
  return 0;
}

void tbt_reader_close(tbt_reader *r) {
  if (!r) return;
  if (r->f) fclose(r->f);
  tbt_free(r->buf);
  tbt_free(r);
}

const char *tbt_reader_error(const tbt_reader *r) {
  return r ? r->error : "no reader";
}

/* Reads exactly n bytes at the current position; returns how many were there. */
static size_t read_some(tbt_reader *r, void *dst, size_t n) {
  size_t got = fread(dst, 1, n, r->f);
  return got;
}

static int fail(tbt_reader *r, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(tbt_reader *r, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->error, sizeof r->error, fmt, ap);
  va_end(ap);
  if (code == TBT_ECORRUPT) r->failed = code;
  r->need_seek = 1;   /* whatever was read, the next call starts again at offset */
  return code;
}

/* Whether a whole record starts at pos, whose header (both its fields checked) is hdr: 1 yes, 0 no,
** negative errno on a read error. A record cut short at the end of the file counts as one: the
** reader resumes there and reports it as truncated. */
static int record_at(tbt_reader *r, uint64_t pos, const uint8_t *hdr) {
  uint64_t n = tbt_get_le64(hdr);
  if (n > MAX_RECORD) return 0;
  size_t need = (size_t)n + TBT_RECORD_FOOTER;
  struct stat st;
  if (fstat(fileno(r->f), &st) == 0 && S_ISREG(st.st_mode) &&
      (uint64_t)st.st_size < pos + TBT_RECORD_HEADER + need)
    return 1;
  if (need > r->cap) {
    uint8_t *b = tbt_realloc(r->buf, need);
    if (!b) return 0;
    r->buf = b;
    r->cap = need;
  }
  if (fseeko(r->f, (off_t)(pos + TBT_RECORD_HEADER), SEEK_SET) != 0) return -errno;
  size_t got = fread(r->buf, 1, need, r->f);
  if (ferror(r->f)) return -EIO;
  if (got < need) return 1;
  return tbt_crc32c_mask(tbt_crc32c(0, r->buf, (size_t)n)) == tbt_get_le32(r->buf + n);
}

#define SKIP_WINDOW 65536

int tbt_reader_skip(tbt_reader *r, uint64_t *next) {
  if (!r) return TBT_EINVAL;
  uint8_t *win = tbt_malloc(SKIP_WINDOW);
  if (!win) return TBT_ENOMEM;
  uint64_t pos = r->offset + 1;
  int rc;
  for (;;) {
    clearerr(r->f);
    if (fseeko(r->f, (off_t)pos, SEEK_SET) != 0) {
      rc = -errno;
      break;
    }
    size_t got = fread(win, 1, SKIP_WINDOW, r->f);
    if (ferror(r->f)) {
      rc = -EIO;
      break;
    }
    size_t i = 0;
    int found = 0;
    for (; i + TBT_RECORD_HEADER <= got; i++) {
      if (tbt_crc32c_mask(tbt_crc32c(0, win + i, 8)) != tbt_get_le32(win + i + 8)) continue;
      int ok = record_at(r, pos + i, win + i);
      if (ok < 0) {
        rc = ok;
        goto out;
      }
      if (ok) {
        found = 1;
        break;
      }
    }
    if (found) {
      pos += i;
      rc = 0;
      break;
    }
    if (got < SKIP_WINDOW) {   /* the last bytes hold no header: the end */
      pos += got;
      struct stat st;   /* skipping from the end stays there */
      if (got == 0 && fstat(fileno(r->f), &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size < pos)
        pos = (uint64_t)st.st_size;
      rc = TBT_EOF;
      break;
    }
    pos += i;   /* the next window starts where a header could still begin */
  }
out:
  tbt_free(win);
  if (rc == 0 || rc == TBT_EOF) {
    r->offset = pos;
    r->failed = 0;
    r->error[0] = '\0';
    if (next) *next = pos;
  }
  r->need_seek = 1;
  return rc;
}

int tbt_reader_next(tbt_reader *r, const uint8_t **data, size_t *len, uint64_t *offset) {
  if (!r || !data || !len) return TBT_EINVAL;
  uint64_t start = r->offset;
  if (offset) *offset = start;
  if (r->failed) return r->failed;
  clearerr(r->f);
  if (r->need_seek) {
    if (fseeko(r->f, (off_t)start, SEEK_SET) != 0) {
      int e = errno;
      return fail(r, -e, "cannot seek to offset %" PRIu64 ": %s", start, strerror(e));
    }
    r->need_seek = 0;
  }

  uint8_t header[TBT_RECORD_HEADER];
  size_t got = read_some(r, header, sizeof header);
  if (ferror(r->f)) return fail(r, -EIO, "read error at offset %" PRIu64, start);
  if (got < sizeof header) r->need_seek = 1;
  if (got == 0) {
    r->error[0] = '\0';
    return TBT_EOF;
  }
  if (got < sizeof header)
    return fail(r, TBT_ETRUNCATED, "truncated record at offset %" PRIu64 ": header needs %zu bytes, %zu left",
                start, sizeof header, got);
  uint64_t n = tbt_get_le64(header);
  uint32_t stored = tbt_get_le32(header + 8);
  if (tbt_crc32c_mask(tbt_crc32c(0, header, 8)) != stored)
    return fail(r, TBT_ECORRUPT, "length checksum mismatch in record at offset %" PRIu64, start);
  if (n > MAX_RECORD)
    return fail(r, TBT_ECORRUPT, "record at offset %" PRIu64 " claims %" PRIu64 " bytes", start, n);

  size_t need = (size_t)n + TBT_RECORD_FOOTER;
  if (need > r->cap) {
    /* Allocate only for bytes the file has: a short file claiming a huge record is truncated,
    ** and must not cost (or fail) an allocation of the size it claims. */
    struct stat st;
    if (fstat(fileno(r->f), &st) == 0 && S_ISREG(st.st_mode) &&
        (uint64_t)st.st_size < start + TBT_RECORD_HEADER + need) {
      uint64_t have = (uint64_t)st.st_size > start ? (uint64_t)st.st_size - start : 0;
      return fail(r, TBT_ETRUNCATED, "truncated record at offset %" PRIu64 ": need %zu bytes, %" PRIu64 " left",
                  start, need + TBT_RECORD_HEADER, have);
    }
    uint8_t *b = tbt_realloc(r->buf, need);
    if (!b) return fail(r, TBT_ENOMEM, "out of memory for a record of %" PRIu64 " bytes", n);
    r->buf = b;
    r->cap = need;
  }
  got = read_some(r, r->buf, need);
  if (got < need) r->need_seek = 1;
  if (ferror(r->f)) return fail(r, -EIO, "read error at offset %" PRIu64, start + TBT_RECORD_HEADER);
  if (got < need)
    return fail(r, TBT_ETRUNCATED, "truncated record at offset %" PRIu64 ": need %zu bytes, %zu left",
                start, need + TBT_RECORD_HEADER, got + TBT_RECORD_HEADER);
  if (tbt_crc32c_mask(tbt_crc32c(0, r->buf, (size_t)n)) != tbt_get_le32(r->buf + n))
    return fail(r, TBT_ECORRUPT, "data checksum mismatch in record at offset %" PRIu64, start);

  r->offset = start + TBT_RECORD_HEADER + need;
  r->error[0] = '\0';
  *data = r->buf;
  *len = (size_t)n;
  return 0;
}

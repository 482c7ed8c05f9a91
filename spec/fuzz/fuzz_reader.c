/*
** fuzz_reader.c: libFuzzer target for the event-file reader and the JSON rendering of
** `tbtrace cat`.
**
** The input is an event file. It is written to an in-memory file (memfd) and read with
** tbt_reader_*, twice: whole, and again while it grows in a few appends, the way a reader
** follows a file being written. Both reads are checked against a framing model written here
** (its own CRC-32C table): the same records at the same offsets, the same final code at the
** offset where the bad record starts, and that code repeated by a further call. Every record
** that reads back goes through tbt_event_to_json, from a buffer of its exact size so ASan sees
** any read past it; the result must be one well-formed JSON object in valid UTF-8. No
** allocation may be much larger than the input.
**
** Random bytes almost never carry valid checksums, so a custom mutator also mutates inside one
** record and frames it again, or repairs every checksum after a plain mutation. Inputs stay
** plain event files: a crash input can be fed to `tbtrace cat` as it is.
*/
#define _GNU_SOURCE   /* memfd_create */
#include "tbtrace.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

/* The reader's limit on one record (runtime/reader.c): larger lengths are corrupt, not short. */
#define MAX_RECORD ((uint64_t)1 << 30)
#define HEADER 12
#define FOOTER 4

#define REQUIRE(cond)                                                                   \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      fprintf(stderr, "fuzz_reader: %s:%d: invariant failed: %s\n", __FILE__, __LINE__, \
              #cond);                                                                   \
      abort();                                                                          \
    }                                                                                   \
  } while (0)

/* ------------------------------------------------------------------ the model */

static uint32_t crc_table[256];

static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    crc_table[i] = c;
  }
}

static uint32_t masked_crc(const uint8_t *p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) c = crc_table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  c = ~c;
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

static uint64_t le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* What reading f[0..n) must give: the records, then the final code at its offset. */
typedef struct model {
  size_t nrec;
  uint64_t *off;
  uint64_t *len;
  int code;
  uint64_t at;
} model;

static void model_build(model *m, const uint8_t *f, size_t n) {
  size_t cap = n / (HEADER + FOOTER) + 1;
  m->off = malloc(cap * sizeof *m->off);
  m->len = malloc(cap * sizeof *m->len);
  REQUIRE(m->off && m->len);
  m->nrec = 0;
  uint64_t pos = 0;
  for (;;) {
    m->at = pos;
    size_t left = n - (size_t)pos;
    if (left == 0) {
      m->code = TBT_EOF;
      return;
    }
    if (left < HEADER) {
      m->code = TBT_ETRUNCATED;
      return;
    }
    uint64_t len = le64(f + pos);
    if (masked_crc(f + pos, 8) != le32(f + pos + 8) || len > MAX_RECORD) {
      m->code = TBT_ECORRUPT;
      return;
    }
    if (left - HEADER < len + FOOTER) {
      m->code = TBT_ETRUNCATED;
      return;
    }
    const uint8_t *data = f + pos + HEADER;
    if (masked_crc(data, (size_t)len) != le32(data + len)) {
      m->code = TBT_ECORRUPT;
      return;
    }
    REQUIRE(m->nrec < cap);
    m->off[m->nrec] = pos;
    m->len[m->nrec] = len;
    m->nrec++;
    pos += HEADER + len + FOOTER;
  }
}

static void model_free(model *m) {
  free(m->off);
  free(m->len);
}

/* ------------------------------------------------------------------ JSON check */

typedef struct jscan {
  const char *p, *end;
} jscan;

static void ws(jscan *s) {
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\t' || *s->p == '\r')) s->p++;
}

static int lit(jscan *s, const char *w) {
  size_t n = strlen(w);
  if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n) != 0) return 0;
  s->p += n;
  return 1;
}

/* One UTF-8 sequence, well-formed (no overlongs, surrogates or code points past U+10FFFF). */
static int utf8_char(jscan *s) {
  const unsigned char *p = (const unsigned char *)s->p;
  size_t left = (size_t)(s->end - s->p);
  unsigned c = p[0];
  size_t k;
  unsigned cp;
  if (c < 0x80) {
    s->p++;
    return 1;
  }
  if (c >= 0xC2 && c <= 0xDF) k = 1, cp = c & 0x1F;
  else if (c >= 0xE0 && c <= 0xEF) k = 2, cp = c & 0x0F;
  else if (c >= 0xF0 && c <= 0xF4) k = 3, cp = c & 0x07;
  else return 0;
  if (left < k + 1) return 0;
  for (size_t i = 1; i <= k; i++) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    cp = cp << 6 | (p[i] & 0x3F);
  }
  if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10FFFF ||
      (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  s->p += k + 1;
  return 1;
}

static int jstring(jscan *s) {
  if (s->p >= s->end || *s->p != '"') return 0;
  s->p++;
  while (s->p < s->end) {
    unsigned char c = (unsigned char)*s->p;
    if (c == '"') {
      s->p++;
      return 1;
    }
    if (c < 0x20) return 0;
    if (c == '\\') {
      s->p++;
      if (s->p >= s->end) return 0;
      char e = *s->p++;
      if (e == 'u') {
        for (int i = 0; i < 4; i++, s->p++)
          if (s->p >= s->end || !strchr("0123456789abcdefABCDEF", *s->p) || !*s->p) return 0;
      } else if (!strchr("\"\\/bfnrt", e) || !e) {
        return 0;
      }
      continue;
    }
    if (!utf8_char(s)) return 0;
  }
  return 0;
}

static int digits(jscan *s) {
  const char *b = s->p;
  while (s->p < s->end && *s->p >= '0' && *s->p <= '9') s->p++;
  return s->p > b;
}

static int jnumber(jscan *s) {
  if (s->p < s->end && *s->p == '-') s->p++;
  if (s->p < s->end && *s->p == '0') s->p++;
  else if (!digits(s)) return 0;
  if (s->p < s->end && *s->p == '.') {
    s->p++;
    if (!digits(s)) return 0;
  }
  if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
    s->p++;
    if (s->p < s->end && (*s->p == '+' || *s->p == '-')) s->p++;
    if (!digits(s)) return 0;
  }
  return 1;
}

static int jvalue(jscan *s, int depth) {
  if (depth > 64) return 0;
  ws(s);
  if (s->p >= s->end) return 0;
  switch (*s->p) {
    case '{':
    case '[': {
      char close = *s->p == '{' ? '}' : ']';
      int obj = close == '}';
      s->p++;
      ws(s);
      if (s->p < s->end && *s->p == close) {
        s->p++;
        return 1;
      }
      for (;;) {
        if (obj) {
          ws(s);
          if (!jstring(s)) return 0;
          ws(s);
          if (s->p >= s->end || *s->p++ != ':') return 0;
        }
        if (!jvalue(s, depth + 1)) return 0;
        ws(s);
        if (s->p >= s->end) return 0;
        if (*s->p == ',') {
          s->p++;
          continue;
        }
        if (*s->p++ != close) return 0;
        return 1;
      }
    }
    case '"': return jstring(s);
    case 't': return lit(s, "true");
    case 'f': return lit(s, "false");
    case 'n': return lit(s, "null");
    default: return jnumber(s);
  }
}

static void check_json(const char *json, size_t n) {
  REQUIRE(json != NULL);
  REQUIRE(json[n] == '\0');
  REQUIRE(strlen(json) == n);
  REQUIRE(n > 0 && json[0] == '{');
  jscan s = {json, json + n};
  REQUIRE(jvalue(&s, 0));
  ws(&s);
  REQUIRE(s.p == s.end);
}

/* ------------------------------------------------------------------ allocations */

/* No allocation may be far larger than the input: a few bytes that claim a huge record must
** not cost memory of that size. Decoding and rendering stay well within 16 bytes per input
** byte (a varint byte becomes an int64, a byte of text at most a 6-byte escape). */
static size_t g_alloc_limit;

static void *bounded_realloc(void *ud, void *p, size_t n) {
  (void)ud;
  if (n == 0) {
    free(p);
    return NULL;
  }
  if (n > g_alloc_limit) {
    fprintf(stderr, "fuzz_reader: an allocation of %zu bytes (limit %zu for this input)\n", n,
            g_alloc_limit);
    abort();
  }
  return realloc(p, n);
}

/* ------------------------------------------------------------------ reading */

static int g_fd = -1;         /* the memfd (or temp file) the input goes into */
static char g_path[64];
static int g_lowest_fd;       /* the lowest free descriptor when the input starts */

static void file_set(const uint8_t *data, size_t n) {
  REQUIRE(ftruncate(g_fd, 0) == 0);
  if (n) REQUIRE(pwrite(g_fd, data, n, 0) == (ssize_t)n);
}

static void file_append(const uint8_t *data, size_t from, size_t to) {
  if (to > from) REQUIRE(pwrite(g_fd, data + from, to - from, (off_t)from) == (ssize_t)(to - from));
}

static void render(const uint8_t *rec, size_t len) {
  /* An exact-size copy: the reader's buffer has the checksum after the data. */
  uint8_t *copy = malloc(len ? len : 1);
  REQUIRE(copy);
  if (len) memcpy(copy, rec, len);
  char *json = (char *)1;   /* junk, to see that a failure resets it */
  size_t jn = 12345;
  int rc = tbt_event_to_json(copy, len, &json, &jn);
  if (rc == 0) {
    check_json(json, jn);
    tbt_free(json);
  } else {
    REQUIRE(rc == TBT_ECORRUPT || rc == TBT_ENOMEM);
    REQUIRE(json == NULL);
  }
  free(copy);
}

/* Reads on from where r is until it stops, checking against m; *next counts records so far. */
static int read_on(tbt_reader *r, const model *m, const uint8_t *input, size_t *next, int json) {
  for (;;) {
    const uint8_t *data = NULL;
    size_t len = 0;
    uint64_t off = UINT64_MAX;
    int rc = tbt_reader_next(r, &data, &len, &off);
    if (rc != 0) {
      REQUIRE(*next == m->nrec);
      REQUIRE(rc == m->code);
      REQUIRE(off == m->at);
      const char *err = tbt_reader_error(r);
      REQUIRE(err && strlen(err) < 256);
      if (rc != TBT_EOF) REQUIRE(err[0] != '\0');
      return rc;
    }
    REQUIRE(*next < m->nrec);
    REQUIRE(off == m->off[*next]);
    REQUIRE(len == m->len[*next]);
    REQUIRE(len == 0 || memcmp(data, input + off + HEADER, len) == 0);
    if (json) render(data, len);
    (*next)++;
  }
}

static uint32_t rng_next(uint32_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 17;
  *s ^= *s << 5;
  return *s;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  crc_init();
  tbt_set_allocator(bounded_realloc, NULL);
  g_fd = memfd_create("tbt-fuzz-reader", MFD_CLOEXEC);
  if (g_fd >= 0) {
    snprintf(g_path, sizeof g_path, "/proc/self/fd/%d", g_fd);
  } else {
    /* No memfd: a temporary file, unlinked at once so nothing is left behind. */
    const char *tmp = getenv("TMPDIR");
    snprintf(g_path, sizeof g_path, "%.40s/tbt-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    g_fd = mkstemp(g_path);
    REQUIRE(g_fd >= 0);
    char keep[64];
    snprintf(keep, sizeof keep, "/proc/self/fd/%d", g_fd);
    unlink(g_path);
    memcpy(g_path, keep, sizeof keep);
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t size) {
  g_alloc_limit = 16 * size + 65536;
  g_lowest_fd = dup(0);
  REQUIRE(g_lowest_fd >= 0);
  close(g_lowest_fd);
  model whole;
  model_build(&whole, input, size);

  /* The whole file at once, rendering every record. */
  file_set(input, size);
  tbt_reader *r;
  REQUIRE(tbt_reader_open(&r, g_path) == 0);
  size_t next = 0;
  int rc = read_on(r, &whole, input, &next, 1);
  /* The final answer is stable: asking again gives the same code at the same offset. */
  REQUIRE(read_on(r, &whole, input, &next, 0) == rc);
  tbt_reader_close(r);

  /* The same bytes appended in up to four pieces, reading to the end after each. */
  uint32_t seed = masked_crc(input, size < 64 ? size : 64) | 1;
  int pieces = 1 + (int)(rng_next(&seed) % 4);
  size_t cut[5] = {0};
  for (int i = 1; i < pieces; i++) cut[i] = size ? rng_next(&seed) % (size + 1) : 0;
  cut[pieces] = size;
  for (int i = 1; i < pieces; i++)   /* sort the cut points */
    for (int j = i; j > 1 && cut[j] < cut[j - 1]; j--) {
      size_t t = cut[j];
      cut[j] = cut[j - 1];
      cut[j - 1] = t;
    }
  REQUIRE(ftruncate(g_fd, 0) == 0);
  REQUIRE(tbt_reader_open(&r, g_path) == 0);
  next = 0;
  for (int i = 1; i <= pieces; i++) {
    file_append(input, cut[i - 1], cut[i]);
    model part;
    model_build(&part, input, cut[i]);
    read_on(r, &part, input, &next, 0);
    model_free(&part);
  }
  REQUIRE(next == whole.nrec);
  tbt_reader_close(r);
  model_free(&whole);

  /* No descriptor outlives the input. */
  int probe = dup(0);
  REQUIRE(probe == g_lowest_fd);
  close(probe);
  return 0;
}

/* ------------------------------------------------------------------ mutator */

/* Rewrites every checksum that the framing reaches, leaving lengths as they are. */
static void fix_checksums(uint8_t *d, size_t n) {
  size_t pos = 0;
  while (n - pos >= HEADER) {
    uint64_t len = le64(d + pos);
    put_le32(d + pos + 8, masked_crc(d + pos, 8));
    if (len > n - pos - HEADER || n - pos - HEADER - len < FOOTER) return;
    put_le32(d + pos + HEADER + len, masked_crc(d + pos + HEADER, (size_t)len));
    pos += HEADER + (size_t)len + FOOTER;
  }
}

size_t LLVMFuzzerCustomMutator(uint8_t *d, size_t size, size_t max_size, unsigned int seed) {
  uint32_t s = seed | 1;
  uint32_t how = rng_next(&s) % 10;
  if (how < 3) return LLVMFuzzerMutate(d, size, max_size);
  if (how < 5) {
    size = LLVMFuzzerMutate(d, size, max_size);
    fix_checksums(d, size);
    return size;
  }
  /* Find the whole records, then mutate the payload of one and frame it again. */
  enum { MAXREC = 256 };
  size_t offs[MAXREC], lens[MAXREC], nrec = 0, pos = 0;
  while (nrec < MAXREC && size - pos >= HEADER + FOOTER) {
    uint64_t len = le64(d + pos);
    if (len > size - pos - HEADER - FOOTER) break;
    offs[nrec] = pos;
    lens[nrec++] = (size_t)len;
    pos += HEADER + (size_t)len + FOOTER;
  }
  if (nrec == 0) {
    size = LLVMFuzzerMutate(d, size, max_size);
    fix_checksums(d, size);
    return size;
  }
  size_t i = rng_next(&s) % nrec;
  size_t off = offs[i], len = lens[i];
  size_t rest = size - (off + HEADER + len + FOOTER);
  if (how == 9 && size + HEADER + len + FOOTER <= max_size) {
    /* Duplicate the record: files hold many events of a kind. */
    memmove(d + off + HEADER + len + FOOTER, d + off, size - off);
    return size + HEADER + len + FOOTER;
  }
  if (max_size < off + HEADER + FOOTER + rest) return size;
  size_t room = max_size - off - HEADER - FOOTER - rest;
  uint8_t *payload = malloc(room ? room : 1);
  uint8_t *tail = malloc(rest ? rest : 1);
  if (!payload || !tail) {
    free(payload);
    free(tail);
    return size;
  }
  memcpy(payload, d + off + HEADER, len < room ? len : room);
  memcpy(tail, d + off + HEADER + len + FOOTER, rest);
  size_t nlen = room ? LLVMFuzzerMutate(payload, len < room ? len : room, room) : 0;
  uint8_t *h = d + off;
  for (int k = 0; k < 8; k++) h[k] = (uint8_t)((uint64_t)nlen >> (8 * k));
  put_le32(h + 8, masked_crc(h, 8));
  memcpy(h + HEADER, payload, nlen);
  put_le32(h + HEADER + nlen, masked_crc(payload, nlen));
  memcpy(h + HEADER + nlen + FOOTER, tail, rest);
  free(payload);
  free(tail);
  return off + HEADER + nlen + FOOTER + rest;
}

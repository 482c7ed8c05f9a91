/*
** encode_chrome_json.c: a trace model as Chrome trace event JSON (the "JSON Object Format" read
** by Perfetto UI and chrome://tracing), plain or gzip-compressed.
**
**   {"traceEvents":[
**   {"ph":"M","pid":P,"tid":0,"name":"process_name","args":{"name":"<process>"}},
**   {"ph":"M","pid":P,"tid":T,"name":"thread_name","args":{"name":"<thread>"}},      named threads
**   {"ph":"X","pid":P,"tid":T,"ts":12.5,"dur":3.25,"name":"load","cat":"io"},       spans
**   {"ph":"X",...,"name":"step","args":{"unfinished":true}},                         still open
**   {"ph":"i","s":"t","pid":P,"tid":T,"ts":20,"name":"mark","cat":"io"},             instants
**   {"ph":"C","pid":P,"tid":T,"ts":21,"name":"queue","args":{"value":3.5}}           counters
**   ],
**   "displayTimeUnit":"ns",
**   "otherData":{"producer":"tbtrace <v>","host":"<host>","trace_start_ns":"<epoch ns>",
**                "trace_end_ns":"<epoch ns>","dropped":<n>}}
**
** ts and dur are microseconds with nanosecond precision, written as the shortest decimal. ts is
** relative to the trace start (otherData.trace_start_ns, a string: epoch nanoseconds do not fit
** a double): absolute epoch microseconds with three decimals would need more digits than a
** double holds, and viewers parse ts as a double. Span names are the span's own name (viewers
** nest spans by time); "cat" is omitted for spans without a category. Events of a thread are
** merged by time (spans, then instants, then counters on ties), threads in model order.
** tid is the OS thread id; a Lua coroutine recorded on a thread gets its own (tbt_track_ids), so
** its spans, which interleave with the thread's, are a row of their own.
** Non-finite counter values are written as null (JSON has no NaN). Strings are escaped per
** RFC 8259; bytes that are not well-formed UTF-8 become \ufffd, so the output is always valid JSON.
**
** The JSON is produced in chunks handed to a sink, so the gzip variant streams into the file
** without holding the whole document. Numbers are formatted by hand: printf per field would cost
** more than everything else together.
*/
#include "encoders.h"

#include "alloc.h"
#include "fs.h"
#include "tbtrace.h"
#include "utf8.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ----------------------------------------------------------------- escaping */

size_t tbt_json_escape(char *dst, const char *src, size_t len) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *s = (const unsigned char *)src;
  char *d = dst;
  size_t i = 0;
  while (i < len) {
    unsigned c = s[i];
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      *d++ = (char)c;
      i++;
      continue;
    }
    if (c >= 0x80) {
      size_t k = tbt_utf8_seq(s + i, len - i);
      if (k) {
        memcpy(d, s + i, k);
        d += k;
        i += k;
      } else {
        memcpy(d, "\\ufffd", 6);
        d += 6;
        i++;
      }
      continue;
    }
    *d++ = '\\';
    switch (c) {
      case '"': *d++ = '"'; break;
      case '\\': *d++ = '\\'; break;
      case '\b': *d++ = 'b'; break;
      case '\f': *d++ = 'f'; break;
      case '\n': *d++ = 'n'; break;
      case '\r': *d++ = 'r'; break;
      case '\t': *d++ = 't'; break;
      default:
        memcpy(d, "u00", 3);
        d[3] = hex[c >> 4];
        d[4] = hex[c & 15];
        d += 5;
    }
    i++;
  }
  return (size_t)(d - dst);
}

/* ----------------------------------------------------------------- numbers */

static const char digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* Decimal of v into dst (at most 20 bytes); returns the length. */
static size_t put_u64(char *dst, uint64_t v) {
  char tmp[20];
  char *p = tmp + sizeof tmp;
  while (v >= 100) {
    unsigned r = (unsigned)(v % 100);
    v /= 100;
    p -= 2;
    memcpy(p, digit_pairs + 2 * r, 2);
  }
  if (v >= 10) {
    p -= 2;
    memcpy(p, digit_pairs + 2 * v, 2);
  } else {
    *--p = (char)('0' + v);
  }
  size_t n = (size_t)(tmp + sizeof tmp - p);
  memcpy(dst, p, n);
  return n;
}

size_t tbt_format_micros(char *dst, int64_t ns) {
  char *d = dst;
  uint64_t u;
  if (ns < 0) {
    *d++ = '-';
    u = (uint64_t)0 - (uint64_t)ns;
  } else {
    u = (uint64_t)ns;
  }
  d += put_u64(d, u / 1000);
  unsigned f = (unsigned)(u % 1000);
  if (f) {
    d[0] = '.';
    d[1] = (char)('0' + f / 100);
    d[2] = (char)('0' + f / 10 % 10);
    d[3] = (char)('0' + f % 10);
    d += f % 100 == 0 ? 2 : f % 10 == 0 ? 3 : 4;
  }
  return (size_t)(d - dst);
}

/* Shortest "%.*g" that reads back as v; "null" for NaN and infinities. */
static size_t put_double(char *dst, double v) {
  if (!isfinite(v)) {
    memcpy(dst, "null", 4);
    return 4;
  }
  char buf[40];
  int n = 0;
  for (int prec = 15; prec <= 17; prec++) {
    n = snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (strtod(buf, NULL) == v) break;
  }
  memcpy(dst, buf, (size_t)n);
  return (size_t)n;
}

/* ----------------------------------------------------------------- output */

enum { CHUNK = 1 << 18 };

/* The output: chunks handed to a sink, or (direct) one growing buffer written in place. */
typedef struct jw {
  char *buf;
  size_t len, cap;
  tbt_sink_fn sink;
  void *ud;
  tbt_buf *direct;
  int rc;
} jw;

static int jw_flush(jw *w) {
  if (w->direct) {
    w->direct->len = w->len;
    return w->rc;
  }
  if (w->len && !w->rc) w->rc = w->sink(w->ud, w->buf, w->len);
  w->len = 0;
  return w->rc;
}

/* Room for n more bytes at w->buf + w->len (flushing, or growing for one big item). */
static char *jw_room(jw *w, size_t n) {
  if (w->cap - w->len >= n) return w->buf + w->len;
  if (w->direct) {
    w->direct->len = w->len;
    if (tbt_buf_reserve(w->direct, n)) {
      w->rc = TBT_ENOMEM;
      return NULL;
    }
    w->buf = (char *)w->direct->data;
    w->cap = w->direct->cap;
    return w->buf + w->len;
  }
  if (jw_flush(w)) return NULL;
  if (w->cap < n) {
    char *b = tbt_realloc(w->buf, n);
    if (!b) {
      w->rc = TBT_ENOMEM;
      return NULL;
    }
    w->buf = b;
    w->cap = n;
  }
  return w->buf;
}

static int jw_str(jw *w, const char *s, size_t n) {
  char *p = jw_room(w, n);
  if (!p) return w->rc;
  memcpy(p, s, n);
  w->len += n;
  return 0;
}

/* Escaped, quoted names, made once per name. */
typedef struct names_cache {
  uint32_t *off;       /* UINT32_MAX: not made yet */
  uint32_t *len;
  tbt_buf arena;
} names_cache;

static const char *name_at(const tbt_trace_model *m, uint32_t idx) {
  return idx < m->nnames && m->names[idx] ? m->names[idx] : "";
}

/* The quoted JSON string of name idx; NULL when out of memory. */
static const char *cached_name(names_cache *c, const tbt_trace_model *m, uint32_t idx,
                               size_t *len) {
  if (idx >= m->nnames) idx = 0;
  if (m->nnames == 0) {
    *len = 2;
    return "\"\"";
  }
  if (c->off[idx] == UINT32_MAX) {
    const char *s = name_at(m, idx);
    size_t n = strlen(s);
    if (n > (UINT32_MAX - c->arena.len) / 6 - 2) return NULL;
    if (tbt_buf_reserve(&c->arena, 6 * n + 2)) return NULL;
    char *d = (char *)c->arena.data + c->arena.len;
    d[0] = '"';
    size_t e = tbt_json_escape(d + 1, s, n);
    d[e + 1] = '"';
    c->off[idx] = (uint32_t)c->arena.len;
    c->len[idx] = (uint32_t)(e + 2);
    c->arena.len += e + 2;
  }
  *len = c->len[idx];
  return (const char *)c->arena.data + c->off[idx];
}

/* An event's quoted name and category (NULL for none). Both entries are made before either
** pointer is taken, since making one can move the arena under the other. */
static int name_and_cat(names_cache *c, const tbt_trace_model *m, uint32_t name_idx,
                        uint32_t cat_idx, const char **name, size_t *nl, const char **cat,
                        size_t *cl) {
  *cat = NULL;
  *cl = 0;
  if (cat_idx && !cached_name(c, m, cat_idx, cl)) return TBT_ENOMEM;
  if (!(*name = cached_name(c, m, name_idx, nl))) return TBT_ENOMEM;
  if (cat_idx) *cat = cached_name(c, m, cat_idx, cl);   /* made above: no allocation */
  return 0;
}

/* A quoted escaped string of arbitrary text. */
static int jw_quoted(jw *w, const char *s) {
  size_t n = strlen(s);
  if (n > (SIZE_MAX - 2) / 6) return w->rc = TBT_ENOMEM;
  char *p = jw_room(w, 6 * n + 2);
  if (!p) return w->rc;
  p[0] = '"';
  size_t e = tbt_json_escape(p + 1, s, n);
  p[e + 1] = '"';
  w->len += e + 2;
  return 0;
}

typedef struct prefixes {
  char x[96], i[96], c[96];
  size_t nx, ni, nc;
} prefixes;

static int write_metadata(jw *w, const tbt_trace_model *m, const tbt_chrome_options *o,
                          const uint64_t *ids, int *first) {
  char head[192];
  if (o->process_name) {
    int n = snprintf(head, sizeof head, "%s{\"ph\":\"M\",\"pid\":%ld,\"tid\":0,\"name\":\"process_name\",\"args\":{\"name\":",
                     *first ? "\n" : ",\n", o->pid);
    *first = 0;
    if (jw_str(w, head, (size_t)n) || jw_quoted(w, o->process_name) || jw_str(w, "}}", 2)) return w->rc;
  }
  for (size_t t = 0; t < m->nthreads; t++) {
    const char *tname = name_at(m, m->threads[t].name);
    if (!*tname) continue;
    int n = snprintf(head, sizeof head, "%s{\"ph\":\"M\",\"pid\":%ld,\"tid\":%" PRIu64 ",\"name\":\"thread_name\",\"args\":{\"name\":",
                     *first ? "\n" : ",\n", o->pid, ids[t]);
    *first = 0;
    if (jw_str(w, head, (size_t)n) || jw_quoted(w, tname) || jw_str(w, "}}", 2)) return w->rc;
  }
  return 0;
}

/* Starts an event at p: the separator from the previous one, then the event's fixed prefix. */
static inline char *event_start(char *p, int *first, const char *prefix, size_t n) {
  if (*first) {
    *p++ = '\n';
    *first = 0;
  } else {
    *p++ = ',';
    *p++ = '\n';
  }
  memcpy(p, prefix, n);
  return p + n;
}

/* ,"name":<name>[,"cat":<cat>], both already quoted and escaped. */
static inline char *put_name_cat(char *q, const char *name, size_t nl, const char *cat, size_t cl) {
  memcpy(q, ",\"name\":", 8);
  memcpy(q + 8, name, nl);
  q += 8 + nl;
  if (cat) {
    memcpy(q, ",\"cat\":", 7);
    memcpy(q + 7, cat, cl);
    q += 7 + cl;
  }
  return q;
}

static int write_thread(jw *w, const tbt_trace_model *m, const tbt_model_thread *th,
                        const prefixes *px, names_cache *nc, int *first) {
  size_t a = 0, b = 0, c = 0;
  int64_t base = m->start_ns;
  while (a < th->nspans || b < th->ninstants || c < th->ncounters) {
    int64_t ta = a < th->nspans ? th->spans[a].start_ns : INT64_MAX;
    int64_t tb = b < th->ninstants ? th->instants[b].time_ns : INT64_MAX;
    int64_t tc = c < th->ncounters ? th->counters[c].time_ns : INT64_MAX;
    size_t nl, cl = 0;
    const char *name, *cat = NULL;
    if (a < th->nspans && ta <= tb && ta <= tc) {
      const tbt_model_span *s = &th->spans[a++];
      if (name_and_cat(nc, m, s->name, s->category, &name, &nl, &cat, &cl))
        return w->rc = TBT_ENOMEM;
      if (cl == 2) cat = NULL;
      int unf = (s->flags & TBT_SPAN_UNFINISHED) != 0;
      char *p = jw_room(w, px->nx + nl + cl + 128);
      if (!p) return w->rc;
      char *q = event_start(p, first, px->x, px->nx);
      q += tbt_format_micros(q, s->start_ns - base);
      memcpy(q, ",\"dur\":", 7);
      q += 7;
      q += tbt_format_micros(q, s->end_ns - s->start_ns);
      q = put_name_cat(q, name, nl, cat, cl);
      if (unf) {
        memcpy(q, ",\"args\":{\"unfinished\":true}", 27);
        q += 27;
      }
      *q++ = '}';
      w->len += (size_t)(q - p);
    } else if (b < th->ninstants && tb <= tc) {
      const tbt_model_instant *in = &th->instants[b++];
      if (name_and_cat(nc, m, in->name, in->category, &name, &nl, &cat, &cl))
        return w->rc = TBT_ENOMEM;
      if (cl == 2) cat = NULL;
      char *p = jw_room(w, px->ni + nl + cl + 64);
      if (!p) return w->rc;
      char *q = event_start(p, first, px->i, px->ni);
      q += tbt_format_micros(q, tb - base);
      q = put_name_cat(q, name, nl, cat, cl);
      *q++ = '}';
      w->len += (size_t)(q - p);
    } else {
      const tbt_model_counter *co = &th->counters[c++];
      name = cached_name(nc, m, co->name, &nl);
      if (!name) return w->rc = TBT_ENOMEM;
      char *p = jw_room(w, px->nc + nl + 128);
      if (!p) return w->rc;
      char *q = event_start(p, first, px->c, px->nc);
      q += tbt_format_micros(q, tc - base);
      q = put_name_cat(q, name, nl, NULL, 0);
      memcpy(q, ",\"args\":{\"value\":", 17);
      q += 17;
      q += put_double(q, co->value);
      memcpy(q, "}}", 2);
      q += 2;
      w->len += (size_t)(q - p);
    }
  }
  return 0;
}

/* An estimate of the document's size, to size a direct buffer once. */
static size_t estimate(const tbt_trace_model *m) {
  size_t *len = tbt_malloc((m->nnames ? m->nnames : 1) * sizeof *len);
  if (!len) return 0;
  for (size_t i = 0; i < m->nnames; i++) len[i] = strlen(name_at(m, (uint32_t)i));
  size_t n = 4096;
  for (size_t t = 0; t < m->nthreads; t++) {
    const tbt_model_thread *th = &m->threads[t];
    for (size_t i = 0; i < th->nspans; i++) {
      const tbt_model_span *s = &th->spans[i];
      n += 112 + (s->name < m->nnames ? len[s->name] : 0) +
           (s->category < m->nnames ? len[s->category] : 0);
    }
    n += th->ninstants * 112 + th->ncounters * 128;
  }
  tbt_free(len);
  return n;
}

static int write_document(jw *w, const tbt_trace_model *m, const tbt_chrome_options *o) {
  names_cache nc = {NULL, NULL, {0}};
  size_t nn = m->nnames ? m->nnames : 1;
  uint64_t *ids = NULL;
  nc.off = tbt_malloc(nn * sizeof *nc.off);
  nc.len = tbt_malloc(nn * sizeof *nc.len);
  if (!nc.off || !nc.len || tbt_track_ids(m, &ids)) {
    w->rc = TBT_ENOMEM;
    goto done;
  }
  memset(nc.off, 0xff, nn * sizeof *nc.off);

  int first = 1;
  if (jw_str(w, "{\"traceEvents\":[", 16) || write_metadata(w, m, o, ids, &first)) goto done;
  for (size_t t = 0; t < m->nthreads; t++) {
    const tbt_model_thread *th = &m->threads[t];
    prefixes px;
    px.nx = (size_t)snprintf(px.x, sizeof px.x, "{\"ph\":\"X\",\"pid\":%ld,\"tid\":%" PRIu64 ",\"ts\":",
                             o->pid, ids[t]);
    px.ni = (size_t)snprintf(px.i, sizeof px.i,
                             "{\"ph\":\"i\",\"s\":\"t\",\"pid\":%ld,\"tid\":%" PRIu64 ",\"ts\":", o->pid,
                             ids[t]);
    px.nc = (size_t)snprintf(px.c, sizeof px.c, "{\"ph\":\"C\",\"pid\":%ld,\"tid\":%" PRIu64 ",\"ts\":",
                             o->pid, ids[t]);
    if (write_thread(w, m, th, &px, &nc, &first)) goto done;
  }
  char tail[256];
  int n = snprintf(tail, sizeof tail,
                   "\n],\n\"displayTimeUnit\":\"ns\",\n\"otherData\":{\"producer\":\"tbtrace " TBT_VERSION
                   "\",\"host\":");
  if (jw_str(w, tail, (size_t)n) || jw_quoted(w, o->host ? o->host : "")) goto done;
  n = snprintf(tail, sizeof tail,
               ",\"trace_start_ns\":\"%" PRId64 "\",\"trace_end_ns\":\"%" PRId64 "\",\"dropped\":%" PRIu64
               "}}\n",
               m->start_ns, m->end_ns, m->dropped);
  if (jw_str(w, tail, (size_t)n)) goto done;
  jw_flush(w);

done:
  tbt_free(ids);
  tbt_free(nc.off);
  tbt_free(nc.len);
  tbt_buf_free(&nc.arena);
  return w->rc;
}

int tbt_chrome_json_write(const tbt_trace_model *m, const tbt_chrome_options *o, tbt_sink_fn sink,
                          void *ud) {
  if (!m || !o || !sink) return TBT_EINVAL;
  jw w = {NULL, 0, 0, sink, ud, NULL, 0};
  w.buf = tbt_malloc(CHUNK);
  if (!w.buf) return TBT_ENOMEM;
  w.cap = CHUNK;
  int rc = write_document(&w, m, o);
  tbt_free(w.buf);
  return rc;
}

int tbt_encode_chrome_json(const tbt_trace_model *m, const tbt_chrome_options *o, tbt_buf *out) {
  if (!m || !o || !out) return TBT_EINVAL;
  size_t start = out->len;
  if (tbt_buf_reserve(out, estimate(m))) return TBT_ENOMEM;
  jw w = {(char *)out->data, out->len, out->cap, NULL, NULL, out, 0};
  int rc = write_document(&w, m, o);
  if (rc) out->len = start;
  return rc;
}

/* ----------------------------------------------------------------- gzip */

typedef struct gz {
  z_stream zs;
  uint8_t *out;
  size_t cap;
  int fd;          /* >= 0: write compressed bytes there */
  tbt_buf *buf;    /* else append them here */
} gz;


static int gz_init(gz *g, int level) {
  memset(&g->zs, 0, sizeof g->zs);
  g->zs.zalloc = tbt_zalloc;
  g->zs.zfree = tbt_zfree;
  if (level < 0 || level > 9) level = 1;
  if (deflateInit2(&g->zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return TBT_ENOMEM;
  g->cap = 1 << 17;
  g->out = tbt_malloc(g->cap);
  if (!g->out) {
    deflateEnd(&g->zs);
    return TBT_ENOMEM;
  }
  return 0;
}

static int gz_emit(gz *g, size_t n) {
  if (!n) return 0;
  if (g->buf) return tbt_buf_append(g->buf, g->out, n);
  return tbt_write_all(g->fd, g->out, n, NULL);
}

/* Compresses data (flush = Z_FINISH at the end). */
static int gz_feed(gz *g, const void *data, size_t len, int flush) {
  const uint8_t *p = data;
  for (;;) {
    uInt chunk = len > (1u << 30) ? (1u << 30) : (uInt)len;
    g->zs.next_in = (Bytef *)p;
    g->zs.avail_in = chunk;
    int fl = chunk == len ? flush : Z_NO_FLUSH;
    int zr;
    do {
      g->zs.next_out = g->out;
      g->zs.avail_out = (uInt)g->cap;
      zr = deflate(&g->zs, fl);
      if (zr == Z_STREAM_ERROR) return TBT_ENOMEM;
      int rc = gz_emit(g, g->cap - g->zs.avail_out);
      if (rc) return rc;
    } while (g->zs.avail_out == 0 || (fl == Z_FINISH && zr != Z_STREAM_END));
    p += chunk;
    len -= chunk;
    if (!len) return 0;
  }
}

static void gz_end(gz *g) {
  deflateEnd(&g->zs);
  tbt_free(g->out);
}

int tbt_gzip(const void *data, size_t len, int level, tbt_buf *out) {
  if (!out || (!data && len)) return TBT_EINVAL;
  gz g;
  int rc = gz_init(&g, level);
  if (rc) return rc;
  g.fd = -1;
  g.buf = out;
  rc = gz_feed(&g, data, len, Z_FINISH);
  gz_end(&g);
  return rc;
}

static int gz_sink(void *ud, const void *data, size_t len) {
  return gz_feed(ud, data, len, Z_NO_FLUSH);
}

int tbt_chrome_json_gz_fd(const tbt_trace_model *m, const tbt_chrome_options *o, int level, int fd) {
  if (fd < 0) return TBT_EINVAL;
  gz g;
  int rc = gz_init(&g, level);
  if (rc) return rc;
  g.fd = fd;
  g.buf = NULL;
  rc = tbt_chrome_json_write(m, o, gz_sink, &g);
  if (!rc) rc = gz_feed(&g, "", 0, Z_FINISH);
  gz_end(&g);
  return rc;
}

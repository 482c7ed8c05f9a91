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
**   "samples":[{"cpu":0,"tid":T,"ts":30,"name":"lua.sample","sf":"3","weight":1}],    stack samples
**   "stackFrames":{"1":{"category":"lua","name":"main"},"3":{...,"parent":"1"}},
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
** Instants in category TBT_SAMPLE_CATEGORY are stack samples named by their folded stack
** (frames root first, ';'-joined): besides the instant, each is a sample whose "sf" is its leaf
** in stackFrames, where a frame is one per distinct path from the root, so viewers draw them as
** call stacks. Both appear only when there are samples.
** Non-finite counter values are written as null (JSON has no NaN). Strings are escaped per
** RFC 8259; bytes that are not well-formed UTF-8 become \ufffd, so the output is always valid JSON.
**
** The JSON is produced in chunks handed to a sink, so the gzip variant streams into the file
** without holding the whole document. Numbers are formatted by hand: printf per field would cost
** more than everything else together.
*/
#include "encoders.h"

#include "alloc.h"
#include "sink.h"
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

static int put_str(tbt_sink *w, const char *s, size_t n) {
  return tbt_sink_write(w, s, n);
}

/* Escaped, quoted names, made once per name. */
typedef struct names_cache {
  uint32_t *off;       /* UINT32_MAX: not made yet */
  uint32_t *len;
  tbt_buf arena;
} names_cache;

static const char *name_at(const tbt_source *m, uint32_t idx) {
  return idx < m->nnames && m->names[idx] ? m->names[idx] : "";
}

/* The quoted JSON string of name idx; NULL when out of memory. */
static const char *cached_name(names_cache *c, const tbt_source *m, uint32_t idx, size_t *len) {
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
static int name_and_cat(names_cache *c, const tbt_source *m, uint32_t name_idx, uint32_t cat_idx,
                        const char **name, size_t *nl, const char **cat, size_t *cl) {
  *cat = NULL;
  *cl = 0;
  if (cat_idx && !cached_name(c, m, cat_idx, cl)) return TBT_ENOMEM;
  if (!(*name = cached_name(c, m, name_idx, nl))) return TBT_ENOMEM;
  if (cat_idx) *cat = cached_name(c, m, cat_idx, cl);   /* made above: no allocation */
  return 0;
}

/* A quoted escaped string of arbitrary text. */
static int put_quoted(tbt_sink *w, const char *s) {
  size_t n = strlen(s);
  if (n > (SIZE_MAX - 2) / 6) return w->rc = TBT_ENOMEM;
  char *p = (char *)tbt_sink_room(w, 6 * n + 2);
  if (!p) return w->rc;
  p[0] = '"';
  size_t e = tbt_json_escape(p + 1, s, n);
  p[e + 1] = '"';
  tbt_sink_done(w, (uint8_t *)p + e + 2);
  return 0;
}

typedef struct prefixes {
  char x[96], i[96], c[96];
  size_t nx, ni, nc;
} prefixes;

static int write_metadata(tbt_sink *w, const tbt_source *m, const tbt_chrome_options *o, int *first) {
  char head[192];
  if (o->process_name) {
    int n = snprintf(head, sizeof head, "%s{\"ph\":\"M\",\"pid\":%ld,\"tid\":0,\"name\":\"process_name\",\"args\":{\"name\":",
                     *first ? "\n" : ",\n", o->pid);
    *first = 0;
    if (put_str(w, head, (size_t)n) || put_quoted(w, o->process_name) || put_str(w, "}}", 2)) return w->rc;
  }
  for (size_t t = 0; t < m->ntracks; t++) {
    const char *tname = name_at(m, m->tracks[t].name);
    if (!*tname) continue;
    int n = snprintf(head, sizeof head, "%s{\"ph\":\"M\",\"pid\":%ld,\"tid\":%" PRIu64 ",\"name\":\"thread_name\",\"args\":{\"name\":",
                     *first ? "\n" : ",\n", o->pid, m->tracks[t].id);
    *first = 0;
    if (put_str(w, head, (size_t)n) || put_quoted(w, tname) || put_str(w, "}}", 2)) return w->rc;
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

static int write_event(tbt_sink *w, const tbt_source *m, const tbt_src_event *ev,
                       const prefixes *px, names_cache *nc, int *first) {
  int64_t base = m->start_ns;
  size_t nl, cl = 0;
  const char *name, *cat = NULL;
  if (ev->kind == TBT_EV_SPAN) {
    if (name_and_cat(nc, m, ev->name, ev->category, &name, &nl, &cat, &cl))
      return w->rc = TBT_ENOMEM;
    if (cl == 2) cat = NULL;
    int unf = (ev->flags & TBT_SPAN_UNFINISHED) != 0;
    char *p = (char *)tbt_sink_room(w, px->nx + nl + cl + 128);
    if (!p) return w->rc;
    char *q = event_start(p, first, px->x, px->nx);
    q += tbt_format_micros(q, ev->start_ns - base);
    memcpy(q, ",\"dur\":", 7);
    q += 7;
    q += tbt_format_micros(q, ev->end_ns - ev->start_ns);
    q = put_name_cat(q, name, nl, cat, cl);
    if (unf) {
      memcpy(q, ",\"args\":{\"unfinished\":true}", 27);
      q += 27;
    }
    *q++ = '}';
    tbt_sink_done(w, (uint8_t *)q);
  } else if (ev->kind == TBT_EV_INSTANT) {
    if (name_and_cat(nc, m, ev->name, ev->category, &name, &nl, &cat, &cl))
      return w->rc = TBT_ENOMEM;
    if (cl == 2) cat = NULL;
    char *p = (char *)tbt_sink_room(w, px->ni + nl + cl + 64);
    if (!p) return w->rc;
    char *q = event_start(p, first, px->i, px->ni);
    q += tbt_format_micros(q, ev->start_ns - base);
    q = put_name_cat(q, name, nl, cat, cl);
    *q++ = '}';
    tbt_sink_done(w, (uint8_t *)q);
  } else {
    name = cached_name(nc, m, ev->name, &nl);
    if (!name) return w->rc = TBT_ENOMEM;
    char *p = (char *)tbt_sink_room(w, px->nc + nl + 128);
    if (!p) return w->rc;
    char *q = event_start(p, first, px->c, px->nc);
    q += tbt_format_micros(q, ev->start_ns - base);
    q = put_name_cat(q, name, nl, NULL, 0);
    memcpy(q, ",\"args\":{\"value\":", 17);
    q += 17;
    q += put_double(q, ev->value);
    memcpy(q, "}}", 2);
    tbt_sink_done(w, (uint8_t *)q + 2);
  }
  return 0;
}

/* ----------------------------------------------------------------- stack samples */

/* The frames of the samples' stacks: one per distinct (parent, name), ids from 1. Names point
** into the source's strings. */
typedef struct sframe {
  uint32_t parent;    /* 0: a root */
  uint32_t len;
  const char *name;
} sframe;

typedef struct sframes {
  sframe *v;          /* v[id - 1] */
  uint32_t n, cap;
  uint32_t *slots;    /* open addressing: frame ids, 0 empty */
  uint32_t nslots;
} sframes;

static uint32_t frame_hash(uint32_t parent, const char *s, uint32_t len) {
  uint32_t h = 2166136261u ^ parent * 0x9E3779B1u;
  for (uint32_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
  return h;
}

/* The id of frame (parent, name), made when new; 0 when out of memory. */
static uint32_t frame_id(sframes *f, uint32_t parent, const char *s, uint32_t len) {
  if ((f->n + 1) * 2 > f->nslots) {
    uint32_t ns = f->nslots ? f->nslots * 2 : 256;
    uint32_t *slots = tbt_calloc(ns, sizeof *slots);
    if (!slots) return 0;
    for (uint32_t i = 0; i < f->nslots; i++) {
      uint32_t id = f->slots[i];
      if (!id) continue;
      const sframe *e = &f->v[id - 1];
      uint32_t j = frame_hash(e->parent, e->name, e->len) & (ns - 1);
      while (slots[j]) j = (j + 1) & (ns - 1);
      slots[j] = id;
    }
    tbt_free(f->slots);
    f->slots = slots;
    f->nslots = ns;
  }
  uint32_t j = frame_hash(parent, s, len) & (f->nslots - 1);
  for (; f->slots[j]; j = (j + 1) & (f->nslots - 1)) {
    const sframe *e = &f->v[f->slots[j] - 1];
    if (e->parent == parent && e->len == len && memcmp(e->name, s, len) == 0) return f->slots[j];
  }
  if (f->n == f->cap) {
    uint32_t cap = f->cap ? f->cap * 2 : 256;
    sframe *v = tbt_realloc(f->v, (size_t)cap * sizeof *v);
    if (!v) return 0;
    f->v = v;
    f->cap = cap;
  }
  f->v[f->n] = (sframe){parent, len, s};
  f->slots[j] = ++f->n;
  return f->n;
}

/* The leaf frame of folded stack s; 0 when out of memory. */
static uint32_t stack_leaf(sframes *f, const char *s) {
  uint32_t parent = 0;
  for (;;) {
    const char *e = strchr(s, ';');
    size_t len = e ? (size_t)(e - s) : strlen(s);
    if (len > UINT32_MAX) return 0;
    parent = frame_id(f, parent, s, (uint32_t)len);
    if (!parent || !e) return parent;
    s = e + 1;
  }
}

#define PUT_LIT(q, lit) (memcpy((q), (lit), sizeof(lit) - 1), (q) += sizeof(lit) - 1)

/* "samples":[...],"stackFrames":{...}, for the sample instants of every track (none: nothing). */
static int write_samples(tbt_sink *w, tbt_source *m, const tbt_chrome_options *o) {
  uint32_t cat = 0;
  for (size_t i = 1; i < m->nnames && !cat; i++)
    if (m->names[i] && strcmp(m->names[i], TBT_SAMPLE_CATEGORY) == 0) cat = (uint32_t)i;
  if (!cat) return 0;
  sframes f;
  memset(&f, 0, sizeof f);
  int rc = 0, first = 1;
  char head[128];
  for (size_t t = 0; t < m->ntracks && !rc; t++) {
    int hn = snprintf(head, sizeof head, "{\"cpu\":0,\"tid\":%" PRIu64 ",\"ts\":", m->tracks[t].id);
    tbt_src_walk wk;
    const tbt_src_event *ev;
    int more;
    rc = tbt_src_begin(m, t, &wk);
    while (!rc && (more = tbt_src_next(&wk, &ev)) != 0) {
      if (more < 0) {
        rc = more;
        break;
      }
      if (ev->kind != TBT_EV_INSTANT || ev->category != cat) continue;
      uint32_t leaf = stack_leaf(&f, name_at(m, ev->name));
      if (!leaf) {
        rc = TBT_ENOMEM;
        break;
      }
      char *p = (char *)tbt_sink_room(w, (size_t)hn + 128);
      if (!p) {
        rc = w->rc;
        break;
      }
      char *q = p;
      if (first) {
        PUT_LIT(q, ",\n\"samples\":[\n");
        first = 0;
      } else {
        *q++ = ',';
        *q++ = '\n';
      }
      memcpy(q, head, (size_t)hn);
      q += hn;
      q += tbt_format_micros(q, ev->start_ns - m->start_ns);
      PUT_LIT(q, ",\"name\":\"" TBT_SAMPLE_CATEGORY "\",\"sf\":\"");
      q += put_u64(q, leaf);
      PUT_LIT(q, "\",\"weight\":1}");
      tbt_sink_done(w, (uint8_t *)q);
    }
    tbt_src_end(&wk);
  }
  if (!rc && !first) {
    if (put_str(w, "\n],\n\"stackFrames\":{", sizeof "\n],\n\"stackFrames\":{" - 1)) rc = w->rc;
    for (uint32_t id = 1; id <= f.n && !rc; id++) {
      const sframe *e = &f.v[id - 1];
      char *p = (char *)tbt_sink_room(w, 6 * (size_t)e->len + 96);
      if (!p) {
        rc = w->rc;
        break;
      }
      char *q = p;
      if (id > 1) *q++ = ',';
      *q++ = '\n';
      *q++ = '"';
      q += put_u64(q, id);
      PUT_LIT(q, "\":{\"category\":\"lua\",\"name\":\"");
      q += tbt_json_escape(q, e->name, e->len);
      *q++ = '"';
      if (e->parent) {
        PUT_LIT(q, ",\"parent\":\"");
        q += put_u64(q, e->parent);
        *q++ = '"';
      }
      *q++ = '}';
      tbt_sink_done(w, (uint8_t *)q);
    }
    if (!rc && put_str(w, "\n}", 2)) rc = w->rc;
  }
  (void)o;
  tbt_free(f.v);
  tbt_free(f.slots);
  return rc;
}

int tbt_chrome_json_write(tbt_source *m, const tbt_chrome_options *o, tbt_sink *w) {
  if (!m || !o || !w) return TBT_EINVAL;
  names_cache nc = {NULL, NULL, {0}};
  size_t nn = m->nnames ? m->nnames : 1;
  nc.off = tbt_malloc(nn * sizeof *nc.off);
  nc.len = tbt_malloc(nn * sizeof *nc.len);
  int rc = 0;
  if (!nc.off || !nc.len) {
    rc = TBT_ENOMEM;
    goto done;
  }
  memset(nc.off, 0xff, nn * sizeof *nc.off);

  int first = 1;
  if (put_str(w, "{\"traceEvents\":[", 16) || write_metadata(w, m, o, &first)) goto done;
  for (size_t t = 0; t < m->ntracks; t++) {
    uint64_t id = m->tracks[t].id;
    prefixes px;
    px.nx = (size_t)snprintf(px.x, sizeof px.x, "{\"ph\":\"X\",\"pid\":%ld,\"tid\":%" PRIu64 ",\"ts\":",
                             o->pid, id);
    px.ni = (size_t)snprintf(px.i, sizeof px.i,
                             "{\"ph\":\"i\",\"s\":\"t\",\"pid\":%ld,\"tid\":%" PRIu64 ",\"ts\":", o->pid,
                             id);
    px.nc = (size_t)snprintf(px.c, sizeof px.c, "{\"ph\":\"C\",\"pid\":%ld,\"tid\":%" PRIu64 ",\"ts\":",
                             o->pid, id);
    tbt_src_walk wk;
    const tbt_src_event *ev;
    int more;
    rc = tbt_src_begin(m, t, &wk);
    while (!rc && (more = tbt_src_next(&wk, &ev)) != 0) {
      if (more < 0) rc = more;
      else rc = write_event(w, m, ev, &px, &nc, &first);
    }
    tbt_src_end(&wk);
    if (rc) goto done;
  }
  if (put_str(w, "\n]", 2)) goto done;
  if ((rc = write_samples(w, m, o)) != 0) goto done;
  char tail[256];
  int n = snprintf(tail, sizeof tail,
                   ",\n\"displayTimeUnit\":\"ns\",\n\"otherData\":{\"producer\":\"tbtrace " TBT_VERSION
                   "\",\"host\":");
  if (put_str(w, tail, (size_t)n) || put_quoted(w, o->host ? o->host : "")) goto done;
  n = snprintf(tail, sizeof tail,
               ",\"trace_start_ns\":\"%" PRId64 "\",\"trace_end_ns\":\"%" PRId64 "\",\"dropped\":%" PRIu64
               "}}\n",
               m->start_ns, m->end_ns, m->dropped);
  put_str(w, tail, (size_t)n);

done:
  tbt_free(nc.off);
  tbt_free(nc.len);
  tbt_buf_free(&nc.arena);
  return rc ? rc : w->rc;
}

/* ----------------------------------------------------------------- over a model */

/* The JSON of model m through sink s (set up by the caller), then s finished and freed. */
static int model_json(const tbt_trace_model *m, const tbt_chrome_options *o, tbt_sink *s) {
  tbt_source src;
  int rc = tbt_source_from_model(&src, m);
  if (!rc) rc = tbt_chrome_json_write(&src, o, s);
  int frc = tbt_sink_finish(s);
  tbt_sink_free(s);
  tbt_source_free(&src);
  return rc ? rc : frc;
}

int tbt_encode_chrome_json(const tbt_trace_model *m, const tbt_chrome_options *o, tbt_buf *out) {
  if (!m || !o || !out) return TBT_EINVAL;
  size_t start = out->len;
  tbt_sink s;
  int rc = tbt_sink_buf(&s, out);
  if (!rc) rc = model_json(m, o, &s);
  if (rc) out->len = start;
  return rc;
}

int tbt_chrome_json_to(const tbt_trace_model *m, const tbt_chrome_options *o, tbt_sink_fn fn,
                       void *ud) {
  if (!m || !o || !fn) return TBT_EINVAL;
  tbt_sink s;
  int rc = tbt_sink_call(&s, fn, ud);
  return rc ? rc : model_json(m, o, &s);
}

int tbt_chrome_json_gz_fd(const tbt_trace_model *m, const tbt_chrome_options *o, int level, int fd) {
  if (!m || !o || fd < 0) return TBT_EINVAL;
  tbt_sink f, z;
  int rc = tbt_sink_fd(&f, fd);
  if (!rc && (rc = tbt_sink_gzip(&z, &f, level)) == 0) rc = model_json(m, o, &z);
  tbt_sink_free(&f);
  return rc;
}

/* ----------------------------------------------------------------- gzip */

int tbt_gzip(const void *data, size_t len, int level, tbt_buf *out) {
  if (!out || (!data && len)) return TBT_EINVAL;
  tbt_sink b, z;
  int rc = tbt_sink_buf(&b, out);
  if (!rc && (rc = tbt_sink_gzip(&z, &b, level)) == 0) {
    tbt_sink_write(&z, data, len);
    rc = tbt_sink_finish(&z);
    tbt_sink_free(&z);
  }
  tbt_sink_free(&b);
  return rc;
}

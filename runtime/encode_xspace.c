/*
** encode_xspace.c: a trace model as tensorflow.profiler.XSpace, the .xplane.pb TensorBoard's
** profile plugin (xprof) reads.
**
** One plane, id 49 and name "/host:CPU" (TensorFlow's host plane), holding:
**   lines           one per thread, in model order: id = the OS thread id (a Lua coroutine's:
**                   tbt_track_ids), name = the thread's
**                   name or "thread <tid>", timestamp_ns = the thread's first event, duration_ps =
**                   its last end minus that;
**   events          spans, instants (duration 0) and counter samples (duration 0, stat "value"),
**                   merged by start time (spans first, then instants, then counters on ties);
**                   offset_ps relative to the line's timestamp_ns, duration_ps in picoseconds;
**   event_metadata  one entry per distinct (name, category), ids from 1 in order of first use:
**                   name = the span's path ("step/load"), display_name = the span's own name
**                   ("load") when it differs from the path (the trace viewer shows display_name
**                   and lists name as long_name); instants and counters by their name. A
**                   category is a "category" stat of the metadata, so events carry no strings;
**                   A stack sample (an instant in category TBT_SAMPLE_CATEGORY, named by its
**                   folded stack) is named by its innermost frame, and its metadata's "stack"
**                   stat holds the whole stack, root first, ';'-joined;
**   stat_metadata   1 "category", 2 "unfinished" (uint64 1 on spans still open at export),
**                   3 "value" (the double of a counter sample), 4 "task" in a cluster, 5
**                   "stack" when there are samples;
**   stats           in a cluster, "task": the process's "/job:<job>/replica:0/task:<i>".
** XSpace.hostnames = [host]; records lost to the memory limit are reported in XSpace.warnings.
** Names that are not well-formed UTF-8 are written with U+FFFD in place of the bad bytes.
**
** The plane's lines and events are written with the wire primitives: protobuf-c sizes a nested
** message again at every level it is packed from, and events are nearly all the bytes. The
** result is the canonical encoding protobuf-c itself produces (the tests check that).
*/
#include "encoders.h"

#include "alloc.h"
#include "pbwire.h"
#include "sink.h"
#include "tbtrace.h"
#include "xplane.pb-c.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* ----------------------------------------------------------------- metadata */

typedef struct meta_key {
  uint64_t key;     /* name << 32 | category; UINT64_MAX = empty slot */
  int64_t id;
} meta_key;

typedef struct metas {
  meta_key *slots;
  size_t nslots, n;
  uint32_t *name, *cat, *display;   /* per id - 1: model name indices (display = UINT32_MAX: none) */
  size_t cap;
} metas;

static uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return x;
}

static int metas_grow(metas *t) {
  size_t n = t->nslots ? t->nslots * 2 : 256;
  meta_key *s = tbt_malloc(n * sizeof *s);
  if (!s) return TBT_ENOMEM;
  for (size_t i = 0; i < n; i++) s[i].key = UINT64_MAX;
  for (size_t i = 0; i < t->nslots; i++) {
    if (t->slots[i].key == UINT64_MAX) continue;
    size_t j = mix64(t->slots[i].key) & (n - 1);
    while (s[j].key != UINT64_MAX) j = (j + 1) & (n - 1);
    s[j] = t->slots[i];
  }
  tbt_free(t->slots);
  t->slots = s;
  t->nslots = n;
  return 0;
}

static const char *name_at(const tbt_source *m, uint32_t idx) {
  return idx < m->nnames && m->names[idx] ? m->names[idx] : "";
}

/* The metadata id of (name, cat), created when new; 0 when out of memory. own: the span's own
** name, which becomes the display name when it differs from name (UINT32_MAX: none). */
static int64_t meta_id(metas *t, const tbt_source *m, uint32_t name, uint32_t cat,
                       uint32_t own) {
  uint64_t key = (uint64_t)name << 32 | cat;
  size_t mask = t->nslots - 1, i = mix64(key) & mask;
  for (;; i = (i + 1) & mask) {
    if (t->slots[i].key == key) return t->slots[i].id;
    if (t->slots[i].key == UINT64_MAX) break;
  }
  if ((t->n + 1) * 2 > t->nslots) {
    if (metas_grow(t)) return 0;
    mask = t->nslots - 1;
    for (i = mix64(key) & mask; t->slots[i].key != UINT64_MAX; i = (i + 1) & mask) {}
  }
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 64;
    uint32_t *a = tbt_realloc(t->name, cap * sizeof *a);
    if (!a) return 0;
    t->name = a;
    uint32_t *b = tbt_realloc(t->cat, cap * sizeof *b);
    if (!b) return 0;
    t->cat = b;
    uint32_t *c = tbt_realloc(t->display, cap * sizeof *c);
    if (!c) return 0;
    t->display = c;
    t->cap = cap;
  }
  t->name[t->n] = name;
  t->cat[t->n] = cat;
  t->display[t->n] =
      own != name && own < m->nnames && strcmp(name_at(m, own), name_at(m, name)) ? own : UINT32_MAX;
  t->slots[i].key = key;
  t->slots[i].id = (int64_t)++t->n;
  return (int64_t)t->n;
}

static void metas_free(metas *t) {
  tbt_free(t->slots);
  tbt_free(t->name);
  tbt_free(t->cat);
  tbt_free(t->display);
}

/* ----------------------------------------------------------------- events */

/* One event of a line, in merged order. */
typedef struct xev {
  int64_t meta;
  int64_t offset_ps;
  int64_t duration_ps;
  int kind;          /* 0 span, 1 unfinished span, 2 counter */
  double value;
} xev;

/* Size of one XEvent message body. metadata_id and duration_ps are plain proto3 fields (absent
** when 0); offset_ps is in a oneof, so it is written even when 0. */
static size_t xevent_size(const xev *e) {
  size_t n = pb_varint_field_size(1, (uint64_t)e->meta) + 1 + pb_varint_size((uint64_t)e->offset_ps) +
             pb_varint_field_size(3, (uint64_t)e->duration_ps);
  if (e->kind == 1) n += 1 + 1 + 2 + 1 + 1;                       /* stats{id=2, uint64=1} */
  else if (e->kind == 2) n += 1 + 1 + 2 + 1 + 8;                  /* stats{id=3, double} */
  return n;
}

static uint8_t *put_xevent(uint8_t *p, const xev *e, size_t body) {
  p = pb_put_len_header(p, 4, body);                               /* XLine.events */
  p = pb_put_varint_field(p, 1, (uint64_t)e->meta);
  p = pb_put_key(p, 2, PB_VARINT);
  p = pb_put_varint(p, (uint64_t)e->offset_ps);
  p = pb_put_varint_field(p, 3, (uint64_t)e->duration_ps);
  if (e->kind == 1) {
    p = pb_put_len_header(p, 4, 4);
    p = pb_put_varint_field(p, 1, TBT_XSTAT_UNFINISHED);
    p = pb_put_varint_field(p, 3, 1);
  } else if (e->kind == 2) {
    p = pb_put_len_header(p, 4, 11);
    p = pb_put_varint_field(p, 1, TBT_XSTAT_VALUE);
    p = pb_put_double(p, 2, e->value);
  }
  return p;
}

/* One event of a walk as an XEvent (offsets relative to base); *end_ns grows to its end. */
typedef struct cursor {
  const tbt_source *m;
  metas *md;
  int64_t base;
  uint64_t last_key;    /* the previous metadata lookup, which most events repeat */
  int64_t last_id;
} cursor;

static int64_t cursor_meta(cursor *cu, uint32_t name, uint32_t cat, uint32_t own) {
  uint64_t key = (uint64_t)name << 32 | cat;
  if (key != cu->last_key) {
    cu->last_id = meta_id(cu->md, cu->m, name, cat, own);
    cu->last_key = key;
  }
  return cu->last_id;
}

/* 0, or -1 when out of memory. */
static int to_xev(cursor *cu, const tbt_src_event *ev, xev *e, int64_t *end_ns) {
  e->offset_ps = (ev->start_ns - cu->base) * 1000;
  e->value = 0;
  if (ev->kind == TBT_EV_SPAN) {
    e->meta = cursor_meta(cu, ev->path, ev->category, ev->name);
    e->duration_ps = (ev->end_ns - ev->start_ns) * 1000;
    e->kind = (ev->flags & TBT_SPAN_UNFINISHED) ? 1 : 0;
  } else if (ev->kind == TBT_EV_INSTANT) {
    e->meta = cursor_meta(cu, ev->name, ev->category, UINT32_MAX);
    e->duration_ps = 0;
    e->kind = 0;
  } else {
    e->meta = cursor_meta(cu, ev->name, 0, UINT32_MAX);
    e->duration_ps = 0;
    e->kind = 2;
    e->value = ev->value;
  }
  if (ev->end_ns > *end_ns) *end_ns = ev->end_ns;
  return e->meta ? 0 : -1;
}

/* ----------------------------------------------------------------- encoding */

static char s_category[] = "category";
static char s_unfinished[] = "unfinished";
static char s_value[] = "value";
static char s_task[] = "task";
static char s_stack[] = "stack";

/* The plane's metadata maps (fields 4 and 5), packed by protobuf-c. */
static int pack_plane_metadata(const tbt_source *m, const metas *md, tbt_buf *out) {
  size_t n = md->n;
  int rc = TBT_ENOMEM;
  Tensorflow__Profiler__XEventMetadata *em = tbt_malloc((n ? n : 1) * sizeof *em);
  Tensorflow__Profiler__XPlane__EventMetadataEntry *ee = tbt_malloc((n ? n : 1) * sizeof *ee);
  Tensorflow__Profiler__XPlane__EventMetadataEntry **eep = tbt_malloc((n ? n : 1) * sizeof *eep);
  Tensorflow__Profiler__XStat *cs = tbt_malloc((n ? n : 1) * 2 * sizeof *cs);
  Tensorflow__Profiler__XStat **csp = tbt_malloc((n ? n : 1) * 2 * sizeof *csp);
  if (!em || !ee || !eep || !cs || !csp) goto out;
  int samples = 0;
  for (size_t i = 0; i < n; i++) {
    tensorflow__profiler__xevent_metadata__init(&em[i]);
    em[i].id = (int64_t)i + 1;
    em[i].name = (char *)name_at(m, md->name[i]);
    if (md->display[i] != UINT32_MAX) em[i].display_name = (char *)name_at(m, md->display[i]);
    const char *cat = name_at(m, md->cat[i]);
    Tensorflow__Profiler__XStat *st = &cs[2 * i];
    if (*cat) {
      tensorflow__profiler__xstat__init(&st[0]);
      st[0].metadata_id = TBT_XSTAT_CATEGORY;
      st[0].value_case = TENSORFLOW__PROFILER__XSTAT__VALUE_STR_VALUE;
      st[0].str_value = (char *)cat;
      csp[2 * i] = &st[0];
      em[i].n_stats = 1;
      em[i].stats = &csp[2 * i];
    }
    if (strcmp(cat, TBT_SAMPLE_CATEGORY) == 0) {   /* named by its innermost frame */
      const char *leaf = strrchr(em[i].name, ';');
      tensorflow__profiler__xstat__init(&st[1]);
      st[1].metadata_id = TBT_XSTAT_STACK;
      st[1].value_case = TENSORFLOW__PROFILER__XSTAT__VALUE_STR_VALUE;
      st[1].str_value = em[i].name;
      csp[2 * i + 1] = &st[1];
      em[i].n_stats = 2;
      if (leaf) em[i].name = (char *)leaf + 1;
      samples = 1;
    }
    tensorflow__profiler__xplane__event_metadata_entry__init(&ee[i]);
    ee[i].key = (int64_t)i + 1;
    ee[i].value = &em[i];
    eep[i] = &ee[i];
  }
  Tensorflow__Profiler__XStatMetadata sm[5];
  Tensorflow__Profiler__XPlane__StatMetadataEntry se[5], *sep[5];
  char *snames[5] = {s_category, s_unfinished, s_value};
  int sids[5] = {TBT_XSTAT_CATEGORY, TBT_XSTAT_UNFINISHED, TBT_XSTAT_VALUE};
  int nstats = 3;
  if (m->task) snames[nstats] = s_task, sids[nstats++] = TBT_XSTAT_TASK;
  if (samples) snames[nstats] = s_stack, sids[nstats++] = TBT_XSTAT_STACK;
  for (int i = 0; i < nstats; i++) {
    tensorflow__profiler__xstat_metadata__init(&sm[i]);
    sm[i].id = sids[i];
    sm[i].name = snames[i];
    tensorflow__profiler__xplane__stat_metadata_entry__init(&se[i]);
    se[i].key = sids[i];
    se[i].value = &sm[i];
    sep[i] = &se[i];
  }
  Tensorflow__Profiler__XPlane plane = TENSORFLOW__PROFILER__XPLANE__INIT;
  plane.n_event_metadata = n;
  plane.event_metadata = eep;
  plane.n_stat_metadata = (size_t)nstats;
  plane.stat_metadata = sep;
  Tensorflow__Profiler__XStat task = TENSORFLOW__PROFILER__XSTAT__INIT, *taskp = &task;
  if (m->task) {
    task.metadata_id = TBT_XSTAT_TASK;
    task.value_case = TENSORFLOW__PROFILER__XSTAT__VALUE_STR_VALUE;
    task.str_value = (char *)m->task;
    plane.n_stats = 1;
    plane.stats = &taskp;
  }
  size_t len = tensorflow__profiler__xplane__get_packed_size(&plane);
  rc = tbt_buf_reserve(out, len);
  if (!rc) out->len += tensorflow__profiler__xplane__pack(&plane, out->data + out->len);
out:
  tbt_free(em);
  tbt_free(ee);
  tbt_free(eep);
  tbt_free(cs);
  tbt_free(csp);
  return rc;
}

typedef struct line_info {
  int64_t start_ns, end_ns;
  size_t body;            /* XLine message size */
  char name[40];          /* "thread <tid>" when unnamed */
  const char *line_name;
} line_info;

/* Walks track t: without out, sizes its line into *L (start_ns set); with out, writes its events. */
static int walk_line(tbt_source *m, size_t t, metas *md, line_info *L, tbt_sink *out) {
  cursor cu;
  memset(&cu, 0, sizeof cu);
  cu.m = m;
  cu.md = md;
  cu.base = L->start_ns;
  cu.last_key = UINT64_MAX;
  tbt_src_walk w;
  const tbt_src_event *ev;
  xev e;
  size_t events = 0;
  int64_t end = L->start_ns;
  int rc = tbt_src_begin(m, t, &w), more;
  while (!rc && (more = tbt_src_next(&w, &ev)) != 0) {
    if (more < 0) {
      rc = more;
      break;
    }
    if (to_xev(&cu, ev, &e, &end)) {
      rc = TBT_ENOMEM;
      break;
    }
    size_t body = xevent_size(&e);
    if (!out) {
      events += pb_len_field_size(body);
      continue;
    }
    uint8_t *p = tbt_sink_room(out, 80);   /* an XEvent is at most 70 bytes */
    if (!p) {
      rc = out->rc;
      break;
    }
    tbt_sink_done(out, put_xevent(p, &e, body));
  }
  tbt_src_end(&w);
  if (!rc && !out) {
    L->end_ns = end;
    L->body = pb_varint_field_size(1, m->tracks[t].id) + pb_len_field_size(strlen(L->line_name)) +
              pb_varint_field_size(3, (uint64_t)L->start_ns) + events +
              pb_varint_field_size(9, (uint64_t)((L->end_ns - L->start_ns) * 1000));
  }
  return rc;
}

/* The time of track t's first event (its earliest: events come in time order), else the trace's
** start. */
static int line_start(tbt_source *m, size_t t, int64_t *start) {
  tbt_src_walk w;
  const tbt_src_event *ev;
  *start = m->start_ns;
  int rc = tbt_src_begin(m, t, &w);
  if (!rc) {
    rc = tbt_src_next(&w, &ev);
    if (rc > 0) *start = ev->start_ns;
    rc = rc < 0 ? rc : 0;
  }
  tbt_src_end(&w);
  return rc;
}

int tbt_xspace_write(tbt_source *m, const char *host, tbt_sink *out) {
  if (!m || !out) return TBT_EINVAL;
  size_t nth = m->ntracks;
  metas md = {0};
  tbt_buf meta = {0};
  line_info *li = tbt_malloc((nth ? nth : 1) * sizeof *li);
  int rc = TBT_ENOMEM;
  if (!li || metas_grow(&md)) goto done;

  /* First walk: metadata and the size of every line. */
  size_t lines_size = 0;
  for (size_t t = 0; t < nth; t++) {
    line_info *L = &li[t];
    const char *tname = name_at(m, m->tracks[t].name);
    if (*tname) {
      L->line_name = tname;
    } else {
      snprintf(L->name, sizeof L->name, "thread %" PRIu64, m->tracks[t].tid);
      L->line_name = L->name;
    }
    rc = line_start(m, t, &L->start_ns);
    if (!rc) rc = walk_line(m, t, &md, L, NULL);
    if (rc) goto done;
    lines_size += pb_len_field_size(L->body);
  }
  rc = pack_plane_metadata(m, &md, &meta);
  if (rc) goto done;

  /* XSpace{planes: XPlane{id, name, lines..., <metadata>}, warnings, hostnames}. */
  size_t name_len = strlen(TBT_HOST_PLANE_NAME);
  size_t plane_size =
      pb_varint_field_size(1, TBT_HOST_PLANE_ID) + pb_len_field_size(name_len) + lines_size + meta.len;
  uint8_t *p = tbt_sink_room(out, 64);
  if (!p) goto sink_failed;
  p = pb_put_len_header(p, 1, plane_size);
  p = pb_put_varint_field(p, 1, TBT_HOST_PLANE_ID);
  tbt_sink_done(out, pb_put_bytes(p, 2, TBT_HOST_PLANE_NAME, name_len));
  for (size_t t = 0; t < nth; t++) {
    const line_info *L = &li[t];
    size_t ln = strlen(L->line_name);
    if (!(p = tbt_sink_room(out, 48 + ln))) goto sink_failed;
    p = pb_put_len_header(p, 3, L->body);
    p = pb_put_varint_field(p, 1, m->tracks[t].id);
    p = pb_put_bytes(p, 2, L->line_name, ln);
    tbt_sink_done(out, pb_put_varint_field(p, 3, (uint64_t)L->start_ns));
    /* Second walk: the events, with the metadata ids the first one gave. */
    rc = walk_line(m, t, &md, &li[t], out);
    if (rc) goto done;
    if (!(p = tbt_sink_room(out, 16))) goto sink_failed;
    tbt_sink_done(out, pb_put_varint_field(p, 9, (uint64_t)((L->end_ns - L->start_ns) * 1000)));
  }
  tbt_sink_write(out, meta.data, meta.len);
  char warning[96];
  if (m->dropped) {
    size_t wl = (size_t)snprintf(warning, sizeof warning,
                                 "tbtrace: %" PRIu64 " records dropped by the trace memory limit",
                                 m->dropped);
    if (!(p = tbt_sink_room(out, 16 + wl))) goto sink_failed;
    tbt_sink_done(out, pb_put_bytes(p, 3, warning, wl));
  }
  if (host) {
    size_t hl = strlen(host);
    if (!(p = tbt_sink_room(out, 16 + hl))) goto sink_failed;
    tbt_sink_done(out, pb_put_bytes(p, 4, host, hl));
  }
sink_failed:
  rc = out->rc;

done:
  tbt_free(li);
  tbt_buf_free(&meta);
  metas_free(&md);
  return rc;
}

int tbt_encode_xspace(const tbt_trace_model *model, const char *host, tbt_buf *out) {
  if (!model || !out) return TBT_EINVAL;
  tbt_source src;
  tbt_sink sink;
  size_t start = out->len;
  int rc = tbt_source_from_model(&src, model);
  if (rc) return rc;
  rc = tbt_sink_buf(&sink, out);
  if (!rc) {
    rc = tbt_xspace_write(&src, host, &sink);
    int frc = tbt_sink_finish(&sink);
    if (!rc) rc = frc;
    tbt_sink_free(&sink);
  }
  if (rc) out->len = start;
  tbt_source_free(&src);
  return rc;
}

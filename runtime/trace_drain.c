/*
** trace_drain.c: reading the current generation's buffers where they lie, as a source the
** encoders walk (trace_source.h), and the snapshot made of that: ids become names (valid UTF-8,
** made so once here), tracks become threads, ticks become Unix nanoseconds, nesting becomes name
** paths. A read copies nothing per span: see "the reader" below for what it holds. A snapshot
** builds the whole model anyway, so its read collects each track's events as it goes.
*/
#include "trace_drain.h"

#include "alloc.h"
#include "clock.h"
#include "intern.h"
#include "trace_buffer.h"
#include "trace_model.h"
#include "trace_source.h"
#include "u64map.h"
#include "utf8.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define GROW(arr, n, cap)                                                             \
  (((n) < (cap)) ? 0 : grow_array((void **)&(arr), &(cap), sizeof *(arr)))

static int grow_array(void **arr, size_t *cap, size_t elem) {
  size_t ncap = *cap ? *cap * 2 : 16;
  void *p = tbt_realloc(*arr, ncap * elem);
  if (!p) return -1;
  *arr = p;
  *cap = ncap;
  return 0;
}

typedef struct drain {
  tbt_strtab names;
  uint32_t *idmap;          /* intern id -> name index + 1 (0 = not yet) */
  size_t nidmap;
  char *scratch;
  size_t capscratch;
  tbt_model_edge *edges;
  size_t nedges, capedges;
  tbt_u64map edgeset;           /* from << 32 | to */
  tbt_u64map paths;             /* parent path << 32 | name -> path */
  tbt_u64map deep;              /* anchor << 32 | name -> a bounded path "<anchor>/…/<name>" */
  tbt_u64map anchors;           /* a bounded path -> its anchor */
} drain;

/* Room for n bytes in d->scratch. */
static char *scratch(drain *d, size_t n) {
  if (n > d->capscratch) {
    size_t cap = d->capscratch ? d->capscratch : 256;
    while (cap < n) cap *= 2;
    char *s = tbt_realloc(d->scratch, cap);
    if (!s) return NULL;
    d->scratch = s;
    d->capscratch = cap;
  }
  return d->scratch;
}

/* The index of s[0..len) among the names, made valid UTF-8 here, once per name: every byte of
** an ill-formed sequence becomes U+FFFD (TensorBoard's and xprof's parsers reject a message
** holding a string that is not UTF-8). */
static uint32_t name_str(drain *d, const char *s, size_t len) {
  if (tbt_utf8_valid(s, len)) return tbt_strtab_add(&d->names, s, len);
  char *p = scratch(d, 3 * len + 1);
  if (!p) return TBT_STRTAB_NONE;
  return tbt_strtab_add(&d->names, p, tbt_utf8_clean(p, s, len));
}

/* The model index of intern id `id`. */
static uint32_t name_id(drain *d, uint32_t id) {
  if (id == 0) return 0;
  if (id < d->nidmap && d->idmap[id]) return d->idmap[id] - 1;
  const char *s = tbt_intern_get(id);
  /* An id tbt_intern never gave out (the recorders take any uint32_t) is the empty name, and
  ** must not size the map: 0x0FFFFFFF would cost a GiB. */
  if (!s) return 0;
  if (id >= d->nidmap) {
    size_t n = d->nidmap ? d->nidmap : 64;
    while (n <= id) n *= 2;
    uint32_t *m = tbt_realloc(d->idmap, n * sizeof *m);
    if (!m) return TBT_STRTAB_NONE;
    memset(m + d->nidmap, 0, (n - d->nidmap) * sizeof *m);
    d->idmap = m;
    d->nidmap = n;
  }
  uint32_t i = name_str(d, s, strlen(s));
  if (i != TBT_STRTAB_NONE) d->idmap[id] = i + 1;
  return i;
}

static int add_edge(drain *d, uint32_t from, uint32_t to) {
  uint64_t key = (uint64_t)from << 32 | to;
  uint32_t unused;
  if (tbt_u64map_get(&d->edgeset, key, &unused)) return 0;
  if (GROW(d->edges, d->nedges, d->capedges)) return -1;
  if (tbt_u64map_put(&d->edgeset, key, 0)) return -1;
  d->edges[d->nedges].from = from;
  d->edges[d->nedges].to = to;
  d->nedges++;
  return 0;
}

/* a + sep + b as a model name. */
static uint32_t join_name(drain *d, uint32_t a, const char *sep, uint32_t b) {
  const char *p = d->names.strs[a], *n = d->names.strs[b];
  size_t lp = strlen(p), ls = strlen(sep), ln = strlen(n);
  char *s = scratch(d, lp + ls + ln + 1);
  if (!s) return TBT_STRTAB_NONE;
  memcpy(s, p, lp);
  memcpy(s + lp, sep, ls);
  memcpy(s + lp + ls, n, ln);
  return tbt_strtab_add(&d->names, s, lp + ls + ln);   /* parts already valid */
}

/* The bounded path of a span named `name` under anchor path `anchor`: "<anchor>/…/<name>". */
static uint32_t deep_path(drain *d, uint32_t anchor, uint32_t name) {
  uint64_t key = (uint64_t)anchor << 32 | name;
  uint32_t idx;
  if (tbt_u64map_get(&d->deep, key, &idx)) return idx;
  idx = join_name(d, anchor, "/\xe2\x80\xa6/", name);
  if (idx == TBT_STRTAB_NONE) return idx;
  uint32_t unused;
  if (tbt_u64map_put(&d->deep, key, idx) ||
      (!tbt_u64map_get(&d->anchors, idx, &unused) && tbt_u64map_put(&d->anchors, idx, anchor)))
    return TBT_STRTAB_NONE;
  return idx;
}

/* The model path index of a span named `name` (model index), `depth` deep, under parent path
** `ppath`. Paths stop growing (tbtrace_trace.h: TBT_PATH_MAX_DEPTH, TBT_PATH_MAX_BYTES), so the
** names a deep chain makes stay short and few: the cost stays linear in spans. */
static uint32_t span_path(drain *d, int has_parent, uint32_t ppath, uint32_t name, uint32_t depth) {
  if (!has_parent) return name;
  uint32_t idx;
  if (tbt_u64map_get(&d->anchors, ppath, &idx)) return deep_path(d, idx, name);
  uint64_t key = (uint64_t)ppath << 32 | name;
  if (tbt_u64map_get(&d->paths, key, &idx)) return idx;
  if (depth >= TBT_PATH_MAX_DEPTH || strlen(d->names.strs[ppath]) >= TBT_PATH_MAX_BYTES)
    idx = deep_path(d, ppath, name);
  else
    idx = join_name(d, ppath, "/", name);
  if (idx != TBT_STRTAB_NONE && tbt_u64map_put(&d->paths, key, idx)) return TBT_STRTAB_NONE;
  return idx;
}

/* ------------------------------------------------------------------ the reader */

/* The trace is read where it lies, never copied: a first walk over every buffer (prepare) names
** everything (names, paths, tracks, edges) and notes what a later walk of one track cannot see
** for itself; then each walk of a track (what the encoders call a walk, trace_source.h) reads
** that track's records again, in windows of at least WINDOW of its records.
**
** A span's end is at its END record, possibly far after its BEGIN, while a walk hands out spans
** in begin order with their ends. Within a window a walk finds the ends itself; a span still open
** when its window closes takes its end from the track's `ends`, filled by prepare, which closes
** the same windows at the same records. So what a read holds beyond the names is: per buffer,
** 12 bytes per 16 KiB chunk (the chunk list as it was read); per track, 8 bytes for each span
** open at one of its window boundaries (counted once however many it spans: a root around the
** whole trace is one entry; a chain 10^6 deep is 10^6 entries, 8 MB); per walk, one window (128
** bytes an event) and its stack of open spans (8 bytes a level, as any reader needs). A window
** closes only between records of different times, so spans, instants and counters of equal time
** are ordered within one window (spans first, then instants, then counters, as the model's merge
** orders them): a window is WINDOW records plus the run of equal timestamps it ends in. A walk
** reads only its track's runs of records: prepare notes where each begins (16 bytes per switch
** to the track, what the switch's own record takes), so a thread's many coroutines cost a walk
** no more than one.
**
** A snapshot (tbt_buffers_snapshot_) wants every event in memory, not bounded memory: its read
** collects (COLLECT): prepare appends each track's spans, instants and counters to the model's
** arrays for that track as it names them, a span's end set at its END, and the arrays are then
** moved into the model. It notes no windows and no walk follows. The events and their times are
** those the walks give (the same clamp, the same paths; each kind in record order, which is
** begin order for spans). Only a snapshot collects: the exports walk, in bounded memory. */
enum { WINDOW = 4096 };

#define NEVER UINT64_MAX   /* the end of a span no END closed */

typedef struct pentry {
  uint32_t path;
  int32_t slot;     /* -2 opened in the current window, >= 0 its entry in ends */
} pentry;

/* Where a track's records start again after a switch to it: the record after the TRACK record,
** and the clamp (the buffer's latest tick) there. */
typedef struct run {
  uint32_t ci, ri;
  uint64_t last;
} run;

typedef struct rtrack {
  uintptr_t key;
  uint32_t buf;             /* its buffer (index into reader.bufs) */
  uint32_t ti;              /* its index among its buffer's tracks: coroutine <ti> */
  run *runs;                /* where it records: from each switch to it on */
  size_t nruns, capruns;
  uint64_t nspans, nevents;
  /* prepare's walk */
  pentry *stack;
  size_t nstack, capstack;
  uint32_t count;           /* records in the current window */
  uint64_t prev;            /* the previous record's tick */
  uint64_t *ends;           /* raw end ticks of spans open at a window boundary */
  size_t nends, capends;
  /* collecting (a snapshot): the track's events, moved into the model */
  tbt_model_thread th;
  int32_t *open;            /* the open spans' indices in th.spans, as stack */
  size_t capopen, capspans, capinstants, capcounters;
} rtrack;

typedef struct rbuf {
  tbt_chunk **chunks;       /* as they were when read (records after the read's start cut off) */
  uint32_t *used;
  size_t nchunks;
  uint64_t tid;
  uint32_t name;            /* thread name (names index) */
  uint32_t ntracks;
} rbuf;

typedef struct reader {
  drain d;
  rbuf *bufs;
  size_t nbufs;
  rtrack *tracks;           /* every track of every buffer, empty ones too */
  size_t ntracks, captracks;
  size_t *order;            /* the tracks with events, in model order */
  tbt_src_track *out;
  uint64_t tick0;           /* ticks -> Unix ns: ns0 + (tick - tick0) * ns_per_tick */
  int64_t ns0;
  double ns_per_tick;
  uint64_t now;
  int frozen;               /* counted in tbt_readers_ */
  int collect;              /* COLLECT: prepare collects events; WINDOWS: it notes windows */
} reader;

enum { WINDOWS = 1, COLLECT = 2 };

static inline int timed(unsigned kind) {
  return kind >= TBT_REC_BEGIN && kind <= TBT_REC_COUNTER;
}

/* In double, not clock.h's long double: the x87 conversion would cost more than the rest of a
** walk (a double's 53 bits hold an hour of ticks to a thousandth of a nanosecond). */
static inline int64_t to_ns(const reader *r, uint64_t tick) {
  return r->ns0 + (int64_t)((double)(int64_t)(tick - r->tick0) * r->ns_per_tick);
}

/* Whether a window of a track closes before a record at tick t: WINDOW records taken, and t is
** a later nanosecond than the previous one (ticks first: converting is the slow part). */
static inline int window_ends(const reader *r, uint32_t count, uint64_t prev, uint64_t t) {
  return count >= WINDOW && t != prev && to_ns(r, t) > to_ns(r, prev);
}

/* The track `key` of buffer buf, made current at (ci, ri) with the clamp at last. */
static rtrack *rtrack_get(reader *r, uint32_t buf, uintptr_t key, uint32_t ci, uint32_t ri,
                          uint64_t last) {
  rbuf *b = &r->bufs[buf];
  rtrack *t = NULL;
  for (size_t i = r->ntracks - b->ntracks; i < r->ntracks && !t; i++)
    if (r->tracks[i].key == key) t = &r->tracks[i];
  if (!t) {
    if (GROW(r->tracks, r->ntracks, r->captracks)) return NULL;
    t = &r->tracks[r->ntracks++];
    memset(t, 0, sizeof *t);
    t->key = key;
    t->buf = buf;
    t->ti = b->ntracks++;
  }
  if (GROW(t->runs, t->nruns, t->capruns)) return NULL;
  t->runs[t->nruns++] = (run){ci, ri, last};
  return t;
}

/* The spans of t opened in its current window and still open get an entry in ends. */
static int window_close(rtrack *t) {
  size_t i = t->nstack;
  while (i > 0 && t->stack[i - 1].slot == -2) i--;
  for (; i < t->nstack; i++) {
    if (GROW(t->ends, t->nends, t->capends)) return -1;
    t->ends[t->nends] = NEVER;
    t->stack[i].slot = (int32_t)t->nends++;
  }
  t->count = 0;
  return 0;
}

/* Prepare's walk over buffer bi: names, paths, tracks, edges, window boundaries (WINDOWS), the
** tracks' events (COLLECT). */
static int prepare_buffer(reader *r, uint32_t bi, uint64_t *taken) {
  drain *d = &r->d;
  rbuf *b = &r->bufs[bi];
  rtrack *cur = rtrack_get(r, bi, 0, 0, 0, 0);
  if (!cur) return -1;
  uint64_t last = 0;
  for (size_t ci = 0; ci < b->nchunks; ci++) {
    const tbt_rec *recs = b->chunks[ci]->recs;
    uint32_t used = b->used[ci];
    for (uint32_t i = 0; i < used; i++) {
      const tbt_rec *rec = &recs[i];
      unsigned kind = rec->b >> TBT_REC_KIND_SHIFT;
      uint64_t t = rec->t;
      if (timed(kind)) {
        if ((int64_t)(t - r->now) > 0) {
          /* made after the read began: left out, here and in every later walk */
          b->used[ci] = i;
          b->nchunks = ci + 1;
          *taken += i;
          return 0;
        }
        if (t < last) t = last;
        last = t;
        if (r->collect & WINDOWS) {
          if (window_ends(r, cur->count, cur->prev, t) && window_close(cur)) return -1;
          cur->count++;
          cur->prev = t;
        }
      }
      switch (kind) {
        case TBT_REC_BEGIN: {
          uint32_t name = name_id(d, rec->a), cat = name_id(d, rec->b & TBT_REC_CAT_MASK);
          if (name == TBT_STRTAB_NONE || cat == TBT_STRTAB_NONE) return -1;
          if (GROW(cur->stack, cur->nstack, cur->capstack)) return -1;
          uint32_t path = span_path(d, cur->nstack > 0,
                                    cur->nstack ? cur->stack[cur->nstack - 1].path : 0, name,
                                    (uint32_t)cur->nstack);
          if (path == TBT_STRTAB_NONE) return -1;
          if (r->collect & COLLECT) {
            tbt_model_thread *th = &cur->th;
            if (GROW(th->spans, th->nspans, cur->capspans) ||
                GROW(cur->open, cur->nstack, cur->capopen))
              return -1;
            int64_t ns = to_ns(r, t);
            th->spans[th->nspans] = (tbt_model_span){
                name, path, cat, cur->nstack ? cur->open[cur->nstack - 1] : -1,
                (uint32_t)cur->nstack, 0, ns, ns};
            cur->open[cur->nstack] = (int32_t)th->nspans++;
          }
          cur->stack[cur->nstack++] = (pentry){path, r->collect & WINDOWS ? -2 : -1};
          cur->nspans++;
          cur->nevents++;
          break;
        }
        case TBT_REC_END:
          if (cur->nstack) {
            pentry e = cur->stack[--cur->nstack];
            if (e.slot >= 0) cur->ends[e.slot] = t;
            if (r->collect & COLLECT) {
              tbt_model_span *sp = &cur->th.spans[cur->open[cur->nstack]];
              int64_t ns = to_ns(r, t);
              sp->end_ns = ns < sp->start_ns ? sp->start_ns : ns;
            }
          }
          break;
        case TBT_REC_INSTANT: {
          uint32_t name = name_id(d, rec->a), cat = name_id(d, rec->b & TBT_REC_CAT_MASK);
          if (name == TBT_STRTAB_NONE || cat == TBT_STRTAB_NONE) return -1;
          if (r->collect & COLLECT) {
            tbt_model_thread *th = &cur->th;
            if (GROW(th->instants, th->ninstants, cur->capinstants)) return -1;
            th->instants[th->ninstants++] = (tbt_model_instant){name, cat, to_ns(r, t)};
          }
          cur->nevents++;
          break;
        }
        case TBT_REC_COUNTER: {
          if (i + 1 >= used) break;
          i++;
          uint32_t name = name_id(d, rec->a);
          if (name == TBT_STRTAB_NONE) return -1;
          if (r->collect & COLLECT) {
            tbt_model_thread *th = &cur->th;
            if (GROW(th->counters, th->ncounters, cur->capcounters)) return -1;
            tbt_model_counter *c = &th->counters[th->ncounters++];
            c->name = name;
            c->time_ns = to_ns(r, t);
            memcpy(&c->value, &recs[i].t, sizeof c->value);
          }
          cur->nevents++;
          break;
        }
        case TBT_REC_TRACK:
          cur = rtrack_get(r, bi, (uintptr_t)rec->t, (uint32_t)ci, i + 1, last);
          if (!cur) return -1;
          break;
        case TBT_REC_EDGE: {
          uint32_t from = name_id(d, rec->a), to = name_id(d, (uint32_t)rec->t);
          if (from == TBT_STRTAB_NONE || to == TBT_STRTAB_NONE) return -1;
          if (add_edge(d, from, to)) return -1;
          break;
        }
        default:
          break;
      }
    }
    *taken += used;
  }
  return 0;
}

/* ------------------------------------------------------------------ a walk of one track */

typedef struct wentry {
  uint32_t path;
  int32_t at;               /* its event in the window, -1 when an earlier window's */
} wentry;

typedef struct walk {
  const reader *r;
  const rbuf *b;
  const rtrack *tr;
  size_t ru;                /* the run being read */
  int in_run;
  size_t ci;                /* where the next window starts, in that run */
  uint32_t ri;
  uint64_t last;
  uint32_t count;
  uint64_t prev;
  size_t nslots;            /* entries of tr->ends taken so far */
  wentry *stack;
  size_t nstack, capstack;
  tbt_src_event *win, *tmp; /* the window's events */
  uint64_t *t1;             /* their end ticks while the window fills (NEVER: still open) */
  size_t nwin, capwin;
  int done;
} walk;

void tbt_src_order_ties(tbt_src_event *ev, size_t n, tbt_src_event *tmp) {
  for (size_t i = 0; i < n;) {
    size_t j = i + 1;
    int sorted = 1;
    while (j < n && ev[j].start_ns == ev[i].start_ns) {
      if (ev[j].kind < ev[j - 1].kind) sorted = 0;
      j++;
    }
    if (!sorted) {
      size_t k = 0;
      for (int kind = TBT_EV_SPAN; kind <= TBT_EV_COUNTER; kind++)
        for (size_t x = i; x < j; x++)
          if (ev[x].kind == kind) tmp[k++] = ev[x];
      memcpy(ev + i, tmp, k * sizeof *tmp);
    }
    i = j;
  }
}

static tbt_src_event *win_push(walk *w) {
  if (w->nwin == w->capwin) {
    size_t cap = w->capwin ? w->capwin * 2 : 256;
    tbt_src_event *a = tbt_realloc(w->win, cap * sizeof *a);
    if (!a) return NULL;
    w->win = a;
    tbt_src_event *t = tbt_realloc(w->tmp, cap * sizeof *t);
    if (!t) return NULL;
    w->tmp = t;
    uint64_t *e = tbt_realloc(w->t1, cap * sizeof *e);
    if (!e) return NULL;
    w->t1 = e;
    w->capwin = cap;
  }
  return &w->win[w->nwin++];
}

/* Reads the track's next window into w->win. */
static int fill(walk *w) {
  const reader *r = w->r;
  const rbuf *b = w->b;
  const rtrack *tr = w->tr;
  drain *d = (drain *)&r->d;   /* named by prepare: only lookups */
  w->nwin = 0;
  w->count = 0;
  int boundary = 0;
  while (!boundary && w->ru < tr->nruns) {
    if (!w->in_run) {
      const run *ru = &tr->runs[w->ru];
      w->ci = ru->ci;
      w->ri = ru->ri;
      w->last = ru->last;
      w->in_run = 1;
    }
    int over = 0;   /* the run ended at a switch to another track */
    size_t ci = w->ci;
    uint32_t i = w->ri;
    for (; ci < b->nchunks; ci++, i = 0) {
      const tbt_rec *recs = b->chunks[ci]->recs;
      uint32_t used = b->used[ci];
      for (; i < used; i++) {
        const tbt_rec *rec = &recs[i];
        unsigned kind = rec->b >> TBT_REC_KIND_SHIFT;
        uint64_t t = rec->t;
        if (kind == TBT_REC_TRACK) {
          if ((uintptr_t)rec->t == tr->key) continue;
          over = 1;
          break;
        }
        if (!timed(kind)) continue;
        if (t < w->last) t = w->last;
        if (window_ends(r, w->count, w->prev, t)) {
          boundary = 1;   /* this record starts the next window */
          break;
        }
        w->last = t;
        w->count++;
        w->prev = t;
        if (kind == TBT_REC_END) {
          if (w->nstack) {
            wentry e = w->stack[--w->nstack];
            if (e.at >= 0) w->t1[e.at] = t;
          }
          continue;
        }
        if (kind == TBT_REC_COUNTER && i + 1 >= used) continue;
        tbt_src_event *e = win_push(w);
        if (!e) return TBT_ENOMEM;
        size_t at = (size_t)(e - w->win);
        e->start_ns = e->end_ns = to_ns(r, t);
        w->t1[at] = t;
        e->value = 0;
        e->flags = 0;
        e->name = name_id(d, rec->a);
        e->category = 0;
        e->parent_path = UINT32_MAX;
        e->depth = 0;
        if (kind == TBT_REC_BEGIN) {
          e->kind = TBT_EV_SPAN;
          e->category = name_id(d, rec->b & TBT_REC_CAT_MASK);
          if (GROW(w->stack, w->nstack, w->capstack)) return TBT_ENOMEM;
          e->depth = (uint32_t)w->nstack;
          if (w->nstack) e->parent_path = w->stack[w->nstack - 1].path;
          e->path = span_path(d, w->nstack > 0, w->nstack ? e->parent_path : 0, e->name, e->depth);
          w->t1[at] = NEVER;
          w->stack[w->nstack++] = (wentry){e->path, (int32_t)at};
        } else if (kind == TBT_REC_INSTANT) {
          e->kind = TBT_EV_INSTANT;
          e->category = name_id(d, rec->b & TBT_REC_CAT_MASK);
          e->path = e->name;
        } else {
          e->kind = TBT_EV_COUNTER;
          e->path = e->name;
          memcpy(&e->value, &recs[++i].t, sizeof e->value);
        }
        if (e->name == TBT_STRTAB_NONE || e->category == TBT_STRTAB_NONE ||
            e->path == TBT_STRTAB_NONE)
          return TBT_ENOMEM;
      }
      if (boundary || over) break;
    }
    w->ci = ci;
    w->ri = i;
    if (!boundary) {
      w->ru++;
      w->in_run = 0;
    }
  }
  if (!boundary) w->done = 1;
  /* Spans of this window still open: at a boundary, their ends are prepare's (in the order it
  ** numbered them); at the track's end, they are unfinished. */
  size_t k = w->nstack;
  while (k > 0 && w->stack[k - 1].at >= 0) k--;
  for (; k < w->nstack; k++) {
    if (boundary) w->t1[w->stack[k].at] = tr->ends[w->nslots++];
    w->stack[k].at = -1;
  }
  for (size_t x = 0; x < w->nwin; x++) {
    tbt_src_event *e = &w->win[x];
    if (e->kind != TBT_EV_SPAN) continue;
    uint64_t t1 = w->t1[x];
    if (t1 == NEVER) {
      t1 = r->now;
      e->flags = TBT_SPAN_UNFINISHED;
    }
    e->end_ns = to_ns(r, t1);
    if (e->end_ns < e->start_ns) e->end_ns = e->start_ns;
  }
  tbt_src_order_ties(w->win, w->nwin, w->tmp);
  return 0;
}

static int walk_begin(tbt_src_walk *sw) {
  const reader *r = sw->src->impl;
  const rtrack *tr = &r->tracks[r->order[sw->track]];
  walk *w = tbt_calloc(1, sizeof *w);
  if (!w) return TBT_ENOMEM;
  w->r = r;
  w->b = &r->bufs[tr->buf];
  w->tr = tr;
  sw->state = w;
  return 0;
}

static int walk_more(tbt_src_walk *sw) {
  walk *w = sw->state;
  do {
    if (w->done) return 0;
    int rc = fill(w);
    if (rc) return rc;
  } while (!w->nwin);
  sw->at = w->win;
  sw->end = w->win + w->nwin;
  return 1;
}

static void walk_end(tbt_src_walk *sw) {
  walk *w = sw->state;
  if (!w) return;
  tbt_free(w->stack);
  tbt_free(w->win);
  tbt_free(w->tmp);
  tbt_free(w->t1);
  tbt_free(w);
  sw->state = NULL;
}

/* ------------------------------------------------------------------ reading */

static void reader_free(reader *r) {
  drain *d = &r->d;
  if (r->frozen) atomic_fetch_sub(&tbt_readers_, 1);
  for (size_t i = 0; i < r->nbufs; i++) {
    tbt_free(r->bufs[i].chunks);
    tbt_free(r->bufs[i].used);
  }
  tbt_free(r->bufs);
  for (size_t i = 0; i < r->ntracks; i++) {
    tbt_free(r->tracks[i].stack);
    tbt_free(r->tracks[i].ends);
    tbt_free(r->tracks[i].runs);
    tbt_free(r->tracks[i].open);
    tbt_free(r->tracks[i].th.spans);
    tbt_free(r->tracks[i].th.instants);
    tbt_free(r->tracks[i].th.counters);
  }
  tbt_free(r->tracks);
  tbt_free(r->order);
  tbt_free(r->out);
  tbt_u64map_free(&d->edgeset);
  tbt_u64map_free(&d->paths);
  tbt_u64map_free(&d->deep);
  tbt_u64map_free(&d->anchors);
  tbt_free(d->idmap);
  tbt_free(d->scratch);
  tbt_free(d->edges);
  tbt_strtab_free(&d->names);
  tbt_free(r);
}

static void source_free(tbt_source *s) {
  reader_free(s->impl);
}

static const tbt_source_ops reader_ops = {walk_begin, walk_more, walk_end, source_free};

/* Takes each buffer's chunk list as it is now (its lock held), then walks it (no lock: a chunk's
** records below its count never change, and no chunk goes while the trace lock is held). */
static int freeze(reader *r, uint32_t gen, uint64_t *dropped) {
  /* before any count is taken: an owner taking a span back holds its buffer's lock and sees us */
  atomic_fetch_add(&tbt_readers_, 1);
  r->frozen = 1;
  size_t nbufs;
  tbt_tbuf **all = tbt_buffers_registry_(&nbufs);
  if (!all) return TBT_ENOMEM;
  r->bufs = tbt_calloc(nbufs ? nbufs : 1, sizeof *r->bufs);
  int rc = r->bufs ? 0 : TBT_ENOMEM;
  for (size_t i = 0; i < nbufs && !rc; i++) {
    tbt_tbuf *tb = all[i];
    pthread_mutex_lock(&tb->lock);
    if (tb->gen == gen) {
      rbuf *b = &r->bufs[r->nbufs++];
      size_t n = 0;
      for (tbt_chunk *c = tb->head; c; c = c->next) n++;
      b->chunks = tbt_malloc((n ? n : 1) * sizeof *b->chunks);
      b->used = tbt_malloc((n ? n : 1) * sizeof *b->used);
      if (!b->chunks || !b->used) {
        rc = TBT_ENOMEM;
      } else {
        for (tbt_chunk *c = tb->head; c; c = c->next) {
          b->chunks[b->nchunks] = c;
          b->used[b->nchunks++] = atomic_load_explicit(&c->used, memory_order_acquire);
        }
        b->tid = tb->tid;
        b->name = tb->name;   /* an intern id until named below */
        *dropped += atomic_load_explicit(&tb->dropped, memory_order_relaxed);
      }
    }
    pthread_mutex_unlock(&tb->lock);
  }
  tbt_free(all);
  return rc;
}

/* "<thread name> coroutine <k>" (or "coroutine <k>") for a thread's further tracks. */
static uint32_t track_name(drain *d, uint32_t thread_name, uint32_t ti) {
  if (ti == 0) return thread_name;
  const char *base = d->names.strs[thread_name];
  size_t len = strlen(base) + 32;
  char *s = scratch(d, len);
  if (!s) return TBT_STRTAB_NONE;
  int n = snprintf(s, len, "%s%scoroutine %u", base, *base ? " " : "", ti);
  return tbt_strtab_add(&d->names, s, (size_t)n);
}

/* Reads the current generation into a new reader (*out), filling s; collect: COLLECT and/or
** WINDOWS (what the walks need). */
static int read_trace(tbt_source *s, int64_t epoch_offset, int collect, reader **out) {
  memset(s, 0, sizeof *s);
  uint32_t gen = tbt_buffers_generation_();
  if (!(gen & 1)) return TBT_ENOTRACE;
  reader *r = tbt_calloc(1, sizeof *r);
  if (!r) return TBT_ENOMEM;
  drain *d = &r->d;
  tbt_strtab_init(&d->names);
  tbt_clock_conv conv;
  tbt_clock_conv_make(&conv);
  r->tick0 = conv.tick0;
  r->ns0 = conv.ns0 + epoch_offset;
  r->ns_per_tick = (double)conv.ns_per_tick;
  r->now = conv.tick0;
  r->collect = collect;
  uint64_t dropped = tbt_buffers_lost_(), taken = 0;
  int rc = name_str(d, "", 0) == 0 ? 0 : TBT_ENOMEM;
  if (!rc) rc = freeze(r, gen, &dropped);
  for (size_t i = 0; i < r->nbufs && !rc; i++) {
    if (prepare_buffer(r, (uint32_t)i, &taken)) rc = TBT_ENOMEM;
    uint32_t name = rc ? 0 : name_id(d, r->bufs[i].name);
    if (name == TBT_STRTAB_NONE) rc = TBT_ENOMEM;
    r->bufs[i].name = name;
  }
  size_t n = 0;
  for (size_t i = 0; i < r->ntracks; i++) n += r->tracks[i].nevents > 0;
  if (!rc && (!(r->order = tbt_malloc((n ? n : 1) * sizeof *r->order)) ||
              !(r->out = tbt_malloc((n ? n : 1) * sizeof *r->out))))
    rc = TBT_ENOMEM;
  uint64_t *tids = NULL, *ids = NULL;
  tbt_tid_at *scratch_order = NULL;
  if (!rc && (!(tids = tbt_malloc((n ? n : 1) * sizeof *tids)) ||
              !(ids = tbt_malloc((n ? n : 1) * sizeof *ids)) ||
              !(scratch_order = tbt_malloc((n ? n : 1) * sizeof *scratch_order))))
    rc = TBT_ENOMEM;
  size_t k = 0;
  for (size_t i = 0; i < r->ntracks && !rc; i++) {
    rtrack *t = &r->tracks[i];
    if (!t->nevents) continue;
    const rbuf *b = &r->bufs[t->buf];
    uint32_t name = track_name(d, b->name, t->ti);
    if (name == TBT_STRTAB_NONE) rc = TBT_ENOMEM;
    r->order[k] = i;
    r->out[k] = (tbt_src_track){b->tid, 0, name};
    tids[k++] = b->tid;
    s->spans += t->nspans;
    /* what is still open now is unfinished, in begin order */
    for (size_t j = 0; j < t->nstack; j++) {
      if (s->nunfinished_paths < TBT_SRC_UNFINISHED_PATHS)
        s->unfinished_paths[s->nunfinished_paths++] = t->stack[j].path;
      s->unfinished++;
      if (r->collect & COLLECT) {
        tbt_model_span *sp = &t->th.spans[t->open[j]];
        int64_t ns = to_ns(r, r->now);
        sp->end_ns = ns < sp->start_ns ? sp->start_ns : ns;
        sp->flags = TBT_SPAN_UNFINISHED;
      }
    }
    tbt_free(t->stack);   /* walks keep their own */
    t->stack = NULL;
    t->nstack = t->capstack = 0;
    tbt_free(t->open);
    t->open = NULL;
    t->capopen = 0;
  }
  if (!rc) {
    tbt_track_ids_of(tids, n, scratch_order, ids);
    for (size_t i = 0; i < n; i++) r->out[i].id = ids[i];
  }
  tbt_free(tids);
  tbt_free(ids);
  tbt_free(scratch_order);
  if (rc) {
    reader_free(r);
    memset(s, 0, sizeof *s);
    return rc;
  }
  s->names = (const char *const *)d->names.strs;
  s->nnames = d->names.n;
  s->tracks = r->out;
  s->ntracks = n;
  s->edges = d->edges;
  s->nedges = d->nedges;
  s->end_ns = to_ns(r, r->now);
  s->dropped = dropped;
  s->records = taken;
  s->generation = gen;
  s->ops = &reader_ops;
  s->impl = r;
  *out = r;
  return 0;
}

int tbt_buffers_source_(tbt_source *s, int64_t epoch_offset) {
  reader *r;
  return read_trace(s, epoch_offset, WINDOWS, &r);
}

/* ------------------------------------------------------------------ the snapshot */

/* The model of a collecting read: its names copied, its events moved out of the reader. */
static int model_of_reader(const tbt_source *s, reader *r, tbt_trace_model *out) {
  int rc = tbt_model_shell(s, out);
  if (rc) return rc;
  for (size_t k = 0; k < s->ntracks; k++) {
    rtrack *t = &r->tracks[r->order[k]];
    tbt_model_thread *th = &out->threads[k];
    uint64_t tid = th->tid;
    uint32_t name = th->name;
    *th = t->th;
    th->tid = tid;
    th->name = name;
    memset(&t->th, 0, sizeof t->th);
  }
  return 0;
}

/* A snapshot builds the whole model: prepare's one pass collects each track's events as it
** names them, with no windows and no second walk. */
int tbt_buffers_snapshot_(tbt_trace_model *m, int64_t epoch_offset) {
  tbt_source s;
  reader *r;
  int rc = read_trace(&s, epoch_offset, COLLECT, &r);
  if (rc) return rc;
  rc = model_of_reader(&s, r, m);
  tbt_source_free(&s);
  return rc;
}

int tbt_buffers_snapshot_both_(tbt_trace_model *collected, tbt_trace_model *walked,
                               int64_t epoch_offset) {
  tbt_source s;
  reader *r;
  int rc = read_trace(&s, epoch_offset, COLLECT | WINDOWS, &r);
  if (rc) return rc;
  rc = tbt_model_from_source(&s, walked);
  if (!rc && (rc = model_of_reader(&s, r, collected))) tbt_trace_model_free(walked);
  tbt_source_free(&s);
  return rc;
}

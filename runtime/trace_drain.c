/*
** trace_drain.c: the drain of the current generation's buffers into a trace model: ids become
** names, tracks become threads, ticks become Unix nanoseconds, nesting becomes name paths.
*/
#include "trace_drain.h"

#include "alloc.h"
#include "clock.h"
#include "intern.h"
#include "trace_buffer.h"
#include "u64map.h"

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

typedef struct track {
  uintptr_t key;
  tbt_model_span *spans;
  size_t nspans, capspans;
  tbt_model_instant *instants;
  size_t ninstants, capinstants;
  tbt_model_counter *counters;
  size_t ncounters, capcounters;
  int32_t *stack;
  size_t nstack, capstack;
} track;

typedef struct drain {
  tbt_strtab names;
  uint32_t *idmap;          /* intern id -> model name index + 1 (0 = not yet) */
  size_t nidmap;
  char *scratch;
  size_t capscratch;
  track *tracks;
  size_t ntracks, captracks;
  tbt_model_thread *threads;
  size_t nthreads, capthreads;
  tbt_model_edge *edges;
  size_t nedges, capedges;
  tbt_u64map edgeset;           /* from << 32 | to */
  tbt_u64map paths;             /* parent path << 32 | name -> path */
  tbt_u64map deep;              /* anchor << 32 | name -> a bounded path "<anchor>/…/<name>" */
  tbt_u64map anchors;           /* a bounded path -> its anchor */
  uint64_t taken;           /* records read, of every kind */
} drain;

static uint32_t name_str(drain *d, const char *s, size_t len) {
  return tbt_strtab_add(&d->names, s, len);
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

static void tracks_clear(drain *d) {
  for (size_t i = 0; i < d->ntracks; i++) {
    track *t = &d->tracks[i];
    tbt_free(t->spans);
    tbt_free(t->instants);
    tbt_free(t->counters);
    tbt_free(t->stack);
  }
  d->ntracks = 0;
}

static track *track_get(drain *d, uintptr_t key) {
  for (size_t i = 0; i < d->ntracks; i++)
    if (d->tracks[i].key == key) return &d->tracks[i];
  if (GROW(d->tracks, d->ntracks, d->captracks)) return NULL;
  track *t = &d->tracks[d->ntracks++];
  memset(t, 0, sizeof *t);
  t->key = key;
  return t;
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
  size_t lp = strlen(p), ls = strlen(sep), ln = strlen(n), need = lp + ls + ln + 1;
  if (need > d->capscratch) {
    size_t cap = d->capscratch ? d->capscratch : 256;
    while (cap < need) cap *= 2;
    char *s = tbt_realloc(d->scratch, cap);
    if (!s) return TBT_STRTAB_NONE;
    d->scratch = s;
    d->capscratch = cap;
  }
  memcpy(d->scratch, p, lp);
  memcpy(d->scratch + lp, sep, ls);
  memcpy(d->scratch + lp + ls, n, ln);
  return name_str(d, d->scratch, lp + ls + ln);
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

/* Reads one buffer (its lock held) into d->tracks. Records later than `now` are left out. */
static int read_buffer(drain *d, tbt_tbuf *tb, uint64_t now) {
  track *cur = track_get(d, 0);
  if (!cur) return -1;
  uint64_t last = 0;
  for (tbt_chunk *c = tb->head; c; c = c->next) {
    uint32_t used = atomic_load_explicit(&c->used, memory_order_acquire);
    for (uint32_t i = 0; i < used; i++) {
      const tbt_rec *r = &c->recs[i];
      unsigned kind = r->b >> TBT_REC_KIND_SHIFT;
      uint64_t t = r->t;
      if (kind == TBT_REC_BEGIN || kind == TBT_REC_END || kind == TBT_REC_INSTANT ||
          kind == TBT_REC_COUNTER) {
        if ((int64_t)(t - now) > 0) {
          d->taken += i;   /* made after the snapshot began: left for later */
          return 0;
        }
        if (t < last) t = last;
        last = t;
      }
      switch (kind) {
        case TBT_REC_BEGIN: {
          if (GROW(cur->spans, cur->nspans, cur->capspans)) return -1;
          if (GROW(cur->stack, cur->nstack, cur->capstack)) return -1;
          tbt_model_span *s = &cur->spans[cur->nspans];
          memset(s, 0, sizeof *s);
          s->name = name_id(d, r->a);
          s->category = name_id(d, r->b & TBT_REC_CAT_MASK);
          if (s->name == TBT_STRTAB_NONE || s->category == TBT_STRTAB_NONE) return -1;
          s->parent = cur->nstack ? cur->stack[cur->nstack - 1] : -1;
          s->depth = (uint32_t)cur->nstack;
          s->path = span_path(d, s->parent >= 0, s->parent >= 0 ? cur->spans[s->parent].path : 0,
                              s->name, s->depth);
          if (s->path == TBT_STRTAB_NONE) return -1;
          s->start_ns = (int64_t)t;
          s->end_ns = -1;
          cur->stack[cur->nstack++] = (int32_t)cur->nspans++;
          break;
        }
        case TBT_REC_END:
          if (cur->nstack) cur->spans[cur->stack[--cur->nstack]].end_ns = (int64_t)t;
          break;
        case TBT_REC_INSTANT: {
          if (GROW(cur->instants, cur->ninstants, cur->capinstants)) return -1;
          tbt_model_instant *e = &cur->instants[cur->ninstants];
          e->name = name_id(d, r->a);
          e->category = name_id(d, r->b & TBT_REC_CAT_MASK);
          if (e->name == TBT_STRTAB_NONE || e->category == TBT_STRTAB_NONE) return -1;
          e->time_ns = (int64_t)t;
          cur->ninstants++;
          break;
        }
        case TBT_REC_COUNTER: {
          if (i + 1 >= used) break;
          const tbt_rec *data = &c->recs[++i];
          if (GROW(cur->counters, cur->ncounters, cur->capcounters)) return -1;
          tbt_model_counter *e = &cur->counters[cur->ncounters];
          e->name = name_id(d, r->a);
          if (e->name == TBT_STRTAB_NONE) return -1;
          e->time_ns = (int64_t)t;
          memcpy(&e->value, &data->t, sizeof e->value);
          cur->ncounters++;
          break;
        }
        case TBT_REC_TRACK:
          cur = track_get(d, (uintptr_t)r->t);
          if (!cur) return -1;
          break;
        case TBT_REC_EDGE: {
          uint32_t from = name_id(d, r->a), to = name_id(d, (uint32_t)r->t);
          if (from == TBT_STRTAB_NONE || to == TBT_STRTAB_NONE) return -1;
          if (add_edge(d, from, to)) return -1;
          break;
        }
        default:
          break;
      }
    }
    d->taken += used;
  }
  return 0;
}

/* Turns d->tracks into model threads: closes open spans at `now`, converts ticks. */
static int emit_threads(drain *d, uint64_t tid, uint32_t thread_name, uint64_t now,
                        const tbt_clock_conv *conv, int64_t epoch_offset) {
  for (size_t ti = 0; ti < d->ntracks; ti++) {
    track *t = &d->tracks[ti];   /* tracks[0] is the thread's own; coroutine k is tracks[k] */
    if (!t->nspans && !t->ninstants && !t->ncounters) continue;
    uint32_t name = thread_name;
    if (ti > 0) {
      const char *base = d->names.strs[thread_name];
      size_t len = strlen(base) + 32;
      if (len > d->capscratch) {
        char *s = tbt_realloc(d->scratch, len);
        if (!s) return -1;
        d->scratch = s;
        d->capscratch = len;
      }
      int n = snprintf(d->scratch, len, "%s%scoroutine %zu", base, *base ? " " : "", ti);
      name = name_str(d, d->scratch, (size_t)n);
      if (name == TBT_STRTAB_NONE) return -1;
    }
    for (size_t i = 0; i < t->nspans; i++) {
      tbt_model_span *s = &t->spans[i];
      if (s->end_ns < 0) {
        s->end_ns = (int64_t)now;
        s->flags |= TBT_SPAN_UNFINISHED;
      }
      s->start_ns = tbt_clock_to_mono_ns(conv, (uint64_t)s->start_ns) + epoch_offset;
      s->end_ns = tbt_clock_to_mono_ns(conv, (uint64_t)s->end_ns) + epoch_offset;
      if (s->end_ns < s->start_ns) s->end_ns = s->start_ns;
    }
    for (size_t i = 0; i < t->ninstants; i++)
      t->instants[i].time_ns =
          tbt_clock_to_mono_ns(conv, (uint64_t)t->instants[i].time_ns) + epoch_offset;
    for (size_t i = 0; i < t->ncounters; i++)
      t->counters[i].time_ns =
          tbt_clock_to_mono_ns(conv, (uint64_t)t->counters[i].time_ns) + epoch_offset;
    if (GROW(d->threads, d->nthreads, d->capthreads)) return -1;
    tbt_model_thread *mt = &d->threads[d->nthreads++];
    memset(mt, 0, sizeof *mt);
    mt->tid = tid;
    mt->name = name;
    mt->spans = t->spans;
    mt->nspans = t->nspans;
    mt->instants = t->instants;
    mt->ninstants = t->ninstants;
    mt->counters = t->counters;
    mt->ncounters = t->ncounters;
    t->spans = NULL;
    t->instants = NULL;
    t->counters = NULL;
    t->nspans = t->ninstants = t->ncounters = 0;
  }
  return 0;
}

static void drain_free(drain *d) {
  tracks_clear(d);
  tbt_free(d->tracks);
  for (size_t i = 0; i < d->nthreads; i++) {
    tbt_free(d->threads[i].spans);
    tbt_free(d->threads[i].instants);
    tbt_free(d->threads[i].counters);
  }
  tbt_free(d->threads);
  tbt_free(d->edges);
  tbt_u64map_free(&d->edgeset);
  tbt_u64map_free(&d->paths);
  tbt_u64map_free(&d->deep);
  tbt_u64map_free(&d->anchors);
  tbt_free(d->idmap);
  tbt_free(d->scratch);
  tbt_strtab_free(&d->names);
}

int tbt_buffers_snapshot_(tbt_trace_model *m, int64_t epoch_offset) {
  uint32_t gen = tbt_buffers_generation_();
  if (!(gen & 1)) return TBT_ENOTRACE;
  drain d;
  memset(&d, 0, sizeof d);
  tbt_strtab_init(&d.names);
  if (name_str(&d, "", 0) != 0) {
    drain_free(&d);
    return TBT_ENOMEM;
  }
  tbt_clock_conv conv;
  tbt_clock_conv_make(&conv);
  uint64_t now = conv.tick0;
  size_t nbufs;
  tbt_tbuf **bufs = tbt_buffers_registry_(&nbufs);
  if (!bufs) {
    drain_free(&d);
    return TBT_ENOMEM;
  }
  uint64_t dropped = tbt_buffers_lost_();
  int rc = 0;
  for (size_t i = 0; i < nbufs && rc == 0; i++) {
    tbt_tbuf *tb = bufs[i];
    pthread_mutex_lock(&tb->lock);
    if (tb->gen != gen) {
      pthread_mutex_unlock(&tb->lock);
      continue;
    }
    tracks_clear(&d);
    if (read_buffer(&d, tb, now) != 0) rc = TBT_ENOMEM;
    uint32_t tname = tb->name;
    uint64_t tid = tb->tid;
    dropped += atomic_load_explicit(&tb->dropped, memory_order_relaxed);
    pthread_mutex_unlock(&tb->lock);
    if (rc == 0) {
      uint32_t name = name_id(&d, tname);
      if (name == TBT_STRTAB_NONE ||
          emit_threads(&d, tid, name, now, &conv, epoch_offset) != 0)
        rc = TBT_ENOMEM;
    }
  }
  tbt_free(bufs);
  if (rc != 0) {
    drain_free(&d);
    return rc;
  }
  tracks_clear(&d);
  tbt_free(d.tracks);
  tbt_u64map_free(&d.edgeset);
  tbt_u64map_free(&d.paths);
  tbt_u64map_free(&d.deep);
  tbt_u64map_free(&d.anchors);
  tbt_free(d.idmap);
  tbt_free(d.scratch);
  m->end_ns = tbt_clock_to_mono_ns(&conv, now) + epoch_offset;
  m->threads = d.threads;
  m->nthreads = d.nthreads;
  m->edges = d.edges;
  m->nedges = d.nedges;
  m->dropped = dropped;
  m->records = d.taken;
  m->nnames = d.names.n;
  m->names = (const char **)d.names.strs;
  tbt_strtab_release_index(&d.names);
  return 0;
}


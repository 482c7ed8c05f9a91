/*
** trace_model.c: the trace model (tbtrace_trace.h): releasing it, and a model as a source the
** encoders read (trace_source.h), its names made valid UTF-8 and one id per track.
*/
#include "trace_model.h"

#include "alloc.h"
#include "trace_source.h"
#include "utf8.h"

#include <stdlib.h>

#include <string.h>

void tbt_trace_model_free(tbt_trace_model *m) {
  if (!m) return;
  for (size_t i = 0; i < m->nnames; i++) tbt_free((void *)m->names[i]);
  tbt_free((void *)m->names);
  for (size_t i = 0; i < m->nthreads; i++) {
    tbt_free(m->threads[i].spans);
    tbt_free(m->threads[i].instants);
    tbt_free(m->threads[i].counters);
  }
  tbt_free(m->threads);
  tbt_free(m->edges);
  memset(m, 0, sizeof *m);
}

/* ----------------------------------------------------------------- names */

int tbt_names_clean(const tbt_trace_model *m, tbt_names *out) {
  memset(out, 0, sizeof *out);
  size_t n = m->nnames ? m->nnames : 1, extra = 0;
  out->names = tbt_malloc(n * sizeof *out->names);
  if (!out->names) return TBT_ENOMEM;
  out->names[0] = "";
  for (size_t i = 0; i < m->nnames; i++) {
    const char *s = m->names[i] ? m->names[i] : "";
    size_t len = strlen(s);
    if (!tbt_utf8_valid(s, len)) extra += 3 * len + 1;
  }
  if (extra && !(out->arena = tbt_malloc(extra))) {
    tbt_names_free(out);
    return TBT_ENOMEM;
  }
  char *p = out->arena;
  for (size_t i = 0; i < m->nnames; i++) {
    const char *s = m->names[i] ? m->names[i] : "";
    size_t len = strlen(s);
    if (tbt_utf8_valid(s, len)) {
      out->names[i] = s;
      continue;
    }
    out->names[i] = p;
    p += tbt_utf8_clean(p, s, len);
    *p++ = '\0';
  }
  return 0;
}

void tbt_names_free(tbt_names *v) {
  tbt_free(v->names);
  tbt_free(v->arena);
  v->names = NULL;
  v->arena = NULL;
}

/* ----------------------------------------------------------------- track ids */

static int cmp_tid_at(const void *a, const void *b) {
  const tbt_tid_at *x = a, *y = b;
  if (x->tid != y->tid) return x->tid < y->tid ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

void tbt_track_ids_of(const uint64_t *tids, size_t n, tbt_tid_at *order, uint64_t *ids) {
  for (size_t t = 0; t < n; t++) order[t] = (tbt_tid_at){tids[t], t};
  qsort(order, n, sizeof *order, cmp_tid_at);
  uint64_t k = 0;
  for (size_t i = 0; i < n; i++) {
    k = i && order[i].tid == order[i - 1].tid ? k + 1 : 0;
    ids[order[i].index] = order[i].tid + (k << 22);
  }
}

int tbt_track_ids(const tbt_trace_model *m, uint64_t **out) {
  size_t n = m->nthreads;
  uint64_t *ids = tbt_malloc((n ? n : 1) * sizeof *ids);
  uint64_t *tids = tbt_malloc((n ? n : 1) * sizeof *tids);
  tbt_tid_at *order = tbt_malloc((n ? n : 1) * sizeof *order);
  if (!ids || !order || !tids) {
    tbt_free(ids);
    tbt_free(tids);
    tbt_free(order);
    return TBT_ENOMEM;
  }
  for (size_t t = 0; t < n; t++) tids[t] = m->threads[t].tid;
  tbt_track_ids_of(tids, n, order, ids);
  tbt_free(order);
  tbt_free(tids);
  *out = ids;
  return 0;
}

/* ----------------------------------------------------------------- as a source */

typedef struct model_src {
  const tbt_trace_model *m;
  tbt_names names;
  tbt_src_track *tracks;
} model_src;

enum { BATCH = 256 };

static int model_begin(tbt_src_walk *w) {
  w->state = tbt_malloc(BATCH * sizeof(tbt_src_event));
  return w->state ? 0 : TBT_ENOMEM;
}

/* Span s of thread th as a source event; ids past the model's nn names read as "". */
static inline void span_event(const tbt_model_thread *th, const tbt_model_span *s, size_t nn,
                              tbt_src_event *ev) {
  ev->kind = TBT_EV_SPAN;
  ev->name = s->name < nn ? s->name : 0;
  ev->path = s->path < nn ? s->path : 0;
  ev->category = s->category < nn ? s->category : 0;
  ev->parent_path = UINT32_MAX;
  ev->depth = s->depth;
  if (s->parent >= 0 && (size_t)s->parent < th->nspans && th->spans[s->parent].path < nn)
    ev->parent_path = th->spans[s->parent].path;
  ev->flags = s->flags;
  ev->start_ns = s->start_ns;
  ev->end_ns = s->end_ns;
  ev->value = 0;
}

/* The thread's spans, instants and counters merged by time (spans, instants, counters on ties). */
static int model_next(tbt_src_walk *w, tbt_src_event *ev) {
  const model_src *ms = w->src->impl;
  const tbt_model_thread *th = &ms->m->threads[w->track];
  int64_t ta = w->a < th->nspans ? th->spans[w->a].start_ns : INT64_MAX;
  int64_t tb = w->b < th->ninstants ? th->instants[w->b].time_ns : INT64_MAX;
  int64_t tc = w->c < th->ncounters ? th->counters[w->c].time_ns : INT64_MAX;
  size_t nn = w->src->nnames;
  if (w->a < th->nspans && ta <= tb && ta <= tc) {
    span_event(th, &th->spans[w->a++], nn, ev);
    return 1;
  }
  if (w->b < th->ninstants && tb <= tc) {
    const tbt_model_instant *in = &th->instants[w->b++];
    ev->kind = TBT_EV_INSTANT;
    ev->name = ev->path = in->name < nn ? in->name : 0;
    ev->category = in->category < nn ? in->category : 0;
    ev->parent_path = UINT32_MAX;
    ev->depth = 0;
    ev->flags = 0;
    ev->start_ns = ev->end_ns = tb;
    ev->value = 0;
    return 1;
  }
  if (w->c < th->ncounters) {
    const tbt_model_counter *co = &th->counters[w->c++];
    ev->kind = TBT_EV_COUNTER;
    ev->name = ev->path = co->name < nn ? co->name : 0;
    ev->category = 0;
    ev->parent_path = UINT32_MAX;
    ev->depth = 0;
    ev->flags = 0;
    ev->start_ns = ev->end_ns = tc;
    ev->value = co->value;
    return 1;
  }
  return 0;
}

static int model_more(tbt_src_walk *w) {
  tbt_src_event *batch = w->state;
  const model_src *ms = w->src->impl;
  const tbt_model_thread *th = &ms->m->threads[w->track];
  size_t n = 0;
  if (w->b >= th->ninstants && w->c >= th->ncounters) {
    /* spans only from here: no merge */
    size_t nn = w->src->nnames;
    for (; n < BATCH && w->a < th->nspans; n++) {
      span_event(th, &th->spans[w->a++], nn, &batch[n]);
    }
  }
  while (n < BATCH && model_next(w, &batch[n])) n++;
  w->at = batch;
  w->end = batch + n;
  return n > 0;
}

static void model_end(tbt_src_walk *w) {
  tbt_free(w->state);
  w->state = NULL;
}

static void model_free(tbt_source *s) {
  model_src *ms = s->impl;
  tbt_names_free(&ms->names);
  tbt_free(ms->tracks);
  tbt_free(ms);
}

static const tbt_source_ops model_ops = {model_begin, model_more, model_end, model_free};

int tbt_source_from_model(tbt_source *s, const tbt_trace_model *m) {
  memset(s, 0, sizeof *s);
  model_src *ms = tbt_calloc(1, sizeof *ms);
  if (!ms) return TBT_ENOMEM;
  ms->m = m;
  uint64_t *ids = NULL;
  ms->tracks = tbt_malloc((m->nthreads ? m->nthreads : 1) * sizeof *ms->tracks);
  if (!ms->tracks || tbt_names_clean(m, &ms->names) || tbt_track_ids(m, &ids)) {
    tbt_free(ms->tracks);
    tbt_names_free(&ms->names);
    tbt_free(ms);
    return TBT_ENOMEM;
  }
  size_t nn = m->nnames ? m->nnames : 1;
  for (size_t t = 0; t < m->nthreads; t++) {
    const tbt_model_thread *th = &m->threads[t];
    ms->tracks[t] = (tbt_src_track){th->tid, ids[t], th->name < nn ? th->name : 0};
    s->spans += th->nspans;
    for (size_t i = 0; i < th->nspans; i++) {
      if (!(th->spans[i].flags & TBT_SPAN_UNFINISHED)) continue;
      if (s->nunfinished_paths < TBT_SRC_UNFINISHED_PATHS)
        s->unfinished_paths[s->nunfinished_paths++] = th->spans[i].path < nn ? th->spans[i].path : 0;
      s->unfinished++;
    }
  }
  tbt_free(ids);
  s->names = ms->names.names;
  s->nnames = nn;
  s->tracks = ms->tracks;
  s->ntracks = m->nthreads;
  s->edges = m->edges;
  s->nedges = m->nedges;
  s->start_ns = m->start_ns;
  s->end_ns = m->end_ns;
  s->dropped = m->dropped;
  s->records = m->records;
  s->generation = m->generation;
  s->task = m->task;
  s->graph = m->graph;
  s->profiler = m->profiler;
  s->ops = &model_ops;
  s->impl = ms;
  return 0;
}

void tbt_source_free(tbt_source *s) {
  if (!s || !s->ops) return;
  s->ops->free(s);
  memset(s, 0, sizeof *s);
}

/* ----------------------------------------------------------------- from a source */

/* The spans, instants and counters of track t into mt; parents from the depths. */
static int materialize(tbt_source *s, size_t t, tbt_model_thread *mt) {
  size_t capspans = 0, capinst = 0, capcount = 0, capstack = 0;
  int32_t *stack = NULL;
  tbt_src_walk w;
  const tbt_src_event *ev;
  int rc = tbt_src_begin(s, t, &w), more;
  while (!rc && (more = tbt_src_next(&w, &ev)) != 0) {
    if (more < 0) {
      rc = more;
      break;
    }
    rc = TBT_ENOMEM;
    if (ev->kind == TBT_EV_SPAN) {
      if (mt->nspans == capspans) {
        capspans = capspans ? capspans * 2 : 64;
        void *p = tbt_realloc(mt->spans, capspans * sizeof *mt->spans);
        if (!p) break;
        mt->spans = p;
      }
      if (ev->depth >= capstack) {
        size_t cap = capstack ? capstack * 2 : 64;
        while (cap <= ev->depth) cap *= 2;
        void *p = tbt_realloc(stack, cap * sizeof *stack);
        if (!p) break;
        stack = p;
        capstack = cap;
      }
      tbt_model_span *sp = &mt->spans[mt->nspans];
      sp->name = ev->name;
      sp->path = ev->path;
      sp->category = ev->category;
      sp->parent = ev->depth ? stack[ev->depth - 1] : -1;
      sp->depth = ev->depth;
      sp->flags = ev->flags;
      sp->start_ns = ev->start_ns;
      sp->end_ns = ev->end_ns;
      stack[ev->depth] = (int32_t)mt->nspans++;
    } else if (ev->kind == TBT_EV_INSTANT) {
      if (mt->ninstants == capinst) {
        capinst = capinst ? capinst * 2 : 64;
        void *p = tbt_realloc(mt->instants, capinst * sizeof *mt->instants);
        if (!p) break;
        mt->instants = p;
      }
      mt->instants[mt->ninstants++] = (tbt_model_instant){ev->name, ev->category, ev->start_ns};
    } else {
      if (mt->ncounters == capcount) {
        capcount = capcount ? capcount * 2 : 64;
        void *p = tbt_realloc(mt->counters, capcount * sizeof *mt->counters);
        if (!p) break;
        mt->counters = p;
      }
      mt->counters[mt->ncounters++] = (tbt_model_counter){ev->name, ev->start_ns, ev->value};
    }
    rc = 0;
  }
  tbt_src_end(&w);
  tbt_free(stack);
  return rc;
}

int tbt_model_shell(const tbt_source *s, tbt_trace_model *out) {
  tbt_trace_model m;
  memset(&m, 0, sizeof m);
  size_t nn = s->nnames ? s->nnames : 1;
  m.names = tbt_calloc(nn, sizeof *m.names);
  m.threads = tbt_calloc(s->ntracks ? s->ntracks : 1, sizeof *m.threads);
  m.edges = tbt_malloc((s->nedges ? s->nedges : 1) * sizeof *m.edges);
  int rc = m.names && m.threads && m.edges ? 0 : TBT_ENOMEM;
  if (!rc) {
    m.nnames = nn;
    for (size_t i = 0; i < nn && !rc; i++)
      if (!(m.names[i] = tbt_strdup(i < s->nnames ? s->names[i] : ""))) rc = TBT_ENOMEM;
  }
  if (rc) {
    m.nthreads = 0;
    tbt_trace_model_free(&m);
    return rc;
  }
  m.nthreads = s->ntracks;
  for (size_t t = 0; t < s->ntracks; t++) {
    m.threads[t].tid = s->tracks[t].tid;
    m.threads[t].name = s->tracks[t].name;
  }
  if (s->nedges) memcpy(m.edges, s->edges, s->nedges * sizeof *m.edges);
  m.nedges = s->nedges;
  m.start_ns = s->start_ns;
  m.end_ns = s->end_ns;
  m.dropped = s->dropped;
  m.records = s->records;
  m.generation = s->generation;
  m.graph = s->graph;
  m.profiler = s->profiler;
  *out = m;
  return 0;
}

int tbt_model_from_source(tbt_source *s, tbt_trace_model *out) {
  tbt_trace_model m;
  int rc = tbt_model_shell(s, &m);
  for (size_t t = 0; t < s->ntracks && !rc; t++) rc = materialize(s, t, &m.threads[t]);
  if (rc) {
    tbt_trace_model_free(&m);
    return rc;
  }
  *out = m;
  return 0;
}

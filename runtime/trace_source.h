/*
** trace_source.h: a trace as the encoders read it, track by track (internal).
**
** The encoders never hold a trace: they walk a source, as often as they need (a size pass, then
** a writing pass), one track at a time, and each walk hands them the track's events one by one.
** Two sources:
**   - the buffered records of the trace being exported (trace_drain.c: tbt_source_from_trace),
**     read in bounded pieces, so an export holds no copy of the trace;
**   - a trace model (trace_model.c: tbt_source_from_model), for tbt_trace_snapshot's users
**     and the tests.
** Both give the same events for the same trace, so an export's bytes do not depend on which one
** it read (spec/c/test_encoders.c checks).
**
** What a source promises:
**   - names are valid UTF-8 (bad bytes already U+FFFD), names[0] is "", and every index an
**     event or a track holds is below nnames before the first walk;
**   - tracks are model threads in model order (tbtrace_trace.h: one per OS thread that recorded,
**     then one per further track of it); id is unique among them (XLine id, Chrome tid,
**     NodeExecStats.thread_id): the OS thread id, plus k * 2^22 for the k-th further track of a
**     thread id (Linux thread ids are below 2^22);
**   - a walk gives a track's spans, instants and counters merged by time: spans in begin order
**     (parents before children), instants and counters in their order, and at equal times spans
**     first, then instants, then counters. A span still open when the trace was read ends at
**     end_ns with TBT_SPAN_UNFINISHED.
*/
#ifndef TBT_TRACE_SOURCE_H
#define TBT_TRACE_SOURCE_H

#include "tbtrace.h"

#include <stddef.h>
#include <stdint.h>

enum { TBT_EV_SPAN = 0, TBT_EV_INSTANT = 1, TBT_EV_COUNTER = 2 };

typedef struct tbt_src_event {
  int kind;
  uint32_t name;           /* own name */
  uint32_t path;           /* spans: "/"-joined names from the root (bounded: tbtrace_trace.h) */
  uint32_t category;       /* 0: none */
  uint32_t parent_path;    /* spans: the parent's path, UINT32_MAX for a root */
  uint32_t depth;          /* spans: 0 for a root */
  uint32_t flags;          /* spans: TBT_SPAN_UNFINISHED */
  int64_t start_ns;        /* spans: start; instants and counters: their time */
  int64_t end_ns;          /* spans: end; the others: their time */
  double value;            /* counters */
} tbt_src_event;

typedef struct tbt_src_track {
  uint64_t tid;            /* OS thread id */
  uint64_t id;             /* unique among the tracks (see above) */
  uint32_t name;           /* the thread's name, "" when unnamed */
} tbt_src_track;

typedef struct tbt_source tbt_source;

/* A walk over one track: the source hands out its events a batch at a time. */
typedef struct tbt_src_walk {
  tbt_source *src;
  size_t track;
  const tbt_src_event *at, *end;   /* the batch: events not handed out yet */
  size_t a, b, c;                  /* the source's own cursor state */
  void *state;
} tbt_src_walk;

typedef struct tbt_source_ops {
  int (*begin)(tbt_src_walk *w);
  int (*more)(tbt_src_walk *w);    /* the next batch into at/end: > 0, 0 at the end, < 0 failure */
  void (*end)(tbt_src_walk *w);
  void (*free)(tbt_source *s);
} tbt_source_ops;

/* As many as an export result's unfinished_names (512 bytes) can list. */
enum { TBT_SRC_UNFINISHED_PATHS = 256 };

struct tbt_source {
  const char *const *names;
  size_t nnames;
  const tbt_src_track *tracks;
  size_t ntracks;
  const tbt_model_edge *edges;   /* deduplicated, in the order first declared */
  size_t nedges;
  int64_t start_ns, end_ns;      /* trace_on time, the time the trace was read */
  uint64_t dropped;              /* records lost to the memory limit */
  uint64_t records;              /* buffered records read (every kind) */
  uint32_t generation;
  const char *task;              /* as tbt_trace_model.task; the caller may set it */
  int graph, profiler;
  uint64_t spans;                /* spans in all tracks */
  uint64_t unfinished;           /* of them, still open when read */
  uint32_t unfinished_paths[TBT_SRC_UNFINISHED_PATHS];   /* the paths of the first few */
  size_t nunfinished_paths;
  const tbt_source_ops *ops;
  void *impl;
};

static inline int tbt_src_begin(tbt_source *s, size_t track, tbt_src_walk *w) {
  w->src = s;
  w->track = track;
  w->at = w->end = NULL;
  w->a = w->b = w->c = 0;
  w->state = NULL;
  return s->ops->begin(w);
}
/* The next event in *ev (valid until the next call): 1, 0 at the end, < 0 on failure. */
static inline int tbt_src_next(tbt_src_walk *w, const tbt_src_event **ev) {
  if (w->at == w->end) {
    int rc = w->src->ops->more(w);
    if (rc <= 0) return rc;
  }
  *ev = w->at++;
  return 1;
}
static inline void tbt_src_end(tbt_src_walk *w) {
  if (w->src) w->src->ops->end(w);
  w->src = NULL;
}

/* The trace being recorded, read where it lies (trace_drain.c): tbt_trace_read_ (trace.c) makes
** one and holds the trace lock until tbt_trace_read_end_. */

/* A source over m (which must outlive it): its names made valid UTF-8, ids per track. 0 or
** TBT_ENOMEM. */
int tbt_source_from_model(tbt_source *s, const tbt_trace_model *m);

/* A model of src's names (copied), edges, tracks (tid and name, no events yet) and trace facts,
** for a caller to fill in the events. 0 or TBT_ENOMEM (*out untouched then). */
int tbt_model_shell(const tbt_source *src, tbt_trace_model *out);

/* A model of what src holds (every string copied: it outlives src). 0 or TBT_ENOMEM. */
int tbt_model_from_source(tbt_source *src, tbt_trace_model *out);

/* Releases what a source holds (for the trace's: lets the trace go on). NULL-safe, idempotent. */
void tbt_source_free(tbt_source *s);

#endif

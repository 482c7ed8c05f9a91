/*
** trace_model.h: a drained trace, the one structure between recording and the encoders.
**
** trace_export drains every thread's buffer into a tbt_trace_model; the encoders (RunMetadata +
** GraphDef, XSpace, Chrome trace JSON) read it and nothing else. Times are nanoseconds since the
** Unix epoch (the raw ticks are converted once, at drain time). Spans are complete: a span still
** open at drain time is closed at the drain time and flagged.
*/
#ifndef TBT_TRACE_MODEL_H
#define TBT_TRACE_MODEL_H

#include <stddef.h>
#include <stdint.h>

typedef struct tbt_model_span {
  uint32_t name;          /* index into model->names: the span's own name ("load") */
  uint32_t path;          /* index into model->names: "/"-joined names from the root ("step/load") */
  uint32_t category;      /* index into model->names; 0 is "" (no category) */
  int32_t parent;         /* index into the same thread's spans, -1 for a root */
  uint32_t depth;         /* 0 for a root */
  uint32_t flags;         /* TBT_SPAN_UNFINISHED, ... */
  int64_t start_ns;
  int64_t end_ns;
} tbt_model_span;

enum { TBT_SPAN_UNFINISHED = 1 };

typedef struct tbt_model_instant {
  uint32_t name;
  uint32_t category;
  int64_t time_ns;
} tbt_model_instant;

typedef struct tbt_model_counter {
  uint32_t name;
  int64_t time_ns;
  double value;
} tbt_model_counter;

/* An explicit dependency the user declared: the span at path `from` feeds the span at path `to`
** (GraphDef input edges). Indices into model->names. */
typedef struct tbt_model_edge {
  uint32_t from;
  uint32_t to;
} tbt_model_edge;

typedef struct tbt_model_thread {
  uint64_t tid;            /* OS thread id (gettid) */
  uint32_t name;           /* index into model->names: thread name, "" when unnamed */
  tbt_model_span *spans;   /* ordered by start time, parents before children */
  size_t nspans;
  tbt_model_instant *instants;
  size_t ninstants;
  tbt_model_counter *counters;
  size_t ncounters;
} tbt_model_thread;

typedef struct tbt_trace_model {
  const char **names;      /* interned strings; names[0] is "" */
  size_t nnames;
  tbt_model_thread *threads;
  size_t nthreads;
  tbt_model_edge *edges;
  size_t nedges;
  int64_t start_ns;        /* trace_on time */
  int64_t end_ns;          /* drain time */
  uint64_t dropped;        /* records lost to the memory limit */
  uint64_t records;        /* buffered records the model was made from (every kind) */
  uint32_t generation;     /* which trace it was taken from (see trace_buffer.h) */
  int graph;               /* the trace_on flags */
  int profiler;
} tbt_trace_model;

void tbt_trace_model_free(tbt_trace_model *m);

#endif

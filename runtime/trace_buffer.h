/*
** trace_buffer.h: per-thread span buffers and the drain (internal).
**
** Each thread that records while a trace is on gets a buffer: a list of fixed-size chunks of
** 16-byte records (a raw tick and two 32-bit words). The owner thread is the only writer; it
** publishes how many records a chunk holds with a release store to that chunk, and a reader
** (tbt_trace_snapshot) takes only records below that count. The hot path takes no lock and
** writes no shared memory; the slow path (a new chunk, a new trace, the first record of a
** thread) takes the buffer's own mutex. Chunks come from a process-wide free list and go back to
** it when a trace ends, so a process tracing repeatedly stops allocating.
**
** Tracks: a Lua coroutine records on its own track (its lua_State pointer); C code and a Lua
** state's main thread record on track 0. A track switch costs one record, written only when the
** track differs from the previous record's. Each track nests independently.
**
** Generations: tbt_trace_on and tbt_trace_off each bump a generation number (odd = on). A buffer
** belongs to the generation that last reset it; an owner finding a newer generation resets its
** buffer before recording, and readers ignore buffers of other generations. A thread that exits
** leaves its buffer in the registry, so its records are still drained; when the trace ends the
** buffer retires, to be reused by a thread that starts later (never freed: a tbt_track_cache may
** still point at it).
*/
#ifndef TBT_TRACE_BUFFER_H
#define TBT_TRACE_BUFFER_H

#include "tbtrace.h"

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ layout */

typedef struct tbt_rec {
  uint64_t t;     /* raw tick; for TRACK the track id; for DATA the payload; for EDGE the `to` id */
  uint32_t a;     /* name id (BEGIN, INSTANT, COUNTER), `from` id (EDGE) */
  uint32_t b;     /* kind << 28 | category id */
} tbt_rec;

enum {
  TBT_REC_BEGIN = 1,
  TBT_REC_END = 2,
  TBT_REC_INSTANT = 3,
  TBT_REC_COUNTER = 4,   /* followed by a DATA record holding the double's bits */
  TBT_REC_DATA = 5,
  TBT_REC_TRACK = 6,     /* later records belong to track t */
  TBT_REC_EDGE = 7
};
#define TBT_REC_KIND_SHIFT 28
#define TBT_REC_CAT_MASK 0x0FFFFFFFu

#define TBT_CHUNK_BYTES 16384u
#define TBT_CHUNK_HEADER 16u
#define TBT_CHUNK_RECS ((TBT_CHUNK_BYTES - TBT_CHUNK_HEADER) / sizeof(tbt_rec))   /* 1023 */

/* The default memory limit (tbt_trace_options.memory_limit = 0). The limit counts whole chunks:
** a trace holds at most memory_limit / TBT_CHUNK_BYTES chunks. */
#define TBT_TRACE_DEFAULT_LIMIT ((size_t)256 << 20)

/* ------------------------------------------------------------ control (trace.c) */

/* Ends the trace of generation gen (a model's, 0 for whichever is on), like tbt_trace_off;
** returns 0 when that trace is no longer on (nothing done). *final (when not NULL) gets the
** records and drops the trace ended with, counted once recording had switched off, so only what
** a thread was writing at that instant (a few records at most) escapes the count. */
int tbt_trace_end_(uint32_t gen, tbt_trace_stats *final);

/* Called with the trace lock held. start: begins generation for a new trace with this memory
** limit (bytes, 0 = default). stop: ends it, returns chunks to the free list, frees the buffers
** of threads that exited; final (may be NULL) gets the ended trace's counts. generation: the
** current one. */
void tbt_buffers_start_(size_t memory_limit);
void tbt_buffers_stop_(tbt_trace_stats *final);
uint32_t tbt_buffers_generation_(void);
void tbt_buffers_stats_(tbt_trace_stats *out);
/* Fills the thread, edge and name parts of m (everything but start_ns, graph and profiler) from
** the current generation. epoch_offset: realtime - monotonic ns sampled at trace_on. */
int tbt_buffers_snapshot_(tbt_trace_model *m, int64_t epoch_offset);

/* ------------------------------------------------------------ for the exporter */

/* The options the current trace was started with (profiler_outdir is the trace's own copy,
** valid until tbt_trace_off; memory_limit is the effective limit). With no trace on: the
** defaults. */
void tbt_trace_get_options(tbt_trace_options *out);
/* The same with profiler_outdir copied (the caller frees it with tbt_free), so it outlives a
** trace_off on another thread. Returns 0 or TBT_ENOMEM (then profiler_outdir is NULL). */
int tbt_trace_get_options_dup(tbt_trace_options *out);

#endif

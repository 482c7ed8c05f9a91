/*
** trace_buffer.h: per-thread span buffers (internal). The recorders (trace_record.c) write
** them; the drain (trace_drain.c) reads them into a trace model.
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

#include <pthread.h>
#include <stdatomic.h>
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
#define TBT_REC_B(kind, cat) (((uint32_t)(kind) << TBT_REC_KIND_SHIFT) | ((cat) & TBT_REC_CAT_MASK))

#define TBT_CHUNK_BYTES 16384u
#define TBT_CHUNK_HEADER 16u
#define TBT_CHUNK_RECS ((TBT_CHUNK_BYTES - TBT_CHUNK_HEADER) / sizeof(tbt_rec))   /* 1023 */

/* The default memory limit (tbt_trace_options.memory_limit = 0). The limit counts whole chunks:
** a trace holds at most memory_limit / TBT_CHUNK_BYTES chunks. */
#define TBT_TRACE_DEFAULT_LIMIT ((size_t)256 << 20)

/* ------------------------------------------------------------ buffers */

typedef struct tbt_chunk {
  struct tbt_chunk *next;
  _Atomic uint32_t used;       /* records published by the owner */
  uint32_t pad_;
  tbt_rec recs[TBT_CHUNK_RECS];
} tbt_chunk;

#define TBT_NAME_CACHE 64

typedef struct tbt_name_slot {
  const char *ptr;     /* the caller's pointer */
  const char *str;     /* the interned copy, to check the caller's string did not change */
  uint32_t id;
} tbt_name_slot;

typedef struct tbt_tbuf {
  /* The head, laid out as tbt_buf_head_ (tbtrace_trace.h), which the inline recorders write. */
  /* Owner only (the hot path). */
  tbt_rec *recs;                /* the current chunk's records */
  _Atomic uint32_t *used;       /* the current chunk's published count */
  uint32_t pos, cap;
  uintptr_t track;              /* the track of the last record */
  /* Read by anyone, written by the owner: its thread pointer while it lives, 0 once it exits. */
  _Atomic uintptr_t self;
  /* Written by the owner under `lock`; read by the owner freely, by others under `lock`. */
  uint32_t gen;
  /* End of the head. */
  int full;                     /* owner only: the memory limit was hit in this generation */
  tbt_chunk *cur;               /* as gen: the chunk being filled (the last of head's list) */
  /* Under `lock`. */
  pthread_mutex_t lock;
  tbt_chunk *head;
  uint32_t name;                /* thread name id, 0 when unnamed */
  /* Read by anyone. */
  _Atomic uint64_t dropped;     /* written by the owner only */
  _Atomic int exited;
  uint64_t tid;
  struct tbt_tbuf *next;        /* registry, under the registry lock */
  tbt_name_slot cache[TBT_NAME_CACHE];   /* owner only */
} tbt_tbuf;

/* Hidden: the recorders reach these as directly as the file that defines them. */
#define TBT_HIDDEN_ __attribute__((visibility("hidden")))

/* Generation: odd while a trace is on. Read on every record; written by trace_on/off only. */
extern TBT_HIDDEN_ _Atomic uint32_t tbt_gen_;
/* Readers holding chunks' record counts to read below them later (the drain, from freezing a
** trace until its source is freed). While there is one, no span is taken back (trace_record.c):
** the slot a taken-back record frees is written again, and a reader must never see it change. */
extern TBT_HIDDEN_ _Atomic int tbt_readers_;
/* The calling thread's buffer, NULL before its first record while a trace is on. */
extern TBT_HIDDEN_ __thread tbt_tbuf *tbt_tls_buf_;

/* The calling thread's thread pointer: unique among live threads, read without a call. */
static inline uintptr_t tbt_thread_self_(void) {
#if defined(__x86_64__) || defined(__aarch64__)
  return (uintptr_t)__builtin_thread_pointer();
#else
  return (uintptr_t)pthread_self();
#endif
}

/* Appends one record; the owner has made room for it. */
static inline void tbt_rec_put_(tbt_tbuf *tb, uint64_t t, uint32_t a, uint32_t b) {
  uint32_t pos = tb->pos;
  tbt_rec *r = tb->recs + pos;
  r->t = t;
  r->a = a;
  r->b = b;
  tb->pos = ++pos;
  atomic_store_explicit(tb->used, pos, memory_order_release);
}

/* The slow path of a record: makes the calling thread's buffer ready for `need` records on
** `track` (writing the track switch), or returns NULL: no trace on, or the event is dropped
** (and counted). */
TBT_HIDDEN_ tbt_tbuf *tbt_buffer_ready_slow_(uintptr_t track, uint32_t need);

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
/* For the drain, trace lock held. registry: the buffers of live and exited threads, which stay
** valid while the trace lock is held (an array the caller frees with tbt_free; NULL when out of
** memory). lost: events dropped this trace by threads that could get no buffer. */
tbt_tbuf **tbt_buffers_registry_(size_t *n);
uint64_t tbt_buffers_lost_(void);

/* ------------------------------------------------------------ for the exporter */

/* Reads the current trace as a source (trace_source.h) without copying it, holding the trace
** lock until tbt_trace_read_end_ releases the source: meanwhile threads go on recording (what
** they record after the read began is not in it) and trace_on/off, stats and snapshots wait.
** Returns 0, TBT_ENOTRACE or TBT_ENOMEM (then *out is zeroed and nothing is held).
** tbt_trace_read_end_ is a no-op on a zeroed source. */
struct tbt_source;
int tbt_trace_read_(struct tbt_source *out);
void tbt_trace_read_end_(struct tbt_source *s);

/* The options the current trace was started with (profiler_outdir is the trace's own copy,
** valid until tbt_trace_off; memory_limit is the effective limit). With no trace on: the
** defaults. */
void tbt_trace_get_options(tbt_trace_options *out);
/* The same with profiler_outdir copied (the caller frees it with tbt_free), so it outlives a
** trace_off on another thread. Returns 0 or TBT_ENOMEM (then profiler_outdir is NULL). */
int tbt_trace_get_options_dup(tbt_trace_options *out);

#endif

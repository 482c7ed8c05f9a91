/*
** trace_buffer.c: per-thread span buffers, their generations and memory limit, the chunk free
** list and the registry of buffers (see trace_buffer.h for the protocol). The records themselves
** are written by trace_record.c and read by trace_drain.c.
*/
#include "trace_buffer.h"

#include "alloc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

_Static_assert(sizeof(tbt_chunk) == TBT_CHUNK_BYTES, "a chunk is TBT_CHUNK_BYTES");
_Static_assert(sizeof(tbt_rec) == 16, "records are 16 bytes");
/* The inline recorders (tbtrace_trace.h) see a record and a buffer's head as these. */
#define SAME_FIELD(a, fa, b, fb) \
  (offsetof(a, fa) == offsetof(b, fb) && sizeof(((a *)0)->fa) == sizeof(((b *)0)->fb))
_Static_assert(sizeof(tbt_rec_) == sizeof(tbt_rec) && SAME_FIELD(tbt_rec, t, tbt_rec_, t) &&
                   SAME_FIELD(tbt_rec, a, tbt_rec_, a) && SAME_FIELD(tbt_rec, b, tbt_rec_, b),
               "tbt_rec_ is tbt_rec");
_Static_assert(SAME_FIELD(tbt_tbuf, recs, tbt_buf_head_, recs) &&
                   SAME_FIELD(tbt_tbuf, used, tbt_buf_head_, used) &&
                   SAME_FIELD(tbt_tbuf, pos, tbt_buf_head_, pos) &&
                   SAME_FIELD(tbt_tbuf, cap, tbt_buf_head_, cap) &&
                   SAME_FIELD(tbt_tbuf, track, tbt_buf_head_, track) &&
                   SAME_FIELD(tbt_tbuf, self, tbt_buf_head_, self) &&
                   SAME_FIELD(tbt_tbuf, gen, tbt_buf_head_, gen),
               "tbt_buf_head_ is the head of tbt_tbuf");
_Static_assert(TBT_REC_ID_MASK_ == TBT_REC_CAT_MASK && TBT_REC_BEGIN_ == TBT_REC_B(TBT_REC_BEGIN, 0) &&
                   TBT_REC_END_ == TBT_REC_B(TBT_REC_END, 0),
               "the inline recorders' kinds");

_Atomic uint32_t tbt_gen_;
_Atomic int tbt_readers_;
__thread tbt_tbuf *tbt_tls_buf_;

/* gen << 32 | chunks charged to that generation (the memory limit, in chunks). */
static _Atomic uint64_t g_acct;
static _Atomic uint32_t g_limit_chunks;
static _Atomic uint64_t g_lost;          /* events dropped by threads that could get no buffer */
static _Atomic uint64_t g_bytes;         /* all chunk memory held: attached and free */

static pthread_mutex_t g_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static tbt_chunk *g_pool;

static pthread_mutex_t g_reg_lock = PTHREAD_MUTEX_INITIALIZER;
static tbt_tbuf *g_bufs;
static tbt_tbuf **g_bufs_tail = &g_bufs;
/* Buffers of threads that exited, kept for new threads rather than freed: a recorder cache
** (tbt_track_cache) may still point at one, and must find it readable. Under g_reg_lock. */
static tbt_tbuf *g_retired;

static pthread_once_t g_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_key;
static int g_key_ok;

static __thread uint32_t tls_name;
static __thread int tls_exiting;

/* ------------------------------------------------------------------ chunks */

static tbt_chunk *chunk_get(void) {
  pthread_mutex_lock(&g_pool_lock);
  tbt_chunk *c = g_pool;
  if (c) g_pool = c->next;
  pthread_mutex_unlock(&g_pool_lock);
  if (!c) {
    c = tbt_malloc(sizeof *c);
    if (!c) return NULL;
    atomic_fetch_add_explicit(&g_bytes, TBT_CHUNK_BYTES, memory_order_relaxed);
  }
  c->next = NULL;
  atomic_store_explicit(&c->used, 0, memory_order_relaxed);
  return c;
}

/* Returns a list of chunks (linked by next) to the free list. */
static void chunk_put_list(tbt_chunk *first) {
  if (!first) return;
  tbt_chunk *last = first;
  while (last->next) last = last->next;
  pthread_mutex_lock(&g_pool_lock);
  last->next = g_pool;
  g_pool = first;
  pthread_mutex_unlock(&g_pool_lock);
}

/* Frees free-list chunks until at most `keep` bytes of chunks are held. */
static void pool_trim(uint64_t keep) {
  tbt_chunk *drop = NULL;
  pthread_mutex_lock(&g_pool_lock);
  while (g_pool && atomic_load_explicit(&g_bytes, memory_order_relaxed) > keep) {
    tbt_chunk *c = g_pool;
    g_pool = c->next;
    c->next = drop;
    drop = c;
    atomic_fetch_sub_explicit(&g_bytes, TBT_CHUNK_BYTES, memory_order_relaxed);
  }
  pthread_mutex_unlock(&g_pool_lock);
  while (drop) {
    tbt_chunk *n = drop->next;
    tbt_free(drop);
    drop = n;
  }
}

/* Counts one more chunk against generation gen's limit; 0 when over it or gen is over. */
static int charge(uint32_t gen) {
  uint64_t v = atomic_load_explicit(&g_acct, memory_order_acquire);
  for (;;) {
    if ((uint32_t)(v >> 32) != gen) return 0;
    if ((uint32_t)v >= atomic_load_explicit(&g_limit_chunks, memory_order_relaxed)) return 0;
    if (atomic_compare_exchange_weak_explicit(&g_acct, &v, v + 1, memory_order_acq_rel,
                                              memory_order_acquire))
      return 1;
  }
}

/* ------------------------------------------------------------------ buffers */

static void tb_exit(void *p) {
  tbt_tbuf *tb = p;
  tbt_tls_buf_ = NULL;
  tls_exiting = 1;
  /* No cache finds it its caller's now, even on a thread that later has the same pointer. */
  atomic_store_explicit(&tb->self, 0, memory_order_relaxed);
  atomic_store_explicit(&tb->exited, 1, memory_order_release);
}

static void make_key(void) {
  g_key_ok = pthread_key_create(&g_key, tb_exit) == 0;
}
/* A retired buffer made ready for the calling thread, or a new one. */
static tbt_tbuf *tb_take(void) {
  pthread_mutex_lock(&g_reg_lock);
  tbt_tbuf *tb = g_retired;
  if (tb) g_retired = tb->next;
  pthread_mutex_unlock(&g_reg_lock);
  if (tb) {
    /* Its chunks went back to the pool when it retired. */
    pthread_mutex_lock(&tb->lock);
    tb->gen = 0;
    tb->name = 0;
    pthread_mutex_unlock(&tb->lock);
    tb->recs = NULL;
    tb->used = NULL;
    tb->pos = tb->cap = 0;
    tb->track = 0;
    tb->full = 0;
    tb->next = NULL;
    atomic_store_explicit(&tb->dropped, 0, memory_order_relaxed);
    memset(tb->cache, 0, sizeof tb->cache);
    return tb;
  }
  tb = tbt_calloc(1, sizeof *tb);
  if (!tb) return NULL;
  if (pthread_mutex_init(&tb->lock, NULL) != 0) {
    tbt_free(tb);
    return NULL;
  }
  return tb;
}

static void tb_retire(tbt_tbuf *tb) {
  pthread_mutex_lock(&g_reg_lock);
  tb->next = g_retired;
  g_retired = tb;
  pthread_mutex_unlock(&g_reg_lock);
}

static tbt_tbuf *tb_attach(void) {
  pthread_once(&g_key_once, make_key);
  if (!g_key_ok) return NULL;
  tbt_tbuf *tb = tb_take();
  if (!tb) return NULL;
  tb->tid = (uint64_t)syscall(SYS_gettid);
  tb->name = tls_name;
  if (pthread_setspecific(g_key, tb) != 0) {
    tb_retire(tb);
    return NULL;
  }
  /* The owner: what a tbt_track_cache is checked against (trace_record.c, tbtrace_trace.h). */
  atomic_store_explicit(&tb->self, tbt_thread_self_(), memory_order_relaxed);
  atomic_store_explicit(&tb->exited, 0, memory_order_release);
  pthread_mutex_lock(&g_reg_lock);
  *g_bufs_tail = tb;
  g_bufs_tail = &tb->next;
  pthread_mutex_unlock(&g_reg_lock);
  tbt_tls_buf_ = tb;
  return tb;
}

/* The owner starts generation gen: keeps its current chunk (when the limit allows) and returns
** the rest to the free list. */
static void tb_reset(tbt_tbuf *tb, uint32_t gen) {
  tbt_chunk *give = NULL;
  pthread_mutex_lock(&tb->lock);
  tbt_chunk *keep = tb->cur;
  for (tbt_chunk *c = tb->head, *n; c; c = n) {
    n = c->next;
    if (c != keep) {
      c->next = give;
      give = c;
    }
  }
  if (keep && !charge(gen)) {
    keep->next = give;
    give = keep;
    keep = NULL;
  }
  if (keep) {
    keep->next = NULL;
    atomic_store_explicit(&keep->used, 0, memory_order_relaxed);
  }
  tb->head = tb->cur = keep;
  /* Everything a reader checks must be reset before the new generation is visible to it. */
  atomic_store_explicit(&tb->dropped, 0, memory_order_relaxed);
  tb->name = tls_name;
  tb->gen = gen;
  pthread_mutex_unlock(&tb->lock);
  tb->recs = keep ? keep->recs : NULL;
  tb->used = keep ? &keep->used : NULL;
  tb->pos = 0;
  tb->cap = keep ? (uint32_t)TBT_CHUNK_RECS : 0;
  tb->track = 0;
  tb->full = 0;
  chunk_put_list(give);
}

static int tb_new_chunk(tbt_tbuf *tb, uint32_t gen) {
  if (!charge(gen)) return 0;
  tbt_chunk *c = chunk_get();
  if (!c) return 0;
  pthread_mutex_lock(&tb->lock);
  if (tb->cur)
    tb->cur->next = c;
  else
    tb->head = c;
  tb->cur = c;
  pthread_mutex_unlock(&tb->lock);
  tb->recs = c->recs;
  tb->used = &c->used;
  tb->pos = 0;
  tb->cap = (uint32_t)TBT_CHUNK_RECS;
  return 1;
}

static void count_drop(tbt_tbuf *tb) {
  atomic_store_explicit(&tb->dropped,
                        atomic_load_explicit(&tb->dropped, memory_order_relaxed) + 1,
                        memory_order_relaxed);
}

/* Makes the calling thread's buffer ready for `need` records on `track` (writing the track
** switch), or returns NULL: no trace on, or the event is dropped (and counted). */
__attribute__((noinline)) tbt_tbuf *tbt_buffer_ready_slow_(uintptr_t track, uint32_t need) {
  uint32_t gen = atomic_load_explicit(&tbt_gen_, memory_order_acquire);
  if (!(gen & 1)) return NULL;
  tbt_tbuf *tb = tbt_tls_buf_;
  if (!tb) {
    if (tls_exiting) return NULL;
    tb = tb_attach();
    if (!tb) {
      atomic_fetch_add_explicit(&g_lost, 1, memory_order_relaxed);
      return NULL;
    }
  }
  if (tb->gen != gen) tb_reset(tb, gen);
  if (tb->full) goto drop;
  uint32_t total = need + (tb->track != track);
  if (tb->pos + total > tb->cap && !tb_new_chunk(tb, gen)) {
    tb->full = 1;
    tb->cap = tb->pos;
    goto drop;
  }
  if (tb->track != track) {
    tbt_rec_put_(tb, (uint64_t)track, 0, TBT_REC_B(TBT_REC_TRACK, 0));
    tb->track = track;
  }
  return tb;
drop:
  count_drop(tb);
  return NULL;
}

void tbt_thread_name(const char *name) {
  uint32_t id = name ? tbt_intern(name) : 0;
  tls_name = id;
  tbt_tbuf *tb = tbt_tls_buf_;
  if (tb) {
    pthread_mutex_lock(&tb->lock);
    tb->name = id;
    pthread_mutex_unlock(&tb->lock);
  }
}

/* ------------------------------------------------------------------ control */

/* Frees the buffers of exited threads and takes every chunk but the current one from live
** buffers. Trace lock held. */
static void sweep(void) {
  tbt_chunk *give = NULL;
  pthread_mutex_lock(&g_reg_lock);
  tbt_tbuf **pp = &g_bufs;
  while (*pp) {
    tbt_tbuf *tb = *pp;
    if (atomic_load_explicit(&tb->exited, memory_order_acquire)) {
      *pp = tb->next;
      for (tbt_chunk *c = tb->head, *n; c; c = n) {
        n = c->next;
        c->next = give;
        give = c;
      }
      tb->head = tb->cur = NULL;
      tb->next = g_retired;   /* g_reg_lock is held */
      g_retired = tb;
      continue;
    }
    pthread_mutex_lock(&tb->lock);
    tbt_chunk *keep = tb->cur;
    for (tbt_chunk *c = tb->head, *n; c; c = n) {
      n = c->next;
      if (c != keep) {
        c->next = give;
        give = c;
      }
    }
    if (keep) keep->next = NULL;
    tb->head = keep;
    pthread_mutex_unlock(&tb->lock);
    pp = &tb->next;
  }
  g_bufs_tail = pp;
  pthread_mutex_unlock(&g_reg_lock);
  chunk_put_list(give);
}

/* Counts the records and drops of generation gen (registry and buffer locks taken here). */
static void count_generation(uint32_t gen, tbt_trace_stats *out) {
  out->dropped = atomic_load_explicit(&g_lost, memory_order_relaxed);
  pthread_mutex_lock(&g_reg_lock);
  for (tbt_tbuf *tb = g_bufs; tb; tb = tb->next) {
    pthread_mutex_lock(&tb->lock);
    if (tb->gen == gen) {
      uint64_t recs = 0;
      for (tbt_chunk *c = tb->head; c; c = c->next)
        recs += atomic_load_explicit(&c->used, memory_order_acquire);
      uint64_t dropped = atomic_load_explicit(&tb->dropped, memory_order_relaxed);
      out->records += recs;
      out->dropped += dropped;
      if (recs || dropped) out->threads++;
    }
    pthread_mutex_unlock(&tb->lock);
  }
  pthread_mutex_unlock(&g_reg_lock);
}

void tbt_buffers_stats_(tbt_trace_stats *out) {
  memset(out, 0, sizeof *out);
  uint32_t gen = atomic_load_explicit(&tbt_gen_, memory_order_acquire);
  out->bytes = atomic_load_explicit(&g_bytes, memory_order_relaxed);
  if (gen & 1) count_generation(gen, out);
}

void tbt_buffers_start_(size_t memory_limit) {
  if (!memory_limit) memory_limit = TBT_TRACE_DEFAULT_LIMIT;
  uint64_t chunks = memory_limit / TBT_CHUNK_BYTES;
  if (chunks > UINT32_MAX - 1) chunks = UINT32_MAX - 1;
  uint32_t gen = atomic_load_explicit(&tbt_gen_, memory_order_relaxed) + 1;
  if (!(gen & 1)) gen++;
  sweep();
  pool_trim((uint64_t)memory_limit);
  atomic_store_explicit(&g_limit_chunks, (uint32_t)chunks, memory_order_relaxed);
  atomic_store_explicit(&g_lost, 0, memory_order_relaxed);
  atomic_store_explicit(&g_acct, (uint64_t)gen << 32, memory_order_release);
  atomic_store_explicit(&tbt_gen_, gen, memory_order_release);
}

uint32_t tbt_buffers_generation_(void) {
  return atomic_load_explicit(&tbt_gen_, memory_order_acquire);
}

void tbt_buffers_stop_(tbt_trace_stats *final) {
  uint32_t old = atomic_load_explicit(&tbt_gen_, memory_order_relaxed);
  uint32_t gen = old + 1;
  if (gen & 1) gen++;
  atomic_store_explicit(&g_acct, (uint64_t)gen << 32, memory_order_release);
  atomic_store_explicit(&tbt_gen_, gen, memory_order_release);
  /* Counted after the switch, before the chunks go: recorders that saw the old generation can
  ** only finish the record they are writing. */
  if (final) {
    memset(final, 0, sizeof *final);
    if (old & 1) count_generation(old, final);
  }
  sweep();
}

/* A snapshot of the registry: buffers stay valid while the trace lock is held. */
tbt_tbuf **tbt_buffers_registry_(size_t *n) {
  pthread_mutex_lock(&g_reg_lock);
  size_t count = 0;
  for (tbt_tbuf *tb = g_bufs; tb; tb = tb->next) count++;
  tbt_tbuf **v = tbt_calloc(count ? count : 1, sizeof *v);
  if (v) {
    count = 0;
    for (tbt_tbuf *tb = g_bufs; tb; tb = tb->next) v[count++] = tb;
  }
  pthread_mutex_unlock(&g_reg_lock);
  *n = count;
  return v;
}

uint64_t tbt_buffers_lost_(void) {
  return atomic_load_explicit(&g_lost, memory_order_relaxed);
}

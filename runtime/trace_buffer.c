/*
** trace_buffer.c: per-thread span buffers, the chunk free list, and the drain into a trace model
** (see trace_buffer.h for the protocol).
*/
#include "trace_buffer.h"

#include "alloc.h"
#include "clock.h"
#include "intern.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

#define REC_B(kind, cat) (((uint32_t)(kind) << TBT_REC_KIND_SHIFT) | ((cat) & TBT_REC_CAT_MASK))

typedef struct tbt_chunk {
  struct tbt_chunk *next;
  _Atomic uint32_t used;       /* records published by the owner */
  uint32_t pad_;
  tbt_rec recs[TBT_CHUNK_RECS];
} tbt_chunk;

_Static_assert(sizeof(tbt_chunk) == TBT_CHUNK_BYTES, "a chunk is TBT_CHUNK_BYTES");
_Static_assert(sizeof(tbt_rec) == 16, "records are 16 bytes");

#define NAME_CACHE 64

typedef struct name_slot {
  const char *ptr;     /* the caller's pointer */
  const char *str;     /* the interned copy, to check the caller's string did not change */
  uint32_t id;
} name_slot;

typedef struct tbuf {
  /* Owner only (the hot path). */
  tbt_rec *recs;                /* the current chunk's records */
  _Atomic uint32_t *used;       /* the current chunk's published count */
  uint32_t pos, cap;
  uintptr_t track;              /* the track of the last record */
  int full;                     /* the memory limit was hit in this generation */
  /* Written by the owner under `lock`; read by the owner freely, by others under `lock`. */
  uint32_t gen;
  tbt_chunk *cur;               /* the chunk being filled (the last of head's list) */
  /* Under `lock`. */
  pthread_mutex_t lock;
  tbt_chunk *head;
  uint32_t name;                /* thread name id, 0 when unnamed */
  /* Read by anyone. */
  _Atomic uint64_t dropped;     /* written by the owner only */
  _Atomic int exited;
  _Atomic uintptr_t self;       /* the owner's thread pointer (see tbt_track_begin_cached) */
  uint64_t tid;
  struct tbuf *next;            /* registry, under g_reg */
  name_slot cache[NAME_CACHE];  /* owner only */
} tbuf;

/* Generation: odd while a trace is on. Read on every record; written by trace_on/off only. */
static _Atomic uint32_t g_gen;
/* gen << 32 | chunks charged to that generation (the memory limit, in chunks). */
static _Atomic uint64_t g_acct;
static _Atomic uint32_t g_limit_chunks;
static _Atomic uint64_t g_lost;          /* events dropped by threads that could get no buffer */
static _Atomic uint64_t g_bytes;         /* all chunk memory held: attached and free */

static pthread_mutex_t g_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static tbt_chunk *g_pool;

static pthread_mutex_t g_reg_lock = PTHREAD_MUTEX_INITIALIZER;
static tbuf *g_bufs;
static tbuf **g_bufs_tail = &g_bufs;
/* Buffers of threads that exited, kept for new threads rather than freed: a recorder cache
** (tbt_track_cache) may still point at one, and must find it readable. Under g_reg_lock. */
static tbuf *g_retired;

static pthread_once_t g_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_key;
static int g_key_ok;

static __thread tbuf *tls_tb;
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
  tbuf *tb = p;
  tls_tb = NULL;
  tls_exiting = 1;
  atomic_store_explicit(&tb->exited, 1, memory_order_release);
}

static void make_key(void) {
  g_key_ok = pthread_key_create(&g_key, tb_exit) == 0;
}

/* The calling thread's thread pointer: unique among live threads, read without a call. */
static inline uintptr_t thread_self(void) {
#if defined(__x86_64__) || defined(__aarch64__)
  return (uintptr_t)__builtin_thread_pointer();
#else
  return (uintptr_t)pthread_self();
#endif
}

/* A retired buffer made ready for the calling thread, or a new one. */
static tbuf *tb_take(void) {
  pthread_mutex_lock(&g_reg_lock);
  tbuf *tb = g_retired;
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

static void tb_retire(tbuf *tb) {
  pthread_mutex_lock(&g_reg_lock);
  tb->next = g_retired;
  g_retired = tb;
  pthread_mutex_unlock(&g_reg_lock);
}

static tbuf *tb_attach(void) {
  pthread_once(&g_key_once, make_key);
  if (!g_key_ok) return NULL;
  tbuf *tb = tb_take();
  if (!tb) return NULL;
  tb->tid = (uint64_t)syscall(SYS_gettid);
  tb->name = tls_name;
  if (pthread_setspecific(g_key, tb) != 0) {
    tb_retire(tb);
    return NULL;
  }
  /* The owner is set before the buffer reads as live (see cached_tb). */
  atomic_store_explicit(&tb->self, thread_self(), memory_order_relaxed);
  atomic_store_explicit(&tb->exited, 0, memory_order_release);
  pthread_mutex_lock(&g_reg_lock);
  *g_bufs_tail = tb;
  g_bufs_tail = &tb->next;
  pthread_mutex_unlock(&g_reg_lock);
  tls_tb = tb;
  return tb;
}

/* The owner starts generation gen: keeps its current chunk (when the limit allows) and returns
** the rest to the free list. */
static void tb_reset(tbuf *tb, uint32_t gen) {
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

static int tb_new_chunk(tbuf *tb, uint32_t gen) {
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

static inline void put(tbuf *tb, uint64_t t, uint32_t a, uint32_t b) {
  uint32_t pos = tb->pos;
  tbt_rec *r = tb->recs + pos;
  r->t = t;
  r->a = a;
  r->b = b;
  tb->pos = ++pos;
  atomic_store_explicit(tb->used, pos, memory_order_release);
}

static void count_drop(tbuf *tb) {
  atomic_store_explicit(&tb->dropped,
                        atomic_load_explicit(&tb->dropped, memory_order_relaxed) + 1,
                        memory_order_relaxed);
}

/* Makes the calling thread's buffer ready for `need` records on `track` (writing the track
** switch), or returns NULL: no trace on, or the event is dropped (and counted). */
static __attribute__((noinline)) tbuf *tb_slow(uintptr_t track, uint32_t need) {
  uint32_t gen = atomic_load_explicit(&g_gen, memory_order_acquire);
  if (!(gen & 1)) return NULL;
  tbuf *tb = tls_tb;
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
    put(tb, (uint64_t)track, 0, REC_B(TBT_REC_TRACK, 0));
    tb->track = track;
  }
  return tb;
drop:
  count_drop(tb);
  return NULL;
}

static inline tbuf *tb_ready(uintptr_t track, uint32_t need) {
  tbuf *tb = tls_tb;
  if (LIKELY(tb && tb->gen == atomic_load_explicit(&g_gen, memory_order_relaxed) &&
             tb->track == track && tb->pos + need <= tb->cap))
    return tb;
  return tb_slow(track, need);
}

/* The id of a C string through the thread's pointer cache. */
static uint32_t cached_id(tbuf *tb, const char *s) {
  if (!s) return 0;
  uintptr_t p = (uintptr_t)s;
  name_slot *e = &tb->cache[((p >> 3) ^ (p >> 11)) & (NAME_CACHE - 1)];
  if (LIKELY(e->ptr == s) && strcmp(e->str, s) == 0) return e->id;
  uint32_t id = tbt_intern(s);
  if (id) {
    e->ptr = s;
    e->str = tbt_intern_get(id);
    e->id = id;
  }
  return id;
}

/* ------------------------------------------------------------------ recorders */

/* Each recorder tests the flag before anything else: with no trace on, an exported recorder
** costs its call and one predictable branch (no clock read, no thread-local lookup). */
static inline void rec_begin(uintptr_t track, uint32_t name, uint32_t cat) {
  if (!TBT_TRACE_ACTIVE_()) return;
  tbuf *tb = tb_ready(track, 1);
  if (!tb) return;
  put(tb, tbt_ticks(), name & TBT_REC_CAT_MASK, REC_B(TBT_REC_BEGIN, cat));
}

static inline void rec_end(uintptr_t track) {
  if (!TBT_TRACE_ACTIVE_()) return;
  uint64_t t = tbt_ticks();
  tbuf *tb = tb_ready(track, 1);
  if (!tb) return;
  put(tb, t, 0, REC_B(TBT_REC_END, 0));
}

static inline void rec_instant(uintptr_t track, uint32_t name, uint32_t cat) {
  if (!TBT_TRACE_ACTIVE_()) return;
  uint64_t t = tbt_ticks();
  tbuf *tb = tb_ready(track, 1);
  if (!tb) return;
  put(tb, t, name & TBT_REC_CAT_MASK, REC_B(TBT_REC_INSTANT, cat));
}

static inline void rec_counter(uintptr_t track, uint32_t name, double value) {
  if (!TBT_TRACE_ACTIVE_()) return;
  uint64_t t = tbt_ticks();
  tbuf *tb = tb_ready(track, 2);
  if (!tb) return;
  uint64_t bits;
  memcpy(&bits, &value, sizeof bits);
  uint32_t pos = tb->pos;
  tbt_rec *r = tb->recs + pos;
  r[0].t = t;
  r[0].a = name & TBT_REC_CAT_MASK;
  r[0].b = REC_B(TBT_REC_COUNTER, 0);
  r[1].t = bits;
  r[1].a = 0;
  r[1].b = REC_B(TBT_REC_DATA, 0);
  tb->pos = pos + 2;
  atomic_store_explicit(tb->used, pos + 2, memory_order_release);
}

void tbt_track_begin(uintptr_t track, uint32_t name_id, uint32_t category_id) {
  rec_begin(track, name_id, category_id);
}

void tbt_track_end(uintptr_t track) {
  rec_end(track);
}

void tbt_track_instant(uintptr_t track, uint32_t name_id, uint32_t category_id) {
  rec_instant(track, name_id, category_id);
}

void tbt_track_counter(uintptr_t track, uint32_t name_id, double value) {
  rec_counter(track, name_id, value);
}

/* The buffer a cache holds when it is the calling thread's, else the thread's own (NULL before
** its first record). A buffer is never freed, so a stale pointer is always readable: it is the
** caller's when it is live and owned by the caller's thread pointer. A retired one reads as
** exited; one taken by another thread reads live only with its new owner, set first. */
static inline tbuf *cached_tb(tbt_track_cache *c) {
  tbuf *tb = c->buf_;
  if (LIKELY(tb && !atomic_load_explicit(&tb->exited, memory_order_acquire) &&
             atomic_load_explicit(&tb->self, memory_order_relaxed) == thread_self()))
    return tb;
  return c->buf_ = tls_tb;
}

static inline tbuf *tb_ready_in(tbuf *tb, uintptr_t track, uint32_t need) {
  if (LIKELY(tb && tb->gen == atomic_load_explicit(&g_gen, memory_order_relaxed) &&
             tb->track == track && tb->pos + need <= tb->cap))
    return tb;
  return tb_slow(track, need);
}

void tbt_track_begin_cached(tbt_track_cache *c, uintptr_t track, uint32_t name_id,
                            uint32_t category_id) {
  if (!c) {
    rec_begin(track, name_id, category_id);
    return;
  }
  if (!TBT_TRACE_ACTIVE_()) return;
  tbuf *tb = tb_ready_in(cached_tb(c), track, 1);
  if (!tb) return;
  put(tb, tbt_ticks(), name_id & TBT_REC_CAT_MASK, REC_B(TBT_REC_BEGIN, category_id));
}

void tbt_track_end_cached(tbt_track_cache *c, uintptr_t track) {
  if (!c) {
    rec_end(track);
    return;
  }
  if (!TBT_TRACE_ACTIVE_()) return;
  uint64_t t = tbt_ticks();
  tbuf *tb = tb_ready_in(cached_tb(c), track, 1);
  if (!tb) return;
  put(tb, t, 0, REC_B(TBT_REC_END, 0));
}

void tbt_span_begin_id_(uint32_t name_id, uint32_t category_id) {
  rec_begin(0, name_id, category_id);
}

void tbt_span_end_(void) {
  rec_end(0);
}

void tbt_span_begin_(const char *name, const char *category) {
  if (!TBT_TRACE_ACTIVE_()) return;
  tbuf *tb = tb_ready(0, 1);
  if (!tb || !name) return;
  uint32_t id = cached_id(tb, name);
  uint32_t cat = category ? cached_id(tb, category) : 0;
  put(tb, tbt_ticks(), id, REC_B(TBT_REC_BEGIN, cat));
}

void tbt_instant_id_(uint32_t name_id, uint32_t category_id) {
  rec_instant(0, name_id, category_id);
}

void tbt_counter_id_(uint32_t name_id, double value) {
  rec_counter(0, name_id, value);
}

void tbt_instant_(const char *name, const char *category) {
  if (!TBT_TRACE_ACTIVE_()) return;
  uint64_t t = tbt_ticks();
  tbuf *tb = tb_ready(0, 1);
  if (!tb || !name) return;
  uint32_t id = cached_id(tb, name);
  uint32_t cat = category ? cached_id(tb, category) : 0;
  put(tb, t, id, REC_B(TBT_REC_INSTANT, cat));
}

void tbt_counter_(const char *name, double value) {
  if (!TBT_TRACE_ACTIVE_() || !name) return;
  tbuf *tb = tls_tb;
  uint32_t id = tb ? cached_id(tb, name) : tbt_intern(name);
  rec_counter(0, id, value);
}

void tbt_span_depends(const char *from_path, const char *to_path) {
  /* A trace is on while the generation is odd (asking trace.c would make the two files a loop). */
  if (!from_path || !to_path || !(atomic_load_explicit(&g_gen, memory_order_acquire) & 1)) return;
  uint32_t from = tbt_intern(from_path), to = tbt_intern(to_path);
  if (!from || !to) return;
  tbuf *tb = tls_tb;
  tb = tb_ready(tb ? tb->track : 0, 1);
  if (!tb) return;
  put(tb, to, from, REC_B(TBT_REC_EDGE, 0));
}

void tbt_thread_name(const char *name) {
  uint32_t id = name ? tbt_intern(name) : 0;
  tls_name = id;
  tbuf *tb = tls_tb;
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
  tbuf **pp = &g_bufs;
  while (*pp) {
    tbuf *tb = *pp;
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
  for (tbuf *tb = g_bufs; tb; tb = tb->next) {
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
  uint32_t gen = atomic_load_explicit(&g_gen, memory_order_acquire);
  out->bytes = atomic_load_explicit(&g_bytes, memory_order_relaxed);
  if (gen & 1) count_generation(gen, out);
}

void tbt_buffers_start_(size_t memory_limit) {
  if (!memory_limit) memory_limit = TBT_TRACE_DEFAULT_LIMIT;
  uint64_t chunks = memory_limit / TBT_CHUNK_BYTES;
  if (chunks > UINT32_MAX - 1) chunks = UINT32_MAX - 1;
  uint32_t gen = atomic_load_explicit(&g_gen, memory_order_relaxed) + 1;
  if (!(gen & 1)) gen++;
  sweep();
  pool_trim((uint64_t)memory_limit);
  atomic_store_explicit(&g_limit_chunks, (uint32_t)chunks, memory_order_relaxed);
  atomic_store_explicit(&g_lost, 0, memory_order_relaxed);
  atomic_store_explicit(&g_acct, (uint64_t)gen << 32, memory_order_release);
  atomic_store_explicit(&g_gen, gen, memory_order_release);
}

uint32_t tbt_buffers_generation_(void) {
  return atomic_load_explicit(&g_gen, memory_order_acquire);
}

void tbt_buffers_stop_(tbt_trace_stats *final) {
  uint32_t old = atomic_load_explicit(&g_gen, memory_order_relaxed);
  uint32_t gen = old + 1;
  if (gen & 1) gen++;
  atomic_store_explicit(&g_acct, (uint64_t)gen << 32, memory_order_release);
  atomic_store_explicit(&g_gen, gen, memory_order_release);
  /* Counted after the switch, before the chunks go: recorders that saw the old generation can
  ** only finish the record they are writing. */
  if (final) {
    memset(final, 0, sizeof *final);
    if (old & 1) count_generation(old, final);
  }
  sweep();
}

/* A snapshot of the registry: buffers stay valid while the trace lock is held. */
static tbuf **registry(size_t *n) {
  pthread_mutex_lock(&g_reg_lock);
  size_t count = 0;
  for (tbuf *tb = g_bufs; tb; tb = tb->next) count++;
  tbuf **v = tbt_calloc(count ? count : 1, sizeof *v);
  if (v) {
    count = 0;
    for (tbuf *tb = g_bufs; tb; tb = tb->next) v[count++] = tb;
  }
  pthread_mutex_unlock(&g_reg_lock);
  *n = count;
  return v;
}

/* ------------------------------------------------------------------ the drain */

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

/* A u64 -> u32 map (open addressing; keys stored + 1 so 0 marks an empty slot). */
typedef struct u64map {
  uint64_t *keys;
  uint32_t *vals;
  size_t n, cap;
} u64map;

static size_t u64_slot(uint64_t key, size_t cap) {
  return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
}

/* 1 and *val when key is there, else 0. */
static int u64map_get(const u64map *m, uint64_t key, uint32_t *val) {
  if (!m->cap) return 0;
  for (size_t h = u64_slot(key, m->cap); m->keys[h]; h = (h + 1) & (m->cap - 1)) {
    if (m->keys[h] == key + 1) {
      *val = m->vals[h];
      return 1;
    }
  }
  return 0;
}

/* Adds a key that is not there. */
static int u64map_put(u64map *m, uint64_t key, uint32_t val) {
  if ((m->n + 1) * 2 > m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 64;
    uint64_t *keys = tbt_calloc(cap, sizeof *keys);
    uint32_t *vals = tbt_calloc(cap, sizeof *vals);
    if (!keys || !vals) {
      tbt_free(keys);
      tbt_free(vals);
      return -1;
    }
    for (size_t i = 0; i < m->cap; i++) {
      if (!m->keys[i]) continue;
      size_t h = u64_slot(m->keys[i] - 1, cap);
      while (keys[h]) h = (h + 1) & (cap - 1);
      keys[h] = m->keys[i];
      vals[h] = m->vals[i];
    }
    tbt_free(m->keys);
    tbt_free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
  }
  size_t h = u64_slot(key, m->cap);
  while (m->keys[h]) h = (h + 1) & (m->cap - 1);
  m->keys[h] = key + 1;
  m->vals[h] = val;
  m->n++;
  return 0;
}

static void u64map_free(u64map *m) {
  tbt_free(m->keys);
  tbt_free(m->vals);
  memset(m, 0, sizeof *m);
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
  u64map edgeset;           /* from << 32 | to */
  u64map paths;             /* parent path << 32 | name -> path */
  u64map deep;              /* anchor << 32 | name -> a bounded path "<anchor>/…/<name>" */
  u64map anchors;           /* a bounded path -> its anchor */
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
  if (u64map_get(&d->edgeset, key, &unused)) return 0;
  if (GROW(d->edges, d->nedges, d->capedges)) return -1;
  if (u64map_put(&d->edgeset, key, 0)) return -1;
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
  if (u64map_get(&d->deep, key, &idx)) return idx;
  idx = join_name(d, anchor, "/\xe2\x80\xa6/", name);
  if (idx == TBT_STRTAB_NONE) return idx;
  uint32_t unused;
  if (u64map_put(&d->deep, key, idx) ||
      (!u64map_get(&d->anchors, idx, &unused) && u64map_put(&d->anchors, idx, anchor)))
    return TBT_STRTAB_NONE;
  return idx;
}

/* The model path index of a span named `name` (model index), `depth` deep, under parent path
** `ppath`. Paths stop growing (tbtrace_trace.h: TBT_PATH_MAX_DEPTH, TBT_PATH_MAX_BYTES), so the
** names a deep chain makes stay short and few: the cost stays linear in spans. */
static uint32_t span_path(drain *d, int has_parent, uint32_t ppath, uint32_t name, uint32_t depth) {
  if (!has_parent) return name;
  uint32_t idx;
  if (u64map_get(&d->anchors, ppath, &idx)) return deep_path(d, idx, name);
  uint64_t key = (uint64_t)ppath << 32 | name;
  if (u64map_get(&d->paths, key, &idx)) return idx;
  if (depth >= TBT_PATH_MAX_DEPTH || strlen(d->names.strs[ppath]) >= TBT_PATH_MAX_BYTES)
    idx = deep_path(d, ppath, name);
  else
    idx = join_name(d, ppath, "/", name);
  if (idx != TBT_STRTAB_NONE && u64map_put(&d->paths, key, idx)) return TBT_STRTAB_NONE;
  return idx;
}

/* Reads one buffer (its lock held) into d->tracks. Records later than `now` are left out. */
static int read_buffer(drain *d, tbuf *tb, uint64_t now) {
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
  u64map_free(&d->edgeset);
  u64map_free(&d->paths);
  u64map_free(&d->deep);
  u64map_free(&d->anchors);
  tbt_free(d->idmap);
  tbt_free(d->scratch);
  tbt_strtab_free(&d->names);
}

int tbt_buffers_snapshot_(tbt_trace_model *m, int64_t epoch_offset) {
  uint32_t gen = atomic_load_explicit(&g_gen, memory_order_acquire);
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
  tbuf **bufs = registry(&nbufs);
  if (!bufs) {
    drain_free(&d);
    return TBT_ENOMEM;
  }
  uint64_t dropped = atomic_load_explicit(&g_lost, memory_order_relaxed);
  int rc = 0;
  for (size_t i = 0; i < nbufs && rc == 0; i++) {
    tbuf *tb = bufs[i];
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
  u64map_free(&d.edgeset);
  u64map_free(&d.paths);
  u64map_free(&d.deep);
  u64map_free(&d.anchors);
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

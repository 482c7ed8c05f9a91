/*
** trace_record.c: the recorders, the hot path. Each writes its records into the calling thread's
** buffer (trace_buffer.h) without a lock or an allocation; a full chunk, a new trace or a new
** thread goes through the buffer's slow path.
*/
#include "trace_buffer.h"

#include "clock.h"
#include "intern.h"

#include <stdatomic.h>
#include <string.h>

#define LIKELY(x) __builtin_expect(!!(x), 1)

static inline tbt_tbuf *tb_ready(uintptr_t track, uint32_t need) {
  tbt_tbuf *tb = tbt_tls_buf_;
  if (LIKELY(tb && tb->gen == atomic_load_explicit(&tbt_gen_, memory_order_relaxed) &&
             tb->track == track && tb->pos + need <= tb->cap))
    return tb;
  return tbt_buffer_ready_slow_(track, need);
}

/* The id of a C string through the thread's pointer cache. */
static uint32_t cached_id(tbt_tbuf *tb, const char *s) {
  if (!s) return 0;
  uintptr_t p = (uintptr_t)s;
  tbt_name_slot *e = &tb->cache[((p >> 3) ^ (p >> 11)) & (TBT_NAME_CACHE - 1)];
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
  tbt_tbuf *tb = tb_ready(track, 1);
  if (!tb) return;
  tbt_rec_put_(tb, tbt_ticks(), name & TBT_REC_CAT_MASK, TBT_REC_B(TBT_REC_BEGIN, cat));
}

static inline void rec_end(uintptr_t track) {
  if (!TBT_TRACE_ACTIVE_()) return;
  uint64_t t = tbt_ticks();
  tbt_tbuf *tb = tb_ready(track, 1);
  if (!tb) return;
  tbt_rec_put_(tb, t, 0, TBT_REC_B(TBT_REC_END, 0));
}

static inline void rec_instant(uintptr_t track, uint32_t name, uint32_t cat) {
  if (!TBT_TRACE_ACTIVE_()) return;
  uint64_t t = tbt_ticks();
  tbt_tbuf *tb = tb_ready(track, 1);
  if (!tb) return;
  tbt_rec_put_(tb, t, name & TBT_REC_CAT_MASK, TBT_REC_B(TBT_REC_INSTANT, cat));
}

static inline void rec_counter(uintptr_t track, uint32_t name, double value) {
  if (!TBT_TRACE_ACTIVE_()) return;
  uint64_t t = tbt_ticks();
  tbt_tbuf *tb = tb_ready(track, 2);
  if (!tb) return;
  uint64_t bits;
  memcpy(&bits, &value, sizeof bits);
  uint32_t pos = tb->pos;
  tbt_rec *r = tb->recs + pos;
  r[0].t = t;
  r[0].a = name & TBT_REC_CAT_MASK;
  r[0].b = TBT_REC_B(TBT_REC_COUNTER, 0);
  r[1].t = bits;
  r[1].a = 0;
  r[1].b = TBT_REC_B(TBT_REC_DATA, 0);
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

/* A reader (the drain) counts itself in tbt_readers_, then takes each buffer's record counts
** under the buffer's lock, and reads below them later without it. So the owner takes a span back
** (lowers its published count; a later record writes the freed slot again) only holding its
** buffer's lock with no reader counted: a reader that counted itself before has taken or will
** take its counts under that lock, and is seen; one counting itself later takes the lowered
** count. The lock is only tried: the span is kept rather than wait. */
void tbt_track_end_min(uintptr_t track, uint64_t min_ticks) {
  if (!TBT_TRACE_ACTIVE_()) return;
  uint64_t t = tbt_ticks();
  tbt_tbuf *tb = tbt_tls_buf_;
  if (min_ticks && tb && tb->track == track && tb->pos > 0 &&
      tb->gen == atomic_load_explicit(&tbt_gen_, memory_order_relaxed)) {
    const tbt_rec *r = &tb->recs[tb->pos - 1];
    if ((r->b >> TBT_REC_KIND_SHIFT) == TBT_REC_BEGIN && t - r->t < min_ticks &&
        pthread_mutex_trylock(&tb->lock) == 0) {
      int taken = atomic_load(&tbt_readers_) == 0;
      if (taken) {
        tb->pos--;
        atomic_store_explicit(tb->used, tb->pos, memory_order_release);
      }
      pthread_mutex_unlock(&tb->lock);
      if (taken) return;
    }
  }
  tb = tb_ready(track, 1);
  if (!tb) return;
  tbt_rec_put_(tb, t, 0, TBT_REC_B(TBT_REC_END, 0));
}

uint64_t tbt_trace_ticks(uint64_t ns) {
  tbt_clock_init();
  tbt_clock_conv c;
  tbt_clock_conv_make(&c);
  long double ticks = (long double)ns / c.ns_per_tick;
  return ticks >= 18446744073709551615.0L ? UINT64_MAX : (uint64_t)ticks;
}

/* The buffer a cache holds when it is the calling thread's, else the thread's own (NULL before
** its first record). A buffer is never freed, so a stale pointer is always readable, and its
** owner field says whose it is: the thread pointer of the live thread it belongs to, set by that
** thread, or 0 once it has exited (tbt_buffer_ready_slow_ hands out no buffer to an exiting
** thread). Thread pointers are unique among live threads, so a match means the caller's. */
static inline tbt_tbuf *cached_tb(tbt_track_cache *c) {
  tbt_tbuf *tb = c->buf_;
  if (LIKELY(tb && atomic_load_explicit(&tb->self, memory_order_relaxed) == tbt_thread_self_()))
    return tb;
  return tbt_tls_buf_;
}

/* The calling thread's buffer ready for a record on track, kept in c for the inline recorders. */
static inline tbt_tbuf *cached_ready(tbt_track_cache *c, uintptr_t track) {
  tbt_tbuf *tb = cached_tb(c);
  if (!(LIKELY(tb && tb->gen == atomic_load_explicit(&tbt_gen_, memory_order_relaxed) &&
               tb->track == track && tb->pos < tb->cap))) {
    tb = tbt_buffer_ready_slow_(track, 1);
    if (!tb) return NULL;
  }
  c->buf_ = tb;
  return tb;
}

void tbt_track_begin_cached_(tbt_track_cache *c, uintptr_t track, uint32_t name_id,
                             uint32_t category_id) {
  if (!c) {
    rec_begin(track, name_id, category_id);
    return;
  }
  if (!TBT_TRACE_ACTIVE_()) return;
  tbt_tbuf *tb = cached_ready(c, track);
  if (!tb) return;
  tbt_rec_put_(tb, tbt_ticks(), name_id & TBT_REC_CAT_MASK, TBT_REC_B(TBT_REC_BEGIN, category_id));
}

void tbt_track_end_cached_(tbt_track_cache *c, uintptr_t track) {
  if (!c) {
    rec_end(track);
    return;
  }
  if (!TBT_TRACE_ACTIVE_()) return;
  uint64_t t = tbt_ticks();
  tbt_tbuf *tb = cached_ready(c, track);
  if (!tb) return;
  tbt_rec_put_(tb, t, 0, TBT_REC_B(TBT_REC_END, 0));
}

void tbt_span_begin_id_(uint32_t name_id, uint32_t category_id) {
  rec_begin(0, name_id, category_id);
}

void tbt_span_end_(void) {
  rec_end(0);
}

void tbt_span_begin_(const char *name, const char *category) {
  if (!TBT_TRACE_ACTIVE_()) return;
  tbt_tbuf *tb = tb_ready(0, 1);
  if (!tb || !name) return;
  uint32_t id = cached_id(tb, name);
  uint32_t cat = category ? cached_id(tb, category) : 0;
  tbt_rec_put_(tb, tbt_ticks(), id, TBT_REC_B(TBT_REC_BEGIN, cat));
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
  tbt_tbuf *tb = tb_ready(0, 1);
  if (!tb || !name) return;
  uint32_t id = cached_id(tb, name);
  uint32_t cat = category ? cached_id(tb, category) : 0;
  tbt_rec_put_(tb, t, id, TBT_REC_B(TBT_REC_INSTANT, cat));
}

void tbt_counter_(const char *name, double value) {
  if (!TBT_TRACE_ACTIVE_() || !name) return;
  tbt_tbuf *tb = tbt_tls_buf_;
  uint32_t id = tb ? cached_id(tb, name) : tbt_intern(name);
  rec_counter(0, id, value);
}

void tbt_span_depends(const char *from_path, const char *to_path) {
  /* A trace is on while the generation is odd. */
  if (!from_path || !to_path || !(atomic_load_explicit(&tbt_gen_, memory_order_acquire) & 1)) return;
  uint32_t from = tbt_intern(from_path), to = tbt_intern(to_path);
  if (!from || !to) return;
  tbt_tbuf *tb = tbt_tls_buf_;
  tb = tb_ready(tb ? tb->track : 0, 1);
  if (!tb) return;
  tbt_rec_put_(tb, to, from, TBT_REC_B(TBT_REC_EDGE, 0));
}

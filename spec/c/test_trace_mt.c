/*
** test_trace_mt.c: spans recorded by many threads at once. Threads created before trace_on and
** after it, threads that exit before the snapshot, and a thread snapshotting over and over while
** the others record. The final snapshot must hold exactly what each thread recorded; every
** intermediate one must be well formed and never shrink. A second phase toggles the trace on and
** off under threads that never stop recording and come and go. A third hands one recorder cache
** (tbt_track_cache) from thread to thread, as a Lua state moves between threads. Built with TSan
** too.
*/
#include "check.h"

#include "tbtrace.h"
#include "trace_buffer.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <stdatomic.h>
#include <time.h>

#define NPRE 3      /* created before trace_on */
#define NPOST 3     /* created after trace_on, alive at the snapshot */
#define NEXIT 3     /* created after trace_on, gone before the snapshot */
#define NWORK (NPRE + NPOST + NEXIT)

static atomic_int g_go, g_release, g_done, g_stop, g_snaps;

typedef struct worker {
  int index;
  int outer;        /* outer spans to record */
  int exits_early;
  pthread_t th;
} worker;

static int counters_for(int outer) {
  return (outer + 9) / 10;
}

static void sleep_us(long us) {
  struct timespec ts = {0, us * 1000};
  nanosleep(&ts, NULL);
}

static void *work(void *arg) {
  worker *w = arg;
  char name[32];
  snprintf(name, sizeof name, "w%d", w->index);
  tbt_thread_name(name);   /* before trace_on for the NPRE threads */
  while (!atomic_load(&g_go)) sleep_us(100);
  uint32_t outer = tbt_intern("outer"), cat = tbt_intern("worker");
  for (int i = 0; i < w->outer; i++) {
    tbt_span_begin_id(outer, cat);
    {
      TBT_SCOPE("inner_a");
      tbt_instant("tick");
    }
    tbt_span_begin("inner_b");
    if (i % 10 == 0) tbt_counter("progress", (double)i);
    tbt_span_end();
    tbt_span_end();
    if (i == w->outer / 2) {
      /* Half way: wait until two snapshots have completed, so one was taken in mid-recording. */
      int s0 = atomic_load(&g_snaps);
      while (atomic_load(&g_snaps) < s0 + 2) sleep_us(100);
    }
    if (i % 100 == 99) sleep_us(100);
  }
  atomic_fetch_add(&g_done, 1);
  if (!w->exits_early)
    while (!atomic_load(&g_release)) sleep_us(200);
  return NULL;
}

static const char *nm(const tbt_trace_model *m, uint32_t i) {
  return i < m->nnames ? m->names[i] : "(bad index)";
}

/* Structural checks every snapshot must pass; returns the number of problems. */
static int model_problems(const tbt_trace_model *m) {
  int bad = 0;
  if (m->nnames < 1 || strcmp(m->names[0], "") != 0) bad++;
  for (size_t t = 0; t < m->nthreads; t++) {
    const tbt_model_thread *th = &m->threads[t];
    if (th->name >= m->nnames) bad++;
    for (size_t i = 0; i < th->nspans; i++) {
      const tbt_model_span *s = &th->spans[i];
      if (s->name >= m->nnames || s->path >= m->nnames || s->category >= m->nnames) {
        bad++;
        continue;
      }
      if (s->end_ns < s->start_ns || s->end_ns > m->end_ns) bad++;
      if (i > 0 && s->start_ns < th->spans[i - 1].start_ns) bad++;
      if (s->parent >= (int32_t)i) bad++;
      if (s->parent >= 0) {
        const tbt_model_span *p = &th->spans[s->parent];
        if (s->depth != p->depth + 1 || s->start_ns < p->start_ns || s->end_ns > p->end_ns) bad++;
        char want[256];
        snprintf(want, sizeof want, "%s/%s", nm(m, p->path), nm(m, s->name));
        if (strcmp(nm(m, s->path), want) != 0) bad++;
      } else if (s->depth != 0 || strcmp(nm(m, s->path), nm(m, s->name)) != 0) {
        bad++;
      }
      if ((s->flags & TBT_SPAN_UNFINISHED) && s->end_ns != m->end_ns) bad++;
    }
  }
  return bad;
}

static const tbt_model_thread *find_thread(const tbt_trace_model *m, const char *name) {
  const tbt_model_thread *found = NULL;
  for (size_t t = 0; t < m->nthreads; t++) {
    if (strcmp(nm(m, m->threads[t].name), name) == 0) {
      if (found) return NULL;   /* must be unique */
      found = &m->threads[t];
    }
  }
  return found;
}

/* ------------------------------------------------------------ phase 1: exact counts */

typedef struct snapper_result {
  int snapshots;
  int partial;      /* snapshots taken while some worker was part way through */
  int problems;
  int shrank;
  int outer[NWORK];
} snapper_result;

static void *snapper(void *arg) {
  snapper_result *r = arg;
  size_t last[NWORK] = {0};
  while (!atomic_load(&g_stop)) {
    tbt_trace_model m;
    if (tbt_trace_snapshot(&m) != 0) {
      r->problems++;
      break;
    }
    r->snapshots++;
    r->problems += model_problems(&m);
    int part = 0;
    for (int i = 0; i < NWORK; i++) {
      char name[32];
      snprintf(name, sizeof name, "w%d", i);
      const tbt_model_thread *th = find_thread(&m, name);
      size_t n = th ? th->nspans : 0;
      if (n < last[i]) r->shrank++;
      if (n > 0 && n < (size_t)3 * r->outer[i]) part = 1;
      last[i] = n;
    }
    r->partial += part;
    tbt_trace_model_free(&m);
    tbt_trace_stats st;
    tbt_trace_get_stats(&st);
    if (st.dropped) r->problems++;
    atomic_fetch_add(&g_snaps, 1);
  }
  return NULL;
}

static void phase_exact(void) {
  worker w[NWORK];
  for (int i = 0; i < NWORK; i++) {
    w[i].index = i;
    w[i].outer = 1500 + 173 * i;
    w[i].exits_early = i >= NPRE + NPOST;
  }
  for (int i = 0; i < NPRE; i++) CHECK_EQ_INT(pthread_create(&w[i].th, NULL, work, &w[i]), 0);
  sleep_us(2000);
  CHECK_EQ_INT(tbt_trace_on(NULL), 0);
  snapper_result sr;
  memset(&sr, 0, sizeof sr);
  for (int i = 0; i < NWORK; i++) sr.outer[i] = w[i].outer;
  pthread_t snap_th;
  CHECK_EQ_INT(pthread_create(&snap_th, NULL, snapper, &sr), 0);
  atomic_store(&g_go, 1);
  for (int i = NPRE; i < NWORK; i++) CHECK_EQ_INT(pthread_create(&w[i].th, NULL, work, &w[i]), 0);
  for (int i = NPRE + NPOST; i < NWORK; i++) pthread_join(w[i].th, NULL);
  while (atomic_load(&g_done) < NWORK) sleep_us(500);
  int s0 = atomic_load(&g_snaps);   /* the snapshotter sees the finished state too */
  while (atomic_load(&g_snaps) < s0 + 2) sleep_us(100);
  atomic_store(&g_stop, 1);
  pthread_join(snap_th, NULL);
  CHECK(sr.snapshots > 1);
  CHECK(sr.partial > 0);
  CHECK_EQ_INT(sr.problems, 0);
  CHECK_EQ_INT(sr.shrank, 0);

  tbt_trace_model m;
  CHECK_EQ_INT(tbt_trace_snapshot(&m), 0);
  CHECK_EQ_INT(model_problems(&m), 0);
  CHECK_EQ_U64(m.dropped, 0);
  CHECK_EQ_INT(m.nthreads, NWORK);
  uint64_t tids[NWORK] = {0};
  for (int i = 0; i < NWORK; i++) {
    char name[32];
    snprintf(name, sizeof name, "w%d", i);
    const tbt_model_thread *th = find_thread(&m, name);
    CHECK(th != NULL);
    if (!th) continue;
    tids[i] = th->tid;
    CHECK_EQ_INT(th->nspans, 3 * w[i].outer);
    CHECK_EQ_INT(th->ninstants, w[i].outer);
    CHECK_EQ_INT(th->ncounters, counters_for(w[i].outer));
    int roots = 0, a = 0, b = 0, unfinished = 0;
    for (size_t k = 0; k < th->nspans; k++) {
      const tbt_model_span *s = &th->spans[k];
      const char *path = nm(&m, s->path);
      if (s->flags) unfinished++;
      if (strcmp(path, "outer") == 0) {
        roots++;
        if (strcmp(nm(&m, s->category), "worker") != 0) unfinished += 1000;
      } else if (strcmp(path, "outer/inner_a") == 0) {
        a++;
      } else if (strcmp(path, "outer/inner_b") == 0) {
        b++;
      }
    }
    CHECK_EQ_INT(roots, w[i].outer);
    CHECK_EQ_INT(a, w[i].outer);
    CHECK_EQ_INT(b, w[i].outer);
    CHECK_EQ_INT(unfinished, 0);
    for (size_t k = 0; k < th->ncounters; k++) CHECK(th->counters[k].value == (double)(k * 10));
  }
  for (int i = 0; i < NWORK; i++)
    for (int j = i + 1; j < NWORK; j++) CHECK(tids[i] != tids[j]);
  tbt_trace_model_free(&m);

  tbt_trace_stats st;
  tbt_trace_get_stats(&st);
  CHECK_EQ_INT(st.threads, NWORK);
  CHECK_EQ_U64(st.dropped, 0);
  uint64_t want = 0;
  for (int i = 0; i < NWORK; i++)
    want += (uint64_t)w[i].outer * 7 + 2 * (uint64_t)counters_for(w[i].outer);
  CHECK_EQ_U64(st.records, want);

  atomic_store(&g_release, 1);
  for (int i = 0; i < NPRE + NPOST; i++) pthread_join(w[i].th, NULL);
  /* All workers are gone; their buffers are still drained. */
  CHECK_EQ_INT(tbt_trace_snapshot(&m), 0);
  CHECK_EQ_INT(m.nthreads, NWORK);
  tbt_trace_model_free(&m);
  tbt_trace_off();
  tbt_trace_get_stats(&st);
  CHECK_EQ_U64(st.records, 0);
  CHECK_EQ_INT(st.threads, 0);
}

/* ------------------------------------------------------------ phase 2: churn */

static atomic_int g_churn_stop;

static void *churn_worker(void *arg) {
  long lifetime = *(int *)arg;   /* spans before exiting; 0 = until told to stop */
  uint32_t a = tbt_intern("churn"), b = tbt_intern("leaf");
  for (long i = 0; lifetime == 0 || i < lifetime; i++) {
    if (atomic_load_explicit(&g_churn_stop, memory_order_relaxed)) break;
    if (i % 50 == 49) sleep_us(200);   /* bounded rate: snapshots stay small */
    tbt_span_begin_id(a, 0);
    tbt_span_begin_id(b, a);
    tbt_counter_id(b, i);
    tbt_span_end();
    tbt_instant_id(a, 0);
    tbt_span_end();
  }
  return NULL;
}

static void phase_churn(void) {
  enum { LONG = 3, SHORT = 8 };
  static int forever = 0, brief = 3000;
  pthread_t lt[LONG], st_[SHORT];
  for (int i = 0; i < LONG; i++) pthread_create(&lt[i], NULL, churn_worker, &forever);
  int problems = 0, snaps = 0, shorts = 0;
  for (int round = 0; round < 30; round++) {
    tbt_trace_options o;
    tbt_trace_options_init(&o);
    if (round % 3 == 2) o.memory_limit = 4 * TBT_CHUNK_BYTES;   /* some rounds hit the limit */
    CHECK_EQ_INT(tbt_trace_on(&o), 0);
    if (round % 4 == 0 && shorts < SHORT) pthread_create(&st_[shorts++], NULL, churn_worker, &brief);
    for (int k = 0; k < 3; k++) {
      sleep_us(300);
      tbt_trace_model m;
      if (tbt_trace_snapshot(&m) == 0) {
        snaps++;
        int p = model_problems(&m);
        if (round % 3 != 2 && m.dropped) p++;
        if (p) fprintf(stderr, "round %d: %d problems, dropped %llu\n", round, p,
                       (unsigned long long)m.dropped);
        problems += p;
        tbt_trace_model_free(&m);
      } else {
        problems++;
      }
    }
    tbt_trace_stats s;
    tbt_trace_get_stats(&s);
    if (round % 3 == 2 && s.records > 4 * TBT_CHUNK_RECS) {
      fprintf(stderr, "round %d: %llu records past the limit\n", round,
              (unsigned long long)s.records);
      problems++;
    }
    tbt_trace_off();
  }
  atomic_store(&g_churn_stop, 1);
  for (int i = 0; i < LONG; i++) pthread_join(lt[i], NULL);
  for (int i = 0; i < shorts; i++) pthread_join(st_[i], NULL);
  CHECK_EQ_INT(snaps, 90);
  CHECK_EQ_INT(problems, 0);
  /* Every thread is gone: a new trace starts empty. */
  CHECK_EQ_INT(tbt_trace_on(NULL), 0);
  tbt_trace_model m;
  CHECK_EQ_INT(tbt_trace_snapshot(&m), 0);
  CHECK_EQ_INT(m.nthreads, 0);
  tbt_trace_model_free(&m);
  tbt_trace_off();
}

/* One cache handed on: each thread records a span named after it, through the cache the thread
** before it left; threads end before the next starts, so thread pointers are reused. */
#define HANDOFFS 12
static tbt_track_cache g_handed;
static uint32_t g_hand_ids[HANDOFFS];

static void *handed(void *arg) {
  int k = (int)(intptr_t)arg;
  if (k % 3 == 0) {   /* one more first, through a cache of its own, on another track */
    tbt_track_cache mine = {NULL};
    tbt_track_begin_cached(&mine, 7, g_hand_ids[k], 0);
    tbt_track_end_cached(&mine, 7);
  }
  tbt_track_begin_cached(&g_handed, 0, g_hand_ids[k], 0);
  tbt_track_end_cached(&g_handed, 0);
  return NULL;
}

static void phase_handoff(void) {
  for (int round = 0; round < 2; round++) {   /* the second round reuses retired buffers */
    CHECK_EQ_INT(tbt_trace_on(NULL), 0);
    for (int k = 0; k < HANDOFFS; k++) {
      char name[32];
      snprintf(name, sizeof name, "hand_%d", k);
      g_hand_ids[k] = tbt_intern(name);
      pthread_t th;
      CHECK_EQ_INT(pthread_create(&th, NULL, handed, (void *)(intptr_t)k), 0);
      pthread_join(th, NULL);
    }
    tbt_trace_model m;
    CHECK_EQ_INT(tbt_trace_snapshot(&m), 0);
    /* Every span is on the entry of the thread that recorded it: one per entry, each thread's
    ** own name, tracks 0 and 7 apart. */
    int seen[HANDOFFS] = {0}, extra[HANDOFFS] = {0};
    for (size_t t = 0; t < m.nthreads; t++) {
      const tbt_model_thread *th = &m.threads[t];
      CHECK_EQ_INT(th->nspans, 1);
      if (th->nspans != 1) continue;
      int k = -1;
      sscanf(m.names[th->spans[0].name], "hand_%d", &k);
      CHECK(k >= 0 && k < HANDOFFS);
      if (k < 0 || k >= HANDOFFS) continue;
      if (strstr(m.names[th->name], "coroutine")) extra[k]++;
      else seen[k]++;
      /* A coroutine entry shares its thread's tid: find the main entry with the same tid. */
      for (size_t u = 0; u < m.nthreads; u++)
        if (u != t && m.threads[u].tid == th->tid) {
          CHECK_EQ_INT(m.threads[u].nspans, 1);
          if (m.threads[u].nspans == 1)
            CHECK_EQ_INT(m.threads[u].spans[0].name, th->spans[0].name);
        }
    }
    for (int k = 0; k < HANDOFFS; k++) {
      CHECK_EQ_INT(seen[k], 1);
      CHECK_EQ_INT(extra[k], k % 3 == 0);
    }
    tbt_trace_model_free(&m);
    tbt_trace_off();
  }
}

int main(void) {
  phase_exact();
  phase_churn();
  phase_handoff();
  return CHECK_DONE();
}

/*
** test_end_min_mt.c: spans taken back (tbt_track_end_min) while another thread snapshots over
** and over. A snapshot reads the records below a chunk's published count; taking a span back
** lowers the count, and the next record writes the freed slot again. Every snapshot must be well
** formed and hold only names that were recorded; the last must hold exactly the spans kept.
** Built with TSan too.
*/
#include "check.h"

#include "tbtrace.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#define ROUNDS 200000
#define KEEP_EVERY 100

static atomic_int g_stop;
static uint32_t g_a, g_b, g_k, g_cat;

static void *writer(void *arg) {
  (void)arg;
  for (int i = 1; i <= ROUNDS; i++) {
    tbt_track_begin(0, g_a, g_cat);
    tbt_track_begin(0, g_b, g_cat);
    tbt_track_end_min(0, UINT64_MAX);   /* taken back (unless a snapshot is reading) */
    tbt_track_end_min(0, UINT64_MAX);
    if (i % KEEP_EVERY == 0) {
      tbt_track_begin(0, g_k, g_cat);
      tbt_instant_id(g_k, g_cat);          /* a record inside: kept */
      tbt_track_end_min(0, UINT64_MAX);
    }
  }
  atomic_store(&g_stop, 1);
  return NULL;
}

static int counts(const tbt_trace_model *m, int *na, int *nb, int *nk) {
  int bad = 0;
  *na = *nb = *nk = 0;
  for (size_t t = 0; t < m->nthreads; t++) {
    const tbt_model_thread *th = &m->threads[t];
    for (size_t i = 0; i < th->nspans; i++) {
      const tbt_model_span *s = &th->spans[i];
      const char *n = s->name < m->nnames ? m->names[s->name] : NULL;
      if (!n) bad++;
      else if (strcmp(n, "a") == 0) (*na)++;
      else if (strcmp(n, "b") == 0) (*nb)++;
      else if (strcmp(n, "k") == 0) (*nk)++;
      else bad++;
      if (s->end_ns < s->start_ns) bad++;
      if (s->parent >= (int32_t)i) bad++;
    }
  }
  return bad;
}

int main(void) {
  g_a = tbt_intern("a");
  g_b = tbt_intern("b");
  g_k = tbt_intern("k");
  g_cat = tbt_intern("cat");
  CHECK_EQ_INT(tbt_trace_on(NULL), 0);
  pthread_t th;
  CHECK_EQ_INT(pthread_create(&th, NULL, writer, NULL), 0);
  int snaps = 0, bad = 0, seen_kept = 0;
  while (!atomic_load(&g_stop)) {
    tbt_trace_model m;
    if (tbt_trace_snapshot(&m) != 0) continue;
    int na, nb, nk;
    bad += counts(&m, &na, &nb, &nk);
    if (nk > seen_kept) seen_kept = nk;
    tbt_trace_model_free(&m);
    snaps++;
  }
  pthread_join(th, NULL);
  tbt_trace_model m;
  CHECK_EQ_INT(tbt_trace_snapshot(&m), 0);
  int na, nb, nk;
  CHECK_EQ_INT(counts(&m, &na, &nb, &nk), 0);
  CHECK_EQ_INT(nk, ROUNDS / KEEP_EVERY);
  /* a and b are kept only when a snapshot was reading the writer's buffer as they ended */
  CHECK(na <= ROUNDS && nb <= ROUNDS);
  CHECK(na >= nb);   /* a b kept keeps its a */
  tbt_trace_model_free(&m);
  CHECK_EQ_INT(bad, 0);
  CHECK(snaps > 0);
  CHECK(seen_kept <= ROUNDS / KEEP_EVERY);
  fprintf(stderr, "%d snapshots; a %d, b %d kept while read\n", snaps, na, nb);
  tbt_trace_off();
  return CHECK_DONE();
}

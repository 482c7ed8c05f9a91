/*
** trace_model.c: the trace model (tbtrace_trace.h): releasing it, and the views of it every
** encoder shares (trace_model.h): names as valid UTF-8, one id per track.
*/
#include "trace_model.h"

#include "alloc.h"
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
    const unsigned char *u = (const unsigned char *)s;
    for (size_t j = 0; j < len;) {
      size_t k = tbt_utf8_seq(u + j, len - j);
      if (k) {
        memcpy(p, u + j, k);
        p += k;
        j += k;
      } else {
        memcpy(p, "\xef\xbf\xbd", 3);
        p += 3;
        j++;
      }
    }
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

typedef struct tid_at {
  uint64_t tid;
  size_t index;
} tid_at;

static int cmp_tid_at(const void *a, const void *b) {
  const tid_at *x = a, *y = b;
  if (x->tid != y->tid) return x->tid < y->tid ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

int tbt_track_ids(const tbt_trace_model *m, uint64_t **out) {
  size_t n = m->nthreads;
  uint64_t *ids = tbt_malloc((n ? n : 1) * sizeof *ids);
  tid_at *order = tbt_malloc((n ? n : 1) * sizeof *order);
  if (!ids || !order) {
    tbt_free(ids);
    tbt_free(order);
    return TBT_ENOMEM;
  }
  for (size_t t = 0; t < n; t++) order[t] = (tid_at){m->threads[t].tid, t};
  qsort(order, n, sizeof *order, cmp_tid_at);
  uint64_t k = 0;
  for (size_t i = 0; i < n; i++) {
    k = i && order[i].tid == order[i - 1].tid ? k + 1 : 0;
    ids[order[i].index] = order[i].tid + (k << 22);
  }
  tbt_free(order);
  *out = ids;
  return 0;
}

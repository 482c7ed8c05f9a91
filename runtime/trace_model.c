/*
** trace_model.c: releasing a trace model (tbtrace_trace.h).
*/
#include "tbtrace.h"

#include "alloc.h"

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

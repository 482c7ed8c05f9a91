/*
** test_deep_spans.c: chains of nested spans 10,000 and 1,000,000 deep export in memory bounded by
** the trace plus the export budget (64 MiB), and what they export stays linear in the spans: span
** paths stop growing at TBT_PATH_MAX_DEPTH names or TBT_PATH_MAX_BYTES bytes, deeper spans share
** "<ancestor path>/…/<name>". Every allocation of the library goes through a counting allocator,
** which gives the peak bytes held during each export (the same under ASan, where RSS says little).
*/
#include "check.h"

#include "run_metadata.pb-c.h"
#include "tbtrace.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUDGET ((size_t)64 << 20)

/* ------------------------------------------------------------------ counting allocator */

static size_t g_live, g_peak;

static void *counting_realloc(void *ud, void *p, size_t n) {
  (void)ud;
  size_t old = 0;
  uint8_t *base = p ? (uint8_t *)p - 16 : NULL;
  if (base) memcpy(&old, base, sizeof old);
  if (n == 0) {
    free(base);
    __atomic_sub_fetch(&g_live, old, __ATOMIC_RELAXED);
    return NULL;
  }
  uint8_t *q = realloc(base, n + 16);
  if (!q) return NULL;
  memcpy(q, &n, sizeof n);
  size_t live = __atomic_add_fetch(&g_live, n - old, __ATOMIC_RELAXED);   /* wraps for shrinking */
  size_t peak = __atomic_load_n(&g_peak, __ATOMIC_RELAXED);
  while (live > peak && !__atomic_compare_exchange_n(&g_peak, &peak, live, 0, __ATOMIC_RELAXED,
                                                      __ATOMIC_RELAXED)) {
  }
  return q + 16;
}

/* ------------------------------------------------------------------ the chain */

static const char *const NAMES[] = {"f", "g"};

/* depth nested spans, alternately named f and g, the innermost first to end. */
static void record_chain(long depth) {
  uint32_t id[2] = {tbt_intern(NAMES[0]), tbt_intern(NAMES[1])};
  for (long i = 0; i < depth; i++) tbt_span_begin_id(id[i & 1], 0);
  for (long i = 0; i < depth; i++) tbt_span_end();
}

/* The path of the span at depth d (0 = root) of the chain, as the graph names it. */
static void chain_path(long d, char *out, size_t cap) {
  size_t n = 0;
  long keep = d < TBT_PATH_MAX_DEPTH ? d + 1 : TBT_PATH_MAX_DEPTH;
  for (long i = 0; i < keep; i++) n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "/" : "", NAMES[i & 1]);
  if (d >= TBT_PATH_MAX_DEPTH) snprintf(out + n, cap - n, "/\xe2\x80\xa6/%s", NAMES[d & 1]);
}

static Tensorflow__RunMetadata *exported_run_metadata(const char *dir, tu_events *ev) {
  const char *path = tu_event_file(dir);
  CHECK(path != NULL);
  if (!path) return NULL;
  *ev = tu_read_events(path);
  CHECK(!ev->bad);
  for (size_t i = 0; i < ev->n; i++) {
    Tensorflow__Summary__Value *v = tu_value(ev->ev[i]);
    if (!v || !v->tensor || v->tensor->n_string_val != 1) continue;
    ProtobufCBinaryData *b = &v->tensor->string_val[0];
    return tensorflow__run_metadata__unpack(NULL, b->len, b->data);
  }
  CHECK(!"no RunMetadata summary");
  return NULL;
}

/* Exports a chain `depth` deep; checks the memory the export took and what it wrote. */
static void deep_export(long depth, int profiler) {
  char tag[64];
  snprintf(tag, sizeof tag, "deep%ld_%d", depth, profiler);
  const char *dir = tu_tmpdir(tag);
  tbt_writer *w;
  CHECK_EQ_INT(tbt_writer_open(&w, dir, NULL), 0);
  CHECK_EQ_INT(tbt_set_default_writer(w), 0);
  tbt_trace_options o;
  tbt_trace_options_init(&o);   /* the default memory limit holds 8M spans */
  o.profiler = profiler;
  CHECK_EQ_INT(tbt_trace_on(&o), 0);
  record_chain(depth);
  tbt_trace_stats st;
  tbt_trace_get_stats(&st);
  CHECK_EQ_U64(st.records, (uint64_t)depth * 2);
  CHECK_EQ_U64(st.dropped, 0);
  size_t before = __atomic_load_n(&g_live, __ATOMIC_RELAXED);
  __atomic_store_n(&g_peak, before, __ATOMIC_RELAXED);
  tbt_export_result res;
  CHECK_EQ_INT(tu_export("deep", TBT_STEP(1), NULL, &res), 0);
  CHECK_EQ_INT(tbt_writer_flush(w), 0);
  size_t peak = __atomic_load_n(&g_peak, __ATOMIC_RELAXED);
  /* The trace is held until the export ends; the export itself stays within the budget. */
  CHECK(before >= st.bytes);
  if (peak - before > BUDGET)
    fprintf(stderr, "depth %ld: the export held %zu MiB over the trace's %zu MiB\n", depth,
            (peak - before) >> 20, (size_t)(st.bytes >> 20));
  CHECK(peak - before <= BUDGET);
  CHECK_EQ_U64(res.spans, (uint64_t)depth);

  /* The graph: one node per bounded path, each name as chain_path says. */
  tu_events ev = {NULL, NULL, NULL, 0, 0};
  Tensorflow__RunMetadata *rm = exported_run_metadata(dir, &ev);
  CHECK(rm != NULL && rm->n_function_graphs == 1);
  if (rm && rm->n_function_graphs == 1) {
    const Tensorflow__GraphDef *g = rm->function_graphs[0]->pre_optimization_graph;
    long distinct = depth < TBT_PATH_MAX_DEPTH + 2 ? depth : TBT_PATH_MAX_DEPTH + 2;
    CHECK_EQ_INT(g->n_node, distinct);
    static char want[TBT_PATH_MAX_BYTES * 4];
    for (long d = 0; d < distinct && (size_t)d < g->n_node; d++) {
      chain_path(d, want, sizeof want);
      int found = 0;
      for (size_t k = 0; k < g->n_node && !found; k++) found = strcmp(g->node[k]->name, want) == 0;
      if (!found) fprintf(stderr, "no node %s\n", want);
      CHECK(found);
    }
    for (size_t k = 0; k < g->n_node; k++) CHECK(strlen(g->node[k]->name) < TBT_PATH_MAX_BYTES);
    /* With step_stats, every span is there once, under its bounded path. */
    if (profiler) {
      CHECK(rm->step_stats && rm->step_stats->n_dev_stats == 1);
      if (rm->step_stats && rm->step_stats->n_dev_stats == 1) {
        const Tensorflow__DeviceStepStats *dev = rm->step_stats->dev_stats[0];
        CHECK_EQ_INT(dev->n_node_stats, depth);
        chain_path(depth - 1, want, sizeof want);
        CHECK_EQ_STR(dev->node_stats[depth - 1]->node_name, want);
      }
    }
  }
  if (rm) tensorflow__run_metadata__free_unpacked(rm, NULL);
  tu_events_free(&ev);
  if (profiler) {
    /* Linear: the profile files take a bounded number of bytes per span. */
    const char *xp = tbt_export_result_path(&res, "xplane");
    const char *jp = tbt_export_result_path(&res, "chrome_trace");
    size_t xs = 0, js = 0;
    uint8_t *x = xp ? tu_read_file(xp, &xs) : NULL;
    uint8_t *j = jp ? tu_read_file(jp, &js) : NULL;
    CHECK(x && j);
    CHECK(xs < (size_t)depth * 64 + 65536);
    CHECK(js < (size_t)depth * 64 + 65536);
    free(x);
    free(j);
  }
  tbt_export_result_free(&res);
  tbt_set_default_writer(NULL);
  tbt_writer_free(w);
}

int main(void) {
  tbt_set_allocator(counting_realloc, NULL);
  deep_export(10000, 0);
  deep_export(10000, 1);
  deep_export(1000000, 0);
  return CHECK_DONE();
}

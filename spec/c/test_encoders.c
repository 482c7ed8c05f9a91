/*
** test_encoders.c: the trace encoders on models built by hand (two threads, nesting, categories,
** declared edges, instants, counters, an unfinished span), decoded with protobuf-c and zlib and
** checked field by field; JSON escaping and number formatting; the profile directory layout,
** atomic writes, same-second runs and failures that must leave nothing behind.
*/
#include "check.h"
#include "gunzip.h"
#include "testutil.h"

#include "encoders.h"
#include "utf8.h"
#include "tbtrace.h"

#include "run_metadata.pb-c.h"
#include "xplane.pb-c.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <time.h>

#define B 1700000000000000000LL

/* ----------------------------------------------------------------- the model */

enum {
  N_EMPTY, N_STEP, N_LOAD, N_STEP_LOAD, N_TRAIN, N_IO, N_COMPUTE, N_STEP_COMPUTE, N_MAIN, N_MARK,
  N_QUEUE, N_FLUSH, N_NOWHERE, N_COUNT
};
static const char *names[N_COUNT] = {
  "", "step", "load", "step/load", "train", "io", "compute", "step/compute", "main", "mark",
  "queue", "flush", "nowhere",
};

static tbt_model_span spans0[] = {
  {N_STEP, N_STEP, N_TRAIN, -1, 0, 0, B + 1000, B + 9000000},
  {N_LOAD, N_STEP_LOAD, N_IO, 0, 1, 0, B + 1500, B + 3500000},
  {N_COMPUTE, N_STEP_COMPUTE, N_EMPTY, 0, 1, 0, B + 4000000, B + 8000000},
  {N_LOAD, N_STEP_LOAD, N_IO, 0, 1, 0, B + 8100000, B + 8600250},
};
static tbt_model_instant inst0[] = {{N_MARK, N_IO, B + 2000000}};
static tbt_model_counter ctr0[] = {{N_QUEUE, B + 2500000, 3.5}, {N_QUEUE, B + 8000000, -0.25}};
static tbt_model_span spans1[] = {
  {N_FLUSH, N_FLUSH, N_EMPTY, -1, 0, 0, B + 2000000, B + 2600000},
  {N_STEP, N_STEP, N_TRAIN, -1, 0, TBT_SPAN_UNFINISHED, B + 5000000, B + 10000000},
  {N_COMPUTE, N_STEP_COMPUTE, N_EMPTY, 1, 1, 0, B + 5500000, B + 7000001},
};
static tbt_model_counter ctr1[] = {{N_QUEUE, B + 6000000, 7}};
static tbt_model_edge edges[] = {
  {N_STEP_LOAD, N_STEP_COMPUTE},
  {N_STEP_LOAD, N_STEP_COMPUTE},   /* repeated: one input */
  {N_FLUSH, N_STEP_COMPUTE},
  {N_NOWHERE, N_STEP_LOAD},        /* not a span path: left out */
  {N_FLUSH, N_FLUSH},              /* a loop: left out */
};
static tbt_model_thread threads[] = {
  {1001, N_MAIN, spans0, 4, inst0, 1, ctr0, 2},
  {1002, N_EMPTY, spans1, 3, NULL, 0, ctr1, 1},
};

static tbt_trace_model small_model(void) {
  tbt_trace_model m;
  memset(&m, 0, sizeof m);
  m.names = names;
  m.nnames = N_COUNT;
  m.threads = threads;
  m.nthreads = 2;
  m.edges = edges;
  m.nedges = sizeof edges / sizeof edges[0];
  m.start_ns = B;
  m.end_ns = B + 10000000;
  m.dropped = 3;
  m.graph = 1;
  m.profiler = 1;
  return m;
}

/* ----------------------------------------------------------------- RunMetadata */

static const Tensorflow__AttrValue *attr(const Tensorflow__NodeDef *n, const char *key) {
  for (size_t i = 0; i < n->n_attr; i++)
    if (strcmp(n->attr[i]->key, key) == 0) return n->attr[i]->value;
  return NULL;
}

static void check_attr_i(const Tensorflow__NodeDef *n, const char *key, int64_t v) {
  const Tensorflow__AttrValue *a = attr(n, key);
  CHECK(a != NULL);
  if (!a) return;
  CHECK_EQ_INT(a->value_case, TENSORFLOW__ATTR_VALUE__VALUE_I);
  CHECK_EQ_INT(a->i, v);
}

static void check_node(const Tensorflow__NodeDef *n, const char *name, const char *op, const char *dev,
                       int nin, const char *in0, const char *in1, int64_t count, int64_t total,
                       int64_t unfinished) {
  CHECK_EQ_STR(n->name, name);
  CHECK_EQ_STR(n->op, op);
  CHECK_EQ_STR(n->device, dev);
  CHECK_EQ_INT(n->n_input, nin);
  if (nin > 0 && n->n_input > 0) CHECK_EQ_STR(n->input[0], in0);
  if (nin > 1 && n->n_input > 1) CHECK_EQ_STR(n->input[1], in1);
  CHECK_EQ_INT(n->n_attr, unfinished ? 3 : 2);
  if (n->n_attr >= 2) {   /* map entries sorted by key */
    CHECK_EQ_STR(n->attr[0]->key, "_tbtrace_count");
    CHECK_EQ_STR(n->attr[1]->key, "_tbtrace_total_ns");
  }
  check_attr_i(n, "_tbtrace_count", count);
  check_attr_i(n, "_tbtrace_total_ns", total);
  if (unfinished) check_attr_i(n, "_tbtrace_unfinished", unfinished);
  else CHECK(attr(n, "_tbtrace_unfinished") == NULL);
}

#define DEV0 "/job:localhost/replica:0/task:0/device:CPU:0"
#define DEV1 "/job:localhost/replica:0/task:0/device:CPU:1"

static void check_graph(const Tensorflow__RunMetadata *rm) {
  CHECK_EQ_INT(rm->n_partition_graphs, 0);
  CHECK_EQ_INT(rm->n_function_graphs, 1);
  if (rm->n_function_graphs != 1) return;
  const Tensorflow__RunMetadata__FunctionGraphs *fg = rm->function_graphs[0];
  CHECK_EQ_INT(fg->n_partition_graphs, 0);
  CHECK(fg->post_optimization_graph == NULL);
  const Tensorflow__GraphDef *g = fg->pre_optimization_graph;
  CHECK(g != NULL);
  if (!g) return;
  CHECK(g->versions != NULL);
  if (g->versions) {
    CHECK_EQ_INT(g->versions->producer, TBT_GRAPH_PRODUCER);
    CHECK_EQ_INT(g->versions->min_consumer, 0);
  }
  CHECK_EQ_INT(g->n_node, 4);
  if (g->n_node != 4) return;
  check_node(g->node[0], "flush", "Span", DEV1, 0, NULL, NULL, 1, 600000, 0);
  check_node(g->node[1], "step", "train", DEV0, 0, NULL, NULL, 2, 8999000 + 5000000, 1);
  check_node(g->node[2], "step/compute", "Span", DEV0, 2, "step/load", "flush", 2,
             4000000 + 1500001, 0);
  check_node(g->node[3], "step/load", "io", DEV0, 1, "step", NULL, 2, 3498500 + 500250, 0);
}

static void check_stat(const Tensorflow__NodeExecStats *s, const char *name, int64_t start_ns,
                       int64_t end_ns, uint32_t tid, const char *label) {
  CHECK_EQ_STR(s->node_name, name);
  int64_t us0 = start_ns / 1000, us1 = end_ns / 1000;
  CHECK_EQ_INT(s->all_start_micros, us0);
  CHECK_EQ_INT(s->op_start_rel_micros, 0);
  CHECK_EQ_INT(s->op_end_rel_micros, us1 - us0);
  CHECK_EQ_INT(s->all_end_rel_micros, us1 - us0);
  CHECK_EQ_INT(s->all_start_nanos, start_ns);
  CHECK_EQ_INT(s->op_start_rel_nanos, 0);
  CHECK_EQ_INT(s->op_end_rel_nanos, end_ns - start_ns);
  CHECK_EQ_INT(s->all_end_rel_nanos, end_ns - start_ns);
  CHECK_EQ_INT(s->thread_id, tid);
  CHECK_EQ_STR(s->timeline_label, label);
  CHECK_EQ_INT(s->n_memory, 0);
  CHECK_EQ_INT(s->scheduled_micros, 0);
  CHECK_EQ_INT(s->scheduled_nanos, 0);
}

static int canonical_rm(const tbt_buf *b, const Tensorflow__RunMetadata *rm) {
  size_t n = tensorflow__run_metadata__get_packed_size(rm);
  uint8_t *p = malloc(n ? n : 1);
  tensorflow__run_metadata__pack(rm, p);
  int same = n == b->len && memcmp(p, b->data, n) == 0;
  free(p);
  return same;
}

static void test_run_metadata(void) {
  tbt_trace_model m = small_model();
  tbt_buf b = {0};
  CHECK_EQ_INT(tbt_encode_run_metadata(&m, TBT_RUN_METADATA_GRAPH, &b), 0);
  Tensorflow__RunMetadata *rm = tensorflow__run_metadata__unpack(NULL, b.len, b.data);
  CHECK(rm != NULL);
  if (rm) {
    CHECK(rm->step_stats == NULL);
    check_graph(rm);
    CHECK(canonical_rm(&b, rm));
    tensorflow__run_metadata__free_unpacked(rm, NULL);
  }
  tbt_buf_free(&b);

  CHECK_EQ_INT(tbt_encode_run_metadata(&m, TBT_RUN_METADATA_FULL, &b), 0);
  rm = tensorflow__run_metadata__unpack(NULL, b.len, b.data);
  CHECK(rm != NULL);
  if (rm) {
    check_graph(rm);
    CHECK(canonical_rm(&b, rm));
    CHECK(rm->step_stats != NULL);
    if (rm->step_stats && rm->step_stats->n_dev_stats == 2) {
      const Tensorflow__DeviceStepStats *d0 = rm->step_stats->dev_stats[0];
      const Tensorflow__DeviceStepStats *d1 = rm->step_stats->dev_stats[1];
      CHECK_EQ_STR(d0->device, DEV0);
      CHECK_EQ_STR(d1->device, DEV1);
      CHECK_EQ_INT(d0->n_thread_names, 1);
      if (d0->n_thread_names == 1) {
        CHECK_EQ_INT(d0->thread_names[0]->key, 1001);
        CHECK_EQ_STR(d0->thread_names[0]->value, "main");
      }
      CHECK_EQ_INT(d1->n_thread_names, 0);   /* unnamed */
      CHECK_EQ_INT(d0->n_node_stats, 4);
      if (d0->n_node_stats == 4) {
        check_stat(d0->node_stats[0], "step", B + 1000, B + 9000000, 1001, "step = train()");
        check_stat(d0->node_stats[1], "step/load", B + 1500, B + 3500000, 1001, "step/load = io(step)");
        check_stat(d0->node_stats[2], "step/compute", B + 4000000, B + 8000000, 1001,
                   "step/compute = Span(step/load, flush)");
        check_stat(d0->node_stats[3], "step/load", B + 8100000, B + 8600250, 1001,
                   "step/load = io(step)");
      }
      CHECK_EQ_INT(d1->n_node_stats, 2);   /* the unfinished "step" is left out */
      if (d1->n_node_stats == 2) {
        check_stat(d1->node_stats[0], "flush", B + 2000000, B + 2600000, 1002, "flush = Span()");
        check_stat(d1->node_stats[1], "step/compute", B + 5500000, B + 7000001, 1002,
                   "step/compute = Span(step/load, flush)");
      }
    } else {
      CHECK(0);
    }
    tensorflow__run_metadata__free_unpacked(rm, NULL);
  }
  tbt_buf_free(&b);

  /* Microseconds are floored, also before the epoch. */
  tbt_model_span neg[] = {{N_STEP, N_STEP, 0, -1, 0, 0, -1500, -400}};
  tbt_model_thread th = {7, 0, neg, 1, NULL, 0, NULL, 0};
  tbt_trace_model mn = small_model();
  mn.threads = &th;
  mn.nthreads = 1;
  mn.nedges = 0;
  CHECK_EQ_INT(tbt_encode_run_metadata(&mn, TBT_RUN_METADATA_FULL, &b), 0);
  rm = tensorflow__run_metadata__unpack(NULL, b.len, b.data);
  CHECK(rm && rm->step_stats && rm->step_stats->n_dev_stats == 1);
  if (rm && rm->step_stats && rm->step_stats->n_dev_stats == 1 &&
      rm->step_stats->dev_stats[0]->n_node_stats == 1) {
    const Tensorflow__NodeExecStats *s = rm->step_stats->dev_stats[0]->node_stats[0];
    CHECK_EQ_INT(s->all_start_micros, -2);
    CHECK_EQ_INT(s->all_end_rel_micros, 1);
    CHECK_EQ_INT(s->all_end_rel_nanos, 1100);
  }
  if (rm) tensorflow__run_metadata__free_unpacked(rm, NULL);
  tbt_buf_free(&b);

  /* An empty trace: an empty graph that still carries its version. */
  tbt_trace_model me;
  memset(&me, 0, sizeof me);
  const char *only[] = {""};
  me.names = only;
  me.nnames = 1;
  CHECK_EQ_INT(tbt_encode_run_metadata(&me, TBT_RUN_METADATA_FULL, &b), 0);
  rm = tensorflow__run_metadata__unpack(NULL, b.len, b.data);
  CHECK(rm != NULL);
  if (rm) {
    CHECK_EQ_INT(rm->n_function_graphs, 1);
    if (rm->n_function_graphs == 1 && rm->function_graphs[0]->pre_optimization_graph) {
      CHECK_EQ_INT(rm->function_graphs[0]->pre_optimization_graph->n_node, 0);
      CHECK(rm->function_graphs[0]->pre_optimization_graph->versions != NULL);
    }
    tensorflow__run_metadata__free_unpacked(rm, NULL);
  }
  tbt_buf_free(&b);
}

/* Names TensorBoard would misread, or that are not UTF-8. */
static int utf8_ok(const char *s) {
  const unsigned char *u = (const unsigned char *)s;
  size_t n = strlen(s);
  for (size_t i = 0; i < n;) {
    size_t k = tbt_utf8_seq(u + i, n - i);
    if (!k) return 0;
    i += k;
  }
  return 1;
}

static void test_odd_names(void) {
  const char *nm[] = {"", "epoch:3", "epoch:3/load", "^ctl", "bad\xff", "bad\xff/x\xc3", "epoch_3",
                      "t\xfe"};
  tbt_model_span sp[] = {
    {1, 1, 3, -1, 0, 0, 100, 900},
    {2, 2, 0, 0, 1, 0, 200, 300},
    {3, 3, 0, -1, 0, 0, 1000, 1100},
    {4, 4, 0, -1, 0, 0, 1200, 1300},
    {5, 5, 0, 3, 1, 0, 1210, 1290},
    {6, 6, 0, -1, 0, 0, 1400, 1500},   /* "epoch_3": the same node as "epoch:3" */
  };
  sp[4].parent = 3;
  tbt_model_edge ed[] = {{3, 2}};
  tbt_model_thread th = {9, 7, sp, 6, NULL, 0, NULL, 0};
  tbt_trace_model m;
  memset(&m, 0, sizeof m);
  m.names = nm;
  m.nnames = 8;
  m.threads = &th;
  m.nthreads = 1;
  m.edges = ed;
  m.nedges = 1;
  tbt_buf b = {0};
  CHECK_EQ_INT(tbt_encode_run_metadata(&m, TBT_RUN_METADATA_FULL, &b), 0);
  Tensorflow__RunMetadata *rm = tensorflow__run_metadata__unpack(NULL, b.len, b.data);
  CHECK(rm != NULL);
  if (rm && rm->n_function_graphs == 1) {
    const Tensorflow__GraphDef *g = rm->function_graphs[0]->pre_optimization_graph;
    CHECK_EQ_INT(g->n_node, 5);
    if (g->n_node == 5) {
      /* sorted: "_ctl", "bad\ufffd", "bad\ufffd/x\ufffd", "epoch_3", "epoch_3/load" */
      CHECK_EQ_STR(g->node[0]->name, "_ctl");
      CHECK_EQ_STR(g->node[1]->name, "bad\xef\xbf\xbd");
      CHECK_EQ_STR(g->node[2]->name, "bad\xef\xbf\xbd/x\xef\xbf\xbd");
      CHECK_EQ_INT(g->node[2]->n_input, 1);
      if (g->node[2]->n_input == 1) CHECK_EQ_STR(g->node[2]->input[0], "bad\xef\xbf\xbd");
      CHECK_EQ_STR(g->node[3]->name, "epoch_3");
      CHECK_EQ_STR(g->node[3]->op, "^ctl");   /* ops are not node references */
      check_attr_i(g->node[3], "_tbtrace_count", 2);
      CHECK_EQ_STR(g->node[4]->name, "epoch_3/load");
      CHECK_EQ_INT(g->node[4]->n_input, 1);
      if (g->node[4]->n_input == 1) CHECK_EQ_STR(g->node[4]->input[0], "_ctl");   /* declared */
    }
    CHECK(rm->step_stats && rm->step_stats->n_dev_stats == 1);
    if (rm->step_stats && rm->step_stats->n_dev_stats == 1) {
      const Tensorflow__DeviceStepStats *d = rm->step_stats->dev_stats[0];
      CHECK_EQ_INT(d->n_node_stats, 6);
      if (d->n_node_stats == 6) {
        CHECK_EQ_STR(d->node_stats[0]->node_name, "epoch_3");
        CHECK_EQ_STR(d->node_stats[1]->node_name, "epoch_3/load");
        CHECK_EQ_STR(d->node_stats[1]->timeline_label, "epoch_3/load = Span(_ctl)");
        CHECK_EQ_STR(d->node_stats[5]->node_name, "epoch_3");
      }
      CHECK(d->n_thread_names == 1 && strcmp(d->thread_names[0]->value, "t\xef\xbf\xbd") == 0);
      for (size_t i = 0; i < d->n_node_stats; i++) {
        CHECK(utf8_ok(d->node_stats[i]->node_name));
        CHECK(utf8_ok(d->node_stats[i]->timeline_label));
      }
    }
    CHECK(canonical_rm(&b, rm));
  }
  if (rm) tensorflow__run_metadata__free_unpacked(rm, NULL);
  tbt_buf_free(&b);

  CHECK_EQ_INT(tbt_encode_xspace(&m, "h", &b), 0);
  Tensorflow__Profiler__XSpace *xs = tensorflow__profiler__xspace__unpack(NULL, b.len, b.data);
  CHECK(xs != NULL);
  if (xs && xs->n_planes == 1) {
    const Tensorflow__Profiler__XPlane *p = xs->planes[0];
    for (size_t i = 0; i < p->n_event_metadata; i++) {
      CHECK(utf8_ok(p->event_metadata[i]->value->name));
      CHECK(utf8_ok(p->event_metadata[i]->value->display_name));
    }
    /* XPlane keeps the names as they are, bar the bad bytes. */
    CHECK(p->n_event_metadata == 6 && strcmp(p->event_metadata[0]->value->name, "epoch:3") == 0);
    CHECK(p->n_lines == 1 && strcmp(p->lines[0]->name, "t\xef\xbf\xbd") == 0);
  }
  if (xs) tensorflow__profiler__xspace__free_unpacked(xs, NULL);
  tbt_buf_free(&b);
}

static int count_substr(const char *hay, size_t len, const char *needle);

/* Lua coroutines are model threads with their thread's tid: each gets an id of its own. */
static void test_track_ids(void) {
  const char *nm[] = {"", "a", "main", "main coroutine 1", "b"};
  tbt_model_span sa[] = {{1, 1, 0, -1, 0, 0, 10, 20}};
  tbt_model_span sb[] = {{4, 4, 0, -1, 0, 0, 12, 30}};
  tbt_model_thread th[] = {
    {7, 2, sa, 1, NULL, 0, NULL, 0},
    {5, 0, sa, 1, NULL, 0, NULL, 0},
    {7, 3, sb, 1, NULL, 0, NULL, 0},
    {7, 0, sb, 1, NULL, 0, NULL, 0},
  };
  tbt_trace_model m;
  memset(&m, 0, sizeof m);
  m.names = nm;
  m.nnames = 5;
  m.threads = th;
  m.nthreads = 4;
  uint64_t *ids = NULL;
  CHECK_EQ_INT(tbt_track_ids(&m, &ids), 0);
  if (ids) {
    CHECK_EQ_U64(ids[0], 7);
    CHECK_EQ_U64(ids[1], 5);
    CHECK_EQ_U64(ids[2], 7 + (1ull << 22));
    CHECK_EQ_U64(ids[3], 7 + (2ull << 22));
    tbt_free(ids);
  }
  tbt_buf b = {0};
  tbt_chrome_options o = {1, NULL, NULL};
  CHECK_EQ_INT(tbt_encode_chrome_json(&m, &o, &b), 0);
  CHECK_EQ_INT(count_substr((char *)b.data, b.len,
                            "\"tid\":4194311,\"name\":\"thread_name\",\"args\":{\"name\":\"main coroutine 1\"}"),
               1);
  CHECK_EQ_INT(count_substr((char *)b.data, b.len, "\"tid\":8388615,\"ts\""), 1);
  tbt_buf_free(&b);
  CHECK_EQ_INT(tbt_encode_xspace(&m, NULL, &b), 0);
  Tensorflow__Profiler__XSpace *xs = tensorflow__profiler__xspace__unpack(NULL, b.len, b.data);
  if (xs && xs->n_planes == 1 && xs->planes[0]->n_lines == 4) {
    CHECK_EQ_INT(xs->planes[0]->lines[0]->id, 7);
    CHECK_EQ_INT(xs->planes[0]->lines[2]->id, 4194311);
    CHECK_EQ_STR(xs->planes[0]->lines[2]->name, "main coroutine 1");
    CHECK_EQ_STR(xs->planes[0]->lines[3]->name, "thread 7");
  } else {
    CHECK(0);
  }
  if (xs) tensorflow__profiler__xspace__free_unpacked(xs, NULL);
  tbt_buf_free(&b);
  CHECK_EQ_INT(tbt_encode_run_metadata(&m, TBT_RUN_METADATA_FULL, &b), 0);
  Tensorflow__RunMetadata *rm = tensorflow__run_metadata__unpack(NULL, b.len, b.data);
  if (rm && rm->step_stats && rm->step_stats->n_dev_stats == 4) {
    const Tensorflow__DeviceStepStats *d = rm->step_stats->dev_stats[2];
    CHECK_EQ_STR(d->device, "/job:localhost/replica:0/task:0/device:CPU:2");
    CHECK(d->n_node_stats == 1 && d->node_stats[0]->thread_id == 4194311);
    CHECK(d->n_thread_names == 1 && d->thread_names[0]->key == 4194311);
  } else {
    CHECK(0);
  }
  if (rm) tensorflow__run_metadata__free_unpacked(rm, NULL);
  tbt_buf_free(&b);
}

/* ----------------------------------------------------------------- XSpace */

static const Tensorflow__Profiler__XEventMetadata *emeta(const Tensorflow__Profiler__XPlane *p,
                                                         int64_t id) {
  for (size_t i = 0; i < p->n_event_metadata; i++)
    if (p->event_metadata[i]->key == id) return p->event_metadata[i]->value;
  return NULL;
}

static void check_meta(const Tensorflow__Profiler__XPlane *p, int64_t id, const char *name,
                       const char *display, const char *cat) {
  const Tensorflow__Profiler__XEventMetadata *e = emeta(p, id);
  CHECK(e != NULL);
  if (!e) return;
  CHECK_EQ_INT(e->id, id);
  CHECK_EQ_STR(e->name, name);
  CHECK_EQ_STR(e->display_name, display);
  CHECK_EQ_INT(e->metadata.len, 0);
  CHECK_EQ_INT(e->n_child_id, 0);
  CHECK_EQ_INT(e->n_stats, cat ? 1 : 0);
  if (cat && e->n_stats == 1) {
    CHECK_EQ_INT(e->stats[0]->metadata_id, TBT_XSTAT_CATEGORY);
    CHECK_EQ_INT(e->stats[0]->value_case, TENSORFLOW__PROFILER__XSTAT__VALUE_STR_VALUE);
    CHECK_EQ_STR(e->stats[0]->str_value, cat);
  }
}

/* kind: 0 plain, 1 unfinished, 2 counter with value v */
static void check_xevent(const Tensorflow__Profiler__XEvent *e, int64_t meta, int64_t offset_ns,
                         int64_t dur_ns, int kind, double v) {
  CHECK_EQ_INT(e->metadata_id, meta);
  CHECK_EQ_INT(e->data_case, TENSORFLOW__PROFILER__XEVENT__DATA_OFFSET_PS);
  CHECK_EQ_INT(e->offset_ps, offset_ns * 1000);
  CHECK_EQ_INT(e->duration_ps, dur_ns * 1000);
  CHECK_EQ_INT(e->n_stats, kind ? 1 : 0);
  if (kind == 1 && e->n_stats == 1) {
    CHECK_EQ_INT(e->stats[0]->metadata_id, TBT_XSTAT_UNFINISHED);
    CHECK_EQ_INT(e->stats[0]->value_case, TENSORFLOW__PROFILER__XSTAT__VALUE_UINT64_VALUE);
    CHECK_EQ_INT(e->stats[0]->uint64_value, 1);
  }
  if (kind == 2 && e->n_stats == 1) {
    CHECK_EQ_INT(e->stats[0]->metadata_id, TBT_XSTAT_VALUE);
    CHECK_EQ_INT(e->stats[0]->value_case, TENSORFLOW__PROFILER__XSTAT__VALUE_DOUBLE_VALUE);
    CHECK(e->stats[0]->double_value == v);
  }
}

static int canonical_xspace(const tbt_buf *b, const Tensorflow__Profiler__XSpace *xs) {
  size_t n = tensorflow__profiler__xspace__get_packed_size(xs);
  uint8_t *p = malloc(n ? n : 1);
  tensorflow__profiler__xspace__pack(xs, p);
  int same = n == b->len && memcmp(p, b->data, n) == 0;
  free(p);
  return same;
}

static void test_xspace(void) {
  tbt_trace_model m = small_model();
  tbt_buf b = {0};
  CHECK_EQ_INT(tbt_encode_xspace(&m, "hostA", &b), 0);
  Tensorflow__Profiler__XSpace *xs = tensorflow__profiler__xspace__unpack(NULL, b.len, b.data);
  CHECK(xs != NULL);
  if (!xs) return;
  CHECK(canonical_xspace(&b, xs));
  CHECK_EQ_INT(xs->n_hostnames, 1);
  if (xs->n_hostnames == 1) CHECK_EQ_STR(xs->hostnames[0], "hostA");
  CHECK_EQ_INT(xs->n_errors, 0);
  CHECK_EQ_INT(xs->n_warnings, 1);
  if (xs->n_warnings == 1) CHECK_EQ_STR(xs->warnings[0], "tbtrace: 3 records dropped by the trace memory limit");
  CHECK_EQ_INT(xs->n_planes, 1);
  if (xs->n_planes != 1) goto out;
  const Tensorflow__Profiler__XPlane *p = xs->planes[0];
  CHECK_EQ_INT(p->id, 49);
  CHECK_EQ_STR(p->name, "/host:CPU");
  CHECK_EQ_INT(p->n_stats, 0);
  CHECK_EQ_INT(p->n_stat_metadata, 3);
  const char *snames[] = {"category", "unfinished", "value"};
  for (size_t i = 0; i < p->n_stat_metadata && i < 3; i++) {
    CHECK_EQ_INT(p->stat_metadata[i]->key, (int64_t)i + 1);
    CHECK_EQ_INT(p->stat_metadata[i]->value->id, (int64_t)i + 1);
    CHECK_EQ_STR(p->stat_metadata[i]->value->name, snames[i]);
    CHECK_EQ_STR(p->stat_metadata[i]->value->description, "");
  }
  /* Metadata in order of first use: thread 0, merged by time, then thread 1. */
  CHECK_EQ_INT(p->n_event_metadata, 6);
  check_meta(p, 1, "step", "", "train");
  check_meta(p, 2, "step/load", "load", "io");
  check_meta(p, 3, "mark", "", "io");
  check_meta(p, 4, "queue", "", NULL);
  check_meta(p, 5, "step/compute", "compute", NULL);
  check_meta(p, 6, "flush", "", NULL);

  CHECK_EQ_INT(p->n_lines, 2);
  if (p->n_lines != 2) goto out;
  const Tensorflow__Profiler__XLine *l0 = p->lines[0], *l1 = p->lines[1];
  CHECK_EQ_INT(l0->id, 1001);
  CHECK_EQ_STR(l0->name, "main");
  CHECK_EQ_STR(l0->display_name, "");
  CHECK_EQ_INT(l0->display_id, 0);
  CHECK_EQ_INT(l0->timestamp_ns, B + 1000);
  CHECK_EQ_INT(l0->duration_ps, (9000000 - 1000) * 1000LL);
  CHECK_EQ_INT(l0->n_events, 7);
  if (l0->n_events == 7) {
    int64_t o = 1000;
    check_xevent(l0->events[0], 1, 1000 - o, 8999000, 0, 0);
    check_xevent(l0->events[1], 2, 1500 - o, 3498500, 0, 0);
    check_xevent(l0->events[2], 3, 2000000 - o, 0, 0, 0);
    check_xevent(l0->events[3], 4, 2500000 - o, 0, 2, 3.5);
    check_xevent(l0->events[4], 5, 4000000 - o, 4000000, 0, 0);
    check_xevent(l0->events[5], 4, 8000000 - o, 0, 2, -0.25);
    check_xevent(l0->events[6], 2, 8100000 - o, 500250, 0, 0);
  }
  CHECK_EQ_INT(l1->id, 1002);
  CHECK_EQ_STR(l1->name, "thread 1002");
  CHECK_EQ_INT(l1->timestamp_ns, B + 2000000);
  CHECK_EQ_INT(l1->duration_ps, 8000000 * 1000LL);
  CHECK_EQ_INT(l1->n_events, 4);
  if (l1->n_events == 4) {
    int64_t o = 2000000;
    check_xevent(l1->events[0], 6, 0, 600000, 0, 0);   /* offset 0 is still on the wire */
    check_xevent(l1->events[1], 1, 5000000 - o, 5000000, 1, 0);
    check_xevent(l1->events[2], 5, 5500000 - o, 1500001, 0, 0);
    check_xevent(l1->events[3], 4, 6000000 - o, 0, 2, 7);
  }
out:
  tensorflow__profiler__xspace__free_unpacked(xs, NULL);
  tbt_buf_free(&b);

  /* An empty trace; a thread without events; no host, nothing dropped. */
  tbt_model_thread idle = {5, 0, NULL, 0, NULL, 0, NULL, 0};
  tbt_trace_model me = small_model();
  me.threads = &idle;
  me.nthreads = 1;
  me.dropped = 0;
  CHECK_EQ_INT(tbt_encode_xspace(&me, NULL, &b), 0);
  xs = tensorflow__profiler__xspace__unpack(NULL, b.len, b.data);
  CHECK(xs != NULL);
  if (xs) {
    CHECK(canonical_xspace(&b, xs));
    CHECK_EQ_INT(xs->n_hostnames, 0);
    CHECK_EQ_INT(xs->n_warnings, 0);
    if (xs->n_planes == 1 && xs->planes[0]->n_lines == 1) {
      CHECK_EQ_INT(xs->planes[0]->lines[0]->timestamp_ns, B);
      CHECK_EQ_INT(xs->planes[0]->lines[0]->n_events, 0);
      CHECK_EQ_INT(xs->planes[0]->n_event_metadata, 0);
    } else {
      CHECK(0);
    }
    tensorflow__profiler__xspace__free_unpacked(xs, NULL);
  }
  tbt_buf_free(&b);
}

/* ----------------------------------------------------------------- JSON */

/* A strict RFC 8259 checker (structure, strings, escapes, numbers, UTF-8). */
typedef struct jp {
  const char *s, *e;
} jp;

static void jp_ws(jp *p) {
  while (p->s < p->e && (*p->s == ' ' || *p->s == '\n' || *p->s == '\r' || *p->s == '\t')) p->s++;
}

static int jp_value(jp *p, int depth);

static int jp_string(jp *p) {
  if (p->s >= p->e || *p->s != '"') return 0;
  p->s++;
  while (p->s < p->e) {
    unsigned char c = (unsigned char)*p->s;
    if (c == '"') {
      p->s++;
      return 1;
    }
    if (c < 0x20) return 0;
    if (c == '\\') {
      p->s++;
      if (p->s >= p->e) return 0;
      char x = *p->s++;
      if (x == 'u') {
        for (int i = 0; i < 4; i++, p->s++)
          if (p->s >= p->e || !strchr("0123456789abcdefABCDEF", *p->s)) return 0;
      } else if (!strchr("\"\\/bfnrt", x)) {
        return 0;
      }
      continue;
    }
    if (c >= 0x80) {
      int k = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
      if (!k || p->e - p->s < k) return 0;
      for (int i = 1; i < k; i++)
        if (((unsigned char)p->s[i] & 0xC0) != 0x80) return 0;
      p->s += k;
      continue;
    }
    p->s++;
  }
  return 0;
}

static int jp_number(jp *p) {
  const char *s = p->s;
  if (s < p->e && *s == '-') s++;
  if (s >= p->e || !(*s >= '0' && *s <= '9')) return 0;
  if (*s == '0') s++;
  else while (s < p->e && *s >= '0' && *s <= '9') s++;
  if (s < p->e && *s == '.') {
    s++;
    if (s >= p->e || !(*s >= '0' && *s <= '9')) return 0;
    while (s < p->e && *s >= '0' && *s <= '9') s++;
  }
  if (s < p->e && (*s == 'e' || *s == 'E')) {
    s++;
    if (s < p->e && (*s == '+' || *s == '-')) s++;
    if (s >= p->e || !(*s >= '0' && *s <= '9')) return 0;
    while (s < p->e && *s >= '0' && *s <= '9') s++;
  }
  p->s = s;
  return 1;
}

static int jp_lit(jp *p, const char *w) {
  size_t n = strlen(w);
  if ((size_t)(p->e - p->s) < n || memcmp(p->s, w, n)) return 0;
  p->s += n;
  return 1;
}

static int jp_value(jp *p, int depth) {
  if (depth > 64) return 0;
  jp_ws(p);
  if (p->s >= p->e) return 0;
  char c = *p->s;
  if (c == '{' || c == '[') {
    char close = c == '{' ? '}' : ']';
    p->s++;
    jp_ws(p);
    if (p->s < p->e && *p->s == close) {
      p->s++;
      return 1;
    }
    for (;;) {
      if (c == '{') {
        jp_ws(p);
        if (!jp_string(p)) return 0;
        jp_ws(p);
        if (p->s >= p->e || *p->s++ != ':') return 0;
      }
      if (!jp_value(p, depth + 1)) return 0;
      jp_ws(p);
      if (p->s >= p->e) return 0;
      if (*p->s == ',') {
        p->s++;
        continue;
      }
      if (*p->s++ != close) return 0;
      return 1;
    }
  }
  if (c == '"') return jp_string(p);
  if (c == 't') return jp_lit(p, "true");
  if (c == 'f') return jp_lit(p, "false");
  if (c == 'n') return jp_lit(p, "null");
  return jp_number(p);
}

static int json_valid(const void *data, size_t len) {
  jp p = {data, (const char *)data + len};
  if (!jp_value(&p, 0)) return 0;
  jp_ws(&p);
  return p.s == p.e;
}

static int count_substr(const char *hay, size_t len, const char *needle) {
  int n = 0;
  size_t k = strlen(needle);
  for (size_t i = 0; i + k <= len; i++)
    if (memcmp(hay + i, needle, k) == 0) n++;
  return n;
}

static void check_escape(const char *in, size_t len, const char *want) {
  char out[256];
  size_t n = tbt_json_escape(out, in, len);
  out[n] = '\0';
  CHECK_EQ_STR(out, want);
  CHECK(n <= 6 * len);
}

static void test_json_primitives(void) {
  check_escape("plain", 5, "plain");
  check_escape("a\"b\\c/", 6, "a\\\"b\\\\c/");
  check_escape("\x01\x1f\n\t\b\f\r\x7f", 8, "\\u0001\\u001f\\n\\t\\b\\f\\r\x7f");
  check_escape("a\0b", 3, "a\\u0000b");
  check_escape("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
  check_escape("\xff", 1, "\\ufffd");
  check_escape("\xc0\xaf", 2, "\\ufffd\\ufffd");                   /* overlong */
  check_escape("\xe0\x80\xaf", 3, "\\ufffd\\ufffd\\ufffd");         /* overlong */
  check_escape("\xed\xa0\x80", 3, "\\ufffd\\ufffd\\ufffd");         /* surrogate */
  check_escape("\xf4\x90\x80\x80", 4, "\\ufffd\\ufffd\\ufffd\\ufffd");  /* past U+10FFFF */
  check_escape("x\xe2\x82", 3, "x\\ufffd\\ufffd");                  /* cut short */
  check_escape("\x80z", 2, "\\ufffdz");
  check_escape("\xf0\x9f\x98", 3, "\\ufffd\\ufffd\\ufffd");

  struct { int64_t ns; const char *s; } cases[] = {
    {0, "0"}, {1, "0.001"}, {10, "0.01"}, {100, "0.1"}, {999, "0.999"}, {1000, "1"},
    {1500, "1.5"}, {1020, "1.02"}, {123456789, "123456.789"}, {-1, "-0.001"}, {-1500, "-1.5"},
    {INT64_MAX, "9223372036854775.807"}, {INT64_MIN, "-9223372036854775.808"},
    {1700000000123456789LL, "1700000000123456.789"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char buf[32];
    size_t n = tbt_format_micros(buf, cases[i].ns);
    CHECK(n < 24);
    buf[n] = '\0';
    CHECK_EQ_STR(buf, cases[i].s);
  }
}

static const char expected_json[] =
    "{\"traceEvents\":[\n"
    "{\"ph\":\"M\",\"pid\":42,\"tid\":0,\"name\":\"process_name\",\"args\":{\"name\":\"proc\\\"x\"}},\n"
    "{\"ph\":\"M\",\"pid\":42,\"tid\":1001,\"name\":\"thread_name\",\"args\":{\"name\":\"main\"}},\n"
    "{\"ph\":\"X\",\"pid\":42,\"tid\":1001,\"ts\":1,\"dur\":8999,\"name\":\"step\",\"cat\":\"train\"},\n"
    "{\"ph\":\"X\",\"pid\":42,\"tid\":1001,\"ts\":1.5,\"dur\":3498.5,\"name\":\"load\",\"cat\":\"io\"},\n"
    "{\"ph\":\"i\",\"s\":\"t\",\"pid\":42,\"tid\":1001,\"ts\":2000,\"name\":\"mark\",\"cat\":\"io\"},\n"
    "{\"ph\":\"C\",\"pid\":42,\"tid\":1001,\"ts\":2500,\"name\":\"queue\",\"args\":{\"value\":3.5}},\n"
    "{\"ph\":\"X\",\"pid\":42,\"tid\":1001,\"ts\":4000,\"dur\":4000,\"name\":\"compute\"},\n"
    "{\"ph\":\"C\",\"pid\":42,\"tid\":1001,\"ts\":8000,\"name\":\"queue\",\"args\":{\"value\":-0.25}},\n"
    "{\"ph\":\"X\",\"pid\":42,\"tid\":1001,\"ts\":8100,\"dur\":500.25,\"name\":\"load\",\"cat\":\"io\"},\n"
    "{\"ph\":\"X\",\"pid\":42,\"tid\":1002,\"ts\":2000,\"dur\":600,\"name\":\"flush\"},\n"
    "{\"ph\":\"X\",\"pid\":42,\"tid\":1002,\"ts\":5000,\"dur\":5000,\"name\":\"step\",\"cat\":\"train\",\"args\":{\"unfinished\":true}},\n"
    "{\"ph\":\"X\",\"pid\":42,\"tid\":1002,\"ts\":5500,\"dur\":1500.001,\"name\":\"compute\"},\n"
    "{\"ph\":\"C\",\"pid\":42,\"tid\":1002,\"ts\":6000,\"name\":\"queue\",\"args\":{\"value\":7}}\n"
    "],\n"
    "\"displayTimeUnit\":\"ns\",\n"
    "\"otherData\":{\"producer\":\"tbtrace " TBT_VERSION "\",\"host\":\"hostA\","
    "\"trace_start_ns\":\"1700000000000000000\",\"trace_end_ns\":\"1700000000010000000\","
    "\"dropped\":3}}\n";

static int fail_after_bytes;
static int failing_sink(void *ud, const void *data, size_t len) {
  (void)data;
  size_t *total = ud;
  *total += len;
  return *total > (size_t)fail_after_bytes ? -ENOSPC : 0;
}

static void test_chrome_json(void) {
  tbt_trace_model m = small_model();
  tbt_chrome_options o = {42, "proc\"x", "hostA"};
  tbt_buf b = {0};
  CHECK_EQ_INT(tbt_encode_chrome_json(&m, &o, &b), 0);
  CHECK_EQ_INT(b.len, sizeof expected_json - 1);
  CHECK(b.len == sizeof expected_json - 1 && memcmp(b.data, expected_json, b.len) == 0);
  if (b.len != sizeof expected_json - 1 || memcmp(b.data, expected_json, b.len) != 0)
    fprintf(stderr, "got:\n%.*s\n", (int)b.len, (const char *)b.data);
  CHECK(json_valid(b.data, b.len));

  /* gzip in one piece and streamed into a file: both inflate to the same text. */
  tbt_buf z = {0};
  CHECK_EQ_INT(tbt_gzip(b.data, b.len, -1, &z), 0);
  CHECK(z.len > 18 && z.data[0] == 0x1f && z.data[1] == 0x8b);
  size_t un = 0;
  uint8_t *u = tu_gunzip(z.data, z.len, &un);
  CHECK(u && un == b.len && memcmp(u, b.data, un) == 0);
  free(u);
  tbt_buf_free(&z);

  const char *dir = tu_tmpdir("chrome");
  mkdir(dir, 0755);
  char path[4200];
  snprintf(path, sizeof path, "%s/t.json.gz", dir);
  for (int level = 0; level <= 9; level += 9) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK_EQ_INT(tbt_chrome_json_gz_fd(&m, &o, level, fd), 0);
    close(fd);
    size_t zl;
    uint8_t *zd = tu_read_file(path, &zl);
    u = zd ? tu_gunzip(zd, zl, &un) : NULL;
    CHECK(u && un == b.len && memcmp(u, b.data, un) == 0);
    free(u);
    free(zd);
  }
  tbt_buf_free(&b);

  /* No process name or host; hostile names still give valid JSON. */
  const char *weird[] = {"", "a\"b", "\x01\xff\xc0", "line\nbreak", "\xe2\x82\xac", "t\\"};
  tbt_model_span ws[] = {{1, 2, 3, -1, 0, 0, 10, 20}, {4, 4, 0, 0, 1, TBT_SPAN_UNFINISHED, 12, 20}};
  tbt_model_instant wi[] = {{5, 1, 15}};
  tbt_model_counter wc[] = {{2, 16, 1e300}, {3, 17, 0.0 / 0.0}, {4, 18, -1.0 / 0.0},
                            {5, 19, 0.1}, {1, 19, 5e-324}};
  tbt_model_thread wt = {UINT64_MAX, 3, ws, 2, wi, 1, wc, 5};
  tbt_trace_model mw;
  memset(&mw, 0, sizeof mw);
  mw.names = weird;
  mw.nnames = 6;
  mw.threads = &wt;
  mw.nthreads = 1;
  mw.start_ns = 100;   /* events before the start: negative ts */
  mw.end_ns = 20;
  tbt_chrome_options o2 = {-7, NULL, NULL};
  CHECK_EQ_INT(tbt_encode_chrome_json(&mw, &o2, &b), 0);
  CHECK(json_valid(b.data, b.len));
  CHECK_EQ_INT(count_substr((char *)b.data, b.len, "\"ph\":\"X\""), 2);
  CHECK_EQ_INT(count_substr((char *)b.data, b.len, "\"ph\":\"i\""), 1);
  CHECK_EQ_INT(count_substr((char *)b.data, b.len, "\"ph\":\"C\""), 5);
  CHECK_EQ_INT(count_substr((char *)b.data, b.len, "process_name"), 0);
  CHECK_EQ_INT(count_substr((char *)b.data, b.len, "\"tid\":18446744073709551615"), 9);
  /* names reach the encoder made valid UTF-8: each bad byte is U+FFFD itself */
  CHECK_EQ_INT(count_substr((char *)b.data, b.len, "\"name\":\"\\u0001\xef\xbf\xbd\xef\xbf\xbd\""), 1);
  CHECK_EQ_INT(count_substr((char *)b.data, b.len,
                            "\"ts\":-0.09,\"dur\":0.01,\"name\":\"a\\\"b\",\"cat\":\"line\\nbreak\"}"),
               1);
  CHECK_EQ_INT(count_substr((char *)b.data, b.len, "\"args\":{\"unfinished\":true}"), 1);
  CHECK_EQ_INT(count_substr((char *)b.data, b.len, "{\"value\":1e+300}"), 1);
  CHECK_EQ_INT(count_substr((char *)b.data, b.len, "{\"value\":null}"), 2);
  CHECK_EQ_INT(count_substr((char *)b.data, b.len, "{\"value\":0.1}"), 1);
  CHECK_EQ_INT(count_substr((char *)b.data, b.len, "{\"value\":4.94065645841247e-324}"), 1);
  CHECK_EQ_INT(count_substr((char *)b.data, b.len, "\"cat\":"), 2);
  CHECK_EQ_INT(count_substr((char *)b.data, b.len, "\"pid\":-7"), 9);
  tbt_buf_free(&b);

  /* An empty model. */
  tbt_trace_model me;
  memset(&me, 0, sizeof me);
  CHECK_EQ_INT(tbt_encode_chrome_json(&me, &o2, &b), 0);
  CHECK(json_valid(b.data, b.len));
  tbt_buf_free(&b);

  /* A sink error stops encoding and is returned. */
  for (fail_after_bytes = 0; fail_after_bytes < 2000; fail_after_bytes += 100) {
    size_t total = 0;
    int rc = tbt_chrome_json_to(&m, &o, failing_sink, &total);
    CHECK(rc == -ENOSPC || (rc == 0 && total == sizeof expected_json - 1));
  }
  CHECK_EQ_INT(tbt_chrome_json_to(&m, NULL, failing_sink, NULL), TBT_EINVAL);
}

/* A model big enough to cross chunk boundaries: names longer than a chunk, many events. */
static void test_large(void) {
  enum { NS = 30000 };
  char *longname = malloc(300000);
  memset(longname, 'x', 299999);
  longname[299999] = '\0';
  const char *nm[] = {"", "a", "a/b", longname};
  tbt_model_span *sp = calloc(NS, sizeof *sp);
  for (int i = 0; i < NS; i++) {
    int child = i % 3 != 0;
    sp[i].name = child ? (i % 1000 == 1 ? 3 : 2) : 1;
    sp[i].path = child ? 2 : 1;
    sp[i].parent = child ? i - i % 3 : -1;
    sp[i].depth = child;
    sp[i].start_ns = B + (int64_t)i * 1000;
    sp[i].end_ns = B + (int64_t)i * 1000 + 700;
  }
  tbt_model_thread th = {99, 0, sp, NS, NULL, 0, NULL, 0};
  tbt_trace_model m;
  memset(&m, 0, sizeof m);
  m.names = nm;
  m.nnames = 4;
  m.threads = &th;
  m.nthreads = 1;
  m.start_ns = B;
  m.end_ns = B + NS * 1000;
  tbt_buf b = {0};
  tbt_chrome_options o = {1, "p", "h"};
  CHECK_EQ_INT(tbt_encode_chrome_json(&m, &o, &b), 0);
  CHECK(json_valid(b.data, b.len));
  CHECK_EQ_INT(count_substr((char *)b.data, b.len, "\"ph\":\"X\""), NS);
  tbt_buf_free(&b);
  CHECK_EQ_INT(tbt_encode_xspace(&m, "h", &b), 0);
  Tensorflow__Profiler__XSpace *xs = tensorflow__profiler__xspace__unpack(NULL, b.len, b.data);
  CHECK(xs && canonical_xspace(&b, xs));
  if (xs && xs->n_planes == 1 && xs->planes[0]->n_lines == 1) {
    CHECK_EQ_INT(xs->planes[0]->lines[0]->n_events, NS);
    CHECK_EQ_INT(xs->planes[0]->n_event_metadata, 2);
  }
  if (xs) tensorflow__profiler__xspace__free_unpacked(xs, NULL);
  tbt_buf_free(&b);
  CHECK_EQ_INT(tbt_encode_run_metadata(&m, TBT_RUN_METADATA_FULL, &b), 0);
  Tensorflow__RunMetadata *rm = tensorflow__run_metadata__unpack(NULL, b.len, b.data);
  CHECK(rm && canonical_rm(&b, rm));
  if (rm && rm->step_stats && rm->step_stats->n_dev_stats == 1)
    CHECK_EQ_INT(rm->step_stats->dev_stats[0]->n_node_stats, NS);
  if (rm) tensorflow__run_metadata__free_unpacked(rm, NULL);
  tbt_buf_free(&b);
  free(sp);
  free(longname);
}

/* ----------------------------------------------------------------- profile files */


static int is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void check_profile_contents(const tbt_trace_model *m, const tbt_profile_paths *p,
                                   const char *host) {
  size_t len;
  uint8_t *data = tu_read_file(tbt_profile_path(p, "xplane"), &len);
  tbt_buf want = {0};
  CHECK_EQ_INT(tbt_encode_xspace(m, host, &want), 0);
  CHECK(data && len == want.len && memcmp(data, want.data, len) == 0);
  free(data);
  tbt_buf_free(&want);
  data = tu_read_file(tbt_profile_path(p, "chrome_trace"), &len);
  tbt_chrome_options o = {42, "p", host};
  CHECK_EQ_INT(tbt_encode_chrome_json(m, &o, &want), 0);
  size_t un = 0;
  uint8_t *u = data ? tu_gunzip(data, len, &un) : NULL;
  CHECK(u && un == want.len && memcmp(u, want.data, un) == 0);
  free(u);
  free(data);
  tbt_buf_free(&want);
}

static void test_profile_files(void) {
  tbt_trace_model m = small_model();
  char outdir[4200], root[4300], stamp[64], want[4400];
  snprintf(outdir, sizeof outdir, "%s/out", tu_tmpdir("profile"));
  snprintf(root, sizeof root, "%s/plugins/profile", outdir);
  time_t when = 1700000000;
  struct tm tm;
  localtime_r(&when, &tm);
  strftime(stamp, sizeof stamp, "%Y_%m_%d_%H_%M_%S", &tm);

  tbt_profile_options po;
  memset(&po, 0, sizeof po);
  po.outdir = outdir;
  po.host = "hostA";
  po.when = when;
  po.gzip_level = -1;
  po.pid = 42;
  po.process_name = "p";
  tbt_profile_paths p;
  CHECK_EQ_INT(tbt_profile_write(&m, &po, &p), 0);
  snprintf(want, sizeof want, "%s/%s", root, stamp);
  CHECK_EQ_STR(p.run_dir, want);
  snprintf(want, sizeof want, "%s/%s/hostA.xplane.pb", root, stamp);
  CHECK_EQ_STR(tbt_profile_path(&p, "xplane"), want);
  snprintf(want, sizeof want, "%s/%s/hostA.trace.json.gz", root, stamp);
  CHECK_EQ_STR(tbt_profile_path(&p, "chrome_trace"), want);
  snprintf(want, sizeof want, "%s/events.out.tfevents.1700000000.hostA.profile-empty", outdir);
  CHECK_EQ_STR(p.marker_path, want);
  check_profile_contents(&m, &p, "hostA");
  struct stat st;
  mode_t um = umask(0);
  umask(um);
  CHECK(stat(p.run_dir, &st) == 0 && (st.st_mode & 0777) == (0755 & ~um));
  /* The marker: exactly the first record of an event file. */
  tu_events ev = tu_read_events(want);
  CHECK(!ev.bad && ev.n == 1);
  if (ev.n == 1) {
    CHECK(ev.ev[0]->wall_time == 1700000000.0);
    CHECK_EQ_STR(ev.ev[0]->file_version, "brain.Event:2");
  }
  CHECK(tu_canonical(&ev));
  tu_events_free(&ev);
  tbt_profile_paths_free(&p);

  /* The same second again: a new run directory, no second marker. */
  CHECK_EQ_INT(tbt_profile_write(&m, &po, &p), 0);
  snprintf(want, sizeof want, "%s/%s_1", root, stamp);
  CHECK_EQ_STR(p.run_dir, want);
  CHECK(p.marker_path == NULL);
  check_profile_contents(&m, &p, "hostA");
  tbt_profile_paths_free(&p);
  CHECK_EQ_INT(tbt_profile_write(&m, &po, &p), 0);
  snprintf(want, sizeof want, "%s/%s_2", root, stamp);
  CHECK_EQ_STR(p.run_dir, want);
  tbt_profile_paths_free(&p);
  CHECK_EQ_INT(tu_count_tree(outdir, "profile-empty"), 1);

  /* A named run; a taken name gets a suffix too. */
  po.run_name = "export-007";
  CHECK_EQ_INT(tbt_profile_write(&m, &po, &p), 0);
  snprintf(want, sizeof want, "%s/export-007", root);
  CHECK_EQ_STR(p.run_dir, want);
  tbt_profile_paths_free(&p);
  CHECK_EQ_INT(tbt_profile_write(&m, &po, &p), 0);
  snprintf(want, sizeof want, "%s/export-007_1", root);
  CHECK_EQ_STR(p.run_dir, want);
  /* Removing a run removes all of it. */
  tbt_profile_remove(&p);
  CHECK(!is_dir(want));
  tbt_profile_paths_free(&p);
  po.run_name = NULL;
  CHECK_EQ_INT(tu_count_tree(outdir, ".tmp."), 0);

  /* An outdir that already is a TensorBoard run gets no marker. */
  char run2[4300];
  snprintf(run2, sizeof run2, "%s/run2", outdir);
  mkdir(run2, 0755);
  char ef[4400];
  snprintf(ef, sizeof ef, "%s/events.out.tfevents.1.h.1.0.v2", run2);
  fclose(fopen(ef, "w"));
  po.outdir = run2;
  CHECK_EQ_INT(tbt_profile_write(&m, &po, &p), 0);
  CHECK(p.marker_path == NULL);
  CHECK_EQ_INT(tu_count_tree(run2, "profile-empty"), 0);
  tbt_profile_paths_free(&p);

  /* Host names become file names. */
  char h[256];
  tbt_profile_host(h, sizeof h);
  CHECK(h[0] && !strchr(h, '/') && !strchr(h, ':') && !strchr(h, '\\'));
  po.host = NULL;
  CHECK_EQ_INT(tbt_profile_write(&m, &po, &p), 0);
  snprintf(want, sizeof want, "/%s.xplane.pb", h);
  CHECK(tbt_profile_path(&p, "xplane") && strstr(tbt_profile_path(&p, "xplane"), want) != NULL);
  tbt_profile_paths_free(&p);
  po.host = "hostA";

  /* Bad arguments. */
  CHECK_EQ_INT(tbt_profile_write(&m, NULL, &p), TBT_EINVAL);
  po.outdir = "";
  CHECK_EQ_INT(tbt_profile_write(&m, &po, &p), TBT_EINVAL);
  po.outdir = outdir;
}

static void test_profile_failures(void) {
  tbt_trace_model m = small_model();
  const char *base = tu_tmpdir("profile_fail");
  mkdir(base, 0755);
  tbt_profile_options po;
  memset(&po, 0, sizeof po);
  po.host = "hostA";
  po.when = 1700000000;
  po.gzip_level = -1;
  po.pid = getpid();
  po.process_name = "p";
  tbt_profile_paths p;

  /* outdir below a regular file: nothing can be created. */
  char file[4200], outdir[4300];
  snprintf(file, sizeof file, "%s/file", base);
  fclose(fopen(file, "w"));
  snprintf(outdir, sizeof outdir, "%s/out", file);
  po.outdir = outdir;
  CHECK_EQ_INT(tbt_profile_write(&m, &po, &p), -ENOTDIR);
  CHECK(p.run_dir == NULL && tbt_profile_path(&p, "xplane") == NULL && tbt_profile_path(&p, "chrome_trace") == NULL);

  /* An unwritable outdir (permissions do not bind root). */
  snprintf(outdir, sizeof outdir, "%s/ro", base);
  mkdir(outdir, 0755);
  char root[4400];
  snprintf(root, sizeof root, "%s/plugins", outdir);
  mkdir(root, 0755);
  snprintf(root, sizeof root, "%s/plugins/profile", outdir);
  mkdir(root, 0555);
  chmod(root, 0555);
  po.outdir = outdir;
  int rc = tbt_profile_write(&m, &po, &p);
  if (geteuid() != 0) {
    CHECK_EQ_INT(rc, -EACCES);
    CHECK_EQ_INT(tu_count_tree(outdir, "xplane"), 0);
    CHECK_EQ_INT(tu_count_tree(outdir, ".tmp."), 0);
  } else {
    CHECK_EQ_INT(rc, 0);
    tbt_profile_remove(&p);
    tbt_profile_paths_free(&p);
  }
  chmod(root, 0755);

  /* A file system that fills up part way (RLIMIT_FSIZE makes write() fail with EFBIG): the
  ** smaller profile file is written, the larger one fails, and everything goes again. */
  static char noise[2001];   /* only the JSON holds the process name: it makes the gzip larger */
  uint32_t r = 12345;
  for (int i = 0; i < 2000; i++) {
    r = r * 1103515245u + 12345u;
    noise[i] = (char)('a' + (r >> 16) % 26);
  }
  po.process_name = noise;
  tbt_buf x = {0}, j = {0}, z = {0};
  tbt_encode_xspace(&m, "hostA", &x);
  tbt_chrome_options o = {(long)getpid(), noise, "hostA"};
  tbt_encode_chrome_json(&m, &o, &j);
  tbt_gzip(j.data, j.len, -1, &z);
  CHECK(x.len < z.len);   /* so the .xplane.pb is complete when the JSON fails */
  size_t limit = (x.len < z.len ? x.len : z.len) + 1;
  tbt_buf_free(&x);
  tbt_buf_free(&j);
  tbt_buf_free(&z);
  snprintf(outdir, sizeof outdir, "%s/full", base);
  po.outdir = outdir;
  signal(SIGXFSZ, SIG_IGN);
  struct rlimit old, lim;
  getrlimit(RLIMIT_FSIZE, &old);
  lim = old;
  lim.rlim_cur = limit;
  setrlimit(RLIMIT_FSIZE, &lim);
  rc = tbt_profile_write(&m, &po, &p);
  setrlimit(RLIMIT_FSIZE, &old);
  CHECK_EQ_INT(rc, -EFBIG);
  CHECK(p.run_dir == NULL);
  CHECK_EQ_INT(tu_count_tree(outdir, ".tmp."), 0);
  CHECK_EQ_INT(tu_count_tree(outdir, "xplane"), 0);
  CHECK_EQ_INT(tu_count_tree(outdir, "json"), 0);
  CHECK_EQ_INT(tu_count_tree(outdir, "tfevents"), 0);
  snprintf(root, sizeof root, "%s/plugins/profile", outdir);
  CHECK_EQ_INT(tu_count_tree(root, ""), 0);   /* no run directory left */
  signal(SIGXFSZ, SIG_DFL);

  /* Allocation failures anywhere: an error, no leak, nothing left on disk. */
  snprintf(outdir, sizeof outdir, "%s/oom", base);
  po.outdir = outdir;
  tbt_set_allocator(tu_failing_realloc, NULL);
  int ok = 0;
  for (long n = 1; n < 2000 && !ok; n++) {
    tu_fail_countdown = n;
    rc = tbt_profile_write(&m, &po, &p);
    tu_fail_countdown = 0;
    if (rc == 0) {
      ok = 1;
      tbt_profile_paths_free(&p);
    } else {
      CHECK_EQ_INT(rc, TBT_ENOMEM);
      CHECK_EQ_INT(tu_count_tree(outdir, ".tmp."), 0);
      CHECK_EQ_INT(tu_count_tree(outdir, "xplane"), 0);
    }
  }
  CHECK(ok);
  /* The encoders too. */
  for (int which = 0; which < 4; which++) {
    ok = 0;
    for (long n = 1; n < 2000 && !ok; n++) {
      tbt_buf b = {0};
      tbt_chrome_options co = {1, "p", "h"};
      tu_fail_countdown = n;
      rc = which == 0   ? tbt_encode_run_metadata(&m, TBT_RUN_METADATA_FULL, &b)
           : which == 1 ? tbt_encode_xspace(&m, "h", &b)
           : which == 2 ? tbt_encode_chrome_json(&m, &co, &b)
                        : tbt_gzip("abc", 3, 1, &b);
      tu_fail_countdown = 0;
      if (rc == 0) ok = 1;
      else CHECK_EQ_INT(rc, TBT_ENOMEM);
      tbt_buf_free(&b);
    }
    CHECK(ok);
  }
  tbt_set_allocator(NULL, NULL);
}

/* Stack samples: instants in TBT_SAMPLE_CATEGORY named by folded stacks. */
static void test_samples(void) {
  static const char *sn[] = {"", "a;b;c", "a;b", "a;x\"y;c", TBT_SAMPLE_CATEGORY, "mark", "io"};
  static tbt_model_instant si[] = {
    {1, 4, B + 1000}, {5, 6, B + 1500}, {2, 4, B + 2000}, {3, 4, B + 3000}, {1, 4, B + 4000}};
  static tbt_model_thread st[] = {{1001, 0, NULL, 0, si, 5, NULL, 0}};
  tbt_trace_model m;
  memset(&m, 0, sizeof m);
  m.names = sn;
  m.nnames = sizeof sn / sizeof sn[0];
  m.threads = st;
  m.nthreads = 1;
  m.start_ns = B;
  m.end_ns = B + 10000;
  m.profiler = 1;
  tbt_buf b = {0};
  tbt_chrome_options o = {42, NULL, "h"};
  CHECK_EQ_INT(tbt_encode_chrome_json(&m, &o, &b), 0);
  CHECK(json_valid(b.data, b.len));
  static const char want[] =
      "\n],\n\"samples\":[\n"
      "{\"cpu\":0,\"tid\":1001,\"ts\":1,\"name\":\"lua.sample\",\"sf\":\"3\",\"weight\":1},\n"
      "{\"cpu\":0,\"tid\":1001,\"ts\":2,\"name\":\"lua.sample\",\"sf\":\"2\",\"weight\":1},\n"
      "{\"cpu\":0,\"tid\":1001,\"ts\":3,\"name\":\"lua.sample\",\"sf\":\"5\",\"weight\":1},\n"
      "{\"cpu\":0,\"tid\":1001,\"ts\":4,\"name\":\"lua.sample\",\"sf\":\"3\",\"weight\":1}\n"
      "],\n\"stackFrames\":{\n"
      "\"1\":{\"category\":\"lua\",\"name\":\"a\"},\n"
      "\"2\":{\"category\":\"lua\",\"name\":\"b\",\"parent\":\"1\"},\n"
      "\"3\":{\"category\":\"lua\",\"name\":\"c\",\"parent\":\"2\"},\n"
      "\"4\":{\"category\":\"lua\",\"name\":\"x\\\"y\",\"parent\":\"1\"},\n"
      "\"5\":{\"category\":\"lua\",\"name\":\"c\",\"parent\":\"4\"}\n"
      "},\n\"displayTimeUnit\":\"ns\"";
  CHECK_EQ_INT(count_substr((char *)b.data, b.len, want), 1);
  /* the instants stay, the plain one too */
  CHECK_EQ_INT(count_substr((char *)b.data, b.len, "\"cat\":\"lua.sample\""), 4);
  CHECK_EQ_INT(count_substr((char *)b.data, b.len, "\"name\":\"mark\",\"cat\":\"io\""), 1);
  tbt_buf_free(&b);

  CHECK_EQ_INT(tbt_encode_xspace(&m, "h", &b), 0);
  Tensorflow__Profiler__XSpace *xs = tensorflow__profiler__xspace__unpack(NULL, b.len, b.data);
  CHECK(xs && xs->n_planes == 1);
  if (xs && xs->n_planes == 1) {
    const Tensorflow__Profiler__XPlane *p = xs->planes[0];
    int64_t stack_id = 0;
    for (size_t i = 0; i < p->n_stat_metadata; i++)
      if (strcmp(p->stat_metadata[i]->value->name, "stack") == 0) stack_id = p->stat_metadata[i]->key;
    CHECK_EQ_INT(stack_id, 5);
    CHECK_EQ_INT(p->n_lines, 1);
    const char *want_names[] = {"c", "mark", "b", "c", "c"};
    const char *want_stacks[] = {"a;b;c", NULL, "a;b", "a;x\"y;c", "a;b;c"};
    if (p->n_lines == 1 && p->lines[0]->n_events == 5) {
      for (size_t i = 0; i < 5; i++) {
        const Tensorflow__Profiler__XEventMetadata *md = emeta(p, p->lines[0]->events[i]->metadata_id);
        CHECK(md != NULL);
        if (!md) continue;
        CHECK_EQ_STR(md->name, want_names[i]);
        const char *stack = NULL;
        for (size_t k = 0; k < md->n_stats; k++)
          if (md->stats[k]->metadata_id == stack_id) stack = md->stats[k]->str_value;
        if (want_stacks[i]) CHECK_EQ_STR(stack ? stack : "(none)", want_stacks[i]);
        else CHECK(stack == NULL);
      }
      /* the same stack twice: one metadata */
      CHECK_EQ_INT(p->lines[0]->events[0]->metadata_id, p->lines[0]->events[4]->metadata_id);
    } else {
      CHECK(0);
    }
  }
  if (xs) tensorflow__profiler__xspace__free_unpacked(xs, NULL);
  tbt_buf_free(&b);
}

int main(void) {
  test_run_metadata();
  test_odd_names();
  test_track_ids();
  test_xspace();
  test_json_primitives();
  test_chrome_json();
  test_samples();
  test_large();
  test_profile_files();
  test_profile_failures();
  return CHECK_DONE();
}

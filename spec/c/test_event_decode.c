/*
** test_event_decode.c: tbt_event_decode and tbt_run_metadata_counts on event files the library
** wrote, field by field against testutil's independent protobuf-c reading of the same records;
** events of every kind built here; out of memory at every allocation.
*/
#include "check.h"
#include "default_writer.h"
#include "testutil.h"

#include "run_metadata.pb-c.h"
#include "tbtrace.h"

#include <math.h>

/* Every record of the file: the decoded event says what the independent reader says. */
static void compare_file(const char *path, size_t want_events) {
  tu_events r = tu_read_events(path);
  CHECK(!r.bad);
  CHECK_EQ_U64(r.n, want_events);
  for (size_t i = 0; i < r.n; i++) {
    const Tensorflow__Event *ev = r.ev[i];
    tbt_event e;
    CHECK_EQ_INT(tbt_event_decode(r.raw[i], r.raw_len[i], &e), 0);
    CHECK(e.wall_time == ev->wall_time);
    CHECK_EQ_INT(e.step, ev->step);
    size_t nvalues = ev->what_case == TENSORFLOW__EVENT__WHAT_SUMMARY ? ev->summary->n_value : 0;
    CHECK_EQ_U64(e.nvalues, nvalues);
    CHECK_EQ_INT(e.kind, ev->what_case == TENSORFLOW__EVENT__WHAT_SUMMARY        ? TBT_EVENT_SUMMARY
                         : ev->what_case == TENSORFLOW__EVENT__WHAT_FILE_VERSION ? TBT_EVENT_FILE_VERSION
                                                                                 : -1);
    for (size_t k = 0; k < e.nvalues && k < nvalues; k++) {
      const Tensorflow__Summary__Value *v = ev->summary->value[k];
      const tbt_event_value *d = &e.values[k];
      CHECK_EQ_STR(d->tag, v->tag);
      CHECK_EQ_STR(d->plugin, v->metadata && v->metadata->plugin_data ? v->metadata->plugin_data->plugin_name : "");
      CHECK_EQ_INT(d->kind, v->value_case == TENSORFLOW__SUMMARY__VALUE__VALUE_TENSOR ? TBT_VALUE_TENSOR : -1);
      if (v->value_case != TENSORFLOW__SUMMARY__VALUE__VALUE_TENSOR) continue;
      CHECK_EQ_INT(d->dtype, v->tensor->dtype);
      CHECK_EQ_U64(d->nstrings, v->tensor->n_string_val);
      if (v->tensor->n_string_val) {
        CHECK_EQ_U64(d->string_len, v->tensor->string_val[0].len);
        CHECK(memcmp(d->string, v->tensor->string_val[0].data, d->string_len) == 0);
      } else {
        CHECK(d->string == NULL && d->string_len == 0);
      }
    }
    tbt_event_clear(&e);
  }
  tu_events_free(&r);
}

static const tbt_event_value *only_value(const tbt_event *e) {
  CHECK_EQ_INT(e->kind, TBT_EVENT_SUMMARY);
  CHECK_EQ_U64(e->nvalues, 1);
  return e->nvalues == 1 ? &e->values[0] : NULL;
}

/* Record i of the file, decoded. */
static int decode_record(const char *path, size_t i, tbt_event *e) {
  tu_events r = tu_read_events(path);
  int rc = i < r.n ? tbt_event_decode(r.raw[i], r.raw_len[i], e) : TBT_EOF;
  tu_events_free(&r);
  return rc;
}

static void test_summaries(void) {
  open_default("decode_summaries");
  CHECK_EQ_INT(tbt_scalar("loss", 0.5, TBT_STEP(3), NULL), 1);
  const char *hello = "hello";
  size_t hello_len = 5;
  CHECK_EQ_INT(tbt_text("note", &hello, &hello_len, 1, NULL, 0, TBT_STEP(4), NULL), 1);
  const double xs[] = {1, 2, 3, 4};
  CHECK_EQ_INT(tbt_histogram("h", xs, 4, 2, TBT_STEP(5), NULL), 1);
  const uint8_t px[12] = {0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110};
  CHECK_EQ_INT(tbt_image("img", px, 1, 2, 2, 3, -1, TBT_STEP(6), NULL), 1);
  const float clip[4] = {0, 0.5f, -0.5f, 0};
  CHECK_EQ_INT(tbt_audio("snd", clip, 1, 4, 1, 8000, -1, TBT_STEP(7), NULL), 1);
  const double d = -2.25;
  CHECK_EQ_INT(tbt_write("d", TBT_DT_DOUBLE, &d, sizeof d, NULL, 0, TBT_STEP(-8), NULL, 0), 1);
  const int64_t ints[2] = {7, 8};
  const int64_t two = 2;
  CHECK_EQ_INT(tbt_write("i", TBT_DT_INT64, ints, sizeof ints, &two, 1, TBT_STEP(9), NULL, 0), 1);
  tu_events r = flush_and_read();
  CHECK_EQ_U64(r.n, 8);
  tu_events_free(&r);
  const char *path = tbt_writer_path(g_w);
  compare_file(path, 8);

  tbt_event e;
  CHECK_EQ_INT(decode_record(path, 0, &e), 0);
  CHECK_EQ_INT(e.kind, TBT_EVENT_FILE_VERSION);
  CHECK_EQ_STR(e.file_version, "brain.Event:2");
  CHECK_EQ_STR(e.run_metadata_tag, "");
  CHECK(e.wall_time > 1.6e9 && e.nvalues == 0 && e.values == NULL);
  tbt_event_clear(&e);

  CHECK_EQ_INT(decode_record(path, 1, &e), 0);
  const tbt_event_value *v = only_value(&e);
  CHECK_EQ_INT(e.step, 3);
  CHECK_EQ_STR(e.file_version, "");
  CHECK(v && strcmp(v->tag, "loss") == 0 && strcmp(v->plugin, "scalars") == 0);
  CHECK(v && v->kind == TBT_VALUE_TENSOR && v->dtype == TBT_DT_FLOAT && v->has_number && v->number == 0.5);
  CHECK(v && v->nstrings == 0 && v->string == NULL);
  tbt_event_clear(&e);

  CHECK_EQ_INT(decode_record(path, 2, &e), 0);
  v = only_value(&e);
  CHECK_EQ_INT(e.step, 4);
  CHECK(v && strcmp(v->tag, "note") == 0 && strcmp(v->plugin, "text") == 0 && v->dtype == TBT_DT_STRING);
  CHECK(v && !v->has_number && v->nstrings == 1 && v->string_len == 5 && memcmp(v->string, "hello", 5) == 0);
  tbt_event_clear(&e);

  /* A histogram's [2,3] content is no number: only a one-element content is. */
  CHECK_EQ_INT(decode_record(path, 3, &e), 0);
  v = only_value(&e);
  CHECK(v && strcmp(v->plugin, "histograms") == 0 && v->dtype == TBT_DT_DOUBLE);
  CHECK(v && !v->has_number && v->nstrings == 0);
  tbt_event_clear(&e);

  /* An image: width, height, then the PNG. */
  CHECK_EQ_INT(decode_record(path, 4, &e), 0);
  v = only_value(&e);
  CHECK(v && strcmp(v->plugin, "images") == 0 && v->kind == TBT_VALUE_TENSOR && v->dtype == TBT_DT_STRING);
  CHECK(v && v->nstrings == 3 && v->string_len == 1 && v->string[0] == '2' && !v->has_number);
  tbt_event_clear(&e);

  /* Audio: [1, 2] of (WAV, label). */
  CHECK_EQ_INT(decode_record(path, 5, &e), 0);
  v = only_value(&e);
  CHECK(v && strcmp(v->plugin, "audio") == 0 && v->nstrings == 2 && v->string_len > 44);
  CHECK(v && memcmp(v->string, "RIFF", 4) == 0);
  tbt_event_clear(&e);

  /* A double in tensor_content is a number; an int64 tensor's content is not (only int64_val). */
  CHECK_EQ_INT(decode_record(path, 6, &e), 0);
  v = only_value(&e);
  CHECK_EQ_INT(e.step, -8);
  CHECK(v && strcmp(v->tag, "d") == 0 && strcmp(v->plugin, "") == 0 && v->dtype == TBT_DT_DOUBLE);
  CHECK(v && v->has_number && v->number == -2.25);
  tbt_event_clear(&e);
  CHECK_EQ_INT(decode_record(path, 7, &e), 0);
  v = only_value(&e);
  CHECK(v && v->dtype == TBT_DT_INT64 && !v->has_number && v->nstrings == 0);
  tbt_event_clear(&e);
  close_default();
}

/* A trace export's value, and the counts in its RunMetadata against the graph read here. */
static void test_trace_export(void) {
  open_default("decode_trace");
  CHECK_EQ_INT(tbt_trace_on(NULL), 0);
  tbt_span_begin("outer");
  for (int i = 0; i < 3; i++) {
    tbt_span_begin("inner");
    tbt_span_end();
  }
  tbt_span_end();
  tbt_span_begin("other");
  tbt_span_end();
  CHECK_EQ_INT(tbt_trace_export("tr", TBT_STEP(11), NULL), 0);
  tu_events r = flush_and_read();
  CHECK_EQ_U64(r.n, 2);
  tu_events_free(&r);
  const char *path = tbt_writer_path(g_w);
  compare_file(path, 2);
  tbt_event e;
  CHECK_EQ_INT(decode_record(path, 1, &e), 0);
  const tbt_event_value *v = only_value(&e);
  CHECK_EQ_INT(e.step, 11);
  CHECK(v && strcmp(v->tag, "tr") == 0 && strcmp(v->plugin, "graph_run_metadata_graph") == 0);
  CHECK(v && v->dtype == TBT_DT_STRING && v->nstrings == 1);
  uint64_t spans = 0, paths = 0;
  if (v) {
    CHECK_EQ_INT(tbt_run_metadata_counts(v->string, v->string_len, &spans, &paths), 0);
    Tensorflow__RunMetadata *m = tensorflow__run_metadata__unpack(NULL, v->string_len, v->string);
    CHECK(m != NULL);
    size_t nodes = 0;
    for (size_t g = 0; m && g < m->n_function_graphs; g++)
      if (m->function_graphs[g]->pre_optimization_graph) nodes += m->function_graphs[g]->pre_optimization_graph->n_node;
    if (m) tensorflow__run_metadata__free_unpacked(m, NULL);
    CHECK_EQ_U64(paths, nodes);
  }
  CHECK_EQ_U64(spans, 5);   /* outer, inner three times, other */
  CHECK_EQ_U64(paths, 3);   /* outer, outer/inner, other */
  tbt_event_clear(&e);
  close_default();
}

/* Events of the kinds the library does not write itself, packed here. */
static void test_other_kinds(void) {
  uint8_t buf[256];
  tbt_event e;

  Tensorflow__Event ev = TENSORFLOW__EVENT__INIT;
  ev.wall_time = 12.5;
  ev.step = 2;
  ev.what_case = TENSORFLOW__EVENT__WHAT_GRAPH_DEF;
  ev.graph_def.data = (uint8_t *)"\x0a\x00";
  ev.graph_def.len = 2;
  size_t n = tensorflow__event__pack(&ev, buf);
  CHECK_EQ_INT(tbt_event_decode(buf, n, &e), 0);
  CHECK(e.kind == TBT_EVENT_GRAPH && e.wall_time == 12.5 && e.step == 2 && e.nvalues == 0);
  tbt_event_clear(&e);

  Tensorflow__TaggedRunMetadata trm = TENSORFLOW__TAGGED_RUN_METADATA__INIT;
  trm.tag = "step_3";
  ev.what_case = TENSORFLOW__EVENT__WHAT_TAGGED_RUN_METADATA;
  ev.tagged_run_metadata = &trm;
  n = tensorflow__event__pack(&ev, buf);
  CHECK_EQ_INT(tbt_event_decode(buf, n, &e), 0);
  CHECK_EQ_INT(e.kind, TBT_EVENT_RUN_METADATA);
  CHECK_EQ_STR(e.run_metadata_tag, "step_3");
  tbt_event_clear(&e);

  Tensorflow__LogMessage lm = TENSORFLOW__LOG_MESSAGE__INIT;
  lm.message = "hi";
  ev.what_case = TENSORFLOW__EVENT__WHAT_LOG_MESSAGE;
  ev.log_message = &lm;
  n = tensorflow__event__pack(&ev, buf);
  CHECK_EQ_INT(tbt_event_decode(buf, n, &e), 0);
  CHECK(e.kind == TBT_EVENT_OTHER && e.nvalues == 0 && e.step == 2);
  tbt_event_clear(&e);

  /* A summary of old-style values and typed-field tensors, two values in order. */
  Tensorflow__Summary__Value v[2] = {TENSORFLOW__SUMMARY__VALUE__INIT, TENSORFLOW__SUMMARY__VALUE__INIT};
  Tensorflow__Summary__Value *pv[2] = {&v[0], &v[1]};
  Tensorflow__HistogramProto h = TENSORFLOW__HISTOGRAM_PROTO__INIT;
  v[0].tag = "simple";
  v[0].value_case = TENSORFLOW__SUMMARY__VALUE__VALUE_SIMPLE_VALUE;
  v[0].simple_value = -1.5f;
  v[1].tag = "histo";
  v[1].value_case = TENSORFLOW__SUMMARY__VALUE__VALUE_HISTO;
  v[1].histo = &h;
  Tensorflow__Summary s = TENSORFLOW__SUMMARY__INIT;
  s.n_value = 2;
  s.value = pv;
  ev.what_case = TENSORFLOW__EVENT__WHAT_SUMMARY;
  ev.summary = &s;
  n = tensorflow__event__pack(&ev, buf);
  CHECK_EQ_INT(tbt_event_decode(buf, n, &e), 0);
  CHECK_EQ_U64(e.nvalues, 2);
  if (e.nvalues == 2) {
    CHECK(strcmp(e.values[0].tag, "simple") == 0 && e.values[0].kind == TBT_VALUE_SIMPLE);
    CHECK(e.values[0].has_number && e.values[0].number == -1.5 && e.values[0].dtype == 0);
    CHECK(strcmp(e.values[1].tag, "histo") == 0 && e.values[1].kind == TBT_VALUE_HISTOGRAM);
    CHECK(!e.values[1].has_number && strcmp(e.values[1].plugin, "") == 0);
  }
  tbt_event_clear(&e);

  int32_t iv = -4;
  Tensorflow__TensorProto t = TENSORFLOW__TENSOR_PROTO__INIT;
  t.dtype = TENSORFLOW__DATA_TYPE__DT_INT32;
  t.n_int_val = 1;
  t.int_val = &iv;
  Tensorflow__SummaryMetadata md = TENSORFLOW__SUMMARY_METADATA__INIT;
  Tensorflow__SummaryMetadata__PluginData pd = TENSORFLOW__SUMMARY_METADATA__PLUGIN_DATA__INIT;
  pd.plugin_name = "scalars";
  md.plugin_data = &pd;
  v[0].tag = "int";
  v[0].metadata = &md;
  v[0].value_case = TENSORFLOW__SUMMARY__VALUE__VALUE_TENSOR;
  v[0].tensor = &t;
  s.n_value = 1;
  n = tensorflow__event__pack(&ev, buf);
  CHECK_EQ_INT(tbt_event_decode(buf, n, &e), 0);
  CHECK(e.nvalues == 1 && e.values[0].dtype == TBT_DT_INT32 && e.values[0].has_number &&
        e.values[0].number == -4 && strcmp(e.values[0].plugin, "scalars") == 0);
  tbt_event_clear(&e);
}

/* The Nth allocation failing, for every N: TBT_ENOMEM, a zeroed event, nothing leaked. */
static void test_out_of_memory(void) {
  open_default("decode_oom");
  CHECK_EQ_INT(tbt_scalar("a", 1, TBT_STEP(1), NULL), 1);
  tu_events r = flush_and_read();
  close_default();
  CHECK_EQ_U64(r.n, 2);
  if (r.n != 2) return;
  tbt_set_allocator(tu_failing_realloc, NULL);
  int clean = 0, failed = 0;
  for (long n = 1; n < 200 && !clean; n++) {
    long live = tu_live_allocs;
    tu_fail_countdown = n;
    tbt_event e;
    int rc = tbt_event_decode(r.raw[1], r.raw_len[1], &e);
    clean = tu_fail_countdown > 0;
    tu_fail_countdown = 0;
    if (rc == 0) {
      CHECK(e.nvalues == 1 && strcmp(e.values[0].tag, "a") == 0 && e.values[0].number == 1);
    } else {
      failed++;
      CHECK_EQ_INT(rc, TBT_ENOMEM);
      CHECK(e.internal_ == NULL && e.values == NULL && e.nvalues == 0);
    }
    tbt_event_clear(&e);
    CHECK_EQ_INT(tu_live_allocs, live);
  }
  tbt_set_allocator(NULL, NULL);
  CHECK(clean);
  CHECK(failed >= 2);   /* the unpack and the values both allocate */
  tu_events_free(&r);
}

int main(void) {
  test_summaries();
  test_trace_export();
  test_other_kinds();
  test_out_of_memory();
  return CHECK_DONE();
}

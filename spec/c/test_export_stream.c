/*
** test_export_stream.c: the streamed parts of an export. A string summary streamed into the
** event file has the bytes of the same summary queued whole; a streamed record that fails leaves
** no torn record behind; an export read from the buffered trace writes the same bytes as one
** read from its snapshot (tbt_trace_snapshot); the model a snapshot collects in its one pass is
** the model the walks of the same read make.
*/
#include "check.h"
#include "default_writer.h"
#include "testutil.h"

#include "encoders.h"
#include "summary.h"
#include "tbtrace.h"
#include "trace_buffer.h"
#include "trace_drain.h"
#include "writer.h"

#include "run_metadata.pb-c.h"
#include "xplane.pb-c.h"

#include <pthread.h>
#include <sys/stat.h>

typedef struct fill_args {
  const uint8_t *data;
  size_t len;
  size_t fail_at;   /* bytes written before failing; SIZE_MAX: never */
  size_t piece;
} fill_args;

/* Writes a->data into out in pieces of a->piece bytes, failing with -ENOSPC at a->fail_at. */
static int fill_pieces(void *ud, tbt_sink *out) {
  fill_args *a = ud;
  for (size_t at = 0; at < a->len; at += a->piece) {
    size_t n = a->len - at < a->piece ? a->len - at : a->piece;
    if (at + n > a->fail_at) return -ENOSPC;
    uint8_t *p = tbt_sink_room(out, n);
    if (!p) return out->rc;
    memcpy(p, a->data + at, n);
    tbt_sink_done(out, p + n);
  }
  return 0;
}

static long file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Event bytes with wall_time (the first field: key 0x09 and 8 bytes) zeroed. */
static void zero_wall_time(uint8_t *ev, size_t len) {
  if (len >= 9 && ev[0] == 0x09) memset(ev + 1, 0, 8);
}

static void test_streamed_summary(void) {
  /* Sizes on both sides of every varint length boundary, and a string past the sink's buffer. */
  size_t sizes[] = {0, 1, 100, 127, 128, 16383, 16384, 200000};
  uint8_t *data = malloc(200000);
  for (size_t i = 0; i < 200000; i++) data[i] = (uint8_t)(i * 7 + 3);
  for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
    for (int64_t step = -1; step <= 1; step++) {
      open_default("stream");
      size_t n = sizes[k];
      /* The whole tensor, queued as every other summary is... */
      Tensorflow__TensorShapeProto shape = TENSORFLOW__TENSOR_SHAPE_PROTO__INIT;
      Tensorflow__TensorProto tensor = TENSORFLOW__TENSOR_PROTO__INIT;
      ProtobufCBinaryData value = {n, data};
      tensor.dtype = TENSORFLOW__DATA_TYPE__DT_STRING;
      tensor.tensor_shape = &shape;
      tensor.n_string_val = 1;
      tensor.string_val = &value;
      CHECK_EQ_INT(tbt_summary_emit_prepared("sc/tag", &tensor, "graph_run_metadata", "1", 1, NULL, step), 1);
      /* ...and streamed. */
      fill_args a = {data, n, SIZE_MAX, 1000};
      CHECK_EQ_INT(tbt_summary_emit_string_streamed("sc/tag", "graph_run_metadata", "1", 1, step, n,
                                                    fill_pieces, &a), 1);
      tu_events r = flush_and_read();
      CHECK_EQ_INT(r.n, 3);
      if (r.n == 3) {
        CHECK_EQ_INT(r.raw_len[1], r.raw_len[2]);
        zero_wall_time(r.raw[1], r.raw_len[1]);
        zero_wall_time(r.raw[2], r.raw_len[2]);
        CHECK(r.raw_len[1] == r.raw_len[2] && memcmp(r.raw[1], r.raw[2], r.raw_len[1]) == 0);
        Tensorflow__Summary__Value *v = tu_value(r.ev[2]);
        CHECK(v && v->tensor && v->tensor->n_string_val == 1 && v->tensor->string_val[0].len == n &&
              (n == 0 || memcmp(v->tensor->string_val[0].data, data, n) == 0));
        CHECK_EQ_INT(r.ev[2]->step, step);
      }
      tu_events_free(&r);
      close_default();
    }
  }
  free(data);
}

static void test_streamed_failure(void) {
  uint8_t data[300000];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)i;
  open_default("stream_fail");
  CHECK_EQ_INT(tbt_scalar("before", 1.0, TBT_STEP(1), NULL), 1);   /* queued: goes first */
  const char *path = tbt_writer_path(g_w);
  /* Failing before, inside and after the sink's buffer: nothing of the record stays. */
  size_t fails[] = {0, 10, 70000, 299999};
  long size_after_queue = -1;
  for (size_t k = 0; k < sizeof fails / sizeof *fails; k++) {
    fill_args a = {data, sizeof data, fails[k], 5000};
    CHECK_EQ_INT(tbt_writer_write_streamed(g_w, sizeof data, fill_pieces, &a), -ENOSPC);
    long sz = file_size(path);
    if (size_after_queue < 0) size_after_queue = sz;
    CHECK_EQ_INT(sz, size_after_queue);
  }
  /* A fill that writes other than the length it promised. */
  fill_args shorter = {data, 100, SIZE_MAX, 64};
  CHECK_EQ_INT(tbt_writer_write_streamed(g_w, 101, fill_pieces, &shorter), TBT_ERANGE);
  CHECK_EQ_INT(tbt_writer_write_streamed(g_w, 99, fill_pieces, &shorter), TBT_ERANGE);
  CHECK_EQ_INT(file_size(path), size_after_queue);
  /* Then a good one, and everything reads back whole. */
  CHECK_EQ_INT(tbt_writer_write_streamed(g_w, 100, fill_pieces, &shorter), 0);
  CHECK_EQ_INT(tbt_scalar("after", 2.0, TBT_STEP(2), NULL), 1);
  CHECK_EQ_INT(tbt_writer_flush(g_w), 0);
  /* file_version, "before", the 100 bytes (not an Event: read as records), "after" */
  size_t len = 0, off = 0;
  uint8_t *raw = tu_read_file(path, &len);
  long recs = 0, good = 0;
  for (; raw && off + 12 <= len; recs++) {
    uint64_t n = tu_le(raw + off, 8);
    if (off + 16 + n > len) break;
    good += (uint32_t)tu_le(raw + off + 8, 4) == tu_mask(tu_crc32c(raw + off, 8)) &&
            (uint32_t)tu_le(raw + off + 12 + n, 4) == tu_mask(tu_crc32c(raw + off + 12, n));
    off += 12 + n + 4;
  }
  CHECK_EQ_INT(recs, 4);
  CHECK_EQ_INT(good, 4);
  CHECK_EQ_INT(off, len);
  free(raw);
  /* Bad arguments; a closed writer; a no-op writer writes nothing. */
  CHECK_EQ_INT(tbt_writer_write_streamed(NULL, 1, fill_pieces, &shorter), TBT_EINVAL);
  CHECK_EQ_INT(tbt_writer_write_streamed(g_w, 1, NULL, NULL), TBT_EINVAL);
  CHECK_EQ_INT(tbt_writer_close(g_w), 0);
  CHECK_EQ_INT(tbt_writer_write_streamed(g_w, 100, fill_pieces, &shorter), TBT_ECLOSED);
  close_default();
  tbt_writer *noop;
  CHECK_EQ_INT(tbt_writer_open_noop(&noop), 0);
  CHECK_EQ_INT(tbt_writer_write_streamed(noop, 100, fill_pieces, &shorter), 0);
  tbt_writer_free(noop);
}

/* ------------------------------------------------------------------ the two sources */

static uint32_t id(const char *s) {
  return tbt_intern(s);
}

/* A second thread: flat spans and counters. */
static void *other_thread(void *arg) {
  (void)arg;
  tbt_thread_name("other");
  for (int i = 0; i < 3000; i++) {
    tbt_span_begin_id(id("tick"), id("io"));
    tbt_counter_id(id("queue"), i * 0.5);
    tbt_span_end();
  }
  return NULL;
}

/* Enough records per track to cross many windows: a root around everything, a chain deeper than
** a window, coroutine tracks switched in and out, instants, counters, edges, bad UTF-8. */
static void record_everything(void) {
  tbt_thread_name("main");
  pthread_t th;
  pthread_create(&th, NULL, other_thread, NULL);
  tbt_span_begin_id(id("run"), id("train"));
  for (int k = 0; k < 3000; k++) {
    tbt_span_begin_id(id("step"), 0);
    tbt_span_begin_id(id(k & 1 ? "forward" : "backward"), id("compute"));
    tbt_instant_id(id("mark"), k % 3 ? 0 : id("cat"));
    tbt_span_end();
    if (k % 7 == 0) {
      uintptr_t co = (uintptr_t)(1 + k % 3);
      tbt_track_begin(co, id("co_work"), 0);
      tbt_track_counter(co, id("co_level"), k);
      tbt_span_begin_id(id("between"), 0);   /* the thread's own track, while co is open */
      tbt_span_end();
      tbt_track_end(co);
    }
    tbt_counter_id(id("loss"), 1.0 / (k + 1));
    tbt_span_end();
  }
  for (int d = 0; d < 6000; d++) tbt_span_begin_id(id(d & 1 ? "f" : "g"), 0);
  tbt_instant_id(id("bottom"), 0);
  for (int d = 0; d < 6000; d++) tbt_span_end();
  tbt_span_begin("bad\xff\xfe name");
  tbt_span_end();
  tbt_span_depends("run/step", "run/step/forward");
  tbt_span_depends("run/step/forward", "run/step/backward");
  tbt_span_end();   /* run */
  pthread_join(th, NULL);
}

typedef struct encoded {
  tbt_buf rm, xs, json;
} encoded;

static void encode_all(tbt_source *src, encoded *out) {
  memset(out, 0, sizeof *out);
  tbt_run_metadata *rm = NULL;
  tbt_sink s, z;
  CHECK_EQ_INT(tbt_run_metadata_prepare(src, TBT_RUN_METADATA_FULL, &rm), 0);
  CHECK_EQ_INT(tbt_sink_buf(&s, &out->rm), 0);
  CHECK_EQ_INT(tbt_run_metadata_write(rm, &s), 0);
  CHECK_EQ_INT(tbt_sink_finish(&s), 0);
  tbt_sink_free(&s);
  CHECK_EQ_INT(out->rm.len, tbt_run_metadata_size(rm));
  tbt_run_metadata_free(rm);
  CHECK_EQ_INT(tbt_sink_buf(&s, &out->xs), 0);
  CHECK_EQ_INT(tbt_xspace_write(src, "h", &s), 0);
  CHECK_EQ_INT(tbt_sink_finish(&s), 0);
  tbt_sink_free(&s);
  tbt_chrome_options co = {7, "p", "h"};
  CHECK_EQ_INT(tbt_sink_buf(&s, &out->json), 0);
  CHECK_EQ_INT(tbt_chrome_json_write(src, &co, &s), 0);
  CHECK_EQ_INT(tbt_sink_finish(&s), 0);
  tbt_sink_free(&s);
  (void)z;
}

static void encoded_free(encoded *e) {
  tbt_buf_free(&e->rm);
  tbt_buf_free(&e->xs);
  tbt_buf_free(&e->json);
}

static void check_nesting(const tbt_trace_model *m) {
  long bad = 0;
  for (size_t t = 0; t < m->nthreads; t++) {
    const tbt_model_thread *th = &m->threads[t];
    for (size_t i = 0; i < th->nspans; i++) {
      const tbt_model_span *s = &th->spans[i];
      if (s->end_ns < s->start_ns) bad++;
      if (i && s->start_ns < th->spans[i - 1].start_ns) bad++;
      if (s->parent < 0) {
        if (s->depth) bad++;
        continue;
      }
      const tbt_model_span *p = &th->spans[s->parent];
      if ((size_t)s->parent >= i || p->depth + 1 != s->depth || s->start_ns < p->start_ns ||
          s->end_ns > p->end_ns)
        bad++;
    }
  }
  CHECK_EQ_INT(bad, 0);
}

static void test_sources_agree(void) {
  tbt_trace_options o;
  tbt_trace_options_init(&o);
  CHECK_EQ_INT(tbt_trace_on(&o), 0);
  record_everything();

  /* The buffered records, walked where they lie, and a model made of them by the same read (a
  ** second read would convert ticks with a refined rate): the encoders write the same bytes. */
  tbt_source src;
  CHECK_EQ_INT(tbt_trace_read_(&src), 0);
  encoded a, b;
  encode_all(&src, &a);
  tbt_trace_model m;
  CHECK_EQ_INT(tbt_model_from_source(&src, &m), 0);
  uint64_t spans = src.spans, unfinished = src.unfinished;
  tbt_trace_read_end_(&src);
  tbt_trace_read_end_(&src);   /* twice: a no-op */
  tbt_source ms;
  CHECK_EQ_INT(tbt_source_from_model(&ms, &m), 0);
  encode_all(&ms, &b);
  tbt_source_free(&ms);
  CHECK(a.rm.len == b.rm.len && memcmp(a.rm.data, b.rm.data, a.rm.len) == 0);
  CHECK(a.xs.len == b.xs.len && memcmp(a.xs.data, b.xs.data, a.xs.len) == 0);
  CHECK(a.json.len == b.json.len && memcmp(a.json.data, b.json.data, a.json.len) == 0);
  encoded_free(&a);
  encoded_free(&b);
  tbt_trace_model_free(&m);

  /* What a snapshot reads: everything, nested as recorded. */
  CHECK_EQ_INT(tbt_trace_snapshot(&m), 0);
  check_nesting(&m);
  /* main, other, and the three coroutine tracks of main */
  CHECK_EQ_INT(m.nthreads, 5);
  uint64_t n = 0;
  for (size_t t = 0; t < m.nthreads; t++) n += m.threads[t].nspans;
  CHECK_EQ_U64(n, 1 + 3000 * 2 + 3000 + 6000 + 1 + 429 * 2);
  CHECK_EQ_U64(spans, n);
  CHECK_EQ_U64(unfinished, 0);
  CHECK_EQ_INT(m.nedges, 2);
  int bad_name = 0;
  for (size_t i = 0; i < m.nnames; i++) bad_name += strcmp(m.names[i], "bad\xef\xbf\xbd\xef\xbf\xbd name") == 0;
  CHECK_EQ_INT(bad_name, 1);
  tbt_trace_model_free(&m);

  /* Spans still open when read end then, flagged, and are listed. */
  tbt_span_begin_id(id("open"), 0);
  tbt_span_begin_id(id("inner"), 0);
  CHECK_EQ_INT(tbt_trace_read_(&src), 0);
  CHECK_EQ_U64(src.unfinished, 2);
  CHECK_EQ_INT(src.nunfinished_paths, 2);
  CHECK_EQ_STR(src.names[src.unfinished_paths[0]], "open");
  CHECK_EQ_STR(src.names[src.unfinished_paths[1]], "open/inner");
  int flagged = 0;
  for (size_t t = 0; t < src.ntracks; t++) {
    tbt_src_walk w;
    const tbt_src_event *ev;
    CHECK_EQ_INT(tbt_src_begin(&src, t, &w), 0);
    while (tbt_src_next(&w, &ev) > 0)
      if (ev->flags & TBT_SPAN_UNFINISHED) flagged += ev->end_ns == src.end_ns;
    tbt_src_end(&w);
  }
  CHECK_EQ_INT(flagged, 2);
  tbt_trace_read_end_(&src);
  tbt_trace_off();
  CHECK_EQ_INT(tbt_trace_read_(&src), TBT_ENOTRACE);
  tbt_trace_read_end_(&src);
}

/* The differences between two models, field by field; times must agree to the nanosecond. */
static long model_diff(const tbt_trace_model *a, const tbt_trace_model *b) {
  long bad = 0;
  bad += a->nnames != b->nnames || a->nthreads != b->nthreads || a->nedges != b->nedges;
  bad += a->end_ns != b->end_ns || a->dropped != b->dropped || a->records != b->records;
  bad += a->generation != b->generation || a->start_ns != b->start_ns;
  if (bad) return bad;
  for (size_t i = 0; i < a->nnames; i++) bad += strcmp(a->names[i], b->names[i]) != 0;
  for (size_t i = 0; i < a->nedges; i++)
    bad += a->edges[i].from != b->edges[i].from || a->edges[i].to != b->edges[i].to;
  for (size_t t = 0; t < a->nthreads; t++) {
    const tbt_model_thread *x = &a->threads[t], *y = &b->threads[t];
    bad += x->tid != y->tid || x->name != y->name;
    if (x->nspans != y->nspans || x->ninstants != y->ninstants || x->ncounters != y->ncounters) {
      bad++;
      continue;
    }
    for (size_t i = 0; i < x->nspans; i++) {
      const tbt_model_span *p = &x->spans[i], *q = &y->spans[i];
      bad += p->name != q->name || p->path != q->path || p->category != q->category ||
             p->parent != q->parent || p->depth != q->depth || p->flags != q->flags ||
             p->start_ns != q->start_ns || p->end_ns != q->end_ns;
    }
    for (size_t i = 0; i < x->ninstants; i++)
      bad += x->instants[i].name != y->instants[i].name ||
             x->instants[i].category != y->instants[i].category ||
             x->instants[i].time_ns != y->instants[i].time_ns;
    for (size_t i = 0; i < x->ncounters; i++)
      bad += x->counters[i].name != y->counters[i].name ||
             x->counters[i].time_ns != y->counters[i].time_ns ||
             memcmp(&x->counters[i].value, &y->counters[i].value, sizeof(double)) != 0;
  }
  return bad;
}

/* A snapshot collects the model in its one pass over the records; the walks of the same read
** (windows, ends noted across them, ties ordered) make the same model. */
static void test_snapshot_collects(void) {
  tbt_trace_options o;
  tbt_trace_options_init(&o);
  CHECK_EQ_INT(tbt_trace_on(&o), 0);
  record_everything();
  tbt_span_begin_id(id("open"), 0);
  tbt_track_begin(2, id("co_open"), 0);
  tbt_instant_id(id("late"), 0);

  tbt_trace_model c, w;
  CHECK_EQ_INT(tbt_buffers_snapshot_both_(&c, &w, 0), 0);
  CHECK_EQ_INT(c.nthreads, 5);
  uint64_t spans = 0, instants = 0, counters = 0, unfinished = 0, deep = 0;
  for (size_t t = 0; t < c.nthreads; t++) {
    const tbt_model_thread *th = &c.threads[t];
    spans += th->nspans;
    instants += th->ninstants;
    counters += th->ncounters;
    for (size_t i = 0; i < th->nspans; i++) {
      unfinished += (th->spans[i].flags & TBT_SPAN_UNFINISHED) != 0;
      deep += th->spans[i].depth > TBT_PATH_MAX_DEPTH;
    }
  }
  CHECK_EQ_U64(spans, 1 + 3000 * 2 + 3000 + 6000 + 1 + 429 * 2 + 2);
  CHECK_EQ_U64(instants, 3000 + 1 + 1);
  CHECK_EQ_U64(counters, 3000 + 429 + 3000);
  CHECK_EQ_U64(unfinished, 2);
  CHECK(deep > 0);
  CHECK_EQ_INT(c.nedges, 2);
  CHECK_EQ_INT(model_diff(&c, &w), 0);
  check_nesting(&c);
  tbt_trace_model_free(&c);
  tbt_trace_model_free(&w);

  /* The public snapshot: the same model but for the times (a later read) and its own fields. */
  tbt_trace_model m;
  CHECK_EQ_INT(tbt_trace_snapshot(&m), 0);
  CHECK_EQ_INT(tbt_buffers_snapshot_both_(&c, &w, 0), 0);
  int same = m.nthreads == c.nthreads && m.nnames == c.nnames;
  for (size_t t = 0; same && t < m.nthreads; t++) {
    const tbt_model_thread *x = &m.threads[t], *y = &c.threads[t];
    same = x->nspans == y->nspans && x->ninstants == y->ninstants && x->ncounters == y->ncounters;
    for (size_t i = 0; same && i < x->nspans; i++)
      same = x->spans[i].path == y->spans[i].path && x->spans[i].parent == y->spans[i].parent &&
             x->spans[i].flags == y->spans[i].flags;
  }
  CHECK(same);
  tbt_trace_model_free(&m);
  tbt_trace_model_free(&c);
  tbt_trace_model_free(&w);
  tbt_track_end(2);
  tbt_span_end();
  tbt_trace_off();
}

/* Events of equal times, as a reader's window may hold them in record order. */
static void test_order_ties(void) {
  /* (time, kind, name): names give the order each kind was recorded in */
  static const int in[][3] = {{1, 1, 10}, {1, 0, 11}, {1, 2, 12}, {1, 0, 13}, {2, 2, 14},
                              {3, 2, 15}, {3, 1, 16}, {3, 1, 17}, {3, 0, 18}, {4, 0, 19}};
  static const int want[] = {11, 13, 10, 12, 14, 18, 16, 17, 15, 19};
  enum { N = sizeof in / sizeof *in };
  tbt_src_event ev[N], tmp[N];
  memset(ev, 0, sizeof ev);
  for (int i = 0; i < N; i++) {
    ev[i].start_ns = in[i][0];
    ev[i].kind = in[i][1];
    ev[i].name = (uint32_t)in[i][2];
  }
  tbt_src_order_ties(ev, N, tmp);
  for (int i = 0; i < N; i++) CHECK_EQ_INT(ev[i].name, want[i]);
  tbt_src_order_ties(ev, 0, tmp);
}

int main(void) {
  test_order_ties();
  test_streamed_summary();
  test_streamed_failure();
  test_sources_agree();
  test_snapshot_collects();
  return CHECK_DONE();
}

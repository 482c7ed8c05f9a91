/*
** test_export_stream.c: the streamed parts of an export. A string summary streamed into the
** event file has the bytes of the same summary queued whole; a streamed record that fails leaves
** no torn record behind; an export read from the buffered trace writes the same bytes as one
** read from its snapshot (tbt_trace_snapshot).
*/
#include "check.h"
#include "default_writer.h"
#include "testutil.h"

#include "encoders.h"
#include "summary.h"
#include "tbtrace.h"
#include "writer.h"

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

int main(void) {
  test_streamed_summary();
  test_streamed_failure();
  return CHECK_DONE();
}

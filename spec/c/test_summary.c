/*
** test_summary.c: every summary decoded from the file and compared field by field with what
** TensorBoard's v2 ops write; histogram bucketing; bad input.
*/
#include "check.h"
#include "default_writer.h"
#include "testutil.h"

#include "tbtrace.h"

#include <math.h>
#include <time.h>

static void check_plugin(const Tensorflow__Summary__Value *v, const char *plugin, const char *desc) {
  CHECK(v->metadata != NULL);
  if (!v->metadata) return;
  CHECK(v->metadata->plugin_data != NULL);
  if (v->metadata->plugin_data) {
    CHECK_EQ_STR(v->metadata->plugin_data->plugin_name, plugin);
    CHECK_EQ_INT(v->metadata->plugin_data->content.len, 0);   /* PluginData(version=0) is empty */
  }
  CHECK_EQ_STR(v->metadata->display_name, "");
  CHECK_EQ_STR(v->metadata->summary_description, desc ? desc : "");
  CHECK_EQ_INT(v->metadata->data_class, 0);
}

static void check_shape(const Tensorflow__TensorProto *t, int ndims, const int64_t *dims) {
  CHECK(t->tensor_shape != NULL);   /* present even for scalars */
  if (!t->tensor_shape) return;
  CHECK_EQ_INT(t->tensor_shape->n_dim, ndims);
  for (int i = 0; i < ndims && i < (int)t->tensor_shape->n_dim; i++)
    CHECK_EQ_INT(t->tensor_shape->dim[i]->size, dims[i]);
}

static void test_scalar(void) {
  open_default("scalar");
  double before = 0;
  {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    before = ts.tv_sec + ts.tv_nsec / 1e9;
  }
  CHECK_EQ_INT(tbt_scalar("loss", 0.25, TBT_STEP(42), "the **loss**"), 1);
  CHECK_EQ_INT(tbt_scalar("nan", NAN, TBT_STEP(1), NULL), 1);
  CHECK_EQ_INT(tbt_scalar("big", 1e300, TBT_STEP(2), NULL), 1);   /* float32 overflow: inf */
  CHECK_EQ_INT(tbt_scalar("héllo/wörld", -3.5, TBT_STEP(INT64_MAX), NULL), 1);
  tu_events r = flush_and_read();
  CHECK_EQ_INT(r.n, 5);
  if (r.n == 5) {
    Tensorflow__Event *e = r.ev[1];
    CHECK_EQ_INT(e->step, 42);
    CHECK(e->wall_time >= before - 1 && e->wall_time <= before + 60);
    CHECK_EQ_INT(e->summary->n_value, 1);
    Tensorflow__Summary__Value *v = tu_value(e);
    CHECK_EQ_STR(v->tag, "loss");
    CHECK_EQ_INT(v->value_case, TENSORFLOW__SUMMARY__VALUE__VALUE_TENSOR);
    CHECK_EQ_INT(v->tensor->dtype, TENSORFLOW__DATA_TYPE__DT_FLOAT);
    check_shape(v->tensor, 0, NULL);
    CHECK_EQ_INT(v->tensor->tensor_content.len, 4);
    float f;
    memcpy(&f, v->tensor->tensor_content.data, 4);
    CHECK(f == 0.25f);
    CHECK_EQ_INT(v->tensor->n_float_val, 0);
    check_plugin(v, "scalars", "the **loss**");

    memcpy(&f, tu_value(r.ev[2])->tensor->tensor_content.data, 4);
    CHECK(isnan(f));
    memcpy(&f, tu_value(r.ev[3])->tensor->tensor_content.data, 4);
    CHECK(isinf(f) && f > 0);
    CHECK_EQ_STR(tu_value(r.ev[4])->tag, "héllo/wörld");
    CHECK(r.ev[4]->step == INT64_MAX);
  }
  tu_events_free(&r);
  close_default();
}

/* Scalars around every length that changes the encoding: tags up to and past the longest whose
** lengths all fit one varint byte (98 bytes), ASCII and not, steps of each varint size and
** negative, without a description, with a short one and with a long one. Each record is checked field by field and against
** protobuf-c's own encoding of what was decoded. */
static void test_scalar_lengths(void) {
  open_default("scalar_lengths");
  static const size_t tag_lens[] = {1, 4, 97, 98, 99, 100, 127, 128, 300};
  static const int64_t steps[] = {0, 1, 127, 128, 16383, 16384, -1, INT64_MIN, INT64_MAX};
  const size_t ntags = sizeof tag_lens / sizeof *tag_lens, nsteps = sizeof steps / sizeof *steps;
  char tags[2][sizeof tag_lens / sizeof *tag_lens][301];
  for (size_t t = 0; t < ntags; t++) {
    memset(tags[0][t], 'a', tag_lens[t]);
    tags[0][t][tag_lens[t]] = '\0';
    /* The same byte length in two-byte characters (an odd length ends in one ASCII byte). */
    for (size_t k = 0; k + 1 < tag_lens[t]; k += 2) memcpy(tags[1][t] + k, "\xc3\xa9", 2);
    if (tag_lens[t] % 2) tags[1][t][tag_lens[t] - 1] = 'z';
    tags[1][t][tag_lens[t]] = '\0';
  }
  /* No description, a short one, and one longer than the metadata's buffer on the stack. */
  char long_desc[400];
  memset(long_desc, 'w', sizeof long_desc - 1);
  long_desc[sizeof long_desc - 1] = '\0';
  const char *descs[3] = {NULL, "d", long_desc};
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  double before = (double)ts.tv_sec + ts.tv_nsec / 1e9;
  size_t written = 0;
  for (int kind = 0; kind < 2; kind++)
    for (size_t t = 0; t < ntags; t++)
      for (size_t k = 0; k < nsteps; k++)
        for (int d = 0; d < 3; d++) {
          double v = (double)written * 0.5 - 7;
          CHECK_EQ_INT(tbt_scalar(tags[kind][t], v, TBT_STEP(steps[k]), descs[d]), 1);
          written++;
        }
  clock_gettime(CLOCK_REALTIME, &ts);
  double after = (double)ts.tv_sec + ts.tv_nsec / 1e9;
  tu_events r = flush_and_read();
  CHECK_EQ_INT(r.n, written + 1);
  size_t i = 1;
  for (int kind = 0; kind < 2 && r.n == written + 1; kind++)
    for (size_t t = 0; t < ntags; t++)
      for (size_t k = 0; k < nsteps; k++)
        for (int d = 0; d < 3; d++, i++) {
          Tensorflow__Event *e = r.ev[i];
          CHECK(e->step == steps[k]);
          CHECK(e->wall_time >= before - 0.001 && e->wall_time <= after + 0.001);
          Tensorflow__Summary__Value *v = tu_value(e);
          CHECK(v != NULL);
          if (!v) continue;
          CHECK_EQ_INT(e->summary->n_value, 1);
          CHECK_EQ_STR(v->tag, tags[kind][t]);
          CHECK_EQ_INT(v->value_case, TENSORFLOW__SUMMARY__VALUE__VALUE_TENSOR);
          CHECK_EQ_INT(v->tensor->dtype, TENSORFLOW__DATA_TYPE__DT_FLOAT);
          check_shape(v->tensor, 0, NULL);
          CHECK_EQ_INT(v->tensor->tensor_content.len, 4);
          float f;
          memcpy(&f, v->tensor->tensor_content.data, 4);
          CHECK(f == (float)((double)(i - 1) * 0.5 - 7));
          check_plugin(v, "scalars", descs[d]);
        }
  tu_events_free(&r);
  close_default();
}

static void test_text(void) {
  open_default("text");
  const char *one[] = {"hello **world**"};
  CHECK_EQ_INT(tbt_text("notes", one, NULL, 1, NULL, 0, TBT_STEP(1), NULL), 1);
  const char *grid[] = {"a", "b\0c", "", "d", "e", "f"};
  size_t lens[] = {1, 3, 0, 1, 1, 1};
  int64_t dims[] = {2, 3};
  CHECK_EQ_INT(tbt_text("table", grid, lens, 6, dims, 2, TBT_STEP(2), "a table"), 1);
  CHECK_EQ_INT(tbt_text("bad", grid, lens, 5, dims, 2, TBT_STEP(2), NULL), TBT_EINVAL);  /* 5 != 2*3 */
  tu_events r = flush_and_read();
  CHECK_EQ_INT(r.n, 3);
  if (r.n == 3) {
    Tensorflow__Summary__Value *v = tu_value(r.ev[1]);
    CHECK_EQ_INT(v->tensor->dtype, TENSORFLOW__DATA_TYPE__DT_STRING);
    check_shape(v->tensor, 0, NULL);
    CHECK_EQ_INT(v->tensor->n_string_val, 1);
    CHECK(v->tensor->string_val[0].len == 15 && !memcmp(v->tensor->string_val[0].data, "hello **world**", 15));
    CHECK_EQ_INT(v->tensor->tensor_content.len, 0);
    check_plugin(v, "text", NULL);

    v = tu_value(r.ev[2]);
    check_shape(v->tensor, 2, dims);
    CHECK_EQ_INT(v->tensor->n_string_val, 6);
    for (int i = 0; i < 6 && i < (int)v->tensor->n_string_val; i++) {
      CHECK_EQ_INT(v->tensor->string_val[i].len, lens[i]);
      CHECK(lens[i] == 0 || !memcmp(v->tensor->string_val[i].data, grid[i], lens[i]));
    }
    check_plugin(v, "text", "a table");
  }
  tu_events_free(&r);
  close_default();
}

static int rows_equal(const double *got, const double *want, int k) {
  for (int i = 0; i < k * 3; i++)
    if (got[i] != want[i]) {
      fprintf(stderr, "  row %d col %d: got %.17g want %.17g\n", i / 3, i % 3, got[i], want[i]);
      return 0;
    }
  return 1;
}

static void test_histogram_buckets(void) {
  double out[90];
  /* Equal-width buckets from min to max; the maximum falls in the last bucket. */
  double v1[] = {0, 1, 2, 3};
  double want1[] = {0, 1.5, 2, 1.5, 3, 2};
  CHECK_EQ_INT(tbt_histogram_buckets(v1, 4, 2, out), 0);
  CHECK(rows_equal(out, want1, 2));
  /* All values equal: (v, v, 0) rows with the count in the last. */
  double v2[] = {5, 5, 5};
  double want2[] = {5, 5, 0, 5, 5, 0, 5, 5, 3};
  CHECK_EQ_INT(tbt_histogram_buckets(v2, 3, 3, out), 0);
  CHECK(rows_equal(out, want2, 3));
  /* Empty data: all zeros. */
  double want3[90] = {0};
  CHECK_EQ_INT(tbt_histogram_buckets(NULL, 0, 30, out), 0);
  CHECK(rows_equal(out, want3, 30));
  /* Edges are min + i * (range / k) and the last one is exactly max. */
  double v4[] = {-1, 0.3, 0.31, 2};
  CHECK_EQ_INT(tbt_histogram_buckets(v4, 4, 3, out), 0);
  double w = 3.0 / 3;
  double want4[] = {-1, -1 + w, 1, -1 + w, -1 + 2 * w, 2, -1 + 2 * w, 2, 1};
  CHECK(rows_equal(out, want4, 3));
  /* Counts sum to n. */
  double v5[1000];
  for (int i = 0; i < 1000; i++) v5[i] = sin(i) * 100;
  CHECK_EQ_INT(tbt_histogram_buckets(v5, 1000, 30, out), 0);
  double total = 0;
  for (int i = 0; i < 30; i++) total += out[i * 3 + 2];
  CHECK(total == 1000);
  /* Bad input. */
  double bad[] = {1, NAN};
  CHECK_EQ_INT(tbt_histogram_buckets(bad, 2, 3, out), TBT_EINVAL);
  bad[1] = INFINITY;
  CHECK_EQ_INT(tbt_histogram_buckets(bad, 2, 3, out), TBT_EINVAL);
  double huge[] = {-1.7e308, 1.7e308};
  CHECK_EQ_INT(tbt_histogram_buckets(huge, 2, 3, out), TBT_ERANGE);
  CHECK_EQ_INT(tbt_histogram_buckets(v1, 4, -1, out), TBT_EINVAL);
}

static void test_histogram_summary(void) {
  open_default("histogram");
  double v[] = {0, 1, 2, 3};
  CHECK_EQ_INT(tbt_histogram("w", v, 4, -1, TBT_STEP(3), NULL), 1);    /* default 30 buckets */
  CHECK_EQ_INT(tbt_histogram("w2", v, 4, 2, TBT_STEP(4), "d"), 1);
  CHECK_EQ_INT(tbt_histogram("empty", NULL, 0, 0, TBT_STEP(5), NULL), 1);
  tu_events r = flush_and_read();
  CHECK_EQ_INT(r.n, 4);
  if (r.n == 4) {
    Tensorflow__Summary__Value *h = tu_value(r.ev[1]);
    CHECK_EQ_INT(h->tensor->dtype, TENSORFLOW__DATA_TYPE__DT_DOUBLE);
    int64_t d30[] = {30, 3};
    check_shape(h->tensor, 2, d30);
    CHECK_EQ_INT(h->tensor->tensor_content.len, 30 * 3 * 8);
    check_plugin(h, "histograms", NULL);

    h = tu_value(r.ev[2]);
    int64_t d2[] = {2, 3};
    check_shape(h->tensor, 2, d2);
    double rows[6];
    CHECK_EQ_INT(h->tensor->tensor_content.len, sizeof rows);
    memcpy(rows, h->tensor->tensor_content.data, sizeof rows);
    double want[] = {0, 1.5, 2, 1.5, 3, 2};
    CHECK(rows_equal(rows, want, 2));
    check_plugin(h, "histograms", "d");

    h = tu_value(r.ev[3]);
    int64_t d0[] = {0, 3};
    check_shape(h->tensor, 2, d0);
    CHECK_EQ_INT(h->tensor->tensor_content.len, 0);
  }
  tu_events_free(&r);
  double bad[] = {1, NAN};
  CHECK_EQ_INT(tbt_histogram("bad", bad, 2, -1, TBT_STEP(1), NULL), TBT_EINVAL);
  close_default();
}

static void test_write(void) {
  open_default("write");
  int64_t vals[] = {1, -2, 3, INT64_MIN};
  int64_t dims[] = {2, 2};
  /* SummaryMetadata{plugin_data{plugin_name:"custom", content:"\x01\x02"}} serialized by hand. */
  const uint8_t md[] = {0x0a, 0x0c, 0x0a, 0x06, 'c', 'u', 's', 't', 'o', 'm', 0x12, 0x02, 0x01, 0x02};
  CHECK_EQ_INT(tbt_write("t", TBT_DT_INT64, vals, sizeof vals, dims, 2, TBT_STEP(7), md, sizeof md), 1);
  CHECK_EQ_INT(tbt_write("nometa", TBT_DT_INT64, vals, sizeof vals, dims, 2, TBT_STEP(8), NULL, 0), 1);
  const char *strs[] = {"x", "yz"};
  int64_t d1[] = {2};
  CHECK_EQ_INT(tbt_write_strings("s", strs, NULL, 2, d1, 1, TBT_STEP(9), NULL, 0), 1);
  /* Mismatched sizes, unknown dtypes, garbage metadata. */
  CHECK_EQ_INT(tbt_write("t", TBT_DT_INT64, vals, 8, dims, 2, TBT_STEP(7), NULL, 0), TBT_EINVAL);
  CHECK_EQ_INT(tbt_write("t", TBT_DT_STRING, vals, 8, NULL, 0, TBT_STEP(7), NULL, 0), TBT_EINVAL);
  CHECK_EQ_INT(tbt_write("t", (tbt_dtype)99, vals, 8, NULL, 0, TBT_STEP(7), NULL, 0), TBT_EINVAL);
  const uint8_t junk[] = {0xff, 0xff, 0xff};
  CHECK_EQ_INT(tbt_write("t", TBT_DT_INT64, vals, 8, NULL, 0, TBT_STEP(7), junk, 3), TBT_EINVAL);
  int64_t neg[] = {-1};
  CHECK_EQ_INT(tbt_write("t", TBT_DT_INT64, vals, 8, neg, 1, TBT_STEP(7), NULL, 0), TBT_EINVAL);
  tu_events r = flush_and_read();
  CHECK_EQ_INT(r.n, 4);
  if (r.n == 4) {
    Tensorflow__Summary__Value *v = tu_value(r.ev[1]);
    CHECK_EQ_INT(r.ev[1]->step, 7);
    CHECK_EQ_INT(v->tensor->dtype, TENSORFLOW__DATA_TYPE__DT_INT64);
    check_shape(v->tensor, 2, dims);
    CHECK(v->tensor->tensor_content.len == sizeof vals &&
          !memcmp(v->tensor->tensor_content.data, vals, sizeof vals));
    CHECK_EQ_STR(v->metadata->plugin_data->plugin_name, "custom");
    CHECK(v->metadata->plugin_data->content.len == 2 && v->metadata->plugin_data->content.data[1] == 2);
    CHECK(tu_value(r.ev[2])->metadata == NULL);   /* no metadata given: none written */
    v = tu_value(r.ev[3]);
    CHECK_EQ_INT(v->tensor->dtype, TENSORFLOW__DATA_TYPE__DT_STRING);
    CHECK_EQ_INT(v->tensor->n_string_val, 2);
  }
  tu_events_free(&r);
  close_default();
}

static void test_bad_tags(void) {
  open_default("tags");
  CHECK_EQ_INT(tbt_scalar(NULL, 1, TBT_STEP(1), NULL), TBT_EINVAL);
  CHECK_EQ_INT(tbt_scalar("", 1, TBT_STEP(1), NULL), TBT_EINVAL);
  CHECK_EQ_INT(tbt_scalar("\xff\xfe", 1, TBT_STEP(1), NULL), TBT_EINVAL);      /* not UTF-8 */
  CHECK_EQ_INT(tbt_scalar("\xed\xa0\x80", 1, TBT_STEP(1), NULL), TBT_EINVAL);  /* a surrogate */
  CHECK_EQ_INT(tbt_scalar("\xc0\xaf", 1, TBT_STEP(1), NULL), TBT_EINVAL);      /* overlong '/' */
  CHECK_EQ_INT(tbt_scalar("ok", 1, TBT_STEP(1), "\xff"), TBT_EINVAL);
  CHECK_EQ_INT(tbt_scalar("\xf0\x9f\x98\x80 emoji", 1, TBT_STEP(1), NULL), 1);
  char big[100000];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  CHECK_EQ_INT(tbt_scalar(big, 1, TBT_STEP(1), NULL), 1);
  tu_events r = flush_and_read();
  CHECK_EQ_INT(r.n, 3);
  if (r.n == 3) CHECK_EQ_INT(strlen(tu_value(r.ev[2])->tag), sizeof big - 1);
  tu_events_free(&r);
  close_default();
}

int main(void) {
  test_scalar();
  test_scalar_lengths();
  test_text();
  test_histogram_buckets();
  test_histogram_summary();
  test_write();
  test_bad_tags();
  return CHECK_DONE();
}

/*
** summary.c: summaries in TensorBoard's v2 layout (tf.summary.scalar/text/histogram/write):
** Event{wall_time, step, summary{value{tag, tensor, metadata{plugin_data{plugin_name, content}}}}}.
**
** Tensors are encoded as TensorFlow's summary writer encodes them: tensor_shape always present,
** numbers as little-endian bytes in tensor_content, strings in string_val.
*/
#include "summary.h"

#include "alloc.h"
#include "pbwire.h"
#include "summary.pb-c.h"
#include "utf8.h"
#include "writer.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "tensor_content is written in host order, which must be little-endian"
#endif

/* The event's one clock read. */
static inline double wall_time(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;   /* a multiply: a divide costs more */
}

double tbt_wall_time(void) {
  return wall_time();
}

/* tbt_summary_prepare, giving the writer: NULL with *rc = 0 (do not write), TBT_ENOSTEP or
** TBT_ECLOSED. */
static tbt_writer *summary_target(tbt_step *step, int *rc) {
  *rc = 0;
  tbt_writer *w = tbt_summary_writer();
  if (!w) return NULL;
  if (!step->has_step) {
    if (!tbt_get_step(&step->step)) {
      *rc = TBT_ENOSTEP;
      return NULL;
    }
    step->has_step = 1;
  }
  if (tbt_writer_is_closed(w)) {
    *rc = TBT_ECLOSED;
    return NULL;
  }
  return w;
}

int tbt_summary_prepare(tbt_step *step) {
  int rc;
  return summary_target(step, &rc) ? 1 : rc;
}

/* The length of a tag that is non-empty UTF-8, else SIZE_MAX: one pass over an ASCII tag (tags
** nearly always are), the UTF-8 check only from the first byte that is not. */
static size_t tag_length(const char *tag) {
  if (!tag || !*tag) return SIZE_MAX;
  const char *p = tag;
  while ((unsigned char)*p - 1u < 0x7fu) p++;   /* 0x01..0x7f */
  if (!*p) return (size_t)(p - tag);
  size_t rest = strlen(p);
  return tbt_utf8_valid(p, rest) ? (size_t)(p - tag) + rest : SIZE_MAX;
}

static int check_tag(const char *tag) {
  return tag_length(tag) == SIZE_MAX ? TBT_EINVAL : 0;
}

int tbt_summary_check_strings(const char *tag, const char *description) {
  if (check_tag(tag)) return TBT_EINVAL;
  if (description && !tbt_utf8_valid(description, strlen(description))) return TBT_EINVAL;
  return 0;
}

/* The per-thread buffer events are assembled in (reused: no allocation per summary in the
** steady state). */
static __thread uint8_t *t_scratch;
static __thread size_t t_scratch_cap;
static pthread_key_t g_scratch_key;
static pthread_once_t g_scratch_once = PTHREAD_ONCE_INIT;

/* Frees a thread's buffer when the thread exits. */
static void free_scratch(void *p) {
  tbt_free(p);
}

static void make_scratch_key(void) {
  pthread_key_create(&g_scratch_key, free_scratch);
}

static uint8_t *scratch(size_t n) {
  if (n > t_scratch_cap) {
    pthread_once(&g_scratch_once, make_scratch_key);
    size_t cap = t_scratch_cap ? t_scratch_cap : 256;
    while (cap < n) cap *= 2;
    uint8_t *b = tbt_realloc(t_scratch, cap);
    if (!b) return NULL;
    t_scratch = b;
    t_scratch_cap = cap;
    pthread_setspecific(g_scratch_key, b);
  }
  return t_scratch;
}

/* Event{wall_time, step, summary{value{tag, tensor, metadata}}}, with tensor and metadata already
** serialized. The envelope is written with the wire primitives: packing it with protobuf-c's
** generic packer costs more than everything else on the scalar path together. */
static int emit_encoded(const char *tag, size_t tag_len, const uint8_t *tensor, size_t tensor_len,
                        const uint8_t *md, size_t md_len, int64_t step) {
  size_t value_len = pb_len_field_size(tag_len) + pb_len_field_size(tensor_len) +
                     (md ? pb_len_field_size(md_len) : 0);
  size_t summary_len = pb_len_field_size(value_len);
  size_t n = 9 + (step ? 1 + pb_varint_size((uint64_t)step) : 0) + pb_len_field_size(summary_len);
  uint8_t *p = scratch(n);
  if (!p) return TBT_ENOMEM;
  p = pb_put_double(p, 1, wall_time());
  if (step) {
    p = pb_put_key(p, 2, PB_VARINT);
    p = pb_put_varint(p, (uint64_t)step);   /* int64: negatives take ten bytes */
  }
  p = pb_put_len_header(p, 5, summary_len);
  p = pb_put_len_header(p, 1, value_len);
  p = pb_put_bytes(p, 1, tag, tag_len);
  p = pb_put_bytes(p, 8, tensor, tensor_len);
  if (md) p = pb_put_bytes(p, 9, md, md_len);
  int rc = tbt_writer_write_event(tbt_default_writer(), t_scratch, n);
  /* A big one-off summary should not pin its buffer for the life of the thread. */
  if (t_scratch_cap > (1u << 20)) {
    tbt_free(t_scratch);
    t_scratch = NULL;
    t_scratch_cap = 0;
    pthread_setspecific(g_scratch_key, NULL);
  }
  return rc ? rc : 1;
}

int tbt_summary_emit_event(const uint8_t *event, size_t len) {
  int rc = tbt_writer_write_event(tbt_default_writer(), event, len);
  return rc ? rc : 1;
}

/* SummaryMetadata{plugin_data{plugin_name, content}, summary_description}, into buf (which holds
** metadata_size(...) bytes). */
static size_t metadata_size(const char *plugin, size_t content_len, const char *desc) {
  size_t pd = pb_len_field_size(strlen(plugin)) + (content_len ? pb_len_field_size(content_len) : 0);
  return pb_len_field_size(pd) + (desc && *desc ? pb_len_field_size(strlen(desc)) : 0);
}

static void put_metadata(uint8_t *buf, const char *plugin, const void *content, size_t content_len,
                         const char *desc) {
  size_t plen = strlen(plugin);
  size_t pd = pb_len_field_size(plen) + (content_len ? pb_len_field_size(content_len) : 0);
  uint8_t *p = pb_put_len_header(buf, 1, pd);
  p = pb_put_bytes(p, 1, plugin, plen);
  if (content_len) p = pb_put_bytes(p, 2, content, content_len);
  if (desc && *desc) pb_put_bytes(p, 3, desc, strlen(desc));
}

/* Packs tensor with protobuf-c and emits it with the given serialized metadata. */
static int emit_tensor(const char *tag, const Tensorflow__TensorProto *tensor, const uint8_t *md,
                       size_t md_len, int64_t step) {
  size_t tlen = tensorflow__tensor_proto__get_packed_size(tensor);
  uint8_t small[512];
  uint8_t *tbuf = tlen <= sizeof small ? small : tbt_malloc(tlen);
  if (!tbuf) return TBT_ENOMEM;
  tensorflow__tensor_proto__pack(tensor, tbuf);
  int rc = emit_encoded(tag, strlen(tag), tbuf, tlen, md, md_len, step);
  if (tbuf != small) tbt_free(tbuf);
  return rc;
}

int tbt_summary_emit_prepared(const char *tag, const Tensorflow__TensorProto *tensor,
                              const char *plugin_name, const void *content, size_t content_len,
                              const char *description, int64_t step) {
  if (!content) content_len = 0;
  size_t mlen = metadata_size(plugin_name, content_len, description);
  uint8_t small[256];
  uint8_t *md = mlen <= sizeof small ? small : tbt_malloc(mlen);
  if (!md) return TBT_ENOMEM;
  put_metadata(md, plugin_name, content, content_len, description);
  int rc = emit_tensor(tag, tensor, md, mlen, step);
  if (md != small) tbt_free(md);
  return rc;
}

static int utf8_or_null(const char *s) {
  return !s || tbt_utf8_valid(s, strlen(s));
}

int tbt_summary_metadata_encode(const char *plugin_name, const void *content, size_t content_len,
                                const char *display_name, const char *description,
                                uint8_t **out, size_t *out_len) {
  if (!out || !out_len || (!content && content_len)) return TBT_EINVAL;
  *out = NULL;
  *out_len = 0;
  if (!utf8_or_null(plugin_name) || !utf8_or_null(display_name) || !utf8_or_null(description))
    return TBT_EINVAL;
  Tensorflow__SummaryMetadata md = TENSORFLOW__SUMMARY_METADATA__INIT;
  Tensorflow__SummaryMetadata__PluginData pd = TENSORFLOW__SUMMARY_METADATA__PLUGIN_DATA__INIT;
  if (plugin_name || content) {
    pd.plugin_name = (char *)(plugin_name ? plugin_name : "");
    pd.content.data = (uint8_t *)content;
    pd.content.len = content ? content_len : 0;
    md.plugin_data = &pd;
  }
  if (display_name) md.display_name = (char *)display_name;
  if (description) md.summary_description = (char *)description;
  size_t n = tensorflow__summary_metadata__get_packed_size(&md);
  uint8_t *buf = tbt_malloc(n ? n : 1);
  if (!buf) return TBT_ENOMEM;
  tensorflow__summary_metadata__pack(&md, buf);
  *out = buf;
  *out_len = n;
  return 0;
}

/* Metadata bytes from a caller are checked by parsing them (as TF does) and written as given.
** protobuf-c does not check that string fields are UTF-8, but TensorBoard's parser does and
** would drop the whole event, so that is checked here. */
static int check_metadata(const void *metadata, size_t metadata_len) {
  if (!metadata_len) return 0;
  unsigned long failures = tbt_pb_alloc_failures();
  Tensorflow__SummaryMetadata *md =
      tensorflow__summary_metadata__unpack(&tbt_pb_allocator, metadata_len, metadata);
  if (!md) return tbt_pb_alloc_failures() != failures ? TBT_ENOMEM : TBT_EINVAL;
  int ok = utf8_or_null(md->display_name) && utf8_or_null(md->summary_description) &&
           (!md->plugin_data || utf8_or_null(md->plugin_data->plugin_name));
  tensorflow__summary_metadata__free_unpacked(md, &tbt_pb_allocator);
  return ok ? 0 : TBT_EINVAL;
}

int tbt_summary_emit_raw(const char *tag, const Tensorflow__TensorProto *tensor,
                         const void *metadata, size_t metadata_len, tbt_step step) {
  if (check_tag(tag) || !tensor || (!metadata && metadata_len)) return TBT_EINVAL;
  if (check_metadata(metadata, metadata_len)) return TBT_EINVAL;
  int rc = tbt_summary_prepare(&step);
  if (rc <= 0) return rc;
  return emit_tensor(tag, tensor, metadata_len ? metadata : NULL, metadata_len, step.step);
}

/* ------------------------------------------------------------- shapes */

#define MAX_DIMS 32

typedef struct shape {
  Tensorflow__TensorShapeProto proto;
  Tensorflow__TensorShapeProto__Dim dims[MAX_DIMS];
  Tensorflow__TensorShapeProto__Dim *dimp[MAX_DIMS];
} shape;

/* Fills s from dims; *count gets the number of elements. Rank 0 is a scalar (1 element). */
static int make_shape(shape *s, const int64_t *dims, int ndims, size_t *count) {
  if (ndims < 0 || ndims > MAX_DIMS || (ndims > 0 && !dims)) return TBT_EINVAL;
  Tensorflow__TensorShapeProto init = TENSORFLOW__TENSOR_SHAPE_PROTO__INIT;
  s->proto = init;
  size_t n = 1;
  for (int i = 0; i < ndims; i++) {
    if (dims[i] < 0) return TBT_EINVAL;
    Tensorflow__TensorShapeProto__Dim d = TENSORFLOW__TENSOR_SHAPE_PROTO__DIM__INIT;
    d.size = dims[i];
    s->dims[i] = d;
    s->dimp[i] = &s->dims[i];
    if (dims[i] && n > SIZE_MAX / (uint64_t)dims[i]) return TBT_ERANGE;
    n *= (size_t)dims[i];
  }
  s->proto.n_dim = (size_t)ndims;
  s->proto.dim = ndims ? s->dimp : NULL;
  *count = n;
  return 0;
}

size_t tbt_dtype_size(tbt_dtype dtype) {
  switch (dtype) {
    case TBT_DT_FLOAT: case TBT_DT_INT32: case TBT_DT_UINT32: return 4;
    case TBT_DT_DOUBLE: case TBT_DT_INT64: case TBT_DT_UINT64: return 8;
    case TBT_DT_UINT8: case TBT_DT_INT8: case TBT_DT_BOOL: return 1;
    case TBT_DT_INT16: case TBT_DT_UINT16: return 2;
    default: return 0;
  }
}

static void init_tensor(Tensorflow__TensorProto *t, int dtype, shape *s) {
  Tensorflow__TensorProto init = TENSORFLOW__TENSOR_PROTO__INIT;
  *t = init;
  t->dtype = (Tensorflow__DataType)dtype;
  t->tensor_shape = &s->proto;
}

/* ------------------------------------------------------------- summaries */

/* The common scalar, a short tag and no description, encoded straight into the writer's queue:
** every length in it is a one-byte varint. The bytes are emit_encoded's for the same event. */
#define SCALAR_TAG_MAX 98

typedef struct scalar_event {
  const char *tag;
  size_t tag_len;
  int64_t step;
  double wall_time;
  float value;
} scalar_event;

static const uint8_t scalar_tail[] = {
    8 << 3 | PB_LEN, 10,                         /* tensor */
    1 << 3 | PB_VARINT, TBT_DT_FLOAT,            /*   dtype */
    2 << 3 | PB_LEN, 0,                          /*   tensor_shape {} */
    4 << 3 | PB_LEN, 4, 0, 0, 0, 0,              /*   tensor_content: the float, at 8 */
    9 << 3 | PB_LEN, 11, 0x0a, 0x09, 0x0a, 0x07, /* metadata{plugin_data{plugin_name}} */
    's', 'c', 'a', 'l', 'a', 'r', 's'};

static void put_scalar(uint8_t *p, size_t len, const void *ud) {
  const scalar_event *s = ud;
  size_t value_len = 2 + s->tag_len + sizeof scalar_tail;
  (void)len;
  p = pb_put_double(p, 1, s->wall_time);
  if (s->step) {
    *p++ = 2 << 3 | PB_VARINT;
    p = pb_put_varint(p, (uint64_t)s->step);   /* int64: negatives take ten bytes */
  }
  *p++ = 5 << 3 | PB_LEN;
  *p++ = (uint8_t)(2 + value_len);
  *p++ = 1 << 3 | PB_LEN;
  *p++ = (uint8_t)value_len;
  *p++ = 1 << 3 | PB_LEN;
  *p++ = (uint8_t)s->tag_len;
  memcpy(p, s->tag, s->tag_len);
  p += s->tag_len;
  memcpy(p, scalar_tail, sizeof scalar_tail);
  memcpy(p + 8, &s->value, 4);
}

static int emit_scalar(tbt_writer *w, const char *tag, size_t tag_len, float f, int64_t step) {
  scalar_event s = {tag, tag_len, step, wall_time(), f};
  size_t len = 9 + (step ? 1 + pb_varint_size((uint64_t)step) : 0) + 6 + tag_len + sizeof scalar_tail;
  int rc = tbt_writer_write_with(w, len, put_scalar, &s);
  return rc ? rc : 1;
}

/* The scalar path is the hot one, so its tensor and metadata are written by hand:
** TensorProto{dtype: DT_FLOAT, tensor_shape: {}, tensor_content: <4 bytes>}. */
int tbt_scalar(const char *tag, double value, tbt_step step, const char *description) {
  int rc = tbt_summary_scoped_tag(&tag, "scalar_summary");
  if (rc) return rc;
  size_t tag_len = tag_length(tag);
  if (tag_len == SIZE_MAX) return TBT_EINVAL;
  if (description && !tbt_utf8_valid(description, strlen(description))) return TBT_EINVAL;
  tbt_writer *w = summary_target(&step, &rc);
  if (!w) return rc;
  float f = (float)value;  /* tf.summary.scalar casts to float32; out-of-range becomes inf */
  if (!description && tag_len <= SCALAR_TAG_MAX) return emit_scalar(w, tag, tag_len, f, step.step);
  uint8_t tensor[10] = {1 << 3 | PB_VARINT, TBT_DT_FLOAT, 2 << 3 | PB_LEN, 0, 4 << 3 | PB_LEN, 4};
  memcpy(tensor + 6, &f, 4);
  if (!description) {
    static const uint8_t md[] = {0x0a, 0x09, 0x0a, 0x07, 's', 'c', 'a', 'l', 'a', 'r', 's'};
    return emit_encoded(tag, tag_len, tensor, sizeof tensor, md, sizeof md, step.step);
  }
  size_t mlen = metadata_size("scalars", 0, description);
  uint8_t small[256];
  uint8_t *md = mlen <= sizeof small ? small : tbt_malloc(mlen);
  if (!md) return TBT_ENOMEM;
  put_metadata(md, "scalars", NULL, 0, description);
  rc = emit_encoded(tag, tag_len, tensor, sizeof tensor, md, mlen, step.step);
  if (md != small) tbt_free(md);
  return rc;
}

static int emit_strings(const char *tag, const char *const *strings, const size_t *lens, size_t n,
                        const int64_t *dims, int ndims, tbt_step step, const char *plugin,
                        const char *description, const void *metadata, size_t metadata_len) {
  if (check_tag(tag) || (n && !strings)) return TBT_EINVAL;
  if (description && !tbt_utf8_valid(description, strlen(description))) return TBT_EINVAL;
  shape s;
  size_t count;
  int rc = make_shape(&s, dims, ndims, &count);
  if (rc) return rc;
  if (count != n) return TBT_EINVAL;
  for (size_t i = 0; i < n; i++)
    if (!strings[i] && (!lens || lens[i])) return TBT_EINVAL;
  if (!plugin && check_metadata(metadata, metadata_len)) return TBT_EINVAL;
  rc = tbt_summary_prepare(&step);
  if (rc <= 0) return rc;
  ProtobufCBinaryData *vals = tbt_calloc(n ? n : 1, sizeof *vals);
  if (!vals) return TBT_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    vals[i].data = (uint8_t *)strings[i];
    vals[i].len = lens ? lens[i] : strlen(strings[i]);
  }
  Tensorflow__TensorProto t;
  init_tensor(&t, TBT_DT_STRING, &s);
  t.n_string_val = n;
  t.string_val = vals;
  if (plugin) {
    rc = tbt_summary_emit_prepared(tag, &t, plugin, NULL, 0, description, step.step);
  } else {
    rc = emit_tensor(tag, &t, metadata_len ? metadata : NULL, metadata_len, step.step);
  }
  tbt_free(vals);
  return rc;
}

int tbt_text(const char *tag, const char *const *strings, const size_t *lens, size_t n,
             const int64_t *dims, int ndims, tbt_step step, const char *description) {
  int rc = tbt_summary_scoped_tag(&tag, "text_summary");
  if (rc) return rc;
  return emit_strings(tag, strings, lens, n, dims, ndims, step, "text", description, NULL, 0);
}

int tbt_write_strings(const char *tag, const char *const *strings, const size_t *lens, size_t n,
                      const int64_t *dims, int ndims, tbt_step step, const void *metadata,
                      size_t metadata_len) {
  if (!metadata && metadata_len) return TBT_EINVAL;
  return emit_strings(tag, strings, lens, n, dims, ndims, step, NULL, NULL, metadata, metadata_len);
}

int tbt_write(const char *tag, tbt_dtype dtype, const void *content, size_t content_len,
              const int64_t *dims, int ndims, tbt_step step, const void *metadata,
              size_t metadata_len) {
  size_t esize = tbt_dtype_size(dtype);
  if (check_tag(tag) || esize == 0 || (!content && content_len)) return TBT_EINVAL;
  if (!metadata && metadata_len) return TBT_EINVAL;
  shape s;
  size_t count;
  int rc = make_shape(&s, dims, ndims, &count);
  if (rc) return rc;
  if (count > SIZE_MAX / esize || count * esize != content_len) return TBT_EINVAL;
  Tensorflow__TensorProto t;
  init_tensor(&t, (int)dtype, &s);
  t.tensor_content.data = (uint8_t *)content;
  t.tensor_content.len = content_len;
  return tbt_summary_emit_raw(tag, &t, metadata, metadata_len, step);
}

/* ------------------------------------------------------------- histograms */

int tbt_histogram_buckets(const double *values, size_t n, int k, double *out) {
  if (k < 0 || (n && !values) || (k && !out)) return TBT_EINVAL;
  if (k == 0) return 0;
  memset(out, 0, (size_t)k * 3 * sizeof *out);
  if (n == 0) return 0;
  double lo = values[0], hi = values[0];
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(values[i])) return TBT_EINVAL;
    if (values[i] < lo) lo = values[i];
    if (values[i] > hi) hi = values[i];
  }
  if (lo == hi) {
    /* One value: every bucket is [v, v], all the mass in the last one. */
    for (int i = 0; i < k; i++) {
      out[i * 3] = lo;
      out[i * 3 + 1] = lo;
    }
    out[(k - 1) * 3 + 2] = (double)n;
    return 0;
  }
  double range = hi - lo;
  if (!isfinite(range)) return TBT_ERANGE;  /* e.g. -DBL_MAX and DBL_MAX */
  double width = range / k;
  for (size_t i = 0; i < n; i++) {
    /* A range of a few subnormals can make width 0: then (v - lo) / width is NaN for v == lo
    ** (first bucket) and inf above it (last bucket). TF would drop the NaN index's count. */
    double idx = floor((values[i] - lo) / width);
    int b = idx >= k - 1 ? k - 1 : idx > 0 ? (int)idx : 0;
    out[b * 3 + 2] += 1;
  }
  /* Edges as tf.linspace(lo, hi, k + 1) computes them, the last one exactly hi. */
  double step = range / k;
  for (int i = 0; i < k; i++) {
    out[i * 3] = lo + i * step;
    out[i * 3 + 1] = (i + 1 == k) ? hi : lo + (i + 1) * step;
  }
  return 0;
}

int tbt_histogram(const char *tag, const double *values, size_t n, int buckets, tbt_step step,
                  const char *description) {
  int rc = tbt_summary_scoped_tag(&tag, "histogram_summary");
  if (rc) return rc;
  if (check_tag(tag) || (n && !values)) return TBT_EINVAL;
  if (description && !tbt_utf8_valid(description, strlen(description))) return TBT_EINVAL;
  int k = buckets < 0 ? 30 : buckets;
  if (k > (1 << 20)) return TBT_ERANGE;
  for (size_t i = 0; i < n; i++)
    if (!isfinite(values[i])) return TBT_EINVAL;
  rc = tbt_summary_prepare(&step);   /* the buckets are computed only when they will be written */
  if (rc <= 0) return rc;
  double *rows = tbt_calloc((size_t)(k ? k : 1) * 3, sizeof *rows);
  if (!rows) return TBT_ENOMEM;
  rc = tbt_histogram_buckets(values, n, k, rows);
  if (rc == 0) {
    shape s;
    size_t count;
    int64_t dims[2] = {k, 3};
    make_shape(&s, dims, 2, &count);
    Tensorflow__TensorProto t;
    init_tensor(&t, TBT_DT_DOUBLE, &s);
    t.tensor_content.data = (uint8_t *)rows;
    t.tensor_content.len = (size_t)k * 3 * sizeof *rows;
    rc = tbt_summary_emit_prepared(tag, &t, "histograms", NULL, 0, description, step.step);
  }
  tbt_free(rows);
  return rc;
}

/* ------------------------------------------------------------- a streamed string tensor */

typedef struct streamed {
  const uint8_t *head, *tail;
  size_t head_len, tail_len;
  tbt_fill_fn fill;
  void *ud;
} streamed;

static int fill_event(void *ud, tbt_sink *out) {
  streamed *s = ud;
  tbt_sink_write(out, s->head, s->head_len);
  int rc = out->rc ? out->rc : s->fill(s->ud, out);
  if (!rc) rc = tbt_sink_write(out, s->tail, s->tail_len);
  return rc;
}

int tbt_summary_emit_string_streamed(const char *tag, const char *plugin_name, const void *content,
                                     size_t content_len, int64_t step, uint64_t len,
                                     tbt_fill_fn fill, void *ud) {
  if (!content) content_len = 0;
  size_t tag_len = strlen(tag), plen = strlen(plugin_name);
  size_t md_len = metadata_size(plugin_name, content_len, NULL);
  if (tag_len > ((size_t)1 << 30) || plen > ((size_t)1 << 20) || content_len > ((size_t)1 << 20))
    return TBT_ERANGE;
  /* TensorProto{dtype: DT_STRING, tensor_shape: {}, string_val: <len bytes>}, as protobuf-c packs it */
  uint64_t tensor_len = 2 + 2 + 1 + pb_varint_size(len) + len;
  uint64_t value_len = pb_len_field_size(tag_len) + 1 + pb_varint_size(tensor_len) + tensor_len +
                       pb_len_field_size(md_len);
  uint64_t summary_len = 1 + pb_varint_size(value_len) + value_len;
  uint64_t event_len = 9 + (step ? 1 + pb_varint_size((uint64_t)step) : 0) + 1 +
                       pb_varint_size(summary_len) + summary_len;
  size_t head_cap = 9 + 11 + 3 * 11 + pb_len_field_size(tag_len) + 11 + 4 + 11;
  uint8_t *head = tbt_malloc(head_cap + md_len + 11);
  if (!head) return TBT_ENOMEM;
  uint8_t *p = pb_put_double(head, 1, tbt_wall_time());
  if (step) {
    p = pb_put_key(p, 2, PB_VARINT);
    p = pb_put_varint(p, (uint64_t)step);
  }
  p = pb_put_key(p, 5, PB_LEN);
  p = pb_put_varint(p, summary_len);
  p = pb_put_key(p, 1, PB_LEN);
  p = pb_put_varint(p, value_len);
  p = pb_put_bytes(p, 1, tag, tag_len);
  p = pb_put_key(p, 8, PB_LEN);
  p = pb_put_varint(p, tensor_len);
  p = pb_put_varint_field(p, 1, TENSORFLOW__DATA_TYPE__DT_STRING);
  p = pb_put_len_header(p, 2, 0);
  p = pb_put_key(p, 8, PB_LEN);
  p = pb_put_varint(p, len);
  uint8_t *tail = p;
  p = pb_put_len_header(tail, 9, md_len);
  put_metadata(p, plugin_name, content, content_len, NULL);
  p += md_len;
  streamed s = {head, tail, (size_t)(tail - head), (size_t)(p - tail), fill, ud};
  int rc = tbt_writer_write_streamed(tbt_default_writer(), event_len, fill_event, &s);
  tbt_free(head);
  return rc ? rc : 1;
}

/*
** event_json.c: one serialized Event as one line of JSON (tbt_event_to_json), for `tbtrace cat`
** and for people debugging what was written.
**
** The walk is generic, over protobuf-c's descriptors, so every field of every message appears
** under its .proto name. Proto3 rules decide presence: a field appears when it is set (non-zero,
** non-empty, a present sub-message, or the active member of a oneof). Maps become objects. Enums
** print as their names. Numbers print as JSON numbers (the shortest form that reads back the same
** value); NaN and infinities as the strings "NaN", "Infinity", "-Infinity". Strings that are not
** valid UTF-8 get U+FFFD for each bad byte; bytes print as a string when they are valid UTF-8
** text and as {"base64": "..."} otherwise. A tensor's tensor_content is also shown decoded, as
** "values". The RunMetadata inside a graph_run_metadata summary is
** decoded in place, since that is what a reader of a trace export wants to see.
*/
#include "tbtrace.h"

#include "alloc.h"
#include "event.pb-c.h"
#include "run_metadata.pb-c.h"
#include "utf8.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct out {
  char *p;
  size_t len, cap;
  int oom;
} out;

static void put(out *o, const char *s, size_t n) {
  if (o->oom) return;
  if (o->len + n + 1 > o->cap) {
    size_t cap = o->cap ? o->cap : 256;
    while (cap < o->len + n + 1) cap *= 2;
    char *q = tbt_realloc(o->p, cap);
    if (!q) {
      o->oom = 1;
      return;
    }
    o->p = q;
    o->cap = cap;
  }
  memcpy(o->p + o->len, s, n);
  o->len += n;
  o->p[o->len] = '\0';
}

static void puts_(out *o, const char *s) {
  put(o, s, strlen(s));
}

/* A JSON string of s[0..n), with U+FFFD for bytes that are not UTF-8. */
static void put_string(out *o, const uint8_t *s, size_t n) {
  put(o, "\"", 1);
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    if (c >= 0x80) {
      /* The length of a well-formed sequence here, or 0. */
      size_t k = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
      if (k && i + k <= n && tbt_utf8_valid((const char *)s + i, k)) {
        put(o, (const char *)s + i, k);
        i += k;
      } else {
        puts_(o, "\\ufffd");
        i++;
      }
      continue;
    }
    char esc[8];
    switch (c) {
      case '"': puts_(o, "\\\""); break;
      case '\\': puts_(o, "\\\\"); break;
      case '\n': puts_(o, "\\n"); break;
      case '\r': puts_(o, "\\r"); break;
      case '\t': puts_(o, "\\t"); break;
      default:
        if (c < 0x20 || c == 0x7f) {
          snprintf(esc, sizeof esc, "\\u%04x", c);
          puts_(o, esc);
        } else {
          put(o, (const char *)s + i, 1);
        }
    }
    i++;
  }
  put(o, "\"", 1);
}

static int is_text(const uint8_t *s, size_t n) {
  if (!tbt_utf8_valid((const char *)s, n)) return 0;
  for (size_t i = 0; i < n; i++)
    if ((s[i] < 0x20 && s[i] != '\n' && s[i] != '\r' && s[i] != '\t') || s[i] == 0x7f) return 0;
  return 1;
}

static void put_base64(out *o, const uint8_t *s, size_t n) {
  static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  puts_(o, "{\"base64\":\"");
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0) | (i + 2 < n ? s[i + 2] : 0);
    char q[4] = {tab[v >> 18 & 63], tab[v >> 12 & 63], i + 1 < n ? tab[v >> 6 & 63] : '=',
                 i + 2 < n ? tab[v & 63] : '='};
    put(o, q, 4);
  }
  puts_(o, "\"}");
}

static void put_bytes(out *o, const uint8_t *s, size_t n) {
  if (is_text(s, n)) put_string(o, s, n);
  else put_base64(o, s, n);
}

/* The shortest %g form that reads back as the same value. */
static void put_double(out *o, double v, int is_float) {
  if (isnan(v)) {
    puts_(o, "\"NaN\"");
    return;
  }
  if (isinf(v)) {
    puts_(o, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    return;
  }
  char buf[40];
  int prec = 1;
  for (; prec <= 17; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, v);
    double back = strtod(buf, NULL);
    if (is_float ? (float)back == (float)v : back == v) break;
  }
  /* Plain digits for magnitudes people read whole (wall times: 1796134980.25, not 1.79613498e+09),
  ** with the same significant digits. */
  double a = fabs(v);
  if (strchr(buf, 'e') && a >= 1 && a < 1e17) {
    int exp10 = (int)floor(log10(a));
    snprintf(buf, sizeof buf, "%.*f", prec > exp10 + 1 ? prec - exp10 - 1 : 0, v);
  }
  puts_(o, buf);
}

static void put_int(out *o, int64_t v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%" PRId64, v);
  puts_(o, buf);
}

static void put_uint(out *o, uint64_t v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%" PRIu64, v);
  puts_(o, buf);
}

static void put_message(out *o, const ProtobufCMessage *m, int run_metadata_strings);

/* Whether a field holds a value worth printing under proto3 rules. */
static int present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f) {
  const char *base = (const char *)m;
  const void *member = base + f->offset;
  if (f->label == PROTOBUF_C_LABEL_REPEATED) return *(const size_t *)(base + f->quantifier_offset) > 0;
  if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
    return *(const uint32_t *)(base + f->quantifier_offset) == f->id;
  if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
      f->type != PROTOBUF_C_TYPE_MESSAGE && f->type != PROTOBUF_C_TYPE_STRING)
    return *(const protobuf_c_boolean *)(base + f->quantifier_offset);
  switch (f->type) {
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_ENUM:
      return *(const uint32_t *)member != 0;
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
      return *(const uint64_t *)member != 0;
    case PROTOBUF_C_TYPE_FLOAT: return *(const float *)member != 0 || signbit(*(const float *)member);
    case PROTOBUF_C_TYPE_DOUBLE: return *(const double *)member != 0 || signbit(*(const double *)member);
    case PROTOBUF_C_TYPE_BOOL: return *(const protobuf_c_boolean *)member != 0;
    case PROTOBUF_C_TYPE_STRING: {
      const char *s = *(char *const *)member;
      return s && *s;
    }
    case PROTOBUF_C_TYPE_BYTES: return ((const ProtobufCBinaryData *)member)->len > 0;
    case PROTOBUF_C_TYPE_MESSAGE: return *(ProtobufCMessage *const *)member != NULL;
  }
  return 0;
}

/* One element of field f stored at p. */
static void put_value(out *o, const ProtobufCFieldDescriptor *f, const void *p, int run_metadata_strings) {
  switch (f->type) {
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
      put_int(o, *(const int32_t *)p);
      break;
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
      put_uint(o, *(const uint32_t *)p);
      break;
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
      put_int(o, *(const int64_t *)p);
      break;
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
      put_uint(o, *(const uint64_t *)p);
      break;
    case PROTOBUF_C_TYPE_FLOAT: put_double(o, *(const float *)p, 1); break;
    case PROTOBUF_C_TYPE_DOUBLE: put_double(o, *(const double *)p, 0); break;
    case PROTOBUF_C_TYPE_BOOL: puts_(o, *(const protobuf_c_boolean *)p ? "true" : "false"); break;
    case PROTOBUF_C_TYPE_ENUM: {
      int v = *(const int *)p;
      const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, v);
      if (ev) put_string(o, (const uint8_t *)ev->name, strlen(ev->name));
      else put_int(o, v);
      break;
    }
    case PROTOBUF_C_TYPE_STRING: {
      const char *s = *(char *const *)p;
      put_string(o, (const uint8_t *)(s ? s : ""), s ? strlen(s) : 0);
      break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
      const ProtobufCBinaryData *b = p;
      if (run_metadata_strings) {
        unsigned long failures = tbt_pb_alloc_failures();
        Tensorflow__RunMetadata *rm = tensorflow__run_metadata__unpack(&tbt_pb_allocator, b->len, b->data);
        if (!rm && tbt_pb_alloc_failures() != failures) {
          o->oom = 1;   /* not bytes that are no RunMetadata: memory ran out */
          break;
        }
        if (rm) {
          put_message(o, &rm->base, 0);
          tensorflow__run_metadata__free_unpacked(rm, &tbt_pb_allocator);
          break;
        }
      }
      put_bytes(o, b->data, b->len);
      break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
      const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
      if (sub) put_message(o, sub, run_metadata_strings);
      else puts_(o, "null");
      break;
    }
  }
}

static size_t element_size(const ProtobufCFieldDescriptor *f) {
  switch (f->type) {
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_DOUBLE:
      return 8;
    case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE: return sizeof(ProtobufCMessage *);
    default: return 4;
  }
}

/* Map fields are repeated "...Entry" messages of key and value. */
static int is_map(const ProtobufCFieldDescriptor *f) {
  if (f->type != PROTOBUF_C_TYPE_MESSAGE || f->label != PROTOBUF_C_LABEL_REPEATED) return 0;
  const ProtobufCMessageDescriptor *d = f->descriptor;
  size_t n = strlen(d->name);
  return n > 5 && strcmp(d->name + n - 5, "Entry") == 0 && d->n_fields == 2 &&
         strcmp(d->fields[0].name, "key") == 0 && strcmp(d->fields[1].name, "value") == 0;
}

static void put_map(out *o, const ProtobufCFieldDescriptor *f, ProtobufCMessage *const *entries,
                    size_t n, int run_metadata_strings) {
  put(o, "{", 1);
  for (size_t i = 0; i < n; i++) {
    const ProtobufCMessage *e = entries[i];
    const ProtobufCMessageDescriptor *d = e->descriptor;
    const ProtobufCFieldDescriptor *kf = &d->fields[0], *vf = &d->fields[1];
    if (i) put(o, ",", 1);
    /* JSON keys are strings: print the key, quoted when it is not one already. */
    if (kf->type == PROTOBUF_C_TYPE_STRING) {
      put_value(o, kf, (const char *)e + kf->offset, 0);
    } else {
      out k = {0};
      put_value(&k, kf, (const char *)e + kf->offset, 0);
      put_string(o, (const uint8_t *)(k.p ? k.p : ""), k.len);
      if (k.oom) o->oom = 1;
      tbt_free(k.p);
    }
    put(o, ":", 1);
    if (vf->type == PROTOBUF_C_TYPE_MESSAGE && !*(ProtobufCMessage *const *)((const char *)e + vf->offset))
      puts_(o, "{}");
    else
      put_value(o, vf, (const char *)e + vf->offset, run_metadata_strings);
  }
  put(o, "}", 1);
  (void)f;
}

/* Whether a Summary.Value carries a trace export (its string tensor is a RunMetadata). */
static int holds_run_metadata(const ProtobufCMessage *m) {
  if (m->descriptor != &tensorflow__summary__value__descriptor) return 0;
  const Tensorflow__Summary__Value *v = (const Tensorflow__Summary__Value *)m;
  if (!v->metadata || !v->metadata->plugin_data || !v->metadata->plugin_data->plugin_name) return 0;
  const char *p = v->metadata->plugin_data->plugin_name;
  return strcmp(p, "graph_run_metadata") == 0 || strcmp(p, "graph_run_metadata_graph") == 0;
}

/* tensor_content decoded by dtype, as "values": what a person reading a scalar wants to see. */
static void put_tensor_values(out *o, const Tensorflow__TensorProto *t) {
  size_t size = tbt_dtype_size((tbt_dtype)t->dtype);
  if (!size || t->tensor_content.len == 0 || t->tensor_content.len % size) return;
  const uint8_t *p = t->tensor_content.data;
  size_t n = t->tensor_content.len / size;
  puts_(o, ",\"values\":[");
  for (size_t i = 0; i < n; i++, p += size) {
    if (i) put(o, ",", 1);
    union { float f; double d; int8_t i8; uint8_t u8; int16_t i16; uint16_t u16; int32_t i32;
            uint32_t u32; int64_t i64; uint64_t u64; } v;
    memcpy(&v, p, size);
    switch ((tbt_dtype)t->dtype) {
      case TBT_DT_FLOAT: put_double(o, v.f, 1); break;
      case TBT_DT_DOUBLE: put_double(o, v.d, 0); break;
      case TBT_DT_INT8: put_int(o, v.i8); break;
      case TBT_DT_UINT8: put_uint(o, v.u8); break;
      case TBT_DT_BOOL: puts_(o, v.u8 ? "true" : "false"); break;
      case TBT_DT_INT16: put_int(o, v.i16); break;
      case TBT_DT_UINT16: put_uint(o, v.u16); break;
      case TBT_DT_INT32: put_int(o, v.i32); break;
      case TBT_DT_UINT32: put_uint(o, v.u32); break;
      case TBT_DT_INT64: put_int(o, v.i64); break;
      case TBT_DT_UINT64: put_uint(o, v.u64); break;
      default: break;
    }
  }
  put(o, "]", 1);
}

static void put_message(out *o, const ProtobufCMessage *m, int run_metadata_strings) {
  const ProtobufCMessageDescriptor *d = m->descriptor;
  int inner = run_metadata_strings || holds_run_metadata(m);
  int is_tensor = d == &tensorflow__tensor_proto__descriptor;
  put(o, "{", 1);
  int first = 1;
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    if (!present(m, f)) continue;
    if (!first) put(o, ",", 1);
    first = 0;
    put_string(o, (const uint8_t *)f->name, strlen(f->name));
    put(o, ":", 1);
    /* Only a tensor's string_val can hold the RunMetadata. */
    int rm = inner && is_tensor && strcmp(f->name, "string_val") == 0;
    int pass = inner && !is_tensor;
    const char *member = (const char *)m + f->offset;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
      const char *arr = *(const char *const *)member;
      if (is_map(f)) {
        put_map(o, f, (ProtobufCMessage *const *)arr, n, pass);
        continue;
      }
      put(o, "[", 1);
      for (size_t k = 0; k < n; k++) {
        if (k) put(o, ",", 1);
        put_value(o, f, arr + k * element_size(f), rm || pass);
      }
      put(o, "]", 1);
    } else {
      put_value(o, f, member, pass);
    }
  }
  if (is_tensor) put_tensor_values(o, (const Tensorflow__TensorProto *)m);
  put(o, "}", 1);
}

int tbt_event_to_json(const uint8_t *data, size_t len, char **out_json, size_t *out_len) {
  if (!out_json || (!data && len)) return TBT_EINVAL;
  *out_json = NULL;
  if (out_len) *out_len = 0;
  unsigned long failures = tbt_pb_alloc_failures();
  Tensorflow__Event *ev = tensorflow__event__unpack(&tbt_pb_allocator, len, data);
  if (!ev) return tbt_pb_alloc_failures() != failures ? TBT_ENOMEM : TBT_ECORRUPT;
  out o = {0};
  put_message(&o, &ev->base, 0);
  tensorflow__event__free_unpacked(ev, &tbt_pb_allocator);
  if (o.oom) {
    tbt_free(o.p);
    return TBT_ENOMEM;
  }
  *out_json = o.p;
  if (out_len) *out_len = o.len;
  return 0;
}

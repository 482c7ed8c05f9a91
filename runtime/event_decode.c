/*
** event_decode.c: a serialized Event as a plain struct (tbt_event_decode), for programs that read
** event files and should not depend on the generated protobuf code; and the counts of a trace
** export's RunMetadata (tbt_run_metadata_counts).
*/
#include "tbtrace.h"

#include "alloc.h"
#include "event.pb-c.h"
#include "run_metadata.pb-c.h"

#include <string.h>

static const char *str(const char *s) {
  return s ? s : "";
}

/* The tensor's first element as a double, when its dtype is numeric and it has one. */
static int tensor_number(const Tensorflow__TensorProto *t, double *out) {
  const ProtobufCBinaryData *c = &t->tensor_content;
  switch (t->dtype) {
    case TENSORFLOW__DATA_TYPE__DT_FLOAT:
      if (t->n_float_val) {
        *out = t->float_val[0];
      } else if (c->len == 4) {
        float f;
        memcpy(&f, c->data, 4);
        *out = f;
      } else {
        return 0;
      }
      return 1;
    case TENSORFLOW__DATA_TYPE__DT_DOUBLE:
      if (t->n_double_val) *out = t->double_val[0];
      else if (c->len == 8) memcpy(out, c->data, 8);
      else return 0;
      return 1;
    case TENSORFLOW__DATA_TYPE__DT_INT32:
      if (!t->n_int_val) return 0;
      *out = t->int_val[0];
      return 1;
    case TENSORFLOW__DATA_TYPE__DT_INT64:
      if (!t->n_int64_val) return 0;
      *out = (double)t->int64_val[0];
      return 1;
    default:
      return 0;
  }
}

static void value_of(const Tensorflow__Summary__Value *v, tbt_event_value *out) {
  out->tag = str(v->tag);
  out->plugin = v->metadata && v->metadata->plugin_data ? str(v->metadata->plugin_data->plugin_name) : "";
  switch (v->value_case) {
    case TENSORFLOW__SUMMARY__VALUE__VALUE_SIMPLE_VALUE:
      out->kind = TBT_VALUE_SIMPLE;
      out->has_number = 1;
      out->number = v->simple_value;
      break;
    case TENSORFLOW__SUMMARY__VALUE__VALUE_IMAGE: out->kind = TBT_VALUE_IMAGE; break;
    case TENSORFLOW__SUMMARY__VALUE__VALUE_HISTO: out->kind = TBT_VALUE_HISTOGRAM; break;
    case TENSORFLOW__SUMMARY__VALUE__VALUE_AUDIO: out->kind = TBT_VALUE_AUDIO; break;
    case TENSORFLOW__SUMMARY__VALUE__VALUE_TENSOR:
      out->kind = TBT_VALUE_TENSOR;
      if (!v->tensor) break;
      out->dtype = (tbt_dtype)v->tensor->dtype;
      out->has_number = tensor_number(v->tensor, &out->number);
      out->nstrings = v->tensor->n_string_val;
      if (out->nstrings) {
        out->string = v->tensor->string_val[0].data;
        out->string_len = v->tensor->string_val[0].len;
      }
      break;
    default: out->kind = TBT_VALUE_NONE; break;
  }
}

int tbt_event_decode(const uint8_t *data, size_t len, tbt_event *out) {
  if (!out) return TBT_EINVAL;
  memset(out, 0, sizeof *out);
  out->file_version = out->run_metadata_tag = "";
  if (!data && len) return TBT_EINVAL;
  unsigned long failures = tbt_pb_alloc_failures();
  Tensorflow__Event *ev = tensorflow__event__unpack(&tbt_pb_allocator, len, data);
  if (!ev) return tbt_pb_alloc_failures() != failures ? TBT_ENOMEM : TBT_ECORRUPT;
  out->wall_time = ev->wall_time;
  out->step = ev->step;
  switch (ev->what_case) {
    case TENSORFLOW__EVENT__WHAT_FILE_VERSION:
      out->kind = TBT_EVENT_FILE_VERSION;
      out->file_version = str(ev->file_version);
      break;
    case TENSORFLOW__EVENT__WHAT_SUMMARY:
      out->kind = TBT_EVENT_SUMMARY;
      if (ev->summary && ev->summary->n_value) {
        tbt_event_value *v = tbt_calloc(ev->summary->n_value, sizeof *v);
        if (!v) {
          tensorflow__event__free_unpacked(ev, &tbt_pb_allocator);
          tbt_event_clear(out);
          return TBT_ENOMEM;
        }
        for (size_t i = 0; i < ev->summary->n_value; i++) value_of(ev->summary->value[i], &v[i]);
        out->values = v;
        out->nvalues = ev->summary->n_value;
      }
      break;
    case TENSORFLOW__EVENT__WHAT_GRAPH_DEF: out->kind = TBT_EVENT_GRAPH; break;
    case TENSORFLOW__EVENT__WHAT_TAGGED_RUN_METADATA:
      out->kind = TBT_EVENT_RUN_METADATA;
      if (ev->tagged_run_metadata) out->run_metadata_tag = str(ev->tagged_run_metadata->tag);
      break;
    default: out->kind = TBT_EVENT_OTHER; break;
  }
  out->internal_ = ev;
  return 0;
}

void tbt_event_clear(tbt_event *e) {
  if (!e) return;
  if (e->internal_) tensorflow__event__free_unpacked(e->internal_, &tbt_pb_allocator);
  tbt_free((void *)e->values);
  memset(e, 0, sizeof *e);
  e->file_version = e->run_metadata_tag = "";
}

int tbt_run_metadata_counts(const uint8_t *data, size_t len, uint64_t *spans, uint64_t *paths) {
  if (spans) *spans = 0;
  if (paths) *paths = 0;
  if (!spans || !paths || (!data && len)) return TBT_EINVAL;
  unsigned long failures = tbt_pb_alloc_failures();
  Tensorflow__RunMetadata *m = tensorflow__run_metadata__unpack(&tbt_pb_allocator, len, data);
  if (!m) return tbt_pb_alloc_failures() != failures ? TBT_ENOMEM : TBT_ECORRUPT;
  uint64_t nspans = 0, nnodes = 0;
  for (size_t g = 0; g < m->n_function_graphs; g++) {
    const Tensorflow__GraphDef *gd = m->function_graphs[g]->pre_optimization_graph;
    if (!gd) continue;
    nnodes += gd->n_node;
    for (size_t i = 0; i < gd->n_node; i++)
      for (size_t a = 0; a < gd->node[i]->n_attr; a++) {
        const Tensorflow__NodeDef__AttrEntry *ae = gd->node[i]->attr[a];
        if (ae->key && strcmp(ae->key, "_tbtrace_count") == 0 && ae->value &&
            ae->value->value_case == TENSORFLOW__ATTR_VALUE__VALUE_I && ae->value->i > 0)
          nspans += (uint64_t)ae->value->i;
      }
  }
  tensorflow__run_metadata__free_unpacked(m, &tbt_pb_allocator);
  *spans = nspans;
  *paths = nnodes;
  return 0;
}

/*
** summary_raw.c: summaries that arrive serialized or carry a fixed tag:
** tf.summary.experimental.write_raw_pb (Summary messages as given), tf.summary.graph (a GraphDef
** in Event.graph_def) and the custom_scalars plugin's layout.
*/
#include "summary.h"

#include "alloc.h"
#include "custom_scalar.pb-c.h"
#include "graph.pb-c.h"
#include "pbwire.h"
#include "summary.pb-c.h"
#include "utf8.h"

#include <string.h>

static int utf8_or_null(const char *s) {
  return !s || tbt_utf8_valid(s, strlen(s));
}

/* Whether the unpacked Summary's strings are UTF-8, as TensorBoard's parser requires. */
static int summary_strings_ok(const Tensorflow__Summary *s) {
  for (size_t i = 0; i < s->n_value; i++) {
    const Tensorflow__Summary__Value *v = s->value[i];
    if (!utf8_or_null(v->tag) || !utf8_or_null(v->node_name)) return 0;
    const Tensorflow__SummaryMetadata *md = v->metadata;
    if (md && (!utf8_or_null(md->display_name) || !utf8_or_null(md->summary_description) ||
               (md->plugin_data && !utf8_or_null(md->plugin_data->plugin_name))))
      return 0;
    if (v->value_case == TENSORFLOW__SUMMARY__VALUE__VALUE_AUDIO && !utf8_or_null(v->audio->content_type))
      return 0;
  }
  return 1;
}

static int check_summary(const void *data, size_t len) {
  if (!data && len) return TBT_EINVAL;
  if (!len) return 0;   /* an empty Summary: no values */
  unsigned long failures = tbt_pb_alloc_failures();
  Tensorflow__Summary *s = tensorflow__summary__unpack(&tbt_pb_allocator, len, data);
  if (!s) return tbt_pb_alloc_failures() != failures ? TBT_ENOMEM : TBT_EINVAL;
  int ok = summary_strings_ok(s);
  tensorflow__summary__free_unpacked(s, &tbt_pb_allocator);
  return ok ? 0 : TBT_EINVAL;
}

/* Event{wall_time, step, <field>: data}. */
static int emit_wrapped(unsigned field, const void *data, size_t len, int64_t step) {
  size_t n = 9 + (step ? 1 + pb_varint_size((uint64_t)step) : 0) + pb_len_field_size(len);
  uint8_t *ev = tbt_malloc(n);
  if (!ev) return TBT_ENOMEM;
  uint8_t *p = pb_put_double(ev, 1, tbt_wall_time());
  if (step) {
    p = pb_put_key(p, 2, PB_VARINT);
    p = pb_put_varint(p, (uint64_t)step);
  }
  pb_put_bytes(p, field, data, len);
  int rc = tbt_summary_emit_event(ev, n);
  tbt_free(ev);
  return rc;
}

int tbt_write_raw_pb(const void *const *summaries, const size_t *lens, size_t n, tbt_step step) {
  if ((n && (!summaries || !lens))) return TBT_EINVAL;
  for (size_t i = 0; i < n; i++) {
    int rc = check_summary(summaries[i], lens[i]);
    if (rc) return rc;
  }
  /* TF asks for the step before it looks at the recording condition. */
  if (!tbt_default_writer()) return 0;
  if (!step.has_step && !tbt_get_step(NULL)) return TBT_ENOSTEP;
  int rc = tbt_summary_prepare(&step);
  if (rc <= 0) return rc;
  for (size_t i = 0; i < n; i++) {
    rc = emit_wrapped(5, summaries[i], lens[i], step.step);
    if (rc < 0) return rc;
  }
  return 1;
}

static int graph_strings_ok(const Tensorflow__GraphDef *g) {
  for (size_t i = 0; i < g->n_node; i++) {
    const Tensorflow__NodeDef *nd = g->node[i];
    if (!utf8_or_null(nd->name) || !utf8_or_null(nd->op) || !utf8_or_null(nd->device)) return 0;
    for (size_t j = 0; j < nd->n_input; j++)
      if (!utf8_or_null(nd->input[j])) return 0;
    for (size_t j = 0; j < nd->n_attr; j++)
      if (!utf8_or_null(nd->attr[j]->key)) return 0;
  }
  return 1;
}

int tbt_graph(const void *graph_def, size_t len) {
  if (!graph_def && len) return TBT_EINVAL;
  if (len) {
    unsigned long failures = tbt_pb_alloc_failures();
    Tensorflow__GraphDef *g = tensorflow__graph_def__unpack(&tbt_pb_allocator, len, graph_def);
    if (!g) return tbt_pb_alloc_failures() != failures ? TBT_ENOMEM : TBT_EINVAL;
    int ok = graph_strings_ok(g);
    tensorflow__graph_def__free_unpacked(g, &tbt_pb_allocator);
    if (!ok) return TBT_EINVAL;
  }
  tbt_step step = TBT_STEP(0);   /* "Graph does not have step. Set to 0." */
  int rc = tbt_summary_prepare(&step);
  if (rc <= 0) return rc;
  /* An empty GraphDef is still a graph_def field, present and empty. */
  return emit_wrapped(4, graph_def ? graph_def : "", len, 0);
}

/* ------------------------------------------------------------- custom scalars */

#define LAYOUT_TAG "custom_scalars__config__"

static int check_str(const char *s, int required) {
  if (!s) return required ? TBT_EINVAL : 0;
  return tbt_utf8_valid(s, strlen(s)) ? 0 : TBT_EINVAL;
}

static int check_layout(const tbt_chart_category *cats, size_t n) {
  if (n && !cats) return TBT_EINVAL;
  for (size_t i = 0; i < n; i++) {
    const tbt_chart_category *c = &cats[i];
    if (check_str(c->title, 0) || (c->n_charts && !c->charts)) return TBT_EINVAL;
    for (size_t j = 0; j < c->n_charts; j++) {
      const tbt_chart *ch = &c->charts[j];
      if (check_str(ch->title, 0)) return TBT_EINVAL;
      if (ch->n_tags && ch->n_margin) return TBT_EINVAL;
      if ((ch->n_tags && !ch->tags) || (ch->n_margin && !ch->margin)) return TBT_EINVAL;
      if (ch->n_margin > SIZE_MAX / 3) return TBT_EINVAL;
      for (size_t k = 0; k < ch->n_tags; k++)
        if (check_str(ch->tags[k], 1)) return TBT_EINVAL;
      for (size_t k = 0; k < ch->n_margin * 3; k++)
        if (check_str(ch->margin[k], 1)) return TBT_EINVAL;
    }
  }
  return 0;
}

/* Packs the layout with protobuf-c; *out is allocated. */
static int pack_layout(const tbt_chart_category *cats, size_t n, uint8_t **out, size_t *out_len) {
  size_t n_charts = 0, n_series = 0;
  for (size_t i = 0; i < n; i++) {
    n_charts += cats[i].n_charts;
    for (size_t j = 0; j < cats[i].n_charts; j++) n_series += cats[i].charts[j].n_margin;
  }
  Tensorboard__Category *cs = tbt_calloc(n ? n : 1, sizeof *cs);
  Tensorboard__Category **csp = tbt_calloc(n ? n : 1, sizeof *csp);
  Tensorboard__Chart *ch = tbt_calloc(n_charts ? n_charts : 1, sizeof *ch);
  Tensorboard__Chart **chp = tbt_calloc(n_charts ? n_charts : 1, sizeof *chp);
  Tensorboard__MultilineChartContent *ml = tbt_calloc(n_charts ? n_charts : 1, sizeof *ml);
  Tensorboard__MarginChartContent *mg = tbt_calloc(n_charts ? n_charts : 1, sizeof *mg);
  Tensorboard__MarginChartContent__Series *se = tbt_calloc(n_series ? n_series : 1, sizeof *se);
  Tensorboard__MarginChartContent__Series **sep = tbt_calloc(n_series ? n_series : 1, sizeof *sep);
  int rc = (cs && csp && ch && chp && ml && mg && se && sep) ? 0 : TBT_ENOMEM;
  if (!rc) {
    size_t ci = 0, si = 0;
    for (size_t i = 0; i < n; i++) {
      Tensorboard__Category cinit = TENSORBOARD__CATEGORY__INIT;
      cs[i] = cinit;
      cs[i].title = (char *)(cats[i].title ? cats[i].title : "");
      cs[i].closed = cats[i].closed != 0;
      cs[i].n_chart = cats[i].n_charts;
      cs[i].chart = chp + ci;
      csp[i] = &cs[i];
      for (size_t j = 0; j < cats[i].n_charts; j++, ci++) {
        const tbt_chart *c = &cats[i].charts[j];
        Tensorboard__Chart chinit = TENSORBOARD__CHART__INIT;
        ch[ci] = chinit;
        ch[ci].title = (char *)(c->title ? c->title : "");
        if (c->n_margin) {
          Tensorboard__MarginChartContent minit = TENSORBOARD__MARGIN_CHART_CONTENT__INIT;
          mg[ci] = minit;
          mg[ci].n_series = c->n_margin;
          mg[ci].series = sep + si;
          for (size_t k = 0; k < c->n_margin; k++, si++) {
            Tensorboard__MarginChartContent__Series sinit = TENSORBOARD__MARGIN_CHART_CONTENT__SERIES__INIT;
            se[si] = sinit;
            se[si].value = (char *)c->margin[3 * k];
            se[si].lower = (char *)c->margin[3 * k + 1];
            se[si].upper = (char *)c->margin[3 * k + 2];
            sep[si] = &se[si];
          }
          ch[ci].content_case = TENSORBOARD__CHART__CONTENT_MARGIN;
          ch[ci].margin = &mg[ci];
        } else {
          Tensorboard__MultilineChartContent linit = TENSORBOARD__MULTILINE_CHART_CONTENT__INIT;
          ml[ci] = linit;
          ml[ci].n_tag = c->n_tags;
          ml[ci].tag = (char **)c->tags;
          ch[ci].content_case = TENSORBOARD__CHART__CONTENT_MULTILINE;
          ch[ci].multiline = &ml[ci];
        }
        chp[ci] = &ch[ci];
      }
    }
    Tensorboard__Layout layout = TENSORBOARD__LAYOUT__INIT;
    layout.n_category = n;
    layout.category = csp;
    *out_len = tensorboard__layout__get_packed_size(&layout);
    *out = tbt_malloc(*out_len + 1);
    if (*out) tensorboard__layout__pack(&layout, *out);
    else rc = TBT_ENOMEM;
  }
  tbt_free(cs);
  tbt_free(csp);
  tbt_free(ch);
  tbt_free(chp);
  tbt_free(ml);
  tbt_free(mg);
  tbt_free(se);
  tbt_free(sep);
  return rc;
}

int tbt_custom_scalars(const tbt_chart_category *categories, size_t n) {
  int rc = check_layout(categories, n);
  if (rc) return rc;
  tbt_step step = TBT_STEP(0);
  rc = tbt_summary_prepare(&step);
  if (rc <= 0) return rc;
  uint8_t *layout;
  size_t len;
  rc = pack_layout(categories, n, &layout, &len);
  if (rc) return rc;
  /* TensorProto{dtype: DT_STRING, tensor_shape: {}, string_val: [layout]} */
  Tensorflow__TensorShapeProto shape = TENSORFLOW__TENSOR_SHAPE_PROTO__INIT;
  ProtobufCBinaryData val = {len, layout};
  Tensorflow__TensorProto t = TENSORFLOW__TENSOR_PROTO__INIT;
  t.dtype = TENSORFLOW__DATA_TYPE__DT_STRING;
  t.tensor_shape = &shape;
  t.n_string_val = 1;
  t.string_val = &val;
  rc = tbt_summary_emit_prepared(LAYOUT_TAG, &t, "custom_scalars", NULL, 0, NULL, 0);
  tbt_free(layout);
  return rc;
}

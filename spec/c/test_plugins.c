/*
** test_plugins.c: the HParams, custom_scalars, graph and raw summaries and summary scopes from C,
** decoded from the file and compared field by field with what tensorboard.plugins.* and
** tf.summary write.
*/
#include "check.h"
#include "default_writer.h"
#include "testutil.h"

#include "custom_scalar.pb-c.h"
#include "graph.pb-c.h"
#include "hparams.pb-c.h"
#include "tbtrace.h"

#include <math.h>
#include <pthread.h>
#include <time.h>

/* The HParamsPluginData of event e after the checks every hparams summary shares (the caller
** frees it). */
static Tensorboard__Hparams__HParamsPluginData *hp_data(const Tensorflow__Event *e, const char *tag) {
  CHECK_EQ_INT(e->step, 0);
  const Tensorflow__Summary__Value *v = tu_value(e);
  CHECK(v != NULL);
  if (!v) return NULL;
  CHECK_EQ_STR(v->tag, tag);
  CHECK(v->tensor && v->tensor->dtype == TENSORFLOW__DATA_TYPE__DT_FLOAT);
  CHECK(v->tensor && v->tensor->tensor_shape && v->tensor->tensor_shape->n_dim == 1 &&
        v->tensor->tensor_shape->dim[0]->size == 0);
  CHECK(v->tensor && v->tensor->tensor_content.len == 0 && v->tensor->n_float_val == 0);
  CHECK(v->metadata && v->metadata->plugin_data);
  if (!v->metadata || !v->metadata->plugin_data) return NULL;
  CHECK_EQ_STR(v->metadata->plugin_data->plugin_name, "hparams");
  Tensorboard__Hparams__HParamsPluginData *pd = tensorboard__hparams__hparams_plugin_data__unpack(
      NULL, v->metadata->plugin_data->content.len, v->metadata->plugin_data->content.data);
  CHECK(pd != NULL);
  if (pd) CHECK_EQ_INT(pd->version, 0);
  return pd;
}

static void test_hparams(void) {
  open_default("hparams");
  tbt_hparam_value opts[3] = {{.type = TBT_HPARAM_STRING, .string = "sgd"},
                              {.type = TBT_HPARAM_STRING, .string = "adam"},
                              {.type = TBT_HPARAM_STRING, .string = "rmsprop"}};
  tbt_hparam_value nums[3] = {{.type = TBT_HPARAM_NUMBER, .number = 0.5},
                              {.type = TBT_HPARAM_INT, .integer = -3},
                              {.type = TBT_HPARAM_NUMBER, .number = 0.25}};
  tbt_hparam_info infos[4] = {
    {.name = "lr", .display_name = "learning rate", .description = "d", .domain = TBT_DOMAIN_INTERVAL,
     .min_value = 1e-4, .max_value = 1},
    {.name = "optimizer", .domain = TBT_DOMAIN_DISCRETE, .values = opts, .n_values = 3},
    {.name = "dropout", .domain = TBT_DOMAIN_DISCRETE, .values = nums, .n_values = 3},
    {.name = "free"},
  };
  tbt_metric_info metrics[2] = {{.tag = "loss"},
                                {.tag = "acc", .group = "validation", .display_name = "Accuracy",
                                 .description = "top-1", .dataset_type = TBT_DATASET_VALIDATION}};
  CHECK_EQ_INT(tbt_hparams_config(infos, 4, metrics, 2, 0), 1);
  tbt_hparam trial[3] = {{"lr", {.type = TBT_HPARAM_NUMBER, .number = 0.01}},
                         {"opt", {.type = TBT_HPARAM_STRING, .string = "adam"}},
                         {"layers", {.type = TBT_HPARAM_INT, .integer = 2}}};
  CHECK_EQ_INT(tbt_hparams_session_start(trial, 3, NULL, 1700000000.5), 1);
  CHECK_EQ_INT(tbt_hparams_session_start(trial, 3, "trial-7", 0), 1);
  CHECK_EQ_INT(tbt_hparams_session_end(TBT_HPARAMS_FAILURE, 1700000100), 1);
  tu_events r = flush_and_read();
  CHECK_EQ_INT(r.n, 5);
  if (r.n == 5) {
    Tensorboard__Hparams__HParamsPluginData *pd = hp_data(r.ev[1], "_hparams_/experiment");
    CHECK(pd && pd->data_case == TENSORBOARD__HPARAMS__HPARAMS_PLUGIN_DATA__DATA_EXPERIMENT);
    if (pd && pd->experiment) {
      Tensorboard__Hparams__Experiment *ex = pd->experiment;
      CHECK(ex->time_created_secs == 0);
      CHECK_EQ_INT(ex->n_hparam_infos, 4);
      Tensorboard__Hparams__HParamInfo **h = ex->hparam_infos;
      CHECK_EQ_STR(h[0]->name, "lr");
      CHECK_EQ_STR(h[0]->display_name, "learning rate");
      CHECK_EQ_STR(h[0]->description, "d");
      CHECK_EQ_INT(h[0]->type, TENSORBOARD__HPARAMS__DATA_TYPE__DATA_TYPE_FLOAT64);
      CHECK(h[0]->domain_case == TENSORBOARD__HPARAMS__HPARAM_INFO__DOMAIN_DOMAIN_INTERVAL &&
            h[0]->domain_interval->min_value == 1e-4 && h[0]->domain_interval->max_value == 1);
      CHECK_EQ_INT(h[1]->type, TENSORBOARD__HPARAMS__DATA_TYPE__DATA_TYPE_STRING);
      CHECK(h[1]->domain_case == TENSORBOARD__HPARAMS__HPARAM_INFO__DOMAIN_DOMAIN_DISCRETE);
      if (h[1]->domain_discrete && h[1]->domain_discrete->n_values == 3) {
        CHECK_EQ_STR(h[1]->domain_discrete->values[0]->string_value, "adam");
        CHECK_EQ_STR(h[1]->domain_discrete->values[1]->string_value, "rmsprop");
        CHECK_EQ_STR(h[1]->domain_discrete->values[2]->string_value, "sgd");
      } else {
        CHECK(0);
      }
      CHECK_EQ_INT(h[2]->type, TENSORBOARD__HPARAMS__DATA_TYPE__DATA_TYPE_FLOAT64);
      if (h[2]->domain_discrete && h[2]->domain_discrete->n_values == 3) {
        CHECK(h[2]->domain_discrete->values[0]->number_value == -3);
        CHECK(h[2]->domain_discrete->values[1]->number_value == 0.25);
        CHECK(h[2]->domain_discrete->values[2]->number_value == 0.5);
      } else {
        CHECK(0);
      }
      CHECK_EQ_INT(h[3]->type, 0);
      CHECK_EQ_INT(h[3]->domain_case, TENSORBOARD__HPARAMS__HPARAM_INFO__DOMAIN__NOT_SET);
      CHECK_EQ_INT(ex->n_metric_infos, 2);
      CHECK_EQ_STR(ex->metric_infos[0]->name->tag, "loss");
      CHECK_EQ_STR(ex->metric_infos[0]->name->group, "");
      CHECK_EQ_STR(ex->metric_infos[1]->name->group, "validation");
      CHECK_EQ_STR(ex->metric_infos[1]->display_name, "Accuracy");
      CHECK_EQ_STR(ex->metric_infos[1]->description, "top-1");
      CHECK_EQ_INT(ex->metric_infos[1]->dataset_type, TENSORBOARD__HPARAMS__DATASET_TYPE__DATASET_VALIDATION);
    }
    tensorboard__hparams__hparams_plugin_data__free_unpacked(pd, NULL);

    pd = hp_data(r.ev[2], "_hparams_/session_start_info");
    CHECK(pd && pd->session_start_info);
    if (pd && pd->session_start_info) {
      Tensorboard__Hparams__SessionStartInfo *si = pd->session_start_info;
      /* hashlib.sha256(json.dumps({"lr":0.01,"opt":"adam","layers":2}, sort_keys=True,
      ** separators=(",", ":")).encode()).hexdigest(), computed by Python */
      CHECK_EQ_STR(si->group_name, "36afbfe746fdf95a9a97ec35bfc31d8cd85bc737f64e6d7c02e21e52edf3d6a1");
      CHECK(si->start_time_secs == 1700000000.5);
      CHECK_EQ_INT(si->n_hparams, 3);
      if (si->n_hparams == 3) {   /* in name order, as hparams_pb adds them */
        CHECK_EQ_STR(si->hparams[0]->key, "layers");
        CHECK(si->hparams[0]->value->kind_case == TENSORBOARD__HPARAMS__VALUE__KIND_NUMBER_VALUE &&
              si->hparams[0]->value->number_value == 2);
        CHECK_EQ_STR(si->hparams[1]->key, "lr");
        CHECK(si->hparams[1]->value->number_value == 0.01);
        CHECK_EQ_STR(si->hparams[2]->key, "opt");
        CHECK(si->hparams[2]->value->kind_case == TENSORBOARD__HPARAMS__VALUE__KIND_STRING_VALUE);
        CHECK_EQ_STR(si->hparams[2]->value->string_value, "adam");
      }
    }
    tensorboard__hparams__hparams_plugin_data__free_unpacked(pd, NULL);
    pd = hp_data(r.ev[3], "_hparams_/session_start_info");
    if (pd && pd->session_start_info) {
      CHECK_EQ_STR(pd->session_start_info->group_name, "trial-7");
      CHECK(fabs(pd->session_start_info->start_time_secs - (double)time(NULL)) < 60);
    }
    tensorboard__hparams__hparams_plugin_data__free_unpacked(pd, NULL);
    pd = hp_data(r.ev[4], "_hparams_/session_end_info");
    CHECK(pd && pd->session_end_info && pd->session_end_info->status == TENSORBOARD__HPARAMS__STATUS__STATUS_FAILURE &&
          pd->session_end_info->end_time_secs == 1700000100);
    tensorboard__hparams__hparams_plugin_data__free_unpacked(pd, NULL);
  }
  tu_events_free(&r);

  /* refused: nothing written */
  tbt_hparam dup[2] = {{"a", {.type = TBT_HPARAM_INT}}, {"a", {.type = TBT_HPARAM_INT}}};
  CHECK_EQ_INT(tbt_hparams_session_start(dup, 2, NULL, 0), TBT_EINVAL);
  tbt_hparam_value mixed[2] = {{.type = TBT_HPARAM_STRING, .string = "x"}, {.type = TBT_HPARAM_BOOL}};
  tbt_hparam_info bad[1] = {{.name = "m", .domain = TBT_DOMAIN_DISCRETE, .values = mixed, .n_values = 2}};
  CHECK_EQ_INT(tbt_hparams_config(bad, 1, NULL, 0, 0), TBT_EINVAL);
  tbt_hparam_info inverted[1] = {{.name = "m", .domain = TBT_DOMAIN_INTERVAL, .min_value = 2, .max_value = 1}};
  CHECK_EQ_INT(tbt_hparams_config(inverted, 1, NULL, 0, 0), TBT_EINVAL);
  CHECK_EQ_INT(tbt_hparams_session_end(7, 0), TBT_EINVAL);
  r = flush_and_read();
  CHECK_EQ_INT(r.n, 5);
  tu_events_free(&r);
  close_default();
  CHECK_EQ_INT(tbt_hparams_session_end(TBT_HPARAMS_SUCCESS, 0), 0);   /* no default writer */
}

static void test_group_name(void) {
  char out[65];
  tbt_hparam a[5] = {{"x", {.type = TBT_HPARAM_NUMBER, .number = 0.1 + 0.2}},
                     {"y", {.type = TBT_HPARAM_NUMBER, .number = 5e-324}},
                     {"z", {.type = TBT_HPARAM_NUMBER, .number = -1e-7}},
                     {"w", {.type = TBT_HPARAM_NUMBER, .number = 1e22}},
                     {"v", {.type = TBT_HPARAM_NUMBER, .number = 12345678901234567.0}}};
  CHECK_EQ_INT(tbt_hparams_group_name(a, 5, out), 0);
  CHECK_EQ_STR(out, "71af23ad1b9cbf5ed04306521512648b38344a98df16366bab0714d18f26c55f");
  tbt_hparam b[2] = {{"name", {.type = TBT_HPARAM_STRING, .string = "caf\xc3\xa9 \xf0\x9f\x98\x80 \"q\" \\ \n\t\x01\x7f/"}},
                     {"\xc3\xa9", {.type = TBT_HPARAM_INT, .integer = -7}}};
  CHECK_EQ_INT(tbt_hparams_group_name(b, 2, out), 0);
  CHECK_EQ_STR(out, "de7eb2b89d73a8298160d8d59201487388494d05099a415d0b6e397451cc4be8");
  CHECK_EQ_INT(tbt_hparams_group_name(NULL, 0, out), 0);
  CHECK_EQ_STR(out, "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
  CHECK_EQ_INT(tbt_hparams_group_name(NULL, 1, out), TBT_EINVAL);
  CHECK_EQ_INT(tbt_hparams_group_name(a, 5, NULL), TBT_EINVAL);
}

static void test_scopes(void) {
  open_default("scopes");
  CHECK_EQ_STR(tbt_summary_scope(), "");
  CHECK_EQ_INT(tbt_scalar("", 1, TBT_STEP(1), NULL), TBT_EINVAL);   /* no scope: still refused */
  CHECK_EQ_INT(tbt_summary_scope_push("outer"), 0);
  CHECK_EQ_INT(tbt_summary_scope_push("in ner!"), 0);
  CHECK_EQ_STR(tbt_summary_scope(), "outer/inner");
  CHECK_EQ_INT(tbt_summary_scope_depth(), 2);
  CHECK_EQ_INT(tbt_scalar("loss", 1, TBT_STEP(1), NULL), 1);
  CHECK_EQ_INT(tbt_scalar("", 1, TBT_STEP(1), NULL), 1);
  const char *s = "t";
  CHECK_EQ_INT(tbt_text("", &s, NULL, 1, NULL, 0, TBT_STEP(1), NULL), 1);
  double v = 1;
  CHECK_EQ_INT(tbt_histogram("", &v, 1, 2, TBT_STEP(1), NULL), 1);
  uint8_t px = 0;
  CHECK_EQ_INT(tbt_image("", &px, 1, 1, 1, 1, -1, TBT_STEP(1), NULL), 1);
  float f = 0;
  CHECK_EQ_INT(tbt_audio("", &f, 1, 1, 1, 8000, -1, TBT_STEP(1), NULL), 1);
  int64_t one = 1;
  CHECK_EQ_INT(tbt_write("raw", TBT_DT_INT64, &one, 8, NULL, 0, TBT_STEP(1), NULL, 0), 1);
  tbt_summary_scope_pop();
  CHECK_EQ_INT(tbt_summary_scope_push("???"), 0);
  CHECK_EQ_STR(tbt_summary_scope(), "outer/summary");
  tbt_summary_scope_pop();
  CHECK_EQ_INT(tbt_summary_scope_push(NULL), 0);
  CHECK_EQ_STR(tbt_summary_scope(), "outer/summary");
  tbt_summary_scope_pop();
  CHECK_EQ_INT(tbt_summary_scope_push("\xff"), TBT_EINVAL);
  CHECK_EQ_INT(tbt_summary_scope_depth(), 1);
  tbt_summary_scope_pop();
  tbt_summary_scope_pop();   /* one too many: nothing */
  CHECK_EQ_INT(tbt_summary_scope_depth(), 0);
  CHECK_EQ_INT(tbt_scalar("after", 1, TBT_STEP(1), NULL), 1);
  tu_events r = flush_and_read();
  const char *want[] = {"outer/inner/loss", "outer/inner/scalar_summary", "outer/inner/text_summary",
                        "outer/inner/histogram_summary", "outer/inner/image_summary",
                        "outer/inner/audio_summary", "raw", "after"};
  CHECK_EQ_INT(r.n, 9);
  for (size_t i = 1; i < r.n && i <= 8; i++) {
    Tensorflow__Summary__Value *val = tu_value(r.ev[i]);
    CHECK(val != NULL);
    if (val) CHECK_EQ_STR(val->tag, want[i - 1]);
  }
  tu_events_free(&r);
  close_default();
}

/* A thread that opens a scope, writes under it and exits with it open. */
static void *scoped_thread(void *arg) {
  tbt_set_default_writer(arg);
  int *rc = malloc(2 * sizeof *rc);
  rc[0] = tbt_summary_scope_push("worker");
  rc[1] = tbt_scalar("t", 1, TBT_STEP(1), NULL);
  return rc;
}

/* Scopes belong to their thread: another thread's tags are untouched, before and after it exits. */
static void test_scopes_per_thread(void) {
  open_default("scopes_mt");
  pthread_t th;
  CHECK_EQ_INT(pthread_create(&th, NULL, scoped_thread, g_w), 0);
  void *res = NULL;
  pthread_join(th, &res);
  int *rc = res;
  CHECK(rc && rc[0] == 0 && rc[1] == 1);
  free(rc);
  CHECK_EQ_INT(tbt_summary_scope_depth(), 0);
  CHECK_EQ_INT(tbt_scalar("main", 1, TBT_STEP(1), NULL), 1);
  CHECK_EQ_INT(tbt_scalar("", 1, TBT_STEP(1), NULL), TBT_EINVAL);
  tu_events r = flush_and_read();
  CHECK_EQ_INT(r.n, 3);
  if (r.n == 3) {
    CHECK_EQ_STR(tu_value(r.ev[1])->tag, "worker/t");
    CHECK_EQ_STR(tu_value(r.ev[2])->tag, "main");
  }
  tu_events_free(&r);
  close_default();
}

/* Summary{value{tag, simple_value}} */
static size_t summary_pb(uint8_t *buf, const char *tag, float v) {
  size_t n = strlen(tag);
  buf[0] = 0x0a;
  buf[1] = (uint8_t)(n + 7);
  buf[2] = 0x0a;
  buf[3] = (uint8_t)n;
  memcpy(buf + 4, tag, n);
  buf[4 + n] = 0x15;
  memcpy(buf + 5 + n, &v, 4);
  return n + 9;
}

static void test_raw_and_graph(void) {
  open_default("raw");
  uint8_t a[32], b[32];
  size_t lens[3] = {summary_pb(a, "a", 1.5f), summary_pb(b, "b", 2.0f), 1};
  const void *bufs[3] = {a, b, "\x0a"};
  CHECK_EQ_INT(tbt_write_raw_pb(bufs, lens, 3, TBT_STEP(3)), TBT_EINVAL);   /* none written */
  CHECK_EQ_INT(tbt_summary_scope_push("s"), 0);
  CHECK_EQ_INT(tbt_write_raw_pb(bufs, lens, 2, TBT_STEP(3)), 1);
  tbt_summary_scope_pop();
  CHECK_EQ_INT(tbt_write_raw_pb(bufs, lens, 1, TBT_DEFAULT_STEP), TBT_ENOSTEP);
  tbt_record_cond prev = tbt_record_if(0);
  CHECK_EQ_INT(tbt_write_raw_pb(bufs, lens, 1, TBT_DEFAULT_STEP), TBT_ENOSTEP);   /* TF's order */
  CHECK_EQ_INT(tbt_write_raw_pb(bufs, lens, 1, TBT_STEP(1)), 0);
  CHECK_EQ_INT(tbt_graph("", 0), 0);
  tbt_record_restore(prev);
  /* GraphDef{node{name: "x", op: "Const"}, versions{producer: 27}} */
  static const uint8_t g[] = {0x0a, 0x0a, 0x0a, 0x01, 'x', 0x12, 0x05, 'C', 'o', 'n', 's', 't',
                              0x22, 0x02, 0x08, 0x1b};
  CHECK_EQ_INT(tbt_graph(g, sizeof g), 1);
  CHECK_EQ_INT(tbt_graph("\x0a\x05", 2), TBT_EINVAL);
  CHECK_EQ_INT(tbt_graph(NULL, 1), TBT_EINVAL);
  tu_events r = flush_and_read();
  CHECK_EQ_INT(r.n, 4);
  if (r.n == 4) {
    CHECK_EQ_INT(r.ev[1]->step, 3);
    CHECK_EQ_STR(tu_value(r.ev[1])->tag, "a");   /* raw tags are not scoped */
    CHECK(tu_value(r.ev[1])->simple_value == 1.5f);
    CHECK_EQ_STR(tu_value(r.ev[2])->tag, "b");
    CHECK_EQ_INT(r.ev[3]->step, 0);
    CHECK_EQ_INT(r.ev[3]->what_case, TENSORFLOW__EVENT__WHAT_GRAPH_DEF);
    Tensorflow__GraphDef *gd = tensorflow__graph_def__unpack(NULL, r.ev[3]->graph_def.len, r.ev[3]->graph_def.data);
    CHECK(gd && gd->n_node == 1 && strcmp(gd->node[0]->name, "x") == 0 && strcmp(gd->node[0]->op, "Const") == 0 &&
          gd->versions && gd->versions->producer == 27);
    if (gd) tensorflow__graph_def__free_unpacked(gd, NULL);
  }
  tu_events_free(&r);
  close_default();
}

static void test_custom_scalars(void) {
  open_default("layout");
  const char *tags[2] = {"loss/train", "loss/valid"};
  const char *margin[3] = {"acc", "acc/lo", "acc/hi"};
  tbt_chart charts[2] = {{.title = "loss", .tags = tags, .n_tags = 2},
                         {.title = "acc", .margin = margin, .n_margin = 1}};
  tbt_chart_category cats[2] = {{.title = "Training", .charts = charts, .n_charts = 2},
                                {.title = "Empty", .closed = 1}};
  CHECK_EQ_INT(tbt_custom_scalars(cats, 2), 1);
  tbt_chart both = {.tags = tags, .n_tags = 1, .margin = margin, .n_margin = 1};
  tbt_chart_category bad = {.charts = &both, .n_charts = 1};
  CHECK_EQ_INT(tbt_custom_scalars(&bad, 1), TBT_EINVAL);
  tu_events r = flush_and_read();
  CHECK_EQ_INT(r.n, 2);
  if (r.n == 2) {
    CHECK_EQ_INT(r.ev[1]->step, 0);
    Tensorflow__Summary__Value *v = tu_value(r.ev[1]);
    CHECK_EQ_STR(v->tag, "custom_scalars__config__");
    CHECK_EQ_STR(v->metadata->plugin_data->plugin_name, "custom_scalars");
    CHECK_EQ_INT(v->metadata->plugin_data->content.len, 0);
    CHECK_EQ_INT(v->tensor->dtype, TENSORFLOW__DATA_TYPE__DT_STRING);
    CHECK(v->tensor->tensor_shape && v->tensor->tensor_shape->n_dim == 0);
    CHECK_EQ_INT(v->tensor->n_string_val, 1);
    Tensorboard__Layout *l = tensorboard__layout__unpack(NULL, v->tensor->string_val[0].len, v->tensor->string_val[0].data);
    CHECK(l != NULL);
    if (l) {
      CHECK_EQ_INT(l->version, 0);
      CHECK_EQ_INT(l->n_category, 2);
      CHECK_EQ_STR(l->category[0]->title, "Training");
      CHECK_EQ_INT(l->category[0]->closed, 0);
      CHECK_EQ_INT(l->category[0]->n_chart, 2);
      Tensorboard__Chart *c0 = l->category[0]->chart[0], *c1 = l->category[0]->chart[1];
      CHECK_EQ_STR(c0->title, "loss");
      CHECK(c0->content_case == TENSORBOARD__CHART__CONTENT_MULTILINE && c0->multiline->n_tag == 2 &&
            strcmp(c0->multiline->tag[1], "loss/valid") == 0);
      CHECK(c1->content_case == TENSORBOARD__CHART__CONTENT_MARGIN && c1->margin->n_series == 1 &&
            strcmp(c1->margin->series[0]->value, "acc") == 0 && strcmp(c1->margin->series[0]->lower, "acc/lo") == 0 &&
            strcmp(c1->margin->series[0]->upper, "acc/hi") == 0);
      CHECK_EQ_INT(l->category[1]->closed, 1);
      CHECK_EQ_INT(l->category[1]->n_chart, 0);
      tensorboard__layout__free_unpacked(l, NULL);
    }
  }
  tu_events_free(&r);
  close_default();
}

int main(void) {
  test_hparams();
  test_group_name();
  test_scopes();
  test_scopes_per_thread();
  test_raw_and_graph();
  test_custom_scalars();
  return CHECK_DONE();
}

/*
** summary_hparams.c: the HParams plugin's summaries (tensorboard/plugins/hparams): the experiment
** config, and a session's start and end. Each is Summary{value{tag, metadata{plugin_data{"hparams",
** HParamsPluginData}}, tensor: DT_FLOAT [0]}} at step 0, as summary_v2 writes them through
** write_raw_pb.
**
** A session without a trial id is grouped under the SHA-256 of its values as Python's
** json.dumps(hparams, sort_keys=True, separators=(",", ":")) spells them, so that tbtrace and
** TensorBoard's own summary code group the same values the same way.
*/
#include "summary.h"

#include "alloc.h"
#include "hparams.pb-c.h"
#include "utf8.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG_EXPERIMENT "_hparams_/experiment"
#define TAG_SESSION_START "_hparams_/session_start_info"
#define TAG_SESSION_END "_hparams_/session_end_info"

/* ------------------------------------------------------------- SHA-256 (FIPS 180-4) */

typedef struct sha256 {
  uint32_t h[8];
  uint8_t buf[64];
  size_t fill;
  uint64_t bytes;
} sha256;

static const uint32_t K256[64] = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(sha256 *s, const uint8_t *p) {
  uint32_t w[64];
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3];
  uint32_t e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
  for (int i = 0; i < 64; i++) {
    uint32_t t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + w[i];
    uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    h = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  s->h[0] += a; s->h[1] += b; s->h[2] += c; s->h[3] += d;
  s->h[4] += e; s->h[5] += f; s->h[6] += g; s->h[7] += h;
}

static void sha256_init(sha256 *s) {
  static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  memcpy(s->h, h0, sizeof h0);
  s->fill = 0;
  s->bytes = 0;
}

static void sha256_add(sha256 *s, const void *data, size_t n) {
  const uint8_t *p = data;
  s->bytes += n;
  while (n) {
    size_t take = 64 - s->fill < n ? 64 - s->fill : n;
    memcpy(s->buf + s->fill, p, take);
    s->fill += take;
    p += take;
    n -= take;
    if (s->fill == 64) {
      sha256_block(s, s->buf);
      s->fill = 0;
    }
  }
}

static void sha256_hex(sha256 *s, char out[65]) {
  uint64_t bits = s->bytes * 8;
  uint8_t pad = 0x80, zero = 0, len[8];
  sha256_add(s, &pad, 1);
  while (s->fill != 56) sha256_add(s, &zero, 1);
  for (int i = 0; i < 8; i++) len[i] = (uint8_t)(bits >> (56 - 8 * i));
  sha256_add(s, len, 8);
  for (int i = 0; i < 8; i++) snprintf(out + 8 * i, 9, "%08x", (unsigned)s->h[i]);
}

/* ------------------------------------------------------------- Python's JSON */

/* repr(float): the shortest digits that read back the same, positional when the decimal
** exponent is in -4..15 (with ".0" when integral), else d.ddde+XX. */
static void py_float(double x, char *out, size_t cap) {
  if (isnan(x)) { snprintf(out, cap, "NaN"); return; }
  if (isinf(x)) { snprintf(out, cap, x > 0 ? "Infinity" : "-Infinity"); return; }
  if (x == 0) { snprintf(out, cap, signbit(x) ? "-0.0" : "0.0"); return; }
  char buf[40];
  for (int prec = 0; prec < 17; prec++) {
    snprintf(buf, sizeof buf, "%.*e", prec, x);
    if (strtod(buf, NULL) == x) break;
  }
  /* buf is [-]d[.ddd]e[+-]XX: collect the digits and the exponent */
  char digits[24];
  int nd = 0, neg = buf[0] == '-';
  const char *p = buf + neg;
  for (; *p && *p != 'e'; p++)
    if (*p != '.') digits[nd++] = *p;
  while (nd > 1 && digits[nd - 1] == '0') nd--;
  digits[nd] = '\0';
  int exp10 = atoi(p + 1);
  int decpt = exp10 + 1;          /* digits are 0.d1d2... x 10^decpt */
  char *o = out;
  char *end = out + cap - 1;
#define PUT(c) do { if (o < end) *o++ = (c); } while (0)
  if (neg) PUT('-');
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) {
      PUT('0');
      PUT('.');
      for (int i = 0; i < -decpt; i++) PUT('0');
      for (int i = 0; i < nd; i++) PUT(digits[i]);
    } else {
      for (int i = 0; i < decpt; i++) PUT(i < nd ? digits[i] : '0');
      PUT('.');
      if (nd > decpt) for (int i = decpt; i < nd; i++) PUT(digits[i]);
      else PUT('0');
    }
    *o = '\0';
  } else {
    PUT(digits[0]);
    if (nd > 1) {
      PUT('.');
      for (int i = 1; i < nd; i++) PUT(digits[i]);
    }
    *o = '\0';
    size_t used = (size_t)(o - out);
    snprintf(o, cap - used, "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
  }
#undef PUT
}

static void hash_str(sha256 *h, const char *s) {
  static const char hex[] = "0123456789abcdef";
  sha256_add(h, "\"", 1);
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    unsigned c = *p;
    char e[16];
    size_t n = 0;
    uint32_t cp;
    int len;
    if (c < 0x80) {
      len = 1;
      cp = c;
    } else {
      len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;   /* the string was checked to be UTF-8 */
      cp = c & (0x7f >> len);
      for (int i = 1; i < len; i++) cp = cp << 6 | (p[i] & 0x3f);
    }
    p += len;
    switch (cp) {
      case '"': memcpy(e, "\\\"", 2); n = 2; break;
      case '\\': memcpy(e, "\\\\", 2); n = 2; break;
      case '\n': memcpy(e, "\\n", 2); n = 2; break;
      case '\r': memcpy(e, "\\r", 2); n = 2; break;
      case '\t': memcpy(e, "\\t", 2); n = 2; break;
      case '\b': memcpy(e, "\\b", 2); n = 2; break;
      case '\f': memcpy(e, "\\f", 2); n = 2; break;
      default:
        if (cp >= 0x20 && cp <= 0x7e) {
          e[0] = (char)cp;
          n = 1;
          break;
        }
        /* ensure_ascii: everything outside ' '..'~' as \uXXXX, astral ones as surrogate pairs */
        if (cp >= 0x10000) {
          uint32_t v = cp - 0x10000;
          uint32_t hi = 0xd800 | (v >> 10), lo = 0xdc00 | (v & 0x3ff);
          e[n++] = '\\'; e[n++] = 'u';
          for (int k = 12; k >= 0; k -= 4) e[n++] = hex[(hi >> k) & 15];
          e[n++] = '\\'; e[n++] = 'u';
          for (int k = 12; k >= 0; k -= 4) e[n++] = hex[(lo >> k) & 15];
        } else {
          e[n++] = '\\'; e[n++] = 'u';
          for (int k = 12; k >= 0; k -= 4) e[n++] = hex[(cp >> k) & 15];
        }
    }
    sha256_add(h, e, n);
  }
  sha256_add(h, "\"", 1);
}

static int check_value(const tbt_hparam_value *v) {
  switch (v->type) {
    case TBT_HPARAM_NUMBER: case TBT_HPARAM_INT: return 0;
    case TBT_HPARAM_BOOL: return v->boolean == 0 || v->boolean == 1 ? 0 : TBT_EINVAL;
    case TBT_HPARAM_STRING:
      return v->string && tbt_utf8_valid(v->string, strlen(v->string)) ? 0 : TBT_EINVAL;
    default: return TBT_EINVAL;
  }
}

static int check_name(const char *s) {
  return s && *s && tbt_utf8_valid(s, strlen(s)) ? 0 : TBT_EINVAL;
}

static int check_opt(const char *s) {
  return !s || tbt_utf8_valid(s, strlen(s)) ? 0 : TBT_EINVAL;
}

/* Indexes of hparams sorted by name (bytewise = by code point, as Python sorts str). */
static __thread const tbt_hparam *t_sort_base;
static int by_name(const void *a, const void *b) {
  return strcmp(t_sort_base[*(const size_t *)a].name, t_sort_base[*(const size_t *)b].name);
}

static int check_session(const tbt_hparam *hp, size_t n, size_t **order) {
  if (n && !hp) return TBT_EINVAL;
  for (size_t i = 0; i < n; i++)
    if (check_name(hp[i].name) || check_value(&hp[i].value)) return TBT_EINVAL;
  size_t *ord = tbt_calloc(n ? n : 1, sizeof *ord);
  if (!ord) return TBT_ENOMEM;
  for (size_t i = 0; i < n; i++) ord[i] = i;
  t_sort_base = hp;
  qsort(ord, n, sizeof *ord, by_name);
  for (size_t i = 1; i < n; i++)
    if (strcmp(hp[ord[i - 1]].name, hp[ord[i]].name) == 0) {
      tbt_free(ord);
      return TBT_EINVAL;   /* "multiple values specified for hparam" */
    }
  *order = ord;
  return 0;
}

static void group_name(const tbt_hparam *hp, size_t n, const size_t *ord, char out[65]) {
  sha256 h;
  sha256_init(&h);
  sha256_add(&h, "{", 1);
  for (size_t i = 0; i < n; i++) {
    const tbt_hparam *p = &hp[ord[i]];
    if (i) sha256_add(&h, ",", 1);
    hash_str(&h, p->name);
    sha256_add(&h, ":", 1);
    char num[64];
    switch (p->value.type) {
      case TBT_HPARAM_NUMBER: py_float(p->value.number, num, sizeof num); sha256_add(&h, num, strlen(num)); break;
      case TBT_HPARAM_INT:
        snprintf(num, sizeof num, "%lld", (long long)p->value.integer);
        sha256_add(&h, num, strlen(num));
        break;
      case TBT_HPARAM_BOOL: sha256_add(&h, p->value.boolean ? "true" : "false", p->value.boolean ? 4 : 5); break;
      default: hash_str(&h, p->value.string); break;
    }
  }
  sha256_add(&h, "}", 1);
  sha256_hex(&h, out);
}

int tbt_hparams_group_name(const tbt_hparam *hparams, size_t n, char out[65]) {
  if (!out) return TBT_EINVAL;
  size_t *ord;
  int rc = check_session(hparams, n, &ord);
  if (rc) return rc;
  group_name(hparams, n, ord, out);
  tbt_free(ord);
  return 0;
}

/* ------------------------------------------------------------- the summaries */

/* Packs data (version 0) as the plugin content and emits the summary (after prepare). */
static int emit_plugin_data(const char *tag, Tensorboard__Hparams__HParamsPluginData *data) {
  size_t len = tensorboard__hparams__hparams_plugin_data__get_packed_size(data);
  uint8_t *content = tbt_malloc(len + 1);
  if (!content) return TBT_ENOMEM;
  tensorboard__hparams__hparams_plugin_data__pack(data, content);
  /* metadata.NULL_TENSOR: DT_FLOAT, shape [0], no values */
  Tensorflow__TensorShapeProto__Dim dim = TENSORFLOW__TENSOR_SHAPE_PROTO__DIM__INIT;
  Tensorflow__TensorShapeProto__Dim *dimp = &dim;
  Tensorflow__TensorShapeProto shape = TENSORFLOW__TENSOR_SHAPE_PROTO__INIT;
  shape.n_dim = 1;
  shape.dim = &dimp;
  Tensorflow__TensorProto t = TENSORFLOW__TENSOR_PROTO__INIT;
  t.dtype = TENSORFLOW__DATA_TYPE__DT_FLOAT;
  t.tensor_shape = &shape;
  int rc = tbt_summary_emit_prepared(tag, &t, "hparams", content, len, NULL, 0);
  tbt_free(content);
  return rc;
}

/* Sets v from a tbtrace value (google.protobuf.Value). */
static void set_value(Tensorboard__Hparams__Value *v, const tbt_hparam_value *x) {
  Tensorboard__Hparams__Value init = TENSORBOARD__HPARAMS__VALUE__INIT;
  *v = init;
  switch (x->type) {
    case TBT_HPARAM_NUMBER:
      v->kind_case = TENSORBOARD__HPARAMS__VALUE__KIND_NUMBER_VALUE;
      v->number_value = x->number;
      break;
    case TBT_HPARAM_INT:
      v->kind_case = TENSORBOARD__HPARAMS__VALUE__KIND_NUMBER_VALUE;
      v->number_value = (double)x->integer;
      break;
    case TBT_HPARAM_BOOL:
      v->kind_case = TENSORBOARD__HPARAMS__VALUE__KIND_BOOL_VALUE;
      v->bool_value = x->boolean != 0;
      break;
    default:
      v->kind_case = TENSORBOARD__HPARAMS__VALUE__KIND_STRING_VALUE;
      v->string_value = (char *)x->string;
      break;
  }
}

static int prepare_step0(void) {
  tbt_step step = TBT_STEP(0);
  return tbt_summary_prepare(&step);
}

static int kind(tbt_hparam_type t) {
  return t == TBT_HPARAM_INT ? TBT_HPARAM_NUMBER : (int)t;
}

static double as_number(const tbt_hparam_value *v) {
  return v->type == TBT_HPARAM_INT ? (double)v->integer : v->number;
}

/* Discrete values sorted as Python sorts them (numbers by value, strings by code point, false
** before true). */
static int by_value(const void *a, const void *b) {
  const tbt_hparam_value *x = *(const tbt_hparam_value *const *)a, *y = *(const tbt_hparam_value *const *)b;
  switch (kind(x->type)) {
    case TBT_HPARAM_NUMBER: {
      double p = as_number(x), q = as_number(y);
      return (p > q) - (p < q);
    }
    case TBT_HPARAM_BOOL: return x->boolean - y->boolean;
    default: return strcmp(x->string, y->string);
  }
}

static int check_info(const tbt_hparam_info *h) {
  if (check_name(h->name) || check_opt(h->display_name) || check_opt(h->description)) return TBT_EINVAL;
  switch (h->domain) {
    case TBT_DOMAIN_NONE: return 0;
    case TBT_DOMAIN_INTERVAL:
      if (isnan(h->min_value) || isnan(h->max_value) || h->min_value > h->max_value) return TBT_EINVAL;
      return 0;
    case TBT_DOMAIN_DISCRETE:
      if (h->n_values && !h->values) return TBT_EINVAL;
      for (size_t i = 0; i < h->n_values; i++) {
        if (check_value(&h->values[i])) return TBT_EINVAL;
        if (kind(h->values[i].type) != kind(h->values[0].type)) return TBT_EINVAL;
        if (kind(h->values[i].type) == TBT_HPARAM_NUMBER && isnan(as_number(&h->values[i])))
          return TBT_EINVAL;   /* unsortable */
      }
      return 0;
    default: return TBT_EINVAL;
  }
}

int tbt_hparams_config(const tbt_hparam_info *hparams, size_t n_hparams,
                       const tbt_metric_info *metrics, size_t n_metrics, double time_created_secs) {
  if ((n_hparams && !hparams) || (n_metrics && !metrics) || isnan(time_created_secs)) return TBT_EINVAL;
  size_t n_values = 0;
  for (size_t i = 0; i < n_hparams; i++) {
    if (check_info(&hparams[i])) return TBT_EINVAL;
    if (hparams[i].domain == TBT_DOMAIN_DISCRETE) n_values += hparams[i].n_values;
  }
  for (size_t i = 0; i < n_metrics; i++) {
    const tbt_metric_info *m = &metrics[i];
    if (check_name(m->tag) || check_opt(m->group) || check_opt(m->display_name) ||
        check_opt(m->description) || m->dataset_type < 0 || m->dataset_type > 2)
      return TBT_EINVAL;
  }
  int rc = prepare_step0();
  if (rc <= 0) return rc;

  size_t nh = n_hparams ? n_hparams : 1, nm = n_metrics ? n_metrics : 1, nv = n_values ? n_values : 1;
  Tensorboard__Hparams__HParamInfo *hi = tbt_calloc(nh, sizeof *hi);
  Tensorboard__Hparams__HParamInfo **hip = tbt_calloc(nh, sizeof *hip);
  Tensorboard__Hparams__ListValue *lists = tbt_calloc(nh, sizeof *lists);
  Tensorboard__Hparams__Interval *ivs = tbt_calloc(nh, sizeof *ivs);
  Tensorboard__Hparams__Value *vals = tbt_calloc(nv, sizeof *vals);
  Tensorboard__Hparams__Value **valp = tbt_calloc(nv, sizeof *valp);
  const tbt_hparam_value **sorted = tbt_calloc(nv, sizeof *sorted);
  Tensorboard__Hparams__MetricInfo *mi = tbt_calloc(nm, sizeof *mi);
  Tensorboard__Hparams__MetricInfo **mip = tbt_calloc(nm, sizeof *mip);
  Tensorboard__Hparams__MetricName *mn = tbt_calloc(nm, sizeof *mn);
  rc = (hi && hip && lists && ivs && vals && valp && sorted && mi && mip && mn) ? 0 : TBT_ENOMEM;
  if (!rc) {
    size_t vi = 0;
    for (size_t i = 0; i < n_hparams; i++) {
      const tbt_hparam_info *h = &hparams[i];
      Tensorboard__Hparams__HParamInfo init = TENSORBOARD__HPARAMS__HPARAM_INFO__INIT;
      hi[i] = init;
      hi[i].name = (char *)h->name;
      if (h->display_name) hi[i].display_name = (char *)h->display_name;
      if (h->description) hi[i].description = (char *)h->description;
      if (h->domain == TBT_DOMAIN_INTERVAL) {
        Tensorboard__Hparams__Interval iinit = TENSORBOARD__HPARAMS__INTERVAL__INIT;
        ivs[i] = iinit;
        ivs[i].min_value = h->min_value;
        ivs[i].max_value = h->max_value;
        hi[i].type = TENSORBOARD__HPARAMS__DATA_TYPE__DATA_TYPE_FLOAT64;
        hi[i].domain_case = TENSORBOARD__HPARAMS__HPARAM_INFO__DOMAIN_DOMAIN_INTERVAL;
        hi[i].domain_interval = &ivs[i];
      } else if (h->domain == TBT_DOMAIN_DISCRETE) {
        Tensorboard__Hparams__ListValue linit = TENSORBOARD__HPARAMS__LIST_VALUE__INIT;
        lists[i] = linit;
        for (size_t j = 0; j < h->n_values; j++) sorted[vi + j] = &h->values[j];
        qsort(sorted + vi, h->n_values, sizeof *sorted, by_value);
        for (size_t j = 0; j < h->n_values; j++) {
          set_value(&vals[vi + j], sorted[vi + j]);
          valp[vi + j] = &vals[vi + j];
        }
        lists[i].n_values = h->n_values;
        lists[i].values = valp + vi;
        vi += h->n_values;
        /* An empty list still names the type of its values: there are none, so it stays unset. */
        int k = h->n_values ? kind(h->values[0].type) : 0;
        hi[i].type = k == TBT_HPARAM_NUMBER ? TENSORBOARD__HPARAMS__DATA_TYPE__DATA_TYPE_FLOAT64
                   : k == TBT_HPARAM_BOOL ? TENSORBOARD__HPARAMS__DATA_TYPE__DATA_TYPE_BOOL
                   : k == TBT_HPARAM_STRING ? TENSORBOARD__HPARAMS__DATA_TYPE__DATA_TYPE_STRING
                   : TENSORBOARD__HPARAMS__DATA_TYPE__DATA_TYPE_UNSET;
        hi[i].domain_case = TENSORBOARD__HPARAMS__HPARAM_INFO__DOMAIN_DOMAIN_DISCRETE;
        hi[i].domain_discrete = &lists[i];
      }
      hip[i] = &hi[i];
    }
    for (size_t i = 0; i < n_metrics; i++) {
      const tbt_metric_info *m = &metrics[i];
      Tensorboard__Hparams__MetricName ninit = TENSORBOARD__HPARAMS__METRIC_NAME__INIT;
      Tensorboard__Hparams__MetricInfo minit = TENSORBOARD__HPARAMS__METRIC_INFO__INIT;
      mn[i] = ninit;
      mn[i].tag = (char *)m->tag;
      if (m->group) mn[i].group = (char *)m->group;
      mi[i] = minit;
      mi[i].name = &mn[i];
      if (m->display_name) mi[i].display_name = (char *)m->display_name;
      if (m->description) mi[i].description = (char *)m->description;
      mi[i].dataset_type = (Tensorboard__Hparams__DatasetType)m->dataset_type;
      mip[i] = &mi[i];
    }
    Tensorboard__Hparams__Experiment ex = TENSORBOARD__HPARAMS__EXPERIMENT__INIT;
    ex.time_created_secs = time_created_secs;
    ex.n_hparam_infos = n_hparams;
    ex.hparam_infos = hip;
    ex.n_metric_infos = n_metrics;
    ex.metric_infos = mip;
    Tensorboard__Hparams__HParamsPluginData pd = TENSORBOARD__HPARAMS__HPARAMS_PLUGIN_DATA__INIT;
    pd.data_case = TENSORBOARD__HPARAMS__HPARAMS_PLUGIN_DATA__DATA_EXPERIMENT;
    pd.experiment = &ex;
    rc = emit_plugin_data(TAG_EXPERIMENT, &pd);
  }
  tbt_free(hi);
  tbt_free(hip);
  tbt_free(lists);
  tbt_free(ivs);
  tbt_free(vals);
  tbt_free(valp);
  tbt_free(sorted);
  tbt_free(mi);
  tbt_free(mip);
  tbt_free(mn);
  return rc;
}

static double now_if_unset(double t) {
  return t > 0 ? t : tbt_wall_time();
}

int tbt_hparams_session_start(const tbt_hparam *hparams, size_t n, const char *trial_id,
                              double start_time_secs) {
  if (check_opt(trial_id) || isnan(start_time_secs)) return TBT_EINVAL;
  size_t *ord;
  int rc = check_session(hparams, n, &ord);
  if (rc) return rc;
  rc = prepare_step0();
  if (rc <= 0) {
    tbt_free(ord);
    return rc;
  }
  char group[65];
  if (!trial_id) group_name(hparams, n, ord, group);
  size_t m = n ? n : 1;
  Tensorboard__Hparams__SessionStartInfo__HparamsEntry *ent = tbt_calloc(m, sizeof *ent);
  Tensorboard__Hparams__SessionStartInfo__HparamsEntry **entp = tbt_calloc(m, sizeof *entp);
  Tensorboard__Hparams__Value *vals = tbt_calloc(m, sizeof *vals);
  rc = (ent && entp && vals) ? 0 : TBT_ENOMEM;
  if (!rc) {
    for (size_t i = 0; i < n; i++) {
      const tbt_hparam *p = &hparams[ord[i]];   /* in name order, as TensorBoard adds them */
      Tensorboard__Hparams__SessionStartInfo__HparamsEntry init =
          TENSORBOARD__HPARAMS__SESSION_START_INFO__HPARAMS_ENTRY__INIT;
      ent[i] = init;
      ent[i].key = (char *)p->name;
      set_value(&vals[i], &p->value);
      ent[i].value = &vals[i];
      entp[i] = &ent[i];
    }
    Tensorboard__Hparams__SessionStartInfo si = TENSORBOARD__HPARAMS__SESSION_START_INFO__INIT;
    si.n_hparams = n;
    si.hparams = entp;
    si.group_name = (char *)(trial_id ? trial_id : group);
    si.start_time_secs = now_if_unset(start_time_secs);
    Tensorboard__Hparams__HParamsPluginData pd = TENSORBOARD__HPARAMS__HPARAMS_PLUGIN_DATA__INIT;
    pd.data_case = TENSORBOARD__HPARAMS__HPARAMS_PLUGIN_DATA__DATA_SESSION_START_INFO;
    pd.session_start_info = &si;
    rc = emit_plugin_data(TAG_SESSION_START, &pd);
  }
  tbt_free(ent);
  tbt_free(entp);
  tbt_free(vals);
  tbt_free(ord);
  return rc;
}

int tbt_hparams_session_end(int status, double end_time_secs) {
  if (status < TBT_HPARAMS_UNKNOWN || status > TBT_HPARAMS_RUNNING || isnan(end_time_secs))
    return TBT_EINVAL;
  int rc = prepare_step0();
  if (rc <= 0) return rc;
  Tensorboard__Hparams__SessionEndInfo ei = TENSORBOARD__HPARAMS__SESSION_END_INFO__INIT;
  ei.status = (Tensorboard__Hparams__Status)status;
  ei.end_time_secs = now_if_unset(end_time_secs);
  Tensorboard__Hparams__HParamsPluginData pd = TENSORBOARD__HPARAMS__HPARAMS_PLUGIN_DATA__INIT;
  pd.data_case = TENSORBOARD__HPARAMS__HPARAMS_PLUGIN_DATA__DATA_SESSION_END_INFO;
  pd.session_end_info = &ei;
  return emit_plugin_data(TAG_SESSION_END, &pd);
}

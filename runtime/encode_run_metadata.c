/*
** encode_run_metadata.c: a trace model as tensorflow.RunMetadata, what TensorBoard's graph plugin
** reads from a graph_run_metadata[_graph] summary.
**
** The graph (function_graphs[0].pre_optimization_graph) has one NodeDef per distinct span path:
**   name   the path ("step/load"), so the graph view nests spans the way it nests name scopes;
**   op     the category of the first span seen with that path, or "Span";
**   input  the paths declared (tbt_span_depends) to feed it, in declaration order without
**          repeats; without any, the parent span's path (roots have none). Declared edges whose
**          ends are not span paths of this trace are left out (the graph view cannot draw them);
**   device the device of the first thread seen running it (encoders.h: one device per thread);
**   attr   _tbtrace_count (spans), _tbtrace_total_ns (their summed durations) and, when some were
**          still open at export, _tbtrace_unfinished.
** Nodes are sorted by name (bytewise); versions.producer is TBT_GRAPH_PRODUCER. Node names are
** paths with ':' (and a leading '^') replaced by '_', since TensorBoard reads "a:1" in an input as
** output 1 of "a" and "^a" as a control edge; paths that become equal share a node. Every string
** is valid UTF-8 (bad bytes become U+FFFD), or TensorBoard's parser would drop the RunMetadata.
**
** The full variant adds step_stats: one DeviceStepStats per thread (model order) holding a
** NodeExecStats per finished span, in the thread's span order: node_name = the path (the graph
** view matches it to the node), all_start_micros, op_start_rel_micros = 0, op_end_rel_micros =
** all_end_rel_micros = floor(end/1000) - floor(start/1000), the same in nanoseconds in the
** *_nanos fields, thread_id = the OS thread id (tbt_track_ids), timeline_label = "<path> = <op>(<inputs>)" (the
** form TensorFlow's timeline tool parses); thread_names maps the thread id to its name when the
** thread was named. Spans still open at export are in the graph but not in step_stats: their
** duration is not a measurement.
*/
#include "encoders.h"

#include "alloc.h"
#include "pbwire.h"
#include "run_metadata.pb-c.h"
#include "sink.h"
#include "tbtrace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ----------------------------------------------------------------- nodes */

typedef struct node {
  const char *name;      /* the span path (as a node name) */
  char *owned;           /* name, when it had to be changed */
  const char *op;
  const char *parent;    /* the parent's node name, NULL for a root */
  uint32_t parent_path;  /* the parent's path (model name index), UINT32_MAX for a root */
  uint32_t thread;       /* first thread seen running it */
  uint32_t nin;          /* declared inputs */
  uint32_t in_first;     /* their start in the inputs array */
  uint64_t count;
  uint64_t unfinished;
  int64_t total_ns;
  char *label;           /* timeline_label (full variant) */
  size_t name_len, label_len;
} node;

typedef struct graph {
  node *nodes;
  size_t n, cap;
  int32_t *by_path;      /* model name index -> node, -1 when not seen yet */
  int32_t *slots;        /* open-addressing table over node names */
  size_t nslots;
  const char **inputs;   /* declared inputs, grouped by node */
  size_t ninputs;
} graph;

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
  return h;
}

static int32_t lookup(const graph *g, const char *name) {
  size_t mask = g->nslots - 1;
  for (size_t i = hash_str(name) & mask;; i = (i + 1) & mask) {
    int32_t k = g->slots[i];
    if (k < 0) return -1;
    if (strcmp(g->nodes[k].name, name) == 0) return k;
  }
}

static int grow_slots(graph *g) {
  size_t n = g->nslots ? g->nslots * 2 : 64;
  int32_t *s = tbt_malloc(n * sizeof *s);
  if (!s) return TBT_ENOMEM;
  memset(s, 0xff, n * sizeof *s);
  for (size_t k = 0; k < g->n; k++) {
    size_t i = hash_str(g->nodes[k].name) & (n - 1);
    while (s[i] >= 0) i = (i + 1) & (n - 1);
    s[i] = (int32_t)k;
  }
  tbt_free(g->slots);
  g->slots = s;
  g->nslots = n;
  return 0;
}

/* name as a node name: TensorBoard reads "a:1" in an input as output 1 of node "a", and a
** leading "^" as a control edge, so ':' becomes '_' and a leading '^' too. Returns name itself
** when it is fine, else an allocation (NULL when out of memory). */
static char *node_name(const char *name, int *owned) {
  *owned = 0;
  if (!strchr(name, ':') && name[0] != '^') return (char *)name;
  char *c = tbt_strdup(name);
  if (!c) return NULL;
  for (char *p = c; *p; p++)
    if (*p == ':') *p = '_';
  if (c[0] == '^') c[0] = '_';
  *owned = 1;
  return c;
}

/* The node of model name idx (a span path), created when new. */
static int32_t node_for(graph *g, const tbt_source *m, uint32_t idx, uint32_t thread,
                        const char *op, uint32_t parent_path) {
  if (g->by_path[idx] >= 0) return g->by_path[idx];
  int owned;
  char *name = node_name(m->names[idx], &owned);
  if (!name) return TBT_ENOMEM;
  int32_t k = lookup(g, name);
  if (k >= 0) {
    if (owned) tbt_free(name);
  } else {
    int rc = 0;
    if (g->n >= INT32_MAX - 1) rc = TBT_ERANGE;
    else if ((g->n + 1) * 2 > g->nslots && grow_slots(g)) rc = TBT_ENOMEM;
    if (!rc && g->n == g->cap) {
      size_t cap = g->cap ? g->cap * 2 : 64;
      node *nn = tbt_realloc(g->nodes, cap * sizeof *nn);
      if (nn) {
        g->nodes = nn;
        g->cap = cap;
      } else {
        rc = TBT_ENOMEM;
      }
    }
    if (rc) {
      if (owned) tbt_free(name);
      return rc;
    }
    k = (int32_t)g->n++;
    node *n = &g->nodes[k];
    memset(n, 0, sizeof *n);
    n->name = name;
    n->owned = owned ? name : NULL;
    n->op = op && *op ? op : TBT_SPAN_OP;
    n->parent_path = parent_path;
    n->thread = thread;
    size_t mask = g->nslots - 1, i = hash_str(name) & mask;
    while (g->slots[i] >= 0) i = (i + 1) & mask;
    g->slots[i] = k;
  }
  g->by_path[idx] = k;
  return k;
}

static const char *name_at(const tbt_source *m, uint32_t idx) {
  return idx < m->nnames && m->names[idx] ? m->names[idx] : "";
}

static void graph_free(graph *g) {
  for (size_t k = 0; k < g->n; k++) tbt_free(g->nodes[k].owned);
  tbt_free(g->nodes);
  tbt_free(g->by_path);
  tbt_free(g->slots);
  tbt_free(g->inputs);
  memset(g, 0, sizeof *g);
}

/* The node named by model name idx, -1 when none. */
static int32_t lookup_path(const graph *g, const tbt_source *m, uint32_t idx, int *err) {
  if (idx >= m->nnames) return -1;
  if (g->by_path[idx] >= 0) return g->by_path[idx];
  int owned;
  char *name = node_name(m->names[idx], &owned);
  if (!name) {
    *err = TBT_ENOMEM;
    return -1;
  }
  int32_t k = lookup(g, name);
  if (owned) tbt_free(name);
  return k;
}

/* Every span path becomes a node (a walk over every track); declared edges become inputs. */
static int build_graph(tbt_source *m, graph *g) {
  memset(g, 0, sizeof *g);
  g->by_path = tbt_malloc((m->nnames ? m->nnames : 1) * sizeof *g->by_path);
  if (!g->by_path) return TBT_ENOMEM;
  memset(g->by_path, 0xff, (m->nnames ? m->nnames : 1) * sizeof *g->by_path);
  if (grow_slots(g)) return TBT_ENOMEM;
  for (size_t t = 0; t < m->ntracks; t++) {
    tbt_src_walk w;
    const tbt_src_event *e;
    int rc = tbt_src_begin(m, t, &w), more;
    while (!rc && (more = tbt_src_next(&w, &e)) != 0) {
      if (more < 0) {
        rc = more;
        break;
      }
      if (e->kind != TBT_EV_SPAN) continue;
      int32_t k = g->by_path[e->path];
      if (k < 0) {
        k = node_for(g, m, e->path, (uint32_t)t, name_at(m, e->category), e->parent_path);
        if (k < 0) {
          rc = k;
          break;
        }
      }
      node *n = &g->nodes[k];
      n->count++;
      n->total_ns += e->end_ns - e->start_ns;
      if (e->flags & TBT_SPAN_UNFINISHED) n->unfinished++;
    }
    tbt_src_end(&w);
    if (rc) return rc;
  }
  for (size_t k = 0; k < g->n; k++) {
    node *n = &g->nodes[k];
    int32_t pk = n->parent_path == UINT32_MAX ? -1 : g->by_path[n->parent_path];
    n->parent = pk >= 0 && (size_t)pk != k ? g->nodes[pk].name : NULL;
  }
  if (!m->nedges) return 0;
  /* Declared edges into each node, grouped by node: count, then place. */
  int32_t *from = tbt_malloc(m->nedges * sizeof *from);
  int32_t *to = tbt_malloc(m->nedges * sizeof *to);
  g->inputs = tbt_malloc(m->nedges * sizeof *g->inputs);
  if (!from || !to || !g->inputs) {
    tbt_free(from);
    tbt_free(to);
    return TBT_ENOMEM;
  }
  int err = 0;
  for (size_t e = 0; e < m->nedges; e++) {
    const tbt_model_edge *ed = &m->edges[e];
    from[e] = lookup_path(g, m, ed->from, &err);
    to[e] = lookup_path(g, m, ed->to, &err);
    if (from[e] < 0 || to[e] < 0 || from[e] == to[e]) {
      to[e] = -1;
      continue;
    }
    g->nodes[to[e]].nin++;
  }
  if (err) {
    tbt_free(from);
    tbt_free(to);
    return err;
  }
  uint32_t at = 0;
  for (size_t k = 0; k < g->n; k++) {
    g->nodes[k].in_first = at;
    at += g->nodes[k].nin;
    g->nodes[k].nin = 0;
  }
  for (size_t e = 0; e < m->nedges; e++) {
    if (to[e] < 0) continue;
    node *n = &g->nodes[to[e]];
    const char *src = g->nodes[from[e]].name;
    int dup = 0;
    for (uint32_t j = 0; j < n->nin && !dup; j++) dup = g->inputs[n->in_first + j] == src;
    if (!dup) g->inputs[n->in_first + n->nin++] = src;
  }
  g->ninputs = at;
  tbt_free(from);
  tbt_free(to);
  return 0;
}

static int cmp_node_name(const void *a, const void *b) {
  const node *x = *(const node *const *)a, *y = *(const node *const *)b;
  return strcmp(x->name, y->name);
}

/* "<path> = <op>(<in>, <in>)" for every node, in one allocation. */
static char *make_labels(graph *g) {
  size_t total = 0;
  for (size_t k = 0; k < g->n; k++) {
    node *n = &g->nodes[k];
    total += strlen(n->name) + strlen(n->op) + 6;
    if (n->nin) {
      for (uint32_t j = 0; j < n->nin; j++) total += strlen(g->inputs[n->in_first + j]) + 2;
    } else if (n->parent) {
      total += strlen(n->parent);
    }
  }
  char *arena = tbt_malloc(total ? total : 1);
  if (!arena) return NULL;
  char *p = arena;
  for (size_t k = 0; k < g->n; k++) {
    node *n = &g->nodes[k];
    n->label = p;
    size_t l = strlen(n->name);
    memcpy(p, n->name, l);
    p += l;
    memcpy(p, " = ", 3);
    p += 3;
    l = strlen(n->op);
    memcpy(p, n->op, l);
    p += l;
    *p++ = '(';
    if (n->nin) {
      for (uint32_t j = 0; j < n->nin; j++) {
        if (j) {
          memcpy(p, ", ", 2);
          p += 2;
        }
        const char *in = g->inputs[n->in_first + j];
        l = strlen(in);
        memcpy(p, in, l);
        p += l;
      }
    } else if (n->parent) {
      l = strlen(n->parent);
      memcpy(p, n->parent, l);
      p += l;
    }
    *p++ = ')';
    *p++ = '\0';
  }
  return arena;
}

/* ----------------------------------------------------------------- step_stats */

/* step_stats is nearly all of a full RunMetadata and is written with the wire primitives (as
** protobuf-c would write it: fields in number order, proto3 zeros left out): protobuf-c sizes
** every nested message again at each level it packs it from, and would need a struct per span.
** It is sized by one walk over the spans and written by a second. */

typedef struct exec {
  const node *n;
  int64_t us0, dus, start_ns, dns;
  uint32_t tid;
} exec;

static void exec_of(const graph *g, const tbt_src_event *s, uint64_t tid, exec *e) {
  e->n = &g->nodes[g->by_path[s->path]];
  int64_t us0 = s->start_ns / 1000, us1 = s->end_ns / 1000;
  if (s->start_ns < 0 && s->start_ns % 1000) us0--;
  if (s->end_ns < 0 && s->end_ns % 1000) us1--;
  e->us0 = us0;
  e->dus = us1 - us0;
  e->start_ns = s->start_ns;
  e->dns = s->end_ns - s->start_ns;
  e->tid = (uint32_t)tid;
}

/* NodeExecStats body size: node_name=1, all_start_micros=2, op_end_rel_micros=4,
** all_end_rel_micros=5, timeline_label=8, thread_id=10, all_start_nanos=13, op_end_rel_nanos=15,
** all_end_rel_nanos=16 (op_start_rel_* are 0). */
static size_t exec_size(const exec *e) {
  return (e->n->name_len ? pb_len_field_size(e->n->name_len) : 0) + pb_varint_field_size(2, (uint64_t)e->us0) +
         2 * pb_varint_field_size(4, (uint64_t)e->dus) + (e->n->label_len ? pb_len_field_size(e->n->label_len) : 0) +
         pb_varint_field_size(10, e->tid) + pb_varint_field_size(13, (uint64_t)e->start_ns) + pb_varint_field_size(15, (uint64_t)e->dns) +
         pb_varint_field_size(16, (uint64_t)e->dns);
}

static uint8_t *put_exec(uint8_t *p, const exec *e, size_t body) {
  p = pb_put_len_header(p, 2, body);   /* DeviceStepStats.node_stats */
  if (e->n->name_len) p = pb_put_bytes(p, 1, e->n->name, e->n->name_len);
  p = pb_put_varint_field(p, 2, (uint64_t)e->us0);
  p = pb_put_varint_field(p, 4, (uint64_t)e->dus);
  p = pb_put_varint_field(p, 5, (uint64_t)e->dus);
  if (e->n->label_len) p = pb_put_bytes(p, 8, e->n->label, e->n->label_len);
  p = pb_put_varint_field(p, 10, e->tid);
  p = pb_put_varint_field(p, 13, (uint64_t)e->start_ns);
  p = pb_put_varint_field(p, 15, (uint64_t)e->dns);
  return pb_put_varint_field(p, 16, (uint64_t)e->dns);
}

/* The thread_names entry {key=1: tid, value=2: name} body size (0 when unnamed). */
static size_t names_entry_size(uint32_t tid, size_t name_len) {
  return pb_varint_field_size(1, tid) + (name_len ? pb_len_field_size(name_len) : 0);
}

/* ----------------------------------------------------------------- encoding */

enum { NATTR = 3 };
static char k_count[] = "_tbtrace_count";
static char k_total[] = "_tbtrace_total_ns";
static char k_unfinished[] = "_tbtrace_unfinished";

/* "<task>/device:CPU:<i>"; the task prefix is cut at 192 bytes (job names are short) */
enum { DEVLEN = 192 + sizeof "/device:CPU:" + 24 };

struct tbt_run_metadata {
  tbt_source *src;
  int full;
  graph g;
  char *labels;
  size_t *dev_body;        /* full: DeviceStepStats size per track */
  size_t ss_body;          /* full: StepStats size */
  tbt_buf rest;            /* function_graphs (field 4), packed */
  size_t size;
};

static const char *device_name(const tbt_source *m, size_t t, char *buf) {
  snprintf(buf, DEVLEN, "%.192s/device:CPU:%zu", m->task ? m->task : TBT_LOCAL_TASK, t);
  return buf;
}

/* The GraphDef (function_graphs[0].pre_optimization_graph) packed by protobuf-c into e->rest. */
static int pack_graph(tbt_run_metadata *e) {
  const tbt_source *m = e->src;
  graph *g = &e->g;
  size_t nn = g->n;
  int rc = TBT_ENOMEM;
  char *devnames = tbt_malloc((m->ntracks ? m->ntracks : 1) * DEVLEN);
  node **sorted = tbt_malloc((nn ? nn : 1) * sizeof *sorted);
  Tensorflow__NodeDef *defs = tbt_malloc((nn ? nn : 1) * sizeof *defs);
  Tensorflow__NodeDef **defp = tbt_malloc((nn ? nn : 1) * sizeof *defp);
  char **inputs = tbt_malloc((g->ninputs + nn + 1) * sizeof *inputs);
  Tensorflow__NodeDef__AttrEntry *entries = tbt_malloc((nn ? nn : 1) * NATTR * sizeof *entries);
  Tensorflow__NodeDef__AttrEntry **entryp = tbt_malloc((nn ? nn : 1) * NATTR * sizeof *entryp);
  Tensorflow__AttrValue *values = tbt_malloc((nn ? nn : 1) * NATTR * sizeof *values);
  if (!devnames || !sorted || !defs || !defp || !inputs || !entries || !entryp || !values) goto done;
  for (size_t t = 0; t < m->ntracks; t++) device_name(m, t, devnames + t * DEVLEN);

  for (size_t k = 0; k < nn; k++) sorted[k] = &g->nodes[k];
  qsort(sorted, nn, sizeof *sorted, cmp_node_name);
  size_t ni = 0, na = 0;
  for (size_t k = 0; k < nn; k++) {
    const node *n = sorted[k];
    Tensorflow__NodeDef *d = &defs[k];
    tensorflow__node_def__init(d);
    d->name = (char *)n->name;
    d->op = (char *)n->op;
    d->device = devnames + (size_t)n->thread * DEVLEN;
    d->input = inputs + ni;
    if (n->nin) {
      for (uint32_t j = 0; j < n->nin; j++) inputs[ni++] = (char *)g->inputs[n->in_first + j];
      d->n_input = n->nin;
    } else if (n->parent) {
      inputs[ni++] = (char *)n->parent;
      d->n_input = 1;
    }
    d->attr = entryp + na;
    struct { char *key; int64_t v; int on; } attrs[NATTR] = {
      {k_count, (int64_t)n->count, 1},
      {k_total, n->total_ns, 1},
      {k_unfinished, (int64_t)n->unfinished, n->unfinished > 0},
    };
    for (int a = 0; a < NATTR; a++) {
      if (!attrs[a].on) continue;
      tensorflow__attr_value__init(&values[na]);
      values[na].value_case = TENSORFLOW__ATTR_VALUE__VALUE_I;
      values[na].i = attrs[a].v;
      tensorflow__node_def__attr_entry__init(&entries[na]);
      entries[na].key = attrs[a].key;
      entries[na].value = &values[na];
      entryp[na] = &entries[na];
      na++;
      d->n_attr++;
    }
    defp[k] = d;
  }

  /* The rest of RunMetadata (function_graphs = 4) after step_stats (1), by protobuf-c. */
  Tensorflow__VersionDef versions = TENSORFLOW__VERSION_DEF__INIT;
  versions.producer = TBT_GRAPH_PRODUCER;
  Tensorflow__GraphDef gd = TENSORFLOW__GRAPH_DEF__INIT;
  gd.n_node = nn;
  gd.node = defp;
  gd.versions = &versions;
  Tensorflow__RunMetadata__FunctionGraphs fg = TENSORFLOW__RUN_METADATA__FUNCTION_GRAPHS__INIT;
  fg.pre_optimization_graph = &gd;
  Tensorflow__RunMetadata__FunctionGraphs *fgp = &fg;
  Tensorflow__RunMetadata rm = TENSORFLOW__RUN_METADATA__INIT;
  rm.n_function_graphs = 1;
  rm.function_graphs = &fgp;
  size_t len = tensorflow__run_metadata__get_packed_size(&rm);
  rc = tbt_buf_reserve(&e->rest, len);
  if (!rc) e->rest.len += tensorflow__run_metadata__pack(&rm, e->rest.data + e->rest.len);

done:
  tbt_free(devnames);
  tbt_free(sorted);
  tbt_free(defs);
  tbt_free(defp);
  tbt_free(inputs);
  tbt_free(entries);
  tbt_free(entryp);
  tbt_free(values);
  return rc;
}

/* Calls fn(ud, x) with the NodeExecStats of each finished span of track t, in walk order: the
** sizing pass and the writing pass see the same spans. Stops at fn's first nonzero return. */
static inline int each_exec(tbt_run_metadata *e, size_t t, int (*fn)(void *ud, const exec *x),
                            void *ud) {
  uint64_t tid = e->src->tracks[t].id;
  tbt_src_walk w;
  const tbt_src_event *ev;
  int rc = tbt_src_begin(e->src, t, &w), more;
  while (!rc && (more = tbt_src_next(&w, &ev)) != 0) {
    if (more < 0) {
      rc = more;
      break;
    }
    if (ev->kind != TBT_EV_SPAN || (ev->flags & TBT_SPAN_UNFINISHED)) continue;
    exec x;
    exec_of(&e->g, ev, tid, &x);
    rc = fn(ud, &x);
  }
  tbt_src_end(&w);
  return rc;
}

static int add_size(void *ud, const exec *x) {
  *(size_t *)ud += pb_len_field_size(exec_size(x));
  return 0;
}

static int put_one(void *ud, const exec *x) {
  tbt_sink *out = ud;
  size_t body = exec_size(x);
  uint8_t *p = tbt_sink_room(out, pb_len_field_size(body));
  if (!p) return out->rc;
  tbt_sink_done(out, put_exec(p, x, body));
  return 0;
}

/* The size of StepStats: a walk over every finished span. */
static int size_step_stats(tbt_run_metadata *e) {
  tbt_source *m = e->src;
  size_t nth = m->ntracks;
  e->dev_body = tbt_malloc((nth ? nth : 1) * sizeof *e->dev_body);
  if (!e->dev_body) return TBT_ENOMEM;
  char dev[DEVLEN];
  e->ss_body = 0;
  for (size_t t = 0; t < nth; t++) {
    uint64_t tid = m->tracks[t].id;
    size_t body = pb_len_field_size(strlen(device_name(m, t, dev)));
    int rc = each_exec(e, t, add_size, &body);
    if (rc) return rc;
    const char *tname = name_at(m, m->tracks[t].name);
    if (*tname) body += pb_len_field_size(names_entry_size((uint32_t)tid, strlen(tname)));
    e->dev_body[t] = body;
    e->ss_body += pb_len_field_size(body);
  }
  return 0;
}

void tbt_run_metadata_free(tbt_run_metadata *e) {
  if (!e) return;
  graph_free(&e->g);
  tbt_free(e->labels);
  tbt_free(e->dev_body);
  tbt_buf_free(&e->rest);
  tbt_free(e);
}

int tbt_run_metadata_prepare(tbt_source *src, int variant, tbt_run_metadata **out) {
  *out = NULL;
  if (!src) return TBT_EINVAL;
  tbt_run_metadata *e = tbt_calloc(1, sizeof *e);
  if (!e) return TBT_ENOMEM;
  e->src = src;
  e->full = variant == TBT_RUN_METADATA_FULL;
  int rc = build_graph(src, &e->g);
  if (!rc && e->full) {
    if (!(e->labels = make_labels(&e->g))) rc = TBT_ENOMEM;
    for (size_t k = 0; !rc && k < e->g.n; k++) {
      e->g.nodes[k].name_len = strlen(e->g.nodes[k].name);
      e->g.nodes[k].label_len = strlen(e->g.nodes[k].label);
    }
    if (!rc) rc = size_step_stats(e);
  }
  if (!rc) rc = pack_graph(e);
  if (rc) {
    tbt_run_metadata_free(e);
    return rc;
  }
  e->size = e->rest.len + (e->full ? pb_len_field_size(e->ss_body) : 0);
  *out = e;
  return 0;
}

size_t tbt_run_metadata_size(const tbt_run_metadata *e) {
  return e->size;
}

int tbt_run_metadata_write(tbt_run_metadata *e, tbt_sink *out) {
  tbt_source *m = e->src;
  if (e->full) {
    uint8_t *p = tbt_sink_room(out, 16);
    if (!p) return out->rc;
    tbt_sink_done(out, pb_put_len_header(p, 1, e->ss_body));
    char dev[DEVLEN];
    for (size_t t = 0; t < m->ntracks; t++) {
      uint64_t tid = m->tracks[t].id;
      size_t dl = strlen(device_name(m, t, dev));
      if (!(p = tbt_sink_room(out, 16 + dl))) return out->rc;
      p = pb_put_len_header(p, 1, e->dev_body[t]);   /* StepStats.dev_stats */
      tbt_sink_done(out, pb_put_bytes(p, 1, dev, dl));
      int rc = each_exec(e, t, put_one, out);
      if (rc) return rc;
      const char *tname = name_at(m, m->tracks[t].name);
      if (*tname) {
        size_t nl = strlen(tname);
        if (!(p = tbt_sink_room(out, 32 + nl))) return out->rc;
        p = pb_put_len_header(p, 3, names_entry_size((uint32_t)tid, nl));
        p = pb_put_varint_field(p, 1, (uint32_t)tid);
        tbt_sink_done(out, pb_put_bytes(p, 2, tname, nl));
      }
    }
  }
  return tbt_sink_write(out, e->rest.data, e->rest.len);
}

int tbt_encode_run_metadata(const tbt_trace_model *model, int variant, tbt_buf *out) {
  if (!model || !out) return TBT_EINVAL;
  tbt_source src;
  tbt_run_metadata *e = NULL;
  tbt_sink sink;
  size_t start = out->len;
  int rc = tbt_source_from_model(&src, model);
  if (rc) return rc;
  rc = tbt_run_metadata_prepare(&src, variant, &e);
  if (!rc) rc = tbt_sink_buf(&sink, out);
  if (!rc) {
    rc = tbt_run_metadata_write(e, &sink);
    int frc = tbt_sink_finish(&sink);
    if (!rc) rc = frc;
    tbt_sink_free(&sink);
    if (!rc && out->len - start != tbt_run_metadata_size(e)) rc = TBT_ERANGE;
  }
  if (rc) out->len = start;
  tbt_run_metadata_free(e);
  tbt_source_free(&src);
  return rc;
}

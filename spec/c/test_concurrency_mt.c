/*
** test_concurrency_mt.c: tracing and summaries at once, through the public API. Worker threads
** record nested spans nonstop (two start before the first trace_on, two inside the first trace,
** two inside the second trace that exit before its export); an exporter thread runs trace_on /
** trace_export round after round with the profiler on, into the default writer's logdir; a
** summary thread writes scalars into the same writer and flushes it. Then every file is decoded:
** each scalar reads back once with its step and value, each export left one run-metadata summary
** and one profile run, the RunMetadata's step_stats are exactly the XSpace's finished spans, spans
** nest, thread ids match the thread names, and per thread and round the exported spans lie between
** what was surely recorded inside the round and what may have been. Built with TSan too.
**
** Why a bound and not an equality: trace_export snapshots the trace and ends it only after the
** files are written, so spans that end in between were recorded while the trace was on and are
** not exported (only counted, in late_records; test_late_mt.c checks that count). A worker cannot tell on which side of the snapshot its
** span fell, but it can tell whether the span lay wholly inside the window the exporter marked
** before exporting (those must all be exported, finished) and which rounds it could possibly
** belong to (no more than those may be). Two rounds are quiet enough for equality: the threads
** that exit before the second export, and a last round with every worker parked around it.
*/
#include "check.h"
#include "testutil.h"

#include "encoders.h"
#include "tbtrace.h"

#include "run_metadata.pb-c.h"
#include "xplane.pb-c.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>

#define NPRE 2            /* start before the first trace_on */
#define NPOST 2           /* start inside round 0 */
#define NSHORT 2          /* start inside round 1, exit before its export */
#define NLONG (NPRE + NPOST)
#define NWORK (NLONG + NSHORT)
#define NROUNDS 8         /* rounds exported while everything runs */
#define FINAL NROUNDS     /* the quiet last round */
#define NEXPORTS (NROUNDS + 1)
#define SHORT_ITERS 300
#define FINAL_ITERS 200
#define SPANS_PER_ITER 4
#define MAX_SCALARS 5000

/* Paths an iteration records, then the roots a trace can begin with when it starts in the middle
** of one (the ends whose begins went to the previous trace are ignored). */
static const char *const k_paths[] = {
  "outer", "outer/inner_a", "outer/inner_a/leaf", "outer/inner_b",
  "inner_a", "inner_a/leaf", "leaf", "inner_b",
};
#define NPATHS 8

enum { PH_RUN, PH_PAUSE, PH_FINAL, PH_STOP };

/* The exporter's marks: 2k+1 from just after round k's trace_on to just before its export. */
static atomic_uint g_epoch;
static atomic_int g_phase, g_parked, g_final_done, g_started, g_exporter_done;

typedef struct worker {
  int index;
  int short_lived;
  pthread_t th;
  uint64_t tid;
  long iters;
  long sure[NEXPORTS];     /* iterations wholly inside round k's marked window */
  long maybe[NEXPORTS];    /* iterations that may have records in round k's trace */
  long first_final;        /* the sequence number of the first last-round iteration */
} worker;

static worker g_w[NWORK];

static void sleep_us(long us) {
  struct timespec ts = {0, us * 1000};
  nanosleep(&ts, NULL);
}

static uint32_t id_outer, id_inner_a, id_seq, id_cat;

static void account(worker *w, unsigned e1, unsigned e2) {
  if (e1 == e2 && (e1 & 1) && (e1 - 1) / 2 < NEXPORTS) w->sure[(e1 - 1) / 2]++;
  /* Round k's trace exists only while the epoch is 2k, 2k+1 or 2k+2. */
  unsigned klo = e1 < 2 ? 0 : (e1 - 1) / 2, khi = e2 / 2;
  for (unsigned k = klo; k <= khi && k < NEXPORTS; k++) w->maybe[k]++;
}

static void iteration(worker *w) {
  unsigned e1 = atomic_load(&g_epoch);
  tbt_span_begin_id(id_outer, id_cat);
  tbt_counter_id(id_seq, (double)w->iters);
  tbt_span_begin_id(id_inner_a, 0);
  {
    TBT_SCOPE("leaf");
  }
  tbt_span_end();
  /* A bounded rate keeps exports small; pausing inside a span makes exports catch it open. */
  if (w->iters % 8 == 7) sleep_us(100);
  TBT_SPAN("inner_b") {
  }
  tbt_span_end();
  /* A read-modify-write, so the exporter's next mark (also one) synchronizes with it: when it
  ** still reads e1, every record above is visible to the snapshot that follows that mark. */
  unsigned e2 = atomic_fetch_add(&g_epoch, 0);
  account(w, e1, e2);
  w->iters++;
}

static void *work(void *arg) {
  worker *w = arg;
  w->tid = (uint64_t)syscall(SYS_gettid);
  char name[16];
  snprintf(name, sizeof name, "w%d", w->index);
  tbt_thread_name(name);
  atomic_fetch_add(&g_started, 1);
  if (w->short_lived) {
    for (int i = 0; i < SHORT_ITERS; i++) iteration(w);
    return NULL;
  }
  int parked = 0;
  for (;;) {
    int ph = atomic_load(&g_phase);
    if (ph == PH_RUN) {
      iteration(w);
    } else if (ph == PH_PAUSE) {
      if (!parked) atomic_fetch_add(&g_parked, 1);
      parked = 1;
      sleep_us(100);
    } else if (ph == PH_FINAL) {
      w->first_final = w->iters;
      for (int i = 0; i < FINAL_ITERS; i++) iteration(w);
      atomic_fetch_add(&g_final_done, 1);
      while (atomic_load(&g_phase) != PH_STOP) sleep_us(100);
      break;
    } else {
      break;
    }
  }
  return NULL;
}

/* ------------------------------------------------------------------ the exporter */

typedef struct export_info {
  int rc;
  int wrote_summary;
  uint64_t spans, dropped;
  char *profile_dir, *xplane, *chrome;
} export_info;

static export_info g_exports[NEXPORTS];
static tbt_writer *g_writer;

static char *dup_or_null(const char *s) {
  return s ? strdup(s) : NULL;
}

/* Failures in the helper threads, checked by main (the CHECK counters are not thread-safe). */
static atomic_int g_thread_failures;

static void start_workers(int from, int to, int short_lived) {
  for (int i = from; i < to; i++) {
    g_w[i].index = i;
    g_w[i].short_lived = short_lived;
    if (pthread_create(&g_w[i].th, NULL, work, &g_w[i]) != 0) abort();
  }
}

static void export_round(int k) {
  atomic_fetch_add(&g_epoch, 1);   /* 2k+2: the window closes */
  char tag[32];
  snprintf(tag, sizeof tag, "trace_%d", k);
  export_info *e = &g_exports[k];
  tbt_export_result r;
  e->rc = tu_export(tag, TBT_STEP(k), NULL, &r);
  e->wrote_summary = r.wrote_summary;
  e->spans = r.spans;
  e->dropped = r.dropped;
  e->profile_dir = dup_or_null(tbt_export_result_path(&r, "profile_dir"));
  e->xplane = dup_or_null(tbt_export_result_path(&r, "xplane"));
  e->chrome = dup_or_null(tbt_export_result_path(&r, "chrome_trace"));
  tbt_export_result_free(&r);
}

static int trace_on_profiler(void) {
  tbt_trace_options o;
  tbt_trace_options_init(&o);
  o.profiler = 1;   /* outdir: the default writer's logdir */
  return tbt_trace_on(&o);
}

static void *exporter(void *arg) {
  (void)arg;
  tbt_set_default_writer(g_writer);
  for (int k = 0; k < NROUNDS; k++) {
    if (trace_on_profiler() != 0) atomic_fetch_add(&g_thread_failures, 1);
    atomic_fetch_add(&g_epoch, 1);   /* 2k+1: the window opens */
    if (k == 0) {
      start_workers(NPRE, NLONG, 0);
    } else if (k == 1) {
      start_workers(NLONG, NWORK, 1);
      for (int i = NLONG; i < NWORK; i++) pthread_join(g_w[i].th, NULL);
    }
    sleep_us(3000);
    export_round(k);
  }
  /* The last round: every worker parked outside it, then exactly FINAL_ITERS iterations each. */
  atomic_store(&g_phase, PH_PAUSE);
  while (atomic_load(&g_parked) < NLONG) sleep_us(100);
  if (trace_on_profiler() != 0) atomic_fetch_add(&g_thread_failures, 1);
  atomic_fetch_add(&g_epoch, 1);
  atomic_store(&g_phase, PH_FINAL);
  while (atomic_load(&g_final_done) < NLONG) sleep_us(100);
  export_round(FINAL);
  atomic_store(&g_phase, PH_STOP);
  atomic_store(&g_exporter_done, 1);
  return NULL;
}

/* ------------------------------------------------------------------ the summary thread */

static long g_nscalars;

static void *summaries(void *arg) {
  (void)arg;
  tbt_set_default_writer(g_writer);
  long n = 0;
  int bad = 0;
  while (n < MAX_SCALARS && !atomic_load(&g_exporter_done)) {
    if (tbt_scalar("loss", (double)n * 0.25, TBT_STEP(n), NULL) != 1) bad++;
    n++;
    if (n % 64 == 0 && tbt_writer_flush(g_writer) != 0) bad++;
    if (n % 4 == 0) sleep_us(100);
  }
  atomic_fetch_add(&g_thread_failures, bad);
  g_nscalars = n;
  return NULL;
}

/* ------------------------------------------------------------------ decoding */

typedef struct line_stats {
  int present;
  long finished, all, counters;
  long seq_first, seq_last;
  long unfinished, tails;   /* spans open at the snapshot; roots from a split iteration */
} line_stats;

static line_stats g_stats[NEXPORTS][NWORK];

typedef struct fin_span {
  int path;
  int64_t start, dur;
} fin_span;

static int path_index(const char *p) {
  for (int i = 0; i < NPATHS; i++)
    if (strcmp(p, k_paths[i]) == 0) return i;
  return -1;
}

static int parent_index(int path) {
  const char *p = k_paths[path], *slash = strrchr(p, '/');
  if (!slash) return -1;
  for (int i = 0; i < NPATHS; i++)
    if (strlen(k_paths[i]) == (size_t)(slash - p) && strncmp(k_paths[i], p, slash - p) == 0) return i;
  return -2;
}

static const Tensorflow__Profiler__XEventMetadata *emeta(const Tensorflow__Profiler__XPlane *p,
                                                         int64_t id) {
  for (size_t i = 0; i < p->n_event_metadata; i++)
    if (p->event_metadata[i]->key == id) return p->event_metadata[i]->value;
  return NULL;
}

static int64_t floor_div(int64_t a, int64_t b) {
  return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static int64_t graph_count(const Tensorflow__NodeDef *n) {
  for (size_t i = 0; i < n->n_attr; i++)
    if (strcmp(n->attr[i]->key, "_tbtrace_count") == 0) return n->attr[i]->value->i;
  return -1;
}

/* One XLine against its DeviceStepStats; fills st. Returns the number of problems. */
static int check_line(const Tensorflow__Profiler__XPlane *pl, const Tensorflow__Profiler__XLine *l,
                      const Tensorflow__DeviceStepStats *d, size_t li, int64_t *unfinished_end,
                      line_stats *st) {
  int bad = 0;
  fin_span *fin = calloc(l->n_events + 1, sizeof *fin);
  size_t nfin = 0;
  int have[NPATHS] = {0}, open_[NPATHS] = {0}, seen_outer = 0;
  int64_t ps[NPATHS] = {0}, pe[NPATHS] = {0};
  st->seq_first = st->seq_last = -1;
  for (size_t i = 0; i < l->n_events; i++) {
    const Tensorflow__Profiler__XEvent *e = l->events[i];
    const Tensorflow__Profiler__XEventMetadata *md = emeta(pl, e->metadata_id);
    if (!md || e->data_case != TENSORFLOW__PROFILER__XEVENT__DATA_OFFSET_PS || e->offset_ps < 0 ||
        e->duration_ps < 0 || e->offset_ps % 1000 || e->duration_ps % 1000) {
      bad++;
      continue;
    }
    int64_t start = l->timestamp_ns + e->offset_ps / 1000, dur = e->duration_ps / 1000;
    if (e->n_stats == 1 && e->stats[0]->metadata_id == TBT_XSTAT_VALUE) {
      /* The sequence numbers of one thread in one trace are consecutive: a trace holds one
      ** unbroken stretch of each thread's recording. */
      double v = e->stats[0]->double_value;
      long seq = (long)v;
      if (strcmp(md->name, "seq") != 0 || (double)seq != v || dur != 0) bad++;
      if (st->seq_last >= 0 && seq != st->seq_last + 1) bad++;
      if (st->seq_first < 0) st->seq_first = seq;
      st->seq_last = seq;
      st->counters++;
      continue;
    }
    int unfinished = e->n_stats == 1 && e->stats[0]->metadata_id == TBT_XSTAT_UNFINISHED &&
                     e->stats[0]->uint64_value == 1;
    if (e->n_stats != (size_t)unfinished) bad++;
    int p = path_index(md->name);
    if (p < 0) {
      bad++;
      continue;
    }
    st->all++;
    int par = parent_index(p);
    if (par == -1) {
      /* A root other than "outer" only where the trace began mid-iteration. */
      if (p == 0) seen_outer = 1;
      else if (seen_outer) bad++;
      else st->tails++;
    } else if (par < 0 || !have[par] || start < ps[par] || start + dur > pe[par] ||
               (unfinished && !open_[par])) {
      bad++;
    }
    if (unfinished) {
      st->unfinished++;
      if (*unfinished_end < 0) *unfinished_end = start + dur;
      else if (*unfinished_end != start + dur) bad++;   /* all closed at the snapshot time */
    } else {
      fin[nfin].path = p;
      fin[nfin].start = start;
      fin[nfin].dur = dur;
      nfin++;
    }
    have[p] = 1;
    open_[p] = unfinished;
    ps[p] = start;
    pe[p] = start + dur;
  }
  st->finished = (long)nfin;

  /* step_stats: exactly the finished spans, in order, on this thread's device and id. */
  char dev[64];
  snprintf(dev, sizeof dev, "%s%zu", TBT_THREAD_DEVICE_PREFIX, li);
  if (strcmp(d->device, dev) != 0) bad++;
  if (d->n_thread_names != 1 || d->thread_names[0]->key != (uint32_t)l->id ||
      strcmp(d->thread_names[0]->value, l->name) != 0)
    bad++;
  if (d->n_node_stats != nfin) {
    bad++;
  } else {
    for (size_t i = 0; i < nfin; i++) {
      const Tensorflow__NodeExecStats *s = d->node_stats[i];
      int64_t us0 = floor_div(fin[i].start, 1000), us1 = floor_div(fin[i].start + fin[i].dur, 1000);
      if (strcmp(s->node_name, k_paths[fin[i].path]) != 0 || s->thread_id != (uint32_t)l->id ||
          s->all_start_nanos != fin[i].start || s->all_end_rel_nanos != fin[i].dur ||
          s->op_end_rel_nanos != fin[i].dur || s->op_start_rel_nanos != 0 ||
          s->all_start_micros != us0 || s->all_end_rel_micros != us1 - us0 ||
          s->op_end_rel_micros != us1 - us0 || s->op_start_rel_micros != 0)
        bad++;
    }
  }
  free(fin);
  return bad;
}

static void check_export(int k, const Tensorflow__RunMetadata *rm, const char *host) {
  const export_info *e = &g_exports[k];
  CHECK_EQ_INT(e->rc, 0);
  CHECK_EQ_INT(e->wrote_summary, 1);
  CHECK_EQ_U64(e->dropped, 0);
  CHECK(e->xplane && e->chrome && e->profile_dir);
  if (!e->xplane) return;
  size_t len;
  uint8_t *buf = tu_read_file(e->xplane, &len);
  CHECK(buf != NULL);
  if (!buf) return;
  Tensorflow__Profiler__XSpace *xs = tensorflow__profiler__xspace__unpack(NULL, len, buf);
  free(buf);
  CHECK(xs != NULL);
  if (!xs) return;
  CHECK(xs->n_hostnames == 1 && strcmp(xs->hostnames[0], host) == 0);
  CHECK_EQ_INT(xs->n_warnings, 0);
  CHECK_EQ_INT(xs->n_planes, 1);
  CHECK(rm->step_stats != NULL);
  if (xs->n_planes != 1 || !rm->step_stats) goto out;
  const Tensorflow__Profiler__XPlane *pl = xs->planes[0];
  CHECK_EQ_STR(pl->name, TBT_HOST_PLANE_NAME);
  CHECK_EQ_INT(rm->step_stats->n_dev_stats, pl->n_lines);
  if (rm->step_stats->n_dev_stats != pl->n_lines) goto out;

  int problems = 0;
  long total = 0;
  int64_t unfinished_end = -1;
  for (size_t i = 0; i < pl->n_lines; i++) {
    const Tensorflow__Profiler__XLine *l = pl->lines[i];
    int wi = -1;
    if (sscanf(l->name, "w%d", &wi) != 1 || wi < 0 || wi >= NWORK || g_stats[k][wi].present) {
      problems++;
      continue;
    }
    line_stats *st = &g_stats[k][wi];
    st->present = 1;
    if ((uint64_t)l->id != g_w[wi].tid) problems++;   /* the id is the thread's own */
    problems += check_line(pl, l, rm->step_stats->dev_stats[i], i, &unfinished_end, st);
    total += st->all;
  }
  if (problems) fprintf(stderr, "export %d: %d problems\n", k, problems);
  CHECK_EQ_INT(problems, 0);
  CHECK_EQ_U64(e->spans, total);

  /* The graph counts every span, finished or not, under its path. */
  CHECK_EQ_INT(rm->n_function_graphs, 1);
  if (rm->n_function_graphs == 1 && rm->function_graphs[0]->pre_optimization_graph) {
    const Tensorflow__GraphDef *g = rm->function_graphs[0]->pre_optimization_graph;
    int64_t counted = 0;
    for (size_t i = 0; i < g->n_node; i++) {
      CHECK(path_index(g->node[i]->name) >= 0);
      counted += graph_count(g->node[i]);
    }
    CHECK_EQ_INT(counted, total);
  }
out:
  tensorflow__profiler__xspace__free_unpacked(xs, NULL);
}

/* Entries of dir other than "." and ".."; names (up to max) into out. */
static int list_dir(const char *dir, char out[][256], int max) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    if (n < max) snprintf(out[n], 256, "%s", e->d_name);
    n++;
  }
  closedir(d);
  return n;
}

static void check_files(const char *logdir, const char *host) {
  /* One event file (the writer's; no profile marker, since the logdir already was a run). */
  char names[NEXPORTS + 8][256];
  int n = list_dir(logdir, names, NEXPORTS + 8);
  CHECK_EQ_INT(n, 2);   /* the event file and plugins/ */
  char root[4200];
  snprintf(root, sizeof root, "%s/plugins/profile", logdir);
  n = list_dir(root, names, NEXPORTS + 8);
  CHECK_EQ_INT(n, NEXPORTS);
  for (int k = 0; k < NEXPORTS; k++) {
    const export_info *e = &g_exports[k];
    if (!e->profile_dir) continue;
    CHECK(strncmp(e->profile_dir, root, strlen(root)) == 0 && e->profile_dir[strlen(root)] == '/');
    for (int j = 0; j < k; j++)
      CHECK(!g_exports[j].profile_dir || strcmp(g_exports[j].profile_dir, e->profile_dir) != 0);
    char files[4][256], want[2][4600];
    CHECK_EQ_INT(list_dir(e->profile_dir, files, 4), 2);   /* nothing half-written left over */
    snprintf(want[0], sizeof want[0], "%s/%s.xplane.pb", e->profile_dir, host);
    snprintf(want[1], sizeof want[1], "%s/%s.trace.json.gz", e->profile_dir, host);
    CHECK_EQ_STR(e->xplane, want[0]);
    CHECK_EQ_STR(e->chrome, want[1]);
    struct stat sb;
    CHECK(e->chrome && stat(e->chrome, &sb) == 0 && sb.st_size > 20);
  }
}

static void check_events(const char *logdir, const char *host) {
  const char *path = tu_event_file(logdir);
  CHECK(path != NULL);
  if (!path) return;
  tu_events r = tu_read_events(path);
  CHECK(!r.bad);
  CHECK(tu_canonical(&r));
  CHECK(r.n >= 1 && r.ev[0]->what_case == TENSORFLOW__EVENT__WHAT_FILE_VERSION);
  unsigned char *seen = calloc(MAX_SCALARS, 1);
  int exports_seen[NEXPORTS] = {0};
  long last_step = -1, last_k = -1;
  int bad = 0, unexpected = 0;
  for (size_t i = 1; i < r.n; i++) {
    const Tensorflow__Summary__Value *v = tu_value(r.ev[i]);
    if (!v || !v->tensor || !v->metadata || !v->metadata->plugin_data) {
      unexpected++;
      continue;
    }
    const Tensorflow__TensorProto *t = v->tensor;
    const char *plugin = v->metadata->plugin_data->plugin_name;
    long step = (long)r.ev[i]->step;
    int k;
    if (strcmp(v->tag, "loss") == 0) {
      float f = -1;
      if (t->dtype != TENSORFLOW__DATA_TYPE__DT_FLOAT || t->tensor_content.len != 4 ||
          strcmp(plugin, "scalars") != 0 || step < 0 || step >= g_nscalars) {
        bad++;
        continue;
      }
      memcpy(&f, t->tensor_content.data, 4);
      if (f != (float)step * 0.25f || step <= last_step) bad++;   /* one thread: in order */
      seen[step]++;
      last_step = step;
    } else if (sscanf(v->tag, "trace_%d", &k) == 1 && k >= 0 && k < NEXPORTS) {
      exports_seen[k]++;
      if (step != k || k <= last_k || strcmp(plugin, "graph_run_metadata") != 0 ||
          v->metadata->plugin_data->content.len != 1 ||
          v->metadata->plugin_data->content.data[0] != '1' ||
          t->dtype != TENSORFLOW__DATA_TYPE__DT_STRING || t->n_string_val != 1) {
        bad++;
        continue;
      }
      last_k = k;
      Tensorflow__RunMetadata *rm =
          tensorflow__run_metadata__unpack(NULL, t->string_val[0].len, t->string_val[0].data);
      CHECK(rm != NULL);
      if (rm) {
        check_export(k, rm, host);
        tensorflow__run_metadata__free_unpacked(rm, NULL);
      }
    } else {
      unexpected++;
    }
  }
  CHECK_EQ_INT(bad, 0);
  CHECK_EQ_INT(unexpected, 0);
  int once = 0;
  for (long s = 0; s < g_nscalars; s++) once += seen[s] == 1;
  CHECK_EQ_INT(once, g_nscalars);
  CHECK(g_nscalars > 0);
  for (int k = 0; k < NEXPORTS; k++) CHECK_EQ_INT(exports_seen[k], 1);
  free(seen);
  tu_events_free(&r);
}

/* Per thread and round: surely-inside iterations <= exported <= possibly-inside iterations. */
static void check_bounds(void) {
  int problems = 0;
  long sure_total = 0, maybe_total = 0, exported_total = 0, unfinished = 0, tails = 0;
  for (int wi = 0; wi < NWORK; wi++) {
    const worker *w = &g_w[wi];
    long last_seq = -1;
    for (int k = 0; k < NEXPORTS; k++) {
      const line_stats *st = &g_stats[k][wi];
      if (st->finished < SPANS_PER_ITER * w->sure[k] || st->all > SPANS_PER_ITER * w->maybe[k] ||
          st->counters < w->sure[k] || st->counters > w->maybe[k]) {
        fprintf(stderr, "w%d round %d: sure %ld maybe %ld, exported %ld spans (%ld finished), "
                "%ld iterations\n", wi, k, w->sure[k], w->maybe[k], st->all, st->finished,
                st->counters);
        problems++;
      }
      /* No iteration is exported twice, and later rounds hold later iterations. */
      if (st->counters) {
        if (st->seq_first <= last_seq || st->seq_last >= w->iters) problems++;
        last_seq = st->seq_last;
      }
      sure_total += w->sure[k];
      maybe_total += w->maybe[k];
      exported_total += st->counters;
      unfinished += st->unfinished;
      tails += st->tails;
    }
  }
  CHECK_EQ_INT(problems, 0);
  if (getenv("TBT_TEST_VERBOSE"))
    fprintf(stderr, "iterations: %ld sure, %ld exported, %ld maybe; spans: %ld open at export, "
            "%ld split roots\n", sure_total, exported_total, maybe_total, unfinished, tails);

  /* The quiet cases are exact. Threads that lived only inside round 1: */
  for (int wi = NLONG; wi < NWORK; wi++) {
    CHECK_EQ_INT(g_w[wi].iters, SHORT_ITERS);
    CHECK_EQ_INT(g_w[wi].sure[1], SHORT_ITERS);
    CHECK_EQ_INT(g_stats[1][wi].finished, SPANS_PER_ITER * SHORT_ITERS);
    CHECK_EQ_INT(g_stats[1][wi].all, SPANS_PER_ITER * SHORT_ITERS);
    CHECK_EQ_INT(g_stats[1][wi].seq_first, 0);
    CHECK_EQ_INT(g_stats[1][wi].seq_last, SHORT_ITERS - 1);
    for (int k = 0; k < NEXPORTS; k++)
      if (k != 1) CHECK(!g_stats[k][wi].present);
  }
  /* ... and the last round, recorded with every worker parked before and after it. */
  for (int wi = 0; wi < NLONG; wi++) {
    const line_stats *st = &g_stats[FINAL][wi];
    CHECK_EQ_INT(g_w[wi].sure[FINAL], FINAL_ITERS);
    CHECK_EQ_INT(st->finished, SPANS_PER_ITER * FINAL_ITERS);
    CHECK_EQ_INT(st->all, SPANS_PER_ITER * FINAL_ITERS);
    CHECK_EQ_INT(st->seq_first, g_w[wi].first_final);
    CHECK_EQ_INT(st->seq_last, g_w[wi].first_final + FINAL_ITERS - 1);
  }
}

int main(void) {
  id_outer = tbt_intern("outer");
  id_inner_a = tbt_intern("inner_a");
  id_seq = tbt_intern("seq");
  id_cat = tbt_intern("worker");
  const char *dir = tu_tmpdir("concurrency");
  char logdir[4096];
  snprintf(logdir, sizeof logdir, "%s", dir);
  tbt_writer_options o;
  tbt_writer_options_init(&o);
  o.max_queue = 8;
  o.flush_millis = 5;   /* the idle timer flushes too */
  CHECK_EQ_INT(tbt_writer_open(&g_writer, logdir, &o), 0);
  char host[256];
  tbt_profile_host(host, sizeof host);

  start_workers(0, NPRE, 0);
  while (atomic_load(&g_started) < NPRE) sleep_us(100);
  sleep_us(1000);   /* they record with no trace on first */
  pthread_t exp_th, sum_th;
  CHECK_EQ_INT(pthread_create(&exp_th, NULL, exporter, NULL), 0);
  CHECK_EQ_INT(pthread_create(&sum_th, NULL, summaries, NULL), 0);
  pthread_join(exp_th, NULL);
  pthread_join(sum_th, NULL);
  for (int i = 0; i < NLONG; i++) pthread_join(g_w[i].th, NULL);
  CHECK_EQ_INT(atomic_load(&g_thread_failures), 0);
  CHECK(!tbt_trace_is_on());
  CHECK_EQ_INT(tbt_writer_close(g_writer), 0);

  check_files(logdir, host);
  check_events(logdir, host);
  check_bounds();

  tbt_writer_free(g_writer);
  for (int k = 0; k < NEXPORTS; k++) {
    free(g_exports[k].profile_dir);
    free(g_exports[k].xplane);
    free(g_exports[k].chrome);
  }
  return CHECK_DONE();
}

/*
** ls.c: `tbtrace ls LOGDIR...`: what a logdir holds, for a terminal without TensorBoard. Per run
** (a directory with event files): its tags grouped by plugin (whatever plugin names the files use),
** with point counts, step ranges, last values and a sparkline per scalar tag; the traces exported
** into it (tag, step, span count); the profile runs under its plugins/profile with their hosts.
*/
#define _GNU_SOURCE   /* nftw */
#include "ls.h"

#include "logdir.h"
#include "tbtrace.h"

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define TOOL "tbtrace ls"
#define SPARK_WIDTH 24
#define TEXT_WIDTH 40

/* ------------------------------------------------------------------ what is collected */

typedef struct export_rec {
  int64_t step;
  uint64_t spans, nodes;
} export_rec;

typedef struct tag_info {
  char *name;
  char *plugin;
  size_t count;
  int64_t min_step, max_step;
  int has_last;
  double last;             /* scalars */
  char *last_text;         /* text: the last string */
  double *values;          /* scalars, in file order */
  size_t nvalues, capvalues;
  export_rec *exports;     /* trace exports */
  size_t nexports, capexports;
} tag_info;

typedef struct run_info {
  char *name;              /* relative to the logdir; "." for the logdir itself */
  size_t files, events, damaged;
  double last_wall;
  tag_info *tags;
  size_t ntags, captags;
  char **profiles;         /* "<run dir>: host, host" lines */
  size_t nprofiles, capprofiles;
} run_info;

typedef struct ls_state {
  run_info *runs;
  size_t nruns, capruns;
  int oom;
} ls_state;

static void *grow(void *v, size_t *cap, size_t n, size_t size) {
  if (n < *cap) return v;
  size_t c = *cap ? *cap * 2 : 8;
  void *p = realloc(v, c * size);
  if (p) *cap = c;
  return p;
}

static run_info *get_run(ls_state *s, const char *name) {
  for (size_t i = 0; i < s->nruns; i++)
    if (strcmp(s->runs[i].name, name) == 0) return &s->runs[i];
  run_info *v = grow(s->runs, &s->capruns, s->nruns, sizeof *v);
  if (!v) return NULL;
  s->runs = v;
  run_info *r = &v[s->nruns];
  memset(r, 0, sizeof *r);
  if (!(r->name = strdup(name))) return NULL;
  s->nruns++;
  return r;
}

static tag_info *get_tag(run_info *r, const char *name, const char *plugin) {
  for (size_t i = 0; i < r->ntags; i++)
    if (strcmp(r->tags[i].name, name) == 0) return &r->tags[i];
  tag_info *v = grow(r->tags, &r->captags, r->ntags, sizeof *v);
  if (!v) return NULL;
  r->tags = v;
  tag_info *t = &v[r->ntags];
  memset(t, 0, sizeof *t);
  t->name = strdup(name);
  t->plugin = strdup(plugin);
  if (!t->name || !t->plugin) {
    free(t->name);
    free(t->plugin);
    return NULL;
  }
  t->min_step = INT64_MAX;
  t->max_step = INT64_MIN;
  r->ntags++;
  return t;
}

static int is_trace_plugin(const char *p) {
  return strcmp(p, "graph_run_metadata") == 0 || strcmp(p, "graph_run_metadata_graph") == 0;
}

static int add_value(run_info *r, int64_t step, const tbt_event_value *v) {
  const char *plugin = NULL;
  if (*v->plugin) plugin = v->plugin;
  else if (v->kind == TBT_VALUE_SIMPLE) plugin = "scalars";
  else if (v->kind == TBT_VALUE_HISTOGRAM) plugin = "histograms";
  else if (v->kind == TBT_VALUE_IMAGE) plugin = "images";
  else if (v->kind == TBT_VALUE_AUDIO) plugin = "audio";
  else plugin = "(no plugin)";   /* later points of a tag omit the metadata: the first one named it */
  tag_info *t = get_tag(r, v->tag, plugin);
  if (!t) return -1;
  if (strcmp(t->plugin, "(no plugin)") == 0 && strcmp(plugin, "(no plugin)") != 0) {
    char *p = strdup(plugin);
    if (!p) return -1;
    free(t->plugin);
    t->plugin = p;
  }
  t->count++;
  if (step < t->min_step) t->min_step = step;
  if (step > t->max_step) t->max_step = step;
  if (strcmp(t->plugin, "scalars") == 0 && v->has_number) {
    t->has_last = 1;
    t->last = v->number;
    double *vv = grow(t->values, &t->capvalues, t->nvalues, sizeof *vv);
    if (!vv) return -1;
    t->values = vv;
    vv[t->nvalues++] = v->number;
  } else if (strcmp(t->plugin, "text") == 0 && v->kind == TBT_VALUE_TENSOR && v->nstrings) {
    char *s = malloc(v->string_len + 1);
    if (!s) return -1;
    memcpy(s, v->string, v->string_len);
    s[v->string_len] = '\0';
    free(t->last_text);
    t->last_text = s;
  } else if (is_trace_plugin(t->plugin) && v->kind == TBT_VALUE_TENSOR && v->nstrings) {
    export_rec *e = grow(t->exports, &t->capexports, t->nexports, sizeof *e);
    if (!e) return -1;
    t->exports = e;
    e = &e[t->nexports++];
    memset(e, 0, sizeof *e);
    e->step = step;
    tbt_run_metadata_counts(v->string, v->string_len, &e->spans, &e->nodes);
  }
  return 0;
}

/* One more point of tag (graphs and tagged run metadata). */
static int add_point(run_info *r, const char *tag, const char *plugin, int64_t step) {
  tag_info *t = get_tag(r, tag, plugin);
  if (!t) return -1;
  t->count++;
  if (step < t->min_step) t->min_step = step;
  if (step > t->max_step) t->max_step = step;
  return 0;
}

static int add_event(run_info *r, const uint8_t *data, size_t len) {
  tbt_event ev;
  int rc = tbt_event_decode(data, len, &ev);
  if (rc == TBT_ENOMEM) return -1;
  if (rc) {
    r->damaged++;
    return 0;
  }
  r->events++;
  if (ev.wall_time > r->last_wall) r->last_wall = ev.wall_time;
  if (ev.kind == TBT_EVENT_SUMMARY) {
    for (size_t i = 0; i < ev.nvalues && !rc; i++) rc = add_value(r, ev.step, &ev.values[i]);
  } else if (ev.kind == TBT_EVENT_GRAPH) {
    rc = add_point(r, "(graph)", "graph", ev.step);
  } else if (ev.kind == TBT_EVENT_RUN_METADATA) {
    rc = add_point(r, ev.run_metadata_tag, "run_metadata", ev.step);
  }
  tbt_event_clear(&ev);
  return rc;
}

/* The run a path under root belongs to: its directory relative to root ("." for root itself). */
static void run_name_of(const char *root, const char *path, char *out, size_t size) {
  const char *slash = strrchr(path, '/');
  size_t dlen = slash ? (size_t)(slash - path) : 0;
  size_t rlen = strlen(root);
  while (rlen > 1 && root[rlen - 1] == '/') rlen--;
  if (dlen >= rlen && strncmp(path, root, rlen) == 0 && (dlen == rlen || path[rlen] == '/')) {
    const char *rel = path + rlen + (dlen > rlen ? 1 : 0);
    size_t n = dlen > rlen ? dlen - rlen - 1 : 0;
    if (n == 0) snprintf(out, size, ".");
    else snprintf(out, size, "%.*s", (int)n, rel);
  } else {
    snprintf(out, size, "%.*s", (int)(dlen ? dlen : 1), dlen ? path : ".");
  }
}

static int read_file(ls_state *s, const char *root, const char *path) {
  char name[4096];
  run_name_of(root, path, name, sizeof name);
  run_info *r = get_run(s, name);
  if (!r) return -1;
  tbt_reader *rd;
  int rc = tbt_reader_open(&rd, path);
  if (rc) {
    fprintf(stderr, TOOL ": %s: %s\n", path, tbt_strerror(rc));
    r->damaged++;
    return 0;
  }
  const uint8_t *data;
  size_t len;
  int first = 1;
  while ((rc = tbt_reader_next(rd, &data, &len, NULL)) == 0) {
    if (first) r->files++;   /* the profiler's empty marker files are not counted */
    first = 0;
    if (add_event(r, data, len)) {
      tbt_reader_close(rd);
      return -1;
    }
  }
  if (rc != TBT_EOF) {
    fprintf(stderr, TOOL ": %s: %s\n", path, tbt_reader_error(rd));
    r->damaged++;
  }
  tbt_reader_close(rd);
  return 0;
}

/* ------------------------------------------------------------------ profile runs */

static ls_state *g_state;
static const char *g_root;

/* .../<run>/plugins/profile/<profile run>/<host>.xplane.pb (or .trace.json.gz) */
static int visit_profile(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  if (type != FTW_F || !S_ISREG(st->st_mode)) return 0;
  const char *base = path + ftw->base;
  size_t blen = strlen(base);
  static const char *const suffixes[] = {".xplane.pb", ".trace.json.gz"};
  size_t hlen = 0;
  for (int i = 0; i < 2 && !hlen; i++) {
    size_t sl = strlen(suffixes[i]);
    if (blen > sl && strcmp(base + blen - sl, suffixes[i]) == 0) hlen = blen - sl;
  }
  if (!hlen) return 0;
  /* the directory of the profile run, and the run above plugins/profile */
  size_t dlen = (size_t)ftw->base - 1;
  const char *mark = NULL;
  for (const char *p = path; (p = strstr(p, "/plugins/profile/")) && (size_t)(p - path) < dlen; p++) mark = p;
  if (!mark && strncmp(path, "plugins/profile/", 16) == 0) mark = path - 1;
  if (!mark) return 0;
  const char *prun = mark + strlen("/plugins/profile/");
  if (prun > path + dlen || memchr(prun, '/', (size_t)(path + dlen - prun))) return 0;
  char runpath[4096], name[4096], prof[4096];
  snprintf(runpath, sizeof runpath, "%.*s/x", (int)(mark - path), mark > path ? path : ".");
  run_name_of(g_root, runpath, name, sizeof name);
  run_info *r = get_run(g_state, name);
  if (!r) return 1;
  snprintf(prof, sizeof prof, "%.*s", (int)(path + dlen - prun), prun);
  /* one line per profile run: "<dir>: host host ..."; a host already listed is not repeated */
  size_t plen = strlen(prof);
  char host[512];
  snprintf(host, sizeof host, "%.*s", (int)hlen, base);
  for (size_t i = 0; i < r->nprofiles; i++) {
    char *line = r->profiles[i];
    if (strncmp(line, prof, plen) != 0 || line[plen] != ':') continue;
    for (char *h = line + plen + 1; (h = strstr(h, host)); h++)
      if (h[-1] == ' ' && (h[strlen(host)] == '\0' || h[strlen(host)] == ' ')) return 0;
    size_t n = strlen(line) + strlen(host) + 2;
    char *nl = realloc(line, n);
    if (!nl) return 1;
    strcat(nl, " ");
    strcat(nl, host);
    r->profiles[i] = nl;
    return 0;
  }
  char **v = grow(r->profiles, &r->capprofiles, r->nprofiles, sizeof *v);
  if (!v) return 1;
  r->profiles = v;
  size_t n = plen + strlen(host) + 3;
  if (!(v[r->nprofiles] = malloc(n))) return 1;
  snprintf(v[r->nprofiles++], n, "%s: %s", prof, host);
  return 0;
}

/* ------------------------------------------------------------------ printing */

static int by_run(const void *a, const void *b) {
  return strcmp(((const run_info *)a)->name, ((const run_info *)b)->name);
}

static int by_plugin_tag(const void *a, const void *b) {
  const tag_info *x = a, *y = b;
  int c = strcmp(x->plugin, y->plugin);
  return c ? c : strcmp(x->name, y->name);
}

static int by_string(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Eight block heights per column; each column the mean of its share of the points. */
static void print_sparkline(const double *v, size_t n) {
  static const char *const bars[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  size_t cols = n < SPARK_WIDTH ? n : SPARK_WIDTH;
  double col[SPARK_WIDTH];
  double lo = INFINITY, hi = -INFINITY;
  for (size_t c = 0; c < cols; c++) {
    size_t a = c * n / cols, b = (c + 1) * n / cols;
    double sum = 0;
    for (size_t i = a; i < b; i++) sum += v[i];
    col[c] = sum / (double)(b - a);
    if (isfinite(col[c])) {
      if (col[c] < lo) lo = col[c];
      if (col[c] > hi) hi = col[c];
    }
  }
  for (size_t c = 0; c < cols; c++) {
    if (!isfinite(col[c])) {
      fputs(" ", stdout);
      continue;
    }
    int k = hi > lo ? (int)((col[c] - lo) / (hi - lo) * 7.0 + 0.5) : 3;
    fputs(bars[k < 0 ? 0 : k > 7 ? 7 : k], stdout);
  }
}

static void print_steps(const tag_info *t, int more) {
  char buf[64];
  if (t->min_step == t->max_step) snprintf(buf, sizeof buf, "step %" PRId64, t->min_step);
  else snprintf(buf, sizeof buf, "steps %" PRId64 "..%" PRId64, t->min_step, t->max_step);
  printf(more ? "  %-22s" : "  %s", buf);
}

/* A text value on one line, cut at TEXT_WIDTH bytes (on a UTF-8 boundary). */
static void print_text(const char *s) {
  putchar('"');
  size_t n = 0;
  for (; *s && n < TEXT_WIDTH; s++, n++) {
    if (*s == '\n') fputs("\\n", stdout);
    else if (*s == '"') fputs("\\\"", stdout);
    else if ((unsigned char)*s < 0x20) putchar(' ');
    else putchar(*s);
  }
  while (*s && ((unsigned char)*s & 0xC0) == 0x80) putchar(*s++);
  putchar('"');
  if (*s) fputs("...", stdout);
}

static void print_run(const run_info *r) {
  printf("run %s: %zu event file%s, %zu event%s", r->name, r->files, r->files == 1 ? "" : "s", r->events,
         r->events == 1 ? "" : "s");
  if (r->last_wall > 0) {
    time_t t = (time_t)r->last_wall;
    struct tm tm;
    char when[64];
    if (gmtime_r(&t, &tm) && strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm))
      printf(", last written %s", when);
  }
  if (r->damaged) printf(", %zu damaged (see tbtrace cat)", r->damaged);
  putchar('\n');
  int w = 4;
  for (size_t i = 0; i < r->ntags; i++)
    if ((int)strlen(r->tags[i].name) > w) w = (int)strlen(r->tags[i].name);
  if (w > 40) w = 40;
  const char *plugin = NULL;
  for (size_t i = 0; i < r->ntags; i++) {
    const tag_info *t = &r->tags[i];
    if (is_trace_plugin(t->plugin)) continue;
    if (!plugin || strcmp(plugin, t->plugin) != 0) {
      size_t n = 0;
      for (size_t j = i; j < r->ntags && strcmp(r->tags[j].plugin, t->plugin) == 0; j++) n++;
      plugin = t->plugin;
      printf("  %s (%zu tag%s)\n", plugin, n, n == 1 ? "" : "s");
    }
    printf("    %-*s  %6zu point%s", w, t->name, t->count, t->count == 1 ? " " : "s");
    print_steps(t, t->has_last || t->last_text);
    if (t->has_last) {
      printf("  last %-12.6g  ", t->last);
      print_sparkline(t->values, t->nvalues);
    } else if (t->last_text) {
      fputs("  last ", stdout);
      print_text(t->last_text);
    }
    putchar('\n');
  }
  int traces = 0;
  for (size_t i = 0; i < r->ntags; i++) {
    const tag_info *t = &r->tags[i];
    if (!is_trace_plugin(t->plugin)) continue;
    if (!traces++) puts("  exported traces");
    for (size_t k = 0; k < t->nexports; k++)
      printf("    %-*s  step %-8" PRId64 "  %" PRIu64 " span%s, %" PRIu64 " path%s%s\n", w, t->name,
             t->exports[k].step, t->exports[k].spans, t->exports[k].spans == 1 ? "" : "s", t->exports[k].nodes,
             t->exports[k].nodes == 1 ? "" : "s", strcmp(t->plugin, "graph_run_metadata") == 0 ? ", profiled" : "");
  }
  if (r->nprofiles) {
    puts("  profile runs (plugins/profile)");
    for (size_t i = 0; i < r->nprofiles; i++) printf("    %s\n", r->profiles[i]);
  }
}

static void free_state(ls_state *s) {
  for (size_t i = 0; i < s->nruns; i++) {
    run_info *r = &s->runs[i];
    for (size_t j = 0; j < r->ntags; j++) {
      free(r->tags[j].name);
      free(r->tags[j].plugin);
      free(r->tags[j].values);
      free(r->tags[j].last_text);
      free(r->tags[j].exports);
    }
    free(r->tags);
    for (size_t j = 0; j < r->nprofiles; j++) free(r->profiles[j]);
    free(r->profiles);
    free(r->name);
  }
  free(s->runs);
  memset(s, 0, sizeof *s);
}

static void usage(FILE *f) {
  fputs("usage: tbtrace ls LOGDIR...\n"
        "Lists what a logdir holds: per run, tags by plugin with point counts, step ranges, last\n"
        "values and a sparkline per scalar tag, exported traces, and profile runs with their hosts.\n"
        "Exit status: 0 listed cleanly, 1 some event file is damaged, 2 usage or I/O error, or a\n"
        "path with no event files.\n",
        f);
}

/* Lists one path; returns the exit status it earns. */
static int ls_path(const char *root) {
  tbt_paths found = {0};
  if (tbt_logdir_find(TOOL, root, &found) != 0) return 2;
  ls_state s = {0};
  int status = 0;
  for (size_t i = 0; i < found.n && !status; i++)
    if (read_file(&s, root, found.v[i])) status = 2;
  tbt_paths_free(&found);
  struct stat st;
  if (!status && stat(root, &st) == 0 && S_ISDIR(st.st_mode)) {
    g_state = &s;
    g_root = root;
    if (nftw(root, visit_profile, 32, FTW_PHYS) != 0) status = 2;
    g_state = NULL;
  }
  if (status) {
    fprintf(stderr, TOOL ": %s: out of memory or unreadable\n", root);
    free_state(&s);
    return 2;
  }
  size_t events = 0;
  for (size_t i = 0; i < s.nruns; i++) events += s.runs[i].events + s.runs[i].nprofiles;
  if (events == 0) {
    fprintf(stderr, TOOL ": %s: no event files (files named *tfevents*) with events\n", root);
    free_state(&s);
    return 2;
  }
  qsort(s.runs, s.nruns, sizeof *s.runs, by_run);
  printf("%s\n", root);
  for (size_t i = 0; i < s.nruns; i++) {
    run_info *r = &s.runs[i];
    qsort(r->tags, r->ntags, sizeof *r->tags, by_plugin_tag);
    qsort(r->profiles, r->nprofiles, sizeof *r->profiles, by_string);
    print_run(r);
    if (r->damaged) status = 1;
  }
  free_state(&s);
  return status;
}

int tbt_ls_main(int argc, char **argv) {
  int i = 1;
  if (i < argc && (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)) {
    usage(stdout);
    return 0;
  }
  if (i < argc && strcmp(argv[i], "--") == 0) i++;
  if (i >= argc) {
    usage(stderr);
    return 2;
  }
  int status = 0;
  for (; i < argc; i++) {
    int s = ls_path(argv[i]);
    if (s > status) status = s;
  }
  fflush(stdout);
  return status;
}

/*
** test_multiprocess.c: several processes writing into one logdir at once. Forked children, let go
** together at the start of a second, each open a writer on the same logdir, write scalars and
** export a trace with the profiler on: every child must get its own event file, named after its
** pid, holding exactly its own events, and its own profile run, holding exactly its own spans.
** Then the same profile run name, host and time from several processes at once (no run is
** shared, no file half-written), and a process whose export fails after another process's
** export relied on the first one's ".profile-empty" marker: undoing must leave the marker.
*/
#include "check.h"
#include "gunzip.h"
#include "testutil.h"

#include "encoders.h"
#include "fs.h"
#include "tbtrace.h"

#include "run_metadata.pb-c.h"
#include "xplane.pb-c.h"

#include <sys/wait.h>
#include <time.h>

#define K 4         /* processes */
#define M 50        /* scalars each */

typedef struct report {
  int rc;             /* problems the child saw */
  char event_path[1024];
  char run_dir[1024];
  char xplane[1024];
  char chrome[1024];
  char marker[1024];  /* the marker this process created and owns, or "" */
} report;

static void sleep_ms(int ms) {
  struct timespec ts = {0, (long)ms * 1000000L};
  nanosleep(&ts, NULL);
}

static void copy(char *dst, const char *src) {
  snprintf(dst, 1024, "%s", src ? src : "");
}

static void write_report(const char *base, int i, const report *r) {
  char path[4200];
  snprintf(path, sizeof path, "%s/report.%d", base, i);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(r, sizeof *r, 1, f) != 1) _exit(3);
  fclose(f);
}

static int read_report(const char *base, int i, report *r) {
  char path[4200];
  snprintf(path, sizeof path, "%s/report.%d", base, i);
  size_t len;
  uint8_t *data = tu_read_file(path, &len);
  int ok = data && len == sizeof *r;
  if (ok) memcpy(r, data, sizeof *r);
  free(data);
  return ok;
}

/* A one-byte-per-child barrier: children say they are ready, then wait until the parent closes
** the go pipe, which lets them all go at the same instant. */
typedef struct gate {
  int ready[2], go[2];
} gate;

static void gate_open_pipes(gate *g) {
  if (pipe(g->ready) || pipe(g->go)) abort();
}

static void gate_child_wait(gate *g) {
  close(g->go[1]);
  close(g->ready[0]);
  if (write(g->ready[1], "r", 1) != 1) _exit(3);
  char c;
  while (read(g->go[0], &c, 1) < 0 && errno == EINTR) {
  }
}

static void gate_parent_release(gate *g, int n, int align) {
  close(g->ready[1]);
  close(g->go[0]);
  for (int got = 0; got < n;) {
    char c;
    ssize_t r = read(g->ready[0], &c, 1);
    if (r == 1) got++;
    else if (r == 0 || errno != EINTR) break;
  }
  /* With most of a second ahead, the children very likely all act within the same second. */
  while (align) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_nsec < 300000000L) break;
    sleep_ms(10);
  }
  close(g->go[1]);
  close(g->ready[0]);
}

static int wait_children(const pid_t *pids, int n) {
  int ok = 0;
  for (int i = 0; i < n; i++) {
    int status;
    if (waitpid(pids[i], &status, 0) == pids[i] && WIFEXITED(status) && WEXITSTATUS(status) == 0) ok++;
    else fprintf(stderr, "child %d (pid %ld) failed: status %d\n", i, (long)pids[i], status);
  }
  return ok;
}

/* The XSpace at path: its one line's name (static buffer), or NULL. */
static const char *xspace_line_name(const char *path, const char *host, int *nevents) {
  static char name[256];
  size_t len;
  uint8_t *data = tu_read_file(path, &len);
  if (!data) return NULL;
  Tensorflow__Profiler__XSpace *xs = tensorflow__profiler__xspace__unpack(NULL, len, data);
  free(data);
  if (!xs) return NULL;
  const char *res = NULL;
  if (xs->n_hostnames == 1 && strcmp(xs->hostnames[0], host) == 0 && xs->n_planes == 1 &&
      xs->planes[0]->n_lines == 1) {
    snprintf(name, sizeof name, "%s", xs->planes[0]->lines[0]->name);
    *nevents = (int)xs->planes[0]->lines[0]->n_events;
    res = name;
  }
  tensorflow__profiler__xspace__free_unpacked(xs, NULL);
  return res;
}

/* 1 when the gzip'ed Chrome trace at path names process pid and holds the string want. */
static int chrome_has(const char *path, long pid, const char *want) {
  size_t len, n;
  uint8_t *z = tu_read_file(path, &len);
  uint8_t *json = z ? tu_gunzip(z, len, &n) : NULL;
  char pidstr[64];
  snprintf(pidstr, sizeof pidstr, "\"pid\":%ld,", pid);
  int ok = json && strstr((char *)json, pidstr) && strstr((char *)json, want);
  free(json);
  free(z);
  return ok;
}

/* Run directory names: base, then base_1, base_2, ... as taken. 1 when names (n of them, all
** sharing one base) are exactly base, base_1, ..., base_<n-1>. */
static int contiguous_runs(char names[][256], int n, const char *base) {
  for (int want = 0; want < n; want++) {
    char w[300];
    if (want) snprintf(w, sizeof w, "%s_%d", base, want);
    else snprintf(w, sizeof w, "%s", base);
    int found = 0;
    for (int i = 0; i < n; i++) found += strcmp(names[i], w) == 0;
    if (found != 1) return 0;
  }
  return 1;
}

/* ------------------------------------------------------------ one logdir, K writers */

static void child_same_logdir(int i, gate *g, const char *logdir, const char *base) {
  gate_child_wait(g);
  report r;
  memset(&r, 0, sizeof r);
  tbt_writer *w;
  if (tbt_writer_open(&w, logdir, NULL) != 0) _exit(4);
  tbt_set_default_writer(w);
  char tag[32], name[32];
  snprintf(tag, sizeof tag, "c%d", i);
  for (int j = 0; j < M; j++)
    if (tbt_scalar(tag, i * 1000 + j, TBT_STEP(j), NULL) != 1) r.rc++;
  tbt_trace_options o;
  tbt_trace_options_init(&o);
  o.profiler = 1;
  if (tbt_trace_on(&o) != 0) r.rc++;
  snprintf(name, sizeof name, "child%d", i);
  tbt_thread_name(name);
  TBT_SPAN(name) {
    TBT_SPAN("work") {
    }
  }
  snprintf(tag, sizeof tag, "trace_c%d", i);
  tbt_export_result er;
  if (tu_export(tag, TBT_STEP(i), NULL, &er) != 0) r.rc++;
  copy(r.event_path, tbt_writer_path(w));
  copy(r.run_dir, tbt_export_result_path(&er, "profile_dir"));
  copy(r.xplane, tbt_export_result_path(&er, "xplane"));
  copy(r.chrome, tbt_export_result_path(&er, "chrome_trace"));
  /* The summary's event file is listed too: the writer's file. */
  if (!tbt_export_result_path(&er, "events") ||
      strcmp(tbt_export_result_path(&er, "events"), tbt_writer_path(w)) != 0) r.rc++;
  tbt_export_result_free(&er);
  tbt_set_default_writer(NULL);
  tbt_writer_free(w);
  write_report(base, i, &r);
  _exit(r.rc ? 1 : 0);
}

/* The child's event file: its scalars in order, then its trace summary; returns problems. */
static int check_child_events(const char *path, int i) {
  tu_events r = tu_read_events(path);
  int bad = r.bad || !tu_canonical(&r) || r.n != 1 + M + 1;
  if (bad) goto out;
  if (r.ev[0]->what_case != TENSORFLOW__EVENT__WHAT_FILE_VERSION) bad++;
  char tag[32];
  snprintf(tag, sizeof tag, "c%d", i);
  for (int j = 0; j < M; j++) {
    const Tensorflow__Event *e = r.ev[1 + j];
    const Tensorflow__Summary__Value *v = tu_value(e);
    float f;
    if (!v || strcmp(v->tag, tag) || e->step != j || !v->tensor || v->tensor->tensor_content.len != 4) {
      bad++;
      continue;
    }
    memcpy(&f, v->tensor->tensor_content.data, 4);
    if (f != (float)(i * 1000 + j)) bad++;
  }
  const Tensorflow__Event *e = r.ev[1 + M];
  const Tensorflow__Summary__Value *v = tu_value(e);
  snprintf(tag, sizeof tag, "trace_c%d", i);
  if (!v || strcmp(v->tag, tag) || e->step != i || !v->tensor || v->tensor->n_string_val != 1) {
    bad++;
    goto out;
  }
  Tensorflow__RunMetadata *rm = tensorflow__run_metadata__unpack(NULL, v->tensor->string_val[0].len,
                                                                 v->tensor->string_val[0].data);
  char span[32], child[40];
  snprintf(span, sizeof span, "child%d", i);
  snprintf(child, sizeof child, "child%d/work", i);
  if (!rm || !rm->step_stats || rm->step_stats->n_dev_stats != 1 || rm->n_function_graphs != 1) {
    bad++;
  } else {
    const Tensorflow__DeviceStepStats *d = rm->step_stats->dev_stats[0];
    if (d->n_node_stats != 2 || strcmp(d->node_stats[0]->node_name, span) ||
        strcmp(d->node_stats[1]->node_name, child) || d->n_thread_names != 1 ||
        strcmp(d->thread_names[0]->value, span))
      bad++;
  }
  if (rm) tensorflow__run_metadata__free_unpacked(rm, NULL);
out:
  tu_events_free(&r);
  return bad;
}

/* Forks K children running child(i, g, dir, base); each child ends in _exit. */
typedef void child_fn(int i, gate *g, const char *dir, const char *base);
static void fork_children(pid_t *pids, child_fn *child, gate *g, const char *dir, const char *base) {
  fflush(NULL);
  for (int i = 0; i < K; i++) {
    pids[i] = fork();
    if (pids[i] < 0) abort();
    if (pids[i] == 0) child(i, g, dir, base);
  }
}

static void test_same_logdir(void) {
  const char *base0 = tu_tmpdir("multiprocess");
  char base[4096], logdir[4200], root[4300];
  snprintf(base, sizeof base, "%s", base0);
  mkdir(base, 0755);
  snprintf(logdir, sizeof logdir, "%s/logs", base);
  snprintf(root, sizeof root, "%s/plugins/profile", logdir);
  char host[256], phost[256];
  tbt_hostname(host, sizeof host);
  tbt_profile_host(phost, sizeof phost);

  gate g;
  gate_open_pipes(&g);
  pid_t pids[K];
  fork_children(pids, child_same_logdir, &g, logdir, base);
  time_t t0 = time(NULL);
  gate_parent_release(&g, K, 1);
  CHECK_EQ_INT(wait_children(pids, K), K);
  time_t t1 = time(NULL);

  /* K event files, one per child, named after its pid, and nothing else but plugins/. */
  CHECK_EQ_INT(tu_count_entries(logdir, ""), K + 1);
  CHECK_EQ_INT(tu_count_entries(logdir, "tfevents"), K);
  CHECK_EQ_INT(tu_count_entries(logdir, "profile-empty"), 0);
  CHECK_EQ_INT(tu_count_tree(logdir, ".tmp"), 0);
  int claimed[K] = {0};
  DIR *d = opendir(logdir);
  struct dirent *e;
  while (d && (e = readdir(d))) {
    if (!strstr(e->d_name, "tfevents")) continue;
    const char *p = e->d_name + strlen("events.out.tfevents.");
    int digits = 0;
    while (p[digits] >= '0' && p[digits] <= '9') digits++;
    CHECK(strncmp(e->d_name, "events.out.tfevents.", 20) == 0 && digits == 10 && p[10] == '.');
    long long secs = atoll(p);
    CHECK(secs >= t0 && secs <= t1);
    int who = -1;
    for (int i = 0; i < K; i++) {
      char want[512];
      snprintf(want, sizeof want, "events.out.tfevents.%010lld.%s.%ld.0.v2", secs, host,
               (long)pids[i]);
      if (strcmp(e->d_name, want) == 0) who = i;
    }
    CHECK(who >= 0);
    if (who < 0) continue;
    claimed[who]++;
    char path[4600];
    snprintf(path, sizeof path, "%s/%s", logdir, e->d_name);
    CHECK_EQ_INT(check_child_events(path, who), 0);
  }
  if (d) closedir(d);
  for (int i = 0; i < K; i++) CHECK_EQ_INT(claimed[i], 1);

  /* K profile runs, one per child, each holding that child's XSpace and Chrome trace only. */
  CHECK_EQ_INT(tu_count_entries(root, ""), K);
  char runs[K][256];
  int nruns = 0, owner[K] = {0};
  for (int i = 0; i < K; i++) {
    report r;
    CHECK(read_report(base, i, &r));
    char want[4600];
    snprintf(want, sizeof want, "%s/", logdir);
    CHECK(strncmp(r.event_path, want, strlen(want)) == 0);
    CHECK(strncmp(r.run_dir, root, strlen(root)) == 0 && r.run_dir[strlen(root)] == '/');
    if (nruns < K) snprintf(runs[nruns++], 256, "%s", r.run_dir + strlen(root) + 1);
    CHECK_EQ_INT(tu_count_entries(r.run_dir, ""), 2);
    snprintf(want, sizeof want, "%s/%s.xplane.pb", r.run_dir, phost);
    CHECK_EQ_STR(r.xplane, want);
    snprintf(want, sizeof want, "%s/%s.trace.json.gz", r.run_dir, phost);
    CHECK_EQ_STR(r.chrome, want);
    int nev = 0, who = -1;
    const char *line = xspace_line_name(r.xplane, phost, &nev);
    CHECK(line && sscanf(line, "child%d", &who) == 1 && who == i && nev == 2);
    if (who >= 0 && who < K) owner[who]++;
    char span[64];
    snprintf(span, sizeof span, "\"name\":\"child%d\"", i);
    CHECK(chrome_has(r.chrome, (long)pids[i], span));
  }
  for (int i = 0; i < K; i++) CHECK_EQ_INT(owner[i], 1);
  /* Runs of one second are <stamp>, <stamp>_1, ...: each process claimed the first free name. */
  int same_second = 0;
  for (time_t t = t0; t <= t1; t++) {
    struct tm tm;
    char stamp[64];
    localtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, "%Y_%m_%d_%H_%M_%S", &tm);
    char group[K][256];
    int n = 0;
    for (int i = 0; i < nruns; i++) {
      size_t sl = strlen(stamp);
      if (strncmp(runs[i], stamp, sl) == 0 && (runs[i][sl] == '\0' || runs[i][sl] == '_'))
        snprintf(group[n++], 256, "%s", runs[i]);
    }
    if (n > same_second) same_second = n;
    CHECK(contiguous_runs(group, n, stamp));
  }
  if (getenv("TBT_TEST_VERBOSE"))
    fprintf(stderr, "%d of %d profile runs in the same second\n", same_second, K);
}

/* ------------------------------------------------------------ one run name, K processes */

/* A model of one thread named name with one span. */
typedef struct small_model {
  const char *names[3];
  tbt_model_span span;
  tbt_model_thread thread;
  tbt_trace_model m;
} small_model;

static void small_model_init(small_model *s, const char *name, uint64_t tid) {
  memset(s, 0, sizeof *s);
  s->names[0] = "";
  s->names[1] = name;
  s->names[2] = "span";
  s->span = (tbt_model_span){2, 2, 0, -1, 0, 0, 1700000000000000000LL, 1700000000000001000LL};
  s->thread = (tbt_model_thread){tid, 1, &s->span, 1, NULL, 0, NULL, 0};
  s->m.names = s->names;
  s->m.nnames = 3;
  s->m.threads = &s->thread;
  s->m.nthreads = 1;
  s->m.start_ns = s->span.start_ns;
  s->m.end_ns = s->span.end_ns;
  s->m.profiler = 1;
}

static void profile_options(tbt_profile_options *po, const char *outdir) {
  memset(po, 0, sizeof *po);
  po->outdir = outdir;
  po->run_name = "same";
  po->host = "hostA";
  po->when = 1700000000;
  po->gzip_level = -1;
  po->process_name = "child";
}

static void report_paths(report *r, const tbt_profile_paths *p) {
  copy(r->run_dir, p->run_dir);
  copy(r->xplane, tbt_profile_path(p, "xplane"));
  copy(r->chrome, tbt_profile_path(p, "chrome_trace"));
  copy(r->marker, p->marker_path);
}

static void child_same_run(int i, gate *g, const char *outdir, const char *base) {
  char name[32];
  snprintf(name, sizeof name, "child%d", i);
  small_model s;
  small_model_init(&s, name, 1000 + (uint64_t)i);
  tbt_profile_options po;
  profile_options(&po, outdir);
  gate_child_wait(g);
  report r;
  memset(&r, 0, sizeof r);
  tbt_profile_paths p;
  r.rc = tbt_profile_write(&s.m, &po, &p) != 0;
  report_paths(&r, &p);
  tbt_profile_paths_free(&p);
  write_report(base, i, &r);
  _exit(r.rc);
}

static void test_same_run_name(void) {
  const char *base0 = tu_tmpdir("samerun");
  char base[4096], outdir[4200], root[4300];
  snprintf(base, sizeof base, "%s", base0);
  mkdir(base, 0755);
  snprintf(outdir, sizeof outdir, "%s/out", base);
  snprintf(root, sizeof root, "%s/plugins/profile", outdir);
  gate g;
  gate_open_pipes(&g);
  pid_t pids[K];
  fork_children(pids, child_same_run, &g, outdir, base);
  gate_parent_release(&g, K, 0);
  CHECK_EQ_INT(wait_children(pids, K), K);

  char runs[K][256];
  int owner[K] = {0};
  for (int i = 0; i < K; i++) {
    report r;
    CHECK(read_report(base, i, &r));
    CHECK(strncmp(r.run_dir, root, strlen(root)) == 0 && r.run_dir[strlen(root)] == '/');
    snprintf(runs[i], 256, "%s", r.run_dir + strlen(root) + 1);
    CHECK_EQ_INT(tu_count_entries(r.run_dir, ""), 2);
    char want[4600];
    snprintf(want, sizeof want, "%s/hostA.xplane.pb", r.run_dir);
    CHECK_EQ_STR(r.xplane, want);
    int nev = 0, who = -1;
    const char *line = xspace_line_name(r.xplane, "hostA", &nev);
    CHECK(line && sscanf(line, "child%d", &who) == 1 && who == i && nev == 1);
    if (who >= 0 && who < K) owner[who]++;
    CHECK(chrome_has(r.chrome, (long)pids[i], "\"name\":\"span\""));
  }
  for (int i = 0; i < K; i++) CHECK_EQ_INT(owner[i], 1);
  CHECK_EQ_INT(tu_count_entries(root, ""), K);
  CHECK(contiguous_runs(runs, K, "same"));
  /* One marker, whoever wrote it, complete; no temporary file left anywhere. */
  CHECK_EQ_INT(tu_count_entries(outdir, "profile-empty"), 1);
  char marker[4400];
  snprintf(marker, sizeof marker, "%s/events.out.tfevents.1700000000.hostA.profile-empty", outdir);
  CHECK_EQ_INT(tu_count_records(marker), 1);
  CHECK_EQ_INT(tu_count_tree(outdir, ".tmp"), 0);
}

/* ------------------------------------------------------------ a failed export and the marker */

/* Process A writes the first profile into an empty outdir (so it writes the marker) and then
** fails, as trace_export does when its summary cannot be written after the profile files: it
** removes what it wrote. Process B exported in between and found the marker already there. */
static void child_undo(int i, int cmd_fd, int done_fd, const char *outdir, const char *base) {
  small_model s;
  small_model_init(&s, i == 0 ? "A" : "B", 1000 + (uint64_t)i);
  tbt_profile_options po;
  profile_options(&po, outdir);
  report r;
  memset(&r, 0, sizeof r);
  tbt_profile_paths p;
  r.rc = tbt_profile_write(&s.m, &po, &p) != 0;
  report_paths(&r, &p);
  write_report(base, i, &r);
  if (write(done_fd, "d", 1) != 1) _exit(3);
  if (i == 0) {
    char c;
    while (read(cmd_fd, &c, 1) < 0 && errno == EINTR) {
    }
    tbt_profile_remove(&p);
  }
  tbt_profile_paths_free(&p);
  _exit(r.rc);
}

static void test_failed_export_keeps_marker(void) {
  const char *base0 = tu_tmpdir("undo");
  char base[4096], outdir[4200];
  snprintf(base, sizeof base, "%s", base0);
  mkdir(base, 0755);
  snprintf(outdir, sizeof outdir, "%s/out", base);
  int cmd[2], done[2];
  if (pipe(cmd) || pipe(done)) abort();
  pid_t pids[2];
  fflush(NULL);
  for (int i = 0; i < 2; i++) {
    pids[i] = fork();
    if (pids[i] < 0) abort();
    if (pids[i] == 0) {
      close(cmd[1]);
      close(done[0]);
      child_undo(i, cmd[0], done[1], outdir, base);
    }
    char c;
    CHECK(read(done[0], &c, 1) == 1);   /* A has written before B starts */
  }
  close(cmd[1]);   /* now A undoes */
  close(cmd[0]);
  close(done[1]);
  close(done[0]);
  CHECK_EQ_INT(wait_children(pids, 2), 2);
  report a, b;
  CHECK(read_report(base, 0, &a) && read_report(base, 1, &b));
  CHECK(a.marker[0] != '\0');   /* A made outdir a run */
  CHECK_EQ_STR(b.marker, "");   /* B found it one */
  struct stat st;
  CHECK(stat(a.run_dir, &st) != 0);   /* A's run is gone ... */
  CHECK(stat(b.xplane, &st) == 0);    /* ... B's stays, and so must what makes outdir a run */
  CHECK_EQ_INT(tu_count_entries(outdir, "profile-empty"), 1);
  CHECK(stat(a.marker, &st) == 0);

  /* Once no run is left, the marker goes with the last one its writer removes. */
  tbt_profile_paths p;
  memset(&p, 0, sizeof p);
  p.run_dir = b.run_dir;
  p.files[0] = b.xplane;   /* the formats' rows: xplane, chrome_trace */
  p.files[1] = b.chrome;
  tbt_profile_remove(&p);
  CHECK_EQ_INT(tu_count_entries(outdir, "profile-empty"), 1);   /* B never owned it */
  p.run_dir = a.run_dir;
  p.files[0] = a.xplane;
  p.files[1] = a.chrome;
  p.marker_path = a.marker;
  tbt_profile_remove(&p);   /* A's undo again, now with no run left */
  CHECK_EQ_INT(tu_count_entries(outdir, "profile-empty"), 0);
}

int main(void) {
  test_same_logdir();
  test_same_run_name();
  test_failed_export_keeps_marker();
  return CHECK_DONE();
}

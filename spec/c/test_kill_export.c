/*
** test_kill_export.c: exporters killed with SIGKILL at random moments, 50 rounds into one outdir,
** two processes per round joining each other's runs (two ranks of one job on one host). Every
** file in a profile run is complete under its final name (nothing temporary, every .xplane.pb
** decodes, every .trace.json.gz inflates to a whole document), every run directory has an
** .xplane.pb for each of its hosts' traces, and after the next export nothing of the dead
** exporters is left, neither in the staging directory nor in outdir.
*/
#include "check.h"
#include "gunzip.h"
#include "testutil.h"

#include "profile_stage.h"
#include "tbtrace.h"

#include "xplane.pb-c.h"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#define ROUNDS 50
#define RANKS 2

static void sleep_us(long us) {
  struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
  nanosleep(&ts, NULL);
}

/* Exports a trace of a few thousand spans again and again until killed. */
static void child_loop(const char *outdir, int rank) {
  char r[16];
  snprintf(r, sizeof r, "%d", rank);
  setenv("TBTRACE_RANK", r, 1);
  setenv("TBTRACE_WORLD_SIZE", "2", 1);
  setenv("TBTRACE_JOB_ID", "kill", 1);
  tbt_trace_options o;
  tbt_trace_options_init(&o);
  o.profiler = 1;
  for (int i = 0;; i++) {
    tbt_trace_on(&o);
    for (int k = 0; k < 3000; k++) {
      tbt_span_begin("step");
      tbt_span_begin("inner");
      tbt_span_end();
      tbt_span_end();
    }
    if (tbt_trace_export("k", TBT_STEP(i), outdir) != 0) _exit(3);
  }
}

/* Whole gzip file inflated: 1 when it is a complete Chrome trace document. */
static int whole_trace(const char *path) {
  size_t len;
  uint8_t *z = tu_read_file(path, &len);
  if (!z) return 0;
  size_t n = 0;
  uint8_t *out = tu_gunzip(z, len, &n);
  int ok = out && n > 20 && memcmp(out, "{\"traceEvents\":[", 16) == 0 &&
           memcmp(out + n - 3, "}}\n", 3) == 0;
  free(out);
  free(z);
  return ok;
}

static int xplane_decodes(const char *path) {
  size_t len;
  uint8_t *data = tu_read_file(path, &len);
  if (!data) return 0;
  Tensorflow__Profiler__XSpace *xs = tensorflow__profiler__xspace__unpack(NULL, len, data);
  free(data);
  int ok = xs && xs->n_planes == 1 && xs->planes[0]->n_lines >= 1;
  if (xs) tensorflow__profiler__xspace__free_unpacked(xs, NULL);
  return ok;
}

static int has_suffix(const char *s, const char *suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && strcmp(s + a - b, suf) == 0;
}

/* Checks every run below outdir/plugins/profile; returns the number of runs. */
static int check_runs(const char *outdir, int *files) {
  char root[4200];
  snprintf(root, sizeof root, "%s/plugins/profile", outdir);
  DIR *d = opendir(root);
  CHECK(d != NULL);
  if (!d) return 0;
  int runs = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    runs++;
    char run[4500];
    snprintf(run, sizeof run, "%s/%s", root, e->d_name);
    DIR *r = opendir(run);
    CHECK(r != NULL);
    if (!r) continue;
    int xplanes = 0, traces = 0;
    struct dirent *f;
    while ((f = readdir(r))) {
      if (!strcmp(f->d_name, ".") || !strcmp(f->d_name, "..")) continue;
      char p[4800];
      snprintf(p, sizeof p, "%s/%s", run, f->d_name);
      ++*files;
      if (has_suffix(f->d_name, ".xplane.pb")) {
        xplanes++;
        if (!xplane_decodes(p)) {
          fprintf(stderr, "not an XSpace: %s\n", p);
          CHECK(0);
        }
      } else if (has_suffix(f->d_name, ".trace.json.gz")) {
        traces++;
        if (!whole_trace(p)) {
          fprintf(stderr, "not a whole trace: %s\n", p);
          CHECK(0);
        }
        /* its host's .xplane.pb is there too */
        char x[4800];
        snprintf(x, sizeof x, "%.*s.xplane.pb", (int)(strlen(p) - strlen(".trace.json.gz")), p);
        struct stat st;
        if (stat(x, &st) != 0) {
          fprintf(stderr, "trace without its xplane: %s\n", p);
          CHECK(0);
        }
      } else {
        fprintf(stderr, "stray file in a run: %s\n", p);
        CHECK(0);
      }
    }
    closedir(r);
    if (xplanes == 0) fprintf(stderr, "run without an .xplane.pb: %s\n", run);
    CHECK(xplanes > 0);
    CHECK(traces <= xplanes);
  }
  closedir(d);
  return runs;
}

/* Entries of dir whose name contains needle; a directory that is gone holds none. */
static int count(const char *dir, const char *needle) {
  int n = tu_count_entries(dir, needle);
  return n < 0 ? 0 : n;
}

static void test_kill_rounds(void) {
  const char *tmp = tu_tmpdir("kill");
  char outdir[4096];
  snprintf(outdir, sizeof outdir, "%s", tmp);
  char staging[4300];
  snprintf(staging, sizeof staging, "%s/" TBT_STAGE_DIR, outdir);
  unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
  int mid_export = 0;
  for (int round = 0; round < ROUNDS; round++) {
    pid_t pids[RANKS];
    for (int r = 0; r < RANKS; r++) {
      pids[r] = fork();
      if (pids[r] == 0) child_loop(outdir, r);
    }
    sleep_us(5000 + rand_r(&seed) % 60000);
    for (int r = 0; r < RANKS; r++) kill(pids[r], SIGKILL);
    for (int r = 0; r < RANKS; r++) {
      int status;
      waitpid(pids[r], &status, 0);
      CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
      char mine[64];
      snprintf(mine, sizeof mine, ".%ld.", (long)pids[r]);
      mid_export += count(staging, mine) > 0;
    }
  }
  fprintf(stderr, "killed while exporting: %d of %d exporters\n", mid_export, ROUNDS * RANKS);
  CHECK(mid_export > 0);   /* the rounds did hit exports */

  int files = 0;
  int runs_before = check_runs(outdir, &files);
  CHECK(runs_before > 0);
  /* The next export (this process, the same host) settles what the dead left. */
  tbt_trace_options o;
  tbt_trace_options_init(&o);
  o.profiler = 1;
  CHECK_EQ_INT(tbt_trace_on(&o), 0);
  tbt_span_begin("last");
  tbt_span_end();
  tbt_export_request req;
  tbt_export_request_init(&req);
  req.name = "last";
  req.step = TBT_STEP(0);
  req.profiler_outdir = outdir;
  tbt_export_result res;
  CHECK_EQ_INT(tbt_trace_export_ex(&req, &res), 0);
  files = 0;
  int runs = check_runs(outdir, &files);
  CHECK(runs == runs_before || runs == runs_before + 1);   /* a run of this second may be joined */
  struct stat st;
  const char *mine = tbt_export_result_path(&res, "xplane");
  CHECK(mine && stat(mine, &st) == 0);
  tbt_export_result_free(&res);
  CHECK_EQ_INT(count(staging, ""), 0);
  CHECK_EQ_INT(count(outdir, ".tmp"), 0);
  fprintf(stderr, "%d runs, %d files, all whole\n", runs, files);
}

int main(void) {
  test_kill_rounds();
  return CHECK_DONE();
}

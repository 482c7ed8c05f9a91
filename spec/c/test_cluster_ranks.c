/*
** test_cluster_ranks.c: a C host as four ranks of one job (forked, each with a host name of its
** own where a UTS namespace can be made), exporting 20 times each into one outdir with the run
** named as scripts/policies/cluster.lua names it, "<job>-<export_attempt>", through the two-phase
** API. Rank 2's 7th export fails in the middle (its second file cannot be synced) and the rank
** goes on: run 7 holds the other three ranks' files and nothing of rank 2, every other run all
** four, nothing is left in the staging directory, and every file decodes with the rank's task.
*/
#define _GNU_SOURCE
#include "check.h"
#include "testutil.h"

#include "encoders.h"
#include "fs.h"
#include "profile_stage.h"
#include "tbtrace.h"

#include "xplane.pb-c.h"

#include <sched.h>
#include <sys/wait.h>

#define RANKS 4
#define EXPORTS 20
#define FAIL_RANK 2
#define FAIL_AT 7

static int g_fsyncs, g_fail_fsync;   /* fail the g_fail_fsync-th fsync (0: none) */

static int failing_fsync(int fd) {
  if (++g_fsyncs == g_fail_fsync) {
    errno = EIO;
    return -1;
  }
  return fsync(fd);
}

static void host_of(int r, char *buf, size_t n) {
  snprintf(buf, n, "rank-host-%d", r);
}

/* 1 when this process got a host name of its own. */
static int own_host(int r) {
  char h[64];
  host_of(r, h, sizeof h);
  return unshare(CLONE_NEWUTS) == 0 && sethostname(h, strlen(h)) == 0;
}

static void rank_main(int r, const char *outdir) {
  char v[32];
  snprintf(v, sizeof v, "%d", r);
  setenv("TBTRACE_RANK", v, 1);
  setenv("TBTRACE_WORLD_SIZE", "4", 1);
  setenv("TBTRACE_JOB_ID", "cjob", 1);
  own_host(r);
  int bad = 0;
  tbt_trace_options o;
  tbt_trace_options_init(&o);
  o.profiler = 1;
  for (int i = 1; i <= EXPORTS; i++) {
    if (tbt_trace_on(&o) != 0) bad++;
    TBT_SPAN("step") {
      char name[32];
      snprintf(name, sizeof name, "rank%d", r);
      TBT_SPAN(name) {
      }
    }
    tbt_export_facts f;
    if (tbt_export_get_facts(&f) != 0 || !f.cluster || f.cluster->rank != r) bad++;
    char run[200];
    snprintf(run, sizeof run, "%s-%06llu", f.cluster ? f.cluster->job_id : "?",
             (unsigned long long)f.export_attempt);
    if ((int)f.export_attempt != i) bad++;   /* failed exports count too */
    tbt_export_facts_free(&f);
    tbt_export_request req;
    tbt_export_request_init(&req);
    req.name = "step";
    req.step = TBT_STEP(i);
    req.profiler_outdir = outdir;
    req.decision.run_name = run;
    int failing = r == FAIL_RANK && i == FAIL_AT;
    if (failing) {
      /* the first file is staged, the second one's fsync fails */
      g_fsyncs = 0;
      g_fail_fsync = 2;
      tbt_io_set_hooks(&(tbt_io_hooks){write, failing_fsync});
    }
    int rc = tbt_trace_export_ex(&req, NULL);
    if (failing) {
      tbt_io_set_hooks(NULL);
      if (rc != -EIO) bad++;
      tbt_trace_off();
    } else if (rc != 0) {
      fprintf(stderr, "rank %d export %d: %s\n", r, i, tbt_export_error());
      bad++;
    }
  }
  _exit(bad ? 1 : 0);
}

static int has_suffix(const char *s, const char *suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && strcmp(s + a - b, suf) == 0;
}

/* The task stat of the XSpace at path (static buffer), or NULL. */
static const char *xplane_task(const char *path) {
  static char task[128];
  size_t len;
  uint8_t *data = tu_read_file(path, &len);
  if (!data) return NULL;
  Tensorflow__Profiler__XSpace *xs = tensorflow__profiler__xspace__unpack(NULL, len, data);
  free(data);
  if (!xs) return NULL;
  const char *res = NULL;
  if (xs->n_planes == 1) {
    const Tensorflow__Profiler__XPlane *pl = xs->planes[0];
    for (size_t i = 0; i < pl->n_stats; i++)
      for (size_t k = 0; k < pl->n_stat_metadata; k++)
        if (pl->stat_metadata[k]->key == pl->stats[i]->metadata_id &&
            strcmp(pl->stat_metadata[k]->value->name, "task") == 0) {
          snprintf(task, sizeof task, "%s", pl->stats[i]->str_value);
          res = task;
        }
  }
  tensorflow__profiler__xspace__free_unpacked(xs, NULL);
  return res;
}

int main(void) {
  const char *tmp = tu_tmpdir("ranks");
  char outdir[4096];
  snprintf(outdir, sizeof outdir, "%s", tmp);
  int own = 0;
  pid_t probe = fork();
  if (probe == 0) _exit(own_host(0) ? 0 : 1);
  int st;
  waitpid(probe, &st, 0);
  own = WIFEXITED(st) && WEXITSTATUS(st) == 0;
  char mine[256];
  tbt_profile_host(mine, sizeof mine);

  pid_t pids[RANKS];
  for (int r = 0; r < RANKS; r++) {
    pids[r] = fork();
    if (pids[r] == 0) rank_main(r, outdir);
  }
  for (int r = 0; r < RANKS; r++) {
    waitpid(pids[r], &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }

  char root[4200];
  snprintf(root, sizeof root, "%s/plugins/profile", outdir);
  int runs = 0;
  for (int k = 1; k <= EXPORTS; k++) {
    char run[4400];
    snprintf(run, sizeof run, "%s/cjob-%06d", root, k);
    int files = 0;
    for (int r = 0; r < RANKS; r++) {
      char host[256], xp[4800], ct[4800], want[64];
      if (own) host_of(r, host, sizeof host);
      else snprintf(host, sizeof host, "%s", mine);
      snprintf(xp, sizeof xp, "%s/%s_worker_%d.xplane.pb", run, host, r);
      snprintf(ct, sizeof ct, "%s/%s_worker_%d.trace.json.gz", run, host, r);
      snprintf(want, sizeof want, "/job:worker/replica:0/task:%d", r);
      struct stat sb;
      int there = stat(xp, &sb) == 0;
      int expected = !(r == FAIL_RANK && k == FAIL_AT);
      CHECK_EQ_INT(there, expected);
      CHECK_EQ_INT(stat(ct, &sb) == 0, expected);
      if (there) {
        const char *task = xplane_task(xp);
        CHECK(task && strcmp(task, want) == 0);
        files += 2;
      }
    }
    DIR *d = opendir(run);
    CHECK(d != NULL);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      n++;
      CHECK(has_suffix(e->d_name, ".xplane.pb") || has_suffix(e->d_name, ".trace.json.gz"));
    }
    if (d) closedir(d);
    CHECK_EQ_INT(n, files);
    runs++;
  }
  CHECK_EQ_INT(tu_count_tree(root, ""), EXPORTS + (EXPORTS * RANKS - 1) * 2);   /* runs + files */
  char staging[4200];
  snprintf(staging, sizeof staging, "%s/" TBT_STAGE_DIR, outdir);
  CHECK_EQ_INT(tu_count_tree(staging, ""), 0);
  CHECK_EQ_INT(tu_count_tree(outdir, ".tmp"), 0);
  fprintf(stderr, "%d runs, %s host names\n", runs, own ? "distinct" : "shared");
  return CHECK_DONE();
}

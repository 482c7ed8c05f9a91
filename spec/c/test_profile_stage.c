/*
** test_profile_stage.c: staging and publishing profile runs (profile_stage.c). A new run appears
** whole; other hosts join it; a host that is there already moves on to "<run>_1"; a failed join
** takes back what it placed; leftovers of dead processes are removed by the next export, and a
** process that died while joining a run has its remaining files moved into that run.
*/
#include "check.h"
#include "testutil.h"

#include "profile_stage.h"
#include "tbtrace.h"

#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>

static void put_file(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  if (!f) abort();
  fputs(text, f);
  fclose(f);
}

static char *slurp(const char *path) {
  size_t len;
  uint8_t *d = tu_read_file(path, &len);
  if (!d) return NULL;
  char *s = malloc(len + 1);
  memcpy(s, d, len);
  s[len] = '\0';
  free(d);
  return s;
}

static int exists(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0;
}

/* Entries in dir (not "." or ".."); -1 when it cannot be read. */
static int entries(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d))) n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
  closedir(d);
  return n;
}

/* Stages <host>.xplane.pb and <host>.trace.json.gz holding text and publishes them as run. */
static int export_as(const char *outdir, const char *host, const char *run, const char *text, char **run_dir) {
  tbt_stage s;
  int rc = tbt_stage_open(&s, outdir, host);
  if (rc) return rc;
  char xp[256], ct[256];
  snprintf(xp, sizeof xp, "%s.xplane.pb", host);
  snprintf(ct, sizeof ct, "%s.trace.json.gz", host);
  char *p1 = tbt_stage_path(&s, xp), *p2 = tbt_stage_path(&s, ct);
  put_file(p1, text);
  put_file(p2, text);
  tbt_free(p1);
  tbt_free(p2);
  const char *names[] = {xp, ct};
  char root[4200];
  snprintf(root, sizeof root, "%s/plugins/profile", outdir);
  rc = tbt_stage_publish(&s, root, run, names, 2, run_dir);
  tbt_stage_close(&s);
  return rc;
}

static void test_new_join_taken(void) {
  const char *out = tu_tmpdir("stage");
  char buf[4300], *dir = NULL;
  CHECK_EQ_INT(export_as(out, "hostA", "r", "a1", &dir), 0);
  snprintf(buf, sizeof buf, "%s/plugins/profile/r", out);
  CHECK_EQ_STR(dir, buf);
  tbt_free(dir);
  snprintf(buf, sizeof buf, "%s/plugins/profile/r/hostA.xplane.pb", out);
  char *t = slurp(buf);
  CHECK_EQ_STR(t, "a1");
  free(t);
  snprintf(buf, sizeof buf, "%s/" TBT_STAGE_DIR, out);
  CHECK_EQ_INT(entries(buf), 0);   /* the stage became the run */

  CHECK_EQ_INT(export_as(out, "hostB", "r", "b1", &dir), 0);   /* joins */
  CHECK(dir && strstr(dir, "/plugins/profile/r") && dir[strlen(dir) - 1] == 'r');
  tbt_free(dir);
  snprintf(buf, sizeof buf, "%s/plugins/profile/r", out);
  CHECK_EQ_INT(entries(buf), 4);
  snprintf(buf, sizeof buf, "%s/plugins/profile/r/hostB.trace.json.gz", out);
  t = slurp(buf);
  CHECK_EQ_STR(t, "b1");
  free(t);

  CHECK_EQ_INT(export_as(out, "hostA", "r", "a2", &dir), 0);   /* hostA is in r: r_1 */
  CHECK(dir && strcmp(dir + strlen(dir) - 4, "/r_1") == 0);
  tbt_free(dir);
  CHECK_EQ_INT(export_as(out, "hostB", "r", "b2", &dir), 0);   /* and hostB joins it there */
  CHECK(dir && strcmp(dir + strlen(dir) - 4, "/r_1") == 0);
  tbt_free(dir);
  snprintf(buf, sizeof buf, "%s/plugins/profile/r/hostA.xplane.pb", out);
  t = slurp(buf);
  CHECK_EQ_STR(t, "a1");   /* never replaced */
  free(t);
  snprintf(buf, sizeof buf, "%s/plugins/profile/r_1", out);
  CHECK_EQ_INT(entries(buf), 4);

  /* A file where the run would be: the next name. */
  snprintf(buf, sizeof buf, "%s/plugins/profile/f", out);
  put_file(buf, "x");
  CHECK_EQ_INT(export_as(out, "hostA", "f", "a", &dir), 0);
  CHECK(dir && strcmp(dir + strlen(dir) - 4, "/f_1") == 0);
  tbt_free(dir);
  /* An empty directory where the run would be (made by someone else): joined, not replaced. */
  snprintf(buf, sizeof buf, "%s/plugins/profile/e", out);
  mkdir(buf, 0755);
  CHECK_EQ_INT(export_as(out, "hostA", "e", "a", &dir), 0);
  CHECK_EQ_STR(dir, buf);
  tbt_free(dir);
  CHECK_EQ_INT(entries(buf), 2);
}

/* A join whose second file cannot be placed leaves nothing of it in the run. */
static void test_failed_join(void) {
  const char *out = tu_tmpdir("stage-fail");
  char buf[4300], *dir = NULL;
  CHECK_EQ_INT(export_as(out, "hostA", "r", "a", &dir), 0);
  tbt_free(dir);
  tbt_stage s;
  CHECK_EQ_INT(tbt_stage_open(&s, out, "hostB"), 0);
  char *p = tbt_stage_path(&s, "hostB.xplane.pb");
  put_file(p, "b");
  tbt_free(p);
  const char *names[] = {"hostB.xplane.pb", "hostB.missing"};
  snprintf(buf, sizeof buf, "%s/plugins/profile", out);
  CHECK_EQ_INT(tbt_stage_publish(&s, buf, "r", names, 2, &dir), -ENOENT);
  CHECK(dir == NULL);
  tbt_stage_close(&s);
  snprintf(buf, sizeof buf, "%s/plugins/profile/r", out);
  CHECK_EQ_INT(entries(buf), 2);   /* hostA's only */
  snprintf(buf, sizeof buf, "%s/" TBT_STAGE_DIR, out);
  CHECK_EQ_INT(entries(buf), 0);
  /* misuse */
  CHECK_EQ_INT(tbt_stage_open(NULL, out, "h"), TBT_EINVAL);
  CHECK_EQ_INT(tbt_stage_open(&s, NULL, "h"), TBT_EINVAL);
  CHECK_EQ_INT(tbt_stage_publish(&s, buf, "r", names, 2, &dir), TBT_EINVAL);   /* closed */
  CHECK(tbt_stage_path(&s, "x") == NULL);
  tbt_stage_close(NULL);
}

/* The pid of a process that has exited and been reaped. */
static long dead_pid(void) {
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  waitpid(pid, NULL, 0);
  return (long)pid;
}

static void make_leftover(const char *out, const char *name, const char *const *files, size_t n, int age) {
  char dir[4300], p[4400];
  snprintf(dir, sizeof dir, "%s/" TBT_STAGE_DIR "/%s", out, name);
  mkdir(dir, 0755);
  for (size_t i = 0; i < n; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, files[i]);
    put_file(p, files[i]);
  }
  if (age) {
    struct timeval tv[2];
    gettimeofday(&tv[0], NULL);
    tv[0].tv_sec -= age;
    tv[1] = tv[0];
    utimes(dir, tv);
  }
}

static void test_leftovers(void) {
  const char *out = tu_tmpdir("stage-left");
  char buf[4300], name[512], *dir = NULL;
  CHECK_EQ_INT(export_as(out, "me", "r", "m", &dir), 0);   /* makes the staging root */
  tbt_free(dir);
  const char *files[] = {"me.xplane.pb", "me.trace.json.gz.partial"};
  long dead = dead_pid();
  snprintf(name, sizeof name, "me.%ld.0", dead);
  make_leftover(out, name, files, 2, 0);                    /* this host, dead: removed */
  snprintf(name, sizeof name, "me.%ld.3", (long)getppid());
  make_leftover(out, name, files, 2, 0);                    /* this host, alive: kept */
  make_leftover(out, "other.host.12.0", files, 2, 0);       /* other host, fresh: kept */
  make_leftover(out, "other.host.13.0", files, 2, 2 * TBT_STAGE_STALE_SECONDS);   /* stale: removed */
  make_leftover(out, "junk", files, 0, 0);                  /* not a stage name, fresh: kept */
  snprintf(buf, sizeof buf, "%s/" TBT_STAGE_DIR, out);
  CHECK_EQ_INT(entries(buf), 5);
  CHECK_EQ_INT(export_as(out, "me", "r", "m2", &dir), 0);
  tbt_free(dir);
  CHECK_EQ_INT(entries(buf), 3);
  snprintf(buf, sizeof buf, "%s/" TBT_STAGE_DIR "/me.%ld.0", out, dead);
  CHECK(!exists(buf));
  snprintf(buf, sizeof buf, "%s/" TBT_STAGE_DIR "/me.%ld.3", out, (long)getppid());
  CHECK(exists(buf));
  snprintf(buf, sizeof buf, "%s/" TBT_STAGE_DIR "/other.host.13.0", out);
  CHECK(!exists(buf));
  snprintf(buf, sizeof buf, "%s/" TBT_STAGE_DIR "/other.host.12.0", out);
  CHECK(exists(buf));
}

/* Died after linking its .xplane.pb into a run, before its trace: the next export finishes it. */
static void test_settle_half_join(void) {
  const char *out = tu_tmpdir("stage-settle");
  char buf[4300], name[512], src[4400], dst[4400], *dir = NULL;
  CHECK_EQ_INT(export_as(out, "hostA", "r", "a", &dir), 0);
  tbt_free(dir);
  long dead = dead_pid();
  snprintf(name, sizeof name, "hostB.%ld.0", dead);
  const char *files[] = {"hostB.xplane.pb", "hostB.trace.json.gz"};
  make_leftover(out, name, files, 2, 0);
  snprintf(src, sizeof src, "%s/" TBT_STAGE_DIR "/%s/hostB.xplane.pb", out, name);
  snprintf(dst, sizeof dst, "%s/plugins/profile/r/hostB.xplane.pb", out);
  CHECK_EQ_INT(link(src, dst), 0);
  /* The next export runs on hostB (the host of the dead pid). */
  CHECK_EQ_INT(export_as(out, "hostB", "s", "b", &dir), 0);
  tbt_free(dir);
  snprintf(buf, sizeof buf, "%s/plugins/profile/r/hostB.trace.json.gz", out);
  char *t = slurp(buf);
  CHECK_EQ_STR(t, "hostB.trace.json.gz");
  free(t);
  snprintf(buf, sizeof buf, "%s/plugins/profile/r", out);
  CHECK_EQ_INT(entries(buf), 4);
  snprintf(buf, sizeof buf, "%s/" TBT_STAGE_DIR, out);
  CHECK_EQ_INT(entries(buf), 0);
}

static void test_place_new(void) {
  const char *out = tu_tmpdir("stage-place");
  tbt_stage s;
  CHECK_EQ_INT(tbt_stage_open(&s, out, "h"), 0);
  char *p = tbt_stage_path(&s, "m");
  put_file(p, "one");
  char dst[4300];
  snprintf(dst, sizeof dst, "%s/marker", out);
  CHECK_EQ_INT(tbt_stage_place_new(&s, "m", dst), 0);
  CHECK(!exists(p));
  put_file(p, "two");
  CHECK_EQ_INT(tbt_stage_place_new(&s, "m", dst), 1);
  CHECK(!exists(p));
  char *t = slurp(dst);
  CHECK_EQ_STR(t, "one");
  free(t);
  tbt_free(p);
  tbt_stage_close(&s);
}

int main(void) {
  test_new_join_taken();
  test_failed_join();
  test_leftovers();
  test_settle_half_join();
  test_place_new();
  return CHECK_DONE();
}

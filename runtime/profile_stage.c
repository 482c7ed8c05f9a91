/*
** profile_stage.c: profile runs appear whole, in a logdir shared by many processes.
**
**   <outdir>/plugins/.tbtrace-staging/<host>.<pid>.<n>/   one export's files while they are written
**   <outdir>/plugins/profile/<run>/<name>                  published runs
**
** TensorBoard's profile plugin lists every directory below plugins/profile as a run and every
** "<host>.<tool extension>" file in it as a host, so nothing unfinished may ever be there: a
** run directory without an .xplane.pb is listed as an empty run, a temporary file as a host.
** The staging directory is beside plugins/profile, where no plugin looks, and on the same file
** system, so renames and links from it are atomic. Publishing:
**   - a new run: the export's staging directory, already holding every file complete and
**     fsynced, is renamed to plugins/profile/<run> (without replacing anything), so the run
**     appears with all its files at once;
**   - a run that exists (another process of the same job made it): the export joins it. Its
**     .xplane.pb is hard-linked in first (link fails if the name is taken, which no rename on
**     every file system guarantees), the other files are renamed after it, and the staged
**     .xplane.pb goes last. A run already holding this host's .xplane.pb is taken: the next
**     "<run>_<n>" is tried the same way. Each file appears complete and under its final name.
** A process killed while exporting leaves only its staging directory. The next export in the
** same outdir removes leftovers of dead processes: on this host, those whose pid no longer runs;
** from any host, those untouched for TBT_STAGE_STALE_SECONDS. A leftover whose staged .xplane.pb
** has a second link died while joining a run: that run is found by the link and the remaining
** files are moved there first, so every host of a run has all its files.
*/
#define _GNU_SOURCE
#include "profile_stage.h"

#include "alloc.h"
#include "fs.h"
#include "tbtrace.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int skip_entry(const char *name) {
  return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

/* rename that never replaces dst: -EEXIST (or -ENOTEMPTY) when dst exists. */
static int rename_new(const char *src, const char *dst) {
#ifdef RENAME_NOREPLACE
  if (renameat2(AT_FDCWD, src, AT_FDCWD, dst, RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP) return -errno;
#endif
  /* No RENAME_NOREPLACE here (an older kernel, NFS): check, then rename. A directory rename
  ** still fails on a non-empty target by itself; only an empty one could be replaced. */
  struct stat st;
  if (lstat(dst, &st) == 0) return -EEXIST;
  return rename(src, dst) == 0 ? 0 : -errno;
}

/* link that falls back to rename_new where hard links are not supported. */
static int link_new(const char *src, const char *dst) {
  if (link(src, dst) == 0) return 0;
  int err = errno;
  if (err == EPERM || err == ENOTSUP || err == EOPNOTSUPP || err == EMLINK || err == ENOSYS)
    return rename_new(src, dst);
  return -err;
}

/* Removes a directory's files, then the directory (one level: stages hold only files). */
static void remove_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *e;
    while ((e = readdir(d))) {
      if (skip_entry(e->d_name)) continue;
      char *p = tbt_path_fmt("%s/%s", dir, e->d_name);
      if (p) unlink(p);
      tbt_free(p);
    }
    closedir(d);
  }
  rmdir(dir);
}

/* ----------------------------------------------------------------- leftovers */

/* "<host>.<pid>.<n>": the host and pid of a staging directory's name; 0 when it is none. */
static int parse_stage_name(const char *name, char *host, size_t size, long *pid) {
  const char *last = strrchr(name, '.');
  if (!last || last == name) return 0;
  const char *prev = last - 1;
  while (prev > name && *prev != '.') prev--;
  if (prev == name) return 0;
  char *end;
  long v = strtol(prev + 1, &end, 10);
  if (end != last || v <= 0) return 0;
  size_t hl = (size_t)(prev - name);
  if (hl >= size) return 0;
  memcpy(host, name, hl);
  host[hl] = '\0';
  *pid = v;
  return 1;
}

/* The run below profile_root holding a file that is `staged` (same inode), or NULL. */
static char *find_joined_run(const char *profile_root, const char *name, const struct stat *staged) {
  DIR *d = opendir(profile_root);
  if (!d) return NULL;
  char *found = NULL;
  struct dirent *e;
  while (!found && (e = readdir(d))) {
    if (skip_entry(e->d_name)) continue;
    char *p = tbt_path_fmt("%s/%s/%s", profile_root, e->d_name, name);
    struct stat st;
    if (p && lstat(p, &st) == 0 && st.st_dev == staged->st_dev && st.st_ino == staged->st_ino)
      found = tbt_path_fmt("%s/%s", profile_root, e->d_name);
    tbt_free(p);
  }
  closedir(d);
  return found;
}

/* A dead exporter's stage: finish the run it was joining, if any, then remove the stage. */
static void settle(const char *stage, const char *profile_root) {
  DIR *d = opendir(stage);
  if (!d) return;
  char *run = NULL;
  struct dirent *e;
  while (!run && (e = readdir(d))) {
    size_t len = strlen(e->d_name);
    if (len < 10 || strcmp(e->d_name + len - 10, ".xplane.pb") != 0) continue;
    char *p = tbt_path_fmt("%s/%s", stage, e->d_name);
    struct stat st;
    if (p && lstat(p, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink > 1)
      run = find_joined_run(profile_root, e->d_name, &st);
    tbt_free(p);
  }
  if (run) {
    rewinddir(d);
    while ((e = readdir(d))) {
      size_t len = strlen(e->d_name);
      if (skip_entry(e->d_name) || (len >= 10 && strcmp(e->d_name + len - 10, ".xplane.pb") == 0)) continue;
      char *src = tbt_path_fmt("%s/%s", stage, e->d_name);
      char *dst = tbt_path_fmt("%s/%s", run, e->d_name);
      if (src && dst) rename(src, dst);
      tbt_free(src);
      tbt_free(dst);
    }
    tbt_sync_dir(run);
    tbt_free(run);
  }
  closedir(d);
  remove_dir(stage);
}

static void clean_leftovers(const char *root, const char *profile_root, const char *host) {
  DIR *d = opendir(root);
  if (!d) return;
  time_t now = time(NULL);
  struct dirent *e;
  while ((e = readdir(d))) {
    if (skip_entry(e->d_name)) continue;
    char *p = tbt_path_fmt("%s/%s", root, e->d_name);
    struct stat st;
    if (!p || lstat(p, &st) != 0) {
      tbt_free(p);
      continue;
    }
    char h[256];
    long pid;
    int dead = now - st.st_mtime > TBT_STAGE_STALE_SECONDS;
    if (!dead && parse_stage_name(e->d_name, h, sizeof h, &pid) && strcmp(h, host) == 0 &&
        pid != (long)getpid())
      dead = kill((pid_t)pid, 0) != 0 && errno == ESRCH;
    if (dead) {
      if (S_ISDIR(st.st_mode)) settle(p, profile_root);
      else unlink(p);
    }
    tbt_free(p);
  }
  closedir(d);
}

/* ----------------------------------------------------------------- stage */

int tbt_stage_open(tbt_stage *s, const char *outdir, const char *host) {
  if (!s) return TBT_EINVAL;
  memset(s, 0, sizeof *s);
  if (!outdir || !host) return TBT_EINVAL;
  s->root = tbt_path_fmt("%s/" TBT_STAGE_DIR, outdir);
  char *profile_root = tbt_path_fmt("%s/plugins/profile", outdir);
  int rc = s->root && profile_root ? tbt_mkdir_p(s->root, 0755) : TBT_ENOMEM;
  if (!rc) clean_leftovers(s->root, profile_root, host);
  tbt_free(profile_root);
  for (unsigned n = 0; !rc && !s->dir; n++) {
    char *dir = tbt_path_fmt("%s/%s.%ld.%u", s->root, host, (long)getpid(), n);
    if (!dir) {
      rc = TBT_ENOMEM;
    } else if (mkdir(dir, 0755) == 0) {
      s->dir = dir;
    } else {
      rc = errno == EEXIST && n < 100000 ? 0 : -errno;
      tbt_free(dir);
    }
  }
  if (rc) tbt_stage_close(s);
  return rc;
}

char *tbt_stage_path(const tbt_stage *s, const char *name) {
  return s && s->dir && name ? tbt_path_fmt("%s/%s", s->dir, name) : NULL;
}

int tbt_stage_place_new(tbt_stage *s, const char *name, const char *dst) {
  char *src = tbt_stage_path(s, name);
  if (!src) return TBT_ENOMEM;
  int rc = link_new(src, dst);
  unlink(src);
  tbt_free(src);
  if (rc == -EEXIST) return 1;
  return rc;
}

/* Joins the existing run dir: 0 when joined, 1 when it holds names[0] already, 2 when it is gone,
** else a negative code. */
static int join(tbt_stage *s, const char *dir, const char *const *names, size_t n) {
  char *src = tbt_stage_path(s, names[0]);
  char *dst = tbt_path_fmt("%s/%s", dir, names[0]);
  int rc = src && dst ? link_new(src, dst) : TBT_ENOMEM;
  if (!rc) {
    size_t placed = 0;   /* files after names[0] renamed into dir */
    for (size_t i = 1; !rc && i < n; i++) {
      char *from = tbt_stage_path(s, names[i]);
      char *to = tbt_path_fmt("%s/%s", dir, names[i]);
      rc = from && to ? (rename(from, to) == 0 ? 0 : -errno) : TBT_ENOMEM;
      if (!rc) placed++;
      tbt_free(from);
      tbt_free(to);
    }
    if (rc) {
      /* Take back what was placed, the claiming file last. */
      for (size_t i = placed; i >= 1; i--) {
        char *p = tbt_path_fmt("%s/%s", dir, names[i]);
        if (p) unlink(p);
        tbt_free(p);
      }
      unlink(dst);
    } else {
      unlink(src);
    }
  }
  tbt_free(src);
  tbt_free(dst);
  struct stat st;
  if (rc == -ENOENT && stat(dir, &st) != 0) return 2;   /* the run went away meanwhile */
  return rc == -EEXIST ? 1 : rc;
}

int tbt_stage_publish(tbt_stage *s, const char *profile_root, const char *run, const char *const *names,
                      size_t n, char **run_dir) {
  if (run_dir) *run_dir = NULL;
  if (!s || !s->dir || !profile_root || !run || !names || n == 0 || !run_dir) return TBT_EINVAL;
  tbt_sync_dir(s->dir);
  int rc = tbt_mkdir_p(profile_root, 0755);
  unsigned retries = 0;
  for (unsigned k = 0; !rc && k < 100000; k++) {
    char *dir = k ? tbt_path_fmt("%s/%s_%u", profile_root, run, k) : tbt_path_fmt("%s/%s", profile_root, run);
    if (!dir) return TBT_ENOMEM;
    rc = rename_new(s->dir, dir);
    if (!rc) {
      tbt_free(s->dir);
      s->dir = NULL;
      tbt_sync_dir(profile_root);
      *run_dir = dir;
      return 0;
    }
    if (rc == -EEXIST || rc == -ENOTEMPTY) {
      rc = join(s, dir, names, n);
      if (!rc) {
        tbt_sync_dir(dir);
        *run_dir = dir;
        return 0;
      }
      if (rc == 2 && retries++ < 16) {
        k--;   /* a failed export undid the run meanwhile: try the name again */
        rc = 0;
      } else if (rc == 1 || rc == 2 || rc == -ENOTDIR) {
        rc = 0;   /* taken by this host already, or not a directory: the next name */
      }
    }
    tbt_free(dir);
  }
  return rc ? rc : -EEXIST;
}

void tbt_stage_close(tbt_stage *s) {
  if (!s) return;
  if (s->dir) remove_dir(s->dir);
  tbt_free(s->dir);
  tbt_free(s->root);
  memset(s, 0, sizeof *s);
}

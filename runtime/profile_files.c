/*
** profile_files.c: the profile directory TensorBoard's profile plugin reads.
**
**   <outdir>/plugins/profile/<run>/<host><extension>       one per profile format (encoders.h):
**                                                          .xplane.pb, .trace.json.gz
**   <outdir>/events.out.tfevents.<T>.<host>.profile-empty  only when outdir holds no event file
**
** <run> is the local time as YYYY_MM_DD_HH_MM_SS (what TensorFlow's profiler uses) or the policy's
** run name. TensorFlow overwrites a run of the same second; here the run directory is always new
** ("<run>_1", "<run>_2", ... when taken), claimed with mkdir so two exporters never share one.
** Every file is written to "<final>.tmp.<pid>", fsynced and renamed, so a reader sees either no
** file or all of it. The marker event file is what TensorFlow's profiler writes to make outdir a
** TensorBoard run (the plugin looks for profiles below runs); it holds the first record of an
** event file only. Other processes' profiles in outdir rely on the marker too, so removing a run
** (a failed export undoing itself) removes the marker only when no run is left beside it.
*/
#define _GNU_SOURCE
#include "encoders.h"

#include "alloc.h"
#include "fs.h"
#include "pbwire.h"
#include "record.h"
#include "tbtrace.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void tbt_profile_host(char *buf, size_t size) {
  if (size == 0) return;
  tbt_hostname(buf, size);
  for (char *p = buf; *p; p++)
    if (*p == '/' || *p == '\\' || *p == ':') *p = '_';
  if (strcmp(buf, ".") == 0 || strcmp(buf, "..") == 0) snprintf(buf, size, "localhost");
}

/* printf into a new allocation. */
static char *path_fmt(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return NULL;
  char *s = tbt_malloc((size_t)n + 1);
  if (!s) return NULL;
  va_start(ap, fmt);
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return s;
}

static void sync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);   /* best effort: some file systems refuse to sync directories */
    close(fd);
  }
}

/* Writes the file through "<path>.tmp.<pid>": fill(ud, fd) writes the contents. */
typedef int (*fill_fn)(void *ud, int fd);

static int write_atomic(const char *path, fill_fn fill, void *ud) {
  char *tmp = path_fmt("%s.tmp.%ld", path, (long)getpid());
  if (!tmp) return TBT_ENOMEM;
  int rc = 0;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    rc = -errno;
    tbt_free(tmp);
    return rc;
  }
  rc = fill(ud, fd);
  if (!rc && fsync(fd) != 0) rc = -errno;
  if (close(fd) != 0 && !rc) rc = -errno;
  if (!rc && rename(tmp, path) != 0) rc = -errno;
  if (rc) unlink(tmp);
  tbt_free(tmp);
  return rc;
}

typedef struct bytes {
  const void *data;
  size_t len;
} bytes;

static int fill_bytes(void *ud, int fd) {
  const bytes *b = ud;
  return tbt_write_all(fd, b->data, b->len, NULL);
}

typedef struct format_job {
  const tbt_profile_format *f;
  const tbt_profile_job *job;
} format_job;

static int fill_format(void *ud, int fd) {
  const format_job *j = ud;
  return j->f->write(j->job, fd);
}

/* 1 when a file in dir has "tfevents" in its name (dir unreadable: 0). */
static int has_event_file(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int found = 0;
  struct dirent *e;
  while (!found && (e = readdir(d))) found = strstr(e->d_name, "tfevents") != NULL;
  closedir(d);
  return found;
}

/* Event{wall_time = when, file_version = "brain.Event:2"} framed as a record. */
static size_t marker_record(uint8_t *dst, time_t when) {
  static const char version[] = "brain.Event:2";
  uint8_t ev[64];
  uint8_t *p = pb_put_double(ev, 1, (double)when);
  p = pb_put_bytes(p, 3, version, sizeof version - 1);
  return tbt_record_frame(dst, ev, (size_t)(p - ev));
}

/* Creates root/<base>, or root/<base>_<n> when taken; the chosen path in *out. */
static int claim_run_dir(const char *root, const char *base, char **out) {
  for (unsigned n = 0; n < 100000; n++) {
    char *dir = n ? path_fmt("%s/%s_%u", root, base, n) : path_fmt("%s/%s", root, base);
    if (!dir) return TBT_ENOMEM;
    if (mkdir(dir, 0755) == 0) {
      *out = dir;
      return 0;
    }
    int err = errno;
    tbt_free(dir);
    if (err != EEXIST) return -err;
  }
  return -EEXIST;
}

void tbt_profile_paths_free(tbt_profile_paths *p) {
  tbt_free(p->run_dir);
  for (int i = 0; i < TBT_PROFILE_FORMATS; i++) tbt_free(p->files[i]);
  tbt_free(p->marker_path);
  memset(p, 0, sizeof *p);
}

const char *tbt_profile_path(const tbt_profile_paths *p, const char *kind) {
  for (int i = 0; i < TBT_PROFILE_FORMATS; i++)
    if (strcmp(tbt_profile_formats[i].kind, kind) == 0) return p->files[i];
  return NULL;
}

/* 1 when dir can be read and holds no entry. */
static int dir_is_empty(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int empty = 1;
  struct dirent *e;
  while (empty && (e = readdir(d))) empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
  closedir(d);
  return empty;
}

/* Whether the marker can go with p's run: another process may have exported into the same
** outdir after the marker was written, found it there and written none of its own. */
static int marker_unneeded(const tbt_profile_paths *p) {
  if (!p->run_dir) return 1;
  const char *slash = strrchr(p->run_dir, '/');
  if (!slash) return 1;
  char *root = path_fmt("%.*s", (int)(slash - p->run_dir), p->run_dir);
  int unneeded = root && dir_is_empty(root);
  tbt_free(root);
  return unneeded;
}

void tbt_profile_remove(const tbt_profile_paths *p) {
  for (int i = 0; i < TBT_PROFILE_FORMATS; i++)
    if (p->files[i]) unlink(p->files[i]);
  if (p->run_dir) rmdir(p->run_dir);
  if (p->marker_path && marker_unneeded(p)) unlink(p->marker_path);
}

int tbt_profile_write(const tbt_trace_model *m, const tbt_profile_options *o, tbt_profile_paths *out) {
  if (!out) return TBT_EINVAL;
  memset(out, 0, sizeof *out);
  if (!m || !o || !o->outdir || !*o->outdir) return TBT_EINVAL;
  char host[256];
  if (o->host) snprintf(host, sizeof host, "%s", o->host);
  else tbt_profile_host(host, sizeof host);
  time_t when = o->when ? o->when : time(NULL);
  char stamp[64];
  const char *run = o->run_name;
  if (!run || !*run) {
    struct tm tm;
    localtime_r(&when, &tm);
    strftime(stamp, sizeof stamp, "%Y_%m_%d_%H_%M_%S", &tm);
    run = stamp;
  }

  tbt_profile_paths p = {0};
  char *file = NULL, *marker = NULL;
  char *root = path_fmt("%s/plugins/profile", o->outdir);
  int rc = root ? tbt_mkdir_p(root, 0755) : TBT_ENOMEM;
  if (!rc) rc = claim_run_dir(root, run, &p.run_dir);
  if (rc) goto fail;

  tbt_profile_job job;
  job.m = m;
  job.host = host;
  job.pid = o->pid ? o->pid : (long)getpid();
  job.process_name = o->process_name ? o->process_name : program_invocation_short_name;
  job.gzip_level = o->gzip_level;
  for (int i = 0; i < TBT_PROFILE_FORMATS; i++) {
    const tbt_profile_format *f = &tbt_profile_formats[i];
    if (!(file = path_fmt("%s/%s%s", p.run_dir, host, f->extension))) {
      rc = TBT_ENOMEM;
      goto fail;
    }
    rc = write_atomic(file, fill_format, &(format_job){f, &job});
    if (rc) goto fail;
    /* A file joins p (and is removed on failure) once it exists under its final name. */
    p.files[i] = file;
    file = NULL;
  }

  if (!o->no_marker && !has_event_file(o->outdir)) {
    marker = path_fmt("%s/events.out.tfevents.%010lld.%s.profile-empty", o->outdir,
                      (long long)when, host);
    if (!marker) {
      rc = TBT_ENOMEM;
      goto fail;
    }
    uint8_t rec[64 + TBT_RECORD_OVERHEAD];
    size_t n = marker_record(rec, when);
    rc = write_atomic(marker, fill_bytes, &(bytes){rec, n});
    if (rc) goto fail;
    p.marker_path = marker;
    marker = NULL;
    sync_dir(o->outdir);
  }
  sync_dir(p.run_dir);
  sync_dir(root);
  tbt_free(root);
  *out = p;
  return 0;

fail:
  tbt_free(file);
  tbt_free(marker);
  tbt_profile_remove(&p);
  tbt_profile_paths_free(&p);
  tbt_free(root);
  return rc;
}

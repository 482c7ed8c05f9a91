/*
** profile_files.c: the profile directory TensorBoard's profile plugin reads.
**
**   <outdir>/plugins/profile/<run>/<host><extension>       one per profile format (encoders.h):
**                                                          .xplane.pb, .trace.json.gz
**   <outdir>/events.out.tfevents.<T>.<host>.profile-empty  only when outdir holds no event file
**
** <run> is the local time as YYYY_MM_DD_HH_MM_SS (what TensorFlow's profiler uses) or the policy's
** run name; <host> the host name, with the task appended for a process of a job
** (<host>_<job>_<task>, tbt_cluster_get), so every process of a job has files of its own. The
** files are written complete into a staging directory and published from there
** (profile_stage.c): a new run appears whole by one rename, an existing run is joined file by
** file, and a run already holding this <host>'s first file (.xplane.pb) is taken ("<run>_1",
** "<run>_2", ... then). TensorFlow overwrites a run of the same second; here nothing is ever
** replaced. The marker event file is what TensorFlow's profiler writes to make outdir a
** TensorBoard run (the plugin looks for profiles below runs); it holds the first record of an
** event file only. Other processes' profiles in outdir rely on the marker too, so removing a run
** (a failed export undoing itself) removes the marker only when no run is left beside it.
*/
#define _GNU_SOURCE
#include "encoders.h"

#include "alloc.h"
#include "cluster.h"
#include "fs.h"
#include "pbwire.h"
#include "profile_stage.h"
#include "record.h"
#include "tbtrace.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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

/* Writes the file `name` of the stage: fill(ud, fd) writes the contents, then it is fsynced. */
typedef int (*fill_fn)(void *ud, int fd);

static int write_staged(const tbt_stage *st, const char *name, fill_fn fill, void *ud) {
  char *path = tbt_stage_path(st, name);
  if (!path) return TBT_ENOMEM;
  int rc = 0;
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) rc = -errno;
  if (!rc) rc = fill(ud, fd);
  if (!rc) rc = tbt_fsync(fd);
  if (fd >= 0 && close(fd) != 0 && !rc) rc = -errno;
  tbt_free(path);
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

/* The format's encoder through a 64 KiB buffer into fd. */
static int fill_format(void *ud, int fd) {
  const format_job *j = ud;
  tbt_sink out;
  int rc = tbt_sink_fd(&out, fd);
  if (!rc) rc = j->f->write(j->job, &out);
  int frc = tbt_sink_finish(&out);
  tbt_sink_free(&out);
  return rc ? rc : frc;
}

/* The staged file of each format. A large trace's formats are written at once, one thread each
** (the calling thread takes the first): each walks the source on its own, and the gzip of the
** Chrome JSON, most of an export's time, then runs beside the rest. A small one's, or when a
** thread cannot start, one after the other. The first failure (in format order) is returned. */
enum { PARALLEL_SPANS = 1 << 16 };

typedef struct format_run {
  const tbt_stage *st;
  const char *name;
  format_job fj;
  pthread_t thread;
  int started;
  int rc;
} format_run;

static void *run_format(void *arg) {
  format_run *r = arg;
  r->rc = write_staged(r->st, r->name, fill_format, &r->fj);
  return NULL;
}

static int write_formats(const tbt_stage *st, const char *const *names, const tbt_profile_job *job) {
  format_run runs[TBT_PROFILE_FORMATS];
  int parallel = job->src->spans >= PARALLEL_SPANS;
  for (int i = 0; i < TBT_PROFILE_FORMATS; i++) {
    memset(&runs[i], 0, sizeof runs[i]);
    runs[i].st = st;
    runs[i].name = names[i];
    runs[i].fj = (format_job){&tbt_profile_formats[i], job};
    if (i > 0 && parallel) runs[i].started = pthread_create(&runs[i].thread, NULL, run_format, &runs[i]) == 0;
  }
  int rc = 0;
  for (int i = 0; i < TBT_PROFILE_FORMATS; i++) {
    if (runs[i].started) pthread_join(runs[i].thread, NULL);
    else if (!rc) run_format(&runs[i]);
    if (!rc) rc = runs[i].rc;
  }
  return rc;
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
  char *root = tbt_path_fmt("%.*s", (int)(slash - p->run_dir), p->run_dir);
  int unneeded = root && dir_is_empty(root);
  tbt_free(root);
  return unneeded;
}

void tbt_profile_remove(const tbt_profile_paths *p) {
  /* the first format's file (.xplane.pb) last: a run never shows a host without it */
  for (int i = TBT_PROFILE_FORMATS; i-- > 0;)
    if (p->files[i]) unlink(p->files[i]);
  if (p->run_dir) rmdir(p->run_dir);
  if (p->marker_path && marker_unneeded(p)) unlink(p->marker_path);
}

int tbt_profile_write(const tbt_trace_model *m, const tbt_profile_options *o, tbt_profile_paths *out) {
  if (!out) return TBT_EINVAL;
  memset(out, 0, sizeof *out);
  if (!m) return TBT_EINVAL;
  tbt_source src;
  int rc = tbt_source_from_model(&src, m);
  if (rc) return rc;
  rc = tbt_profile_write_source(&src, o, out);
  tbt_source_free(&src);
  return rc;
}

int tbt_profile_write_source(tbt_source *m, const tbt_profile_options *o, tbt_profile_paths *out) {
  if (!out) return TBT_EINVAL;
  memset(out, 0, sizeof *out);
  if (!m || !o || !o->outdir || !*o->outdir) return TBT_EINVAL;
  char machine[256], host[512], task[256];
  tbt_profile_host(machine, sizeof machine);
  const char *hostname = o->hostname;
  tbt_source with_task;
  tbt_cluster cl;
  if (o->host) {
    snprintf(host, sizeof host, "%s", o->host);
  } else if (tbt_cluster_get(&cl) == 1) {
    /* A process of a job: its files and its plane carry its task, so the processes of one host
    ** keep files of their own and a shared run tells them apart. */
    snprintf(host, sizeof host, "%s_%s_%lld", machine, cl.job_name, (long long)cl.task_index);
    if (!hostname) hostname = machine;
    if (!m->task) {
      tbt_cluster_task_prefix(&cl, task, sizeof task);
      with_task = *m;
      with_task.task = task;
      m = &with_task;
    }
  } else {
    snprintf(host, sizeof host, "%s", machine);
  }
  if (!hostname) hostname = host;
  time_t when = o->when ? o->when : time(NULL);
  char stamp[64];
  const char *run = o->run_name;
  if (!run || !*run) {
    struct tm tm;
    localtime_r(&when, &tm);
    strftime(stamp, sizeof stamp, "%Y_%m_%d_%H_%M_%S", &tm);
    run = stamp;
  }

  tbt_stage st;
  tbt_profile_paths p = {0};
  char *names[TBT_PROFILE_FORMATS] = {0};
  char *root = tbt_path_fmt("%s/plugins/profile", o->outdir);
  int rc = root ? tbt_stage_open(&st, o->outdir, machine) : TBT_ENOMEM;
  if (rc) {
    tbt_free(root);
    return rc;
  }
  tbt_profile_job job;
  job.src = m;
  job.host = hostname;
  job.pid = o->pid ? o->pid : (long)getpid();
  job.process_name = o->process_name ? o->process_name : program_invocation_short_name;
  job.gzip_level = o->gzip_level;
  for (int i = 0; i < TBT_PROFILE_FORMATS; i++) {
    if (!(names[i] = tbt_path_fmt("%s%s", host, tbt_profile_formats[i].extension))) {
      rc = TBT_ENOMEM;
      goto fail;
    }
  }
  rc = write_formats(&st, (const char *const *)names, &job);
  if (rc) goto fail;

  /* The marker before the run: a run below outdir is only seen through it. */
  if (!o->no_marker && !has_event_file(o->outdir)) {
    char *marker = tbt_path_fmt("%s/events.out.tfevents.%010lld.%s.profile-empty", o->outdir,
                            (long long)when, host);
    if (!marker) {
      rc = TBT_ENOMEM;
      goto fail;
    }
    uint8_t rec[64 + TBT_RECORD_OVERHEAD];
    size_t n = marker_record(rec, when);
    rc = write_staged(&st, "marker", fill_bytes, &(bytes){rec, n});
    if (!rc) rc = tbt_stage_place_new(&st, "marker", marker);
    if (rc == 0) p.marker_path = marker;   /* ours: undone with the run */
    else tbt_free(marker);                 /* 1: another process's, of the same second */
    if (rc < 0) goto fail;
    rc = 0;
    tbt_sync_dir(o->outdir);
  }

  rc = tbt_stage_publish(&st, root, run, (const char *const *)names, TBT_PROFILE_FORMATS, &p.run_dir);
  if (rc) goto fail;
  for (int i = 0; i < TBT_PROFILE_FORMATS; i++)
    if (!(p.files[i] = tbt_path_fmt("%s/%s", p.run_dir, names[i]))) rc = TBT_ENOMEM;
  if (rc) goto fail;
  tbt_stage_close(&st);
  for (int i = 0; i < TBT_PROFILE_FORMATS; i++) tbt_free(names[i]);
  tbt_free(root);
  *out = p;
  return 0;

fail:
  if (p.run_dir) {
    /* published, then out of memory: take back what the run holds of ours by name */
    for (int i = 0; i < TBT_PROFILE_FORMATS; i++)
      if (!p.files[i] && names[i]) p.files[i] = tbt_path_fmt("%s/%s", p.run_dir, names[i]);
  } else if (p.marker_path) {
    /* Nothing published: the marker goes unless runs beside (other processes') need it. */
    if (dir_is_empty(root) || access(root, F_OK) != 0) unlink(p.marker_path);
    tbt_free(p.marker_path);
    p.marker_path = NULL;
  }
  tbt_profile_remove(&p);
  tbt_profile_paths_free(&p);
  tbt_stage_close(&st);
  for (int i = 0; i < TBT_PROFILE_FORMATS; i++) tbt_free(names[i]);
  tbt_free(root);
  return rc;
}

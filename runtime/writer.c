/*
** writer.c: the summary writer (tf.summary.create_file_writer): one event file, a queue of framed
** records, and the flush rules.
**
** Events are serialized and framed when written, so the queue is one byte buffer. A write flushes
** when the queue holds more than max_queue events or flush_millis passed since the last flush, as
** TensorFlow's does (once the timer thread below runs, it applies the time rule, so a write reads
** no clock); those flushes hand the bytes to the kernel (a killed process loses nothing that
** was flushed) but do not fsync, which would cap throughput at the disk's sync rate. flush(),
** close() and the idle timer also fsync. Unlike TensorFlow, an idle writer with pending events is
** flushed by a timer thread after flush_millis, so a stalled program still shows its last data.
**
** Two faults TensorFlow loses data on are handled here. When the event file is deleted or its
** logdir replaced, the writer notices on a flush (checked on every flush/close/timer flush and at
** most once a second on queue flushes, where a stat per flush would cost more than the write) and
** opens a new file in the logdir with the queue intact. When the disk stays full, the queue grows
** only up to max_queue_bytes; events past that are dropped, counted and reported as the error.
*/
#include "tbtrace.h"

#include "writer.h"

#include "alloc.h"
#include "event.pb-c.h"
#include "fs.h"
#include "record.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_MAX_QUEUE 10
#define DEFAULT_FLUSH_MILLIS 120000
#define DEFAULT_SUFFIX ".v2"
#define DEFAULT_MAX_QUEUE_BYTES ((size_t)64 << 20)
#define FILE_CHECK_NS ((int64_t)1000000000)

struct tbt_writer {
  int refs;                  /* atomic */
  int noop;
  pthread_mutex_t mu;
  pthread_cond_t wake;       /* timer thread: closing */
  pthread_t timer;
  int timer_started;
  int stopping;
  int fd;
  int closed;
  int deferred_error;        /* an error the timer thread hit, reported by the next call */
  char *logdir;              /* as given */
  char *dir;                 /* logdir made absolute at open: a later chdir() changes nothing */
  char *suffix;
  char *path;                /* the current file, absolute; atomic, readers may hold an older one */
  int file_lost;             /* the file went away: the next flush with events needs a new one */
  struct old_path *old_paths;   /* earlier files' names, kept so returned pointers stay valid */
  int max_queue;
  size_t max_queue_bytes;
  int64_t flush_ns;
  uint8_t *buf;              /* framed records not yet written */
  size_t len, cap;
  size_t head_sent;          /* bytes of the first queued record already in the file (short write) */
  size_t sealed;             /* queued records before this offset carry their data's CRC */
  size_t frame_len;          /* the size of the last record queued, and its length field's CRC */
  uint32_t frame_len_crc;
  int64_t last_flush;        /* CLOCK_MONOTONIC ns */
  int64_t last_file_check;
  tbt_writer_stats stats;
  tbt_writer *all_prev, *all_next;   /* in g_all while it has a file */
  pid_t pid;                 /* the process that opened it: a forked child never closes it */
};

/* The open file writers, for tbt_writers_close_all. */
static pthread_mutex_t g_all_mu = PTHREAD_MUTEX_INITIALIZER;
static tbt_writer *g_all;

struct old_path {
  struct old_path *next;
  char *path;
};

static int64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Coarse time is enough to compare against flush intervals and costs a few ns. */
static int64_t mono_coarse_ns(void) {
  struct timespec ts;
#ifdef CLOCK_MONOTONIC_COARSE
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
#else
  clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void tbt_writer_options_init(tbt_writer_options *opts) {
  if (!opts) return;
  opts->max_queue = -1;
  opts->flush_millis = -1;
  opts->filename_suffix = NULL;
  opts->max_queue_bytes = 0;
}

static tbt_writer *writer_new(void) {
  tbt_writer *w = tbt_calloc(1, sizeof *w);
  if (!w) return NULL;
  w->refs = 1;
  w->fd = -1;
  w->frame_len = SIZE_MAX;
  pthread_mutex_init(&w->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&w->wake, &ca);
  pthread_condattr_destroy(&ca);
  return w;
}

static int close_own(void);

/* A normal exit (exit(), return from main, os.exit) closes the writers still open, so what was
** logged reaches the disk as TensorFlow users expect; a signal death loses what is queued. */
static void close_at_exit(void) {
  int rc = close_own();
  if (rc) fprintf(stderr, "tbtrace: closing writers at exit: %s\n", tbt_strerror(rc));
}

static pthread_once_t g_exit_once = PTHREAD_ONCE_INIT;

static void register_exit(void) {
  atexit(close_at_exit);
}

static void all_add(tbt_writer *w) {
  pthread_once(&g_exit_once, register_exit);
  w->pid = getpid();
  pthread_mutex_lock(&g_all_mu);
  w->all_next = g_all;
  if (g_all) g_all->all_prev = w;
  g_all = w;
  pthread_mutex_unlock(&g_all_mu);
}

static void all_remove(tbt_writer *w) {
  pthread_mutex_lock(&g_all_mu);
  if (w->all_prev) w->all_prev->all_next = w->all_next;
  else if (g_all == w) g_all = w->all_next;
  if (w->all_next) w->all_next->all_prev = w->all_prev;
  w->all_prev = w->all_next = NULL;
  pthread_mutex_unlock(&g_all_mu);
}

static void writer_destroy(tbt_writer *w) {
  all_remove(w);
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->wake);
  while (w->old_paths) {
    struct old_path *o = w->old_paths;
    w->old_paths = o->next;
    tbt_free(o->path);
    tbt_free(o);
  }
  tbt_free(w->logdir);
  tbt_free(w->dir);
  tbt_free(w->suffix);
  tbt_free(w->path);
  tbt_free(w->buf);
  tbt_free(w);
}

int tbt_writer_open_noop(tbt_writer **out) {
  if (!out) return TBT_EINVAL;
  *out = NULL;
  tbt_writer *w = writer_new();
  if (!w) return TBT_ENOMEM;
  w->noop = 1;
  *out = w;
  return 0;
}

/* A process-wide count of writers, part of every file name, so two writers opened in the same
** second by the same process never share a file. */
static unsigned long g_writer_counter;

static int make_path(const char *dir, const char *suffix, char **out) {
  char host[256];
  tbt_hostname(host, sizeof host);
  unsigned long n = __atomic_fetch_add(&g_writer_counter, 1, __ATOMIC_RELAXED);
  long long secs = (long long)time(NULL);
  const char *sep = (suffix[0] == '.' || suffix[0] == '\0') ? "" : ".";
  const char *slash = dir[strlen(dir) - 1] == '/' ? "" : "/";
  int len = snprintf(NULL, 0, "%s%sevents.out.tfevents.%010lld.%s.%ld.%lu%s%s", dir, slash,
                     secs, host, (long)getpid(), n, sep, suffix);
  if (len < 0) return TBT_EINVAL;
  char *path = tbt_malloc((size_t)len + 1);
  if (!path) return TBT_ENOMEM;
  snprintf(path, (size_t)len + 1, "%s%sevents.out.tfevents.%010lld.%s.%ld.%lu%s%s", dir,
           slash, secs, host, (long)getpid(), n, sep, suffix);
  *out = path;
  return 0;
}

/* Event{wall_time = whole seconds, file_version = "brain.Event:2"}, as the first record. */
static int write_file_version(int fd) {
  Tensorflow__Event ev = TENSORFLOW__EVENT__INIT;
  Tensorflow__SourceMetadata src = TENSORFLOW__SOURCE_METADATA__INIT;
  ev.wall_time = (double)time(NULL);
  ev.what_case = TENSORFLOW__EVENT__WHAT_FILE_VERSION;
  ev.file_version = "brain.Event:2";
  src.writer = "tbtrace";
  ev.source_metadata = &src;
  uint8_t data[128];
  size_t n = tensorflow__event__get_packed_size(&ev);
  if (n > sizeof data) return TBT_ERANGE;
  tensorflow__event__pack(&ev, data);
  uint8_t rec[sizeof data + TBT_RECORD_OVERHEAD];
  size_t rn = tbt_record_frame(rec, data, n);
  int rc = tbt_write_all(fd, rec, rn, NULL);
  if (rc) return rc;
  return tbt_fsync(fd);
}

/* A new event file in dir (created again if it is gone), holding its first record. */
static int open_event_file(const tbt_writer *w, const char *dir, int *fd_out, char **path_out) {
  int rc = tbt_mkdir_p(dir, 0777);
  if (rc) return rc;
  char *path;
  int fd;
  /* The name is taken when this process's counter started again (a library copy loaded anew)
  ** or another host reuses our host name and pid: the next number is tried. */
  for (int tries = 0;; tries++) {
    rc = make_path(dir, w->suffix, &path);
    if (rc) return rc;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0666);
    if (fd >= 0) break;
    rc = -errno;
    tbt_free(path);
    if (rc != -EEXIST || tries == 1000) return rc;
  }
  rc = write_file_version(fd);
  if (rc) {
    close(fd);
    unlink(path);
    tbt_free(path);
    return rc;
  }
  *fd_out = fd;
  *path_out = path;
  return 0;
}

static int check_suffix(const char *s) {
  for (; *s; s++)
    if (*s == '/') return TBT_EINVAL;
  return 0;
}

/* path made absolute against the working directory (lexically: symlinks stay as they are). */
static char *absolute(const char *path) {
  if (path[0] == '/') return tbt_strdup(path);
  char cwd[4096];
  if (!getcwd(cwd, sizeof cwd)) return tbt_strdup(path);   /* cannot tell: keep it relative */
  size_t a = strlen(cwd), b = strlen(path);
  char *out = tbt_malloc(a + 1 + b + 1);
  if (!out) return NULL;
  memcpy(out, cwd, a);
  out[a] = '/';
  memcpy(out + a + 1, path, b + 1);
  return out;
}

int tbt_writer_open(tbt_writer **out, const char *logdir, const tbt_writer_options *opts) {
  if (!out) return TBT_EINVAL;
  *out = NULL;
  if (!logdir || !*logdir) return TBT_EINVAL;
  tbt_writer_options o;
  tbt_writer_options_init(&o);
  if (opts) o = *opts;
  if (o.max_queue < -1 || o.flush_millis < -1) return TBT_EINVAL;
  const char *suffix = o.filename_suffix ? o.filename_suffix : DEFAULT_SUFFIX;
  if (check_suffix(suffix)) return TBT_EINVAL;

  tbt_writer *w = writer_new();
  if (!w) return TBT_ENOMEM;
  w->max_queue = o.max_queue < 0 ? DEFAULT_MAX_QUEUE : o.max_queue;
  w->max_queue_bytes = o.max_queue_bytes ? o.max_queue_bytes : DEFAULT_MAX_QUEUE_BYTES;
  w->flush_ns = (int64_t)(o.flush_millis < 0 ? DEFAULT_FLUSH_MILLIS : o.flush_millis) * 1000000;
  w->logdir = tbt_strdup(logdir);
  w->suffix = tbt_strdup(suffix);
  if (!w->logdir || !w->suffix) {
    writer_destroy(w);
    return TBT_ENOMEM;
  }
  w->dir = absolute(logdir);
  if (!w->dir) {
    writer_destroy(w);
    return TBT_ENOMEM;
  }
  int rc = open_event_file(w, w->dir, &w->fd, &w->path);
  if (rc) {
    writer_destroy(w);
    return rc;
  }
  w->last_flush = w->last_file_check = mono_coarse_ns();
  all_add(w);
  *out = w;
  return 0;
}

int tbt_writer_is_noop(const tbt_writer *w) {
  return w && w->noop;
}

const char *tbt_writer_logdir(const tbt_writer *w) {
  return w ? w->logdir : NULL;
}

const char *tbt_writer_path(const tbt_writer *w) {
  return w ? __atomic_load_n(&w->path, __ATOMIC_ACQUIRE) : NULL;
}

int tbt_writer_is_closed(const tbt_writer *w) {
  if (!w) return 1;
  return __atomic_load_n(&w->closed, __ATOMIC_ACQUIRE);
}

/* Whether the open file is still the one at w->path: deleted (no links left) or replaced (the
** path names another file, or nothing, after the logdir was moved or removed) means it is not. */
static int file_is_current(const tbt_writer *w) {
  struct stat by_fd, by_path;
  if (fstat(w->fd, &by_fd) != 0) return 1;   /* cannot tell: keep writing where we are */
  if (by_fd.st_nlink == 0) return 0;
  if (stat(w->path, &by_path) != 0) return errno != ENOENT && errno != ENOTDIR;
  return by_fd.st_dev == by_path.st_dev && by_fd.st_ino == by_path.st_ino;
}

/* Moves to a new event file after the old one went away. The queue is kept whole: a record that
** was cut short in the old file is written again in full to the new one. */
static int reopen_locked(tbt_writer *w) {
  int fd;
  char *path;
  int rc = open_event_file(w, w->dir, &fd, &path);
  if (rc) return rc;
  struct old_path *o = tbt_malloc(sizeof *o);
  if (!o) {
    close(fd);
    unlink(path);
    tbt_free(path);
    return TBT_ENOMEM;
  }
  o->path = w->path;
  o->next = w->old_paths;
  w->old_paths = o;
  close(w->fd);
  w->fd = fd;
  __atomic_store_n(&w->path, path, __ATOMIC_RELEASE);
  w->head_sent = 0;
  w->stats.files_reopened++;
  return 0;
}

/* After a short write of done bytes (counted from the queue's start), drops the records that are
** complete in the file and remembers how much of the next one is there. */
static void consume_written(tbt_writer *w, size_t done) {
  size_t at = 0;
  uint64_t records = 0;
  while (w->len - at >= TBT_RECORD_HEADER) {
    size_t rec = (size_t)tbt_get_le64(w->buf + at) + TBT_RECORD_OVERHEAD;
    if (at + rec > done) break;
    at += rec;
    records++;
  }
  memmove(w->buf, w->buf + at, w->len - at);
  w->len -= at;
  w->sealed = w->len;
  w->head_sent = done - at;
  w->stats.events_written += records;
  w->stats.events_pending -= records;
}

/* Puts each record's data CRC after it, for the records queued since the last flush: in one pass
** just before they are written, long after their bytes were stored, rather than as each event is
** queued, when the CPU would first wait for the bytes it just wrote. */
static void seal_queued(tbt_writer *w) {
  while (w->sealed < w->len) {
    uint8_t *rec = w->buf + w->sealed;
    size_t n = (size_t)tbt_get_le64(rec);
    tbt_record_put_footer(rec, n);
    w->sealed += n + TBT_RECORD_OVERHEAD;
  }
}

/* Hands the queue to the file; with sync, also fsyncs. What could not be written stays queued,
** so a later flush (after the disk has room again) writes it: nothing is silently dropped.
** check_file asks to make sure the file is still in the logdir first. */
static int flush_locked(tbt_writer *w, int sync, int check_file) {
  int rc = 0;
  int64_t now = mono_coarse_ns();
  if (check_file || (w->len && now - w->last_file_check >= FILE_CHECK_NS)) {
    w->last_file_check = now;
    if (!w->file_lost && !file_is_current(w)) w->file_lost = 1;
  }
  /* A lost file gets nothing more; a new one is made once there is something to write, and
  ** until that works the queue waits (up to its cap). */
  if (w->file_lost && w->len) {
    rc = reopen_locked(w);
    if (rc) return rc;
    w->file_lost = 0;
  }
  if (w->len) {
    size_t done = 0;
    seal_queued(w);
    rc = tbt_write_all(w->fd, w->buf + w->head_sent, w->len - w->head_sent, &done);
    if (rc) {
      consume_written(w, w->head_sent + done);
      return rc;
    }
    w->len = w->sealed = 0;
    w->head_sent = 0;
    w->stats.events_written += w->stats.events_pending;
    w->stats.events_pending = 0;
    w->stats.flushes++;
  }
  w->last_flush = now;
  /* EINVAL / EROFS: a file that cannot be synced (a pipe, some special file systems) is fine. */
  if (sync) {
    int src = tbt_fsync(w->fd);
    if (src && src != -EINVAL && src != -EROFS) rc = src;
  }
  return rc;
}

/* The timer wakes once per interval after the last flush; writers never signal it, so the write
** path stays free of wake-ups. Only close does, to end it. */
static void *timer_main(void *arg) {
  tbt_writer *w = arg;
  pthread_mutex_lock(&w->mu);
  while (!w->stopping) {
    int64_t now = mono_ns();
    int64_t due = w->last_flush + w->flush_ns;
    if (w->stats.events_pending > 0 && now >= due) {
      int rc = flush_locked(w, 1, 1);
      if (rc && !w->deferred_error) w->deferred_error = rc;
      if (!rc) w->stats.timer_flushes++;
      w->last_flush = now;   /* after a failure, retry one interval later, not in a tight loop */
      continue;
    }
    if (due <= now) due = now + w->flush_ns;
    struct timespec ts = {(time_t)(due / 1000000000), (long)(due % 1000000000)};
    pthread_cond_timedwait(&w->wake, &w->mu, &ts);
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

static int take_deferred(tbt_writer *w) {
  int rc = w->deferred_error;
  w->deferred_error = 0;
  return rc;
}

int tbt_writer_write_with(tbt_writer *w, size_t len, tbt_event_put put, const void *ud) {
  if (!w || !put) return TBT_EINVAL;
  if (w->noop) return 0;
  if (len > ((size_t)1 << 31)) return TBT_ERANGE;
  pthread_mutex_lock(&w->mu);
  int rc = 0;
  if (w->closed) {
    rc = TBT_ECLOSED;
    goto out;
  }
  size_t need = w->len + len + TBT_RECORD_OVERHEAD;
  if (need > w->max_queue_bytes && w->len) {
    /* The queue is at its cap: only a flush that gets through makes room. */
    rc = flush_locked(w, 0, 0);
    need = w->len + len + TBT_RECORD_OVERHEAD;
    if (need > w->max_queue_bytes && w->len) {   /* only when the flush failed: rc says why */
      w->stats.events_dropped++;
      goto out;
    }
  }
  if (need > w->cap) {
    size_t cap = w->cap ? w->cap : 4096;
    while (cap < need) cap *= 2;
    uint8_t *nb = tbt_realloc(w->buf, cap);
    if (!nb) {
      w->stats.events_dropped++;
      rc = TBT_ENOMEM;
      goto out;
    }
    w->buf = nb;
    w->cap = cap;
  }
  if (len != w->frame_len) {
    w->frame_len = len;
    w->frame_len_crc = tbt_record_len_crc(len);
  }
  tbt_record_put_header(w->buf + w->len, len, w->frame_len_crc);
  put(w->buf + w->len + TBT_RECORD_HEADER, len, ud);
  w->len += len + TBT_RECORD_OVERHEAD;   /* the footer is seal_queued's */
  if (w->stats.events_pending++ == 0 && w->flush_ns > 0 && !w->timer_started) {
    /* The timer thread exists only for writers that get events; if it cannot start, writes
    ** still flush by the TF rules. */
    if (pthread_create(&w->timer, NULL, timer_main, w) == 0) w->timer_started = 1;
  }
  /* The time rule needs a clock read per write only without the timer thread (flush_millis 0, or
  ** it could not start): a running timer flushes pending events once flush_millis has passed. */
  if (w->stats.events_pending > (uint64_t)w->max_queue ||
      (!w->timer_started && mono_coarse_ns() - w->last_flush > w->flush_ns)) {
    rc = flush_locked(w, 0, 0);
  }
  if (!rc) rc = take_deferred(w);
out:
  pthread_mutex_unlock(&w->mu);
  return rc;
}

static void put_copy(uint8_t *dst, size_t len, const void *event) {
  if (len) memcpy(dst, event, len);
}

int tbt_writer_write_event(tbt_writer *w, const void *event, size_t len) {
  if (!event && len) return TBT_EINVAL;
  return tbt_writer_write_with(w, len, put_copy, event);
}

/* ------------------------------------------------------- a streamed record (writer.h) */

int tbt_writer_write_streamed(tbt_writer *w, uint64_t len, tbt_fill_fn fill, void *ud) {
  if (!w || !fill) return TBT_EINVAL;
  if (w->noop) return 0;
  pthread_mutex_lock(&w->mu);
  int rc = w->closed ? TBT_ECLOSED : flush_locked(w, 0, 1);
  if (!rc && w->file_lost && (rc = reopen_locked(w)) == 0) w->file_lost = 0;
  struct stat st;
  if (!rc && fstat(w->fd, &st) != 0) rc = -errno;
  if (rc) {
    pthread_mutex_unlock(&w->mu);
    return rc;
  }
  off_t start = st.st_size;   /* O_APPEND: the record goes at the end */
  uint8_t head[TBT_RECORD_HEADER];
  tbt_put_le64(head, len);
  tbt_put_le32(head + 8, tbt_crc32c_mask(tbt_crc32c(0, head, 8)));
  tbt_sink file, crc;
  memset(&crc, 0, sizeof crc);
  rc = tbt_sink_fd(&file, w->fd);
  if (!rc) rc = tbt_sink_crc(&crc, &file);
  if (!rc) {
    tbt_sink_write(&file, head, sizeof head);
    rc = fill(ud, &crc);
    int frc = tbt_sink_finish(&crc);
    if (!rc) rc = frc;
    if (!rc && crc.total != len) rc = TBT_ERANGE;
    if (!rc) {
      uint8_t foot[TBT_RECORD_FOOTER];
      tbt_put_le32(foot, tbt_crc32c_mask(crc.crc));
      tbt_sink_write(&file, foot, sizeof foot);
      rc = tbt_sink_finish(&file);
    }
  }
  tbt_sink_free(&crc);
  tbt_sink_free(&file);
  if (rc) {
    if (ftruncate(w->fd, start) != 0) w->file_lost = 1;   /* cannot cut it: start a new file */
  } else {
    w->stats.events_written++;
    w->last_flush = mono_coarse_ns();
  }
  pthread_mutex_unlock(&w->mu);
  return rc;
}

int tbt_writer_flush(tbt_writer *w) {
  if (!w) return TBT_EINVAL;
  if (w->noop) return 0;
  pthread_mutex_lock(&w->mu);
  int rc = 0;
  if (!w->closed) {
    rc = flush_locked(w, 1, 1);
    int d = take_deferred(w);
    if (!rc) rc = d;
  }
  pthread_mutex_unlock(&w->mu);
  return rc;
}

int tbt_writer_close(tbt_writer *w) {
  if (!w) return TBT_EINVAL;
  pthread_mutex_lock(&w->mu);
  if (w->closed) {
    pthread_mutex_unlock(&w->mu);
    return 0;
  }
  int rc = 0;
  if (!w->noop) {
    rc = flush_locked(w, 1, 1);
    if (rc) {
      /* Keep the file and the queue: the caller may retry once the cause is gone. */
      pthread_mutex_unlock(&w->mu);
      return rc;
    }
    rc = take_deferred(w);
    if (close(w->fd) != 0 && !rc && errno != EINTR) rc = -errno;
    w->fd = -1;
  }
  __atomic_store_n(&w->closed, 1, __ATOMIC_RELEASE);
  w->stopping = 1;
  pthread_cond_signal(&w->wake);
  int join = w->timer_started;
  w->timer_started = 0;
  pthread_mutex_unlock(&w->mu);
  if (join) pthread_join(w->timer, NULL);
  return rc;
}

/* Closes even when the last flush fails: the writer is going away and nobody could retry.
** Returns what the orderly close said. */
static int close_for_free(tbt_writer *w) {
  int rc = tbt_writer_close(w);
  if (rc == 0) return 0;
  pthread_mutex_lock(&w->mu);
  if (w->fd >= 0) close(w->fd);
  w->fd = -1;
  __atomic_store_n(&w->closed, 1, __ATOMIC_RELEASE);
  w->stopping = 1;
  pthread_cond_signal(&w->wake);
  int join = w->timer_started;
  w->timer_started = 0;
  pthread_mutex_unlock(&w->mu);
  if (join) pthread_join(w->timer, NULL);
  return rc;
}

/* A reference to a writer of the list that is still open and not being freed, or NULL. With
** `own`, only writers this process opened (not ones a fork inherited, whose timer thread and queue
** belong to the parent). */
static tbt_writer *next_open_writer(int own) {
  pthread_mutex_lock(&g_all_mu);
  tbt_writer *found = NULL;
  pid_t me = own ? getpid() : 0;
  for (tbt_writer *w = g_all; w && !found; w = w->all_next) {
    if (tbt_writer_is_closed(w) || (own && w->pid != me)) continue;
    /* A writer whose count reached 0 is being freed by its last holder: leave it to them. */
    int refs = __atomic_load_n(&w->refs, __ATOMIC_ACQUIRE);
    while (refs > 0 && !__atomic_compare_exchange_n(&w->refs, &refs, refs + 1, 0, __ATOMIC_ACQ_REL,
                                                    __ATOMIC_ACQUIRE)) {
    }
    if (refs > 0) found = w;
  }
  pthread_mutex_unlock(&g_all_mu);
  return found;
}

static int close_writers(int own) {
  int first = 0;
  /* Each round closes one writer, so this ends; no lock is held while closing. */
  for (tbt_writer *w; (w = next_open_writer(own));) {
    int rc = close_for_free(w);
    if (rc && !first) first = rc;
    tbt_writer_free(w);
  }
  return first;
}

int tbt_writers_close_all(void) {
  return close_writers(0);
}

static int close_own(void) {
  return close_writers(1);
}

tbt_writer *tbt_writer_retain(tbt_writer *w) {
  if (w) __atomic_fetch_add(&w->refs, 1, __ATOMIC_RELAXED);
  return w;
}

void tbt_writer_free(tbt_writer *w) {
  if (!w) return;
  if (__atomic_sub_fetch(&w->refs, 1, __ATOMIC_ACQ_REL) != 0) return;
  close_for_free(w);
  writer_destroy(w);
}

int tbt_writer_get_stats(tbt_writer *w, tbt_writer_stats *out) {
  if (!w || !out) return TBT_EINVAL;
  pthread_mutex_lock(&w->mu);
  *out = w->stats;
  pthread_mutex_unlock(&w->mu);
  return 0;
}

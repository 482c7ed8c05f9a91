/*
** test_faults.c: the writer under I/O faults (disk full, short writes, EINTR, failing fsync),
** injected through the I/O hooks, and a writer process killed with SIGKILL. Each fault must give
** the caller an error, keep every record already written readable, and lose nothing once the
** fault is gone.
*/
#include "check.h"
#include "testutil.h"

#include "fs.h"
#include "tbtrace.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <sys/wait.h>

/* ------------------------------------------------------------- fault injection */

static long g_budget = -1;      /* bytes writes may still put on disk; -1 = unlimited */
static int g_max_chunk;         /* > 0: each write puts at most this many bytes */
static int g_eintr_every;       /* > 0: every n-th write fails with EINTR */
static int g_fsync_errno;       /* nonzero: fsync fails with it */
static long g_writes;

static ssize_t faulty_write(int fd, const void *buf, size_t len) {
  g_writes++;
  if (g_eintr_every && g_writes % g_eintr_every == 0) {
    errno = EINTR;
    return -1;
  }
  if (g_max_chunk > 0 && len > (size_t)g_max_chunk) len = (size_t)(g_writes % g_max_chunk) + 1;
  if (g_budget >= 0) {
    if (g_budget == 0) {
      errno = ENOSPC;
      return -1;
    }
    if ((long)len > g_budget) len = (size_t)g_budget;   /* a short write, then ENOSPC */
    g_budget -= (long)len;
  }
  return write(fd, buf, len);
}

static int faulty_fsync(int fd) {
  if (g_fsync_errno) {
    errno = g_fsync_errno;
    return -1;
  }
  return fsync(fd);
}

static const tbt_io_hooks faulty = {faulty_write, faulty_fsync};

static void clear_faults(void) {
  g_budget = -1;
  g_max_chunk = 0;
  g_eintr_every = 0;
  g_fsync_errno = 0;
}

/* Checks that the file holds the first record and then scalars with steps first..first+n-1 in
** order, allowing a cut-off record at the end only when tail_ok. */
static void check_step_range(const char *path, long first, long n, int tail_ok) {
  size_t len = 0;
  uint8_t *buf = tu_read_file(path, &len);
  CHECK(buf != NULL);
  if (!buf) return;
  size_t off = 0;
  long records = 0;
  int in_order = 1;
  while (off + 12 <= len) {
    uint64_t m = tu_le(buf + off, 8);
    if (off + 16 + m > len) break;
    Tensorflow__Event *e = tensorflow__event__unpack(NULL, m, buf + off + 12);
    CHECK(e != NULL);
    CHECK_EQ_U64((uint32_t)tu_le(buf + off + 12 + m, 4), tu_mask(tu_crc32c(buf + off + 12, m)));
    if (e && records == 0 && (e->what_case != TENSORFLOW__EVENT__WHAT_FILE_VERSION ||
                              strcmp(e->file_version, "brain.Event:2") != 0))
      in_order = 0;
    if (e && records > 0 && e->step != first + records - 1) in_order = 0;
    if (e) tensorflow__event__free_unpacked(e, NULL);
    records++;
    off += 16 + m;
  }
  CHECK(in_order);
  CHECK_EQ_INT(records, n + 1);
  if (!tail_ok) CHECK_EQ_INT(off, len);
  free(buf);
}

static void check_steps(const char *path, long n, int tail_ok) {
  check_step_range(path, 0, n, tail_ok);
}

/* A writer in dir, made the default, that flushes only by max_queue (no timer interferes). */
static tbt_writer *open_writer_in(const char *dir, int max_queue) {
  tbt_writer_options o;
  tbt_writer_options_init(&o);
  o.max_queue = max_queue;
  o.flush_millis = 600000;
  tbt_writer *w = NULL;
  CHECK_EQ_INT(tbt_writer_open(&w, dir, &o), 0);
  tbt_set_default_writer(w);
  return w;
}

static tbt_writer *open_writer(const char *tag, int max_queue) {
  return open_writer_in(tu_tmpdir(tag), max_queue);
}

static void close_writer(tbt_writer *w) {
  tbt_set_default_writer(NULL);
  tbt_writer_free(w);
}

/* ------------------------------------------------------------- tests */

static void test_disk_full(void) {
  tbt_writer *w = open_writer("enospc", 0);
  tbt_io_set_hooks(&faulty);
  for (int i = 0; i < 5; i++) CHECK_EQ_INT(tbt_scalar("x", i, TBT_STEP(i), NULL), 1);
  g_budget = 30;   /* the next record fits only partly */
  int rc = 1;
  int i = 5;
  for (; i < 9; i++) {
    rc = tbt_scalar("x", i, TBT_STEP(i), NULL);
    if (rc != 1) break;
  }
  CHECK_EQ_INT(rc, -ENOSPC);
  CHECK(strstr(tbt_strerror(rc), "space") != NULL);
  /* What reached the disk reads back; the cut record is only a tail. */
  check_steps(tbt_writer_path(w), i, 1);
  /* Further writes keep failing while the disk is full, and keep their events queued. */
  CHECK_EQ_INT(tbt_scalar("x", i + 1, TBT_STEP(i + 1), NULL), -ENOSPC);
  CHECK_EQ_INT(tbt_writer_flush(w), -ENOSPC);
  CHECK_EQ_INT(tbt_writer_close(w), -ENOSPC);   /* close keeps the queue for a retry */
  CHECK(!tbt_writer_is_closed(w));
  clear_faults();
  CHECK_EQ_INT(tbt_writer_close(w), 0);         /* the retry writes everything exactly once */
  check_steps(tbt_writer_path(w), i + 2, 0);
  tbt_io_set_hooks(NULL);
  close_writer(w);
}

static void test_short_writes_and_eintr(void) {
  tbt_writer *w = open_writer("short", 3);
  tbt_io_set_hooks(&faulty);
  g_max_chunk = 7;
  g_eintr_every = 3;
  for (int i = 0; i < 200; i++) CHECK_EQ_INT(tbt_scalar("x", i, TBT_STEP(i), NULL), 1);
  CHECK_EQ_INT(tbt_writer_flush(w), 0);
  CHECK(g_writes > 200);
  clear_faults();
  tbt_io_set_hooks(NULL);
  check_steps(tbt_writer_path(w), 200, 0);
  close_writer(w);
}

static void test_fsync_failure(void) {
  tbt_writer *w = open_writer("fsync", 100);
  tbt_io_set_hooks(&faulty);
  for (int i = 0; i < 10; i++) tbt_scalar("x", i, TBT_STEP(i), NULL);
  g_fsync_errno = EIO;
  CHECK_EQ_INT(tbt_writer_flush(w), -EIO);
  check_steps(tbt_writer_path(w), 10, 0);       /* written, only not synced */
  clear_faults();
  CHECK_EQ_INT(tbt_writer_flush(w), 0);
  tbt_io_set_hooks(NULL);
  close_writer(w);
}

static void test_open_failure(void) {
  tbt_io_set_hooks(&faulty);
  g_budget = 0;   /* the first record cannot be written: no writer, no file left behind */
  tbt_writer *w = (tbt_writer *)1;
  const char *dir = tu_tmpdir("openfail");
  CHECK_EQ_INT(tbt_writer_open(&w, dir, NULL), -ENOSPC);
  CHECK(w == NULL);
  CHECK(tu_event_file(dir) == NULL);
  clear_faults();
  tbt_io_set_hooks(NULL);
}

/* Real signals, not hooks: a timer interrupts the process every 50 us, with handlers installed
** without SA_RESTART, while events are written and flushed. A stress test: Linux does not
** interrupt writes to regular files, so the EINTR retry itself is checked through the hooks
** (test_short_writes_and_eintr); this one checks that nothing else (the timer thread's waits,
** fsync) misbehaves with signals arriving. */
static volatile sig_atomic_t g_ticks;
static void on_tick(int sig) {
  (void)sig;
  g_ticks++;
}

static void test_signals(void) {
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_tick;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  CHECK_EQ_INT(sigaction(SIGALRM, &sa, &old), 0);
  struct itimerval it = {{0, 50}, {0, 50}}, off = {{0, 0}, {0, 0}};
  tbt_writer *w = open_writer("signals", 0);
  CHECK_EQ_INT(setitimer(ITIMER_REAL, &it, NULL), 0);
  long n = 20000;
  for (long i = 0; i < n; i++) CHECK_EQ_INT(tbt_scalar("x", (double)i, TBT_STEP(i), NULL), 1);
  CHECK_EQ_INT(tbt_writer_flush(w), 0);
  setitimer(ITIMER_REAL, &off, NULL);
  sigaction(SIGALRM, &old, NULL);
  CHECK(g_ticks > 0);
  CHECK_EQ_INT(tbt_writer_close(w), 0);
  check_steps(tbt_writer_path(w), n, 0);
  close_writer(w);
}

/* Permission denied, for real: root ignores permissions, so as root the check runs in a child
** that has given up its privileges. */
static int permission_checks(const char *base) {
  char ro[4300], sub[4400];
  snprintf(ro, sizeof ro, "%s/ro", base);
  snprintf(sub, sizeof sub, "%s/ro/logs", base);
  tbt_writer *w = (tbt_writer *)1;
  int bad = 0;
  /* Neither a logdir under an unwritable directory nor an event file in an unwritable logdir. */
  if (tbt_writer_open(&w, sub, NULL) != -EACCES || w != NULL) bad |= 1;
  if (tbt_writer_open(&w, ro, NULL) != -EACCES || w != NULL) bad |= 2;
  if (strstr(tbt_strerror(-EACCES), "ermission") == NULL) bad |= 4;
  if (tu_event_file(ro) != NULL) bad |= 8;
  /* And the same user can write beside them, so the denials above are the permissions'. */
  char ok[4400];
  snprintf(ok, sizeof ok, "%s/ok", base);
  if (tbt_writer_open(&w, ok, NULL) != 0) return bad | 16;
  tbt_writer_free(w);
  return bad;
}

static void test_permission_denied(void) {
  /* In /tmp, not the build tree: the unprivileged child must be able to reach it whatever the
  ** permissions of the checkout's parents. */
  char base[] = "/tmp/tbtrace-perm-XXXXXX";
  CHECK(mkdtemp(base) != NULL);
  CHECK_EQ_INT(chmod(base, 0777), 0);
  char ro[4300];
  snprintf(ro, sizeof ro, "%s/ro", base);
  CHECK_EQ_INT(mkdir(ro, 0555), 0);
  if (geteuid() != 0) {
    CHECK_EQ_INT(permission_checks(base), 0);
  } else {
    pid_t pid = fork();
    if (pid == 0) {
      if (setgid(65534) != 0 || setuid(65534) != 0) _exit(100);
      _exit(permission_checks(base));
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 100)
      fprintf(stderr, "test_permission_denied: skipped (cannot drop root's privileges here)\n");
    else
      CHECK_EQ_INT(WEXITSTATUS(status), 0);
  }
  char cmd[4200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
  CHECK_EQ_INT(system(cmd), 0);
}

/* A child writes scalars with max_queue 10, telling the parent after each flush how many events
** reached the file, and is killed mid-run. Everything it reported must be there, in order. */
static void test_sigkill(void) {
  for (int round = 0; round < 8; round++) {
    const char *dir = tu_tmpdir("kill");
    char logdir[4200];
    snprintf(logdir, sizeof logdir, "%s", dir);
    int fds[2];
    if (pipe(fds) != 0) abort();
    long kill_at = 100 + round * 37;
    pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]);
      tbt_writer_options o;
      tbt_writer_options_init(&o);
      o.max_queue = 10;
      tbt_writer *w;
      if (tbt_writer_open(&w, logdir, &o) != 0) _exit(2);
      tbt_set_default_writer(w);
      uint64_t last = 0;
      for (long i = 0;; i++) {
        if (i == kill_at) raise(SIGKILL);
        tbt_scalar("x", (double)i, TBT_STEP(i), NULL);
        tbt_writer_stats st;
        tbt_writer_get_stats(w, &st);
        if (st.events_written != last) {
          last = st.events_written;
          if (write(fds[1], &last, sizeof last) != sizeof last) _exit(3);
        }
      }
    }
    close(fds[1]);
    uint64_t reported = 0, v;
    while (read(fds[0], &v, sizeof v) == sizeof v) reported = v;
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    const char *path = tu_event_file(logdir);
    CHECK(path != NULL);
    if (!path) continue;
    tu_events r = tu_read_events(path);
    CHECK(!r.bad);
    long events = (long)r.n - 1;
    CHECK(events >= (long)reported);             /* nothing flushed is lost */
    CHECK(events <= kill_at);
    CHECK(kill_at - events <= 11);               /* at most the queue (max_queue + 1) */
    for (size_t k = 1; k < r.n; k++) CHECK_EQ_INT(r.ev[k]->step, (long)k - 1);
    tu_events_free(&r);
  }
}


static void rm_rf(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  char p[4400];
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    CHECK_EQ_INT(unlink(p), 0);
  }
  closedir(d);
  CHECK_EQ_INT(rmdir(dir), 0);
}

/* The logdir removed under an open writer: the next flush makes it again with a new file that
** starts with its own first record and holds every event written since. */
static void test_logdir_deleted(void) {
  char dir[4200];
  snprintf(dir, sizeof dir, "%s", tu_tmpdir("deleted"));
  tbt_writer *w = open_writer_in(dir, 100);
  for (int i = 0; i < 5; i++) CHECK_EQ_INT(tbt_scalar("x", i, TBT_STEP(i), NULL), 1);
  CHECK_EQ_INT(tbt_writer_flush(w), 0);
  char old[4400];
  snprintf(old, sizeof old, "%s", tbt_writer_path(w));
  const char *old_ptr = tbt_writer_path(w);
  rm_rf(dir);
  for (int i = 5; i < 12; i++) CHECK_EQ_INT(tbt_scalar("x", i, TBT_STEP(i), NULL), 1);
  CHECK_EQ_INT(tbt_writer_flush(w), 0);
  tbt_writer_stats st;
  tbt_writer_get_stats(w, &st);
  CHECK_EQ_INT(st.files_reopened, 1);
  CHECK_EQ_INT(st.events_pending, 0);
  CHECK(strcmp(tbt_writer_path(w), old) != 0);
  CHECK(strcmp(old_ptr, old) == 0);                  /* an earlier path stays readable */
  CHECK_EQ_INT(tu_count_tree(dir, "events.out.tfevents."), 1);
  check_step_range(tbt_writer_path(w), 5, 7, 0);
  /* Nothing more happens while the new file stays. */
  CHECK_EQ_INT(tbt_scalar("x", 12, TBT_STEP(12), NULL), 1);
  CHECK_EQ_INT(tbt_writer_close(w), 0);
  tbt_writer_get_stats(w, &st);
  CHECK_EQ_INT(st.files_reopened, 1);
  check_step_range(tbt_writer_path(w), 5, 8, 0);
  close_writer(w);
}

/* The logdir moved away and a fresh one put in its place: the old file keeps what was flushed to
** it, the new logdir gets a new file with the rest. */
static void test_logdir_replaced(void) {
  char dir[4200], moved[4300];
  snprintf(dir, sizeof dir, "%s", tu_tmpdir("replaced"));
  snprintf(moved, sizeof moved, "%s.old", dir);
  tbt_writer *w = open_writer_in(dir, 100);
  for (int i = 0; i < 4; i++) tbt_scalar("x", i, TBT_STEP(i), NULL);
  CHECK_EQ_INT(tbt_writer_flush(w), 0);
  const char *name = strrchr(tbt_writer_path(w), '/');
  char moved_file[4400];
  snprintf(moved_file, sizeof moved_file, "%s%s", moved, name);
  CHECK_EQ_INT(rename(dir, moved), 0);
  CHECK_EQ_INT(mkdir(dir, 0777), 0);
  for (int i = 4; i < 10; i++) tbt_scalar("x", i, TBT_STEP(i), NULL);
  CHECK_EQ_INT(tbt_writer_close(w), 0);
  check_step_range(moved_file, 0, 4, 0);
  CHECK_EQ_INT(tu_count_tree(dir, "events.out.tfevents."), 1);
  check_step_range(tbt_writer_path(w), 4, 6, 0);
  close_writer(w);
  rm_rf(moved);
}

/* The logdir replaced by a regular file: no new file can be made, and nothing may go to the
** lost one meanwhile; every flush tries again, and once the way is clear all queued events land
** in the new file. */
static void test_reopen_fails(void) {
  char dir[4200];
  snprintf(dir, sizeof dir, "%s", tu_tmpdir("reopenfail"));
  tbt_writer *w = open_writer_in(dir, 0);
  CHECK_EQ_INT(tbt_scalar("x", 0, TBT_STEP(0), NULL), 1);
  CHECK_EQ_INT(tbt_writer_flush(w), 0);
  rm_rf(dir);
  FILE *f = fopen(dir, "w");
  CHECK(f != NULL);
  if (f) fclose(f);
  CHECK_EQ_INT(tbt_writer_flush(w), 0);      /* notices the loss; nothing queued to move yet */
  for (int i = 1; i < 5; i++) CHECK_EQ_INT(tbt_scalar("x", i, TBT_STEP(i), NULL), -ENOTDIR);
  CHECK_EQ_INT(tbt_writer_flush(w), -ENOTDIR);
  tbt_writer_stats st;
  tbt_writer_get_stats(w, &st);
  CHECK_EQ_INT(st.events_written, 1);
  CHECK_EQ_INT(st.events_pending, 4);
  CHECK_EQ_INT(st.files_reopened, 0);
  CHECK_EQ_INT(unlink(dir), 0);
  CHECK_EQ_INT(tbt_writer_close(w), 0);
  tbt_writer_get_stats(w, &st);
  CHECK_EQ_INT(st.files_reopened, 1);
  CHECK_EQ_INT(st.events_written, 5);
  check_step_range(tbt_writer_path(w), 1, 4, 0);
  close_writer(w);
}

/* A relative logdir stays where it was opened when the program changes directory. */
static void test_relative_logdir_and_chdir(void) {
  char base[4200], other[4300], cwd[4096];
  snprintf(base, sizeof base, "%s", tu_tmpdir("chdir"));
  snprintf(other, sizeof other, "%s/elsewhere", base);
  CHECK_EQ_INT(mkdir(base, 0777), 0);
  CHECK_EQ_INT(mkdir(other, 0777), 0);
  CHECK(getcwd(cwd, sizeof cwd) != NULL);
  CHECK_EQ_INT(chdir(base), 0);
  /* Queued until close, whose check would see a path resolved in the new directory. */
  tbt_writer *w = open_writer_in("logs/run", 100);
  CHECK(tbt_writer_path(w)[0] == '/');
  CHECK_EQ_INT(chdir(other), 0);
  for (int i = 0; i < 3; i++) CHECK_EQ_INT(tbt_scalar("x", i, TBT_STEP(i), NULL), 1);
  CHECK_EQ_INT(tbt_writer_close(w), 0);
  tbt_writer_stats st;
  tbt_writer_get_stats(w, &st);
  CHECK_EQ_INT(st.files_reopened, 0);
  CHECK_EQ_INT(chdir(base), 0);
  check_steps(tbt_writer_path(w), 3, 0);
  CHECK_EQ_INT(tu_count_tree("logs/run", "events.out.tfevents."), 1);
  CHECK_EQ_INT(tu_count_tree(other, "events.out.tfevents."), 0);
  CHECK_EQ_INT(chdir(cwd), 0);
  close_writer(w);
}

/* A record cut short by a full disk, then the file deleted: the new file gets that record whole,
** never its tail. */
static void test_deleted_after_short_write(void) {
  char dir[4200];
  snprintf(dir, sizeof dir, "%s", tu_tmpdir("cutdeleted"));
  tbt_writer *w = open_writer_in(dir, 0);
  tbt_io_set_hooks(&faulty);
  for (int i = 0; i < 3; i++) CHECK_EQ_INT(tbt_scalar("x", i, TBT_STEP(i), NULL), 1);
  g_budget = 20;
  CHECK_EQ_INT(tbt_scalar("x", 3, TBT_STEP(3), NULL), -ENOSPC);
  check_steps(tbt_writer_path(w), 3, 1);             /* step 3 is only partly there */
  clear_faults();
  rm_rf(dir);
  CHECK_EQ_INT(tbt_writer_flush(w), 0);
  check_step_range(tbt_writer_path(w), 3, 1, 0);
  tbt_io_set_hooks(NULL);
  close_writer(w);
}

/* A disk that stays full: the queue stops growing at max_queue_bytes, later events are refused
** with the disk's error and counted, and what was queued is written once there is room. */
static void test_queue_cap(void) {
  tbt_writer_options o;
  tbt_writer_options_init(&o);
  o.max_queue = 0;
  o.flush_millis = 600000;
  o.max_queue_bytes = 1000;
  tbt_writer *w;
  CHECK_EQ_INT(tbt_writer_open(&w, tu_tmpdir("cap"), &o), 0);
  tbt_set_default_writer(w);
  tbt_io_set_hooks(&faulty);
  g_budget = 0;
  long queued = 0, refused = 0;
  for (int i = 0; i < 100; i++) {
    int rc = tbt_scalar("x", i, TBT_STEP(queued), NULL);
    CHECK_EQ_INT(rc, -ENOSPC);
    tbt_writer_stats st;
    tbt_writer_get_stats(w, &st);
    if ((long)st.events_pending > queued) queued++;
    else refused++;
  }
  tbt_writer_stats st;
  tbt_writer_get_stats(w, &st);
  CHECK(queued > 5 && queued < 30);                 /* about 1000 bytes of ~50-byte records */
  CHECK_EQ_INT(st.events_dropped, refused);
  CHECK_EQ_INT(st.events_pending, queued);
  clear_faults();
  CHECK_EQ_INT(tbt_writer_flush(w), 0);
  check_steps(tbt_writer_path(w), queued, 0);
  /* With room again, writes are taken as before. */
  CHECK_EQ_INT(tbt_scalar("x", 0, TBT_STEP(queued), NULL), 1);
  tbt_io_set_hooks(NULL);
  CHECK_EQ_INT(tbt_writer_close(w), 0);
  check_steps(tbt_writer_path(w), queued + 1, 0);
  close_writer(w);
}

/* The time bound: a child with a large max_queue writes a burst and goes idle; its idle timer
** must hand the burst to the kernel within flush_millis, so a SIGKILL well after that loses
** nothing. */
static void test_sigkill_after_idle(void) {
  const char *dir = tu_tmpdir("killidle");
  char logdir[4200];
  snprintf(logdir, sizeof logdir, "%s", dir);
  int fds[2];
  if (pipe(fds) != 0) abort();
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    tbt_writer_options o;
    tbt_writer_options_init(&o);
    o.max_queue = 100000;
    o.flush_millis = 20;
    tbt_writer *w;
    if (tbt_writer_open(&w, logdir, &o) != 0) _exit(2);
    tbt_set_default_writer(w);
    for (long i = 0; i < 50; i++) tbt_scalar("x", (double)i, TBT_STEP(i), NULL);
    char done = 1;
    if (write(fds[1], &done, 1) != 1) _exit(3);
    for (;;) pause();
  }
  close(fds[1]);
  char c;
  CHECK_EQ_INT(read(fds[0], &c, 1), 1);
  close(fds[0]);
  /* Wait for the timer's flush (20 ms) with a wide margin, polling the file. */
  const char *path = NULL;
  long events = -1;
  for (int tries = 0; tries < 200 && events < 50; tries++) {
    struct timespec ts = {0, 10 * 1000000};
    nanosleep(&ts, NULL);
    path = tu_event_file(logdir);
    events = path ? tu_count_records(path) - 1 : -1;
  }
  kill(pid, SIGKILL);
  int status;
  waitpid(pid, &status, 0);
  CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  CHECK(path != NULL);
  if (!path) return;
  check_steps(path, 50, 0);
}

/* Out of memory at every allocation in turn, through a whole session: a writer, each kind of
** summary, a trace with its export, and reading the file back. Each call either works or says
** TBT_ENOMEM, and nothing is corrupted: the run without a failure reads back whole. (Leaks are
** ASan's to find, in the .asan build.) */
static int ok_or_oom(int rc) {
  return rc >= 0 || rc == TBT_ENOMEM;
}

static int session(const char *dir, char *path_out, size_t path_size) {
  int failures = 0;
  tbt_writer_options o;
  tbt_writer_options_init(&o);
  o.max_queue = 2;
  o.flush_millis = 600000;
  tbt_writer *w = NULL;
  int rc = tbt_writer_open(&w, dir, &o);
  CHECK(ok_or_oom(rc));
  if (rc) return 1;
  snprintf(path_out, path_size, "%s", tbt_writer_path(w));
  tbt_set_default_writer(w);
  const char *strs[] = {"a", "bc"};
  const size_t lens[] = {1, 2};
  const int64_t dims[] = {2};
  const double values[] = {1, 2, 3, 5, 8};
  const int32_t ints[] = {7, -7};
  int rcs[] = {
    tbt_scalar("s", 1.5, TBT_STEP(1), "d"),
    tbt_text("t", strs, lens, 2, dims, 1, TBT_STEP(2), NULL),
    tbt_histogram("h", values, 5, -1, TBT_STEP(3), NULL),
    tbt_write("w", TBT_DT_INT32, ints, sizeof ints, dims, 1, TBT_STEP(4), NULL, 0),
  };
  for (size_t i = 0; i < sizeof rcs / sizeof rcs[0]; i++) {
    CHECK(rcs[i] == 1 || rcs[i] == TBT_ENOMEM);
    failures += rcs[i] != 1;
  }
  rc = tbt_trace_on(NULL);
  CHECK(ok_or_oom(rc));
  failures += rc != 0;
  tbt_thread_name("main");
  TBT_SPAN("step") {
    TBT_SPAN("load") {}
    tbt_instant("tick");
    tbt_counter("depth", 2);
  }
  rc = tbt_trace_export("trace", TBT_STEP(5), NULL);
  CHECK(ok_or_oom(rc) || rc == TBT_ENOTRACE);
  failures += rc != 0;
  tbt_trace_off();
  rc = tbt_writer_close(w);
  CHECK(ok_or_oom(rc));
  failures += rc != 0;
  tbt_set_default_writer(NULL);
  tbt_writer_free(w);
  tbt_reader *r = NULL;
  rc = tbt_reader_open(&r, path_out);
  CHECK(ok_or_oom(rc));
  failures += rc != 0;
  if (rc == 0) {
    const uint8_t *data;
    size_t len;
    uint64_t off;
    while ((rc = tbt_reader_next(r, &data, &len, &off)) == 0) {
      char *json = NULL;
      size_t jl;
      int jrc = tbt_event_to_json(data, len, &json, &jl);
      CHECK(ok_or_oom(jrc));
      failures += jrc != 0;
      tbt_free(json);
    }
    CHECK(rc == TBT_EOF || rc == TBT_ENOMEM);
    failures += rc != TBT_EOF;
    tbt_reader_close(r);
  }
  return failures;
}

static void test_out_of_memory_everywhere(void) {
  char dir[4200], path[4600];
  snprintf(dir, sizeof dir, "%s", tu_tmpdir("oomall"));
  tbt_set_allocator(tu_failing_realloc, NULL);
  int clean = 0;
  long n = 1;
  for (; n < 20000 && !clean; n++) {
    tu_fail_countdown = n;
    int failures = session(dir, path, sizeof path);
    clean = tu_fail_countdown > 0;   /* the countdown never ran out: nothing failed */
    tu_fail_countdown = 0;
    if (clean) CHECK_EQ_INT(failures, 0);
  }
  tbt_set_allocator(NULL, NULL);
  CHECK(clean);
  CHECK(n > 10);   /* the session does allocate: the countdown was reached many times */
  /* The clean run's file: first record, four summaries, the trace's summary. */
  tu_events r = tu_read_events(path);
  CHECK(!r.bad);
  CHECK_EQ_INT(r.n, 6);
  tu_events_free(&r);
}

int main(void) {
  test_disk_full();
  test_logdir_deleted();
  test_logdir_replaced();
  test_deleted_after_short_write();
  test_reopen_fails();
  test_relative_logdir_and_chdir();
  test_queue_cap();
  test_short_writes_and_eintr();
  test_fsync_failure();
  test_open_failure();
  test_permission_denied();
  test_signals();
  test_sigkill();
  test_sigkill_after_idle();
  test_out_of_memory_everywhere();
  return CHECK_DONE();
}

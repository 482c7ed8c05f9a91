/*
** fs.c: mkdir -p, write-it-all and the host name (see fs.h).
*/
#include "fs.h"

#include "alloc.h"
#include "tbtrace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int mkdir_one(const char *path, mode_t mode) {
  if (mkdir(path, mode) == 0) return 0;
  int err = errno;
  struct stat st;
  if (err == EEXIST) {
    if (stat(path, &st) != 0) return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
  }
  return -err;
}

int tbt_mkdir_p(const char *path, mode_t mode) {
  if (!path || !*path) return -ENOENT;
  struct stat st;
  if (stat(path, &st) == 0) return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
  char *p = tbt_strdup(path);
  if (!p) return TBT_ENOMEM;
  int rc = 0;
  /* Create each prefix in turn; existing ones are fine. */
  for (char *s = p + 1; *s; s++) {
    if (*s != '/') continue;
    *s = '\0';
    rc = mkdir_one(p, mode);
    *s = '/';
    if (rc) break;
  }
  if (!rc) rc = mkdir_one(p, mode);
  tbt_free(p);
  return rc;
}

static const tbt_io_hooks real_io = {write, fsync};
static tbt_io_hooks g_io = {write, fsync};

void tbt_io_set_hooks(const tbt_io_hooks *hooks) {
  g_io = hooks ? *hooks : real_io;
}

int tbt_fsync(int fd) {
  return g_io.fsync(fd) == 0 ? 0 : -errno;
}

int tbt_write_all(int fd, const void *buf, size_t len, size_t *written) {
  const char *p = buf;
  size_t done = 0;
  int rc = 0;
  while (done < len) {
    ssize_t n = g_io.write(fd, p + done, len - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      rc = -errno;
      break;
    }
    if (n == 0) {
      rc = -EIO;
      break;
    }
    done += (size_t)n;
  }
  if (written) *written = done;
  return rc;
}

void tbt_hostname(char *buf, size_t size) {
  if (!buf || size == 0) return;
  if (gethostname(buf, size) != 0) buf[0] = '\0';
  buf[size - 1] = '\0';
  if (!buf[0]) {
    strncpy(buf, "localhost", size - 1);
    buf[size - 1] = '\0';
  }
}

void tbt_sync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
}

char *tbt_path_fmt(const char *fmt, ...) {
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

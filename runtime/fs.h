/*
** fs.h: the few file-system operations the writers share (tbt_hostname is public: tbtrace.h). All return 0 or -errno
** (TBT_ENOMEM when memory runs out).
*/
#ifndef TBT_FS_H
#define TBT_FS_H

#include <stddef.h>
#include <sys/types.h>

/* Creates path and its missing parents (like mkdir -p). An existing non-directory is -ENOTDIR. */
int tbt_mkdir_p(const char *path, mode_t mode);

/* Writes all of buf, retrying on EINTR and short writes. On failure *written (if not NULL) says
** how much did reach the file. */
int tbt_write_all(int fd, const void *buf, size_t len, size_t *written);

/* The system calls the writers make, replaceable so tests can inject faults (a short write, ENOSPC,
** EINTR, a failing fsync) the way SQLite's test VFS does. NULL restores the real calls. */
typedef struct tbt_io_hooks {
  ssize_t (*write)(int fd, const void *buf, size_t len);
  int (*fsync)(int fd);
} tbt_io_hooks;
void tbt_io_set_hooks(const tbt_io_hooks *hooks);

/* fsync through the hooks: 0 or -errno. */
int tbt_fsync(int fd);

/* fsyncs a directory so that a rename or a new entry in it survives a crash; best effort (some
** file systems refuse to sync directories), so nothing is returned. */
void tbt_sync_dir(const char *dir);

/* printf into a new allocation (tbt_malloc), NULL when out of memory. */
char *tbt_path_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

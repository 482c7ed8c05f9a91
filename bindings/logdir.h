/*
** logdir.h: the event files under a path, for `tbtrace cat` and `tbtrace ls`.
*/
#ifndef TBT_LOGDIR_H
#define TBT_LOGDIR_H

#include <stddef.h>

typedef struct tbt_paths {
  char **v;
  size_t n, cap;
} tbt_paths;

/* Appends the event files of path to out: path itself when it is not a directory, else every
** regular file under it whose name contains "tfevents", sorted by path. Anything else named like an
** event file (a FIFO, a device, a socket) is skipped with a note on stderr prefixed by tool (a FIFO
** would block the reader forever). Returns 0, or -1 with a message on stderr when path cannot be
** read; a directory without event files is not an error here (out is unchanged). */
int tbt_logdir_find(const char *tool, const char *path, tbt_paths *out);

void tbt_paths_free(tbt_paths *p);

#endif

/*
** logdir.c: finding event files under a path (see logdir.h).
*/
#define _GNU_SOURCE   /* nftw */
#include "logdir.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int add_path(tbt_paths *p, const char *s) {
  if (p->n == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 16;
    char **v = realloc(p->v, cap * sizeof *v);
    if (!v) return -1;
    p->v = v;
    p->cap = cap;
  }
  if (!(p->v[p->n] = strdup(s))) return -1;
  p->n++;
  return 0;
}

void tbt_paths_free(tbt_paths *p) {
  for (size_t i = 0; i < p->n; i++) free(p->v[i]);
  free(p->v);
  p->v = NULL;
  p->n = p->cap = 0;
}

/* nftw has no user pointer: the walk in progress. */
static tbt_paths *g_out;
static const char *g_tool;

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  if (type != FTW_F || !strstr(path + ftw->base, "tfevents")) return 0;
  if (!S_ISREG(st->st_mode)) {
    fprintf(stderr, "%s: %s: skipped, not a regular file\n", g_tool, path);
    return 0;
  }
  return add_path(g_out, path) ? 1 : 0;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int tbt_logdir_find(const char *tool, const char *path, tbt_paths *out) {
  struct stat st;
  if (stat(path, &st) != 0) {
    fprintf(stderr, "%s: %s: %s\n", tool, path, strerror(errno));
    return -1;
  }
  if (!S_ISDIR(st.st_mode)) {
    if (add_path(out, path)) {
      fprintf(stderr, "%s: out of memory\n", tool);
      return -1;
    }
    return 0;
  }
  size_t first = out->n;
  g_out = out;
  g_tool = tool;
  int rc = nftw(path, visit, 32, FTW_PHYS);
  g_out = NULL;
  if (rc != 0) {
    fprintf(stderr, "%s: %s: cannot walk the directory\n", tool, path);
    return -1;
  }
  qsort(out->v + first, out->n - first, sizeof *out->v, by_name);
  return 0;
}

/*
** cat.c: `tbtrace cat [--skip-corrupt] [--tag PATTERN] FILE|LOGDIR...`: every record of every event
** file as one JSON line, checksums verified. Directories are searched recursively for regular files
** whose name contains "tfevents", in path order.
*/
#include "cat.h"

#include "logdir.h"
#include "tbtrace.h"

#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TOOL "tbtrace cat"

typedef struct cat_opts {
  int skip_corrupt;
  const char **tags;   /* glob patterns; an event is printed when one of its tags matches one */
  int ntags;
} cat_opts;

/* A JSON string of a path (paths are bytes; escape what JSON needs). */
static void print_json_string(const char *s) {
  putchar('"');
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') printf("\\%c", c);
    else if (c < 0x20) printf("\\u%04x", c);
    else putchar(c);
  }
  putchar('"');
}

/* Whether the event has a summary value whose tag matches one of the patterns. */
static int tag_matches(const cat_opts *o, const uint8_t *data, size_t len) {
  tbt_event ev;
  if (tbt_event_decode(data, len, &ev) != 0) return 0;
  int hit = 0;
  for (size_t i = 0; i < ev.nvalues && !hit; i++)
    for (int k = 0; k < o->ntags && !hit; k++) hit = fnmatch(o->tags[k], ev.values[i].tag, 0) == 0;
  tbt_event_clear(&ev);
  return hit;
}

/* Prints one file and counts its records in *nrec; returns 0 when clean, 1 when data was damaged,
** 2 when it cannot be read. */
static int cat_file(const char *path, const cat_opts *o, size_t *nrec) {
  tbt_reader *r;
  int rc = tbt_reader_open(&r, path);
  if (rc) {
    fprintf(stderr, TOOL ": %s: %s\n", path, tbt_strerror(rc));
    return 2;
  }
  const uint8_t *data;
  size_t len;
  uint64_t off;
  int status = 0, good = 0;
  for (;;) {
    rc = tbt_reader_next(r, &data, &len, &off);
    if (rc == TBT_EOF) break;
    if (rc == TBT_ECORRUPT || rc == TBT_ETRUNCATED) {
      /* Nothing valid at the start: most likely not an event file at all. */
      if (!good && off == 0) fprintf(stderr, TOOL ": %s: not a TFRecord file (%s)\n", path, tbt_reader_error(r));
      else fprintf(stderr, TOOL ": %s: %s\n", path, tbt_reader_error(r));
      status = 1;
      if (rc == TBT_ETRUNCATED || !o->skip_corrupt) break;
      uint64_t next;
      int src = tbt_reader_skip(r, &next);
      if (src != 0 && src != TBT_EOF) {
        fprintf(stderr, TOOL ": %s: %s\n", path, tbt_strerror(src));
        break;
      }
      fprintf(stderr, TOOL ": %s: skipped bytes %" PRIu64 "..%" PRIu64 " (%" PRIu64 " bytes)%s\n", path, off,
              next, next - off, src == TBT_EOF ? ", to the end of the file" : "");
      if (src == TBT_EOF) break;
      continue;
    }
    if (rc != 0) {
      fprintf(stderr, TOOL ": %s: %s\n", path, tbt_reader_error(r));
      status = 2;
      break;
    }
    good++;
    if (o->ntags && !tag_matches(o, data, len)) continue;
    char *json;
    size_t n;
    int jrc = tbt_event_to_json(data, len, &json, &n);
    if (jrc) {
      fprintf(stderr, TOOL ": %s: record at offset %" PRIu64 " is not an Event (%s)\n", path, off,
              tbt_strerror(jrc));
      status = 1;
      continue;
    }
    fputs("{\"file\":", stdout);
    print_json_string(path);
    printf(",\"offset\":%" PRIu64 ",\"event\":", off);
    fwrite(json, 1, n, stdout);
    fputs("}\n", stdout);
    tbt_free(json);
  }
  *nrec += (size_t)good;
  tbt_reader_close(r);
  return status;
}

static void usage(FILE *f) {
  fputs("usage: tbtrace cat [--skip-corrupt] [--tag PATTERN]... FILE|LOGDIR...\n"
        "Prints every record of the event files as one JSON object per line:\n"
        "  {\"file\": PATH, \"offset\": N, \"event\": {...}}\n"
        "A LOGDIR is searched recursively for regular files whose name contains \"tfevents\".\n"
        "  --skip-corrupt   go on past a bad record to the next valid one; each skipped byte range\n"
        "                   is reported on stderr\n"
        "  --tag PATTERN    only events with a summary tag matching the glob PATTERN (repeatable)\n"
        "Exit status: 0 all records read cleanly, 1 damaged data (a corrupt, skipped or truncated\n"
        "record, or a record that is no Event), 2 usage or I/O error, or a path with no event files.\n",
        f);
}

int tbt_cat_main(int argc, char **argv) {
  cat_opts o = {0, NULL, 0};
  const char **tags = calloc((size_t)argc, sizeof *tags);
  if (!tags) return 2;
  o.tags = tags;
  int i = 1;
  for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    }
    if (strcmp(a, "--help") == 0) {
      usage(stdout);
      free(tags);
      return 0;
    }
    if (strcmp(a, "--skip-corrupt") == 0) {
      o.skip_corrupt = 1;
    } else if (strcmp(a, "--tag") == 0 && i + 1 < argc) {
      tags[o.ntags++] = argv[++i];
    } else if (strncmp(a, "--tag=", 6) == 0) {
      tags[o.ntags++] = a + 6;
    } else {
      fprintf(stderr, TOOL ": unknown option '%s'\n", a);
      usage(stderr);
      free(tags);
      return 2;
    }
  }
  if (i < argc && strcmp(argv[i], "-h") == 0) {
    usage(stdout);
    free(tags);
    return 0;
  }
  if (i >= argc) {
    usage(stderr);
    free(tags);
    return 2;
  }
  int status = 0;
  for (; i < argc; i++) {
    tbt_paths found = {0};
    struct stat st;
    int is_dir = stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode);
    if (tbt_logdir_find(TOOL, argv[i], &found) != 0) {
      status = 2;
    } else if (found.n == 0) {
      fprintf(stderr, TOOL ": %s: no event files (files named *tfevents*) under this directory\n", argv[i]);
      status = 2;
    }
    size_t nrec = 0;
    int worst = 0;
    for (size_t k = 0; k < found.n; k++) {
      int s = cat_file(found.v[k], &o, &nrec);
      if (s > worst) worst = s;
    }
    /* An empty file in a logdir is normal (the profiler's *.profile-empty marker); a path that
    ** yields no record at all is not what the user asked for. */
    if (found.n > 0 && nrec == 0 && worst == 0) {
      fprintf(stderr, is_dir ? TOOL ": %s: no event records in its event files\n" : TOOL ": %s: empty file, no records\n",
              argv[i]);
      worst = 2;
    }
    if (worst > status) status = worst;
    tbt_paths_free(&found);
  }
  free(tags);
  fflush(stdout);
  return status;
}

/*
** merge.c: `tbtrace merge RUN_DIR -o OUT`: the <host>.trace.json.gz files of one profile run (one
** per process of a job, docs/cluster.md) as one Chrome trace for Perfetto, which, unlike the
** profile plugin, shows one file at a time.
**
**   - every input becomes its own process (pid 1, 2, ... in file-name order), named after the
**     file's host part; a process_labels entry keeps the original process name and pid;
**   - times are put on one clock: each file's ts are relative to its otherData.trace_start_ns
**     (epoch nanoseconds), so they are shifted by that start minus the earliest start of all
**     files. A file without trace_start_ns is taken as starting at the earliest one (a warning);
**   - events are copied as they are except "pid" and "ts"; the inputs' own process_name and
**     process_sort_index metadata are replaced.
** Every input is read and checked before anything is written; the output is written to
** "<OUT>.tmp.<pid>" and renamed, gzip-compressed when OUT ends in ".gz". Memory: one input at a
** time, decompressed (at most 1 GiB).
*/
#include "merge.h"

#include "tbtrace.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define SUFFIX ".trace.json.gz"
#define MERGE_MAX_INPUT ((size_t)1 << 30)
#define MAX_DEPTH 256

/* ----------------------------------------------------------------- reading */

/* The whole of a (gzip or plain) file into *out; returns NULL or an error message. */
static const char *read_input(const char *path, char **out, size_t *len) {
  *out = NULL;
  *len = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return strerror(errno);
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return "not a regular file";
  }
  gzFile gz = gzdopen(fd, "rb");
  if (!gz) {
    close(fd);
    return "out of memory";
  }
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap + 1);
  const char *err = buf ? NULL : "out of memory";
  while (!err) {
    if (n == cap) {
      if (cap >= MERGE_MAX_INPUT) {
        err = "more than 1 GiB of JSON";
        break;
      }
      char *b = realloc(buf, cap * 2 + 1);
      if (!b) {
        err = "out of memory";
        break;
      }
      buf = b;
      cap *= 2;
    }
    unsigned want = cap - n > (1u << 30) ? (1u << 30) : (unsigned)(cap - n);
    int r = gzread(gz, buf + n, want);
    if (r < 0) {
      int zerr;
      const char *msg = gzerror(gz, &zerr);
      err = zerr == Z_ERRNO ? strerror(errno) : msg;
      /* gzerror's message lives in gz: keep a static copy past gzclose */
      static char copy[256];
      snprintf(copy, sizeof copy, "%s", err);
      err = copy;
      break;
    }
    if (r == 0) break;
    n += (size_t)r;
  }
  gzclose(gz);
  if (err) {
    free(buf);
    return err;
  }
  buf[n] = '\0';
  *out = buf;
  *len = n;
  return NULL;
}

/* ----------------------------------------------------------------- JSON */

typedef struct scan {
  const char *s;
  size_t n, i;
  int depth;
} scan;

typedef struct span {
  size_t a, b;   /* [a, b) in the text */
} span;

static void ws(scan *p) {
  while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' ||
                         p->s[p->i] == '\r'))
    p->i++;
}

static int peek(scan *p) {
  ws(p);
  return p->i < p->n ? (unsigned char)p->s[p->i] : -1;
}

static int eat(scan *p, char c) {
  if (peek(p) != c) return 0;
  p->i++;
  return 1;
}

static int is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int skip_string(scan *p) {
  if (!eat(p, '"')) return 0;
  while (p->i < p->n) {
    unsigned char c = (unsigned char)p->s[p->i++];
    if (c == '"') return 1;
    if (c < 0x20) return 0;
    if (c == '\\') {
      if (p->i >= p->n) return 0;
      char e = p->s[p->i++];
      if (e == 'u') {
        for (int k = 0; k < 4; k++)
          if (p->i >= p->n || !is_hex(p->s[p->i++])) return 0;
      } else if (!strchr("\"\\/bfnrt", e) || !e) {
        return 0;
      }
    }
  }
  return 0;
}

static int digits(scan *p) {
  size_t start = p->i;
  while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') p->i++;
  return p->i > start;
}

static int skip_number(scan *p) {
  ws(p);
  if (p->i < p->n && p->s[p->i] == '-') p->i++;
  if (!digits(p)) return 0;
  if (p->i < p->n && p->s[p->i] == '.') {
    p->i++;
    if (!digits(p)) return 0;
  }
  if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
    p->i++;
    if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-')) p->i++;
    if (!digits(p)) return 0;
  }
  return 1;
}

static int skip_word(scan *p, const char *w) {
  size_t n = strlen(w);
  if (p->n - p->i < n || memcmp(p->s + p->i, w, n) != 0) return 0;
  p->i += n;
  return 1;
}

static int skip_value(scan *p);

static int skip_container(scan *p, char open, char close) {
  if (!eat(p, open)) return 0;
  if (++p->depth > MAX_DEPTH) return 0;
  if (!eat(p, close)) {
    do {
      if (open == '{' && (!skip_string(p) || !eat(p, ':'))) return 0;
      if (!skip_value(p)) return 0;
    } while (eat(p, ','));
    if (!eat(p, close)) return 0;
  }
  p->depth--;
  return 1;
}

static int skip_value(scan *p) {
  switch (peek(p)) {
    case '{': return skip_container(p, '{', '}');
    case '[': return skip_container(p, '[', ']');
    case '"': return skip_string(p);
    case 't': return skip_word(p, "true");
    case 'f': return skip_word(p, "false");
    case 'n': return skip_word(p, "null");
    default: return skip_number(p);
  }
}

/* The value that follows, as a span (leading blanks skipped). */
static int value_span(scan *p, span *v) {
  ws(p);
  v->a = p->i;
  if (!skip_value(p)) return 0;
  v->b = p->i;
  return 1;
}

/* 1 when the string at span k (quotes included) is exactly the plain string s. */
static int str_is(const scan *p, span k, const char *s) {
  size_t n = strlen(s);
  return k.b - k.a == n + 2 && p->s[k.a] == '"' && memcmp(p->s + k.a + 1, s, n) == 0;
}

/* Walks the members of the object at p: each(key, value) per member; 0 when malformed. */
typedef int (*member_fn)(void *ud, const scan *p, span key, span value);

static int each_member(scan *p, member_fn each, void *ud) {
  if (!eat(p, '{')) return 0;
  if (++p->depth > MAX_DEPTH) return 0;
  if (!eat(p, '}')) {
    do {
      span k, v;
      ws(p);
      k.a = p->i;
      if (!skip_string(p)) return 0;
      k.b = p->i;
      if (!eat(p, ':') || !value_span(p, &v)) return 0;
      if (each && !each(ud, p, k, v)) return 0;
    } while (eat(p, ','));
    if (!eat(p, '}')) return 0;
  }
  p->depth--;
  return 1;
}

/* A string value's contents, unescaped (\uXXXX outside ASCII as '?'), cut to size. */
static void str_copy(const scan *p, span v, char *out, size_t size) {
  size_t n = 0;
  if (v.b - v.a < 2 || p->s[v.a] != '"') {
    /* a number: its text */
    for (size_t i = v.a; i < v.b && n + 1 < size; i++) out[n++] = p->s[i];
    out[n] = '\0';
    return;
  }
  for (size_t i = v.a + 1; i + 1 < v.b && n + 1 < size; i++) {
    char c = p->s[i];
    if (c == '\\') {
      char e = p->s[++i];
      if (e == 'u') {
        unsigned cp = (unsigned)strtoul((char[5]){p->s[i + 1], p->s[i + 2], p->s[i + 3], p->s[i + 4], 0},
                                        NULL, 16);
        c = cp < 0x80 ? (char)cp : '?';
        i += 4;
      } else {
        c = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'b' ? '\b' : e == 'f' ? '\f' : e;
      }
    }
    out[n++] = c;
  }
  out[n] = '\0';
}

/* A decimal number of microseconds as exact nanoseconds: at most three decimals, no exponent. */
static int micros_to_ns(const char *s, size_t n, int64_t *ns) {
  size_t i = 0;
  int neg = 0;
  if (i < n && s[i] == '-') neg = 1, i++;
  int64_t whole = 0;
  size_t d = 0;
  for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, d++) {
    if (whole > (INT64_MAX / 1000 - 9) / 10) return 0;
    whole = whole * 10 + (s[i] - '0');
  }
  if (!d) return 0;
  int64_t frac = 0;
  int fd = 0;
  if (i < n && s[i] == '.') {
    for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
      if (++fd > 3) return 0;
      frac = frac * 10 + (s[i] - '0');
    }
    if (!fd) return 0;
  }
  if (i != n) return 0;
  for (int k = fd; k < 3; k++) frac *= 10;
  *ns = (whole * 1000 + frac) * (neg ? -1 : 1);
  return 1;
}

/* ns as the shortest decimal number of microseconds. */
static int ns_to_micros(char *dst, size_t size, int64_t ns) {
  uint64_t a = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
  unsigned frac = (unsigned)(a % 1000);
  int n = snprintf(dst, size, "%s%" PRIu64, ns < 0 ? "-" : "", a / 1000);
  if (frac) {
    char f[8];
    snprintf(f, sizeof f, ".%03u", frac);
    size_t fl = strlen(f);
    while (f[fl - 1] == '0') f[--fl] = '\0';
    n += snprintf(dst + n, size - (size_t)n, "%s", f);
  }
  return n;
}

/* ----------------------------------------------------------------- inputs */

typedef struct input {
  char *path;
  char *host;            /* the file name without SUFFIX */
  int64_t start_ns;
  int has_start;
} input;

typedef struct top {
  span events;           /* the traceEvents array */
  int has_events;
  int64_t start_ns;
  int has_start;
} top;

static int other_member(void *ud, const scan *p, span k, span v) {
  top *t = ud;
  if (str_is(p, k, "trace_start_ns")) {
    char buf[32];
    str_copy(p, v, buf, sizeof buf);
    char *end;
    errno = 0;
    long long x = strtoll(buf, &end, 10);
    if (*buf && !*end && !errno) {
      t->start_ns = x;
      t->has_start = 1;
    }
  }
  return 1;
}

static int top_member(void *ud, const scan *p, span k, span v) {
  top *t = ud;
  if (str_is(p, k, "traceEvents")) {
    if (p->s[v.a] != '[') return 0;
    t->events = v;
    t->has_events = 1;
  } else if (str_is(p, k, "otherData") && p->s[v.a] == '{') {
    scan sub = {p->s, v.b, v.a, p->depth};
    return each_member(&sub, other_member, t);
  }
  return 1;
}

/* Finds the events and the start of a whole document; 0 when it is not a Chrome trace. */
static int parse_top(scan *p, top *t) {
  memset(t, 0, sizeof *t);
  if (peek(p) == '[') {   /* the JSON Array Format: events only */
    if (!value_span(p, &t->events)) return 0;
    t->has_events = 1;
  } else if (!each_member(p, top_member, t)) {
    return 0;
  }
  ws(p);
  return p->i == p->n && t->has_events;
}

/* ----------------------------------------------------------------- output */

typedef struct out {
  gzFile gz;
  int failed;
  int first;            /* no event written yet */
} out;

static void put(out *o, const char *s, size_t n) {
  if (o->failed || n == 0) return;
  while (n) {
    unsigned chunk = n > (1u << 30) ? (1u << 30) : (unsigned)n;
    if (gzwrite(o->gz, s, chunk) != (int)chunk) {
      o->failed = 1;
      return;
    }
    s += chunk;
    n -= chunk;
  }
}

static void puts_(out *o, const char *s) {
  put(o, s, strlen(s));
}

static void put_quoted(out *o, const char *s) {
  put(o, "\"", 1);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    char esc[8];
    if (c == '"' || c == '\\') {
      esc[0] = '\\', esc[1] = (char)c;
      put(o, esc, 2);
    } else if (c < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", c);
      put(o, esc, 6);
    } else {
      put(o, (const char *)&c, 1);
    }
  }
  put(o, "\"", 1);
}

static void begin_event(out *o) {
  puts_(o, o->first ? "\n" : ",\n");
  o->first = 0;
}

/* The processes one input became: its pids (as written) and what they are called. */
typedef struct proc {
  char raw[64];         /* the pid's JSON text; "" for events without one */
  char name[256];       /* the input's process_name, if it had one */
  long id;              /* the merged pid */
} proc;

typedef struct file_job {
  out *o;
  proc *procs;
  size_t nprocs, cap;
  long *next_id;
  int64_t shift_ns;
  /* the event being copied */
  span ph, name, pid, args;
} file_job;

static proc *proc_for(file_job *j, const char *raw) {
  for (size_t i = 0; i < j->nprocs; i++)
    if (strcmp(j->procs[i].raw, raw) == 0) return &j->procs[i];
  if (j->nprocs == j->cap) {
    size_t cap = j->cap ? j->cap * 2 : 4;
    proc *v = realloc(j->procs, cap * sizeof *v);
    if (!v) return NULL;
    j->procs = v;
    j->cap = cap;
  }
  proc *pr = &j->procs[j->nprocs++];
  memset(pr, 0, sizeof *pr);
  snprintf(pr->raw, sizeof pr->raw, "%s", raw);
  pr->id = ++*j->next_id;
  return pr;
}

static int note_member(void *ud, const scan *p, span k, span v) {
  file_job *j = ud;
  if (str_is(p, k, "ph")) j->ph = v;
  else if (str_is(p, k, "name")) j->name = v;
  else if (str_is(p, k, "pid")) j->pid = v;
  else if (str_is(p, k, "args")) j->args = v;
  return 1;
}

typedef struct emit {
  file_job *j;
  long pid;
  int first;
} emit;

static int copy_member(void *ud, const scan *p, span k, span v) {
  emit *e = ud;
  out *o = e->j->o;
  if (!e->first) put(o, ",", 1);
  e->first = 0;
  put(o, p->s + k.a, k.b - k.a);
  put(o, ":", 1);
  char buf[64];
  if (str_is(p, k, "pid")) {
    snprintf(buf, sizeof buf, "%ld", e->pid);
    puts_(o, buf);
  } else if (str_is(p, k, "ts") && p->s[v.a] != '"') {
    int64_t ns;
    if (micros_to_ns(p->s + v.a, v.b - v.a, &ns) && !__builtin_add_overflow(ns, e->j->shift_ns, &ns)) {
      ns_to_micros(buf, sizeof buf, ns);
    } else {
      char num[64];
      snprintf(num, sizeof num, "%.*s", (int)(v.b - v.a < 63 ? v.b - v.a : 63), p->s + v.a);
      snprintf(buf, sizeof buf, "%.3f", strtod(num, NULL) + (double)e->j->shift_ns / 1000.0);
    }
    puts_(o, buf);
  } else {
    put(o, p->s + v.a, v.b - v.a);
  }
  return 1;
}

/* Copies one event with its pid and ts rewritten; process metadata is kept aside. */
static int copy_event(file_job *j, scan *p) {
  size_t start = p->i;
  j->ph = j->name = j->pid = j->args = (span){0, 0};
  if (peek(p) != '{') return skip_value(p);   /* not an event object: dropped */
  if (!each_member(p, note_member, j)) return 0;
  char raw[64] = "";
  if (j->pid.b > j->pid.a) str_copy(p, j->pid, raw, sizeof raw);
  proc *pr = proc_for(j, raw);
  if (!pr) return 0;
  if (j->ph.b && str_is(p, j->ph, "M") && j->name.b &&
      (str_is(p, j->name, "process_name") || str_is(p, j->name, "process_sort_index"))) {
    if (str_is(p, j->name, "process_name") && j->args.b && p->s[j->args.a] == '{') {
      scan sub = {p->s, j->args.b, j->args.a, 0};
      span nm = {0, 0};
      if (peek(&sub) == '{') {
        file_job tmp = *j;
        tmp.name = (span){0, 0};
        each_member(&sub, note_member, &tmp);
        nm = tmp.name;
      }
      if (nm.b > nm.a) str_copy(p, nm, pr->name, sizeof pr->name);
    }
    return 1;
  }
  begin_event(j->o);
  scan again = {p->s, p->i, start, 0};
  put(j->o, "{", 1);
  emit e = {j, pr->id, 1};
  if (!each_member(&again, copy_member, &e)) return 0;
  put(j->o, "}", 1);
  return 1;
}

static void write_process_metadata(out *o, const input *in, const proc *pr, size_t nprocs) {
  char buf[512];
  begin_event(o);
  snprintf(buf, sizeof buf, "{\"ph\":\"M\",\"pid\":%ld,\"tid\":0,\"name\":\"process_name\",\"args\":{\"name\":",
           pr->id);
  puts_(o, buf);
  if (nprocs > 1 && pr->raw[0]) {
    char name[1024];
    snprintf(name, sizeof name, "%s (pid %s)", in->host, pr->raw);
    put_quoted(o, name);
  } else {
    put_quoted(o, in->host);
  }
  puts_(o, "}}");
  begin_event(o);
  snprintf(buf, sizeof buf,
           "{\"ph\":\"M\",\"pid\":%ld,\"tid\":0,\"name\":\"process_sort_index\",\"args\":{\"sort_index\":%ld}}",
           pr->id, pr->id);
  puts_(o, buf);
  begin_event(o);
  snprintf(buf, sizeof buf, "{\"ph\":\"M\",\"pid\":%ld,\"tid\":0,\"name\":\"process_labels\",\"args\":{\"labels\":",
           pr->id);
  puts_(o, buf);
  char label[512];
  if (pr->name[0]) snprintf(label, sizeof label, "%s, pid %s", pr->name, pr->raw[0] ? pr->raw : "?");
  else snprintf(label, sizeof label, "pid %s", pr->raw[0] ? pr->raw : "?");
  put_quoted(o, label);
  puts_(o, "}}");
}

/* ----------------------------------------------------------------- main */

static int by_path(const void *a, const void *b) {
  return strcmp(((const input *)a)->path, ((const input *)b)->path);
}

static void usage(FILE *f) {
  fputs("usage: tbtrace merge RUN_DIR -o OUT.trace.json.gz\n"
        "Merges the <host>.trace.json.gz files of a profile run (plugins/profile/<run>) into one\n"
        "Chrome trace: a process per file, named after its host, all on one clock.\n"
        "OUT is gzip-compressed when it ends in .gz. Do not write OUT into RUN_DIR: TensorBoard\n"
        "would list it as one more host.\n"
        "Exit status: 0 written, 1 an input is unreadable or not a Chrome trace, 2 usage or output error.\n",
        f);
}

static void free_inputs(input *v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(v[i].path);
    free(v[i].host);
  }
  free(v);
}

/* The run's trace files, sorted; skips OUT itself and anything that is not a regular file. */
static int list_inputs(const char *dir, const struct stat *outst, input **res, size_t *count) {
  DIR *d = opendir(dir);
  if (!d) {
    fprintf(stderr, "tbtrace merge: %s: %s\n", dir, strerror(errno));
    return 2;
  }
  input *v = NULL;
  size_t n = 0, cap = 0;
  struct dirent *e;
  size_t sl = strlen(SUFFIX);
  int rc = 0;
  while ((e = readdir(d))) {
    size_t len = strlen(e->d_name);
    if (e->d_name[0] == '.' || len <= sl || strcmp(e->d_name + len - sl, SUFFIX) != 0) continue;
    char *path = malloc(strlen(dir) + len + 2);
    if (!path) {
      rc = 2;
      break;
    }
    sprintf(path, "%s/%s", dir, e->d_name);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
        (outst && st.st_dev == outst->st_dev && st.st_ino == outst->st_ino)) {
      if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        fprintf(stderr, "tbtrace merge: %s: not a regular file, skipped\n", path);
      free(path);
      continue;
    }
    if (n == cap) {
      cap = cap ? cap * 2 : 8;
      input *nv = realloc(v, cap * sizeof *nv);
      if (!nv) {
        free(path);
        rc = 2;
        break;
      }
      v = nv;
    }
    memset(&v[n], 0, sizeof v[n]);
    v[n].path = path;
    v[n].host = strndup(e->d_name, len - sl);
    if (!v[n++].host) {
      rc = 2;
      break;
    }
  }
  closedir(d);
  if (rc) {
    fprintf(stderr, "tbtrace merge: out of memory\n");
    free_inputs(v, n);
    return rc;
  }
  qsort(v, n, sizeof *v, by_path);
  *res = v;
  *count = n;
  return 0;
}

static int merge_file(out *o, const input *in, int64_t base, long *next_id) {
  char *text;
  size_t len;
  const char *err = read_input(in->path, &text, &len);
  if (err) {
    fprintf(stderr, "tbtrace merge: %s: %s\n", in->path, err);
    return 0;
  }
  scan p = {text, len, 0, 0};
  top t;
  int ok = parse_top(&p, &t);
  file_job j;
  memset(&j, 0, sizeof j);
  j.o = o;
  j.next_id = next_id;
  j.shift_ns = in->has_start ? in->start_ns - base : 0;
  if (ok) {
    scan ev = {text, t.events.b, t.events.a, 0};
    eat(&ev, '[');
    if (!eat(&ev, ']')) {
      do ok = copy_event(&j, &ev);
      while (ok && eat(&ev, ','));
    }
  }
  if (ok && j.nprocs == 0) proc_for(&j, "");   /* an empty trace is still a process */
  for (size_t i = 0; ok && i < j.nprocs; i++) write_process_metadata(o, in, &j.procs[i], j.nprocs);
  free(j.procs);
  free(text);
  if (!ok) fprintf(stderr, "tbtrace merge: %s: not a Chrome trace\n", in->path);
  return ok;
}

int tbt_merge_main(int argc, char **argv) {
  const char *dir = NULL, *outpath = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      usage(stdout);
      return 0;
    }
    if (strcmp(argv[i], "-o") == 0 && i + 1 < argc && !outpath) outpath = argv[++i];
    else if (argv[i][0] != '-' && !dir) dir = argv[i];
    else {
      usage(stderr);
      return 2;
    }
  }
  if (!dir || !outpath || !*outpath) {
    usage(stderr);
    return 2;
  }
  struct stat outst;
  int have_out = stat(outpath, &outst) == 0;
  input *in;
  size_t n;
  int rc = list_inputs(dir, have_out ? &outst : NULL, &in, &n);
  if (rc) return rc;
  if (n == 0) {
    fprintf(stderr, "tbtrace merge: %s: no *" SUFFIX " files\n", dir);
    free_inputs(in, n);
    return 1;
  }

  /* First pass: every input readable and a trace, and the earliest start. */
  int64_t base = 0;
  int has_base = 0;
  for (size_t i = 0; i < n; i++) {
    char *text;
    size_t len;
    const char *err = read_input(in[i].path, &text, &len);
    if (err) {
      fprintf(stderr, "tbtrace merge: %s: %s\n", in[i].path, err);
      free_inputs(in, n);
      return 1;
    }
    scan p = {text, len, 0, 0};
    top t;
    int ok = parse_top(&p, &t);
    if (ok) {
      scan ev = {text, t.events.b, t.events.a, 0};
      ok = skip_value(&ev);
    }
    free(text);
    if (!ok) {
      fprintf(stderr, "tbtrace merge: %s: not a Chrome trace\n", in[i].path);
      free_inputs(in, n);
      return 1;
    }
    in[i].has_start = t.has_start;
    in[i].start_ns = t.start_ns;
    if (t.has_start && (!has_base || t.start_ns < base)) base = t.start_ns, has_base = 1;
  }
  for (size_t i = 0; i < n; i++)
    if (!in[i].has_start)
      fprintf(stderr, "tbtrace merge: %s: no otherData.trace_start_ns; its times are taken as they are\n",
              in[i].path);

  size_t ol = strlen(outpath);
  int gzip = ol > 3 && strcmp(outpath + ol - 3, ".gz") == 0;
  char *tmp = malloc(ol + 32);
  if (!tmp) {
    free_inputs(in, n);
    return 2;
  }
  snprintf(tmp, ol + 32, "%s.tmp.%ld", outpath, (long)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  out o = {NULL, 0, 1};
  if (fd >= 0) o.gz = gzdopen(fd, gzip ? "wb6" : "wT");
  if (!o.gz) {
    fprintf(stderr, "tbtrace merge: %s: %s\n", tmp, fd < 0 ? strerror(errno) : "out of memory");
    if (fd >= 0) close(fd), unlink(tmp);
    free(tmp);
    free_inputs(in, n);
    return 2;
  }
  puts_(&o, "{\"traceEvents\":[");
  long next_id = 0;
  int status = 0;
  for (size_t i = 0; i < n && !status; i++)
    if (!merge_file(&o, &in[i], base, &next_id)) status = 1;
  char tail[256];
  snprintf(tail, sizeof tail,
           "\n],\n\"displayTimeUnit\":\"ns\",\n\"otherData\":{\"producer\":\"tbtrace " TBT_VERSION
           " merge\",\"trace_start_ns\":\"%" PRId64 "\",\"hosts\":[",
           base);
  puts_(&o, tail);
  for (size_t i = 0; i < n; i++) {
    if (i) puts_(&o, ",");
    put_quoted(&o, in[i].host);
  }
  puts_(&o, "]}}\n");
  int zrc = gzclose(o.gz);
  if (!status && (o.failed || zrc != Z_OK)) {
    fprintf(stderr, "tbtrace merge: %s: write failed\n", tmp);
    status = 2;
  }
  if (!status) {
    int sfd = open(tmp, O_RDONLY | O_CLOEXEC);
    if (sfd < 0 || fsync(sfd) != 0 || rename(tmp, outpath) != 0) {
      fprintf(stderr, "tbtrace merge: %s: %s\n", outpath, strerror(errno));
      status = 2;
    }
    if (sfd >= 0) close(sfd);
  }
  if (status) unlink(tmp);
  else printf("%s: %zu hosts\n", outpath, n);
  free(tmp);
  free_inputs(in, n);
  return status;
}

/*
** test_hostile.c: hostile input for every entry point declared in tbtrace.h and tbtrace_trace.h,
** and the core half of tbtrace_policy.h: NULL pointers, zero and huge sizes, NaN and infinities,
** invalid UTF-8, embedded NULs through the calls that take lengths, bad enum values, double
** close and free, use after close. Each row either does what the header promises (checked on
** disk where it writes) or returns the negative code it names; nothing may crash, leak or trip a
** sanitizer. The headers are scanned at run time and every function they declare must have rows
** here, so a new entry point cannot arrive without hostile cases. (tbt_policy_* live in
** libtbtrace_policy, which these tests do not link: spec/c/policy/test_hostile_policy.c.)
*/
#include "check.h"
#include "testutil.h"

#include "tbtrace.h"
#include "tbtrace_policy.h"

#include <ctype.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>

/* ------------------------------------------------------------------ rows and coverage */

typedef struct covered {
  const char *name;
  int rows;
} covered;

static covered g_cov[128];
static int g_ncov;

static void count_row(const char *fn) {
  for (int i = 0; i < g_ncov; i++)
    if (strcmp(g_cov[i].name, fn) == 0) {
      g_cov[i].rows++;
      return;
    }
  if (g_ncov < (int)(sizeof g_cov / sizeof g_cov[0])) g_cov[g_ncov++] = (covered){fn, 1};
}

static int rows_of(const char *fn) {
  for (int i = 0; i < g_ncov; i++)
    if (strcmp(g_cov[i].name, fn) == 0) return g_cov[i].rows;
  return 0;
}

/* One row: fn is the entry point the row exercises, expr its call, want the result. */
#define ROW(fn, expr, want)       \
  do {                            \
    count_row(#fn);               \
    CHECK_EQ_INT((expr), (want)); \
  } while (0)
/* A row whose check is a condition (pointers, strings, void calls followed by a test). */
#define ROWC(fn, cond) \
  do {                 \
    count_row(#fn);    \
    CHECK(cond);       \
  } while (0)
/* A void call that must simply survive. */
#define ROWV(fn, stmt) \
  do {                 \
    count_row(#fn);    \
    stmt;              \
  } while (0)

/* Functions with their rows in another program. */
static const char *const elsewhere[] = {"tbt_policy_load", "tbt_policy_unload", "tbt_policy_error",
                                           "tbt_policy_set_budgets", "tbt_policy_export"};

/* Appends the names of the functions a header declares (any tbt_ identifier directly followed by
** '(' outside comments and preprocessor lines; function pointer typedefs are followed by ')'). */
static int scan_header(const char *path, char names[][64], int n, int max) {
  size_t len;
  uint8_t *src = tu_read_file(path, &len);
  if (!src) {
    fprintf(stderr, "cannot read %s\n", path);
    return -1;
  }
  char *s = (char *)src;
  size_t i = 0;
  int bol = 1;
  while (i < len) {
    if (s[i] == '/' && i + 1 < len && s[i + 1] == '*') {
      char *e = strstr(s + i + 2, "*/");
      i = e ? (size_t)(e - s) + 2 : len;
      continue;
    }
    if ((s[i] == '/' && i + 1 < len && s[i + 1] == '/') || (bol && s[i] == '#')) {
      /* to the end of the line, following continuations */
      while (i < len && !(s[i] == '\n' && s[i - 1] != '\\')) i++;
      continue;
    }
    if (s[i] == '\n') bol = 1;
    else if (!isspace((unsigned char)s[i])) bol = 0;
    if (strncmp(s + i, "tbt_", 4) == 0 && (i == 0 || !(isalnum((unsigned char)s[i - 1]) || s[i - 1] == '_'))) {
      size_t j = i;
      while (j < len && (isalnum((unsigned char)s[j]) || s[j] == '_')) j++;
      size_t k = j;
      while (k < len && (s[k] == ' ' || s[k] == '\t')) k++;
      if (k < len && s[k] == '(' && j - i < 64) {
        char name[64];
        memcpy(name, s + i, j - i);
        name[j - i] = '\0';
        int dup = 0;
        for (int q = 0; q < n; q++) dup |= strcmp(names[q], name) == 0;
        if (!dup && n < max) strcpy(names[n++], name);
      }
      i = j;
      continue;
    }
    i++;
  }
  free(src);
  return n;
}

static void check_coverage(void) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", __FILE__);
  char *slash = strrchr(dir, '/');
  if (slash) *slash = '\0';
  else strcpy(dir, ".");
  static char names[256][64];
  int n = 0;
  const char *headers[] = {"tbtrace.h", "tbtrace_trace.h", "tbtrace_policy.h"};
  for (int h = 0; h < 3; h++) {
    char path[4200];
    snprintf(path, sizeof path, "%s/../../runtime/%s", dir, headers[h]);
    int r = scan_header(path, names, n, 256);
    CHECK(r > n);
    if (r > n) n = r;
  }
  CHECK(n > 60);   /* the scan found the API, not nothing */
  for (int i = 0; i < n; i++) {
    int other = 0;
    for (size_t k = 0; k < sizeof elsewhere / sizeof elsewhere[0]; k++) other |= strcmp(names[i], elsewhere[k]) == 0;
    if (other) continue;
    if (rows_of(names[i]) == 0) {
      check_failures++;
      fprintf(stderr, "%s:%d: %s is declared but has no hostile rows\n", __FILE__, __LINE__, names[i]);
    }
  }
  for (int i = 0; i < g_ncov; i++) fprintf(stderr, "  %-28s %3d rows\n", g_cov[i].name, g_cov[i].rows);
}

/* ------------------------------------------------------------------ helpers */

static tbt_writer *g_w;

/* A fresh default writer whose queue holds everything until read back. */
static void open_default(const char *tag) {
  tbt_writer_options o;
  tbt_writer_options_init(&o);
  o.max_queue = 100000;
  CHECK_EQ_INT(tbt_writer_open(&g_w, tu_tmpdir(tag), &o), 0);
  CHECK_EQ_INT(tbt_set_default_writer(g_w), 0);
  tbt_set_step(1);
}

static tu_events read_default(void) {
  CHECK_EQ_INT(tbt_writer_flush(g_w), 0);
  tu_events r = tu_read_events(tbt_writer_path(g_w));
  CHECK(!r.bad);
  return r;
}

static void close_default(void) {
  tbt_set_default_writer(NULL);
  tbt_writer_free(g_w);
  g_w = NULL;
  tbt_unset_step();
}

static char *huge_string(size_t n, char c) {
  char *s = malloc(n + 1);
  memset(s, c, n);
  s[n] = '\0';
  return s;
}

static uint32_t float_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

/* The float32 a scalar event holds. */
static float scalar_value(const Tensorflow__Event *e) {
  const Tensorflow__Summary__Value *v = tu_value(e);
  float f = -12345.0f;
  if (v && v->tensor && v->tensor->tensor_content.len == 4) memcpy(&f, v->tensor->tensor_content.data, 4);
  return f;
}

/* Invalid UTF-8, each rejected in a tag for its own reason. */
static const char *const bad_utf8[] = {
  "\xff",                 /* never valid */
  "\xc0\x80",             /* overlong NUL */
  "\xe0\x80\xaf",         /* overlong '/' */
  "\xed\xa0\x80",         /* a surrogate */
  "\xf4\x90\x80\x80",     /* past U+10FFFF */
  "ok\xe2\x82",           /* cut short */
  "\x80",                 /* a lone continuation byte */
};
#define NBAD (sizeof bad_utf8 / sizeof bad_utf8[0])

/* ------------------------------------------------------------------ errors, memory, crc */

static void *null_realloc(void *ud, void *p, size_t n) {
  (void)ud;
  if (n == 0) free(p);
  return NULL;   /* every allocation fails */
}

static void hostile_basics(void) {
  ROWC(tbt_strerror, strcmp(tbt_strerror(0), "success") == 0);
  ROWC(tbt_strerror, strcmp(tbt_strerror(TBT_EINVAL), "invalid argument") == 0);
  ROWC(tbt_strerror, strcmp(tbt_strerror(-1), "Operation not permitted") == 0);
  ROWC(tbt_strerror, tbt_strerror(TBT_ERRNO_MIN) != NULL);
  ROWC(tbt_strerror, strcmp(tbt_strerror(TBT_ERRNO_MIN - 1), "unknown error") == 0);
  ROWC(tbt_strerror, strcmp(tbt_strerror(INT_MIN), "unknown error") == 0);
  ROWC(tbt_strerror, strcmp(tbt_strerror(INT_MAX), "unknown error") == 0);
  ROWC(tbt_strerror, strcmp(tbt_strerror(1), "unknown error") == 0);
  ROWC(tbt_strerror, strcmp(tbt_strerror(TBT_EPOLICY - 1), "unknown error") == 0);

  /* Every allocation failing: calls report TBT_ENOMEM (or 0 for intern) and leak nothing. */
  tbt_writer *w = (tbt_writer *)&g_w;   /* must be overwritten with NULL */
  ROWV(tbt_set_allocator, tbt_set_allocator(null_realloc, NULL));
  CHECK_EQ_INT(tbt_writer_open_noop(&w), TBT_ENOMEM);
  CHECK(w == NULL);
  CHECK_EQ_INT(tbt_intern("hostile: a name nobody interned before"), 0);
  uint8_t *png = (uint8_t *)&w;
  size_t png_len = 7;
  uint8_t px[3] = {1, 2, 3};
  CHECK_EQ_INT(tbt_png_encode(px, 1, 1, 3, -1, &png, &png_len), TBT_ENOMEM);
  CHECK(png == NULL && png_len == 0);
  ROWV(tbt_set_allocator, tbt_set_allocator(NULL, (void *)&g_w));   /* NULL restores; ud ignored */
  CHECK_EQ_INT(tbt_writer_open_noop(&w), 0);
  tbt_writer_free(w);

  ROW(tbt_crc32c, tbt_crc32c(0, NULL, 0), 0);
  ROW(tbt_crc32c, tbt_crc32c(0x12345678, NULL, 0), 0x12345678);
  ROW(tbt_crc32c, tbt_crc32c(7, NULL, 5), 7);   /* NULL data: nothing to add */
  ROW(tbt_crc32c, tbt_crc32c(0, "123456789", 9), 0xE3069283u);
  ROWC(tbt_crc32c, tbt_crc32c(0, "a\0b", 3) == tu_crc32c((const uint8_t *)"a\0b", 3));
  ROWC(tbt_crc32c, tbt_crc32c(0, "a\0b", 3) != tbt_crc32c(0, "a", 1));
  ROWC(tbt_crc32c, tbt_crc32c(tbt_crc32c(0, "1234", 4), "56789", 5) == 0xE3069283u);
  {
    size_t n = (size_t)1 << 20;
    uint8_t *big = malloc(n + 3);
    for (size_t i = 0; i < n + 3; i++) big[i] = (uint8_t)(i * 131 + 7);
    ROWC(tbt_crc32c, tbt_crc32c(0, big + 3, n) == tu_crc32c(big + 3, n));   /* unaligned, long */
    free(big);
  }
  ROW(tbt_crc32c_mask, tbt_crc32c_mask(0), 0xa282ead8u);
  ROW(tbt_crc32c_mask, tbt_crc32c_unmask(tbt_crc32c_mask(UINT32_MAX)), UINT32_MAX);
  ROW(tbt_crc32c_unmask, tbt_crc32c_unmask(0xa282ead8u), 0);
  ROW(tbt_crc32c_unmask, tbt_crc32c_mask(tbt_crc32c_unmask(0)), 0);
  ROWC(tbt_crc32c_impl, strcmp(tbt_crc32c_impl(), "sse4.2") == 0 || strcmp(tbt_crc32c_impl(), "portable") == 0);
  ROWV(tbt_free, tbt_free(NULL));
  ROWC(tbt_strdup, tbt_strdup(NULL) == NULL);
  {
    char *d = tbt_strdup("");
    ROWC(tbt_strdup, d != NULL && d[0] == '\0');
    tbt_free(d);
  }

  char host[64];
  ROWV(tbt_hostname, tbt_hostname(NULL, sizeof host));
  host[0] = 'x';
  ROWV(tbt_hostname, tbt_hostname(host, 0));
  ROWC(tbt_hostname, host[0] == 'x');   /* size 0: not touched */
  ROWV(tbt_hostname, tbt_hostname(host, 3));
  ROWC(tbt_hostname, strlen(host) > 0 && strlen(host) <= 2);
  ROWV(tbt_hostname, tbt_hostname(host, sizeof host));
  ROWC(tbt_hostname, strlen(host) > 0);

  ROW(tbt_utf8_valid, tbt_utf8_valid(NULL, 0), 1);
  ROW(tbt_utf8_valid, tbt_utf8_valid(NULL, 5), 0);
  ROW(tbt_utf8_valid, tbt_utf8_valid("a\0b\xc3\xa9", 5), 1);   /* NULs are characters too */
  ROW(tbt_utf8_valid, tbt_utf8_valid("\xc0\x80", 2), 0);         /* overlong */
  ROW(tbt_utf8_valid, tbt_utf8_valid("\xed\xa0\x80", 3), 0);     /* surrogate */
  ROW(tbt_utf8_valid, tbt_utf8_valid("\xf4\x90\x80\x80", 4), 0); /* past U+10FFFF */
  ROW(tbt_utf8_valid, tbt_utf8_valid("\xc3\xa9", 1), 0);          /* cut inside a character */
  ROW(tbt_utf8_valid, tbt_utf8_valid("\xf0\x9f\x98\x80", 4), 1);
}

/* ------------------------------------------------------------------ writers */

static void hostile_writer(void) {
  tbt_writer_options o;
  ROWV(tbt_writer_options_init, tbt_writer_options_init(NULL));
  ROWV(tbt_writer_options_init, tbt_writer_options_init(&o));
  CHECK(o.max_queue == -1 && o.flush_millis == -1 && o.filename_suffix == NULL);

  const char *dir = tu_tmpdir("hw");
  char sub[4300];
  tbt_writer *w = (tbt_writer *)&o;
  ROW(tbt_writer_open, tbt_writer_open(NULL, dir, NULL), TBT_EINVAL);
  ROW(tbt_writer_open, tbt_writer_open(&w, NULL, NULL), TBT_EINVAL);
  CHECK(w == NULL);   /* *out is cleared on every failure */
  ROW(tbt_writer_open, tbt_writer_open(&w, "", NULL), TBT_EINVAL);
  tbt_writer_options_init(&o);
  o.max_queue = -2;
  ROW(tbt_writer_open, tbt_writer_open(&w, dir, &o), TBT_EINVAL);
  o.max_queue = INT_MIN;
  ROW(tbt_writer_open, tbt_writer_open(&w, dir, &o), TBT_EINVAL);
  tbt_writer_options_init(&o);
  o.flush_millis = -2;
  ROW(tbt_writer_open, tbt_writer_open(&w, dir, &o), TBT_EINVAL);
  tbt_writer_options_init(&o);
  o.filename_suffix = "a/b";
  ROW(tbt_writer_open, tbt_writer_open(&w, dir, &o), TBT_EINVAL);
  char *long_suffix = huge_string(300, 's');
  o.filename_suffix = long_suffix;
  ROW(tbt_writer_open, tbt_writer_open(&w, dir, &o), -ENAMETOOLONG);
  free(long_suffix);
  char *long_dir = huge_string(8192, 'd');
  long_dir[0] = '/';
  ROW(tbt_writer_open, tbt_writer_open(&w, long_dir, NULL), -ENAMETOOLONG);
  free(long_dir);
  snprintf(sub, sizeof sub, "%s/file", dir);
  FILE *f = fopen(sub, "w");
  if (f) fclose(f);
  snprintf(sub, sizeof sub, "%s/file/below", dir);
  ROW(tbt_writer_open, tbt_writer_open(&w, sub, NULL), -ENOTDIR);
  CHECK(w == NULL);

  /* Bytes that are not UTF-8 are fine in a path; extreme but valid options work. */
  snprintf(sub, sizeof sub, "%s/\xff\xfe/", dir);
  tbt_writer_options_init(&o);
  o.max_queue = INT_MAX;
  o.flush_millis = INT_MAX;
  o.filename_suffix = "";
  ROW(tbt_writer_open, tbt_writer_open(&w, sub, &o), 0);
  ROWC(tbt_writer_path, strstr(tbt_writer_path(w), "/\xff\xfe/events.out.tfevents.") != NULL);
  ROWC(tbt_writer_logdir, strcmp(tbt_writer_logdir(w), sub) == 0);
  ROWC(tbt_writer_logdir, tbt_writer_logdir(NULL) == NULL);
  ROWC(tbt_writer_path, tbt_writer_path(NULL) == NULL);

  uint8_t junk[4] = {0xff, 0, 0xff, 0};
  ROW(tbt_writer_write_event, tbt_writer_write_event(NULL, junk, 4), TBT_EINVAL);
  ROW(tbt_writer_write_event, tbt_writer_write_event(w, NULL, 4), TBT_EINVAL);
  ROW(tbt_writer_write_event, tbt_writer_write_event(w, NULL, 0), 0);   /* an empty Event */
  ROW(tbt_writer_write_event, tbt_writer_write_event(w, junk, 4), 0);   /* the caller encodes */
  /* A length past the cap is refused before the data is looked at. */
  ROW(tbt_writer_write_event, tbt_writer_write_event(w, junk, ((size_t)1 << 31) + 1), TBT_ERANGE);
  ROW(tbt_writer_write_event, tbt_writer_write_event(w, junk, SIZE_MAX), TBT_ERANGE);
  tbt_writer_stats st;
  memset(&st, 0xee, sizeof st);
  ROW(tbt_writer_get_stats, tbt_writer_get_stats(NULL, &st), TBT_EINVAL);
  ROW(tbt_writer_get_stats, tbt_writer_get_stats(w, NULL), TBT_EINVAL);
  ROW(tbt_writer_get_stats, tbt_writer_get_stats(w, &st), 0);
  CHECK_EQ_U64(st.events_pending, 2);
  ROW(tbt_writer_flush, tbt_writer_flush(NULL), TBT_EINVAL);
  ROW(tbt_writer_flush, tbt_writer_flush(w), 0);
  tu_events r = tu_read_events(tbt_writer_path(w));
  CHECK(r.bad);           /* the junk is framed but is no Event */
  CHECK_EQ_INT(r.n, 2);   /* the header and the empty Event before it */
  tu_events_free(&r);
  long recs = 0;
  {
    tbt_reader *rd;
    CHECK_EQ_INT(tbt_reader_open(&rd, tbt_writer_path(w)), 0);
    const uint8_t *data;
    size_t len;
    while (tbt_reader_next(rd, &data, &len, NULL) == 0) recs++;
    tbt_reader_close(rd);
  }
  CHECK_EQ_INT(recs, 3);   /* but it was framed and written exactly */

  ROW(tbt_writer_close, tbt_writer_close(NULL), TBT_EINVAL);
  ROW(tbt_writer_close, tbt_writer_close(w), 0);
  ROW(tbt_writer_close, tbt_writer_close(w), 0);   /* idempotent */
  ROW(tbt_writer_is_closed, tbt_writer_is_closed(w), 1);
  ROW(tbt_writer_is_closed, tbt_writer_is_closed(NULL), 1);
  ROW(tbt_writer_write_event, tbt_writer_write_event(w, junk, 4), TBT_ECLOSED);
  ROW(tbt_writer_flush, tbt_writer_flush(w), 0);   /* a no-op once closed */
  ROW(tbt_writer_get_stats, tbt_writer_get_stats(w, &st), 0);
  CHECK_EQ_U64(st.events_written, 2);
  ROW(tbt_set_default_writer, tbt_set_default_writer(w), TBT_ECLOSED);
  ROWC(tbt_default_writer, tbt_default_writer() == NULL);
  ROWC(tbt_writer_retain, tbt_writer_retain(NULL) == NULL);
  ROWC(tbt_writer_retain, tbt_writer_retain(w) == w);
  ROWV(tbt_writer_free, tbt_writer_free(w));   /* drops the retain */
  ROWV(tbt_writer_free, tbt_writer_free(w));   /* the last reference */
  ROWV(tbt_writer_free, tbt_writer_free(NULL));

  tbt_writer *noop = (tbt_writer *)&o;
  ROW(tbt_writer_open_noop, tbt_writer_open_noop(NULL), TBT_EINVAL);
  ROW(tbt_writer_open_noop, tbt_writer_open_noop(&noop), 0);
  ROW(tbt_writer_is_noop, tbt_writer_is_noop(noop), 1);
  ROW(tbt_writer_is_noop, tbt_writer_is_noop(NULL), 0);
  ROWC(tbt_writer_path, tbt_writer_path(noop) == NULL);
  ROW(tbt_writer_write_event, tbt_writer_write_event(noop, junk, 4), 0);
  ROW(tbt_writer_flush, tbt_writer_flush(noop), 0);
  ROW(tbt_set_default_writer, tbt_set_default_writer(noop), 0);   /* transparent */
  ROWC(tbt_default_writer, tbt_default_writer() == NULL);
  ROW(tbt_writer_close, tbt_writer_close(noop), 0);
  ROW(tbt_writer_close, tbt_writer_close(noop), 0);
  ROW(tbt_writer_is_closed, tbt_writer_is_closed(noop), 1);
  tbt_writer_free(noop);
  ROW(tbt_set_default_writer, tbt_set_default_writer(NULL), 0);
  ROW(tbt_set_default_writer, tbt_set_default_writer(NULL), 0);
}

/* ------------------------------------------------------------------ per-thread state */

static int g_calls;
static int count_and_say(void *ud) {
  g_calls++;
  return ud != NULL;
}

static void hostile_state(void) {
  tbt_unset_step();
  ROWV(tbt_unset_step, tbt_unset_step());   /* twice is fine */
  int64_t s = 99;
  ROW(tbt_get_step, tbt_get_step(&s), 0);
  CHECK_EQ_INT(s, 99);   /* untouched when no step is set */
  ROW(tbt_get_step, tbt_get_step(NULL), 0);
  ROWV(tbt_set_step, tbt_set_step(INT64_MIN));
  ROW(tbt_get_step, tbt_get_step(&s), 1);
  CHECK(s == INT64_MIN);
  ROWV(tbt_set_step, tbt_set_step(INT64_MAX));
  ROW(tbt_get_step, tbt_get_step(NULL), 1);   /* reports without storing */
  tbt_get_step(&s);
  CHECK(s == INT64_MAX);
  tbt_unset_step();

  /* Recording conditions, including ones no constructor makes. */
  ROW(tbt_should_record_summaries, tbt_should_record_summaries(), 0);   /* no writer */
  open_default("hstate");
  tbt_record_cond prev = tbt_record_if(INT_MIN);
  ROW(tbt_record_if, prev.mode, TBT_RECORD_ALWAYS);
  ROW(tbt_record_if, tbt_record_if(0).mode, TBT_RECORD_ALWAYS);   /* INT_MIN counts as true */
  ROW(tbt_should_record_summaries, tbt_should_record_summaries(), 0);
  ROW(tbt_record_if_fn, tbt_record_if_fn(NULL, (void *)1).mode, TBT_RECORD_NEVER);
  ROW(tbt_should_record_summaries, tbt_should_record_summaries(), 1);   /* NULL fn: always */
  tbt_record_if_fn(count_and_say, NULL);
  g_calls = 0;
  ROW(tbt_should_record_summaries, tbt_should_record_summaries(), 0);
  ROW(tbt_record_if_fn, g_calls, 1);
  ROW(tbt_scalar, tbt_scalar("x", 1, TBT_STEP(1), NULL), 0);
  tbt_record_cond bad = {TBT_RECORD_CALLBACK, NULL, NULL};
  ROWV(tbt_record_restore, tbt_record_restore(bad));
  ROW(tbt_should_record_summaries, tbt_should_record_summaries(), 1);   /* not a NULL call */
  ROW(tbt_scalar, tbt_scalar("x", 1, TBT_STEP(1), NULL), 1);
  tbt_record_cond weird = {42, count_and_say, NULL};
  g_calls = 0;
  ROWV(tbt_record_restore, tbt_record_restore(weird));
  ROW(tbt_should_record_summaries, tbt_should_record_summaries(), 1);   /* unknown modes record */
  CHECK_EQ_INT(g_calls, 0);
  weird.mode = -1;
  ROWV(tbt_record_restore, tbt_record_restore(weird));
  ROW(tbt_should_record_summaries, tbt_should_record_summaries(), 1);
  tbt_record_restore(prev);
  ROW(tbt_should_record_summaries, tbt_should_record_summaries(), 1);
  close_default();
}

/* ------------------------------------------------------------------ summaries */

static void hostile_scalar(void) {
  /* Misuse is reported even when nothing would be written. */
  ROW(tbt_scalar, tbt_scalar(NULL, 1, TBT_STEP(1), NULL), TBT_EINVAL);
  ROW(tbt_scalar, tbt_scalar("", 1, TBT_STEP(1), NULL), TBT_EINVAL);
  ROW(tbt_scalar, tbt_scalar("x", 1, TBT_DEFAULT_STEP, NULL), 0);   /* no writer: no step needed */
  open_default("hscalar");
  for (size_t i = 0; i < NBAD; i++) {
    ROW(tbt_scalar, tbt_scalar(bad_utf8[i], 1, TBT_STEP(1), NULL), TBT_EINVAL);
    ROW(tbt_scalar, tbt_scalar("x", 1, TBT_STEP(1), bad_utf8[i]), TBT_EINVAL);
  }
  tbt_unset_step();
  ROW(tbt_scalar, tbt_scalar("x", 1, TBT_DEFAULT_STEP, NULL), TBT_ENOSTEP);
  struct {
    double in;
    uint32_t bits;   /* the float32 TensorFlow's cast gives */
  } vals[] = {
    {NAN, 0}, {INFINITY, 0x7f800000u}, {-INFINITY, 0xff800000u}, {DBL_MAX, 0x7f800000u},
    {-DBL_MAX, 0xff800000u}, {DBL_TRUE_MIN, 0}, {-0.0, 0x80000000u}, {FLT_MAX, 0x7f7fffffu},
  };
  size_t nv = sizeof vals / sizeof vals[0];
  for (size_t i = 0; i < nv; i++) ROW(tbt_scalar, tbt_scalar("v", vals[i].in, TBT_STEP((int64_t)i), NULL), 1);
  ROW(tbt_scalar, tbt_scalar("min", 0, TBT_STEP(INT64_MIN), NULL), 1);
  ROW(tbt_scalar, tbt_scalar("max", 0, TBT_STEP(INT64_MAX), NULL), 1);
  char *tag = huge_string((size_t)16 << 20, 't');
  ROW(tbt_scalar, tbt_scalar(tag, 2, TBT_STEP(3), tag), 1);   /* a 16 MiB tag and description */
  tu_events r = read_default();
  CHECK_EQ_INT(r.n, 1 + nv + 3);
  if (r.n == 1 + nv + 3) {
    CHECK(isnan(scalar_value(r.ev[1])));
    for (size_t i = 1; i < nv; i++) {
      CHECK_EQ_U64(float_bits(scalar_value(r.ev[1 + i])), vals[i].bits);
      CHECK_EQ_INT(r.ev[1 + i]->step, (int64_t)i);
    }
    CHECK(r.ev[1 + nv]->step == INT64_MIN);
    CHECK(r.ev[2 + nv]->step == INT64_MAX);
    const Tensorflow__Summary__Value *v = tu_value(r.ev[3 + nv]);
    CHECK(v && strlen(v->tag) == (size_t)16 << 20);
    CHECK(v && strlen(v->metadata->summary_description) == (size_t)16 << 20);
  }
  tu_events_free(&r);
  free(tag);
  tbt_writer_close(g_w);
  ROW(tbt_scalar, tbt_scalar("x", 1, TBT_STEP(1), NULL), TBT_ECLOSED);   /* a closed default */
  close_default();
}

static void hostile_text(void) {
  const char *one[] = {"a"};
  int64_t d1[1] = {1}, dneg[1] = {-1}, dhuge[2] = {INT64_MAX, INT64_MAX}, dzero[2] = {INT64_MAX, 0};
  ROW(tbt_text, tbt_text(NULL, one, NULL, 1, NULL, 0, TBT_STEP(1), NULL), TBT_EINVAL);
  ROW(tbt_text, tbt_text("t", NULL, NULL, 1, NULL, 0, TBT_STEP(1), NULL), TBT_EINVAL);
  ROW(tbt_text, tbt_text("t", one, NULL, 0, NULL, 0, TBT_STEP(1), NULL), TBT_EINVAL);   /* rank 0 is one */
  ROW(tbt_text, tbt_text("t", one, NULL, 1, NULL, -1, TBT_STEP(1), NULL), TBT_EINVAL);
  ROW(tbt_text, tbt_text("t", one, NULL, 1, d1, 33, TBT_STEP(1), NULL), TBT_EINVAL);
  ROW(tbt_text, tbt_text("t", one, NULL, 1, NULL, 1, TBT_STEP(1), NULL), TBT_EINVAL);
  ROW(tbt_text, tbt_text("t", one, NULL, 1, dneg, 1, TBT_STEP(1), NULL), TBT_EINVAL);
  ROW(tbt_text, tbt_text("t", one, NULL, 1, dhuge, 2, TBT_STEP(1), NULL), TBT_ERANGE);
  ROW(tbt_text, tbt_text("t", one, NULL, 2, d1, 1, TBT_STEP(1), NULL), TBT_EINVAL);   /* n != shape */
  ROW(tbt_text, tbt_text("t", one, NULL, 1, d1, 1, TBT_STEP(1), "\xff"), TBT_EINVAL);
  open_default("htext");
  const char *nulls[] = {"a\0b", "\xff\xfe", NULL, ""};
  size_t lens[] = {3, 2, 0, 0};
  int64_t d4[1] = {4};
  ROW(tbt_text, tbt_text("t", nulls, lens, 4, d4, 1, TBT_STEP(1), NULL), 1);
  ROW(tbt_text, tbt_text("t", nulls, NULL, 4, d4, 1, TBT_STEP(1), NULL), TBT_EINVAL);   /* NULL needs a length */
  ROW(tbt_text, tbt_text("t", NULL, NULL, 0, dzero, 2, TBT_STEP(1), NULL), 1);   /* [huge, 0]: no elements */
  char *big = huge_string((size_t)16 << 20, 'b');
  const char *bigs[] = {big};
  ROW(tbt_text, tbt_text("t", bigs, NULL, 1, NULL, 0, TBT_STEP(1), NULL), 1);
  tu_events r = read_default();
  CHECK_EQ_INT(r.n, 4);
  if (r.n == 4) {
    const Tensorflow__TensorProto *t = tu_value(r.ev[1])->tensor;
    CHECK_EQ_INT(t->n_string_val, 4);
    CHECK(t->string_val[0].len == 3 && memcmp(t->string_val[0].data, "a\0b", 3) == 0);
    CHECK(t->string_val[1].len == 2 && memcmp(t->string_val[1].data, "\xff\xfe", 2) == 0);
    CHECK(t->string_val[2].len == 0 && t->string_val[3].len == 0);
    t = tu_value(r.ev[2])->tensor;
    CHECK(t->tensor_shape->n_dim == 2 && t->tensor_shape->dim[0]->size == INT64_MAX);
    CHECK_EQ_INT(t->n_string_val, 0);
    CHECK_EQ_U64(tu_value(r.ev[3])->tensor->string_val[0].len, (size_t)16 << 20);
  }
  tu_events_free(&r);
  free(big);
  close_default();
}

static void hostile_histogram(void) {
  double v2[2] = {1, 2}, vnan[2] = {1, NAN}, vinf[2] = {1, INFINITY}, vninf[1] = {-INFINITY};
  double wide[2] = {-DBL_MAX, DBL_MAX}, tiny[2] = {0, DBL_TRUE_MIN}, same[2] = {DBL_MAX, DBL_MAX};
  ROW(tbt_histogram, tbt_histogram(NULL, v2, 2, -1, TBT_STEP(1), NULL), TBT_EINVAL);
  ROW(tbt_histogram, tbt_histogram("h", NULL, 2, -1, TBT_STEP(1), NULL), TBT_EINVAL);
  ROW(tbt_histogram, tbt_histogram("h", vnan, 2, -1, TBT_STEP(1), NULL), TBT_EINVAL);
  ROW(tbt_histogram, tbt_histogram("h", vinf, 2, -1, TBT_STEP(1), NULL), TBT_EINVAL);
  ROW(tbt_histogram, tbt_histogram("h", vninf, 1, -1, TBT_STEP(1), NULL), TBT_EINVAL);
  ROW(tbt_histogram, tbt_histogram("h", v2, 2, (1 << 20) + 1, TBT_STEP(1), NULL), TBT_ERANGE);
  ROW(tbt_histogram, tbt_histogram("h", v2, 2, INT_MAX, TBT_STEP(1), NULL), TBT_ERANGE);
  ROW(tbt_histogram, tbt_histogram("h", v2, 2, -1, TBT_STEP(1), "\xc0\x80"), TBT_EINVAL);
  open_default("hhist");
  ROW(tbt_histogram, tbt_histogram("h", wide, 2, -1, TBT_STEP(1), NULL), TBT_ERANGE);
  ROW(tbt_histogram, tbt_histogram("h", NULL, 0, INT_MIN, TBT_STEP(1), NULL), 1);   /* 30 zero rows */
  ROW(tbt_histogram, tbt_histogram("h", v2, 2, 0, TBT_STEP(1), NULL), 1);          /* [0, 3] */
  ROW(tbt_histogram, tbt_histogram("h", tiny, 2, -1, TBT_STEP(1), NULL), 1);       /* width underflows */
  ROW(tbt_histogram, tbt_histogram("h", same, 2, 1 << 20, TBT_STEP(1), NULL), 1);
  tu_events r = read_default();
  CHECK_EQ_INT(r.n, 5);
  if (r.n == 5) {
    const Tensorflow__TensorProto *t = tu_value(r.ev[1])->tensor;
    CHECK(t->tensor_shape->dim[0]->size == 30 && t->tensor_content.len == 30 * 3 * 8);
    t = tu_value(r.ev[2])->tensor;
    CHECK(t->tensor_shape->dim[0]->size == 0 && t->tensor_content.len == 0);
    t = tu_value(r.ev[3])->tensor;
    CHECK_EQ_INT(t->tensor_content.len, 30 * 3 * 8);
    if (t->tensor_content.len == 30 * 3 * 8) {
      double rows[90], total = 0;
      memcpy(rows, t->tensor_content.data, sizeof rows);
      for (int i = 0; i < 30; i++) total += rows[i * 3 + 2];
      CHECK(total == 2);   /* both values counted */
      CHECK(rows[0] == 0 && rows[88] == DBL_TRUE_MIN);
    }
    t = tu_value(r.ev[4])->tensor;
    CHECK(t->tensor_shape->dim[0]->size == 1 << 20);
  }
  tu_events_free(&r);
  close_default();

  double out[9];
  ROW(tbt_histogram_buckets, tbt_histogram_buckets(v2, 2, -1, out), TBT_EINVAL);
  ROW(tbt_histogram_buckets, tbt_histogram_buckets(NULL, 2, 3, out), TBT_EINVAL);
  ROW(tbt_histogram_buckets, tbt_histogram_buckets(v2, 2, 3, NULL), TBT_EINVAL);
  ROW(tbt_histogram_buckets, tbt_histogram_buckets(NULL, 0, 0, NULL), 0);
  ROW(tbt_histogram_buckets, tbt_histogram_buckets(vnan, 2, 3, out), TBT_EINVAL);
  ROW(tbt_histogram_buckets, tbt_histogram_buckets(wide, 2, 3, out), TBT_ERANGE);
  ROW(tbt_histogram_buckets, tbt_histogram_buckets(tiny, 2, 3, out), 0);
  CHECK(out[2] + out[5] + out[8] == 2);
  ROW(tbt_histogram_buckets, tbt_histogram_buckets(NULL, 0, 3, out), 0);
  CHECK(out[0] == 0 && out[8] == 0);
}

static void hostile_media(void) {
  uint8_t px[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  ROW(tbt_image, tbt_image(NULL, px, 1, 2, 2, 3, -1, TBT_STEP(1), NULL), TBT_EINVAL);
  ROW(tbt_image, tbt_image("i", NULL, 1, 2, 2, 3, -1, TBT_STEP(1), NULL), TBT_EINVAL);
  ROW(tbt_image, tbt_image("i", px, -1, 2, 2, 3, -1, TBT_STEP(1), NULL), TBT_EINVAL);
  ROW(tbt_image, tbt_image("i", px, 1, 0, 2, 3, -1, TBT_STEP(1), NULL), TBT_EINVAL);
  ROW(tbt_image, tbt_image("i", px, 1, 2, INT_MIN, 3, -1, TBT_STEP(1), NULL), TBT_EINVAL);
  ROW(tbt_image, tbt_image("i", px, 1, 2, 2, 2, -1, TBT_STEP(1), NULL), 0);   /* grey + alpha; no writer */
  ROW(tbt_image, tbt_image("i", px, 1, 2, 2, 0, -1, TBT_STEP(1), NULL), TBT_EINVAL);
  ROW(tbt_image, tbt_image("i", px, 1, 2, 2, 5, -1, TBT_STEP(1), NULL), TBT_EINVAL);
  ROW(tbt_image, tbt_image("i", px, 1, 2, 2, 3, -1, TBT_STEP(1), "\xff"), TBT_EINVAL);
  float s[4] = {0, NAN, INFINITY, -INFINITY};
  ROW(tbt_audio, tbt_audio(NULL, s, 1, 1, 1, 8000, -1, TBT_STEP(1), NULL), TBT_EINVAL);
  ROW(tbt_audio, tbt_audio("a", NULL, 1, 1, 1, 8000, -1, TBT_STEP(1), NULL), TBT_EINVAL);
  ROW(tbt_audio, tbt_audio("a", s, -1, 1, 1, 8000, -1, TBT_STEP(1), NULL), TBT_EINVAL);
  ROW(tbt_audio, tbt_audio("a", s, 1, -1, 1, 8000, -1, TBT_STEP(1), NULL), TBT_EINVAL);
  ROW(tbt_audio, tbt_audio("a", s, 1, 1, 0, 8000, -1, TBT_STEP(1), NULL), TBT_EINVAL);
  ROW(tbt_audio, tbt_audio("a", s, 1, 1, 65536, 8000, -1, TBT_STEP(1), NULL), TBT_EINVAL);
  ROW(tbt_audio, tbt_audio("a", s, 1, 1, 1, 0, -1, TBT_STEP(1), NULL), TBT_EINVAL);
  ROW(tbt_audio, tbt_audio("a", s, 1, 1, 1, INT_MIN, -1, TBT_STEP(1), NULL), TBT_EINVAL);
  open_default("hmedia");
  ROW(tbt_image, tbt_image("i", px, 1, INT_MAX, INT_MAX, 4, -1, TBT_STEP(1), NULL), TBT_ERANGE);
  ROW(tbt_image, tbt_image("i", NULL, 0, 2, 2, 3, -1, TBT_STEP(1), NULL), 1);   /* [2]: no PNGs */
  ROW(tbt_image, tbt_image("i", px, 1, 2, 2, 3, 0, TBT_STEP(1), NULL), 1);
  ROW(tbt_image, tbt_image("i", px, 1, 2, 2, 3, INT_MIN, TBT_STEP(1), NULL), 1);   /* default 3 */
  ROW(tbt_audio, tbt_audio("a", s, 1, 2, 2, 8000, -1, TBT_STEP(1), NULL), TBT_EINVAL);   /* NaN */
  ROW(tbt_audio, tbt_audio("a", s + 2, 1, 2, 1, 8000, -1, TBT_STEP(1), NULL), 1);        /* inf clips */
  ROW(tbt_audio, tbt_audio("a", NULL, 1, 0, 1, 8000, -1, TBT_STEP(1), NULL), 1);        /* no frames */
  ROW(tbt_audio, tbt_audio("a", s, 1, INT_MAX, 65535, 8000, -1, TBT_STEP(1), NULL), TBT_ERANGE);
  ROW(tbt_audio, tbt_audio("a", s, 1, 1, 2, INT_MAX, -1, TBT_STEP(1), NULL), TBT_ERANGE);
  tu_events r = read_default();
  CHECK_EQ_INT(r.n, 6);
  if (r.n == 6) {
    CHECK_EQ_INT(tu_value(r.ev[1])->tensor->n_string_val, 2);
    CHECK_EQ_INT(tu_value(r.ev[2])->tensor->n_string_val, 2);
    CHECK_EQ_INT(tu_value(r.ev[3])->tensor->n_string_val, 3);
    const ProtobufCBinaryData *wav = &tu_value(r.ev[4])->tensor->string_val[0];
    CHECK_EQ_INT(wav->len, 44 + 4);
    if (wav->len == 48) {
      CHECK_EQ_INT((int16_t)tu_le(wav->data + 44, 2), 32767);
      CHECK_EQ_INT((int16_t)tu_le(wav->data + 46, 2), -32768);
    }
    CHECK_EQ_INT(tu_value(r.ev[5])->tensor->string_val[0].len, 44);
  }
  tu_events_free(&r);
  close_default();

  uint8_t *out = (uint8_t *)px;
  size_t n = 5;
  ROW(tbt_png_encode, tbt_png_encode(px, 2, 2, 3, -1, NULL, &n), TBT_EINVAL);
  ROW(tbt_png_encode, tbt_png_encode(px, 2, 2, 3, -1, &out, NULL), TBT_EINVAL);
  ROW(tbt_png_encode, tbt_png_encode(NULL, 2, 2, 3, -1, &out, &n), TBT_EINVAL);
  CHECK(out == NULL && n == 0);
  ROW(tbt_png_encode, tbt_png_encode(px, 2, 2, 0, -1, &out, &n), TBT_EINVAL);
  ROW(tbt_png_encode, tbt_png_encode(px, 2, 2, 5, -1, &out, &n), TBT_EINVAL);
  ROW(tbt_png_encode, tbt_png_encode(px, 0, 2, 3, -1, &out, &n), TBT_EINVAL);
  ROW(tbt_png_encode, tbt_png_encode(px, 2, -2, 3, -1, &out, &n), TBT_EINVAL);
  ROW(tbt_png_encode, tbt_png_encode(px, 2, 2, 3, -2, &out, &n), TBT_EINVAL);
  ROW(tbt_png_encode, tbt_png_encode(px, 2, 2, 3, 10, &out, &n), TBT_EINVAL);
  ROW(tbt_png_encode, tbt_png_encode(px, INT_MAX, INT_MAX, 4, -1, &out, &n), TBT_ERANGE);
  ROW(tbt_png_encode, tbt_png_encode(px, 2, 2, 3, 9, &out, &n), 0);
  CHECK(n > 8 && memcmp(out, "\x89PNG\r\n\x1a\n", 8) == 0);
  tbt_free(out);
  float f[2] = {2, -2};
  ROW(tbt_wav_encode, tbt_wav_encode(f, 1, 1, 8000, NULL, &n), TBT_EINVAL);
  ROW(tbt_wav_encode, tbt_wav_encode(f, 1, 1, 8000, &out, NULL), TBT_EINVAL);
  ROW(tbt_wav_encode, tbt_wav_encode(NULL, 1, 1, 8000, &out, &n), TBT_EINVAL);
  CHECK(out == NULL && n == 0);
  ROW(tbt_wav_encode, tbt_wav_encode(f, -1, 1, 8000, &out, &n), TBT_EINVAL);
  ROW(tbt_wav_encode, tbt_wav_encode(f, 1, 0, 8000, &out, &n), TBT_EINVAL);
  ROW(tbt_wav_encode, tbt_wav_encode(f, 1, 65536, 8000, &out, &n), TBT_EINVAL);
  ROW(tbt_wav_encode, tbt_wav_encode(f, 1, 1, 0, &out, &n), TBT_EINVAL);
  ROW(tbt_wav_encode, tbt_wav_encode(f, INT_MAX, 65535, 8000, &out, &n), TBT_ERANGE);
  ROW(tbt_wav_encode, tbt_wav_encode(f, 1, 2, INT_MAX, &out, &n), TBT_ERANGE);
  ROW(tbt_wav_encode, tbt_wav_encode(NULL, 0, 1, 8000, &out, &n), 0);
  CHECK_EQ_INT(n, 44);
  tbt_free(out);
  ROW(tbt_wav_encode, tbt_wav_encode(f, 1, 2, 8000, &out, &n), 0);   /* clipped */
  CHECK(n == 48 && (int16_t)tu_le(out + 44, 2) == 32767 && (int16_t)tu_le(out + 46, 2) == -32768);
  tbt_free(out);
}

/* SummaryMetadata{plugin_data{plugin_name: name}} with name's bytes as given. */
static size_t metadata_with_plugin(uint8_t *buf, const char *name, size_t len) {
  buf[0] = 0x0a;
  buf[1] = (uint8_t)(len + 2);
  buf[2] = 0x0a;
  buf[3] = (uint8_t)len;
  memcpy(buf + 4, name, len);
  return len + 4;
}

static void hostile_write(void) {
  ROW(tbt_dtype_size, tbt_dtype_size(TBT_DT_FLOAT), 4);
  ROW(tbt_dtype_size, tbt_dtype_size(TBT_DT_UINT64), 8);
  ROW(tbt_dtype_size, tbt_dtype_size(TBT_DT_BOOL), 1);
  ROW(tbt_dtype_size, tbt_dtype_size(TBT_DT_UINT16), 2);
  ROW(tbt_dtype_size, tbt_dtype_size(TBT_DT_STRING), 0);
  ROW(tbt_dtype_size, tbt_dtype_size((tbt_dtype)0), 0);
  ROW(tbt_dtype_size, tbt_dtype_size((tbt_dtype)-1), 0);
  ROW(tbt_dtype_size, tbt_dtype_size((tbt_dtype)1000), 0);

  double d[2] = {NAN, -INFINITY};
  int64_t d2[1] = {2}, d0[1] = {0}, dbig[1] = {INT64_MAX / 2}, dneg[1] = {-2};
  uint8_t md[64];
  size_t mdlen = metadata_with_plugin(md, "p\xff", 2);
  ROW(tbt_write, tbt_write(NULL, TBT_DT_DOUBLE, d, 16, d2, 1, TBT_STEP(1), NULL, 0), TBT_EINVAL);
  ROW(tbt_write, tbt_write("w", TBT_DT_STRING, d, 16, d2, 1, TBT_STEP(1), NULL, 0), TBT_EINVAL);
  ROW(tbt_write, tbt_write("w", (tbt_dtype)0, d, 16, d2, 1, TBT_STEP(1), NULL, 0), TBT_EINVAL);
  ROW(tbt_write, tbt_write("w", (tbt_dtype)999, d, 16, d2, 1, TBT_STEP(1), NULL, 0), TBT_EINVAL);
  ROW(tbt_write, tbt_write("w", TBT_DT_DOUBLE, NULL, 16, d2, 1, TBT_STEP(1), NULL, 0), TBT_EINVAL);
  ROW(tbt_write, tbt_write("w", TBT_DT_DOUBLE, d, 15, d2, 1, TBT_STEP(1), NULL, 0), TBT_EINVAL);
  ROW(tbt_write, tbt_write("w", TBT_DT_DOUBLE, d, 16, dneg, 1, TBT_STEP(1), NULL, 0), TBT_EINVAL);
  ROW(tbt_write, tbt_write("w", TBT_DT_DOUBLE, d, 16, dbig, 1, TBT_STEP(1), NULL, 0), TBT_EINVAL);
  ROW(tbt_write, tbt_write("w", TBT_DT_DOUBLE, d, 16, d2, 1, TBT_STEP(1), NULL, 5), TBT_EINVAL);
  ROW(tbt_write, tbt_write("w", TBT_DT_DOUBLE, d, 16, d2, 1, TBT_STEP(1), "\xff\xff\xff", 3), TBT_EINVAL);
  /* Proto3 string fields must be UTF-8: TensorBoard's parser would drop the whole event. */
  ROW(tbt_write, tbt_write("w", TBT_DT_DOUBLE, d, 16, d2, 1, TBT_STEP(1), md, mdlen), TBT_EINVAL);
  const char *strs[2] = {"x\0y", NULL};
  size_t lens[2] = {3, 0};
  ROW(tbt_write_strings, tbt_write_strings(NULL, strs, lens, 2, d2, 1, TBT_STEP(1), NULL, 0), TBT_EINVAL);
  ROW(tbt_write_strings, tbt_write_strings("s", NULL, lens, 2, d2, 1, TBT_STEP(1), NULL, 0), TBT_EINVAL);
  ROW(tbt_write_strings, tbt_write_strings("s", strs, lens, 3, d2, 1, TBT_STEP(1), NULL, 0), TBT_EINVAL);
  ROW(tbt_write_strings, tbt_write_strings("s", strs, lens, 2, d2, 1, TBT_STEP(1), NULL, 1), TBT_EINVAL);
  ROW(tbt_write_strings, tbt_write_strings("s", strs, lens, 2, d2, 1, TBT_STEP(1), md, mdlen), TBT_EINVAL);
  ROW(tbt_write_strings, tbt_write_strings("s", strs, lens, 2, d2, 40, TBT_STEP(1), NULL, 0), TBT_EINVAL);

  uint8_t *enc = (uint8_t *)"untouched";
  size_t enclen = 7;
  ROW(tbt_summary_metadata_encode, tbt_summary_metadata_encode("p", NULL, 0, NULL, NULL, NULL, &enclen), TBT_EINVAL);
  ROW(tbt_summary_metadata_encode, tbt_summary_metadata_encode("p", NULL, 0, NULL, NULL, &enc, NULL), TBT_EINVAL);
  ROW(tbt_summary_metadata_encode, tbt_summary_metadata_encode("p", NULL, 5, NULL, NULL, &enc, &enclen), TBT_EINVAL);
  ROW(tbt_summary_metadata_encode, tbt_summary_metadata_encode("\xff", NULL, 0, NULL, NULL, &enc, &enclen), TBT_EINVAL);
  ROW(tbt_summary_metadata_encode, tbt_summary_metadata_encode(NULL, NULL, 0, "\xc0\x80", NULL, &enc, &enclen), TBT_EINVAL);
  ROW(tbt_summary_metadata_encode, tbt_summary_metadata_encode(NULL, NULL, 0, NULL, "\xed\xa0\x80", &enc, &enclen), TBT_EINVAL);
  ROWC(tbt_summary_metadata_encode, enc == NULL && enclen == 0);   /* cleared on failure */
  ROW(tbt_summary_metadata_encode, tbt_summary_metadata_encode(NULL, NULL, 0, NULL, NULL, &enc, &enclen), 0);
  ROWC(tbt_summary_metadata_encode, enc != NULL && enclen == 0);
  tbt_free(enc);
  ROW(tbt_summary_metadata_encode, tbt_summary_metadata_encode("pl\xc3\xa9", "a\0b", 3, "dn", "desc", &enc, &enclen), 0);
  {
    Tensorflow__SummaryMetadata *smd = tensorflow__summary_metadata__unpack(NULL, enclen, enc);
    CHECK(smd && smd->plugin_data);
    if (smd && smd->plugin_data) {
      CHECK_EQ_STR(smd->plugin_data->plugin_name, "pl\xc3\xa9");
      CHECK_EQ_U64(smd->plugin_data->content.len, 3);
      CHECK(memcmp(smd->plugin_data->content.data, "a\0b", 3) == 0);
      CHECK_EQ_STR(smd->display_name, "dn");
      CHECK_EQ_STR(smd->summary_description, "desc");
    }
    if (smd) tensorflow__summary_metadata__free_unpacked(smd, NULL);
  }
  tbt_free(enc);
  /* Content without a plugin name still makes plugin data (name ""), as TF's proto would. */
  ROW(tbt_summary_metadata_encode, tbt_summary_metadata_encode(NULL, "", 0, NULL, NULL, &enc, &enclen), 0);
  {
    Tensorflow__SummaryMetadata *smd = tensorflow__summary_metadata__unpack(NULL, enclen, enc);
    CHECK(smd && smd->plugin_data && strcmp(smd->plugin_data->plugin_name, "") == 0);
    if (smd) tensorflow__summary_metadata__free_unpacked(smd, NULL);
  }
  tbt_free(enc);
  open_default("hwrite");
  mdlen = metadata_with_plugin(md, "pl\xc3\xa9", 4);
  ROW(tbt_write, tbt_write("w", TBT_DT_DOUBLE, d, 16, d2, 1, TBT_STEP(INT64_MIN), md, mdlen), 1);
  ROW(tbt_write, tbt_write("w", TBT_DT_INT8, NULL, 0, d0, 1, TBT_STEP(1), NULL, 0), 1);
  ROW(tbt_write_strings, tbt_write_strings("s", strs, lens, 2, d2, 1, TBT_STEP(1), NULL, 0), 1);
  tu_events r = read_default();
  CHECK_EQ_INT(r.n, 4);
  if (r.n == 4) {
    CHECK(r.ev[1]->step == INT64_MIN);
    const Tensorflow__Summary__Value *v = tu_value(r.ev[1]);
    CHECK_EQ_STR(v->metadata->plugin_data->plugin_name, "pl\xc3\xa9");
    CHECK_EQ_INT(v->tensor->tensor_content.len, 16);
    CHECK(v->tensor->tensor_content.len == 16 && memcmp(v->tensor->tensor_content.data, d, 16) == 0);
    CHECK_EQ_INT(tu_value(r.ev[2])->tensor->tensor_content.len, 0);
    v = tu_value(r.ev[3]);
    CHECK(v->tensor->n_string_val == 2 && v->tensor->string_val[0].len == 3 &&
          memcmp(v->tensor->string_val[0].data, "x\0y", 3) == 0);
    CHECK(v->metadata == NULL);
  }
  tu_events_free(&r);
  close_default();
}

/* ------------------------------------------------------------------ reader */

static void hostile_reader(void) {
  tbt_reader *r = (tbt_reader *)&g_w;
  const char *dir = tu_tmpdir("hread");
  mkdir(dir, 0777);
  ROW(tbt_reader_open, tbt_reader_open(NULL, "x"), TBT_EINVAL);
  ROW(tbt_reader_open, tbt_reader_open(&r, NULL), TBT_EINVAL);
  CHECK(r == NULL);
  ROW(tbt_reader_open, tbt_reader_open(&r, ""), TBT_EINVAL);
  ROW(tbt_reader_open, tbt_reader_open(&r, "/nonexistent/hostile"), -ENOENT);
  ROW(tbt_reader_open, tbt_reader_open(&r, dir), -EISDIR);   /* not an iterator that fails later */
  CHECK(r == NULL);
  char *longp = huge_string(8192, 'p');
  ROW(tbt_reader_open, tbt_reader_open(&r, longp), -ENAMETOOLONG);
  free(longp);

  char path[4200];
  snprintf(path, sizeof path, "%s/junk", dir);
  FILE *f = fopen(path, "wb");
  fwrite("\x05\0\0\0\0\0\0\0garbage!", 1, 16, f);
  fclose(f);
  const uint8_t *data = NULL;
  size_t len = 0;
  uint64_t off = 99;
  ROW(tbt_reader_open, tbt_reader_open(&r, path), 0);
  ROW(tbt_reader_next, tbt_reader_next(NULL, &data, &len, &off), TBT_EINVAL);
  ROW(tbt_reader_next, tbt_reader_next(r, NULL, &len, &off), TBT_EINVAL);
  ROW(tbt_reader_next, tbt_reader_next(r, &data, NULL, &off), TBT_EINVAL);
  ROW(tbt_reader_next, tbt_reader_next(r, &data, &len, NULL), TBT_ECORRUPT);
  ROW(tbt_reader_next, tbt_reader_next(r, &data, &len, &off), TBT_ECORRUPT);   /* sticky */
  CHECK_EQ_INT(off, 0);
  ROWC(tbt_reader_error, strstr(tbt_reader_error(r), "length checksum mismatch") != NULL);
  ROWC(tbt_reader_error, strcmp(tbt_reader_error(NULL), "no reader") == 0);
  uint64_t next = 99;
  ROW(tbt_reader_skip, tbt_reader_skip(NULL, &next), TBT_EINVAL);
  CHECK_EQ_INT(next, 99);
  ROW(tbt_reader_skip, tbt_reader_skip(r, &next), TBT_EOF);   /* nothing valid in the junk */
  CHECK_EQ_INT(next, 16);
  ROW(tbt_reader_skip, tbt_reader_skip(r, NULL), TBT_EOF);
  ROW(tbt_reader_next, tbt_reader_next(r, &data, &len, &off), TBT_EOF);
  CHECK_EQ_INT(off, 16);
  ROWV(tbt_reader_close, tbt_reader_close(r));
  ROWV(tbt_reader_close, tbt_reader_close(NULL));

  /* A header claiming 2^63 bytes: refused, never allocated. */
  uint8_t hdr[12];
  uint64_t claim = (uint64_t)1 << 63;
  for (int i = 0; i < 8; i++) hdr[i] = (uint8_t)(claim >> (8 * i));
  uint32_t m = tu_mask(tu_crc32c(hdr, 8));
  for (int i = 0; i < 4; i++) hdr[8 + i] = (uint8_t)(m >> (8 * i));
  f = fopen(path, "wb");
  fwrite(hdr, 1, 12, f);
  fclose(f);
  CHECK_EQ_INT(tbt_reader_open(&r, path), 0);
  ROW(tbt_reader_next, tbt_reader_next(r, &data, &len, &off), TBT_ECORRUPT);
  ROWC(tbt_reader_error, strstr(tbt_reader_error(r), "claims") != NULL);
  tbt_reader_close(r);

  f = fopen(path, "wb");
  fclose(f);
  CHECK_EQ_INT(tbt_reader_open(&r, path), 0);
  ROW(tbt_reader_next, tbt_reader_next(r, &data, &len, &off), TBT_EOF);
  ROW(tbt_reader_next, tbt_reader_next(r, &data, &len, &off), TBT_EOF);
  tbt_reader_close(r);

  char *json = (char *)&r;
  size_t jn = 7;
  ROW(tbt_event_to_json, tbt_event_to_json((const uint8_t *)"x", 1, NULL, &jn), TBT_EINVAL);
  ROW(tbt_event_to_json, tbt_event_to_json(NULL, 5, &json, &jn), TBT_EINVAL);
  ROW(tbt_event_to_json, tbt_event_to_json((const uint8_t *)"\xff\xff\xff", 3, &json, &jn), TBT_ECORRUPT);
  CHECK(json == NULL && jn == 0);
  ROW(tbt_event_to_json, tbt_event_to_json(NULL, 0, &json, NULL), 0);
  CHECK_EQ_STR(json, "{}");
  tbt_free(json);
  /* Event{step: -1, summary{value{tag: "\xff", simple_value: NaN}}}: valid JSON out, bad bytes
  ** replaced. */
  static const uint8_t ev[] = {0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
                               0x2a, 0x0a, 0x0a, 0x08, 0x0a, 0x01, 0xff, 0x15, 0x00, 0x00, 0xc0, 0x7f};
  ROW(tbt_event_to_json, tbt_event_to_json(ev, sizeof ev, &json, &jn), 0);
  CHECK(json && strstr(json, "\"step\":-1") && strstr(json, "\\ufffd") && strstr(json, "\"NaN\""));
  CHECK(json && strlen(json) == jn);
  tbt_free(json);

  tbt_event e;
  memset(&e, 0xA5, sizeof e);   /* must be overwritten */
  ROW(tbt_event_decode, tbt_event_decode((const uint8_t *)"x", 1, NULL), TBT_EINVAL);
  ROW(tbt_event_decode, tbt_event_decode(NULL, 5, &e), TBT_EINVAL);
  CHECK(e.internal_ == NULL && e.nvalues == 0 && e.values == NULL && e.kind == TBT_EVENT_OTHER);
  memset(&e, 0xA5, sizeof e);
  ROW(tbt_event_decode, tbt_event_decode((const uint8_t *)"\xff\xff\xff", 3, &e), TBT_ECORRUPT);
  CHECK(e.internal_ == NULL && e.nvalues == 0 && e.values == NULL);
  CHECK_EQ_STR(e.file_version, "");
  CHECK_EQ_STR(e.run_metadata_tag, "");
  ROWV(tbt_event_clear, tbt_event_clear(&e));   /* a failed decode's result */
  ROWV(tbt_event_clear, tbt_event_clear(NULL));
  ROW(tbt_event_decode, tbt_event_decode(NULL, 0, &e), 0);   /* the empty Event */
  CHECK(e.kind == TBT_EVENT_OTHER && e.step == 0 && e.wall_time == 0 && e.nvalues == 0);
  tbt_event_clear(&e);
  ROWV(tbt_event_clear, tbt_event_clear(&e));   /* twice */
  /* The event above: a bad tag comes out as the bytes it is, NaN as NaN. */
  ROW(tbt_event_decode, tbt_event_decode(ev, sizeof ev, &e), 0);
  CHECK(e.kind == TBT_EVENT_SUMMARY && e.step == -1 && e.nvalues == 1);
  CHECK(e.nvalues == 1 && strcmp(e.values[0].tag, "\xff") == 0 && e.values[0].kind == TBT_VALUE_SIMPLE &&
        e.values[0].has_number && isnan(e.values[0].number) && strcmp(e.values[0].plugin, "") == 0);
  tbt_event_clear(&e);
  CHECK(e.values == NULL && e.internal_ == NULL);
  /* A value with nothing in it, and a tensor claiming a dtype no number fits. */
  static const uint8_t empty_value[] = {0x2a, 0x02, 0x0a, 0x00};
  ROW(tbt_event_decode, tbt_event_decode(empty_value, sizeof empty_value, &e), 0);
  CHECK(e.nvalues == 1 && e.values[0].kind == TBT_VALUE_NONE && !e.values[0].has_number &&
        strcmp(e.values[0].tag, "") == 0 && e.values[0].string == NULL);
  tbt_event_clear(&e);
  static const uint8_t odd_tensor[] = {0x2a, 0x08, 0x0a, 0x06, 0x42, 0x04, 0x08, 0x01, 0x22, 0x00};
  ROW(tbt_event_decode, tbt_event_decode(odd_tensor, sizeof odd_tensor, &e), 0);
  CHECK(e.nvalues == 1 && e.values[0].kind == TBT_VALUE_TENSOR && e.values[0].dtype == TBT_DT_FLOAT &&
        !e.values[0].has_number && e.values[0].nstrings == 0);
  tbt_event_clear(&e);

  uint64_t spans = 7, paths = 7;
  ROW(tbt_run_metadata_counts, tbt_run_metadata_counts(NULL, 0, NULL, &paths), TBT_EINVAL);
  CHECK(paths == 0);
  ROW(tbt_run_metadata_counts, tbt_run_metadata_counts(NULL, 0, &spans, NULL), TBT_EINVAL);
  CHECK(spans == 0);
  spans = paths = 7;
  ROW(tbt_run_metadata_counts, tbt_run_metadata_counts(NULL, 3, &spans, &paths), TBT_EINVAL);
  CHECK(spans == 0 && paths == 0);
  spans = paths = 7;
  ROW(tbt_run_metadata_counts, tbt_run_metadata_counts((const uint8_t *)"\xff\xff\xff", 3, &spans, &paths),
      TBT_ECORRUPT);
  CHECK(spans == 0 && paths == 0);
  ROW(tbt_run_metadata_counts, tbt_run_metadata_counts(NULL, 0, &spans, &paths), 0);   /* empty */
  CHECK(spans == 0 && paths == 0);
  /* Not a RunMetadata of a trace (an Event read as one): no graphs, nothing counted. */
  ROW(tbt_run_metadata_counts, tbt_run_metadata_counts(empty_value, sizeof empty_value, &spans, &paths), 0);
  CHECK(spans == 0 && paths == 0);

  /* Every allocation failing. */
  tbt_set_allocator(null_realloc, NULL);
  ROW(tbt_event_decode, tbt_event_decode(ev, sizeof ev, &e), TBT_ENOMEM);
  CHECK(e.internal_ == NULL && e.values == NULL);
  ROW(tbt_run_metadata_counts, tbt_run_metadata_counts(NULL, 0, &spans, &paths), TBT_ENOMEM);
  tbt_set_allocator(NULL, NULL);
}

/* ------------------------------------------------------------------ tracing */

/* An export of "x" at step 1 with one hostile decision. */
static int export_decided(int mode, tbt_export_result *res) {
  tbt_export_request req;
  tbt_export_request_init(&req);
  req.name = "x";
  req.step = TBT_STEP(1);
  tbt_export_decision *d = &req.decision;
  switch (mode) {
    case 2: d->run_name = "../escape"; break;
    case 3: d->run_name = "a/b"; break;
    case 4: d->run_name = ".."; break;
    case 5: d->name = ""; break;
    case 6: d->name = "\xed\xa0\x80"; break;
    case 7: d->logdir = ""; break;
    case 8: d->logdir = "/nonexistent/\xff/hostile"; d->max_queue = -5; break;
    case 9: d->run_name = ""; break;
    case 10: d->has_step = 1; d->step = INT64_MAX; d->max_queue = INT_MIN; d->flush_millis = INT_MIN; break;
    default: break;
  }
  return tbt_trace_export_ex(&req, res);
}

static void hostile_trace(void) {
  tbt_trace_options o;
  ROWV(tbt_trace_options_init, tbt_trace_options_init(NULL));
  ROWV(tbt_trace_options_init, tbt_trace_options_init(&o));
  CHECK(o.graph == 1 && o.profiler == 0 && o.profiler_outdir == NULL && o.memory_limit == 0);
  ROWV(tbt_trace_off, tbt_trace_off());   /* nothing on */
  ROW(tbt_trace_is_on, tbt_trace_is_on(), 0);
  ROW(tbt_trace_export, tbt_trace_export("x", TBT_STEP(1), NULL), TBT_ENOTRACE);
  ROW(tbt_trace_export, tbt_trace_export(NULL, TBT_STEP(1), NULL), TBT_ENOTRACE);
  tbt_export_result res;
  memset(&res, 0x5a, sizeof res);
  ROW(tbt_trace_export_ex, tbt_trace_export_ex(NULL, &res), TBT_EINVAL);
  ROWC(tbt_trace_export_ex, res.files == NULL && res.nfiles == 0 && res.spans == 0);   /* zeroed */
  ROW(tbt_trace_export_ex, export_decided(0, NULL), TBT_ENOTRACE);
  ROWV(tbt_export_request_init, tbt_export_request_init(NULL));
  ROWC(tbt_export_result_path, tbt_export_result_path(NULL, "xplane") == NULL);
  ROWC(tbt_export_result_path, tbt_export_result_path(&res, NULL) == NULL);
  ROWC(tbt_export_result_path, tbt_export_result_path(&res, "xplane") == NULL);
  ROWV(tbt_export_result_free, tbt_export_result_free(NULL));
  ROWV(tbt_export_result_free, tbt_export_result_free(&res));   /* a zeroed result */
  tbt_export_facts facts;
  ROW(tbt_export_get_facts, tbt_export_get_facts(NULL), TBT_EINVAL);
  ROW(tbt_export_get_facts, tbt_export_get_facts(&facts), 0);
  ROWC(tbt_export_get_facts, facts.trace_on == 0 && facts.logdir == NULL && facts.name == NULL &&
                             facts.host && *facts.host && facts.export_index >= 1);
  ROWV(tbt_export_facts_free, tbt_export_facts_free(&facts));
  ROWC(tbt_export_facts_free, facts.host == NULL);
  ROWV(tbt_export_facts_free, tbt_export_facts_free(&facts));   /* twice */
  ROWV(tbt_export_facts_free, tbt_export_facts_free(NULL));
  tbt_trace_stats st;
  ROWV(tbt_trace_get_stats, tbt_trace_get_stats(NULL));
  ROWV(tbt_trace_get_stats, tbt_trace_get_stats(&st));
  CHECK_EQ_U64(st.records, 0);

  ROW(tbt_intern, tbt_intern(NULL), 0);
  ROWC(tbt_intern, tbt_intern("") > 0);
  ROWC(tbt_intern, tbt_intern("\xff\xfe") > 0);
  ROW(tbt_intern_len, tbt_intern_len(NULL, 3), 0);
  ROWC(tbt_intern_len, tbt_intern_len("a\0b", 3) != tbt_intern("a"));
  ROWC(tbt_intern_len, tbt_intern_len("a\0b", 3) == tbt_intern_len("a\0b", 3));
  ROWC(tbt_intern_len, tbt_intern_len("abc", 1) == tbt_intern("a"));
  ROW(tbt_intern_len, tbt_intern_len("abc", SIZE_MAX), 0);          /* no read past "abc" */
  ROW(tbt_intern_len, tbt_intern_len("abc", (size_t)UINT32_MAX), 0);
  char *huge = huge_string((size_t)1 << 20, 'n');
  uint32_t huge_id = tbt_intern(huge);
  ROWC(tbt_intern, huge_id > 0);

  /* Recording with no trace on: each is a predictable branch, whatever it is given. */
  ROWV(tbt_span_begin_id_, tbt_span_begin_id_(UINT32_MAX, UINT32_MAX));
  ROWV(tbt_span_end_, tbt_span_end_());
  ROWV(tbt_span_begin_, tbt_span_begin_(NULL, NULL));
  ROWV(tbt_instant_id_, tbt_instant_id_(UINT32_MAX, 0));
  ROWV(tbt_counter_id_, tbt_counter_id_(0, NAN));
  ROWV(tbt_instant_, tbt_instant_(NULL, NULL));
  ROWV(tbt_counter_, tbt_counter_(NULL, INFINITY));
  ROWV(tbt_span_depends, tbt_span_depends(NULL, NULL));
  ROWV(tbt_thread_name, tbt_thread_name(NULL));
  ROWV(tbt_track_begin, tbt_track_begin(UINTPTR_MAX, UINT32_MAX, UINT32_MAX));
  ROWV(tbt_track_end, tbt_track_end(UINTPTR_MAX));
  ROWV(tbt_track_end_min, tbt_track_end_min(UINTPTR_MAX, UINT64_MAX));
  ROWV(tbt_track_end_min, tbt_track_end_min(0, 0));
  ROW(tbt_trace_ticks, tbt_trace_ticks(0), 0);
  ROW(tbt_trace_ticks, tbt_trace_ticks(UINT64_MAX), UINT64_MAX);   /* saturates */
  ROWC(tbt_trace_ticks, tbt_trace_ticks(1000000) > 0);
  ROWV(tbt_track_instant, tbt_track_instant(0, 0, 0));
  ROWV(tbt_track_counter, tbt_track_counter(0, 0, NAN));
  {
    tbt_track_cache fresh = {NULL};
    ROWV(tbt_track_begin_cached, tbt_track_begin_cached(NULL, 0, UINT32_MAX, UINT32_MAX));
    ROWV(tbt_track_begin_cached, tbt_track_begin_cached(&fresh, UINTPTR_MAX, 1, 0));
    ROWV(tbt_track_end_cached, tbt_track_end_cached(NULL, 0));
    ROWV(tbt_track_end_cached, tbt_track_end_cached(&fresh, 0));
    ROWV(tbt_track_begin_cached_, tbt_track_begin_cached_(NULL, 0, UINT32_MAX, UINT32_MAX));
    ROWV(tbt_track_begin_cached_, tbt_track_begin_cached_(&fresh, UINTPTR_MAX, 1, 0));
    ROWV(tbt_track_end_cached_, tbt_track_end_cached_(NULL, UINTPTR_MAX));
    ROWV(tbt_track_end_cached_, tbt_track_end_cached_(&fresh, 0));
    ROW(tbt_track_put_, tbt_track_put_(NULL, 0, 0, 0), 0);
    ROW(tbt_track_put_, tbt_track_put_(&fresh, 0, UINT32_MAX, UINT32_MAX), 0);
  }
  tbt_trace_get_stats(&st);
  CHECK_EQ_U64(st.records, 0);
  tbt_trace_model m;
  ROW(tbt_trace_snapshot, tbt_trace_snapshot(NULL), TBT_EINVAL);
  ROW(tbt_trace_snapshot, tbt_trace_snapshot(&m), TBT_ENOTRACE);
  memset(&m, 0, sizeof m);
  ROWV(tbt_trace_model_free, tbt_trace_model_free(NULL));
  ROWV(tbt_trace_model_free, tbt_trace_model_free(&m));   /* a zeroed model */

  tbt_trace_options_init(&o);
  o.graph = -7;
  o.profiler = INT_MIN;
  o.memory_limit = SIZE_MAX;
  o.profiler_outdir = "";
  ROW(tbt_trace_on, tbt_trace_on(&o), 0);
  ROW(tbt_trace_on, tbt_trace_on(NULL), 1);   /* already on: nothing changes */
  ROW(tbt_trace_is_on, tbt_trace_is_on(), 1);
  ROW(tbt_trace_export, tbt_trace_export("x", TBT_STEP(1), NULL), TBT_ENOOUTDIR);   /* "" is none */
  ROW(tbt_trace_is_on, tbt_trace_is_on(), 1);   /* a failed export keeps the trace */
  tbt_trace_off();

  ROW(tbt_trace_on, tbt_trace_on(NULL), 0);
  ROWV(tbt_thread_name, tbt_thread_name("\xff thread \xc0"));
  ROWV(tbt_thread_name, tbt_thread_name(huge));
  ROWV(tbt_span_begin_id_, tbt_span_begin_id_(0, 0));
  ROWV(tbt_span_begin_id_, tbt_span_begin_id_(0x0FFFFFFFu, 0x0FFFFFFFu));   /* ids never interned */
  ROWV(tbt_span_begin_id_, tbt_span_begin_id_(huge_id, UINT32_MAX));
  ROWV(tbt_span_begin_, tbt_span_begin_(NULL, "cat"));
  ROWV(tbt_span_begin_, tbt_span_begin_("\xed\xa0\x80", NULL));
  ROWV(tbt_span_begin_, tbt_span_begin_(huge, huge));
  ROWV(tbt_instant_id_, tbt_instant_id_(0x0FFFFFFFu, UINT32_MAX));
  /* Tracks: ends with no begin, ids never interned, a track key that is no pointer. */
  uint32_t trk = tbt_intern("trk");
  ROWV(tbt_track_end, tbt_track_end(99));
  ROWV(tbt_track_begin, tbt_track_begin(99, trk, 0));
  ROWV(tbt_track_instant, tbt_track_instant(99, 0x0FFFFFFFu, UINT32_MAX));
  ROWV(tbt_track_counter, tbt_track_counter(99, UINT32_MAX, INFINITY));
  ROWV(tbt_track_begin, tbt_track_begin(UINTPTR_MAX, 0x0FFFFFFFu, 0x0FFFFFFFu));
  ROWV(tbt_track_end, tbt_track_end(99));
  ROWV(tbt_track_end, tbt_track_end(99));
  /* Taking back: nothing open, a track never recorded on, a begin under another track's record. */
  ROWV(tbt_track_end_min, tbt_track_end_min(99, UINT64_MAX));
  ROWV(tbt_track_end_min, tbt_track_end_min(12345, UINT64_MAX));
  ROWV(tbt_track_begin, tbt_track_begin(97, tbt_intern("kept"), 0));
  ROWV(tbt_track_end_min, tbt_track_end_min(96, UINT64_MAX));
  ROWV(tbt_track_end_min, tbt_track_end_min(97, 0));
  {
    tbt_track_cache tc = {NULL};
    ROWV(tbt_track_end_cached, tbt_track_end_cached(&tc, 98));   /* an end with no begin */
    ROWV(tbt_track_begin_cached, tbt_track_begin_cached(&tc, 98, 0x0FFFFFFFu, UINT32_MAX));
    ROWV(tbt_track_begin_cached, tbt_track_begin_cached(NULL, 98, trk, 0));
    ROWV(tbt_track_end_cached, tbt_track_end_cached(NULL, 98));
    ROWV(tbt_track_end_cached, tbt_track_end_cached(&tc, 98));
    /* The out-of-line halves, and the inline write: never for an empty cache or another track. */
    tbt_track_cache t2 = {NULL};
    ROW(tbt_track_put_, tbt_track_put_(&t2, 95, 0, 0), 0);
    ROWV(tbt_track_end_cached_, tbt_track_end_cached_(&t2, 95));
    ROWV(tbt_track_begin_cached_, tbt_track_begin_cached_(&t2, 95, 0x0FFFFFFFu, UINT32_MAX));
    ROWV(tbt_track_begin_cached_, tbt_track_begin_cached_(NULL, 95, UINT32_MAX, 0));
    ROW(tbt_track_put_, tbt_track_put_(&t2, 94, 0, 0), 0);
    ROW(tbt_track_put_, tbt_track_put_(NULL, 95, 0, 0), 0);
    ROWV(tbt_track_end_cached_, tbt_track_end_cached_(&t2, 95));
    ROWV(tbt_track_end_cached_, tbt_track_end_cached_(NULL, 95));
    ROWV(tbt_track_end_cached_, tbt_track_end_cached_(&t2, 95));
  }
  ROW(tbt_trace_snapshot, tbt_trace_snapshot(&m), 0);
  {
    /* The track's span is on an entry of its own, closed, named as recorded. */
    int found = 0;
    for (size_t t = 0; t < m.nthreads; t++)
      for (size_t i = 0; i < m.threads[t].nspans; i++) {
        const tbt_model_span *sp = &m.threads[t].spans[i];
        if (strcmp(m.names[sp->name], "trk") == 0 && !(sp->flags & TBT_SPAN_UNFINISHED) &&
            sp->depth == 0 && sp->end_ns >= sp->start_ns && strstr(m.names[m.threads[t].name], "coroutine"))
          found++;
        if (strcmp(m.names[sp->name], "kept") == 0 && !(sp->flags & TBT_SPAN_UNFINISHED)) found += 100;
      }
    CHECK_EQ_INT(found, 101);   /* and the span ended with min_ticks 0 is kept */
  }
  ROWV(tbt_trace_model_free, tbt_trace_model_free(&m));
  ROWC(tbt_trace_model_free, m.names == NULL && m.nthreads == 0);
  ROWV(tbt_trace_model_free, tbt_trace_model_free(&m));   /* twice */
  ROWV(tbt_instant_, tbt_instant_("\xff", "\xff"));
  ROWV(tbt_instant_, tbt_instant_(NULL, "cat"));
  ROWV(tbt_counter_id_, tbt_counter_id_(UINT32_MAX, NAN));
  ROWV(tbt_counter_, tbt_counter_("c", -INFINITY));
  ROWV(tbt_counter_, tbt_counter_(NULL, 1));
  ROWV(tbt_span_depends, tbt_span_depends("\xff", NULL));
  ROWV(tbt_span_depends, tbt_span_depends("\xff", "\xfe"));
  ROWV(tbt_span_depends, tbt_span_depends(huge, huge));
  ROWV(tbt_span_begin_id, tbt_span_begin_id(UINT32_MAX, 0));
  ROWV(tbt_span_begin, tbt_span_begin(NULL));
  ROWV(tbt_span_begin_cat, tbt_span_begin_cat("x", NULL));
  ROWV(tbt_span_begin_cat, tbt_span_begin_cat(NULL, NULL));
  ROWV(tbt_instant_id, tbt_instant_id(0, 0));
  ROWV(tbt_instant, tbt_instant(NULL));
  ROWV(tbt_counter_id, tbt_counter_id(0, INFINITY));
  ROWV(tbt_counter, tbt_counter(NULL, NAN));
  ROWV(tbt_counter, tbt_counter("c2", NAN));
  for (int i = 0; i < 20; i++) {
    ROWV(tbt_span_end, tbt_span_end());   /* more ends than begins */
    ROWV(tbt_span_end_, tbt_span_end_());
  }
  { TBT_SCOPE(NULL); }
  ROWV(tbt_span_cleanup_, tbt_span_cleanup_(NULL));
  {
    /* A site that holds another name's id, or an id never given out, takes the new name's. */
    static uint64_t site = (uint64_t)0x0FFFFFFF << 32 | 12345;
    ROWV(tbt_span_begin_site_, tbt_span_begin_site_(&site, NULL));
    ROWV(tbt_span_begin_site_, tbt_span_begin_site_(&site, ""));
    ROWV(tbt_span_begin_site_, tbt_span_begin_site_(&site, "\xff\xfe"));
    CHECK_EQ_U64(site >> 32, tbt_intern("\xff\xfe"));
    tbt_span_end();
    tbt_span_end();
  }
  tbt_trace_get_stats(&st);
  CHECK(st.records > 0 && st.threads >= 1);

  /* The names that are no C strings must still give a parseable export. */
  open_default("htrace");
  tbt_unset_step();
  ROW(tbt_trace_export, tbt_trace_export("x", TBT_DEFAULT_STEP, NULL), TBT_ENOSTEP);
  ROW(tbt_trace_export, tbt_trace_export(NULL, TBT_STEP(1), NULL), TBT_EINVAL);
  ROW(tbt_trace_export, tbt_trace_export("", TBT_STEP(1), NULL), TBT_EINVAL);
  for (size_t i = 0; i < NBAD; i++)
    ROW(tbt_trace_export, tbt_trace_export(bad_utf8[i], TBT_STEP(1), NULL), TBT_EINVAL);
  ROWC(tbt_export_error, strstr(tbt_export_error(), "non-empty UTF-8") != NULL);
  ROW(tbt_trace_is_on, tbt_trace_is_on(), 1);

  ROW(tbt_trace_export_ex, export_decided(5, &res), TBT_EINVAL);   /* a decided empty tag */
  ROW(tbt_trace_export_ex, export_decided(6, &res), TBT_EINVAL);   /* a decided surrogate */
  ROWC(tbt_export_error, strstr(tbt_export_error(), "non-empty UTF-8") != NULL);
  ROWC(tbt_trace_export_ex, res.nfiles == 0 && res.files == NULL);
  ROW(tbt_trace_is_on, tbt_trace_is_on(), 1);
  ROW(tbt_export_get_facts, tbt_export_get_facts(&facts), 0);
  ROWC(tbt_export_get_facts, facts.trace_on == 1 && facts.logdir && strcmp(facts.logdir, tbt_writer_logdir(tbt_default_writer())) == 0 &&
                             facts.spans > 0 && facts.graph == 1 && facts.profiler == 0 && facts.has_default_step == 0);
  tbt_export_facts_free(&facts);

  tbt_export_request req;
  tbt_export_request_init(&req);
  req.name = "\xc3\xa9";
  req.step = TBT_STEP(INT64_MIN);
  ROW(tbt_trace_export_ex, tbt_trace_export_ex(&req, &res), 0);
  ROW(tbt_trace_is_on, tbt_trace_is_on(), 0);
  ROWC(tbt_trace_export_ex, res.wrote_summary == 1 && res.spans >= 4 && res.nfiles == 1 &&
                            strcmp(res.files[0].kind, "events") == 0 &&
                            strcmp(res.files[0].path, tbt_writer_path(tbt_default_writer())) == 0);
  ROWC(tbt_export_result_path, tbt_export_result_path(&res, "profile_dir") == NULL);
  ROWC(tbt_export_result_path, tbt_export_result_path(&res, "events") == res.files[0].path);
  ROWV(tbt_export_result_free, tbt_export_result_free(&res));
  ROWC(tbt_export_result_free, res.files == NULL && res.nfiles == 0);
  ROWV(tbt_export_result_free, tbt_export_result_free(&res));   /* twice */
  tu_events r = read_default();
  CHECK_EQ_INT(r.n, 2);
  if (r.n == 2) {
    CHECK(r.ev[1]->step == INT64_MIN);
    CHECK_EQ_STR(tu_value(r.ev[1])->tag, "\xc3\xa9");
    CHECK(tu_value(r.ev[1])->tensor->n_string_val == 1);
  }
  tu_events_free(&r);
  close_default();

  /* Decisions no Lua policy could make, from a C caller: refused, and nothing escapes. */
  const char *pdir = tu_tmpdir("hpolicy");
  char esc[4300];
  snprintf(esc, sizeof esc, "%s/plugins/escape", pdir);
  tbt_trace_options_init(&o);
  o.profiler = 1;
  o.profiler_outdir = pdir;
  CHECK_EQ_INT(tbt_trace_on(&o), 0);
  TBT_SPAN("s") {}
  for (int mode = 2; mode <= 4; mode++) {
    ROW(tbt_trace_export_ex, export_decided(mode, &res), TBT_EINVAL);
    ROWC(tbt_export_error, strstr(tbt_export_error(), "run name") != NULL);
  }
  ROW(tbt_trace_export_ex, export_decided(9, &res), TBT_EINVAL);   /* an empty run name */
  struct stat sb;
  CHECK(stat(esc, &sb) != 0);
  ROW(tbt_trace_export_ex, export_decided(7, &res), TBT_EINVAL);   /* the decided logdir must be usable */
  ROWC(tbt_trace_export_ex, export_decided(8, &res) < 0);
  ROWC(tbt_trace_export_ex, res.nfiles == 0 && tu_count_tree(pdir, "xplane") == 0);   /* undone */
  ROW(tbt_trace_is_on, tbt_trace_is_on(), 1);
  ROW(tbt_trace_export_ex, export_decided(10, &res), 0);   /* no writer: profile only, settings unused */
  CHECK(res.wrote_summary == 0 && tbt_export_result_path(&res, "xplane") != NULL &&
        tbt_export_result_path(&res, "chrome_trace") != NULL &&
        tbt_export_result_path(&res, "profile_marker") != NULL);
  CHECK_EQ_INT(tu_count_tree(pdir, "xplane"), 1);
  tbt_export_result_free(&res);
  ROWV(tbt_trace_off, tbt_trace_off());
  ROWV(tbt_thread_name, tbt_thread_name(NULL));
  free(huge);
}

/* The environment is the input here: whatever launchers (or users) put in it. */
static void hostile_cluster(void) {
  tbt_cluster c;
  ROW(tbt_cluster_get, tbt_cluster_get(NULL), TBT_EINVAL);
  static const char *const vars[] = {"TBTRACE_RANK", "TF_CONFIG", "RANK", "OMPI_COMM_WORLD_RANK",
                                     "PMI_RANK", "SLURM_PROCID"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) unsetenv(vars[i]);
  ROW(tbt_cluster_get, tbt_cluster_get(&c), 0);
  char *deep = malloc(200001);
  memset(deep, '{', 200000);
  deep[200000] = '\0';
  setenv("TF_CONFIG", deep, 1);
  ROW(tbt_cluster_get, tbt_cluster_get(&c), 0);
  memset(deep, '[', 200000);
  memcpy(deep, "{\"cluster\":", 11);
  setenv("TF_CONFIG", deep, 1);
  ROW(tbt_cluster_get, tbt_cluster_get(&c), 0);
  free(deep);
  setenv("TF_CONFIG", "{\"cluster\":{\"w\\u00\":[1]},\"task\":{\"type\":\"w\",\"index\":0}}", 1);
  ROW(tbt_cluster_get, tbt_cluster_get(&c), 0);
  setenv("TF_CONFIG", "{\"cluster\":{\"w\":[1]},\"task\":{\"type\":\"w\",\"index\":1e999}}", 1);
  ROW(tbt_cluster_get, tbt_cluster_get(&c), 0);
  unsetenv("TF_CONFIG");
  setenv("RANK", "18446744073709551617", 1);
  setenv("WORLD_SIZE", "18446744073709551618", 1);
  ROW(tbt_cluster_get, tbt_cluster_get(&c), 0);
  setenv("RANK", "0", 1);
  setenv("WORLD_SIZE", "1", 1);
  setenv("TORCHELASTIC_RUN_ID", "\xff\xfe/../\n", 1);
  ROW(tbt_cluster_get, tbt_cluster_get(&c), 1);
  ROWC(tbt_cluster_get, strcmp(c.job_id, "\xff\xfe/../\n") == 0);   /* kept: a policy makes it a name */
  unsetenv("RANK");
  unsetenv("WORLD_SIZE");
  unsetenv("TORCHELASTIC_RUN_ID");
}

/* Last: it closes every writer of the process. */
static void hostile_close_all(void) {
  ROW(tbt_writers_close_all, tbt_writers_close_all(), 0);   /* none open */
  tbt_writer *a = NULL, *b = NULL;
  CHECK_EQ_INT(tbt_writer_open(&a, tu_tmpdir("hcloseall"), NULL), 0);
  CHECK_EQ_INT(tbt_writer_open(&b, tu_tmpdir("hcloseall"), NULL), 0);
  CHECK_EQ_INT(tbt_writer_close(b), 0);
  CHECK_EQ_INT(tbt_writer_write_event(a, "\x09\0\0\0\0\0\0\xf0\x3f", 9), 0);
  ROW(tbt_writers_close_all, tbt_writers_close_all(), 0);
  ROW(tbt_writers_close_all, tbt_writers_close_all(), 0);   /* twice */
  CHECK_EQ_INT(tbt_writer_is_closed(a), 1);
  CHECK_EQ_INT(tbt_writer_write_event(a, "\x09", 1), TBT_ECLOSED);
  CHECK_EQ_U64(tu_count_records(tbt_writer_path(a)), 2);   /* file_version + the queued event */
  tbt_writer_free(a);
  tbt_writer_free(b);
}

/* The plugin summaries, scopes, raw summaries and graphs. */
static void hostile_plugins(void) {
  float fp[8] = {0, 0.5f, 1, 2, -1, INFINITY, -INFINITY, NAN};
  ROW(tbt_image_float, tbt_image_float(NULL, fp, 1, 1, 1, 1, -1, TBT_STEP(1), NULL), TBT_EINVAL);
  ROW(tbt_image_float, tbt_image_float("i", NULL, 1, 1, 1, 1, -1, TBT_STEP(1), NULL), TBT_EINVAL);
  ROW(tbt_image_float, tbt_image_float("i", fp, 1, 1, 1, 0, -1, TBT_STEP(1), NULL), TBT_EINVAL);
  ROW(tbt_image_float, tbt_image_float("i", fp, 1, 1, 1, 5, -1, TBT_STEP(1), NULL), TBT_EINVAL);
  ROW(tbt_image_float, tbt_image_float("i", fp, 1, 2, 4, 1, -1, TBT_STEP(1), NULL), TBT_EINVAL);   /* NaN */
  ROW(tbt_image_float, tbt_image_float("i", fp, 1, INT_MAX, INT_MAX, 4, -1, TBT_STEP(1), NULL), TBT_ERANGE);
  ROW(tbt_image_float, tbt_image_float("i", fp, 1, 1, 7, 1, -1, TBT_STEP(1), NULL), 0);   /* no writer */

  ROW(tbt_summary_scope_push, tbt_summary_scope_push("\xc0\x80"), TBT_EINVAL);
  ROWC(tbt_summary_scope_depth, tbt_summary_scope_depth() == 0);
  ROWC(tbt_summary_scope, strcmp(tbt_summary_scope(), "") == 0);
  ROWV(tbt_summary_scope_pop, tbt_summary_scope_pop());   /* none open */
  ROWC(tbt_summary_scope_depth, tbt_summary_scope_depth() == 0);
  ROW(tbt_summary_scope_push, tbt_summary_scope_push(NULL), 0);
  ROWC(tbt_summary_scope, strcmp(tbt_summary_scope(), "summary") == 0);
  ROW(tbt_summary_scope_push, tbt_summary_scope_push("\xe2\x82\xac \t"), 0);   /* nothing kept */
  ROWC(tbt_summary_scope, strcmp(tbt_summary_scope(), "summary/summary") == 0);
  char *huge = malloc((1 << 20) + 1);
  memset(huge, 'h', 1 << 20);
  huge[1 << 20] = '\0';
  for (int i = 0; i < 40; i++) ROW(tbt_summary_scope_push, tbt_summary_scope_push(huge), 0);
  ROWC(tbt_summary_scope_depth, tbt_summary_scope_depth() == 42);
  ROWC(tbt_summary_scope, strlen(tbt_summary_scope()) == 40 * ((1 << 20) + 1) + 15);
  for (int i = 0; i < 100; i++) ROWV(tbt_summary_scope_pop, tbt_summary_scope_pop());
  ROWC(tbt_summary_scope_depth, tbt_summary_scope_depth() == 0);

  uint8_t ok_pb[] = {0x0a, 0x08, 0x0a, 0x01, 'a', 0x15, 0, 0, 0x80, 0x3f};
  const void *bufs[2] = {ok_pb, "\x0a\x03\x0a\x01\xff"};
  size_t lens[2] = {sizeof ok_pb, 5};
  ROW(tbt_write_raw_pb, tbt_write_raw_pb(NULL, lens, 1, TBT_STEP(1)), TBT_EINVAL);
  ROW(tbt_write_raw_pb, tbt_write_raw_pb(bufs, NULL, 1, TBT_STEP(1)), TBT_EINVAL);
  ROW(tbt_write_raw_pb, tbt_write_raw_pb(bufs, lens, 2, TBT_STEP(1)), TBT_EINVAL);   /* bad UTF-8 tag */
  ROW(tbt_write_raw_pb, tbt_write_raw_pb(bufs, lens, 1, TBT_STEP(1)), 0);   /* no writer */
  ROW(tbt_write_raw_pb, tbt_write_raw_pb(NULL, NULL, 0, TBT_DEFAULT_STEP), 0);
  const void *nullbuf[1] = {NULL};
  size_t one[1] = {1};
  ROW(tbt_write_raw_pb, tbt_write_raw_pb(nullbuf, one, 1, TBT_STEP(1)), TBT_EINVAL);
  ROW(tbt_graph, tbt_graph(NULL, 3), TBT_EINVAL);
  ROW(tbt_graph, tbt_graph("\xff\xff", 2), TBT_EINVAL);
  ROW(tbt_graph, tbt_graph(NULL, 0), 0);   /* no writer */

  tbt_chart chart = {.title = "c", .tags = NULL, .n_tags = 1};
  tbt_chart_category cat = {.title = "t", .charts = &chart, .n_charts = 1};
  ROW(tbt_custom_scalars, tbt_custom_scalars(NULL, 1), TBT_EINVAL);
  ROW(tbt_custom_scalars, tbt_custom_scalars(&cat, 1), TBT_EINVAL);   /* tags NULL */
  const char *tags[2] = {"a", NULL};
  chart.tags = tags;
  chart.n_tags = 2;
  ROW(tbt_custom_scalars, tbt_custom_scalars(&cat, 1), TBT_EINVAL);   /* a NULL tag */
  tags[1] = "\xff";
  ROW(tbt_custom_scalars, tbt_custom_scalars(&cat, 1), TBT_EINVAL);
  chart.n_tags = 1;
  chart.n_margin = SIZE_MAX;
  chart.margin = tags;
  ROW(tbt_custom_scalars, tbt_custom_scalars(&cat, 1), TBT_EINVAL);
  chart.n_margin = 0;
  cat.n_charts = 0;
  cat.charts = NULL;
  ROW(tbt_custom_scalars, tbt_custom_scalars(&cat, 1), 0);   /* no writer */

  tbt_hparam_value vals[2] = {{.type = 99}, {.type = TBT_HPARAM_STRING, .string = NULL}};
  tbt_hparam_info info = {.name = "x", .domain = TBT_DOMAIN_DISCRETE, .values = vals, .n_values = 1};
  tbt_metric_info metric = {.tag = "m"};
  ROW(tbt_hparams_config, tbt_hparams_config(NULL, 1, NULL, 0, 0), TBT_EINVAL);
  ROW(tbt_hparams_config, tbt_hparams_config(NULL, 0, NULL, 1, 0), TBT_EINVAL);
  ROW(tbt_hparams_config, tbt_hparams_config(&info, 1, NULL, 0, 0), TBT_EINVAL);   /* bad type */
  info.values = vals + 1;
  ROW(tbt_hparams_config, tbt_hparams_config(&info, 1, NULL, 0, 0), TBT_EINVAL);   /* NULL string */
  info.values = NULL;
  ROW(tbt_hparams_config, tbt_hparams_config(&info, 1, NULL, 0, 0), TBT_EINVAL);
  info.domain = 7;
  ROW(tbt_hparams_config, tbt_hparams_config(&info, 1, NULL, 0, 0), TBT_EINVAL);
  info.domain = TBT_DOMAIN_INTERVAL;
  info.min_value = NAN;
  ROW(tbt_hparams_config, tbt_hparams_config(&info, 1, NULL, 0, 0), TBT_EINVAL);
  info.min_value = -INFINITY;
  info.max_value = INFINITY;
  info.name = "";
  ROW(tbt_hparams_config, tbt_hparams_config(&info, 1, NULL, 0, 0), TBT_EINVAL);
  info.name = "x";
  metric.dataset_type = 3;
  ROW(tbt_hparams_config, tbt_hparams_config(&info, 1, &metric, 1, 0), TBT_EINVAL);
  metric.dataset_type = 0;
  metric.tag = NULL;
  ROW(tbt_hparams_config, tbt_hparams_config(&info, 1, &metric, 1, 0), TBT_EINVAL);
  metric.tag = "m";
  ROW(tbt_hparams_config, tbt_hparams_config(&info, 1, &metric, 1, NAN), TBT_EINVAL);
  ROW(tbt_hparams_config, tbt_hparams_config(&info, 1, &metric, 1, 0), 0);   /* no writer */
  tbt_hparam hp[2] = {{"a", {.type = TBT_HPARAM_BOOL, .boolean = 2}}, {NULL, {.type = TBT_HPARAM_INT}}};
  char out[65];
  ROW(tbt_hparams_session_start, tbt_hparams_session_start(NULL, 1, NULL, 0), TBT_EINVAL);
  ROW(tbt_hparams_session_start, tbt_hparams_session_start(hp, 1, NULL, 0), TBT_EINVAL);   /* boolean 2 */
  ROW(tbt_hparams_session_start, tbt_hparams_session_start(hp + 1, 1, NULL, 0), TBT_EINVAL);   /* NULL name */
  hp[0].value.boolean = 1;
  ROW(tbt_hparams_session_start, tbt_hparams_session_start(hp, 1, "\xff", 0), TBT_EINVAL);
  ROW(tbt_hparams_session_start, tbt_hparams_session_start(hp, 1, NULL, NAN), TBT_EINVAL);
  ROW(tbt_hparams_session_start, tbt_hparams_session_start(hp, 1, NULL, -5), 0);   /* no writer */
  ROW(tbt_hparams_group_name, tbt_hparams_group_name(hp, 2, out), TBT_EINVAL);
  ROW(tbt_hparams_group_name, tbt_hparams_group_name(hp, 1, NULL), TBT_EINVAL);
  ROW(tbt_hparams_group_name, tbt_hparams_group_name(hp, 1, out), 0);
  CHECK_EQ_STR(out, "5daa0644c4a1c43ea018f7f1ef2944b90e0165ef1f2d5669ca89e5d4f69ac597");
  ROW(tbt_hparams_session_end, tbt_hparams_session_end(-1, 0), TBT_EINVAL);
  ROW(tbt_hparams_session_end, tbt_hparams_session_end(4, 0), TBT_EINVAL);
  ROW(tbt_hparams_session_end, tbt_hparams_session_end(1, NAN), TBT_EINVAL);
  ROW(tbt_hparams_session_end, tbt_hparams_session_end(1, 0), 0);   /* no writer */

  /* with a writer: what is accepted is written */
  open_default("hplugins");
  ROW(tbt_image_float, tbt_image_float("i", fp, 1, 1, 7, 1, -1, TBT_STEP(1), NULL), 1);
  ROW(tbt_image_float, tbt_image_float("i", fp, 1, 1, 2, 2, -1, TBT_STEP(1), NULL), 1);
  int64_t had_step;
  int has_step = tbt_get_step(&had_step);
  tbt_unset_step();
  ROW(tbt_write_raw_pb, tbt_write_raw_pb(bufs, lens, 1, TBT_DEFAULT_STEP), TBT_ENOSTEP);
  if (has_step) tbt_set_step(had_step);
  ROW(tbt_write_raw_pb, tbt_write_raw_pb(bufs, lens, 1, TBT_STEP(INT64_MIN)), 1);
  ROW(tbt_graph, tbt_graph(NULL, 0), 1);
  ROW(tbt_custom_scalars, tbt_custom_scalars(NULL, 0), 1);
  ROW(tbt_hparams_config, tbt_hparams_config(&info, 1, &metric, 1, 0), 1);   /* an infinite interval */
  ROW(tbt_hparams_session_start, tbt_hparams_session_start(NULL, 0, "", 1e300), 1);
  ROW(tbt_hparams_session_end, tbt_hparams_session_end(TBT_HPARAMS_RUNNING, -1), 1);
  ROW(tbt_summary_scope_push, tbt_summary_scope_push(huge), 0);
  ROW(tbt_scalar, tbt_scalar("", 1, TBT_STEP(1), NULL), 1);
  ROWV(tbt_summary_scope_pop, tbt_summary_scope_pop());
  tu_events r = read_default();
  CHECK_EQ_INT(r.n, 10);
  if (r.n == 10) {
    CHECK_EQ_INT(tu_value(r.ev[1])->tensor->n_string_val, 3);
    CHECK_EQ_INT(r.ev[3]->step, INT64_MIN);
    CHECK_EQ_INT(r.ev[4]->what_case, TENSORFLOW__EVENT__WHAT_GRAPH_DEF);
    CHECK_EQ_INT(r.ev[4]->graph_def.len, 0);
    CHECK_EQ_STR(tu_value(r.ev[5])->tag, "custom_scalars__config__");
    CHECK_EQ_STR(tu_value(r.ev[6])->tag, "_hparams_/experiment");
    CHECK_EQ_STR(tu_value(r.ev[7])->tag, "_hparams_/session_start_info");
    CHECK_EQ_STR(tu_value(r.ev[8])->tag, "_hparams_/session_end_info");
    CHECK_EQ_INT(strlen(tu_value(r.ev[9])->tag), (1 << 20) + strlen("/scalar_summary"));
  }
  tu_events_free(&r);
  close_default();
  free(huge);
}

int main(void) {
  hostile_basics();
  hostile_writer();
  hostile_state();
  hostile_scalar();
  hostile_text();
  hostile_histogram();
  hostile_media();
  hostile_write();
  hostile_reader();
  hostile_trace();
  hostile_plugins();
  hostile_cluster();
  hostile_close_all();
  check_coverage();
  return CHECK_DONE();
}

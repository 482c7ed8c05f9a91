/*
** summary_scope.c: tf.summary.experimental.summary_scope per thread. The open scopes are kept
** as one string, "outer/inner", with the length it had before each push, so a pop is a cut.
*/
#include "summary.h"

#include "alloc.h"
#include "utf8.h"

#include <pthread.h>
#include <string.h>

typedef struct scopes {
  char *prefix;          /* "outer/inner", NUL-terminated */
  size_t len, cap;
  size_t *marks;         /* prefix length before each push */
  int depth, mark_cap;
  char *tag;             /* the last scoped tag built */
  size_t tag_cap;
} scopes;

static __thread scopes *t_scopes;
atomic_int tbt_summary_scopes_open;
static pthread_key_t g_key;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

/* At thread exit: scopes left open there no longer count. */
static void free_scopes(void *p) {
  scopes *s = p;
  atomic_fetch_sub_explicit(&tbt_summary_scopes_open, s->depth, memory_order_relaxed);
  if (t_scopes == s) t_scopes = NULL;
  tbt_free(s->prefix);
  tbt_free(s->marks);
  tbt_free(s->tag);
  tbt_free(s);
}

static void make_key(void) {
  pthread_key_create(&g_key, free_scopes);
}

static scopes *get_scopes(void) {
  if (t_scopes) return t_scopes;
  pthread_once(&g_once, make_key);
  scopes *s = tbt_calloc(1, sizeof *s);
  if (!s) return NULL;
  if (pthread_setspecific(g_key, s)) {
    tbt_free(s);
    return NULL;
  }
  t_scopes = s;
  return s;
}

static int reserve(char **buf, size_t *cap, size_t n) {
  if (n <= *cap) return 0;
  size_t c = *cap ? *cap : 64;
  while (c < n) c *= 2;
  char *b = tbt_realloc(*buf, c);
  if (!b) return TBT_ENOMEM;
  *buf = b;
  *cap = c;
  return 0;
}

/* TF keeps [-_/.A-Za-z0-9] of a name for the scope; the tag keeps it all. */
static int scope_char(unsigned char c) {
  return c == '-' || c == '_' || c == '/' || c == '.' || (c >= 'A' && c <= 'Z') ||
         (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

int tbt_summary_scope_push(const char *name) {
  if (!name || !*name) name = "summary";
  size_t n = strlen(name);
  if (!tbt_utf8_valid(name, n)) return TBT_EINVAL;
  size_t kept = 0;
  for (size_t i = 0; i < n; i++) kept += scope_char((unsigned char)name[i]);
  scopes *s = get_scopes();
  if (!s) return TBT_ENOMEM;
  if (s->depth == s->mark_cap) {
    int c = s->mark_cap ? s->mark_cap * 2 : 8;
    size_t *m = tbt_realloc(s->marks, (size_t)c * sizeof *m);
    if (!m) return TBT_ENOMEM;
    s->marks = m;
    s->mark_cap = c;
  }
  size_t add = kept ? kept : strlen("summary");
  if (reserve(&s->prefix, &s->cap, s->len + 1 + add + 1)) return TBT_ENOMEM;
  s->marks[s->depth++] = s->len;
  atomic_fetch_add_explicit(&tbt_summary_scopes_open, 1, memory_order_relaxed);
  char *p = s->prefix + s->len;
  if (s->len) *p++ = '/';
  if (kept) {
    for (size_t i = 0; i < n; i++)
      if (scope_char((unsigned char)name[i])) *p++ = name[i];
  } else {
    memcpy(p, "summary", add);
    p += add;
  }
  *p = '\0';
  s->len = (size_t)(p - s->prefix);
  return 0;
}

void tbt_summary_scope_pop(void) {
  scopes *s = t_scopes;
  if (!s || s->depth == 0) return;
  s->len = s->marks[--s->depth];
  atomic_fetch_sub_explicit(&tbt_summary_scopes_open, 1, memory_order_relaxed);
  s->prefix[s->len] = '\0';
}

const char *tbt_summary_scope(void) {
  return t_scopes && t_scopes->depth ? t_scopes->prefix : "";
}

int tbt_summary_scope_depth(void) {
  return t_scopes ? t_scopes->depth : 0;
}

int tbt_summary_scoped_tag_slow(const char **tag, const char *default_name) {
  scopes *s = t_scopes;
  if (!*tag) return TBT_EINVAL;
  if (!s || s->depth == 0) return 0;
  const char *name = **tag ? *tag : default_name;
  size_t n = strlen(name);
  if (reserve(&s->tag, &s->tag_cap, s->len + 1 + n + 1)) return TBT_ENOMEM;
  memcpy(s->tag, s->prefix, s->len);
  s->tag[s->len] = '/';
  memcpy(s->tag + s->len + 1, name, n + 1);
  *tag = s->tag;
  return 0;
}

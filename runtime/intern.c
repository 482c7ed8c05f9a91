/*
** intern.c: string tables and the process-wide name table (see intern.h).
*/
#include "intern.h"

#include "alloc.h"
#include "tbtrace.h"

#include <pthread.h>
#include <string.h>

static uint32_t hash_bytes(const char *s, size_t len) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)s[i];
    h *= 16777619u;
  }
  return h;
}

void tbt_strtab_init(tbt_strtab *t) {
  memset(t, 0, sizeof *t);
}

static int grow_index(tbt_strtab *t) {
  uint32_t nslots = t->nslots ? t->nslots * 2 : 64;
  uint32_t *slots = tbt_calloc(nslots, sizeof *slots);
  if (!slots) return -1;
  for (uint32_t i = 0; i < t->n; i++) {
    if (!t->lens || t->lens[i] == UINT32_MAX) continue;   /* hidden */
    uint32_t h = hash_bytes(t->strs[i], t->lens[i]) & (nslots - 1);
    while (slots[h]) h = (h + 1) & (nslots - 1);
    slots[h] = i + 1;
  }
  tbt_free(t->slots);
  t->slots = slots;
  t->nslots = nslots;
  return 0;
}

static uint32_t append(tbt_strtab *t, const char *s, size_t len, int hidden) {
  if (len >= UINT32_MAX || t->n >= UINT32_MAX - 1) return TBT_STRTAB_NONE;
  if (t->n == t->cap) {
    uint32_t cap = t->cap ? t->cap * 2 : 32;
    char **strs = tbt_realloc(t->strs, (size_t)cap * sizeof *strs);
    if (!strs) return TBT_STRTAB_NONE;
    t->strs = strs;
    uint32_t *lens = tbt_realloc(t->lens, (size_t)cap * sizeof *lens);
    if (!lens) return TBT_STRTAB_NONE;
    t->lens = lens;
    t->cap = cap;
  }
  char *copy = tbt_malloc(len + 1);
  if (!copy) return TBT_STRTAB_NONE;
  memcpy(copy, s, len);
  copy[len] = '\0';
  t->strs[t->n] = copy;
  t->lens[t->n] = hidden ? UINT32_MAX : (uint32_t)len;
  return t->n++;
}

uint32_t tbt_strtab_add(tbt_strtab *t, const char *s, size_t len) {
  if (t->nslots) {
    uint32_t mask = t->nslots - 1;
    uint32_t h = hash_bytes(s, len) & mask;
    for (uint32_t i; (i = t->slots[h]) != 0; h = (h + 1) & mask) {
      i--;
      if (t->lens[i] == len && memcmp(t->strs[i], s, len) == 0) return i;
    }
  }
  /* Keep the load under 1/2. */
  if ((uint64_t)(t->n + 1) * 2 > t->nslots && grow_index(t) != 0) return TBT_STRTAB_NONE;
  uint32_t i = append(t, s, len, 0);
  if (i == TBT_STRTAB_NONE) return i;
  uint32_t mask = t->nslots - 1;
  uint32_t h = hash_bytes(s, len) & mask;
  while (t->slots[h]) h = (h + 1) & mask;
  t->slots[h] = i + 1;
  return i;
}

uint32_t tbt_strtab_push_hidden(tbt_strtab *t, const char *s, size_t len) {
  return append(t, s, len, 1);
}

void tbt_strtab_release_index(tbt_strtab *t) {
  tbt_free(t->slots);
  tbt_free(t->lens);
  t->slots = NULL;
  t->lens = NULL;
  t->nslots = 0;
}

void tbt_strtab_free(tbt_strtab *t) {
  for (uint32_t i = 0; i < t->n; i++) tbt_free(t->strs[i]);
  tbt_free(t->strs);
  tbt_strtab_release_index(t);
  memset(t, 0, sizeof *t);
}

/* ------------------------------------------------------- the process-wide table */

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static tbt_strtab g_names;   /* id = index; index 0 is a hidden placeholder, so ids are > 0 */

uint32_t tbt_intern_len(const char *name, size_t len) {
  /* No name is 4 GiB long: such a length is a caller's bug, refused before anything reads it. */
  if (!name || len >= UINT32_MAX) return 0;
  uint32_t id = 0;
  pthread_mutex_lock(&g_lock);
  if (g_names.n == 0 && tbt_strtab_push_hidden(&g_names, "", 0) == TBT_STRTAB_NONE) goto done;
  uint32_t i = tbt_strtab_add(&g_names, name, len);
  if (i != TBT_STRTAB_NONE && i <= TBT_INTERN_MAX_ID) id = i;
done:
  pthread_mutex_unlock(&g_lock);
  return id;
}

uint32_t tbt_intern(const char *name) {
  return name ? tbt_intern_len(name, strlen(name)) : 0;
}

const char *tbt_intern_get(uint32_t id) {
  const char *s = NULL;
  pthread_mutex_lock(&g_lock);
  if (id < g_names.n) s = g_names.strs[id];
  pthread_mutex_unlock(&g_lock);
  return s;
}

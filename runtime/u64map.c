/*
** u64map.c: a u64 -> u32 map (see u64map.h).
*/
#include "u64map.h"

#include "alloc.h"

#include <string.h>

int tbt_u64map_put(tbt_u64map *m, uint64_t key, uint32_t val) {
  if ((m->n + 1) * 2 > m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 64;
    uint64_t *keys = tbt_calloc(cap, sizeof *keys);
    uint32_t *vals = tbt_calloc(cap, sizeof *vals);
    if (!keys || !vals) {
      tbt_free(keys);
      tbt_free(vals);
      return -1;
    }
    for (size_t i = 0; i < m->cap; i++) {
      if (!m->keys[i]) continue;
      size_t h = tbt_u64map_slot_(m->keys[i] - 1, cap);
      while (keys[h]) h = (h + 1) & (cap - 1);
      keys[h] = m->keys[i];
      vals[h] = m->vals[i];
    }
    tbt_free(m->keys);
    tbt_free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
  }
  size_t h = tbt_u64map_slot_(key, m->cap);
  while (m->keys[h]) h = (h + 1) & (m->cap - 1);
  m->keys[h] = key + 1;
  m->vals[h] = val;
  m->n++;
  return 0;
}

void tbt_u64map_free(tbt_u64map *m) {
  tbt_free(m->keys);
  tbt_free(m->vals);
  memset(m, 0, sizeof *m);
}

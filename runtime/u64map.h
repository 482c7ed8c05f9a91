/*
** u64map.h: a map from 64-bit keys to 32-bit values (internal). Open addressing, keys stored
** + 1 so that 0 marks an empty slot; it only grows. A zeroed u64map is empty.
*/
#ifndef TBT_U64MAP_H
#define TBT_U64MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct tbt_u64map {
  uint64_t *keys;
  uint32_t *vals;
  size_t n, cap;
} tbt_u64map;

static inline size_t tbt_u64map_slot_(uint64_t key, size_t cap) {
  return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
}

/* 1 and *val when key is there, else 0. Inline: the drain asks once or twice per span. */
static inline int tbt_u64map_get(const tbt_u64map *m, uint64_t key, uint32_t *val) {
  if (!m->cap) return 0;
  for (size_t h = tbt_u64map_slot_(key, m->cap); m->keys[h]; h = (h + 1) & (m->cap - 1)) {
    if (m->keys[h] == key + 1) {
      *val = m->vals[h];
      return 1;
    }
  }
  return 0;
}
/* Adds a key that is not there. Returns 0, or -1 when out of memory (m unchanged). */
int tbt_u64map_put(tbt_u64map *m, uint64_t key, uint32_t val);
/* Frees the slots; m is empty again. */
void tbt_u64map_free(tbt_u64map *m);

#endif

/*
** crc32c.c: CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of TFRecord framing.
** The SSE4.2 crc32 instruction does 8 bytes a cycle or so; the portable path is slicing-by-8.
** Which one runs is decided once, from cpuid, on first use.
*/
#include "tbtrace.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define POLY 0x82F63B78u

static uint32_t table[8][256];

static void build_table(void) {
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = n;
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ POLY : c >> 1;
    table[0][n] = c;
  }
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = table[0][n];
    for (int k = 1; k < 8; k++) {
      c = table[0][c & 0xff] ^ (c >> 8);
      table[k][n] = c;
    }
  }
}

static uint32_t crc_portable(uint32_t crc, const unsigned char *p, size_t len) {
  crc = ~crc;
  while (len && ((uintptr_t)p & 7)) {
    crc = table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    len--;
  }
  while (len >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    w ^= crc;   /* little-endian: the low byte meets the CRC first */
    crc = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^ table[5][(w >> 16) & 0xff] ^
          table[4][(w >> 24) & 0xff] ^ table[3][(w >> 32) & 0xff] ^ table[2][(w >> 40) & 0xff] ^
          table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
    p += 8;
    len -= 8;
  }
  while (len--) crc = table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HAVE_SSE42_PATH 1
#include <cpuid.h>
#include <nmmintrin.h>

__attribute__((target("sse4.2")))
static uint32_t crc_sse42(uint32_t crc, const unsigned char *p, size_t len) {
  /* Unaligned 8-byte loads cost x86 next to nothing, and the records framed here are short and
  ** seldom aligned: no byte-wise run up to an 8-byte boundary, and the tail in at most 3 steps. */
  uint64_t c = ~crc;
  while (len >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    c = _mm_crc32_u64(c, w);
    p += 8;
    len -= 8;
  }
  if (len & 4) {
    uint32_t w;
    memcpy(&w, p, 4);
    c = _mm_crc32_u32((uint32_t)c, w);
    p += 4;
  }
  if (len & 2) {
    uint16_t w;
    memcpy(&w, p, 2);
    c = _mm_crc32_u16((uint32_t)c, w);
    p += 2;
  }
  if (len & 1) c = _mm_crc32_u8((uint32_t)c, *p);
  return ~(uint32_t)c;
}

static int cpu_has_sse42(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
  return (c & bit_SSE4_2) != 0;
}
#endif

typedef uint32_t (*crc_fn)(uint32_t, const unsigned char *, size_t);

static crc_fn chosen = crc_portable;
static const char *chosen_name = "portable";
static pthread_once_t chosen_once = PTHREAD_ONCE_INIT;
static crc_fn ready;   /* chosen, once choose() ran: the checksum of every record reads only this */

/* TBTRACE_CRC32C=portable forces the table path (tests run both). */
static void choose(void) {
  build_table();
#ifdef HAVE_SSE42_PATH
  const char *force = getenv("TBTRACE_CRC32C");
  if (cpu_has_sse42() && !(force && strcmp(force, "portable") == 0)) {
    chosen = crc_sse42;
    chosen_name = "sse4.2";
  }
#endif
  __atomic_store_n(&ready, chosen, __ATOMIC_RELEASE);
}

uint32_t tbt_crc32c(uint32_t crc, const void *data, size_t len) {
  if (!data) return crc;   /* no bytes to add (and never a NULL dereference) */
  crc_fn f = __atomic_load_n(&ready, __ATOMIC_ACQUIRE);
  if (!f) {
    pthread_once(&chosen_once, choose);
    f = chosen;
  }
  return f(crc, data, len);
}

uint32_t tbt_crc32c_portable(uint32_t crc, const void *data, size_t len) {
  pthread_once(&chosen_once, choose);
  return crc_portable(crc, data, len);
}

const char *tbt_crc32c_impl(void) {
  pthread_once(&chosen_once, choose);
  return chosen_name;
}

uint32_t tbt_crc32c_mask(uint32_t crc) {
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

uint32_t tbt_crc32c_unmask(uint32_t masked) {
  uint32_t rot = masked - 0xa282ead8u;
  return (rot >> 17) | (rot << 15);
}

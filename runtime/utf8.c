/*
** utf8.c: UTF-8 validation (see utf8.h), following the well-formed byte sequences of Unicode
** table 3-7.
*/
#include "utf8.h"

int tbt_utf8_valid(const char *str, size_t len) {
  if (!str) return len == 0;
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  while (i < len) {
    unsigned c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t need;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      need = 2;
      if (c == 0xE0) lo = 0xA0;        /* no overlongs */
      if (c == 0xED) hi = 0x9F;        /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
      need = 3;
      if (c == 0xF0) lo = 0x90;        /* no overlongs */
      if (c == 0xF4) hi = 0x8F;        /* nothing past U+10FFFF */
    } else {
      return 0;
    }
    if (len - i <= need) return 0;
    if (s[i + 1] < lo || s[i + 1] > hi) return 0;
    for (size_t k = 2; k <= need; k++)
      if (s[i + k] < 0x80 || s[i + k] > 0xBF) return 0;
    i += need + 1;
  }
  return 1;
}

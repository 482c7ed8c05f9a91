/*
** utf8.h: the one UTF-8 decoder (internal), after the well-formed byte sequences of Unicode table
** 3-7. tbt_utf8_valid (public, tbtrace.h) checks whole strings with it; tbt_utf8_clean (the
** names of a read trace and of a host's model) and the JSON escaper replace what it rejects by
** U+FFFD.
*/
#ifndef TBT_UTF8_H
#define TBT_UTF8_H

#include "tbtrace.h"

#include <string.h>

/* Length of the well-formed UTF-8 sequence at s (n bytes left), or 0 when it is ill-formed. */
static inline size_t tbt_utf8_seq(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  if (c < 0x80) return 1;
  if (c < 0xC2) return 0;
  if (c < 0xE0) return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
  if (c < 0xF0) {
    if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
    if (c == 0xE0 && s[1] < 0xA0) return 0;   /* overlong */
    if (c == 0xED && s[1] > 0x9F) return 0;   /* surrogates */
    return 3;
  }
  if (c < 0xF5) {
    if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return 0;
    if (c == 0xF0 && s[1] < 0x90) return 0;   /* overlong */
    if (c == 0xF4 && s[1] > 0x8F) return 0;   /* past U+10FFFF */
    return 4;
  }
  return 0;
}

/* s[0..len) into dst with every byte of an ill-formed sequence replaced by U+FFFD (EF BF BD);
** dst must hold 3 * len bytes. Returns the bytes written (no NUL is added). */
static inline size_t tbt_utf8_clean(char *dst, const char *s, size_t len) {
  const unsigned char *u = (const unsigned char *)s;
  char *q = dst;
  for (size_t j = 0; j < len;) {
    size_t k = tbt_utf8_seq(u + j, len - j);
    if (k) {
      memcpy(q, u + j, k);
      q += k;
      j += k;
    } else {
      memcpy(q, "\xef\xbf\xbd", 3);
      q += 3;
      j++;
    }
  }
  return (size_t)(q - dst);
}

#endif

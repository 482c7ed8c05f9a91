/*
** utf8.c: tbt_utf8_valid (tbtrace.h), over utf8.h's decoder.
*/
#include "utf8.h"

int tbt_utf8_valid(const char *str, size_t len) {
  if (!str) return len == 0;
  const unsigned char *s = (const unsigned char *)str;
  for (size_t i = 0; i < len;) {
    if (s[i] < 0x80) {
      i++;
      continue;
    }
    size_t k = tbt_utf8_seq(s + i, len - i);
    if (!k) return 0;
    i += k;
  }
  return 1;
}

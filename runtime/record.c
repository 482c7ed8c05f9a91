/*
** record.c: TFRecord framing (see record.h).
*/
#include "record.h"

#include "tbtrace.h"

#include <string.h>

uint32_t tbt_record_len_crc(uint64_t len) {
  uint8_t le[8];
  tbt_put_le64(le, len);
  return tbt_crc32c_mask(tbt_crc32c(0, le, 8));
}

size_t tbt_record_frame(uint8_t *dst, const void *data, size_t len) {
  tbt_record_put_header(dst, len, tbt_record_len_crc(len));
  if (len) memcpy(dst + TBT_RECORD_HEADER, data, len);
  tbt_record_put_footer(dst, len);
  return len + TBT_RECORD_OVERHEAD;
}

void tbt_record_put_header(uint8_t *dst, size_t len, uint32_t len_crc) {
  tbt_put_le64(dst, (uint64_t)len);
  tbt_put_le32(dst + 8, len_crc);
}

void tbt_record_put_footer(uint8_t *dst, size_t len) {
  tbt_put_le32(dst + TBT_RECORD_HEADER + len,
               tbt_crc32c_mask(tbt_crc32c(0, dst + TBT_RECORD_HEADER, len)));
}

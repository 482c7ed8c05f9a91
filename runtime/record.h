/*
** record.h: TFRecord framing, the container of event files.
**   u64le length | u32le masked_crc32c(length bytes) | data | u32le masked_crc32c(data)
*/
#ifndef TBT_RECORD_H
#define TBT_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define TBT_RECORD_HEADER 12
#define TBT_RECORD_FOOTER 4
#define TBT_RECORD_OVERHEAD (TBT_RECORD_HEADER + TBT_RECORD_FOOTER)

/* Writes the framed record into dst, which must hold len + TBT_RECORD_OVERHEAD bytes;
** returns the bytes written. */
size_t tbt_record_frame(uint8_t *dst, const void *data, size_t len);

/* The masked CRC of a record's length field. Records of one size share it, so a queue of
** same-sized events (scalars) computes it once. */
uint32_t tbt_record_len_crc(uint64_t len);

/* The two halves of framing the len bytes already at dst + TBT_RECORD_HEADER (an event encoded in
** place): the header before them (len_crc is tbt_record_len_crc(len)), and the footer after them,
** their CRC, which a queue may leave until it writes them. */
void tbt_record_put_header(uint8_t *dst, size_t len, uint32_t len_crc);
void tbt_record_put_footer(uint8_t *dst, size_t len);

/* Byte order is explicit so the files are the same on any host; compilers make each one load or
** store of a little-endian host, and inline them into the framing of every event. */
static inline void tbt_put_le32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

static inline void tbt_put_le64(uint8_t *p, uint64_t v) {
  tbt_put_le32(p, (uint32_t)v);
  tbt_put_le32(p + 4, (uint32_t)(v >> 32));
}

static inline uint32_t tbt_get_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t tbt_get_le64(const uint8_t *p) {
  return (uint64_t)tbt_get_le32(p) | (uint64_t)tbt_get_le32(p + 4) << 32;
}

#endif

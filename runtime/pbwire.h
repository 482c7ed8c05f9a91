/*
** pbwire.h: protobuf wire-format primitives, for the messages written by hand where protobuf-c
** would cost too much: the Event envelope of every summary, and the bulk of the profile encoders
** (step_stats, XLine events). They produce the bytes protobuf-c would for the fields they write,
** and the tests decode them with protobuf-c's unpacker and an independent reader.
*/
#ifndef TBT_PBWIRE_H
#define TBT_PBWIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum { PB_VARINT = 0, PB_FIXED64 = 1, PB_LEN = 2, PB_FIXED32 = 5 };

static inline size_t pb_varint_size(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

static inline uint8_t *pb_put_varint(uint8_t *p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *p++ = (uint8_t)v;
  return p;
}

/* Field numbers used here are below 16, so a key is one byte. */
static inline uint8_t *pb_put_key(uint8_t *p, unsigned field, unsigned wire) {
  *p++ = (uint8_t)(field << 3 | wire);
  return p;
}

/* Size of a length-delimited field holding len bytes. */
static inline size_t pb_len_field_size(size_t len) {
  return 1 + pb_varint_size(len) + len;
}

static inline uint8_t *pb_put_len_header(uint8_t *p, unsigned field, size_t len) {
  p = pb_put_key(p, field, PB_LEN);
  return pb_put_varint(p, len);
}

static inline uint8_t *pb_put_bytes(uint8_t *p, unsigned field, const void *data, size_t len) {
  p = pb_put_len_header(p, field, len);
  if (len) memcpy(p, data, len);
  return p + len;
}

/* A proto3 varint field (any field number): its size, and the field written; both leave a 0 out,
** as proto3 does. */
static inline size_t pb_varint_field_size(unsigned field, uint64_t v) {
  return v ? pb_varint_size((uint64_t)field << 3) + pb_varint_size(v) : 0;
}

static inline uint8_t *pb_put_varint_field(uint8_t *p, unsigned field, uint64_t v) {
  if (!v) return p;
  p = pb_put_varint(p, (uint64_t)field << 3 | PB_VARINT);
  return pb_put_varint(p, v);
}

static inline uint8_t *pb_put_double(uint8_t *p, unsigned field, double v) {
  p = pb_put_key(p, field, PB_FIXED64);
  memcpy(p, &v, 8);   /* little-endian hosts only: summary.c checks */
  return p + 8;
}

#endif

/*
** test_reader.c: CRC32C (both implementations against a bitwise one), masking, TFRecord framing,
** and the reader on files built here byte by byte: offsets, flipped bytes, truncation at every
** position, a file that grows while it is read.
*/
#include "check.h"
#include "testutil.h"

#include "crc32c.h"
#include "record.h"
#include "tbtrace.h"

/* Appends one record framed by the test's own code. */
static size_t frame(uint8_t *dst, const uint8_t *data, size_t n) {
  for (int i = 0; i < 8; i++) dst[i] = (uint8_t)((uint64_t)n >> (8 * i));
  uint32_t lc = tu_mask(tu_crc32c(dst, 8));
  for (int i = 0; i < 4; i++) dst[8 + i] = (uint8_t)(lc >> (8 * i));
  memcpy(dst + 12, data, n);
  uint32_t dc = tu_mask(tu_crc32c(data, n));
  for (int i = 0; i < 4; i++) dst[12 + n + i] = (uint8_t)(dc >> (8 * i));
  return n + 16;
}

static void write_file(const char *path, const uint8_t *buf, size_t n) {
  FILE *f = fopen(path, "wb");
  fwrite(buf, 1, n, f);
  fclose(f);
}

static void test_crc(void) {
  CHECK_EQ_U64(tbt_crc32c(0, "123456789", 9), 0xE3069283u);
  CHECK_EQ_U64(tbt_crc32c_portable(0, "123456789", 9), 0xE3069283u);
  uint8_t zeros[32] = {0}, ones[32];
  memset(ones, 0xff, sizeof ones);
  CHECK_EQ_U64(tbt_crc32c(0, zeros, 32), 0x8A9136AAu);
  CHECK_EQ_U64(tbt_crc32c(0, ones, 32), 0x62A8AB43u);
  CHECK_EQ_U64(tbt_crc32c(0, "", 0), 0);
  /* Every length and alignment against the bitwise reference, and continuation. */
  uint8_t buf[400];
  uint32_t seed = 12345;
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)((seed = seed * 1103515245u + 12345u) >> 16);
  int ok = 1;
  for (size_t off = 0; off < 9; off++)
    for (size_t n = 0; n + off <= 300; n++) {
      uint32_t want = tu_crc32c(buf + off, n);
      if (tbt_crc32c(0, buf + off, n) != want || tbt_crc32c_portable(0, buf + off, n) != want) ok = 0;
      size_t half = n / 2;
      if (tbt_crc32c(tbt_crc32c(0, buf + off, half), buf + off + half, n - half) != want) ok = 0;
    }
  CHECK(ok);
  CHECK(strcmp(tbt_crc32c_impl(), "sse4.2") == 0 || strcmp(tbt_crc32c_impl(), "portable") == 0);
  /* Masking. */
  CHECK_EQ_U64(tbt_crc32c_mask(0xE3069283u), tu_mask(0xE3069283u));
  for (uint32_t c = 0; c < 100000; c += 7) CHECK_EQ_U64(tbt_crc32c_unmask(tbt_crc32c_mask(c * 2654435761u)), c * 2654435761u);
  /* The library's framing is the test's framing. */
  uint8_t a[64], b[64];
  const uint8_t data[] = "framed";
  CHECK_EQ_INT(tbt_record_frame(a, data, 6), 22);
  frame(b, data, 6);
  CHECK(memcmp(a, b, 22) == 0);
  /* Framing bytes already in place, header and footer apart, frames the same. */
  for (size_t n = 0; n <= 40; n++) {
    memset(a, 0xAA, sizeof a);
    memcpy(a + 12, buf + n, n);
    tbt_record_put_footer(a, n);
    tbt_record_put_header(a, n, tbt_record_len_crc(n));
    frame(b, buf + n, n);
    CHECK(memcmp(a, b, n + 16) == 0);
    CHECK_EQ_INT(a[n + 16], 0xAA);   /* nothing past the footer */
  }
}

static char g_dir[4096];

static const char *path_for(const char *name) {
  static char p[4200];
  snprintf(p, sizeof p, "%s/%s", g_dir, name);
  return p;
}

/* A file of three records of sizes 0, 5 and 300: returns its length; offsets in off[]. */
static size_t three_records(uint8_t *buf, size_t *off) {
  uint8_t big[300];
  for (int i = 0; i < 300; i++) big[i] = (uint8_t)i;
  size_t n = 0;
  off[0] = n;
  n += frame(buf + n, (const uint8_t *)"", 0);
  off[1] = n;
  n += frame(buf + n, (const uint8_t *)"hello", 5);
  off[2] = n;
  n += frame(buf + n, big, 300);
  return n;
}

static void test_read_back(void) {
  uint8_t buf[1024];
  size_t off[3];
  size_t n = three_records(buf, off);
  write_file(path_for("three"), buf, n);
  tbt_reader *r;
  CHECK_EQ_INT(tbt_reader_open(&r, path_for("three")), 0);
  const uint8_t *data;
  size_t len;
  uint64_t o;
  CHECK_EQ_INT(tbt_reader_next(r, &data, &len, &o), 0);
  CHECK_EQ_INT(len, 0);
  CHECK_EQ_U64(o, off[0]);
  CHECK_EQ_INT(tbt_reader_next(r, &data, &len, &o), 0);
  CHECK(len == 5 && memcmp(data, "hello", 5) == 0);
  CHECK_EQ_U64(o, off[1]);
  CHECK_EQ_INT(tbt_reader_next(r, &data, &len, &o), 0);
  CHECK(len == 300 && data[299] == (uint8_t)299);
  CHECK_EQ_U64(o, off[2]);
  CHECK_EQ_INT(tbt_reader_next(r, &data, &len, &o), TBT_EOF);
  CHECK_EQ_INT(tbt_reader_next(r, &data, &len, &o), TBT_EOF);
  tbt_reader_close(r);

  write_file(path_for("empty"), buf, 0);
  CHECK_EQ_INT(tbt_reader_open(&r, path_for("empty")), 0);
  CHECK_EQ_INT(tbt_reader_next(r, &data, &len, &o), TBT_EOF);
  tbt_reader_close(r);

  CHECK_EQ_INT(tbt_reader_open(&r, path_for("missing")), -ENOENT);
  CHECK_EQ_INT(tbt_reader_open(&r, NULL), TBT_EINVAL);
  CHECK_EQ_INT(tbt_reader_open(NULL, "x"), TBT_EINVAL);
  CHECK_EQ_INT(tbt_reader_next(NULL, &data, &len, &o), TBT_EINVAL);
  tbt_reader_close(NULL);
}

/* Reads the whole file; returns the code that ended it and the offset reported with it. */
static int read_all(const char *path, int *good, uint64_t *where) {
  tbt_reader *r;
  if (tbt_reader_open(&r, path)) return -1;
  const uint8_t *data;
  size_t len;
  int rc;
  *good = 0;
  while ((rc = tbt_reader_next(r, &data, &len, where)) == 0) (*good)++;
  tbt_reader_close(r);
  return rc;
}

static void test_corruption(void) {
  uint8_t buf[1024], bad[1024];
  size_t off[3];
  size_t n = three_records(buf, off);
  /* Flip one bit in every byte of the second record in turn: always caught, at its offset. */
  int all_caught = 1;
  for (size_t i = off[1]; i < off[2]; i++) {
    memcpy(bad, buf, n);
    bad[i] ^= 0x10;
    write_file(path_for("flip"), bad, n);
    int good;
    uint64_t where;
    int rc = read_all(path_for("flip"), &good, &where);
    /* A flip in the length can also make the record look longer than the file. */
    if (!((rc == TBT_ECORRUPT || rc == TBT_ETRUNCATED) && good == 1 && where == off[1])) {
      fprintf(stderr, "flip at %zu: rc %d good %d where %llu\n", i, rc, good, (unsigned long long)where);
      all_caught = 0;
    }
  }
  CHECK(all_caught);
  /* Messages name the kind of damage and the offset. */
  memcpy(bad, buf, n);
  bad[off[1] + 13] ^= 1;
  write_file(path_for("flipdata"), bad, n);
  tbt_reader *r;
  CHECK_EQ_INT(tbt_reader_open(&r, path_for("flipdata")), 0);
  const uint8_t *data;
  size_t len;
  uint64_t o;
  CHECK_EQ_INT(tbt_reader_next(r, &data, &len, &o), 0);
  CHECK_EQ_INT(tbt_reader_next(r, &data, &len, &o), TBT_ECORRUPT);
  char want[128];
  snprintf(want, sizeof want, "data checksum mismatch in record at offset %zu", off[1]);
  CHECK_EQ_STR(tbt_reader_error(r), want);
  CHECK_EQ_INT(tbt_reader_next(r, &data, &len, &o), TBT_ECORRUPT);   /* it stays stopped */
  tbt_reader_close(r);
  memcpy(bad, buf, n);
  bad[off[1] + 9] ^= 1;   /* the length checksum */
  write_file(path_for("fliplen"), bad, n);
  CHECK_EQ_INT(tbt_reader_open(&r, path_for("fliplen")), 0);
  tbt_reader_next(r, &data, &len, &o);
  CHECK_EQ_INT(tbt_reader_next(r, &data, &len, &o), TBT_ECORRUPT);
  CHECK(strstr(tbt_reader_error(r), "length checksum mismatch") != NULL);
  tbt_reader_close(r);
  /* A huge length with a valid length checksum is refused without allocating it. */
  uint8_t huge[16];
  for (int i = 0; i < 8; i++) huge[i] = 0x7f;
  uint32_t lc = tu_mask(tu_crc32c(huge, 8));
  for (int i = 0; i < 4; i++) huge[8 + i] = (uint8_t)(lc >> (8 * i));
  write_file(path_for("huge"), huge, 12);
  int good;
  uint64_t where;
  CHECK_EQ_INT(read_all(path_for("huge"), &good, &where), TBT_ECORRUPT);
}

static void test_truncation_and_growth(void) {
  uint8_t buf[1024];
  size_t off[3];
  size_t n = three_records(buf, off);
  int ok = 1;
  for (size_t cut = off[2] + 1; cut < n; cut++) {
    write_file(path_for("cut"), buf, cut);
    int good;
    uint64_t where;
    int rc = read_all(path_for("cut"), &good, &where);
    if (rc != TBT_ETRUNCATED || good != 2 || where != off[2]) ok = 0;
  }
  CHECK(ok);
  /* The reader resumes once the rest of the record arrives. */
  write_file(path_for("grow"), buf, off[2] + 20);
  tbt_reader *r;
  CHECK_EQ_INT(tbt_reader_open(&r, path_for("grow")), 0);
  const uint8_t *data;
  size_t len;
  uint64_t o;
  CHECK_EQ_INT(tbt_reader_next(r, &data, &len, &o), 0);
  CHECK_EQ_INT(tbt_reader_next(r, &data, &len, &o), 0);
  CHECK_EQ_INT(tbt_reader_next(r, &data, &len, &o), TBT_ETRUNCATED);
  CHECK_EQ_U64(o, off[2]);
  CHECK(strstr(tbt_reader_error(r), "truncated record at offset") != NULL);
  FILE *f = fopen(path_for("grow"), "ab");
  fwrite(buf + off[2] + 20, 1, n - off[2] - 20, f);
  fclose(f);
  CHECK_EQ_INT(tbt_reader_next(r, &data, &len, &o), 0);
  CHECK_EQ_INT(len, 300);
  CHECK_EQ_U64(o, off[2]);
  CHECK_EQ_INT(tbt_reader_next(r, &data, &len, &o), TBT_EOF);
  tbt_reader_close(r);
}

/* Files the writer wrote read back through the reader and render as JSON. */
static void test_writer_round_trip(void) {
  tbt_writer *w;
  CHECK_EQ_INT(tbt_writer_open(&w, path_for("logdir"), NULL), 0);
  tbt_set_default_writer(w);
  for (int i = 0; i < 100; i++) tbt_scalar("loss", i * 0.5, TBT_STEP(i - 50), NULL);
  const char *strs[] = {"a\"b\\c\n\x01", "\xff\xfe"};
  tbt_text("t\xc3\xa9xt", strs, NULL, 2, (int64_t[]){2}, 1, TBT_STEP(1), NULL);
  tbt_writer_close(w);
  tbt_reader *r;
  CHECK_EQ_INT(tbt_reader_open(&r, tbt_writer_path(w)), 0);
  const uint8_t *data;
  size_t len;
  uint64_t o;
  int n = 0;
  char *json = NULL;
  size_t jlen;
  while (tbt_reader_next(r, &data, &len, &o) == 0) {
    tbt_free(json);
    CHECK_EQ_INT(tbt_event_to_json(data, len, &json, &jlen), 0);
    CHECK_EQ_INT(strlen(json), jlen);
    if (n == 0) CHECK(strstr(json, "\"file_version\":\"brain.Event:2\"") != NULL);
    if (n == 1) CHECK(strstr(json, "\"step\":-50,") != NULL);
    if (n == 1) CHECK(strstr(json, "\"values\":[0]") != NULL);
    if (n == 2) CHECK(strstr(json, "\"values\":[0.5]") != NULL);
    n++;
  }
  CHECK_EQ_INT(n, 102);
  /* The last one: a text tensor with quotes, a control character and bytes that are not text. */
  CHECK(strstr(json, "\"tag\":\"t\xc3\xa9xt\"") != NULL);
  CHECK(strstr(json, "\"string_val\":[{\"base64\":\"YSJiXGMKAQ==\"},{\"base64\":\"//4=\"}]") != NULL);
  CHECK(strstr(json, "\"dtype\":\"DT_STRING\"") != NULL);
  CHECK(strstr(json, "\"tensor_shape\":{\"dim\":[{\"size\":2}]}") != NULL);
  tbt_free(json);
  tbt_reader_close(r);
  tbt_set_default_writer(NULL);
  tbt_writer_free(w);
  const uint8_t junk[] = {0xff, 0xff, 0xff};
  CHECK_EQ_INT(tbt_event_to_json(junk, 3, &json, &jlen), TBT_ECORRUPT);
  CHECK(json == NULL);
}

/* tbt_reader_skip finds the next good record past garbage longer than its read window, ignores a
** header whose own checksum holds but whose data is bad, and finds a header that straddles two
** windows. */
static void test_skip(void) {
  size_t gap = 65532;   /* puts the good record's header across the first window's end */
  uint8_t *buf = calloc(1, 21 + gap + 64);
  size_t n = frame(buf, (const uint8_t *)"hello", 5);
  CHECK_EQ_INT(n, 21);
  for (size_t i = 0; i < gap; i++) buf[n + i] = (uint8_t)(i * 7 + 3);
  /* a header that checks out, over data whose checksum does not */
  size_t fake = n + 100;
  frame(buf + fake, (const uint8_t *)"fake!", 5);
  buf[fake + 12] ^= 0x20;
  size_t good = n + gap;
  size_t total = good + frame(buf + good, (const uint8_t *)"world", 5);
  write_file(path_for("skip"), buf, total);
  free(buf);

  tbt_reader *r;
  CHECK_EQ_INT(tbt_reader_open(&r, path_for("skip")), 0);
  const uint8_t *data;
  size_t len;
  uint64_t o, next = 0;
  CHECK_EQ_INT(tbt_reader_next(r, &data, &len, &o), 0);
  CHECK_EQ_INT(tbt_reader_next(r, &data, &len, &o), TBT_ECORRUPT);
  CHECK_EQ_U64(o, 21);
  CHECK_EQ_INT(tbt_reader_skip(r, &next), 0);
  CHECK_EQ_U64(next, good);
  CHECK_EQ_INT(tbt_reader_next(r, &data, &len, &o), 0);
  CHECK(len == 5 && memcmp(data, "world", 5) == 0);
  CHECK_EQ_U64(o, good);
  CHECK_EQ_INT(tbt_reader_next(r, &data, &len, &o), TBT_EOF);
  /* past the last record there is nothing to find: the end of the file */
  CHECK_EQ_INT(tbt_reader_skip(r, &next), TBT_EOF);
  CHECK_EQ_U64(next, total);
  tbt_reader_close(r);
}

int main(void) {
  snprintf(g_dir, sizeof g_dir, "%s", tu_tmpdir("reader"));
  mkdir(g_dir, 0777);
  test_crc();
  test_read_back();
  test_corruption();
  test_truncation_and_growth();
  test_writer_round_trip();
  test_skip();
  return CHECK_DONE();
}

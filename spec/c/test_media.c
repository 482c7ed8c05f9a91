/*
** test_media.c: PNG and WAV encoding and the image and audio summaries. The PNGs are taken apart
** here (chunks, a bitwise CRC-32, inflate, un-filtering) and compared pixel by pixel; the WAV
** headers field by field.
*/
#include "check.h"
#include "testutil.h"

#include "tbtrace.h"

#include <math.h>
#include <zlib.h>

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t crc32_bitwise(const uint8_t *p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
  }
  return ~c;
}

static int paeth(int a, int b, int c) {
  int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
  return (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c);
}

/* Decodes an 8-bit, non-interlaced PNG into *pixels (malloc'ed); returns 0 or a description. */
static const char *png_decode(const uint8_t *png, size_t len, int *h, int *w, int *ch, uint8_t **pixels) {
  static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (len < 8 || memcmp(png, sig, 8)) return "bad signature";
  size_t off = 8;
  uint8_t *z = NULL;
  size_t zlen = 0;
  int seen_ihdr = 0, seen_iend = 0, color = -1;
  while (off + 12 <= len && !seen_iend) {
    uint32_t n = be32(png + off);
    if (off + 12 + n > len) return "chunk runs past the end";
    const uint8_t *type = png + off + 4, *data = png + off + 8;
    if (crc32_bitwise(type, 4 + n) != be32(data + n)) return "chunk CRC mismatch";
    if (!memcmp(type, "IHDR", 4)) {
      if (n != 13 || seen_ihdr) return "bad IHDR";
      *w = (int)be32(data);
      *h = (int)be32(data + 4);
      if (data[8] != 8 || data[10] || data[11] || data[12]) return "unexpected IHDR fields";
      color = data[9];
      seen_ihdr = 1;
    } else if (!memcmp(type, "IDAT", 4)) {
      z = realloc(z, zlen + n + 1);
      memcpy(z + zlen, data, n);
      zlen += n;
    } else if (!memcmp(type, "IEND", 4)) {
      seen_iend = 1;
    }
    off += 12 + n;
  }
  if (!seen_ihdr || !seen_iend || off != len) return "missing IHDR/IEND or trailing bytes";
  switch (color) {
    case 0: *ch = 1; break;
    case 4: *ch = 2; break;
    case 2: *ch = 3; break;
    case 6: *ch = 4; break;
    default: return "bad color type";
  }
  size_t stride = (size_t)*w * (size_t)*ch;
  uLongf raw_len = (uLongf)((stride + 1) * (size_t)*h);
  uint8_t *raw = malloc(raw_len + 1);
  uLongf got = raw_len;
  if (uncompress(raw, &got, z, (uLong)zlen) != Z_OK || got != raw_len) {
    free(raw);
    free(z);
    return "inflate failed or wrong size";
  }
  free(z);
  uint8_t *px = malloc(stride * (size_t)*h + 1);
  int bpp = *ch;
  for (int y = 0; y < *h; y++) {
    uint8_t f = raw[(size_t)y * (stride + 1)];
    const uint8_t *src = raw + (size_t)y * (stride + 1) + 1;
    uint8_t *dst = px + (size_t)y * stride, *up = y ? dst - stride : NULL;
    for (size_t x = 0; x < stride; x++) {
      int a = x >= (size_t)bpp ? dst[x - bpp] : 0, b = up ? up[x] : 0, c = (up && x >= (size_t)bpp) ? up[x - bpp] : 0;
      int pred = f == 0 ? 0 : f == 1 ? a : f == 2 ? b : f == 3 ? (a + b) / 2 : f == 4 ? paeth(a, b, c) : -1;
      if (pred < 0) {
        free(raw);
        free(px);
        return "bad filter type";
      }
      dst[x] = (uint8_t)(src[x] + pred);
    }
  }
  free(raw);
  *pixels = px;
  return NULL;
}

static void check_png_round_trip(int h, int w, int c, unsigned seed, int pattern) {
  size_t n = (size_t)h * w * c;
  uint8_t *px = malloc(n);
  for (size_t i = 0; i < n; i++) {
    seed = seed * 1103515245u + 12345u;
    px[i] = pattern ? (uint8_t)((i / c) % w * 255 / (w > 1 ? w - 1 : 1)) : (uint8_t)(seed >> 16);
  }
  uint8_t *png;
  size_t len;
  CHECK_EQ_INT(tbt_png_encode(px, h, w, c, -1, &png, &len), 0);
  int dh, dw, dc;
  uint8_t *back = NULL;
  const char *err = png_decode(png, len, &dh, &dw, &dc, &back);
  if (err) fprintf(stderr, "png %dx%dx%d: %s\n", h, w, c, err);
  CHECK(err == NULL);
  if (!err) {
    CHECK_EQ_INT(dh, h);
    CHECK_EQ_INT(dw, w);
    CHECK_EQ_INT(dc, c);
    CHECK(memcmp(back, px, n) == 0);
  }
  free(back);
  tbt_free(png);
  free(px);
}

static void test_png(void) {
  for (int c = 1; c <= 4; c++) {
    check_png_round_trip(1, 1, c, 1, 0);
    check_png_round_trip(7, 13, c, 2, 0);
    check_png_round_trip(64, 48, c, 3, 1);
  }
  check_png_round_trip(300, 301, 3, 9, 0);
  uint8_t px[12] = {0}, *png = (uint8_t *)1;
  size_t len;
  CHECK_EQ_INT(tbt_png_encode(NULL, 1, 1, 1, -1, &png, &len), TBT_EINVAL);
  CHECK(png == NULL);
  CHECK_EQ_INT(tbt_png_encode(px, 0, 1, 1, -1, &png, &len), TBT_EINVAL);
  CHECK_EQ_INT(tbt_png_encode(px, 1, -1, 1, -1, &png, &len), TBT_EINVAL);
  CHECK_EQ_INT(tbt_png_encode(px, 1, 1, 5, -1, &png, &len), TBT_EINVAL);
  CHECK_EQ_INT(tbt_png_encode(px, 1, 1, 0, -1, &png, &len), TBT_EINVAL);
  CHECK_EQ_INT(tbt_png_encode(px, 1, 1, 1, 10, &png, &len), TBT_EINVAL);
  CHECK_EQ_INT(tbt_png_encode(px, 1, 1, 1, -1, NULL, &len), TBT_EINVAL);
  CHECK_EQ_INT(tbt_png_encode(px, INT32_MAX, INT32_MAX, 4, -1, &png, &len), TBT_ERANGE);
}

static void test_wav(void) {
  float s[] = {0.0f, 1.0f, -1.0f, 0.5f, 2.5f / 32768.0f, -3.0f};
  uint8_t *wav;
  size_t len;
  CHECK_EQ_INT(tbt_wav_encode(s, 3, 2, 16000, &wav, &len), 0);
  CHECK_EQ_INT(len, 44 + 12);
  CHECK(!memcmp(wav, "RIFF", 4) && !memcmp(wav + 8, "WAVEfmt ", 8) && !memcmp(wav + 36, "data", 4));
  CHECK_EQ_INT(tu_le(wav + 4, 4), 36 + 12);
  CHECK_EQ_INT(tu_le(wav + 16, 4), 16);
  CHECK_EQ_INT(tu_le(wav + 20, 2), 1);
  CHECK_EQ_INT(tu_le(wav + 22, 2), 2);
  CHECK_EQ_INT(tu_le(wav + 24, 4), 16000);
  CHECK_EQ_INT(tu_le(wav + 28, 4), 64000);
  CHECK_EQ_INT(tu_le(wav + 32, 2), 4);
  CHECK_EQ_INT(tu_le(wav + 34, 2), 16);
  CHECK_EQ_INT(tu_le(wav + 40, 4), 12);
  /* TensorFlow's scaling: x * 32768, halves away from zero, clamped. */
  int16_t want[] = {0, 32767, -32768, 16384, 3, -32768};
  for (int i = 0; i < 6; i++) CHECK_EQ_INT((int16_t)tu_le(wav + 44 + 2 * i, 2), want[i]);
  tbt_free(wav);
  CHECK_EQ_INT(tbt_wav_encode(s, 0, 1, 8000, &wav, &len), 0);
  CHECK_EQ_INT(len, 44);
  tbt_free(wav);
  float bad[] = {NAN};
  CHECK_EQ_INT(tbt_wav_encode(bad, 1, 1, 8000, &wav, &len), TBT_EINVAL);
  CHECK_EQ_INT(tbt_wav_encode(s, 1, 0, 8000, &wav, &len), TBT_EINVAL);
  CHECK_EQ_INT(tbt_wav_encode(s, 1, 1, 0, &wav, &len), TBT_EINVAL);
  CHECK_EQ_INT(tbt_wav_encode(NULL, 1, 1, 8000, &wav, &len), TBT_EINVAL);
  CHECK_EQ_INT(tbt_wav_encode(s, INT32_MAX, 65535, 8000, &wav, &len), TBT_ERANGE);
}

static void test_summaries(void) {
  tbt_writer *w;
  CHECK_EQ_INT(tbt_writer_open(&w, tu_tmpdir("media"), NULL), 0);
  tbt_set_default_writer(w);
  uint8_t px[5][2][3][3];
  for (size_t i = 0; i < sizeof px; i++) ((uint8_t *)px)[i] = (uint8_t)(i * 7);
  CHECK_EQ_INT(tbt_image("img", &px[0][0][0][0], 5, 2, 3, 3, -1, TBT_STEP(4), "pics"), 1);
  float clip[2][4] = {{0, 0.5f, -0.5f, 1}, {1, 1, 1, 1}};
  CHECK_EQ_INT(tbt_audio("snd", &clip[0][0], 2, 4, 1, 8000, 1, TBT_STEP(5), NULL), 1);
  CHECK_EQ_INT(tbt_image("bad", &px[0][0][0][0], 1, 2, 3, 5, -1, TBT_STEP(4), NULL), TBT_EINVAL);
  CHECK_EQ_INT(tbt_audio("bad", &clip[0][0], 1, 4, 1, 0, -1, TBT_STEP(4), NULL), TBT_EINVAL);
  tbt_writer_close(w);
  tu_events r = tu_read_events(tbt_writer_path(w));
  CHECK(!r.bad);
  CHECK_EQ_INT(r.n, 3);
  if (r.n == 3) {
    Tensorflow__Summary__Value *v = tu_value(r.ev[1]);
    CHECK_EQ_STR(v->tag, "img");
    CHECK_EQ_INT(r.ev[1]->step, 4);
    CHECK_EQ_STR(v->metadata->plugin_data->plugin_name, "images");
    CHECK_EQ_INT(v->metadata->plugin_data->content.len, 0);
    CHECK_EQ_STR(v->metadata->summary_description, "pics");
    CHECK_EQ_INT(v->tensor->dtype, TENSORFLOW__DATA_TYPE__DT_STRING);
    CHECK_EQ_INT(v->tensor->tensor_shape->n_dim, 1);
    CHECK_EQ_INT(v->tensor->tensor_shape->dim[0]->size, 5);   /* width, height, 3 images (max_outputs) */
    CHECK_EQ_INT(v->tensor->n_string_val, 5);
    CHECK(v->tensor->string_val[0].len == 1 && v->tensor->string_val[0].data[0] == '3');
    CHECK(v->tensor->string_val[1].len == 1 && v->tensor->string_val[1].data[0] == '2');
    for (int k = 0; k < 3; k++) {
      int h, wd, c;
      uint8_t *back = NULL;
      const char *err = png_decode(v->tensor->string_val[2 + k].data, v->tensor->string_val[2 + k].len, &h, &wd, &c, &back);
      CHECK(err == NULL);
      if (!err) CHECK(h == 2 && wd == 3 && c == 3 && !memcmp(back, px[k], sizeof px[k]));
      free(back);
    }
    v = tu_value(r.ev[2]);
    CHECK_EQ_STR(v->metadata->plugin_data->plugin_name, "audio");
    CHECK(v->metadata->plugin_data->content.len == 2 && v->metadata->plugin_data->content.data[0] == 0x10 &&
          v->metadata->plugin_data->content.data[1] == 11);
    CHECK_EQ_INT(v->tensor->tensor_shape->n_dim, 2);
    CHECK_EQ_INT(v->tensor->tensor_shape->dim[0]->size, 1);
    CHECK_EQ_INT(v->tensor->tensor_shape->dim[1]->size, 2);
    CHECK_EQ_INT(v->tensor->n_string_val, 2);
    CHECK_EQ_INT(v->tensor->string_val[0].len, 44 + 8);
    CHECK_EQ_INT(v->tensor->string_val[1].len, 0);
    CHECK_EQ_INT((int16_t)tu_le(v->tensor->string_val[0].data + 44 + 2, 2), 16384);
  }
  tu_events_free(&r);
  tbt_set_default_writer(NULL);
  tbt_writer_free(w);
}

/* Float images as tf.summary.image converts them (convert_image_dtype(x, uint8, saturate=True):
** trunc(clamp(x * 255.5, 0, 255)) in float32), and grey + alpha images. */
static void test_float_and_grey_alpha(void) {
  tbt_writer *w;
  CHECK_EQ_INT(tbt_writer_open(&w, tu_tmpdir("mediaf"), NULL), 0);
  tbt_set_default_writer(w);
  float fx[2][6] = {{0.0f, 0.5f, 1.0f, 2.0f, -1.0f, 0.998f},
                    {(float)INFINITY, -(float)INFINITY, 0.25f, 1.0f / 255.5f, 0.998043001f, 0.99804306f}};
  /* 0.5 * 255.5 = 127.75 -> 127; 0.998 * 255.5 = 254.989 -> 254; 0.25 * 255.5 = 63.875 -> 63;
  ** the last two are the float32 neighbours around 255 / 255.5: 254.99998 -> 254, 255.0 -> 255 */
  const uint8_t want[2][6] = {{0, 127, 255, 255, 0, 254}, {255, 0, 63, 1, 254, 255}};
  CHECK_EQ_INT(tbt_image_float("f", &fx[0][0], 2, 2, 3, 1, -1, TBT_STEP(1), NULL), 1);
  uint8_t ga[2][2][2] = {{{10, 255}, {20, 0}}, {{30, 128}, {40, 1}}};   /* grey, alpha */
  CHECK_EQ_INT(tbt_image("ga", &ga[0][0][0], 1, 2, 2, 2, -1, TBT_STEP(1), NULL), 1);
  float nan_px[1] = {NAN};
  CHECK_EQ_INT(tbt_image_float("f", nan_px, 1, 1, 1, 1, -1, TBT_STEP(1), NULL), TBT_EINVAL);
  tbt_writer_close(w);
  tu_events r = tu_read_events(tbt_writer_path(w));
  CHECK(!r.bad);
  CHECK_EQ_INT(r.n, 3);
  if (r.n == 3) {
    Tensorflow__Summary__Value *v = tu_value(r.ev[1]);
    CHECK_EQ_STR(v->metadata->plugin_data->plugin_name, "images");
    CHECK_EQ_INT(v->tensor->n_string_val, 4);
    for (int k = 0; k < 2 && v->tensor->n_string_val == 4; k++) {
      int h, wd, c;
      uint8_t *back = NULL;
      const char *err = png_decode(v->tensor->string_val[2 + k].data, v->tensor->string_val[2 + k].len, &h, &wd, &c, &back);
      CHECK(err == NULL);
      if (!err) {
        CHECK(h == 2 && wd == 3 && c == 1);
        for (int i = 0; i < 6; i++) CHECK_EQ_INT(back[i], want[k][i]);
      }
      free(back);
    }
    v = tu_value(r.ev[2]);
    int h, wd, c;
    uint8_t *back = NULL;
    const char *err = png_decode(v->tensor->string_val[2].data, v->tensor->string_val[2].len, &h, &wd, &c, &back);
    CHECK(err == NULL);
    if (!err) CHECK(h == 2 && wd == 2 && c == 2 && !memcmp(back, ga, sizeof ga));
    free(back);
  }
  tu_events_free(&r);
  tbt_set_default_writer(NULL);
  tbt_writer_free(w);
}

static void test_allocation_failures(void) {
  uint8_t px[4 * 4 * 3] = {1, 2, 3};
  tbt_set_allocator(tu_failing_realloc, NULL);
  int ok_seen = 0;
  for (long n = 1; n < 40 && !ok_seen; n++) {
    tu_fail_countdown = n;
    uint8_t *png = NULL;
    size_t len;
    int rc = tbt_png_encode(px, 4, 4, 3, -1, &png, &len);
    if (rc == 0) {
      ok_seen = 1;
      tu_fail_countdown = 0;
      tbt_free(png);
    } else {
      CHECK_EQ_INT(rc, TBT_ENOMEM);
      CHECK(png == NULL);
    }
  }
  CHECK(ok_seen);
  tu_fail_countdown = 0;
  tbt_set_allocator(NULL, NULL);
  CHECK_EQ_INT(tu_live_allocs, 0);
}

int main(void) {
  test_png();
  test_wav();
  test_summaries();
  test_float_and_grey_alpha();
  test_allocation_failures();
  return CHECK_DONE();
}

/*
** summary_media.c: image and audio summaries in TensorBoard's v2 layout (tf.summary.image,
** tf.summary.audio). The media are encoded here: PNG with zlib (png.c), 16-bit PCM WAV (wav.c).
*/
#include "summary.h"

#include "alloc.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_MAX_OUTPUTS 3

/* AudioPluginData{version: 0, encoding: WAV (11)}: field 2, varint 11. */
static const uint8_t audio_plugin_content[] = {0x10, 0x0b};

static int limit(int count, int max_outputs) {
  int k = max_outputs < 0 ? DEFAULT_MAX_OUTPUTS : max_outputs;
  return count < k ? count : k;
}

/* Emits a DT_STRING tensor of the given shape from n encoded blobs (after tbt_summary_prepare). */
static int emit_blobs(const char *tag, uint8_t **blobs, size_t *lens, size_t n, const int64_t *dims,
                      int ndims, const char *plugin, const void *content, size_t content_len,
                      const char *description, tbt_step step) {
  Tensorflow__TensorShapeProto shape = TENSORFLOW__TENSOR_SHAPE_PROTO__INIT;
  Tensorflow__TensorShapeProto__Dim d[2] = {TENSORFLOW__TENSOR_SHAPE_PROTO__DIM__INIT,
                                            TENSORFLOW__TENSOR_SHAPE_PROTO__DIM__INIT};
  Tensorflow__TensorShapeProto__Dim *dp[2] = {&d[0], &d[1]};
  for (int i = 0; i < ndims; i++) d[i].size = dims[i];
  shape.n_dim = (size_t)ndims;
  shape.dim = dp;
  ProtobufCBinaryData *vals = tbt_calloc(n ? n : 1, sizeof *vals);
  if (!vals) return TBT_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    vals[i].data = blobs[i];
    vals[i].len = lens[i];
  }
  Tensorflow__TensorProto t = TENSORFLOW__TENSOR_PROTO__INIT;
  t.dtype = TENSORFLOW__DATA_TYPE__DT_STRING;
  t.tensor_shape = &shape;
  t.n_string_val = n;
  t.string_val = vals;
  int rc = tbt_summary_emit_prepared(tag, &t, plugin, content, content_len, description, step.step);
  tbt_free(vals);
  return rc;
}

/* Checks an image batch's arguments (after the tag has its scope). */
static int check_image(const char *tag, const void *pixels, int count, int height, int width,
                       int channels, const char *description) {
  if (tbt_summary_check_strings(tag, description)) return TBT_EINVAL;
  if (count < 0 || height <= 0 || width <= 0 || (count > 0 && !pixels)) return TBT_EINVAL;
  if (channels < 1 || channels > 4) return TBT_EINVAL;
  if ((size_t)height > SIZE_MAX / (size_t)width / (size_t)channels) return TBT_ERANGE;
  /* tbt_png_encode's limit, checked before any pixel is read */
  if (((size_t)width * (size_t)channels + 1) * (size_t)height > ((size_t)1 << 31)) return TBT_ERANGE;
  return 0;
}

/* Encodes the first k images of pixels and emits them (after tbt_summary_prepare). */
static int emit_images(const char *tag, const uint8_t *pixels, int k, int height, int width,
                       int channels, tbt_step step, const char *description) {
  size_t image_size = (size_t)height * (size_t)width * (size_t)channels;
  uint8_t **blobs = tbt_calloc((size_t)k + 2, sizeof *blobs);
  size_t *lens = tbt_calloc((size_t)k + 2, sizeof *lens);
  char wbuf[16], hbuf[16];
  int rc = (blobs && lens) ? 0 : TBT_ENOMEM;
  if (!rc) {
    snprintf(wbuf, sizeof wbuf, "%d", width);
    snprintf(hbuf, sizeof hbuf, "%d", height);
    blobs[0] = (uint8_t *)wbuf;
    lens[0] = strlen(wbuf);
    blobs[1] = (uint8_t *)hbuf;
    lens[1] = strlen(hbuf);
  }
  for (int i = 0; !rc && i < k; i++)
    rc = tbt_png_encode(pixels + (size_t)i * image_size, height, width, channels, -1, &blobs[i + 2],
                        &lens[i + 2]);
  if (!rc) {
    int64_t dims[1] = {k + 2};
    rc = emit_blobs(tag, blobs, lens, (size_t)k + 2, dims, 1, "images", NULL, 0, description, step);
  }
  if (blobs)
    for (int i = 0; i < k; i++) tbt_free(blobs[i + 2]);
  tbt_free(blobs);
  tbt_free(lens);
  return rc;
}

int tbt_image(const char *tag, const uint8_t *pixels, int count, int height, int width,
              int channels, int max_outputs, tbt_step step, const char *description) {
  int rc = tbt_summary_scoped_tag(&tag, "image_summary");
  if (rc) return rc;
  rc = check_image(tag, pixels, count, height, width, channels, description);
  if (rc) return rc;
  /* Nothing is encoded unless the summary will be written. */
  rc = tbt_summary_prepare(&step);
  if (rc <= 0) return rc;
  return emit_images(tag, pixels, limit(count, max_outputs), height, width, channels, step,
                     description);
}

/* tf.image.convert_image_dtype(x, tf.uint8, saturate=True) of a float32 x: scale by 255.5
** (max + 0.5), clamp to [0, 255], truncate. */
static uint8_t float_to_u8(float x) {
  float v = x * 255.5f;
  if (v <= 0.0f) return 0;
  if (v >= 255.0f) return 255;
  return (uint8_t)v;
}

int tbt_image_float(const char *tag, const float *pixels, int count, int height, int width,
                    int channels, int max_outputs, tbt_step step, const char *description) {
  int rc = tbt_summary_scoped_tag(&tag, "image_summary");
  if (rc) return rc;
  rc = check_image(tag, pixels, count, height, width, channels, description);
  if (rc) return rc;
  size_t image_size = (size_t)height * (size_t)width * (size_t)channels;
  if (count && image_size > SIZE_MAX / (size_t)count) return TBT_ERANGE;
  for (size_t i = 0; i < image_size * (size_t)count; i++)
    if (isnan(pixels[i])) return TBT_EINVAL;
  rc = tbt_summary_prepare(&step);
  if (rc <= 0) return rc;
  int k = limit(count, max_outputs);
  uint8_t *bytes = tbt_malloc(image_size * (size_t)k + 1);
  if (!bytes) return TBT_ENOMEM;
  for (size_t i = 0; i < image_size * (size_t)k; i++) bytes[i] = float_to_u8(pixels[i]);
  rc = emit_images(tag, bytes, k, height, width, channels, step, description);
  tbt_free(bytes);
  return rc;
}

int tbt_audio(const char *tag, const float *samples, int count, int frames, int channels,
              int sample_rate, int max_outputs, tbt_step step, const char *description) {
  int rc = tbt_summary_scoped_tag(&tag, "audio_summary");
  if (rc) return rc;
  if (tbt_summary_check_strings(tag, description)) return TBT_EINVAL;
  if (count < 0 || frames < 0 || channels <= 0 || channels > 65535 || sample_rate <= 0 ||
      (count > 0 && frames > 0 && !samples))
    return TBT_EINVAL;
  if (frames && (size_t)frames > SIZE_MAX / sizeof(float) / (size_t)channels) return TBT_ERANGE;
  rc = tbt_summary_prepare(&step);
  if (rc <= 0) return rc;
  int k = limit(count, max_outputs);
  size_t clip = (size_t)frames * (size_t)channels;
  uint8_t **blobs = tbt_calloc((size_t)k * 2 + 1, sizeof *blobs);
  size_t *lens = tbt_calloc((size_t)k * 2 + 1, sizeof *lens);
  rc = (blobs && lens) ? 0 : TBT_ENOMEM;
  static uint8_t empty_label[1];
  for (int i = 0; !rc && i < k; i++) {
    rc = tbt_wav_encode(samples + (size_t)i * clip, frames, channels, sample_rate, &blobs[2 * i],
                        &lens[2 * i]);
    blobs[2 * i + 1] = empty_label;   /* labels: tf.summary.audio writes "" */
    lens[2 * i + 1] = 0;
  }
  if (!rc) {
    int64_t dims[2] = {k, 2};
    rc = emit_blobs(tag, blobs, lens, (size_t)k * 2, dims, 2, "audio", audio_plugin_content,
                    sizeof audio_plugin_content, description, step);
  }
  if (blobs)
    for (int i = 0; i < k; i++) tbt_free(blobs[2 * i]);
  tbt_free(blobs);
  tbt_free(lens);
  return rc;
}

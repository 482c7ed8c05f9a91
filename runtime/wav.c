/*
** wav.c: WAV encoding of float audio (tbt_wav_encode), for audio summaries: RIFF/WAVE with a PCM
** fmt chunk, 16 bits per sample, interleaved channels. Samples are scaled as TensorFlow's EncodeWav
** scales them: round(x * 32768) (halves away from zero) clamped to [-32768, 32767], so -1, 0 and 1
** map to -32768, 0 and 32767, and anything beyond [-1, 1] to the nearest end.
*/
#include "tbtrace.h"

#include "alloc.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

static void le16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

int tbt_wav_encode(const float *samples, int frames, int channels, int sample_rate, uint8_t **out,
                   size_t *out_len) {
  if (!out || !out_len) return TBT_EINVAL;
  *out = NULL;
  *out_len = 0;
  if (frames < 0 || channels < 1 || channels > 65535 || sample_rate <= 0 || (frames > 0 && !samples))
    return TBT_EINVAL;
  uint64_t n = (uint64_t)frames * (uint64_t)channels;
  uint64_t data_len = n * 2;
  if (data_len > UINT32_MAX - 36 || (uint64_t)sample_rate * channels * 2 > UINT32_MAX) return TBT_ERANGE;
  for (uint64_t i = 0; i < n; i++)
    if (isnan(samples[i])) return TBT_EINVAL;
  size_t total = 44 + (size_t)data_len;
  uint8_t *wav = tbt_malloc(total);
  if (!wav) return TBT_ENOMEM;
  memcpy(wav, "RIFF", 4);
  le32(wav + 4, (uint32_t)(36 + data_len));
  memcpy(wav + 8, "WAVEfmt ", 8);
  le32(wav + 16, 16);                                            /* fmt chunk size */
  le16(wav + 20, 1);                                             /* PCM */
  le16(wav + 22, (uint16_t)channels);
  le32(wav + 24, (uint32_t)sample_rate);
  le32(wav + 28, (uint32_t)sample_rate * (uint32_t)channels * 2); /* byte rate */
  le16(wav + 32, (uint16_t)(channels * 2));                      /* block align */
  le16(wav + 34, 16);                                            /* bits per sample */
  memcpy(wav + 36, "data", 4);
  le32(wav + 40, (uint32_t)data_len);
  uint8_t *p = wav + 44;
  for (uint64_t i = 0; i < n; i++, p += 2) {
    float v = roundf(samples[i] * 32768.0f);   /* infinities stay infinite, then clamp */
    if (v > 32767.0f) v = 32767.0f;
    if (v < -32768.0f) v = -32768.0f;
    le16(p, (uint16_t)(int16_t)v);
  }
  *out = wav;
  *out_len = total;
  return 0;
}

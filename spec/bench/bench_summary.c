/*
** bench_summary.c: scalar events per second written from C, next to baselines measured in the
** same run: packing and framing the same events into memory (the encoding floor) and writing
** the same bytes to a file (the I/O floor). Memory: peak RSS before and after.
*/
#include "tbtrace.h"

#include "event.pb-c.h"
#include "record.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long rss_kb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

static double bench_scalars(const char *dir, int max_queue, long n, uint64_t *bytes) {
  tbt_writer_options o;
  tbt_writer_options_init(&o);
  o.max_queue = max_queue;
  tbt_writer *w;
  if (tbt_writer_open(&w, dir, &o) != 0) {
    perror("open");
    exit(1);
  }
  tbt_set_default_writer(w);
  double t0 = now();
  for (long i = 0; i < n; i++) tbt_scalar("loss", (double)i * 0.001, TBT_STEP(i), NULL);
  tbt_writer_flush(w);
  double dt = now() - t0;
  FILE *f = fopen(tbt_writer_path(w), "rb");
  fseek(f, 0, SEEK_END);
  *bytes = (uint64_t)ftell(f);
  fclose(f);
  unlink(tbt_writer_path(w));
  tbt_set_default_writer(NULL);
  tbt_writer_free(w);
  return dt;
}

/* Encoding floor: the same Event packed with protobuf-c and framed, into a reused buffer. */
static double bench_encode_only(long n) {
  static uint8_t buf[256], rec[256 + TBT_RECORD_OVERHEAD];
  volatile uint32_t sink = 0;
  double t0 = now();
  for (long i = 0; i < n; i++) {
    float f = (float)(i * 0.001);
    Tensorflow__TensorShapeProto shape = TENSORFLOW__TENSOR_SHAPE_PROTO__INIT;
    Tensorflow__TensorProto t = TENSORFLOW__TENSOR_PROTO__INIT;
    t.dtype = TENSORFLOW__DATA_TYPE__DT_FLOAT;
    t.tensor_shape = &shape;
    t.tensor_content.data = (uint8_t *)&f;
    t.tensor_content.len = 4;
    Tensorflow__SummaryMetadata__PluginData pd = TENSORFLOW__SUMMARY_METADATA__PLUGIN_DATA__INIT;
    pd.plugin_name = "scalars";
    Tensorflow__SummaryMetadata md = TENSORFLOW__SUMMARY_METADATA__INIT;
    md.plugin_data = &pd;
    Tensorflow__Summary__Value v = TENSORFLOW__SUMMARY__VALUE__INIT;
    v.tag = "loss";
    v.value_case = TENSORFLOW__SUMMARY__VALUE__VALUE_TENSOR;
    v.tensor = &t;
    v.metadata = &md;
    Tensorflow__Summary__Value *vs[1] = {&v};
    Tensorflow__Summary s = TENSORFLOW__SUMMARY__INIT;
    s.n_value = 1;
    s.value = vs;
    Tensorflow__Event e = TENSORFLOW__EVENT__INIT;
    e.wall_time = 1.5;
    e.step = i;
    e.what_case = TENSORFLOW__EVENT__WHAT_SUMMARY;
    e.summary = &s;
    size_t len = tensorflow__event__pack(&e, buf);
    tbt_record_frame(rec, buf, len);
    sink += rec[len];
  }
  (void)sink;
  return now() - t0;
}

/* I/O floor: the same number of bytes written to a file in 64 KiB chunks. */
static double bench_io(const char *dir, uint64_t bytes) {
  char path[4096];
  snprintf(path, sizeof path, "%s/io-baseline", dir);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  static char chunk[65536];
  memset(chunk, 'x', sizeof chunk);
  double t0 = now();
  for (uint64_t done = 0; done < bytes; done += sizeof chunk) {
    size_t n = bytes - done < sizeof chunk ? (size_t)(bytes - done) : sizeof chunk;
    if (write(fd, chunk, n) < 0) break;
  }
  fsync(fd);
  double dt = now() - t0;
  close(fd);
  unlink(path);
  return dt;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 2000000;
  char dir[] = "/tmp/tbtrace-bench-XXXXXX";
  if (!mkdtemp(dir)) return 1;
  uint64_t bytes = 0;
  long rss0 = rss_kb();
  double enc = bench_encode_only(n);
  double q10 = bench_scalars(dir, 10, n, &bytes);
  long rss1 = rss_kb();
  double q100 = bench_scalars(dir, 100, n, &bytes);
  double q1000 = bench_scalars(dir, 1000, n, &bytes);
  double q10b = bench_scalars(dir, 10, n, &bytes);
  long rss2 = rss_kb();
  double io = bench_io(dir, bytes);
  rmdir(dir);
  printf("C scalar summaries, %ld events, %.1f MB (crc32c: %s)\n", n, bytes / 1e6, tbt_crc32c_impl());
  printf("  baseline protobuf-c pack+frame %9.2f M events/s\n", n / enc / 1e6);
  printf("  baseline raw write of bytes   %10.2f M events/s equivalent\n", n / io / 1e6);
  /* max_queue=10 (the default) makes one write() per 11 events: the system call, not the
  ** encoding, bounds it. */
  printf("  tbt_scalar max_queue=10       %10.2f M events/s  (%.2fx pack baseline)  target >= 5: %s\n",
         n / q10 / 1e6, enc / q10, n / q10 >= 5e6 ? "ok" : "MISSED");
  printf("  tbt_scalar max_queue=100      %10.2f M events/s  (%.2fx pack baseline)  target >= 5: %s\n",
         n / q100 / 1e6, enc / q100, n / q100 >= 5e6 ? "ok" : "MISSED");
  printf("  tbt_scalar max_queue=1000     %10.2f M events/s  (%.2fx pack baseline)  target >= 5: %s\n",
         n / q1000 / 1e6, enc / q1000, n / q1000 >= 5e6 ? "ok" : "MISSED");
  printf("  peak RSS: start %ld KiB, after first run %ld KiB, after three runs %ld KiB\n", rss0, rss1, rss2);
  (void)q10b;
  return 0;
}

/*
** consumer.c: a program outside the tree that uses an installed libtbtrace. It writes five
** scalars, traces two nested spans (graph only) and exports them.
**
**   consumer LOGDIR
*/
#include <stdio.h>

#include <tbtrace.h>
#include <tbtrace_trace.h>

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s LOGDIR\n", argv[0]);
    return 2;
  }
  tbt_writer *w;
  int rc = tbt_writer_open(&w, argv[1], NULL);
  if (rc != 0) {
    fprintf(stderr, "consumer: %s: %s\n", argv[1], tbt_strerror(rc));
    return 1;
  }
  tbt_set_default_writer(w);
  for (int step = 0; step < 5; step++) tbt_scalar("loss", 1.0 / (step + 1), TBT_STEP(step), NULL);

  tbt_trace_options opts;
  tbt_trace_options_init(&opts);
  opts.graph = 1;
  tbt_trace_on(&opts);
  {
    TBT_SCOPE("step");
    TBT_SPAN("load") tbt_counter("queue", 1.0);
  }
  rc = tbt_trace_export("consumer", TBT_STEP(7), NULL);
  if (rc != 0) {
    fprintf(stderr, "consumer: export: %s\n", tbt_strerror(rc));
    return 1;
  }
  rc = tbt_writer_close(w);
  tbt_set_default_writer(NULL);
  tbt_writer_free(w);
  printf("consumer: wrote %s\n", argv[1]);
  return rc == 0 ? 0 : 1;
}

/*
** consumer_policy.c: a program outside the tree that exports through a Lua policy with an
** installed libtbtrace_policy. It names neither the export nor its step: the policy does.
**
**   consumer_policy LOGDIR POLICY.lua
*/
#include <stdio.h>

#include <tbtrace.h>
#include <tbtrace_policy.h>
#include <tbtrace_trace.h>

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s LOGDIR POLICY.lua\n", argv[0]);
    return 2;
  }
  if (tbt_policy_load(argv[2], 0) != 0) {
    fprintf(stderr, "consumer_policy: %s\n", tbt_policy_error());
    return 1;
  }
  tbt_writer *w;
  int rc = tbt_writer_open(&w, argv[1], NULL);
  if (rc != 0) {
    fprintf(stderr, "consumer_policy: %s: %s\n", argv[1], tbt_strerror(rc));
    return 1;
  }
  tbt_set_default_writer(w);
  for (int i = 0; i < 2; i++) {
    tbt_trace_options opts;
    tbt_trace_options_init(&opts);
    opts.graph = 1;
    tbt_trace_on(&opts);
    TBT_SPAN("work") {
      TBT_SPAN("inner") {}
    }
    int erc = tbt_policy_export(NULL, TBT_DEFAULT_STEP, NULL, NULL);
    if (erc != 0) {
      fprintf(stderr, "consumer_policy: export: %s\n",
              erc == TBT_EPOLICY ? tbt_policy_error() : tbt_export_error());
      return 1;
    }
  }
  rc = tbt_writer_close(w);
  tbt_set_default_writer(NULL);
  tbt_writer_free(w);
  tbt_policy_unload();
  return rc == 0 ? 0 : 1;
}

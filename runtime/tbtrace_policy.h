/*
** tbtrace_policy.h: export policies for C hosts.
**
** An export policy (a Lua file, see docs/policies.md) decides at trace_export time what TensorFlow
** hard-codes: the tag, the step when none is given, the default writer's logdir when there is
** none, the profile outdir and the profile run name.
**
** Two layers:
**   - the core (libtbtrace) calls an export resolver, if one is installed, at the start of every
**     tbt_trace_export: tbt_set_export_resolver. Any C function can be one.
**   - libtbtrace_policy (link it, with Lua 5.4, in addition to libtbtrace) runs Lua policy files:
**     tbt_policy_load creates and owns a Lua state and installs itself as the resolver.
*/
#ifndef TBTRACE_POLICY_H
#define TBTRACE_POLICY_H

#include "tbtrace.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What an export knows when it asks the policy. Strings may be NULL (unknown / not given). */
typedef struct tbt_export_facts {
  const char *name;             /* the caller's name */
  int has_step;                 /* the caller's step */
  int64_t step;
  int has_default_step;         /* the thread's default step */
  int64_t default_step;
  const char *logdir;           /* the default writer's logdir, NULL without a default writer */
  const char *profiler_outdir;  /* the caller's or trace_on's outdir */
  int graph, profiler;          /* the trace_on flags */
  const char *host;
  long pid;
  double time;                  /* seconds since the epoch */
  uint64_t export_index;        /* 1 + exports that succeeded so far in this process */
  uint64_t spans;               /* records buffered */
  uint64_t dropped;             /* records dropped by the memory limit */
  uint32_t threads;             /* threads that recorded */
} tbt_export_facts;

/* What the policy decided. Strings are allocated with the library allocator (the core frees them);
** NULL / has_* = 0 / -1 mean "no decision: apply TensorFlow's rule". */
typedef struct tbt_export_decision {
  char *name;
  int has_step;
  int64_t step;
  char *logdir;                 /* used only when there is no default writer: one is created there */
  char *profiler_outdir;
  char *run_name;               /* one path component ('/', "." and ".." fail with TBT_EPOLICY) */
  int max_queue;                /* settings for a writer the policy creates; -1 = default */
  int flush_millis;
  char *filename_suffix;
} tbt_export_decision;

/* Fills in the resolver's decision. Returns 0, or a nonzero code with a message in errbuf (errlen
** bytes; a message that fills it is cut); the export then fails with TBT_EPOLICY and
** tbt_export_error() returns that message. */
typedef int (*tbt_export_resolver)(void *ud, const tbt_export_facts *facts,
                                   tbt_export_decision *out, char *errbuf, size_t errlen);

/* Installs (or with NULL removes) the process-wide resolver. */
void tbt_set_export_resolver(tbt_export_resolver fn, void *ud);

/* The message of the last export failure on this thread ("" when none). */
const char *tbt_export_error(void);

/* ------------------------------------------------------- libtbtrace_policy */

enum { TBT_POLICY_TRUSTED = 1 };

/* Loads a policy file (NULL: the file named by $TBTRACE_POLICY; then TBTRACE_POLICY_TRUSTED=1
** adds TBT_POLICY_TRUSTED) into the policy library's own Lua state and installs it as the export
** resolver. Returns 0, or TBT_EPOLICY with the message (file and line) in tbt_policy_error(). */
int tbt_policy_load(const char *path, unsigned flags);

/* Removes the policy: exports follow TensorFlow's rules again. */
void tbt_policy_unload(void);

/* The last tbt_policy_load error message ("" when none). */
const char *tbt_policy_error(void);

/* The host's budgets for the policy files loaded from now on (docs/policies.md, "Budgets"):
** seconds of each export (in (0, 3600]) and MiB of memory (1..65536) the policy's process may
** use; they win over the policy file's own. 0 leaves that budget to the policy file (default
** 1 s, 64 MiB). Returns 0, or TBT_EINVAL (changing neither) for a value out of range or NaN. */
int tbt_policy_set_budgets(double seconds, int memory_mib);

#ifdef __cplusplus
}
#endif

#endif

/*
** tbtrace_policy.h: Lua export policies for C hosts (libtbtrace_policy).
**
** An export policy (a Lua file, see docs/policies.md) decides at export time what TensorFlow
** hard-codes: the tag, the step when none is given, the default writer's logdir when there is
** none, the profile outdir and the profile run name. The core never calls a policy: an export
** runs in two phases (tbtrace_trace.h), and whoever exports decides in between. The Lua module
** runs the policy of the Lua state that exports; libtbtrace_policy (link it, with Lua 5.4, in
** addition to libtbtrace) owns one Lua state of its own and runs the policy loaded there when a C
** host exports with tbt_policy_export.
*/
#ifndef TBTRACE_POLICY_H
#define TBTRACE_POLICY_H

#include "tbtrace.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { TBT_POLICY_TRUSTED = 1 };

/* Loads a policy file (NULL: the file named by $TBTRACE_POLICY; then TBTRACE_POLICY_TRUSTED=1
** adds TBT_POLICY_TRUSTED) into the policy library's own Lua state, replacing the one loaded
** before. Returns 0, or TBT_EPOLICY with the message (file and line) in tbt_policy_error(). */
int tbt_policy_load(const char *path, unsigned flags);

/* Removes the policy: tbt_policy_export follows TensorFlow's rules again. */
void tbt_policy_unload(void);

/* The calling thread's last policy error: of tbt_policy_load, or of the policy in
** tbt_policy_export ("" after a load that succeeded, or none). */
const char *tbt_policy_error(void);

/* The host's budgets for the policy files loaded from now on (docs/policies.md, "Budgets"):
** seconds of each export (in (0, 3600]) and MiB of memory (1..65536) the policy's process may
** use; they win over the policy file's own. 0 leaves that budget to the policy file (default
** 1 s, 64 MiB). Returns 0, or TBT_EINVAL (changing neither) for a value out of range or NaN. */
int tbt_policy_set_budgets(double seconds, int memory_mib);

/* Exports as tbt_trace_export does, with the loaded policy's decisions (none when no policy is
** loaded): reads the facts, runs the policy, then tbt_trace_export_ex. result may be NULL.
** Returns 0 or a negative code: TBT_EPOLICY when the policy failed, with the message (policy file
** and line) in tbt_policy_error(); an export failure's message is in tbt_export_error(). Threads
** may export at the same time: the policy's state runs one policy call at a time. */
int tbt_policy_export(const char *name, tbt_step step, const char *profiler_outdir,
                      tbt_export_result *result);

#ifdef __cplusplus
}
#endif

#endif

/*
** lpolicy.h: the bridge between export facts and decisions (tbtrace_trace.h) and
** tbtrace.policy's Lua tables, shared by the Lua module and libtbtrace_policy.
*/
#ifndef TBT_LPOLICY_H
#define TBT_LPOLICY_H

#include "tbtrace.h"

#include <lua.h>

/* Pushes the cluster facts as ctx.cluster and tbtrace.cluster() give them: {rank, world_size,
** task_index, job_name, source, local_rank and job_id when known}. */
void tbt_lua_push_cluster(lua_State *L, const tbt_cluster *c);

/* Pushes facts as the table policy.resolve takes. */
void tbt_lua_push_facts(lua_State *L, const tbt_export_facts *facts);

/* Calls policy.resolve(p, facts) with the policy module and policy at the given stack indices.
** On success returns 0 and leaves the decision table on the stack: the strings of *out point
** into it, so it must stay there while out is used. Otherwise pushes nothing and returns
** TBT_EPOLICY with the message in err. out is the caller's, initialized (tbt_export_request_init);
** what the policy leaves undecided is not touched. */
int tbt_lua_resolve(lua_State *L, int module, int policy, const tbt_export_facts *facts,
                    tbt_export_decision *out, char *err, size_t errlen);

#endif

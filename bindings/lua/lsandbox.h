/*
** lsandbox.h: what tbtrace.policy's Lua code needs from C, shared by the Lua module and
** libtbtrace_policy: bounded file reading, read-only facts, and the policy process.
**
** A policy file that is not trusted runs in a process of its own, forked from the host when the
** policy is loaded: a fresh Lua state there loads the file and answers one request per export.
** The host waits for each answer at most the policy's time budget (wall clock) and kills the
** process past it; the process's Lua allocator refuses memory past the policy's memory budget.
** So neither budget depends on what the policy's code does, C library functions included. A
** process that was killed (or hit its memory budget) is started again, lazily, at the next export.
*/
#ifndef TBT_LSANDBOX_H
#define TBT_LSANDBOX_H

#include <lua.h>

/* Policy files (and the files they extend) are at most this big. */
#define TBT_POLICY_MAX_FILE (1 << 20)

/* Pushes the table of helpers that tbtrace.policy's chunk takes as its second argument:
**   readfile(path, max) -> contents | nil, msg   regular files of at most max bytes, never blocks
**   freeze(t) -> ctx                             a read-only view of a copy of the flat table t
**   stderr(s)                                    writes s to the process's stderr
**   spawn(path, opts) -> process, info           starts the policy process (raises on failure) */
void tbt_lua_push_policy_native(lua_State *L);

#endif

/*
** lbind.h: what the parts of the Lua module share: result conventions and argument helpers.
**
** Conventions (as in liolib.c): misuse raises an error naming the argument; an I/O failure returns
** nil, message, errno; success returns true or a value.
*/
#ifndef TBT_LBIND_H
#define TBT_LBIND_H

#include "tbtrace.h"

#include <lauxlib.h>
#include <lua.h>

#define TBT_WRITER_MT "tbtrace.writer"
/* The registry slot of the state's tbtrace.policy module: one per state, however often the
** module opens there, so the policy set in it is the state's. */
#define TBT_POLICY_KEY "tbtrace.policy.module"

/* Pushes nil, tbt_strerror(code), errno (or the code itself for a non-system error); returns 3. */
int tbt_lua_fail(lua_State *L, int code);

/* Maps a summary-style result: 1 -> true, 0 -> false; a system error -> nil, msg, errno;
** anything else raises with the function's name. */
int tbt_lua_summary_result(lua_State *L, int rc, const char *fname);

/* Reads an optional step argument: nil/none -> default step; an integer (or an integral float) ->
** explicit; anything else (strings too) raises. */
tbt_step tbt_lua_optstep(lua_State *L, int arg);

/* A string argument that goes to C as a C string (a path, a name): raises "<what> contains a NUL
** byte" rather than let C see only the part before it. */
const char *tbt_lua_checkcstring(lua_State *L, int arg, const char *what);

/* Checks the option table at arg against known (NULL-terminated): a key not in it raises
** "unknown option 'max_qeue' to 'create_file_writer' (did you mean 'max_queue'?)", with the
** closest known name when one is a likely typo, the right name for well-known TensorFlow and
** tensorboardX ones (flush_secs, profile), else the list of known names. fname is the function
** as users call it. Keep each function's list next to the code that reads its options. */
void tbt_lua_checkoptions(lua_State *L, int arg, const char *fname, const char *const known[]);

/* The same check for the table at idx that option `field` of fname's option table holds: raises
** "unknown option 'lua_calls.incl' to 'trace_on' (did you mean 'lua_calls.include'?)", and so on
** as above with every name prefixed by the field's. */
void tbt_lua_checksuboptions(lua_State *L, int idx, const char *fname, const char *field,
                             const char *const known[]);

/* The same check for a nested table at idx (a field of an option table): raises
** "bad argument #arg to '<fname>' (<what>: unknown key 'k')", with a suggestion as above. With
** allow_array, integer keys 1..#t are allowed too (a list with named fields). */
void tbt_lua_check_keys(lua_State *L, int idx, const char *const *keys, int allow_array, int arg,
                        const char *what);

/* Field `key` of the table at idx as a C string (NUL-free, UTF-8), or NULL when nil; raises
** naming `what.key` otherwise. The string stays referenced by the table. */
const char *tbt_lua_opt_field_string(lua_State *L, int idx, const char *key, int arg,
                                     const char *what);

/* The writer userdata at arg (raises when arg is not one, or was collected). */
tbt_writer *tbt_lua_checkwriter(lua_State *L, int arg);

/* Pushes the module's internal table (made once per state, kept in the registry): what the parts
** share that is no user's business, such as the trace snapshot the specs read and the hook that
** installs the export resolver. `require "tbtrace.internal"` returns it, for tests. */
void tbt_lua_push_internal(lua_State *L);

/* Registration of each part into the module table at the top of the stack. */
void tbt_lua_open_writer(lua_State *L);
void tbt_lua_open_summary(lua_State *L);
void tbt_lua_open_record(lua_State *L);
void tbt_lua_open_reader(lua_State *L);
void tbt_lua_open_export(lua_State *L);
void tbt_lua_open_hparams(lua_State *L);   /* lhparams.c */
void tbt_lua_open_plugins(lua_State *L);   /* lplugins.c: after tbt_lua_open_writer */

#endif

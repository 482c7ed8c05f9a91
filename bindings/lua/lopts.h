/*
** lopts.h: option tables of the plugin summaries (lhparams.c, lplugins.c): typed fields, with
** unknown keys refused so that a misspelt option is an error rather than silently ignored.
*/
#ifndef TBT_LOPTS_H
#define TBT_LOPTS_H

#include "lbind.h"

/* Raises "bad argument #arg to 'fname' (<what>: unknown key 'k')" for a string key of the table at
** idx that is not in keys (NULL-terminated), or for a key that is not a string, when
** allow_array is 0; with allow_array, integer keys 1..#t are allowed too. */
void tbt_lua_check_keys(lua_State *L, int idx, const char *const *keys, int allow_array, int arg,
                        const char *what);

/* Field `key` of the table at idx as a C string (NUL-free, UTF-8), or NULL when nil; raises
** naming `what.key` otherwise. The string stays referenced by the table. */
const char *tbt_lua_opt_field_string(lua_State *L, int idx, const char *key, int arg,
                                     const char *what);

#endif

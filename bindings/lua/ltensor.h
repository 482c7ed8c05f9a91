/*
** ltensor.h: Lua values as tensors, for the summary ops (lsummary.c).
**
** A tensor in Lua is a leaf (a number, string or boolean) or a rectangular nest of tables of
** leaves; its shape is the nesting. The conversion raises on misuse, naming the argument.
*/
#ifndef TBT_LTENSOR_H
#define TBT_LTENSOR_H

#include "tbtrace.h"

#include <lua.h>

#define TBT_LUA_MAX_RANK 32

/* A flattened nest: its shape and how many leaves it held. */
typedef struct tbt_lua_flat {
  int rank;
  int64_t dims[TBT_LUA_MAX_RANK];
  size_t count;
} tbt_lua_flat;

/* Flattens the nest at idx (argument arg, for errors) and pushes a Lua sequence of its leaves.
** Raises for a ragged nest or too many dimensions. */
void tbt_lua_flatten(lua_State *L, int idx, tbt_lua_flat *f, int arg);

/* 1 when the leaves fill the shape (a nest with an empty table at some level holds fewer). */
int tbt_lua_flat_full(const tbt_lua_flat *f);

/* Raises "bad argument #arg to '<fn>' (<what> expected at element i, got <type>)" for the value at
** the top of the stack. */
int tbt_lua_element_error(lua_State *L, int arg, const char *what, size_t i);

/* A tensor ready for tbt_write / tbt_write_strings. Its arrays are userdata left on the stack. */
typedef struct tbt_lua_tensor {
  tbt_dtype dtype;
  int rank;
  int64_t dims[TBT_LUA_MAX_RANK];
  size_t count;              /* elements */
  void *content;             /* count elements of dtype (not DT_STRING) */
  const char **strings;      /* DT_STRING: count strings and their lengths */
  size_t *lens;
} tbt_lua_tensor;

/* Converts argument arg: a number (float64 scalar), a string, a boolean, a nest of numbers
** (float64), strings or booleans, or {dtype = "int64", shape = {2, 3}, values = {...}} (shape
** optional; it must hold as many elements as values). Raises on misuse. */
void tbt_lua_totensor(lua_State *L, int arg, tbt_lua_tensor *t);

#endif

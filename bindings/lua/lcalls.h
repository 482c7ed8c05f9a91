/*
** lcalls.h: call tracing: every Lua function call becomes a span, with no change to the code.
**
**   tbtrace.trace_on{lua_calls = true}
**   tbtrace.trace_on{lua_calls = {include = pats, exclude = pats, c_functions = false, min_ns = 0}}
**
** A call is a span named "name (file.lua:line)" (the function's name as its first caller knew it,
** else "function"; "main chunk" for a chunk; C functions, when asked for, are "name ([C])") in
** category "lua", on the track of the coroutine that makes it. include/exclude are Lua patterns
** (a string or a list of them) matched against the function's source ("@file.lua"); a function
** is traced when it matches an include (or there is none) and no exclude. With min_ns, a call
** shorter than that with nothing recorded inside is taken back at its return (tbt_track_end_min).
**
** Frames are matched to their hook events by activation record, so a frame an error unwinds
** (which gets no return event) is ended at the next event below it; a tail call ends the frame
** it replaces; a coroutine that dies of an error or is closed has its frames ended when
** resume/wrap/close returns. Calls are traced in the state that started the trace and, through
** tbt_lua_calls_sync, in every other state of the process: in the threads running there and in
** every coroutine created after that, until the trace ends.
*/
#ifndef TBT_LCALLS_H
#define TBT_LCALLS_H

#include <lua.h>

/* Reads option lua_calls of the trace_on table at index t (raises on a bad one) and keeps it for
** tbt_lua_calls_start. Returns 1 when call tracing was asked for. */
int tbt_lua_calls_check(lua_State *L, int t);

/* Starts call tracing in L's state with the options last checked (after tbt_trace_on). */
void tbt_lua_calls_start(lua_State *L);

/* In a state other than the one that started the trace: starts call tracing here with the same
** options when that state asked for it (a no-op otherwise, or when it already runs). */
void tbt_lua_calls_sync(lua_State *L);

/* Stops call tracing in L's state (a no-op when it is off). */
void tbt_lua_calls_stop(lua_State *L);

/* The name call tracing gives the function of activation record ar (from lua_getstack(T, ...)
** or a hook of T), whether or not calls are traced; valid until the next call. L is the thread
** running, T that thread or one suspended below it (one that resumed it). */
const char *tbt_lua_func_name(lua_State *L, lua_State *T, lua_Debug *ar);

/* Pauses (paused = 1) or resumes call tracing in L's state: while an export runs, its own calls
** are not traced. */
void tbt_lua_calls_pause(lua_State *L, int paused);

#endif

/*
** lsample.h: sampling the Lua stack on CPU time.
**
**   tbtrace.trace_on{lua_samples = hz}     (1..10000 samples per second of the thread's CPU time)
**
** A CPU-time timer of the thread that starts the trace (timer_create on CLOCK_THREAD_CPUTIME_ID,
** signalled to that thread with SIGPROF) arms a one-shot hook on the running thread from its
** signal handler: the coroutine the multiplexer saw resumed (lhook.h), else the main thread (a
** standing count hook would slow every instruction). The hook records the Lua stack, at most
** TBT_SAMPLE_DEPTH frames from the innermost: the coroutine's, then those of the threads that
** resumed it, each from its resume down. It is an instant in category "lua.sample" named by
** the folded stack ("main chunk (a.lua:0);f (a.lua:3)") on the running coroutine's track, and
** a count. The kernel checks CPU-time timers on its scheduler
** tick, so at rates above the tick a signal stands for several periods (its overrun): the count
** grows by all of them, and stays in units of the sampling period. After a successful export
** with the profiler on, the counts go to <profile dir>/<host>.folded, one "stack count" line per
** stack (the format flamegraph.pl and speedscope read). The counts are the process's: other
** states sampling at the request of the one that started (tbt_lua_samples_sync) count into them
** too.
*/
#ifndef TBT_LSAMPLE_H
#define TBT_LSAMPLE_H

#include <lua.h>

#define TBT_SAMPLE_DEPTH 64

/* Reads option lua_samples of the trace_on table at index t (raises on a bad one); returns the
** rate asked for, 0 for none. */
int tbt_lua_samples_check(lua_State *L, int t);

/* Starts sampling L's state at hz on the calling thread (after tbt_trace_on). Returns 0 or a
** negative error code (the timer could not be made). */
int tbt_lua_samples_start(lua_State *L, int hz);

/* In a state other than the one that started sampling: starts sampling here too, on the calling
** thread, when that state asked for it (a no-op otherwise, or when it already runs). */
void tbt_lua_samples_sync(lua_State *L);

/* Asks every other state of the process to catch up with the call tracing and sampling asked
** for here (tbt_hook_broadcast, through SIGPROF). Returns how many were asked. */
int tbt_lua_samples_broadcast(lua_State *L);

/* Stops sampling in L's state; when that state started it, other states stop at their next
** sample and the counts are forgotten (a no-op when it is off). */
void tbt_lua_samples_stop(lua_State *L);

/* Pauses (paused = 1) or resumes taking samples in L's state, as for an export. */
void tbt_lua_samples_pause(lua_State *L, int paused);

/* Writes the counts to <dir>/<host>.folded (through a temporary name). Returns 0, 1 when there
** was nothing to write (sampling off, or dir NULL), or a negative error code; *path gets the
** file's path (valid until the next call), also the one that failed. */
int tbt_lua_samples_write(lua_State *L, const char *dir, const char **path);

/* The folded file the last export in L's state wrote, or NULL. */
const char *tbt_lua_samples_path(lua_State *L);

#endif

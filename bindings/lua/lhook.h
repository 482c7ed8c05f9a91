/*
** lhook.h: one Lua hook shared by everything that needs it in a state.
**
** Lua has a single hook per thread (lua_State). The policy sandbox's instruction budget, call
** tracing and the sampler each want it, and so may the user's own debug.sethook. The multiplexer
** owns the hook of every thread it is set on and hands each event to the clients that asked for
** it. Count hooks are shared by counting down each client's own budget.
**
** In a state where tbt_lua_open_hooks ran, debug.sethook and debug.gethook are wrapped: a user's
** hook becomes one more client of that thread, and debug.gethook reports only the user's hook,
** so tracing starting or stopping never loses or exposes it.
**
**   internal._budget(fn, count) -> previous fn, count   (require "tbtrace.internal"; for the policies)
**       calls fn() from a count hook after count instructions of the calling thread, and every
**       count instructions after that; _budget() removes it.
*/
#ifndef TBT_LHOOK_H
#define TBT_LHOOK_H

#include <lua.h>

/* The clients besides the user's own hooks. */
enum {
  TBT_HOOK_BUDGET = 0,   /* the policy sandbox's instruction budget */
  TBT_HOOK_CALLS = 1,    /* call tracing */
  TBT_HOOK_SAMPLES = 2,  /* the sampler: run once on the next event after tbt_hook_arm */
  TBT_HOOK_INTERRUPT = 3,/* the interpreter's Ctrl-C: run on the next event after tbt_hook_interrupt */
  TBT_HOOK_NCLIENTS = 4
};

/* Called from the hook with the event's activation record; ud is the client's. May raise. */
typedef void (*tbt_hook_fn)(lua_State *L, lua_Debug *ar, void *ud);

typedef struct tbt_hookmux tbt_hookmux;

/* Creates the multiplexer of L's state (once per state), wraps debug.sethook/gethook there and
** adds _budget to the table at the top of the stack (when there is one). Raises on memory
** errors. */
void tbt_lua_open_hooks(lua_State *L);

/* The multiplexer of L's state, or NULL when tbt_lua_open_hooks never ran there. */
tbt_hookmux *tbt_hook_mux(lua_State *L);

/* Sets client's callback with its event mask (LUA_MASKCALL, LUA_MASKRET, LUA_MASKLINE,
** LUA_MASKCOUNT) and, with LUA_MASKCOUNT, its count. The hook is applied at once to L (the
** calling thread) and the state's main thread; coroutines created later inherit it, and any
** other thread picks up a change at its next hook event. */
void tbt_hook_set(lua_State *L, int client, int mask, int count, tbt_hook_fn fn, void *ud);

/* Removes client; threads drop the events nobody wants any more. */
void tbt_hook_clear(lua_State *L, int client);

/* Applies the current settings to thread T of L's state (a coroutine made before a client was
** set, say); L is the running thread. */
void tbt_hook_apply(lua_State *L, lua_State *T);

/* Called in a state at its first hook event after another state started tracing (see
** tbt_hook_broadcast), on the thread running it. */
typedef void (*tbt_hook_remote_fn)(lua_State *L);
void tbt_hook_on_remote(tbt_hook_remote_fn fn);

/* Tells every other state of the process that opened the module to catch up: each is flagged and
** its thread (the one that opened the module there, or last changed its hooks) is sent signal
** signo with the multiplexer as its value (SI_QUEUE); that thread's handler passes the value to
** tbt_hook_poke. Returns how many were signalled. */
int tbt_hook_broadcast(lua_State *L, int signo);

/* Async-signal-safe: when ptr is the multiplexer of a state still open, sets its main thread's
** hook so that the flagged catching up happens at its next event; returns 1, else 0. */
int tbt_hook_poke(void *ptr);

/* Which coroutine runs. In a state where tbt_lua_open_hooks ran, coroutine.resume and
** coroutine.wrap are the multiplexer's (they behave as the stock ones): each resume links a
** record {co, from} on the C stack for as long as co runs, so a signal handler knows which
** thread to hook and a hook can walk the threads that resumed the one it runs in. A coroutine
** resumed otherwise (lua_resume from C, a resume function saved before the module opened) is
** not linked: its time shows in the thread that resumed it. */
typedef struct tbt_hook_resume {
  lua_State *co;                       /* the thread resumed */
  lua_State *from;                     /* the thread that resumed it */
  const struct tbt_hook_resume *prev;  /* the resume that runs from (NULL: from is the main thread,
                                          or a thread not resumed through these functions) */
} tbt_hook_resume;

/* The innermost resume running now in m's state (NULL when none: the main thread runs). Call it
** on the thread running the state. */
const tbt_hook_resume *tbt_hook_resumes(tbt_hookmux *m);

/* Async-signal-safe: makes the next event of the running thread (the coroutine running, else the
** main thread) call the TBT_HOOK_SAMPLES client once. */
void tbt_hook_arm(tbt_hookmux *m);

/* Async-signal-safe: makes the next event of the running thread call the TBT_HOOK_INTERRUPT
** client (set with mask 0: it runs only so), which may raise. When a coroutine runs, the main
** thread's next event calls it too (a coroutine's error ends at its resume, and the main thread
** is what the REPL stops). The other clients keep running. */
void tbt_hook_interrupt(tbt_hookmux *m);

#endif

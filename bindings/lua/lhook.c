/*
** lhook.c: the hook multiplexer (see lhook.h).
**
** The multiplexer is a userdata in the registry (under mux_key); its user values are the
** budget's Lua function and a weak-keyed table thread -> user hook (a userdata whose user value
** is the Lua function), as ldblib keeps its own. Every thread it hooks runs mux_hook, which finds it through the
** registry, so a coroutine inheriting the hook from its creator needs nothing more.
**
** Counts: each count client keeps how many instructions it has left; a thread's count hook is set
** to the smallest of them, and each count event takes that many off every client. Arming the
** sampler resets Lua's count, which loses at most one quantum of progress: COUNT_QUANTUM bounds
** the count so that the budget still trips when samples arrive faster than it counts down.
*/
#define _GNU_SOURCE   /* syscall */
#include "lhook.h"

#include <lauxlib.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The registry key: this address (a light userdata), which costs no string lookup per event. */
static const char mux_key = 0;
#define COUNT_QUANTUM 4096
#define ALL_EVENTS (LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT)

enum { UV_BUDGET = 1, UV_USERHOOKS = 2 };

typedef struct hclient {
  tbt_hook_fn fn;
  void *ud;
  int mask;
  int count;   /* with LUA_MASKCOUNT: the period */
  int left;    /* instructions to go */
} hclient;

struct tbt_hookmux {
  lua_State *main;
  hclient c[TBT_HOOK_NCLIENTS];
  int mask;                    /* union of the clients' masks */
  int applied;                 /* the count last set on a thread */
  int nuser;                   /* user hooks set (an upper bound: collected threads stay counted) */
  int armed[TBT_HOOK_NCLIENTS];/* clients to run at the next event (set by signal handlers) */
  volatile sig_atomic_t remote;/* another state started tracing: catch up at the next event */
  const tbt_hook_resume *resumes;  /* the innermost resume running (read by signal handlers) */
  pid_t tid;                   /* the thread that last set this state's hooks (kernel id) */
  int slot;                    /* index in g_muxes */
};

/* Every multiplexer of the process, so that tracing started in one state reaches the others.
** Slots are read without the lock by the signal handler (which only compares pointers). */
#define MAX_STATES 256
static pthread_mutex_t g_muxes_mu = PTHREAD_MUTEX_INITIALIZER;
static tbt_hookmux *volatile g_muxes[MAX_STATES];
static tbt_hook_remote_fn g_remote;

/* A user's debug.sethook for one thread. */
typedef struct uhook {
  int mask;
  int count;
  int left;
} uhook;

static void mux_hook(lua_State *L, lua_Debug *ar);

tbt_hookmux *tbt_hook_mux(lua_State *L) {
  tbt_hookmux *m = NULL;
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &mux_key) == LUA_TUSERDATA) m = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return m;
}

/* Pushes T's user hook userdata (or nil) and returns it. */
static uhook *push_uhook(lua_State *L, lua_State *T) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &mux_key);
  lua_getiuservalue(L, -1, UV_USERHOOKS);
  lua_remove(L, -2);
  if (L == T)
    lua_pushthread(L);
  else {
    lua_pushthread(T);
    lua_xmove(T, L, 1);
  }
  lua_rawget(L, -2);
  lua_remove(L, -2);
  return lua_touserdata(L, -1);
}

static void apply(tbt_hookmux *m, lua_State *T, const uhook *u) {
  int mask = m->mask & ~LUA_MASKCOUNT;
  int count = 0;
  for (int i = 0; i < TBT_HOOK_NCLIENTS; i++) {
    const hclient *c = &m->c[i];
    if ((c->mask & LUA_MASKCOUNT) && (!count || c->left < count)) count = c->left;
  }
  if (u) {
    mask |= u->mask & ~LUA_MASKCOUNT;
    if ((u->mask & LUA_MASKCOUNT) && (!count || u->left < count)) count = u->left;
  }
  if (count > COUNT_QUANTUM) count = COUNT_QUANTUM;
  if (count < 1 && count != 0) count = 1;
  if (count) mask |= LUA_MASKCOUNT;
  m->applied = count;
  if (mask)
    lua_sethook(T, mux_hook, mask, count);
  else
    lua_sethook(T, NULL, 0, 0);
}

/* Applies the settings to T, looking up its user hook (L is the thread running now). */
static void apply_to(lua_State *L, tbt_hookmux *m, lua_State *T) {
  if (!m->nuser) {
    apply(m, T, NULL);
    return;
  }
  uhook *u = push_uhook(L, T);
  apply(m, T, u);
  lua_pop(L, 1);
}

void tbt_hook_apply(lua_State *L, lua_State *T) {
  tbt_hookmux *m = tbt_hook_mux(L);
  if (m) apply_to(L, m, T);
}

static void set_client(lua_State *L, int client, int mask, int count, tbt_hook_fn fn, void *ud) {
  tbt_hookmux *m = tbt_hook_mux(L);
  if (!m) return;
  m->tid = (pid_t)syscall(SYS_gettid);
  hclient *c = &m->c[client];
  c->fn = fn;
  c->ud = ud;
  c->mask = fn ? mask : 0;
  c->count = (mask & LUA_MASKCOUNT) && count > 0 ? count : 0;
  if (!c->count) c->mask &= ~LUA_MASKCOUNT;
  c->left = c->count;
  if (!fn) __atomic_store_n(&m->armed[client], 0, __ATOMIC_RELEASE);
  m->mask = 0;
  for (int i = 0; i < TBT_HOOK_NCLIENTS; i++) m->mask |= m->c[i].mask;
  apply_to(L, m, L);
  if (m->main != L) apply_to(L, m, m->main);
}

void tbt_hook_set(lua_State *L, int client, int mask, int count, tbt_hook_fn fn, void *ud) {
  set_client(L, client, mask, count, fn, ud);
}

void tbt_hook_clear(lua_State *L, int client) {
  set_client(L, client, 0, 0, NULL, NULL);
}

/* The thread running: the innermost resumed coroutine, else the main thread. */
static lua_State *running(tbt_hookmux *m) {
  const tbt_hook_resume *r = __atomic_load_n(&m->resumes, __ATOMIC_ACQUIRE);
  return r ? r->co : m->main;
}

const tbt_hook_resume *tbt_hook_resumes(tbt_hookmux *m) {
  return __atomic_load_n(&m->resumes, __ATOMIC_ACQUIRE);
}

/* Lock-free atomics on an int are async-signal-safe, and the hook clears a flag by exchange, so
** a signal arriving while the hook runs is never lost. */
static void arm(tbt_hookmux *m, int client) {
  __atomic_store_n(&m->armed[client], 1, __ATOMIC_RELEASE);
  lua_State *T = running(m);
  lua_sethook(T, mux_hook, ALL_EVENTS, 1);
  /* the main thread too: the coroutine may be about to yield or end, and its resume to return */
  if (T != m->main) lua_sethook(m->main, mux_hook, ALL_EVENTS, 1);
}

void tbt_hook_arm(tbt_hookmux *m) {
  arm(m, TBT_HOOK_SAMPLES);
}

void tbt_hook_interrupt(tbt_hookmux *m) {
  arm(m, TBT_HOOK_INTERRUPT);
}

/* Every state that opens the module sets it (to the same function), possibly at once. */
void tbt_hook_on_remote(tbt_hook_remote_fn fn) {
  __atomic_store_n(&g_remote, fn, __ATOMIC_RELEASE);
}

int tbt_hook_broadcast(lua_State *L, int signo) {
  tbt_hookmux *self = tbt_hook_mux(L);
  int n = 0;
  pthread_mutex_lock(&g_muxes_mu);
  for (int i = 0; i < MAX_STATES; i++) {
    tbt_hookmux *m = g_muxes[i];
    if (!m || m == self) continue;
    m->remote = 1;
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_signo = signo;
    si.si_code = SI_QUEUE;
    si.si_pid = getpid();
    si.si_uid = getuid();
    si.si_value.sival_ptr = m;
    if (syscall(SYS_rt_tgsigqueueinfo, getpid(), m->tid, signo, &si) == 0) n++;
  }
  pthread_mutex_unlock(&g_muxes_mu);
  return n;
}

int tbt_hook_poke(void *ptr) {
  for (int i = 0; i < MAX_STATES; i++) {
    tbt_hookmux *m = g_muxes[i];
    if (m && m == ptr) {   /* still open: its state is closed only by this thread */
      lua_sethook(m->main, mux_hook, ALL_EVENTS, 1);
      return 1;
    }
  }
  return 0;
}

static void register_mux(tbt_hookmux *m) {
  m->tid = (pid_t)syscall(SYS_gettid);
  m->slot = -1;
  pthread_mutex_lock(&g_muxes_mu);
  for (int i = 0; i < MAX_STATES && m->slot < 0; i++) {
    if (!g_muxes[i]) {
      g_muxes[i] = m;
      m->slot = i;
    }
  }
  pthread_mutex_unlock(&g_muxes_mu);
}

static int mux_gc(lua_State *L) {
  tbt_hookmux *m = lua_touserdata(L, 1);
  if (m->slot >= 0) {
    pthread_mutex_lock(&g_muxes_mu);
    g_muxes[m->slot] = NULL;
    pthread_mutex_unlock(&g_muxes_mu);
    m->slot = -1;
  }
  return 0;
}

/* ------------------------------------------------------------------ the hook */

static const char *const event_names[] = {"call", "return", "line", "count", "tail call"};

static int event_mask(int event) {
  switch (event) {
    case LUA_HOOKCALL: case LUA_HOOKTAILCALL: return LUA_MASKCALL;
    case LUA_HOOKRET: return LUA_MASKRET;
    case LUA_HOOKLINE: return LUA_MASKLINE;
    default: return LUA_MASKCOUNT;
  }
}

/* Calls the user's hook function (the user value of the uhook at the top), as ldblib would. */
static void call_user(lua_State *L, lua_Debug *ar) {
  lua_getiuservalue(L, -1, 1);
  lua_pushstring(L, event_names[ar->event]);
  if (ar->currentline >= 0)
    lua_pushinteger(L, ar->currentline);
  else
    lua_pushnil(L);
  lua_call(L, 2, 0);
}

static void mux_hook(lua_State *L, lua_Debug *ar) {
  tbt_hookmux *m = tbt_hook_mux(L);
  if (!m) return;
  int emask = event_mask(ar->event);
  int reapply = 0, elapsed = m->applied;
  int fires[TBT_HOOK_NCLIENTS] = {0};
  int remote = 0;
  if (m->remote) {
    m->remote = 0;
    remote = 1;
    reapply = 1;
  }
  for (int i = TBT_HOOK_SAMPLES; i <= TBT_HOOK_INTERRUPT; i++) {
    if (!__atomic_load_n(&m->armed[i], __ATOMIC_ACQUIRE)) continue;
    /* an interrupt stays armed for the main thread after raising in a coroutine */
    if (i == TBT_HOOK_INTERRUPT && L != m->main)
      fires[i] = 1;
    else
      fires[i] = __atomic_exchange_n(&m->armed[i], 0, __ATOMIC_ACQ_REL);
    if (fires[i]) {
      reapply = 1;
      elapsed = 1;
    }
  }
  hclient *calls = &m->c[TBT_HOOK_CALLS];
  if ((calls->mask & emask) && emask != LUA_MASKCOUNT) calls->fn(L, ar, calls->ud);
  uhook *u = m->nuser ? push_uhook(L, L) : NULL;
  int user_fires = u && (u->mask & emask) && emask != LUA_MASKCOUNT;
  if (emask == LUA_MASKCOUNT) {
    reapply = 1;
    for (int i = 0; i < TBT_HOOK_NCLIENTS; i++) {
      hclient *c = &m->c[i];
      if (!(c->mask & LUA_MASKCOUNT)) continue;
      c->left -= elapsed;
      if (c->left <= 0) {
        c->left = c->count;
        fires[i] = 1;
      }
    }
    if (u && (u->mask & LUA_MASKCOUNT)) {
      u->left -= elapsed;
      if (u->left <= 0) {
        u->left = u->count;
        user_fires = 1;
      }
    }
  } else if ((emask & ~m->mask) && !(u && (u->mask & emask))) {
    reapply = 1;   /* an event nobody wants any more (a client went away, or the arming) */
  }
  if (reapply) apply(m, L, u);
  hclient *s = &m->c[TBT_HOOK_SAMPLES];
  if (fires[TBT_HOOK_SAMPLES] && s->fn) s->fn(L, ar, s->ud);
  tbt_hook_remote_fn on_remote = __atomic_load_n(&g_remote, __ATOMIC_ACQUIRE);
  if (remote && on_remote) on_remote(L);
  /* Last, as each may raise. */
  hclient *in = &m->c[TBT_HOOK_INTERRUPT];
  if (fires[TBT_HOOK_INTERRUPT] && in->fn) in->fn(L, ar, in->ud);
  hclient *b = &m->c[TBT_HOOK_BUDGET];
  if (fires[TBT_HOOK_BUDGET] && b->fn) b->fn(L, ar, b->ud);
  if (user_fires) call_user(L, ar);
  if (u) lua_pop(L, 1);
}

/* ------------------------------------------------------------------ the budget (for policies) */

static void budget_fire(lua_State *L, lua_Debug *ar, void *ud) {
  (void)ar;
  (void)ud;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &mux_key);
  lua_getiuservalue(L, -1, UV_BUDGET);
  lua_remove(L, -2);
  lua_call(L, 0, 0);
}

/* _budget([fn, count]) -> the previous fn and count (nil when there was none) */
static int l_budget(lua_State *L) {
  tbt_hookmux *m = tbt_hook_mux(L);
  if (!m) return luaL_error(L, "_budget: hooks are not set up in this state");
  int on = !lua_isnoneornil(L, 1);
  lua_Integer count = 0;
  if (on) {
    luaL_checktype(L, 1, LUA_TFUNCTION);
    count = luaL_checkinteger(L, 2);
    luaL_argcheck(L, count > 0 && count <= 0x7fffffff, 2, "count must be in 1..2^31-1");
  }
  lua_rawgetp(L, LUA_REGISTRYINDEX, &mux_key);
  int mux = lua_gettop(L);
  hclient *b = &m->c[TBT_HOOK_BUDGET];
  int had = b->fn != NULL;
  int prev_count = b->count;
  lua_getiuservalue(L, mux, UV_BUDGET);
  if (on)
    lua_pushvalue(L, 1);
  else
    lua_pushnil(L);
  lua_setiuservalue(L, mux, UV_BUDGET);
  if (on)
    set_client(L, TBT_HOOK_BUDGET, LUA_MASKCOUNT, (int)count, budget_fire, NULL);
  else
    set_client(L, TBT_HOOK_BUDGET, 0, 0, NULL, NULL);
  if (!had) return 0;
  lua_pushinteger(L, prev_count);
  return 2;
}

/* ------------------------------------------------------------------ debug.sethook / gethook */

static lua_State *opt_thread(lua_State *L, int *arg) {
  if (lua_isthread(L, 1)) {
    *arg = 1;
    return lua_tothread(L, 1);
  }
  *arg = 0;
  return L;
}

static int make_mask(const char *s, int count) {
  int mask = 0;
  if (strchr(s, 'c')) mask |= LUA_MASKCALL;
  if (strchr(s, 'r')) mask |= LUA_MASKRET;
  if (strchr(s, 'l')) mask |= LUA_MASKLINE;
  if (count > 0) mask |= LUA_MASKCOUNT;
  return mask;
}

/* debug.sethook([thread,] hook, mask [, count]) and debug.sethook([thread]) */
static int l_sethook(lua_State *L) {
  tbt_hookmux *m = lua_touserdata(L, lua_upvalueindex(1));
  int arg;
  lua_State *T = opt_thread(L, &arg);
  int mask = 0, count = 0, on = !lua_isnoneornil(L, arg + 1);
  if (on) {
    const char *smask = luaL_checkstring(L, arg + 2);
    luaL_checktype(L, arg + 1, LUA_TFUNCTION);
    count = (int)luaL_optinteger(L, arg + 3, 0);
    mask = make_mask(smask, count);
    if (!mask) on = 0;
  }
  lua_getiuservalue(L, lua_upvalueindex(1), UV_USERHOOKS);
  int hooks = lua_gettop(L);
  lua_pushthread(T);
  if (L != T) lua_xmove(T, L, 1);
  int key = lua_gettop(L);
  if (on) {
    uhook *u = lua_newuserdatauv(L, sizeof *u, 1);
    u->mask = mask;
    u->count = count > 0 ? count : 0;
    u->left = u->count;
    lua_pushvalue(L, arg + 1);
    lua_setiuservalue(L, -2, 1);
    lua_pushvalue(L, key);
    if (lua_rawget(L, hooks) == LUA_TNIL) m->nuser++;
    lua_pop(L, 1);
  } else {
    lua_pushnil(L);
  }
  lua_rawset(L, hooks);   /* hooks[T] = the new hook or nil */
  lua_settop(L, hooks - 1);
  uhook *u = on ? push_uhook(L, T) : NULL;
  apply(m, T, u);
  return 0;
}

/* debug.gethook([thread]) -> hook, mask, count (fail when there is none) */
static int l_gethook(lua_State *L) {
  tbt_hookmux *m = lua_touserdata(L, lua_upvalueindex(1));
  int arg;
  lua_State *T = opt_thread(L, &arg);
  lua_Hook h = lua_gethook(T);
  if (h != NULL && h != mux_hook) {   /* someone else's: the stock function describes it */
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
  }
  uhook *u = m->nuser ? push_uhook(L, T) : NULL;
  if (!u) {
    luaL_pushfail(L);
    return 1;
  }
  lua_getiuservalue(L, -1, 1);
  char s[4];
  int n = 0;
  if (u->mask & LUA_MASKCALL) s[n++] = 'c';
  if (u->mask & LUA_MASKRET) s[n++] = 'r';
  if (u->mask & LUA_MASKLINE) s[n++] = 'l';
  s[n] = '\0';
  lua_pushstring(L, s);
  lua_pushinteger(L, u->count);
  return 3;
}

/* ------------------------------------------------------------------ coroutine.resume / wrap */

/* As lcorolib's auxresume, with the resume linked while co runs: nothing between the link and
** the unlink may raise (lua_resume does not). Returns the number of results moved to L, or -1
** with the error message on top of L. */
static int resume(lua_State *L, tbt_hookmux *m, lua_State *co, int narg) {
  if (!lua_checkstack(co, narg)) {
    lua_pushliteral(L, "too many arguments to resume");
    return -1;
  }
  lua_xmove(L, co, narg);
  tbt_hook_resume r = {co, L, m->resumes};
  __atomic_store_n(&m->resumes, &r, __ATOMIC_RELEASE);
  int nres, status = lua_resume(co, L, narg, &nres);
  __atomic_store_n(&m->resumes, r.prev, __ATOMIC_RELEASE);
  if (status == LUA_OK || status == LUA_YIELD) {
    if (!lua_checkstack(L, nres + 1)) {
      lua_pop(co, nres);
      lua_pushliteral(L, "too many results to resume");
      return -1;
    }
    lua_xmove(co, L, nres);
    return nres;
  }
  lua_xmove(co, L, 1);
  return -1;
}

/* coroutine.resume(co, ...) -> true, ... | false, err */
static int l_resume(lua_State *L) {
  tbt_hookmux *m = lua_touserdata(L, lua_upvalueindex(1));
  luaL_checktype(L, 1, LUA_TTHREAD);
  lua_State *co = lua_tothread(L, 1);
  int r = resume(L, m, co, lua_gettop(L) - 1);
  if (r < 0) {
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
  }
  lua_pushboolean(L, 1);
  lua_insert(L, -(r + 1));
  return r + 1;
}

/* The function coroutine.wrap returns: upvalue 1 is its coroutine (call tracing reads it there),
** 2 the multiplexer. Errors propagate with the caller's position, the coroutine closed. */
static int l_wrapped(lua_State *L) {
  lua_State *co = lua_tothread(L, lua_upvalueindex(1));
  tbt_hookmux *m = lua_touserdata(L, lua_upvalueindex(2));
  int r = resume(L, m, co, lua_gettop(L));
  if (r >= 0) return r;
  int stat = lua_status(co);
  if (stat != LUA_OK && stat != LUA_YIELD) {   /* an error in the coroutine: close it */
#if LUA_VERSION_RELEASE_NUM >= 50406
    stat = lua_closethread(co, L);
#else
    stat = lua_resetthread(co);
#endif
    lua_xmove(co, L, 1);
  }
  if (stat != LUA_ERRMEM && lua_type(L, -1) == LUA_TSTRING) {
    luaL_where(L, 1);
    lua_insert(L, -2);
    lua_concat(L, 2);
  }
  return lua_error(L);
}

/* coroutine.wrap(f) */
static int l_wrap(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_State *co = lua_newthread(L);
  lua_pushvalue(L, 1);
  lua_xmove(L, co, 1);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushcclosure(L, l_wrapped, 2);
  return 1;
}

static void wrap_coroutine(lua_State *L, int mux) {
  lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  if (lua_getfield(L, -1, "coroutine") == LUA_TTABLE) {
    lua_pushvalue(L, mux);
    lua_pushcclosure(L, l_resume, 1);
    lua_setfield(L, -2, "resume");
    lua_pushvalue(L, mux);
    lua_pushcclosure(L, l_wrap, 1);
    lua_setfield(L, -2, "wrap");
  }
  lua_pop(L, 2);
}

/* ------------------------------------------------------------------ setup */

static void wrap_debug(lua_State *L, int mux) {
  lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  if (lua_getfield(L, -1, "debug") == LUA_TTABLE) {
    lua_getfield(L, -1, "gethook");
    lua_pushvalue(L, mux);
    lua_insert(L, -2);
    lua_pushcclosure(L, l_gethook, 2);
    lua_setfield(L, -2, "gethook");
    lua_pushvalue(L, mux);
    lua_pushcclosure(L, l_sethook, 1);
    lua_setfield(L, -2, "sethook");
  }
  lua_pop(L, 2);
}

void tbt_lua_open_hooks(lua_State *L) {
  luaL_checkstack(L, 8, "hooks");
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &mux_key) != LUA_TUSERDATA) {
    lua_pop(L, 1);
    tbt_hookmux *m = lua_newuserdatauv(L, sizeof *m, 2);
    memset(m, 0, sizeof *m);
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    m->main = lua_tothread(L, -1);
    lua_pop(L, 1);
    lua_newtable(L);   /* thread -> user hook, weak keys as in ldblib */
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_setiuservalue(L, -2, UV_USERHOOKS);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, mux_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &mux_key);
    register_mux(m);
    wrap_debug(L, lua_gettop(L));
    wrap_coroutine(L, lua_gettop(L));
  }
  lua_pop(L, 1);
  if (lua_istable(L, -1)) {
    lua_pushcfunction(L, l_budget);
    lua_setfield(L, -2, "_budget");
  }
}

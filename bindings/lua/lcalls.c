/*
** lcalls.c: call tracing (see lcalls.h).
**
** The tracer is a userdata in the registry (CALLS_KEY); its user values are an anchor table
** holding every function in the name cache (so a cached address is never reused by another
** function) and the options table. Each thread that calls gets a shadow stack of its frames:
** for each, the frame's activation record (lua_Debug.i_ci, which identifies a live frame) and
** whether it opened a span. A call first drops the frames above its caller, which an error
** unwound; a return drops the frames above its own.
*/
#include "lcalls.h"

#include "lbind.h"
#include "lhook.h"
#include "tbtrace.h"

#include <lauxlib.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CALLS_KEY "tbtrace.calls"
#define OPTS_KEY "tbtrace.calls_options"

#define FCACHE_BITS 12
#define FCACHE_SLOTS (1u << FCACHE_BITS)
#define FCACHE_MAX (FCACHE_SLOTS / 2)

enum { UV_ANCHORS = 1, UV_OPTIONS = 2 };

typedef struct fslot {
  const void *f;
  uint32_t id;     /* the span name */
  uint8_t traced;  /* 0 when the options leave the function out */
  uint8_t kind;    /* a coroutine function whose return may end a coroutine's frames */
  char *name;      /* the span name's text */
} fslot;

enum { K_PLAIN, K_RESUME, K_WRAPPED, K_CLOSE };

typedef struct frame {
  const void *ci;
  lua_State *co;   /* the coroutine a resume/wrap/close frame works on */
  uint32_t opened;
} frame;

typedef struct cstack {
  lua_State *L;    /* NULL: a free slot */
  frame *v;
  size_t n, cap;
} cstack;

typedef struct calls {
  lua_State *main;
  int on;
  unsigned gen;    /* the request it follows */
  int origin;      /* this state made the request (the others follow it) */
  int paused;
  int c_functions;
  uint64_t min_ticks;   /* spans shorter than this are taken back (0: none) */
  uint32_t category;
  lua_CFunction resume, close, wrapped;
  uint32_t nf;
  fslot fcache[FCACHE_SLOTS];
  cstack *stacks;   /* open addressing by thread, no tombstones */
  size_t nstacks, capstacks;
} calls;

/* What the state that started the trace asked for, for the other states of the process: copies
** of its options, under g_req_mu. gen changes with each start and stop. */
typedef struct request {
  int on, c_functions;
  lua_Integer min_ns;
  char **pat[2];   /* include, exclude */
  int npat[2];
} request;

static pthread_mutex_t g_req_mu = PTHREAD_MUTEX_INITIALIZER;
static request g_req;
static unsigned g_gen;   /* read without the lock by the hook */

static const char *const pat_keys[2] = {"include", "exclude"};

static void request_clear(void) {
  for (int k = 0; k < 2; k++) {
    for (int i = 0; i < g_req.npat[k]; i++) free(g_req.pat[k][i]);
    free(g_req.pat[k]);
    g_req.pat[k] = NULL;
    g_req.npat[k] = 0;
  }
  g_req.on = 0;
}

/* Copies the options table at o into the request; returns the new generation. */
static unsigned request_set(lua_State *L, int o) {
  pthread_mutex_lock(&g_req_mu);
  request_clear();
  g_req.on = 1;
  lua_getfield(L, o, "c_functions");
  g_req.c_functions = lua_toboolean(L, -1);
  lua_pop(L, 1);
  lua_getfield(L, o, "min_ns");
  g_req.min_ns = lua_tointeger(L, -1);
  lua_pop(L, 1);
  for (int k = 0; k < 2; k++) {
    if (lua_getfield(L, o, pat_keys[k]) == LUA_TTABLE) {
      int n = (int)lua_rawlen(L, -1);
      g_req.pat[k] = calloc((size_t)n + 1, sizeof *g_req.pat[k]);
      for (int i = 0; g_req.pat[k] && i < n; i++) {
        lua_rawgeti(L, -1, i + 1);
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        char *d = malloc(len + 1);
        if (d) {
          memcpy(d, s, len + 1);
          g_req.pat[k][g_req.npat[k]++] = d;
        }
        lua_pop(L, 1);
      }
    }
    lua_pop(L, 1);
  }
  unsigned gen = __atomic_add_fetch(&g_gen, 1, __ATOMIC_RELEASE);
  pthread_mutex_unlock(&g_req_mu);
  return gen;
}

static void request_end(void) {
  pthread_mutex_lock(&g_req_mu);
  request_clear();
  __atomic_add_fetch(&g_gen, 1, __ATOMIC_RELEASE);
  pthread_mutex_unlock(&g_req_mu);
}

/* ------------------------------------------------------------------ shadow stacks */

static inline size_t slot_of_ptr(const void *p, size_t cap) {
  return (size_t)(((uintptr_t)p * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
}

static cstack *find_stack(calls *c, lua_State *L) {
  if (!c->capstacks) return NULL;
  for (size_t i = slot_of_ptr(L, c->capstacks);; i = (i + 1) & (c->capstacks - 1)) {
    if (c->stacks[i].L == L) return &c->stacks[i];
    if (!c->stacks[i].L) return NULL;
  }
}

static int grow_stacks(calls *c) {
  size_t cap = c->capstacks ? c->capstacks * 2 : 16;
  cstack *v = calloc(cap, sizeof *v);
  if (!v) return -1;
  for (size_t i = 0; i < c->capstacks; i++) {
    cstack *s = &c->stacks[i];
    if (!s->L) continue;
    size_t j = slot_of_ptr(s->L, cap);
    while (v[j].L) j = (j + 1) & (cap - 1);
    v[j] = *s;
  }
  free(c->stacks);
  c->stacks = v;
  c->capstacks = cap;
  return 0;
}

static cstack *get_stack(calls *c, lua_State *L) {
  cstack *s = find_stack(c, L);
  if (s) return s;
  if ((c->nstacks + 1) * 2 > c->capstacks && grow_stacks(c)) return NULL;
  size_t i = slot_of_ptr(L, c->capstacks);
  while (c->stacks[i].L) i = (i + 1) & (c->capstacks - 1);
  c->stacks[i].L = L;
  c->nstacks++;
  return &c->stacks[i];
}

/* Removes an empty coroutine's stack (shifting later entries back over the hole). */
static void drop_stack(calls *c, cstack *s) {
  free(s->v);
  size_t cap = c->capstacks, i = (size_t)(s - c->stacks);
  memset(s, 0, sizeof *s);
  c->nstacks--;
  for (size_t j = (i + 1) & (cap - 1); c->stacks[j].L; j = (j + 1) & (cap - 1)) {
    size_t home = slot_of_ptr(c->stacks[j].L, cap);
    /* j's entry may fill the hole at i unless its home lies cyclically in (i, j] */
    int stays = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
    if (stays) continue;
    c->stacks[i] = c->stacks[j];
    memset(&c->stacks[j], 0, sizeof c->stacks[j]);
    i = j;
  }
}

static void free_stacks(calls *c) {
  for (size_t i = 0; i < c->capstacks; i++) free(c->stacks[i].v);
  free(c->stacks);
  c->stacks = NULL;
  c->nstacks = c->capstacks = 0;
}

static inline uintptr_t track_of(const calls *c, lua_State *L) {
  return L == c->main ? 0 : (uintptr_t)L;
}

static void end_all(calls *c, lua_State *co);

/* Pops frames of s down to (not including) index keep, ending their spans. */
static void pop_to(calls *c, cstack *s, size_t keep) {
  uintptr_t track = track_of(c, s->L);
  while (s->n > keep) {
    frame *f = &s->v[--s->n];
    if (f->opened) {
      if (c->min_ticks)
        tbt_track_end_min(track, c->min_ticks);
      else
        tbt_track_end(track);
    }
    if (f->co) end_all(c, f->co);
  }
}

/* Ends every frame of coroutine co when it is dead (finished, failed or closed). */
static void end_all(calls *c, lua_State *co) {
  lua_Debug ar;
  if (lua_status(co) == LUA_YIELD) return;
  if (lua_status(co) == LUA_OK && lua_getstack(co, 0, &ar)) return;   /* still running */
  cstack *s = find_stack(c, co);
  if (s) pop_to(c, s, 0);   /* left in the table: callers hold pointers into it */
}

/* Index of the frame with activation record ci, or -1. */
static ptrdiff_t find_frame(const cstack *s, const void *ci) {
  for (size_t i = s->n; i-- > 0;)
    if (s->v[i].ci == ci) return (ptrdiff_t)i;
  return -1;
}

/* ------------------------------------------------------------------ names */

static char *dupstr(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static void forget_names(calls *c) {
  for (size_t i = 0; i < FCACHE_SLOTS; i++) free(c->fcache[i].name);
  memset(c->fcache, 0, sizeof c->fcache);
  c->nf = 0;
}

static inline uint32_t fslot_of(const void *p) {
  return (uint32_t)(((uintptr_t)p * 0x9E3779B97F4A7C15ull) >> (64 - FCACHE_BITS));
}

/* Does source match any pattern of list `key` in the options table? -1 when there is no list. */
static int matches(lua_State *L, int opts, const char *key, const char *source) {
  if (lua_getfield(L, opts, key) != LUA_TTABLE) {
    lua_pop(L, 1);
    return -1;
  }
  int hit = 0;
  lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
  for (lua_Integer i = 1; i <= n && !hit; i++) {
    lua_getfield(L, opts, "find");   /* string.find */
    lua_pushstring(L, source);
    lua_rawgeti(L, -3, i);
    lua_call(L, 2, 1);
    hit = !lua_isnil(L, -1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return hit;
}

/* The name of the function at the top of the stack, from its global name when it has one. */
static const char *global_name(lua_State *L) {
  int top = lua_gettop(L);
  const char *name = NULL;
  lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_pushnil(L);
  while (!name && lua_next(L, -2)) {
    if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TTABLE) {
      lua_pushnil(L);
      while (lua_next(L, -2)) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_rawequal(L, -1, top)) {
          lua_pop(L, 1);
          const char *mod = lua_tostring(L, -3);
          if (strcmp(mod, LUA_GNAME) == 0)
            lua_pushvalue(L, -1);
          else
            lua_pushfstring(L, "%s.%s", mod, lua_tostring(L, -1));
          name = lua_tostring(L, -1);
          lua_replace(L, top + 1);   /* keep the name: the loaded table's slot is done with */
          lua_settop(L, top + 1);
          return name;
        }
        lua_pop(L, 1);
      }
    }
    lua_pop(L, 1);
  }
  lua_settop(L, top);
  return NULL;
}

/* Looks up the function at the top of the stack (ar is its call event, or a frame of thread T). */
static const fslot *lookup(lua_State *L, lua_State *T, calls *c, lua_Debug *ar) {
  const void *f = lua_topointer(L, -1);
  uint32_t h = fslot_of(f);
  for (;;) {
    const fslot *e = &c->fcache[h];
    if (e->f == f) return e;
    if (!e->f) break;
    h = (h + 1) & (FCACHE_SLOTS - 1);
  }
  /* a miss: name it, filter it, keep it */
  int top = lua_gettop(L);
  lua_getfield(L, LUA_REGISTRYINDEX, CALLS_KEY);
  int ud = top + 1;
  if (c->nf >= FCACHE_MAX) {
    forget_names(c);
    lua_newtable(L);
    lua_setiuservalue(L, ud, UV_ANCHORS);
  }
  fslot e = {f, 0, 0, K_PLAIN, NULL};
  lua_CFunction cf = lua_tocfunction(L, top);
  if (cf && cf == c->resume) e.kind = K_RESUME;
  else if (cf && cf == c->close) e.kind = K_CLOSE;
  else if (cf && cf == c->wrapped) e.kind = K_WRAPPED;
  lua_getinfo(T, "Sn", ar);
  int is_c = ar->what[0] == 'C';
  lua_getiuservalue(L, ud, UV_OPTIONS);
  int opts = lua_gettop(L);
  int traced = !is_c || c->c_functions;
  if (traced && !is_c && lua_istable(L, opts)) {
    traced = matches(L, opts, "include", ar->source) != 0 &&
             matches(L, opts, "exclude", ar->source) != 1;
  }
  const char *name = ar->name;
  if (ar->what[0] == 'm') name = "main chunk";
  if (!name) {
    lua_pushvalue(L, top);
    name = global_name(L);
  }
  if (!name) name = "function";
  const char *s = is_c ? lua_pushfstring(L, "%s ([C])", name)
                       : lua_pushfstring(L, "%s (%s:%d)", name, ar->short_src, ar->linedefined);
  e.id = tbt_intern(s);
  e.name = dupstr(s);
  e.traced = e.id && e.name && traced;
  lua_getiuservalue(L, ud, UV_ANCHORS);
  lua_pushvalue(L, top);
  lua_pushboolean(L, 1);
  lua_rawset(L, -3);
  lua_settop(L, top);
  h = fslot_of(f);
  while (c->fcache[h].f) h = (h + 1) & (FCACHE_SLOTS - 1);
  c->fcache[h] = e;
  c->nf++;
  return &c->fcache[h];
}

/* ------------------------------------------------------------------ the hook */

static lua_State *coroutine_of(lua_State *L, lua_Debug *ar, int kind) {
  lua_State *co = NULL;
  if (kind == K_WRAPPED) {
    if (lua_getupvalue(L, -1, 1)) {
      co = lua_tothread(L, -1);
      lua_pop(L, 1);
    }
  } else if (lua_getlocal(L, ar, 1)) {
    co = lua_tothread(L, -1);
    lua_pop(L, 1);
  }
  return co;
}

static void push_frame(lua_State *L, calls *c, cstack *s, lua_Debug *ar) {
  lua_getinfo(L, "f", ar);
  const fslot *e = lookup(L, L, c, ar);
  frame f = {ar->i_ci, NULL, e->traced};
  if (e->kind != K_PLAIN) {
    f.co = coroutine_of(L, ar, e->kind);
    /* a coroutine made before the trace has no hook yet: give it the state's */
    if (f.co && e->kind != K_CLOSE) tbt_hook_apply(L, f.co);
  }
  lua_pop(L, 1);
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 32;
    frame *v = realloc(s->v, cap * sizeof *v);
    if (!v) return;   /* out of memory: this frame goes untraced */
    s->v = v;
    s->cap = cap;
  }
  s->v[s->n++] = f;
  if (f.opened) tbt_track_begin(track_of(c, L), e->id, c->category);
}

static void calls_hook(lua_State *L, lua_Debug *ar, void *ud) {
  calls *c = ud;
  if (c->paused) return;
  if (!TBT_TRACE_ACTIVE_() || c->gen != __atomic_load_n(&g_gen, __ATOMIC_ACQUIRE)) {
    tbt_lua_calls_stop(L);   /* the trace ended, or what was asked for changed */
    return;
  }
  cstack *s = get_stack(c, L);
  if (!s) return;
  if (ar->event == LUA_HOOKRET) {
    ptrdiff_t i = find_frame(s, ar->i_ci);
    if (i < 0) return;   /* a frame from before the trace */
    pop_to(c, s, (size_t)i);
  } else if (ar->event == LUA_HOOKTAILCALL) {
    /* A tail call reuses its caller's record: that frame ends here. Not found, the caller
    ** is from before the trace and every frame held is stale. */
    ptrdiff_t i = find_frame(s, ar->i_ci);
    pop_to(c, s, i < 0 ? 0 : (size_t)i);
    push_frame(L, c, s, ar);
    return;
  } else {
    lua_Debug up;
    ptrdiff_t i = lua_getstack(L, 1, &up) ? find_frame(s, up.i_ci) : -1;
    pop_to(c, s, (size_t)(i + 1));
    push_frame(L, c, s, ar);
    return;
  }
  if (s->n == 0 && L != c->main) drop_stack(c, s);
}

/* ------------------------------------------------------------------ options and control */

static int opt_error(lua_State *L, const char *what, const char *got) {
  return luaL_error(L, "bad option 'lua_calls' to 'trace_on' (%s%s)", what, got);
}

/* Normalizes patterns field key of the table at t into a list at options table o. */
static void check_patterns(lua_State *L, int t, int o, const char *key) {
  int ty = lua_getfield(L, t, key);
  if (ty == LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  lua_newtable(L);
  if (ty == LUA_TSTRING) {
    lua_pushvalue(L, -2);
    lua_rawseti(L, -2, 1);
  } else if (ty == LUA_TTABLE) {
    lua_Integer n = luaL_len(L, -2);
    for (lua_Integer i = 1; i <= n; i++) {
      if (lua_geti(L, -2, i) != LUA_TSTRING)
        opt_error(L, lua_pushfstring(L, "%s[%d] must be a string, got ", key, (int)i),
                  luaL_typename(L, -1));
      lua_rawseti(L, -2, i);
    }
  } else {
    opt_error(L, lua_pushfstring(L, "%s must be a string or a list of strings, got ", key),
              luaL_typename(L, -2));
  }
  /* each pattern must compile: try it once now rather than fail in a hook */
  lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_getfield(L, o, "find");
    lua_pushliteral(L, "");
    lua_rawgeti(L, -3, i);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK)
      opt_error(L, lua_pushfstring(L, "%s: ", key), lua_tostring(L, -1));
  }
  lua_setfield(L, o, key);
  lua_pop(L, 1);
}

int tbt_lua_calls_check(lua_State *L, int t) {
  int ty = lua_getfield(L, t, "lua_calls");
  int on = 0;
  if (ty == LUA_TNIL || ty == LUA_TBOOLEAN) {
    on = lua_toboolean(L, -1);
    if (on) {
      lua_newtable(L);
      lua_getglobal(L, "string");
      if (lua_istable(L, -1)) lua_getfield(L, -1, "find");
      else lua_pushnil(L);
      lua_setfield(L, -3, "find");
      lua_pop(L, 1);
    } else {
      lua_pushnil(L);
    }
  } else if (ty == LUA_TTABLE) {
    on = 1;
    int src = lua_gettop(L);
    lua_newtable(L);
    int o = lua_gettop(L);
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_getfield(L, -1, "string");
    if (lua_istable(L, -1)) lua_getfield(L, -1, "find");
    else lua_pushnil(L);
    lua_setfield(L, o, "find");
    lua_pop(L, 2);
    static const char *const keys[] = {"include", "exclude", "c_functions", "min_ns", NULL};
    tbt_lua_checksuboptions(L, src, "trace_on", "lua_calls", keys);
    if (lua_getfield(L, o, "find") == LUA_TNIL && (lua_getfield(L, src, "include") != LUA_TNIL ||
                                                  lua_getfield(L, src, "exclude") != LUA_TNIL))
      opt_error(L, "patterns need the string library", "");
    lua_settop(L, o);
    check_patterns(L, src, o, "include");
    check_patterns(L, src, o, "exclude");
    int cty = lua_getfield(L, src, "c_functions");
    if (cty != LUA_TNIL && cty != LUA_TBOOLEAN)
      opt_error(L, "c_functions must be a boolean, got ", luaL_typename(L, -1));
    lua_setfield(L, o, "c_functions");
    int mty = lua_getfield(L, src, "min_ns");
    if (mty != LUA_TNIL) {
      int isint = 0;
      lua_Integer n = mty == LUA_TNUMBER ? lua_tointegerx(L, -1, &isint) : 0;
      if (!isint || n < 0)
        opt_error(L, "min_ns must be a non-negative integer, got ",
                  mty != LUA_TNUMBER ? luaL_typename(L, -1) : isint ? "negative" : lua_tostring(L, -1));
    }
    lua_setfield(L, o, "min_ns");
  } else {
    opt_error(L, "boolean or table expected, got ", luaL_typename(L, -1));
  }
  lua_setfield(L, LUA_REGISTRYINDEX, OPTS_KEY);
  lua_pop(L, 1);
  return on;
}

static int calls_gc(lua_State *L) {
  calls *c = lua_touserdata(L, 1);
  free_stacks(c);
  forget_names(c);
  return 0;
}

/* The tracer of L's state, made when first needed. */
static calls *get_calls(lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, CALLS_KEY) == LUA_TUSERDATA) {
    calls *c = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return c;
  }
  lua_pop(L, 1);
  calls *c = lua_newuserdatauv(L, sizeof *c, 2);
  memset(c, 0, sizeof *c);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, calls_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  c->main = lua_tothread(L, -1);
  lua_pop(L, 1);
  c->category = tbt_intern("lua");
  lua_newtable(L);
  lua_setiuservalue(L, -2, UV_ANCHORS);
  /* the coroutine functions whose return may leave a coroutine dead */
  lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  if (lua_getfield(L, -1, "coroutine") == LUA_TTABLE) {
    lua_getfield(L, -1, "resume");
    c->resume = lua_tocfunction(L, -1);
    lua_getfield(L, -2, "close");
    c->close = lua_tocfunction(L, -1);
    lua_getfield(L, -3, "wrap");
    lua_pushcfunction(L, calls_gc);   /* any function: the wrapper is never called */
    if (lua_pcall(L, 1, 1, 0) == LUA_OK) c->wrapped = lua_tocfunction(L, -1);
    lua_pop(L, 3);
  }
  lua_pop(L, 2);
  lua_setfield(L, LUA_REGISTRYINDEX, CALLS_KEY);
  return get_calls(L);
}

/* Starts with the options table at the top of the stack (popped), following request gen. */
static void start_with(lua_State *L, unsigned gen) {
  calls *c = get_calls(L);
  c->gen = gen;
  lua_getfield(L, LUA_REGISTRYINDEX, CALLS_KEY);
  lua_pushvalue(L, -2);
  lua_setiuservalue(L, -2, UV_OPTIONS);
  lua_newtable(L);
  lua_setiuservalue(L, -2, UV_ANCHORS);
  lua_getfield(L, -2, "c_functions");
  c->c_functions = lua_toboolean(L, -1);
  lua_getfield(L, -3, "min_ns");
  lua_Integer min_ns = lua_tointeger(L, -1);
  c->min_ticks = min_ns > 0 ? tbt_trace_ticks((uint64_t)min_ns) : 0;
  lua_pop(L, 4);
  forget_names(c);
  free_stacks(c);
  c->on = 1;
  tbt_hook_set(L, TBT_HOOK_CALLS, LUA_MASKCALL | LUA_MASKRET, 0, calls_hook, c);
}

void tbt_lua_calls_start(lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, OPTS_KEY) != LUA_TTABLE) {
    lua_pop(L, 1);
    return;
  }
  start_with(L, request_set(L, lua_gettop(L)));
  get_calls(L)->origin = 1;
}

void tbt_lua_calls_sync(lua_State *L) {
  luaL_checkstack(L, 8, "calls");
  pthread_mutex_lock(&g_req_mu);
  unsigned gen = __atomic_load_n(&g_gen, __ATOMIC_ACQUIRE);
  calls *c = NULL;
  if (lua_getfield(L, LUA_REGISTRYINDEX, CALLS_KEY) == LUA_TUSERDATA) c = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (!g_req.on || (c && c->on && c->gen == gen)) {
    pthread_mutex_unlock(&g_req_mu);
    return;
  }
  /* the options as tbt_lua_calls_check would have made them here */
  lua_newtable(L);
  lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  if (lua_getfield(L, -1, "string") == LUA_TTABLE) lua_getfield(L, -1, "find");
  else lua_pushnil(L);
  lua_setfield(L, -4, "find");
  lua_pop(L, 2);
  lua_pushboolean(L, g_req.c_functions);
  lua_setfield(L, -2, "c_functions");
  lua_pushinteger(L, g_req.min_ns);
  lua_setfield(L, -2, "min_ns");
  for (int k = 0; k < 2; k++) {
    if (!g_req.pat[k]) continue;
    lua_createtable(L, g_req.npat[k], 0);
    for (int i = 0; i < g_req.npat[k]; i++) {
      lua_pushstring(L, g_req.pat[k][i]);
      lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, pat_keys[k]);
  }
  pthread_mutex_unlock(&g_req_mu);
  start_with(L, gen);
  get_calls(L)->origin = 0;
}

void tbt_lua_calls_stop(lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, CALLS_KEY) != LUA_TUSERDATA) {
    lua_pop(L, 1);
    return;
  }
  calls *c = lua_touserdata(L, -1);
  if (c->on) {
    if (c->origin) request_end();   /* the others stop at their next event */
    c->origin = 0;
    c->on = 0;
    tbt_hook_clear(L, TBT_HOOK_CALLS);
    free_stacks(c);
    forget_names(c);
    lua_newtable(L);
    lua_setiuservalue(L, -2, UV_ANCHORS);
  }
  lua_pop(L, 1);
}

void tbt_lua_calls_pause(lua_State *L, int paused) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, CALLS_KEY) == LUA_TUSERDATA) {
    calls *c = lua_touserdata(L, -1);
    c->paused = paused;
  }
  lua_pop(L, 1);
}

const char *tbt_lua_func_name(lua_State *L, lua_State *T, lua_Debug *ar) {
  calls *c = get_calls(L);
  if (T == L) {
    lua_getinfo(L, "f", ar);
  } else {   /* as ldblib's getinfo does for another thread */
    if (!lua_checkstack(T, 1)) return "?";
    lua_getinfo(T, "f", ar);
    lua_xmove(T, L, 1);
  }
  const fslot *e = lookup(L, T, c, ar);
  lua_pop(L, 1);
  return e->name ? e->name : "?";
}

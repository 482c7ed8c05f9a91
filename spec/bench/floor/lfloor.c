/*
** lfloor.c: the floor the Lua span benchmark compares against, as a Lua module
** (tbtrace_bench_floor): what any Lua span recorder must do at least.
**   nop(x)        an empty C function: one Lua -> C call
**   begin(name)   checks name is a string, finds its id in a per-state cache keyed by the
**                 string's address, reads the tick and writes one 16-byte record
**   finish()      reads the tick and writes one 16-byte record
** Records go to a buffer held by the module's upvalue (no thread-local lookup), reused in a ring.
*/
#include <lauxlib.h>
#include <lua.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

#define RECS (1u << 20)
#define SLOTS 1024u

typedef struct frec {
  uint64_t t;
  uint32_t a, b;
} frec;

typedef struct fstate {
  frec *pos, *end, *base;
  uint32_t next_id;
  struct {
    const char *p;
    uint32_t id;
  } slot[SLOTS];
} fstate;

static inline uint64_t ticks(void) {
#if defined(__x86_64__) || defined(__i386__)
  return __rdtsc();
#else
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
#endif
}

#define STATE(L) ((fstate *)lua_touserdata((L), lua_upvalueindex(1)))

static inline frec *next_rec(fstate *f) {
  frec *r = f->pos;
  if (__builtin_expect(r == f->end, 0)) r = f->base;
  f->pos = r + 1;
  return r;
}

static int f_nop(lua_State *L) {
  (void)L;
  return 0;
}

static uint32_t id_miss(fstate *f, const char *s, uint32_t h) {
  while (f->slot[h].p) h = (h + 1) & (SLOTS - 1);
  f->slot[h].p = s;
  return f->slot[h].id = ++f->next_id;
}

static int f_begin(lua_State *L) {
  if (lua_type(L, 1) != LUA_TSTRING) luaL_typeerror(L, 1, "string");
  fstate *f = STATE(L);
  const char *s = lua_tostring(L, 1);
  uint32_t h = (uint32_t)(((uintptr_t)s * 0x9E3779B97F4A7C15ull) >> 54), id;
  for (;;) {
    if (f->slot[h].p == s) {
      id = f->slot[h].id;
      break;
    }
    if (!f->slot[h].p) {
      id = id_miss(f, s, h);
      break;
    }
    h = (h + 1) & (SLOTS - 1);
  }
  frec *r = next_rec(f);
  r->t = ticks();
  r->a = id;
  r->b = 1u << 28;
  return 0;
}

static int f_finish(lua_State *L) {
  fstate *f = STATE(L);
  frec *r = next_rec(f);
  r->t = ticks();
  r->a = 0;
  r->b = 2u << 28;
  return 0;
}

static int f_gc(lua_State *L) {
  fstate *f = lua_touserdata(L, 1);
  free(f->base);
  f->base = NULL;
  return 0;
}

int luaopen_tbtrace_bench_floor(lua_State *L) {
  fstate *f = lua_newuserdatauv(L, sizeof *f, 0);
  memset(f, 0, sizeof *f);
  f->base = malloc(RECS * sizeof *f->base);
  if (!f->base) return luaL_error(L, "out of memory");
  memset(f->base, 0, RECS * sizeof *f->base);
  f->pos = f->base;
  f->end = f->base + RECS;
  lua_newtable(L);
  lua_pushcfunction(L, f_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  static const luaL_Reg fns[] = {{"nop", f_nop}, {"begin", f_begin}, {"finish", f_finish}, {NULL, NULL}};
  lua_newtable(L);
  lua_pushvalue(L, -2);
  luaL_setfuncs(L, fns, 1);
  return 1;
}

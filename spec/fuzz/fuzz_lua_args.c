/*
** fuzz_lua_args.c: libFuzzer target for the Lua module's argument handling.
**
** Each input is a small program run in a fresh lua_State with the module open. An op calls a
** module function, a writer method or a metamethod with arguments built from the next bytes:
** nil, booleans, integers and floats at the edges (NaN, infinities, the integer limits),
** strings with NULs and bad UTF-8, nested and cyclic tables, tables with hostile metatables,
** coroutines, foreign userdata, and functions that run a slice of the program themselves, so
** callbacks (span bodies, record_if conditions, policy hooks, __gc finalizers) call back into
** the module. Every call runs under lua_pcall: a Lua error or a return is fine, anything else
** (a crash, a sanitizer report, a leak, a descriptor left open, a panic) is a finding.
**
** Files only go below a scratch directory ($TMPDIR/tbt-fuzz-<pid>, the working directory while
** fuzzing): every string the harness builds is relative or points there, and never holds "..".
** The directory is emptied after each input, and all C-side state (trace, default writer and
** step, recording condition, I/O fault injection) is reset; policies die with their Lua state.
*/
#define _GNU_SOURCE   /* nftw */
#include "tbtrace.h"
#include "tbtrace_policy.h"

#include "fs.h"
#include "record.h"

#include <errno.h>
#include <ftw.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int luaopen_tbtrace(lua_State *L);

#define MAX_OPS 256          /* ops per input, callbacks included */
#define MAX_DEPTH 4          /* callbacks running inside callbacks */
#define MAX_VALUE_DEPTH 5    /* nesting of generated tables */
#define NSLOTS 8             /* values an input can keep between ops */
#define LUA_MEM_LIMIT ((size_t)512 << 20)

#define REQUIRE(cond)                                                                     \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      fprintf(stderr, "fuzz_lua_args: %s:%d: invariant failed: %s\n", __FILE__, __LINE__, \
              #cond);                                                                     \
      abort();                                                                            \
    }                                                                                     \
  } while (0)

/* ------------------------------------------------------------------ input bytes */

typedef struct prog {
  const uint8_t *p;
  size_t n, i;
} prog;

static int more(const prog *g) {
  return g->i < g->n;
}

static uint8_t u8(prog *g) {
  return g->i < g->n ? g->p[g->i++] : 0;
}

static uint64_t u64(prog *g) {
  uint64_t v = 0;
  for (int k = 0; k < 8; k++) v = v << 8 | u8(g);
  return v;
}

/* ------------------------------------------------------------------ per-input state */

static char g_base[512];      /* the scratch directory, absolute */
static size_t g_base_len;
static int g_lowest_fd;       /* the lowest free descriptor when the input starts */
static int g_ops;             /* ops left in this input */
static int g_depth;           /* callbacks active */
static int g_closing;         /* in lua_close: callbacks do nothing */
static size_t g_lua_bytes;
static int g_trace;           /* TBT_FUZZ_TRACE=1: print each call, to read a crash input */

static void *lua_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  size_t old = ptr ? osize : 0;
  if (nsize == 0) {
    g_lua_bytes -= old;
    free(ptr);
    return NULL;
  }
  /* A cap, so a program that builds huge values meets LUA_ERRMEM instead of the RSS limit. */
  if (nsize > old && g_lua_bytes + (nsize - old) > LUA_MEM_LIMIT) return NULL;
  void *q = realloc(ptr, nsize);
  if (q) g_lua_bytes = g_lua_bytes - old + nsize;
  return q;
}

static int on_panic(lua_State *L) {
  fprintf(stderr, "fuzz_lua_args: unprotected Lua error: %s\n", lua_tostring(L, -1));
  abort();
}

/* I/O faults: writes fail once `countdown` writes have passed. A full disk or EIO lasts until
** the input ends or another fault is set; a short write or EINTR happens once. Timer threads of
** the writers call these too, hence the atomics (their races only move the fault a little). */
static int g_fault_kind;      /* 0 none, 1 ENOSPC, 2 EIO, 3 short write, 4 EINTR */
static int g_fault_countdown;

static int fault_due(void) {
  if (__atomic_load_n(&g_fault_countdown, __ATOMIC_RELAXED) > 0) {
    __atomic_sub_fetch(&g_fault_countdown, 1, __ATOMIC_RELAXED);
    return 0;
  }
  return 1;
}

static ssize_t fuzz_write(int fd, const void *buf, size_t len) {
  int kind = __atomic_load_n(&g_fault_kind, __ATOMIC_RELAXED);
  if (kind && fault_due()) {
    switch (kind) {
      case 1: errno = ENOSPC; return -1;
      case 2: errno = EIO; return -1;
      case 3:
        __atomic_store_n(&g_fault_kind, 0, __ATOMIC_RELAXED);
        return write(fd, buf, len > 1 ? len / 2 : len);
      default:
        __atomic_store_n(&g_fault_kind, 0, __ATOMIC_RELAXED);
        errno = EINTR;
        return -1;
    }
  }
  return write(fd, buf, len);
}

/* Syncing costs milliseconds and shows nothing here; a fault can still make it fail. */
static int fuzz_fsync(int fd) {
  (void)fd;
  int kind = __atomic_load_n(&g_fault_kind, __ATOMIC_RELAXED);
  if (kind == 2 && __atomic_load_n(&g_fault_countdown, __ATOMIC_RELAXED) == 0) {
    errno = EIO;
    return -1;
  }
  return 0;
}

static const tbt_io_hooks g_hooks = {fuzz_write, fuzz_fsync};

/* ------------------------------------------------------------------ what can be called */

/* Argument hints, one letter per position:
**   s tag or short string   N span name          n number        i integer (step, count)
**   b boolean               T tensor data        I image data    A audio data
**   o options table         P policy table       m metadata      f function
**   w a kept value          p path               d dtype name    S shape (integers)
**   x anything */
typedef struct api {
  const char *name;          /* a path in the module: "scalar", "policy.set", "experimental.get_step" */
  const char *args;
} api;

static const api g_api[] = {
  {"strerror", "i"}, {"crc32c", "si"}, {"hostname", ""}, {"pid", ""},
  {"create_file_writer", "po"}, {"create_noop_writer", ""}, {"flush", "w"},
  {"default_writer", ""}, {"get_step", ""}, {"set_step", "i"},
  {"experimental.get_step", ""}, {"experimental.set_step", "i"},
  {"scalar", "snis"}, {"text", "sTis"}, {"histogram", "sTiis"}, {"image", "sIiis"},
  {"audio", "sAiiiss"}, {"write", "sTim"}, {"record_if", "bfxx"}, {"should_record_summaries", ""},
  {"records", "p"}, {"events", "p"}, {"event_to_json", "s"},
  {"trace_on", "obbp"}, {"trace_off", ""}, {"trace_stats", ""}, {"internal.snapshot", ""},
  {"span_begin", "NN"}, {"span_end", ""}, {"span", "Nfxx"}, {"instant", "NN"},
  {"counter", "Nn"}, {"depends", "NN"}, {"thread_name", "N"}, {"scope", "NN"},
  {"trace_export", "sip"}, {"last_export", ""},
  {"policy.load", "po"}, {"policy.from_table", "Po"}, {"policy.set", "Po"},
  {"policy.current", ""}, {"policy.resolve", "wo"},
};
#define NAPI (sizeof g_api / sizeof g_api[0])

static const api g_methods[] = {
  {"set_as_default", "i"}, {"as_default", "ifxx"}, {"flush", ""}, {"close", ""},
  {"logdir", ""}, {"path", ""}, {"closed", ""}, {"stats", ""},
};
#define NMETHODS (sizeof g_methods / sizeof g_methods[0])

static const char *const g_metamethods[] = {"__close", "__gc", "__tostring", "__index", "__name",
                                            "__call", "__len"};
#define NMETA (sizeof g_metamethods / sizeof g_metamethods[0])

/* Module functions the table above does not know (added later): called with any arguments. */
static char *g_extra[64];
static size_t g_nextra;

/* ------------------------------------------------------------------ strings */

static const char *const g_words[] = {
  "loss", "acc/train", "x", "a/b/c", "step", "load", "compute", "\xc3\xa9t\xc3\xa9", "\xff\xfe",
  "\xed\xa0\x80", "\xf4\x90\x80\x80", "tab\there", "nul\0in", "float32", "float64", "int32",
  "uint8", "int16", "int8", "int64", "bool", "uint16", "uint32", "uint64", "string", "wav", "mp3",
  "scalars", "text", "images", "audio", "histograms", "graph_run_metadata",
  "graph_run_metadata_graph", ".v2", ".", "suffix/slash", "run", "main", "cat", "%s%n", "logs",
  "logs/run1", "plugins/profile", "events.out.tfevents.x", "",
};
#define NWORDS (sizeof g_words / sizeof g_words[0])

static const char *const g_keys[] = {
  "max_queue", "flush_millis", "filename_suffix", "max_queue_bytes", "graph", "profiler",
  "profiler_outdir", "memory_limit", "name", "step", "dtype", "shape", "values", "pixels",
  "height", "width", "channels", "plugin_name", "content", "display_name", "description",
  "trusted", "instruction_limit", "extends", "logdir", "run_name", "hooks", "chain", "settings",
  "path",
};
#define NKEYS (sizeof g_keys / sizeof g_keys[0])

/* What a key's value usually is, as an argument hint. */
static char key_hint(const char *k) {
  static const struct { const char *k; char h; } map[] = {
    {"max_queue", 'i'}, {"flush_millis", 'i'}, {"filename_suffix", 's'}, {"max_queue_bytes", 'i'},
    {"graph", 'b'}, {"profiler", 'b'}, {"profiler_outdir", 'p'}, {"memory_limit", 'i'},
    {"name", 'f'}, {"step", 'f'}, {"dtype", 'd'}, {"shape", 'S'}, {"values", 'T'},
    {"pixels", 's'}, {"height", 'i'}, {"width", 'i'}, {"channels", 'i'}, {"trusted", 'b'},
    {"instruction_limit", 'i'}, {"extends", 'P'}, {"logdir", 'f'}, {"run_name", 'f'},
    {"settings", 'o'},
  };
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (strcmp(map[i].k, k) == 0) return map[i].h;
  return 's';
}

/* Pushes s[0..n) made safe as a path: no "..", and an absolute path is moved below the scratch
** directory. Every string the harness makes goes through here, whatever it is for. */
static void push_safe(lua_State *L, const char *s, size_t n) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  if (n && s[0] == '/') luaL_addlstring(&b, g_base, g_base_len);
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '.' && i > 0 && s[i - 1] == '.') c = '_';
    luaL_addchar(&b, c);
  }
  luaL_pushresult(&b);
}

static void push_word(lua_State *L, prog *g) {
  const char *w = g_words[u8(g) % NWORDS];
  /* "nul\0in" keeps its NUL. */
  push_safe(L, w, strcmp(w, "nul") == 0 ? 6 : strlen(w));
}

static void push_bytes(lua_State *L, prog *g, size_t max) {
  size_t n = u8(g) % (max + 1);
  char buf[256];
  if (n > sizeof buf) n = sizeof buf;
  for (size_t i = 0; i < n; i++) buf[i] = (char)u8(g);
  push_safe(L, buf, n);
}

/* A long string: a short one repeated, up to 64 KiB and a bit. */
static void push_long(lua_State *L, prog *g) {
  push_bytes(L, g, 8);
  size_t reps = ((size_t)u8(g) << 8 | u8(g)) + 1;
  size_t len;
  const char *unit = lua_tolstring(L, -1, &len);
  if (len == 0) unit = "x", len = 1;
  if (reps * len > 70000) reps = 70000 / len;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (size_t i = 0; i < reps; i++) luaL_addlstring(&b, unit, len);
  luaL_pushresult(&b);
  lua_remove(L, -2);
}

static void push_path(lua_State *L, prog *g) {
  switch (u8(g) % 4) {
    case 0: {   /* an absolute path below the scratch directory */
      char buf[64];
      snprintf(buf, sizeof buf, "/d%u/e%u", u8(g) % 4, u8(g) % 4);
      push_safe(L, buf, strlen(buf));
      break;
    }
    case 1: push_word(L, g); break;
    case 2: push_bytes(L, g, 24); break;
    default: {  /* a logdir or a file (OP_FILE) some earlier op may have made */
      char buf[32];
      uint8_t k = u8(g);
      snprintf(buf, sizeof buf, "%c%u", k & 4 ? 'f' : 'd', k % 4);
      push_safe(L, buf, strlen(buf));
    }
  }
}

/* ------------------------------------------------------------------ values */

static void gen(lua_State *L, prog *g, char hint, int depth);
static void push_callback(lua_State *L, prog *g);

static const lua_Integer g_ints[] = {
  0, 1, -1, 2, 3, 4, 7, 30, 100, 255, 256, 65535, 65536, 65537, 1 << 20, (1 << 20) + 1,
  0x7fffffff, (lua_Integer)0x80000000, -(lua_Integer)0x80000000, (lua_Integer)0xffffffff,
  (lua_Integer)1 << 32, (lua_Integer)1 << 53, LUA_MAXINTEGER, LUA_MININTEGER,
};
static const double g_floats[] = {
  0.0, -0.0, 0.5, 1.0, 1.5, -1.0, 3.0, 1e300, -1e300, 4.9e-324, 3.5e38, 9.2233720368547758e18,
  -9.2233720368547758e18, 2147483648.0, 1e-10,
};

static void push_int(lua_State *L, prog *g) {
  uint8_t k = u8(g);
  if (k < 128) lua_pushinteger(L, g_ints[k % (sizeof g_ints / sizeof g_ints[0])]);
  else if (k < 200) lua_pushinteger(L, (lua_Integer)(int8_t)u8(g));
  else if (k < 230) lua_pushinteger(L, (lua_Integer)u64(g));
  else lua_pushnumber(L, (lua_Number)(int8_t)u8(g));   /* an integral float */
}

static void push_number(lua_State *L, prog *g) {
  uint8_t k = u8(g);
  if (k < 64) {
    lua_pushnumber(L, g_floats[k % (sizeof g_floats / sizeof g_floats[0])]);
  } else if (k < 96) {
    static const double odd[] = {NAN, -NAN, INFINITY, -INFINITY};
    lua_pushnumber(L, odd[k % 4]);
  } else if (k < 160) {
    uint64_t bits = u64(g);
    double d;
    memcpy(&d, &bits, sizeof d);
    lua_pushnumber(L, d);
  } else if (k < 200) {
    lua_pushnumber(L, (double)(int8_t)u8(g) / 16.0);
  } else {
    push_int(L, g);
  }
}

/* Leaves of generated tensors: kind 0..4 one type throughout, 5 anything. */
static void leaf(lua_State *L, prog *g, int kind) {
  switch (kind) {
    case 0: lua_pushnumber(L, (double)(int8_t)u8(g) / 8.0); break;
    case 1: lua_pushinteger(L, u8(g)); break;
    case 2: push_word(L, g); break;
    case 3: lua_pushboolean(L, u8(g) & 1); break;
    case 4: lua_pushnumber(L, (double)((int)u8(g) - 128) / 100.0); break;
    default: gen(L, g, 'x', MAX_VALUE_DEPTH); break;   /* anything, to break the pattern */
  }
}

static void push_nest(lua_State *L, prog *g, const int *dims, int rank, int kind) {
  luaL_checkstack(L, 4, "nest");
  if (rank == 0) {
    leaf(L, g, kind);
    return;
  }
  lua_createtable(L, dims[0], 0);
  for (int i = 1; i <= dims[0]; i++) {
    push_nest(L, g, dims + 1, rank - 1, kind);
    lua_rawseti(L, -2, i);
  }
}

static int pick_kind(prog *g) {
  uint8_t k = u8(g);
  return k < 250 ? k % 5 : 5;
}

static void push_tensor(lua_State *L, prog *g) {
  int rank = u8(g) % 5, dims[4];
  for (int i = 0; i < rank; i++) dims[i] = u8(g) % 4;
  int kind = pick_kind(g);
  if (u8(g) % 3 == 0) {
    /* {dtype=, shape=, values=} */
    lua_createtable(L, 0, 3);
    gen(L, g, 'd', 1);
    lua_setfield(L, -2, "dtype");
    push_nest(L, g, dims, rank, kind);
    lua_setfield(L, -2, "values");
    if (u8(g) & 1) {
      gen(L, g, 'S', 1);
      lua_setfield(L, -2, "shape");
    }
    return;
  }
  push_nest(L, g, dims, rank, kind);
}

static void push_image(lua_State *L, prog *g) {
  static const int channels[] = {1, 3, 4, 2, 0, 5};
  if (u8(g) % 3 == 0) {
    int h = u8(g) % 5, w = u8(g) % 5, c = channels[u8(g) % 6], k = u8(g) % 3;
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, h);
    lua_setfield(L, -2, "height");
    lua_pushinteger(L, w);
    lua_setfield(L, -2, "width");
    lua_pushinteger(L, c);
    lua_setfield(L, -2, "channels");
    size_t n = (size_t)(h * w * c * k) + (u8(g) < 16 ? 1 : 0);
    char *px = lua_newuserdatauv(L, n ? n : 1, 0);
    for (size_t i = 0; i < n; i++) px[i] = (char)u8(g);
    lua_pushlstring(L, px, n);
    lua_remove(L, -2);
    lua_setfield(L, -2, "pixels");
    return;
  }
  int four = u8(g) & 1;
  int dims[4], r = 0;
  if (four) dims[r++] = u8(g) % 3;
  dims[r++] = u8(g) % 4;
  dims[r++] = u8(g) % 4;
  dims[r++] = channels[u8(g) % 6];
  push_nest(L, g, dims, r, u8(g) < 230 ? 1 : pick_kind(g));
}

static void push_audio(lua_State *L, prog *g) {
  int three = u8(g) & 1;
  int dims[3], r = 0;
  if (three) dims[r++] = u8(g) % 3;
  dims[r++] = u8(g) % 6;
  dims[r++] = u8(g) % 3;
  push_nest(L, g, dims, r, u8(g) < 230 ? 4 : pick_kind(g));
}

/* A table of keys options use, values fitting their keys (mostly). */
static void push_options(lua_State *L, prog *g, int depth) {
  int n = u8(g) % 6;
  lua_createtable(L, 0, n);
  for (int i = 0; i < n; i++) {
    const char *k = g_keys[u8(g) % NKEYS];
    gen(L, g, u8(g) < 200 ? key_hint(k) : 'x', depth + 1);
    lua_setfield(L, -2, k);
  }
}

static void push_policy(lua_State *L, prog *g, int depth) {
  static const char *const hooks[] = {"name", "step", "logdir", "profiler_outdir", "run_name"};
  int n = u8(g) % 6;
  lua_createtable(L, 0, n);
  for (int i = 0; i < n; i++) {
    uint8_t k = u8(g);
    if (k < 160) {
      push_callback(L, g);
      lua_setfield(L, -2, hooks[k % 5]);
    } else {
      const char *key = g_keys[k % NKEYS];
      gen(L, g, k < 230 ? key_hint(key) : 'x', depth + 1);
      lua_setfield(L, -2, key);
    }
  }
}

static int const_len(lua_State *L) {
  lua_pushvalue(L, lua_upvalueindex(1));
  return 1;
}

/* A table with a metatable whose methods are callbacks or odd constants. */
static void push_hostile(lua_State *L, prog *g, int depth) {
  int n = u8(g) % 4;
  lua_createtable(L, n, 0);
  for (int i = 1; i <= n; i++) {
    gen(L, g, 'x', depth + 1);
    lua_rawseti(L, -2, i);
  }
  lua_createtable(L, 0, 4);
  int m = 1 + u8(g) % 3;
  for (int i = 0; i < m; i++) {
    const char *mm = g_metamethods[u8(g) % NMETA];
    uint8_t k = u8(g);
    if (strcmp(mm, "__len") == 0 && k < 128) {
      /* Lengths that make loops wrap or go negative, never ones that run for long. */
      static const lua_Integer lens[] = {0, 1, 2, 3, -1, -2, LUA_MININTEGER, 40};
      lua_pushinteger(L, lens[k % 8]);
      lua_pushcclosure(L, const_len, 1);
      lua_setfield(L, -2, mm);
      continue;
    }
    if (k < 200) push_callback(L, g);
    else gen(L, g, 'x', depth + 1);
    lua_setfield(L, -2, mm);
  }
  lua_setmetatable(L, -2);
}

static int g_slots_ref = LUA_NOREF;

static void push_slot(lua_State *L, int i) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, g_slots_ref);
  lua_rawgeti(L, -1, 1 + i % NSLOTS);
  lua_remove(L, -2);
}

static void set_slot(lua_State *L, int i) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, g_slots_ref);
  lua_insert(L, -2);
  lua_rawseti(L, -2, 1 + i % NSLOTS);
  lua_pop(L, 1);
}

/* Any value at all. */
static void gen_any(lua_State *L, prog *g, int depth) {
  luaL_checkstack(L, 8, "gen");
  uint8_t k = u8(g) % 22;
  if (depth >= MAX_VALUE_DEPTH && (k >= 10 && k <= 17)) k = 0;
  switch (k) {
    case 0: lua_pushnil(L); break;
    case 1: lua_pushboolean(L, u8(g) & 1); break;
    case 2: push_int(L, g); break;
    case 3: push_number(L, g); break;
    case 4: push_word(L, g); break;
    case 5: push_bytes(L, g, 40); break;
    case 6: push_long(L, g); break;
    case 7: push_path(L, g); break;
    case 8: push_slot(L, u8(g)); break;
    case 9: push_callback(L, g); break;
    case 10: {  /* a short array of anything */
      int n = u8(g) % 5;
      lua_createtable(L, n, 0);
      for (int i = 1; i <= n; i++) {
        gen_any(L, g, depth + 1);
        lua_rawseti(L, -2, i);
      }
      break;
    }
    case 11: push_tensor(L, g); break;
    case 12: push_options(L, g, depth); break;
    case 13: push_hostile(L, g, depth); break;
    case 14: {  /* a table that holds itself, or nests past any rank limit */
      int deep = 1 + u8(g) % 48;
      lua_newtable(L);
      if (u8(g) & 1) {
        lua_pushvalue(L, -1);
        lua_rawseti(L, -2, 1);
      } else {
        for (int i = 0; i < deep; i++) {
          lua_createtable(L, 1, 0);
          lua_insert(L, -2);
          lua_rawseti(L, -2, 1);
        }
      }
      break;
    }
    case 15: push_image(L, g); break;
    case 16: push_audio(L, g); break;
    case 17: push_policy(L, g, depth); break;
    case 18: {  /* a coroutine whose body is a callback */
      lua_State *co = lua_newthread(L);
      push_callback(L, g);
      lua_xmove(L, co, 1);
      break;
    }
    case 19: {  /* userdata that is not ours, one with a look-alike metatable */
      lua_newuserdatauv(L, 16, 0);
      if (u8(g) & 1) {
        lua_createtable(L, 0, 1);
        lua_pushliteral(L, "tbtrace.writer");
        lua_setfield(L, -2, "__name");
        lua_setmetatable(L, -2);
      }
      break;
    }
    case 20: lua_pushlightuserdata(L, NULL); break;
    default: lua_pushinteger(L, (lua_Integer)(int8_t)u8(g)); break;
  }
}

/* A value for a position with the given hint; now and then anything instead. */
static void gen(lua_State *L, prog *g, char hint, int depth) {
  luaL_checkstack(L, 8, "gen");
  uint8_t h = u8(g);   /* read for every position, so a program's layout does not depend on hints */
  if (hint == 'x' || h >= 224) {
    gen_any(L, g, depth);
    return;
  }
  switch (hint) {
    case 's':
    case 'N': u8(g) & 1 ? push_word(L, g) : push_bytes(L, g, 16); break;
    case 'n': push_number(L, g); break;
    case 'i': push_int(L, g); break;
    case 'b': lua_pushboolean(L, u8(g) & 1); break;
    case 'T': push_tensor(L, g); break;
    case 'I': push_image(L, g); break;
    case 'A': push_audio(L, g); break;
    case 'o': push_options(L, g, depth); break;
    case 'P': push_policy(L, g, depth); break;
    case 'm':
      if (u8(g) & 1) push_options(L, g, depth);
      else push_bytes(L, g, 24);
      break;
    case 'f': push_callback(L, g); break;
    case 'w': push_slot(L, u8(g)); break;
    case 'p': push_path(L, g); break;
    case 'd': push_word(L, g); break;
    case 'S': {
      int n = u8(g) % 5;
      lua_createtable(L, n, 0);
      for (int i = 1; i <= n; i++) {
        push_int(L, g);
        lua_rawseti(L, -2, i);
      }
      break;
    }
    default: gen_any(L, g, depth); break;
  }
}

/* Pushes the arguments for a hint string; returns how many. */
static int gen_args(lua_State *L, prog *g, const char *hints) {
  int want = (int)strlen(hints);
  uint8_t k = u8(g);
  /* Mostly as many as the function takes, sometimes fewer or more. */
  int n = k < 160 ? want : k < 220 ? (want ? k % want : 0) : want + 1 + k % 3;
  luaL_checkstack(L, n + 8, "args");
  for (int i = 0; i < n; i++) gen(L, g, i < want ? hints[i] : 'x', 0);
  return n;
}

/* ------------------------------------------------------------------ running a program */

static int run(lua_State *L, prog *g, int in_callback);

/* The body of every generated function: upvalue 1 is its slice of the input. */
static int callback(lua_State *L) {
  /* Objects made by finalizers that lua_close runs get no finalizer themselves (Lua's rule), so
  ** a callback then could only leak. */
  if (g_depth >= MAX_DEPTH || g_ops <= 0 || g_closing) return 0;
  size_t n;
  const char *code = lua_tolstring(L, lua_upvalueindex(1), &n);
  prog g = {(const uint8_t *)code, n, 0};
  g_depth++;
  int r = run(L, &g, 1);
  g_depth--;
  return r;
}

static void push_callback(lua_State *L, prog *g) {
  uint8_t k = u8(g);
  size_t len = k % 48;
  if (len > g->n - g->i) len = g->n - g->i;
  lua_pushlstring(L, (const char *)g->p + g->i, len);
  g->i += len;
  lua_pushcclosure(L, callback, 1);
}

/* Resolves a dotted name in the module (kept at upvalue-free registry field "fuzz.module"), or in
** its internal table for "internal.*". */
static void push_api(lua_State *L, const char *name) {
  const char *dot = strchr(name, '.');
  if (dot && strncmp(name, "internal.", 9) == 0) {
    lua_getfield(L, LUA_REGISTRYINDEX, "tbtrace.internal");
    if (!lua_istable(L, -1)) return;
    lua_getfield(L, -1, dot + 1);
    lua_remove(L, -2);
    return;
  }
  lua_getfield(L, LUA_REGISTRYINDEX, "fuzz.module");
  if (dot) {
    lua_pushlstring(L, name, (size_t)(dot - name));
    lua_gettable(L, -2);
    lua_remove(L, -2);
    name = dot + 1;
    if (!lua_istable(L, -1)) return;   /* calling it then raises, as it should */
  }
  lua_getfield(L, -1, name);
  lua_remove(L, -2);
}

enum {
  OP_CALL, OP_METHOD, OP_META, OP_SET, OP_DROP, OP_GC, OP_CALL_SLOT, OP_RESUME,
  OP_YIELD, OP_RETURN, OP_ERROR, OP_FAULT, OP_FILE, OP_COUNT
};

/* Prints "what.name(args)": strings (cut at 40 bytes), numbers, one level of tables, type
** names for the rest. Metamethods are not called. */
static void trace_call(lua_State *L, const char *what, const char *name, int nargs) {
  fprintf(stderr, "%*s%s.%s(", 2 * g_depth, "", what, name);
  int top = lua_gettop(L);
  for (int i = top - nargs + 1; i <= top; i++) {
    size_t n;
    const char *s;
    if (lua_type(L, i) == LUA_TSTRING) {
      s = lua_tolstring(L, i, &n);
      fprintf(stderr, "%s\"%.*s%s\"", i > top - nargs + 1 ? ", " : "", n > 40 ? 40 : (int)n, s,
              n > 40 ? "..." : "");
      continue;
    }
    if (lua_type(L, i) == LUA_TNUMBER) {
      lua_pushvalue(L, i);
      s = lua_tolstring(L, -1, &n);
    } else if (lua_type(L, i) == LUA_TTABLE) {
      /* One level of a table: keys and value types. */
      fprintf(stderr, "%s{", i > top - nargs + 1 ? ", " : "");
      lua_pushnil(L);
      while (lua_next(L, i)) {
        /* Copies, so lua_tostring does not convert the key lua_next needs. */
        lua_pushvalue(L, -2);
        lua_pushvalue(L, -2);
        int kt = lua_type(L, -2), vt = lua_type(L, -1);
        fprintf(stderr, "%s=%s ",
                kt == LUA_TSTRING || kt == LUA_TNUMBER ? lua_tostring(L, -2) : lua_typename(L, kt),
                vt == LUA_TNUMBER ? lua_tostring(L, -1) : lua_typename(L, vt));
        lua_pop(L, 3);
      }
      fprintf(stderr, "}");
      continue;
    } else {
      s = lua_typename(L, lua_type(L, i));
      lua_pushnil(L);
    }
    fprintf(stderr, "%s%s", i > top - nargs + 1 ? ", " : "", s);
    lua_pop(L, 1);
  }
  fprintf(stderr, ")\n");
}

static void close_thread(lua_State *co, lua_State *from) {
#if LUA_VERSION_RELEASE_NUM >= 50406
  lua_closethread(co, from);
#else
  (void)from;
  lua_resetthread(co);
#endif
}

/* One op, run protected: the prog (a light userdata) and the op code are its arguments. */
static int op_protected(lua_State *L) {
  prog *g = lua_touserdata(L, 1);
  int op = (int)lua_tointeger(L, 2);
  lua_settop(L, 0);
  /* The slot an op works on, and the one its result goes to (the same for a call). */
  int slot = u8(g), dest = slot;
  if (op == OP_METHOD || op == OP_META || op == OP_CALL_SLOT) dest = u8(g);
  int nargs;
  switch (op) {
    case OP_CALL: {
      size_t total = NAPI + g_nextra;
      size_t which = u8(g) % total;
      const char *name = which < NAPI ? g_api[which].name : g_extra[which - NAPI];
      push_api(L, name);
      nargs = gen_args(L, g, which < NAPI ? g_api[which].args : "xxx");
      if (g_trace) trace_call(L, "tbtrace", name, nargs);
      break;
    }
    case OP_METHOD: {
      const api *m = &g_methods[u8(g) % NMETHODS];
      push_slot(L, slot);
      int self = lua_gettop(L);
      lua_getfield(L, self, m->name);   /* raises for values without fields: fine */
      lua_pushvalue(L, self);
      lua_remove(L, self);
      nargs = 1 + gen_args(L, g, m->args);
      if (g_trace) trace_call(L, "writer", m->name, nargs);
      break;
    }
    case OP_META: {
      push_slot(L, slot);
      if (!lua_getmetatable(L, -1)) return 0;
      const char *mm = g_metamethods[u8(g) % NMETA];
      lua_getfield(L, -1, mm);
      lua_remove(L, -2);
      lua_insert(L, -2);
      nargs = 1 + (u8(g) & 1);
      if (nargs == 2) gen_any(L, g, 0);
      if (g_trace) trace_call(L, "metatable", mm, nargs);
      break;
    }
    case OP_SET:
      gen_any(L, g, 0);
      set_slot(L, slot);
      return 0;
    case OP_DROP:
      lua_pushnil(L);
      set_slot(L, slot);
      return 0;
    case OP_GC:
      lua_gc(L, (u8(g) & 1) ? LUA_GCCOLLECT : LUA_GCSTEP, 0);
      return 0;
    case OP_CALL_SLOT:
      push_slot(L, slot);
      nargs = gen_args(L, g, "xx");
      if (g_trace) trace_call(L, "slot", luaL_typename(L, -nargs - 1), nargs);
      break;
    case OP_RESUME: {
      push_slot(L, slot);
      lua_State *co = lua_tothread(L, -1);
      if (!co || co == L) return 0;
      int st = lua_status(co);
      if (st != LUA_YIELD && (st != LUA_OK || lua_gettop(co) == 0)) return 0;
      int n = u8(g) % 3;
      luaL_checkstack(co, n + 8, "resume");
      for (int i = 0; i < n; i++) gen_any(L, g, 0);
      lua_xmove(L, co, n);
      int nres;
      int rc = lua_resume(co, L, n, &nres);
      if (rc == LUA_OK || rc == LUA_YIELD) lua_pop(co, nres);
      else close_thread(co, L);   /* a dead coroutine: run its pending __close */
      return 0;
    }
    case OP_FAULT: {
      int kind = u8(g) % 5;
      __atomic_store_n(&g_fault_countdown, u8(g) % 4, __ATOMIC_RELAXED);
      __atomic_store_n(&g_fault_kind, kind, __ATOMIC_RELAXED);
      return 0;
    }
    case OP_FILE: {
      /* f<slot % 4> in the scratch directory: raw bytes, or records framed around them, for
      ** the readers to meet files the writer would never make. */
      int framed = u8(g) & 1, count = 1 + u8(g) % 3;
      char name[8];
      snprintf(name, sizeof name, "f%d", slot % 4);
      FILE *f = fopen(name, "wb");
      if (!f) return 0;
      for (int i = 0; i < count; i++) {
        uint8_t buf[256 + TBT_RECORD_OVERHEAD];
        size_t n = u8(g) % 64;
        for (size_t k = 0; k < n; k++) buf[k] = u8(g);
        if (framed) {
          uint8_t rec[sizeof buf];
          n = tbt_record_frame(rec, buf, n);
          memcpy(buf, rec, n);
        }
        fwrite(buf, 1, n, f);
      }
      fclose(f);
      return 0;
    }
    default:
      return 0;
  }
  lua_call(L, nargs, 1);
  if (g_trace) {
    lua_pushvalue(L, -1);
    fprintf(stderr, "%*s  -> %s\n", 2 * g_depth, "",
            lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER ? lua_tostring(L, -1)
            : lua_type(L, -1) == LUA_TBOOLEAN ? (lua_toboolean(L, -1) ? "true" : "false")
            : luaL_typename(L, -1));
    lua_pop(L, 1);
  }
  set_slot(L, dest);
  return 0;
}

/* Runs ops until the program or the budget ends. In a callback, returns the callback's
** results (pushed on L); RETURN, ERROR and YIELD act on the callback itself. */
static int run(lua_State *L, prog *g, int in_callback) {
  while (more(g) && g_ops > 0) {
    g_ops--;
    int op = u8(g) % OP_COUNT;
    if (g_trace && op != OP_CALL && op != OP_METHOD && op != OP_META && op != OP_CALL_SLOT) {
      static const char *const names[] = {"call", "method", "meta", "set", "drop", "gc",
                                          "call slot", "resume", "yield", "return", "error",
                                          "fault", "file"};
      fprintf(stderr, "%*s[%s]\n", 2 * g_depth, "", names[op]);
    }
    if (in_callback && op == OP_RETURN) {
      int n = u8(g) % 4;
      luaL_checkstack(L, n + 8, "return");
      for (int i = 0; i < n; i++) gen(L, g, "ixsb"[u8(g) % 4], 0);
      return n;
    }
    /* Raising and yielding leave the callback for good: it counts as returned. */
    if (in_callback && op == OP_ERROR) {
      gen_any(L, g, 0);
      g_depth--;
      return lua_error(L);
    }
    if (in_callback && op == OP_YIELD) {
      if (!lua_isyieldable(L)) continue;
      gen_any(L, g, 0);
      g_depth--;
      return lua_yield(L, 1);
    }
    /* A callback left by an error inside an op (a stack overflow) cannot count itself out. */
    if (!in_callback) g_depth = 0;
    luaL_checkstack(L, 8, "op");
    int top = lua_gettop(L);
    lua_pushcfunction(L, op_protected);
    lua_pushlightuserdata(L, g);
    lua_pushinteger(L, op);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK && g_trace)
      fprintf(stderr, "%*s  -> error: %s\n", 2 * g_depth, "",
              lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : luaL_typename(L, -1));
    lua_settop(L, top);
  }
  return 0;
}

/* ------------------------------------------------------------------ set-up and reset */

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  (void)st;
  (void)type;
  if (ftw->level > 0) remove(path);
  return 0;
}

static void empty_scratch(void) {
  nftw(g_base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void remove_scratch(void) {
  empty_scratch();
  rmdir(g_base);
}

/* Lists module functions g_api does not name, so new ones get fuzzed too. */
static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void find_extras(lua_State *L, int mod) {
  static const char *const subs[] = {NULL, "experimental", "policy"};
  for (size_t s = 0; s < 3; s++) {
    if (subs[s]) {
      if (lua_getfield(L, mod, subs[s]) != LUA_TTABLE) {
        lua_pop(L, 1);
        continue;
      }
    } else {
      lua_pushvalue(L, mod);
    }
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      if (lua_type(L, -2) == LUA_TSTRING && lua_isfunction(L, -1) && g_nextra < 64) {
        char name[128];
        snprintf(name, sizeof name, "%s%s%s", subs[s] ? subs[s] : "", subs[s] ? "." : "",
                 lua_tostring(L, -2));
        int known = 0;
        for (size_t i = 0; i < NAPI; i++) known |= strcmp(g_api[i].name, name) == 0;
        if (!known) g_extra[g_nextra++] = strdup(name);
      }
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  qsort(g_extra, g_nextra, sizeof *g_extra, by_name);
  for (size_t i = 0; i < g_nextra; i++)
    fprintf(stderr, "fuzz_lua_args: tbtrace.%s has no argument hints; fuzzed with any arguments\n",
            g_extra[i]);
}

static lua_State *new_state(void) {
  lua_State *L = lua_newstate(lua_alloc, NULL);
  REQUIRE(L);
  lua_atpanic(L, on_panic);
  luaL_openlibs(L);
  luaL_requiref(L, "tbtrace", luaopen_tbtrace, 0);
  lua_setfield(L, LUA_REGISTRYINDEX, "fuzz.module");
  lua_createtable(L, NSLOTS, 0);
  g_slots_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return L;
}

/* The harness works in the scratch directory, so libFuzzer's own relative paths (corpus
** directories, artifact prefix, dictionary) are made absolute before it reads them. */
static void absolute_args(int argc, char **argv, const char *cwd) {
  static const char *const flags[] = {"-artifact_prefix=", "-exact_artifact_path=", "-dict=",
                                      "-merge_control_file=", "-features_dir=", "-seed_inputs=",
                                      "-stop_file="};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *path = a;
    size_t flag = 0;
    if (a[0] == '-') {
      path = NULL;
      for (size_t k = 0; k < sizeof flags / sizeof flags[0]; k++)
        if (strncmp(a, flags[k], strlen(flags[k])) == 0) {
          flag = strlen(flags[k]);
          path = a + flag;
        }
    }
    if (!path || !*path || path[0] == '/' || strchr(path, ',')) continue;
    size_t n = strlen(a) + strlen(cwd) + 2;
    char *abs = malloc(n);
    REQUIRE(abs);
    snprintf(abs, n, "%.*s%s/%s", (int)flag, a, cwd, path);
    argv[i] = abs;   /* kept for the process's life, as argv is */
  }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  char *cwd = getcwd(NULL, 0);
  REQUIRE(cwd);
  absolute_args(*argc, *argv, cwd);
  free(cwd);
  /* A policy from the environment would change every export. */
  unsetenv("TBTRACE_POLICY");
  g_trace = getenv("TBT_FUZZ_TRACE") && strcmp(getenv("TBT_FUZZ_TRACE"), "1") == 0;
  const char *tmp = getenv("TMPDIR");
  snprintf(g_base, sizeof g_base, "%s/tbt-fuzz-%ld", tmp && *tmp ? tmp : "/tmp", (long)getpid());
  REQUIRE(tbt_mkdir_p(g_base, 0700) == 0);
  char *real = realpath(g_base, NULL);
  REQUIRE(real && strlen(real) < sizeof g_base && !strstr(real, ".."));
  strcpy(g_base, real);
  free(real);
  g_base_len = strlen(g_base);
  REQUIRE(chdir(g_base) == 0);
  atexit(remove_scratch);
  tbt_io_set_hooks(&g_hooks);

  lua_State *L = new_state();
  lua_getfield(L, LUA_REGISTRYINDEX, "fuzz.module");
  find_extras(L, lua_gettop(L));
  lua_close(L);

  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  g_lowest_fd = dup(0);
  REQUIRE(g_lowest_fd >= 0);
  close(g_lowest_fd);
  g_ops = MAX_OPS;
  g_depth = 0;
  __atomic_store_n(&g_fault_kind, 0, __ATOMIC_RELAXED);
  lua_State *L = new_state();
  prog g = {data, size, 0};
  run(L, &g, 0);
  g_closing = 1;
  lua_close(L);
  g_closing = 0;
  REQUIRE(g_lua_bytes == 0);

  /* Closing the state must not leave a callback into it behind. */
  tbt_record_cond cond = tbt_record_if(1);
  if (cond.mode == TBT_RECORD_CALLBACK) {
    fprintf(stderr, "fuzz_lua_args: a record_if condition outlived its lua_State\n");
    abort();
  }

  /* Back to a clean thread and process state for the next input. */
  __atomic_store_n(&g_fault_kind, 0, __ATOMIC_RELAXED);
  tbt_trace_off();
  tbt_set_default_writer(NULL);
  tbt_unset_step();
  tbt_thread_name(NULL);
  empty_scratch();

  int probe = dup(0);
  if (probe != g_lowest_fd) {
    for (int fd = g_lowest_fd; fd < probe; fd++) {
      char link[64], target[512];
      snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
      ssize_t n = readlink(link, target, sizeof target - 1);
      target[n > 0 ? n : 0] = '\0';
      fprintf(stderr, "fuzz_lua_args: descriptor %d left open: %s\n", fd, target);
    }
    abort();
  }
  close(probe);
  return 0;
}

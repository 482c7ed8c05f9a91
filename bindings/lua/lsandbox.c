/*
** lsandbox.c: bounded file reading, read-only facts and the policy process (see lsandbox.h).
**
** The policy process is forked (never exec'd: the host's own Lua and policy code are already in
** its image) and talks to the host over a socket pair, one request and one answer per export:
**   frame = u32 length (LE) | u8 kind | payload
**   host -> process: 'R' facts
**   process -> host: 'O' a table (the load's info, or an export's decisions), 'E' an error
**                    message, 'M' a message for the memory budget (the host restarts the process)
** Tables travel in a small self-describing encoding (enc / dec below). What the process is
** running (the hook and the policy's file:line) is kept in a page shared with the host, so a
** process killed at its deadline can still be named in the error.
*/
#define _GNU_SOURCE   /* close_range */
#include "lsandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

extern const char tbt_lua_policy[];
extern const size_t tbt_lua_policy_len;

#define PROCESS_MT "tbtrace.policy_process"
#define CTX_MT "tbtrace.ctx"
#define DEFAULT_TIME 1.0        /* seconds per export */
#define DEFAULT_MEMORY 64       /* MiB per policy */
#define MAX_FRAME (4u << 20)    /* no table a policy exchanges comes near this */
#define MAX_DEPTH 4

/* ----------------------------------------------------------------- readfile */

static const char *file_kind(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

/* Opened without blocking (a FIFO with no writer would block open), checked to be a regular file
** before any read, and read no further than max + 1 bytes whatever its size says. */
static int l_readfile(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  lua_Integer max = luaL_checkinteger(L, 2);
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    luaL_pushfail(L);
    lua_pushstring(L, strerror(errno));
    return 2;
  }
  struct stat st;
  const char *why = NULL;
  if (fstat(fd, &st) != 0) why = strerror(errno);
  else if (!S_ISREG(st.st_mode)) why = lua_pushfstring(L, "not a regular file (%s)", file_kind(st.st_mode));
  else if (st.st_size > max) why = lua_pushfstring(L, "larger than %I bytes", max);
  if (why) {
    close(fd);
    luaL_pushfail(L);
    lua_pushstring(L, why);
    return 2;
  }
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  size_t total = 0;
  for (;;) {
    char *p = luaL_prepbuffer(&b);
    ssize_t n = read(fd, p, LUAL_BUFFERSIZE);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      close(fd);
      luaL_pushfail(L);
      lua_pushstring(L, strerror(e));
      return 2;
    }
    if (n == 0) break;
    luaL_addsize(&b, (size_t)n);
    total += (size_t)n;
    if (total > (size_t)max) {   /* it grew since fstat */
      close(fd);
      luaL_pushfail(L);
      lua_pushfstring(L, "larger than %I bytes", max);
      return 2;
    }
  }
  close(fd);
  luaL_pushresult(&b);
  return 1;
}

/* ----------------------------------------------------------------- read-only facts */

/* ctx is a userdata over a private copy of the facts: no rawset, next or setmetatable reaches it. */
static int ctx_index(lua_State *L) {
  lua_getiuservalue(L, 1, 1);
  lua_pushvalue(L, 2);
  lua_rawget(L, -2);
  return 1;
}

static int ctx_newindex(lua_State *L) {
  const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : luaL_typename(L, 2);
  luaL_where(L, 2);
  lua_pushfstring(L, "ctx is read-only (tried to set '%s')", k);
  lua_concat(L, 2);
  return lua_error(L);
}

static int ctx_next(lua_State *L) {
  lua_settop(L, 2);
  if (lua_next(L, lua_upvalueindex(1))) return 2;
  lua_pushnil(L);
  return 1;
}

static int ctx_pairs(lua_State *L) {
  lua_getiuservalue(L, 1, 1);
  lua_pushcclosure(L, ctx_next, 1);
  lua_pushnil(L);
  lua_pushnil(L);
  return 3;
}

/* Pushes a read-only view of a copy of the table at idx; tables in it (ctx.cluster) become
** read-only views too. */
static void freeze(lua_State *L, int idx, int depth) {
  idx = lua_absindex(L, idx);
  luaL_checkstack(L, 6, "facts nest too deep");
  lua_newuserdatauv(L, 0, 1);
  lua_createtable(L, 0, 16);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -1) == LUA_TTABLE && depth < MAX_DEPTH) {
      freeze(L, -1, depth + 1);
      lua_replace(L, -2);
    }
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, -4);
  }
  lua_setiuservalue(L, -2, 1);
  if (luaL_newmetatable(L, CTX_MT)) {
    static const luaL_Reg mt[] = {
      {"__index", ctx_index}, {"__newindex", ctx_newindex}, {"__pairs", ctx_pairs}, {NULL, NULL}
    };
    luaL_setfuncs(L, mt, 0);
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");   /* getmetatable(ctx) is false */
  }
  lua_setmetatable(L, -2);
}

static int l_freeze(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  freeze(L, 1, 0);
  return 1;
}

static void write_fd(int fd, const char *s, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    s += w;
    n -= (size_t)w;
  }
}

static int l_stderr(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  write_fd(2, s, n);
  return 0;
}

/* ----------------------------------------------------------------- encoding */

typedef struct {
  char *p;
  size_t n, cap;
  const char *err;   /* set once: the first failure */
} wbuf;

static void wb_put(wbuf *b, const void *d, size_t n) {
  if (b->err) return;
  if (b->n + n > MAX_FRAME) {
    b->err = "the table is too large";
    return;
  }
  if (b->n + n > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + n) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
      b->err = "not enough memory";
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->n, d, n);
  b->n += n;
}

static void wb_u32(wbuf *b, uint32_t v) {
  unsigned char c[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                        (unsigned char)(v >> 24)};
  wb_put(b, c, 4);
}

/* Strings, numbers, booleans, and tables of those keyed by strings or integers. Never raises. */
static void enc(lua_State *L, wbuf *b, int idx, int depth) {
  idx = lua_absindex(L, idx);
  switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
      size_t n;
      const char *s = lua_tolstring(L, idx, &n);
      wb_put(b, "s", 1);
      wb_u32(b, (uint32_t)(n > MAX_FRAME ? MAX_FRAME + 1 : n));
      wb_put(b, s, n);
      return;
    }
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx)) {
        lua_Integer i = lua_tointeger(L, idx);
        wb_put(b, "i", 1);
        wb_put(b, &i, sizeof i);
      } else {
        lua_Number d = lua_tonumber(L, idx);
        wb_put(b, "f", 1);
        wb_put(b, &d, sizeof d);
      }
      return;
    case LUA_TBOOLEAN:
      wb_put(b, lua_toboolean(L, idx) ? "T" : "F", 1);
      return;
    case LUA_TTABLE: {
      if (depth >= MAX_DEPTH || !lua_checkstack(L, 4)) {
        b->err = "the table nests too deep";
        return;
      }
      uint32_t count = 0;
      lua_pushnil(L);
      while (lua_next(L, idx)) {
        count++;
        lua_pop(L, 1);
      }
      wb_put(b, "t", 1);
      wb_u32(b, count);
      lua_pushnil(L);
      while (lua_next(L, idx)) {
        int kt = lua_type(L, -2);
        if (kt != LUA_TSTRING && !(kt == LUA_TNUMBER && lua_isinteger(L, -2))) {
          b->err = "a key is neither a string nor an integer";
        }
        enc(L, b, -2, depth + 1);
        enc(L, b, -1, depth + 1);
        lua_pop(L, 1);
        if (b->err) {
          lua_pop(L, 1);
          return;
        }
      }
      return;
    }
    default:
      if (!b->err) b->err = "a value is neither a string, a number, a boolean nor a table";
      return;
  }
}

typedef struct {
  const char *p;
  size_t n, off;
} rbuf;

static int rb_get(rbuf *r, void *d, size_t n) {
  if (r->n - r->off < n) return -1;
  memcpy(d, r->p + r->off, n);
  r->off += n;
  return 0;
}

static int rb_u32(rbuf *r, uint32_t *v) {
  unsigned char c[4];
  if (rb_get(r, c, 4)) return -1;
  *v = (uint32_t)c[0] | (uint32_t)c[1] << 8 | (uint32_t)c[2] << 16 | (uint32_t)c[3] << 24;
  return 0;
}

/* Pushes the value at r; returns 0, or -1 on malformed input (with nothing pushed). */
static int dec(lua_State *L, rbuf *r, int depth) {
  char tag;
  if (rb_get(r, &tag, 1) || !lua_checkstack(L, 4)) return -1;
  switch (tag) {
    case 's': {
      uint32_t n;
      if (rb_u32(r, &n) || r->n - r->off < n) return -1;
      lua_pushlstring(L, r->p + r->off, n);
      r->off += n;
      return 0;
    }
    case 'i': {
      lua_Integer i;
      if (rb_get(r, &i, sizeof i)) return -1;
      lua_pushinteger(L, i);
      return 0;
    }
    case 'f': {
      lua_Number d;
      if (rb_get(r, &d, sizeof d)) return -1;
      lua_pushnumber(L, d);
      return 0;
    }
    case 'T': case 'F':
      lua_pushboolean(L, tag == 'T');
      return 0;
    case 't': {
      uint32_t count;
      if (depth >= MAX_DEPTH || rb_u32(r, &count) || count > r->n - r->off) return -1;
      lua_createtable(L, 0, (int)(count < 64 ? count : 64));
      for (uint32_t i = 0; i < count; i++) {
        if (dec(L, r, depth + 1)) {
          lua_pop(L, 1);
          return -1;
        }
        if (lua_type(L, -1) != LUA_TSTRING && !lua_isinteger(L, -1)) {
          lua_pop(L, 2);
          return -1;
        }
        if (dec(L, r, depth + 1)) {
          lua_pop(L, 2);
          return -1;
        }
        lua_rawset(L, -3);
      }
      return 0;
    }
    default:
      return -1;
  }
}

/* ----------------------------------------------------------------- frames */

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int send_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int send_frame(int fd, char kind, const char *p, size_t n) {
  unsigned char h[5] = {(unsigned char)n, (unsigned char)(n >> 8), (unsigned char)(n >> 16),
                        (unsigned char)(n >> 24), (unsigned char)kind};
  return send_all(fd, (const char *)h, 5) || send_all(fd, p, n) ? -1 : 0;
}

enum { RECV_OK = 0, RECV_EOF = -1, RECV_TIMEOUT = -2, RECV_ERROR = -3 };

/* Reads exactly n bytes by deadline (monotonic ns; < 0: no deadline). */
static int recv_all(int fd, char *p, size_t n, int64_t deadline) {
  while (n > 0) {
    if (deadline >= 0) {
      int64_t left = deadline - now_ns();
      if (left <= 0) return RECV_TIMEOUT;
      struct pollfd pfd = {fd, POLLIN, 0};
      int ms = (int)((left + 999999) / 1000000);
      int r = poll(&pfd, 1, ms);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return RECV_ERROR;
      if (r == 0) continue;   /* the loop head decides whether time is up */
    }
    ssize_t got = recv(fd, p, n, 0);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (got < 0) return errno == ECONNRESET ? RECV_EOF : RECV_ERROR;
    if (got == 0) return RECV_EOF;
    p += got;
    n -= (size_t)got;
  }
  return RECV_OK;
}

static int recv_header(int fd, char *kind, uint32_t *len, int64_t deadline) {
  unsigned char h[5];
  int rc = recv_all(fd, (char *)h, 5, deadline);
  if (rc) return rc;
  *len = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
  *kind = (char)h[4];
  return *len > MAX_FRAME ? RECV_ERROR : RECV_OK;
}

/* ----------------------------------------------------------------- the process, host side */

/* What the process is running, written by the process, read by the host once it is dead. */
typedef struct {
  char hook[128];    /* "hook 'name'", "the top level", "a finalizer (__gc) after hook 'name'" */
  char file[320];    /* with line, where the policy's code is */
  int line;          /* 0: file alone says it */
} shared_page;

typedef struct {
  pid_t pid;              /* 0: not running */
  int fd;                 /* -1: not running */
  shared_page *shm;
  char *path;
  char *cwd;              /* at load: a restart finds a relative path where the load did */
  lua_Integer instruction_limit;
  double host_time;       /* the host's budgets (0: the policy's, else the default) */
  lua_Integer host_memory;
  double time_budget;     /* in force */
  lua_Integer memory_budget;
} process;

static void process_stop(process *p) {
  if (p->fd >= 0) {
    close(p->fd);
    p->fd = -1;
  }
  if (p->pid > 0) {
    kill(p->pid, SIGKILL);
    while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR) {}
    p->pid = 0;
  }
}

/* "hook 'name' at p.lua:3" or "" when the process had not reached the policy's code. */
static const char *push_where(lua_State *L, const shared_page *s) {
  char hook[sizeof s->hook], file[sizeof s->file];
  memcpy(hook, s->hook, sizeof hook);
  memcpy(file, s->file, sizeof file);
  hook[sizeof hook - 1] = file[sizeof file - 1] = '\0';
  if (!hook[0]) return lua_pushstring(L, "");
  if (!file[0]) return lua_pushfstring(L, " %s", hook);
  if (s->line <= 0) return lua_pushfstring(L, " %s at %s", hook, file);
  return lua_pushfstring(L, " %s at %s:%d", hook, file, s->line);
}

static void push_time_error(lua_State *L, process *p) {
  char num[32];
  snprintf(num, sizeof num, "%g", p->time_budget);   /* as people write it: 1, 0.5 */
  push_where(L, p->shm);
  lua_pushfstring(L, "policy '%s':%s exceeded the time budget (%s s); the policy restarts at the next export",
                  p->path, lua_tostring(L, -1), num);
  lua_remove(L, -2);
}

static void push_death_error(lua_State *L, process *p, int status) {
  char how[64];
  if (WIFSIGNALED(status)) snprintf(how, sizeof how, "signal %d", WTERMSIG(status));
  else snprintf(how, sizeof how, "exit status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  push_where(L, p->shm);
  lua_pushfstring(L, "policy '%s': the policy process ended (%s)%s; the policy restarts at the next export",
                  p->path, how, lua_tostring(L, -1));
  lua_remove(L, -2);
}

/* After the process stopped answering: reaps it and pushes why. */
static void push_lost(lua_State *L, process *p, int rc) {
  if (rc == RECV_TIMEOUT) {
    process_stop(p);
    push_time_error(L, p);
    return;
  }
  int status = 0;
  if (p->fd >= 0) close(p->fd);
  p->fd = -1;
  if (p->pid > 0) {
    /* It closed its end: it is dying or dead. */
    pid_t r;
    while ((r = waitpid(p->pid, &status, 0)) < 0 && errno == EINTR) {}
    if (r < 0) status = 0;
    p->pid = 0;
  }
  push_death_error(L, p, status);
}

static void child_main(process *p, int fd);

/* Reads one answer into a userdata buffer (pushed). Returns RECV_*; on RECV_OK *kind and the
** buffer are set. */
static int recv_answer(lua_State *L, process *p, int64_t deadline, char *kind, const char **data,
                       uint32_t *len) {
  int rc = recv_header(p->fd, kind, len, deadline);
  if (rc) return rc;
  char *buf = lua_newuserdatauv(L, *len ? *len : 1, 0);
  rc = recv_all(p->fd, buf, *len, deadline);
  if (rc) {
    lua_pop(L, 1);
    return rc;
  }
  *data = buf;
  return RECV_OK;
}

/* Forks the process and waits for its load. Returns 0 with the info table pushed, or -1 with the
** message pushed. */
static int process_start(lua_State *L, process *p, int64_t deadline) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    lua_pushfstring(L, "policy '%s': cannot start the policy process: %s", p->path, strerror(errno));
    return -1;
  }
  memset(p->shm, 0, sizeof *p->shm);
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(sv[0]);
    close(sv[1]);
    lua_pushfstring(L, "policy '%s': cannot start the policy process: %s", p->path, strerror(e));
    return -1;
  }
  if (pid == 0) {
    close(sv[0]);
    child_main(p, sv[1]);   /* never returns */
  }
  close(sv[1]);
  p->pid = pid;
  p->fd = sv[0];
  char kind;
  const char *data;
  uint32_t len;
  int rc = recv_answer(L, p, deadline, &kind, &data, &len);
  if (rc) {
    push_lost(L, p, rc);
    return -1;
  }
  if (kind != 'O') {
    lua_pushlstring(L, data, len);
    lua_remove(L, -2);
    process_stop(p);   /* it exits after a failed load */
    return -1;
  }
  rbuf r = {data, len, 0};
  if (dec(L, &r, 0) || !lua_istable(L, -1)) {
    process_stop(p);
    lua_pushfstring(L, "policy '%s': the policy process sent a malformed answer", p->path);
    return -1;
  }
  lua_remove(L, -2);
  /* The policy's own budgets, unless the host set them. */
  double t = p->host_time;
  if (t <= 0) {
    t = DEFAULT_TIME;
    if (lua_getfield(L, -1, "time_budget") == LUA_TNUMBER) t = lua_tonumber(L, -1);
    lua_pop(L, 1);
  }
  p->time_budget = t;
  lua_pushnumber(L, t);
  lua_setfield(L, -2, "time_budget");
  lua_pushinteger(L, p->memory_budget);   /* the process applied the policy's own */
  if (lua_getfield(L, -2, "memory_budget") == LUA_TNUMBER && p->host_memory <= 0)
    p->memory_budget = lua_tointeger(L, -1);
  lua_pop(L, 2);
  lua_pushinteger(L, p->memory_budget);
  lua_setfield(L, -2, "memory_budget");
  return 0;
}

static process *check_process(lua_State *L) {
  return luaL_checkudata(L, 1, PROCESS_MT);
}

/* process:resolve(facts) -> decisions; raises the policy's error or the budget's. */
static int process_resolve(lua_State *L) {
  process *p = check_process(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  if (!p->path) return luaL_error(L, "the policy process is closed");
  wbuf b = {0};
  enc(L, &b, 2, 0);
  if (b.err) {
    free(b.p);
    return luaL_error(L, "bad facts for policy '%s': %s (strings, numbers and booleans only)", p->path,
                      b.err);
  }
  int64_t deadline = now_ns() + (int64_t)(p->time_budget * 1e9);
  int started = 0;
  for (int attempt = 0;; attempt++) {
    if (p->pid == 0) {
      if (process_start(L, p, deadline)) {
        free(b.p);
        return lua_error(L);
      }
      lua_pop(L, 1);
      started = 1;
    }
    if (send_frame(p->fd, 'R', b.p, b.n) == 0) break;
    /* It ended between exports (the thread that forked it may be gone): start it once more. */
    process_stop(p);
    if (attempt > 0 || started) {
      free(b.p);
      return luaL_error(L, "policy '%s': cannot reach the policy process", p->path);
    }
  }
  free(b.p);
  char kind;
  const char *data;
  uint32_t len;
  int rc = recv_answer(L, p, deadline, &kind, &data, &len);
  if (rc) {
    push_lost(L, p, rc);
    return lua_error(L);
  }
  if (kind == 'O') {
    rbuf r = {data, len, 0};
    if (dec(L, &r, 0) == 0) return 1;
    process_stop(p);
    return luaL_error(L, "policy '%s': the policy process sent a malformed answer", p->path);
  }
  if (kind == 'M') process_stop(p);   /* a fresh process for the next export */
  lua_pushlstring(L, data, len);
  return lua_error(L);
}

/* Policy objects alive in this process. The collector cannot see that each holds a process, so
** loading many policies without keeping them collects the dropped ones now and then. */
static int g_live;

static int process_close(lua_State *L) {
  process *p = check_process(L);
  if (p->shm) __atomic_fetch_sub(&g_live, 1, __ATOMIC_RELAXED);
  process_stop(p);
  if (p->shm) munmap(p->shm, sizeof *p->shm);
  p->shm = NULL;
  free(p->path);
  free(p->cwd);
  p->path = p->cwd = NULL;
  return 0;
}

/* spawn(path, {instruction_limit=, time_budget=, memory_budget=}) -> process, info */
static int l_spawn(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  if (__atomic_load_n(&g_live, __ATOMIC_RELAXED) >= 16) lua_gc(L, LUA_GCCOLLECT);
  process *p = lua_newuserdatauv(L, sizeof *p, 0);
  memset(p, 0, sizeof *p);
  p->fd = -1;
  if (luaL_newmetatable(L, PROCESS_MT)) {
    static const luaL_Reg methods[] = {{"resolve", process_resolve}, {"close", process_close}, {NULL, NULL}};
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, process_close);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, process_close);
    lua_setfield(L, -2, "__close");
  }
  lua_setmetatable(L, -2);
  p->path = strdup(path);
  p->cwd = getcwd(NULL, 0);   /* NULL (unreachable cwd): relative to wherever the host is */
  void *shm = mmap(NULL, sizeof *p->shm, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (!p->path || shm == MAP_FAILED) return luaL_error(L, "not enough memory");
  p->shm = shm;
  __atomic_fetch_add(&g_live, 1, __ATOMIC_RELAXED);
  lua_getfield(L, 2, "instruction_limit");
  p->instruction_limit = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
  lua_getfield(L, 2, "time_budget");
  p->host_time = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : 0;
  lua_getfield(L, 2, "memory_budget");
  p->host_memory = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
  lua_pop(L, 3);
  p->time_budget = p->host_time > 0 ? p->host_time : DEFAULT_TIME;
  p->memory_budget = p->host_memory > 0 ? p->host_memory : DEFAULT_MEMORY;
  if (process_start(L, p, now_ns() + (int64_t)(p->time_budget * 1e9))) return lua_error(L);
  return 2;
}

/* ----------------------------------------------------------------- the process, its side */

/* The process's own globals (each process is a copy of the host; these are set after the fork). */
static struct {
  process *p;
  size_t used, limit;
  int refused;           /* the allocator refused memory during this request */
  const char *source;    /* the source last noted in the shared page */
} C;

static void *capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  size_t old = ptr ? osize : 0;
  if (nsize == 0) {
    free(ptr);
    C.used -= old;
    return NULL;
  }
  if (nsize > old && (nsize - old > C.limit || C.used + (nsize - old) > C.limit)) {
    C.refused = 1;
    return NULL;
  }
  void *np = realloc(ptr, nsize);
  if (!np) {
    C.refused = 1;
    return NULL;
  }
  C.used = C.used - old + nsize;
  return np;
}

static void set_phase(const char *hook, const char *where) {
  if (hook) snprintf(C.p->shm->hook, sizeof C.p->shm->hook, "%s", hook);
  if (where) {
    snprintf(C.p->shm->file, sizeof C.p->shm->file, "%s", where);
    C.p->shm->line = 0;
    C.source = NULL;
  }
}

/* enter(hook, where): what runs now. */
static int l_enter(lua_State *L) {
  set_phase(luaL_checkstring(L, 1), luaL_optstring(L, 2, ""));
  return 0;
}

/* The policy's instruction budget in C: line events note where the policy's code is (cheaply:
** the file is copied only when it changes), count events call the policy module's Lua function
** that trips the budget. */
static const char COUNT_KEY = 0;

static void child_hook(lua_State *L, lua_Debug *ar) {
  if (ar->event == LUA_HOOKLINE) {
    if (!lua_getinfo(L, "S", ar) || ar->source[0] != '@') return;   /* not a policy file */
    if (ar->source != C.source) {
      snprintf(C.p->shm->file, sizeof C.p->shm->file, "%s", ar->source + 1);
      C.source = ar->source;
    }
    C.p->shm->line = ar->currentline;
    return;
  }
  lua_rawgetp(L, LUA_REGISTRYINDEX, &COUNT_KEY);
  lua_call(L, 0, 0);
}

/* sethook(fn, count) -> previous fn, count: the instruction budget's hook (the one host states
** take from the hook multiplexer), noting lines as well; sethook() removes it. */
static int l_sethook(lua_State *L) {
  int on = !lua_isnoneornil(L, 1);
  int count = 0;
  if (on) {
    luaL_checktype(L, 1, LUA_TFUNCTION);
    count = (int)luaL_checkinteger(L, 2);
  }
  int had = lua_gethook(L) != NULL;
  int prev = lua_gethookcount(L);
  lua_settop(L, 1);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &COUNT_KEY);   /* the previous fn */
  lua_pushvalue(L, 1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &COUNT_KEY);
  if (on) lua_sethook(L, child_hook, LUA_MASKLINE | LUA_MASKCOUNT, count);
  else lua_sethook(L, NULL, 0, 0);
  if (!had) return 0;
  lua_pushinteger(L, prev);
  return 2;
}

/* A backstop: the process ends by itself a little after its budget even if the host is gone. */
static void arm(double seconds) {
  struct itimerval it = {{0, 0}, {0, 0}};
  if (seconds > 0) {
    double s = seconds + 2;
    it.it_value.tv_sec = (time_t)s;
    it.it_value.tv_usec = (suseconds_t)((s - (double)(time_t)s) * 1e6);
  }
  setitimer(ITIMER_REAL, &it, NULL);
}

static void push_native(lua_State *L, int child);

/* Loads the policy module and the policy file; returns the encoded info. */
static int child_boot(lua_State *L) {
  luaL_openlibs(L);
  if (luaL_loadbuffer(L, tbt_lua_policy, tbt_lua_policy_len, "=tbtrace.policy") != LUA_OK) lua_error(L);
  lua_pushnil(L);
  push_native(L, 1);
  lua_call(L, 2, 2);   /* policy, the process's entry points */
  lua_remove(L, -2);
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, "tbtrace.policy.process");
  lua_getfield(L, -1, "load");
  lua_pushstring(L, C.p->path);
  lua_createtable(L, 0, 1);
  if (C.p->instruction_limit > 0) {
    lua_pushinteger(L, C.p->instruction_limit);
    lua_setfield(L, -2, "instruction_limit");
  }
  lua_call(L, 2, 2);   /* p, info */
  int info = lua_gettop(L);
  lua_pushvalue(L, -2);
  lua_setfield(L, LUA_REGISTRYINDEX, "tbtrace.policy.loaded");
  if (C.p->host_memory <= 0 && lua_getfield(L, -1, "memory_budget") == LUA_TNUMBER)
    C.limit = (size_t)lua_tointeger(L, -1) << 20;
  lua_settop(L, info);
  return 1;
}

/* Decodes the facts at upvalue-free arg 1 (a light pointer to an rbuf), resolves, collects. */
static int child_serve(lua_State *L) {
  rbuf *r = lua_touserdata(L, 1);
  lua_getfield(L, LUA_REGISTRYINDEX, "tbtrace.policy.process");
  lua_getfield(L, -1, "resolve");
  lua_getfield(L, LUA_REGISTRYINDEX, "tbtrace.policy.loaded");
  if (dec(L, r, 0)) luaL_error(L, "malformed facts");
  lua_call(L, 2, 1);
  /* Finalizers the hooks left run now, on this export's clock. */
  char phase[sizeof C.p->shm->hook];
  snprintf(phase, sizeof phase, "a finalizer (__gc) after %.64s", C.p->shm->hook[0] ? C.p->shm->hook : "the hooks");
  set_phase(phase, NULL);
  lua_gc(L, LUA_GCCOLLECT);
  return 1;
}

static void child_answer_error(lua_State *L, int fd) {
  const char *msg = lua_tostring(L, -1);
  if (C.refused) {
    push_where(L, C.p->shm);
    msg = lua_pushfstring(L, "policy '%s':%s exceeded the memory budget (%I MiB)", C.p->path,
                          lua_tostring(L, -1), (lua_Integer)(C.limit >> 20));
    send_frame(fd, 'M', msg, strlen(msg));
    return;
  }
  if (!msg) msg = "policy error (the error object is not a string)";
  send_frame(fd, 'E', msg, strlen(msg));
}

static void child_send_table(lua_State *L, int fd) {
  wbuf b = {0};
  enc(L, &b, -1, 0);
  if (b.err) {
    const char *msg = lua_pushfstring(L, "policy '%s': %s", C.p->path, b.err);
    send_frame(fd, 'E', msg, strlen(msg));
  } else {
    send_frame(fd, 'O', b.p, b.n);
  }
  free(b.p);
}

static int child_panic(lua_State *L) {
  (void)L;
  _exit(70);
}

static void child_setup(int *fd) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  static const int dfl[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGALRM, SIGUSR1, SIGUSR2, SIGCHLD};
  for (size_t i = 0; i < sizeof dfl / sizeof dfl[0]; i++) sigaction(dfl[i], &sa, NULL);
  sa.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &sa, NULL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  /* Only the socket and stderr stay open: the host's files, pipes and other policies' sockets
  ** must not be held by this process. */
  if (*fd < 3) {
    int moved = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
    if (moved < 0) _exit(71);
    *fd = moved;
  }
  int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (nul >= 0) {
    dup2(nul, 0);
    dup2(nul, 1);
    if (nul > 2 && nul != *fd) close(nul);
  }
  if (*fd > 3 && close_range(3, (unsigned)*fd - 1, 0) != 0)
    for (int i = 3; i < *fd; i++) close(i);
  if (close_range((unsigned)*fd + 1, ~0U, 0) != 0)
    for (int i = *fd + 1; i < 4096; i++) close(i);
}

static void child_main(process *p, int fd) {
  child_setup(&fd);
  if (p->cwd && chdir(p->cwd) != 0) {}   /* gone: the load fails with the path's own error */
  C.p = p;
  C.used = 0;
  C.limit = (size_t)p->memory_budget << 20;
  C.refused = 0;
  lua_State *L = lua_newstate(capped_alloc, NULL);
  if (!L) {
    const char *msg = "not enough memory for the policy's Lua state";
    send_frame(fd, 'E', msg, strlen(msg));
    _exit(0);
  }
  lua_atpanic(L, child_panic);
  set_phase("the top level", NULL);
  arm(p->time_budget);
  lua_pushcfunction(L, child_boot);
  if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
    child_answer_error(L, fd);
    _exit(0);
  }
  arm(0);
  child_send_table(L, fd);
  lua_settop(L, 0);
  char *req = NULL;
  for (;;) {
    char kind;
    uint32_t len;
    if (recv_header(fd, &kind, &len, -1)) _exit(0);
    char *nreq = realloc(req, len ? len : 1);
    if (!nreq) _exit(72);
    req = nreq;
    if (recv_all(fd, req, len, -1)) _exit(0);
    rbuf r = {req, len, 0};
    C.refused = 0;
    set_phase("", "");
    arm(p->time_budget);
    lua_pushcfunction(L, child_serve);
    lua_pushlightuserdata(L, &r);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) child_answer_error(L, fd);
    else child_send_table(L, fd);
    arm(0);
    lua_settop(L, 0);
  }
}

/* ----------------------------------------------------------------- the helper table */

static void push_native(lua_State *L, int child) {
  static const luaL_Reg common[] = {
    {"readfile", l_readfile}, {"freeze", l_freeze}, {"stderr", l_stderr}, {NULL, NULL}
  };
  luaL_newlib(L, common);
  lua_pushinteger(L, TBT_POLICY_MAX_FILE);
  lua_setfield(L, -2, "max_file");
  if (child) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "child");
    lua_pushcfunction(L, l_sethook);
    lua_setfield(L, -2, "sethook");
    lua_pushcfunction(L, l_enter);
    lua_setfield(L, -2, "enter");
  } else {
    lua_pushcfunction(L, l_spawn);
    lua_setfield(L, -2, "spawn");
  }
}

void tbt_lua_push_policy_native(lua_State *L) {
  push_native(L, 0);
}

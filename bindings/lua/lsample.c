/*
** lsample.c: the Lua stack sampler (see lsample.h).
**
** The sampler is a userdata in the registry (SAMPLER_KEY): the signal handler reaches it through
** the timer's sigev_value, so it never moves and outlives its timer (its finalizer deletes the
** timer first). The handler only sets flags and calls lua_sethook, which Lua allows from a
** signal handler; everything else happens in the hook.
*/
#include "lsample.h"

#include "lcalls.h"
#include "lhook.h"
#include "tbtrace.h"

#include <errno.h>
#include <lauxlib.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SAMPLER_KEY "tbtrace.sampler"
#define MAX_HZ 10000

typedef struct stackcount {
  uint32_t id;   /* the interned stack; 0: a free slot */
  uint64_t n;
  char *stack;
} stackcount;

typedef struct sampler {
  tbt_hookmux *mux;
  lua_State *main;
  volatile sig_atomic_t pending;   /* periods elapsed since the last sample: the next hook takes
                                      one, weighted by it */
  volatile sig_atomic_t live;      /* the timer exists */
  int paused;
  timer_t timer;
  uint32_t category;
  int origin;           /* this state started the sampling (the others follow it) */
  unsigned gen;         /* the request it follows */
  char *path;           /* the last folded file written */
} sampler;

/* ------------------------------------------------------------------ the signal */

static pthread_mutex_t g_sig_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_sig_installed;
static struct sigaction g_sig_old;

static void on_sigprof(int sig, siginfo_t *si, void *uc) {
  if (si && si->si_code == SI_TIMER && si->si_value.sival_ptr) {
    sampler *s = si->si_value.sival_ptr;
    if (s->live) {
      /* CPU-time timers fire on the scheduler's tick: one signal may stand for several periods */
      s->pending += 1 + (si->si_overrun > 0 ? si->si_overrun : 0);
      tbt_hook_arm(s->mux);
    }
    return;
  }
  if (si && si->si_code == SI_QUEUE && tbt_hook_poke(si->si_value.sival_ptr)) return;
  /* not one of ours: whoever had SIGPROF before gets it */
  if (g_sig_old.sa_flags & SA_SIGINFO) {
    if (g_sig_old.sa_sigaction) g_sig_old.sa_sigaction(sig, si, uc);
  } else if (g_sig_old.sa_handler != SIG_DFL && g_sig_old.sa_handler != SIG_IGN) {
    g_sig_old.sa_handler(sig);
  }
}

static int install_handler(void) {
  int rc = 0;
  pthread_mutex_lock(&g_sig_mu);
  if (!g_sig_installed) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigprof;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGPROF, &sa, &g_sig_old) == 0)
      g_sig_installed = 1;
    else
      rc = -errno;
  }
  pthread_mutex_unlock(&g_sig_mu);
  return rc;
}

/* ------------------------------------------------------------------ counting stacks */

/* The counts of every state's samples, and what the state that started sampling asked for, so
** that the other states of the process sample too: under g_mu. g_gen changes with each start and
** stop of a request. */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
  stackcount *counts;   /* open addressing by id */
  size_t ncounts, cap;
} g_tab;
static int g_hz;
static unsigned g_gen;

static inline size_t slot_of(uint32_t id, size_t cap) {
  return (size_t)((id * 0x9E3779B1u) >> 7) & (cap - 1);
}

static void forget_counts(void) {
  for (size_t i = 0; i < g_tab.cap; i++) free(g_tab.counts[i].stack);
  free(g_tab.counts);
  g_tab.counts = NULL;
  g_tab.ncounts = g_tab.cap = 0;
}

static int grow_counts(void) {
  size_t cap = g_tab.cap ? g_tab.cap * 2 : 256;
  stackcount *v = calloc(cap, sizeof *v);
  if (!v) return -1;
  for (size_t i = 0; i < g_tab.cap; i++) {
    if (!g_tab.counts[i].id) continue;
    size_t j = slot_of(g_tab.counts[i].id, cap);
    while (v[j].id) j = (j + 1) & (cap - 1);
    v[j] = g_tab.counts[i];
  }
  free(g_tab.counts);
  g_tab.counts = v;
  g_tab.cap = cap;
  return 0;
}

static void count_stack(uint32_t id, const char *stack, size_t len, int weight) {
  if ((g_tab.ncounts + 1) * 2 > g_tab.cap && grow_counts()) return;
  size_t i = slot_of(id, g_tab.cap);
  while (g_tab.counts[i].id && g_tab.counts[i].id != id) i = (i + 1) & (g_tab.cap - 1);
  stackcount *c = &g_tab.counts[i];
  if (!c->id) {
    c->stack = malloc(len + 1);
    if (!c->stack) return;
    memcpy(c->stack, stack, len);
    c->stack[len] = '\0';
    c->id = id;
    g_tab.ncounts++;
  }
  c->n += (uint64_t)weight;
}

/* ------------------------------------------------------------------ taking a sample */

#define SCRATCH 8192
#define MAX_NAME 256

/* Records the stack of L: names leaf first into scratch, then root first, ';'-joined, into out.
** In a coroutine resumed through the multiplexer's functions, the stacks of the threads that
** resumed it follow, each from its resume down, so the stack reads as if the coroutine were
** called there. */
static void take_sample(lua_State *L, sampler *s, int weight) {
  char scratch[SCRATCH], out[SCRATCH + 16];
  size_t off[TBT_SAMPLE_DEPTH], len[TBT_SAMPLE_DEPTH];
  size_t used = 0;
  int n = 0, more = 0;
  lua_Debug d;
  const tbt_hook_resume *r = tbt_hook_resumes(s->mux);
  if (r && r->co != L) r = NULL;   /* L runs without a resume of ours: its own stack only */
  for (lua_State *T = L; T && !more;) {
    int level = 0;
    for (; n < TBT_SAMPLE_DEPTH && lua_getstack(T, level, &d); level++) {
      const char *name = tbt_lua_func_name(L, T, &d);
      size_t k = strlen(name);
      if (k > MAX_NAME) k = MAX_NAME;
      if (used + k > SCRATCH) break;
      memcpy(scratch + used, name, k);
      for (size_t i = 0; i < k; i++)   /* ';' separates frames, and a newline ends a line */
        if (scratch[used + i] == ';' || scratch[used + i] == '\n') scratch[used + i] = ',';
      off[n] = used;
      len[n] = k;
      used += k;
      n++;
    }
    more = lua_getstack(T, level, &d) || (r && n == TBT_SAMPLE_DEPTH);   /* deeper than kept */
    T = r ? r->from : NULL;
    r = r ? r->prev : NULL;
    if (r && r->co != T) r = NULL;   /* T was resumed otherwise */
  }
  if (n == 0) return;
  size_t o = 0;
  if (more) {   /* deeper than kept: say so at the root */
    memcpy(out, "(truncated);", 12);
    o = 12;
  }
  for (int i = n - 1; i >= 0; i--) {
    memcpy(out + o, scratch + off[i], len[i]);
    o += len[i];
    if (i) out[o++] = ';';
  }
  uint32_t id = tbt_intern_len(out, o);
  if (!id) return;
  /* Naming the frames may take long (a name cache miss scans the loaded modules): the trace may
  ** have ended meanwhile, and another begun that this sample is no part of. */
  if (!TBT_TRACE_ACTIVE_() || s->gen != __atomic_load_n(&g_gen, __ATOMIC_ACQUIRE)) return;
  tbt_track_instant(L == s->main ? 0 : (uintptr_t)L, id, s->category);
  pthread_mutex_lock(&g_mu);
  count_stack(id, out, o, weight);
  pthread_mutex_unlock(&g_mu);
}

static void sample_hook(lua_State *L, lua_Debug *ar, void *ud) {
  (void)ar;
  sampler *s = ud;
  int weight = s->pending;
  if (!weight) return;
  s->pending = 0;
  if (s->paused) return;
  if (!TBT_TRACE_ACTIVE_() || s->gen != __atomic_load_n(&g_gen, __ATOMIC_ACQUIRE)) {
    tbt_lua_samples_stop(L);   /* the trace ended, or what was asked for changed */
    return;
  }
  take_sample(L, s, weight);
}

/* ------------------------------------------------------------------ control */

static void stop_timer(sampler *s) {
  if (!s->live) return;
  s->live = 0;
  timer_delete(s->timer);   /* also drops a signal of it still pending */
  s->pending = 0;
}

static int sampler_gc(lua_State *L) {
  sampler *s = lua_touserdata(L, 1);
  stop_timer(s);
  free(s->path);
  s->path = NULL;
  return 0;
}

static sampler *find_sampler(lua_State *L) {
  sampler *s = NULL;
  if (lua_getfield(L, LUA_REGISTRYINDEX, SAMPLER_KEY) == LUA_TUSERDATA) s = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return s;
}

static sampler *get_sampler(lua_State *L) {
  sampler *s = find_sampler(L);
  if (s) return s;
  s = lua_newuserdatauv(L, sizeof *s, 0);
  memset(s, 0, sizeof *s);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, sampler_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  s->main = lua_tothread(L, -1);
  lua_pop(L, 1);
  s->mux = tbt_hook_mux(L);
  s->category = tbt_intern(TBT_SAMPLE_CATEGORY);
  lua_setfield(L, LUA_REGISTRYINDEX, SAMPLER_KEY);
  return s;
}

int tbt_lua_samples_check(lua_State *L, int t) {
  int ty = lua_getfield(L, t, "lua_samples");
  int hz = 0;
  if (ty != LUA_TNIL) {
    int isint = 0;
    lua_Integer n = ty == LUA_TNUMBER ? lua_tointegerx(L, -1, &isint) : 0;
    if (!isint || n < 1 || n > MAX_HZ)
      luaL_error(L, "bad option 'lua_samples' to 'trace_on' (samples per second in 1..%d expected, got %s)",
                 MAX_HZ, ty == LUA_TNUMBER ? lua_tostring(L, -1) : luaL_typename(L, -1));
    hz = (int)n;
  }
  lua_pop(L, 1);
  return hz;
}

/* Starts the timer of L's state on the calling thread, following request gen. */
static int start_local(lua_State *L, int hz, unsigned gen) {
  sampler *s = get_sampler(L);
  if (!s->mux) return TBT_EINVAL;
  stop_timer(s);
  s->gen = gen;
  int rc = install_handler();
  if (rc) return rc;
  struct sigevent ev;
  memset(&ev, 0, sizeof ev);
  ev.sigev_notify = SIGEV_THREAD_ID;
  ev.sigev_signo = SIGPROF;
  ev.sigev_value.sival_ptr = s;
#ifdef sigev_notify_thread_id
  ev.sigev_notify_thread_id = (pid_t)syscall(SYS_gettid);
#else
  ev._sigev_un._tid = (pid_t)syscall(SYS_gettid);   /* glibc before 2.41 names it only so */
#endif
  if (timer_create(CLOCK_THREAD_CPUTIME_ID, &ev, &s->timer) != 0) return -errno;
  s->paused = 0;
  tbt_hook_set(L, TBT_HOOK_SAMPLES, 0, 0, sample_hook, s);   /* runs only when armed */
  s->live = 1;
  long ns = 1000000000L / hz;
  struct itimerspec its;
  its.it_interval.tv_sec = ns / 1000000000L;
  its.it_interval.tv_nsec = ns % 1000000000L;
  its.it_value = its.it_interval;
  if (timer_settime(s->timer, 0, &its, NULL) != 0) {
    rc = -errno;
    stop_timer(s);
    tbt_hook_clear(L, TBT_HOOK_SAMPLES);
    return rc;
  }
  return 0;
}

int tbt_lua_samples_start(lua_State *L, int hz) {
  pthread_mutex_lock(&g_mu);
  forget_counts();
  g_hz = hz;
  unsigned gen = __atomic_add_fetch(&g_gen, 1, __ATOMIC_RELEASE);
  pthread_mutex_unlock(&g_mu);
  int rc = start_local(L, hz, gen);
  sampler *s = find_sampler(L);
  if (s) s->origin = rc == 0;
  return rc;
}

void tbt_lua_samples_sync(lua_State *L) {
  pthread_mutex_lock(&g_mu);
  int hz = g_hz;
  unsigned gen = __atomic_load_n(&g_gen, __ATOMIC_ACQUIRE);
  pthread_mutex_unlock(&g_mu);
  sampler *s = find_sampler(L);
  if (!hz || (s && s->live && s->gen == gen)) return;
  if (start_local(L, hz, gen) == 0) find_sampler(L)->origin = 0;
}

int tbt_lua_samples_broadcast(lua_State *L) {
  if (install_handler()) return 0;
  return tbt_hook_broadcast(L, SIGPROF);
}

void tbt_lua_samples_stop(lua_State *L) {
  sampler *s = find_sampler(L);
  if (!s || !s->live) return;
  stop_timer(s);
  tbt_hook_clear(L, TBT_HOOK_SAMPLES);
  if (s->origin) {   /* the request ends with the state that made it */
    s->origin = 0;
    pthread_mutex_lock(&g_mu);
    forget_counts();
    g_hz = 0;
    __atomic_add_fetch(&g_gen, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&g_mu);
  }
}

void tbt_lua_samples_pause(lua_State *L, int paused) {
  sampler *s = find_sampler(L);
  if (s) s->paused = paused;
}

static int by_stack(const void *a, const void *b) {
  return strcmp(((const stackcount *)a)->stack, ((const stackcount *)b)->stack);
}

int tbt_lua_samples_write(lua_State *L, const char *dir, const char **path) {
  sampler *s = find_sampler(L);
  *path = NULL;
  if (!s) return 1;
  free(s->path);
  s->path = NULL;
  if (!s->live || !dir) return 1;
  char host[256];
  tbt_hostname(host, sizeof host);
  size_t plen = strlen(dir) + strlen(host) + 16;
  char *tmp = malloc(plen + 32);
  pthread_mutex_lock(&g_mu);
  stackcount *v = malloc((g_tab.ncounts ? g_tab.ncounts : 1) * sizeof *v);
  s->path = malloc(plen);
  int rc = 0;
  if (!s->path || !tmp || !v) {
    pthread_mutex_unlock(&g_mu);
    rc = TBT_ENOMEM;
    goto done;
  }
  snprintf(s->path, plen, "%s/%s.folded", dir, host);
  snprintf(tmp, plen + 32, "%s.tmp.%ld", s->path, (long)getpid());
  size_t n = 0;
  for (size_t i = 0; i < g_tab.cap; i++)
    if (g_tab.counts[i].id) v[n++] = g_tab.counts[i];
  qsort(v, n, sizeof *v, by_stack);   /* the same profile, the same file */
  FILE *f = fopen(tmp, "w");
  if (!f) {
    pthread_mutex_unlock(&g_mu);
    rc = -errno;
    goto done;
  }
  for (size_t i = 0; i < n; i++) fprintf(f, "%s %llu\n", v[i].stack, (unsigned long long)v[i].n);
  pthread_mutex_unlock(&g_mu);
  int werr = ferror(f) ? errno : 0;
  if (fclose(f) != 0 && !werr) werr = errno;
  if (werr || rename(tmp, s->path) != 0) {
    rc = -(werr ? werr : errno);
    remove(tmp);
  }
done:
  free(tmp);
  free(v);
  *path = s->path;
  if (rc && s->path) {   /* named in the error, then forgotten: no file there */
    static __thread char failed[4096];
    snprintf(failed, sizeof failed, "%s", s->path);
    free(s->path);
    s->path = NULL;
    *path = failed;
  }
  return rc;
}

const char *tbt_lua_samples_path(lua_State *L) {
  sampler *s = find_sampler(L);
  return s ? s->path : NULL;
}

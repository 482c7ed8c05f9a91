/*
** tbtrace_trace.h: the tracing part of the public interface (included by tbtrace.h).
**
** While a trace is on, spans, instants and counters recorded by any thread go to that thread's
** own buffer: fixed-size records holding raw clock ticks and interned name ids, with no lock and
** no write to shared memory on the hot path. tbt_trace_export turns the buffered trace into
** TensorBoard data, as tf.summary.trace_export does:
**   - a summary in the calling thread's default writer, tag = name, DT_STRING scalar holding a
**     serialized RunMetadata: plugin "graph_run_metadata_graph" (function_graphs only) when only the
**     graph was traced, otherwise plugin "graph_run_metadata" (step_stats and function_graphs);
**   - with the profiler on, <outdir>/plugins/profile/<YYYY_MM_DD_HH_MM_SS>/<host>.xplane.pb and
**     <host>.trace.json.gz, each written to a temporary name and renamed.
** A failed export changes nothing: the trace stays on and can be exported again.
*/
#ifndef TBTRACE_TRACE_H
#define TBTRACE_TRACE_H

#include "tbtrace.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* --------------------------------------------------------------- control */

typedef struct tbt_trace_options {
  int graph;                    /* collect the span graph (default 1) */
  int profiler;                 /* also write profile files at export (default 0) */
  const char *profiler_outdir;  /* where profile files go; NULL = decided at export */
  size_t memory_limit;          /* bytes of span records kept across all threads; 0 = 256 MiB.
                                   Past it records are dropped and counted. */
} tbt_trace_options;

void tbt_trace_options_init(tbt_trace_options *opts);

/* Starts a trace (opts may be NULL for the defaults). Returns 0, or 1 when a trace is already on:
** then nothing changes, as in TF ("Trace already enabled"). */
int tbt_trace_on(const tbt_trace_options *opts);

/* Ends the trace and discards what it recorded. A no-op when no trace is on. */
void tbt_trace_off(void);

int tbt_trace_is_on(void);

/* Exports the trace (see the top of this file) and ends it, following TensorFlow's rules alone.
** name: the summary tag (non-empty UTF-8; open summary scopes go in front, as TF's summary_scope
** puts them). step: as for summaries; a missing step is TBT_ENOSTEP
** only when a default writer would record. profiler_outdir: overrides the one given to
** tbt_trace_on; with the profiler on and neither given, the default writer's logdir is used, else
** TBT_ENOOUTDIR. Returns 0 or a negative code (TBT_ENOTRACE when no trace is on); the calling
** thread's tbt_export_error() then says why. tbt_trace_export_ex does the same with decisions
** and tells what it wrote. */
int tbt_trace_export(const char *name, tbt_step step, const char *profiler_outdir);

/* --------------------------------------------------------------- cluster */

/* Which process of a multi-process job this is, as its launcher says through the environment:
** tbtrace's own TBTRACE_RANK..., TF_CONFIG, torchrun, Open MPI, PMI or SLURM (docs/cluster.md
** lists every variable and the order they are tried in). Exports use it for device names
** ("/job:<job_name>/replica:0/task:<task_index>/device:CPU:<thread>") and pass it to policies. */
typedef struct tbt_cluster {
  int64_t rank;          /* 0-based, unique among the job's processes, below world_size */
  int64_t world_size;    /* processes in the job */
  int64_t local_rank;    /* rank among the job's processes on this host; -1 when not said */
  int64_t task_index;    /* index within job_name (TF_CONFIG's task.index); else the rank */
  char job_id[128];      /* names this run of the job, the same in every process of it; "" when
                            no variable says (TBTRACE_JOB_ID sets it under any launcher) */
  char job_name[64];     /* TF_CONFIG's task type ("chief", "worker"); else "worker".
                            Characters other than [A-Za-z0-9_-] become '_' */
  char source[16];       /* which variables said so: "tbtrace", "tf_config", "torchrun",
                            "openmpi", "pmi" or "slurm" */
} tbt_cluster;

/* Reads the cluster facts from the environment, at each call (a host may set the variables after
** it starts). Returns 1 with *out filled inside a cluster; 0 outside one (no launcher's variables,
** or a rank that is not a number below the world size), *out then holding rank 0 of a world of 1
** with empty strings; TBT_EINVAL when out is NULL. */
int tbt_cluster_get(tbt_cluster *out);

/* ------------------------------------------------ exporting in two phases */

/* An export can be steered by decisions TensorFlow hard-codes (the tag, the step when none is
** given, where a writer or the profile files go, the profile run's name), made by an export policy
** (docs/policies.md) or by the host itself:
**   1. tbt_export_get_facts reads what the export would know;
**   2. the caller decides, from the facts (a Lua state runs its own policy; libtbtrace_policy its
**      own: tbt_policy_export);
**   3. tbt_trace_export_ex applies TensorFlow's rules to the caller's arguments and decisions,
**      checks everything before it writes anything, writes, and removes what it wrote if a later
**      write fails.
** Nothing here is process-wide: two threads (two Lua states, two policies) export with their own
** decisions, and each gets its own result. */

/* What an export knows. name, has_step/step: the caller's, which tbt_export_get_facts leaves NULL / 0
** for the caller to fill in before deciding. Strings may be NULL (unknown / not given). */
typedef struct tbt_export_facts {
  const char *name;             /* the caller's name */
  int has_step;                 /* the caller's step */
  int64_t step;
  int has_default_step;         /* the calling thread's default step */
  int64_t default_step;
  const char *logdir;           /* the default writer's logdir, NULL without a default writer */
  const char *profiler_outdir;  /* trace_on's outdir (the caller may put its own here) */
  int graph, profiler;          /* the trace_on flags */
  int trace_on;                 /* 0 when no trace is on (the export will fail TBT_ENOTRACE) */
  const char *host;
  long pid;
  double time;                  /* seconds since the epoch */
  uint64_t export_index;        /* 1 + exports that succeeded so far in this process */
  uint64_t export_attempt;      /* 1 + tbt_trace_export(_ex) calls so far in this process, failed
                                   ones too: the k-th export of every process of a job has k */
  const tbt_cluster *cluster;   /* which process of a job this is (tbt_cluster_get); NULL outside
                                   a cluster; owned by facts */
  uint64_t spans;               /* records buffered */
  uint64_t dropped;             /* records dropped by the memory limit */
  uint32_t threads;             /* threads that recorded */
} tbt_export_facts;

/* Fills *facts from the trace and the calling thread's writer state. The strings are copies
** owned by facts: release them with tbt_export_facts_free (which zeroes *facts; NULL or a zeroed
** facts is a no-op). Returns 0, TBT_EINVAL for NULL or TBT_ENOMEM. */
int tbt_export_get_facts(tbt_export_facts *facts);
void tbt_export_facts_free(tbt_export_facts *facts);

/* What the caller decided. NULL / has_step = 0 / -1 mean "no decision: apply TensorFlow's rule".
** The strings stay the caller's. */
typedef struct tbt_export_decision {
  const char *name;             /* the tag, in place of the caller's name */
  int has_step;                 /* the step when the caller gives none */
  int64_t step;
  const char *logdir;           /* used only when there is no default writer: one is opened there
                                   (and made the calling thread's default) when the export records */
  const char *profiler_outdir;  /* when neither the caller nor trace_on gave one */
  const char *run_name;         /* the profile run directory: one path component */
  int max_queue;                /* settings of the writer opened at logdir; -1: the default */
  int flush_millis;
  const char *filename_suffix;
} tbt_export_decision;

typedef struct tbt_export_request {
  const char *name;             /* the caller's arguments, as tbt_trace_export takes them */
  tbt_step step;
  const char *profiler_outdir;
  tbt_export_decision decision;
} tbt_export_request;

/* A request with no arguments and no decisions (step TBT_DEFAULT_STEP, -1 settings). */
void tbt_export_request_init(tbt_export_request *req);

/* One file or directory an export wrote. kind names what it is: "events" (the event file the
** summary went to), "profile_dir" (<outdir>/plugins/profile/<run>), "profile_marker" (the
** .profile-empty event file that makes outdir a run), and one per profile format: "xplane"
** (<host>.xplane.pb), "chrome_trace" (<host>.trace.json.gz). A new format adds a kind. */
typedef struct tbt_export_file {
  const char *kind;             /* a static string */
  char *path;
} tbt_export_file;

/* What an export did; the caller's, released with tbt_export_result_free. */
typedef struct tbt_export_result {
  int wrote_summary;            /* 1 when a summary went to the default writer */
  tbt_export_file *files;       /* in the order written */
  size_t nfiles;
  uint64_t spans;               /* spans exported */
  uint64_t dropped;             /* records dropped by the memory limit */
  uint64_t late_records;        /* records other threads made while the export was writing, after
                                   it had read the trace: the export's end of the trace ended them
                                   too, unexported (records as in tbt_trace_stats) */
  uint64_t unfinished;          /* spans still open at export (exported as ending there) */
  char *unfinished_names;       /* their paths, ", "-separated, the first few ("" when none) */
} tbt_export_result;

/* Exports as tbt_trace_export does, with req's decisions. result (may be NULL) is filled on
** success and zeroed on failure. A decision that cannot hold (a run_name that is not one path
** component, a tag that is not UTF-8) is TBT_EINVAL before anything is written. Returns 0 or a
** negative code, with the message in tbt_export_error(). */
int tbt_trace_export_ex(const tbt_export_request *req, tbt_export_result *result);

/* The path of the first file of kind in result, or NULL. */
const char *tbt_export_result_path(const tbt_export_result *result, const char *kind);
/* Releases what result holds and zeroes it; NULL or a zeroed result is a no-op. */
void tbt_export_result_free(tbt_export_result *result);

/* The message of the calling thread's last export failure ("" after a success or none). */
const char *tbt_export_error(void);

/* ----------------------------------------------------------- the trace as data */

/* A trace read back as data: what the encoders turn into files, also for a host's own. Times are
** nanoseconds since the Unix epoch (raw ticks are converted once, when the trace is read). Spans
** are complete: a span still open when the trace is read is closed then and flagged. */
typedef struct tbt_model_span {
  uint32_t name;          /* index into model->names: the span's own name ("load") */
  uint32_t path;          /* index into model->names: "/"-joined names from the root ("step/load") */
  uint32_t category;      /* index into model->names; 0 is "" (no category) */
  int32_t parent;         /* index into the same thread's spans, -1 for a root */
  uint32_t depth;         /* 0 for a root */
  uint32_t flags;         /* TBT_SPAN_UNFINISHED, ... */
  int64_t start_ns;
  int64_t end_ns;
} tbt_model_span;

enum { TBT_SPAN_UNFINISHED = 1 };

typedef struct tbt_model_instant {
  uint32_t name;
  uint32_t category;
  int64_t time_ns;
} tbt_model_instant;

typedef struct tbt_model_counter {
  uint32_t name;
  int64_t time_ns;
  double value;
} tbt_model_counter;

/* An explicit dependency the user declared: the span at path `from` feeds the span at path `to`
** (GraphDef input edges). Indices into model->names. */
typedef struct tbt_model_edge {
  uint32_t from;
  uint32_t to;
} tbt_model_edge;

typedef struct tbt_model_thread {
  uint64_t tid;            /* OS thread id (gettid) */
  uint32_t name;           /* index into model->names: thread name, "" when unnamed */
  tbt_model_span *spans;   /* ordered by start time, parents before children */
  size_t nspans;
  tbt_model_instant *instants;
  size_t ninstants;
  tbt_model_counter *counters;
  size_t ncounters;
} tbt_model_thread;

typedef struct tbt_trace_model {
  const char **names;      /* interned strings; names[0] is "" */
  size_t nnames;
  tbt_model_thread *threads;
  size_t nthreads;
  tbt_model_edge *edges;
  size_t nedges;
  int64_t start_ns;        /* trace_on time */
  int64_t end_ns;          /* drain time */
  uint64_t dropped;        /* records lost to the memory limit */
  uint64_t records;        /* buffered records the model was made from (every kind) */
  uint32_t generation;     /* which trace it was taken from (a generation number) */
  const char *task;        /* "/job:<job>/replica:0/task:<i>", the task the devices belong to: NULL
                              from tbt_trace_snapshot (/job:localhost/replica:0/task:0); an
                              exporter in a cluster points it at its own (tbt_cluster), unowned */
  int graph;               /* the trace_on flags */
  int profiler;
} tbt_trace_model;

/* Reads everything recorded so far in the current trace, without disturbing it: threads may keep
** recording meanwhile; what they record after the snapshot started is not taken. Spans still open
** are closed at the snapshot time and flagged TBT_SPAN_UNFINISHED. Every string in the model is a
** copy owned by the model, so it outlives trace_off, and valid UTF-8 (each byte of an ill-formed
** sequence read as U+FFFD, as every file an export writes has it); release it with
** tbt_trace_model_free.
** Layout: names[0] is ""; one tbt_model_thread per OS thread that recorded (its main track), plus
** one per track it recorded on (tbt_track_begin; Lua coroutines), named "<thread name> coroutine
** <k>" (or "coroutine <k>"), with the same tid; each entry nests on its own. spans are in begin
** order, which is start order, parents before children; path is the "/"-joined names from that
** entry's root, up to a bound: a span deeper than TBT_PATH_MAX_DEPTH names, or under a path of
** TBT_PATH_MAX_BYTES bytes or more, has the path "<anchor>/…/<name>" (U+2026), where anchor is the
** path of its deepest ancestor within the bound, so deep recursion shares a few short paths
** (graph nodes) and an export stays linear in spans. Times are made monotonic within a thread (a
** child never starts before its parent; an end is never before its start). edges are deduplicated, in the order first declared.
** Returns 0, TBT_ENOTRACE when no trace is on, TBT_EINVAL for NULL, or TBT_ENOMEM (out untouched
** then). */
int tbt_trace_snapshot(tbt_trace_model *out);

/* The bound on span paths (see tbt_trace_snapshot). */
#define TBT_PATH_MAX_DEPTH 32
#define TBT_PATH_MAX_BYTES 256

/* Releases what a snapshot holds and zeroes *m; NULL or a zeroed model is a no-op. */
void tbt_trace_model_free(tbt_trace_model *m);

/* ----------------------------------------------------------------- names */

/* Interns a name (a span, instant or counter name, or a category) and returns its id (> 0), or 0
** when out of memory. Ids are stable for the process lifetime; interning the same string twice
** gives the same id. Thread-safe; takes a lock, so hot code interns once and keeps the id.
** tbt_intern_len takes len bytes, NULs included (a name with a NUL is cut there when exported);
** NULL or a len of 4 GiB or more gives 0. */
uint32_t tbt_intern(const char *name);
uint32_t tbt_intern_len(const char *name, size_t len);

/* ----------------------------------------------------------------- spans */

/* The span functions below are static inline: with no trace on each does one predictable test
** of tbt_trace_active_ (0 while no trace is on; while one is, nonzero: its generation number
** when ticks are time-stamp counter cycles, else that number with its top bit flipped, which no
** buffer's generation equals; written only by tbt_trace_on/off) and calls nothing. The out-of-line recorders they
** call (the names ending in '_') are exported for callers that cannot use the header, e.g. an
** FFI; they check again and may be called anytime. */
extern uint32_t tbt_trace_active_;
#define TBT_TRACE_ACTIVE_() __builtin_expect(__atomic_load_n(&tbt_trace_active_, __ATOMIC_RELAXED), 0)

void tbt_span_begin_id_(uint32_t name_id, uint32_t category_id);
void tbt_span_end_(void);
void tbt_span_begin_(const char *name, const char *category);
void tbt_instant_id_(uint32_t name_id, uint32_t category_id);
void tbt_counter_id_(uint32_t name_id, double value);
void tbt_instant_(const char *name, const char *category);
void tbt_counter_(const char *name, double value);

/* Records the start/end of a span on the calling thread. Ends match begins innermost first; an end
** with no open span is ignored. With no trace on these do one predictable branch.
** category_id 0 means no category. */
static inline void tbt_span_begin_id(uint32_t name_id, uint32_t category_id) {
  if (TBT_TRACE_ACTIVE_()) tbt_span_begin_id_(name_id, category_id);
}
static inline void tbt_span_end(void) {
  if (TBT_TRACE_ACTIVE_()) tbt_span_end_();
}
/* Convenience forms that intern name on each call, through a small per-thread cache keyed by
** the pointer (and checked against the string, so reused buffers are safe). category may be NULL. */
static inline void tbt_span_begin(const char *name) {
  if (TBT_TRACE_ACTIVE_()) tbt_span_begin_(name, NULL);
}
static inline void tbt_span_begin_cat(const char *name, const char *category) {
  if (TBT_TRACE_ACTIVE_()) tbt_span_begin_(name, category);
}

/* A point in time, and a counter sample (a Chrome "C" event, an XPlane stat). */
static inline void tbt_instant_id(uint32_t name_id, uint32_t category_id) {
  if (TBT_TRACE_ACTIVE_()) tbt_instant_id_(name_id, category_id);
}
static inline void tbt_counter_id(uint32_t name_id, double value) {
  if (TBT_TRACE_ACTIVE_()) tbt_counter_id_(name_id, value);
}
static inline void tbt_instant(const char *name) {
  if (TBT_TRACE_ACTIVE_()) tbt_instant_(name, NULL);
}
static inline void tbt_counter(const char *name, double value) {
  if (TBT_TRACE_ACTIVE_()) tbt_counter_(name, value);
}

/* Tracks: the same records on a track of the caller's choosing. A track is a stack of spans of
** its own on the calling thread (a Lua coroutine records on one, keyed by its lua_State), shown
** as its own row of the thread; track 0 is the thread's own, where the functions above record.
** A switch between tracks costs one record. Check tbt_trace_active_ first, as the inline
** functions above do. */
void tbt_track_begin(uintptr_t track, uint32_t name_id, uint32_t category_id);
void tbt_track_end(uintptr_t track);
void tbt_track_instant(uintptr_t track, uint32_t name_id, uint32_t category_id);
void tbt_track_counter(uintptr_t track, uint32_t name_id, double value);

/* The category of stack samples: an instant in it is named by a folded stack, its frames root
** first and ';'-joined ("main;load;parse"). The Lua sampler records them; the Chrome trace and
** the XPlane file also show them as call stacks (stackFrames and samples; a line of sample
** events per track). */
#define TBT_SAMPLE_CATEGORY "lua.sample"

/* Ends the innermost open span of track as tbt_track_end does, unless the span is short: begun
** less than min_ticks ago (tbt_trace_ticks) with nothing recorded by the calling thread since
** its begin. A short span is taken back instead, as if it had never begun: only spans lasting
** at least that long, and the spans around them (which lasted longer still), are kept. Taking
** back waits for nothing: while a snapshot or an export is reading the trace, the span is ended
** and kept. min_ticks 0 keeps every span. */
void tbt_track_end_min(uintptr_t track, uint64_t min_ticks);

/* The number of raw ticks (the unit records are timed in) in ns nanoseconds, at the rate the
** clock is measured to run at now; UINT64_MAX when it does not fit. The first call in a process
** may wait a few milliseconds for the measurement: convert once, not per span. */
uint64_t tbt_trace_ticks(uint64_t ns);

/* The same for code where reaching a thread-local variable costs a call (a dlopened module's,
** such as the Lua binding): keep a zeroed tbt_track_cache where the code runs (per Lua state)
** and pass it on each call; it remembers the calling thread's buffer. It is checked against the
** calling thread every time, so code that moves between threads records where it runs. A NULL
** cache works as tbt_track_begin / tbt_track_end.
** These two are inline: while the cache holds the calling thread's buffer, of the trace that is
** on, last written on the same track and with room for the record, they read the clock and write
** the record in place (on x86-64, with the time-stamp counter as the clock). Anything else goes
** to the out-of-line tbt_track_begin_cached_ / tbt_track_end_cached_ (exported for an FFI, and
** callable anytime), which write the record the slow way and fill the cache. */
typedef struct tbt_track_cache {
  void *buf_;
} tbt_track_cache;
void tbt_track_begin_cached_(tbt_track_cache *cache, uintptr_t track, uint32_t name_id,
                             uint32_t category_id);
void tbt_track_end_cached_(tbt_track_cache *cache, uintptr_t track);

/* Internal, shared by the library and the inline recorders below (their layout is the library's,
** not an interface): a record and the head of a thread's buffer. */
typedef struct tbt_rec_ {
  uint64_t t;            /* the tick */
  uint32_t a;            /* the name id */
  uint32_t b;            /* kind << 28 | category id */
} tbt_rec_;
typedef struct tbt_buf_head_ {
  tbt_rec_ *recs;        /* the current chunk's records */
  uint32_t *used;        /* (atomic) records published in it */
  uint32_t pos, cap;     /* records written in it, room */
  uintptr_t track;       /* the track of the last record */
  uintptr_t self;        /* (atomic) the owner's thread pointer, 0 once it has exited */
  uint32_t gen;          /* the generation of the trace it records for (see tbt_trace_active_) */
} tbt_buf_head_;
#define TBT_REC_ID_MASK_ 0x0FFFFFFFu
#define TBT_REC_BEGIN_ (1u << 28)
#define TBT_REC_END_ (2u << 28)

/* Writes the record {tick, a, b} through cache and returns 1 when the fast path above holds, else
** returns 0 having written nothing. The owner test comes first: a buffer is read only by its
** owner. */
static inline int tbt_track_put_(tbt_track_cache *cache, uintptr_t track, uint32_t a, uint32_t b) {
#if defined(__x86_64__) && defined(__has_builtin)
#if __has_builtin(__builtin_ia32_rdtsc) && __has_builtin(__builtin_thread_pointer)
  tbt_buf_head_ *h = cache ? (tbt_buf_head_ *)cache->buf_ : (tbt_buf_head_ *)0;
  if (__builtin_expect(h && __atomic_load_n(&h->self, __ATOMIC_RELAXED) ==
                                (uintptr_t)__builtin_thread_pointer() &&
                           h->gen == __atomic_load_n(&tbt_trace_active_, __ATOMIC_RELAXED) &&
                           h->track == track && h->pos < h->cap,
                       1)) {
    uint32_t pos = h->pos;
    tbt_rec_ *r = h->recs + pos;
    r->t = __builtin_ia32_rdtsc();
    r->a = a;
    r->b = b;
    h->pos = ++pos;
    __atomic_store_n(h->used, pos, __ATOMIC_RELEASE);
    return 1;
  }
#endif
#endif
  (void)cache;
  (void)track;
  (void)a;
  (void)b;
  return 0;
}

static inline void tbt_track_begin_cached(tbt_track_cache *cache, uintptr_t track,
                                          uint32_t name_id, uint32_t category_id) {
  if (!tbt_track_put_(cache, track, name_id & TBT_REC_ID_MASK_,
                      TBT_REC_BEGIN_ | (category_id & TBT_REC_ID_MASK_)))
    tbt_track_begin_cached_(cache, track, name_id, category_id);
}
static inline void tbt_track_end_cached(tbt_track_cache *cache, uintptr_t track) {
  if (!tbt_track_put_(cache, track, 0, TBT_REC_END_)) tbt_track_end_cached_(cache, track);
}

/* Declares that the span named by path `from` feeds the span `to` (a GraphDef input edge);
** paths are "/"-joined span names as they appear in the graph. Recorded in the current trace
** (nothing happens with no trace on); declaring the same edge twice keeps one. */
void tbt_span_depends(const char *from_path, const char *to_path);

/* Names the calling thread in traces ("main", "loader-2"). Works with or without a trace on;
** the name is kept for the thread's life (NULL clears it). */
void tbt_thread_name(const char *name);

/* Scoped span: TBT_SPAN("load") { ... } ends when the block is left, however it is left
** (`break` inside leaves the TBT_SPAN block itself). TBT_SCOPE("load"); ends at the end of the
** enclosing scope. Both nest without shadowing warnings when on different lines. With a string
** literal the id is interned once per call site and kept there (the site remembers which string
** it holds the id of), so a literal costs what tbt_span_begin_id does; any other name goes
** through tbt_span_begin. */
static inline void tbt_span_cleanup_(int *unused) {
  (void)unused;
  tbt_span_end();
}
static inline void tbt_span_begin_site_(uint64_t *site, const char *name) {
  if (TBT_TRACE_ACTIVE_() && name) {
    /* id << 32 | the low half of the name's address: one load says whether the id is name's. */
    uint64_t v = __atomic_load_n(site, __ATOMIC_RELAXED);
    uint32_t id = (uint32_t)(v >> 32);
    if (__builtin_expect(!id || (uint32_t)v != (uint32_t)(uintptr_t)name, 0)) {
      id = tbt_intern(name);
      __atomic_store_n(site, (uint64_t)id << 32 | (uint32_t)(uintptr_t)name, __ATOMIC_RELAXED);
    }
    tbt_span_begin_id_(id, 0);
  }
}
#define TBT_BEGIN_(name)                                                                 \
  (__builtin_constant_p(name)                                                            \
       ? tbt_span_begin_site_(__extension__({ static uint64_t tbt_site_; &tbt_site_; }), (name)) \
       : tbt_span_begin(name))
#define TBT_CAT2_(a, b) a##b
#define TBT_CAT_(a, b) TBT_CAT2_(a, b)
#define TBT_SCOPE(name)                                                               \
  __attribute__((cleanup(tbt_span_cleanup_), unused)) int TBT_CAT_(tbt_scope_, __LINE__) = \
      (TBT_BEGIN_(name), 0)
#define TBT_SPAN(name)                                                                \
  for (__attribute__((cleanup(tbt_span_cleanup_))) int TBT_CAT_(tbt_span_once_, __LINE__) = \
           (TBT_BEGIN_(name), 1);                                                     \
       TBT_CAT_(tbt_span_once_, __LINE__); TBT_CAT_(tbt_span_once_, __LINE__) = 0)

/* Counters for tests and diagnostics. */
typedef struct tbt_trace_stats {
  uint64_t records;       /* records buffered in the current trace (a span is two: begin, end;
                             a counter sample two; a coroutine switch one) */
  uint64_t dropped;       /* events dropped by the memory limit */
  uint64_t bytes;         /* bytes of buffer held (chunks in use and cached) */
  uint32_t threads;       /* threads that recorded in the current trace */
} tbt_trace_stats;
void tbt_trace_get_stats(tbt_trace_stats *out);

#ifdef __cplusplus
}
#endif

#endif

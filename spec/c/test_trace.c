/*
** test_trace.c: recording spans, instants, counters and dependencies from C on one thread, and
** the snapshot the exporter drains: names, paths, nesting, parents, categories, order, times
** against clocks read around the calls, unfinished spans, the off path, the memory limit and
** chunk reuse.
*/
#include "check.h"
#include "testutil.h"

#include "fs.h"
#include "tbtrace.h"
#include "trace_buffer.h"

#include <stdio.h>
#include <stdlib.h>

#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int64_t real_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ms(int ms) {
  struct timespec ts = {0, (long)ms * 1000000};
  while (nanosleep(&ts, &ts) != 0) {}
}

/* Slack for comparing converted span times with CLOCK_REALTIME read around them: the TSC rate is
** calibrated over milliseconds, and realtime may be slewed by NTP. */
#define SLACK_NS 300000

static const char *nm(const tbt_trace_model *m, uint32_t i) {
  return i < m->nnames ? m->names[i] : "(bad index)";
}

/* The model thread of the calling OS thread's main track. */
static const tbt_model_thread *my_thread(const tbt_trace_model *m) {
  uint64_t tid = (uint64_t)syscall(SYS_gettid);
  for (size_t i = 0; i < m->nthreads; i++)
    if (m->threads[i].tid == tid && !strstr(nm(m, m->threads[i].name), "coroutine"))
      return &m->threads[i];
  return NULL;
}

static tbt_trace_model snap(void) {
  tbt_trace_model m;
  memset(&m, 0, sizeof m);
  int rc = tbt_trace_snapshot(&m);
  CHECK_EQ_INT(rc, 0);
  return m;
}

/* Checks what every model must satisfy. */
static void check_model_shape(const tbt_trace_model *m) {
  CHECK(m->nnames >= 1);
  CHECK_EQ_STR(m->names[0], "");
  CHECK(m->end_ns >= m->start_ns);
  for (size_t t = 0; t < m->nthreads; t++) {
    const tbt_model_thread *th = &m->threads[t];
    CHECK(th->name < m->nnames);
    for (size_t i = 0; i < th->nspans; i++) {
      const tbt_model_span *s = &th->spans[i];
      CHECK(s->name < m->nnames && s->path < m->nnames && s->category < m->nnames);
      CHECK(s->end_ns >= s->start_ns);
      CHECK(s->end_ns <= m->end_ns);
      if (i > 0) CHECK(s->start_ns >= th->spans[i - 1].start_ns);
      if (s->parent < 0) {
        CHECK_EQ_INT(s->depth, 0);
        CHECK_EQ_STR(nm(m, s->path), nm(m, s->name));
      } else {
        CHECK(s->parent < (int32_t)i);
        const tbt_model_span *p = &th->spans[s->parent];
        CHECK_EQ_INT(s->depth, p->depth + 1);
        CHECK(s->start_ns >= p->start_ns);
        CHECK(s->end_ns <= p->end_ns);
        char want[1024];
        snprintf(want, sizeof want, "%s/%s", nm(m, p->path), nm(m, s->name));
        CHECK_EQ_STR(nm(m, s->path), want);
      }
    }
  }
}

static void test_off_path(void) {
  CHECK(!tbt_trace_is_on());
  tbt_span_begin("nothing");
  tbt_span_begin_id(tbt_intern("nothing"), 0);
  tbt_instant("nothing");
  tbt_counter("nothing", 1.0);
  tbt_span_depends("a", "b");
  tbt_span_end();
  tbt_span_end();
  { TBT_SCOPE("nothing"); }
  TBT_SPAN("nothing") {}
  /* The exported recorders an FFI calls check too. */
  tbt_span_begin_id_(tbt_intern("nothing"), 0);
  tbt_span_begin_("nothing", NULL);
  tbt_instant_id_(tbt_intern("nothing"), 0);
  tbt_instant_("nothing", NULL);
  tbt_counter_id_(tbt_intern("nothing"), 1.0);
  tbt_counter_("nothing", 1.0);
  tbt_span_end_();
  tbt_span_end_();
  tbt_trace_stats st;
  tbt_trace_get_stats(&st);
  CHECK_EQ_U64(st.records, 0);
  CHECK_EQ_U64(st.dropped, 0);
  CHECK_EQ_INT(st.threads, 0);
  tbt_trace_model m;
  CHECK_EQ_INT(tbt_trace_snapshot(&m), TBT_ENOTRACE);
  tbt_trace_options o;
  tbt_trace_get_options(&o);
  CHECK_EQ_INT(o.graph, 1);
  CHECK_EQ_INT(o.profiler, 0);
  CHECK(o.profiler_outdir == NULL);
  tbt_trace_off();   /* a no-op */
  CHECK(!tbt_trace_is_on());

  /* Calls made while off leave nothing in the next trace, and their ends do not close anything. */
  tbt_span_begin("before");
  CHECK_EQ_INT(tbt_trace_on(NULL), 0);
  tbt_span_end();
  m = snap();
  CHECK_EQ_INT(m.nthreads, 0);
  tbt_trace_model_free(&m);
  tbt_trace_off();
}

static void test_intern(void) {
  uint32_t a = tbt_intern("alpha"), b = tbt_intern("beta");
  CHECK(a > 0 && b > 0 && a != b);
  CHECK_EQ_INT(tbt_intern("alpha"), a);
  CHECK_EQ_INT(tbt_intern_len("alphabet", 5), a);
  CHECK(tbt_intern("") > 0);
  CHECK_EQ_INT(tbt_intern(NULL), 0);
}

static void test_on_twice_and_options(void) {
  char dir[64];
  strcpy(dir, "/tmp/some/where");
  tbt_trace_options o;
  tbt_trace_options_init(&o);
  CHECK_EQ_INT(o.graph, 1);
  CHECK_EQ_INT(o.profiler, 0);
  CHECK(o.profiler_outdir == NULL);
  CHECK_EQ_U64(o.memory_limit, 0);
  o.graph = 0;
  o.profiler = 1;
  o.profiler_outdir = dir;
  CHECK_EQ_INT(tbt_trace_on(&o), 0);
  CHECK(tbt_trace_is_on());
  strcpy(dir, "changed");
  tbt_trace_options g;
  tbt_trace_get_options(&g);
  CHECK_EQ_INT(g.graph, 0);
  CHECK_EQ_INT(g.profiler, 1);
  CHECK_EQ_STR(g.profiler_outdir, "/tmp/some/where");
  CHECK_EQ_U64(g.memory_limit, TBT_TRACE_DEFAULT_LIMIT);

  /* A second trace_on changes nothing. */
  tbt_trace_options_init(&o);
  CHECK_EQ_INT(tbt_trace_on(&o), 1);
  CHECK_EQ_INT(tbt_trace_on(NULL), 1);
  tbt_trace_get_options(&g);
  CHECK_EQ_INT(g.graph, 0);
  CHECK_EQ_INT(g.profiler, 1);
  tbt_trace_model m = snap();
  CHECK_EQ_INT(m.graph, 0);
  CHECK_EQ_INT(m.profiler, 1);
  tbt_trace_model_free(&m);
  tbt_trace_off();
  CHECK(!tbt_trace_is_on());
  tbt_trace_get_options(&g);
  CHECK(g.profiler_outdir == NULL);
}

static void test_spans(void) {
  tbt_thread_name("main");   /* before trace_on: kept for the thread */
  int64_t t_on = real_ns();
  CHECK_EQ_INT(tbt_trace_on(NULL), 0);
  uint32_t compute = tbt_intern("compute"), train = tbt_intern("train");

  int64_t t0 = real_ns();
  TBT_SPAN("step") {
    {
      TBT_SCOPE("load");
      sleep_ms(3);
    }
    tbt_span_begin_id(train, compute);
    tbt_instant("mark");
    tbt_counter("loss", 0.5);
    tbt_span_begin_cat("fwd", "compute");
    tbt_span_end();
    tbt_span_begin("fwd");   /* the same name twice under one parent */
    tbt_span_end();
    tbt_instant_id(tbt_intern("mark2"), compute);
    tbt_counter_id(tbt_intern("loss"), -2.25);
    tbt_span_end();
  }
  int64_t t1 = real_ns();
  TBT_SPAN("tail") {
    break;   /* leaves the TBT_SPAN block, ending the span */
  }
  tbt_span_depends("step/load", "step/train");
  tbt_span_depends("step/load", "step/train");   /* duplicate: kept once */
  tbt_span_depends("step", "tail");
  int64_t t2 = real_ns();

  tbt_trace_model m = snap();
  check_model_shape(&m);
  CHECK(m.start_ns >= t_on - SLACK_NS && m.start_ns <= t0 + SLACK_NS);
  CHECK(m.end_ns >= t2 - SLACK_NS);
  CHECK_EQ_U64(m.dropped, 0);
  CHECK_EQ_INT(m.graph, 1);
  CHECK_EQ_INT(m.profiler, 0);
  CHECK_EQ_INT(m.nthreads, 1);
  const tbt_model_thread *th = my_thread(&m);
  CHECK(th != NULL);
  if (!th) return;
  CHECK_EQ_STR(nm(&m, th->name), "main");
  CHECK_EQ_INT(th->nspans, 6);
  if (th->nspans == 6) {
    static const struct {
      const char *name, *path, *cat;
      int parent, depth;
    } want[] = {
      {"step", "step", "", -1, 0},
      {"load", "step/load", "", 0, 1},
      {"train", "step/train", "compute", 0, 1},
      {"fwd", "step/train/fwd", "compute", 2, 2},
      {"fwd", "step/train/fwd", "", 2, 2},
      {"tail", "tail", "", -1, 0},
    };
    for (int i = 0; i < 6; i++) {
      const tbt_model_span *s = &th->spans[i];
      CHECK_EQ_STR(nm(&m, s->name), want[i].name);
      CHECK_EQ_STR(nm(&m, s->path), want[i].path);
      CHECK_EQ_STR(nm(&m, s->category), want[i].cat);
      CHECK_EQ_INT(s->parent, want[i].parent);
      CHECK_EQ_INT(s->depth, want[i].depth);
      CHECK_EQ_INT(s->flags, 0);
      CHECK(s->end_ns >= s->start_ns);
    }
    /* Times against the realtime clock read around the calls. */
    const tbt_model_span *step = &th->spans[0], *load = &th->spans[1], *tail = &th->spans[5];
    CHECK(step->start_ns >= t0 - SLACK_NS);
    CHECK(step->end_ns <= t1 + SLACK_NS);
    CHECK(load->end_ns - load->start_ns >= 3000000 - 50000);
    CHECK(load->end_ns - load->start_ns <= t1 - t0 + SLACK_NS);
    CHECK(step->end_ns - step->start_ns >= load->end_ns - load->start_ns);
    CHECK(tail->start_ns >= step->end_ns);
    CHECK(tail->end_ns <= t2 + SLACK_NS);
    /* Siblings do not overlap. */
    CHECK(th->spans[2].start_ns >= load->end_ns);
    CHECK(th->spans[4].start_ns >= th->spans[3].end_ns);
    /* The same path string is shared. */
    CHECK_EQ_INT(th->spans[3].path, th->spans[4].path);
  }
  CHECK_EQ_INT(th->ninstants, 2);
  if (th->ninstants == 2) {
    CHECK_EQ_STR(nm(&m, th->instants[0].name), "mark");
    CHECK_EQ_STR(nm(&m, th->instants[0].category), "");
    CHECK_EQ_STR(nm(&m, th->instants[1].name), "mark2");
    CHECK_EQ_STR(nm(&m, th->instants[1].category), "compute");
    CHECK(th->instants[1].time_ns >= th->instants[0].time_ns);
    if (th->nspans == 6) {
      CHECK(th->instants[0].time_ns >= th->spans[2].start_ns);
      CHECK(th->instants[0].time_ns <= th->spans[3].start_ns);
      CHECK(th->instants[1].time_ns >= th->spans[4].end_ns);
      CHECK(th->instants[1].time_ns <= th->spans[2].end_ns);
    }
  }
  CHECK_EQ_INT(th->ncounters, 2);
  if (th->ncounters == 2) {
    CHECK_EQ_STR(nm(&m, th->counters[0].name), "loss");
    CHECK(th->counters[0].value == 0.5);
    CHECK_EQ_STR(nm(&m, th->counters[1].name), "loss");
    CHECK(th->counters[1].value == -2.25);
    CHECK(th->counters[1].time_ns >= th->counters[0].time_ns);
  }
  CHECK_EQ_INT(m.nedges, 2);
  if (m.nedges == 2) {
    CHECK_EQ_STR(nm(&m, m.edges[0].from), "step/load");
    CHECK_EQ_STR(nm(&m, m.edges[0].to), "step/train");
    CHECK_EQ_STR(nm(&m, m.edges[1].from), "step");
    CHECK_EQ_STR(nm(&m, m.edges[1].to), "tail");
  }
  /* Every name appears once in the table. */
  for (size_t i = 0; i < m.nnames; i++)
    for (size_t j = i + 1; j < m.nnames; j++) CHECK(strcmp(m.names[i], m.names[j]) != 0);

  tbt_trace_stats st;
  tbt_trace_get_stats(&st);
  /* 6 spans x 2 + 2 instants + 2 counters x 2 + 3 dependency declarations */
  CHECK_EQ_U64(st.records, 21);
  CHECK_EQ_U64(st.dropped, 0);
  CHECK_EQ_INT(st.threads, 1);
  CHECK(st.bytes >= TBT_CHUNK_BYTES);

  /* The model owns its strings: it outlives the trace. */
  tbt_trace_off();
  CHECK_EQ_STR(nm(&m, th->spans[1].path), "step/load");
  tbt_trace_model_free(&m);
  CHECK(m.names == NULL && m.nthreads == 0);
  tbt_trace_model_free(&m);   /* freeing a freed (zeroed) model is harmless */
  tbt_thread_name(NULL);
}

static void test_unfinished_and_nondestructive(void) {
  CHECK_EQ_INT(tbt_trace_on(NULL), 0);
  tbt_span_end();   /* no open span: ignored */
  tbt_span_begin("outer");
  tbt_span_begin("inner");
  tbt_trace_model m = snap();
  check_model_shape(&m);
  const tbt_model_thread *th = my_thread(&m);
  CHECK(th && th->nspans == 2);
  if (th && th->nspans == 2) {
    CHECK_EQ_STR(nm(&m, th->spans[1].path), "outer/inner");
    for (int i = 0; i < 2; i++) {
      CHECK_EQ_INT(th->spans[i].flags, TBT_SPAN_UNFINISHED);
      CHECK_EQ_INT(th->spans[i].end_ns, m.end_ns);
    }
  }
  CHECK_EQ_STR(nm(&m, th ? th->name : 0), "");
  tbt_trace_model_free(&m);

  /* The snapshot took nothing away: ending the spans now completes them. */
  sleep_ms(1);
  tbt_span_end();
  tbt_span_end();
  tbt_span_end();   /* one too many: ignored */
  tbt_span_begin("after");
  tbt_span_end();
  m = snap();
  check_model_shape(&m);
  th = my_thread(&m);
  CHECK(th && th->nspans == 3);
  if (th && th->nspans == 3) {
    CHECK_EQ_INT(th->spans[0].flags, 0);
    CHECK_EQ_INT(th->spans[1].flags, 0);
    CHECK(th->spans[1].end_ns - th->spans[1].start_ns >= 1000000 - 50000);
    CHECK_EQ_STR(nm(&m, th->spans[2].path), "after");
    CHECK_EQ_INT(th->spans[2].parent, -1);
  }
  tbt_trace_model_free(&m);

  /* A span begun in one trace and ended in the next is in neither. */
  tbt_span_begin("straddle");
  tbt_trace_off();
  CHECK_EQ_INT(tbt_trace_on(NULL), 0);
  tbt_span_begin("fresh");
  tbt_span_end();
  tbt_span_end();   /* straddle's end: nothing open */
  m = snap();
  th = my_thread(&m);
  CHECK(th && th->nspans == 1);
  if (th && th->nspans == 1) {
    CHECK_EQ_STR(nm(&m, th->spans[0].path), "fresh");
    CHECK_EQ_INT(th->spans[0].flags, 0);
  }
  tbt_trace_model_free(&m);
  tbt_trace_off();
}

static void test_name_cache(void) {
  /* tbt_span_begin caches by pointer; a reused buffer with new contents gets the new name. */
  CHECK_EQ_INT(tbt_trace_on(NULL), 0);
  char buf[32];
  const char *names[] = {"alpha", "beta", "alpha", "gamma"};
  for (int i = 0; i < 4; i++) {
    strcpy(buf, names[i]);
    tbt_span_begin(buf);
    tbt_span_end();
  }
  tbt_trace_model m = snap();
  const tbt_model_thread *th = my_thread(&m);
  CHECK(th && th->nspans == 4);
  for (int i = 0; th && i < 4 && i < (int)th->nspans; i++)
    CHECK_EQ_STR(nm(&m, th->spans[i].name), names[i]);
  tbt_trace_model_free(&m);
  tbt_trace_off();
}

/* One call site given several literals (an inline function the compiler may fold each caller's
** literal into): every span keeps its own name, in this trace and the next. */
static inline void scope_in_helper(const char *name) {
  TBT_SCOPE(name);
}

static void test_scope_sites(void) {
  const char *want[] = {"site_a", "site_a", "site_a", "helper_x", "helper_y", "helper_x", "site_b"};
  for (int round = 0; round < 2; round++) {
    CHECK_EQ_INT(tbt_trace_on(NULL), 0);
    for (int i = 0; i < 3; i++) {
      TBT_SCOPE("site_a");
    }
    scope_in_helper("helper_x");
    scope_in_helper("helper_y");
    scope_in_helper("helper_x");
    TBT_SPAN("site_b") {
      TBT_SCOPE(NULL);   /* no span, as tbt_span_begin(NULL) */
    }
    tbt_trace_model m = snap();
    const tbt_model_thread *th = my_thread(&m);
    CHECK(th && th->nspans == 7);
    for (int i = 0; th && i < 7 && i < (int)th->nspans; i++) {
      CHECK_EQ_STR(nm(&m, th->spans[i].name), want[i]);
      CHECK_EQ_INT(th->spans[i].depth, 0);
      CHECK(!(th->spans[i].flags & TBT_SPAN_UNFINISHED));
    }
    tbt_trace_model_free(&m);
    tbt_trace_off();
  }
}

static void test_memory_limit(void) {
  tbt_trace_options o;
  tbt_trace_options_init(&o);
  o.memory_limit = 3 * TBT_CHUNK_BYTES + 100;   /* three whole chunks */
  CHECK_EQ_INT(tbt_trace_on(&o), 0);
  uint32_t id = tbt_intern("busy");
  const int pairs = 10000;
  for (int i = 0; i < pairs; i++) {
    tbt_span_begin_id(id, 0);
    tbt_span_end();
  }
  const uint64_t kept = 3 * TBT_CHUNK_RECS;
  tbt_trace_stats st;
  tbt_trace_get_stats(&st);
  CHECK_EQ_U64(st.records, kept);
  CHECK_EQ_U64(st.dropped, 2 * pairs - kept);
  CHECK_EQ_INT(st.threads, 1);
  tbt_trace_model m = snap();
  check_model_shape(&m);
  CHECK_EQ_U64(m.dropped, 2 * pairs - kept);
  const tbt_model_thread *th = my_thread(&m);
  /* 3069 records: 1534 complete pairs and one begin, closed at the snapshot. */
  CHECK(th && th->nspans == kept / 2 + 1);
  if (th && th->nspans == kept / 2 + 1) {
    CHECK_EQ_INT(th->spans[th->nspans - 1].flags, TBT_SPAN_UNFINISHED);
    CHECK_EQ_INT(th->spans[th->nspans - 2].flags, 0);
  }
  tbt_trace_model_free(&m);
  tbt_trace_off();

  /* The next trace starts with a fresh budget and no drops. */
  CHECK_EQ_INT(tbt_trace_on(NULL), 0);
  tbt_span_begin_id(id, 0);
  tbt_span_end();
  tbt_trace_get_stats(&st);
  CHECK_EQ_U64(st.records, 2);
  CHECK_EQ_U64(st.dropped, 0);
  tbt_trace_off();

  /* A limit below one chunk keeps nothing. */
  o.memory_limit = TBT_CHUNK_BYTES - 1;
  CHECK_EQ_INT(tbt_trace_on(&o), 0);
  tbt_span_begin("x");
  tbt_span_end();
  tbt_instant("y");
  tbt_trace_get_stats(&st);
  CHECK_EQ_U64(st.records, 0);
  CHECK_EQ_U64(st.dropped, 3);
  m = snap();
  CHECK_EQ_U64(m.dropped, 3);
  tbt_trace_model_free(&m);
  tbt_trace_off();
}

static void test_chunk_reuse(void) {
  uint32_t id = tbt_intern("reuse");
  tbt_trace_stats st;
  uint64_t bytes_after_first = 0;
  for (int trace = 0; trace < 40; trace++) {
    CHECK_EQ_INT(tbt_trace_on(NULL), 0);
    for (int i = 0; i < 20000; i++) {   /* 40000 records: 40 chunks */
      tbt_span_begin_id(id, 0);
      tbt_span_end();
    }
    tbt_trace_get_stats(&st);
    CHECK_EQ_U64(st.records, 40000);
    if (trace == 0) bytes_after_first = st.bytes;
    else CHECK_EQ_U64(st.bytes, bytes_after_first);
    tbt_trace_off();
  }
  CHECK(bytes_after_first >= 40 * (uint64_t)TBT_CHUNK_BYTES);
  tbt_trace_get_stats(&st);
  CHECK_EQ_U64(st.records, 0);
  CHECK_EQ_U64(st.bytes, bytes_after_first);   /* cached for the next trace */
}

/* Spans another part of the program records while an export is writing its files: they come
** after the export read the trace, so they are not in it, and the end of the trace counts them
** in late_records instead of losing them silently. The write hook stands in for that other part,
** recording one span during the export's first write. */
static int g_late_spans;
static ssize_t recording_write(int fd, const void *buf, size_t len) {
  if (g_late_spans > 0) {
    g_late_spans--;
    tbt_span_begin("late");
    tbt_span_end();
  }
  return write(fd, buf, len);
}

static void test_late_records(void) {
  char outdir[4200];
  snprintf(outdir, sizeof outdir, "%s/late.%ld", getenv("TBT_TEST_TMP") ? getenv("TBT_TEST_TMP") : "/tmp",
           (long)getpid());
  tbt_trace_options o;
  tbt_trace_options_init(&o);
  o.profiler = 1;
  o.profiler_outdir = outdir;
  CHECK_EQ_INT(tbt_trace_on(&o), 0);
  TBT_SPAN("early") {}
  static const tbt_io_hooks hooks = {recording_write, fsync};
  tbt_io_set_hooks(&hooks);
  g_late_spans = 3;
  tbt_export_result res;
  CHECK_EQ_INT(tu_export("t", TBT_STEP(1), NULL, &res), 0);
  tbt_io_set_hooks(NULL);
  const tbt_export_result *r = &res;
  CHECK(tbt_export_result_path(r, "xplane") != NULL);
  CHECK_EQ_U64(r->spans, 1);
  CHECK_EQ_U64(r->late_records, 2 * 3);
  CHECK_EQ_U64(r->dropped, 0);
  CHECK(!tbt_trace_is_on());

  /* Nothing late: zero. */
  CHECK_EQ_INT(tbt_trace_on(&o), 0);
  TBT_SPAN("early") {}
  tbt_export_result_free(&res);
  CHECK_EQ_INT(tu_export("t", TBT_STEP(2), NULL, &res), 0);
  CHECK_EQ_U64(res.spans, 1);
  CHECK_EQ_U64(res.late_records, 0);
  tbt_export_result_free(&res);
}

/* The names of the spans of the calling thread's main track, in order, ','-joined. */
static void span_names(const tbt_trace_model *m, char *out, size_t size) {
  const tbt_model_thread *th = my_thread(m);
  size_t o = 0;
  out[0] = '\0';
  for (size_t i = 0; th && i < th->nspans && o < size; i++)
    o += (size_t)snprintf(out + o, size - o, "%s%s", i ? "," : "", nm(m, th->spans[i].name));
}

/* tbt_track_end_min: a short span with nothing recorded inside is taken back; a long one, one
** with records inside (a kept child, an instant), one on another track than the last record,
** and any span with min_ticks 0 are kept. */
static void test_end_min(void) {
  uint32_t a = tbt_intern("a"), b = tbt_intern("b"), c = tbt_intern("c"), cat = tbt_intern("cat");
  const uint64_t forever = UINT64_MAX;
  char names[512];
  CHECK_EQ_INT(tbt_trace_on(NULL), 0);
  /* a child taken back leaves its parent with nothing inside: taken back too */
  tbt_track_begin(0, a, cat);
  tbt_track_begin(0, b, cat);
  tbt_track_end_min(0, forever);
  tbt_track_end_min(0, forever);
  /* an instant inside keeps b, and b kept keeps a */
  tbt_track_begin(0, a, cat);
  tbt_track_begin(0, b, cat);
  tbt_instant("i");
  tbt_track_end_min(0, forever);
  tbt_track_end_min(0, forever);
  /* 0 keeps everything */
  tbt_track_begin(0, c, cat);
  tbt_track_end_min(0, 0);
  /* a span on track 0 whose begin is followed by another track's record is kept */
  tbt_track_begin(0, c, cat);
  tbt_track_begin(77, b, cat);
  tbt_track_end_min(77, forever);   /* taken back, but the track switch stays */
  tbt_track_end_min(0, forever);
  /* long spans: 2 ms against 1 ms kept, against 1 s taken back */
  uint64_t ms = tbt_trace_ticks(1000000), s1 = tbt_trace_ticks(1000000000);
  CHECK(ms > 0 && s1 > ms);
  tbt_track_begin(0, a, cat);
  sleep_ms(2);
  tbt_track_end_min(0, ms);
  tbt_track_begin(0, b, cat);
  sleep_ms(2);
  tbt_track_end_min(0, s1);
  /* an end with nothing open and nothing to take back is an ordinary end */
  tbt_track_end_min(0, forever);
  tbt_trace_model m = snap();
  check_model_shape(&m);
  span_names(&m, names, sizeof names);
  CHECK_EQ_STR(names, "a,b,c,c,a");
  const tbt_model_thread *th = my_thread(&m);
  if (th && th->nspans == 5) {
    CHECK_EQ_INT(th->spans[1].parent, 0);
    CHECK(th->spans[4].end_ns - th->spans[4].start_ns >= 1900000);
  }
  CHECK_EQ_INT(th ? th->ninstants : 0, 1);
  tbt_trace_model_free(&m);
  tbt_trace_off();

  /* Exact counts through many calls: 10 spans of 2 ms among 1000 short ones, all inside one. */
  CHECK_EQ_INT(tbt_trace_on(NULL), 0);
  tbt_track_begin(0, a, cat);
  for (int i = 1; i <= 1010; i++) {
    tbt_track_begin(0, i % 101 == 0 ? b : c, cat);
    if (i % 101 == 0) sleep_ms(2);
    tbt_track_end_min(0, ms);
  }
  tbt_track_end_min(0, ms);
  m = snap();
  th = my_thread(&m);
  int na = 0, nb = 0, nc = 0;
  for (size_t i = 0; th && i < th->nspans; i++) {
    const tbt_model_span *sp = &th->spans[i];
    const char *n = nm(&m, sp->name);
    na += strcmp(n, "a") == 0;
    nb += strcmp(n, "b") == 0;
    if (strcmp(n, "c") == 0) {   /* none, unless the thread was preempted inside one */
      nc++;
      CHECK(sp->end_ns - sp->start_ns >= 900000);
    }
  }
  CHECK_EQ_INT(na, 1);
  CHECK_EQ_INT(nb, 10);
  CHECK(nc <= 3);
  tbt_trace_model_free(&m);
  tbt_trace_stats st;   /* what was taken back is no record */
  tbt_trace_get_stats(&st);
  CHECK_EQ_U64(st.records, 2 + 2 * (10 + (uint64_t)nc));
  tbt_trace_off();
}

int main(void) {
  test_off_path();
  test_intern();
  test_on_twice_and_options();
  test_spans();
  test_unfinished_and_nondestructive();
  test_name_cache();
  test_scope_sites();
  test_memory_limit();
  test_chunk_reuse();
  test_late_records();
  test_end_min();
  return CHECK_DONE();
}

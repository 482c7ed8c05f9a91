/*
** test_hostile_policy.c: hostile input for the libtbtrace_policy half of tbtrace_policy.h
** (tbt_policy_load, tbt_policy_unload, tbt_policy_error, tbt_policy_export): missing, empty, unreadable and
** over-long paths, files that are not Lua or not policies, endless loops, flags nobody defined,
** and policies whose hooks return what no export can use. Every failure is TBT_EINVAL or
** TBT_EPOLICY with a message, and a failed export leaves the trace on. It links
** libtbtrace_policy (and Lua), which the spec/c/test_*.c programs do not, so it has a build line
** of its own in spec/CMakeLists.txt.
*/
#include "check.h"
#include "testutil.h"

#include "tbtrace.h"
#include "tbtrace_policy.h"

#include <limits.h>

static char g_dir[4096];

/* Writes src to a fresh file in the test directory; the path is in a static buffer. */
static const char *policy_file(const char *name, const char *src, size_t len) {
  static char path[4200];
  snprintf(path, sizeof path, "%s/%s", g_dir, name);
  FILE *f = fopen(path, "wb");
  if (!f) abort();
  fwrite(src, 1, len, f);
  fclose(f);
  return path;
}
#define POLICY(name, src) policy_file(name, src, sizeof src - 1)

static int mentions(const char *s, const char *part) {
  int ok = s && strstr(s, part) != NULL;
  if (!ok) fprintf(stderr, "  message: \"%s\" (wanted \"%s\")\n", s ? s : "(null)", part);
  return ok;
}

static void hostile_load(void) {
  CHECK(tbt_policy_error() != NULL);
  tbt_policy_unload();   /* before any load */
  tbt_policy_unload();

  unsetenv("TBTRACE_POLICY");
  CHECK_EQ_INT(tbt_policy_load(NULL, 0), TBT_EINVAL);
  CHECK(mentions(tbt_policy_error(), "TBTRACE_POLICY is not set"));
  setenv("TBTRACE_POLICY", "", 1);
  CHECK_EQ_INT(tbt_policy_load(NULL, 0), TBT_EINVAL);
  unsetenv("TBTRACE_POLICY");

  CHECK_EQ_INT(tbt_policy_load("", 0), TBT_EPOLICY);
  CHECK(mentions(tbt_policy_error(), "non-empty string expected, got empty string"));
  CHECK_EQ_INT(tbt_policy_load("/nonexistent/hostile.lua", 0), TBT_EPOLICY);
  CHECK(mentions(tbt_policy_error(), "cannot open policy '/nonexistent/hostile.lua'"));
  CHECK_EQ_INT(tbt_policy_load(g_dir, 0), TBT_EPOLICY);   /* a directory opens; reading fails */
  CHECK(mentions(tbt_policy_error(), "cannot read policy"));
  char *longp = malloc(16384);
  memset(longp, 'p', 16383);
  longp[0] = '/';
  longp[16383] = '\0';
  CHECK_EQ_INT(tbt_policy_load(longp, 0), TBT_EPOLICY);
  CHECK(mentions(tbt_policy_error(), "cannot open policy '/ppp"));   /* cut to fit, never overrun */
  CHECK(strlen(tbt_policy_error()) < 1024);
  free(longp);

  CHECK_EQ_INT(tbt_policy_load(POLICY("syntax.lua", "return {"), 0), TBT_EPOLICY);
  CHECK(mentions(tbt_policy_error(), "syntax.lua:1:"));
  CHECK_EQ_INT(tbt_policy_load(POLICY("binary.lua", "\x1bLua\x54\x00garbage"), 0), TBT_EPOLICY);
  CHECK(mentions(tbt_policy_error(), "binary chunk"));
  CHECK_EQ_INT(tbt_policy_load(POLICY("nul.lua", "return {}\0 junk after a NUL"), 0), TBT_EPOLICY);
  CHECK_EQ_INT(tbt_policy_load(POLICY("five.lua", "return 5"), 0), TBT_EPOLICY);
  CHECK(mentions(tbt_policy_error(), "must return a table (got number)"));
  CHECK_EQ_INT(tbt_policy_load(POLICY("loop.lua", "while true do end"), 0), TBT_EPOLICY);
  CHECK(mentions(tbt_policy_error(), "exceeded the instruction limit"));
  CHECK_EQ_INT(tbt_policy_load(POLICY("io.lua", "io.open('/etc/passwd') return {}"), 0), TBT_EPOLICY);
  CHECK(mentions(tbt_policy_error(), "io"));   /* the sandbox has no io */
  CHECK_EQ_INT(tbt_policy_load(POLICY("queue.lua", "return { max_queue = 1 << 40 }"), 0), TBT_EPOLICY);
  CHECK(mentions(tbt_policy_error(), "queue.lua:1) must be a non-negative integer"));
  CHECK_EQ_INT(tbt_policy_load(POLICY("self.lua", "return { extends = 'self.lua' }"), 0), TBT_EPOLICY);
  CHECK(mentions(tbt_policy_error(), "nests too deep"));

  /* Unknown flag bits are ignored; TBT_POLICY_TRUSTED alone matters. */
  CHECK_EQ_INT(tbt_policy_load(POLICY("ok.lua", "return { name = function() return 'n' end }"), UINT_MAX), 0);
  CHECK_EQ_STR(tbt_policy_error(), "");
  /* A failed load keeps the policy that was loaded. */
  CHECK_EQ_INT(tbt_policy_load("/nonexistent/again.lua", 0), TBT_EPOLICY);
  CHECK(tbt_policy_error()[0] != '\0');
  tbt_policy_unload();
  tbt_policy_unload();
}

/* Exports under a policy whose hook returns ret (a Lua expression); want is the result. */
static void export_with(const char *hook, const char *ret, int want, const char *msg_part) {
  char src[512];
  int n = snprintf(src, sizeof src, "return { %s = function(ctx) return %s end }", hook, ret);
  CHECK_EQ_INT(tbt_policy_load(policy_file("hook.lua", src, (size_t)n), 0), 0);
  tbt_trace_options o;
  tbt_trace_options_init(&o);
  o.profiler = 1;
  o.profiler_outdir = g_dir;
  if (!tbt_trace_is_on()) CHECK_EQ_INT(tbt_trace_on(&o), 0);
  tbt_span_begin_("s", NULL);
  tbt_span_end_();
  tbt_export_result res;
  int rc = tbt_policy_export("x", TBT_DEFAULT_STEP, NULL, &res);
  CHECK_EQ_INT(rc, want);
  if (msg_part) CHECK(mentions(tbt_policy_error(), msg_part));
  if (rc) CHECK(tbt_trace_is_on());   /* nothing lost: export again later */
  if (rc) CHECK(res.nfiles == 0 && res.files == NULL);
  tbt_export_result_free(&res);
  tbt_policy_unload();
}

static int ends_with(const char *s, const char *tail) {
  size_t n = s ? strlen(s) : 0, m = strlen(tail);
  return n >= m && strcmp(s + n - m, tail) == 0;
}

static void hostile_hooks(void) {
  export_with("name", "5", TBT_EPOLICY, "returned number (string expected)");
  export_with("name", "''", TBT_EPOLICY, "empty string");
  export_with("name", "'a\\0b'", TBT_EPOLICY, "NUL byte");
  export_with("name", "'\\xff'", TBT_EPOLICY, "not valid UTF-8");
  export_with("name", "error('boom')", TBT_EPOLICY, "boom");
  export_with("step", "0/0", TBT_EPOLICY, "(integer expected)");
  export_with("step", "2^63", TBT_EPOLICY, "(integer expected)");
  export_with("run_name", "'../up'", TBT_EPOLICY, "not a single file name");
  export_with("run_name", "string.rep('r', 300)", TBT_EPOLICY, "longer than 255 bytes");
  export_with("logdir", "'a/../../b'", TBT_EPOLICY, "'..'");   /* no default writer: asked */
  export_with("name", "(function() while true do end end)()", TBT_EPOLICY, "instruction limit");
  /* After all that, a policy that decides well exports, at the step it gives. */
  export_with("step", "-2^63", 0, NULL);
  CHECK(!tbt_trace_is_on());

  /* With no policy loaded, TensorFlow's rules alone; a NULL result is allowed. */
  tbt_trace_options o;
  tbt_trace_options_init(&o);
  o.profiler = 1;
  o.profiler_outdir = g_dir;
  CHECK_EQ_INT(tbt_policy_export("x", TBT_STEP(1), NULL, NULL), TBT_ENOTRACE);
  CHECK_EQ_INT(tbt_trace_on(&o), 0);
  CHECK_EQ_INT(tbt_policy_export(NULL, TBT_STEP(1), NULL, NULL), TBT_EINVAL);   /* no name */
  CHECK_EQ_INT(tbt_policy_export("x", TBT_STEP(1), NULL, NULL), 0);
  /* The policy's decisions reach the export: its run name names the profile run. */
  static const char runp[] = "return { run_name = function(ctx) return 'run-' .. ctx.name end }";
  CHECK_EQ_INT(tbt_policy_load(POLICY("run.lua", runp), 0), 0);
  CHECK_EQ_INT(tbt_trace_on(&o), 0);
  tbt_export_result res;
  CHECK_EQ_INT(tbt_policy_export("x", TBT_STEP(1), NULL, &res), 0);
  CHECK(ends_with(tbt_export_result_path(&res, "profile_dir"), "/plugins/profile/run-x"));
  CHECK(ends_with(tbt_export_result_path(&res, "xplane"), ".xplane.pb"));
  tbt_export_result_free(&res);
  tbt_policy_unload();
}

/* Budgets out of range change nothing; 0 hands a budget back to the policy file. */
static void hostile_budgets(void) {
  CHECK_EQ_INT(tbt_policy_set_budgets(-1, 0), TBT_EINVAL);
  CHECK_EQ_INT(tbt_policy_set_budgets(0.0 / 0.0, 0), TBT_EINVAL);
  CHECK_EQ_INT(tbt_policy_set_budgets(1.0 / 0.0, 0), TBT_EINVAL);
  CHECK_EQ_INT(tbt_policy_set_budgets(3600.5, 0), TBT_EINVAL);
  CHECK_EQ_INT(tbt_policy_set_budgets(0, -1), TBT_EINVAL);
  CHECK_EQ_INT(tbt_policy_set_budgets(0, 65537), TBT_EINVAL);
  CHECK_EQ_INT(tbt_policy_set_budgets(0, INT_MIN), TBT_EINVAL);
  CHECK_EQ_INT(tbt_policy_set_budgets(3600, 65536), 0);   /* the bounds themselves */
  CHECK_EQ_INT(tbt_policy_set_budgets(0, 0), 0);
}

int main(void) {
  snprintf(g_dir, sizeof g_dir, "%s", tu_tmpdir("hpolicy"));
  mkdir(g_dir, 0777);
  hostile_budgets();
  hostile_load();
  hostile_hooks();
  return CHECK_DONE();
}

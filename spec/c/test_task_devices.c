/*
** test_task_devices.c: the task a process is in a job shows in what it writes. A model's task
** makes every device "<task>/device:CPU:<i>" (step_stats and GraphDef) and gives the XPlane a
** "task" stat; without one the devices are TensorFlow's local ones and there is no stat. The
** profile files of a process in a cluster are named "<host>_<job>_<task>" and hold the task.
*/
#include "check.h"
#include "testutil.h"

#include "encoders.h"
#include "tbtrace.h"

#include "run_metadata.pb-c.h"
#include "xplane.pb-c.h"

/* The XPlane's "task" stat (static buffer), or NULL when it has none. */
static const char *plane_task(const Tensorflow__Profiler__XPlane *pl) {
  static char task[128];
  for (size_t i = 0; i < pl->n_stats; i++)
    for (size_t k = 0; k < pl->n_stat_metadata; k++)
      if (pl->stat_metadata[k]->key == pl->stats[i]->metadata_id &&
          strcmp(pl->stat_metadata[k]->value->name, "task") == 0) {
        snprintf(task, sizeof task, "%s", pl->stats[i]->str_value);
        return task;
      }
  return NULL;
}

/* Every device of the RunMetadata starts with prefix and ends in "/device:CPU:<n>". */
static int devices_are(const tbt_buf *b, const char *prefix) {
  Tensorflow__RunMetadata *rm = tensorflow__run_metadata__unpack(NULL, b->len, b->data);
  if (!rm || !rm->step_stats || rm->step_stats->n_dev_stats == 0 || rm->n_function_graphs != 1) return 0;
  int ok = 1;
  size_t n = strlen(prefix);
  for (size_t i = 0; i < rm->step_stats->n_dev_stats; i++) {
    const char *d = rm->step_stats->dev_stats[i]->device;
    ok &= strncmp(d, prefix, n) == 0 && strncmp(d + n, "/device:CPU:", 12) == 0;
  }
  const Tensorflow__GraphDef *g = rm->function_graphs[0]->pre_optimization_graph;
  for (size_t i = 0; g && i < g->n_node; i++) ok &= strncmp(g->node[i]->device, prefix, n) == 0;
  ok &= g && g->n_node > 0;
  tensorflow__run_metadata__free_unpacked(rm, NULL);
  return ok;
}

static Tensorflow__Profiler__XSpace *read_xspace(const char *path) {
  size_t len;
  uint8_t *data = tu_read_file(path, &len);
  if (!data) return NULL;
  Tensorflow__Profiler__XSpace *xs = tensorflow__profiler__xspace__unpack(NULL, len, data);
  free(data);
  return xs;
}

int main(void) {
  static const char *const vars[] = {"TBTRACE_RANK", "TF_CONFIG", "RANK", "OMPI_COMM_WORLD_RANK",
                                     "PMI_RANK", "SLURM_PROCID"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) unsetenv(vars[i]);
  tbt_trace_options o;
  tbt_trace_options_init(&o);
  o.profiler = 1;
  CHECK_EQ_INT(tbt_trace_on(&o), 0);
  TBT_SPAN("step") {
    TBT_SPAN("load") {
    }
  }
  tbt_trace_model m;
  CHECK_EQ_INT(tbt_trace_snapshot(&m), 0);
  tbt_trace_off();

  /* encoders */
  tbt_buf b = {0};
  CHECK_EQ_INT(tbt_encode_run_metadata(&m, TBT_RUN_METADATA_FULL, &b), 0);
  CHECK(devices_are(&b, "/job:localhost/replica:0/task:0"));
  tbt_buf_free(&b);
  CHECK_EQ_INT(tbt_encode_xspace(&m, "h", &b), 0);
  Tensorflow__Profiler__XSpace *xs = tensorflow__profiler__xspace__unpack(NULL, b.len, b.data);
  CHECK(xs && xs->n_planes == 1 && plane_task(xs->planes[0]) == NULL);
  if (xs) tensorflow__profiler__xspace__free_unpacked(xs, NULL);
  tbt_buf_free(&b);

  m.task = "/job:worker/replica:0/task:3";
  CHECK_EQ_INT(tbt_encode_run_metadata(&m, TBT_RUN_METADATA_FULL, &b), 0);
  CHECK(devices_are(&b, "/job:worker/replica:0/task:3"));
  CHECK(!devices_are(&b, "/job:localhost/replica:0/task:0"));
  tbt_buf_free(&b);
  CHECK_EQ_INT(tbt_encode_xspace(&m, "h", &b), 0);
  xs = tensorflow__profiler__xspace__unpack(NULL, b.len, b.data);
  const char *task = xs && xs->n_planes == 1 ? plane_task(xs->planes[0]) : NULL;
  CHECK(task && strcmp(task, "/job:worker/replica:0/task:3") == 0);
  CHECK(xs && xs->planes[0]->n_lines == 1 && xs->planes[0]->lines[0]->n_events == 2);
  if (xs) tensorflow__profiler__xspace__free_unpacked(xs, NULL);
  tbt_buf_free(&b);
  m.task = NULL;

  /* profile files of a process in a cluster, and of one outside */
  char machine[256], want[1024];
  tbt_profile_host(machine, sizeof machine);
  setenv("TBTRACE_RANK", "2", 1);
  setenv("TBTRACE_WORLD_SIZE", "4", 1);
  setenv("TBTRACE_JOB_NAME", "trainer", 1);
  tbt_profile_options po;
  memset(&po, 0, sizeof po);
  po.outdir = tu_tmpdir("task");
  po.gzip_level = -1;
  tbt_profile_paths p;
  CHECK_EQ_INT(tbt_profile_write(&m, &po, &p), 0);
  snprintf(want, sizeof want, "%s/%s_trainer_2.xplane.pb", p.run_dir ? p.run_dir : "", machine);
  CHECK_EQ_STR(tbt_profile_path(&p, "xplane"), want);
  xs = tbt_profile_path(&p, "xplane") ? read_xspace(tbt_profile_path(&p, "xplane")) : NULL;
  task = xs && xs->n_planes == 1 ? plane_task(xs->planes[0]) : NULL;
  CHECK(task && strcmp(task, "/job:trainer/replica:0/task:2") == 0);
  CHECK(xs && xs->n_hostnames == 1 && strcmp(xs->hostnames[0], machine) == 0);
  if (xs) tensorflow__profiler__xspace__free_unpacked(xs, NULL);
  tbt_profile_paths_free(&p);

  unsetenv("TBTRACE_RANK");
  CHECK_EQ_INT(tbt_profile_write(&m, &po, &p), 0);   /* the same run: another host name */
  snprintf(want, sizeof want, "%s/%s.xplane.pb", p.run_dir ? p.run_dir : "", machine);
  CHECK_EQ_STR(tbt_profile_path(&p, "xplane"), want);
  xs = tbt_profile_path(&p, "xplane") ? read_xspace(tbt_profile_path(&p, "xplane")) : NULL;
  CHECK(xs && xs->n_planes == 1 && plane_task(xs->planes[0]) == NULL);
  if (xs) tensorflow__profiler__xspace__free_unpacked(xs, NULL);
  tbt_profile_paths_free(&p);
  tbt_trace_model_free(&m);
  return CHECK_DONE();
}

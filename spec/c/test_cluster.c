/*
** test_cluster.c: the cluster facts read from each launcher's variables, the order launchers are
** tried in, the job id's sources, and variables that are malformed or inconsistent (outside a
** cluster then, never a guess). Tables of "NAME=value" stand for the environment; the last test
** reads the real one through tbt_cluster_get.
*/
#include "check.h"

#include "cluster.h"
#include "tbtrace.h"

#include <stdlib.h>
#include <string.h>

#define MAXV 12

typedef struct row {
  const char *what;
  const char *env[MAXV];   /* "NAME=value", NULL-terminated */
  int in;                  /* expected return */
  long long rank, world, local, task;
  const char *job_id, *job_name, *source;
} row;

static const char *table_env(void *ud, const char *name) {
  const char *const *env = ud;
  size_t n = strlen(name);
  for (; *env; env++)
    if (strncmp(*env, name, n) == 0 && (*env)[n] == '=') return *env + n + 1;
  return NULL;
}

static const row ROWS[] = {
    {"nothing set", {NULL}, 0, 0, 1, -1, 0, "", "", ""},
    {"torchrun", {"RANK=3", "WORLD_SIZE=8", "LOCAL_RANK=1", "TORCHELASTIC_RUN_ID=abc-123"},
     1, 3, 8, 1, 3, "abc-123", "worker", "torchrun"},
    {"torchrun's placeholder id is no id", {"RANK=0", "WORLD_SIZE=2", "TORCHELASTIC_RUN_ID=none"},
     1, 0, 2, -1, 0, "", "worker", "torchrun"},
    {"torchrun in a SLURM step: torchrun's ranks, SLURM's job id",
     {"RANK=5", "WORLD_SIZE=16", "LOCAL_RANK=5", "SLURM_PROCID=0", "SLURM_NTASKS=2",
      "SLURM_JOB_ID=991", "SLURM_STEP_ID=4"},
     1, 5, 16, 5, 5, "991.4", "worker", "torchrun"},
    {"slurm", {"SLURM_PROCID=2", "SLURM_NTASKS=4", "SLURM_LOCALID=0", "SLURM_JOB_ID=77"},
     1, 2, 4, 0, 2, "77", "worker", "slurm"},
    {"slurm's older SLURM_NPROCS", {"SLURM_PROCID=1", "SLURM_NPROCS=2", "SLURM_JOB_ID=78"},
     1, 1, 2, -1, 1, "78", "worker", "slurm"},
    {"open mpi 4", {"OMPI_COMM_WORLD_RANK=6", "OMPI_COMM_WORLD_SIZE=7",
                    "OMPI_COMM_WORLD_LOCAL_RANK=2", "OMPI_MCA_orte_ess_jobid=3735552001"},
     1, 6, 7, 2, 6, "3735552001", "worker", "openmpi"},
    {"open mpi 5 (PMIx namespace)", {"OMPI_COMM_WORLD_RANK=0", "OMPI_COMM_WORLD_SIZE=1",
                                     "PMIX_NAMESPACE=prterun-node1-4242@1"},
     1, 0, 1, -1, 0, "prterun-node1-4242@1", "worker", "openmpi"},
    {"hydra", {"PMI_RANK=9", "PMI_SIZE=10", "MPI_LOCALRANKID=3"}, 1, 9, 10, 3, 9, "", "worker", "pmi"},
    {"tbtrace's own, over every launcher",
     {"TBTRACE_RANK=1", "TBTRACE_WORLD_SIZE=3", "TBTRACE_JOB_NAME=trainer", "TBTRACE_JOB_ID=exp7",
      "RANK=0", "WORLD_SIZE=2", "TORCHELASTIC_RUN_ID=x"},
     1, 1, 3, -1, 1, "exp7", "trainer", "tbtrace"},
    {"TBTRACE_JOB_ID names the job under any launcher",
     {"SLURM_PROCID=0", "SLURM_NTASKS=1", "SLURM_JOB_ID=5", "TBTRACE_JOB_ID=mine"},
     1, 0, 1, -1, 0, "mine", "worker", "slurm"},
    {"TF_CONFIG worker after the chief",
     {"TF_CONFIG={\"cluster\": {\"worker\": [\"w0:1\", \"w1:1\", \"w2:1\"], \"chief\": [\"c:1\"],"
      " \"ps\": [\"p0:1\", \"p1:1\"]}, \"task\": {\"type\": \"worker\", \"index\": 2}}"},
     1, 3, 6, -1, 2, "", "worker", "tf_config"},
    {"TF_CONFIG chief", {"TF_CONFIG={\"task\":{\"index\":0,\"type\":\"chief\"},\"cluster\":{"
                         "\"chief\":[\"c:1\"],\"worker\":[\"w:1\"]},\"environment\":\"cloud\"}"},
     1, 0, 2, -1, 0, "", "chief", "tf_config"},
    {"TF_CONFIG ps come after the workers",
     {"TF_CONFIG={\"cluster\":{\"ps\":[\"p:1\",\"q:1\"],\"worker\":[\"w:1\"]},"
      "\"task\":{\"type\":\"ps\",\"index\":1}}"},
     1, 2, 3, -1, 1, "", "ps", "tf_config"},
    {"TF_CONFIG with escapes, nesting and other keys",
     {"TF_CONFIG={\"x\":[1,-2.5e3,true,false,null,{\"a\":[[]]}],\"cluster\":{\"worker\":"
      "[\"a\\\"b\",\"\\u00e9\"]},\"task\":{\"type\":\"worker\",\"index\":1.0},\"rpc_layer\":\"grpc\"}"},
     1, 1, 2, -1, 1, "", "worker", "tf_config"},
    {"TF_CONFIG evaluator is outside the cluster",
     {"TF_CONFIG={\"cluster\":{\"worker\":[\"w:1\"]},\"task\":{\"type\":\"evaluator\",\"index\":0}}"},
     0, 0, 1, -1, 0, "", "", ""},
    {"TF_CONFIG index past its job", {"TF_CONFIG={\"cluster\":{\"worker\":[\"w:1\"]},"
                                      "\"task\":{\"type\":\"worker\",\"index\":1}}"},
     0, 0, 1, -1, 0, "", "", ""},
    {"TF_CONFIG malformed falls through to the next launcher",
     {"TF_CONFIG={\"cluster\":{\"worker\":[\"w:1\"]},\"task\":{\"type\":\"worker\",\"index\":0}",
      "SLURM_PROCID=1", "SLURM_NTASKS=2"},
     1, 1, 2, -1, 1, "", "worker", "slurm"},
    {"TF_CONFIG a job named twice", {"TF_CONFIG={\"cluster\":{\"worker\":[\"a\"],\"worker\":[\"b\"]},"
                                     "\"task\":{\"type\":\"worker\",\"index\":0}}"},
     0, 0, 1, -1, 0, "", "", ""},
    {"TF_CONFIG negative index", {"TF_CONFIG={\"cluster\":{\"worker\":[\"a\"]},"
                                  "\"task\":{\"type\":\"worker\",\"index\":-1}}"},
     0, 0, 1, -1, 0, "", "", ""},
    {"TF_CONFIG odd job name characters", {"TF_CONFIG={\"cluster\":{\"w/x:y\":[\"a\"]},"
                                           "\"task\":{\"type\":\"w/x:y\",\"index\":0}}"},
     1, 0, 1, -1, 0, "", "w_x_y", "tf_config"},
    {"rank not below the world size", {"RANK=4", "WORLD_SIZE=4"}, 0, 0, 1, -1, 0, "", "", ""},
    {"rank not a number", {"RANK=one", "WORLD_SIZE=4"}, 0, 0, 1, -1, 0, "", "", ""},
    {"signed rank", {"RANK=+1", "WORLD_SIZE=4"}, 0, 0, 1, -1, 0, "", "", ""},
    {"empty rank", {"RANK=", "WORLD_SIZE=4"}, 0, 0, 1, -1, 0, "", "", ""},
    {"huge world size", {"RANK=0", "WORLD_SIZE=99999999999999999999"}, 0, 0, 1, -1, 0, "", "", ""},
    {"rank without a world size", {"RANK=0"}, 0, 0, 1, -1, 0, "", "", ""},
    {"bad local rank is unknown", {"RANK=1", "WORLD_SIZE=2", "LOCAL_RANK=x"},
     1, 1, 2, -1, 1, "", "worker", "torchrun"},
    {"a bad inner launcher falls through to the outer one",
     {"RANK=9", "WORLD_SIZE=2", "SLURM_PROCID=1", "SLURM_NTASKS=2", "SLURM_JOB_ID=12"},
     1, 1, 2, -1, 1, "12", "worker", "slurm"},
};

static void test_rows(void) {
  for (size_t i = 0; i < sizeof ROWS / sizeof ROWS[0]; i++) {
    const row *r = &ROWS[i];
    tbt_cluster c;
    memset(&c, 0x5a, sizeof c);
    int rc = tbt_cluster_from_env(table_env, (void *)r->env, &c);
    int ok = rc == r->in && c.rank == r->rank && c.world_size == r->world &&
             c.local_rank == r->local && c.task_index == r->task &&
             strcmp(c.job_id, r->job_id) == 0 && strcmp(c.job_name, r->job_name) == 0 &&
             strcmp(c.source, r->source) == 0;
    if (!ok)
      fprintf(stderr, "row '%s': got %d rank %lld world %lld local %lld task %lld id '%s' job '%s' "
              "source '%s'\n", r->what, rc, (long long)c.rank, (long long)c.world_size,
              (long long)c.local_rank, (long long)c.task_index, c.job_id, c.job_name, c.source);
    CHECK(ok);
  }
}

/* Whatever the variable holds, the parser stops inside it and answers. */
static void test_truncations(void) {
  const char *full = "{\"cluster\":{\"worker\":[\"a\\u00e9:1\",\"b\"],\"chief\":[\"c\"]},"
                     "\"task\":{\"type\":\"worker\",\"index\":1}}";
  char buf[256];
  size_t n = strlen(full);
  int ins = 0;
  for (size_t k = 0; k <= n; k++) {
    snprintf(buf, sizeof buf, "TF_CONFIG=%.*s", (int)k, full);
    const char *env[] = {buf, NULL};
    tbt_cluster c;
    int rc = tbt_cluster_from_env(table_env, (void *)env, &c);
    CHECK(rc == 0 || rc == 1);
    ins += rc == 1;
    if (rc == 1) CHECK_EQ_INT(c.rank, 2);
  }
  CHECK_EQ_INT(ins, 1);   /* only the whole text */
  char deep[4096] = "TF_CONFIG=";
  for (int i = 0; i < 1000; i++) strcat(deep, "[");
  const char *env[] = {deep, NULL};
  tbt_cluster c;
  CHECK_EQ_INT(tbt_cluster_from_env(table_env, (void *)env, &c), 0);
}

static void test_long_values(void) {
  char id[400] = "TBTRACE_JOB_ID=";
  for (int i = 0; i < 300; i++) strcat(id, "j");
  char name[200] = "TBTRACE_JOB_NAME=";
  for (int i = 0; i < 100; i++) strcat(name, "n");
  const char *env[] = {"TBTRACE_RANK=0", "TBTRACE_WORLD_SIZE=1", id, name, NULL};
  tbt_cluster c;
  CHECK_EQ_INT(tbt_cluster_from_env(table_env, (void *)env, &c), 1);
  CHECK_EQ_INT(strlen(c.job_id), sizeof c.job_id - 1);
  CHECK_EQ_INT(strlen(c.job_name), sizeof c.job_name - 1);
}

static void test_prefix(void) {
  char buf[128];
  CHECK_EQ_INT(tbt_cluster_task_prefix(NULL, buf, sizeof buf), strlen("/job:localhost/replica:0/task:0"));
  CHECK_EQ_STR(buf, "/job:localhost/replica:0/task:0");
  const char *env[] = {"RANK=3", "WORLD_SIZE=4", NULL};
  tbt_cluster c;
  tbt_cluster_from_env(table_env, (void *)env, &c);
  tbt_cluster_task_prefix(&c, buf, sizeof buf);
  CHECK_EQ_STR(buf, "/job:worker/replica:0/task:3");
  char small[8];
  CHECK_EQ_INT(tbt_cluster_task_prefix(&c, small, sizeof small), 7);
  CHECK_EQ_STR(small, "/job:wo");
}

static void test_process_env(void) {
  tbt_cluster c;
  CHECK_EQ_INT(tbt_cluster_get(NULL), TBT_EINVAL);
  static const char *const vars[] = {"TBTRACE_RANK", "TF_CONFIG", "RANK", "OMPI_COMM_WORLD_RANK",
                                     "PMI_RANK", "SLURM_PROCID"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) unsetenv(vars[i]);
  CHECK_EQ_INT(tbt_cluster_get(&c), 0);
  CHECK_EQ_INT(c.rank, 0);
  CHECK_EQ_INT(c.world_size, 1);
  setenv("TBTRACE_RANK", "2", 1);
  setenv("TBTRACE_WORLD_SIZE", "5", 1);
  setenv("TBTRACE_JOB_ID", "j1", 1);
  CHECK_EQ_INT(tbt_cluster_get(&c), 1);
  CHECK_EQ_INT(c.rank, 2);
  CHECK_EQ_STR(c.job_id, "j1");
  CHECK_EQ_STR(c.source, "tbtrace");
  unsetenv("TBTRACE_RANK");   /* read again at each call */
  CHECK_EQ_INT(tbt_cluster_get(&c), 0);
  CHECK_EQ_INT(tbt_cluster_from_env(NULL, NULL, &c), TBT_EINVAL);
}

int main(void) {
  test_rows();
  test_truncations();
  test_long_values();
  test_prefix();
  test_process_env();
  return CHECK_DONE();
}

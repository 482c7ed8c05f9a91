/*
** cluster.c: tbt_cluster_get (tbtrace_trace.h), which process of a job this is, from the
** variables launchers set.
**
** Sources, tried in this order; the first whose rank and world size are both set, are decimal
** numbers and rank < world size decides rank, world size, local rank, job name and task index:
**   tbtrace    TBTRACE_RANK, TBTRACE_WORLD_SIZE, TBTRACE_LOCAL_RANK, TBTRACE_JOB_NAME
**   tf_config  TF_CONFIG {"cluster": {job: [addresses]}, "task": {"type", "index"}}: ranks
**              number the tasks job by job, "chief", "master", "worker" first, then the other
**              jobs by name (TF's id_in_cluster for chief and workers); a task whose type is not
**              in the cluster (TF's evaluator) is outside it
**   torchrun   RANK, WORLD_SIZE, LOCAL_RANK                  job id TORCHELASTIC_RUN_ID
**   openmpi    OMPI_COMM_WORLD_RANK, _SIZE, _LOCAL_RANK       job id PMIX_NAMESPACE,
**                                                             OMPI_MCA_ess_base_jobid or
**                                                             OMPI_MCA_orte_ess_jobid
**   pmi        PMI_RANK, PMI_SIZE, MPI_LOCALRANKID (MPICH's and Intel MPI's Hydra)
**   slurm      SLURM_PROCID, SLURM_NTASKS (or SLURM_NPROCS), SLURM_LOCALID
** The innermost launcher comes first: torchrun or mpirun started inside a SLURM allocation sees
** SLURM's variables too, and its own are the ones that tell processes apart.
** The job id: TBTRACE_JOB_ID, else the source's own, else SLURM_JOB_ID ("<job>.<step>" with
** SLURM_STEP_ID), else "". TF_CONFIG has none.
*/
#include "cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A count or index as launchers write it: decimal digits only, below 2^31. */
static int parse_count(const char *s, int64_t *out) {
  if (!s || !*s) return 0;
  int64_t v = 0;
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '9') return 0;
    v = v * 10 + (*p - '0');
    if (v > 0x7fffffff) return 0;
  }
  *out = v;
  return 1;
}

static void set_job_name(tbt_cluster *c, const char *name) {
  snprintf(c->job_name, sizeof c->job_name, "%s", name && *name ? name : "worker");
  for (char *p = c->job_name; *p; p++) {
    int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
             *p == '_' || *p == '-';
    if (!ok) *p = '_';
  }
}

/* ----------------------------------------------------------------- TF_CONFIG */

/* Just enough JSON for TF_CONFIG: the job sizes of "cluster" and the "task". Anything malformed
** makes the whole variable count as unset. */
enum { MAX_JOBS = 32, MAX_DEPTH = 32 };

typedef struct tf_config {
  char jobs[MAX_JOBS][64];
  int64_t sizes[MAX_JOBS];
  int njobs;
  char type[64];
  int64_t index;
  int has_type, has_index;
} tf_config;

typedef struct json {
  const char *p;
  int depth;
} json;

static void skip_ws(json *j) {
  while (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r') j->p++;
}

static int eat(json *j, char c) {
  skip_ws(j);
  if (*j->p != c) return 0;
  j->p++;
  return 1;
}

/* A string into out (cut to size; escapes other than \" \\ \/ kept as '?'); 1 when well formed. */
static int parse_string(json *j, char *out, size_t size) {
  if (!eat(j, '"')) return 0;
  size_t n = 0;
  for (;;) {
    char c = *j->p++;
    if (c == '\0' || (unsigned char)c < 0x20) return 0;
    if (c == '"') break;
    if (c == '\\') {
      char e = *j->p++;
      if (e == 'u') {
        for (int k = 0; k < 4; k++, j->p++)
          if (!*j->p || !strchr("0123456789abcdefABCDEF", *j->p)) return 0;
        c = '?';
      } else if (e == '"' || e == '\\' || e == '/') {
        c = e;
      } else if (e && strchr("bfnrt", e)) {
        c = '?';
      } else {
        return 0;
      }
    }
    if (out && n + 1 < size) out[n++] = c;
  }
  if (out && size) out[n] = '\0';
  return 1;
}

static int skip_value(json *j);

/* Calls each(j, key, ud) for every member of an object; each must consume the value. */
static int parse_object(json *j, int (*each)(json *, const char *, void *), void *ud) {
  if (!eat(j, '{')) return 0;
  if (++j->depth > MAX_DEPTH) return 0;
  if (eat(j, '}')) return j->depth--, 1;
  do {
    char key[64];
    if (!parse_string(j, key, sizeof key) || !eat(j, ':') || !each(j, key, ud)) return 0;
  } while (eat(j, ','));
  j->depth--;
  return eat(j, '}');
}

static int skip_member(json *j, const char *key, void *ud) {
  (void)key, (void)ud;
  return skip_value(j);
}

/* Skips an array, counting its elements into *n. */
static int parse_array(json *j, int64_t *n) {
  if (!eat(j, '[')) return 0;
  if (++j->depth > MAX_DEPTH) return 0;
  *n = 0;
  if (!eat(j, ']')) {
    do {
      if (!skip_value(j)) return 0;
      ++*n;
    } while (eat(j, ','));
    if (!eat(j, ']')) return 0;
  }
  j->depth--;
  return 1;
}

static int parse_number(json *j, int64_t *as_index) {
  skip_ws(j);
  const char *s = j->p;
  char *end;
  double v = strtod(s, &end);
  if (end == s || *s == '+' || *s == '.' || (*s == '-' && (s[1] < '0' || s[1] > '9'))) return 0;
  j->p = end;
  if (as_index) {
    if (!(v >= 0 && v <= 0x7fffffff && v == (double)(int64_t)v)) return 0;
    *as_index = (int64_t)v;
  }
  return 1;
}

static int skip_value(json *j) {
  skip_ws(j);
  int64_t n;
  switch (*j->p) {
    case '{': return parse_object(j, skip_member, NULL);
    case '[': return parse_array(j, &n);
    case '"': return parse_string(j, NULL, 0);
    case 't': return strncmp(j->p, "true", 4) == 0 ? (j->p += 4, 1) : 0;
    case 'f': return strncmp(j->p, "false", 5) == 0 ? (j->p += 5, 1) : 0;
    case 'n': return strncmp(j->p, "null", 4) == 0 ? (j->p += 4, 1) : 0;
    default: return parse_number(j, NULL);
  }
}

static int cluster_member(json *j, const char *key, void *ud) {
  tf_config *t = ud;
  for (int i = 0; i < t->njobs; i++)
    if (strcmp(t->jobs[i], key) == 0) return 0;   /* a job twice: not a cluster spec */
  if (t->njobs == MAX_JOBS) return 0;
  snprintf(t->jobs[t->njobs], sizeof t->jobs[0], "%s", key);
  if (!parse_array(j, &t->sizes[t->njobs])) return 0;
  t->njobs++;
  return 1;
}

static int task_member(json *j, const char *key, void *ud) {
  tf_config *t = ud;
  if (strcmp(key, "type") == 0) return t->has_type = 1, parse_string(j, t->type, sizeof t->type);
  if (strcmp(key, "index") == 0) return t->has_index = 1, parse_number(j, &t->index);
  return skip_value(j);
}

static int top_member(json *j, const char *key, void *ud) {
  if (strcmp(key, "cluster") == 0) return parse_object(j, cluster_member, ud);
  if (strcmp(key, "task") == 0) return parse_object(j, task_member, ud);
  return skip_value(j);
}

/* Where job `name` comes in the rank order: chief, master, worker, then the rest by name. */
static int job_before(const char *a, const char *b) {
  static const char *const first[] = {"chief", "master", "worker"};
  int ra = 3, rb = 3;
  for (int i = 0; i < 3; i++) {
    if (strcmp(a, first[i]) == 0) ra = i;
    if (strcmp(b, first[i]) == 0) rb = i;
  }
  return ra != rb ? ra < rb : strcmp(a, b) < 0;
}

static int from_tf_config(const char *text, tbt_cluster *c) {
  if (!text) return 0;
  tf_config t;
  memset(&t, 0, sizeof t);
  json j = {text, 0};
  if (!parse_object(&j, top_member, &t)) return 0;
  skip_ws(&j);
  if (*j.p || !t.has_type || !t.has_index) return 0;
  int64_t before = 0, world = 0, mine = -1;
  for (int i = 0; i < t.njobs; i++) {
    world += t.sizes[i];
    if (strcmp(t.jobs[i], t.type) == 0) mine = t.sizes[i];
    else if (job_before(t.jobs[i], t.type)) before += t.sizes[i];
  }
  if (mine < 0 || t.index >= mine || world > 0x7fffffff) return 0;
  c->rank = before + t.index;
  c->world_size = world;
  c->task_index = t.index;
  set_job_name(c, t.type);
  return 1;
}

/* ----------------------------------------------------------------- sources */

typedef struct source {
  const char *name;
  const char *rank, *size, *size2, *local_rank;
  const char *job_ids[3];
} source;

static const source SOURCES[] = {
    {"tbtrace", "TBTRACE_RANK", "TBTRACE_WORLD_SIZE", NULL, "TBTRACE_LOCAL_RANK", {NULL}},
    {"tf_config", NULL, NULL, NULL, NULL, {NULL}},
    {"torchrun", "RANK", "WORLD_SIZE", NULL, "LOCAL_RANK", {"TORCHELASTIC_RUN_ID"}},
    {"openmpi", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", NULL, "OMPI_COMM_WORLD_LOCAL_RANK",
     {"PMIX_NAMESPACE", "OMPI_MCA_ess_base_jobid", "OMPI_MCA_orte_ess_jobid"}},
    {"pmi", "PMI_RANK", "PMI_SIZE", NULL, "MPI_LOCALRANKID", {NULL}},
    {"slurm", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_NPROCS", "SLURM_LOCALID", {NULL}},
};

static void set_job_id(tbt_cluster *c, const char *id) {
  snprintf(c->job_id, sizeof c->job_id, "%s", id);
}

/* A job id a launcher gave: set and not torchrun's placeholder "none". */
static int usable_id(const char *id) {
  return id && *id && strcmp(id, "none") != 0;
}

int tbt_cluster_from_env(tbt_env_fn env, void *ud, tbt_cluster *out) {
  if (!env || !out) return TBT_EINVAL;
  memset(out, 0, sizeof *out);
  out->world_size = 1;
  out->local_rank = -1;
  tbt_cluster c;
  const source *src = NULL;
  for (size_t i = 0; i < sizeof SOURCES / sizeof SOURCES[0] && !src; i++) {
    const source *s = &SOURCES[i];
    memset(&c, 0, sizeof c);
    c.local_rank = -1;
    if (!s->rank) {
      if (from_tf_config(env(ud, "TF_CONFIG"), &c)) src = s;
      continue;
    }
    const char *size = env(ud, s->size);
    if (!size && s->size2) size = env(ud, s->size2);
    if (!parse_count(env(ud, s->rank), &c.rank) || !parse_count(size, &c.world_size) ||
        c.rank >= c.world_size)
      continue;
    c.task_index = c.rank;
    set_job_name(&c, strcmp(s->name, "tbtrace") == 0 ? env(ud, "TBTRACE_JOB_NAME") : NULL);
    src = s;
  }
  if (!src) return 0;

  if (src->local_rank && !parse_count(env(ud, src->local_rank), &c.local_rank)) c.local_rank = -1;
  snprintf(c.source, sizeof c.source, "%s", src->name);
  const char *id = env(ud, "TBTRACE_JOB_ID");
  for (int k = 0; k < 3 && !usable_id(id) && src->job_ids[k]; k++) id = env(ud, src->job_ids[k]);
  if (usable_id(id)) {
    set_job_id(&c, id);
  } else if (usable_id(id = env(ud, "SLURM_JOB_ID"))) {
    const char *step = env(ud, "SLURM_STEP_ID");
    if (usable_id(step)) snprintf(c.job_id, sizeof c.job_id, "%s.%s", id, step);
    else set_job_id(&c, id);
  }
  *out = c;
  return 1;
}

static const char *process_env(void *ud, const char *name) {
  (void)ud;
  return getenv(name);
}

int tbt_cluster_get(tbt_cluster *out) {
  return tbt_cluster_from_env(process_env, NULL, out);
}

size_t tbt_cluster_task_prefix(const tbt_cluster *c, char *buf, size_t size) {
  int n = c ? snprintf(buf, size, "/job:%s/replica:0/task:%lld", c->job_name, (long long)c->task_index)
            : snprintf(buf, size, "/job:localhost/replica:0/task:0");
  if (n < 0) n = 0;
  return size == 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

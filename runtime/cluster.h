/*
** cluster.h: reading the cluster facts (tbt_cluster, tbtrace_trace.h) from any environment.
**
** tbt_cluster_get reads the process environment; tbt_cluster_from_env reads through a lookup
** function, so the rules can be tested with tables of variables.
*/
#ifndef TBT_CLUSTER_H
#define TBT_CLUSTER_H

#include "tbtrace.h"

/* The value of variable name, or NULL when it is not set. */
typedef const char *(*tbt_env_fn)(void *ud, const char *name);

/* As tbt_cluster_get, reading variables through env. */
int tbt_cluster_from_env(tbt_env_fn env, void *ud, tbt_cluster *out);

/* "/job:<job_name>/replica:0/task:<task_index>" of c, or "/job:localhost/replica:0/task:0"
** when c is NULL: the prefix of device names. Returns the length (cut to fit size). */
size_t tbt_cluster_task_prefix(const tbt_cluster *c, char *buf, size_t size);

#endif

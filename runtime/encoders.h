/*
** encoders.h: a trace (a source, trace_source.h) into the bytes trace_export writes.
**
**   encode_run_metadata.c  tensorflow.RunMetadata: the span graph (GraphDef) and, in the full
**                          variant, step_stats (one DeviceStepStats per thread)
**   encode_xspace.c        tensorflow.profiler.XSpace, the .xplane.pb of the profile plugin
**   encode_chrome_json.c   Chrome trace event JSON (Perfetto UI, chrome://tracing), plain or gzip
**   profile_files.c        the profile directory layout, written atomically
**
** Each encoder streams: it walks the source (a pass that sizes the length-delimited messages
** when the format has them, then a pass that writes) into a sink (sink.h), holding only what
** grows with the distinct names of the trace (graph nodes, event metadata, escaped names), never
** with its spans. The tbt_encode_* forms over a model are for tests and tools.
**
** Layout choices:
**   - thread i of the model (model order) is the device "/job:localhost/replica:0/task:0/device:CPU:<i>"
**     in GraphDef and step_stats ("<m->task>/device:CPU:<i>" in a cluster, so the processes of a
**     job tell apart): TensorBoard's graph view only uses stats of devices whose name ends in
**     "device:<type>:<n>", and a device per thread lets it colour nodes by thread;
**   - a GraphDef node per distinct span path: name = path, op = category (first seen) or "Span",
**     inputs = the declared dependencies into it, else its parent's path;
**   - XSpace: one plane "/host:CPU" (id 49, TensorFlow's host plane id), one line per thread; in a
**     cluster the plane has a "task" stat holding m->task.
** All functions return 0 or a negative code (TBT_ENOMEM, TBT_ERANGE, -errno).
*/
#ifndef TBT_ENCODERS_H
#define TBT_ENCODERS_H

#include "buf.h"
#include "sink.h"
#include "tbtrace.h"
#include "trace_model.h"
#include "trace_source.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* ------------------------------------------------------------ RunMetadata */

/* GraphDef.versions.producer of every graph tbtrace writes. TensorBoard only requires graphs
** merged under one tag to agree on it; 1 marks "not a TensorFlow graph". */
#define TBT_GRAPH_PRODUCER 1
/* Prefix of the device name of thread i ("<prefix><i>") outside a cluster; in one the task is
** the model's (m->task, "/job:worker/replica:0/task:3") and the prefix "<task>/device:CPU:". */
#define TBT_LOCAL_TASK "/job:localhost/replica:0/task:0"
#define TBT_THREAD_DEVICE_PREFIX TBT_LOCAL_TASK "/device:CPU:"
/* NodeDef.op of a span without a category. */
#define TBT_SPAN_OP "Span"

enum { TBT_RUN_METADATA_GRAPH = 0, TBT_RUN_METADATA_FULL = 1 };

/* A RunMetadata sized and ready to write: the graph built and packed, step_stats sized (two walks
** of src, which must outlive it). variant TBT_RUN_METADATA_GRAPH: only
** function_graphs[0].pre_optimization_graph; TBT_RUN_METADATA_FULL: also step_stats. */
typedef struct tbt_run_metadata tbt_run_metadata;
int tbt_run_metadata_prepare(tbt_source *src, int variant, tbt_run_metadata **out);
/* Its serialized size, which tbt_run_metadata_write writes exactly (one more walk). */
size_t tbt_run_metadata_size(const tbt_run_metadata *rm);
int tbt_run_metadata_write(tbt_run_metadata *rm, tbt_sink *out);
void tbt_run_metadata_free(tbt_run_metadata *rm);

/* Serialized RunMetadata of a model into *out (appended). */
int tbt_encode_run_metadata(const tbt_trace_model *m, int variant, tbt_buf *out);

/* ------------------------------------------------------------ XSpace */

/* XPlane.id of the host plane. */
#define TBT_HOST_PLANE_ID 49
#define TBT_HOST_PLANE_NAME "/host:CPU"
/* XStatMetadata ids of the host plane. */
enum { TBT_XSTAT_CATEGORY = 1, TBT_XSTAT_UNFINISHED = 2, TBT_XSTAT_VALUE = 3, TBT_XSTAT_TASK = 4, TBT_XSTAT_STACK = 5 };

/* Serialized XSpace into out (two walks of src); host goes to XSpace.hostnames. */
int tbt_xspace_write(tbt_source *src, const char *host, tbt_sink *out);
/* The same of a model, appended to *out. */
int tbt_encode_xspace(const tbt_trace_model *m, const char *host, tbt_buf *out);

/* ------------------------------------------------------------ Chrome trace JSON */

typedef struct tbt_chrome_options {
  long pid;                  /* "pid" of every event */
  const char *process_name;  /* the process_name metadata event; NULL: none */
  const char *host;          /* otherData.host; NULL: none */
} tbt_chrome_options;

/* The JSON document into out (one walk of src; out is not finished). */
int tbt_chrome_json_write(tbt_source *src, const tbt_chrome_options *o, tbt_sink *out);
/* The same of a model: appended to *out; handed to fn in pieces; gzip-compressed (level 0..9;
** -1 = 1) straight into fd. */
int tbt_encode_chrome_json(const tbt_trace_model *m, const tbt_chrome_options *o, tbt_buf *out);
int tbt_chrome_json_to(const tbt_trace_model *m, const tbt_chrome_options *o, tbt_sink_fn fn,
                       void *ud);
int tbt_chrome_json_gz_fd(const tbt_trace_model *m, const tbt_chrome_options *o, int level, int fd);

/* gzip (RFC 1952) of data at level (-1 = 1), appended to *out. */
int tbt_gzip(const void *data, size_t len, int level, tbt_buf *out);

/* JSON string contents of s[0..len) (no quotes): '"', '\\' and control characters escaped
** (\b \f \n \r \t, others \u00XX), each byte of an ill-formed UTF-8 sequence as \ufffd. dst must
** hold 6 * len bytes; returns the bytes written. */
size_t tbt_json_escape(char *dst, const char *s, size_t len);

/* Shortest decimal of ns / 1000 (a microsecond value with nanosecond precision: "12.5", "-0.001",
** "7"). dst must hold 24 bytes; returns the length. */
size_t tbt_format_micros(char *dst, int64_t ns);

/* ------------------------------------------------------------ profile files */

typedef struct tbt_profile_options {
  const char *outdir;        /* required */
  const char *run_name;      /* NULL: the local time as YYYY_MM_DD_HH_MM_SS */
  const char *host;          /* the <host> of the file names; NULL: tbt_profile_host(), and for a
                                process of a job (tbt_cluster_get) "<that>_<job_name>_<task_index>",
                                its XSpace then carrying the task when the model names none */
  const char *hostname;      /* XSpace.hostnames and the Chrome trace's otherData.host; NULL:
                                the machine's for a process of a job, else host */
  time_t when;               /* 0: now */
  int gzip_level;            /* -1: 1 */
  long pid;                  /* for the Chrome JSON; 0: getpid() */
  const char *process_name;  /* NULL: the program's name */
  int no_marker;             /* 1: never write the .profile-empty marker (the caller is about to
                                open an event file in outdir) */
} tbt_profile_options;

/* The profile formats: one file each in the run directory, <host><extension>. A new format is
** an encoder and a row of tbt_profile_formats (profile_formats.c); profile_files.c writes every
** row (for a large trace all at once, a thread each: a writer only reads the job), and exports
** list each file under the row's kind. */
typedef struct tbt_profile_job {
  tbt_source *src;
  const char *host;
  long pid;
  const char *process_name;
  int gzip_level;
} tbt_profile_job;

typedef struct tbt_profile_format {
  const char *kind;          /* the export result's name for the file: "xplane" */
  const char *extension;     /* ".xplane.pb" */
  int (*write)(const tbt_profile_job *job, tbt_sink *out);   /* the whole file into out */
} tbt_profile_format;

#define TBT_PROFILE_FORMATS 2
extern const tbt_profile_format tbt_profile_formats[TBT_PROFILE_FORMATS];

typedef struct tbt_profile_paths {
  char *run_dir;             /* <outdir>/plugins/profile/<run>[_<n>] */
  char *files[TBT_PROFILE_FORMATS];   /* <run_dir>/<host><extension>, by tbt_profile_formats row */
  char *marker_path;         /* <outdir>/events.out.tfevents.<T>.<host>.profile-empty, when written */
} tbt_profile_paths;

/* The path of the file of kind in p, or NULL. */
const char *tbt_profile_path(const tbt_profile_paths *p, const char *kind);

/* The host name as profile files use it: gethostname() with '/', '\\' and ':' replaced by '_'. */
void tbt_profile_host(char *buf, size_t size);

/* Writes <run_dir>/<host><extension> of every profile format: complete and fsynced in a staging
** directory first, then published (profile_stage.h): a new <run> appears with all of them at
** once; an existing <run> is joined; a <run> already holding this <host>'s first file is taken,
** and "<run>_1", "<run>_2", ... are tried. When no file in outdir has "tfevents" in its name, also
** writes the TensorFlow profiler's ".profile-empty" event file there so TensorBoard sees outdir as
** a run. On failure everything this call created is removed and a negative code (-errno) is
** returned; *out is then empty. */
int tbt_profile_write_source(tbt_source *src, const tbt_profile_options *o, tbt_profile_paths *out);
/* The same from a model. */
int tbt_profile_write(const tbt_trace_model *m, const tbt_profile_options *o, tbt_profile_paths *out);

/* Removes what a successful tbt_profile_write created: files, then the run directory, then the
** marker when no other run still needs it. */
void tbt_profile_remove(const tbt_profile_paths *p);
void tbt_profile_paths_free(tbt_profile_paths *p);

#endif

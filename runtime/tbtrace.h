/*
** tbtrace.h: the public C interface of libtbtrace.
**
** This header is the specification. Everything a C host may call is declared here, with the
** contract it keeps. Conventions (as in libuv and zlib):
**   - functions that can fail return int: 0 on success, a negative code on failure;
**     tbt_strerror(code) describes any code. Codes above TBT_ERRNO_MIN are -errno from the system.
**   - objects are opaque; the creator owns them and releases them with the matching close/free.
**   - a NULL object is rejected with TBT_EINVAL, never dereferenced.
**   - strings are NUL-terminated UTF-8 unless a length is given; data with a length may hold NULs.
**
** The summary API mirrors TensorFlow's tf.summary (TF 2.x): a per-thread default writer, a
** per-thread default step and a per-thread recording condition.
*/
#ifndef TBTRACE_H
#define TBTRACE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TBT_VERSION "0.1.0"

/* ---------------------------------------------------------------- errors */

enum {
  TBT_OK = 0,
  TBT_ERRNO_MIN = -4095,      /* -4095 .. -1: -errno from the operating system */
  TBT_EINVAL = -5001,         /* bad argument */
  TBT_ENOMEM = -5002,         /* allocation failed */
  TBT_ECLOSED = -5003,        /* the object was closed */
  TBT_ENOSTEP = -5004,        /* no step given and no default step set */
  TBT_ECORRUPT = -5005,       /* a record's checksum or encoding is wrong */
  TBT_ETRUNCATED = -5006,     /* a record ends before its declared length */
  TBT_EOF = -5007,            /* no more records */
  TBT_ERANGE = -5008,         /* a value is out of the range the format can hold */
  TBT_ENOTRACE = -5009,       /* trace_export without trace_on */
  TBT_ENOOUTDIR = -5010,      /* profiler on and no profiler_outdir could be resolved */
  TBT_EPOLICY = -5011         /* the export policy failed (see tbt_export_error) */
};

/* A static description of code; never NULL. */
const char *tbt_strerror(int code);

/* --------------------------------------------------------------- memory */

/* Every allocation libtbtrace makes goes through this hook (NULL restores malloc/free).
** realloc_fn(ud, p, n) must behave like realloc and free when n == 0. Not thread-safe:
** set it before any other call. */
typedef void *(*tbt_realloc_fn)(void *ud, void *ptr, size_t size);
void tbt_set_allocator(tbt_realloc_fn realloc_fn, void *ud);
/* A copy of s made with the library allocator (what an export resolver returns, see
** tbtrace_policy.h); release it with tbt_free. NULL when s is NULL or memory runs out. */
char *tbt_strdup(const char *s);

/* --------------------------------------------------------------- CRC32C */

/* CRC-32C (Castagnoli) of data, continuing from crc (start with 0). Uses SSE4.2 when the CPU has it.
** NULL data adds nothing: the result is crc. */
uint32_t tbt_crc32c(uint32_t crc, const void *data, size_t len);
/* The TFRecord mask: ((c >> 15) | (c << 17)) + 0xa282ead8, and its inverse. */
uint32_t tbt_crc32c_mask(uint32_t crc);
uint32_t tbt_crc32c_unmask(uint32_t masked);
/* Which implementation tbt_crc32c uses: "sse4.2" or "portable". */
const char *tbt_crc32c_impl(void);

/* --------------------------------------------------------------- host */

/* gethostname into buf (size bytes, cut to fit), never empty ("localhost" when the system has
** none): the name profile files and export policies use. */
void tbt_hostname(char *buf, size_t size);

/* --------------------------------------------------------------- writer */

typedef struct tbt_writer tbt_writer;

typedef struct tbt_writer_options {
  int max_queue;               /* events held before a write flushes; -1 = default 10 */
  int flush_millis;            /* a write flushes when the last flush is older; -1 = default 120000.
                                  An idle writer with pending events also flushes after this long. */
  const char *filename_suffix; /* appended to the event file name; NULL = ".v2" */
  size_t max_queue_bytes;      /* cap on the queue while the file cannot take it (disk full);
                                  0 = default 64 MiB. Events past it are dropped and counted. */
} tbt_writer_options;

/* Fills opts with the defaults (-1, NULL and 0). */
void tbt_writer_options_init(tbt_writer_options *opts);

/* Creates logdir (recursively) if missing and opens a new event file in it named
** events.out.tfevents.<10-digit secs>.<host>.<pid>.<n><suffix> (n counts writers in this process),
** whose first record, written and synced at once, is Event{wall_time, file_version="brain.Event:2"}.
** Every call opens a new file. opts may be NULL.
** When the file is deleted or the logdir removed or replaced while the writer is open, a flush
** notices (every tbt_writer_flush / close / timer flush, and queue flushes at most a second
** apart) and continues in a new file of the same logdir (created again when gone), with the queue
** intact; events already flushed to the lost file went with it. While no new file can be made
** (the logdir replaced by a file, no permission), writes and flushes return that error and keep
** their events queued. A relative logdir is taken relative to the working directory at open. */
int tbt_writer_open(tbt_writer **out, const char *logdir, const tbt_writer_options *opts);

/* A writer that accepts nothing. As default writer it is transparent: tbt_set_default_writer()
** with a no-op writer leaves the current default in place, as tf.summary.create_noop_writer does. */
int tbt_writer_open_noop(tbt_writer **out);

int tbt_writer_is_noop(const tbt_writer *w);
/* The logdir as given and the current file's absolute path (NULL for a no-op writer). Valid
** until tbt_writer_free, also after the writer moved to a new file. */
const char *tbt_writer_logdir(const tbt_writer *w);
const char *tbt_writer_path(const tbt_writer *w);

/* Appends a serialized Event (the caller encodes it) to the queue, flushing when the queue holds
** more than max_queue events or flush_millis passed since the last flush. Thread-safe.
** A failed flush (-ENOSPC, ...) is returned and the event stays queued for the next flush, unless
** the queue is already over max_queue_bytes: then the event is dropped (stats.events_dropped) and
** the flush's error returned. */
int tbt_writer_write_event(tbt_writer *w, const void *event, size_t len);

/* Writes the queue to the file and fsyncs it. A no-op on a closed writer. */
int tbt_writer_flush(tbt_writer *w);

/* Flushes and closes the file. Idempotent: closing twice returns 0. Later writes give TBT_ECLOSED. */
int tbt_writer_close(tbt_writer *w);
int tbt_writer_is_closed(const tbt_writer *w);

/* Writers are reference counted: the default-writer slots hold a reference, so a writer stays valid
** while any thread uses it as default. tbt_writer_free drops the creator's reference (closing the
** writer first if this was the last one). */
tbt_writer *tbt_writer_retain(tbt_writer *w);
void tbt_writer_free(tbt_writer *w);

/* Counters for tests and diagnostics. */
typedef struct tbt_writer_stats {
  uint64_t events_written;  /* events handed to the file */
  uint64_t events_pending;  /* events queued, not yet flushed */
  uint64_t flushes;         /* flushes that wrote something */
  uint64_t timer_flushes;   /* of those, how many the idle timer did */
  uint64_t events_dropped;  /* events refused: queue over max_queue_bytes, or out of memory */
  uint64_t files_reopened;  /* new files opened after the event file was deleted or replaced */
} tbt_writer_stats;
int tbt_writer_get_stats(tbt_writer *w, tbt_writer_stats *out);

/* Closes every writer of the process not yet closed: flushes it, ends its timer thread and closes
** its file, also when the last flush fails (then its queue is lost and that error returned).
** Writers stay valid for their holders, who see them closed; one that its last holder is freeing
** meanwhile is left to that holder. For a host (or a module) about to go away. Returns 0 or the
** first error. */
int tbt_writers_close_all(void);

/* ------------------------------------------------ per-thread summary state */

/* The calling thread's default writer (borrowed; NULL when none). */
tbt_writer *tbt_default_writer(void);
/* Makes w the calling thread's default writer (NULL clears it). A no-op writer leaves the current
** default in place. Returns TBT_ECLOSED for a closed writer. */
int tbt_set_default_writer(tbt_writer *w);

/* The calling thread's default step: returns 1 and stores it in *step when set, else 0. */
int tbt_get_step(int64_t *step);
void tbt_set_step(int64_t step);
void tbt_unset_step(void);

/* The recording condition: TBT_RECORD_ALWAYS (the default), TBT_RECORD_NEVER, or a callback
** evaluated each time a summary asks. tbt_record_if returns the previous condition so a caller
** can restore it (tbt_record_restore). A condition with an unknown mode, or TBT_RECORD_CALLBACK
** without a function, records. */
typedef int (*tbt_record_fn)(void *ud);
typedef struct tbt_record_cond {
  int mode;                  /* TBT_RECORD_ALWAYS, TBT_RECORD_NEVER or TBT_RECORD_CALLBACK */
  tbt_record_fn fn;
  void *ud;
} tbt_record_cond;
enum { TBT_RECORD_ALWAYS = 1, TBT_RECORD_NEVER = 0, TBT_RECORD_CALLBACK = 2 };
tbt_record_cond tbt_record_if(int record);
tbt_record_cond tbt_record_if_fn(tbt_record_fn fn, void *ud);
void tbt_record_restore(tbt_record_cond previous);
/* False without a default writer or when the condition says no; true otherwise. */
int tbt_should_record_summaries(void);

/* ------------------------------------------------------------- summaries */

/* Each summary function returns 1 when an event was queued, 0 when nothing was written (no default
** writer, or recording is off), or a negative code. step is used when has_step is nonzero,
** otherwise the default step; with neither the result is TBT_ENOSTEP. description may be NULL.
** Tags are any UTF-8 string; the empty tag is TBT_EINVAL. */

typedef struct tbt_step {
  int has_step;
  int64_t step;
} tbt_step;
#define TBT_STEP(n) ((tbt_step){1, (int64_t)(n)})
#define TBT_DEFAULT_STEP ((tbt_step){0, 0})

/* DT_FLOAT scalar, plugin "scalars". NaN and infinities are written as they are, as TF does. */
int tbt_scalar(const char *tag, double value, tbt_step step, const char *description);

/* DT_STRING tensor, plugin "text". ndims = 0 writes one string (n must be 1);
** otherwise dims[0..ndims) give the shape and n must be their product. */
int tbt_text(const char *tag, const char *const *strings, const size_t *lens, size_t n,
             const int64_t *dims, int ndims, tbt_step step, const char *description);

/* DT_DOUBLE [k,3] tensor of (left, right, count) rows, plugin "histograms", with TensorBoard's
** bucketing (k = buckets, 30 when buckets < 0). Non-finite values are TBT_EINVAL. */
int tbt_histogram(const char *tag, const double *values, size_t n, int buckets, tbt_step step,
                  const char *description);
/* The bucketing alone: fills out[k*3]. */
int tbt_histogram_buckets(const double *values, size_t n, int k, double *out);

/* Image summaries (plugin "images"), as tf.summary.image writes them: a DT_STRING [2 + k] tensor
** holding the width and height as decimal strings, then k PNGs. pixels holds count images of
** height x width x channels uint8 values, row-major, channels in 1..4 (grey, grey + alpha, RGB,
** RGBA); the first
** min(count, max_outputs) are written (max_outputs < 0: 3). */
int tbt_image(const char *tag, const uint8_t *pixels, int count, int height, int width,
              int channels, int max_outputs, tbt_step step, const char *description);

/* Audio summaries (plugin "audio", encoding WAV), as tf.summary.audio writes them: a DT_STRING
** [k, 2] tensor of (WAV file, label "") rows. samples holds count clips of frames x channels
** floats in [-1, 1], written as 16-bit PCM at sample_rate (see tbt_wav_encode); the first
** min(count, max_outputs) are written (max_outputs < 0: 3). */
int tbt_audio(const char *tag, const float *samples, int count, int frames, int channels,
              int sample_rate, int max_outputs, tbt_step step, const char *description);

/* A generic tensor. content holds the little-endian elements of a non-string dtype;
** for DT_STRING use tbt_write_strings. metadata is a serialized SummaryMetadata (may be NULL). */
typedef enum tbt_dtype {
  TBT_DT_FLOAT = 1, TBT_DT_DOUBLE = 2, TBT_DT_INT32 = 3, TBT_DT_UINT8 = 4, TBT_DT_INT16 = 5,
  TBT_DT_INT8 = 6, TBT_DT_STRING = 7, TBT_DT_INT64 = 9, TBT_DT_BOOL = 10, TBT_DT_UINT16 = 17,
  TBT_DT_UINT32 = 22, TBT_DT_UINT64 = 23
} tbt_dtype;
/* Size in bytes of one element of dtype, 0 for DT_STRING or an unknown dtype. */
size_t tbt_dtype_size(tbt_dtype dtype);
int tbt_write(const char *tag, tbt_dtype dtype, const void *content, size_t content_len,
              const int64_t *dims, int ndims, tbt_step step, const void *metadata, size_t metadata_len);
int tbt_write_strings(const char *tag, const char *const *strings, const size_t *lens, size_t n,
                      const int64_t *dims, int ndims, tbt_step step, const void *metadata,
                      size_t metadata_len);

/* A serialized SummaryMetadata for tbt_write: plugin_name with content (content_len bytes, may
** hold NULs) as its plugin data when either is given, display_name and description when not NULL.
** The strings must be valid UTF-8 (else TBT_EINVAL). *out is allocated with the library allocator
** (release it with tbt_free); an empty metadata gives *out_len 0 and a non-NULL *out. */
int tbt_summary_metadata_encode(const char *plugin_name, const void *content, size_t content_len,
                                const char *display_name, const char *description,
                                uint8_t **out, size_t *out_len);

/* 1 when s[0..len) is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF),
** as every tag and description must be: TensorBoard's reader rejects an event holding a string
** field that is not. NULL s is valid only with len 0. */
int tbt_utf8_valid(const char *s, size_t len);

/* Images given as floats, as tf.summary.image takes them: each value x becomes the uint8
** trunc(clamp(x * 255.5, 0, 255)) computed in float (tf.image.convert_image_dtype with saturation),
** so [0, 1] maps onto 0..255 and values outside are clipped. NaN is TBT_EINVAL. Otherwise as
** tbt_image (channels in 1..4: grey, grey + alpha, RGB, RGBA). */
int tbt_image_float(const char *tag, const float *pixels, int count, int height, int width,
                    int channels, int max_outputs, tbt_step step, const char *description);

/* ---------------------------------------------------------- summary scopes */

/* tf.summary.experimental.summary_scope, per thread. While scopes are open, the tags of
** tbt_scalar, tbt_text, tbt_histogram, tbt_image(_float) and tbt_audio get the open scopes in
** front ("outer/inner/loss"), and an empty tag is the op's default name as in TF
** ("outer/scalar_summary", "text_summary", "histogram_summary", "image_summary",
** "audio_summary"); outside every scope an empty tag stays TBT_EINVAL. tbt_write, the raw and
** the fixed-tag summaries below are not prefixed, as tf.summary.write is not.
** tbt_summary_scope_push opens a scope. Its name (NULL or "": "summary") is what a tag shows;
** nested scopes see it with every character outside [-_/.A-Za-z0-9] removed ("summary" when
** nothing is left), as TF names scopes. A name that is not UTF-8 is TBT_EINVAL. */
int tbt_summary_scope_push(const char *name);
/* Closes the innermost open scope; nothing when none is open. */
void tbt_summary_scope_pop(void);
/* The open scopes joined by "/" ("" when none): the prefix a tag gets, without the last "/".
** Valid until the next push or pop on this thread. */
const char *tbt_summary_scope(void);
/* How many scopes are open on this thread. */
int tbt_summary_scope_depth(void);

/* ----------------------------------------------------- raw summaries, graphs */

/* tf.summary.experimental.write_raw_pb: each of the n buffers is a serialized Summary message
** written as the summary of its own Event at step. Every buffer is checked first (it must parse as
** a Summary, with UTF-8 tags and metadata strings) and nothing is written when one fails
** (TBT_EINVAL). Tags are written as given. As in TF the step is required (TBT_ENOSTEP) whenever
** there is a default writer, even with recording off. Returns 1 when written, 0 when not. */
int tbt_write_raw_pb(const void *const *summaries, const size_t *lens, size_t n, tbt_step step);

/* tf.summary.graph: a serialized GraphDef (checked by parsing) written to Event.graph_def at step
** 0. Recording off or no default writer: 0. The Graphs dashboard shows the run's latest one. */
int tbt_graph(const void *graph_def, size_t len);

/* ------------------------------------------------------ custom scalars layout */

/* The custom_scalars plugin's layout summary (tag "custom_scalars__config__", a DT_STRING scalar
** holding a serialized Layout, step 0): categories of charts. A chart draws every scalar series
** whose tag matches one of its tags (Python regular expressions, matched at the start of the tag)
** on one set of axes; or, with margin set, n_margin (value, lower, upper) tag triples as lines with
** shaded bounds (margin holds 3 * n_margin strings). A chart has tags or margin, not both. */
typedef struct tbt_chart {
  const char *title;
  const char *const *tags;
  size_t n_tags;
  const char *const *margin;
  size_t n_margin;
} tbt_chart;
typedef struct tbt_chart_category {
  const char *title;
  const tbt_chart *charts;
  size_t n_charts;
  int closed;                  /* shown collapsed */
} tbt_chart_category;
int tbt_custom_scalars(const tbt_chart_category *categories, size_t n);

/* ------------------------------------------------------------- hparams */

/* The HParams plugin's summaries, as tensorboard.plugins.hparams writes them: each is a Summary
** value with a fixed tag ("_hparams_/experiment", "_hparams_/session_start_info",
** "_hparams_/session_end_info"), an empty DT_FLOAT [0] tensor and plugin "hparams" whose content
** is an HParamsPluginData (version 0), written at step 0 to the default writer. Write the
** experiment config into the logdir's root run and one session per trial run (a subdirectory). */
typedef enum tbt_hparam_type {
  TBT_HPARAM_NUMBER = 1,     /* double: number */
  TBT_HPARAM_INT = 2,        /* int64: integer (written as a number; hashed as an integer) */
  TBT_HPARAM_STRING = 3,     /* string: NUL-terminated UTF-8 */
  TBT_HPARAM_BOOL = 4        /* boolean: 0 or 1 */
} tbt_hparam_type;
typedef struct tbt_hparam_value {
  tbt_hparam_type type;
  double number;
  int64_t integer;
  const char *string;
  int boolean;
} tbt_hparam_value;

enum { TBT_DOMAIN_NONE = 0, TBT_DOMAIN_DISCRETE = 1, TBT_DOMAIN_INTERVAL = 2 };
enum { TBT_DATASET_UNKNOWN = 0, TBT_DATASET_TRAINING = 1, TBT_DATASET_VALIDATION = 2 };

/* A hyperparameter of the experiment. A discrete domain lists values of one kind (numbers and
** integers count as one), written sorted; an interval is [min_value, max_value] (typed float64,
** as TensorBoard types integer intervals too). Strings other than name may be NULL. */
typedef struct tbt_hparam_info {
  const char *name;
  const char *display_name;
  const char *description;
  int domain;                        /* TBT_DOMAIN_* */
  const tbt_hparam_value *values;    /* discrete */
  size_t n_values;
  double min_value, max_value;       /* interval */
} tbt_hparam_info;

/* A metric: the tag of a scalar summary, in the trial run's subdirectory group (NULL or "": the
** trial run itself). */
typedef struct tbt_metric_info {
  const char *tag;
  const char *group;
  const char *display_name;
  const char *description;
  int dataset_type;                  /* TBT_DATASET_* */
} tbt_metric_info;

/* hp.hparams_config: the experiment's hyperparameters and metrics. time_created_secs 0 leaves
** the field out, as TensorBoard's default does. */
int tbt_hparams_config(const tbt_hparam_info *hparams, size_t n_hparams,
                       const tbt_metric_info *metrics, size_t n_metrics, double time_created_secs);

/* One trial's hyperparameter value. */
typedef struct tbt_hparam {
  const char *name;
  tbt_hparam_value value;
} tbt_hparam;

/* hp.hparams: a trial starts. Names must be distinct. trial_id (NULL: derived) is the session
** group name; TensorBoard derives it as the SHA-256 (hex) of the values as Python's
** json.dumps(sort_keys=True, separators=(",", ":")) writes them, and so does this
** (tbt_hparams_group_name). start_time_secs <= 0: now. */
int tbt_hparams_session_start(const tbt_hparam *hparams, size_t n, const char *trial_id,
                              double start_time_secs);
int tbt_hparams_group_name(const tbt_hparam *hparams, size_t n, char out[65]);

/* A trial ends with status TBT_HPARAMS_* (SessionEndInfo). end_time_secs <= 0: now. */
enum {
  TBT_HPARAMS_UNKNOWN = 0, TBT_HPARAMS_SUCCESS = 1, TBT_HPARAMS_FAILURE = 2,
  TBT_HPARAMS_RUNNING = 3
};
int tbt_hparams_session_end(int status, double end_time_secs);

/* --------------------------------------------------------------- encoders */

/* PNG of HxWxC uint8 pixels (C in 1..4: grey, grey+alpha, RGB, RGBA). *out is allocated with the
** library allocator; release it with tbt_free. */
int tbt_png_encode(const uint8_t *pixels, int height, int width, int channels, int level,
                   uint8_t **out, size_t *out_len);
/* 16-bit PCM WAV of interleaved float samples, each written as TensorFlow's EncodeWav does:
** round(x * 32768) (halves away from zero) clamped to [-32768, 32767]; NaN is TBT_EINVAL. */
int tbt_wav_encode(const float *samples, int frames, int channels, int sample_rate,
                   uint8_t **out, size_t *out_len);
void tbt_free(void *p);

/* --------------------------------------------------------------- reader */

/* Reads TFRecord files (event files), verifying both checksums of every record. */
typedef struct tbt_reader tbt_reader;

/* Opens path for reading (a directory is -EISDIR). */
int tbt_reader_open(tbt_reader **out, const char *path);
/* Next record's data in *data (valid until the next call) and its byte offset in the file.
** Returns 0, TBT_EOF at a clean end, TBT_ETRUNCATED for a partial record at the end, or
** TBT_ECORRUPT; after an error *offset is where the bad record starts. */
int tbt_reader_next(tbt_reader *r, const uint8_t **data, size_t *len, uint64_t *offset);
/* Goes on past a bad record: looks for the next record whose both checksums hold, starting one byte
** after the reader's offset (where the failed record starts), and continues from it. Returns 0 with
** its offset in *next, or TBT_EOF when none follows (*next is then the end of the file; the
** reader is at its end); negative errno on a read error. next may be NULL. */
int tbt_reader_skip(tbt_reader *r, uint64_t *next);
/* A human-readable account of the last error ("length checksum mismatch at offset 123"). */
const char *tbt_reader_error(const tbt_reader *r);
void tbt_reader_close(tbt_reader *r);

/* Renders one serialized Event as a single-line JSON object into *out (allocated; tbt_free). */
int tbt_event_to_json(const uint8_t *data, size_t len, char **out, size_t *out_len);

/* --------------------------------------------------------------- decoded events */

/* What an event holds (the Event's `what`). */
typedef enum tbt_event_kind {
  TBT_EVENT_OTHER = 0,          /* nothing, a log message, a session log, a meta graph */
  TBT_EVENT_FILE_VERSION = 1,   /* file_version: the first record of a file ("brain.Event:2") */
  TBT_EVENT_SUMMARY = 2,        /* summary: values[] */
  TBT_EVENT_GRAPH = 3,          /* graph_def */
  TBT_EVENT_RUN_METADATA = 4    /* tagged_run_metadata: run_metadata_tag */
} tbt_event_kind;

/* What a summary value holds (the Value's `value`). */
typedef enum tbt_value_kind {
  TBT_VALUE_NONE = 0,           /* nothing, or an old-style histogram */
  TBT_VALUE_SIMPLE = 1,         /* simple_value */
  TBT_VALUE_IMAGE = 2,
  TBT_VALUE_HISTOGRAM = 3,
  TBT_VALUE_AUDIO = 4,
  TBT_VALUE_TENSOR = 5
} tbt_value_kind;

/* One summary value. Strings are never NULL: an absent one is "". */
typedef struct tbt_event_value {
  const char *tag;
  const char *plugin;           /* metadata.plugin_data.plugin_name: TensorBoard writers name it in
                                   a tag's first point only, so "" in later points is the norm */
  tbt_value_kind kind;
  tbt_dtype dtype;              /* TBT_VALUE_TENSOR: the tensor's dtype (others: 0) */
  int has_number;               /* number holds the value as a number: see below */
  double number;                /* simple_value; a float or double tensor's first float_val or
                                   double_val, else its tensor_content when that holds exactly
                                   one element; an int32 or int64 tensor's first int_val or
                                   int64_val */
  size_t nstrings;              /* a tensor's string elements (string_val) */
  const uint8_t *string;        /* the first of them (NULL when none): bytes, not NUL-terminated */
  size_t string_len;
} tbt_event_value;

/* One decoded Event. What it points to belongs to it, until tbt_event_clear. */
typedef struct tbt_event {
  double wall_time;             /* Unix seconds */
  int64_t step;
  tbt_event_kind kind;
  const char *file_version;     /* TBT_EVENT_FILE_VERSION: the version; else "" */
  const char *run_metadata_tag; /* TBT_EVENT_RUN_METADATA: its tag; else "" */
  size_t nvalues;               /* TBT_EVENT_SUMMARY: the summary's values, in order; else 0 */
  const tbt_event_value *values;
  void *internal_;
} tbt_event;

/* Decodes one serialized Event (a record of an event file, see tbt_reader_next) into *out.
** Returns 0; TBT_EINVAL (out NULL, or data NULL with len > 0); TBT_ECORRUPT when the bytes are
** no Event; TBT_ENOMEM. On error *out is zeroed (clearing it is harmless). */
int tbt_event_decode(const uint8_t *data, size_t len, tbt_event *out);
/* Frees what tbt_event_decode gave e and zeroes it; again, or on a zeroed e, does nothing. */
void tbt_event_clear(tbt_event *e);

/* Counts in the RunMetadata of a trace export (the string of a "graph_run_metadata" or
** "graph_run_metadata_graph" summary value): *spans, the spans the export recorded (summed over
** its graphs' nodes), and *paths, the nodes of its graphs (one per distinct span path).
** Returns 0; TBT_EINVAL (an out pointer NULL, or data NULL with len > 0); TBT_ECORRUPT when the
** bytes are no RunMetadata; TBT_ENOMEM. On error both counts are 0. */
int tbt_run_metadata_counts(const uint8_t *data, size_t len, uint64_t *spans, uint64_t *paths);

#ifdef __cplusplus
}
#endif

/* Tracing (spans, trace_on / trace_export / trace_off) is declared in its own part of the spec. */
#include "tbtrace_trace.h"

#endif

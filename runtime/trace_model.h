/*
** trace_model.h: what a trace model (tbt_trace_model, tbtrace_trace.h) offers its source
** (trace_source.h: tbt_source_from_model) and the reader of the trace (internal; trace_model.c).
*/
#ifndef TBT_TRACE_MODEL_H
#define TBT_TRACE_MODEL_H

#include "tbtrace.h"

/* Strings in protobuf messages must be valid UTF-8 (TensorBoard's and xprof's parsers reject the
** whole message otherwise); span names are whatever the program gave. A names view holds the
** model's names with every byte of an ill-formed UTF-8 sequence replaced by U+FFFD (the others
** point at the model's own strings). */
typedef struct tbt_names {
  const char **names;   /* nnames entries, never NULL */
  char *arena;
} tbt_names;
int tbt_names_clean(const tbt_trace_model *m, tbt_names *out);
void tbt_names_free(tbt_names *v);

/* A unique id per model thread, for XLine ids, Chrome tids and NodeExecStats.thread_id: the OS
** thread id, except for further entries with the same tid (the Lua coroutines recorded on that
** thread, trace_buffer.h), which get tid + k * 2^22 (k = 1, 2, ...; Linux tids are below 2^22),
** so each is a row of its own in a viewer. *out (nthreads entries) is freed with tbt_free. */
int tbt_track_ids(const tbt_trace_model *m, uint64_t **out);
/* The same for n thread ids (in track order); order is scratch for n entries. */
typedef struct tbt_tid_at {
  uint64_t tid;
  size_t index;
} tbt_tid_at;
void tbt_track_ids_of(const uint64_t *tids, size_t n, tbt_tid_at *order, uint64_t *ids);

#endif

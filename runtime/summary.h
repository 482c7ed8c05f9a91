/*
** summary.h: the one path every summary takes to the default writer (summary.c).
*/
#ifndef TBT_SUMMARY_H
#define TBT_SUMMARY_H

#include "tbtrace.h"
#include "tensor.pb-c.h"
#include "writer.h"

#include <stdatomic.h>

/* TBT_EINVAL unless tag is non-empty UTF-8 and description (may be NULL) is UTF-8. */
int tbt_summary_check_strings(const char *tag, const char *description);

/* Decides whether a summary is written and with which step, in TF's order: without a default
** writer, or with recording off, nothing is written and the step is not looked at. Returns 1
** (write; step->has_step is then set), 0 (do not write), TBT_ENOSTEP or TBT_ECLOSED. Summaries
** whose tensors cost work to build call it first. */
int tbt_summary_prepare(tbt_step *step);

/* The calling thread's default writer when summaries are recorded now (it has one and the
** recording condition says yes), else NULL: the two checks of tbt_summary_prepare in one call
** (summary_state.c). */
tbt_writer *tbt_summary_writer(void);

/* After tbt_summary_prepare said yes (no checks, step already resolved): wraps tensor in
** Event{wall_time=now, step, summary{value{tag, tensor, metadata}}} and queues it in the calling
** thread's default writer. metadata carries plugin_name, content (may be NULL/0: absent) and
** description (NULL: absent). Returns 1 when queued, or a negative code. */
int tbt_summary_emit_prepared(const char *tag, const Tensorflow__TensorProto *tensor,
                              const char *plugin_name, const void *content, size_t content_len,
                              const char *description, int64_t step);

/* The same, with metadata already serialized (tf.summary.write's metadata argument). */
int tbt_summary_emit_raw(const char *tag, const Tensorflow__TensorProto *tensor,
                         const void *metadata, size_t metadata_len, tbt_step step);

/* The tag a scoped summary (scalar, text, histogram, image, audio) is written under: *tag with the
** open summary scopes in front, or default_name in place of an empty *tag when a scope is open
** (summary_scope.c). *tag is left alone when no scope is open; otherwise it points to a per-thread
** buffer valid until the next call. TBT_EINVAL for a NULL *tag, TBT_ENOMEM. */
int tbt_summary_scoped_tag_slow(const char **tag, const char *default_name);
/* Scopes open in the process: while none is, no thread has one and the tag is left alone without
** looking at the thread's state (the scalar path is hot). */
extern atomic_int tbt_summary_scopes_open;
static inline int tbt_summary_scoped_tag(const char **tag, const char *default_name) {
  if (!atomic_load_explicit(&tbt_summary_scopes_open, memory_order_relaxed)) return *tag ? 0 : TBT_EINVAL;
  return tbt_summary_scoped_tag_slow(tag, default_name);
}

/* After tbt_summary_prepare said yes: Event{wall_time=now, step, summary{value{tag,
** tensor{DT_STRING, shape {}, string_val: one string of len bytes}, metadata{plugin_data{
** plugin_name, content}}}}}, the bytes of tbt_summary_emit_prepared for that tensor, streamed
** into the default writer's file with the string made by fill as it goes (writer.h), so a string
** of any size is never held. Returns 1 when written, or a negative code (then nothing was). */
int tbt_summary_emit_string_streamed(const char *tag, const char *plugin_name, const void *content,
                                     size_t content_len, int64_t step, uint64_t len,
                                     tbt_fill_fn fill, void *ud);

/* Queues a serialized Event in the default writer (after tbt_summary_prepare said yes). */
int tbt_summary_emit_event(const uint8_t *event, size_t len);

/* Current wall-clock time in seconds, as Event.wall_time holds it. */
double tbt_wall_time(void);

#endif

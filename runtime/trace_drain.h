/*
** trace_drain.h: the trace's buffers read as a source, and drained into a trace model (internal).
*/
#ifndef TBT_TRACE_DRAIN_H
#define TBT_TRACE_DRAIN_H

#include "tbtrace.h"

#include <stddef.h>
#include <stdint.h>

/* Fills the thread, edge and name parts of m (everything but start_ns, graph and profiler) from
** the current generation; the trace lock is held. epoch_offset: realtime - monotonic ns sampled
** at trace_on. Returns 0, TBT_ENOTRACE or TBT_ENOMEM (then m is untouched). */
int tbt_buffers_snapshot_(tbt_trace_model *m, int64_t epoch_offset);

/* For the tests: from one read, the model the snapshot collects and the model the walks of the
** same read make (tbt_model_from_source); the two must be equal. */
int tbt_buffers_snapshot_both_(tbt_trace_model *collected, tbt_trace_model *walked,
                               int64_t epoch_offset);

/* The current generation as a source (trace_source.h), read where it lies; the trace lock is
** held for as long as the source lives. Returns 0, TBT_ENOTRACE or TBT_ENOMEM. */
typedef struct tbt_source tbt_source;
int tbt_buffers_source_(tbt_source *s, int64_t epoch_offset);

/* Orders events in time order the way a source hands them out (trace_source.h): each run of equal
** start times as spans, then instants, then counters, each kind in its order. tmp holds n. */
typedef struct tbt_src_event tbt_src_event;
void tbt_src_order_ties(tbt_src_event *ev, size_t n, tbt_src_event *tmp);

#endif

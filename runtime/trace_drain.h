/*
** trace_drain.h: the drain of the trace's buffers into a trace model (internal).
*/
#ifndef TBT_TRACE_DRAIN_H
#define TBT_TRACE_DRAIN_H

#include "tbtrace.h"

#include <stdint.h>

/* Fills the thread, edge and name parts of m (everything but start_ns, graph and profiler) from
** the current generation; the trace lock is held. epoch_offset: realtime - monotonic ns sampled
** at trace_on. Returns 0, TBT_ENOTRACE or TBT_ENOMEM (then m is untouched). */
int tbt_buffers_snapshot_(tbt_trace_model *m, int64_t epoch_offset);

#endif

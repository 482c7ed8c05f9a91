/*
** ltrace.h: spans and trace control in Lua.
**
**   tbtrace.span_begin(name [, category])     tbtrace.span_end()
**   tbtrace.span(name, fn, ...)               -> fn's results; ends the span even on error
**   local _ <close> = tbtrace.scope(name [, category])
**   tbtrace.instant(name [, category])        tbtrace.counter(name, value)
**   tbtrace.depends(from_path, to_path)       tbtrace.thread_name(name)
**   tbtrace.trace_on{graph=true, profiler=false, profiler_outdir=nil, memory_limit=nil}
**   tbtrace.trace_on(graph, profiler [, profiler_outdir])   -> true | false, "Trace already enabled"
**   tbtrace.trace_off()                       tbtrace.trace_stats() -> {records, dropped, bytes, threads, on}
**   require("tbtrace.internal").snapshot()    for tests: the current trace as a table
**                                             (nil, message when no trace is on)
**
** The span functions are plain C functions meant to be cached in locals. Each coroutine nests on
** its own track (its lua_State); the main thread of a state shares track 0 with C code.
*/
#ifndef TBT_LTRACE_H
#define TBT_LTRACE_H

#include "tbtrace.h"

#include <lua.h>

/* Adds the functions above to the module table at the top of the stack. Safe to call again in
** the same state (the name cache is shared). */
void tbt_lua_open_trace(lua_State *L);

/* Pushes a drained model as a Lua table:
**   {start_ns, end_ns, dropped, graph, profiler,
**    threads = {{tid, name, spans = {{name, path, category, parent, depth, start_ns, end_ns,
**                                     unfinished}}, instants = {{name, category, time_ns}},
**                counters = {{name, time_ns, value}}}},
**    edges = {{from, to}}}
** parent is a 1-based index into the same thread's spans (nil for a root); category is nil when
** there is none. */
void tbt_lua_push_model(lua_State *L, const tbt_trace_model *m);

#endif

/*
** export_facts.h: reading what an export depends on (internal; export_facts.c).
*/
#ifndef TBT_EXPORT_FACTS_H
#define TBT_EXPORT_FACTS_H

#include "export_plan.h"

/* Reads the state the rules look at for req. topts receives the trace's options with
** profiler_outdir copied (free it with tbt_free, also on failure): s->trace_outdir points to it.
** Returns 0 or TBT_ENOMEM. */
int tbt_export_read_state(const tbt_export_request *req, tbt_trace_options *topts,
                           tbt_export_state *s);

/* Counts an export that succeeded (tbt_export_get_facts: export_index). */
void tbt_export_count_success(void);

/* Counts a call of tbt_trace_export_ex, whatever its outcome (tbt_export_get_facts:
** export_attempt). */
void tbt_export_count_attempt(void);

#endif

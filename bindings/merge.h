/*
** merge.h: `tbtrace merge`, the per-host Chrome traces of a profile run as one trace.
*/
#ifndef TBT_MERGE_H
#define TBT_MERGE_H

/* argv[0] is "merge". Returns 0 when the merged trace was written, 1 when an input could not be
** read or is not a Chrome trace (nothing is written then), 2 for usage errors and output errors. */
int tbt_merge_main(int argc, char **argv);

#endif

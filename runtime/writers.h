/*
** writers.h: every open writer of the process (internal).
**
** A library copy that is about to be unloaded (the Lua module, when the last Lua state using it
** closes) must first end the timer threads running its code, and should not drop the events its
** writers still queue: tbt_writers_close_all closes them all.
*/
#ifndef TBT_WRITERS_H
#define TBT_WRITERS_H

/* Closes every writer not yet closed: flushes it, ends its timer thread and closes its file,
** also when the last flush fails (then its queue is lost and that error returned). Writers stay
** valid for their holders, who see them closed; one that its last holder is freeing meanwhile is
** left to that holder. Returns 0 or the first error. */
int tbt_writers_close_all(void);

#endif

/*
** ls.h: `tbtrace ls`, what a logdir holds, in the terminal.
*/
#ifndef TBT_LS_H
#define TBT_LS_H

/* argv[0] is "ls". Prints per run: tags by plugin with counts, step ranges, last values and a
** sparkline per scalar tag; exported traces (tag, step, span count); profile runs and their hosts.
** Returns 0 when everything read cleanly, 1 when some event file is damaged, 2 for usage errors,
** unreadable paths and paths without event files. */
int tbt_ls_main(int argc, char **argv);

#endif

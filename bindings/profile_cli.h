/*
** profile_cli.h: the profiling commands of the tbtrace interpreter.
**
**   tbtrace --profile[=OUTDIR] [--calls] [--hz=N] script.lua [args...]
**       runs script.lua with the Lua stack sampler on (N samples per second of CPU time, 1000 by
**       default; --calls also traces every call), exports the profile when the script ends and
**       prints the functions that took the time, by self and by total time
**   tbtrace flame FILE.folded
**       prints the same table for a saved profile
*/
#ifndef TBT_PROFILE_CLI_H
#define TBT_PROFILE_CLI_H

/* argv[0] is "--profile..." or "flame". Each returns the process's exit status. */
int tbt_profile_main(int argc, char **argv);
int tbt_flame_main(int argc, char **argv);

#endif

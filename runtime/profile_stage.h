/*
** profile_stage.h: staging one export's profile files and publishing them as a run, atomically,
** in an outdir that many processes (on many hosts) may share. See profile_stage.c.
*/
#ifndef TBT_PROFILE_STAGE_H
#define TBT_PROFILE_STAGE_H

#include <stddef.h>

/* Where staged files live, relative to outdir. */
#define TBT_STAGE_DIR "plugins/.tbtrace-staging"

typedef struct tbt_stage {
  char *root;          /* <outdir>/plugins/.tbtrace-staging */
  char *dir;           /* <root>/<host>.<pid>.<n>: this export's own directory, NULL once gone */
} tbt_stage;

/* Removes what dead exporters left in outdir's staging directory (finishing a run one of them
** had begun to join), then creates this export's own staging directory. host names this machine
** in staging names (tbt_profile_host). Returns 0 or a negative code; *s is empty on failure. */
int tbt_stage_open(tbt_stage *s, const char *outdir, const char *host);

/* The path of file `name` in the stage (allocated; NULL when out of memory). */
char *tbt_stage_path(const tbt_stage *s, const char *name);

/* Publishes the staged files names[0..n) as the profile run <profile_root>/<run>: the whole
** staged directory is renamed to it when the run does not exist yet; else the files join the
** existing run, unless it already holds names[0] (then "<run>_1", "<run>_2", ... are tried the
** same way). names[0] is the file that claims the run (the .xplane.pb); it is placed first and its
** staged copy removed last, so a run never lacks it and an exporter that dies halfway can be
** finished by the next one. The chosen run directory goes to *run_dir (allocated). Returns 0 or
** a negative code; on failure nothing of this export is left in a run. */
int tbt_stage_publish(tbt_stage *s, const char *profile_root, const char *run, const char *const *names,
                      size_t n, char **run_dir);

/* Links the staged file `name` to dst unless dst exists (then 1 is returned and nothing changes);
** 0 when placed, or a negative code. The staged copy is removed either way. */
int tbt_stage_place_new(tbt_stage *s, const char *name, const char *dst);

/* Removes the stage and whatever is still in it. */
void tbt_stage_close(tbt_stage *s);

/* Leftovers older than this are removed whatever their host (seconds). */
#define TBT_STAGE_STALE_SECONDS 3600

#endif

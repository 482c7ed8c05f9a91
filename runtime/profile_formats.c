/*
** profile_formats.c: the table of profile formats profile_files.c writes (encoders.h).
*/
#include "encoders.h"

static int write_xplane(const tbt_profile_job *job, tbt_sink *out) {
  return tbt_xspace_write(job->src, job->host, out);
}

/* Through gzip as it is made: the JSON is several times the size of the file. */
static int write_chrome(const tbt_profile_job *job, tbt_sink *out) {
  tbt_chrome_options co;
  co.pid = job->pid;
  co.process_name = job->process_name;
  co.host = job->host;
  tbt_sink z;
  int rc = tbt_sink_gzip(&z, out, job->gzip_level);
  if (rc) return rc;
  rc = tbt_chrome_json_write(job->src, &co, &z);
  int frc = tbt_sink_finish(&z);
  tbt_sink_free(&z);
  return rc ? rc : frc;
}

const tbt_profile_format tbt_profile_formats[TBT_PROFILE_FORMATS] = {
  {"xplane", ".xplane.pb", write_xplane},
  {"chrome_trace", ".trace.json.gz", write_chrome},
};

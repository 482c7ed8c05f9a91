/*
** profile_formats.c: the table of profile formats profile_files.c writes (encoders.h).
*/
#include "encoders.h"

#include "fs.h"

static int write_xplane(const tbt_profile_job *job, int fd) {
  tbt_buf xs = {0};
  int rc = tbt_encode_xspace(job->m, job->host, &xs);
  if (!rc) rc = tbt_write_all(fd, xs.data, xs.len, NULL);
  tbt_buf_free(&xs);
  return rc;
}

/* Streamed through gzip: the JSON is several times the size of the file. */
static int write_chrome(const tbt_profile_job *job, int fd) {
  tbt_chrome_options co;
  co.pid = job->pid;
  co.process_name = job->process_name;
  co.host = job->host;
  return tbt_chrome_json_gz_fd(job->m, &co, job->gzip_level, fd);
}

const tbt_profile_format tbt_profile_formats[TBT_PROFILE_FORMATS] = {
  {"xplane", ".xplane.pb", write_xplane},
  {"chrome_trace", ".trace.json.gz", write_chrome},
};

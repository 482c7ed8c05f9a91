-- cluster.lua: for a job of many processes (SLURM, torchrun, MPI, Kubernetes) writing into one
-- shared logdir. The k-th trace_export of every process goes to the profile run "<job id>-<k>",
-- a name the processes agree on without talking: the job id comes from the launcher
-- (ctx.cluster.job_id, see docs/cluster.md) and k counts the process's trace_export calls, failed
-- ones too, so one failure does not shift a process against the others. Each process joins that
-- run with its own <host>_<job>_<task>.xplane.pb and .trace.json.gz, and TensorBoard's profile
-- plugin shows one run per export with one host per process.
-- Every process of the job must call trace_export the same number of times, in the same order.
-- Outside a cluster (ctx.cluster is nil) runs get TensorFlow's names (the local time).

-- The job id as one file name: anything but letters, digits, '-', '_' and '.' becomes '_', and
-- so does a leading '.' (no hidden run).
local function file_name(s)
  return (s:gsub("[^%w%-_.]", "_"):gsub("^%.", "_"))
end

return {
  run_name = function(ctx)
    local c = ctx.cluster
    if not c then return nil end
    if not c.job_id then
      error("no job id to name the run by (TF_CONFIG carries none): set TBTRACE_JOB_ID, the same in every process", 0)
    end
    return string.format("%s-%06d", file_name(c.job_id), ctx.export_attempt)
  end,
}

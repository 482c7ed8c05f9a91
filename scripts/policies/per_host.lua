-- per_host.lua: for runs of several processes or machines sharing one logdir. Each host and
-- process writes below its own directory (logs/<run>/<host>-<pid>/), so TensorBoard shows one run
-- per process, and trace tags carry the host so merged views stay readable.
--   TBTRACE_LOGROOT   the shared parent directory (default "logs")
--   TBTRACE_RUN       the run's name, the same in every process (default "run")
local root = os.getenv("TBTRACE_LOGROOT") or "logs"
local run = os.getenv("TBTRACE_RUN") or "run"

return {
  extends = "per_run.lua",
  logdir = function(ctx)
    return string.format("%s/%s/%s-%d", root, run, ctx.host or "localhost", ctx.pid or 0)
  end,
  name = function(ctx)
    return string.format("%s/%s", ctx.host or "localhost", ctx.name or "trace")
  end,
}

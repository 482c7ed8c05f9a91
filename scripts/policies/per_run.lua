-- per_run.lua: one timestamped directory per run of the driver, e.g. logs/2026-11-25_14-03-07/.
-- When the driver has no default writer, trace_export creates one there; profile runs are
-- numbered by export ("export-001", ...) so several exports in one second never collide, and an
-- export without a step gets the default step, else the export count: a plain driver
-- (trace_on, spans, trace_export) needs nothing else.
--   TBTRACE_LOGROOT   the parent directory (default "logs")
-- A driver that has its own default writer keeps it: traces go to its logdir, and the policy says
-- so once on stderr (TBTRACE_LOGROOT is then not used).
local root = os.getenv("TBTRACE_LOGROOT") or "logs"
local started = os.date("%Y-%m-%d_%H-%M-%S")
local told

return {
  logdir = function(ctx)
    return root .. "/" .. started
  end,
  step = function(ctx)
    return ctx.default_step or ctx.export_index
  end,
  run_name = function(ctx)
    if ctx.logdir and not told then
      told = true
      print("the driver has its own writer: traces go to " .. ctx.logdir .. ", not below " .. root)
    end
    return string.format("export-%03d", ctx.export_index or 1)
  end,
  max_queue = 100,
  flush_millis = 10000,
}

-- step_from_env.lua: the step comes from the environment when the caller gives none, for drivers
-- whose scheduler knows the global step (e.g. a restart that resumes at step 12000):
--   TBTRACE_STEP=12000 tbtrace driver.lua
-- Without TBTRACE_STEP the default step is used, and when there is none either, exports are
-- counted (1, 2, 3, ...) so each trace lands on its own step.
return {
  step = function(ctx)
    local s = os.getenv("TBTRACE_STEP")
    if s then
      local n = math.tointeger(tonumber(s))
      if not n then error("TBTRACE_STEP must be an integer, got '" .. s .. "'") end
      return n + (ctx.export_index or 1) - 1
    end
    return ctx.default_step or ctx.export_index or 1
  end,
}

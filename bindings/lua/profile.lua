-- profile.lua: `tbtrace --profile[=OUTDIR] [--calls] [--hz=N] script.lua args...` (the C side
-- parses the options and makes `arg`). Runs the script with the Lua sampler on (and call tracing
-- with --calls), exports the trace at the end (also when the script fails or calls os.exit)
-- through the usual policy rules, and prints where the time went. Returns the exit status.
local tbtrace, flame, outdir, calls, hz, script = ...
local args = table.pack(select(7, ...))

local DEFAULT_OUTDIR = "tbtrace-profile"

local function say(fmt, ...) io.stderr:write(string.format(fmt, ...), "\n") end

local ok, err = pcall(tbtrace.trace_on, { profiler = true, profiler_outdir = outdir,
                                          lua_samples = hz, lua_calls = calls or nil })
if not ok then
  say("tbtrace: %s", err)
  return nil
end

-- Exports once; the policy decides what the caller leaves open (the step, the outdir).
local finished
local function finish()
  if finished then return finished end
  finished = 1
  local tries = { { "profile" }, { "profile", 0 }, { "profile", 0, DEFAULT_OUTDIR } }
  local done, eerr
  for _, t in ipairs(tries) do
    done, eerr = pcall(tbtrace.trace_export, t[1], t[2], t[3])
    if done then break end
  end
  if not done then
    say("tbtrace: profile not written: %s", tostring(eerr))
    tbtrace.trace_off()
    return finished
  end
  local r = tbtrace.last_export()
  io.stderr:write("\n")
  say("profile: %s", r.profile_dir or "(no profile directory)")
  if r.folded_path then
    local p, perr = flame.read(r.folded_path)
    if p then io.stderr:write(flame.report(p)) else say("tbtrace: %s", perr) end
  end
  finished = 0
  return finished
end

local real_exit = os.exit
os.exit = function(code, close)   -- the profile is written before the process ends
  finish()
  return real_exit(code, close)
end

local chunk, lerr = loadfile(script)
if not chunk then
  say("tbtrace: %s", lerr)
  tbtrace.trace_off()
  return nil
end
-- The caller runs chunk itself (so the profile's stacks start at the script), then calls back
-- with the script's error, if any, for the export and the exit status.
return chunk, function(rerr)
  os.exit = real_exit
  if rerr then say("tbtrace: %s", rerr) end
  return (finish() ~= 0 or rerr) and 1 or 0
end

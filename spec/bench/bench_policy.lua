-- bench_policy.lua: what a policy costs per export. A trivial policy file (one `name` hook) runs
-- in its own process (docs/policies.md, "Budgets"): each export sends the facts over a socket and
-- waits for the decisions. Measured in wall-clock time (the policy's process works while this
-- one waits), next to a same-run baseline: the same export with no policy. Target: a trivial
-- policy adds under 2 ms per export.
local tbtrace = require "tbtrace"
local P = tbtrace.policy

local n = tonumber(arg and arg[1]) or 500
local reps = tonumber(arg and arg[2]) or 3

local function now()
  local p = assert(io.popen("date +%s.%N"))
  local t = tonumber(p:read("l"))
  p:close()
  return t
end

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p '" .. dir .. "'"))
local policy_file = dir .. "/trivial.lua"
local f = assert(io.open(policy_file, "w"))
f:write("return { name = function(ctx) return 'bench/' .. ctx.name end }\n")
f:close()

local w = assert(tbtrace.create_file_writer(dir .. "/logs", { max_queue = 1000 }))
w:set_as_default(1)

-- Seconds per call of fn, best of reps runs of n calls.
local function best(fn)
  local b = math.huge
  for _ = 1, reps do
    local t0 = now()
    for i = 1, n do fn(i) end
    local dt = (now() - t0) / n
    if dt < b then b = dt end
  end
  return b
end

local function export(i)
  tbtrace.trace_on()
  tbtrace.span_begin("step")
  tbtrace.span_end()
  assert(tbtrace.trace_export("t", i))
end

local facts = { name = "t", step = 1, host = "h", pid = 1, time = 0.0, export_index = 1, spans = 1,
  threads = 1, dropped = 0, graph = true, profiler = false }

P.set(nil)
local base = best(export)
local file = P.load(policy_file)
P.set(file)
local with_file = best(export)
P.set { name = function(ctx) return "bench/" .. ctx.name end }
local with_table = best(export)
P.set(nil)
local resolve_file = best(function() P.resolve(file, facts) end)
w:close()
os.execute("rm -rf '" .. dir .. "'")

print(string.format("export, no policy (baseline)        %8.3f ms", base * 1e3))
print(string.format("export, trivial policy file         %8.3f ms  %.2fx  (+%.3f ms; target < 2 ms)",
  with_file * 1e3, with_file / base, (with_file - base) * 1e3))
print(string.format("export, inline policy (trusted)     %8.3f ms  %.2fx  (+%.3f ms)",
  with_table * 1e3, with_table / base, (with_table - base) * 1e3))
print(string.format("policy.resolve, trivial policy file %8.3f ms  %.2fx of the baseline export",
  resolve_file * 1e3, resolve_file / base))

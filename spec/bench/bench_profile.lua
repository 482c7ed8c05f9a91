-- bench_profile.lua: what looking into Lua code costs. Call tracing: nanoseconds added per call
-- of a small Lua function (trace_on{lua_calls = true} against the same loop with a trace on and
-- no call tracing), and that run time as a ratio; the same with min_ns, where every call is
-- taken back. Sampling: the run time of a CPU-bound workload with trace_on{lua_samples = 1000}
-- as a ratio to the same workload with a plain trace on, measured in the same run.
local tbtrace = require "tbtrace"

local n = tonumber(arg and arg[1]) or 1000000
local reps = tonumber(arg and arg[2]) or 5
local clock = os.clock

local function leaf(x) return x + 1 end
local function calls_loop()
  local t0, x = clock(), 0
  for _ = 1, n do x = leaf(x) end
  return clock() - t0
end

-- a workload with some depth to its stacks
local function inner(k) local s = 0; for i = 1, k do s = s + i % 7 end; return s end
local function middle(k) return inner(k) + inner(k // 2) end
local function work()
  local t0, s = clock(), 0
  for i = 1, n // 2 do s = s + middle(100 + i % 10) end
  return clock() - t0
end

-- Best times of fn with a plain trace and with opts, runs interleaved so that load on the
-- machine falls on both alike.
local function best_pair(opts, fn)
  local b0, b1 = math.huge, math.huge
  for _ = 1, reps do
    for k, o in ipairs({ {}, opts }) do
      tbtrace.trace_off()
      assert(tbtrace.trace_on(o))
      collectgarbage()
      local dt = fn()
      tbtrace.trace_off()
      if k == 1 then b0 = math.min(b0, dt) else b1 = math.min(b1, dt) end
    end
  end
  return b0, b1
end

local base_calls, traced = best_pair({ lua_calls = true }, calls_loop)
print(string.format("call tracing: %.1f ns per call added, %.2fx the untraced run time (%.1f ns/call untraced, %.1f traced; %d calls)",
  (traced - base_calls) / n * 1e9, traced / base_calls, base_calls / n * 1e9, traced / n * 1e9, n))

-- with min_ns every call is still begun, and taken back at its return
local base_min, traced_min = best_pair({ lua_calls = { min_ns = 1000000 } }, calls_loop)
print(string.format("call tracing with min_ns (every call taken back): %.1f ns per call added, %.2fx the untraced run time",
  (traced_min - base_min) / n * 1e9, traced_min / base_min))

local base_work, sampled = best_pair({ lua_samples = 1000 }, work)
print(string.format("sampling at 1 kHz: %.3fx the untraced run time (%.3f s against %.3f s)",
  sampled / base_work, sampled, base_work))

-- bench_spans.lua: nanoseconds per span (span_begin + span_end) recorded from Lua with the
-- functions cached in locals, tracing on and off, next to same-run floors: a pair of calls to an
-- empty C function (the Lua -> C call floor), the same pair writing one record each (the floor
-- module tbtrace_bench_floor: a name cache by string address, a tick and a 16-byte record per
-- call) and a pair of calls to a Lua no-op.
-- Each "on" run records `n` spans in its own trace (trace_off between runs, chunks reused).
-- Target: span_begin + span_end at most 1.15x the recording floor pair.
local tbtrace = require "tbtrace"
local has_floor, floor = pcall(require, "tbtrace_bench_floor")

local n = tonumber(arg and arg[1]) or 1000000
local reps = tonumber(arg and arg[2]) or 5
local clock = os.clock

local span_begin, span_end = tbtrace.span_begin, tbtrace.span_end
local scope, span = tbtrace.scope, tbtrace.span
-- An empty C function taking one argument: the cheapest Lua -> C call available in the stdlib.
local cnop = rawlen
local t_arg = {}
local function lnop() end

local function best(fn)
  local b = math.huge
  for _ = 1, reps do
    collectgarbage()
    collectgarbage("stop")
    local dt = fn()
    collectgarbage("restart")
    if dt < b then b = dt end
  end
  return b / n * 1e9
end

local function c_baseline()
  local t0 = clock()
  for _ = 1, n do cnop(t_arg) cnop(t_arg) end
  return clock() - t0
end

local function floor_nop()
  local nop = floor.nop
  local t0 = clock()
  for _ = 1, n do nop("step") nop() end
  return clock() - t0
end

local function floor_pairs()
  local fb, ff = floor.begin, floor.finish
  local t0 = clock()
  for _ = 1, n do fb("step") ff() end
  return clock() - t0
end

local function lua_baseline()
  local t0 = clock()
  for _ = 1, n do lnop("step") lnop() end
  return clock() - t0
end

local function pairs_loop()
  local t0 = clock()
  for _ = 1, n do span_begin("step") span_end() end
  return clock() - t0
end

local function nested_loop()   -- the same spans, half of them nested one level
  local t0 = clock()
  for _ = 1, n / 2 do span_begin("step") span_begin("load") span_end() span_end() end
  return clock() - t0
end

local function scope_loop()
  local t0 = clock()
  for _ = 1, n do local _ <close> = scope("step") end
  return clock() - t0
end

local work = function() end
local function span_loop()
  local t0 = clock()
  for _ = 1, n do span("step", work) end
  return clock() - t0
end

local function coroutine_loop()
  local co = coroutine.wrap(function()
    local t0 = clock()
    for _ = 1, n do span_begin("step") span_end() end
    return clock() - t0
  end)
  return co()
end

local function on(fn)
  return function()
    assert(tbtrace.trace_on { graph = true })
    local dt = fn()
    local st = tbtrace.trace_stats()
    tbtrace.trace_off()
    if st.dropped > 0 then io.stderr:write("unexpected drops: ", st.dropped, "\n") end
    return dt
  end
end

on(pairs_loop)()   -- warm-up: chunks, clock calibration, name cache

-- The floor and the figure held to it are measured alternately, each the best of its runs, so a
-- burst of load on the machine hits both; three times as many runs as the other figures, as a
-- ratio of two bests needs both to reach their unloaded times.
local function best_pair(fa, fb)
  local a, b = math.huge, math.huge
  local saved = reps
  reps = 1
  for _ = 1, 3 * saved do
    a = math.min(a, best(fa))
    b = math.min(b, best(fb))
  end
  reps = saved
  return a, b
end

local floor_rec, on_pairs
if has_floor then floor_rec, on_pairs = best_pair(floor_pairs, on(pairs_loop)) end

local r = {
  cbase = best(c_baseline),
  fnop = has_floor and best(floor_nop) or nil,
  lbase = best(lua_baseline),
  on_pairs = on_pairs or best(on(pairs_loop)),
  on_nested = best(on(nested_loop)),
  on_scope = best(on(scope_loop)),
  on_span = best(on(span_loop)),
  on_co = best(on(coroutine_loop)),
  off_pairs = best(pairs_loop),
  off_scope = best(scope_loop),
}

print(string.format("Lua spans (span_begin + span_end pairs, cached locals), best of %d x %d", reps, n))
print(string.format("  baseline: C function pair (rawlen(t))   %7.2f ns", r.cbase))
print(string.format("  baseline: Lua no-op call pair           %7.2f ns", r.lbase))
if has_floor then
  print(string.format("  floor: empty Lua->C call pair           %7.2f ns", r.fnop))
  print(string.format("  floor: Lua->C call pair + record        %7.2f ns", floor_rec))
  print(string.format("  on:  span_begin(name) + span_end()      %7.2f ns per pair  %5.2fx the floor (target <= 1.15x): %s",
    r.on_pairs, r.on_pairs / floor_rec, r.on_pairs <= 1.15 * floor_rec and "ok" or "MISSED"))
else
  print("  floor: the module tbtrace_bench_floor is not built (target bench builds it)")
  print(string.format("  on:  span_begin(name) + span_end()      %7.2f ns per pair", r.on_pairs))
end
print(string.format("  on:  same, nested two deep              %7.2f ns per pair", r.on_nested))
print(string.format("  on:  same, inside a coroutine           %7.2f ns per pair", r.on_co))
print(string.format("  on:  local _ <close> = scope(name)      %7.2f ns per span", r.on_scope))
print(string.format("  on:  span(name, fn) with an empty fn    %7.2f ns per span", r.on_span))
print(string.format("  off: span_begin(name) + span_end()      %7.2f ns per pair", r.off_pairs))
print(string.format("  off: local _ <close> = scope(name)      %7.2f ns per span", r.off_scope))
print(string.format("  buffer memory held                      %7.2f MiB", tbtrace.trace_stats().bytes / 1048576))

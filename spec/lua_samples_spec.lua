-- lua_samples_spec.lua: the Lua stack sampler (trace_on{lua_samples = hz}): where the samples
-- land (the folded file, the Chrome trace), how well they attribute CPU time, and its options.
local tbtrace = require "tbtrace"
local wire = require "wire"
local fs = require "fs"

local SRC = debug.getinfo(1, "S").short_src

local function frame(name, fn)
  return string.format("%s (%s:%d)", name, SRC, debug.getinfo(fn, "S").linedefined)
end

-- The same work per unit in both, so CPU time goes 70:30 by the units asked for.
local function hot(n) local s = 0; for i = 1, n do s = s + i % 3 end; return s end
local function cold(n) local s = 0; for i = 1, n do s = s + i % 3 end; return s end
local function driver(rounds)
  for _ = 1, rounds do hot(7000); cold(3000) end
end

-- Runs driver for `seconds` of CPU time.
local function burn(seconds)
  local t0 = os.clock()
  repeat driver(20) until os.clock() - t0 >= seconds
end

local function export()
  local out = fs.tmpdir("samples")
  assert(tbtrace.trace_export{ name = "samples", step = 1, profiler_outdir = out })
  return tbtrace.last_export()
end

-- Parses a folded file: {stack = {frames...}, n = count} per line, checking every line's shape.
local function read_folded(path)
  local lines = {}
  for line in io.lines(path) do
    local stack, n = line:match("^(.+) (%d+)$")
    assert.is_string(stack, "not 'stack count': " .. line)
    local frames = {}
    for f in (stack .. ";"):gmatch("(.-);") do
      assert.is_true(#f > 0, "empty frame in " .. line)
      frames[#frames + 1] = f
    end
    lines[#lines + 1] = { stack = frames, text = stack, n = tonumber(n) }
  end
  return lines
end

describe("sampling", function()
  before_each(function()
    tbtrace.trace_off()
    tbtrace.create_noop_writer():set_as_default()
  end)
  after_each(function() tbtrace.trace_off() end)

  it("attributes CPU time: a function taking 70% of it gets 60-80% of the samples", function()
    assert.is_true(tbtrace.trace_on{ lua_samples = 1000, profiler = true })
    burn(1.5)
    local r = export()
    local host = tbtrace.hostname()
    assert.are.equal(r.profile_dir .. "/" .. host .. ".folded", r.folded_path)
    local total, self_hot, self_cold, in_driver = 0, 0, 0, 0
    for _, l in ipairs(read_folded(r.folded_path)) do
      total = total + l.n
      local leaf = l.stack[#l.stack]
      if leaf == frame("hot", hot) then self_hot = self_hot + l.n end
      if leaf == frame("cold", cold) then self_cold = self_cold + l.n end
      for _, f in ipairs(l.stack) do
        if f == frame("driver", driver) then in_driver = in_driver + l.n; break end
      end
    end
    assert.is_true(total >= 1100, "only " .. total .. " periods in 1.5 s of CPU at 1 kHz")
    local share = self_hot / total
    assert.is_true(share >= 0.6 and share <= 0.8, string.format("hot got %.1f%% of %d samples", 100 * share, total))
    assert.is_true(self_cold / total >= 0.2 and self_cold / total <= 0.4)
    assert.is_true(in_driver / total >= 0.95, "driver is on (nearly) every stack")
    -- hot is called by driver: its stacks end "...;driver (...);hot (...)"
    local found
    for _, l in ipairs(read_folded(r.folded_path)) do
      if l.text:find(frame("driver", driver) .. ";" .. frame("hot", hot), 1, true) then found = true end
    end
    assert.is_true(found)
  end)

  it("writes the samples into the Chrome trace as instants named by their stack", function()
    assert.is_true(tbtrace.trace_on{ lua_samples = 2000, profiler = true })
    burn(0.2)
    local r = export()
    local folded = {}
    local total = 0
    for _, l in ipairs(read_folded(r.folded_path)) do folded[l.text] = l.n; total = total + l.n end
    local trace = wire.json_decode(wire.gunzip(r.chrome_trace_path))
    local seen, n = {}, 0
    for _, e in ipairs(trace.traceEvents) do
      if e.ph == "i" and e.cat == "lua.sample" then
        n = n + 1
        seen[e.name] = (seen[e.name] or 0) + 1
      end
    end
    -- one instant per sample; a sample counts the periods its signal stood for
    local stacks = 0
    for k in pairs(folded) do stacks = stacks + 1; assert.is_true(seen[k] >= 1 and seen[k] <= folded[k], k) end
    for k in pairs(seen) do assert.is_not_nil(folded[k], k) end
    assert.is_true(n >= stacks and n <= total)
  end)

  it("writes the samples as call stacks: Chrome stackFrames and samples, XPlane events by leaf", function()
    assert.is_true(tbtrace.trace_on{ lua_samples = 2000, profiler = true })
    burn(0.3)
    local r = export()
    local folded = {}
    for _, l in ipairs(read_folded(r.folded_path)) do folded[l.text] = true end
    -- Chrome: each sample's frame chain, leaf up to a root, is a stack of the folded file
    local trace = wire.json_decode(wire.gunzip(r.chrome_trace_path))
    local instants = {}
    for _, e in ipairs(trace.traceEvents) do
      if e.ph == "i" and e.cat == "lua.sample" then instants[#instants + 1] = e end
    end
    assert.is_true(#instants >= 30, #instants .. " samples")   -- one per signal: the kernel tick bounds them
    assert.are.equal(#instants, #trace.samples)
    local frames = trace.stackFrames
    for id, f in pairs(frames) do
      assert.are.equal("lua", f.category)
      assert.is_true(f.parent == nil or frames[f.parent] ~= nil, "frame " .. id .. "'s parent")
    end
    local function stack_of(sf)
      local names = {}
      while sf do table.insert(names, 1, frames[sf].name); sf = frames[sf].parent end
      return table.concat(names, ";")
    end
    local hot_leaf = 0
    for i, smp in ipairs(trace.samples) do
      local st = stack_of(smp.sf)
      assert.is_true(folded[st], st)
      assert.are.equal(instants[i].name, st)   -- the same samples, in the same order
      assert.are.equal(instants[i].ts, smp.ts)
      assert.are.equal(instants[i].tid, smp.tid)
      assert.are.equal(1, smp.weight)
      if frames[smp.sf].name == frame("hot", hot) then hot_leaf = hot_leaf + 1 end
    end
    assert.is_true(hot_leaf > 0)
    -- XPlane: the sample events are named by their innermost frame, the stack in a "stack" stat
    local xs = wire.decode("XSpace", wire.read_file(r.xplane_path))
    local plane = xs.planes[1]
    local stack_stat
    for id, md in pairs(plane.stat_metadata) do if md.name == "stack" then stack_stat = id end end
    assert.is_not_nil(stack_stat)
    local n = 0
    for _, line in ipairs(plane.lines) do
      for _, ev in ipairs(line.events or {}) do
        local md = plane.event_metadata[ev.metadata_id]
        local stack
        for _, st in ipairs(md.stats or {}) do
          if st.metadata_id == stack_stat then stack = st.str_value end
        end
        if stack then
          n = n + 1
          assert.is_true(folded[stack], stack)
          assert.are.equal(stack:match("([^;]+)$"), md.name)
          assert.is_nil(ev.duration_ps)
        end
      end
    end
    assert.are.equal(#instants, n)
  end)

  it("counts a coroutine's time in the coroutine, below the resumes that ran it", function()
    -- Coroutines inside coroutines: the main thread resumes outer (coroutine.resume), outer runs
    -- inner (a coroutine.wrap function), inner burns about 70% of the CPU in hot; the main thread
    -- the rest in cold.
    local inner_body = function() while true do hot(7000); coroutine.yield() end end
    local inner = coroutine.wrap(inner_body)
    local outer_body = function() while true do inner(); coroutine.yield() end end
    local outer = coroutine.create(outer_body)
    local function main_loop(rounds)
      for _ = 1, rounds do assert(coroutine.resume(outer)); cold(3000) end
    end
    assert.is_true(tbtrace.trace_on{ lua_samples = 1000, profiler = true })
    local t0 = os.clock()
    repeat main_loop(20) until os.clock() - t0 >= 1.5
    local r = export()
    local function at(fn) return string.format("(%s:%d)", SRC, debug.getinfo(fn, "S").linedefined) end
    local function ends(f, suffix) return f:sub(-#suffix) == suffix end
    local total, self_hot, self_cold, chained = 0, 0, 0, 0
    for _, l in ipairs(read_folded(r.folded_path)) do
      total = total + l.n
      local st = l.stack
      if st[#st] == frame("hot", hot) then
        self_hot = self_hot + l.n
        -- ...;main_loop;resume ([C]);<outer_body>;inner ([C]);<inner_body>;hot
        local k = #st
        if k >= 6 and st[k - 5] == frame("main_loop", main_loop) and ends(st[k - 4], "([C])")
           and ends(st[k - 3], at(outer_body)) and ends(st[k - 2], "([C])") and ends(st[k - 1], at(inner_body)) then
          chained = chained + l.n
        end
      end
      if st[#st] == frame("cold", cold) then self_cold = self_cold + l.n end
    end
    assert.is_true(total >= 1100, "only " .. total .. " periods in 1.5 s of CPU at 1 kHz")
    local share = self_hot / total
    assert.is_true(share >= 0.6 and share <= 0.8, string.format("hot got %.1f%% of %d samples", 100 * share, total))
    assert.is_true(self_cold / total >= 0.2 and self_cold / total <= 0.4,
                   string.format("cold got %.1f%%", 100 * self_cold / total))
    assert.are.equal(self_hot, chained, "every sample in hot shows the resumes above it")
    -- the instants are on the coroutine's track, not the main thread's
    local trace = wire.json_decode(wire.gunzip(r.chrome_trace_path))
    local tids = {}
    for _, e in ipairs(trace.traceEvents) do
      if e.ph == "i" and e.cat == "lua.sample" then
        local leaf = e.name:match("([^;]+)$")
        tids[leaf] = tids[leaf] or {}
        tids[leaf][e.tid] = true
      end
    end
    local hot_tid = next(tids[frame("hot", hot)])
    assert.is_nil(next(tids[frame("hot", hot)], hot_tid), "hot samples on one track")
    assert.is_nil(tids[frame("cold", cold)][hot_tid], "cold runs on another track than hot")
  end)

  it("stops with the trace and leaves no hook behind", function()
    assert.is_true(tbtrace.trace_on{ lua_samples = 5000 })
    burn(0.02)
    tbtrace.trace_off()
    assert.is_nil(debug.gethook())
    burn(0.02)   -- a tick after the timer is gone would have nowhere to go
    assert.is_true(tbtrace.trace_on{ profiler = true })
    local r = export()
    assert.is_nil(r.folded_path)
  end)

  it("rejects bad rates", function()
    for _, v in ipairs({ 0, -5, 10001, 1.5, "100", true }) do
      local ok, err = pcall(tbtrace.trace_on, { lua_samples = v })
      assert.is_false(ok)
      assert.matches("bad option 'lua_samples' to 'trace_on' %(samples per second in 1..10000 expected", err)
      assert.is_false(tbtrace.trace_stats().on)
    end
  end)
end)

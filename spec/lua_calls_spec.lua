-- lua_calls_spec.lua: call tracing (trace_on{lua_calls = ...}) and the hook multiplexer it shares
-- with the policy budget and the user's own debug.sethook. Counts are read from the Chrome trace
-- the export wrote.
local tbtrace = require "tbtrace"
local wire = require "wire"
local fs = require "fs"

local SRC = debug.getinfo(1, "S").short_src

-- Exports the trace with the profiler on and returns the Chrome trace's span events.
local function export_spans()
  local out = fs.tmpdir("calls")
  assert(tbtrace.trace_export{ name = "calls", step = 1, profiler_outdir = out })
  local path = tbtrace.last_export().chrome_trace_path
  local trace = wire.json_decode(wire.gunzip(path))
  local spans = {}
  for _, e in ipairs(trace.traceEvents) do
    if e.ph == "X" then spans[#spans + 1] = e end
  end
  return spans, trace
end

local function line_of(fn) return debug.getinfo(fn, "S").linedefined end

-- The span name call tracing gives fn under name.
local function span_name(name, fn)
  return string.format("%s (%s:%d)", name, SRC, line_of(fn))
end

local function count(spans, name)
  local n = 0
  for _, s in ipairs(spans) do if s.name == name then n = n + 1 end end
  return n
end

local function by_name(spans, name)
  local r = {}
  for _, s in ipairs(spans) do if s.name == name then r[#r + 1] = s end end
  return r
end

-- Each span of the list with none left open.
local function assert_finished(list)
  for _, s in ipairs(list) do
    assert.is_nil(s.args and s.args.unfinished, s.name .. " left open")
  end
end

local function with_writer()
  local w = tbtrace.create_noop_writer()
  w:set_as_default()
  return w
end

describe("call tracing", function()
  before_each(function() tbtrace.trace_off(); with_writer() end)
  after_each(function() tbtrace.trace_off() end)

  it("makes one span per call of a recursive function", function()
    local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
    assert.is_true(tbtrace.trace_on{ lua_calls = true, profiler = true })
    assert.are.equal(610, fib(15))
    local spans = export_spans()
    local f = by_name(spans, span_name("fib", fib))
    assert.are.equal(1973, #f)   -- fib(15) makes 1973 calls
    assert_finished(f)
    assert.are.equal("lua", f[1].cat)
  end)

  it("ends a frame at its tail call: a chain of four is four spans one after another", function()
    local t4 = function(n) return n * 2 end
    local t3 = function(n) return t4(n + 1) end
    local t2 = function(n) return t3(n + 1) end
    local t1 = function(n) return t2(n + 1) end
    local function chain(n) local r = t1(n); return r + 0 end
    assert.is_true(tbtrace.trace_on{ lua_calls = true, profiler = true })
    for i = 1, 10 do assert.are.equal((i + 3) * 2, chain(i)) end
    local spans = export_spans()
    assert.are.equal(10, count(spans, span_name("chain", chain)))
    -- t1 has its caller's name; the others are reached by tail calls, which name nothing
    assert.are.equal(10, count(spans, span_name("t1", t1)))
    for _, fn in ipairs({ t2, t3, t4 }) do
      assert.are.equal(10, count(spans, span_name("function", fn)))
    end
    -- within one chain the four spans follow each other: none contains the next
    local seq, want = {}, {}
    want[span_name("t1", t1)] = true
    for _, fn in ipairs({ t2, t3, t4 }) do want[span_name("function", fn)] = true end
    for _, s in ipairs(spans) do
      if want[s.name] then seq[#seq + 1] = s end
    end
    table.sort(seq, function(a, b) return a.ts < b.ts end)
    assert.are.equal(40, #seq)
    for i = 1, #seq - 1 do
      assert.is_true(seq[i].ts + seq[i].dur <= seq[i + 1].ts + 1e-3, "span " .. i .. " overlaps the next")
    end
    assert_finished(seq)
  end)

  it("ends the frames an error unwinds, five of them, when the pcall returns", function()
    local function e5() error("boom") end
    local function e4() e5(); return 1 end
    local function e3() e4(); return 1 end
    local function e2() e3(); return 1 end
    local function e1() e2(); return 1 end
    local function run() return pcall(e1) end
    assert.is_true(tbtrace.trace_on{ lua_calls = true, profiler = true })
    for _ = 1, 3 do
      local ok, err = run()
      assert.is_false(ok)
      assert.matches("boom", err)
    end
    tbtrace.instant("after")
    local spans, trace = export_spans()
    local after
    for _, e in ipairs(trace.traceEvents) do if e.name == "after" then after = e.ts end end
    local names = { span_name("e2", e2), span_name("e3", e3), span_name("e4", e4), span_name("e5", e5),
                    span_name("function", e1) }
    for _, name in ipairs(names) do
      local list = by_name(spans, name)
      assert.are.equal(3, #list, name)
      assert_finished(list)
      for _, s in ipairs(list) do assert.is_true(s.ts + s.dur <= after, name .. " ends after the pcall") end
    end
    -- each of e2..e5 lies within its caller
    for k = 1, 3 do
      local outer, inner = by_name(spans, names[k])[1], by_name(spans, names[k + 1])[1]
      assert.is_true(inner.ts >= outer.ts and inner.ts + inner.dur <= outer.ts + outer.dur + 1e-3)
    end
    assert.are.equal(3, count(spans, span_name("run", run)))
  end)

  it("traces a coroutine ping-pong on each coroutine's own track", function()
    local ping_co, pong_co
    local function ping(n) return n + 1 end
    local function pong(n) return n + 1 end
    ping_co = coroutine.create(function(n)
      while true do n = coroutine.yield(ping(n)) end
    end)
    pong_co = coroutine.wrap(function(n)
      while true do n = coroutine.yield(pong(n)) end
    end)
    assert.is_true(tbtrace.trace_on{ lua_calls = true, profiler = true })
    local n = 0
    for _ = 1, 50 do
      local _, v = coroutine.resume(ping_co, n)
      n = pong_co(v)
    end
    assert.are.equal(100, n)
    local spans = export_spans()
    local pings, pongs = by_name(spans, span_name("ping", ping)), by_name(spans, span_name("pong", pong))
    assert.are.equal(50, #pings)
    assert.are.equal(50, #pongs)
    assert_finished(pings)
    assert_finished(pongs)
    local tids = {}
    for _, s in ipairs(pings) do tids[s.tid] = "ping" end
    for _, s in ipairs(pongs) do assert.is_nil(tids[s.tid], "pong shares a track with ping") end
  end)

  it("ends the frames of a coroutine that dies of an error or is closed", function()
    local function inner() error("dead") end
    local function outer() inner() end
    local function sleeper() coroutine.yield() end
    assert.is_true(tbtrace.trace_on{ lua_calls = true, profiler = true })
    local co = coroutine.create(function() outer() end)
    assert.is_false(coroutine.resume(co))
    local w = coroutine.wrap(function() outer() end)
    assert.is_false(pcall(w))
    local sl = coroutine.create(function() sleeper() end)
    coroutine.resume(sl)
    coroutine.close(sl)
    local spans = export_spans()
    for _, fn in ipairs({ { "inner", inner }, { "outer", outer }, { "sleeper", sleeper } }) do
      local list = by_name(spans, span_name(fn[1], fn[2]))
      assert.are.equal(fn[1] == "sleeper" and 1 or 2, #list, fn[1])
      assert_finished(list)
    end
  end)

  it("filters by source patterns and leaves C functions out unless asked", function()
    local function f() return math.ult(1, 2) end
    assert.is_true(tbtrace.trace_on{ lua_calls = { exclude = "lua_calls_spec" }, profiler = true })
    f()
    local spans = export_spans()
    assert.are.equal(0, count(spans, span_name("f", f)))
    tbtrace.trace_off()
    assert.is_true(tbtrace.trace_on{ lua_calls = { include = { "nomatch", "calls_spec%.lua$" },
                                                   c_functions = true }, profiler = true })
    f()
    spans = export_spans()
    assert.are.equal(1, count(spans, span_name("f", f)))
    assert.are.equal(1, count(spans, "ult ([C])"))
    tbtrace.trace_off()
    assert.is_true(tbtrace.trace_on{ lua_calls = true, profiler = true })
    f()
    spans = export_spans()
    assert.are.equal(0, count(spans, "ult ([C])"))
  end)

  it("keeps only calls lasting min_ns, and the calls around them", function()
    local function tiny() end
    local function slow() local t = os.clock() repeat until os.clock() - t >= 0.002 end
    local function driver() for i = 1, 1010 do if i % 101 == 0 then slow() else tiny() end end end
    assert.is_true(tbtrace.trace_on{ lua_calls = { min_ns = 1000000 }, profiler = true })
    driver()
    local spans = export_spans()
    assert.are.equal(10, count(spans, span_name("slow", slow)))
    assert.are.equal(1, count(spans, span_name("driver", driver)))
    for _, s in ipairs(spans) do   -- every finished span lasted 1 ms (export_spans is still open)
      if not (s.args and s.args.unfinished) then
        assert.is_true(s.dur >= 1000, s.name .. " lasted " .. s.dur .. " us")
      end
    end
    -- a tiny call is kept only when it lasted 1 ms after all (the thread was preempted in it)
    assert.is_true(count(spans, span_name("tiny", tiny)) <= 3)
    assert_finished(by_name(spans, span_name("slow", slow)))
    -- without it: every call
    assert.is_true(tbtrace.trace_on{ lua_calls = { min_ns = 0 }, profiler = true })
    driver()
    spans = export_spans()
    assert.are.equal(1000, count(spans, span_name("tiny", tiny)))
    assert.are.equal(10, count(spans, span_name("slow", slow)))
  end)

  it("rejects bad options", function()
    local function err(opts)
      local ok, e = pcall(tbtrace.trace_on, opts)
      assert.is_false(ok)
      assert.is_false(tbtrace.trace_stats().on)
      return e
    end
    assert.matches("bad option 'lua_calls' to 'trace_on' %(boolean or table expected, got number%)", err{ lua_calls = 1 })
    -- unknown keys are told as every option table's are, with a likely meaning
    assert.are.equal("unknown option 'lua_calls.c_function' to 'trace_on' (did you mean 'lua_calls.c_functions'?)",
                     err{ lua_calls = { c_function = true } })
    assert.are.equal("unknown option 'lua_calls.Include' to 'trace_on' (did you mean 'lua_calls.include'?)",
                     err{ lua_calls = { Include = "x" } })
    assert.are.equal("unknown option 'lua_calls.incl' to 'trace_on' (options are: lua_calls.include, "
                     .. "lua_calls.exclude, lua_calls.c_functions, lua_calls.min_ns)", err{ lua_calls = { incl = "x" } })
    assert.are.equal("unexpected value at index 1 in option 'lua_calls' to 'trace_on' (options are named: include = ...)",
                     err{ lua_calls = { "x" } })
    assert.matches("include must be a string or a list of strings, got number", err{ lua_calls = { include = 5 } })
    assert.matches("exclude%[2%] must be a string, got boolean", err{ lua_calls = { exclude = { "a", true } } })
    assert.matches("include: .*malformed pattern", err{ lua_calls = { include = "%" } })
    assert.matches("c_functions must be a boolean, got string", err{ lua_calls = { c_functions = "yes" } })
    assert.are.equal("bad option 'lua_calls' to 'trace_on' (min_ns must be a non-negative integer, got negative)",
                     err{ lua_calls = { min_ns = -1 } })
    assert.are.equal("bad option 'lua_calls' to 'trace_on' (min_ns must be a non-negative integer, got 1.5)",
                     err{ lua_calls = { min_ns = 1.5 } })
  end)

  it("stops with the trace: no span after trace_off or an export", function()
    local function g() return 1 end
    assert.is_true(tbtrace.trace_on{ lua_calls = true })
    g()
    tbtrace.trace_off()
    assert.is_nil(debug.gethook())
    assert.is_true(tbtrace.trace_on{ profiler = true })
    g()
    local spans = export_spans()
    assert.are.equal(0, count(spans, span_name("g", g)))
    assert.is_nil(debug.gethook())
  end)
end)

describe("the hook multiplexer", function()
  before_each(function() tbtrace.trace_off(); with_writer() end)
  after_each(function() tbtrace.trace_off(); debug.sethook() end)

  it("keeps a user's hook through call tracing and gives it back unchanged", function()
    local lines = 0
    local function user(ev) if ev == "line" then lines = lines + 1 end end
    debug.sethook(user, "l")
    local function h() local a = 1; a = a + 1; return a end
    assert.is_true(tbtrace.trace_on{ lua_calls = true, profiler = true })
    local before = lines
    h()
    assert.is_true(lines - before >= 3, "the user's line hook still runs under call tracing")
    local spans = export_spans()
    assert.are.equal(1, count(spans, span_name("h", h)))
    local f, mask, n = debug.gethook()
    assert.are.equal(user, f)
    assert.are.equal("l", mask)
    assert.are.equal(0, n)
    before = lines
    h()
    assert.is_true(lines - before >= 3, "and after the trace")
  end)

end)

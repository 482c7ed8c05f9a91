-- trace_record_spec.lua: recording spans from Lua: span_begin/span_end, span(name, fn), <close>
-- scopes, instants, counters, dependencies, thread names, coroutines, trace_on/trace_off/stats,
-- and argument errors. Results are read back with the internal snapshot (require "tbtrace.internal").
local tbtrace = require "tbtrace"

local function fresh(opts)
  tbtrace.trace_off()
  assert.is_true(tbtrace.trace_on(opts or {}))
end

local function snap()
  local m, err = require("tbtrace.internal").snapshot()
  assert.is_table(m, err)
  return m
end

-- The model threads (tracks) that hold anything, keyed by the path of their first span.
local function by_first_span(m)
  local r = {}
  for _, th in ipairs(m.threads) do
    if th.spans[1] then r[th.spans[1].path] = th end
  end
  return r
end

local function only_thread(m)
  assert.are.equal(1, #m.threads)
  return m.threads[1]
end

local function paths(th)
  local r = {}
  for i, s in ipairs(th.spans) do r[i] = s.path end
  return r
end

local function parents(th)
  local r = {}
  for i, s in ipairs(th.spans) do r[i] = s.parent or 0 end
  return r
end

-- The error message of calling fn(...), which must fail, without the caller's position.
local function err_of(fn, ...)
  local ok, e = pcall(fn, ...)
  assert.is_false(ok)
  assert.is_string(e)
  return (e:gsub("^[^\n:]+:%d+: ", ""))
end

local function now_ns()
  return os.time() * 1000000000
end

describe("spans from Lua", function()
  after_each(function() tbtrace.trace_off() end)

  it("nest by begin/end with paths, parents, depths, categories and times", function()
    local span_begin, span_end = tbtrace.span_begin, tbtrace.span_end
    local t0 = now_ns()
    fresh()
    span_begin("step")
    span_begin("load", "io")
    span_end()
    span_begin("train")
    span_begin("fwd", "compute")
    span_end()
    span_begin("fwd")
    span_end()
    span_end()
    span_end()
    span_begin("tail")
    span_end()
    local m = snap()
    local t1 = now_ns() + 1000000000
    local th = only_thread(m)
    assert.are.same({ "step", "step/load", "step/train", "step/train/fwd", "step/train/fwd", "tail" }, paths(th))
    assert.are.same({ 0, 1, 1, 3, 3, 0 }, parents(th))
    local names, depths, cats = {}, {}, {}
    for i, s in ipairs(th.spans) do
      names[i], depths[i], cats[i] = s.name, s.depth, s.category or "-"
      assert.is_false(s.unfinished)
      assert.is_true(s.end_ns >= s.start_ns)
      assert.is_true(s.start_ns >= t0 and s.end_ns <= t1)
      if i > 1 then assert.is_true(s.start_ns >= th.spans[i - 1].start_ns) end
      if s.parent then
        local p = th.spans[s.parent]
        assert.is_true(s.start_ns >= p.start_ns and s.end_ns <= p.end_ns)
      end
    end
    assert.are.same({ "step", "load", "train", "fwd", "fwd", "tail" }, names)
    assert.are.same({ 0, 1, 1, 2, 2, 0 }, depths)
    assert.are.same({ "-", "io", "-", "compute", "-", "-" }, cats)
    assert.is_true(m.start_ns >= t0 and m.start_ns <= th.spans[1].start_ns)
    assert.is_true(m.end_ns >= th.spans[6].end_ns)
    assert.are.equal(0, m.dropped)
    assert.is_true(m.graph)
    assert.is_false(m.profiler)
  end)

  it("measures durations consistent with the wall clock", function()
    fresh()
    local function busy(sec)
      local t = os.clock()
      while os.clock() - t < sec do end
    end
    tbtrace.span_begin("busy")
    busy(0.02)
    tbtrace.span_end()
    local s = only_thread(snap()).spans[1]
    local d = s.end_ns - s.start_ns
    assert.is_true(d >= 19000000, "duration " .. d)
    assert.is_true(d < 2000000000, "duration " .. d)
  end)

  it("closes open spans at the snapshot and flags them, without ending them", function()
    fresh()
    tbtrace.span_begin("open")
    tbtrace.span_begin("inner")
    local m = snap()
    local th = only_thread(m)
    assert.are.same({ "open", "open/inner" }, paths(th))
    for _, s in ipairs(th.spans) do
      assert.is_true(s.unfinished)
      assert.are.equal(m.end_ns, s.end_ns)
    end
    tbtrace.span_end()
    tbtrace.span_end()
    th = only_thread(snap())
    assert.is_false(th.spans[1].unfinished)
    assert.is_false(th.spans[2].unfinished)
  end)

  it("ignores an end with no open span", function()
    fresh()
    tbtrace.span_end()
    tbtrace.span_begin("a")
    tbtrace.span_end()
    tbtrace.span_end()
    tbtrace.span_begin("b")
    tbtrace.span_end()
    local th = only_thread(snap())
    assert.are.same({ "a", "b" }, paths(th))
    assert.are.same({ 0, 0 }, parents(th))
  end)

  it("records instants, counters, dependencies and the thread name", function()
    fresh()
    tbtrace.thread_name("driver")
    tbtrace.span_begin("step")
    tbtrace.instant("mark")
    tbtrace.instant("mark2", "cat")
    tbtrace.counter("loss", 0.25)
    tbtrace.counter("loss", 3)
    tbtrace.span_end()
    tbtrace.depends("step", "eval")
    tbtrace.depends("step", "eval")
    tbtrace.depends("a/b", "c")
    local m = snap()
    local th = only_thread(m)
    assert.matches("^driver", th.name)
    assert.are.equal(2, #th.instants)
    assert.are.equal("mark", th.instants[1].name)
    assert.is_nil(th.instants[1].category)
    assert.are.equal("mark2", th.instants[2].name)
    assert.are.equal("cat", th.instants[2].category)
    assert.is_true(th.instants[1].time_ns >= th.spans[1].start_ns)
    assert.is_true(th.instants[2].time_ns <= th.spans[1].end_ns)
    assert.are.equal(2, #th.counters)
    assert.are.equal("loss", th.counters[1].name)
    assert.are.equal(0.25, th.counters[1].value)
    assert.are.equal(3, th.counters[2].value)
    assert.are.same({ { from = "step", to = "eval" }, { from = "a/b", to = "c" } }, m.edges)
    tbtrace.thread_name(nil)
  end)

  it("records nothing while no trace is on", function()
    tbtrace.trace_off()
    tbtrace.span_begin("x")
    tbtrace.span_end()
    tbtrace.instant("x")
    tbtrace.counter("x", 1)
    tbtrace.depends("x", "y")
    tbtrace.span("x", function() end)
    do local _ <close> = tbtrace.scope("x") end
    assert.are.equal(0, tbtrace.trace_stats().records)
    local m, err = require("tbtrace.internal").snapshot()
    assert.is_nil(m)
    assert.are.equal("no trace is on", err)
    fresh()
    local s = snap()
    assert.are.equal(0, #s.threads)
    assert.are.same({}, s.edges)
  end)

  it("keeps names right past the name cache's capacity and for long strings", function()
    fresh()
    local long = string.rep("x", 100)
    for i = 1, 1500 do
      tbtrace.span_begin("n" .. i)
      tbtrace.span_end()
    end
    for i = 1, 3 do
      tbtrace.span_begin("n" .. i)
      tbtrace.span_end()
      tbtrace.span_begin(long .. i)   -- a new long string object each time
      tbtrace.span_end()
    end
    local th = only_thread(snap())
    assert.are.equal(1506, #th.spans)
    for i = 1, 1500 do assert.are.equal("n" .. i, th.spans[i].name) end
    assert.are.equal("n1", th.spans[1501].name)
    assert.are.equal(long .. "1", th.spans[1502].name)
    assert.are.equal("n3", th.spans[1505].name)
    assert.are.equal(long .. "3", th.spans[1506].name)
  end)
end)

describe("span(name, fn, ...)", function()
  after_each(function() tbtrace.trace_off() end)

  it("calls fn with the arguments and returns all its results", function()
    fresh()
    local a, b, c = tbtrace.span("work", function(x, y)
      tbtrace.span_begin("inside")
      tbtrace.span_end()
      return x + y, "two", nil
    end, 40, 2)
    assert.are.equal(42, a)
    assert.are.equal("two", b)
    assert.is_nil(c)
    assert.are.equal(0, select("#", tbtrace.span("empty", function() end)))
    assert.are.equal(3, select("#", tbtrace.span("three", function() return 1, nil, 3 end)))
    local th = only_thread(snap())
    assert.are.same({ "work", "work/inside", "empty", "three" }, paths(th))
    for _, s in ipairs(th.spans) do assert.is_false(s.unfinished) end
  end)

  it("ends the span when fn errors and rethrows the same error value", function()
    fresh()
    local e = { code = 7 }
    local ok, got = pcall(tbtrace.span, "fails", function() error(e) end)
    assert.is_false(ok)
    assert.are.equal(e, got)   -- the very same table
    ok, got = pcall(tbtrace.span, "fails2", function() error("boom") end)
    assert.is_false(ok)
    assert.matches("boom$", got)
    tbtrace.span_begin("after")
    tbtrace.span_end()
    local th = only_thread(snap())
    assert.are.same({ "fails", "fails2", "after" }, paths(th))
    assert.are.same({ 0, 0, 0 }, parents(th))
    for _, s in ipairs(th.spans) do assert.is_false(s.unfinished) end
  end)

  it("unwinds nested spans and scopes inside fn on error", function()
    fresh()
    local ok = pcall(tbtrace.span, "outer", function()
      local _ <close> = tbtrace.scope("scoped")
      tbtrace.span("inner", function() error("deep") end)
    end)
    assert.is_false(ok)
    tbtrace.span_begin("next")
    tbtrace.span_end()
    local th = only_thread(snap())
    assert.are.same({ "outer", "outer/scoped", "outer/scoped/inner", "next" }, paths(th))
    assert.are.same({ 0, 1, 2, 0 }, parents(th))
    for _, s in ipairs(th.spans) do assert.is_false(s.unfinished) end
  end)

  it("lets fn yield inside a coroutine", function()
    fresh()
    local co = coroutine.wrap(function()
      return tbtrace.span("yielding", function(x)
        local y = coroutine.yield(x + 1)
        return y * 2
      end, 1)
    end)
    assert.are.equal(2, co())
    tbtrace.span_begin("between")
    tbtrace.span_end()
    assert.are.equal(20, co(10))
    local t = by_first_span(snap())
    assert.is_table(t.yielding)
    assert.is_table(t.between)
    assert.are.equal(1, #t.yielding.spans)
    assert.is_false(t.yielding.spans[1].unfinished)
    assert.is_true(t.yielding.spans[1].start_ns <= t.between.spans[1].start_ns)
    assert.is_true(t.yielding.spans[1].end_ns >= t.between.spans[1].end_ns)
  end)
end)

describe("scope(name)", function()
  after_each(function() tbtrace.trace_off() end)

  it("returns a to-be-closed value that ends the span when the block ends", function()
    fresh()
    do
      local _ <close> = tbtrace.scope("a")
      do
        local _ <close> = tbtrace.scope("b", "cat")
      end
      tbtrace.span_begin("c")
      tbtrace.span_end()
    end
    local th = only_thread(snap())
    assert.are.same({ "a", "a/b", "a/c" }, paths(th))
    assert.are.equal("cat", th.spans[2].category)
    for _, s in ipairs(th.spans) do assert.is_false(s.unfinished) end
    assert.are.equal("tbtrace.scope", tostring(tbtrace.scope("x")))
    tbtrace.span_end()
  end)

  it("ends the span when the block is left by an error", function()
    fresh()
    local ok, e = pcall(function()
      local _ <close> = tbtrace.scope("guarded")
      error("oops", 0)
    end)
    assert.is_false(ok)
    assert.are.equal("oops", e)
    local th = only_thread(snap())
    assert.are.same({ "guarded" }, paths(th))
    assert.is_false(th.spans[1].unfinished)
  end)
end)

describe("coroutines", function()
  after_each(function() tbtrace.trace_off() end)

  it("each nest on their own track, across yields and resumes", function()
    fresh()
    local span_begin, span_end, yield = tbtrace.span_begin, tbtrace.span_end, coroutine.yield
    local co1 = coroutine.create(function()
      span_begin("c1")
      yield()
      span_begin("c1b")
      yield()
      span_end()
      span_end()
    end)
    local co2 = coroutine.create(function()
      span_begin("c2")
      yield()
      span_begin("c2b")
      span_end()
      span_end()
    end)
    span_begin("main")
    assert(coroutine.resume(co1))   -- c1 open
    assert(coroutine.resume(co2))   -- c2 open
    span_begin("m2")
    assert(coroutine.resume(co1))   -- c1b open under c1
    span_end()                      -- ends m2, not c1b
    assert(coroutine.resume(co2))   -- c2b, then c2 end
    assert(coroutine.resume(co1))   -- c1b, c1 end
    span_end()                      -- ends main
    assert.are.equal("dead", coroutine.status(co1))
    assert.are.equal("dead", coroutine.status(co2))
    local m = snap()
    local t = by_first_span(m)
    assert.are.same({ "main", "main/m2" }, paths(t.main))
    assert.are.same({ "c1", "c1/c1b" }, paths(t.c1))
    assert.are.same({ "c2", "c2/c2b" }, paths(t.c2))
    for _, th in pairs(t) do
      assert.are.equal(t.main.tid, th.tid)   -- one OS thread, three tracks
      for _, s in ipairs(th.spans) do assert.is_false(s.unfinished) end
    end
    assert.matches("coroutine %d+$", t.c1.name)
    assert.matches("coroutine %d+$", t.c2.name)
    assert.are_not.equal(t.c1.name, t.c2.name)
    -- m2 lies inside main; c1b inside c1 although main's spans ran in between.
    local m2, c1, c1b = t.main.spans[2], t.c1.spans[1], t.c1.spans[2]
    assert.is_true(m2.end_ns <= t.main.spans[1].end_ns)
    assert.is_true(c1b.start_ns >= c1.start_ns and c1b.end_ns <= c1.end_ns)
    assert.is_true(c1b.start_ns >= m2.start_ns)
  end)

  it("leaves a span open in a suspended coroutine unfinished", function()
    fresh()
    local co = coroutine.wrap(function()
      tbtrace.span_begin("waiting")
      coroutine.yield()
      tbtrace.span_end()
    end)
    co()
    tbtrace.span_begin("main")
    tbtrace.span_end()
    local t = by_first_span(snap())
    assert.is_true(t.waiting.spans[1].unfinished)
    assert.is_false(t.main.spans[1].unfinished)
    co()
    t = by_first_span(snap())
    assert.is_false(t.waiting.spans[1].unfinished)
  end)
end)

describe("trace control", function()
  after_each(function() tbtrace.trace_off() end)

  it("refuses a second trace_on with TF's message and keeps the first options", function()
    tbtrace.trace_off()
    assert.is_true(tbtrace.trace_on { graph = false, profiler = true, profiler_outdir = "/tmp/x" })
    local ok, msg = tbtrace.trace_on { graph = true }
    assert.is_false(ok)
    assert.are.equal("Trace already enabled", msg)
    local m = snap()
    assert.is_false(m.graph)
    assert.is_true(m.profiler)
    tbtrace.trace_off()
    tbtrace.trace_off()   -- a no-op
    assert.is_false(tbtrace.trace_stats().on)
  end)

  it("accepts TF's positional form and defaults", function()
    tbtrace.trace_off()
    assert.is_true(tbtrace.trace_on(false, true))
    local m = snap()
    assert.is_false(m.graph)
    assert.is_true(m.profiler)
    tbtrace.trace_off()
    assert.is_true(tbtrace.trace_on())
    m = snap()
    assert.is_true(m.graph)
    assert.is_false(m.profiler)
  end)

  it("reports stats and counts records dropped by the memory limit", function()
    fresh { memory_limit = 2 * 16384 }
    local st = tbtrace.trace_stats()
    assert.is_true(st.on)
    for _ = 1, 5000 do
      tbtrace.span_begin("x")
      tbtrace.span_end()
    end
    st = tbtrace.trace_stats()
    assert.are.equal(2 * 1023, st.records)
    assert.are.equal(10000 - 2 * 1023, st.dropped)
    assert.are.equal(1, st.threads)
    assert.is_true(st.bytes >= 2 * 16384)
    local m = snap()
    assert.are.equal(10000 - 2 * 1023, m.dropped)
    fresh()
    assert.are.equal(0, tbtrace.trace_stats().dropped)
  end)

  it("reuses buffer memory across traces", function()
    local bytes
    for i = 1, 10 do
      fresh()
      for _ = 1, 20000 do
        tbtrace.span_begin("x")
        tbtrace.span_end()
      end
      local st = tbtrace.trace_stats()
      assert.are.equal(40000, st.records)
      if i == 2 then bytes = st.bytes elseif i > 2 then assert.are.equal(bytes, st.bytes) end
    end
  end)
end)

describe("argument errors", function()
  after_each(function() tbtrace.trace_off() end)

  it("raise with the argument and function named, tracing on or off", function()
    for _, on in ipairs { false, true } do
      if on then fresh() else tbtrace.trace_off() end
      assert.are.equal("bad argument #1 to 'span_begin' (string expected, got nil)",
        err_of(function() tbtrace.span_begin(nil) end))
      assert.are.equal("bad argument #1 to 'span_begin' (string expected, got number)",
        err_of(function() tbtrace.span_begin(12) end))
      assert.are.equal("bad argument #2 to 'span_begin' (string or nil expected, got table)",
        err_of(function() tbtrace.span_begin("x", {}) end))
      assert.are.equal("bad argument #1 to 'span' (string expected, got no value)",
        err_of(function() tbtrace.span() end))
      assert.are.equal("bad argument #2 to 'span' (function expected, got nil)",
        err_of(function() tbtrace.span("x", nil) end))
      assert.are.equal("bad argument #2 to 'span' (function expected, got no value)",
        err_of(function() tbtrace.span("x") end))
      assert.are.equal("bad argument #1 to 'scope' (string expected, got boolean)",
        err_of(function() tbtrace.scope(true) end))
      assert.are.equal("bad argument #1 to 'instant' (string expected, got no value)",
        err_of(function() tbtrace.instant() end))
      assert.are.equal("bad argument #2 to 'counter' (number expected, got string)",
        err_of(function() tbtrace.counter("c", "many") end))
      assert.are.equal("bad argument #2 to 'depends' (string expected, got no value)",
        err_of(function() tbtrace.depends("a") end))
      assert.are.equal("bad argument #1 to 'thread_name' (string expected, got number)",
        err_of(function() tbtrace.thread_name(3) end))
    end
    tbtrace.trace_off()
    assert.are.equal("bad option 'graph' to 'trace_on' (boolean expected, got number)",
      err_of(function() tbtrace.trace_on { graph = 1 } end))
    assert.are.equal("bad option 'profiler_outdir' to 'trace_on' (string expected, got boolean)",
      err_of(function() tbtrace.trace_on { profiler_outdir = true } end))
    assert.are.equal("bad option 'memory_limit' to 'trace_on' (non-negative integer expected, got negative)",
      err_of(function() tbtrace.trace_on { memory_limit = -1 } end))
    assert.are.equal("bad argument #1 to 'trace_on' (boolean expected, got string)",
      err_of(function() tbtrace.trace_on("yes") end))
    assert.is_false(tbtrace.trace_stats().on)   -- a failed trace_on starts nothing
  end)

  it("do not disturb the trace", function()
    fresh()
    tbtrace.span_begin("kept")
    pcall(tbtrace.span_begin, nil)
    pcall(tbtrace.span, "x")
    tbtrace.span_end()
    local th = only_thread(snap())
    assert.are.same({ "kept" }, paths(th))
  end)
end)

-- traceback_spec.lua: an error raised inside a function that tbtrace calls back (w:as_default,
-- span, record_if) keeps the whole call chain: the traceback with the wrapper holds every frame of
-- the traceback without it, and the wrapper's scope is still undone.
local tbtrace = require "tbtrace"
local fs = require "fs"

local function deep_error() error("boom in deep_error") end
local function log_metrics() deep_error() end
local function train() log_metrics() return "not reached" end

-- The traceback of the error run raises, and its message.
local function traceback_of(run)
  local ok, tb = xpcall(run, debug.traceback)
  assert.is_false(ok)
  return tb
end

-- Where the frames of this file's user functions (deep_error, log_metrics, train) stand: "file:line:
-- in". A function called from C is named by its definition instead of its variable, so only the
-- place is compared.
local function user_frames(tb)
  local frames = {}
  for line in tb:gmatch("[^\n]+") do
    if line:find("deep_error", 1, true) or line:find("log_metrics", 1, true) or line:find("'train'", 1, true) then
      frames[#frames + 1] = line:match("^%s*(%S+traceback_spec%.lua:%d+: in )")
    end
  end
  return frames
end

local direct = traceback_of(function() train() end)
local direct_frames = user_frames(direct)

local function assert_keeps_frames(tb)
  assert.are.equal(direct:match("^[^\n]+"), tb:match("^[^\n]+"))   -- the same message
  assert.are.equal(3, #direct_frames, direct)
  for _, f in ipairs(direct_frames) do
    assert.is_truthy(tb:find(f, 1, true), "frame lost: " .. f .. "\nin:\n" .. tb)
  end
end

describe("tracebacks through functions that call back into Lua", function()
  local w
  before_each(function()
    tbtrace.trace_off()
    w = assert(tbtrace.create_file_writer(fs.tmpdir("traceback")))
  end)
  after_each(function()
    tbtrace.trace_off()
    w:close()
  end)

  it("keep every frame through w:as_default(step, fn) and w:as_default(fn)", function()
    assert_keeps_frames(traceback_of(function() w:as_default(3, train) end))
    assert_keeps_frames(traceback_of(function() w:as_default(train) end))
    assert.is_nil(tbtrace.default_writer())           -- the scope was undone
    assert.is_nil(tbtrace.experimental.get_step())
  end)

  it("keep every frame through span(name, fn), and the span ends", function()
    assert.is_true(tbtrace.trace_on { graph = true })
    assert_keeps_frames(traceback_of(function() tbtrace.span("step", train) end))
    tbtrace.span("after", function() end)
    local m = assert(require("tbtrace.internal").snapshot())
    local spans = m.threads[1].spans
    assert.are.equal(2, #spans)
    assert.are.equal("step", spans[1].path)
    assert.is_false(spans[1].unfinished)
    assert.are.equal("after", spans[2].path)          -- not nested under the failed span
  end)

  it("keep every frame through record_if(cond, fn), and the condition is restored", function()
    w:as_default(function()   -- should_record_summaries needs a default writer
      assert_keeps_frames(traceback_of(function() tbtrace.record_if(false, train) end))
      assert.is_true(tbtrace.should_record_summaries())
      assert_keeps_frames(traceback_of(function() tbtrace.record_if(function() return false end, train) end))
      assert.is_true(tbtrace.should_record_summaries())
    end)
  end)

  it("keep every frame through all of them nested", function()
    assert.is_true(tbtrace.trace_on { graph = true })
    local tb = traceback_of(function()
      w:as_default(1, function()
        tbtrace.record_if(true, function() tbtrace.span("outer", train) end)
      end)
    end)
    assert_keeps_frames(tb)
    assert.is_nil(tbtrace.default_writer())
  end)

  it("pass results and non-string error objects through unchanged", function()
    assert.are.same({ 1, 2, 3 }, { w:as_default(0, function(...) return ... end, 1, 2, 3) })
    assert.are.same({ "a", "b" }, { tbtrace.span("s", function(x) return x, "b" end, "a") })
    assert.are.same({ 5 }, { tbtrace.record_if(true, function() return 5 end) })
    local obj = {}
    local ok, err = pcall(w.as_default, w, function() error(obj) end)
    assert.is_false(ok)
    assert.are.equal(obj, err)
    ok, err = pcall(tbtrace.span, "s", function() error(obj) end)
    assert.are.equal(obj, err)
  end)
end)

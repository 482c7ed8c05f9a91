-- writer_spec.lua: the Lua writer API (create_file_writer, noop writers, default writer and step,
-- as_default, flush, close) checked against the bytes on disk with the independent wire reader.
local tbtrace = require "tbtrace"
local wire = require "wire"
local fs = require "fs"

local function events_in(dir)
  local files = fs.find(dir, "*tfevents*")
  assert.are.equal(1, #files, "expected one event file in " .. dir)
  return wire.read_event_file(files[1]), files[1]
end

describe("create_file_writer", function()
  it("creates the logdir and a TensorFlow-named event file whose first record is file_version", function()
    local dir = fs.tmpdir("writer") .. "/deep/er"
    local before = os.time()
    local w = assert(tbtrace.create_file_writer(dir))
    local path = w:path()
    local host = io.popen("hostname"):read("l")
    local name = path:match("[^/]+$")
    local secs, h, pid, n, suffix = name:match("^events%.out%.tfevents%.(%d+)%.(.+)%.(%d+)%.(%d+)(%.v2)$")
    assert.is_not_nil(secs, name)
    assert.are.equal(10, #secs)
    assert.is_true(tonumber(secs) >= before and tonumber(secs) <= os.time())
    assert.are.equal(host, h)
    assert.are.equal(dir, w:logdir())
    local evs = events_in(dir)
    assert.are.equal(1, #evs)
    assert.are.equal("brain.Event:2", evs[1].file_version)
    assert.are.equal(tonumber(secs), evs[1].wall_time)
    assert.is_nil(evs[1].summary)
    assert.is_true(w:close())
  end)

  it("opens a new file on every call, numbering writers in the process", function()
    local dir = fs.tmpdir("writer")
    local a = assert(tbtrace.create_file_writer(dir))
    local b = assert(tbtrace.create_file_writer(dir, { filename_suffix = ".x" }))
    assert.are_not.equal(a:path(), b:path())
    local na = tonumber(a:path():match("%.(%d+)%.v2$"))
    local nb = tonumber(b:path():match("%.(%d+)%.x$"))
    assert.are.equal(na + 1, nb)
    assert.are.equal(2, #fs.list(dir))
    a:close(); b:close()
  end)

  it("returns nil, message, errno when the logdir cannot be created", function()
    local dir = fs.tmpdir("writer")
    os.execute("mkdir -p '" .. dir .. "' && touch '" .. dir .. "/file'")
    local w, msg, errno = tbtrace.create_file_writer(dir .. "/file/sub")
    assert.is_nil(w)
    assert.matches("Not a directory", msg)
    assert.are.equal(20, errno) -- ENOTDIR
  end)

  it("rejects bad arguments with clear errors", function()
    local cases = {
      { { nil }, "bad argument #1 to '[%w.]*create_file_writer' %(string expected, got nil%)" },
      { { "" }, "logdir cannot be empty" },
      { { "a\0b" }, "NUL" },
      { { "d", 5 }, "bad argument #2 to '[%w.]*create_file_writer' %(table expected, got number%)" },
      { { "d", { max_queue = -1 } }, "bad option 'max_queue'" },
      { { "d", { max_queue = 1.5 } }, "bad option 'max_queue'" },
      { { "d", { flush_millis = "x" } }, "bad option 'flush_millis'" },
      { { "d", { filename_suffix = 3 } }, "bad option 'filename_suffix'" },
      { { "d", { filename_suffix = "a/b" } }, "contains '/'" },
    }
    for _, c in ipairs(cases) do
      local ok, err = pcall(tbtrace.create_file_writer, table.unpack(c[1], 1, 2))
      assert.is_false(ok)
      assert.matches(c[2], err)
    end
  end)
end)

describe("flushing", function()
  it("holds max_queue events and flushes on the next one", function()
    local dir = fs.tmpdir("flush")
    local w = assert(tbtrace.create_file_writer(dir, { max_queue = 2, flush_millis = 600000 }))
    w:set_as_default(1)
    assert.is_true(tbtrace.scalar("a", 1))
    assert.is_true(tbtrace.scalar("a", 2))
    assert.are.equal(1, #events_in(dir))
    assert.are.equal(2, w:stats().events_pending)
    assert.is_true(tbtrace.scalar("a", 3))
    assert.are.equal(4, #events_in(dir))
    assert.is_true(tbtrace.scalar("a", 4))
    assert.is_true(w:flush())
    assert.are.equal(5, #events_in(dir))
    w:close()
  end)

  it("flushes an idle writer by timer after flush_millis", function()
    local dir = fs.tmpdir("timer")
    local w = assert(tbtrace.create_file_writer(dir, { max_queue = 100, flush_millis = 300 }))
    w:set_as_default(1)
    tbtrace.scalar("a", 1)
    assert.are.equal(1, #events_in(dir))
    local deadline = os.time() + 5
    while #events_in(dir) < 2 and os.time() < deadline do os.execute("sleep 0.05") end
    assert.are.equal(2, #events_in(dir))
    assert.are.equal(1, w:stats().timer_flushes)
    w:close()
  end)
end)

describe("a logdir that goes away", function()
  it("moves to a new event file in the recreated logdir, losing nothing queued", function()
    local dir = fs.tmpdir("writer") .. "/run"
    local w = assert(tbtrace.create_file_writer(dir, { max_queue = 100 }))
    w:as_default(0, function()
      for step = 0, 2 do assert.is_true(tbtrace.scalar("x", step, step)) end
    end)
    local first = w:path()
    fs.rm_rf(dir)
    w:as_default(3, function()
      for step = 3, 5 do assert.is_true(tbtrace.scalar("x", step, step)) end
    end)
    assert.is_true(w:close())
    assert.are_not.equal(first, w:path())
    local st = w:stats()
    assert.are.equal(1, st.files_reopened)
    assert.are.equal(0, st.events_dropped)
    assert.are.equal(0, st.events_pending)
    local evs, path = events_in(dir)
    assert.are.equal(w:path(), path)
    assert.are.equal("brain.Event:2", evs[1].file_version)
    assert.are.equal(4, #evs)
    for i = 2, 4 do
      assert.are.equal(i + 1, evs[i].step)
      assert.are.equal("x", evs[i].summary.value[1].tag)
    end
  end)

  it("takes max_queue_bytes as an option", function()
    local w = assert(tbtrace.create_file_writer(fs.tmpdir("writer"), { max_queue_bytes = 4096 }))
    assert.is_true(w:close())
    assert.has_error(function() tbtrace.create_file_writer(fs.tmpdir("writer"), { max_queue_bytes = -1 }) end,
      "bad option 'max_queue_bytes' to 'create_file_writer' (non-negative integer expected, got out of range)")
  end)
end)

describe("close", function()
  it("flushes, is idempotent, and later use raises", function()
    local dir = fs.tmpdir("close")
    local w = assert(tbtrace.create_file_writer(dir))
    w:set_as_default(3)
    tbtrace.scalar("a", 1)
    assert.is_true(w:close())
    assert.is_true(w:close())
    assert.is_true(w:closed())
    assert.are.equal(2, #events_in(dir))
    assert.has_error(function() w:set_as_default() end, "SummaryWriter is already closed")
    assert.has_error(function() w:as_default(function() end) end, "SummaryWriter is already closed")
    assert.has_error(function() tbtrace.scalar("a", 2) end) -- the closed writer is still the default
    assert.is_true(w:flush())                                -- flush after close does nothing
    assert.matches("closed", tostring(w))
    tbtrace.create_noop_writer():set_as_default()
  end)

  it("closes when a <close> variable goes out of scope", function()
    local dir = fs.tmpdir("tbc")
    local path
    do
      local w <close> = assert(tbtrace.create_file_writer(dir))
      path = w:path()
      w:as_default(5, function() tbtrace.scalar("x", 1) end)
    end
    local evs = wire.read_event_file(path)
    assert.are.equal(2, #evs)
    assert.are.equal(5, evs[2].step)
  end)
end)

describe("default writer and step", function()
  local function clear()
    -- A thread's default can only be replaced, so start each test from a closed writer.
    local w = assert(tbtrace.create_file_writer(fs.tmpdir("clear")))
    w:set_as_default()
    w:close()
    tbtrace.experimental.set_step(nil)
  end

  it("as_default sets writer and step for fn, restores both, and flushes on exit", function()
    clear()
    local dir = fs.tmpdir("asdef")
    local w = assert(tbtrace.create_file_writer(dir, { max_queue = 100 }))
    tbtrace.experimental.set_step(7)
    local r1, r2 = w:as_default(42, function(x)
      assert.are.equal(42, tbtrace.experimental.get_step())
      assert.is_true(tbtrace.scalar("in", x))
      return "a", "b"
    end, 1.5)
    assert.are.equal("a", r1)
    assert.are.equal("b", r2)
    assert.are.equal(7, tbtrace.experimental.get_step())
    local evs = events_in(dir)
    assert.are.equal(2, #evs)              -- flushed on exit though max_queue was not reached
    assert.are.equal(42, evs[2].step)
    w:close()
  end)

  it("as_default restores on error and the error propagates", function()
    clear()
    local w = assert(tbtrace.create_file_writer(fs.tmpdir("asdeferr")))
    local ok, err = pcall(w.as_default, w, 3, function() error("boom") end)
    assert.is_false(ok)
    assert.matches("boom", err)
    assert.is_nil(tbtrace.experimental.get_step())
    assert.is_false(tbtrace.should_record_summaries())
    w:close()
  end)

  it("as_default without fn returns a to-be-closed scope", function()
    clear()
    local w = assert(tbtrace.create_file_writer(fs.tmpdir("scope")))
    do
      local _ <close> = w:as_default(9)
      assert.are.equal(9, tbtrace.experimental.get_step())
      assert.is_true(tbtrace.should_record_summaries())
    end
    assert.is_nil(tbtrace.experimental.get_step())
    assert.is_false(tbtrace.should_record_summaries())
    w:close()
  end)

  it("a noop writer changes neither the default writer nor the step", function()
    clear()
    local dir = fs.tmpdir("noop")
    local w = assert(tbtrace.create_file_writer(dir))
    w:set_as_default(1)
    local noop = tbtrace.create_noop_writer()
    noop:as_default(50, function()
      assert.are.equal(1, tbtrace.experimental.get_step())
      assert.is_true(tbtrace.scalar("through_noop", 2))
    end)
    noop:set_as_default()
    assert.is_true(tbtrace.scalar("after", 3))
    assert.is_true(noop:flush())
    assert.is_true(noop:close())
    assert.is_true(noop:close())
    assert.matches("noop", tostring(noop))
    w:flush()
    local evs = events_in(dir)
    assert.are.equal(3, #evs)
    assert.are.equal("through_noop", evs[2].summary.value[1].tag)
    w:close()
  end)

  it("get_step / set_step accept integers and integral floats only", function()
    tbtrace.experimental.set_step(3.0)
    assert.are.equal(3, tbtrace.experimental.get_step())
    assert.is_true(math.type(tbtrace.experimental.get_step()) == "integer")
    tbtrace.experimental.set_step(-2)
    assert.are.equal(-2, tbtrace.experimental.get_step())
    tbtrace.experimental.set_step(math.maxinteger)
    assert.are.equal(math.maxinteger, tbtrace.experimental.get_step())
    assert.has_error(function() tbtrace.experimental.set_step(1.5) end)
    assert.has_error(function() tbtrace.experimental.set_step("x") end)
    assert.has_error(function() tbtrace.experimental.set_step() end)
    tbtrace.experimental.set_step(nil)
    assert.is_nil(tbtrace.experimental.get_step())
  end)

  it("flush() takes the default writer, a writer, or raises on anything else", function()
    clear()
    assert.is_true(tbtrace.flush())   -- nothing to flush
    assert.has_error(function() tbtrace.flush(5) end, "Invalid argument to flush(): 5")
  end)
end)

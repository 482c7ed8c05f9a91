-- hostile_spec.lua: hostile input for every public function of the tbtrace module, of its
-- experimental and policy tables, of writers and of the scope and reader objects: wrong types,
-- huge strings, embedded NULs, invalid UTF-8, NaN and infinities, extreme steps, closed, collected
-- and foreign objects. Each function has a table of rows {args, expected outcome}; misuse must
-- raise in lauxlib's shape (the exact message where it is deterministic) and write nothing, I/O
-- failure must return nil, message, errno, and what is accepted is decoded from disk with the
-- independent wire reader. The coverage test at the end fails when the module has a function
-- that has no rows here.
local tbtrace = require "tbtrace"
local wire = require "wire"
local fs = require "fs"

local pack, unpack = table.pack, table.unpack
local MAXI, MINI = math.maxinteger, math.mininteger
local NAN, INF = 0 / 0, math.huge

-- ------------------------------------------------------------------ inputs

local big_cache = {}
local function big(c, n)   -- 16 MiB of c unless n says otherwise; built once
  n = n or (16 << 20)
  local k = c .. n
  big_cache[k] = big_cache[k] or string.rep(c, n)
  return big_cache[k]
end

local BAD_UTF8 = {
  "\xff",              -- never valid
  "\xc0\x80",          -- overlong NUL
  "\xe0\x80\xaf",      -- overlong '/'
  "\xed\xa0\x80",      -- a surrogate
  "\xf4\x90\x80\x80",  -- past U+10FFFF
  "ok\xe2\x82",        -- cut short
  "\x80",              -- a lone continuation byte
}

local function nested(depth, leaf)   -- {{...{leaf}...}} with depth tables
  local t = leaf
  for _ = 1, depth do t = { t } end
  return t
end

local function cyclic()
  local t = {}
  t[1] = t
  return t
end

local function tmpdir() return fs.tmpdir("hostile") end

local function tmpfile(bytes)
  local path = tmpdir() .. "/file"
  local f = assert(io.open(path, "wb"))
  f:write(bytes or "")
  f:close()
  return path
end

-- Writers a row made; closed after the row.
local made = {}
local function writer(dir, opts)
  local w = assert(tbtrace.create_file_writer(dir or tmpdir(), opts))
  made[#made + 1] = w
  return w
end
local function closed_writer()
  local w = writer()
  assert(w:close())
  return w
end
local function noop() return tbtrace.create_noop_writer() end
local WMT = getmetatable(tbtrace.create_noop_writer())
local METHODS = WMT.__index
-- A writer whose userdata __gc already ran (only a direct call can do that).
local function collected_writer()
  local w = writer()
  WMT.__gc(w)
  return w
end
-- A table that has the writer methods: calling them with it as self.
local function fake_writer() return setmetatable({}, { __index = METHODS }) end

-- A serialized Event: {step = -1, summary {value {tag = "\xff", simple_value = NaN}}}.
local EVENT_BAD_TAG = "\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01\x2a\x0a\x0a\x08\x0a\x01\xff\x15\x00\x00\xc0\x7f"
-- SummaryMetadata{plugin_data{plugin_name = name}}.
local function md_plugin(name)
  return "\x0a" .. string.char(#name + 2) .. "\x0a" .. string.char(#name) .. name
end

-- ------------------------------------------------------------------ expectations

local function A(...) return pack(...) end
-- Arguments built when the row runs (fresh directories, writers, files).
local function LAZY(fn) return { lazy = fn } end

local function E(msg) return { kind = "err", msg = msg } end              -- raises exactly msg
local function P(pat) return { kind = "errp", pat = pat } end             -- raises, msg matches pat
local function R(...) return { kind = "ret", vals = pack(...) } end       -- returns exactly these
local function F(pat, errno) return { kind = "fail", pat = pat, errno = errno } end   -- nil, msg, errno
-- returns, and fn(results, nil, receiver) checks, still inside the row's context (trace, writer)
local function C(fn) return { kind = "check", fn = fn } end
-- returns, and fn(results, events) checks the events the call wrote, after its writer closed
local function WR(fn) return { kind = "written", fn = fn } end

-- The position ("hostile:1: ") in front of messages raised from method calls.
local function strip(msg)
  if type(msg) ~= "string" then return msg end
  return (msg:gsub("^hostile:%d+: ", "", 1))
end

-- The only summary value of an event.
local function value(ev)
  assert.is_not_nil(ev.summary, "not a summary event")
  assert.are.equal(1, #ev.summary.value)
  return ev.summary.value[1]
end

local function float32_bits(ev)
  local c = value(ev).tensor.tensor_content
  assert.are.equal(4, #c)
  return string.unpack("<I4", c)
end

local function shape_of(t)
  local _, shape = wire.tensor_values(t)
  return shape
end

local function only(evs)
  assert.are.equal(1, #evs, "expected one event")
  return evs[1]
end

-- ------------------------------------------------------------------ contexts

local function clear_default()
  local d = tbtrace.default_writer()
  if d then
    d:close()
    -- leaving as_default drops a closed previous default: no default writer afterwards
    local t = assert(tbtrace.create_file_writer(tmpdir()))
    t:as_default(function() end)
    t:close()
  end
  assert(tbtrace.default_writer() == nil, "cannot clear the default writer")
end

local function reset()
  tbtrace.trace_off()
  tbtrace.policy.set(nil)
  tbtrace.experimental.set_step(nil)
  clear_default()
  for i = #made, 1, -1 do
    pcall(made[i].close, made[i])   -- collected ones raise
    made[i] = nil
  end
  tbtrace.thread_name(nil)
end

-- Runs body() in a context and returns its results with the events written meanwhile (nil when
-- there was no writer). Contexts:
--   none     no default writer, no step, no trace (the default)
--   writer   a default writer recording at step 1
--   nostep   a default writer, no step
--   off      a default writer at step 1 with recording off
--   closed   a default writer that has been closed
--   trace    a trace on (graph only), no writer; trace+writer: both
local function in_ctx(ctx, body)
  reset()
  local w, scope
  if ctx == "writer" or ctx == "nostep" or ctx == "off" or ctx == "closed" or ctx == "trace+writer" then
    w = assert(tbtrace.create_file_writer(tmpdir(), { max_queue = 1 << 30 }))
    w:set_as_default(ctx ~= "nostep" and 1 or nil)
    if ctx == "off" then scope = tbtrace.record_if(false) end
    if ctx == "closed" then assert(w:close()) end
  end
  if ctx == "trace" or ctx == "trace+writer" then assert(tbtrace.trace_on()) end
  local res = pack(pcall(body))
  if scope then getmetatable(scope).__close(scope) end
  local evs
  if w then
    local path = w:path()
    w:close()
    evs = wire.read_event_file(path)
    assert.are.equal("brain.Event:2", evs[1].file_version)
    table.remove(evs, 1)
  end
  reset()
  return res, evs
end

-- ------------------------------------------------------------------ callers

local function method_caller(m)
  -- method syntax, so errors number arguments as users see them and name the method
  return load("return function(o, ...) return o:" .. m .. "(...) end", "=hostile")()
end

local function target(name)
  local path, m = name:match("^(%w+):([%w_]+)$")
  if path == "writer" then return method_caller(m), true end
  local obj, mm = name:match("^([%w_]+)%.(__%w+)$")
  if obj then return nil, true, mm end
  local t = tbtrace
  local parts = {}
  for p in name:gmatch("[^.]+") do parts[#parts + 1] = p end
  if parts[1] == "internal" then t = require "tbtrace.internal" end   -- not on the public module
  assert(parts[1] == "tbtrace" or parts[1] == "internal", name)
  for i = 2, #parts do t = t[parts[i]] end
  assert(type(t) == "function", name .. " is not a function")
  return t
end

-- ------------------------------------------------------------------ the table

local cases = {}
local order = {}
local function case(name, spec)
  assert(not cases[name], "two entries for " .. name)
  cases[name] = spec
  order[#order + 1] = name
end

-- -------------------------------------------------- utilities

case("tbtrace.strerror", { rows = {
  { A(), E"bad argument #1 to 'tbtrace.strerror' (number expected, got no value)" },
  { A("x"), E"bad argument #1 to 'tbtrace.strerror' (number expected, got string)" },
  { A({}), E"bad argument #1 to 'tbtrace.strerror' (number expected, got table)" },
  { A(1.5), E"bad argument #1 to 'tbtrace.strerror' (number has no integer representation)" },
  { A(INF), E"bad argument #1 to 'tbtrace.strerror' (number has no integer representation)" },
  { A(NAN), E"bad argument #1 to 'tbtrace.strerror' (number has no integer representation)" },
  { A(0), R"success" },
  { A(-5001), R"invalid argument" },
  { A("-5001"), R"invalid argument", why = "numeric strings are numbers, as in lauxlib" },
  { A(-2), R"No such file or directory" },
  { A(5), R"unknown error" },
  { A(MINI), R"unknown error", why = "would truncate to 0 (success)" },
  { A(MAXI), R"unknown error" },
  { A((1 << 32) - 5001), R"unknown error", why = "would wrap onto TBT_EINVAL" },
} })

case("tbtrace.crc32c", { rows = {
  { A(), E"bad argument #1 to 'tbtrace.crc32c' (string expected, got no value)" },
  { A({}), E"bad argument #1 to 'tbtrace.crc32c' (string expected, got table)" },
  { A(nil, 1), E"bad argument #1 to 'tbtrace.crc32c' (string expected, got nil)" },
  { A("123456789"), R(0xE3069283) },
  { A(""), R(0) },
  { A("", 0xFFFFFFFF), R(0xFFFFFFFF) },
  { A("a\0b"), R(wire.crc32c("a\0b")) },
  { A(12), R(wire.crc32c("12")), why = "numbers are strings, as in lauxlib" },
  { A("x", -1), E"bad argument #2 to 'tbtrace.crc32c' (crc must be in 0..0xffffffff)" },
  { A("x", 1 << 32), E"bad argument #2 to 'tbtrace.crc32c' (crc must be in 0..0xffffffff)" },
  { A("x", MINI), E"bad argument #2 to 'tbtrace.crc32c' (crc must be in 0..0xffffffff)" },
  { A("x", 1.5), E"bad argument #2 to 'tbtrace.crc32c' (number has no integer representation)" },
  { A("x", "y"), E"bad argument #2 to 'tbtrace.crc32c' (number expected, got string)" },
  { LAZY(function() return big("c") end), C(function(res)
      local h = big("c")
      local half = #h // 2
      assert.are.equal(tbtrace.crc32c(h:sub(half + 1), tbtrace.crc32c(h:sub(1, half))), res[1])
      assert.are.equal(wire.crc32c(h:sub(1, 4096)), tbtrace.crc32c(h:sub(1, 4096)))
    end), why = "16 MiB, in two halves" },
} })

case("tbtrace.hostname", { rows = {
  { A(), C(function(res) assert.is_true(type(res[1]) == "string" and #res[1] > 0 and not res[1]:find("/")) end) },
  { A(1, {}, nil), C(function(res) assert.are.equal(tbtrace.hostname(), res[1]) end), why = "extra arguments are ignored" },
} })

case("tbtrace.cluster", { rows = {
  { A(), C(function(res)
      local c = res[1]
      assert.is_true(c == nil or (math.type(c.rank) == "integer" and c.rank < c.world_size))
    end) },
  { A("x", {}), C(function(res) assert.are.same(tbtrace.cluster(), res[1]) end), why = "extra arguments are ignored" },
} })

case("tbtrace.pid", { rows = {
  { A(), C(function(res) assert.is_true(math.type(res[1]) == "integer" and res[1] > 0) end) },
  { A("x"), C(function(res) assert.are.equal(tbtrace.pid(), res[1]) end) },
} })

-- -------------------------------------------------- writers

local function is_writer(res)
  assert.are.equal("tbtrace.writer", getmetatable(res[1]).__name)
  made[#made + 1] = res[1]
  return res[1]
end

case("tbtrace.create_file_writer", { rows = {
  { A(), E"bad argument #1 to 'tbtrace.create_file_writer' (string expected, got no value)" },
  { A({}), E"bad argument #1 to 'tbtrace.create_file_writer' (string expected, got table)" },
  { A(true), E"bad argument #1 to 'tbtrace.create_file_writer' (string expected, got boolean)" },
  { A(""), E"bad argument #1 to 'tbtrace.create_file_writer' (logdir cannot be empty)" },
  { LAZY(function() return tmpdir() .. "\0x" end), E"bad argument #1 to 'tbtrace.create_file_writer' (logdir contains a NUL byte)" },
  { LAZY(function() return tmpdir(), 5 end), E"bad argument #2 to 'tbtrace.create_file_writer' (table expected, got number)" },
  { LAZY(function() return tmpdir(), false end), E"bad argument #2 to 'tbtrace.create_file_writer' (table expected, got boolean)" },
  { LAZY(function() return tmpdir(), { max_queue = -1 } end), E"bad option 'max_queue' to 'create_file_writer' (non-negative integer expected, got out of range)" },
  { LAZY(function() return tmpdir(), { max_queue = 1 << 31 } end), E"bad option 'max_queue' to 'create_file_writer' (non-negative integer expected, got out of range)" },
  { LAZY(function() return tmpdir(), { max_queue = 1.5 } end), E"bad option 'max_queue' to 'create_file_writer' (non-negative integer expected, got number)" },
  { LAZY(function() return tmpdir(), { max_queue = INF } end), E"bad option 'max_queue' to 'create_file_writer' (non-negative integer expected, got number)" },
  { LAZY(function() return tmpdir(), { max_queue = "10" } end), E"bad option 'max_queue' to 'create_file_writer' (non-negative integer expected, got string)" },
  { LAZY(function() return tmpdir(), { flush_millis = MINI } end), E"bad option 'flush_millis' to 'create_file_writer' (non-negative integer expected, got out of range)" },
  { LAZY(function() return tmpdir(), { flush_millis = {} } end), E"bad option 'flush_millis' to 'create_file_writer' (non-negative integer expected, got table)" },
  { LAZY(function() return tmpdir(), { filename_suffix = 3 } end), E"bad option 'filename_suffix' to 'create_file_writer' (string expected, got number)" },
  { LAZY(function() return tmpdir(), { filename_suffix = "a/b" } end), E"bad option 'filename_suffix' to 'create_file_writer' (contains '/')" },
  { LAZY(function() return tmpdir(), { filename_suffix = "a\0/b" } end), E"bad option 'filename_suffix' to 'create_file_writer' (contains a NUL byte)", why = "C would see only \"a\"" },
  { LAZY(function() return tmpdir() .. "/" .. big("d") end), F(": File name too long$", 36) },
  { LAZY(function() return tmpdir(), { filename_suffix = string.rep("s", 300) } end), F(": File name too long$", 36) },
  { LAZY(function() return tmpfile() .. "/sub" end), F("/file/sub: Not a directory$", 20) },
  { LAZY(function() return "/proc/hostile-not-here/x" end), F("^/proc/hostile%-not%-here/x: ", nil) },
  { LAZY(function() return tmpdir() .. "/\xff\xfe", { max_queue = 0, flush_millis = 0, filename_suffix = "" } end),
    C(function(res)
      local w = is_writer(res)
      assert.matches("/\xff\xfe/events%.out%.tfevents%.%d+%..+%.%d+%.%d+$", w:path())
      assert.is_true(w:flush())
      local evs = wire.read_event_file(w:path())
      assert.are.equal(1, #evs)
    end), why = "bytes that are not UTF-8 are fine in a path; zero options work" },
  { LAZY(function() return tmpdir(), { bogus = 1, max_queue = 0x7fffffff } end),
    E"unknown option 'bogus' to 'create_file_writer' (options are: max_queue, flush_millis, max_queue_bytes, filename_suffix)" },
  { LAZY(function() return tmpdir(), { max_qeue = 5 } end), E"unknown option 'max_qeue' to 'create_file_writer' (did you mean 'max_queue'?)" },
  { LAZY(function() return tmpdir(), { flushmillis = 5 } end), E"unknown option 'flushmillis' to 'create_file_writer' (did you mean 'flush_millis'?)" },
  { LAZY(function() return tmpdir(), { flush_secs = 10 } end),
    E"unknown option 'flush_secs' to 'create_file_writer' (did you mean 'flush_millis'? tensorboardX's flush_secs is in seconds; flush_millis is in milliseconds)", why = "tensorboardX's name" },
  { LAZY(function() return tmpdir(), { max_queue_size = 10 } end), E"unknown option 'max_queue_size' to 'create_file_writer' (did you mean 'max_queue'?)" },
  { LAZY(function() return tmpdir(), { 5 } end), E"unexpected value at index 1 in the options to 'create_file_writer' (options are named: max_queue = ...)" },
  { LAZY(function() return tmpdir(), { [true] = 5 } end), E"unknown option of type boolean to 'create_file_writer' (options are named by strings)" },
} })

case("tbtrace.create_noop_writer", { rows = {
  { A(), C(function(res) assert.is_nil(res[1]:path()); assert.is_nil(res[1]:logdir()) end) },
  { A(1, "x", {}), C(function(res) assert.is_nil(res[1]:path()) end) },
} })

case("tbtrace.flush", { rows = {
  { A(), R(true), why = "no default writer: nothing to do" },
  { A(nil), R(true) },
  { A(5), E"Invalid argument to flush(): 5" },
  { A("w"), E"Invalid argument to flush(): w" },
  { A({}), P"^Invalid argument to flush%(%): table: 0x%x+$" },
  { A(io.stdout), P"^Invalid argument to flush%(%): file %(0x%x+%)$" },
  { LAZY(closed_writer), R(true), why = "a closed writer has nothing to flush" },
  { LAZY(noop), R(true) },
  { LAZY(collected_writer), E"attempt to use a collected writer" },
  { A(), R(true), ctx = "writer" },
} })

case("tbtrace.default_writer", { rows = {
  { A(), R() },
  { A(5), R() },
  { A(), C(function(res)
      assert.are.equal("tbtrace.writer", getmetatable(res[1]).__name)
      assert.is_false(res[1]:closed())
    end), ctx = "writer" },
  { A(), C(function(res) assert.is_true(res[1]:closed()) end), ctx = "closed", why = "a closed default stays until replaced" },
} })

local function step_is(n)
  return C(function() assert.are.equal(n, tbtrace.experimental.get_step()) end)
end

local get_step_rows = {
  { A(), R(nil) },
  { A("x", {}), R(nil) },
  { A(), R(1), ctx = "writer" },
}
case("tbtrace.get_step", { rows = get_step_rows })
case("tbtrace.experimental.get_step", { rows = get_step_rows })

local set_step_rows = {
  { A(), E"bad argument #1 to 'tbtrace.set_step' (value expected)" },
  { A("5"), E"bad argument #1 to 'tbtrace.set_step' (integer expected, got string)", why = "a string is no step" },
  { A({}), E"bad argument #1 to 'tbtrace.set_step' (integer expected, got table)" },
  { A(true), E"bad argument #1 to 'tbtrace.set_step' (integer expected, got boolean)" },
  { A(1.5), E"bad argument #1 to 'tbtrace.set_step' (step must be an integer)" },
  { A(INF), E"bad argument #1 to 'tbtrace.set_step' (step must be an integer)" },
  { A(-INF), E"bad argument #1 to 'tbtrace.set_step' (step must be an integer)" },
  { A(NAN), E"bad argument #1 to 'tbtrace.set_step' (step must be an integer)" },
  { A(2.0 ^ 63), E"bad argument #1 to 'tbtrace.set_step' (step must be an integer)", why = "integral but past int64" },
  { A(nil), step_is(nil) },
  { A(MAXI), step_is(MAXI) },
  { A(MINI), step_is(MINI) },
  { A(-2.0 ^ 63), step_is(MINI) },
  { A(2.0 ^ 53), step_is(1 << 53) },
  { A(-0.0), C(function() assert.are.equal("integer", math.type(tbtrace.experimental.get_step())) end) },
}
case("tbtrace.set_step", { rows = set_step_rows })
case("tbtrace.experimental.set_step", { rows = set_step_rows })

-- -------------------------------------------------- summaries

-- Rows every summary op shares: its tag (argument 1) and its step (argument `sa`, with `good` the
-- arguments of a valid call that the row changes).
local function tag_and_step_rows(fname, good, sa, da)
  local function with(i, v)
    local a = pack(unpack(good, 1, good.n))
    a[i] = v
    a.n = math.max(a.n, i)
    return a
  end
  local rows = {
    { with(1, nil), E(("bad argument #1 to '%s' (string expected, got nil)"):format(fname)) },
    { with(1, {}), E(("bad argument #1 to '%s' (string expected, got table)"):format(fname)) },
    { with(1, ""), E(("bad argument #1 to '%s' (tag cannot be empty)"):format(fname)) },
    { with(1, "a\0b"), E(("bad argument #1 to '%s' (tag contains a NUL byte)"):format(fname)) },
    { with(1, nil), E(("bad argument #1 to '%s' (string expected, got nil)"):format(fname)), ctx = "none",
      why = "misuse raises without a default writer too" },
    { with(sa, 1.5), E(("bad argument #%d to '%s' (step must be an integer)"):format(sa, fname)) },
    { with(sa, 2.0 ^ 63), E(("bad argument #%d to '%s' (step must be an integer)"):format(sa, fname)) },
    { with(sa, NAN), E(("bad argument #%d to '%s' (step must be an integer)"):format(sa, fname)) },
    { with(sa, -INF), E(("bad argument #%d to '%s' (step must be an integer)"):format(sa, fname)) },
    { with(sa, "7"), E(("bad argument #%d to '%s' (integer expected, got string)"):format(sa, fname)) },
    { with(sa, {}), E(("bad argument #%d to '%s' (integer expected, got table)"):format(sa, fname)) },
    { good, E"SummaryWriter is already closed", ctx = "closed" },
    { good, R(false), ctx = "none" },
    { good, R(false), ctx = "off" },
  }
  for _, bad in ipairs(BAD_UTF8) do
    rows[#rows + 1] = { with(1, bad), E(("bad argument #1 to '%s' (tag is not valid UTF-8)"):format(fname)) }
  end
  if da then
    rows[#rows + 1] = { with(da, {}), E(("bad argument #%d to '%s' (string expected, got table)"):format(da, fname)) }
    rows[#rows + 1] = { with(da, "d\0e"), E(("bad argument #%d to '%s' (description contains a NUL byte)"):format(da, fname)) }
    rows[#rows + 1] = { with(da, "\xed\xa0\x80"), E(("bad argument #%d to '%s' (description is not valid UTF-8)"):format(da, fname)) }
  end
  return rows
end

local function rows_with(common, own)
  for _, r in ipairs(own) do common[#common + 1] = r end
  return common
end

-- Checks: the call returned true and wrote one event, which check(ev) looks at.
local function W(check)
  return WR(function(res, evs)
    assert.are.same(pack(true), res)
    check(only(evs))
  end)
end

local function scalar_bits(bits, step)
  return W(function(ev)
    assert.are.equal(bits, float32_bits(ev))
    if step then assert.are.equal(step, ev.step) end
  end)
end

case("tbtrace.scalar", { ctx = "writer", rows = rows_with(tag_and_step_rows("tbtrace.scalar", A("x", 1, 1), 3, 4), {
  { A("x"), E"bad argument #2 to 'tbtrace.scalar' (number expected, got no value)" },
  { A("x", nil), E"bad argument #2 to 'tbtrace.scalar' (number expected, got nil)" },
  { A("x", "1"), E"bad argument #2 to 'tbtrace.scalar' (number expected, got string)" },
  { A("x", true), E"bad argument #2 to 'tbtrace.scalar' (number expected, got boolean)" },
  { A("x", 1), E"No step set via 'step' argument or tbtrace.experimental.set_step()", ctx = "nostep" },
  { A("x", 1), R(false), ctx = "none", why = "no writer: the step is not looked at" },
  -- what TF's float32 cast gives: NaN and infinities kept, overflow to inf, underflow to 0
  { A("nan", NAN), W(function(ev) local f = string.unpack("<f", value(ev).tensor.tensor_content); assert.is_true(f ~= f) end) },
  { A("inf", INF), scalar_bits(0x7f800000) },
  { A("-inf", -INF), scalar_bits(0xff800000) },
  { A("big", 1e300), scalar_bits(0x7f800000) },
  { A("-big", -1e300), scalar_bits(0xff800000) },
  { A("tiny", 1e-50), scalar_bits(0) },
  { A("-0", -0.0), scalar_bits(0x80000000) },
  { A("maxint", MAXI), scalar_bits(0x5f000000) },
  { A("x", 1, MAXI), scalar_bits(0x3f800000, MAXI) },
  { A("x", 1, MINI), scalar_bits(0x3f800000, MINI) },
  { A("x", 1, -2.0 ^ 63), scalar_bits(0x3f800000, MINI) },
  { A("x", 1, 2.0 ^ 53), scalar_bits(0x3f800000, 1 << 53) },
  { A("x", 1, -0.0), W(function(ev) assert.is_nil(ev.step) end), why = "step 0 is the proto3 default" },
  { A(5, 1), W(function(ev) assert.are.equal("5", value(ev).tag) end), why = "numbers are strings, as in lauxlib" },
  { A("h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9d\x84\x9e", 1), W(function(ev)
      assert.are.equal("h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9d\x84\x9e", value(ev).tag)
    end) },
  { LAZY(function() return big("t"), 2, 3, big("d") end), W(function(ev)
      local v = value(ev)
      assert.is_true(v.tag == big("t"), "the 16 MiB tag round-trips")
      assert.is_true(v.metadata.summary_description == big("d"), "the 16 MiB description round-trips")
      assert.are.equal(3, ev.step)
    end) },
}) })

case("tbtrace.text", { ctx = "writer", rows = rows_with(tag_and_step_rows("tbtrace.text", A("x", "t", 1), 3, 4), {
  { A("x"), E"bad argument #2 to 'tbtrace.text' (string or table expected, got no value)" },
  { A("x", 5), E"bad argument #2 to 'tbtrace.text' (string or table expected, got number)" },
  { A("x", { "a", 1 }), E"bad argument #2 to 'tbtrace.text' (string expected at element 2, got number)" },
  { A("x", { "a", false }), E"bad argument #2 to 'tbtrace.text' (string expected at element 2, got boolean)" },
  { A("x", { { "a" }, { "b", "c" } }), E"bad argument #2 to 'tbtrace.text' (ragged nested table)" },
  { A("x", { { "a" }, "b" }), E"bad argument #2 to 'tbtrace.text' (ragged nested table)" },
  { A("x", nested(33, "x")), E"bad argument #2 to 'tbtrace.text' (more than 32 dimensions)" },
  { LAZY(function() return "x", cyclic() end), E"bad argument #2 to 'tbtrace.text' (more than 32 dimensions)" },
  { A("x", setmetatable({}, { __len = function() return -5 end })), E"bad argument #2 to 'tbtrace.text' (bad table length -5)" },
  { A("x", setmetatable({}, { __len = function() return 1.5 end })), E"object length is not an integer" },
  { A("x", setmetatable({}, { __len = function() return 1 end, __index = function() error("boom", 0) end })), E"boom" },
  { A("x", "a\0b\xff\xfe"), W(function(ev)
      assert.are.same({ "a\0b\xff\xfe" }, value(ev).tensor.string_val)
    end), why = "text is bytes: NULs and bytes that are not UTF-8 round-trip" },
  { A("x", {}), W(function(ev) assert.are.same({ 0 }, shape_of(value(ev).tensor)) end) },
  { A("x", { {}, {} }), W(function(ev) assert.are.same({ 2, 0 }, shape_of(value(ev).tensor)) end) },
  { A("x", nested(32, "deep")), W(function(ev)
      local vals, shape = wire.tensor_values(value(ev).tensor)
      assert.are.equal(32, #shape)
      assert.are.same({ "deep" }, vals)
    end) },
  { LAZY(function() return "x", big("b") end), W(function(ev)
      assert.is_true(value(ev).tensor.string_val[1] == big("b"))
    end) },
}) })

local function hist_rows(ev)
  local vals, shape = wire.tensor_values(value(ev).tensor)
  return vals, shape
end

case("tbtrace.histogram", { ctx = "writer", rows = rows_with(tag_and_step_rows("tbtrace.histogram", A("x", { 1 }, 1), 3, 5), {
  { A("x"), E"bad argument #2 to 'tbtrace.histogram' (value expected)" },
  { A("x", "s"), E"bad argument #2 to 'tbtrace.histogram' (number or table expected, got string)" },
  { A("x", { 1, "a" }), E"bad argument #2 to 'tbtrace.histogram' (number expected at element 2, got string)" },
  { A("x", { { 1 }, { 2, 3 } }), E"bad argument #2 to 'tbtrace.histogram' (ragged nested table)" },
  { A("x", setmetatable({}, { __len = function() return -1 end })), E"bad argument #2 to 'tbtrace.histogram' (bad table length -1)" },
  -- NaN and infinities raise (TF would write NaN rows), documented in lua-api.md
  { A("x", { 1, NAN }), E"bad argument #2 to 'tbtrace.histogram' (values must be finite (got NaN or inf))" },
  { A("x", { { 1, INF } }), E"bad argument #2 to 'tbtrace.histogram' (values must be finite (got NaN or inf))" },
  { A("x", -INF), E"bad argument #2 to 'tbtrace.histogram' (values must be finite (got NaN or inf))" },
  { A("x", NAN), E"bad argument #2 to 'tbtrace.histogram' (values must be finite (got NaN or inf))" },
  { A("x", { -1.7e308, 1.7e308 }), E"bad argument #2 to 'tbtrace.histogram' (value range too large for equal-width buckets)" },
  { A("x", { 1 }, 1, -1), E"bad argument #4 to 'tbtrace.histogram' (buckets must be in 0..1048576)" },
  { A("x", { 1 }, 1, (1 << 20) + 1), E"bad argument #4 to 'tbtrace.histogram' (buckets must be in 0..1048576)" },
  { A("x", { 1 }, 1, MAXI), E"bad argument #4 to 'tbtrace.histogram' (buckets must be in 0..1048576)" },
  { A("x", { 1 }, 1, 1.5), E"bad argument #4 to 'tbtrace.histogram' (number has no integer representation)" },
  { A("x", { 1 }, 1, INF), E"bad argument #4 to 'tbtrace.histogram' (number has no integer representation)" },
  { A("x", { 1 }, 1, {}), E"bad argument #4 to 'tbtrace.histogram' (number expected, got table)" },
  { A("x", { 1, NAN }), E"bad argument #2 to 'tbtrace.histogram' (values must be finite (got NaN or inf))", ctx = "none",
    why = "values are checked before the writer is asked" },
  { A("x", { 0, 4.9e-324 }), W(function(ev)
      local v, shape = hist_rows(ev)
      assert.are.same({ 30, 3 }, shape)
      assert.are.same({ 0, 0, 1 }, { v[1], v[2], v[3] })
      assert.are.same({ 0, 4.9e-324, 1 }, { v[88], v[89], v[90] })
    end), why = "a range of one subnormal: the bucket width underflows to 0" },
  { A("x", { 4.9e-324, 4.9e-324 }, 1, 2), W(function(ev)
      assert.are.same({ 4.9e-324, 4.9e-324, 0, 4.9e-324, 4.9e-324, 2 }, (hist_rows(ev)))
    end) },
  { A("x", { -0.0, 0.0 }, 1, 1), W(function(ev) assert.are.same({ 0, 0, 2 }, (hist_rows(ev))) end) },
  { A("x", { MINI, MAXI }, 1, 2), W(function(ev)
      local v = hist_rows(ev)
      assert.are.same({ -2.0 ^ 63, 0.0, 1, 0.0, 2.0 ^ 63, 1 }, v)
    end), why = "integers become doubles" },
  { A("x", { 1, 2 }, 1, 0), W(function(ev)
      local v, shape = hist_rows(ev)
      assert.are.same({ 0, 3 }, shape)
      assert.are.same({}, v)
    end) },
  { A("x", { 1, 2 }, 1, 1 << 20), W(function(ev)
      local t = value(ev).tensor
      assert.are.equal(1 << 20, t.tensor_shape.dim[1].size)
      assert.are.equal((1 << 20) * 24, #t.tensor_content)
    end) },
}) })

local IMG = { { { 255, 0, 0 }, { 0, 255, 0 } } }   -- 1 x 2 RGB

case("tbtrace.image", { ctx = "writer", rows = rows_with(tag_and_step_rows("tbtrace.image", A("x", IMG, 1), 3, 5), {
  { A("x"), E"bad argument #2 to 'tbtrace.image' (table expected, got no value)" },
  { A("x", "s"), E"bad argument #2 to 'tbtrace.image' (table expected, got string)" },
  { A("x", { { { 300 } } }), E"bad argument #2 to 'tbtrace.image' (element 1 must be an integer 0..255)" },
  { A("x", { { { -1 } } }), E"bad argument #2 to 'tbtrace.image' (element 1 must be an integer 0..255)" },
  { A("x", { { { 1.5 } } }), W(function(ev) assert.are.equal(3, #value(ev).tensor.string_val) end),
    why = "a float makes a float image: 1.5 clips to 255" },
  { A("x", { { { NAN } } }), E"bad argument #2 to 'tbtrace.image' (element 1 is NaN)" },
  { A("x", { { { 0.5 } }, { { "1" } } }), E"bad argument #2 to 'tbtrace.image' (element 2 must be a number)" },
  { A("x", { { { INF, -INF } } }), W(function(ev) assert.are.equal(3, #value(ev).tensor.string_val) end),
    why = "infinities saturate, as convert_image_dtype's saturate_cast does" },
  { A("x", { { { "1" } } }), E"bad argument #2 to 'tbtrace.image' (element 1 must be an integer 0..255)" },
  { A("x", { { { 1, 2 } } }), W(function(ev) assert.are.equal(3, #value(ev).tensor.string_val) end),
    why = "grey + alpha" },
  { A("x", { { { 1, 2, 3, 4, 5 } } }), E"bad argument #2 to 'tbtrace.image' (channels must be 1, 2, 3 or 4)" },
  { A("x", { { {} } }), E"bad argument #2 to 'tbtrace.image' (channels must be 1, 2, 3 or 4)" },
  { A("x", { 1, 2 }), E"bad argument #2 to 'tbtrace.image' (images must be nested [k][height][width][channels] (or [height][width][channels]))" },
  { A("x", nested(5, 1)), E"bad argument #2 to 'tbtrace.image' (images must be nested [k][height][width][channels] (or [height][width][channels]))" },
  { A("x", { pixels = {} }), E"bad argument #2 to 'tbtrace.image' (pixels must be a string, got table)" },
  { A("x", { pixels = "a", height = 1, width = 1, chanels = 1 }), E"unknown option 'chanels' to 'image' (did you mean 'channels'?)" },
  { A("x", { pixels = 5, height = 1, width = 1, channels = 1 }), E"bad argument #2 to 'tbtrace.image' (pixels must be a string, got number)" },
  { A("x", { pixels = "abc", height = 2, width = 2, channels = 3 }), E"bad argument #2 to 'tbtrace.image' (pixels must hold whole images of height*width*channels bytes)" },
  { A("x", { pixels = "", height = 1, width = 1, channels = 1 }), E"bad argument #2 to 'tbtrace.image' (pixels must hold whole images of height*width*channels bytes)" },
  { A("x", { pixels = "a", height = 0, width = 1, channels = 1 }), E"bad argument #2 to 'tbtrace.image' (height and width must be positive integers)" },
  { A("x", { pixels = "a", height = 1.5, width = 1, channels = 1 }), E"bad argument #2 to 'tbtrace.image' (height and width must be positive integers)" },
  { A("x", { pixels = "a", width = 1, channels = 1 }), E"bad argument #2 to 'tbtrace.image' (height and width must be positive integers)" },
  { A("x", { pixels = "a", height = 1 << 20, width = 1, channels = 1 }), E"bad argument #2 to 'tbtrace.image' (height and width must be positive integers)" },
  { A("x", { pixels = "a", height = 1, width = 1, channels = 5 }), E"bad argument #2 to 'tbtrace.image' (channels must be 1, 2, 3 or 4)" },
  { A("x", { pixels = "ab", height = 1, width = 1, channels = 2 }), W(function(ev) assert.are.equal(3, #value(ev).tensor.string_val) end) },
  { A("x", IMG, 1, -1), E"bad argument #4 to 'tbtrace.image' (max_outputs must be in 0..2147483647)" },
  { A("x", IMG, 1, 1 << 31), E"bad argument #4 to 'tbtrace.image' (max_outputs must be in 0..2147483647)" },
  { A("x", IMG, 1, 1.5), E"bad argument #4 to 'tbtrace.image' (number has no integer representation)" },
  { A("x", { pixels = "\0\255", height = 1, width = 2, channels = 1 }), W(function(ev)
      local vals, shape = wire.tensor_values(value(ev).tensor)
      assert.are.same({ 3 }, shape)
      assert.are.same({ "2", "1" }, { vals[1], vals[2] })
      assert.are.equal("\137PNG\r\n\26\n", vals[3]:sub(1, 8))
    end), why = "pixel strings are bytes" },
  { A("x", IMG, 1, 0), W(function(ev)
      local vals, shape = wire.tensor_values(value(ev).tensor)
      assert.are.same({ 2 }, shape)
      assert.are.same({ "2", "1" }, vals)
    end), why = "max_outputs 0: only the size" },
}) })

local CLIP = { { 0 }, { 0.5 } }   -- 2 frames, 1 channel

case("tbtrace.audio", { ctx = "writer", rows = rows_with(tag_and_step_rows("tbtrace.audio", A("x", CLIP, 8000, 1), 4, 7), {
  { A("x"), E"bad argument #2 to 'tbtrace.audio' (table expected, got no value)" },
  { A("x", CLIP), E"bad argument #3 to 'tbtrace.audio' (number expected, got no value)" },
  { A("x", CLIP, 0), E"bad argument #3 to 'tbtrace.audio' (sample_rate must be positive)" },
  { A("x", CLIP, -8000), E"bad argument #3 to 'tbtrace.audio' (sample_rate must be positive)" },
  { A("x", CLIP, 1 << 31), E"bad argument #3 to 'tbtrace.audio' (sample_rate must be positive)" },
  { A("x", CLIP, 1.5), E"bad argument #3 to 'tbtrace.audio' (number has no integer representation)" },
  { A("x", CLIP, 8000, 1, -1), E"bad argument #5 to 'tbtrace.audio' (max_outputs must be in 0..2147483647)" },
  { A("x", CLIP, 8000, 1, 3, "mp3"), E"Unknown encoding: 'mp3'" },
  { A("x", CLIP, 8000, 1, 3, "WAV"), E"Unknown encoding: 'WAV'" },
  { A("x", CLIP, 8000, 1, 3, "wav\0x"), E"bad argument #6 to 'tbtrace.audio' (encoding contains a NUL byte)" },
  { A("x", CLIP, 8000, 1, 3, {}), E"bad argument #6 to 'tbtrace.audio' (string expected, got table)" },
  { A("x", { { NAN } }, 8000), E"bad argument #2 to 'tbtrace.audio' (element 1 is NaN)" },
  { A("x", { { "a" } }, 8000), E"bad argument #2 to 'tbtrace.audio' (number expected at element 1, got string)" },
  { A("x", { 1 }, 8000), E"bad argument #2 to 'tbtrace.audio' (audio must be nested [k][frames][channels] (or [frames][channels]))" },
  { A("x", { {} }, 8000), E"bad argument #2 to 'tbtrace.audio' (audio needs 1..65535 channels)" },
  { A("x", { { INF }, { -INF }, { 1e300 }, { -2 } }, 8000, 1, nil, "wav"), W(function(ev)
      local vals, shape = wire.tensor_values(value(ev).tensor)
      assert.are.same({ 1, 2 }, shape)
      local a, b, c, d = string.unpack("<i2i2i2i2", vals[1], 45)
      assert.are.same({ 32767, -32768, 32767, -32768 }, { a, b, c, d })
    end), why = "infinities clip to +-1" },
}) })

local function written_tensor(check)
  return W(function(ev) check(value(ev).tensor, value(ev)) end)
end

case("tbtrace.write", { ctx = "writer", rows = rows_with(tag_and_step_rows("tbtrace.write", A("x", 1, 1), 3), {
  { A("x"), E"bad argument #2 to 'tbtrace.write' (value expected)" },
  { A("x", nil), E"bad argument #2 to 'tbtrace.write' (tensor expected, got nil)" },
  { A("x", print), E"bad argument #2 to 'tbtrace.write' (number expected at element 1, got function)" },
  { A("x", { 1, "a" }), E"bad argument #2 to 'tbtrace.write' (number expected at element 2, got string)" },
  { A("x", { "a", 1 }), E"bad argument #2 to 'tbtrace.write' (string expected at element 2, got number)" },
  { A("x", { true, 1 }), E"bad argument #2 to 'tbtrace.write' (boolean expected at element 2, got number)" },
  { A("x", { { 1 }, 2 }), E"bad argument #2 to 'tbtrace.write' (ragged nested table)" },
  { A("x", { dtype = "nope", values = {} }), E"bad argument #2 to 'tbtrace.write' (unknown dtype 'nope')" },
  { A("x", { dtype = {}, values = {} }), E"bad argument #2 to 'tbtrace.write' (dtype must be a string, got table)" },
  { A("x", { dtype = "int64" }), E"bad argument #2 to 'tbtrace.write' (values missing)" },
  { A("x", { dtype = "int8", values = { 300 } }), E"bad argument #2 to 'tbtrace.write' (element 1 out of range)" },
  { A("x", { dtype = "int8", values = { -129 } }), E"bad argument #2 to 'tbtrace.write' (element 1 out of range)" },
  { A("x", { dtype = "uint8", values = { 0, -1 } }), E"bad argument #2 to 'tbtrace.write' (element 2 out of range)" },
  { A("x", { dtype = "int16", values = { 1 << 15 } }), E"bad argument #2 to 'tbtrace.write' (element 1 out of range)" },
  { A("x", { dtype = "uint16", values = { 1 << 16 } }), E"bad argument #2 to 'tbtrace.write' (element 1 out of range)" },
  { A("x", { dtype = "int32", values = { 1 << 31 } }), E"bad argument #2 to 'tbtrace.write' (element 1 out of range)" },
  { A("x", { dtype = "uint32", values = { 1 << 32 } }), E"bad argument #2 to 'tbtrace.write' (element 1 out of range)" },
  { A("x", { dtype = "int32", values = { 1.5 } }), E"bad argument #2 to 'tbtrace.write' (integer expected at element 1)" },
  { A("x", { dtype = "int64", values = { 2.0 ^ 63 } }), E"bad argument #2 to 'tbtrace.write' (integer expected at element 1)" },
  { A("x", { dtype = "int64", values = { NAN } }), E"bad argument #2 to 'tbtrace.write' (integer expected at element 1)" },
  { A("x", { dtype = "int64", values = { "1" } }), E"bad argument #2 to 'tbtrace.write' (number expected at element 1, got string)" },
  { A("x", { dtype = "bool", values = { 1 } }), E"bad argument #2 to 'tbtrace.write' (boolean expected at element 1, got number)" },
  { A("x", { dtype = "string", values = { 1 } }), E"bad argument #2 to 'tbtrace.write' (string expected at element 1, got number)" },
  { A("x", { dtype = "int64", shape = { 3 }, values = { 1, 2 } }), E"bad argument #2 to 'tbtrace.write' (shape holds 3 elements, values has 2)" },
  { A("x", { dtype = "int64", shape = 5, values = { 1 } }), E"bad argument #2 to 'tbtrace.write' (shape must be a table, got number)" },
  { A("x", { dtype = "int64", shape = { -1 }, values = {} }), E"bad argument #2 to 'tbtrace.write' (shape sizes must be non-negative integers)" },
  { A("x", { dtype = "int64", shape = { 1.5 }, values = { 1 } }), E"bad argument #2 to 'tbtrace.write' (shape sizes must be non-negative integers)" },
  { A("x", { dtype = "int64", shape = { "1" }, values = { 1 } }), E"bad argument #2 to 'tbtrace.write' (shape sizes must be non-negative integers)" },
  { A("x", { dtype = "int64", shape = { 1 << 32, 1 << 32 }, values = {} }), E"bad argument #2 to 'tbtrace.write' (shape too large)", why = "the product wraps to 0 in 64 bits" },
  { A("x", { dtype = "int64", shape = { 1 << 62, 1 << 62, 1 << 62, 1 << 62, 4 }, values = {} }), E"bad argument #2 to 'tbtrace.write' (shape too large)" },
  { A("x", { dtype = "int64", shape = table.pack(string.rep("1", 33):byte(1, -1)), values = { 1 } }),
    E"bad argument #2 to 'tbtrace.write' (shape has too many dimensions)" },
  { A("x", 1, 1, 5), E"bad argument #4 to 'tbtrace.write' (string or table expected, got number)" },
  { A("x", 1, 1, "\xff\xff\xff"), E"bad argument #4 to 'tbtrace.write' (metadata is not a SummaryMetadata)" },
  { A("x", 1, 1, md_plugin("p\xff")), E"bad argument #4 to 'tbtrace.write' (metadata is not a SummaryMetadata)",
    why = "TensorBoard's parser drops a SummaryMetadata whose strings are not UTF-8" },
  { A("x", 1, 1, { plugin_name = 5 }), E"bad argument #4 to 'tbtrace.write' (metadata.plugin_name must be a string, got number)" },
  { A("x", 1, 1, { plugin = "p" }), E"unknown option 'plugin' to 'write' (did you mean 'plugin_name'?)" },
  { A("x", { dtype = "int64", value = { 1 } }), E"unknown option 'value' to 'write' (did you mean 'values'?)" },
  { A("x", 1, 1, { plugin_name = "a\0b" }), E"bad argument #4 to 'tbtrace.write' (metadata.plugin_name contains a NUL byte)" },
  { A("x", 1, 1, { display_name = "d\0" }), E"bad argument #4 to 'tbtrace.write' (metadata.display_name contains a NUL byte)" },
  { A("x", 1, 1, { description = "\xff" }), E"bad argument #4 to 'tbtrace.write' (metadata strings must be valid UTF-8)" },
  { A("x", { dtype = "uint64", values = { -1, MINI } }), written_tensor(function(t)
      assert.are.equal(string.rep("\xff", 8) .. "\0\0\0\0\0\0\0\x80", t.tensor_content)
    end), why = "uint64 takes Lua integers as their bit patterns" },
  { A("x", { dtype = "int64", values = { MINI, MAXI } }), written_tensor(function(t)
      assert.are.same({ MINI, MAXI }, (wire.tensor_values(t)))
    end) },
  { A("x", { NAN, INF, -INF, -0.0 }), written_tensor(function(t)
      assert.are.equal(2, t.dtype)
      local a, b, c, d = string.unpack("<dddd", t.tensor_content)
      assert.is_true(a ~= a)
      assert.are.same({ INF, -INF, -INF }, { b, c, 1 / d })
    end), why = "float64 keeps NaN, infinities and -0" },
  { A("x", { dtype = "float32", values = { 1e300, 1e-50 } }), written_tensor(function(t)
      assert.are.same({ 0x7f800000, 0 }, { (string.unpack("<I4", t.tensor_content)), (string.unpack("<I4", t.tensor_content, 5)) })
    end) },
  { A("x", { "a\0b", "\xff" }), written_tensor(function(t) assert.are.same({ "a\0b", "\xff" }, t.string_val) end) },
  { A("x", { dtype = "int8", shape = { 0, 1 << 40 }, values = {} }), written_tensor(function(t)
      assert.are.same({ 0, 1 << 40 }, shape_of(t))
    end) },
  { A("x", 1, MAXI, { content = "\0\1\255", plugin_name = "p" }), W(function(ev)
      assert.are.equal(MAXI, ev.step)
      assert.are.equal("\0\1\255", value(ev).metadata.plugin_data.content)
    end) },
  { A("x", 1, 1, ""), W(function(ev) assert.is_nil(value(ev).metadata) end), why = "empty metadata is none" },
  { A("x", 1, 1, md_plugin("pl\xc3\xa9")), W(function(ev)
      assert.are.equal("pl\xc3\xa9", value(ev).metadata.plugin_data.plugin_name)
    end) },
}) })

-- record_if rows that must run in a particular order: functions of their own.
local function recording() return tbtrace.should_record_summaries() end
local function scope_close(s) getmetatable(s).__close(s) end

case("tbtrace.record_if", { ctx = "writer", rows = {
  { A(), E"bad argument #1 to 'tbtrace.record_if' (boolean or function expected, got no value)" },
  { A(nil), E"bad argument #1 to 'tbtrace.record_if' (boolean or function expected, got nil)" },
  { A(1), E"bad argument #1 to 'tbtrace.record_if' (boolean or function expected, got number)" },
  { A("true"), E"bad argument #1 to 'tbtrace.record_if' (boolean or function expected, got string)" },
  { A(true, 5), E"bad argument #2 to 'tbtrace.record_if' (function expected, got number)" },
  { A(true, {}), E"bad argument #2 to 'tbtrace.record_if' (function expected, got table)" },
  { A(false, recording), R(false) },
  { A(function() return 1 end, recording), R(true), why = "any true value records" },
  { A(function() return nil end, recording), R(false) },
  { A(function() error("boom") end, recording), R(false), why = "an error in the condition counts as no" },
  { A(function() error({}) end, recording), R(false) },
  { A(function() coroutine.yield() end, recording), R(false), why = "a condition cannot yield" },
  { A(true, error, "inner"), C(function() end), check_error = "inner" },
  { A(true, select, "#", nil, nil), R(2), why = "fn's results, nils kept" },
  { A(false), C(function(res)
      assert.is_false(recording())
      scope_close(res[1])
      scope_close(res[1])   -- twice is harmless
      assert.is_true(recording())
    end) },
  { run = function()
      -- the first collected while it is still the previous of the second
      local b
      do
        local a = tbtrace.record_if(function() return true end)
        b = tbtrace.record_if(false)
        assert(a)
      end
      collectgarbage(); collectgarbage()
      scope_close(b)
      collectgarbage()
      assert.is_true(recording())
      assert.is_true(tbtrace.scalar("x", 1))
    end, why = "no condition is used after its scope is gone" },
  { run = function()
      local a = tbtrace.record_if(false)
      local b = tbtrace.record_if(function() return true end)
      scope_close(a)   -- restores what a replaced: recording on
      assert.is_true(recording())
      scope_close(b)   -- b replaced a, which is closed: what a replaced
      assert.is_true(recording())
    end, why = "a closed condition forwards to the one it replaced" },
  { run = function()
      local s
      local co = coroutine.create(function() s = tbtrace.record_if(function() return false end) end)
      assert(coroutine.resume(co))
      co = nil
      collectgarbage(); collectgarbage()
      assert.is_false(tbtrace.scalar("x", 1))   -- the condition's coroutine is dead and collected
      scope_close(s)
      assert.is_true(tbtrace.scalar("x", 1))
    end, why = "a condition set in a coroutine outlives it" },
  { run = function()
      local co = coroutine.wrap(function()
        local _ <close> = tbtrace.record_if(function() return false end)
        coroutine.yield()
      end)
      co()   -- suspended with its scope open
      assert.is_false(tbtrace.scalar("x", 1))
      co()
      assert.is_true(tbtrace.scalar("x", 1))
    end, why = "a condition of a suspended coroutine" },
} })

case("tbtrace.should_record_summaries", { rows = {
  { A(), R(false) },
  { A(1, 2), R(false) },
  { A(), R(true), ctx = "writer" },
  { A(), R(false), ctx = "off" },
  { A(), R(true), ctx = "closed", why = "as in TF the writer is there; writing raises" },
} })

-- -------------------------------------------------- reading

local function iter_rows(fname, json)
  local function E1(msg) return E(("bad argument #1 to '%s' (%s)"):format(fname, msg)) end
  return {
    { A(), E1"string expected, got no value" },
    { A({}), E1"string expected, got table" },
    { A(""), E1"path cannot be empty" },
    { LAZY(function() return tmpfile() .. "\0.x" end), E1"path contains a NUL byte", why = "C would open the file before the NUL" },
    { A("/nonexistent/hostile"), F("^/nonexistent/hostile: No such file or directory$", 2) },
    { LAZY(tmpdir), F(": Is a directory$", 21), why = "not an iterator that fails at the first read" },
    { LAZY(function() return "/" .. big("p") end), F(": File name too long$", 36) },
    { LAZY(function() return tmpfile() end), C(function(res)
        local n = 0
        for _ in res[1], res[2], res[3], res[4] do n = n + 1 end
        assert.are.equal(0, n)
        assert.are.equal(0, select("#", res[1]()))   -- after the end, still nothing
      end), why = "an empty file has no records" },
    { LAZY(function() return tmpfile("\5\0\0\0\0\0\0\0garbage!") end), C(function(res)
        local ok, err = pcall(function() for _ in res[1], res[2], res[3], res[4] do end end)
        assert.is_false(ok)
        assert.matches("/file: length checksum mismatch in record at offset 0$", err)
        assert.are.equal(0, select("#", res[1]()))   -- the reader closed itself
      end) },
    { LAZY(function()
        local rec = "\xff\xff"   -- framed correctly, but no Event
        local len = string.pack("<I8", #rec)
        return tmpfile(len .. string.pack("<I4", wire.mask(wire.crc32c(len))) .. rec .. string.pack("<I4", wire.mask(wire.crc32c(rec))))
      end), C(function(res)
        local ok, err = pcall(function() for d in res[1], res[2], res[3], res[4] do assert(d) end end)
        if json then
          assert.is_false(ok)
          assert.matches("/file: record at offset 0 is not an Event %(corrupt record%)$", err)
        else
          assert.is_true(ok, err)
        end
      end) },
  }
end

case("tbtrace.records", { rows = iter_rows("tbtrace.records", false) })
case("tbtrace.events", { rows = iter_rows("tbtrace.events", true) })

case("tbtrace.event_to_json", { rows = {
  { A(), E"bad argument #1 to 'tbtrace.event_to_json' (string expected, got no value)" },
  { A({}), E"bad argument #1 to 'tbtrace.event_to_json' (string expected, got table)" },
  { A("\xff\xff"), E"bad argument #1 to 'tbtrace.event_to_json' (not a serialized Event)" },
  { A(5), E"bad argument #1 to 'tbtrace.event_to_json' (not a serialized Event)" },
  { LAZY(function() return big("\xff") end), E"bad argument #1 to 'tbtrace.event_to_json' (not a serialized Event)" },
  { A(""), R"{}" },
  { A(EVENT_BAD_TAG), C(function(res)
      local j = wire.json_decode(res[1])
      assert.are.equal(-1, j.step)
      assert.are.equal("\xef\xbf\xbd", j.summary.value[1].tag)
      assert.are.equal("NaN", j.summary.value[1].simple_value)
    end), why = "bad bytes become U+FFFD, NaN a string: always valid JSON" },
} })

-- -------------------------------------------------- tracing

local function snapshot()
  local m = assert(require("tbtrace.internal").snapshot())
  return m
end
local function my_spans()
  local names = {}
  for _, th in ipairs(snapshot().threads) do
    for _, s in ipairs(th.spans) do names[#names + 1] = s.name end
  end
  return names
end

case("tbtrace.trace_on", { rows = {
  { A(1), E"bad argument #1 to 'tbtrace.trace_on' (boolean expected, got number)" },
  { A("x"), E"bad argument #1 to 'tbtrace.trace_on' (boolean expected, got string)" },
  { A(true, 1), E"bad argument #2 to 'tbtrace.trace_on' (boolean expected, got number)" },
  { A(true, true, {}), E"bad argument #3 to 'tbtrace.trace_on' (string expected, got table)" },
  { A(true, true, "a\0b"), E"bad argument #3 to 'tbtrace.trace_on' (profiler_outdir contains a NUL byte)" },
  { A({ graph = 1 }), E"bad option 'graph' to 'trace_on' (boolean expected, got number)" },
  { A({ profiler = "yes" }), E"bad option 'profiler' to 'trace_on' (boolean expected, got string)" },
  { A({ profiler_outdir = 5 }), E"bad option 'profiler_outdir' to 'trace_on' (string expected, got number)" },
  { A({ profiler_outdir = "a\0b" }), E"bad option 'profiler_outdir' to 'trace_on' (contains a NUL byte)" },
  { A({ memory_limit = -1 }), E"bad option 'memory_limit' to 'trace_on' (non-negative integer expected, got negative)" },
  { A({ memory_limit = 1.5 }), E"bad option 'memory_limit' to 'trace_on' (non-negative integer expected, got number)" },
  { A({ memory_limit = "1" }), E"bad option 'memory_limit' to 'trace_on' (non-negative integer expected, got string)" },
  { A({ lua_calls = 1 }), E"bad option 'lua_calls' to 'trace_on' (boolean or table expected, got number)" },
  { A({ lua_calls = { 1 } }), E"unexpected value at index 1 in option 'lua_calls' to 'trace_on' (options are named: include = ...)" },
  { A({ lua_calls = { [true] = 1 } }), E"unknown option of type boolean in option 'lua_calls' to 'trace_on' (options are named by strings)" },
  { A({ lua_calls = { exclud = "x" } }), E"unknown option 'lua_calls.exclud' to 'trace_on' (did you mean 'lua_calls.exclude'?)" },
  { A({ lua_calls = { bogus = true } }), E"unknown option 'lua_calls.bogus' to 'trace_on' (options are: lua_calls.include, lua_calls.exclude, lua_calls.c_functions, lua_calls.min_ns)" },
  { A({ lua_calls = { min_ns = -1 } }), E"bad option 'lua_calls' to 'trace_on' (min_ns must be a non-negative integer, got negative)" },
  { A({ lua_calls = { min_ns = MINI } }), E"bad option 'lua_calls' to 'trace_on' (min_ns must be a non-negative integer, got negative)" },
  { A({ lua_calls = { min_ns = NAN } }), P"^bad option 'lua_calls' to 'trace_on' %(min_ns must be a non%-negative integer, got [-]?nan%)$" },
  { A({ lua_calls = { min_ns = "5" } }), E"bad option 'lua_calls' to 'trace_on' (min_ns must be a non-negative integer, got string)" },
  { A({ lua_calls = { min_ns = MAXI } }), C(function()
      assert.is_true(tbtrace.trace_stats().on)
      tbtrace.trace_off()
    end), why = "a threshold no span reaches: every call is taken back" },
  { A({ lua_calls = { include = {} , exclude = { {} } } }), E"bad option 'lua_calls' to 'trace_on' (exclude[1] must be a string, got table)" },
  { A({ lua_calls = { include = "[" } }), P"^bad option 'lua_calls' to 'trace_on' %(include: .*malformed pattern" },
  { A({ lua_calls = { include = big("x") } }), R(true), why = "a long pattern is only a pattern" },
  { A({ lua_samples = 0 }), E"bad option 'lua_samples' to 'trace_on' (samples per second in 1..10000 expected, got 0)" },
  { A({ lua_samples = MAXI }), P"^bad option 'lua_samples' to 'trace_on' %(samples per second in 1%.%.10000 expected, got %d+%)" },
  { A({ lua_samples = NAN }), P"^bad option 'lua_samples' to 'trace_on' %(samples per second in 1%.%.10000 expected, got [-]?nan%)" },
  { A({ lua_samples = {} }), E"bad option 'lua_samples' to 'trace_on' (samples per second in 1..10000 expected, got table)" },
  { A({ lua_samples = 10000, lua_calls = true }), C(function()
      assert.is_true(tbtrace.trace_stats().on)
      tbtrace.trace_off()
      assert.is_nil(debug.gethook())
    end), why = "both at once, and trace_off takes both away" },
  { A(), R(true) },
  { A(), R(false, "Trace already enabled"), ctx = "trace" },
  { A({ memory_limit = MAXI, bogus = 1 }), P"^unknown option 'bogus' to 'trace_on' %(options are: graph, profiler, profiler_outdir, memory_limit, [%w_, ]+%)$" },
  { A({ profile = true }), E"unknown option 'profile' to 'trace_on' (did you mean 'profiler'?)", why = "TensorFlow's profiler option is 'profiler'" },
  { A({ grpah = true }), E"unknown option 'grpah' to 'trace_on' (did you mean 'graph'?)" },
  { A({ memory_limit = MAXI }), R(true) },
  { A({ memory_limit = 1 }), C(function()
      for _ = 1, 10 do tbtrace.span_begin("x"); tbtrace.span_end() end
      local st = tbtrace.trace_stats()
      assert.is_true(st.dropped > 0 and st.records == 0)
    end), why = "a limit below one chunk drops everything, and counts it" },
} })

case("tbtrace.trace_off", { rows = {
  { A(), R() },
  { A(1, {}), R() },
  { A(), C(function() assert.is_false(tbtrace.trace_stats().on) end), ctx = "trace" },
} })

case("tbtrace.trace_stats", { rows = {
  { A(), C(function(res) assert.are.same({ records = 0, dropped = 0, on = false }, { records = res[1].records, dropped = res[1].dropped, on = res[1].on }) end) },
  { A("x"), C(function(res) assert.is_true(res[1].on) end), ctx = "trace" },
} })

case("internal._budget", { rows = {
  { A(5), E"bad argument #1 to 'tbtrace.internal._budget' (function expected, got number)" },
  { A(function() end), E"bad argument #2 to 'tbtrace.internal._budget' (number expected, got no value)" },
  { A(function() end, 0), E"bad argument #2 to 'tbtrace.internal._budget' (count must be in 1..2^31-1)" },
  { A(function() end, 2 ^ 40), E"bad argument #2 to 'tbtrace.internal._budget' (count must be in 1..2^31-1)" },
  { A(function() end, 1.5), E"bad argument #2 to 'tbtrace.internal._budget' (number has no integer representation)" },
  { A(), R(), why = "none to remove" },
  { A(function() end, 1000000), C(function(res)
      assert.are.equal(0, res.n)
      local f, n = require("tbtrace.internal")._budget()
      assert.is_function(f)
      assert.are.equal(1000000, n)
      assert.is_nil(require("tbtrace.internal")._budget())
    end), why = "returns the budget it replaces" },
} })

case("internal.snapshot", { rows = {
  { A(), R(nil, "no trace is on") },
  { A(5), C(function(res) assert.are.equal("table", type(res[1].threads)) end), ctx = "trace" },
} })

local function name_rows(fname, category)
  local rows = {
    { A(), E(("bad argument #1 to '%s' (string expected, got no value)"):format(fname)) },
    { A(5), E(("bad argument #1 to '%s' (string expected, got number)"):format(fname)), why = "names are not coerced" },
    { A({}), E(("bad argument #1 to '%s' (string expected, got table)"):format(fname)) },
    { A(5), E(("bad argument #1 to '%s' (string expected, got number)"):format(fname)), ctx = "none",
      why = "misuse raises with no trace on" },
  }
  if category then
    rows[#rows + 1] = { A("x", 5), E(("bad argument #2 to '%s' (string or nil expected, got number)"):format(fname)) }
    rows[#rows + 1] = { A("x", {}), E(("bad argument #2 to '%s' (string or nil expected, got table)"):format(fname)) }
    rows[#rows + 1] = { A("x", false), E(("bad argument #2 to '%s' (string or nil expected, got boolean)"):format(fname)) }
  end
  return rows
end

case("tbtrace.span_begin", { ctx = "trace", rows = rows_with(name_rows("tbtrace.span_begin", true), {
  { A("a\0b"), C(function() tbtrace.span_end(); assert.are.same({ "a" }, my_spans()) end), why = "names are C strings: cut at the NUL (documented)" },
  { A("\xff\xfe", "\xc0"), C(function() tbtrace.span_end(); assert.are.same({ "\u{FFFD}\u{FFFD}" }, my_spans()) end), why = "read as valid UTF-8: each bad byte is U+FFFD" },
  { A("x", nil), C(function() tbtrace.span_end(); assert.is_nil(snapshot().threads[1].spans[1].category) end) },
  { LAZY(function() return big("s"), big("c") end), C(function()
      tbtrace.span_end()
      local s = snapshot().threads[1].spans[1]
      assert.is_true(s.name == big("s") and s.category == big("c"))
    end) },
  { A("x"), R(), ctx = "none" },
}) })

case("tbtrace.span_end", { ctx = "trace", rows = {
  { A(), R(), why = "an end without a begin is ignored" },
  { A(1, 2, 3), R() },
  { A(), R(), ctx = "none" },
} })

case("tbtrace.span", { ctx = "trace", rows = rows_with(name_rows("tbtrace.span"), {
  { A("x"), E"bad argument #2 to 'tbtrace.span' (function expected, got no value)" },
  { A("x", 5), E"bad argument #2 to 'tbtrace.span' (function expected, got number)" },
  { run = function()
      local ok, err = pcall(tbtrace.span, "x", error, "boom")
      assert.are.same({ false, "boom" }, { ok, err })
      local s = snapshot().threads[1].spans[1]
      assert.are.equal("x", s.name)
      assert.is_false(s.unfinished)
    end, why = "the span ends when fn raises" },
  { A("x", select, "#", nil, nil), R(2) },
  { A("x", select, "#", nil, nil), R(2), ctx = "none" },
}) })

case("tbtrace.scope", { ctx = "trace", rows = rows_with(name_rows("tbtrace.scope", true), {
  { A("x", "cat"), C(function(res)
      assert.are.equal("tbtrace.scope", tostring(res[1]))
      getmetatable(res[1]).__close(res[1])
      assert.is_false(snapshot().threads[1].spans[1].unfinished)
    end) },
}) })

case("tbtrace.instant", { ctx = "trace", rows = rows_with(name_rows("tbtrace.instant", true), {
  { A("\xff", "a\0b"), C(function()
      local i = snapshot().threads[1].instants[1]
      assert.are.same({ "\u{FFFD}", "a" }, { i.name, i.category })
    end) },
}) })

case("tbtrace.counter", { ctx = "trace", rows = rows_with(name_rows("tbtrace.counter"), {
  { A("x"), E"bad argument #2 to 'tbtrace.counter' (number expected, got no value)" },
  { A("x", {}), E"bad argument #2 to 'tbtrace.counter' (number expected, got table)" },
  { A("x", "5"), C(function() assert.are.equal(5, snapshot().threads[1].counters[1].value) end), why = "numeric strings are numbers, as in lauxlib" },
  { A("x", NAN), C(function() local v = snapshot().threads[1].counters[1].value; assert.is_true(v ~= v) end) },
  { A("x", -INF), C(function() assert.are.equal(-INF, snapshot().threads[1].counters[1].value) end) },
}) })

case("tbtrace.depends", { ctx = "trace", rows = {
  { A(), E"bad argument #1 to 'tbtrace.depends' (string expected, got no value)" },
  { A("a"), E"bad argument #2 to 'tbtrace.depends' (string expected, got no value)" },
  { A("a", 5), E"bad argument #2 to 'tbtrace.depends' (string expected, got number)" },
  { A(5, "a"), E"bad argument #1 to 'tbtrace.depends' (string expected, got number)", ctx = "none" },
  { A("a\0b", "\xff"), C(function() assert.are.same({ { from = "a", to = "\u{FFFD}" } }, snapshot().edges) end) },
  { A("a", "b"), R(), ctx = "none" },
} })

case("tbtrace.thread_name", { ctx = "trace", rows = {
  { A(5), E"bad argument #1 to 'tbtrace.thread_name' (string expected, got number)" },
  { A({}), E"bad argument #1 to 'tbtrace.thread_name' (string expected, got table)" },
  { A(), R(), why = "clears the name" },
  { A(nil), R() },
  { A("t\0x"), C(function()
      tbtrace.span("s", function() end)
      assert.are.equal("t", snapshot().threads[1].name)
    end) },
  { LAZY(function() return big("n", 1 << 20) end), C(function()
      tbtrace.span("s", function() end)
      assert.is_true(snapshot().threads[1].name == big("n", 1 << 20))
    end) },
  { A("\xff"), R(), ctx = "none" },
} })

local function run_metadata(ev)
  return wire.decode("RunMetadata", value(ev).tensor.string_val[1])
end

case("tbtrace.trace_export", { ctx = "trace+writer", rows = {
  { A("x", 1), E"Must enable trace before export.", ctx = "writer" },
  { A({ name = {} }), E"bad option 'name' to 'trace_export' (string expected, got table)" },
  { A({ nmae = "x" }), E"unknown option 'nmae' to 'trace_export' (did you mean 'name'?)" },
  { A({ name = "x", logdir = "/tmp" }), E"unknown option 'logdir' to 'trace_export' (did you mean 'profiler_outdir'? trace_export writes profile files under profiler_outdir)" },
  { A({ name = "a\0b" }), E"bad option 'name' to 'trace_export' (contains a NUL byte)" },
  { A({ name = "x", step = 1.5 }), E"bad option 'step' to 'trace_export' (step must be an integer)" },
  { A({ name = "x", step = "1" }), E"bad option 'step' to 'trace_export' (integer expected, got string)" },
  { A({ name = "x", profiler_outdir = 5 }), E"bad option 'profiler_outdir' to 'trace_export' (string expected, got number)" },
  { A({ name = "x", profiler_outdir = "o\0" }), E"bad option 'profiler_outdir' to 'trace_export' (contains a NUL byte)" },
  { A({}), E"trace_export: the name must be a non-empty UTF-8 string: invalid argument" },
  { A("a\0b", 1), E"bad argument #1 to 'tbtrace.trace_export' (name contains a NUL byte)" },
  { A({}, 1), E"trace_export: the name must be a non-empty UTF-8 string: invalid argument", why = "after an option table the rest is ignored" },
  { A("", 1), E"trace_export: the name must be a non-empty UTF-8 string: invalid argument" },
  { A("\xed\xa0\x80", 1), E"trace_export: the name must be a non-empty UTF-8 string: invalid argument" },
  { A("x", 1.5), E"bad argument #2 to 'tbtrace.trace_export' (step must be an integer)" },
  { A("x", "1"), E"bad argument #2 to 'tbtrace.trace_export' (integer expected, got string)" },
  { A("x", 1, {}), E"bad argument #3 to 'tbtrace.trace_export' (string expected, got table)" },
  { A("x", 1, "o\0"), E"bad argument #3 to 'tbtrace.trace_export' (profiler_outdir contains a NUL byte)" },
  { A("x"), E"No step set via 'step' argument or tbtrace.experimental.set_step()", run_before = function()
      tbtrace.experimental.set_step(nil)
    end },
  { A(5, MINI), WR(function(res, evs)
      assert.are.same(pack(true), res)
      local ev = only(evs)
      assert.are.same({ "5", MINI }, { value(ev).tag, ev.step })
    end), why = "a number name is a string; the least step is exact" },
  { LAZY(function()
      tbtrace.span("\xff", function() tbtrace.span("a\0b", function() end) end)
      return big("n", 1 << 20), MAXI
    end), WR(function(res, evs)
      assert.are.same(pack(true), res)
      local ev = only(evs)
      assert.is_true(value(ev).tag == big("n", 1 << 20))
      assert.are.equal(MAXI, ev.step)
      local names = {}
      for _, n in ipairs(run_metadata(ev).function_graphs[1].pre_optimization_graph.node) do names[#names + 1] = n.name end
      table.sort(names)
      assert.are.same({ "\xef\xbf\xbd", "\xef\xbf\xbd/a" }, names)
    end), why = "bad bytes in span names become U+FFFD; a NUL cuts the name" },
} })

case("tbtrace.last_export", { rows = {
  { A(), C(function(res) assert.are.equal("boolean", type(res[1].wrote_summary)) end) },
  { A(1, 2), C(function(res) assert.are.equal("number", type(res[1].spans)) end) },
} })

-- -------------------------------------------------- policies

local function policy_file(src)
  return tmpfile(src)
end
local P1 = "bad argument #1 to 'policy.load' (%s)"
local P2 = "bad argument #2 to 'policy.load' (%s)"

case("tbtrace.policy.load", { rows = {
  { A(), E(P1:format("non-empty string expected, got nil")) },
  { A(5), E(P1:format("non-empty string expected, got number")) },
  { A(""), E(P1:format("non-empty string expected, got empty string")) },
  { LAZY(function() return policy_file("return {}") .. "\0x" end), E(P1:format("path contains a NUL byte")),
    why = "io.open would load the file before the NUL" },
  { LAZY(function() return policy_file("return {}"), 5 end), E(P2:format("table expected, got number")) },
  { LAZY(function() return policy_file("return {}"), { instruction_limit = 0 } end), E(P2:format("instruction_limit must be a positive integer, got 0")),
    why = "0 would turn the limit off" },
  { LAZY(function() return policy_file("return {}"), { instruction_limit = -1 } end), E(P2:format("instruction_limit must be a positive integer, got -1")) },
  { LAZY(function() return policy_file("return {}"), { instruction_limit = "x" } end), E(P2:format("instruction_limit must be a positive integer, got string")) },
  { LAZY(function() return policy_file("return {}"), { instruction_limit = 1.5 } end), E(P2:format("instruction_limit must be a positive integer, got 1.5")) },
  { LAZY(function() return policy_file("return {}"), { time_budget = 0 } end), E(P2:format("time_budget must be a number of seconds in (0, 3600], got 0")),
    why = "0 would fail every export" },
  { LAZY(function() return policy_file("return {}"), { time_budget = -1 } end), E(P2:format("time_budget must be a number of seconds in (0, 3600], got -1")) },
  { LAZY(function() return policy_file("return {}"), { time_budget = 0 / 0 } end), P"^bad argument #2 to 'policy.load' %(time_budget must be a number of seconds in %(0, 3600%], got [-]?nan%)$" },
  { LAZY(function() return policy_file("return {}"), { time_budget = 1 / 0 } end), E(P2:format("time_budget must be a number of seconds in (0, 3600], got inf")) },
  { LAZY(function() return policy_file("return {}"), { time_budget = "1" } end), E(P2:format("time_budget must be a number of seconds in (0, 3600], got string")) },
  { LAZY(function() return policy_file("return {}"), { memory_budget = 0 } end), E(P2:format("memory_budget must be an integer number of MiB in 1..65536, got 0")) },
  { LAZY(function() return policy_file("return {}"), { memory_budget = 1.5 } end), E(P2:format("memory_budget must be an integer number of MiB in 1..65536, got 1.5")) },
  { LAZY(function() return policy_file("return {}"), { memory_budget = math.maxinteger } end), E(P2:format("memory_budget must be an integer number of MiB in 1..65536, got 9223372036854775807")),
    why = "MiB shifted to bytes would overflow" },
  { LAZY(function() return policy_file("return {}"), { memory_budget = true } end), E(P2:format("memory_budget must be an integer number of MiB in 1..65536, got boolean")) },
  { A("/dev/zero"), E"cannot read policy '/dev/zero': not a regular file (a character device)",
    why = "read until memory runs out" },
  { A("/dev/stdin"), P"^cannot read policy '/dev/stdin': not a regular file", why = "a terminal or pipe blocks" },
  { LAZY(function() return policy_file("return {}\n--" .. string.rep("x", 1 << 20)) end), P"^cannot read policy '.*/file': larger than 1048576 bytes$" },
  { LAZY(function() return policy_file("return { time_budget = 1e9 }") end), P"^policy '.*/file': 'time_budget' %(.*/file:1%) must be a number of seconds in %(0, 3600%] %(got 1000000000%.0%)$" },
  { A("/nonexistent/p.lua"), E"cannot open policy '/nonexistent/p.lua': No such file or directory" },
  { LAZY(tmpdir), P"^cannot read policy '.*': not a regular file %(a directory%)$" },
  { LAZY(function() return policy_file("return {") end), P"^policy .*/file:1: unexpected symbol near <eof>$" },
  { LAZY(function() return policy_file(string.dump(function() return {} end)) end), P"^policy .*attempt to load a binary chunk %(mode is 't'%)$" },
  { LAZY(function() return policy_file("return 5") end), P"^policy '.*/file' must return a table %(got number%)$" },
  { LAZY(function() return policy_file("while true do end") end), P"^policy '.*/file' exceeded the instruction limit %(1000000%) at .*file:1; endless loop%?$" },
  { LAZY(function() return policy_file("return { bogus = 1 }") end), P"^policy '.*/file': unknown field 'bogus' %(.*/file:1%)$" },
  { LAZY(function() return policy_file("return { max_queue = 1 << 40 }") end), P"^policy '.*/file': 'max_queue' %(.*/file:1%) must be a non%-negative integer %(got 1099511627776%)$" },
  { LAZY(function() return policy_file("return { filename_suffix = 'a\\0b' }") end), P"^policy '.*/file': 'filename_suffix' %(.*/file:1%) must be a string without '/' %(got \"a\\0b\"%)$" },
  { LAZY(function()
      local path = policy_file("")
      local f = assert(io.open(path, "w")); f:write("return { extends = 'file' }"); f:close()
      return path
    end), P"^policy '.*/file': 'extends' nests too deep$", why = "a policy extending itself" },
  { LAZY(function() return policy_file("return { name = function() return 'n' end }") end), C(function(res)
      assert.are.equal("n", tbtrace.policy.resolve(res[1], {}).name)
    end) },
} })

local PT = "bad argument #%d to 'policy.from_table' (%s)"
case("tbtrace.policy.from_table", { rows = {
  { A(), E(PT:format(1, "table expected, got nil")) },
  { A("x"), E(PT:format(1, "table expected, got string")) },
  { A({}, 5), E(PT:format(2, "table expected, got number")) },
  { A({}, { instruction_limit = MINI }), E(PT:format(2, "instruction_limit must be a positive integer, got -9223372036854775808")) },
  { A({}, { name = 5 }), E(PT:format(2, "name must be a string, got number")) },
  { A({ name = 5 }), E"policy '(table)': hook 'name' must be a function (got number)" },
  { A({ [1] = 2 }), E"policy '(table)': unknown field '1'" },
  { A({ max_queue = -1 }), E"policy '(table)': 'max_queue' must be a non-negative integer (got -1)" },
  { A({ extends = 5 }), E"policy '(table)': 'extends' must be a path or a policy table (got number)" },
  { A({}), C(function(res) assert.are.same({ "(table)" }, res[1].chain) end) },
} })

local function resolve_with(hooks, facts)
  return function()
    return tbtrace.policy.from_table(hooks, { name = "hostile" }), facts or {}
  end
end

local PR = "bad argument #%d to 'policy.resolve' (%s)"
case("tbtrace.policy.resolve", { rows = {
  { A(), E(PR:format(1, "policy expected, got nil")) },
  { A(5, {}), E(PR:format(1, "policy expected, got number")) },
  { A({}, {}), E(PR:format(1, "policy expected, got table")) },
  { LAZY(resolve_with({})), R({ settings = {} }) },
  { LAZY(function() return tbtrace.policy.from_table({}), 5 end), E(PR:format(2, "table expected, got number")) },
  { LAZY(resolve_with({ name = function() return 5 end })), P"^policy 'hostile': hook 'name' %(hostile:%d+%) returned number %(string expected%)$" },
  { LAZY(resolve_with({ name = function() return "" end })), P"hook 'name' .* returned an empty string$" },
  { LAZY(resolve_with({ name = function() return "a\0b" end })), P"hook 'name' .* returned a string with a NUL byte$" },
  { LAZY(resolve_with({ name = function() return "\xff" end })), P"hook 'name' .* returned a string that is not valid UTF%-8$" },
  { LAZY(resolve_with({ name = function() error("boom", 0) end })), E"policy 'hostile': hook 'name' failed: boom" },
  { LAZY(resolve_with({ step = function() return 1.5 end })), P"hook 'step' .* returned 1%.5 %(integer expected%)$" },
  { LAZY(resolve_with({ step = function() return 0 / 0 end })), P"hook 'step' .* returned %-?nan %(integer expected%)$" },
  { LAZY(resolve_with({ step = function() return 2.0 ^ 63 end })), P"hook 'step' .* returned 9%.2233720368548e%+18 %(integer expected%)$" },
  { LAZY(resolve_with({ step = function() return "1" end })), P"hook 'step' .* returned string %(integer expected%)$" },
  { LAZY(resolve_with({ step = function() return 2.0 ^ 62 end })), C(function(res) assert.are.equal(1 << 62, res[1].step) end) },
  { LAZY(resolve_with({ step = function() error("not called") end }, { step = 5 })), C(function(res) assert.is_nil(res[1].step) end),
    why = "a given step is not asked for" },
  { LAZY(resolve_with({ run_name = function() return "../x" end })), P"hook 'run_name' .* returned '%.%./x', which is not a single file name$" },
  { LAZY(resolve_with({ run_name = function() return ".." end })), P"which is not a single file name$" },
  { LAZY(resolve_with({ run_name = function() return string.rep("r", 256) end })), P"returned a name longer than 255 bytes$" },
  { LAZY(resolve_with({ run_name = function() return "a\tb" end })), P"which has characters a file name cannot hold$" },
  { LAZY(resolve_with({ logdir = function() return "a/../../b" end })), P"hook 'logdir' .* returned a path with '%.%.' %(a/%.%./%.%./b%)$" },
  { LAZY(resolve_with({ profiler_outdir = function() return "rel" end })), P"returned a relative path and there is no logdir$" },
  { LAZY(function()
      return tbtrace.policy.from_table({ name = function() while true do end end }, { trusted = false, instruction_limit = 1000 }), {}
    end), P"^policy '%(table%)': hook 'name' failed: the hook exceeded the instruction limit %(1000%) at .*; endless loop%?$" },
  { LAZY(resolve_with({ name = function(ctx) ctx.name = "y" end }, { name = "x" })), P"hook 'name' failed: .*ctx is read%-only %(tried to set 'name'%)$" },
} })

case("tbtrace.policy.set", { rows = {
  { A(5), E"bad argument #1 to 'policy.set' (policy or table expected, got number)" },
  { A("p"), E"bad argument #1 to 'policy.set' (policy or table expected, got string)" },
  { A({}, 5), E"bad argument #2 to 'policy.set' (table expected, got number)" },
  { A({}, { instruction_limit = 0 }), E"bad argument #2 to 'policy.set' (instruction_limit must be a positive integer, got 0)" },
  { A({ name = 5 }), E"policy '(table)': hook 'name' must be a function (got number)" },
  { A(nil), R(nil) },
  { A({}), C(function(res) assert.are.equal(res[1], tbtrace.policy.current()) end) },
  { A({ name = function() return "\xff" end }), C(function()
      -- a policy that fails at export: raises with its message, and the trace stays
      assert.has_error(function() tbtrace.trace_export("x", 1) end)
      assert.is_true(tbtrace.trace_stats().on)
    end), ctx = "trace+writer" },
} })

case("tbtrace.policy.current", { rows = {
  { A(), R(nil) },
  { A(5), R(nil) },
} })

-- -------------------------------------------------- writer methods

local function self_rows(m, good)
  local args = good or A()
  return {
    { args, E(("calling '%s' on bad self (tbtrace.writer expected, got table)"):format(m)), self = fake_writer },
    { args, E"bad argument #1 to '?' (tbtrace.writer expected, got FILE*)", self = function() return io.stdout end, direct = true },
    { args, E"bad argument #1 to '?' (tbtrace.writer expected, got tbtrace.span_scope)", self = function() return tbtrace.scope("x") end, direct = true },
    { args, E"bad argument #1 to '?' (tbtrace.writer expected, got nil)", self = function() return nil end, direct = true },
    { args, E"attempt to use a collected writer", self = collected_writer },
  }
end

case("writer:set_as_default", { rows = rows_with(self_rows("set_as_default"), {
  { A("s"), E"bad argument #1 to 'set_as_default' (integer expected, got string)" },
  { A(1.5), E"bad argument #1 to 'set_as_default' (step must be an integer)" },
  { A(INF), E"bad argument #1 to 'set_as_default' (step must be an integer)" },
  { A(), E"SummaryWriter is already closed", self = closed_writer },
  { A(MINI), C(function() assert.are.equal(MINI, tbtrace.experimental.get_step()) end) },
  { A(), C(function() assert.is_not_nil(tbtrace.default_writer()) end) },
  { A(5), C(function()
      assert.is_nil(tbtrace.default_writer())
      assert.is_nil(tbtrace.experimental.get_step())
    end), self = noop, why = "a no-op writer changes nothing" },
}) })

local function nargs(...) return select("#", ...) end

-- Every counter 0 (the writer's own file_version record is not counted).
local function zero_stats(st)
  for _, k in ipairs({ "events_written", "events_pending", "flushes", "timer_flushes" }) do
    assert.are.equal(0, st[k], k)
  end
  for k, v in pairs(st) do assert.are.equal(0, v, k) end
end

case("writer:as_default", { rows = rows_with(self_rows("as_default"), {
  { A(1, 2), E"bad argument #2 to 'as_default' (function expected, got number)" },
  { A("s", nargs), E"bad argument #1 to 'as_default' (integer expected, got string)" },
  { A(1.5, nargs), E"bad argument #1 to 'as_default' (step must be an integer)" },
  { A(nargs), E"SummaryWriter is already closed", self = closed_writer },
  { A(nargs, "a", nil, "b", nil), R(4), why = "fn's results; its arguments with their nils" },
  { A(nil, nargs), R(0) },
  { A(MAXI, tbtrace.experimental.get_step), R(MAXI) },
  { run = function()
      local w = writer()
      local ok, err = pcall(w.as_default, w, 1, error, "boom")
      assert.are.same({ false, "boom" }, { ok, err })
      assert.is_nil(tbtrace.default_writer())
      assert.is_nil(tbtrace.experimental.get_step())
    end, why = "defaults are restored when fn raises" },
  { A(1), C(function(res)
      assert.is_not_nil(tbtrace.default_writer())
      getmetatable(res[1]).__close(res[1])
      getmetatable(res[1]).__close(res[1])
      assert.is_nil(tbtrace.default_writer())
    end) },
  { A(5, tbtrace.experimental.get_step), R(nil), self = noop },
  { A(1, function(w) return w end, "x"), R("x") },
}) })

case("writer:flush", { rows = rows_with(self_rows("flush"), {
  { A(), R(true) },
  { A(5, "x"), R(true), why = "extra arguments are ignored" },
  { A(), R(true), self = closed_writer },
  { A(), R(true), self = noop },
}) })

case("writer:close", { rows = rows_with(self_rows("close"), {
  { A(), R(true) },
  { A(), R(true), self = closed_writer, why = "idempotent" },
  { A(), C(function(res)
      assert.are.same(pack(true), res)
    end), self = noop },
}) })

case("writer:logdir", { rows = rows_with(self_rows("logdir"), {
  { A(), C(function(res) assert.matches("/hostile%-", res[1]) end) },
  { A(), C(function(res) assert.matches("/hostile%-", res[1]) end), self = closed_writer },
  { A(), R(nil), self = noop },
}) })

case("writer:path", { rows = rows_with(self_rows("path"), {
  { A(), C(function(res) assert.matches("/events%.out%.tfevents%.", res[1]) end) },
  { A(), C(function(res) assert.matches("%.v2$", res[1]) end), self = closed_writer },
  { A(), R(nil), self = noop },
}) })

case("writer:closed", { rows = rows_with(self_rows("closed"), {
  { A(), R(false) },
  { A(), R(true), self = closed_writer },
  { A(), R(false), self = noop },
}) })

case("writer:stats", { rows = rows_with(self_rows("stats"), {
  { A(), C(function(res) zero_stats(res[1]) end) },
  { A(), C(function(res) zero_stats(res[1]) end), self = closed_writer },
  { A(), C(function(res) zero_stats(res[1]) end), self = noop },
}) })

-- -------------------------------------------------- plugins: hparams, scopes, raw, graph, layout

-- The HParamsPluginData of the only event, after the parts every hparams summary shares.
local function hp_data(ev, tag)
  local v = value(ev)
  assert.are.equal(tag, v.tag)
  assert.are.equal(0, wire.get(ev, "step"))
  assert.are.equal("hparams", v.metadata.plugin_data.plugin_name)
  return wire.decode("HParamsPluginData", v.metadata.plugin_data.content)
end

local CFG = "bad argument #1 to 'tbtrace.hparams.config' (%s)"
local function cfg(msg) return E(CFG:format(msg)) end
case("tbtrace.hparams.config", { ctx = "writer", rows = {
  { A(), E"bad argument #1 to '?' (table expected, got no value)", why = "called from C: lauxlib has no name for a function two tables deep" },
  { A("x"), P"%(table expected, got string%)$" },
  { A({ hparams = 5 }), P"%(hparams must be a table, got number%)$" },
  { A({ hparams = { 5 } }), P"%(hparams%[1%] must be a table, got number%)$" },
  { A({ hparams = { x = {} } }), P"%(hparams: unknown key 'x'%)$" },
  { A({ hparams = { [2] = { name = "a" } } }), P"%(hparams: unknown key 2%)$", why = "holes are not arrays" },
  { A({ hparams = { {} } }), P"%(hparams%[1%]%.name must be a non%-empty string%)$" },
  { A({ hparams = { { name = "" } } }), P"%(hparams%[1%]%.name must be a non%-empty string%)$" },
  { A({ hparams = { { name = 5 } } }), P"%(hparams%[1%]%.name must be a string, got number%)$" },
  { A({ hparams = { { name = "a\0b" } } }), P"%(hparams%[1%]%.name contains a NUL byte%)$" },
  { A({ hparams = { { name = "\xff" } } }), P"%(hparams%[1%]%.name is not valid UTF%-8%)$" },
  { A({ hparams = { { name = "a", description = {} } } }), P"%(hparams%[1%]%.description must be a string, got table%)$" },
  { A({ hparams = { { name = "a", min = 1 } } }), P"%(hparams%[1%]%.max must be a number, got nil%)$" },
  { A({ hparams = { { name = "a", min = NAN, max = 1 } } }), P"%(hparams%[1%]%.min is NaN%)$" },
  { A({ hparams = { { name = "a", min = 2, max = 1 } } }), P"%(hparams%[1%]: min is greater than max%)$" },
  { A({ hparams = { { name = "a", min = "1", max = 2 } } }), P"%(hparams%[1%]%.min must be a number, got string%)$" },
  { A({ hparams = { { name = "a", min = 1, max = 2, values = { 1 } } } }), P"%(hparams%[1%] has both values and min/max%)$" },
  { A({ hparams = { { name = "a", values = {} } } }), P"%(hparams%[1%]%.values is empty%)$" },
  { A({ hparams = { { name = "a", values = "x" } } }), P"%(hparams%[1%]%.values must be a table, got string%)$" },
  { A({ hparams = { { name = "a", values = { {} } } } }), P"%(hparams%[1%]%.values%[1%] must be a boolean, number or string, got table%)$" },
  { A({ hparams = { { name = "a", values = { 1, "b" } } } }), P"%(hparams%[1%]%.values%[2%] is a string, values%[1%] a number%)$" },
  { A({ hparams = { { name = "a", values = { 1, NAN } } } }), P"%(hparams%[1%]%.values%[2%] is NaN%)$" },
  { A({ hparams = { { name = "a", values = { "\xff" } } } }), P"%(hparams%[1%]%.values%[1%] is not valid UTF%-8%)$" },
  { A({ hparams = { { name = "a", values = { 1, a = 1 } } } }), P"%(hparams%[1%]%.values: unknown key 'a'%)$" },
  { A({ metrics = { 5 } }), P"%(metrics%[1%] must be a table or string, got number%)$" },
  { A({ metrics = { "" } }), P"%(metrics%[1%] needs a non%-empty UTF%-8 tag%)$" },
  { A({ metrics = { "\xff" } }), P"%(metrics%[1%] needs a non%-empty UTF%-8 tag%)$" },
  { A({ metrics = { {} } }), P"%(metrics%[1%] needs a non%-empty UTF%-8 tag%)$" },
  { A({ metrics = { { tag = "a", dataset_type = 1 } } }), P"%(metrics%[1%]%.dataset_type must be 'training' or 'validation'%)$" },
  { A({ metrics = { { tag = "a", bogus = 1 } } }), P"%(metrics%[1%]: unknown key 'bogus'%)$" },
  { A({ time_created = "now" }), P"%(time_created must be a number, got string%)$" },
  { A({ time_created = INF }), P"%(time_created must be a finite number >= 0%)$" },
  { A({ time_created = -1 }), P"%(time_created must be a finite number >= 0%)$" },
  { A({ hparam = {} }), P"%(config: unknown key 'hparam' %(did you mean 'hparams'%?%)%)$" },
  { A({}), R(false), ctx = "none" },
  { A({}), R(false), ctx = "off" },
  { A({}), E"SummaryWriter is already closed", ctx = "closed" },
  { A({}), W(function(ev)
      local ex = hp_data(ev, "_hparams_/experiment").experiment
      assert.are.same({}, wire.get(ex, "hparam_infos"))
    end), why = "an empty experiment" },
  { LAZY(function()
      local hp = {}
      for i = 1, 2000 do hp[i] = { name = "h" .. i, values = { i, -i, 0.5 } } end
      return { hparams = hp, metrics = { big("m", 1 << 16) } }
    end), W(function(ev)
      local ex = hp_data(ev, "_hparams_/experiment").experiment
      assert.are.equal(2000, #ex.hparam_infos)
      assert.are.equal(-2000.0, ex.hparam_infos[2000].domain_discrete.values[1].number_value)
      assert.are.equal(1 << 16, #ex.metric_infos[1].name.tag)
    end), why = "thousands of hparams, a 64 KiB tag" },
  { A({ hparams = { { name = "a", values = { MAXI, MINI } } } }), W(function(ev)
      local vals = hp_data(ev, "_hparams_/experiment").experiment.hparam_infos[1].domain_discrete.values
      assert.are.equal(-2.0 ^ 63, vals[1].number_value)
      assert.are.equal(2.0 ^ 63, vals[2].number_value)
    end), why = "integers become float64" },
  { A({ hparams = { { name = "a", min = -INF, max = INF } } }), W(function(ev)
      local iv = hp_data(ev, "_hparams_/experiment").experiment.hparam_infos[1].domain_interval
      assert.are.same({ -INF, INF }, { iv.min_value, iv.max_value })
    end) },
} })

local RUN_HP = { lr = 0.1 }
case("tbtrace.hparams.run", { ctx = "writer", rows = {
  { A(), P"%(table expected, got no value%)$" },
  { A(5), P"%(table expected, got number%)$" },
  { A({ [1] = 2 }), P"%(hparam names must be strings, got number 1%)$" },
  { A({ [true] = 2 }), P"%(hparam names must be strings, got boolean true%)$" },
  { A({ [""] = 2 }), P"%(hparam names cannot be empty%)$" },
  { A({ ["a\0b"] = 2 }), P"%(hparam name contains a NUL byte%)$" },
  { A({ ["\xff"] = 2 }), P"%(hparam name is not valid UTF%-8%)$" },
  { A({ a = {} }), P"%(hparam 'a' must be a boolean, number or string, got table%)$" },
  { A({ a = print }), P"%(hparam 'a' must be a boolean, number or string, got function%)$" },
  { A({ a = "x\0y" }), P"%(hparam 'a' contains a NUL byte%)$" },
  { A({ a = "\xc0\x80" }), P"%(hparam 'a' is not valid UTF%-8%)$" },
  { A(RUN_HP, 5), P"^bad argument #2 .*%(table expected, got number%)$" },
  { A(RUN_HP, { trial = "x" }), P"^bad argument #2 .*%(options: unknown key 'trial'%)$" },
  { A(RUN_HP, { trial_id = 5 }), P"%(options%.trial_id must be a string, got number%)$" },
  { A(RUN_HP, { trial_id = "\xff" }), P"%(options%.trial_id is not valid UTF%-8%)$" },
  { A(RUN_HP, { start_time = -1 }), P"%(options%.start_time must be a positive finite number%)$" },
  { A(RUN_HP, { start_time = NAN }), P"%(options%.start_time must be a positive finite number%)$" },
  { A(RUN_HP, { start_time = "1" }), P"%(options%.start_time must be a number, got string%)$" },
  { A(RUN_HP), C(function(res) assert.are.equal(false, res[2]); assert.is_false(res[1]:close()) end), ctx = "none",
    why = "no writer: a session that writes nothing" },
  { A(RUN_HP), C(function(res) assert.are.equal(false, res[2]) end), ctx = "off" },
  { A(RUN_HP), E"SummaryWriter is already closed", ctx = "closed" },
  { A({ a = NAN, b = INF, c = MINI, d = false, ["\u{1F600}"] = "\u{e9}" }, { trial_id = "" }), WR(function(res, evs)
      assert.is_true(res[2])
      local si = hp_data(only(evs), "_hparams_/session_start_info").session_start_info
      assert.are.equal("", wire.get(si, "group_name"))
      assert.is_true(si.hparams.a.number_value ~= si.hparams.a.number_value)
      assert.are.equal(INF, si.hparams.b.number_value)
      assert.are.equal(-2.0 ^ 63, si.hparams.c.number_value)
      assert.is_false(si.hparams.d.bool_value)
      assert.are.equal("\u{e9}", si.hparams["\u{1F600}"].string_value)
    end), why = "NaN, infinities, extreme integers, an empty trial id" },
  { A({}), WR(function(res, evs)
      local si = hp_data(only(evs), "_hparams_/session_start_info").session_start_info
      assert.are.equal("44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", si.group_name)
    end), why = "no hparams: the hash of {}" },
} })

case("tbtrace.hparams.group_name", { rows = {
  { A(), P"%(table expected, got no value%)$" },
  { A({ 1 }), P"%(hparam names must be strings, got number 1%)$" },
  { A({ a = {} }), P"%(hparam 'a' must be a boolean, number or string, got table%)$" },
  { A({ a = 1 }), R"015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862" },
  { A({ a = 1.0 }), R"c29a44abc114a1d75486434c013102c9e736f526b4fd19658d9492b7b224de6d", why = "1.0 is not 1 to json.dumps" },
} })

local SCOPE_ROWS = function(fname)
  return {
    { A(5, 5), E(("bad argument #2 to '%s' (function expected, got number)"):format(fname)) },
    { A({}), E(("bad argument #1 to '%s' (string expected, got table)"):format(fname)) },
    { A("a\0b"), E(("bad argument #1 to '%s' (name contains a NUL byte)"):format(fname)) },
    { A("\xff"), E(("bad argument #1 to '%s' (name is not valid UTF-8)"):format(fname)) },
    { A("a", function() error("inner") end), P"inner$" },
    { A("a", function() return tbtrace.summary_scope("b", function(t, s) return t, s end) end), R("a/b", "a/b/") },
    { A(nil, function(t, s) return t, s end), R("summary", "summary/") },
    { A(big("s", 1 << 20), function(t) return #t end), R(1 << 20), why = "a 1 MiB name" },
    { A("x"), C(function(res)
        assert.are.equal("x", res[2])
        assert.are.equal("x/", res[3])
        getmetatable(res[1]).__close(res[1])
        getmetatable(res[1]).__close(res[1])
        assert.is_true(tbtrace.scalar("t", 1))
      end), why = "closing twice is harmless" },
    { A("x", function() tbtrace.scalar("", 1); tbtrace.scalar("y", 2) end), WR(function(_, evs)
        assert.are.equal("x/scalar_summary", value(evs[1]).tag)
        assert.are.equal("x/y", value(evs[2]).tag)
      end) },
  }
end
case("tbtrace.summary_scope", { ctx = "writer", rows = SCOPE_ROWS("tbtrace.summary_scope") })
case("tbtrace.experimental.summary_scope", { ctx = "writer", rows = SCOPE_ROWS("tbtrace.summary_scope") })

local RAW = "\x0a\x08\x0a\x01a\x15\x00\x00\x80\x3f"   -- Summary{value{tag: "a", simple_value: 1}}
case("tbtrace.experimental.write_raw_pb", { ctx = "writer", rows = {
  { A(), P"%(string or table expected, got no value%)$" },
  { A(5), P"%(string or table expected, got number%)$" },
  { A(true), P"%(string or table expected, got boolean%)$" },
  { A(RAW, 1.5), P"^bad argument #2 .*%(step must be an integer%)$" },
  { A(RAW, "1"), P"^bad argument #2 .*%(integer expected, got string%)$" },
  { A({ RAW, 5 }), P"%(string expected at element 2, got number%)$" },
  { A({ x = RAW }), P"%(summaries: unknown key 'x'%)$" },
  { A("\xff"), P"%(not a serialized Summary %(with UTF%-8 strings%)%)$" },
  { A("\x0a\x03\x0a\x01\xff"), P"%(not a serialized Summary %(with UTF%-8 strings%)%)$" },
  { A(big("\x0a")), P"%(not a serialized Summary", why = "16 MiB of field keys" },
  { A({ RAW, "\x0a" }), P"%(not a serialized Summary", why = "one bad message: none written" },
  { A(RAW), E"No step set via 'step' argument or tbtrace.experimental.set_step()", ctx = "nostep" },
  { A(RAW, 1), R(false), ctx = "none" },
  { A(RAW, 1), R(false), ctx = "off" },
  { A(RAW), E"SummaryWriter is already closed", ctx = "closed" },
  { A(""), W(function(ev) assert.are.same({}, wire.get(ev.summary, "value")) end), why = "an empty Summary" },
  { A({}), WR(function(res, evs) assert.are.same(pack(true), res); assert.are.equal(0, #evs) end) },
  { A(RAW, MINI), W(function(ev) assert.are.equal(MINI, ev.step); assert.are.equal(1.0, value(ev).simple_value) end) },
} })

-- GraphDef{node{name: "n", op: "Op"}}
local GRAPH = "\x0a\x07\x0a\x01n\x12\x02Op"
case("tbtrace.graph", { ctx = "writer", rows = {
  { A(), P"%(string expected, got no value%)$" },
  { A({}), P"%(string expected, got table%)$" },
  { A("\x0a\x7f"), P"%(not a serialized GraphDef %(with UTF%-8 strings%)%)$" },
  { A("\x0a\x03\x0a\x01\xff"), P"%(not a serialized GraphDef" },
  { A(GRAPH), R(false), ctx = "none" },
  { A(GRAPH), R(false), ctx = "off" },
  { A(GRAPH), R(true), ctx = "nostep", why = "a graph has no step" },
  { A(GRAPH), E"SummaryWriter is already closed", ctx = "closed" },
  { A(""), W(function(ev) assert.are.equal("", ev.graph_def) end) },
  { A(GRAPH), W(function(ev) assert.are.equal("n", wire.decode("GraphDef", ev.graph_def).node[1].name) end) },
} })

local LAYOUT = { { title = "t", charts = { { title = "c", tags = { "a", "b" } } } } }
case("tbtrace.custom_scalars", { ctx = "writer", rows = {
  { A(), P"%(table expected, got no value%)$" },
  { A({ 5 }), P"%(layout%[1%] must be a table, got number%)$" },
  { A({ x = 1 }), P"%(layout: unknown key 'x'%)$" },
  { A({ { bogus = 1 } }), P"%(layout%[1%]: unknown key 'bogus'%)$" },
  { A({ { title = 5 } }), P"%(layout%[1%]%.title must be a string, got number%)$" },
  { A({ { closed = 1 } }), P"%(layout%[1%]%.closed must be a boolean, got number%)$" },
  { A({ { charts = 5 } }), P"%(layout%[1%]%.charts must be a table, got number%)$" },
  { A({ { charts = { {} } } }), P"%(layout%[1%]%.charts%[1%] needs tags or margin%)$" },
  { A({ { charts = { { tags = { "a" }, margin = { { value = "v", lower = "l", upper = "u" } } } } } }),
    P"%(layout%[1%]%.charts%[1%] has both tags and margin%)$" },
  { A({ { charts = { { tags = { "" } } } } }), P"%(layout%[1%]%.charts%[1%]%.tags%[1%] must be a non%-empty UTF%-8 string without NUL bytes%)$" },
  { A({ { charts = { { tags = { 5 } } } } }), P"%(layout%[1%]%.charts%[1%]%.tags%[1%] must be a string, got number%)$" },
  { A({ { charts = { { tags = { "\xff" } } } } }), P"must be a non%-empty UTF%-8 string without NUL bytes%)$" },
  { A({ { charts = { { margin = { { value = "v", lower = "l" } } } } } }), P"%(layout%[1%]%.charts%[1%]%.margin%[1%]%.upper must be a non%-empty string%)$" },
  { A({ { charts = { { margin = { 5 } } } } }), P"%(layout%[1%]%.charts%[1%]%.margin%[1%] must be a table, got number%)$" },
  { A({ { charts = { { margin = { { value = "v", lower = "l", upper = "u", x = 1 } } } } } }), P"margin%[1%]: unknown key 'x'%)$" },
  { A(LAYOUT), R(false), ctx = "none" },
  { A(LAYOUT), R(false), ctx = "off" },
  { A(LAYOUT), R(true), ctx = "nostep", why = "the layout is written at step 0" },
  { A(LAYOUT), E"SummaryWriter is already closed", ctx = "closed" },
  { A({}), W(function(ev) assert.are.same({}, wire.get(wire.decode("Layout", value(ev).tensor.string_val[1]), "category")) end) },
  { LAZY(function()
      local tags = {}
      for i = 1, 5000 do tags[i] = "t" .. i end
      return { { title = "\u{1F600}", charts = { { tags = tags } } } }
    end), W(function(ev)
      local l = wire.decode("Layout", value(ev).tensor.string_val[1])
      assert.are.equal("\u{1F600}", l.category[1].title)
      assert.are.equal(5000, #l.category[1].chart[1].multiline.tag)
    end) },
} })

-- -------------------------------------------------- metamethods of the objects the module makes

local OBJECTS = {
  writer = function() return writer() end,
  default_scope = function() return writer():as_default(1) end,
  record_scope = function() return tbtrace.record_if(true) end,
  span_scope = function() return tbtrace.scope("x") end,
  reader = function() return select(4, tbtrace.records(tmpfile())) end,
  hparams_session = function() return (tbtrace.hparams.run({})) end,
  summary_scope = function() return (tbtrace.summary_scope("x")) end,
}

-- A metamethod called on a table rather than its object, then the object's own rows.
local function mm_rows(tname, own)
  local rows = {
    { A(), E(("bad argument #1 to '?' (%s expected, got table)"):format(tname)), self = function() return {} end },
  }
  return rows_with(rows, own)
end

case("writer.__gc", { rows = mm_rows("tbtrace.writer", {
  { A(), C(function(_, _, w)
      WMT.__gc(w)   -- twice
      assert.are.equal("attempt to use a collected writer", strip(select(2, pcall(w.closed, w))))
      assert.matches("^tbtrace%.writer %(collected%)", tostring(w))
    end) },
  { A(), R(), self = noop },
}) })
case("writer.__close", { rows = mm_rows("tbtrace.writer", {
  { A(), C(function(_, _, w) assert.is_true(w:closed()) end) },
  { A(), R(), self = collected_writer, why = "no error from __close" },
}) })
case("writer.__tostring", { rows = mm_rows("tbtrace.writer", {
  { A(), C(function(res) assert.matches("^tbtrace%.writer %(.*events%.out%.tfevents.*%) %(0x%x+%)$", res[1]) end) },
  { A(), C(function(res) assert.matches(", closed%) %(0x%x+%)$", res[1]) end), self = closed_writer },
  { A(), C(function(res) assert.matches("^tbtrace%.writer %(noop%)", res[1]) end), self = noop },
}) })
case("default_scope.__close", { rows = mm_rows("tbtrace.default_scope", {
  { A(), C(function() assert.is_nil(tbtrace.default_writer()) end) },
}) })
case("default_scope.__gc", { rows = mm_rows("tbtrace.default_scope", {
  { A(), C(function(_, _, s)
      -- collected unclosed: the defaults stay, and closing it later is a no-op
      assert.is_not_nil(tbtrace.default_writer())
      getmetatable(s).__close(s)
      assert.is_not_nil(tbtrace.default_writer())
    end) },
}) })
case("record_scope.__close", { rows = mm_rows("tbtrace.record_scope", { { A(), R() } }) })
case("record_scope.__gc", { rows = mm_rows("tbtrace.record_scope", { { A(), R() } }) })
case("span_scope.__close", { ctx = "trace", rows = {
  { A(), R(), why = "ends the innermost span; extra ends are ignored" },
  { A(), R(), self = function() return 5 end, why = "whatever it is called with" },
} })
case("span_scope.__tostring", { rows = {
  { A(), R("tbtrace.scope") },
} })
case("reader.__gc", { rows = mm_rows("tbtrace.reader", { { A(), R() } }) })
case("hparams_session.__close", { ctx = "writer", rows = mm_rows("tbtrace.hparams_session", {
  { A(), WR(function(_, evs)
      local ei = hp_data(evs[2], "_hparams_/session_end_info").session_end_info
      assert.are.equal(1, ei.status)
    end), why = "left normally: success" },
  { A("an error"), WR(function(_, evs)
      assert.are.equal(2, hp_data(evs[2], "_hparams_/session_end_info").session_end_info.status)
    end), why = "left by an error: failure" },
}) })
-- The session's methods live in its __index table: rows that call them directly.
local function session_call(method, ...)
  local args = pack(...)
  return function()
    local s = tbtrace.hparams.run({ a = 1 })
    local self = args.self or s
    return getmetatable(s).__index[method](self, unpack(args, 1, args.n))
  end
end
case("hparams_session.__index", { ctx = "writer", rows = {
  { nil, P"bad argument #2 to '%?' %(invalid option 'bogus'%)$", run = session_call("close", "bogus"), ctx = "none" },
  { nil, P"%(invalid option '5'%)$", run = session_call("close", 5), ctx = "none" },
  { nil, P"%(string expected, got table%)$", run = session_call("close", {}), ctx = "none" },
  { nil, P"%(tbtrace%.hparams_session expected, got table%)$",
    run = function() return getmetatable(tbtrace.hparams.run({})).__index.close({}) end, ctx = "none" },
  { nil, P"%(tbtrace%.hparams_session expected, got number%)$",
    run = function() return getmetatable(tbtrace.hparams.run({})).__index.closed(5) end, ctx = "none" },
  { nil, WR(function(res, evs)
      assert.are.same(pack(true, false, true), res)
      assert.are.equal(2, #evs)
      assert.are.equal(0, wire.get(hp_data(evs[2], "_hparams_/session_end_info").session_end_info, "status"))
    end), run = function()
      local s = tbtrace.hparams.run({})
      return s:close("unknown"), s:close(), s:closed()
    end, why = "only the first close writes" },
  { nil, C(function(res) assert.is_false(res[1]); assert.are.equal("SummaryWriter is already closed", strip(res[2])) end),
    run = function()
      local s = tbtrace.hparams.run({})
      tbtrace.default_writer():close()
      return pcall(s.close, s)
    end, why = "the writer closed under an open session" },
  { nil, R(false), run = session_call("close"), ctx = "none" },
} })
case("hparams_session.__tostring", { rows = mm_rows("tbtrace.hparams_session", {
  { A(), R("hparams session (open)") },
}) })
case("summary_scope.__close", { rows = mm_rows("tbtrace.summary_scope", {
  { A(), C(function() assert.are.equal("x", tbtrace.summary_scope("x", function(t) return t end)) end) },
}) })
case("reader.__close", { rows = mm_rows("tbtrace.reader", { { A(), R() } }) })

-- ------------------------------------------------------------------ the runner

-- The metatables of the objects, taken once.
local MTS = {}
for obj, make in pairs(OBJECTS) do
  local o = make()
  MTS[obj] = getmetatable(o)
  if MTS[obj].__close and obj ~= "span_scope" then MTS[obj].__close(o) end
end
reset()

local function args_of(row)
  local a = row[1]
  if a and a.lazy then return pack(a.lazy()) end
  return a or pack()
end

-- Calls f from C (through pcall), as a caller that has no name for it would: lauxlib then names
-- it by where the module keeps it ('tbtrace.scalar'), not by the caller's variable.
local function from_c(f, ...)
  local r = pack(pcall(f, ...))
  if not r[1] then error(r[2], 0) end
  return unpack(r, 2, r.n)
end

local function run_row(name, spec, row)
  local ctx = row.ctx or spec.ctx or "none"
  local fn, is_method, mm = target(name)
  local exp = row[2] or { kind = "ok" }
  local recv
  local function call()
    if row.run_before then row.run_before() end
    if row.run then return row.run() end
    local args = args_of(row)
    if not is_method then return from_c(fn, unpack(args, 1, args.n)) end
    local obj = name:match("^[%w_]+")
    if row.self then recv = row.self()
    elseif mm then recv = OBJECTS[obj]()
    else recv = writer() end
    if mm then return from_c(MTS[obj][mm], recv, unpack(args, 1, args.n)) end
    if row.direct then return from_c(METHODS[name:match(":(.*)")], recv, unpack(args, 1, args.n)) end
    return fn(recv, unpack(args, 1, args.n))
  end
  local out, evs = in_ctx(ctx, function()
    local r = pack(pcall(call))
    local inside
    if exp.kind == "check" and r[1] then
      local ok, err = pcall(exp.fn, pack(unpack(r, 2, r.n)), nil, recv)
      if not ok then inside = err end
    end
    return r, inside
  end)
  if not out[1] then error(out[2], 0) end   -- the context itself failed
  if out[3] ~= nil then error(out[3], 0) end  -- the check inside it failed
  return out[2], evs, recv
end

local function check_row(row, r, evs, recv)
  local exp = row[2] or { kind = "ok" }
  local ok = r[1]
  local res = pack(unpack(r, 2, r.n))
  if row.check_error then
    assert.is_false(ok, "expected an error")
    assert.are.equal(row.check_error, strip(res[1]))
    return
  end
  if exp.kind == "err" or exp.kind == "errp" then
    assert.is_false(ok, "expected an error, got " .. tostring(res[1]))
    if exp.kind == "err" then
      assert.are.equal(exp.msg, strip(res[1]))
    else
      assert.matches(exp.pat, strip(res[1]))
    end
    if evs then assert.are.equal(0, #evs, "misuse must write nothing") end
    return
  end
  assert.is_true(ok, tostring(res[1]))
  if exp.kind == "ret" then
    assert.are.same(exp.vals, res)
  elseif exp.kind == "fail" then
    assert.are.equal(3, res.n)
    assert.is_nil(res[1])
    assert.matches(exp.pat, res[2])
    if exp.errno then
      assert.are.equal(exp.errno, res[3])
    else
      assert.is_true(math.type(res[3]) == "integer" and res[3] > 0)
    end
  elseif exp.kind == "written" then
    exp.fn(res, evs, recv)
  end
end

local function label(row, i)
  if row.why then return ("row %d: %s"):format(i, row.why) end
  local e = row[2]
  local what = e and (e.msg or e.pat or e.kind) or (row.run and "scenario") or "?"
  return ("row %d: %s"):format(i, what:sub(1, 120))
end

local counts = {}
for _, name in ipairs(order) do
  local spec = cases[name]
  counts[name] = #spec.rows
  describe(name, function()
    for i, row in ipairs(spec.rows) do
      it(label(row, i), function()
        local r, evs, recv = run_row(name, spec, row)
        check_row(row, r, evs, recv)
      end)
    end
  end)
end

-- ------------------------------------------------------------------ coverage

describe("coverage", function()
  it("has rows for every public function", function()
    local missing, extra = {}, {}
    local function need(name)
      if not cases[name] or #cases[name].rows == 0 then missing[#missing + 1] = name end
    end
    local KNOWN_DATA = { _VERSION = "string", crc32c_impl = "string", experimental = "table", policy = "table",
      hparams = "table" }
    for k, v in pairs(tbtrace) do
      if type(v) == "function" then need("tbtrace." .. k)
      elseif KNOWN_DATA[k] ~= type(v) then extra[#extra + 1] = "tbtrace." .. k .. " (" .. type(v) .. ")" end
    end
    for _, sub in ipairs({ "experimental", "policy", "hparams" }) do
      for k, v in pairs(tbtrace[sub]) do
        if type(v) == "function" then need("tbtrace." .. sub .. "." .. k)
        else extra[#extra + 1] = "tbtrace." .. sub .. "." .. k .. " (" .. type(v) .. ")" end
      end
    end
    for k, v in pairs(METHODS) do
      if type(v) == "function" then need("writer:" .. k) end
    end
    for obj, mt in pairs(MTS) do
      for k, v in pairs(mt) do
        if type(v) == "function" and k ~= "__index" then need(obj .. "." .. k) end
      end
    end
    table.sort(missing)
    assert.are.same({}, missing, "functions without hostile rows")
    assert.are.same({}, extra, "module fields the coverage test does not know")
    -- and no entry names something that is not there
    for name in pairs(cases) do
      local ok = pcall(target, name)
      local obj, mm = name:match("^([%w_]+)%.(__%w+)$")
      if obj then ok = MTS[obj] ~= nil and MTS[obj][mm] ~= nil end
      assert.is_true(ok, name .. " is not a function of the module")
    end
  end)

  it("counts its rows", function()
    local total, lines = 0, {}
    for _, name in ipairs(order) do
      total = total + counts[name]
      lines[#lines + 1] = ("%-34s %3d"):format(name, counts[name])
    end
    if os.getenv("TBT_HOSTILE_COUNTS") then print("\n" .. table.concat(lines, "\n") .. ("\n%-34s %3d"):format("total", total)) end
    assert.is_true(total > 400)
  end)
end)

-- driver_spec.lua: an experiment driver as users write one, run by the tbtrace interpreter in its
-- own process: 1,000 scalars, a text and a histogram. Every record of the logdir is decoded with
-- the independent wire reader and compared field by field with what TensorBoard expects.
local wire = require "wire"
local fs = require "fs"

local exe = os.getenv("TBTRACE_EXE") or "build/tbtrace"
local DT_FLOAT, DT_DOUBLE, DT_STRING = 1, 2, 7

local driver = [[
local tbtrace = require "tbtrace"
local logdir = ...
local w = assert(tbtrace.create_file_writer(logdir))
w:as_default(0, function()
  for step = 1, 1000 do
    tbtrace.experimental.set_step(step)
    assert(tbtrace.scalar("loss", 1 / step))
  end
  assert(tbtrace.text("notes", "**1000** steps, no NaN", 1000))
  local weights = {}
  for i = 1, 600 do weights[i] = (i % 60) / 10 - 3 end
  assert(tbtrace.histogram("weights", weights, 1000))
end)
assert(w:close())
print(w:path())
]]

-- The float32 a double rounds to, as TensorBoard reads it back.
local function f32(x)
  return (string.unpack("<f", string.pack("<f", x)))
end

local function no_unknown(t)
  assert.are.same({}, t._unknown or {})
end

local function plugin_of(v, name)
  no_unknown(v)
  no_unknown(v.metadata)
  assert.are.equal(name, v.metadata.plugin_data.plugin_name)
  assert.is_true(v.metadata.plugin_data.content == nil or v.metadata.plugin_data.content == "")
end

describe("an experiment driver", function()
  it("writes 1,000 scalars, a text and a histogram that decode as TensorBoard expects", function()
    local dir = fs.tmpdir("driver")
    os.execute("mkdir -p " .. fs.quote(dir))
    local src = dir .. "/driver.lua"
    local f = assert(io.open(src, "w"))
    f:write(driver)
    f:close()
    local logdir = dir .. "/logs/run1"
    local t0 = os.time()
    local p = assert(io.popen(string.format("%s %s %s", exe, fs.quote(src), fs.quote(logdir))))
    local path = p:read("l")
    assert.is_true(p:close())
    local t1 = os.time()

    local files = fs.find(logdir, "events.out.tfevents.*")
    assert.are.same({ path }, files)
    local records = wire.read_records(wire.read_file(path))
    assert.are.equal(1 + 1000 + 2, #records)
    local evs = wire.read_event_file(path)

    -- The file_version record, as TensorFlow writes it first.
    no_unknown(evs[1])
    assert.are.equal("brain.Event:2", evs[1].file_version)
    assert.is_nil(evs[1].summary)
    assert.is_true(evs[1].wall_time >= t0 and evs[1].wall_time <= t1)

    local last_time = evs[1].wall_time
    for step = 1, 1000 do
      local ev = evs[1 + step]
      no_unknown(ev)
      assert.are.equal(step, ev.step)
      assert.is_true(ev.wall_time >= last_time and ev.wall_time <= t1 + 1)
      last_time = ev.wall_time
      assert.are.equal(1, #ev.summary.value)
      local v = ev.summary.value[1]
      assert.are.equal("loss", v.tag)
      plugin_of(v, "scalars")
      assert.are.equal(DT_FLOAT, v.tensor.dtype)
      local vals, shape = wire.tensor_values(v.tensor)
      assert.are.same({}, shape)
      assert.are.same({ f32(1 / step) }, vals)
    end

    local text = evs[1002]
    assert.are.equal(1000, text.step)
    local tv = text.summary.value[1]
    assert.are.equal("notes", tv.tag)
    plugin_of(tv, "text")
    assert.are.equal(DT_STRING, tv.tensor.dtype)
    local strings, tshape = wire.tensor_values(tv.tensor)
    assert.are.same({}, tshape)
    assert.are.same({ "**1000** steps, no NaN" }, strings)

    local hist = evs[1003]
    assert.are.equal(1000, hist.step)
    local hv = hist.summary.value[1]
    assert.are.equal("weights", hv.tag)
    plugin_of(hv, "histograms")
    assert.are.equal(DT_DOUBLE, hv.tensor.dtype)
    local rows, hshape = wire.tensor_values(hv.tensor)
    assert.are.same({ 30, 3 }, hshape)
    -- 30 equal buckets from the minimum to the maximum; every value counted once.
    local lo, hi = 0 / 10 - 3, 59 / 10 - 3   -- computed as the driver computes them
    local width = (hi - lo) / 30
    local total = 0
    for k = 0, 29 do
      local left, right, count = rows[3 * k + 1], rows[3 * k + 2], rows[3 * k + 3]
      assert.is_true(math.abs(left - (lo + k * width)) < 1e-9)
      assert.is_true(math.abs(right - (lo + (k + 1) * width)) < 1e-9)
      total = total + count
    end
    assert.are.equal(hi, rows[89])
    assert.are.equal(600, total)
  end)
end)

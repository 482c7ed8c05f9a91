-- summary_spec.lua: scalar, text, histogram, write and record_if from Lua, decoded from disk with
-- the independent wire reader and compared field by field with TensorBoard's v2 layout.
local tbtrace = require "tbtrace"
local wire = require "wire"
local fs = require "fs"
local logged = require "logged"

local DT_FLOAT, DT_DOUBLE, DT_INT32, DT_STRING, DT_INT64, DT_BOOL = 1, 2, 3, 7, 9, 10

local function written(fn, step) return logged.written(fn, step, "summary") end

local function only_value(ev)
  assert.are.equal(1, #ev.summary.value)
  local v = ev.summary.value[1]
  assert.are.same({}, v._unknown or {})
  return v
end

local function check_metadata(v, plugin, description)
  assert.are.equal(plugin, v.metadata.plugin_data.plugin_name)
  assert.is_true(v.metadata.plugin_data.content == nil or v.metadata.plugin_data.content == "")
  assert.is_true(v.metadata.display_name == nil or v.metadata.display_name == "")
  if description then
    assert.are.equal(description, v.metadata.summary_description)
  else
    assert.is_true(v.metadata.summary_description == nil or v.metadata.summary_description == "")
  end
end

describe("scalar", function()
  it("writes a DT_FLOAT scalar tensor with plugin 'scalars'", function()
    local t0 = os.time()
    local evs = written(function()
      assert.is_true(tbtrace.scalar("loss", 0.25, 42, "the loss"))
      assert.is_true(tbtrace.scalar("loss", 0.5))
      assert.is_true(tbtrace.scalar("inf", 1 / 0, 1))
      assert.is_true(tbtrace.scalar("int", 3, 2))
    end, 7)
    assert.are.equal(4, #evs)
    assert.are.equal(42, evs[1].step)
    assert.are.equal(7, evs[2].step)
    assert.is_true(evs[1].wall_time >= t0 - 1 and evs[1].wall_time <= os.time() + 1)
    local v = only_value(evs[1])
    assert.are.equal("loss", v.tag)
    assert.are.equal(DT_FLOAT, v.tensor.dtype)
    assert.is_not_nil(v.tensor.tensor_shape)
    assert.are.same({}, v.tensor.tensor_shape.dim or {})
    local vals, shape = wire.tensor_values(v.tensor)
    assert.are.same({}, shape)
    assert.are.same({ 0.25 }, vals)
    check_metadata(v, "scalars", "the loss")
    assert.are.same({ 1 / 0 }, (wire.tensor_values(only_value(evs[3]).tensor)))
    assert.are.same({ 3.0 }, (wire.tensor_values(only_value(evs[4]).tensor)))
  end)

  it("returns false without a default writer, and when recording is off", function()
    local w = assert(tbtrace.create_file_writer(fs.tmpdir("nodefault")))
    w:set_as_default()
    w:close()
    -- the closed default is dropped when as_default restores it: no writer at all afterwards
    local evs = written(function()
      assert.is_false(tbtrace.record_if(false, tbtrace.scalar, "x", 1))
      assert.is_true(tbtrace.should_record_summaries())
      assert.is_false(tbtrace.record_if(false, tbtrace.should_record_summaries))
    end, 1)
    assert.are.equal(0, #evs)
    assert.is_false(tbtrace.should_record_summaries())
    assert.is_false(tbtrace.scalar("x", 1, 1))
  end)

  it("raises TF's error when no step is known and a writer records", function()
    tbtrace.experimental.set_step(nil)
    written(function()
      assert.has_error(function() tbtrace.scalar("x", 1) end,
        "No step set via 'step' argument or tbtrace.experimental.set_step()")
      -- recording off: false, and no step error
      assert.is_false(tbtrace.record_if(false, tbtrace.scalar, "x", 1))
    end)
  end)
end)

describe("text", function()
  it("writes strings as a DT_STRING tensor with the nesting as shape", function()
    local evs = written(function()
      assert.is_true(tbtrace.text("notes", "hello **world**"))
      assert.is_true(tbtrace.text("grid", { { "a", "b\0c" }, { "", "d" }, { "e", "f" } }, 3, "grid"))
      assert.is_true(tbtrace.text("empty", {}))
    end, 1)
    assert.are.equal(3, #evs)
    local v = only_value(evs[1])
    assert.are.equal(DT_STRING, v.tensor.dtype)
    assert.are.same({ "hello **world**" }, v.tensor.string_val)
    assert.are.same({}, v.tensor.tensor_shape.dim or {})
    check_metadata(v, "text")
    v = only_value(evs[2])
    assert.are.equal(3, evs[2].step)
    local vals, shape = wire.tensor_values(v.tensor)
    assert.are.same({ 3, 2 }, shape)
    assert.are.same({ "a", "b\0c", "", "d", "e", "f" }, vals)
    check_metadata(v, "text", "grid")
    local _, eshape = wire.tensor_values(only_value(evs[3]).tensor)
    assert.are.same({ 0 }, eshape)
  end)
end)

describe("histogram", function()
  it("writes a DT_DOUBLE [k,3] tensor with TensorBoard's buckets", function()
    local evs = written(function()
      assert.is_true(tbtrace.histogram("w", { 0, 1, 2, 3 }, nil, 2))
      assert.is_true(tbtrace.histogram("same", { { 5, 5 }, { 5, 5 } }, nil, 3))
      assert.is_true(tbtrace.histogram("empty", {}))
      assert.is_true(tbtrace.histogram("one", 4.5, 9, nil, "d"))
      assert.is_true(tbtrace.histogram("zero", { 1, 2 }, nil, 0))
    end, 2)
    local v = only_value(evs[1])
    assert.are.equal(DT_DOUBLE, v.tensor.dtype)
    local vals, shape = wire.tensor_values(v.tensor)
    assert.are.same({ 2, 3 }, shape)
    assert.are.same({ 0, 1.5, 2, 1.5, 3, 2 }, vals)
    check_metadata(v, "histograms")
    vals, shape = wire.tensor_values(only_value(evs[2]).tensor)
    assert.are.same({ 3, 3 }, shape)
    assert.are.same({ 5, 5, 0, 5, 5, 0, 5, 5, 4 }, vals)
    vals, shape = wire.tensor_values(only_value(evs[3]).tensor)
    assert.are.same({ 30, 3 }, shape)
    for i = 1, 90 do assert.are.equal(0, vals[i]) end
    vals, shape = wire.tensor_values(only_value(evs[4]).tensor)
    assert.are.same({ 30, 3 }, shape)
    assert.are.equal(1, vals[90])
    assert.are.equal(9, evs[4].step)
    check_metadata(only_value(evs[4]), "histograms", "d")
    vals, shape = wire.tensor_values(only_value(evs[5]).tensor)
    assert.are.same({ 0, 3 }, shape)
    assert.are.same({}, vals)
  end)

  it("counts every value once, edges from min to max", function()
    local data = {}
    for i = 1, 1000 do data[i] = math.sin(i) * 10 end
    local evs = written(function() tbtrace.histogram("sin", data) end, 1)
    local vals = wire.tensor_values(only_value(evs[1]).tensor)
    local total, lo, hi = 0, math.huge, -math.huge
    for _, x in ipairs(data) do lo = math.min(lo, x); hi = math.max(hi, x) end
    for r = 0, 29 do
      total = total + vals[r * 3 + 3]
      if r > 0 then assert.are.equal(vals[(r - 1) * 3 + 2], vals[r * 3 + 1]) end
    end
    assert.are.equal(1000, total)
    assert.are.equal(lo, vals[1])
    assert.are.equal(hi, vals[89])
  end)
end)

describe("write", function()
  it("writes typed tensors with explicit shapes and metadata", function()
    local evs = written(function()
      assert.is_true(tbtrace.write("i64", { dtype = "int64", shape = { 2, 2 }, values = { 1, -2, 3, math.mininteger } }, 5,
        { plugin_name = "custom", content = "\1\2", display_name = "Custom", description = "desc" }))
      assert.is_true(tbtrace.write("f64", 2.5))
      assert.is_true(tbtrace.write("strs", { "x", "yz" }))
      assert.is_true(tbtrace.write("nested", { { 1, 2, 3 }, { 4, 5, 6 } }))
      assert.is_true(tbtrace.write("i32", { dtype = "int32", values = { { 1 }, { 2 } } }))
      assert.is_true(tbtrace.write("b", { dtype = "bool", values = { true, false } }))
    end, 1)
    local v = only_value(evs[1])
    assert.are.equal(5, evs[1].step)
    assert.are.equal(DT_INT64, v.tensor.dtype)
    local vals, shape = wire.tensor_values(v.tensor)
    assert.are.same({ 2, 2 }, shape)
    assert.are.same({ 1, -2, 3, math.mininteger }, vals)
    assert.are.equal("custom", v.metadata.plugin_data.plugin_name)
    assert.are.equal("\1\2", v.metadata.plugin_data.content)
    assert.are.equal("Custom", v.metadata.display_name)
    assert.are.equal("desc", v.metadata.summary_description)
    v = only_value(evs[2])
    assert.are.equal(DT_DOUBLE, v.tensor.dtype)
    assert.is_nil(v.metadata)
    assert.are.same({ 2.5 }, (wire.tensor_values(v.tensor)))
    v = only_value(evs[3])
    assert.are.equal(DT_STRING, v.tensor.dtype)
    assert.are.same({ "x", "yz" }, v.tensor.string_val)
    vals, shape = wire.tensor_values(only_value(evs[4]).tensor)
    assert.are.same({ 2, 3 }, shape)
    assert.are.same({ 1, 2, 3, 4, 5, 6 }, vals)
    vals, shape = wire.tensor_values(only_value(evs[5]).tensor)
    assert.are.equal(DT_INT32, only_value(evs[5]).tensor.dtype)
    assert.are.same({ 2, 1 }, shape)
    assert.are.same({ 1, 2 }, vals)
    assert.are.equal(DT_BOOL, only_value(evs[6]).tensor.dtype)
  end)
end)

-- string.unpack's values without the trailing position.
local function fields(fmt, s, pos)
  local t = { string.unpack(fmt, s, pos) }
  t[#t] = nil
  return t
end

describe("image and audio", function()
  it("writes images as [2+k] strings: width, height, then PNGs", function()
    local img = { { { 255, 0, 0 }, { 0, 255, 0 }, { 0, 0, 255 } }, { { 1, 2, 3 }, { 4, 5, 6 }, { 7, 8, 9 } } }
    local evs = written(function()
      assert.is_true(tbtrace.image("one", img, 3, nil, "d"))
      assert.is_true(tbtrace.image("batch", { img, img, img, img }, 4, 2))
      assert.is_true(tbtrace.image("raw", { height = 1, width = 2, channels = 1, pixels = "\0\255" }))
    end, 1)
    local v = only_value(evs[1])
    assert.are.equal(3, evs[1].step)
    check_metadata(v, "images", "d")
    local vals, shape = wire.tensor_values(v.tensor)
    assert.are.same({ 3 }, shape)
    assert.are.equal("3", vals[1])   -- width
    assert.are.equal("2", vals[2])   -- height
    local png = vals[3]
    assert.are.equal("\137PNG\r\n\26\n", png:sub(1, 8))
    assert.are.equal("IHDR", png:sub(13, 16))
    assert.are.same({ 3, 2, 8, 2 }, fields(">I4I4BB", png, 17))   -- RGB, 8 bits
    local _, bshape = wire.tensor_values(only_value(evs[2]).tensor)
    assert.are.same({ 4 }, bshape)   -- max_outputs = 2
    local rvals = wire.tensor_values(only_value(evs[3]).tensor)
    assert.are.same({ "2", "1" }, { rvals[1], rvals[2] })
    assert.are.same({ 2, 1, 8, 0 }, fields(">I4I4BB", rvals[3], 17))   -- grey
  end)

  it("writes audio as [k,2] (WAV, label) with the WAV encoding in the plugin content", function()
    local clip = {}
    for i = 1, 100 do clip[i] = { math.sin(i / 5), -1 } end
    local evs = written(function()
      assert.is_true(tbtrace.audio("snd", { clip, clip }, 16000, 2))
    end, 1)
    local v = only_value(evs[1])
    assert.are.equal("audio", v.metadata.plugin_data.plugin_name)
    assert.are.equal("\16\11", v.metadata.plugin_data.content)   -- AudioPluginData{encoding: WAV}
    local vals, shape = wire.tensor_values(v.tensor)
    assert.are.same({ 2, 2 }, shape)
    assert.are.equal("", vals[2])
    local wav = vals[1]
    assert.are.equal("RIFF", wav:sub(1, 4))
    assert.are.same({ 1, 2, 16000, 64000, 4, 16 }, fields("<I2I2I4I4I2I2", wav, 21))
    assert.are.equal(400, string.unpack("<I4", wav, 41))
    assert.are.equal(-32768, string.unpack("<i2", wav, 47))   -- second channel of frame 1: TF's -1
  end)

  it("rejects bad media", function()
    written(function()
      assert.has_error(function() tbtrace.image("x", { { { 300 } } }) end)
      local ok, err = pcall(tbtrace.image, "x", { { { 1, 2, 3, 4, 5 } } })
      assert.is_false(ok)
      assert.matches("bad argument #2 to '[%w.]*image' %(channels must be 1, 2, 3 or 4%)", err)
      assert.has_error(function() tbtrace.image("x", { 1, 2 }) end)
      assert.has_error(function() tbtrace.image("x", { height = 2, width = 2, channels = 3, pixels = "abc" }) end)
      assert.has_error(function() tbtrace.audio("x", { { 0 } }, 0) end)
      assert.has_error(function() tbtrace.audio("x", { { 0 } }, 8000, 1, 3, "mp3") end, "Unknown encoding: 'mp3'")
      assert.has_error(function() tbtrace.audio("x", { { 0 / 0 } }, 8000) end)
    end, 1)
  end)
end)

describe("record_if", function()
  it("takes a function condition evaluated at each summary", function()
    local n = 0
    local evs = written(function()
      tbtrace.record_if(function() n = n + 1; return n % 2 == 1 end, function()
        for i = 1, 6 do tbtrace.scalar("c", i, i) end
      end)
      assert.is_true(tbtrace.scalar("after", 1, 100))
    end, 1)
    assert.are.equal(4, #evs)
    assert.are.same({ 1, 3, 5, 100 }, { evs[1].step, evs[2].step, evs[3].step, evs[4].step })
  end)

  it("returns a to-be-closed scope without fn, and restores on error", function()
    written(function()
      do
        local _ <close> = tbtrace.record_if(false)
        assert.is_false(tbtrace.should_record_summaries())
      end
      assert.is_true(tbtrace.should_record_summaries())
      assert.has_error(function() tbtrace.record_if(false, error, "inner") end, "inner")
      assert.is_true(tbtrace.should_record_summaries())
    end, 1)
  end)

  it("survives a condition that closes its own scope and collects garbage in a coroutine", function()
    local weak = setmetatable({}, { __mode = "k" })
    local alive
    local evs = written(function()
      local scope
      scope = tbtrace.record_if(function()
        weak[coroutine.running()] = true   -- the condition's own thread
        getmetatable(scope).__close(scope)
        coroutine.wrap(function() collectgarbage(); collectgarbage() end)()
        alive = next(weak) ~= nil          -- still anchored while it runs
        return true
      end)
      assert.is_true(tbtrace.scalar("x", 1, 1))
      assert.is_true(alive)
      scope = nil
      collectgarbage()
      assert.is_true(tbtrace.should_record_summaries())   -- back to the condition before it
      assert.is_true(tbtrace.scalar("y", 2, 2))
    end, 1)
    assert.are.same({ "x", "y" }, { evs[1].summary.value[1].tag, evs[2].summary.value[1].tag })
  end)
end)

describe("bad arguments", function()
  local cases = {
    { "scalar", { nil, 1 }, "bad argument #1 to '[%w.]*scalar' %(string expected, got nil%)" },
    { "scalar", { "", 1 }, "tag cannot be empty" },
    { "scalar", { "a\0b", 1 }, "NUL" },
    { "scalar", { "\xff", 1, 1 }, "not valid UTF%-8" },
    { "scalar", { "x", nil }, "bad argument #2 to '[%w.]*scalar' %(number expected, got nil%)" },
    { "scalar", { "x", "1" }, "number expected, got string" },
    { "scalar", { "x", 1, 1.5 }, "step must be an integer" },
    { "scalar", { "x", 1, "s" }, "integer expected, got string" },
    { "scalar", { "x", 1, 1, {} }, "string expected, got table" },
    { "text", { "x", 5 }, "string or table expected" },
    { "text", { "x", { "a", 1 } }, "string expected at element 2" },
    { "text", { "x", { { "a" }, { "b", "c" } } }, "ragged" },
    { "histogram", { "x", "s" }, "number or table expected" },
    { "histogram", { "x", { 1, "a" } }, "number expected at element 2" },
    { "histogram", { "x", { 1, 0 / 0 } }, "finite" },
    { "histogram", { "x", { 1, 1 / 0 } }, "finite" },
    { "histogram", { "x", { 1 }, 1, -1 }, "buckets" },
    { "histogram", { "x", { -1.7e308, 1.7e308 }, 1 }, "range too large" },
    { "write", { "x", nil }, "tensor expected" },
    { "write", { "x", { dtype = "nope", values = {} } }, "unknown dtype 'nope'" },
    { "write", { "x", { dtype = "int8", values = { 300 } } }, "out of range" },
    { "write", { "x", { dtype = "int32", values = { 1.5 } } }, "integer expected" },
    { "write", { "x", { dtype = "int64", shape = { 3 }, values = { 1, 2 } } }, "shape holds 3 elements, values has 2" },
    { "write", { "x", 1, 1, 5 }, "string or table expected" },
    { "write", { "x", 1, 1, "\xff\xff\xff" }, "not a SummaryMetadata" },
    { "record_if", { 5 }, "boolean or function expected" },
  }
  for _, c in ipairs(cases) do
    it(c[1] .. " rejects " .. c[3], function()
      written(function()
        local ok, err = pcall(tbtrace[c[1]], table.unpack(c[2], 1, 4))
        assert.is_false(ok)
        assert.matches(c[3], err)
      end, 1)
    end)
  end
end)

-- wire_spec.lua: the independent reader itself (spec/support/wire.lua), checked against published
-- CRC-32C vectors and byte strings built by hand here, so the writer specs can rely on it.
local wire = require "wire"
local fs = require "fs"

local pack = string.pack

-- Test-side encoders for building messages; key cases below also use literal bytes.
local function varint(n)
  local out = {}
  repeat
    local b = n & 0x7F
    n = n >> 7 -- logical shift: negative numbers take ten bytes
    out[#out + 1] = string.char(n ~= 0 and (b | 0x80) or b)
  until n == 0
  return table.concat(out)
end
local function key(field, wt) return varint(field << 3 | wt) end
local function vfield(field, n) return key(field, 0) .. varint(n) end
local function lfield(field, s) return key(field, 2) .. varint(#s) .. s end
local function dfield(field, x) return key(field, 1) .. pack("<d", x) end
local function ffield(field, x) return key(field, 5) .. pack("<f", x) end

local function unhex(h)
  return (h:gsub("%s", ""):gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end))
end

local function flip(s, pos0) -- flip one bit of the byte at 0-based offset pos0
  local p = pos0 + 1
  return s:sub(1, p - 1) .. string.char(s:byte(p) ~ 0x01) .. s:sub(p + 1)
end

local function err_of(fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, "expected an error")
  return tostring(err)
end

describe("crc32c", function()
  it("matches the published check value and the RFC 3720 vectors", function()
    assert.are.equal(0xE3069283, wire.crc32c("123456789"))
    assert.are.equal(0x8A9136AA, wire.crc32c(string.rep("\0", 32)))
    assert.are.equal(0x62A8AB43, wire.crc32c(string.rep("\xff", 32)))
    local up, down = {}, {}
    for i = 0, 31 do up[#up + 1] = string.char(i); down[#down + 1] = string.char(31 - i) end
    assert.are.equal(0x46DD794E, wire.crc32c(table.concat(up)))
    assert.are.equal(0x113FDB5C, wire.crc32c(table.concat(down)))
    assert.are.equal(0, wire.crc32c(""))
  end)

  it("continues from a previous crc, at any split", function()
    local s = "123456789"
    for cut = 0, #s do
      assert.are.equal(0xE3069283, wire.crc32c(s:sub(cut + 1), wire.crc32c(s:sub(1, cut))))
    end
    -- long input crosses the eight-byte fast path and its tail
    local parts = {}
    for i = 1, 1003 do parts[i] = string.char((i * 7) % 256) end
    local long = table.concat(parts)
    local c = 0
    for i = 1, #long do c = wire.crc32c(long:sub(i, i), c) end
    assert.are.equal(c, wire.crc32c(long))
  end)
end)

describe("mask", function()
  it("rotates right by 15 and adds 0xa282ead8 modulo 2^32", function()
    assert.are.equal(0xC78AB0E5, wire.mask(0xE3069283))
    assert.are.equal(0xa282ead8, wire.mask(0))
    assert.are.equal((0x00020000 + 0xa282ead8) & 0xFFFFFFFF, wire.mask(1))
  end)

  it("round-trips through unmask and stays within 32 bits", function()
    for _, c in ipairs({ 0, 1, 0x7FFF, 0x8000, 0x80000000, 0xFFFFFFFF, 0xE3069283, 0x5D1E0F3C }) do
      local m = wire.mask(c)
      assert.is_true(m >= 0 and m <= 0xFFFFFFFF)
      assert.are.equal(c, wire.unmask(m))
      assert.are.equal(m, wire.mask(wire.unmask(m)))
    end
  end)
end)

describe("TFRecord framing", function()
  -- Records computed independently of wire.lua: data "hello", then empty data, then "hello".
  local hello = unhex("0500000000000000 eab2043e 68656c6c6f bb1f1c19")
  local empty = unhex("0000000000000000 29039807 d8ea82a2")
  local file = hello .. empty .. hello -- records at offsets 0, 21, 37

  it("parses well-formed records with their offsets", function()
    local recs = wire.read_records(file)
    assert.are.same({
      { offset = 0, data = "hello" }, { offset = 21, data = "" }, { offset = 37, data = "hello" },
    }, recs)
    assert.are.same({}, wire.read_records(""))
    local lrecs, err = wire.read_records_lenient(file)
    assert.are.equal(3, #lrecs)
    assert.is_nil(err)
  end)

  it("reports a flipped data byte at the record's offset", function()
    local bad = flip(file, 37 + 12 + 2)
    assert.matches("^tfrecord: record at offset 37: data checksum mismatch", err_of(wire.read_records, bad))
    local recs, err = wire.read_records_lenient(bad)
    assert.are.equal(2, #recs)
    assert.are.equal(37, err.offset)
    assert.matches("data checksum mismatch", err.reason)
    -- the stored data crc itself damaged
    assert.matches("record at offset 0: data checksum", err_of(wire.read_records, flip(file, 17)))
  end)

  it("reports a flipped length byte or length crc byte", function()
    assert.matches("^tfrecord: record at offset 21: length checksum mismatch",
      err_of(wire.read_records, flip(file, 21)))
    assert.matches("record at offset 0: length checksum mismatch", err_of(wire.read_records, flip(file, 7)))
    assert.matches("record at offset 21: length checksum mismatch", err_of(wire.read_records, flip(file, 29)))
    local recs, err = wire.read_records_lenient(flip(file, 21))
    assert.are.same({ { offset = 0, data = "hello" } }, recs)
    assert.are.equal(21, err.offset)
  end)

  it("reports truncation in the data, the footer and the header", function()
    assert.matches("record at offset 37: truncated record", err_of(wire.read_records, file:sub(1, -2)))
    assert.matches("record at offset 37: truncated record", err_of(wire.read_records, file:sub(1, 37 + 14)))
    assert.matches("record at offset 37: truncated header: 5 of 12 bytes",
      err_of(wire.read_records, file:sub(1, 37 + 5)))
    local recs, err = wire.read_records_lenient(file:sub(1, -2))
    assert.are.equal(2, #recs)
    assert.are.same({ 37, "truncated record" }, { err.offset, err.reason:match("^truncated record") })
  end)

  it("reports a huge length whose checksum is right as truncation", function()
    local len = pack("<i8", -2) -- 2^64 - 2
    local rec = len .. pack("<I4", wire.mask(wire.crc32c(len))) .. "xxxx"
    assert.matches("record at offset 0: truncated record: length 18446744073709551614",
      err_of(wire.read_records, rec))
  end)
end)

describe("decode_raw", function()
  it("lists fields with wire types, values and offsets", function()
    local s = unhex("08 96 01") .. unhex("10 ff ff ff ff ff ff ff ff ff 01") .. unhex("1a 03 61 62 63")
      .. unhex("21 0102030405060708") .. unhex("2d 01020304")
    assert.are.same({
      { field = 1, wire = 0, value = 150, offset = 0 },
      { field = 2, wire = 0, value = -1, offset = 3 },
      { field = 3, wire = 2, value = "abc", offset = 14 },
      { field = 4, wire = 1, value = "\1\2\3\4\5\6\7\8", offset = 19 },
      { field = 5, wire = 5, value = "\1\2\3\4", offset = 28 },
    }, wire.decode_raw(s))
    assert.are.same({}, wire.decode_raw(""))
    -- large field numbers use multi-byte keys
    assert.are.same({ { field = 99, wire = 0, value = 5, offset = 0 } }, wire.decode_raw(unhex("98 06 05")))
  end)

  it("raises on malformed input, naming the offset", function()
    assert.matches("truncated varint.*offset 3", err_of(wire.decode_raw, unhex("08 01 08 96")))
    assert.matches("truncated length%-delimited field 1.*length 5, 2 left",
      err_of(wire.decode_raw, unhex("0a 05 61 62")))
    assert.matches("truncated fixed64", err_of(wire.decode_raw, unhex("09 01 02")))
    assert.matches("truncated fixed32", err_of(wire.decode_raw, unhex("0d 01 02 03")))
    assert.matches("unsupported wire type 3", err_of(wire.decode_raw, unhex("0b")))
    assert.matches("unsupported wire type 7", err_of(wire.decode_raw, unhex("0f 00")))
    assert.matches("bad field number 0", err_of(wire.decode_raw, unhex("00 01")))
    assert.matches("overflows 64 bits", err_of(wire.decode_raw, unhex("08 ff ff ff ff ff ff ff ff ff 02")))
    assert.matches("overflows 64 bits", err_of(wire.decode_raw, unhex("08 80 80 80 80 80 80 80 80 80 80 01")))
  end)
end)

describe("decode", function()
  it("decodes an Event: double, negative int64, string", function()
    local s = unhex("09 000000000000f83f") .. unhex("10 ff ff ff ff ff ff ff ff ff 01")
      .. lfield(3, "brain.Event:2")
    local ev = wire.decode("tensorflow.Event", s)
    assert.are.same({ wall_time = 1.5, step = -1, file_version = "brain.Event:2" }, ev)
    assert.are.equal("float", math.type(ev.wall_time))
    assert.are.equal("integer", math.type(ev.step))
    assert.are.same(ev, wire.decode("Event", s))
    assert.are.equal(300, wire.decode("Event", unhex("10 ac 02")).step)
    assert.are.equal(math.mininteger, wire.decode("Event", unhex("10 80 80 80 80 80 80 80 80 80 01")).step)
    assert.are.equal(math.maxinteger, wire.decode("Event", unhex("10 ff ff ff ff ff ff ff ff 7f")).step)
  end)

  it("decodes nested messages and floats", function()
    local value = lfield(1, "loss") .. unhex("15 0000803e") -- simple_value 0.25
    local meta = lfield(1, lfield(1, "scalars")) .. lfield(3, "the loss")
    local s = dfield(1, 2.25) .. vfield(2, 7) .. lfield(5, lfield(1, value .. lfield(9, meta)) .. lfield(1, ffield(2, -1 / 0)))
    local ev = wire.decode("tensorflow.Event", s)
    assert.are.same({
      wall_time = 2.25, step = 7,
      summary = { value = {
        { tag = "loss", simple_value = 0.25,
          metadata = { plugin_data = { plugin_name = "scalars" }, summary_description = "the loss" } },
        { simple_value = -1 / 0 },
      } },
    }, ev)
    -- a float keeps float32 precision
    local v = wire.decode("Summary.Value", ffield(2, 0.1)).simple_value
    assert.are.equal(string.unpack("<f", pack("<f", 0.1)), v)
    assert.are_not.equal(0.1, v)
  end)

  it("keeps an empty sub-message as present", function()
    local t = wire.decode("TensorProto", vfield(1, 1) .. lfield(2, ""))
    assert.are.same({ dtype = 1, tensor_shape = {} }, t)
    assert.is_nil(wire.decode("TensorProto", vfield(1, 1)).tensor_shape)
  end)

  it("accepts packed and unpacked repeated scalars, in wire order", function()
    local h = wire.decode("HistogramProto",
      lfield(6, pack("<dd", 1, 2.5)) .. dfield(6, 3) .. dfield(7, 4) .. dfield(7, 5) .. lfield(7, pack("<d", 6)))
    assert.are.same({ bucket_limit = { 1, 2.5, 3 }, bucket = { 4, 5, 6 } }, h)
    local t = wire.decode("TensorProto",
      lfield(7, varint(1) .. unhex("fe ff ff ff ff ff ff ff ff 01") .. varint(300)) .. vfield(7, 5)
      .. lfield(10, unhex("80 80 80 80 80 80 80 80 80 01") .. varint(-2))
      .. lfield(11, "\1\0\1") .. vfield(11, 0)
      .. lfield(5, pack("<ff", 0.5, -2)) .. ffield(5, 8)
      .. lfield(16, varint(0xFFFFFFFF)) .. lfield(17, varint(-1))
      .. lfield(8, "a") .. lfield(8, "") .. lfield(8, "b\0c"))
    assert.are.same({
      int_val = { 1, -2, 300, 5 },
      int64_val = { math.mininteger, -2 },
      bool_val = { true, false, true, false },
      float_val = { 0.5, -2, 8 },
      uint32_val = { 4294967295 },
      uint64_val = { -1 }, -- uint64 beyond 2^63 reads as two's complement
      string_val = { "a", "", "b\0c" },
    }, t)
    assert.matches("not a multiple of 8", err_of(wire.decode, "HistogramProto", lfield(6, "123")))
    assert.matches("truncated varint", err_of(wire.decode, "TensorProto", lfield(7, "\x80")))
  end)

  it("narrows int32, uint32 and enums as protobuf does", function()
    assert.are.same({ producer = -1, min_consumer = 5, bad_consumers = { -3, 4 } },
      wire.decode("VersionDef", vfield(1, -1) .. vfield(2, 5) .. vfield(3, -3) .. lfield(3, varint(4))))
    assert.are.equal(4294967295, wire.decode("NodeExecStats", vfield(10, 0xFFFFFFFF)).thread_id)
    assert.are.equal(7, wire.decode("TensorProto", vfield(1, 7)).dtype)
    assert.are.equal(wire.enums.DataType.DT_STRING, 7)
    assert.is_true(wire.decode("TensorShapeProto", vfield(3, 1)).unknown_rank)
  end)

  it("decodes maps keyed by their keys, with defaults for missing parts", function()
    local d = wire.decode("DeviceStepStats", lfield(1, "/cpu:0")
      .. lfield(3, vfield(1, 7) .. lfield(2, "main")) .. lfield(3, vfield(1, 8) .. lfield(2, "w"))
      .. lfield(3, vfield(1, 9)) .. lfield(3, lfield(2, "zero"))
      .. lfield(3, lfield(2, "w2") .. vfield(1, 8))) -- value before key; repeated key: last wins
    assert.are.same({ device = "/cpu:0", thread_names = { [7] = "main", [8] = "w2", [9] = "", [0] = "zero" } }, d)
    local p = wire.decode("tensorflow.profiler.XPlane", vfield(1, 3) .. lfield(2, "/host:CPU")
      .. lfield(4, vfield(1, 1) .. lfield(2, vfield(1, 1) .. lfield(2, "op")))
      .. lfield(4, vfield(1, -5) .. lfield(2, ""))
      .. lfield(5, vfield(1, 2) .. lfield(2, vfield(1, 2) .. lfield(2, "bytes")))
      .. lfield(6, vfield(1, 2) .. vfield(3, 10)))
    assert.are.same({
      id = 3, name = "/host:CPU",
      event_metadata = { [1] = { id = 1, name = "op" }, [-5] = {} },
      stat_metadata = { [2] = { id = 2, name = "bytes" } },
      stats = { { metadata_id = 2, uint64_value = 10 } },
    }, p)
    local n = wire.decode("NodeDef", lfield(1, "add") .. lfield(2, "AddV2") .. lfield(3, "x") .. lfield(3, "y")
      .. lfield(5, lfield(1, "T") .. lfield(2, vfield(6, 1)))
      .. lfield(5, lfield(1, "shape") .. lfield(2, lfield(7, lfield(2, vfield(1, 2)))))
      .. lfield(5, lfield(1, "l") .. lfield(2, lfield(1, lfield(3, varint(1) .. varint(-1))))))
    assert.are.same({
      name = "add", op = "AddV2", input = { "x", "y" },
      attr = { T = { type = 1 }, shape = { shape = { dim = { { size = 2 } } } }, l = { list = { i = { 1, -1 } } } },
    }, n)
  end)

  it("keeps unknown fields and wrong wire types in _unknown", function()
    local ev = wire.decode("Event", vfield(2, 1) .. unhex("98 06 05") .. lfield(2, "xy") .. lfield(100, "z"))
    assert.are.equal(1, ev.step)
    assert.are.same({
      { field = 99, wire = 0, value = 5, offset = 2 },
      { field = 2, wire = 2, value = "xy", offset = 5, name = "step" },
      { field = 100, wire = 2, value = "z", offset = 9 },
    }, ev._unknown)
    assert.is_nil(wire.decode("Event", vfield(2, 1))._unknown)
    -- nested: the unknown field belongs to the message it appeared in
    local t = wire.decode("TensorProto", lfield(2, lfield(2, vfield(1, 4) .. vfield(3, 1)) .. vfield(9, 2)))
    -- offsets count from the start of the bytes given to decode
    assert.is_nil(t._unknown)
    assert.are.same({ { field = 9, wire = 0, value = 2, offset = 8 } }, t.tensor_shape._unknown)
    assert.are.same({ size = 4, _unknown = { { field = 3, wire = 0, value = 1, offset = 6 } } },
      t.tensor_shape.dim[1])
    -- a GraphDef field this schema leaves out (library = 2)
    assert.are.same({ { field = 2, wire = 2, value = "", offset = 0 } }, wire.decode("GraphDef", lfield(2, ""))._unknown)
    -- in a map entry, marked with the map's name
    local d = wire.decode("DeviceStepStats", lfield(3, vfield(1, 1) .. lfield(2, "a") .. vfield(3, 9)))
    assert.are.same({ [1] = "a" }, d.thread_names)
    assert.are.same({ { field = 3, wire = 0, value = 9, offset = 7, in_map = "thread_names" } }, d._unknown)
  end)

  it("notes repeated singular fields and oneof conflicts in _duplicates", function()
    local ev = wire.decode("Event", vfield(2, 1) .. vfield(2, 2))
    assert.are.same({ step = 2, _duplicates = { "step" } }, ev)
    ev = wire.decode("Event", lfield(3, "brain.Event:2") .. lfield(5, ""))
    assert.are.same({ summary = {}, _duplicates = { "file_version" } }, ev)
    assert.is_nil(wire.decode("Event", lfield(3, "v") .. vfield(2, 1))._duplicates)
    -- sub-messages of a singular field merge, as protobuf parsers do
    local t = wire.decode("TensorProto", lfield(2, lfield(2, vfield(1, 3))) .. lfield(2, lfield(2, vfield(1, 4))))
    assert.are.same({ { size = 3 }, { size = 4 } }, t.tensor_shape.dim)
    assert.are.same({ "tensor_shape" }, t._duplicates)
    local x = wire.decode("XEvent", vfield(1, 1) .. vfield(2, 100) .. vfield(5, 3))
    assert.are.same({ metadata_id = 1, num_occurrences = 3, _duplicates = { "offset_ps" } }, x)
  end)

  it("raises on malformed nested bytes, naming the message", function()
    assert.matches("truncated varint in tensorflow.TensorShapeProto.Dim at offset 5",
      err_of(wire.decode, "TensorProto", lfield(2, lfield(2, "\x08"))))
    assert.matches("unknown schema 'Nope'", err_of(wire.decode, "Nope", ""))
  end)

  it("has a schema for every message of proto/*.proto, by full and short name", function()
    local names = {}
    for _, n in ipairs(wire.schema_names()) do names[n] = true end
    local tf = { "Event", "Summary", "Summary.Value", "Summary.Image", "Summary.Audio", "SummaryMetadata",
      "SummaryMetadata.PluginData", "HistogramProto", "TensorProto", "TensorShapeProto", "TensorShapeProto.Dim",
      "SourceMetadata", "TaggedRunMetadata", "LogMessage", "SessionLog", "RunMetadata",
      "RunMetadata.FunctionGraphs", "StepStats", "DeviceStepStats", "NodeExecStats", "AllocatorMemoryUsed",
      "GraphDef", "NodeDef", "AttrValue", "AttrValue.ListValue", "VersionDef" }
    local prof = { "XSpace", "XPlane", "XLine", "XEvent", "XStat", "XEventMetadata", "XStatMetadata" }
    for _, n in ipairs(tf) do
      assert.is_true(names["tensorflow." .. n], n)
      assert.are.same({}, wire.decode(n, ""))
    end
    for _, n in ipairs(prof) do
      assert.is_true(names["tensorflow.profiler." .. n], n)
      assert.are.same({}, wire.decode(n, ""))
    end
    local hp = { "Experiment", "HParamInfo", "Interval", "MetricName", "MetricInfo", "Value", "ListValue",
      "HParamsPluginData", "SessionStartInfo", "SessionEndInfo" }
    local tb = { "Layout", "Category", "Chart", "MultilineChartContent", "MarginChartContent",
      "MarginChartContent.Series" }
    for _, n in ipairs(hp) do
      assert.is_true(names["tensorboard.hparams." .. n], n)
      assert.are.same({}, wire.decode(n, ""))
    end
    for _, n in ipairs(tb) do
      assert.is_true(names["tensorboard." .. n], n)
      assert.are.same({}, wire.decode(n, ""))
    end
    assert.are.equal(#tf + #prof + #hp + #tb, #wire.schema_names())
    -- every message in the .proto files is covered (names collected from the files themselves)
    local src = os.getenv("TBT_SOURCE_DIR") or "."
    local p = io.popen("cat " .. fs.quote(src) .. "/proto/*.proto 2>/dev/null")
    local text = p:read("a"); p:close()
    local count = 0
    for name in text:gmatch("\n%s*message%s+([%w_]+)") do
      count = count + 1
      local found = false
      for full in pairs(names) do
        if full:match("%.([%w_]+)$") == name then found = true end
      end
      assert.is_true(found, name)
    end
    assert.is_true(count >= #tf + #prof + #hp + #tb)
  end)
end)

describe("get", function()
  it("returns fields, or proto3 defaults by schema", function()
    local ev = wire.decode("Event", lfield(5, lfield(1, lfield(1, "a"))))
    assert.are.equal(0, wire.get(ev, "step"))
    assert.are.equal(0.0, wire.get(ev, "wall_time"))
    assert.are.equal("", wire.get(ev, "file_version"))
    assert.are.equal(9, wire.get(ev, "step", 9))
    assert.is_nil(wire.get(ev, "log_message"))
    assert.are.same({}, wire.get(ev.summary.value[1], "tensor") or {})
    local t = wire.decode("TensorProto", "")
    assert.are.same({}, wire.get(t, "float_val"))
    assert.are.equal(0, wire.get(t, "dtype"))
    assert.is_false(wire.get(wire.decode("TensorShapeProto", ""), "unknown_rank"))
    assert.are.same({}, wire.get(wire.decode("XPlane", ""), "event_metadata"))
    assert.are.equal("a", wire.get(ev.summary.value[1], "tag"))
    assert.matches("has no field 'stepp'", err_of(wire.get, ev, "stepp"))
    assert.are.equal("tensorflow.Summary.Value", wire.schema_name(ev.summary.value[1]))
  end)
end)

describe("tensor_values", function()
  local function tp(dtype, dims, fields)
    local t = fields or {}
    t.dtype = dtype
    local d = {}
    for i, n in ipairs(dims) do d[i] = { size = n } end
    t.tensor_shape = { dim = #d > 0 and d or nil }
    return t
  end

  it("decodes tensor_content for every fixed-size dtype", function()
    local cases = {
      { 1, pack("<ff", 1.5, -2), { 1.5, -2 } },
      { 2, pack("<dd", 0.1, 1 / 0), { 0.1, 1 / 0 } },
      { 3, pack("<i4i4", -1, 7), { -1, 7 } },
      { 4, "\xff\x01", { 255, 1 } },
      { 5, pack("<i2i2", -300, 2), { -300, 2 } },
      { 6, "\xff\x05", { -1, 5 } },
      { 9, pack("<i8i8", math.mininteger, 3), { math.mininteger, 3 } },
      { 10, "\x01\x00", { true, false } },
      { 17, "\xff\xff\x01\x00", { 65535, 1 } },
      { 19, "\x00\x3c\x00\xc0", { 1.0, -2.0 } },
      { 22, "\xff\xff\xff\xff\x02\x00\x00\x00", { 4294967295, 2 } },
      { 23, string.rep("\xff", 8) .. pack("<i8", 5), { -1, 5 } },
    }
    for _, c in ipairs(cases) do
      local vals, shape, from = wire.tensor_values(tp(c[1], { 2 }, { tensor_content = c[2] }))
      assert.are.same(c[3], vals, "dtype " .. c[1])
      assert.are.same({ 2 }, shape)
      assert.are.equal("tensor_content", from)
    end
    local vals, shape = wire.tensor_values(tp(3, { 2, 3 }, { tensor_content = pack("<i4i4i4i4i4i4", 1, 2, 3, 4, 5, 6) }))
    assert.are.same({ 1, 2, 3, 4, 5, 6 }, vals)
    assert.are.same({ 2, 3 }, shape)
  end)

  it("decodes the typed *_val fields, padding with the last value as TensorFlow does", function()
    assert.are.same({ { "a", "b" }, { 2 }, "string_val" },
      { wire.tensor_values(tp(7, { 2 }, { string_val = { "a", "b" } })) })
    assert.are.same({ { 0.25 }, {}, "float_val" }, { wire.tensor_values(tp(1, {}, { float_val = { 0.25 } })) })
    assert.are.same({ { 7, 7, 7 }, { 3 } }, { (wire.tensor_values(tp(3, { 3 }, { int_val = { 7 } }))), { 3 } })
    assert.are.same({ { 0.0, 0.0 }, { 2 }, "none" }, { wire.tensor_values(tp(2, { 2 }, {})) })
    assert.are.same({ { "", "" }, { 1, 2 }, "none" }, { wire.tensor_values(tp(7, { 1, 2 }, {})) })
    assert.are.same({ {}, { 0, 3 }, "none" }, { wire.tensor_values(tp(2, { 0, 3 }, {})) })
    assert.are.same({ { true, false } }, { (wire.tensor_values(tp(10, { 2 }, { bool_val = { true, false } }))) })
    assert.are.same({ { math.mininteger } }, { (wire.tensor_values(tp(9, {}, { int64_val = { math.mininteger } }))) })
    assert.are.same({ { 1.0 } }, { (wire.tensor_values(tp(19, {}, { half_val = { 0x3c00 } }))) })
    -- no tensor_shape at all is a scalar
    assert.are.same({ { 2.5 }, {}, "double_val" }, { wire.tensor_values({ dtype = 2, double_val = { 2.5 } }) })
  end)

  it("raises on inconsistent tensors", function()
    assert.matches("tensor_content has 4 bytes", err_of(wire.tensor_values, tp(2, { 1 }, { tensor_content = "abcd" })))
    assert.matches("3 values in int_val", err_of(wire.tensor_values, tp(3, { 2 }, { int_val = { 1, 2, 3 } })))
    assert.matches("dtype 7 cannot use tensor_content", err_of(wire.tensor_values, tp(7, { 1 }, { tensor_content = "x" })))
    assert.matches("unsupported dtype 8", err_of(wire.tensor_values, tp(8, { 1 }, {})))
  end)

  it("works on a TensorProto decoded from bytes", function()
    local s = vfield(1, 2) .. lfield(2, lfield(2, vfield(1, 2)) .. lfield(2, vfield(1, 1)))
      .. lfield(4, pack("<dd", 0.5, -0.5))
    local vals, shape = wire.tensor_values(wire.decode("TensorProto", s))
    assert.are.same({ 0.5, -0.5 }, vals)
    assert.are.same({ 2, 1 }, shape)
  end)
end)

describe("files", function()
  local function record(data)
    local len = pack("<I8", #data)
    return len .. pack("<I4", wire.mask(wire.crc32c(len))) .. data .. pack("<I4", wire.mask(wire.crc32c(data)))
  end

  local function write(path, s)
    local f = assert(io.open(path, "wb"))
    f:write(s)
    f:close()
  end

  it("reads an event file into Events with _offset", function()
    local dir = fs.tmpdir("wire")
    local first = dfield(1, 1700000000) .. lfield(3, "brain.Event:2")
    local second = dfield(1, 1700000001.5) .. vfield(2, 3) .. lfield(5, lfield(1, lfield(1, "x") .. ffield(2, 1)))
    write(dir .. "/ev", record(first) .. record(second))
    local evs = wire.read_event_file(dir .. "/ev")
    assert.are.same({
      { wall_time = 1700000000, file_version = "brain.Event:2", _offset = 0 },
      { wall_time = 1700000001.5, step = 3, summary = { value = { { tag = "x", simple_value = 1 } } },
        _offset = 16 + #first },
    }, evs)
    write(dir .. "/bad", record(first) .. record("\x08"))
    assert.matches("/bad: record 2 at offset " .. (16 + #first) .. ": protobuf: truncated varint",
      err_of(wire.read_event_file, dir .. "/bad"))
    assert.matches("No such file", err_of(wire.read_file, dir .. "/missing"))
    fs.rm_rf(dir)
  end)

  it("gunzips a file and reports gzip failures", function()
    local dir = fs.tmpdir("wire it's") -- a quote in the path exercises the shell quoting
    local text = '{"traceEvents":[]}\n' .. string.rep("x", 1000) .. "\0\1\2"
    write(dir .. "/t.json", text)
    assert.is_true(os.execute("gzip -- " .. fs.quote(dir .. "/t.json")))
    assert.are.equal(text, wire.gunzip(dir .. "/t.json.gz"))
    write(dir .. "/bad.gz", "not gzip")
    assert.matches("gzip %-dc .* failed", err_of(wire.gunzip, dir .. "/bad.gz"))
    fs.rm_rf(dir)
    assert.is_false(fs.exists(dir))
  end)
end)

describe("json_decode", function()
  local J = wire.json_decode

  it("decodes objects, arrays and literals", function()
    assert.are.same({ a = { 1, 2, { b = true } }, c = false, d = {}, e = {} },
      J(' { "a" : [1, 2, {"b": true}], "c":false, "d":{}, "e":[] } '))
    local arr = J("[1, null, 2]")
    assert.are.equal(3, #arr)
    assert.are.equal(wire.null, arr[2])
    assert.are.equal("null", tostring(wire.null))
    assert.are.equal(wire.null, J("null"))
    assert.are.same({ x = wire.null }, J('{"x":null}'))
    assert.are.same({ a = 2 }, J('{"a":1,"a":2}'))
    assert.are.equal("", J('""'))
    assert.are.equal(5, J(" \t\r\n5\n"))
  end)

  it("decodes numbers: integers stay integers, the rest are floats", function()
    local cases = {
      { "0", 0, "integer" }, { "-0", 0, "integer" }, { "12", 12, "integer" }, { "-3", -3, "integer" },
      { "9223372036854775807", math.maxinteger, "integer" }, { "-9223372036854775808", math.mininteger, "integer" },
      { "1.5", 1.5, "float" }, { "1e3", 1000.0, "float" }, { "2E-2", 0.02, "float" }, { "1.5e+2", 150.0, "float" },
      { "-0.25", -0.25, "float" }, { "1.0", 1.0, "float" },
      { "9223372036854775808", 9223372036854775808.0, "float" }, { "1e400", 1 / 0, "float" },
    }
    for _, c in ipairs(cases) do
      local v = J(c[1])
      assert.are.equal(c[2], v, c[1])
      assert.are.equal(c[3], math.type(v), c[1])
    end
  end)

  it("decodes every string escape, with surrogate pairs to UTF-8", function()
    assert.are.equal('"\\/\b\f\n\r\t', J([["\"\\\/\b\f\n\r\t"]]))
    assert.are.equal("\xc3\xa9", J([["\u00e9"]]))
    assert.are.equal("\xe2\x82\xac", J([["\u20AC"]]))
    assert.are.equal("\0", J([["\u0000"]]))
    assert.are.equal("\xf0\x9f\x98\x80", J([["\ud83d\ude00"]]))
    assert.are.equal("a\xf4\x8f\xbf\xbfb", J([["a\uDBFF\uDFFFb"]]))
    assert.are.equal("h\xc3\xa9 \xe2\x82\xac\127", J('"h\xc3\xa9 \xe2\x82\xac\127"'))
    assert.are.same({ ["k\n"] = "v" }, J([[{"k\n":"v"}]]))
  end)

  it("rejects bad input with the position", function()
    local cases = {
      { "", "unexpected end of input at byte 1" },
      { "   ", "unexpected end of input at byte 4" },
      { "{", "expected string key at byte 2" },
      { "[1,]", "unexpected character at byte 4" },
      { "[1 2]", "expected ',' or ']' at byte 4" },
      { '{"a" 1}', "expected ':' at byte 6" },
      { '{"a":1,}', "expected string key at byte 8" },
      { "{1:2}", "expected string key at byte 2" },
      { "01", "leading zero in number at byte 1" },
      { "-01", "leading zero" },
      { "1.", "bad fraction in number at byte 2" },
      { ".5", "unexpected character at byte 1" },
      { "1e", "bad exponent in number at byte 2" },
      { "1e+", "bad exponent" },
      { "-", "bad number at byte 1" },
      { "+1", "unexpected character" },
      { "tru", "unexpected character at byte 1" },
      { "nul", "unexpected character" },
      { "NaN", "unexpected character" },
      { "'a'", "unexpected character" },
      { '"abc', "unterminated string" },
      { [["\x"]], "bad escape '\\x' at byte 2" },
      { [["\u12"]], "bad \\u escape" },
      { [["\ud83d"]], "high surrogate without a low surrogate at byte 2" },
      { [["\ud83d\u0041"]], "high surrogate without a low surrogate" },
      { [["\ude00"]], "lone low surrogate" },
      { '"a\nb"', "unescaped control character 0x0a in string at byte 3" },
      { '"a\tb"', "unescaped control character 0x09" },
      { "1 2", "trailing characters after the value at byte 3" },
      { "[] x", "trailing characters" },
      { '"\xff"', "invalid UTF%-8 at byte 2" },
      { '"\xed\xa0\x80"', "invalid UTF%-8" },
    }
    for _, c in ipairs(cases) do
      local msg = err_of(J, c[1])
      assert.is_truthy(msg:find("^json: "), c[1] .. " -> " .. msg)
      assert.is_truthy(msg:find(c[2], 1, not c[2]:find("%%")), c[1] .. " -> " .. msg)
    end
    assert.matches("at byte 18 %(line 3, column 7%)", err_of(J, '{\n "a": 1,\n "b": x}'))
  end)

  it("handles deep nesting and long input", function()
    local deep = string.rep("[", 200) .. string.rep("]", 200)
    local v = J(deep)
    for _ = 1, 199 do v = v[1] end
    assert.are.same({}, v)
    local parts = {}
    for i = 1, 2000 do parts[i] = string.format('{"name":"ev%d","ts":%d,"dur":1.5}', i, i * 10) end
    local list = J("[" .. table.concat(parts, ",") .. "]")
    assert.are.equal(2000, #list)
    assert.are.same({ name = "ev2000", ts = 20000, dur = 1.5 }, list[2000])
  end)
end)

describe("fs", function()
  it("makes fresh directories and lists, finds and removes files", function()
    local a, b = fs.tmpdir("fs"), fs.tmpdir("fs")
    assert.are_not.equal(a, b)
    assert.is_true(fs.exists(a))
    assert.are.same({}, fs.list(a))
    assert.is_true(os.execute("mkdir -p " .. fs.quote(a .. "/sub/deep") .. " && touch " .. fs.quote(a .. "/z.pb")
      .. " " .. fs.quote(a .. "/.hidden") .. " " .. fs.quote(a .. "/sub/deep/x.pb")))
    assert.are.same({ ".hidden", "sub", "z.pb" }, fs.list(a))
    assert.are.same({ a .. "/sub/deep/x.pb", a .. "/z.pb" }, fs.find(a, "*.pb"))
    assert.are.same({ a .. "/sub", a .. "/sub/deep" }, fs.find(a, nil, "d"))
    assert.are.equal(5, #fs.find(a))
    assert.has_error(function() fs.list(a .. "/nope") end)
    fs.rm_rf(a)
    fs.rm_rf(b)
    assert.is_false(fs.exists(a))
    assert.has_error(function() fs.rm_rf("/") end)
    assert.has_error(function() fs.rm_rf("") end)
  end)
end)

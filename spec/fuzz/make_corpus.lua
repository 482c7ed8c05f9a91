-- make_corpus.lua: writes the seed event files of fuzz_reader into OUTDIR.
--   tbtrace spec/fuzz/make_corpus.lua OUTDIR     (or: cmake --build build --target fuzz_corpus)
-- Real files from the writer, one per kind of summary and trace export, then damaged copies:
-- cut short, a flipped checksum, a huge declared length, an empty record, a record that is not
-- an Event. Each file stays small so fuzzing starts from short inputs.
local tbtrace = tbtrace or require "tbtrace"

local outdir = assert(arg[1], "usage: tbtrace make_corpus.lua OUTDIR")
local work = os.tmpname()
os.remove(work)

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function save(name, bytes)
  local f = assert(io.open(outdir .. "/" .. name, "wb"))
  f:write(bytes)
  f:close()
end

local files = {}

-- Runs body with a fresh writer as default and saves the event file it wrote.
local function record(name, body)
  local w = assert(tbtrace.create_file_writer(work .. "/" .. name, { max_queue = 1000 }))
  w:as_default(0, body)
  local path = w:path()
  w:close()
  files[name] = slurp(path)
  save(name .. ".tfevents", files[name])
end

record("version", function() end)
record("scalars", function()
  tbtrace.scalar("loss", 0.25, 1)
  tbtrace.scalar("loss", 0 / 0, 2, "not a number")
  tbtrace.scalar("acc/train", math.huge, 3)
end)
record("text", function()
  tbtrace.text("notes", "**bold** \u{e9}", 1)
  tbtrace.text("grid", { { "a", "b" }, { "c", "" } }, 2)
end)
record("histogram", function()
  tbtrace.histogram("w", { 0.1, 0.5, 0.2, -3 }, 1, 3)
  tbtrace.histogram("empty", {}, 2)
  tbtrace.histogram("same", { 2, 2, 2 }, 3, 2)
end)
record("image", function()
  tbtrace.image("rgb", { { { 255, 0, 0 }, { 0, 255, 0 } }, { { 0, 0, 255 }, { 9, 9, 9 } } }, 1)
  tbtrace.image("grey", { height = 1, width = 2, channels = 1, pixels = "\0\255" }, 2)
end)
record("audio", function()
  tbtrace.audio("beep", { { 0.5 }, { -0.5 }, { 1.5 }, { 0 } }, 8000, 1)
end)
record("write", function()
  tbtrace.write("i64", { dtype = "int64", shape = { 2, 2 }, values = { 1, -2, math.maxinteger, math.mininteger } }, 1)
  tbtrace.write("flags", { true, false }, 2, { plugin_name = "custom", content = "\1\2", display_name = "Flags" })
  tbtrace.write("words", { "x", "\0y" }, 3)
  tbtrace.write("bytes", { dtype = "uint8", values = { 0, 255 } }, 4)
  tbtrace.write("f32", { dtype = "float32", values = { { 1.5 }, { -0.0 } } }, 5)
  tbtrace.write("plain", 42, 6, "\10\9\10\7scalars")
  for i, dt in ipairs { "int8", "uint8", "int16", "uint16", "int32", "uint32", "uint64", "float64" } do
    tbtrace.write(dt, { dtype = dt, values = { 0, 1, 7 } }, 6 + i)
  end
end)
record("trace_graph", function()
  tbtrace.trace_on { graph = true }
  tbtrace.span("step", function()
    tbtrace.span("load", function() end)
    tbtrace.span_begin("compute", "math")
    tbtrace.span_end()
  end)
  tbtrace.depends("step/load", "step/compute")
  assert(tbtrace.trace_export("graph", 1))
end)
record("trace_profile", function()
  tbtrace.thread_name("main")
  tbtrace.trace_on { graph = true, profiler = true, profiler_outdir = work .. "/profile" }
  tbtrace.span("outer", function()
    tbtrace.instant("mark")
    tbtrace.counter("queue", 3)
    tbtrace.span("inner", function() end)
  end)
  assert(tbtrace.trace_export("profile", 2))
end)

-- ------------------------------------------------------------------ hand-encoded events

-- Fields the writer never emits but other writers do (TF 1.x summaries, log messages, session
-- logs, tagged run metadata), so the fuzzer starts with their tags in hand.
local function varint(n)
  local t = {}
  repeat
    local b = n & 0x7f
    n = n >> 7
    t[#t + 1] = string.char(n ~= 0 and (b | 0x80) or b)
  until n == 0
  return table.concat(t)
end
local function key(field, wire) return varint(field << 3 | wire) end
local function vint(field, n) return key(field, 0) .. varint(n) end
local function bytes(field, s) return key(field, 2) .. varint(#s) .. s end
local function f64(field, x) return key(field, 1) .. string.pack("<d", x) end
local function f32(field, x) return key(field, 5) .. string.pack("<f", x) end
local function packed_f64(field, xs)
  local t = {}
  for i, x in ipairs(xs) do t[i] = string.pack("<d", x) end
  return bytes(field, table.concat(t))
end

local run_metadata = bytes(1, bytes(1, bytes(1, "/host:CPU")
  .. bytes(2, bytes(1, "step/load") .. vint(2, 10) .. vint(5, 7) .. vint(10, 3))
  .. bytes(3, vint(1, 3) .. bytes(2, "loader"))))
local graph_def = bytes(1, bytes(1, "a") .. bytes(2, "Const") .. bytes(3, "b")
  .. bytes(5, bytes(1, "value") .. bytes(2, vint(3, 5))))
  .. bytes(4, vint(1, 27) .. vint(3, 4))
local legacy = {
  f64(1, 1.5) .. vint(2, 7) .. bytes(5,
    bytes(1, bytes(1, "simple") .. f32(2, 0.5))
    .. bytes(1, bytes(1, "histo") .. bytes(5, f64(1, -1) .. f64(2, 4) .. f64(3, 3) .. f64(4, 5)
      .. f64(5, 17) .. packed_f64(6, { 0, 4 }) .. packed_f64(7, { 1, 2 })))
    .. bytes(1, bytes(1, "img") .. bytes(4, vint(1, 1) .. vint(2, 1) .. vint(3, 1) .. bytes(4, "\137PNG")))
    .. bytes(1, bytes(1, "snd") .. bytes(6, f32(1, 8000) .. vint(2, 1) .. vint(3, 2)
      .. bytes(4, "RIFF") .. bytes(5, "audio/wav")))
    .. bytes(1, bytes(1, "meta") .. bytes(9, bytes(2, "Display") .. bytes(3, "about") .. vint(4, 2))
      .. bytes(8, vint(1, 3) .. bytes(2, bytes(2, vint(1, 2))) .. bytes(7, varint(-1) .. varint(2))))),
  vint(2, 8) .. bytes(6, vint(1, 30) .. bytes(2, "low disk")),
  vint(2, 9) .. bytes(7, vint(1, 3) .. bytes(2, "/ckpt/model") .. bytes(3, "saved")),
  vint(2, 10) .. bytes(8, bytes(1, "run") .. bytes(2, run_metadata)),
  bytes(4, graph_def),
  bytes(9, "\10\0"),
  vint(2, 11) .. bytes(5, bytes(1, bytes(1, "trace") .. bytes(9, bytes(1, bytes(1, "graph_run_metadata")
    .. bytes(2, "1"))) .. bytes(8, vint(1, 7) .. bytes(2, "") .. bytes(8, run_metadata)))),
}

-- ------------------------------------------------------------------ damaged copies

local function le(n, width)
  local t = {}
  for i = 1, width do
    t[i] = string.char(n & 0xff)
    n = n >> 8
  end
  return table.concat(t)
end

local function masked(s)
  local c = tbtrace.crc32c(s)
  return (((c >> 15) | (c << 17)) + 0xa282ead8) & 0xffffffff
end

local function frame(data, len)
  local head = le(len or #data, 8)
  return head .. le(masked(head), 4) .. data .. le(masked(data), 4)
end

local function flip(s, pos)
  return s:sub(1, pos - 1) .. string.char(s:byte(pos) ~ 0x20) .. s:sub(pos + 1)
end

local scalars = files.scalars
local first = 12 + (string.unpack("<I8", scalars)) + 4   -- where the second record starts
save("cut_in_header.tfevents", scalars:sub(1, first + 7))
save("cut_in_data.tfevents", scalars:sub(1, first + 20))
save("cut_in_footer.tfevents", scalars:sub(1, first + 12 + (string.unpack("<I8", scalars, first + 1)) + 2))
save("bad_data_crc.tfevents", flip(scalars, first + 14))
save("bad_length_crc.tfevents", flip(scalars, first + 9))
save("huge_length.tfevents", files.version .. frame("", 1 << 31))
save("claims_more.tfevents", files.version .. frame("", 1000):sub(1, 12) .. "short")
save("claims_1gib.tfevents", files.version .. frame("", 1 << 30):sub(1, 12) .. "short")
save("empty_record.tfevents", files.version .. frame(""))
save("not_an_event.tfevents", files.version .. frame("\255\255\255\255") .. frame("\10\200"))
save("trailing_garbage.tfevents", files.text .. "garbage")
save("empty.tfevents", "")

local t = { files.version }
for i, ev in ipairs(legacy) do t[i + 1] = frame(ev) end
save("legacy.tfevents", table.concat(t))

os.execute("rm -rf '" .. work .. "'")

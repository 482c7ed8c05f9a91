-- plugins_spec.lua: the HParams, custom_scalars and graph summaries, summary scopes and raw
-- Summary messages from Lua, decoded from disk with the independent wire reader and compared field
-- by field with what tensorboard.plugins.* and tf.summary write.
local tbtrace = require "tbtrace"
local wire = require "wire"
local fs = require "fs"
local logged = require "logged"

local DT_FLOAT, DT_STRING = 1, 7
local E = wire.enums

local function written(fn, step) return logged.written(fn, step, "plugins") end

local function only_value(ev)
  assert.are.equal(1, #ev.summary.value)
  local v = ev.summary.value[1]
  assert.is_nil(v._unknown)
  return v
end

-- The HParamsPluginData of an hparams event, after checking the parts every one shares: tag,
-- step 0, metadata.NULL_TENSOR (DT_FLOAT, shape [0], no values), plugin "hparams", version 0.
local function hparams_data(ev, tag)
  assert.are.equal(0, wire.get(ev, "step"))
  local v = only_value(ev)
  assert.are.equal(tag, v.tag)
  assert.are.equal(DT_FLOAT, v.tensor.dtype)
  assert.are.equal(1, #v.tensor.tensor_shape.dim)
  assert.are.equal(0, wire.get(v.tensor.tensor_shape.dim[1], "size"))
  assert.is_nil(v.tensor.tensor_content)
  assert.is_nil(v.tensor.float_val)
  assert.are.equal("hparams", v.metadata.plugin_data.plugin_name)
  assert.is_nil(v.metadata.summary_description)
  local pd = wire.decode("HParamsPluginData", v.metadata.plugin_data.content)
  assert.is_nil(pd._unknown)
  assert.are.equal(0, wire.get(pd, "version"))
  return pd
end

describe("hparams.config", function()
  it("writes the experiment as hp.hparams_config does", function()
    local evs = written(function()
      assert.is_true(tbtrace.hparams.config {
        hparams = {
          { name = "lr", min = 1e-4, max = 0.1, display_name = "learning rate", description = "Adam's" },
          { name = "layers", min = 1, max = 4 },
          { name = "optimizer", values = { "sgd", "adam", "rmsprop" } },
          { name = "dropout", values = { 0.5, 0.1, 0.2 } },
          { name = "batchnorm", values = { true, false } },
          { name = "free" },
        },
        metrics = {
          "loss",
          { tag = "accuracy", group = "validation", display_name = "Accuracy", description = "top-1",
            dataset_type = "validation" },
          { tag = "epoch_loss", group = "train", dataset_type = "training" },
        },
      })
    end, 17)
    assert.are.equal(1, #evs)
    local ex = hparams_data(evs[1], "_hparams_/experiment").experiment
    assert.is_not_nil(ex)
    assert.is_nil(ex.time_created_secs, "unset unless given, as hparams_config writes it")
    local h = ex.hparam_infos
    assert.are.equal(6, #h)
    local FLOAT64, STRING, BOOL = E.HParamsDataType.DATA_TYPE_FLOAT64, E.HParamsDataType.DATA_TYPE_STRING,
      E.HParamsDataType.DATA_TYPE_BOOL
    assert.are.equal("lr", h[1].name)
    assert.are.equal("learning rate", h[1].display_name)
    assert.are.equal("Adam's", h[1].description)
    assert.are.equal(FLOAT64, h[1].type)
    assert.are.same({ min_value = 1e-4, max_value = 0.1 }, { min_value = h[1].domain_interval.min_value,
      max_value = h[1].domain_interval.max_value })
    assert.are.equal(FLOAT64, h[2].type, "TensorBoard types integer intervals as float64 too")
    assert.are.equal(1.0, h[2].domain_interval.min_value)
    assert.are.equal(4.0, h[2].domain_interval.max_value)
    local function strings(list)
      local out = {}
      for i, v in ipairs(list.values) do out[i] = v.string_value end
      return out
    end
    assert.are.equal(STRING, h[3].type)
    assert.are.same({ "adam", "rmsprop", "sgd" }, strings(h[3].domain_discrete), "sorted, as Discrete sorts")
    assert.are.equal(FLOAT64, h[4].type)
    local nums = {}
    for i, v in ipairs(h[4].domain_discrete.values) do nums[i] = v.number_value end
    assert.are.same({ 0.1, 0.2, 0.5 }, nums)
    assert.are.equal(BOOL, h[5].type)
    assert.is_false(h[5].domain_discrete.values[1].bool_value)
    assert.is_true(h[5].domain_discrete.values[2].bool_value)
    assert.are.equal("free", h[6].name)
    assert.is_nil(h[6].type)
    assert.is_nil(h[6].domain_discrete)
    assert.is_nil(h[6].domain_interval)
    local m = ex.metric_infos
    assert.are.equal(3, #m)
    assert.are.equal("loss", m[1].name.tag)
    assert.is_nil(m[1].name.group)
    assert.is_nil(m[1].dataset_type)
    assert.are.same({ group = "validation", tag = "accuracy" }, { group = m[2].name.group, tag = m[2].name.tag })
    assert.are.equal("Accuracy", m[2].display_name)
    assert.are.equal("top-1", m[2].description)
    assert.are.equal(E.DatasetType.DATASET_VALIDATION, m[2].dataset_type)
    assert.are.equal(E.DatasetType.DATASET_TRAINING, m[3].dataset_type)
  end)

  it("writes time_created when given, and nothing without a writer or with recording off", function()
    local evs = written(function()
      assert.is_true(tbtrace.hparams.config { time_created = 1700000000.5 })
      tbtrace.record_if(false, function()
        assert.is_false(tbtrace.hparams.config { hparams = { { name = "x" } } })
      end)
    end)
    assert.are.equal(1, #evs)
    assert.are.equal(1700000000.5, hparams_data(evs[1], "_hparams_/experiment").experiment.time_created_secs)
    assert.is_false(tbtrace.hparams.config {})
  end)

  it("refuses what TensorBoard's domains refuse, and unknown keys", function()
    local function err(t) local ok, e = pcall(tbtrace.hparams.config, t); assert.is_false(ok); return e end
    assert.matches("hparams%[1%]: min is greater than max", err { hparams = { { name = "x", min = 2, max = 1 } } })
    assert.matches("hparams%[1%]%.values%[2%] is a number, values%[1%] a string",
      err { hparams = { { name = "x", values = { "a", 1 } } } })
    assert.matches("hparams%[1%]%.values is empty", err { hparams = { { name = "x", values = {} } } })
    assert.matches("hparams%[1%]: unknown key 'domain'", err { hparams = { { name = "x", domain = {} } } })
    assert.matches("config: unknown key 'metric'", err { metric = {} })
    assert.matches("metrics%[1%]%.dataset_type must be 'training' or 'validation'",
      err { metrics = { { tag = "a", dataset_type = "test" } } })
  end)
end)

describe("hparams.run", function()
  it("writes the session start as hp.hparams does, and its end on close", function()
    local s
    local evs = written(function()
      local ok
      s, ok = tbtrace.hparams.run({ lr = 0.01, optimizer = "adam", layers = 2, bn = true },
        { start_time = 1700000000.25 })
      assert.is_true(ok)
      assert.is_false(s:closed())
      assert.is_true(s:close("failure"))
      assert.is_true(s:closed())
      assert.is_false(s:close(), "a second close writes nothing")
    end, 5)
    assert.are.equal(2, #evs)
    local si = hparams_data(evs[1], "_hparams_/session_start_info").session_start_info
    assert.are.equal(1700000000.25, si.start_time_secs)
    assert.are.equal(0.01, si.hparams.lr.number_value)
    assert.are.equal(2.0, si.hparams.layers.number_value)
    assert.are.equal("adam", si.hparams.optimizer.string_value)
    assert.is_true(si.hparams.bn.bool_value)
    assert.are.equal(tbtrace.hparams.group_name({ lr = 0.01, optimizer = "adam", layers = 2, bn = true }), si.group_name)
    assert.are.equal(64, #si.group_name)
    local ei = hparams_data(evs[2], "_hparams_/session_end_info").session_end_info
    assert.are.equal(E.HParamsStatus.STATUS_FAILURE, ei.status)
    assert.is_true(ei.end_time_secs > 1700000000)
  end)

  it("takes a trial_id as the group name; a to-be-closed session ends success or failure", function()
    local evs = written(function()
      do
        local s <close> = tbtrace.hparams.run({ x = "a" }, { trial_id = "trial-1" })
      end
      pcall(function()
        local s <close> = tbtrace.hparams.run({ x = "b" })
        error("diverged")
      end)
    end)
    assert.are.equal(4, #evs)
    assert.are.equal("trial-1", hparams_data(evs[1], "_hparams_/session_start_info").session_start_info.group_name)
    assert.is_true(math.abs(hparams_data(evs[1], "_hparams_/session_start_info").session_start_info.start_time_secs - os.time()) < 5)
    assert.are.equal(E.HParamsStatus.STATUS_SUCCESS, hparams_data(evs[2], "_hparams_/session_end_info").session_end_info.status)
    assert.are.equal(E.HParamsStatus.STATUS_FAILURE, hparams_data(evs[4], "_hparams_/session_end_info").session_end_info.status)
  end)
end)

describe("hparams.group_name", function()
  -- Each hash is Python's hashlib.sha256(json.dumps(d, sort_keys=True, separators=(",", ":"))
  -- .encode()).hexdigest() of the same dict: floats in repr's shortest form, ensure_ascii escapes.
  local cases = {
    { { lr = 0.01, opt = "adam", layers = 2 }, "36afbfe746fdf95a9a97ec35bfc31d8cd85bc737f64e6d7c02e21e52edf3d6a1" },
    { { a = 1e-05, b = 1e16, c = 1e15, d = 0.0001, e = -0.0, f = 1.5e300, g = 123456789.125, h = 2.0, i = true, j = false },
      "7b54b0372404b75cecfc503069565805593ae8c3cea4a5eb7b5899f9fc7e91aa" },
    { { name = "caf\u{e9} \u{1F600} \"q\" \\ \n\t\x01\x7f/", ["\u{e9}"] = -7 },
      "de7eb2b89d73a8298160d8d59201487388494d05099a415d0b6e397451cc4be8" },
    { {}, "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a" },
    { { x = 0.1 + 0.2, y = 5e-324, z = -1e-7, w = 1e22, v = 12345678901234567.0 },
      "71af23ad1b9cbf5ed04306521512648b38344a98df16366bab0714d18f26c55f" },
  }
  for i, c in ipairs(cases) do
    it("matches TensorBoard's derivation, case " .. i, function()
      assert.are.equal(c[2], tbtrace.hparams.group_name(c[1]))
    end)
  end
end)

describe("summary_scope", function()
  it("prefixes scalar, text, histogram, image and audio tags as TF's scopes do", function()
    local evs = written(function()
      tbtrace.summary_scope("outer", function(tag, scope)
        assert.are.equal("outer", tag)
        assert.are.equal("outer/", scope)
        local s <close>, t2, sc2 = tbtrace.experimental.summary_scope("in ner!")
        assert.are.equal("outer/in ner!", t2, "the tag keeps every character")
        assert.are.equal("outer/inner/", sc2, "the scope keeps [-_/.A-Za-z0-9]")
        assert.is_true(tbtrace.scalar("loss", 1))
        assert.is_true(tbtrace.text("", "t"))
        assert.is_true(tbtrace.histogram("", { 1 }))
        assert.is_true(tbtrace.image("", { { { 0 } } }))
        assert.is_true(tbtrace.audio("", { { 0 } }, 8000))
        assert.is_true(tbtrace.scalar("", 1))
        assert.is_true(tbtrace.write("raw", 1), "write takes its tag as given")
      end)
      tbtrace.summary_scope("", function(tag, scope)
        assert.are.equal("summary", tag)
        assert.are.equal("summary/", scope)
        tbtrace.summary_scope("???", function(t, s)
          assert.are.equal("summary/???", t)
          assert.are.equal("summary/summary/", s, "nothing left of the name: the default")
        end)
      end)
      assert.is_true(tbtrace.scalar("after", 1))
      assert.has_error(function() tbtrace.scalar("", 1) end)
    end, 1)
    local tags = {}
    for i, ev in ipairs(evs) do tags[i] = only_value(ev).tag end
    assert.are.same({ "outer/inner/loss", "outer/inner/text_summary", "outer/inner/histogram_summary",
      "outer/inner/image_summary", "outer/inner/audio_summary", "outer/inner/scalar_summary", "raw", "after" }, tags)
  end)

  it("closes on error and returns fn's results", function()
    local ok, e = pcall(tbtrace.summary_scope, "a", function() error("boom") end)
    assert.is_false(ok)
    assert.matches("boom", e)
    assert.are.same({ 1, 2 }, { tbtrace.summary_scope("a", function(_, _, x, y) return x, y end, 1, 2) })
    local evs = written(function() tbtrace.scalar("x", 1) end, 1)
    assert.are.equal("x", only_value(evs[1]).tag)
  end)
end)

-- Summary{value{tag, simple_value}} serialized by hand.
local function summary_pb(tag, v)
  return "\x0a" .. string.char(#tag + 7) .. "\x0a" .. string.char(#tag) .. tag .. "\x15" .. string.pack("<f", v)
end

describe("experimental.write_raw_pb", function()
  it("writes each serialized Summary as an event at the step", function()
    local a, b = summary_pb("a", 1.5), summary_pb("b", 2)
    local evs = written(function()
      assert.is_true(tbtrace.experimental.write_raw_pb(a, 3))
      tbtrace.summary_scope("s", function()
        assert.is_true(tbtrace.experimental.write_raw_pb({ a, b }))
      end)
    end, 9)
    assert.are.equal(3, #evs)
    assert.are.equal(3, evs[1].step)
    assert.are.equal(9, evs[2].step)
    assert.are.same({ "a", 1.5 }, { only_value(evs[1]).tag, only_value(evs[1]).simple_value })
    assert.are.same({ "a", "b" }, { only_value(evs[2]).tag, only_value(evs[3]).tag }, "raw tags are not scoped")
    assert.are.equal(2.0, only_value(evs[3]).simple_value)
  end)

  it("checks every message before writing any, and wants a step even with recording off", function()
    local evs = written(function()
      local ok, e = pcall(tbtrace.experimental.write_raw_pb, { summary_pb("a", 1), "\xff" }, 1)
      assert.is_false(ok)
      assert.matches("not a serialized Summary", e)
      ok, e = pcall(tbtrace.experimental.write_raw_pb, summary_pb("\xff", 1), 1)
      assert.matches("not a serialized Summary", e)
      tbtrace.record_if(false, function()
        assert.has_error(function() tbtrace.experimental.write_raw_pb(summary_pb("a", 1)) end,
          "No step set via 'step' argument or tbtrace.experimental.set_step()")
        assert.is_false(tbtrace.experimental.write_raw_pb(summary_pb("a", 1), 1))
      end)
    end)
    assert.are.equal(0, #evs)
  end)
end)

describe("graph", function()
  it("writes the GraphDef to Event.graph_def at step 0", function()
    -- GraphDef{node{name: "x", op: "Const"}, versions{producer: 27}}
    local g = "\x0a\x0a\x0a\x01x\x12\x05Const" .. "\x22\x02\x08\x1b"
    local evs = written(function()
      assert.is_true(tbtrace.graph(g))
      tbtrace.record_if(false, function() assert.is_false(tbtrace.graph(g)) end)
      assert.has_error(function() tbtrace.graph("\x0a\x05") end)
    end, 12)
    assert.are.equal(1, #evs)
    assert.are.equal(0, wire.get(evs[1], "step"))
    assert.is_nil(evs[1].summary)
    local gd = wire.decode("GraphDef", evs[1].graph_def)
    assert.are.equal("x", gd.node[1].name)
    assert.are.equal("Const", gd.node[1].op)
    assert.are.equal(27, gd.versions.producer)
    assert.is_false(tbtrace.graph(g), "no default writer")
  end)
end)

describe("custom_scalars", function()
  it("writes the layout as custom_scalar.summary.pb does", function()
    local evs = written(function()
      assert.is_true(tbtrace.custom_scalars {
        { title = "Losses", charts = {
          { title = "loss", tags = { "loss/train", "loss/valid" } },
          { title = "bounds", margin = { { value = "acc", lower = "acc/lo", upper = "acc/hi" } } },
        } },
        { title = "Other", closed = true, charts = { { tags = { "lr.*" } } } },
      })
    end, 4)
    assert.are.equal(1, #evs)
    assert.are.equal(0, wire.get(evs[1], "step"))
    local v = only_value(evs[1])
    assert.are.equal("custom_scalars__config__", v.tag)
    assert.are.equal("custom_scalars", v.metadata.plugin_data.plugin_name)
    assert.is_nil(v.metadata.plugin_data.content)
    assert.are.equal(DT_STRING, v.tensor.dtype)
    assert.are.same({}, wire.get(v.tensor.tensor_shape, "dim"))
    assert.are.equal(1, #v.tensor.string_val)
    local layout = wire.decode("Layout", v.tensor.string_val[1])
    assert.is_nil(layout.version)
    assert.are.equal(2, #layout.category)
    local c1 = layout.category[1]
    assert.are.equal("Losses", c1.title)
    assert.is_nil(c1.closed)
    assert.are.equal("loss", c1.chart[1].title)
    assert.are.same({ "loss/train", "loss/valid" }, c1.chart[1].multiline.tag)
    assert.is_nil(c1.chart[1].margin)
    local s = c1.chart[2].margin.series[1]
    assert.are.same({ "acc", "acc/lo", "acc/hi" }, { s.value, s.lower, s.upper })
    assert.is_true(layout.category[2].closed)
    assert.are.same({ "lr.*" }, layout.category[2].chart[1].multiline.tag)
  end)
end)

describe("scripts/examples/sweep.lua", function()
  it("writes the experiment config at the root and one run per trial of the six", function()
    local exe = os.getenv("TBTRACE_EXE") or "build/tbtrace"
    local src = os.getenv("TBT_SOURCE_DIR") or "."
    local dir = fs.tmpdir("sweep")
    local p = io.popen(string.format("%s %s/scripts/examples/sweep.lua %s 20 2>&1", fs.quote(exe),
      fs.quote(src), fs.quote(dir)))
    local out = p:read("a")
    assert.is_true(p:close(), out)
    local root = fs.find(dir, "*tfevents*")
    table.sort(root)
    assert.are.equal(7, #root)
    local runs, groups = {}, {}
    for _, f in ipairs(root) do
      local run = f:sub(#dir + 2):match("^(.*)/[^/]*$") or ""
      local evs = wire.read_event_file(f)
      table.remove(evs, 1)
      runs[run] = evs
    end
    local ex = hparams_data(runs[""][1], "_hparams_/experiment").experiment
    assert.are.equal(1, #runs[""])
    assert.are.same({ "lr", "optimizer", "features" },
      { ex.hparam_infos[1].name, ex.hparam_infos[2].name, ex.hparam_infos[3].name })
    assert.are.same({ "loss", "accuracy" }, { ex.metric_infos[1].name.tag, ex.metric_infos[2].name.tag })
    for t = 1, 6 do
      local evs = runs["trial-" .. t]
      assert.is_not_nil(evs, "trial-" .. t)
      assert.are.equal(1 + 2 * 20 + 1, #evs)
      local si = hparams_data(evs[1], "_hparams_/session_start_info").session_start_info
      assert.are.equal("trial-" .. t, si.group_name)
      groups[#groups + 1] = ("%g/%s"):format(si.hparams.lr.number_value, si.hparams.optimizer.string_value)
      assert.are.equal(4.0, si.hparams.features.number_value)
      assert.are.equal("loss", only_value(evs[2]).tag)
      assert.are.equal("accuracy", only_value(evs[3]).tag)
      assert.are.equal(E.HParamsStatus.STATUS_SUCCESS, hparams_data(evs[#evs], "_hparams_/session_end_info").session_end_info.status)
    end
    assert.are.same({ "0.003/sgd", "0.003/momentum", "0.03/sgd", "0.03/momentum", "0.3/sgd", "0.3/momentum" }, groups)
  end)
end)

describe("image as TF takes it", function()
  -- The PNGs of one image given as floats and of the bytes convert_image_dtype(saturate=True)
  -- makes of them (trunc(clamp(x * 255.5, 0, 255)) in float32): the same encoder, so the same
  -- bytes exactly when the conversion agrees.
  local function pngs(data)
    local evs = written(function() assert.is_true(tbtrace.image("i", data)) end, 1)
    local vals = wire.tensor_values(only_value(evs[1]).tensor)
    return vals
  end

  it("converts floats in [0, 1] as tf.image.convert_image_dtype does, clipping the rest", function()
    local floats = { { { 0.0 }, { 0.5 }, { 1.0 }, { 2.0 }, { -1.0 }, { 0.998 }, { 0.25 }, { 1 / 255.5 },
      { 0.998043001 }, { 0.99804306 }, { math.huge }, { -math.huge } } }
    local bytes = { { { 0 }, { 127 }, { 255 }, { 255 }, { 0 }, { 254 }, { 63 }, { 1 }, { 254 }, { 255 }, { 255 }, { 0 } } }
    local a, b = pngs(floats), pngs(bytes)
    assert.are.equal("12", a[1])   -- width
    assert.are.equal("1", a[2])    -- height
    assert.are.equal(b[3], a[3])
    -- and a different rounding would show: 0.5 rounded to nearest is 128
    bytes[1][2][1] = 128
    assert.are_not.equal(pngs(bytes)[3], a[3])
  end)

  it("takes grey + alpha images", function()
    local vals = pngs({ { { 10, 255 }, { 20, 0 } } })
    local png = vals[3]
    assert.are.equal("\x89PNG\r\n\x1a\n", png:sub(1, 8))
    -- IHDR: width 2, height 1, bit depth 8, colour type 4 (grey + alpha)
    local w, h, depth, colour = string.unpack(">I4I4BB", png, 17)
    assert.are.same({ 2, 1, 8, 4 }, { w, h, depth, colour })
  end)
end)

describe("tbtrace ls", function()
  it("lists the hparams, custom_scalars and graph plugins of a logdir", function()
    local exe = os.getenv("TBTRACE_EXE") or "build/tbtrace"
    local dir = fs.tmpdir("ls")
    local w = assert(tbtrace.create_file_writer(dir))
    w:as_default(0, function()
      tbtrace.hparams.config { hparams = { { name = "lr" } }, metrics = { "loss" } }
      tbtrace.hparams.run({ lr = 0.1 }):close()
      tbtrace.custom_scalars { { title = "t", charts = { { tags = { "loss" } } } } }
      tbtrace.graph("")
    end)
    w:close()
    local p = io.popen(fs.quote(exe) .. " ls " .. fs.quote(dir) .. " 2>&1")
    local out = p:read("a")
    assert.is_true(p:close(), out)
    assert.matches("\n  hparams %(3 tags%)\n", out)
    assert.matches("_hparams_/experiment", out)
    assert.matches("_hparams_/session_start_info", out)
    assert.matches("_hparams_/session_end_info", out)
    assert.matches("\n  custom_scalars %(1 tag%)\n%s+custom_scalars__config__", out)
    assert.matches("\n  graph %(1 tag%)\n", out)
  end)
end)

describe("hparams session objects", function()
  it("refuse an unknown status", function()
    local evs = written(function()
      local s = tbtrace.hparams.run({ a = 1 })
      assert.has_error(function() s:close("done") end, "bad argument #1 to 'close' (invalid option 'done')")
      assert.is_true(s:close("running"))
      assert.matches("^hparams session %(closed%)$", tostring(s))
    end)
    assert.are.equal(2, #evs)
    assert.are.equal(E.HParamsStatus.STATUS_RUNNING, hparams_data(evs[2], "_hparams_/session_end_info").session_end_info.status)
  end)
end)

describe("trace_export under a summary scope", function()
  it("prefixes the export's tag, as TF's trace_export writes inside summary_scope(name)", function()
    local evs = written(function()
      tbtrace.summary_scope("phase", function()
        assert(tbtrace.trace_on { graph = true })
        tbtrace.span("step", function() end)
        assert(tbtrace.trace_export("train", 3))
      end)
    end)
    local tags = {}
    for _, ev in ipairs(evs) do if ev.summary then tags[#tags + 1] = only_value(ev).tag end end
    assert.are.same({ "phase/train" }, tags)
  end)
end)

-- export_rules_spec.lua: trace_export's rules (TensorFlow's, and where tbtrace does better), export
-- policies applied through trace_export, and that a failed export loses nothing. Outputs are
-- decoded with the independent reader.
local tbtrace = require "tbtrace"
local wire = require "wire"
local fs = require "fs"

local host = tbtrace.hostname()

-- A fresh default writer; returns it and a function giving the summary events written so far.
local function fresh_writer(opts)
  local dir = fs.tmpdir("export")
  local w = assert(tbtrace.create_file_writer(dir, opts))
  w:set_as_default()
  return w, function()
    w:flush()
    local evs = wire.read_event_file(w:path())
    table.remove(evs, 1)
    return evs
  end, dir
end

local function no_default_writer()
  local w = assert(tbtrace.create_file_writer(fs.tmpdir("gone")))
  w:set_as_default()
  w:close()
  tbtrace.create_noop_writer():as_default(function() end)
  -- as_default on a real writer restores to "none" when the previous default is closed
  local w2 = assert(tbtrace.create_file_writer(fs.tmpdir("gone2")))
  w2:as_default(function() end)
  w2:close()
end

local function record_steps(n)
  for i = 1, n do
    tbtrace.span("step", function()
      tbtrace.span("load", function() end)
      tbtrace.span("compute", function() end)
    end)
  end
end

local function run_metadata(ev)
  local v = ev.summary.value[1]
  assert.are.equal(7, v.tensor.dtype)
  assert.are.same({}, v.tensor.tensor_shape.dim or {})
  assert.are.equal("1", v.metadata.plugin_data.content)
  return wire.decode("RunMetadata", v.tensor.string_val[1]), v
end

local function node_names(rm)
  local names = {}
  for _, n in ipairs(rm.function_graphs[1].pre_optimization_graph.node) do names[#names + 1] = n.name end
  return names
end

before_each(function()
  tbtrace.trace_off()
  tbtrace.policy.set(nil)
  tbtrace.experimental.set_step(nil)
end)

describe("trace_export follows TensorFlow", function()
  it("raises without trace_on", function()
    assert.has_error(function() tbtrace.trace_export("x", 1) end, "Must enable trace before export.")
  end)

  it("writes graph-only run metadata when only the graph is traced, and ends the trace", function()
    local _, events = fresh_writer()
    assert.is_true(tbtrace.trace_on { graph = true })
    record_steps(2)
    assert.is_true(tbtrace.trace_export("g", 5))
    assert.is_false(tbtrace.trace_stats().on)
    local evs = events()
    assert.are.equal(1, #evs)
    assert.are.equal(5, evs[1].step)
    local rm, v = run_metadata(evs[1])
    assert.are.equal("g", v.tag)
    assert.are.equal("graph_run_metadata_graph", v.metadata.plugin_data.plugin_name)
    assert.is_nil(rm.step_stats)
    assert.are.same({ "step", "step/compute", "step/load" }, node_names(rm))
    assert.has_error(function() tbtrace.trace_export("g", 6) end, "Must enable trace before export.")
    tbtrace.trace_off()   -- harmless after an export
  end)

  it("writes full run metadata with the profiler, profile files under the writer's logdir by default", function()
    local w, events, dir = fresh_writer()
    tbtrace.trace_on { graph = true, profiler = true }
    record_steps(3)
    tbtrace.experimental.set_step(11)
    assert.is_true(tbtrace.trace_export("p"))           -- step from get_step()
    local evs = events()
    assert.are.equal(11, evs[1].step)
    local rm, v = run_metadata(evs[1])
    assert.are.equal("graph_run_metadata", v.metadata.plugin_data.plugin_name)
    local count = 0
    for _, d in ipairs(rm.step_stats.dev_stats) do count = count + #d.node_stats end
    assert.are.equal(9, count)
    local r = tbtrace.last_export()
    assert.matches("^" .. dir:gsub("%p", "%%%0") .. "/plugins/profile/%d%d%d%d_%d%d_%d%d_%d%d_%d%d_%d%d", r.profile_dir)
    assert.are.equal(r.profile_dir .. "/" .. host .. ".xplane.pb", r.xplane_path)
    assert.is_true(fs.exists(r.xplane_path))
    assert.is_true(fs.exists(r.chrome_trace_path))
    assert.are.same({}, fs.find(dir, "*.tmp.*"))
    -- every file written, as kind and path rows: the summary's event file, then the profile's
    assert.are.same({
      { kind = "events", path = w:path() },
      { kind = "profile_dir", path = r.profile_dir },
      { kind = "xplane", path = r.xplane_path },
      { kind = "chrome_trace", path = r.chrome_trace_path },
    }, r.files)
  end)

  it("keeps the first trace's flags when trace_on is called twice", function()
    local _, events = fresh_writer()
    assert.is_true(tbtrace.trace_on { graph = true })
    local ok, msg = tbtrace.trace_on { graph = true, profiler = true }
    assert.is_false(ok)
    assert.are.equal("Trace already enabled", msg)
    record_steps(1)
    tbtrace.trace_export("twice", 1)
    local _, v = run_metadata(events()[1])
    assert.are.equal("graph_run_metadata_graph", v.metadata.plugin_data.plugin_name)
  end)

  it("loses nothing when the step is missing: the trace stays and exports later", function()
    local _, events = fresh_writer()
    tbtrace.trace_on { graph = true }
    record_steps(4)
    assert.has_error(function() tbtrace.trace_export("late") end,
      "No step set via 'step' argument or tbtrace.experimental.set_step()")
    assert.is_true(tbtrace.trace_stats().on)
    assert.are.equal(0, #events())
    assert.is_true(tbtrace.trace_export { name = "late", step = 2 })
    local rm = run_metadata(events()[1])
    assert.are.same({ "step", "step/compute", "step/load" }, node_names(rm))
  end)

  it("needs an outdir for the profiler when there is no writer, and writes profile files only", function()
    no_default_writer()
    tbtrace.trace_on { graph = true, profiler = true }
    record_steps(1)
    assert.has_error(function() tbtrace.trace_export("x", 1) end,
      "Must set profiler_outdir or enable summary writer with logdir.")
    assert.is_true(tbtrace.trace_stats().on)
    local out = fs.tmpdir("outdir")
    assert.is_true(tbtrace.trace_export("x", nil, out))   -- no writer: no step needed
    assert.is_false(tbtrace.last_export().wrote_summary)
    assert.are.equal(1, #fs.find(out, "*.xplane.pb"))
    assert.are.equal(1, #fs.find(out, "*.profile-empty"))  -- makes the outdir a TensorBoard run
  end)

  it("takes profiler_outdir from trace_on", function()
    fresh_writer()
    local out = fs.tmpdir("on_outdir")
    tbtrace.trace_on { graph = true, profiler = true, profiler_outdir = out }
    record_steps(1)
    assert.is_true(tbtrace.trace_export("x", 1))
    assert.are.equal(1, #fs.find(out, "*.trace.json.gz"))
  end)

  it("rejects bad arguments", function()
    tbtrace.trace_on { graph = true }
    assert.has_error(function() tbtrace.trace_export(true, 1) end)
    assert.has_error(function() tbtrace.trace_export("x", 1.5) end)
    assert.has_error(function() tbtrace.trace_export("x", 1, {}) end)
    assert.has_error(function() tbtrace.trace_export("", 1) end)
    assert.is_true(tbtrace.trace_stats().on)
  end)
end)

describe("trace_export with a policy", function()
  it("applies every hook", function()
    no_default_writer()
    local root = fs.tmpdir("policy_root")
    tbtrace.policy.set {
      name = function(ctx) return ctx.host .. "/" .. (ctx.name or "unnamed") end,
      step = function(ctx) return 1000 + ctx.export_index end,
      logdir = function(ctx) return root .. "/" .. ctx.pid end,
      profiler_outdir = function(ctx) return "prof" end,
      run_name = function(ctx) return string.format("run-%s-%d", ctx.profiler and "p" or "g", ctx.spans) end,
      max_queue = 0, filename_suffix = ".pol",
    }
    tbtrace.trace_on { graph = true, profiler = true }
    record_steps(2)
    assert.is_true(tbtrace.trace_export())
    local logdir = root .. "/" .. tbtrace.pid()
    local files = fs.find(logdir, "*tfevents*.pol")
    assert.are.equal(1, #files)
    local evs = wire.read_event_file(files[1])   -- max_queue = 0: already on disk
    assert.are.equal(2, #evs)
    assert.are.equal(host .. "/unnamed", evs[2].summary.value[1].tag)
    assert.is_true(evs[2].step > 1000)
    assert.are.equal(logdir .. "/prof/plugins/profile/run-p-12", tbtrace.last_export().profile_dir)
  end)

  it("stops on a failing policy with its file and line, and the trace exports once fixed", function()
    local _, events = fresh_writer()
    local dir = fs.tmpdir("badpol")
    os.execute("mkdir -p " .. fs.quote(dir))
    local bad = {
      ["syntax.lua"] = { "return { name = function( }", "syntax%.lua:1:" },
      ["runtime.lua"] = { "return {\n name = function() error('nope') end }", "runtime%.lua:2: nope" },
      ["type.lua"] = { "return { step = function() return 'x' end }", "type%.lua:1%) returned string %(integer expected%)" },
      ["loop.lua"] = { "return { name = function() while true do end end }", "instruction limit" },
      ["escape.lua"] = { "return { run_name = function() return '../../x' end }", "not a single file name" },
    }
    tbtrace.trace_on { graph = true, profiler = true }
    record_steps(3)
    tbtrace.experimental.set_step(1)   -- no explicit step: the policy's step hook runs
    for file, case in pairs(bad) do
      local f = assert(io.open(dir .. "/" .. file, "w"))
      f:write(case[1])
      f:close()
      local ok, err = pcall(function()
        tbtrace.policy.set(tbtrace.policy.load(dir .. "/" .. file))
        return tbtrace.trace_export("t")
      end)
      assert.is_false(ok, file)
      assert.matches(case[2], err)
      assert.is_true(tbtrace.trace_stats().on, file)
    end
    tbtrace.policy.set { name = function() return "fixed" end }
    assert.is_true(tbtrace.trace_export("t", 1))
    local evs = events()
    assert.are.equal(1, #evs)
    local rm, v = run_metadata(evs[1])
    assert.are.equal("fixed", v.tag)
    assert.are.same({ "step", "step/compute", "step/load" }, node_names(rm))
  end)

  it("is loaded from TBTRACE_POLICY by the interpreter, and a broken one fails loudly", function()
    local dir = fs.tmpdir("envpol")
    os.execute("mkdir -p " .. fs.quote(dir))
    local function write(name, src)
      local f = assert(io.open(dir .. "/" .. name, "w"))
      f:write(src)
      f:close()
    end
    write("p.lua", "return { name = function(ctx) return 'env-' .. ctx.name end }")
    write("bad.lua", "return { name = 5 }")
    write("driver.lua", string.format([[
      local w = assert(tbtrace.create_file_writer(%q))
      w:set_as_default(1)
      tbtrace.trace_on()
      tbtrace.span("a", function() end)
      assert(tbtrace.trace_export("t"))
      w:close()
      print(w:path())
    ]], dir .. "/logs"))
    local exe = os.getenv("TBTRACE_EXE") or "build/tbtrace"
    local p = io.popen(string.format("TBTRACE_POLICY=%s %s %s 2>&1", fs.quote(dir .. "/p.lua"), fs.quote(exe), fs.quote(dir .. "/driver.lua")))
    local path = p:read("l")
    assert.is_true(p:close(), path)
    local evs = wire.read_event_file(path)
    assert.are.equal("env-t", evs[2].summary.value[1].tag)
    p = io.popen(string.format("TBTRACE_POLICY=%s %s %s 2>&1", fs.quote(dir .. "/bad.lua"), fs.quote(exe), fs.quote(dir .. "/driver.lua")))
    local out = p:read("a")
    assert.is_nil(p:close())
    -- the module loads (the driver runs); its export fails with the policy's message
    assert.matches("bad%.lua': hook 'name' %(.*bad%.lua:1%) must be a function", out)
    assert.matches("in function 'tbtrace.trace_export'", out, 1, true)
  end)
end)

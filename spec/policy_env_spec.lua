-- policy_env_spec.lua: policies as a user meets them: a broken TBTRACE_POLICY, `tbtrace policy
-- check`, and the shipped policies (scripts/policies/) with a plain driver.
local tbtrace = require "tbtrace"
local wire = require "wire"
local fs = require "fs"
local P = tbtrace.policy

local TBTRACE = os.getenv("TBTRACE_EXE") or "build/tbtrace"
local SOURCE = os.getenv("TBT_SOURCE_DIR") or "."
local POLICIES = SOURCE .. "/scripts/policies/"

local function write(path, src)
  local f = assert(io.open(path, "w"))
  f:write(src)
  f:close()
  return path
end

local function slurp(path)
  local f = assert(io.open(path))
  local s = f:read("a")
  f:close()
  return s
end

-- Runs cmd with stdout and stderr apart; returns out, err, exit code.
local function run(cmd, dir)
  local ok, _, code = os.execute(string.format("%s >%s 2>%s", cmd, fs.quote(dir .. "/out"), fs.quote(dir .. "/err")))
  return slurp(dir .. "/out"), slurp(dir .. "/err"), ok and 0 or code
end

describe("a broken TBTRACE_POLICY", function()
  local BROKEN = {
    ["syntax error"] = { "return {\n  name = function( }\n", "error%.lua:2:" },
    ["unknown field"] = { "return {\n  name = function() return 'n' end,\n  nmae = 1,\n}\n", "unknown field 'nmae' %(.*unknown field%.lua:3%)" },
    ["hook that is no function"] = { "return {\n  step = 5 }\n", "hook 'step' %(.*hook that is no function%.lua:2%) must be a function" },
    ["missing file"] = { nil, "cannot open policy '.*missing file%.lua': No such file or directory" },
  }

  for what, case in pairs(BROKEN) do
    it("(" .. what .. ") breaks neither require, -v nor a script that does not export", function()
      local dir = fs.tmpdir("envpolicy")
      local pol = dir .. "/" .. what .. ".lua"
      if case[1] then write(pol, case[1]) end
      local env = "TBTRACE_POLICY=" .. fs.quote(pol) .. " "
      -- reported once, on stderr, naming the variable and the file (and line)
      local want = "^tbtrace: TBTRACE_POLICY=" .. pol:gsub("%p", "%%%0") .. ": [^\n]*" .. case[2] .. "[^\n]*\n$"
      local out, err, code = run(env .. "lua5.4 -e 'require \"tbtrace\" print(\"loaded\")'", dir)
      assert.are.equal(0, code, err)
      assert.are.equal("loaded\n", out)
      assert.matches(want, err)
      out, err, code = run(env .. fs.quote(TBTRACE) .. " -v", dir)
      assert.are.equal(0, code, err)
      assert.matches("^tbtrace ", out)
      assert.matches(want, err)
      -- a script that logs but never exports runs as if no policy were set
      write(dir .. "/log.lua", string.format([[
local tbtrace = require "tbtrace"
local w = assert(tbtrace.create_file_writer(%q))
w:set_as_default(1)
assert(tbtrace.scalar("x", 1))
w:close()
print("logged")
]], dir .. "/logs"))
      out, err, code = run(env .. fs.quote(TBTRACE) .. " " .. fs.quote(dir .. "/log.lua"), dir)
      assert.are.equal(0, code, err)
      assert.are.equal("logged\n", out)
      assert.matches(want, err)
    end)
  end

  it("fails each export with the message, keeping the trace", function()
    local dir = fs.tmpdir("envpolicy-export")
    local pol = write(dir .. "/bad.lua", "return {\n  nmae = function() end }\n")
    write(dir .. "/driver.lua", string.format([[
local tbtrace = require "tbtrace"
local w = assert(tbtrace.create_file_writer(%q, { max_queue = 0 }))
w:set_as_default(1)
tbtrace.trace_on()
tbtrace.span("kept", function() end)
for i = 1, 2 do
  local ok, err = pcall(tbtrace.trace_export, "t")
  print(ok, err, tbtrace.trace_stats().on)
end
tbtrace.policy.set(nil)   -- the driver takes over: the trace is still there
assert(tbtrace.trace_export("t"))
w:close()
]], dir .. "/logs"))
    for _, cmd in ipairs { "lua5.4", fs.quote(TBTRACE) } do
      os.execute("rm -rf " .. fs.quote(dir .. "/logs"))
      local out, err, code = run("TBTRACE_POLICY=" .. fs.quote(pol) .. " " .. cmd .. " " .. fs.quote(dir .. "/driver.lua"), dir)
      assert.are.equal(0, code, err)
      local msg = "TBTRACE_POLICY=" .. pol .. ": policy '" .. pol .. "': unknown field 'nmae' (" .. pol .. ":2)"
      assert.are.equal(string.format("false\t%s\ttrue\nfalse\t%s\ttrue\n", msg, msg), out)
      assert.are.equal("tbtrace: " .. msg .. "\n", err)   -- once
      local evs = wire.read_event_file(fs.find(dir .. "/logs", "*tfevents*")[1])
      assert.are.equal(2, #evs)
      local rm = wire.decode("RunMetadata", evs[2].summary.value[1].tensor.string_val[1])
      assert.are.equal("kept", rm.function_graphs[1].pre_optimization_graph.node[1].name)
    end
  end)
end)

describe("tbtrace policy check", function()
  it("prints the policy, the sample facts and what each hook decides", function()
    local dir = fs.tmpdir("policy-check")
    local pol = write(dir .. "/p.lua", [[
return {
  max_queue = 5,
  time_budget = 0.5,
  name = function(ctx) return "n-" .. ctx.name end,
  step = function(ctx) return nil end,
  logdir = function(ctx) return "/logs/" .. ctx.host end,
}
]])
    local out, err, code = run(string.format("%s policy check %s name=fit host=h1 export_index=7 graph=false", fs.quote(TBTRACE), fs.quote(pol)), dir)
    assert.are.equal(0, code, err)
    assert.are.equal("", err)
    local want = {
      "policy " .. pol,
      "  budgets: 0.5 s per export, 64 MiB",
      "  max_queue = 5",
      "facts",
      '  name             "fit"',
      "  step             nil",
      "  default_step     nil",
      "  logdir           nil",
      "  profiler_outdir  nil",
      "  graph            false",
      "  profiler         false",
      '  host             "h1"',
    }
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    for i, l in ipairs(want) do assert.are.equal(l, lines[i]) end
    assert.matches("\n  export_index     7\n", out, 1, true)
    assert.matches('\ndecisions\n  name             "n-fit" (' .. pol .. ":4)\n" ..
      "  step             nil: the caller's step, else get_step() (" .. pol .. ":5)\n" ..
      '  logdir           "/logs/h1" (' .. pol .. ":6)\n" ..
      "  profiler_outdir  no hook: the caller's outdir, else the logdir\n" ..
      "  run_name         no hook: the local time\n", out, 1, true)
    assert.are.equal("no hook: the local time\n", out:sub(-#"no hook: the local time\n"))
    -- a driver with its own writer: the policy's logdir is not asked, and check says so
    out = run(string.format("%s policy check %s logdir=/mine", fs.quote(TBTRACE), fs.quote(pol)), dir)
    assert.matches('  logdir           not asked: the driver has its own writer (logdir "/mine") (' .. pol .. ":6)", out, 1, true)
  end)

  it("fails with the policy's error, and on what is not fact=value", function()
    local dir = fs.tmpdir("policy-check-bad")
    local pol = write(dir .. "/p.lua", "return {\n  name = function(ctx) return 5 end }\n")
    local out, err, code = run(string.format("%s policy check %s", fs.quote(TBTRACE), fs.quote(pol)), dir)
    assert.are.equal(1, code)
    assert.matches("tbtrace policy check: policy '.*p%.lua': hook 'name' %(.*p%.lua:2%) returned number %(string expected%)\n$", err)
    out, err, code = run(string.format("%s policy check %s bogus=1", fs.quote(TBTRACE), fs.quote(pol)), dir)
    assert.are.equal(2, code)
    assert.matches("'bogus=1' is not fact=value; facts: name, step,", err, 1, true)
    out, err, code = run(string.format("%s policy check /dev/zero", fs.quote(TBTRACE)), dir)
    assert.are.equal(1, code)
    assert.matches("cannot read policy '/dev/zero': not a regular file (a character device)", err, 1, true)
  end)
end)

describe("the shipped policies", function()
  for _, name in ipairs { "default", "per_run", "per_host", "step_from_env" } do
    it(name .. ".lua decides from the bare minimum of facts without failing", function()
      local r = P.resolve(P.load(POLICIES .. name .. ".lua"), { name = "n" })
      assert.is_table(r)
      if name == "per_run" then
        assert.are.equal("export-001", r.run_name)
        assert.is_nil(r.step)   -- neither a default step nor an export count: TensorFlow's rule
        assert.are.equal(4, P.resolve(P.load(POLICIES .. name .. ".lua"), { name = "n", export_index = 4 }).step)
      end
    end)
  end

  it("work with a plain driver (no writer, no step) and say when the driver's writer wins", function()
    local dir = fs.tmpdir("shipped")
    write(dir .. "/plain.lua", [[
local tbtrace = require "tbtrace"
tbtrace.trace_on()
tbtrace.span("work", function() end)
assert(tbtrace.trace_export("t"))
tbtrace.trace_on()
tbtrace.span("work", function() end)
assert(tbtrace.trace_export("t"))
print(tbtrace.last_export().wrote_summary)
]])
    for _, name in ipairs { "per_run", "per_host", "step_from_env", "default" } do
      local root = dir .. "/root-" .. name
      local out, err, code = run(string.format("TBTRACE_LOGROOT=%s TBTRACE_POLICY=%s lua5.4 %s", fs.quote(root),
        fs.quote(POLICIES .. name .. ".lua"), fs.quote(dir .. "/plain.lua")), dir)
      assert.are.equal(0, code, name .. ": " .. err)
      if name == "per_run" or name == "per_host" then
        assert.are.equal("true\n", out)
        local files = fs.find(root, "*tfevents*")
        assert.are.equal(1, #files)
        local evs = wire.read_event_file(files[1])
        assert.are.equal(3, #evs)
        assert.are.same({ 1, 2 }, { evs[2].step, evs[3].step })   -- the export count
      else
        assert.are.equal("false\n", out)   -- no writer: nothing to write to, as in TensorFlow
      end
    end
    -- with its own writer, per_run says once where the traces go instead
    write(dir .. "/own.lua", string.format([[
local tbtrace = require "tbtrace"
local w = assert(tbtrace.create_file_writer(%q))
w:set_as_default(1)
for i = 1, 2 do
  tbtrace.trace_on()
  assert(tbtrace.trace_export("t"))
end
]], dir .. "/mine"))
    local root = dir .. "/unused"
    local _, err, code = run(string.format("TBTRACE_LOGROOT=%s TBTRACE_POLICY=%s lua5.4 %s", fs.quote(root),
      fs.quote(POLICIES .. "per_run.lua"), fs.quote(dir .. "/own.lua")), dir)
    assert.are.equal(0, code, err)
    assert.are.equal(string.format("policy '%sper_run.lua': the driver has its own writer: traces go to %s, not below %s\n",
      POLICIES, dir .. "/mine", root), err)
    assert.is_false(fs.exists(root))
  end)
end)

-- policy_spec.lua: tbtrace.policy: loading, every hook, composition, the sandbox rules, and every
-- kind of bad policy with its message.
local tbtrace = require "tbtrace"
local fs = require "fs"
local P = tbtrace.policy

local dir = fs.tmpdir("policies")
os.execute("mkdir -p '" .. dir .. "'")

local function write_policy(name, src)
  local path = dir .. "/" .. name
  local f = assert(io.open(path, "w"))
  f:write(src)
  f:close()
  return path
end

local function facts(t)
  local f = { name = "trace", host = "hostA", pid = 42, time = 1700000000.5, export_index = 3,
    spans = 10, threads = 2, graph = true, profiler = false }
  for k, v in pairs(t or {}) do f[k] = v end
  return f
end

local function load_error(src)
  local path = write_policy("bad.lua", src)
  local ok, err = pcall(function() return P.resolve(P.load(path), facts()) end)
  assert.is_false(ok)
  return err, path
end

describe("policy hooks", function()
  it("resolves every hook and setting from ctx", function()
    local path = write_policy("all.lua", [[
      return {
        name = function(ctx) return ctx.host .. "/" .. ctx.name end,
        step = function(ctx) return ctx.export_index * 100 end,
        logdir = function(ctx) return "/tmp/logs/" .. ctx.pid end,
        profiler_outdir = function(ctx) return "profiles" end,
        run_name = function(ctx) return "run-" .. ctx.export_index end,
        max_queue = 3, flush_millis = 500, filename_suffix = ".custom",
      }]])
    local r = P.resolve(P.load(path), facts())
    assert.are.equal("hostA/trace", r.name)
    assert.are.equal(300, r.step)
    assert.are.equal("/tmp/logs/42", r.logdir)
    assert.are.equal("/tmp/logs/42/profiles", r.profiler_outdir)   -- relative: below the logdir
    assert.are.equal("run-3", r.run_name)
    assert.are.same({ max_queue = 3, flush_millis = 500, filename_suffix = ".custom" }, r.settings)
  end)

  it("leaves to the caller what the caller gave and what no hook decides", function()
    local path = write_policy("partial.lua", [[
      return { step = function() return 5 end, logdir = function() return "x" end,
               profiler_outdir = function() return "/abs" end }]])
    local r = P.resolve(P.load(path), facts({ step = 9, logdir = "/given", profiler_outdir = "/out" }))
    assert.is_nil(r.name)
    assert.is_nil(r.step)             -- the caller's step wins
    assert.is_nil(r.logdir)           -- a default writer exists
    assert.is_nil(r.profiler_outdir)  -- the caller gave one
    assert.is_nil(r.run_name)
  end)

  it("accepts integral floats for step and nil to fall back", function()
    local a = P.load(write_policy("f.lua", "return { step = function() return 4.0 end }"))
    assert.are.equal(4, P.resolve(a, facts()).step)
    assert.are.equal("integer", math.type(P.resolve(a, facts()).step))
    local b = P.load(write_policy("n.lua", "return { step = function() return nil end }"))
    assert.is_nil(P.resolve(b, facts()).step)
  end)

  it("gives hooks a read-only ctx", function()
    local err = load_error("return { name = function(ctx) ctx.name = 'x'; return 'y' end }")
    assert.matches("ctx is read%-only %(tried to set 'name'%)", err)
  end)
end)

describe("policy composition", function()
  it("extends a base by path, overriding hooks and settings, with parent available", function()
    write_policy("base.lua", [[return { name = function(ctx) return "base-" .. ctx.name end,
      run_name = function() return "from-base" end, max_queue = 1, flush_millis = 2 }]])
    local child = write_policy("child.lua", [[return { extends = "base.lua",
      name = function(ctx, parent) return "child-" .. parent() end, max_queue = 10 }]])
    local p = P.load(child)
    local r = P.resolve(p, facts())
    assert.are.equal("child-base-trace", r.name)
    assert.are.equal("from-base", r.run_name)
    assert.are.same({ max_queue = 10, flush_millis = 2 }, r.settings)
    assert.are.same({ child, dir .. "/base.lua" }, p.chain)
  end)

  it("extends the shipped policies", function()
    local path = write_policy("mine.lua", string.format(
      "return { extends = %q, name = function(ctx) return 'mine' end }",
      os.getenv("TBT_SOURCE_DIR") .. "/scripts/policies/per_host.lua"))
    local r = P.resolve(P.load(path), facts({ export_index = 7 }))
    assert.are.equal("mine", r.name)
    assert.are.equal("export-007", r.run_name)
    assert.matches("/run/hostA%-42$", r.logdir)
  end)

  it("reports a missing base and cycles", function()
    local err = load_error("return { extends = 'nope.lua' }")
    assert.matches("cannot open policy '.*/nope%.lua'", err)
    write_policy("cyc.lua", "return { extends = 'cyc.lua' }")
    local ok, cerr = pcall(P.load, dir .. "/cyc.lua")
    assert.is_false(ok)
    assert.matches("nests too deep", cerr)
  end)
end)

describe("policy sandbox", function()
  local forbidden = {
    { "io.open('/etc/passwd')", "global 'io'" },
    { "os.execute('true')", "field 'execute'" },
    { "os.remove('/tmp/x')", "field 'remove'" },
    { "io.popen('ls')", "global 'io'" },
    { "require('os')", "global 'require'" },
    { "load('return 1')", "global 'load'" },
    { "dofile('/etc/passwd')", "global 'dofile'" },
    { "debug.getinfo(1)", "global 'debug'" },
    { "package.loadlib('x', 'y')", "global 'package'" },
    { "coroutine.wrap(print)", "global 'coroutine'" },
    { "getmetatable('').__index.upper = nil", "index a nil value" },
  }
  for _, c in ipairs(forbidden) do
    it("forbids " .. c[1], function()
      local err, path = load_error("return { name = function(ctx) " .. c[1] .. "; return 'x' end }")
      assert.matches("policy '" .. path:gsub("%p", "%%%0") .. "': hook 'name' failed: .-bad%.lua:1:", err)
      assert.matches(c[2], err, 1, true)
    end)
  end

  it("allows string, table, math, utf8, os.time/date/getenv/clock", function()
    local path = write_policy("ok.lua", [[return { name = function(ctx)
      return string.format("%s-%d-%s-%s", table.concat({"a","b"}), math.max(1, 2), utf8.char(72),
        type(os.time() + os.clock()) .. (os.getenv("HOME") and "h" or "") .. os.date("!%Y", 0))
    end }]])
    assert.are.equal("ab-2-H-numberh1970", P.resolve(P.load(path), facts()).name)
  end)

  it("stops endless loops, even ones that catch errors", function()
    local err = load_error("return { name = function() while true do end end }")
    assert.matches("hook 'name' failed: the hook exceeded the instruction limit %(1000000%) at .*bad%.lua:1; endless loop%?", err)
    err = load_error("return { name = function() while true do pcall(function() while true do end end) end end }")
    assert.matches("instruction limit", err)
    local ok, lerr = pcall(P.load, write_policy("loadloop.lua", "while true do end"))
    assert.is_false(ok)
    assert.matches("exceeded the instruction limit", lerr)
  end)

  it("honours a custom instruction limit and trusted mode", function()
    local path = write_policy("busy.lua", [[return { name = function()
      local n = 0; for i = 1, 200000 do n = n + i end; return tostring(n) end }]])
    assert.has_error(function() P.resolve(P.load(path, { instruction_limit = 1000 }), facts()) end)
    assert.are.equal("20000100000", P.resolve(P.load(path), facts()).name)
    local trusted = write_policy("trusted.lua", "return { name = function() return io and 'io' or 'no io' end }")
    assert.are.equal("io", P.resolve(P.load(trusted, { trusted = true }), facts()).name)
    assert.are.equal("no io", P.resolve(P.load(trusted), facts()).name)
  end)
end)

describe("bad policies", function()
  local cases = {
    { "return { name = function() return", "bad%.lua:1: 'end' expected" },
    { "error('boom')", "policy .*bad%.lua:1: boom" },
    { "return 5", "must return a table %(got number%)" },
    { "return { nmae = function() end }", "unknown field 'nmae' %(.*bad%.lua:1%)" },
    { "return { name = 'x' }", "hook 'name' %(.*bad%.lua:1%) must be a function %(got string%)" },
    { "return { max_queue = -1 }", "'max_queue' %(.*bad%.lua:1%) must be a non%-negative integer %(got %-1%)" },
    { "return { flush_millis = 1.5 }", "'flush_millis' %(.*bad%.lua:1%) must be a non%-negative integer" },
    { "return { filename_suffix = 'a/b' }", "'filename_suffix' %(.*bad%.lua:1%) must be a string without '/'" },
    { "return { extends = 5 }", "'extends' %(.*bad%.lua:1%) must be a path or a policy table" },
    { "return { name = function() error('inner') end }", "hook 'name' failed: .*bad%.lua:1: inner" },
    { "return { name = function() return 5 end }", "hook 'name' %(.*bad%.lua:1%) returned number %(string expected%)" },
    { "return { name = function() return '' end }", "returned an empty string" },
    { "return { name = function() return 'a\\0b' end }", "NUL" },
    { "return { name = function() return '\\xff' end }", "not valid UTF%-8" },
    { "return {\n step = function() return 'x' end }", "hook 'step' %(.*bad%.lua:2%) returned string %(integer expected%)" },
    { "return { step = function() return 1.5 end }", "returned 1%.5 %(integer expected%)" },
    { "return { logdir = function() return '../../etc' end }", "returned a path with '%.%.'" },
    { "return { logdir = function() return 'a/../../b' end }", "returned a path with '%.%.'" },
    { "return { profiler_outdir = function() return '../up' end }", "returned a path with '%.%.'" },
    { "return { run_name = function() return 'a/b' end }", "'a/b', which is not a single file name" },
    { "return { run_name = function() return '..' end }", "not a single file name" },
    { "return { run_name = function() return 'a:b' end }", "characters a file name cannot hold" },
    { "return { run_name = function() return 'a\\nb' end }", "characters a file name cannot hold" },
    { "return { run_name = function() return string.rep('x', 300) end }", "longer than 255 bytes" },
    { "return { logdir = function() return {} end }", "returned table %(string expected%)" },
  }
  for _, c in ipairs(cases) do
    it("reports " .. c[2], function()
      local err = load_error(c[1])
      assert.matches(c[2], err)
      assert.matches("bad%.lua", err)   -- every message names the file
    end)
  end

  it("a relative profiler_outdir needs a logdir", function()
    local path = write_policy("rel.lua", "return { profiler_outdir = function() return 'p' end }")
    local ok, err = pcall(P.resolve, P.load(path), facts())
    assert.is_false(ok)
    assert.matches("relative path and there is no logdir", err)
  end)

  it("rejects bad arguments to load, from_table and set", function()
    assert.has_error(function() P.load() end, "bad argument #1 to 'policy.load' (non-empty string expected, got nil)")
    assert.has_error(function() P.load("") end)
    assert.has_error(function() P.load("x", 5) end, "bad argument #2 to 'policy.load' (table expected, got number)")
    assert.matches("cannot open policy '/nonexistent/p%.lua'", select(2, pcall(P.load, "/nonexistent/p.lua")))
    assert.has_error(function() P.from_table(5) end)
    assert.has_error(function() P.set(5) end)
  end)
end)

describe("policy.set / current", function()
  it("installs a policy from a table or a loaded policy, and nil clears it", function()
    assert.is_nil(P.current())
    local p = P.set({ name = function() return "t" end })
    assert.are.equal(p, P.current())
    assert.are.equal("t", P.resolve(P.current(), facts()).name)
    local q = P.load(write_policy("s.lua", "return {}"))
    P.set(q)
    assert.are.equal(q, P.current())
    P.set(nil)
    assert.is_nil(P.current())
  end)
end)

-- policy_budget_spec.lua: a policy file cannot stall or bloat the host. Each attack an unlucky
-- policy author could write (C-level work that no instruction count sees, memory, looping
-- metamethods and finalizers) runs from a driver in stock lua5.4 with the module and in the
-- tbtrace interpreter: the export returns within the budget plus 0.5 s with an error naming the
-- policy, the hook, file:line and the budget; the trace is kept; the next export works and writes
-- what was recorded. Also: files a policy loads, read-only facts, print, and the budgets' settings.
local tbtrace = require "tbtrace"
local wire = require "wire"
local fs = require "fs"
local P = tbtrace.policy

local TBTRACE = os.getenv("TBTRACE_EXE") or "build/tbtrace"
local LUA = "lua5.4"   -- with LUA_CPATH from ctest: the module under test

-- Wall-clock seconds (os.clock counts only this process, not the policy's).
local function now()
  local p = assert(io.popen("date +%s.%N"))
  local t = tonumber(p:read("l"))
  p:close()
  return t
end

local function write(path, src)
  local f = assert(io.open(path, "w"))
  f:write(src)
  f:close()
  return path
end

-- Each attack is one line of a hook; `budget` is the one that stops it.
local ATTACKS = {
  { "string.find backtracking", [[string.find(string.rep("a", 40), string.rep("a*", 20) .. "b")]], "time" },
  { "string.gsub backtracking", [[string.gsub(string.rep("a", 40), string.rep("a*", 20) .. "b", "")]], "time" },
  { "table.move over a huge range", [[table.move({ 1 }, 1, math.maxinteger - 1, 2, {})]], "time" },
  { "4 GiB of data", [[local s = string.rep(string.rep("x", 1024), 1024) local t = {} for i = 1, 4096 do t[i] = s .. i end]], "memory" },
  { "one 2 GiB string", [[local s = string.rep("x", (1 << 31) - 2)]], "memory" },
  { "an error whose __tostring loops", [[error(setmetatable({}, { __tostring = function() while true do end end }))]], "time" },
  { "a __gc finalizer that loops", [[setmetatable({}, { __gc = function() while true do end end })]], "time" },
  { "a __pairs that loops", [[for _ in pairs(setmetatable({}, { __pairs = function() while true do end end })) do end]], "instruction" },
  { "an __index that loops", [[local _ = setmetatable({}, { __index = function() while true do end end }).x]], "instruction" },
  { "an endless loop", [[while true do end]], "instruction" },
}

-- Seconds: the policies that the time budget stops set it lower than the default, to keep the
-- suite quick; the others keep the default (1 s).
local BUDGET = 0.5

-- The policy: the attack runs in hook 'name' (line 3) only for the export named "attack".
local function attack_policy(dir, i, code, budget)
  return write(string.format("%s/attack%d.lua", dir, i), string.format(
    "return {\n  %s\n  name = function(ctx) if ctx.name == 'attack' then %s end\n    return 'ok-' .. ctx.name end,\n}\n",
    budget == "time" and "time_budget = " .. BUDGET .. "," or "", code))
end

local ERR = {
  time = "exceeded the time budget %(" .. BUDGET .. " s%)",
  memory = "exceeded the memory budget %(64 MiB%)",
  instruction = "exceeded the instruction limit %(1000000%)",
}

-- The driver: for each policy given, an export that meets the attack, then one that does not.
-- Prints one line per policy: elapsed|trace still on|error|second export's result.
local DRIVER = [[
local tbtrace = require "tbtrace"
local logdir = arg[1]
local function now()
  local p = assert(io.popen("date +%s.%N"))
  local t = tonumber(p:read("l"))
  p:close()
  return t
end
local w = assert(tbtrace.create_file_writer(logdir, { max_queue = 0 }))
w:set_as_default(1)
for i = 2, #arg do
  tbtrace.policy.set(tbtrace.policy.load(arg[i]))
  tbtrace.trace_on { graph = true }
  tbtrace.span("step" .. i, function() tbtrace.span("inner", function() end) end)
  local t0 = now()
  local ok, err = pcall(tbtrace.trace_export, "attack", i)
  local dt = now() - t0
  local on = tbtrace.trace_stats().on
  local ok2, err2 = pcall(tbtrace.trace_export, "fine", i)
  io.write(string.format("%.3f|%s|%s|%s\n", dt, tostring(on), ok and "no error" or tostring(err):gsub("\n", " "),
    ok2 and "exported" or tostring(err2)))
end
w:close()
]]

local function run_driver(cmd, dir, policies)
  local driver = write(dir .. "/driver.lua", DRIVER)
  local logdir = dir .. "/logs"
  local args = {}
  for i, p in ipairs(policies) do args[i] = fs.quote(p) end
  local p = assert(io.popen(string.format("%s %s %s %s 2>&1", cmd, fs.quote(driver), fs.quote(logdir),
    table.concat(args, " "))))
  local out = p:read("a")
  local ok = p:close()
  assert.is_true(ok, out)
  local rows = {}
  for line in out:gmatch("[^\n]+") do
    local dt, on, err, second = line:match("^([%d.]+)|(%a+)|(.*)|(.-)$")
    assert.is_not_nil(dt, line)
    rows[#rows + 1] = { dt = tonumber(dt), on = on == "true", err = err, second = second }
  end
  local files = fs.find(logdir, "*tfevents*")
  assert.are.equal(1, #files)
  local evs = wire.read_event_file(files[1])
  table.remove(evs, 1)
  return rows, evs
end

local function check_attacks(cmd)
  local dir = fs.tmpdir("budget")
  local policies = {}
  for i, a in ipairs(ATTACKS) do policies[i] = attack_policy(dir, i, a[2], a[3]) end
  local rows, evs = run_driver(cmd, dir, policies)
  assert.are.equal(#ATTACKS, #rows)
  for i, a in ipairs(ATTACKS) do
    local r = rows[i]
    local budget = a[3] == "time" and BUDGET or 1
    assert.is_true(r.dt < budget + 0.5, string.format("%s took %.3f s", a[1], r.dt))
    assert.matches(ERR[a[3]], r.err, 1, false)
    assert.matches("policy '" .. policies[i]:gsub("%p", "%%%0") .. "'", r.err)
    assert.matches("hook 'name'", r.err, 1, true)
    if a[3] ~= "instruction" then
      -- the line of the hook (or of the metamethod it set up, on the same line)
      assert.matches("attack" .. i .. "%.lua:3", r.err)
    end
    assert.is_true(r.on, a[1] .. ": the trace was kept")
    assert.are.equal("exported", r.second, a[1])
    -- the later export wrote the trace recorded before the failed one
    local v = evs[i].summary.value[1]
    assert.are.equal("ok-fine", v.tag)
    local rm = wire.decode("RunMetadata", v.tensor.string_val[1])
    local names = {}
    for _, n in ipairs(rm.function_graphs[1].pre_optimization_graph.node) do names[#names + 1] = n.name end
    assert.are.same({ "step" .. (i + 1), "step" .. (i + 1) .. "/inner" }, names)
  end
  assert.are.equal(#ATTACKS, #evs)
  return rows
end

describe("policy budgets", function()
  it("bound every attack from stock lua5.4 with the module", function()
    check_attacks(LUA)
  end)

  it("bound every attack from the tbtrace interpreter", function()
    check_attacks(fs.quote(TBTRACE))
  end)

  it("default to 1 s and 64 MiB, and the host's options override the policy's", function()
    local dir = fs.tmpdir("budget-default")
    local path = write(dir .. "/find.lua", [[
return { name = function(ctx)
  string.find(string.rep("a", 40), string.rep("a*", 20) .. "b")
  return "never" end }]])
    local p = P.load(path)
    assert.are.same({ time_budget = 1, memory_budget = 64 }, p.budgets)
    local t0 = now()
    local ok, err = pcall(P.resolve, p, { name = "x" })
    local dt = now() - t0
    assert.is_false(ok)
    assert.matches("policy '.*find%.lua': hook 'name' at .*find%.lua:2 exceeded the time budget %(1 s%)", err)
    assert.is_true(dt >= 0.9 and dt < 1.5, dt)

    -- the policy's own budgets, then the host's over them
    local own = write(dir .. "/own.lua", [[
return { time_budget = 0.7, memory_budget = 8,
  name = function(ctx)
    if ctx.name == "mem" then local s, t = string.rep(string.rep("y", 1024), 1024), {} for i = 1, 100 do t[i] = s .. i end end
    string.find(string.rep("a", 40), string.rep("a*", 20) .. "b") end }]])
    p = P.load(own)
    assert.are.same({ time_budget = 0.7, memory_budget = 8 }, p.budgets)
    ok, err = pcall(P.resolve, p, { name = "x" })
    assert.matches("exceeded the time budget %(0%.7 s%)", err)
    ok, err = pcall(P.resolve, p, { name = "mem" })
    assert.matches("hook 'name' at .*own%.lua:3 exceeded the memory budget %(8 MiB%)", err)
    p = P.load(own, { time_budget = 0.3, memory_budget = 16 })
    assert.are.same({ time_budget = 0.3, memory_budget = 16 }, p.budgets)
    ok, err = pcall(P.resolve, p, { name = "x" })
    assert.matches("exceeded the time budget %(0%.3 s%)", err)
  end)

  it("bound the policy's top level when it loads", function()
    local dir = fs.tmpdir("budget-load")
    local path = write(dir .. "/top.lua", "local x = 1\nstring.find(string.rep('a', 40), string.rep('a*', 20) .. 'b')\nreturn {}\n")
    local t0 = now()
    local ok, err = pcall(P.load, path, { time_budget = 0.3 })
    assert.is_true(now() - t0 < 0.8)
    assert.is_false(ok)
    assert.matches("policy '.*top%.lua': the top level at .*top%.lua:2 exceeded the time budget %(0%.3 s%)", err)
  end)

  it("keep the policy's module state between exports, and restart it after a budget", function()
    local dir = fs.tmpdir("budget-state")
    local path = write(dir .. "/count.lua", [[
local n = 0
return { time_budget = 0.3, name = function(ctx)
  n = n + 1
  if ctx.name == "slow" then string.find(string.rep("a", 40), string.rep("a*", 20) .. "b") end
  return ctx.name .. n end }]])
    local p = P.load(path)
    assert.are.equal("a1", P.resolve(p, { name = "a" }).name)
    assert.are.equal("a2", P.resolve(p, { name = "a" }).name)
    assert.has_error(function() P.resolve(p, { name = "slow" }) end)
    assert.are.equal("a1", P.resolve(p, { name = "a" }).name)   -- a fresh process
  end)

  it("end with their policy, and policies loaded and dropped do not pile up processes", function()
    local dir = fs.tmpdir("budget-many")
    local path = write(dir .. "/p.lua", "return { name = function() return 'x' end }")
    -- this process's children (policy processes are forked from the thread that loads them)
    local function children()
      local f = assert(io.open(string.format("/proc/%d/task/%d/children", tbtrace.pid(), tbtrace.pid())))
      local n = 0
      for _ in f:read("a"):gmatch("%d+") do n = n + 1 end
      f:close()
      return n
    end
    collectgarbage()
    local before = children()
    local p = P.load(path)
    assert.are.equal(before + 1, children())
    p.process:close()
    assert.are.equal(before, children())
    for _ = 1, 100 do P.load(path) end
    assert.is_true(children() - before <= 17, children() - before .. " policy processes")
    collectgarbage()
    collectgarbage()
    assert.are.equal(before, children())
  end)

  it("reject budgets out of range, in the file and from the host", function()
    local dir = fs.tmpdir("budget-bad")
    for src, msg in pairs {
      ["return { time_budget = 0 }"] = "'time_budget' %(.*b%.lua:1%) must be a number of seconds in %(0, 3600%] %(got 0%)",
      ["return { time_budget = 'x' }"] = "'time_budget' %(.*b%.lua:1%) must be a number of seconds in %(0, 3600%] %(got string%)",
      ["return { memory_budget = 0.5 }"] = "'memory_budget' %(.*b%.lua:1%) must be an integer number of MiB in 1%.%.65536 %(got 0%.5%)",
      ["return { memory_budget = 1 << 20 }"] = "'memory_budget' %(.*b%.lua:1%) must be an integer number of MiB",
    } do
      local ok, err = pcall(P.load, write(dir .. "/b.lua", src))
      assert.is_false(ok)
      assert.matches(msg, err)
    end
    local good = write(dir .. "/g.lua", "return {}")
    assert.has_error(function() P.load(good, { time_budget = -1 }) end,
      "bad argument #2 to 'policy.load' (time_budget must be a number of seconds in (0, 3600], got -1)")
    assert.has_error(function() P.load(good, { memory_budget = 0 }) end,
      "bad argument #2 to 'policy.load' (memory_budget must be an integer number of MiB in 1..65536, got 0)")
  end)
end)

describe("policy files", function()
  it("load only regular files of at most 1 MiB, also through extends", function()
    local dir = fs.tmpdir("policy-files")
    assert.is_true(os.execute("mkfifo " .. fs.quote(dir .. "/fifo")))
    write(dir .. "/big.lua", "return {}\n--" .. string.rep("x", 1 << 20))
    write(dir .. "/exact.lua", "return {}" .. string.rep(" ", (1 << 20) - 9))
    local cases = {
      { "/dev/zero", "not a regular file %(a character device%)" },
      { dir .. "/fifo", "not a regular file %(a FIFO%)" },
      { dir, "not a regular file %(a directory%)" },
      { dir .. "/big.lua", "larger than 1048576 bytes" },
    }
    for _, c in ipairs(cases) do
      local t0 = now()
      local ok, err = pcall(P.load, c[1])
      assert.is_true(now() - t0 < 0.5, c[1])
      assert.is_false(ok, c[1])
      assert.matches("^cannot read policy '" .. c[1]:gsub("%p", "%%%0") .. "': " .. c[2] .. "$", err)
      -- the same through extends, trusted or not
      local ext = write(dir .. "/ext.lua", string.format("return { extends = %q }", c[1]))
      for _, trusted in ipairs { false, true } do
        ok, err = pcall(P.load, ext, { trusted = trusted })
        assert.is_false(ok)
        assert.matches("cannot read policy '.*': " .. c[2], err)
      end
    end
    assert.is_table(P.load(dir .. "/exact.lua"))   -- exactly 1 MiB is fine
  end)
end)

describe("policy facts", function()
  it("are read-only for hooks in every way", function()
    local dir = fs.tmpdir("policy-ctx")
    local path = write(dir .. "/ctx.lua", [[
return {
  name = function(ctx)
    local _, state = pairs(ctx)
    local n = 0
    for k, v in pairs(ctx) do n = n + 1 end
    local r = {
      state == nil, n,
      pcall(rawset, ctx, "name", "x") == false,
      pcall(next, ctx) == false,
      pcall(setmetatable, ctx, {}) == false,
      getmetatable(ctx) == false,
      pcall(function() ctx.name = "x" end) == false,
      ctx.name,
    }
    for i = 1, #r do r[i] = tostring(r[i]) end
    return table.concat(r, ",")
  end,
  run_name = function(ctx) return ctx.name end,   -- sees what the caller gave
}]])
    for _, trusted in ipairs { false, true } do
      local r = P.resolve(P.load(path, { trusted = trusted }), { name = "given", export_index = 1 })
      assert.are.equal("true,2,true,true,true,true,true,given", r.name)
      assert.are.equal("given", r.run_name)
    end
    -- the caller's table is untouched, and a trusted table policy gets a read-only ctx too
    local facts = { name = "n" }
    local r = P.resolve(P.from_table { name = function(ctx)
      local _, state = pairs(ctx)
      return tostring(state == nil) .. tostring(pcall(rawset, ctx, "name", "x"))
    end }, facts)
    assert.are.equal("truefalse", r.name)
    assert.are.same({ name = "n" }, facts)
  end)
end)

describe("policy print", function()
  it("writes to stderr, named by the policy", function()
    local dir = fs.tmpdir("policy-print")
    local path = write(dir .. "/talk.lua", [[
return { name = function(ctx) print("deciding", ctx.name, 3, nil) return "t" end }]])
    local script = write(dir .. "/s.lua", string.format([[
local tbtrace = require "tbtrace"
local r = tbtrace.policy.resolve(tbtrace.policy.load(%q), { name = "n" })
io.stdout:write("out:", r.name, "\n")
]], path))
    local p = assert(io.popen(string.format("%s %s 2>%s", LUA, fs.quote(script), fs.quote(dir .. "/err"))))
    local out = p:read("a")
    assert.is_true(p:close())
    assert.are.equal("out:t\n", out)
    local f = assert(io.open(dir .. "/err"))
    local err = f:read("a")
    f:close()
    assert.are.equal("policy '" .. path .. "': deciding\tn\t3\tnil\n", err)
  end)
end)

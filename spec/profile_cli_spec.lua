-- profile_cli_spec.lua: `tbtrace --profile script.lua` and `tbtrace flame FILE.folded`, run as
-- commands; the table they print is checked against the folded file the profile wrote.
local fs = require "fs"
local wire = require "wire"

local exe = os.getenv("TBTRACE_EXE") or "build/tbtrace"

local function run(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("a")
  local ok, _, code = p:close()
  return out, ok and 0 or code
end

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

local SCRIPT = [[
local function hot(n) local s = 0; for i = 1, n do s = s + i % 3 end; return s end
local function cold(n) local s = 0; for i = 1, n do s = s + i % 3 end; return s end
local function driver() hot(7000); cold(3000) end
print("args", ...)
local t0 = os.clock()
repeat for _ = 1, 20 do driver() end until os.clock() - t0 >= tonumber(arg[1])
if arg[2] == "fail" then error("script failed") end
if arg[2] == "exit" then os.exit(3) end
]]

-- The rows of a printed table: {self = %, total = %, name = ...} in order.
local function table_rows(out, title)
  local rows, on = {}, false
  for line in out:gmatch("[^\n]*") do
    if line == "by " .. title .. " time:" then on = true
    elseif on and line == "" then break
    elseif on then
      local s, t, name = line:match("^%s*([%d.]+)%%%s+([%d.]+)%%%s+(.+)$")
      if s then rows[#rows + 1] = { self = tonumber(s), total = tonumber(t), name = name } end
    end
  end
  return rows
end

local function folded_of(dir)
  local files = fs.find(dir, "*.folded")
  assert.are.equal(1, #files)
  return files[1]
end

describe("tbtrace --profile", function()
  local dir, script
  before_each(function()
    dir = fs.tmpdir("profile")
    os.execute("mkdir -p '" .. dir .. "'")
    script = dir .. "/work.lua"
    write(script, SCRIPT)
  end)

  it("runs the script with its arguments, writes the profile and prints where the time went", function()
    local out, code = run(string.format("cd '%s' && %s --profile=out work.lua 1.5 x", dir, exe))
    assert.are.equal(0, code, out)
    assert.matches("args\t1.5\tx", out)
    local self = table_rows(out, "self")
    assert.is_true(#self >= 2, out)
    assert.matches("^hot %(work%.lua:1%)$", self[1].name)
    assert.is_true(self[1].self >= 60 and self[1].self <= 80, out)
    assert.matches("^cold %(work%.lua:2%)$", self[2].name)
    local total = table_rows(out, "total")
    -- the script's chunk is the root of every stack, driver under it: nothing of the profiler's own
    -- (the loop's own clock and tonumber calls sit beside driver, a few percent at most)
    local top2 = { [total[1].name] = total[1].total, [total[2].name] = total[2].total }
    assert.is_true(top2["main chunk (work.lua:0)"] >= 99 and top2["driver (work.lua:3)"] >= 95, out)
    assert.are.equal("hot (work.lua:1)", total[3].name)
    -- the same table from the saved profile
    local folded = folded_of(dir .. "/out")
    local fout, fcode = run(string.format("%s flame '%s'", exe, folded))
    assert.are.equal(0, fcode, fout)
    assert.are.same(self, table_rows(fout, "self"))
    assert.are.same(total, table_rows(fout, "total"))
    local n = tonumber(out:match("(%d+) samples"))
    assert.is_true(n >= 1100, out)
    assert.matches(n .. " samples", fout)
  end)

  it("still exports when the script fails or calls os.exit, and passes the status on", function()
    local out, code = run(string.format("cd '%s' && %s --profile=failed work.lua 0.05 fail", dir, exe))
    assert.are.equal(1, code, out)
    assert.matches("script failed", out)
    assert.matches("by self time:", out)
    folded_of(dir .. "/failed")
    out, code = run(string.format("cd '%s' && %s --profile=exited --calls work.lua 0.05 exit", dir, exe))
    assert.are.equal(3, code, out)
    assert.matches("by self time:", out)
    folded_of(dir .. "/exited")
    -- with --calls every call of the script is a span in the Chrome trace too
    local traces = fs.find(dir .. "/exited", "*.trace.json.gz")
    assert.are.equal(1, #traces)
    local spans = {}
    for _, e in ipairs(wire.json_decode(wire.gunzip(traces[1])).traceEvents) do
      if e.ph == "X" then spans[e.name] = (spans[e.name] or 0) + 1 end
    end
    assert.is_true((spans["hot (work.lua:1)"] or 0) >= 20, "hot calls traced")
    assert.are.equal(spans["hot (work.lua:1)"], spans["cold (work.lua:2)"])
    assert.are.equal(spans["hot (work.lua:1)"], spans["driver (work.lua:3)"])
  end)

  it("reports what it cannot do", function()
    local out, code = run(string.format("%s flame '%s/none.folded'", exe, dir))
    assert.are.equal(1, code)
    assert.matches("none%.folded", out)
    write(dir .. "/bad.folded", "a;b 3\nnot a line\n")
    out, code = run(string.format("%s flame '%s/bad.folded'", exe, dir))
    assert.are.equal(1, code)
    assert.matches("bad%.folded: line 2 is not 'stack count'", out)
    out, code = run(string.format("%s --profile", exe))
    assert.are.equal(1, code)
    assert.matches("usage: tbtrace %-%-profile", out)
    out, code = run(string.format("%s --profile=x --bogus work.lua", exe))
    assert.are.equal(1, code)
    assert.matches("unrecognized option '%-%-bogus'", out)
    out, code = run(string.format("cd '%s' && %s --profile=m missing.lua", dir, exe))
    assert.are.equal(1, code)
    assert.matches("missing%.lua", out)
  end)
end)

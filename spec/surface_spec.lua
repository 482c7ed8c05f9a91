-- surface_spec.lua: what a user sees of the module besides the ops themselves: spans left open at
-- export are reported, internals stay off the public module, and error messages name functions
-- the way the docs show them.
local tbtrace = require "tbtrace"
local fs = require "fs"

local exe = os.getenv("TBTRACE_EXE") or "build/tbtrace"
local root = os.getenv("TBT_SOURCE_DIR") or "."

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- Runs a Lua script in the tbtrace interpreter; returns stdout, stderr, exit status.
local function run_script(src, ...)
  local dir = fs.tmpdir("surface")
  local script = dir .. "/script.lua"
  local f = assert(io.open(script, "w"))
  f:write(src)
  f:close()
  local args = { fs.quote(script) }
  for i = 1, select("#", ...) do args[#args + 1] = fs.quote((select(i, ...))) end
  local errf = dir .. "/stderr"
  local p = io.popen(string.format("%s %s 2>%s; echo \"exit:$?\"", fs.quote(exe), table.concat(args, " "),
                                   fs.quote(errf)))
  local out = p:read("a")
  p:close()
  local body, code = out:match("^(.-)exit:(%d+)\n$")
  return body, slurp(errf), tonumber(code)
end

describe("a span left open at export", function()
  it("is reported on stderr and in last_export(), with its name", function()
    local out, err, code = run_script([[
      local w = assert(tbtrace.create_file_writer(arg[1]))
      w:set_as_default()
      tbtrace.trace_on { graph = true }
      local s = tbtrace.scope("forgotten")     -- no <close>: never ends
      tbtrace.span("later", function() end)
      local ok = tbtrace.trace_export("t", 1)
      local r = tbtrace.last_export()
      print(ok, r.spans, r.unfinished, r.unfinished_names)
      tbtrace.trace_on { graph = true }
      do local _ <close> = tbtrace.scope("closed") end
      tbtrace.trace_export("u", 2)
      r = tbtrace.last_export()
      print(r.unfinished, "[" .. r.unfinished_names .. "]")
    ]], fs.tmpdir("surface_run"))
    assert.are.equal(0, code, err)
    assert.are.equal("true\t2\t1\tforgotten\n0\t[]\n", out)
    assert.are.equal("tbtrace: trace_export: 1 span still open at export, exported as ending there: "
                     .. "forgotten (a scope() kept without <close>?)\n", err)
  end)

  it("names several, nested ones by their paths", function()
    tbtrace.trace_off()
    local w = assert(tbtrace.create_file_writer(fs.tmpdir("surface_nested")))
    w:as_default(function()
      tbtrace.trace_on { graph = true }
      tbtrace.span_begin("a")
      tbtrace.span_begin("b")
      assert.is_true(tbtrace.trace_export("t", 1))
    end)
    w:close()
    local r = tbtrace.last_export()
    assert.are.equal(2, r.unfinished)
    assert.are.equal("a, a/b", r.unfinished_names)
  end)
end)

describe("the public module", function()
  it("shows no internals", function()
    local found = {}
    local function walk(t, prefix, seen)
      seen[t] = true
      for k, v in pairs(t) do
        if type(k) == "string" and k:sub(1, 1) == "_" and k ~= "_VERSION" then found[#found + 1] = prefix .. k end
        if type(v) == "table" and not seen[v] then walk(v, prefix .. tostring(k) .. ".", seen) end
      end
    end
    walk(tbtrace, "tbtrace.", {})
    assert.are.same({}, found)
    -- what the specs need of the inside is in a table of its own
    local internal = require "tbtrace.internal"
    assert.is_function(internal.snapshot)
  end)
end)

describe("error messages", function()
  -- The message a doc quotes for tbtrace.scalar("loss", nil), called as the docs call it.
  local function quoted(doc)
    local msg = slurp(root .. "/" .. doc):match("`(bad argument #2 to '[^']+' %(number expected, got nil%))`")
    assert.is_string(msg, doc .. " quotes no such message")
    return msg
  end

  it("name functions as the docs show them", function()
    local ok, err = pcall(function() tbtrace.scalar("loss", nil) end)
    assert.is_false(ok)
    err = err:gsub("^[^:]+:%d+: ", "")
    assert.are.equal(quoted("README.md"), err)
    assert.are.equal(quoted("docs/lua-api.md"), err)
    -- in the interpreter too (the REPL and scripts)
    local _, stderr = run_script('tbtrace.scalar("loss", nil)')
    assert.matches(quoted("README.md"):gsub("%p", "%%%0"), stderr)
  end)

  it("name unknown options with the function and a suggestion, as the docs show", function()
    local doc = slurp(root .. "/docs/lua-api.md")
    local want = doc:match("`(unknown option 'max_qeue' to 'create_file_writer' %b())`")
    assert.is_string(want)
    local ok, err = pcall(function() tbtrace.create_file_writer(fs.tmpdir("surface_opt"), { max_qeue = 5 }) end)
    assert.is_false(ok)
    assert.are.equal(want, (err:gsub("^[^:]+:%d+: ", "")))
    ok, err = pcall(function() tbtrace.trace_on { profile = true } end)
    assert.is_false(ok)
    assert.matches("unknown option 'profile' to 'trace_on' %(did you mean 'profiler'%?%)$", err)
    assert.is_false(tbtrace.trace_stats().on)   -- the typo turned nothing on
  end)
end)

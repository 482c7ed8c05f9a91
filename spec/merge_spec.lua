-- merge_spec.lua: `tbtrace merge RUN_DIR -o OUT`: every input a process of its own on one clock,
-- events kept but for pid and ts, nothing written when an input is not a Chrome trace, files that
-- are not regular skipped, usage errors refused.
local wire = require "wire"
local fs = require "fs"

local exe = os.getenv("TBTRACE_EXE") or "build/tbtrace"
local q = fs.quote

describe("tbtrace merge", function()
  local function merge(args)
    local p = io.popen(q(exe) .. " merge " .. args .. " 2>&1")
    local out = p:read("a")
    local _, _, code = p:close()
    return code, out
  end

  local function trace_file(path, text)
    local raw = path:gsub("%.gz$", "")
    local f = io.open(raw, "w")
    f:write(text)
    f:close()
    assert(os.execute("gzip -f " .. q(raw)))
  end

  it("puts each file on one clock as a process of its own and keeps the rest of each event", function()
    local dir = fs.tmpdir("merge")
    trace_file(dir .. "/b.trace.json.gz", [[{"traceEvents":[
      {"ph":"M","pid":7,"tid":0,"name":"process_name","args":{"name":"prog"}},
      {"ph":"X","pid":7,"tid":9,"ts":1.5,"dur":2,"name":"s","cat":"c","args":{"k":[1,{"x":"\u00e9"}]}}],
      "otherData":{"trace_start_ns":"1000002000"}}]])
    trace_file(dir .. "/a.trace.json.gz", [[{"traceEvents":[{"ph":"X","pid":7,"tid":1,"ts":0.001,"dur":1,"name":"t"},
      {"ph":"i","s":"t","pid":7,"tid":1,"ts":-0.5,"name":"early"}],"otherData":{"trace_start_ns":"1000000000"}}]])
    trace_file(dir .. "/c.trace.json.gz", [==[[{"ph":"X","pid":"p","tid":1,"ts":3e0,"dur":1,"name":"u"}]]==])
    local out = dir .. "/m.json"
    local code, msg = merge(q(dir) .. " -o " .. q(out))
    assert.are.equal(0, code, msg)
    assert.is_truthy(msg:find("no otherData.trace_start_ns", 1, true))   -- c, a warning
    local m = wire.json_decode(wire.read_file(out))
    local by = {}
    for _, e in ipairs(m.traceEvents) do
      if e.ph == "M" and e.name == "process_name" then by[e.args.name] = e.pid end
    end
    assert.are.same({ a = 1, b = 2, c = 3 }, by)
    local ev = {}
    for _, e in ipairs(m.traceEvents) do if e.ph ~= "M" then ev[e.name] = e end end
    assert.are.equal(0.001, ev.t.ts)
    assert.are.equal(-0.5, ev.early.ts)
    assert.are.equal(3.5, ev.s.ts)                     -- 1.5 + 2 us later start
    assert.are.equal(2, ev.s.pid)
    assert.are.same({ k = { 1, { x = "é" } } }, ev.s.args)
    assert.are.equal("c", ev.s.cat)
    assert.are.equal(3, ev.u.ts)
    assert.are.equal("1000000000", m.otherData.trace_start_ns)
    assert.are.same({ "a", "b", "c" }, m.otherData.hosts)
    for _, e in ipairs(m.traceEvents) do
      if e.ph == "M" and e.name == "process_labels" and e.pid == 2 then assert.are.equal("prog, pid 7", e.args.labels) end
    end
  end)

  it("writes nothing when an input is not a Chrome trace, and says which", function()
    local dir = fs.tmpdir("merge-bad")
    trace_file(dir .. "/a.trace.json.gz", [[{"traceEvents":[]}]])
    trace_file(dir .. "/b.trace.json.gz", [[{"traceEvents":[{"ph":"X",}]}]])
    local out = dir .. "/m.trace.json.gz"
    local code, msg = merge(q(dir) .. " -o " .. q(out))
    assert.are.equal(1, code)
    assert.is_truthy(msg:find("b.trace.json.gz: not a Chrome trace", 1, true))
    assert.is_false(fs.exists(out))
    assert.are.same({ "a.trace.json.gz", "b.trace.json.gz" }, fs.list(dir))
    -- truncated gzip
    local f = io.open(dir .. "/b.trace.json.gz", "wb")
    f:write(wire.read_file(dir .. "/a.trace.json.gz"):sub(1, 12))
    f:close()
    code, msg = merge(q(dir) .. " -o " .. q(out))
    assert.are.equal(1, code, msg)
    assert.is_false(fs.exists(out))
  end)

  it("skips what is not a regular file and refuses bad usage", function()
    local dir = fs.tmpdir("merge-odd")
    trace_file(dir .. "/a.trace.json.gz", [[{"traceEvents":[]}]])
    assert(os.execute("mkfifo " .. q(dir .. "/fifo.trace.json.gz")))
    local code, msg = merge(q(dir) .. " -o " .. q(dir .. "/out.json"))
    assert.are.equal(0, code, msg)
    assert.is_truthy(msg:find("not a regular file, skipped", 1, true))
    assert.are.equal(2, (merge(q(dir))))
    assert.are.equal(2, (merge("-o x")))
    assert.are.equal(2, (merge(q(dir) .. " -o x -o y")))
    assert.are.equal(2, (merge(q(dir .. "/none") .. " -o " .. q(dir .. "/o"))))
    code = merge(q(fs.tmpdir("merge-empty")) .. " -o " .. q(dir .. "/o"))
    assert.are.equal(1, code)
    assert.are.equal(0, (merge("--help")))
  end)
end)

-- cli_spec.lua: the `tbtrace cat` and `tbtrace ls` commands, run as a user runs them, their output
-- checked against what the independent reader (spec/support/wire.lua) finds in the same files.
local tbtrace = require "tbtrace"
local wire = require "wire"
local fs = require "fs"

local exe = os.getenv("TBTRACE_EXE") or "build/tbtrace"

-- Runs a command; returns stdout, stderr and the exit status.
local function run(args)
  local err = os.tmpname()
  local p = io.popen(string.format("timeout 20 %s %s 2>%s; echo \"exit:$?\"", fs.quote(exe), args, fs.quote(err)))
  local out = p:read("a")
  p:close()
  local f = assert(io.open(err, "rb"))
  local stderr = f:read("a")
  f:close()
  os.remove(err)
  local body, code = out:match("^(.-)exit:(%d+)\n$")
  return body, stderr, tonumber(code)
end

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function spit(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

local function json_lines(out)
  local t = {}
  for l in out:gmatch("[^\n]+") do t[#t + 1] = wire.json_decode(l) end
  return t
end

-- A logdir with n scalar points of "loss" (step i, value i / 4) and one text event at step 1.
local function logdir_with(n)
  local dir = fs.tmpdir("cli")
  local w = assert(tbtrace.create_file_writer(dir))
  w:as_default(function()
    for i = 1, n do tbtrace.scalar("loss", i / 4, i) end
    tbtrace.text("note", "hello", 1)
  end)
  w:close()
  return dir, w:path()
end

describe("tbtrace cat", function()
  it("goes on past a corrupt record with --skip-corrupt, reporting the skipped bytes", function()
    local dir, path = logdir_with(5)
    local bytes = slurp(path)
    local recs = wire.read_records(bytes)
    local at = recs[3].offset + 14   -- inside the data of the 3rd record (step 2)
    spit(path, bytes:sub(1, at - 1) .. string.char(bytes:byte(at) ~ 0x40) .. bytes:sub(at + 1))

    local out, err, code = run("cat " .. fs.quote(dir))
    assert.are.equal(1, code)
    assert.are.equal(2, #json_lines(out))   -- stops at the bad record
    assert.matches("data checksum mismatch in record at offset " .. recs[3].offset, err)

    out, err, code = run("cat --skip-corrupt " .. fs.quote(dir))
    assert.are.equal(1, code, err)   -- data was damaged
    local lines = json_lines(out)
    assert.are.equal(#recs - 1, #lines)
    local offsets = {}
    for i, l in ipairs(lines) do offsets[i] = l.offset end
    assert.are.same({ recs[1].offset, recs[2].offset, recs[4].offset, recs[5].offset, recs[6].offset,
                      recs[7].offset }, offsets)
    assert.are.same({ 1, 3, 4, 5 }, { lines[2].event.step, lines[3].event.step, lines[4].event.step,
                                      lines[5].event.step })
    assert.matches(string.format("skipped bytes %d%%.%%.%d %%(%d bytes%%)", recs[3].offset, recs[4].offset,
                                 recs[4].offset - recs[3].offset), err)
  end)

  it("reports bytes to the end of the file when no valid record follows", function()
    local dir, path = logdir_with(2)
    local bytes = slurp(path)
    local recs = wire.read_records(bytes)
    spit(path, bytes .. string.rep("\0\1\2", 20))
    local out, err, code = run("cat --skip-corrupt " .. fs.quote(path))
    assert.are.equal(1, code)
    assert.are.equal(#recs, #json_lines(out))
    assert.matches(string.format("skipped bytes %d%%.%%.%d %%(60 bytes%%), to the end of the file", #bytes,
                                 #bytes + 60), err)
  end)

  it("says when a file is not a TFRecord file", function()
    local dir = fs.tmpdir("cli_notrec")
    local path = dir .. "/events.out.tfevents.notes"
    spit(path, "these are my notes, not an event file\n")
    local out, err, code = run("cat " .. fs.quote(path))
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.matches(path:gsub("%p", "%%%0") .. ": not a TFRecord file %(length checksum mismatch", err)
  end)

  it("treats a path without event records as an error", function()
    local dir = fs.tmpdir("cli_empty")
    -- an empty directory
    local _, err, code = run("cat " .. fs.quote(dir))
    assert.are.equal(2, code)
    assert.matches("no event files", err)
    -- a directory with other files only
    spit(dir .. "/notes.txt", "hello")
    _, err, code = run("cat " .. fs.quote(dir))
    assert.are.equal(2, code)
    assert.matches("no event files", err)
    -- an empty event file, named or found
    spit(dir .. "/events.out.tfevents.1.h", "")
    _, err, code = run("cat " .. fs.quote(dir .. "/events.out.tfevents.1.h"))
    assert.are.equal(2, code)
    assert.matches("empty file, no records", err)
    _, err, code = run("cat " .. fs.quote(dir))
    assert.are.equal(2, code)
    assert.matches("no event records", err)
  end)

  it("skips a FIFO named like an event file, with a note, instead of blocking on it", function()
    local dir, path = logdir_with(2)
    local fifo = dir .. "/events.out.tfevents.0.fifo"
    assert.is_true(os.execute("mkfifo " .. fs.quote(fifo)))
    local t0 = os.time()
    local out, err, code = run("cat " .. fs.quote(dir))
    assert.is_true(os.time() - t0 < 10)
    assert.are.equal(0, code, err)
    assert.are.equal(#wire.read_records(slurp(path)), #json_lines(out))
    assert.matches(fifo:gsub("%p", "%%%0") .. ": skipped, not a regular file", err)
    out, err, code = run("ls " .. fs.quote(dir))
    assert.are.equal(0, code, err)
    assert.matches("skipped, not a regular file", err)
  end)

  it("filters by tag with --tag PATTERN (a glob)", function()
    local dir = logdir_with(3)
    local out, err, code = run("cat --tag 'lo*' " .. fs.quote(dir))
    assert.are.equal(0, code, err)
    local lines = json_lines(out)
    assert.are.equal(3, #lines)
    for _, l in ipairs(lines) do assert.are.equal("loss", l.event.summary.value[1].tag) end
    out = run("cat --tag note --tag nothing " .. fs.quote(dir))
    lines = json_lines(out)
    assert.are.equal(1, #lines)
    assert.are.equal("note", lines[1].event.summary.value[1].tag)
    local _, err2, code2 = run("cat --bogus " .. fs.quote(dir))
    assert.are.equal(2, code2)
    assert.matches("unknown option '%-%-bogus'", err2)
  end)

  it("prints wall times in full precision, as plain digits", function()
    local function event_with_wall(t) return "\9" .. string.pack("<d", t) .. "\16\7" end   -- wall_time, step 7
    assert.matches('"wall_time":1796134980,', tbtrace.event_to_json(event_with_wall(1796134980.0)))
    assert.matches('"wall_time":1796134980.25,', tbtrace.event_to_json(event_with_wall(1796134980.25)))
    assert.matches('"wall_time":1796134980.1234567,', tbtrace.event_to_json(event_with_wall(1796134980.1234567)))
    local _, path = logdir_with(1)
    local out = run("cat " .. fs.quote(path))
    local recs = wire.read_records(slurp(path))
    for i, l in ipairs(json_lines(out)) do
      assert.are.equal(wire.decode("Event", recs[i].data).wall_time, l.event.wall_time)
    end
    assert.is_nil(out:find('"wall_time":[%d.]+e', 1))
  end)
end)

describe("tbtrace ls", function()
  it("lists runs, tags by plugin with counts, steps, last values and sparklines, traces, profiles", function()
    local root = fs.tmpdir("cli_ls")
    local w = assert(tbtrace.create_file_writer(root .. "/train"))
    local v = assert(tbtrace.create_file_writer(root .. "/eval"))
    w:as_default(function()
      tbtrace.text("config", "lr = 0.1", 0)
      for step = 1, 40 do
        tbtrace.scalar("loss", 10 - step / 4, step)
        tbtrace.scalar("lr", 0.5, step)
      end
      tbtrace.histogram("weights", { 1, 2, 3 }, 40)
      tbtrace.write("hp", "x", 0, { plugin_name = "hparams", content = "" })
      tbtrace.trace_on { graph = true, profiler = true, profiler_outdir = root .. "/train" }
      tbtrace.span("step", function()
        tbtrace.span("load", function() end)
        tbtrace.span("compute", function() end)
      end)
      tbtrace.span("step", function() end)
      assert(tbtrace.trace_export { name = "first_steps", step = 2, profiler_outdir = root .. "/train" })
      tbtrace.trace_off()
    end)
    v:as_default(function() tbtrace.scalar("accuracy", 0.75, 40) end)
    w:close()
    v:close()

    local out, err, code = run("ls " .. fs.quote(root))
    assert.are.equal(0, code, err)
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.are.equal(root, lines[1])
    local eval_at, train_at
    for i, l in ipairs(lines) do
      if l:match("^run eval: 1 event file, 2 events") then eval_at = i end
      if l:match("^run train: 1 event file, %d+ events") then train_at = i end
    end
    assert.is_truthy(eval_at, out)
    assert.is_truthy(train_at, out)
    assert.is_true(eval_at < train_at)   -- runs in name order
    assert.matches("\n  scalars %(1 tag%)\n    accuracy +1 point +step 40 +last 0%.75 ", out)
    assert.matches("\n  hparams %(1 tag%)\n    hp +1 point +step 0\n", out)
    assert.matches("\n  histograms %(1 tag%)\n    weights +1 point +step 40\n", out)
    assert.matches('\n  text %(1 tag%)\n    config +1 point +step 0 +last "lr = 0%.1"\n', out)
    assert.matches("\n  scalars %(2 tags%)\n", out)
    -- loss falls steadily: the sparkline falls from the top block to the bottom one
    local spark = out:match("\n    loss +40 points +steps 1%.%.40 +last 0 +(%S+)\n")
    assert.is_truthy(spark, out)
    local bars = {}
    for ch in spark:gmatch(utf8.charpattern) do bars[#bars + 1] = ch end
    assert.are.equal(24, #bars)
    assert.are.equal("█", bars[1])
    assert.are.equal("▁", bars[24])
    -- a constant series is drawn flat
    assert.matches("\n    lr +40 points +steps 1%.%.40 +last 0%.5 +▄▄▄▄", out)
    -- the trace export: 4 spans over 3 span paths, with the profiler
    assert.matches("\n  exported traces\n    first_steps +step 2 +4 spans, 3 paths, profiled\n", out)
    local host = tbtrace.hostname()
    assert.matches("\n  profile runs %(plugins/profile%)\n    [%w_]+: " .. host:gsub("%p", "%%%0") .. "\n", out)
    local runs = fs.list(root .. "/train/plugins/profile")
    assert.are.equal(1, #runs)
    assert.matches("\n    " .. runs[1] .. ": ", out)
  end)

  it("reports damaged files and paths with nothing to list", function()
    local dir, path = logdir_with(3)
    local bytes = slurp(path)
    spit(path, bytes:sub(1, #bytes - 3))
    local out, err, code = run("ls " .. fs.quote(dir))
    assert.are.equal(1, code)
    assert.matches("truncated record", err)
    assert.matches("run %.: 1 event file, 4 events, .*1 damaged", out)
    local empty = fs.tmpdir("cli_ls_empty")
    _, err, code = run("ls " .. fs.quote(empty))
    assert.are.equal(2, code)
    assert.matches("no event files", err)
    _, err, code = run("ls /nonexistent/logdir")
    assert.are.equal(2, code)
    assert.matches("No such file or directory", err)
  end)
end)

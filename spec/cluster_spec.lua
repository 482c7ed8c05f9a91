-- cluster_spec.lua: processes of one job exporting into one logdir under
-- scripts/policies/cluster.lua. Four `tbtrace` interpreters as four ranks (each with a host name of
-- its own through `unshare -u` where that works) export 20 times each: exactly 20 profile runs
-- with one .xplane.pb and one .trace.json.gz per rank, every file decoded, device names and the
-- XPlane's task per rank, and `tbtrace merge` gives a Chrome trace with four processes. The same
-- with the ranks let go in one instant, with one rank killed in the middle of an export (none of
-- its files is ever partial, and the next export on its host clears what it left), and from a
-- C host (scripts/examples/embed.c). Also: the policy outside a cluster (merge's own cases are in
-- merge_spec.lua).
local wire = require "wire"
local fs = require "fs"

local exe = os.getenv("TBTRACE_EXE") or "build/tbtrace"
local embed = os.getenv("TBTRACE_EMBED_EXE") or "build/tbtrace_embed_example"
local src = os.getenv("TBT_SOURCE_DIR") or "."
local policy = src .. "/scripts/policies/cluster.lua"
local q = fs.quote

local real_host = io.popen("hostname"):read("l")
local can_unshare = os.execute("unshare -u true 2>/dev/null") == true

local RANKS, EXPORTS, JOB = 4, 20, "job7"

-- The host name rank r runs under.
local function host_of(r)
  return can_unshare and ("node" .. r) or real_host
end

-- A shell command running argv (already quoted) as rank r of a job of n: its own host name when
-- possible, the cluster's variables, the cluster policy.
local function rank_cmd(r, n, argv, extra_env)
  local env = string.format("TBTRACE_RANK=%d TBTRACE_WORLD_SIZE=%d TBTRACE_JOB_ID=%s TBTRACE_POLICY=%s %s",
    r, n, JOB, q(policy), extra_env or "")
  if can_unshare then
    return string.format("unshare -u sh -c %s", q(string.format("hostname %s && exec env %s %s", host_of(r), env, argv)))
  end
  return "env " .. env .. " " .. argv
end

local DRIVER = [[
local outdir, n, start, fail_at = arg[1], tonumber(arg[2]), tonumber(arg[3]), tonumber(arg[4])
local c = assert(tbtrace.cluster(), "not in a cluster")
local w = assert(tbtrace.create_file_writer(outdir))
w:set_as_default()
local f = io.open(outdir .. "/writer." .. c.rank, "w")
f:write(w:path())
f:close()
while start > 0 and os.time() < start do os.execute("sleep 0.01") end
local noop = function() end
for i = 1, n do
  tbtrace.trace_on { graph = true, profiler = true }
  tbtrace.span("step", function()
    tbtrace.span("rank" .. c.rank, noop)
  end)
  if i == fail_at then
    for _ = 1, 400000 do tbtrace.span("bulk", noop) end   -- a long export to be killed in
    io.open(outdir .. "/entering." .. c.rank, "w"):close()
  end
  assert(tbtrace.trace_export("step", i, outdir))
  w:flush()   -- what a killed rank had exported is on disk
end
w:close()
]]

-- Runs the ranks to the end; opts: start (os.time() to wait for), kill = {rank, at}. Returns
-- the exit status of each rank's shell (true when 0).
local function run_job(dir, opts)
  opts = opts or {}
  local driver = dir .. "/driver.lua"
  local f = assert(io.open(driver, "w"))
  f:write(DRIVER)
  f:close()
  local parts = {}
  for r = 0, RANKS - 1 do
    local fail_at = opts.kill and opts.kill.rank == r and opts.kill.at or 0
    local argv = string.format("%s %s %s %d %d %d", q(exe), q(driver), q(dir), EXPORTS, opts.start or 0, fail_at)
    parts[#parts + 1] = string.format("%s > %s 2>&1 & p%d=$!", rank_cmd(r, RANKS, argv), q(dir .. "/log." .. r), r)
  end
  if opts.kill then
    -- Once the rank has begun its long export and its staging directory is there, SIGKILL.
    local r = opts.kill.rank
    parts[#parts + 1] = string.format(
      "while [ ! -e %s ]; do sleep 0.005; done; " ..
      "while ! ls %s 2>/dev/null | grep -q \"\\.$p%d\\.\"; do sleep 0.002; done; kill -9 $p%d",
      q(dir .. "/entering." .. r), q(dir .. "/plugins/.tbtrace-staging"), r, r)
  end
  for r = 0, RANKS - 1 do
    parts[#parts + 1] = string.format("wait $p%d; echo $? > %s", r, q(dir .. "/status." .. r))
  end
  assert(os.execute(table.concat(parts, "\n")))
  local status = {}
  for r = 0, RANKS - 1 do
    status[r] = wire.read_file(dir .. "/status." .. r):match("^(%d+)") == "0"
  end
  return status
end

local function log_of(dir, r)
  return wire.read_file(dir .. "/log." .. r)
end

-- The stat named `name` of an XPlane (its str_value).
local function plane_stat(plane, name)
  for _, st in ipairs(plane.stats or {}) do
    local md = plane.stat_metadata[st.metadata_id]
    if md and md.name == name then return st.str_value end
  end
end

local function stem(r)
  return string.format("%s_worker_%d", host_of(r), r)
end

-- Checks one rank's two files in run (returns the Chrome trace's span names).
local function check_rank_files(run, r)
  local xs = wire.decode("XSpace", wire.read_file(run .. "/" .. stem(r) .. ".xplane.pb"))
  assert.are.same({ host_of(r) }, xs.hostnames)
  assert.are.equal("/host:CPU", xs.planes[1].name)
  assert.are.equal("/job:worker/replica:0/task:" .. r, plane_stat(xs.planes[1], "task"))
  local names = {}
  for _, md in pairs(xs.planes[1].event_metadata) do names[md.name] = true end
  assert.is_true(names["step/rank" .. r], "rank " .. r .. "'s span in its XSpace")
  local trace = wire.json_decode(wire.gunzip(run .. "/" .. stem(r) .. ".trace.json.gz"))
  assert.are.equal(host_of(r), trace.otherData.host)
  local seen = false
  for _, e in ipairs(trace.traceEvents) do seen = seen or e.name == "rank" .. r end
  assert.is_true(seen)
end

-- The job's runs: name -> sorted file names.
local function job_runs(dir)
  local runs = {}
  for _, name in ipairs(fs.list(dir .. "/plugins/profile")) do
    if name:find("^" .. JOB .. "%-") then runs[name] = fs.list(dir .. "/plugins/profile/" .. name) end
  end
  return runs
end

local function files_of(ranks)
  local want = {}
  for _, r in ipairs(ranks) do
    want[#want + 1] = stem(r) .. ".trace.json.gz"
    want[#want + 1] = stem(r) .. ".xplane.pb"
  end
  table.sort(want)
  return want
end

local ALL = { 0, 1, 2, 3 }

-- Every rank's event file: a summary per export whose RunMetadata's devices are the rank's task.
local function check_event_files(dir, exports_of)
  for r = 0, RANKS - 1 do
    local evs = wire.read_event_file(wire.read_file(dir .. "/writer." .. r))
    local steps = {}
    for _, ev in ipairs(evs) do
      if ev.summary then
        local v = ev.summary.value[1]
        assert.are.equal("graph_run_metadata", v.metadata.plugin_data.plugin_name)
        local rm = wire.decode("RunMetadata", v.tensor.string_val[1])
        assert.is_true(#rm.step_stats.dev_stats > 0)
        for _, d in ipairs(rm.step_stats.dev_stats) do
          assert.is_truthy(d.device:find("^/job:worker/replica:0/task:" .. r .. "/device:CPU:%d+$"), d.device)
        end
        for _, n in ipairs(rm.function_graphs[1].pre_optimization_graph.node) do
          assert.is_truthy(n.device:find("^/job:worker/replica:0/task:" .. r .. "/device:CPU:%d+$"), n.device)
        end
        steps[#steps + 1] = ev.step
      end
    end
    assert.are.equal(exports_of(r), #steps)
  end
end

local function staging_entries(dir)
  if not fs.exists(dir .. "/plugins/.tbtrace-staging") then return {} end
  return fs.list(dir .. "/plugins/.tbtrace-staging")
end

describe("a job of four ranks under scripts/policies/cluster.lua", function()
  local function check_whole_job(dir, status)
    for r = 0, RANKS - 1 do assert.is_true(status[r], log_of(dir, r)) end
    local runs = job_runs(dir)
    local n = 0
    for name, files in pairs(runs) do
      n = n + 1
      assert.is_truthy(name:find("^" .. JOB .. "%-%d%d%d%d%d%d$"), name)
      assert.are.same(files_of(ALL), files)
      for r = 0, RANKS - 1 do check_rank_files(dir .. "/plugins/profile/" .. name, r) end
    end
    assert.are.equal(EXPORTS, n)
    for k = 1, EXPORTS do assert.is_truthy(runs[string.format("%s-%06d", JOB, k)]) end
    assert.are.equal(EXPORTS, #fs.list(dir .. "/plugins/profile"))   -- no run but the job's
    assert.are.same({}, staging_entries(dir))
    check_event_files(dir, function() return EXPORTS end)
  end

  it("exports 20 runs with four hosts each, devices per rank, and merges them", function()
    local dir = fs.tmpdir("cluster")
    check_whole_job(dir, run_job(dir))

    local run = string.format("%s/plugins/profile/%s-%06d", dir, JOB, 3)
    local out = dir .. "/merged.trace.json.gz"
    local p = io.popen(string.format("%s merge %s -o %s 2>&1", q(exe), q(run), q(out)))
    local msg = p:read("a")
    assert.is_true(p:close(), msg)
    local merged = wire.json_decode(wire.gunzip(out))
    local procs, spans, base = {}, {}, tonumber(merged.otherData.trace_start_ns)
    for _, e in ipairs(merged.traceEvents) do
      if e.ph == "M" and e.name == "process_name" then procs[e.pid] = e.args.name end
      if e.ph == "X" and e.name:find("^rank") then spans[e.name] = e end
    end
    local names, pids = {}, {}
    for pid, name in pairs(procs) do names[#names + 1] = name; pids[name] = pid end
    table.sort(names)
    assert.are.same({ stem(0), stem(1), stem(2), stem(3) }, names)
    -- each rank's span sits in its own process, at its own absolute time
    for r = 0, RANKS - 1 do
      local e = assert(spans["rank" .. r])
      assert.are.equal(pids[stem(r)], e.pid)
      local own = wire.json_decode(wire.gunzip(run .. "/" .. stem(r) .. ".trace.json.gz"))
      local start = tonumber(own.otherData.trace_start_ns)
      local t
      for _, oe in ipairs(own.traceEvents) do if oe.name == "rank" .. r then t = oe.ts end end
      assert.is_true(math.abs((e.ts - t) - (start - base) / 1000) < 0.002)
    end
  end)

  it("does the same when the ranks start exporting in the same instant", function()
    local dir = fs.tmpdir("cluster-same")
    check_whole_job(dir, run_job(dir, { start = os.time() + 2 }))
  end)

  it("never shows a partial file of a rank killed while exporting; its host's next export clears up", function()
    local dir = fs.tmpdir("cluster-kill")
    local status = run_job(dir, { kill = { rank = 2, at = 7 } })
    for _, r in ipairs { 0, 1, 3 } do assert.is_true(status[r], log_of(dir, r)) end
    assert.is_false(status[2])
    -- it died with its staging directory there: in the middle of the export
    -- (the other ranks clear it on their next export when they share its host name)
    local left = staging_entries(dir)
    if can_unshare then assert.are.equal(1, #left) else assert.is_true(#left <= 1) end
    local runs = job_runs(dir)
    local n = 0
    for name, files in pairs(runs) do
      n = n + 1
      local k = tonumber(name:match("%-(%d+)$"))
      if k < 7 then
        assert.are.same(files_of(ALL), files)
      else
        assert.are.same(files_of { 0, 1, 3 }, files)
      end
      for _, r in ipairs(k < 7 and ALL or { 0, 1, 3 }) do check_rank_files(dir .. "/plugins/profile/" .. name, r) end
    end
    assert.are.equal(EXPORTS, n)
    check_event_files(dir, function(r) return r == 2 and 6 or EXPORTS end)

    -- The next export on rank 2's host (outside the job) removes what the dead process left.
    local after = dir .. "/after.lua"
    local f = io.open(after, "w")
    f:write("tbtrace.trace_on{profiler = true}; tbtrace.span('x', function() end); assert(tbtrace.trace_export('x', 1, arg[1]))")
    f:close()
    local argv = string.format("%s %s %s", q(exe), q(after), q(dir))
    local cmd = can_unshare and string.format("unshare -u sh -c %s", q("hostname " .. host_of(2) .. " && exec " .. argv)) or argv
    assert.is_true(os.execute(cmd .. " 2>&1"))
    assert.are.same({}, staging_entries(dir))
    assert.are.same(runs, job_runs(dir))
  end)

  it("works from a C host (scripts/examples/embed.c)", function()
    local dir = fs.tmpdir("cluster-c")
    local pol = dir .. "/embed_cluster.lua"
    local f = io.open(pol, "w")
    f:write(string.format("return { extends = %q, name = function(ctx) return 'trace' end, " ..
      "step = function(ctx) return ctx.export_attempt end }", policy))
    f:close()
    local parts = {}
    for r = 0, RANKS - 1 do
      local argv = string.format("%s %s %s", q(embed), q(dir), q(pol))
      parts[#parts + 1] = string.format("%s > %s 2>&1 & p%d=$!", rank_cmd(r, RANKS, argv), q(dir .. "/log." .. r), r)
    end
    for r = 0, RANKS - 1 do parts[#parts + 1] = string.format("wait $p%d || echo rank %d failed", r, r) end
    local p = io.popen(table.concat(parts, "\n"))
    local out = p:read("a")
    p:close()
    assert.are.equal("", out)
    local runs = job_runs(dir)
    local n = 0
    for name, files in pairs(runs) do
      n = n + 1
      assert.are.same(files_of(ALL), files)
      for r = 0, RANKS - 1 do
        local xs = wire.decode("XSpace", wire.read_file(dir .. "/plugins/profile/" .. name .. "/" .. stem(r) .. ".xplane.pb"))
        assert.are.equal("/job:worker/replica:0/task:" .. r, plane_stat(xs.planes[1], "task"))
        assert.are.equal(3, #xs.planes[1].lines)   -- the example's three worker threads
      end
    end
    assert.are.equal(3, n)   -- the example exports three times
    for _, path in ipairs(fs.find(dir, "*tfevents*")) do
      for _, ev in ipairs(wire.read_event_file(path)) do
        if ev.summary then
          local rm = wire.decode("RunMetadata", ev.summary.value[1].tensor.string_val[1])
          local task = rm.step_stats.dev_stats[1].device:match("^(/job:worker/replica:0/task:%d)/device:CPU:%d$")
          assert.is_truthy(task)
        end
      end
    end
  end)
end)

describe("scripts/policies/cluster.lua", function()
  local tbtrace = require "tbtrace"
  local p = tbtrace.policy.load(policy)

  it("names the k-th export <job>-<k> inside a cluster, made a file name", function()
    local d = tbtrace.policy.resolve(p, { export_attempt = 12, cluster = { rank = 1, world_size = 2, job_id = "a/b c", job_name = "worker", task_index = 1 } })
    assert.are.equal("a_b_c-000012", d.run_name)
    d = tbtrace.policy.resolve(p, { export_attempt = 1, cluster = { rank = 0, world_size = 1, job_id = ".hidden" } })
    assert.are.equal("_hidden-000001", d.run_name)
  end)

  it("hands ctx.cluster to hooks read-only, as ctx itself", function()
    local src_pol = [[return { run_name = function(ctx)
      local ok, err = pcall(function() ctx.cluster.rank = 9 end)
      if ok or not tostring(err):find("read-only", 1, true) then error("ctx.cluster was writable") end
      local n = 0
      for _ in pairs(ctx.cluster) do n = n + 1 end
      return "r" .. ctx.cluster.rank .. "-" .. n
    end }]]
    local facts = { export_attempt = 1, cluster = { rank = 1, world_size = 2, job_id = "j" } }
    local inline = tbtrace.policy.from_table(load(src_pol)())
    assert.are.equal("r1-3", tbtrace.policy.resolve(inline, facts).run_name)
    local file = fs.tmpdir("cluster-ro") .. "/p.lua"
    local f = io.open(file, "w")
    f:write(src_pol)
    f:close()
    assert.are.equal("r1-3", tbtrace.policy.resolve(tbtrace.policy.load(file), facts).run_name)
    assert.are.equal(1, facts.cluster.rank)
  end)

  it("leaves the name to TensorFlow's rule outside a cluster", function()
    assert.is_nil(tbtrace.policy.resolve(p, { export_attempt = 1 }).run_name)
  end)

  it("says what to set when the launcher gives no job id", function()
    local ok, err = pcall(tbtrace.policy.resolve, p, { export_attempt = 1, cluster = { rank = 0, world_size = 2 } })
    assert.is_false(ok)
    assert.is_truthy(err:find("TBTRACE_JOB_ID", 1, true))
    assert.is_truthy(err:find("cluster.lua", 1, true))
  end)
end)

-- installed.lua: what the install specs share: running commands, and decoding what the consumer
-- programs wrote (with the independent reader, spec/support/wire.lua).
local wire = require "wire"
local fs = require "fs"
local assert = require "luassert"

local M = { q = fs.quote }

M.build = assert(os.getenv("TBT_BUILD_DIR"), "TBT_BUILD_DIR not set")
M.src = assert(os.getenv("TBT_SOURCE_DIR"), "TBT_SOURCE_DIR not set")
M.here = M.src .. "/spec/install"

-- Runs cmd in sh and returns its output (stderr included); raises with the output on failure.
function M.sh(cmd)
  local p = assert(io.popen("(" .. cmd .. ") 2>&1", "r"))
  local out = p:read("a")
  local ok, how, code = p:close()
  if not ok then error(string.format("command failed (%s %s): %s\n%s", how, code, cmd, out), 2) end
  return out
end

-- The events of the one event file under dir.
function M.events(dir)
  local files = fs.find(dir, "*tfevents*", "f")
  assert(#files == 1, string.format("%d event files under %s", #files, dir))
  return wire.read_event_file(files[1])
end

local function f32(x) return (string.unpack("<f", string.pack("<f", x))) end
M.f32 = f32

-- {step = value} of the scalar summaries tagged tag (each checked to be a scalar).
function M.scalars(evs, tag)
  local out = {}
  for _, ev in ipairs(evs) do
    for _, v in ipairs(ev.summary and ev.summary.value or {}) do
      if v.tag == tag then
        assert(v.metadata.plugin_data.plugin_name == "scalars", tag .. " is not a scalar")
        local vals, shape = wire.tensor_values(v.tensor)
        assert(#shape == 0 and #vals == 1, tag .. ": not one value")
        out[ev.step or 0] = vals[1]
      end
    end
  end
  return out
end

-- The events that carry a traced graph: {tag, step, plugin, nodes = {sorted node names}}.
function M.graphs(evs)
  local out = {}
  for _, ev in ipairs(evs) do
    local v = ev.summary and ev.summary.value and ev.summary.value[1]
    local plugin = v and v.metadata and v.metadata.plugin_data and v.metadata.plugin_data.plugin_name
    if plugin and plugin:match("^graph_run_metadata") then
      local rm = wire.decode("RunMetadata", v.tensor.string_val[1])
      local nodes = {}
      for _, n in ipairs(rm.function_graphs[1].pre_optimization_graph.node) do nodes[#nodes + 1] = n.name end
      table.sort(nodes)
      out[#out + 1] = { tag = v.tag, step = ev.step or 0, plugin = plugin, nodes = nodes }
    end
  end
  return out
end

-- Checks what spec/install/consumer.c writes.
function M.check_consumer(dir)
  local evs = M.events(dir)
  local want = {}
  for step = 0, 4 do want[step] = f32(1 / (step + 1)) end
  assert.are.same(want, M.scalars(evs, "loss"))
  assert.are.same({ { tag = "consumer", step = 7, plugin = "graph_run_metadata_graph",
                      nodes = { "step", "step/load" } } }, M.graphs(evs))
end

-- Checks what spec/install/consumer_policy.c writes with spec/install/policy.lua.
function M.check_consumer_policy(dir)
  local evs = M.events(dir)
  local graphs = M.graphs(evs)
  assert.are.same({
    { tag = "policy_export_1", step = 10, plugin = "graph_run_metadata_graph", nodes = { "work", "work/inner" } },
    { tag = "policy_export_2", step = 20, plugin = "graph_run_metadata_graph", nodes = { "work", "work/inner" } },
  }, graphs)
end

-- Checks what spec/install/consumer.lua writes.
function M.check_consumer_lua(dir)
  local evs = M.events(dir)
  assert.are.same({ [1] = f32(0.25), [2] = f32(0.5), [3] = f32(0.75) }, M.scalars(evs, "accuracy"))
  local texts = {}
  for _, ev in ipairs(evs) do
    local v = ev.summary and ev.summary.value and ev.summary.value[1]
    if v and v.tag == "notes" then texts[#texts + 1] = wire.tensor_values(v.tensor)[1] end
  end
  assert.are.same({ "installed" }, texts)
end

return M

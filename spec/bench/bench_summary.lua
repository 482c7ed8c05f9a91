-- bench_summary.lua: scalar events per second written from Lua, next to a same-run baseline
-- (a Lua loop calling a trivial C function with the same arguments), and memory before/after.
local tbtrace = require "tbtrace"

local n = tonumber(arg and arg[1]) or 1000000
local dir = os.tmpname()
os.remove(dir)

local function clock() return os.clock() end

-- Baseline: the cost of the Lua->C call itself with the same argument shapes.
local math_max = math.max
local t0 = clock()
for i = 1, n do math_max(i * 0.001, i) end
local base = clock() - t0

local function run(max_queue)
  local w = assert(tbtrace.create_file_writer(dir, { max_queue = max_queue }))
  w:set_as_default()
  local scalar = tbtrace.scalar
  collectgarbage()
  local t = clock()
  for i = 1, n do scalar("loss", i * 0.001, i) end
  w:flush()
  local dt = clock() - t
  os.remove(w:path())
  w:close()
  return dt
end

local kb0 = collectgarbage("count")
local q10 = run(10)
local q1000 = run(1000)
local kb1 = collectgarbage("count")
os.execute("rm -rf '" .. dir .. "'")

print(string.format("Lua scalar summaries, %d events", n))
print(string.format("  baseline Lua->C call          %10.2f M calls/s", n / base / 1e6))
local function target(secs) return n / secs >= 2e6 and "ok" or "MISSED" end
print(string.format("  tbtrace.scalar max_queue=10   %10.2f M events/s  (%.2fx call baseline)  target >= 2: %s",
  n / q10 / 1e6, base / q10, target(q10)))
print(string.format("  tbtrace.scalar max_queue=1000 %10.2f M events/s  (%.2fx call baseline)  target >= 2: %s",
  n / q1000 / 1e6, base / q1000, target(q1000)))
print(string.format("  Lua heap: %.0f KiB before, %.0f KiB after", kb0, kb1))

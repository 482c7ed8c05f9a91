-- exit_spec.lua: what a script logged is on disk when the process exits normally, however it
-- exits: os.exit(0), os.exit(3), os.exit(true, true), the end of the script; in the tbtrace
-- interpreter and in stock lua5.4 with the module. Decoded with the independent reader.
local wire = require "wire"
local fs = require "fs"

local TBTRACE = os.getenv("TBTRACE_EXE") or "build/tbtrace"

local SCRIPT = [[
local tbtrace = require "tbtrace"
local w = assert(tbtrace.create_file_writer(arg[1]))   -- the default queue: nothing written yet
w:set_as_default(0)
for i = 1, 5 do assert(tbtrace.scalar("loss", i / 4, i)) end
local how = arg[2]
if how == "end" then return end
if how == "close" then os.exit(true, true) end
os.exit(tonumber(how))
]]

local function run(cmd, how)
  local dir = fs.tmpdir("exit")
  local script = dir .. "/s.lua"
  local f = assert(io.open(script, "w"))
  f:write(SCRIPT)
  f:close()
  local ok, _, code = os.execute(string.format("%s %s %s %s", cmd, fs.quote(script), fs.quote(dir .. "/logs"), how))
  local files = fs.find(dir .. "/logs", "*tfevents*")
  assert.are.equal(1, #files)
  return wire.read_event_file(files[1]), ok, code
end

for _, host in ipairs { { "lua5.4", "lua5.4" }, { "the tbtrace interpreter", fs.quote(TBTRACE) } } do
  describe("exiting " .. host[1], function()
    for _, case in ipairs { { "0", 0 }, { "3", 3 }, { "close", 0 }, { "end", 0 } } do
      it("writes every logged scalar (" .. (case[1] == "end" and "end of script" or "os.exit(" .. case[1] .. ")") .. ")", function()
        local evs, _, code = run(host[2], case[1])
        assert.are.equal(case[2], code)
        assert.are.equal(6, #evs)
        assert.are.equal("brain.Event:2", evs[1].file_version)
        for i = 1, 5 do
          local v = evs[i + 1].summary.value[1]
          assert.are.equal(i, evs[i + 1].step)
          assert.are.equal("loss", v.tag)
          assert.are.same({ i / 4 }, (wire.tensor_values(v.tensor)))
        end
      end)
    end
  end)
end

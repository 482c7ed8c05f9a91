-- logged.lua: what a piece of Lua code logs, read back with the independent reader.

local tbtrace = require "tbtrace"
local wire = require "wire"
local fs = require "fs"
local assert = require "luassert"

local M = {}

-- Runs fn with a fresh default writer (at step) and returns the events it wrote, after checking
-- and dropping the file_version event every event file starts with.
function M.written(fn, step, tag)
  local w = assert(tbtrace.create_file_writer(fs.tmpdir(tag or "logged"), { max_queue = 1000 }))
  w:as_default(step, fn)
  local path = w:path()
  assert(w:close())
  local evs = wire.read_event_file(path)
  assert.are.equal("brain.Event:2", evs[1].file_version)
  table.remove(evs, 1)
  return evs
end

return M

-- consumer.lua: a script run by the stock lua5.4 with the installed module.
--   lua5.4 consumer.lua LOGDIR
local tbtrace = require "tbtrace"
local w = assert(tbtrace.create_file_writer(arg[1]))
w:as_default(0, function()
  for step = 1, 3 do tbtrace.scalar("accuracy", step / 4, step) end
  tbtrace.text("notes", "installed")
end)
assert(w:close())
print(package.searchpath("tbtrace", package.cpath))

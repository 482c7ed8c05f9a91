-- doc_blocks.lua: runs the code blocks of a Markdown file, so the docs say only what works.
--
--   lua5.4 spec/doc_blocks.lua FILE.md      (env: TBT_SOURCE_DIR, TBT_BUILD_DIR, TBT_TEST_TMP)
--
-- A fenced block whose info string is `lua`, `c` or `sh` is run as written; the word `fragment`
-- after the language (```lua fragment) marks a block that is not a whole program, and any other
-- language (```text for output) is not run. Each block runs in a fresh directory that mirrors the
-- checkout (its top-level entries linked; in `build`, links to the interpreter, the module and the
-- libraries of the build tree, which a block cannot change), so paths such as
-- scripts/policies/per_run.lua and build/tbtrace work and what the block writes stays there:
--   lua  the stock lua5.4 with the built module on LUA_CPATH
--   c    compiled with -Wall -Wextra -Werror against the headers and the shared libraries
--        (libtbtrace_policy, libtbtrace) of the build tree, then run
--   sh   sh -e, with the build tree (the tbtrace interpreter) first on PATH
local file = assert(arg[1], "usage: lua5.4 spec/doc_blocks.lua FILE.md")
local src = assert(os.getenv("TBT_SOURCE_DIR"), "TBT_SOURCE_DIR not set")
local build = assert(os.getenv("TBT_BUILD_DIR"), "TBT_BUILD_DIR not set")
local tmpbase = os.getenv("TBT_TEST_TMP") or "/tmp"

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function run(cmd)
  local p = assert(io.popen("(" .. cmd .. ") 2>&1", "r"))
  local out = p:read("a")
  local ok = p:close()
  return ok, out
end

-- The blocks: {line, lang, fragment, code}.
local blocks, cur = {}, nil
local n = 0
for line in assert(io.open(file, "r")):lines() do
  n = n + 1
  if cur then
    if line:match("^```%s*$") then
      blocks[#blocks + 1] = cur
      cur = nil
    else
      cur.code[#cur.code + 1] = line
    end
  else
    local info = line:match("^```(.*)$")
    if info then
      local lang = info:match("^%s*(%S*)")
      cur = { line = n, lang = lang, fragment = (" " .. info .. " "):find("%sfragment%s") ~= nil, code = {} }
    end
  end
end
assert(not cur, file .. ":" .. (cur and cur.line or 0) .. ": code block never closed")

local ok, entries = run("ls -A " .. q(src))
assert(ok, entries)
local mirror = {}
for e in entries:gmatch("[^\n]+") do
  if e ~= ".git" and not e:match("^build") and e ~= "logs" then mirror[#mirror + 1] = e end
end

-- What the build tree lends each block.
local built = {}
for _, e in ipairs { "tbtrace", "lua" } do built[#built + 1] = build .. "/" .. e end
ok, entries = run("ls -d " .. q(build) .. "/libtbtrace*.so*")
assert(ok, entries)
for e in entries:gmatch("[^\n]+") do built[#built + 1] = e end

local work = assert(io.popen("mktemp -d " .. q(tmpbase .. "/docblocks-XXXXXX")):read("l"))
local runners = {
  lua = function(dir)
    return "cd " .. q(dir) .. " && LUA_CPATH=" .. q(dir .. "/build/lua/?.so;;") .. " timeout 120 lua5.4 block.lua"
  end,
  c = function(dir)
    return "cd " .. q(dir) .. " && cc -Wall -Wextra -Werror -I" .. q(src .. "/runtime") .. " block.c -o block -L"
      .. q(dir .. "/build") .. " -ltbtrace_policy -ltbtrace -Wl,-rpath," .. q(build) .. " && timeout 120 ./block"
  end,
  sh = function(dir)
    return "cd " .. q(dir) .. " && PATH=" .. q(dir .. "/build") .. ":\"$PATH\" timeout 300 sh -e block.sh"
  end,
}
local ext = { lua = "lua", c = "c", sh = "sh" }

local ran, failed = 0, 0
for _, b in ipairs(blocks) do
  local where = string.format("%s:%d", file:match("[^/]*$"), b.line)
  local runner = runners[b.lang]
  if runner and not b.fragment then
    local dir = string.format("%s/%d", work, b.line)
    local setup = { "mkdir " .. q(dir) }
    for _, e in ipairs(mirror) do setup[#setup + 1] = "ln -s " .. q(src .. "/" .. e) .. " " .. q(dir .. "/" .. e) end
    setup[#setup + 1] = "mkdir " .. q(dir .. "/build")
    for _, e in ipairs(built) do setup[#setup + 1] = "ln -s " .. q(e) .. " " .. q(dir .. "/build/") end
    assert(run(table.concat(setup, " && ")))
    local f = assert(io.open(dir .. "/block." .. ext[b.lang], "w"))
    f:write(table.concat(b.code, "\n"), "\n")
    f:close()
    ran = ran + 1
    local ok2, out = run(runner(dir))
    if ok2 then
      print(string.format("ok   %s (%s)", where, b.lang))
    else
      failed = failed + 1
      print(string.format("FAIL %s (%s): %s", where, b.lang, out))
    end
  else
    print(string.format("skip %s (%s%s)", where, b.lang ~= "" and b.lang or "no language", b.fragment and " fragment" or ""))
  end
end
print(string.format("%s: %d blocks run, %d failed", file, ran, failed))
os.exit(failed == 0)

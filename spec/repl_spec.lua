-- repl_spec.lua: the tbtrace REPL as a user meets it: the interpreter runs in a tmux pane, keys are
-- typed into it (send-keys) and the screen is read back (capture-pane).
local fs = require "fs"

local exe = os.getenv("TBTRACE_EXE") or "build/tbtrace"
local have_tmux = os.execute("command -v tmux >/dev/null 2>&1")

local function sh(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("a")
  local ok = p:close()
  return out, ok
end

-- A private tmux server (its own socket) with one pane running the REPL.
local Pane = {}
Pane.__index = Pane

function Pane.start()
  local self = setmetatable({ sock = "tbt_repl_" .. tostring(os.time()) .. "_" .. tostring(math.random(1e9)) }, Pane)
  local cmd = string.format("env TERM=xterm INPUTRC=/dev/null %s", fs.quote(exe))
  local out, ok = sh(string.format("tmux -L %s -f /dev/null new-session -d -x 160 -y 50 %s", self.sock,
                                   fs.quote(cmd)))
  assert(ok, out)
  self.path = sh(string.format("tmux -L %s display-message -p '#{socket_path}'", self.sock)):gsub("%s+$", "")
  local ok, err = pcall(self.wait_for, self, ">$")
  if not ok then
    self:stop()
    error(err, 2)
  end
  return self
end

function Pane:screen()
  return (sh(string.format("tmux -L %s capture-pane -p -J -S -200", self.sock)))
end

-- Waits until the screen matches pattern (up to 10 s); returns the screen.
function Pane:wait_for(pattern)
  local s
  for _ = 1, 200 do
    s = self:screen():gsub("%s+$", "")
    if s:find(pattern) then return s end
    sh("sleep 0.05")
  end
  error("timed out waiting for " .. pattern .. " on screen:\n" .. s, 2)
end

function Pane:keys(...)
  local args = {}
  for i = 1, select("#", ...) do args[i] = fs.quote((select(i, ...))) end
  local out, ok = sh(string.format("tmux -L %s send-keys %s", self.sock, table.concat(args, " ")))
  assert(ok, out)
end

-- Types a line of literal text (no key names) and Enter.
function Pane:line(text)
  self:keys("-l", text)
  self:keys("Enter")
end

function Pane:stop()
  sh(string.format("tmux -L %s kill-server", self.sock))
  if self.path and self.path:find(self.sock, 1, true) then os.remove(self.path) end
end

local function escape(s) return (s:gsub("%p", "%%%0")) end

describe("the tbtrace REPL", function()
  if not have_tmux then
    pending("tmux is not installed")
    return
  end
  local pane
  before_each(function() pane = Pane.start() end)
  after_each(function()
    if pane then pane:stop() end
    pane = nil
  end)

  it("pretty-prints returned tables, nested to a bounded depth and width", function()
    pane:line('{1, 2, {a = {b = {c = {d = 1}}}}, name = "x\\ny", [true] = 1}')
    pane:wait_for(escape('{1, 2, {a = {b = {c = {...}}}}, name = "x\\ny", [true] = 1}') .. "\n>$")
    pane:line("t = {} for i = 1, 40 do t[i] = i * i end return t")
    pane:wait_for(escape("{1, 4, 9, 16, 25, 36, 49, 64, 81, 100, 121, 144, 169, 196, 225, 256, ... (24 more)}")
                  .. "\n>$")
    pane:line("c = {} c.me = c return c, 42, 'text', nil")
    pane:wait_for(escape("{me = <cycle>}\t42\ttext\tnil"):gsub("\t", "%%s+") .. "\n>$")
    pane:line('w = {} for i = 1, 3 do w["key" .. i] = string.rep("v", 60) end return w')
    local s = pane:wait_for('\n}\n>$')
    assert.matches('\n{\n  key1 = "' .. string.rep("v", 60) .. '",\n  key2 = ', s)
    pane:line("tbtrace.create_noop_writer()")
    pane:wait_for("\ntbtrace%.writer %(noop%) %(0x%x+%)\n>$")
  end)

  it("completes Lua names with Tab: globals, module fields, table fields and methods", function()
    pane:keys("-l", "tbtrace.create_fi")
    pane:keys("Tab")
    pane:wait_for("> tbtrace%.create_file_writer%($")
    pane:keys("C-u")
    pane:line("cfg = {alpha = 1, beta = {gamma = 2}}")
    pane:wait_for("\n>$")
    pane:keys("-l", "cfg.be")
    pane:keys("Tab")
    pane:wait_for("> cfg%.beta%.$")
    pane:keys("-l", "ga")
    pane:keys("Tab")
    pane:wait_for("> cfg%.beta%.gamma$")
    pane:keys("Enter")
    pane:wait_for("\n2\n>$")
    -- methods of a writer, after ':'
    pane:line("w = tbtrace.create_noop_writer()")
    pane:wait_for("\n>$")
    pane:keys("-l", "w:as_def")
    pane:keys("Tab")
    pane:wait_for("> w:as_default%($")
    pane:keys("C-u")
    -- a global and a keyword; never a file name
    pane:keys("-l", "strin")
    pane:keys("Tab")
    pane:wait_for("> string%.$")
    pane:keys("C-u")
    pane:keys("-l", "retu")
    pane:keys("Tab")
    pane:wait_for("> return$")
    pane:keys("C-u")
    pane:keys("-l", "CMakeL")
    pane:keys("Tab")
    sh("sleep 0.3")
    assert.matches("> CMakeL$", pane:screen():gsub("%s+$", ""))
  end)

  describe("Ctrl-C", function()
    local wire = require "wire"

    it("interrupts a loop under call tracing and sampling, which go on afterwards with the user's hook", function()
      local out = fs.tmpdir("repl_int")
      pane:line("tbtrace.create_noop_writer():set_as_default()")
      pane:wait_for("\n>$")
      pane:line("tbtrace.trace_on{lua_calls = true, lua_samples = 1000, profiler = true}")
      pane:wait_for("\ntrue\n>$")
      pane:line("hits = 0; debug.sethook(function() hits = hits + 1 end, 'c')")
      pane:wait_for("\n>$")
      pane:line("function marker() end")
      pane:wait_for("\n>$")
      pane:line("x = 0; while true do x = x + 1 end")
      sh("sleep 0.5")
      pane:keys("C-c")
      pane:wait_for("interrupted!\nstack traceback:\n%s+stdin:1: in main chunk\n.*>$")
      -- the user's hook: one call event per call of marker
      pane:line("h0 = hits; for i = 1, 5 do marker() end; return hits - h0, x > 0")
      pane:wait_for("\n5%s+true\n>$")
      pane:line("return debug.gethook() ~= nil")
      pane:wait_for("\ntrue\n>$")
      -- the sampler: samples of a busy function after the interrupt
      pane:line("function busy() local t = os.clock() repeat until os.clock() - t > 0.2 end busy()")
      pane:wait_for("\n>$")
      pane:line(string.format("return tbtrace.trace_export{name = 'repl', step = 1, profiler_outdir = %q}", out))
      pane:wait_for("\ntrue\n>$")
      pane:line("e = tbtrace.last_export() return e.chrome_trace_path .. '|' .. e.folded_path")
      local s = pane:wait_for("\n[^\n]+%.folded\n>$")
      local chrome, folded = s:match("\n([^\n|]+)|([^\n]+%.folded)\n>$")
      assert.is_string(chrome)
      local trace = wire.json_decode(wire.gunzip(chrome))
      local marks, busy = 0, 0
      for _, e in ipairs(trace.traceEvents) do
        if e.ph == "X" and e.name == "marker (stdin:1)" then
          marks = marks + 1
          assert.is_nil(e.args and e.args.unfinished)
        end
        if e.ph == "X" and e.name == "busy (stdin:1)" then busy = busy + 1 end
      end
      assert.are.equal(5, marks)   -- call tracing, after the interrupt
      assert.are.equal(1, busy)
      local in_busy = 0
      for line in io.lines(folded) do
        local stack, n = line:match("^(.+) (%d+)$")
        if stack:find("busy (stdin:1)", 1, true) then in_busy = in_busy + tonumber(n) end
      end
      assert.is_true(in_busy >= 50, "samples in busy: " .. in_busy)   -- 0.2 s at 1 kHz
    end)

    it("interrupts a loop running in a coroutine, then the main thread that resumes it", function()
      pane:line("co = coroutine.create(function() local n = 0 while true do n = n + 1 end end)")
      pane:wait_for("\n>$")
      pane:line("resumes = 0; while true do resumes = resumes + 1; coroutine.resume(co) end")
      sh("sleep 0.5")
      pane:keys("C-c")
      pane:wait_for("interrupted!\nstack traceback:\n.*>$")
      pane:line("return coroutine.status(co), resumes")
      pane:wait_for("\ndead%s+1\n>$")   -- the coroutine's loop stopped, then the main thread's
      pane:line("w = coroutine.wrap(function() while true do end end) w()")
      sh("sleep 0.3")
      pane:keys("C-c")
      pane:wait_for("interrupted!\nstack traceback:\n.*>$")
      pane:line("return 6 * 7")
      pane:wait_for("\n42\n>$")
    end)
  end)
end)

describe("tbtrace --version", function()
  it("prints the version and exits", function()
    local out, ok = sh(fs.quote(exe) .. " --version </dev/null")
    assert.is_true(ok)
    local tbtrace = require "tbtrace"
    assert.matches("^tbtrace " .. escape(tbtrace._VERSION) .. " %(" .. escape(_VERSION) .. "%.%d+%)\n$", out)
  end)
end)

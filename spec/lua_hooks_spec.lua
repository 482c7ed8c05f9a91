-- lua_hooks_spec.lua: the hook multiplexer: the policy sandbox's instruction budget and the user's
-- own debug.sethook share each thread's one Lua hook.
local tbtrace = require "tbtrace"

describe("the hook multiplexer", function()
  after_each(function() debug.sethook() end)

  it("runs the sandbox budget and a user's count hook together", function()
    local counted = 0
    debug.sethook(function(ev) if ev == "count" then counted = counted + 1 end end, "", 1000)
    -- a policy from a table runs in this state (a policy file would run in a process of its own)
    local P = tbtrace.policy
    local p = P.from_table({ name = function() while true do end end }, { trusted = false, instruction_limit = 200000 })
    local before = counted
    local ok, err = pcall(P.resolve, p, { name = "x", host = "h", pid = 1, time = 0, export_index = 1,
                                          spans = 0, threads = 1, graph = true, profiler = false })
    assert.is_false(ok)
    assert.matches("exceeded the instruction limit %(200000%)", err)
    -- the user's count hook went on counting through the policy's 200000 instructions
    assert.is_true(counted - before >= 150, "user count hook ran " .. (counted - before) .. " times")
    local _, mask, n = debug.gethook()
    assert.are.equal("", mask)
    assert.are.equal(1000, n)
    before = counted
    for _ = 1, 10000 do end
    assert.is_true(counted > before, "still counting after the policy")
  end)

  it("keeps a hook set on another coroutine to that coroutine", function()
    local seen = {}
    local co = coroutine.create(function() local x = 1; coroutine.yield(); x = x + 1; return x end)
    debug.sethook(co, function(ev) seen[#seen + 1] = ev end, "r")
    assert.is_nil(debug.gethook())
    assert.are.equal("r", select(2, debug.gethook(co)))
    coroutine.resume(co)
    coroutine.resume(co)
    assert.is_true(#seen >= 1)
    for _, ev in ipairs(seen) do assert.are.equal("return", ev) end
    debug.sethook(co)
    assert.is_nil(debug.gethook(co))
  end)
  it("reports no hook to the user when only the budget holds the thread's", function()
    local fired, seen = 0, false
    assert.is_nil(require("tbtrace.internal")._budget(function() fired = fired + 1; seen = debug.gethook() end, 10))
    for _ = 1, 100 do end
    local _, n = require("tbtrace.internal")._budget()
    assert.are.equal(10, n)
    assert.is_true(fired > 0)
    assert.is_nil(seen)
    assert.is_nil(debug.gethook())
  end)

  it("has coroutine.resume and coroutine.wrap behave as the stock ones", function()
    -- the same script in stock lua5.4, without and with the module
    local script = [[
      local function show(...)
        local t = table.pack(...)
        for i = 1, t.n do t[i] = type(t[i]) == "table" and "<table>" or tostring(t[i]) end
        return table.concat(t, " | ")
      end
      print(show(pcall(coroutine.resume, 1)))
      print(show(pcall(coroutine.resume)))
      print(show(pcall(coroutine.wrap, 1)))
      local co = coroutine.create(function(a, b) coroutine.yield(a + b, "y"); error("boom") end)
      print(show(coroutine.resume(co, 1, 2)))
      print(show(coroutine.resume(co, 3, 4)))
      print(show(coroutine.resume(co)))
      print(show(coroutine.resume(coroutine.running())))
      local w = coroutine.wrap(function(a) coroutine.yield(a * 2); error("wboom") end)
      print(show(w(21)))
      print(show(pcall(w)))
      print(show(pcall(w)))
      print(show(pcall(coroutine.wrap(function() error({}) end))))
      print(show(pcall(coroutine.wrap(function()
        local t <close> = setmetatable({}, { __close = function() print("closed") end })
        error("e")
      end))))
      local gen = coroutine.wrap(function() for i = 1, 3 do coroutine.yield(i) end end)
      print(gen(), gen(), gen())
      print(select("#", table.unpack({ coroutine.resume(coroutine.create(function(...) return ... end), table.unpack({}, 1, 200)) })))
    ]]
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    f:write(script)
    f:close()
    local function run(with)
      local p = io.popen(string.format("LUA_CPATH=%q lua5.4 %s %s 2>&1", package.cpath, with and "-l tbtrace" or "", path))
      local out = p:read("a")
      p:close()
      return out
    end
    local stock, ours = run(false), run(true)
    os.remove(path)
    assert.matches("cannot resume dead coroutine", stock)
    assert.matches("closed", stock)
    assert.are.equal(stock, ours)
  end)
end)

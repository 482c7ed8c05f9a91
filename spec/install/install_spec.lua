-- install_spec.lua: tbtrace installed into a temporary prefix (then moved, so nothing may depend
-- on where it was installed) and used as a user would: C programs built with pkg-config (shared
-- and static) and with find_package, one exporting through Lua policies, the stock lua5.4 with
-- the installed module, headers in strict C11 and C++17, and the shared libraries' exports.
local fs = require "fs"
local I = require "installed"
local q, sh = I.q, I.sh

local tmp, prefix, libdir, pc

setup(function()
  tmp = fs.tmpdir("install")
  sh("cmake --install " .. q(I.build) .. " --prefix " .. q(tmp .. "/staging"))
  sh("mv " .. q(tmp .. "/staging") .. " " .. q(tmp .. "/prefix"))
  prefix = tmp .. "/prefix"
  libdir = prefix .. "/lib"
  pc = "PKG_CONFIG_PATH=" .. q(libdir .. "/pkgconfig") .. " "
end)

local function cc(compiler, args) return sh(compiler .. " -Wall -Wextra -Werror " .. args) end

describe("installed into a prefix", function()
  it("pkg-config's flags point into the prefix wherever it is", function()
    local flags = sh(pc .. "pkg-config --cflags --libs tbtrace")
    assert.matches("-I" .. prefix:gsub("%p", "%%%0") .. "/lib/pkgconfig/%.%./%.%./include", flags)
    assert.matches("-ltbtrace", flags)
    local pflags = sh(pc .. "pkg-config --cflags --libs tbtrace_policy")
    assert.matches("-ltbtrace_policy %-ltbtrace", pflags)
  end)

  it("links a C program with pkg-config --cflags --libs tbtrace (shared) and runs it", function()
    local exe = tmp .. "/consumer_pc"
    cc("cc", I.here .. "/consumer.c -o " .. q(exe) .. " $(" .. pc .. "pkg-config --cflags --libs tbtrace)"
       .. " -Wl,-rpath," .. q(libdir))
    local ldd = sh("ldd " .. q(exe))
    assert.matches("libtbtrace%.so%.0 => " .. libdir:gsub("%p", "%%%0") .. "/libtbtrace%.so%.0", ldd)
    local dir = tmp .. "/logs_pc"
    sh(q(exe) .. " " .. q(dir))
    I.check_consumer(dir)
  end)

  it("links the same program with the static archive", function()
    local exe = tmp .. "/consumer_static"
    cc("cc", I.here .. "/consumer.c -o " .. q(exe) .. " $(" .. pc .. "pkg-config --cflags tbtrace) "
       .. q(libdir .. "/libtbtrace.a") .. " -lprotobuf-c -lz -lpthread -lm")
    assert.is_nil(sh("ldd " .. q(exe)):match("libtbtrace"))
    local dir = tmp .. "/logs_static"
    sh(q(exe) .. " " .. q(dir))
    I.check_consumer(dir)
  end)

  it("builds C programs with find_package(tbtrace CONFIG) and tbtrace::tbtrace, tbtrace::policy", function()
    local b = tmp .. "/fp"
    sh("cmake -S " .. q(I.here .. "/find_package") .. " -B " .. q(b) .. " -DCMAKE_PREFIX_PATH=" .. q(prefix))
    sh("cmake --build " .. q(b))
    sh(q(b .. "/consumer") .. " " .. q(tmp .. "/logs_fp"))
    I.check_consumer(tmp .. "/logs_fp")
    sh(q(b .. "/consumer_policy") .. " " .. q(tmp .. "/logs_fp_policy") .. " " .. q(I.here .. "/policy.lua"))
    I.check_consumer_policy(tmp .. "/logs_fp_policy")
  end)

  it("links a program with Lua policies through tbtrace_policy.pc", function()
    local exe = tmp .. "/consumer_policy"
    cc("cc", I.here .. "/consumer_policy.c -o " .. q(exe) .. " $(" .. pc
       .. "pkg-config --cflags --libs tbtrace_policy) -Wl,-rpath," .. q(libdir))
    assert.matches("libtbtrace_policy%.so%.0 => ", sh("ldd " .. q(exe)))
    local dir = tmp .. "/logs_policy"
    sh(q(exe) .. " " .. q(dir) .. " " .. q(I.here .. "/policy.lua"))
    I.check_consumer_policy(dir)
  end)

  it("runs a script with the stock lua5.4 and the module in the prefix's Lua directory", function()
    local cmod = prefix .. "/lib/lua/5.4"
    local dir = tmp .. "/logs_lua"
    local out = sh("LUA_CPATH=" .. q(cmod .. "/?.so") .. " lua5.4 " .. q(I.here .. "/consumer.lua") .. " " .. q(dir))
    assert.are.equal(cmod .. "/tbtrace.so\n", out)
    I.check_consumer_lua(dir)
  end)

  it("has headers that compile cleanly as C11 and C++17 with gcc and clang", function()
    local flags = " -c -o /dev/null $(" .. pc .. "pkg-config --cflags tbtrace)"
    for _, c in ipairs { "gcc -std=c11", "gcc -std=c11 -pedantic", "clang -std=c11" } do
      cc(c, I.here .. "/headers.c" .. flags)
    end
    for _, c in ipairs { "g++ -std=c++17", "g++ -std=c++17 -pedantic", "clang++ -std=c++17" } do
      cc(c, I.here .. "/headers.cpp" .. flags)
    end
  end)

  it("exports exactly the public API from each shared object, with sonames", function()
    local function dynsyms(path)
      local out = {}
      for name in sh("nm -D --defined-only " .. q(path)):gmatch("%x+ %a ([%w_]+)") do out[#out + 1] = name end
      table.sort(out)
      return out
    end
    local function map_names(path)
      local out = {}
      for name in io.open(path):read("a"):gmatch("\n    ([%w_]+);") do out[#out + 1] = name end
      return out
    end
    local core = dynsyms(libdir .. "/libtbtrace.so.0")
    assert.are.same(map_names(I.build .. "/tbtrace.map"), core)
    for _, fn in ipairs { "tbt_writer_open", "tbt_scalar", "tbt_trace_export", "tbt_strdup", "tbt_trace_export_ex" } do
      assert.truthy(table.concat(core, " "):find(fn, 1, true), fn)
    end
    assert.are.same({ "tbt_policy_error", "tbt_policy_export", "tbt_policy_load", "tbt_policy_set_budgets", "tbt_policy_unload" },
                    dynsyms(libdir .. "/libtbtrace_policy.so.0"))
    assert.are.same({ "luaopen_tbtrace" }, dynsyms(prefix .. "/lib/lua/5.4/tbtrace.so"))
    assert.matches("SONAME%s+libtbtrace%.so%.0\n", sh("objdump -p " .. q(libdir .. "/libtbtrace.so.0")))
    assert.matches("SONAME%s+libtbtrace_policy%.so%.0\n", sh("objdump -p " .. q(libdir .. "/libtbtrace_policy.so.0")))
    assert.truthy(fs.exists(libdir .. "/libtbtrace.a"))
    assert.truthy(fs.exists(libdir .. "/libtbtrace_policy.a"))
  end)
end)

-- deb_spec.lua: scripts/package.sh builds the Debian package; its contents are checked, and when
-- the spec runs as root the package is installed (the stock lua5.4 then requires the module with
-- no environment variable, tbtrace is on PATH, pkg-config finds the libraries) and removed again.
local fs = require "fs"
local I = require "installed"
local q, sh = I.q, I.sh

local tmp, deb
local cmod = sh("pkg-config --variable=INSTALL_CMOD lua5.4"):match("[^\n]+")   -- Debian's Lua 5.4 C modules
local multiarch = sh("gcc -print-multiarch"):match("[^\n]+")

setup(function()
  tmp = fs.tmpdir("deb")
  sh("TBT_DEB_BUILD=" .. q(tmp .. "/build") .. " " .. q(I.src .. "/scripts/package.sh") .. " " .. q(tmp .. "/out"))
  local debs = fs.find(tmp .. "/out", "tbtrace_*.deb", "f")
  assert.are.equal(1, #debs)
  deb = debs[1]
end)

describe("the Debian package", function()
  it("holds the interpreter, libraries, headers, pkg-config and CMake files and the module", function()
    local files = {}
    for path in sh("dpkg-deb -c " .. q(deb)):gmatch("%s%./([^\n]-)[\n ]") do files[path] = true end
    local lib = "usr/lib/" .. multiarch .. "/"
    for _, want in ipairs {
      "usr/bin/tbtrace", "usr/include/tbtrace.h", "usr/include/tbtrace_trace.h", "usr/include/tbtrace_policy.h",
      lib .. "libtbtrace.so.0.1.0", lib .. "libtbtrace.so.0", lib .. "libtbtrace.so", lib .. "libtbtrace.a",
      lib .. "libtbtrace_policy.so.0", lib .. "libtbtrace_policy.a",
      lib .. "pkgconfig/tbtrace.pc", lib .. "pkgconfig/tbtrace_policy.pc",
      lib .. "cmake/tbtrace/tbtraceConfig.cmake", cmod:sub(2) .. "/tbtrace.so",
      "usr/share/tbtrace/policies/per_run.lua",
    } do
      assert.is_true(files[want] == true, want .. " missing from " .. deb)
    end
    local info = sh("dpkg-deb -f " .. q(deb) .. " Package Depends")
    assert.matches("Package: tbtrace\n", info)
    assert.matches("liblua5%.4%-0", info)
  end)

  it("works from its files: the pkg-config files follow them, the module writes", function()
    local root = tmp .. "/x"
    sh("dpkg-deb -x " .. q(deb) .. " " .. q(root))
    local lib = root .. "/usr/lib/" .. multiarch
    local exe = tmp .. "/consumer"
    sh("cc -Wall -Wextra -Werror " .. q(I.here .. "/consumer.c") .. " -o " .. q(exe)
       .. " $(PKG_CONFIG_PATH=" .. q(lib .. "/pkgconfig") .. " pkg-config --cflags --libs tbtrace) -Wl,-rpath," .. q(lib))
    sh(q(exe) .. " " .. q(tmp .. "/logs_c"))
    I.check_consumer(tmp .. "/logs_c")
    local out = sh("LUA_CPATH=" .. q(root .. cmod .. "/?.so") .. " lua5.4 " .. q(I.here .. "/consumer.lua") .. " " .. q(tmp .. "/logs_lua"))
    assert.are.equal(root .. cmod .. "/tbtrace.so\n", out)
    I.check_consumer_lua(tmp .. "/logs_lua")
  end)

  local root_user = sh("id -u") == "0\n"
  local installed_before = os.execute("dpkg-query -W tbtrace >/dev/null 2>&1") == true
  local it_root = (root_user and not installed_before) and it or pending
  it_root("installs with dpkg as root: tbtrace on PATH, require with no LUA_CPATH, removed afterwards", function()
    -- One spec at a time on this machine holds the package, from install to removal: a holder
    -- process keeps the lock until its stdin closes.
    local flag = tmp .. "/locked"
    local holder = assert(io.popen("flock /tmp/tbtrace-deb-spec.lock sh -c 'touch " .. flag .. "; cat >/dev/null'", "w"))
    while not fs.exists(flag) do os.execute("sleep 0.2") end
    local ok, err = pcall(function()
      sh("dpkg -i " .. q(deb))
      assert.are.equal("/usr/bin/tbtrace\n", sh("command -v tbtrace"))
      local dir = tmp .. "/logs_installed"
      local out = sh("env -u LUA_CPATH -u LUA_CPATH_5_4 lua5.4 " .. q(I.here .. "/consumer.lua") .. " " .. q(dir))
      assert.are.equal(cmod .. "/tbtrace.so\n", out)
      I.check_consumer_lua(dir)
      local exe = tmp .. "/consumer_system"
      sh("cc -Wall -Wextra -Werror " .. q(I.here .. "/consumer.c") .. " -o " .. q(exe)
         .. " $(env -u PKG_CONFIG_PATH pkg-config --cflags --libs tbtrace)")
      sh(q(exe) .. " " .. q(tmp .. "/logs_system"))
      I.check_consumer(tmp .. "/logs_system")
      sh("tbtrace cat " .. q(tmp .. "/logs_system") .. " >/dev/null")
    end)
    local removed, rerr = pcall(sh, "dpkg -P tbtrace")
    holder:close()
    assert.is_true(removed, tostring(rerr))
    assert.is_false(fs.exists(cmod .. "/tbtrace.so"))
    assert.is_true(ok, tostring(err))
  end)
end)

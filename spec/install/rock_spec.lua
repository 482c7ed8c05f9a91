-- rock_spec.lua: `luarocks --lua-version 5.4 make` builds the module from a copy of the checkout
-- (offline) into a temporary tree, and the stock lua5.4 requires it from there.
local fs = require "fs"
local I = require "installed"
local q, sh = I.q, I.sh

describe("the rockspec", function()
  it("builds and installs the module with luarocks make, and lua5.4 requires it", function()
    local tmp = fs.tmpdir("rock")
    local copy, tree = tmp .. "/src", tmp .. "/tree"
    sh("mkdir " .. q(copy))
    local rockspec = sh("cd " .. q(I.src) .. " && ls tbtrace-*.rockspec"):match("[^\n]+")
    for _, entry in ipairs { "CMakeLists.txt", "cmake", "runtime", "bindings", "proto", "scripts", rockspec } do
      sh("cp -R " .. q(I.src .. "/" .. entry) .. " " .. q(copy .. "/"))
    end
    sh("cd " .. q(copy) .. " && luarocks --lua-version 5.4 --tree " .. q(tree) .. " make " .. q(rockspec))
    local cpath = sh("luarocks --lua-version 5.4 --tree " .. q(tree) .. " path --lr-cpath"):match("[^\n]+")
    local dir = tmp .. "/logs"
    local out = sh("LUA_CPATH=" .. q(cpath) .. " lua5.4 " .. q(I.here .. "/consumer.lua") .. " " .. q(dir))
    assert.are.equal(tree .. "/lib/lua/5.4/tbtrace.so\n", out)
    I.check_consumer_lua(dir)
  end)
end)

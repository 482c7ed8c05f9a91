-- docs_spec.lua: the Lua reference keeps up with the module. Every public function of tbtrace,
-- of its sub-tables and every writer method must be named in docs/ (names starting with "_" are
-- internal), so a function cannot be added without its documentation.
local tbtrace = require "tbtrace"

local root = os.getenv("TBT_SOURCE_DIR") or "."
local docs = {}
for _, name in ipairs { "lua-api.md", "tracing.md", "policies.md", "hparams.md", "custom-scalars.md",
  "graphs.md" } do
  local f = assert(io.open(root .. "/docs/" .. name, "r"))
  docs[#docs + 1] = f:read("a")
  f:close()
end
docs = table.concat(docs, "\n")

-- Whether `text` appears in the docs as code, as a whole name: right after the backtick or a
-- ".", and followed by "(", a backtick or a space (so `w:path()` does not document a `path`).
local function documented(text)
  local plain = text:gsub("%p", "%%%0")
  return docs:find("`" .. plain .. "[%(`%s]") ~= nil or docs:find("`[^`\n]-%." .. plain .. "[%(`%s]") ~= nil
end

local function public_functions(t, prefix, out, seen)
  seen[t] = true
  for k, v in pairs(t) do
    if type(k) == "string" and k:sub(1, 1) ~= "_" then
      if type(v) == "function" then
        out[#out + 1] = { name = prefix .. k, short = k }
      elseif type(v) == "table" and not seen[v] then
        public_functions(v, prefix .. k .. ".", out, seen)
      end
    end
  end
  return out
end

describe("the Lua reference", function()
  it("names every public function of the module", function()
    local fns = public_functions(tbtrace, "tbtrace.", {}, {})
    assert.is_true(#fns > 30, "only " .. #fns .. " functions found")
    local missing = {}
    for _, f in ipairs(fns) do
      if not documented(f.short) then missing[#missing + 1] = f.name end
    end
    table.sort(missing)
    assert.are.same({}, missing)
  end)

  it("names every writer method as w:method", function()
    local mt = getmetatable(tbtrace.create_noop_writer())
    local missing, n = {}, 0
    for k, v in pairs(mt.__index) do
      if type(v) == "function" and k:sub(1, 1) ~= "_" then
        n = n + 1
        if not documented("w:" .. k) then missing[#missing + 1] = k end
      end
    end
    assert.is_true(n >= 8)
    table.sort(missing)
    assert.are.same({}, missing)
  end)

  it("would notice a missing name", function()
    assert.is_false(documented("no_such_function_anywhere"))
    assert.is_false(documented("path"))   -- only w:path() is documented
    assert.is_true(documented("create_file_writer"))
  end)
end)

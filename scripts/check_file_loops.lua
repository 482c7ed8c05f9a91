-- check_file_loops.lua: no two source files call each other, directly or round a longer loop.
-- Usage: lua5.4 scripts/check_file_loops.lua <source dir> [more dirs...]
-- Reads every .c file under the given directories, finds the functions and variables each one
-- defines with external linkage and the identifiers each one uses, and draws an edge A -> B when
-- A uses a name B defines. Any cycle in that graph is a pair of files that know each other too
-- well: the script prints it and exits 1.

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- Comments, strings and character literals hide nothing we want to see.
local function strip(src)
  src = src:gsub("/%*.-%*/", function(c) return (c:gsub("[^\n]", " ")) end)
  src = src:gsub("//[^\n]*", "")
  src = src:gsub('"[^"\n]*\\"', '""')   -- one level of escaped quotes is enough for this code
  src = src:gsub('"[^"\n]*"', '""')
  src = src:gsub("'\\?.'", "0")
  return src
end

-- Names defined at file scope without `static`: a function head at column 0 followed by a body,
-- or a variable definition at column 0.
local function definitions(src)
  local defs = {}
  for line, rest in src:gmatch("\n([%a_][^\n]*)()") do
    line = line:gsub("__attribute__%s*%b()%s*", "")
    if not line:match("^static") and not line:match("^extern") and not line:match("^typedef")
        and not line:match("^#") and not line:match("^struct%s+[%w_]+%s*{")
        and not line:match("^enum") and not line:match("^union") then
      local name = line:match("([%a_][%w_]*)%s*%(")
      if name and not line:match(";%s*$") then
        -- a prototype ends in ';' (maybe lines later); a definition reaches '{' first
        local tail = src:sub(rest)
        local brace, semi = tail:find("{", 1, true), tail:find(";", 1, true)
        if line:match("{%s*$") or (brace and (not semi or brace < semi)) then defs[name] = true end
      else
        local var = line:match("([%a_][%w_]*)%s*=") or line:match("([%a_][%w_]*)%s*;%s*$")
        if var and not line:match("%(") then defs[var] = true end
      end
    end
  end
  return defs
end

local files, defs_of, src_of = {}, {}, {}
for i = 1, #arg do
  local p = io.popen("find '" .. arg[i] .. "' -name '*.c' | sort")
  for path in p:lines() do
    files[#files + 1] = path
    src_of[path] = strip(read(path))
    defs_of[path] = definitions(src_of[path])
  end
  p:close()
end

local owner = {}
for _, f in ipairs(files) do
  for name in pairs(defs_of[f]) do
    if name ~= "main" then owner[name] = f end   -- every program has its own
  end
end

local edges = {}
for _, f in ipairs(files) do
  edges[f] = {}
  for id in src_of[f]:gmatch("[%a_][%w_]*") do
    local o = owner[id]
    if o and o ~= f then edges[f][o] = edges[f][o] or id end
  end
end

-- Tarjan's strongly connected components: a component of more than one file is a loop.
local index, low, onstack, stack, n, loops = {}, {}, {}, {}, 0, {}
local function visit(v)
  n = n + 1
  index[v], low[v] = n, n
  stack[#stack + 1] = v
  onstack[v] = true
  for w in pairs(edges[v]) do
    if not index[w] then
      visit(w)
      low[v] = math.min(low[v], low[w])
    elseif onstack[w] then
      low[v] = math.min(low[v], index[w])
    end
  end
  if low[v] == index[v] then
    local comp = {}
    repeat
      local w = table.remove(stack)
      onstack[w] = nil
      comp[#comp + 1] = w
    until w == v
    if #comp > 1 then loops[#loops + 1] = comp end
  end
end
for _, f in ipairs(files) do
  if not index[f] then visit(f) end
end

if #loops == 0 then
  print(string.format("check_file_loops: %d files, no loops", #files))
  os.exit(0)
end
for _, comp in ipairs(loops) do
  table.sort(comp)
  io.stderr:write("files that call each other in a loop:\n")
  local inloop = {}
  for _, f in ipairs(comp) do inloop[f] = true end
  for _, f in ipairs(comp) do
    for g, id in pairs(edges[f]) do
      if inloop[g] then io.stderr:write(string.format("  %s -> %s (%s)\n", f, g, id)) end
    end
  end
end
os.exit(1)

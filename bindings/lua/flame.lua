-- flame.lua: reads a folded-stacks profile ("root;...;leaf count" per line, as flamegraph.pl and
-- speedscope read) and makes the table `tbtrace --profile` and `tbtrace flame` print.
--   flame.parse(text) -> profile | nil, message     flame.read(path) -> profile | nil, message, errno
--   flame.report(profile [, top]) -> text
-- A profile is {total = samples, self = {name -> n}, inclusive = {name -> n}}: self counts the
-- samples a function was running in, inclusive those it was anywhere on the stack (once per
-- sample, however deep it recursed).
local flame = {}

function flame.parse(text)
  local p = { total = 0, self = {}, inclusive = {} }
  local lineno = 0
  for line in text:gmatch("[^\n]+") do
    lineno = lineno + 1
    local stack, n = line:match("^(.-) (%d+)$")
    if not stack or stack == "" then
      return nil, string.format("line %d is not 'stack count': %s", lineno, line)
    end
    n = math.tointeger(tonumber(n))
    if not n then return nil, string.format("line %d: count out of range", lineno) end
    p.total = p.total + n
    local seen, leaf = {}, nil
    for frame in (stack .. ";"):gmatch("(.-);") do
      if not seen[frame] then
        seen[frame] = true
        p.inclusive[frame] = (p.inclusive[frame] or 0) + n
      end
      leaf = frame
    end
    p.self[leaf] = (p.self[leaf] or 0) + n
  end
  return p
end

function flame.read(path)
  local f, err, code = io.open(path, "rb")
  if not f then return nil, err, code end
  local text = f:read("a")
  f:close()
  local p, perr = flame.parse(text)
  if not p then return nil, path .. ": " .. perr end
  return p
end

local function ranked(counts)
  local list = {}
  for name, n in pairs(counts) do list[#list + 1] = { name = name, n = n } end
  table.sort(list, function(a, b)
    if a.n ~= b.n then return a.n > b.n end
    return a.name < b.name
  end)
  return list
end

local function pct(n, total) return string.format("%6.1f%%", total > 0 and 100 * n / total or 0) end

function flame.report(p, top)
  top = top or 15
  local out = { string.format("%d samples", p.total) }
  if p.total == 0 then return out[1] .. "\n" end
  for _, t in ipairs({ { "self", p.self, p.inclusive }, { "total", p.inclusive, p.self } }) do
    out[#out + 1] = ""
    out[#out + 1] = string.format("by %s time:", t[1])
    out[#out + 1] = string.format("%7s %7s  %s", "self", "total", "function")
    for i, e in ipairs(ranked(t[2])) do
      if i > top then break end
      local self_n = t[1] == "self" and e.n or (p.self[e.name] or 0)
      local total_n = t[1] == "self" and (p.inclusive[e.name] or 0) or e.n
      out[#out + 1] = string.format("%s %s  %s", pct(self_n, p.total), pct(total_n, p.total), e.name)
    end
  end
  return table.concat(out, "\n") .. "\n"
end

return flame

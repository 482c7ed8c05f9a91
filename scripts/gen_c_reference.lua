-- gen_c_reference.lua: writes docs/c-reference.md from the public headers, which are the
-- specification. Each header's sections ("/* ---- name */") become headings; each comment and
-- the declarations that follow it become one entry: the declarations as code (inline function
-- bodies and internal helpers left out), then the comment as prose.
--
--   lua5.4 scripts/gen_c_reference.lua [source dir] > docs/c-reference.md
local root = arg[1] or "."
local headers = { "runtime/tbtrace.h", "runtime/tbtrace_trace.h", "runtime/tbtrace_policy.h" }

local function read_lines(path)
  local f = assert(io.open(root .. "/" .. path, "r"))
  local lines = {}
  for l in f:lines() do lines[#lines + 1] = l end
  f:close()
  return lines
end

-- Comment text without the "/*", "**" and "*/" decoration.
local function comment_text(block)
  local out = {}
  for _, l in ipairs(block) do
    l = l:gsub("^%s*/%*+%s?", ""):gsub("%s*%*+/%s*$", ""):gsub("^%s*%*%*%s?", "")
    out[#out + 1] = l
  end
  return table.concat(out, "\n"):gsub("^%s+", ""):gsub("%s+$", "")
end

-- Lines that belong to the header's plumbing, not to its interface.
local function plumbing(l)
  return l:match("^#ifndef") or l:match("^#endif") or l:match("^#include") or l:match("^#ifdef")
    or l:match("^extern \"C\"") or l:match("^}%s*$") or l:match("^#define TBTRACE_%u*_?H")
    or l:match("^#define TBT_CAT2?_") or l:match("TBT_TRACE_ACTIVE_") or l:match("tbt_trace_active_")
end

local function parse(path)
  local lines = read_lines(path)
  local sections, current = {}, nil
  local i = 1
  -- The file's opening comment is its introduction.
  local intro = {}
  if lines[1] and lines[1]:match("^/%*") then
    while lines[i] do
      intro[#intro + 1] = lines[i]
      if lines[i]:match("%*/") then i = i + 1 break end
      i = i + 1
    end
  end
  local function section(name)
    current = { name = name, entries = {} }
    sections[#sections + 1] = current
  end
  section(nil)
  local comment, code = nil, {}
  local function finish()
    if #code > 0 or comment then
      current.entries[#current.entries + 1] = { comment = comment and comment_text(comment), code = code }
    end
    comment, code = nil, {}
  end
  while i <= #lines do
    local l = lines[i]
    local marker = l:match("^/%* %-%-%-+ (.-) %*/$")
    if marker then
      finish()
      section(marker)
      i = i + 1
    elseif l:match("^%s*$") then
      finish()
      i = i + 1
    elseif l:match("^%s*/%*") then
      if #code > 0 then finish() end
      local block = {}
      while lines[i] do
        block[#block + 1] = lines[i]
        if lines[i]:match("%*/") then break end
        i = i + 1
      end
      i = i + 1
      if comment then
        for _, b in ipairs(block) do comment[#comment + 1] = b end
      else
        comment = block
      end
    elseif plumbing(l) then
      i = i + 1
    elseif l:match("^static inline") and l:match("{%s*$") then
      -- An inline function: its signature only, and an internal one not at all.
      local sig = l:gsub("%s*{%s*$", ";")
      if not sig:match("_%(") then code[#code + 1] = sig end
      local depth = 0
      repeat
        for c in lines[i]:gmatch("[{}]") do depth = depth + (c == "{" and 1 or -1) end
        i = i + 1
      until depth == 0 or i > #lines
    elseif l:match("^#define") then
      -- A macro: its name and parameters, not its expansion.
      local head = l:match("^#define%s+([%w_]+%b())") or l:match("^#define%s+([%w_]+)")
      code[#code + 1] = "#define " .. head
      while lines[i] and lines[i]:match("\\%s*$") do i = i + 1 end
      i = i + 1
    else
      if not l:match("^%s*[%w_ %*]-%s[%*]?[%w_]+_%(") then code[#code + 1] = l end
      i = i + 1
    end
  end
  finish()
  return comment_text(intro), sections
end

local out = {}
local function emit(s) out[#out + 1] = s end
emit("# C reference")
emit("")
emit("Generated from the public headers by `scripts/gen_c_reference.lua` (a test checks that it")
emit("is current); the headers are the specification. For a guided tour see [c-api.md](c-api.md).")
for _, h in ipairs(headers) do
  local intro, sections = parse(h)
  emit("")
  emit("## `" .. h:match("[^/]+$") .. "`")
  emit("")
  emit(intro)
  for _, s in ipairs(sections) do
    if s.name and #s.entries > 0 then
      emit("")
      -- Capitalized, unless the section is named after an identifier.
      emit("### " .. (s.name:find("_") and s.name or s.name:sub(1, 1):upper() .. s.name:sub(2)))
    end
    for _, e in ipairs(s.entries) do
      if #e.code > 0 then
        emit("")
        emit("```c fragment")
        for _, c in ipairs(e.code) do emit(c) end
        emit("```")
      end
      if e.comment and e.comment ~= "" then
        emit("")
        emit(e.comment)
      end
    end
  end
end
io.write(table.concat(out, "\n"), "\n")

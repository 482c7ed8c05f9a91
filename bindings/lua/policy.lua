-- policy.lua: export policies, the config-as-code half of trace_export (tbtrace.policy).
--
-- A policy is a Lua file returning a table of optional hooks and settings:
--   name(ctx)             the summary tag (and the default profile run label)
--   step(ctx)             the step when the caller gives none
--   logdir(ctx)           where to create the default writer when there is none
--   profiler_outdir(ctx)  where profile files go when the caller gives no outdir
--   run_name(ctx)         the profile run directory name (default: the local time)
--   max_queue, flush_millis, filename_suffix   settings of a writer the policy creates
--   extends = "base.lua"  another policy (relative to this file) whose hooks this one overrides
-- Hooks get (ctx, parent): ctx is read-only; parent is the overridden hook (or nil).
--
-- Policies run only at export time, in a sandbox unless loaded as trusted: no io, no os.execute,
-- no require/load/dofile, no debug or coroutine library, and a bounded instruction count per
-- call. Every error names the policy file and the line.

local policy = {}

local DEFAULT_LIMIT = 1000000
local HOOKS = { "name", "step", "logdir", "profiler_outdir", "run_name" }
local SETTINGS = { max_queue = "integer", flush_millis = "integer", filename_suffix = "string" }
local KNOWN = { extends = true }
for _, h in ipairs(HOOKS) do KNOWN[h] = true end
for s in pairs(SETTINGS) do KNOWN[s] = true end

local getinfo = debug.getinfo
-- The host (the Lua module, or libtbtrace_policy's state) passes the hook multiplexer's budget:
-- it shares the thread's hook with tracing and with the user's own debug.sethook.
local budget = (...)._budget

-- ------------------------------------------------------------------ sandbox

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

-- The instruction budget. Once a call trips it, the hook keeps firing and the sandbox's pcall
-- and xpcall rethrow, so a policy cannot catch its way out of the limit.
local tripped

local function guarded(protected)
  return function(...)
    local res = table.pack(protected(...))
    if tripped then error(tripped, 0) end
    return table.unpack(res, 1, res.n)
  end
end

local function sandbox_env()
  local env = {
    assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs,
    pcall = guarded(pcall), xpcall = guarded(xpcall),
    select = select, tonumber = tonumber, tostring = tostring, type = type,
    rawequal = rawequal, rawget = rawget, rawlen = rawlen, rawset = rawset,
    setmetatable = setmetatable, _VERSION = _VERSION,
    -- the string metatable is shared with the host: a policy must not reach it
    getmetatable = function(o) if type(o) == "string" then return nil end return getmetatable(o) end,
    string = copy(string), table = copy(table), math = copy(math), utf8 = copy(utf8),
    os = { time = os.time, clock = os.clock, date = os.date, getenv = os.getenv, difftime = os.difftime },
  }
  env._G = env
  return env
end

-- Runs fn(...) with an instruction budget; past it the call fails with a clear message.
local function bounded(p, what, fn, ...)
  if p.trusted then return pcall(fn, ...) end
  local limit = p.instruction_limit
  tripped = nil
  local old_fn, old_count = budget(function()
    local at = getinfo(2, "Sl")
    tripped = tripped or string.format("%s exceeded the instruction limit (%d) at %s:%d; endless loop?",
      what, limit, at and at.short_src or "?", at and at.currentline or 0)
    budget(function() error(tripped, 0) end, 1000)
    error(tripped, 0)
  end, limit)
  local res = table.pack(pcall(fn, ...))
  budget(old_fn, old_count)
  tripped = nil
  return table.unpack(res, 1, res.n)
end

-- ------------------------------------------------------------------ loading

local function dirname(path)
  return path:match("^(.*)/[^/]*$") or "."
end

local function validate_table(t, path)
  if type(t) ~= "table" then
    error(string.format("policy '%s' must return a table (got %s)", path, type(t)), 0)
  end
  for k, v in pairs(t) do
    if type(k) ~= "string" or not KNOWN[k] then
      error(string.format("policy '%s': unknown field '%s'", path, tostring(k)), 0)
    end
    if SETTINGS[k] then
      local want = SETTINGS[k]
      local ok = (want == "integer" and math.type(v) == "integer" and v >= 0 and v <= 0x7fffffff)
        or (want == "string" and type(v) == "string" and not v:find("[/%z]"))
      if not ok then
        error(string.format("policy '%s': '%s' must be a %s%s%s (got %s)", path, k,
          want == "integer" and "non-negative " or "", want, want == "string" and " without '/'" or "",
          type(v) == "number" and tostring(v) or type(v) == "string" and string.format("%q", v) or type(v)), 0)
      end
    elseif k == "extends" then
      if type(v) ~= "string" and type(v) ~= "table" then
        error(string.format("policy '%s': 'extends' must be a path or a policy table (got %s)", path, type(v)), 0)
      end
    elseif type(v) ~= "function" then
      error(string.format("policy '%s': hook '%s' must be a function (got %s)", path, k, type(v)), 0)
    end
  end
end

local load_file

-- Builds a policy object from a validated table: its hooks chained over the parent's.
local function build(t, path, opts, depth)
  validate_table(t, path)
  local p = {
    path = path,
    trusted = opts.trusted or false,
    instruction_limit = opts.instruction_limit or DEFAULT_LIMIT,
    hooks = {}, settings = {}, chain = { path },
  }
  local parent
  if t.extends then
    if depth > 16 then error(string.format("policy '%s': 'extends' nests too deep", path), 0) end
    if type(t.extends) == "table" then
      parent = build(t.extends, path .. " (extends)", opts, depth + 1)
    else
      local base = t.extends
      if base:sub(1, 1) ~= "/" then base = dirname(path) .. "/" .. base end
      parent = load_file(base, opts, depth + 1)
    end
    for k, v in pairs(parent.settings) do p.settings[k] = v end
    for _, c in ipairs(parent.chain) do p.chain[#p.chain + 1] = c end
  end
  for s in pairs(SETTINGS) do
    if t[s] ~= nil then p.settings[s] = t[s] end
  end
  for _, h in ipairs(HOOKS) do
    local own, up = t[h], parent and parent.hooks[h]
    if own then
      p.hooks[h] = { fn = own, parent = up, path = path }
    else
      p.hooks[h] = up
    end
  end
  return p
end

function load_file(path, opts, depth)
  local f, err = io.open(path, "r")
  if not f then error(string.format("cannot open policy '%s': %s", path, err), 0) end
  local src, rerr = f:read("a")
  f:close()
  -- a directory opens, and fails only here
  if not src then error(string.format("cannot read policy '%s': %s", path, rerr), 0) end
  local env = opts.trusted and setmetatable({}, { __index = _G }) or sandbox_env()
  local chunk, lerr = load(src, "@" .. path, "t", env)
  if not chunk then error("policy " .. lerr, 0) end
  local tmp = { path = path, trusted = opts.trusted, instruction_limit = opts.instruction_limit or DEFAULT_LIMIT }
  local ok, t = bounded(tmp, "'" .. path .. "'", chunk)
  if not ok then error("policy " .. tostring(t), 0) end
  return build(t, path, opts, depth or 0)
end

-- Raises in lauxlib's shape, pointing at the caller of the public function (which is `level`
-- frames up from here: 3 when the public function calls this directly).
local function argerror(n, fname, msg, level)
  error(string.format("bad argument #%d to '%s' (%s)", n, fname, msg), level or 3)
end

-- Options of load / from_table / set: checked before use, so a bad one fails here and not with a
-- debug.sethook error at export time (and a limit of 0 would turn the limit off).
local function check_opts(opts, n, fname)
  if opts == nil then return {} end
  if type(opts) ~= "table" then argerror(n, fname, "table expected, got " .. type(opts), 4) end
  local lim = opts.instruction_limit
  if lim ~= nil and not (math.type(lim) == "integer" and lim > 0) then
    argerror(n, fname, "instruction_limit must be a positive integer, got "
      .. (type(lim) == "number" and tostring(lim) or type(lim)), 4)
  end
  if opts.name ~= nil and type(opts.name) ~= "string" then
    argerror(n, fname, "name must be a string, got " .. type(opts.name), 4)
  end
  return opts
end

-- policy.load(path [, {trusted = false, instruction_limit = 1000000}])
function policy.load(path, opts)
  if type(path) ~= "string" or path == "" then
    argerror(1, "policy.load", "non-empty string expected, got " .. (path == "" and "empty string" or type(path)))
  end
  -- io.open would open the file named by the part before the NUL
  if path:find("%z") then argerror(1, "policy.load", "path contains a NUL byte") end
  return load_file(path, check_opts(opts, 2, "policy.load"), 0)
end

-- policy.from_table(t [, opts]): a policy from a table built in Lua (trusted: it is the caller's own code).
function policy.from_table(t, opts)
  if type(t) ~= "table" then argerror(1, "policy.from_table", "table expected, got " .. type(t)) end
  opts = check_opts(opts, 2, "policy.from_table")
  if opts.trusted == nil then opts = copy(opts); opts.trusted = true end
  return build(t, opts.name or "(table)", opts, 0)
end

local current

-- policy.set(p | table | nil): the policy trace_export uses; nil restores TensorFlow's behaviour.
function policy.set(p, opts)
  if p == nil then
    current = nil
  elseif type(p) == "table" and p.hooks and p.chain then
    current = p
  elseif type(p) == "table" then
    current = policy.from_table(p, check_opts(opts, 2, "policy.set"))
  else
    argerror(1, "policy.set", "policy or table expected, got " .. type(p))
  end
  -- The host (the Lua module) hooks policies into its exporter.
  if policy._on_set then policy._on_set(current ~= nil) end
  return current
end

function policy.current() return current end

-- ------------------------------------------------------------------ resolving

local function read_only(t)
  return setmetatable({}, {
    __index = t,
    __newindex = function(_, k) error("ctx is read-only (tried to set '" .. tostring(k) .. "')", 2) end,
    __pairs = function() return next, t, nil end,
    __metatable = false,
  })
end

-- Calls hook h of p with ctx; returns its result, raising with the hook's file and line on error.
local function call_hook(p, h, ctx)
  local hook = p.hooks[h]
  if not hook then return nil end
  local function invoke(node, c)
    local parent = node.parent and function(c2) return invoke(node.parent, c2 or c) end or nil
    return node.fn(c, parent)
  end
  local ok, res = bounded(p, "the hook", invoke, hook, ctx)
  if not ok then
    error(string.format("policy '%s': hook '%s' failed: %s", hook.path, h, tostring(res)), 0)
  end
  return res, hook
end

local function where(hook)
  local info = getinfo(hook.fn, "S")
  return string.format("%s:%d", hook.path, info.linedefined)
end

local function bad_return(hook, h, msg)
  error(string.format("policy '%s': hook '%s' (%s) %s", hook.path, h, where(hook), msg), 0)
end

local function check_string(v, hook, h)
  if type(v) ~= "string" then bad_return(hook, h, "returned " .. type(v) .. " (string expected)") end
  if v == "" then bad_return(hook, h, "returned an empty string") end
  if v:find("%z") then bad_return(hook, h, "returned a string with a NUL byte") end
  if not utf8.len(v) then bad_return(hook, h, "returned a string that is not valid UTF-8") end
  return v
end

-- A path a policy derived: no ".." components, so it stays below where it is resolved.
local function check_path(v, hook, h)
  check_string(v, hook, h)
  for part in v:gmatch("[^/]+") do
    if part == ".." then bad_return(hook, h, "returned a path with '..' (" .. v .. ")") end
  end
  return v
end

-- One file-name component: what a run directory can be called.
local function check_component(v, hook, h)
  check_string(v, hook, h)
  if v:find("/") or v == "." or v == ".." then
    bad_return(hook, h, "returned '" .. v .. "', which is not a single file name")
  end
  if v:find("[%c\\:*?\"<>|]") then
    bad_return(hook, h, "returned '" .. v .. "', which has characters a file name cannot hold")
  end
  if #v > 255 then bad_return(hook, h, "returned a name longer than 255 bytes") end
  return v
end

-- policy.resolve(p, facts) -> decisions. facts: what the export knows (see docs/policies.md);
-- decisions: {name, step, logdir, profiler_outdir, run_name, settings}. Only what a hook decides
-- is set; the caller applies TensorFlow's rules to the rest.
function policy.resolve(p, facts)
  if type(p) ~= "table" or type(p.hooks) ~= "table" or type(p.chain) ~= "table" then
    argerror(1, "policy.resolve", "policy expected, got " .. type(p))
  end
  if type(facts) ~= "table" then argerror(2, "policy.resolve", "table expected, got " .. type(facts)) end
  local ctx = read_only(facts)
  local out = { settings = p.settings }
  local v, hook = call_hook(p, "name", ctx)
  if hook then out.name = check_string(v, hook, "name") end
  if facts.step == nil then
    v, hook = call_hook(p, "step", ctx)
    if hook and v ~= nil then
      if math.type(v) ~= "integer" then
        if math.type(v) == "float" and v == math.floor(v) and v >= math.mininteger and v < -(math.mininteger + 0.0) then
          v = math.tointeger(v)
        else
          bad_return(hook, "step", "returned " .. (type(v) == "number" and tostring(v) or type(v)) .. " (integer expected)")
        end
      end
      out.step = v
    end
  end
  if facts.logdir == nil then
    v, hook = call_hook(p, "logdir", ctx)
    if hook and v ~= nil then out.logdir = check_path(v, hook, "logdir") end
  end
  if facts.profiler_outdir == nil then
    v, hook = call_hook(p, "profiler_outdir", ctx)
    if hook and v ~= nil then
      out.profiler_outdir = check_path(v, hook, "profiler_outdir")
      if out.profiler_outdir:sub(1, 1) ~= "/" then
        -- Relative to the logdir: a derived location never escapes it.
        local base = facts.logdir or out.logdir
        if not base then bad_return(hook, "profiler_outdir", "returned a relative path and there is no logdir") end
        out.profiler_outdir = base .. "/" .. out.profiler_outdir
      end
    end
  end
  v, hook = call_hook(p, "run_name", ctx)
  if hook and v ~= nil then out.run_name = check_component(v, hook, "run_name") end
  return out
end

return policy

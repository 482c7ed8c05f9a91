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
--   time_budget, memory_budget   seconds per export and MiB for the policy's process
-- Hooks get (ctx, parent): ctx is read-only; parent is the overridden hook (or nil).
--
-- Policies run only at export time. A policy file that is not trusted runs in a process of its
-- own (lsandbox.c) within a time and a memory budget, in a sandbox: no io, no os.execute, no
-- require/load/dofile, no debug or coroutine library, and a bounded instruction count per call.
-- Every error names the policy file and the line.
--
-- The chunk takes (module, native): native holds the C helpers of lsandbox.h. In the policy
-- process (native.child) the chunk also returns that process's entry points.

local host, native = ...
native = native or {}
local CHILD = native.child

local policy = {}
-- The Lua module's internal table (libtbtrace_policy and the policy process have none).
local internal = native.internal or {}

local DEFAULT_LIMIT = 1000000
local MAX_FILE = native.max_file or 1048576
local HOOKS = { "name", "step", "logdir", "profiler_outdir", "run_name" }
local SETTINGS = { max_queue = "integer", flush_millis = "integer", filename_suffix = "string" }
local KNOWN = { extends = true, time_budget = true, memory_budget = true }
for _, h in ipairs(HOOKS) do KNOWN[h] = true end
for s in pairs(SETTINGS) do KNOWN[s] = true end

-- The budgets' bounds: a policy or host can lower them or raise them this far.
local MAX_TIME, MAX_MEMORY = 3600, 65536

local getinfo = debug.getinfo
-- The instruction budget's hook: budget(fn, count) -> previous fn, count; budget() removes it.
-- In a host (the Lua module's internal table, or libtbtrace_policy's state) it is the hook
-- multiplexer's, which shares the thread's hook with tracing and with the user's own
-- debug.sethook; in the policy process it is native.sethook, which also notes the line running,
-- for the budgets' errors.
local budget = native.sethook or internal._budget or (host and host._budget)

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

-- What runs in the policy process now ("hook 'name'", "the top level"), for budget errors.
local running = "the top level"

-- Finalizers run with debug hooks off, at a time no hook chooses: in the policy process each
-- one says, when it starts, which hook set it up and where, so a budget it exceeds names them.
local wrapped = setmetatable({}, { __mode = "k" })

local function sandbox_setmetatable(t, mt)
  local gc = type(mt) == "table" and rawget(mt, "__gc")
  if native.enter and type(gc) == "function" and not wrapped[gc] then
    local at = getinfo(2, "Sl")
    local place = at and at.source:sub(1, 1) == "@" and (at.source:sub(2) .. ":" .. at.currentline) or ""
    local what = "a finalizer (__gc) set up in " .. running
    local function finalizer(...)
      native.enter(what, place)
      return gc(...)
    end
    wrapped[finalizer] = true
    rawset(mt, "__gc", finalizer)
  end
  return setmetatable(t, mt)
end

local function sandbox_env(name)
  local tostr, concat, pack, format = tostring, table.concat, table.pack, string.format
  local env = {
    -- print goes to stderr, named: a policy's own output is diagnostics, never the driver's
    print = function(...)
      local a = pack(...)
      for i = 1, a.n do a[i] = tostr(a[i]) end
      if native.stderr then native.stderr(format("policy '%s': %s\n", name, concat(a, "\t", 1, a.n))) end
    end,
    assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs,
    pcall = guarded(pcall), xpcall = guarded(xpcall),
    select = select, tonumber = tonumber, tostring = tostring, type = type,
    rawequal = rawequal, rawget = rawget, rawlen = rawlen, rawset = rawset,
    setmetatable = sandbox_setmetatable, _VERSION = _VERSION,
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

-- " (path:line)" of the first line of src that sets field k, or "".
local function field_line(src, path, k)
  if type(src) == "string" and type(k) == "string" and k:match("^[%a_][%w_]*$") then
    local n = 1
    for line in (src .. "\n"):gmatch("([^\n]*)\n") do
      if line:find("%f[%w_]" .. k .. "%s*=") then return " (" .. path .. ":" .. n .. ")" end
      n = n + 1
    end
  end
  return ""
end

local function check_budget(k, v)
  if k == "time_budget" then
    return type(v) == "number" and v > 0 and v <= MAX_TIME, "a number of seconds in (0, " .. MAX_TIME .. "]"
  end
  return math.type(v) == "integer" and v > 0 and v <= MAX_MEMORY, "an integer number of MiB in 1.." .. MAX_MEMORY
end

local function validate_table(t, path, src)
  if type(t) ~= "table" then
    error(string.format("policy '%s' must return a table (got %s)", path, type(t)), 0)
  end
  for k, v in pairs(t) do
    if type(k) ~= "string" or not KNOWN[k] then
      error(string.format("policy '%s': unknown field '%s'%s", path, tostring(k), field_line(src, path, k)), 0)
    end
    if k == "time_budget" or k == "memory_budget" then
      local ok, want = check_budget(k, v)
      if not ok then
        error(string.format("policy '%s': '%s'%s must be %s (got %s)", path, k, field_line(src, path, k), want,
          type(v) == "number" and tostring(v) or type(v)), 0)
      end
    elseif SETTINGS[k] then
      local want = SETTINGS[k]
      local ok = (want == "integer" and math.type(v) == "integer" and v >= 0 and v <= 0x7fffffff)
        or (want == "string" and type(v) == "string" and not v:find("[/%z]"))
      if not ok then
        error(string.format("policy '%s': '%s'%s must be a %s%s%s (got %s)", path, k, field_line(src, path, k),
          want == "integer" and "non-negative " or "", want, want == "string" and " without '/'" or "",
          type(v) == "number" and tostring(v) or type(v) == "string" and string.format("%q", v) or type(v)), 0)
      end
    elseif k == "extends" then
      if type(v) ~= "string" and type(v) ~= "table" then
        error(string.format("policy '%s': 'extends'%s must be a path or a policy table (got %s)", path,
          field_line(src, path, k), type(v)), 0)
      end
    elseif type(v) ~= "function" then
      error(string.format("policy '%s': hook '%s'%s must be a function (got %s)", path, k, field_line(src, path, k), type(v)), 0)
    end
  end
end

local load_file

-- Builds a policy object from a validated table: its hooks chained over the parent's.
local function where(fn, path)
  local info = getinfo(fn, "S")
  return string.format("%s:%d", path, info.linedefined)
end

local function build(t, path, opts, depth, src)
  validate_table(t, path, src)
  local p = {
    path = path,
    trusted = opts.trusted or false,
    instruction_limit = opts.instruction_limit or DEFAULT_LIMIT,
    hooks = {}, settings = {}, chain = { path }, budgets = {},
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
    for k, v in pairs(parent.budgets) do p.budgets[k] = v end
    for _, c in ipairs(parent.chain) do p.chain[#p.chain + 1] = c end
  end
  p.budgets.time_budget = t.time_budget or p.budgets.time_budget
  p.budgets.memory_budget = t.memory_budget or p.budgets.memory_budget
  for s in pairs(SETTINGS) do
    if t[s] ~= nil then p.settings[s] = t[s] end
  end
  for _, h in ipairs(HOOKS) do
    local own, up = t[h], parent and parent.hooks[h]
    if own then
      p.hooks[h] = { fn = own, parent = up, path = path, where = where(own, path) }
    else
      p.hooks[h] = up
    end
  end
  return p
end

-- Only regular files of at most MAX_FILE bytes: a FIFO, a device or a directory never blocks or
-- floods the loader.
local function read_source(path)
  if native.readfile then
    local src, err = native.readfile(path, MAX_FILE)
    if not src then
      local opened = err:find("^not a regular file") or err:find("^larger than")
      error(string.format(opened and "cannot read policy '%s': %s" or "cannot open policy '%s': %s", path, err), 0)
    end
    return src
  end
  local f, err = io.open(path, "r")
  if not f then error(string.format("cannot open policy '%s': %s", path, err), 0) end
  local src, rerr = f:read(MAX_FILE + 1)
  f:close()
  if not src and rerr then error(string.format("cannot read policy '%s': %s", path, rerr), 0) end
  if src and #src > MAX_FILE then error(string.format("cannot read policy '%s': larger than %d bytes", path, MAX_FILE), 0) end
  return src or ""
end

function load_file(path, opts, depth)
  local src = read_source(path)
  local env = opts.trusted and setmetatable({}, { __index = _G }) or sandbox_env(path)
  local chunk, lerr = load(src, "@" .. path, "t", env)
  if not chunk then error("policy " .. lerr, 0) end
  local tmp = { path = path, trusted = opts.trusted, instruction_limit = opts.instruction_limit or DEFAULT_LIMIT }
  local ok, t = bounded(tmp, "'" .. path .. "'", chunk)
  if not ok then error("policy " .. tostring(t), 0) end
  return build(t, path, opts, depth or 0, src)
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
  for _, k in ipairs({ "time_budget", "memory_budget" }) do
    local v = opts[k]
    if v ~= nil then
      local ok, want = check_budget(k, v)
      if not ok then
        argerror(n, fname, k .. " must be " .. want .. ", got " .. (type(v) == "number" and tostring(v) or type(v)), 4)
      end
    end
  end
  return opts
end

-- What a policy is, as the policy process reports it to the host (and `tbtrace policy check` shows).
local function info(p)
  local hooks = {}
  for _, h in ipairs(HOOKS) do
    local hook = p.hooks[h]
    if hook then hooks[h] = { path = hook.path, where = hook.where } end
  end
  return { chain = p.chain, hooks = hooks, settings = p.settings,
           time_budget = p.budgets.time_budget, memory_budget = p.budgets.memory_budget }
end

-- A policy file that is not trusted, loaded in its own process: the host keeps this proxy.
local function spawn(path, opts)
  local proc, i = native.spawn(path, {
    instruction_limit = opts.instruction_limit,
    time_budget = opts.time_budget, memory_budget = opts.memory_budget,
  })
  return {
    path = path, chain = i.chain, hooks = i.hooks, settings = i.settings, process = proc,
    trusted = false, instruction_limit = opts.instruction_limit or DEFAULT_LIMIT,
    budgets = { time_budget = i.time_budget, memory_budget = i.memory_budget },
  }
end

-- policy.load(path [, {trusted = false, instruction_limit = 1000000}])
function policy.load(path, opts)
  if type(path) ~= "string" or path == "" then
    argerror(1, "policy.load", "non-empty string expected, got " .. (path == "" and "empty string" or type(path)))
  end
  -- io.open would open the file named by the part before the NUL
  if path:find("%z") then argerror(1, "policy.load", "path contains a NUL byte") end
  opts = check_opts(opts, 2, "policy.load")
  if not opts.trusted and not CHILD and native.spawn then return spawn(path, opts) end
  return load_file(path, opts, 0)
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
  return current
end

function policy.current() return current end

-- ------------------------------------------------------------------ resolving

-- A read-only view of a copy of the facts: a userdata (native.freeze), so rawset, next and
-- setmetatable cannot reach what the next hook or the caller sees.
local function read_only(t)
  if native.freeze then return native.freeze(t) end
  local copy_t = copy(t)
  for k, v in pairs(copy_t) do
    if type(v) == "table" then copy_t[k] = read_only(v) end   -- ctx.cluster
  end
  return setmetatable({}, {
    __index = function(_, k) return copy_t[k] end,
    __newindex = function(_, k) error("ctx is read-only (tried to set '" .. tostring(k) .. "')", 2) end,
    __pairs = function() return function(_, k) return next(copy_t, k) end, nil, nil end,
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
  if native.enter then
    running = "hook '" .. h .. "'"
    native.enter(running, hook.where)
  end
  local ok, res = bounded(p, "the hook", invoke, hook, ctx)
  if not ok then
    error(string.format("policy '%s': hook '%s' failed: %s", hook.path, h, tostring(res)), 0)
  end
  return res, hook
end

local function bad_return(hook, h, msg)
  error(string.format("policy '%s': hook '%s' (%s) %s", hook.path, h, hook.where, msg), 0)
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
  if p.process then return p.process:resolve(facts) end
  if p.error then error(p.error, 0) end
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

if CHILD then
  return policy, {
    load = function(path, opts) local p = load_file(path, opts, 0); return p, info(p) end,
    resolve = policy.resolve,
  }
end
return policy

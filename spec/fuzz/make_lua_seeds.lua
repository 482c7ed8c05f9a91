-- make_lua_seeds.lua: writes the seed programs of fuzz_lua_args into OUTDIR.
--   lua5.4 spec/fuzz/make_lua_seeds.lua OUTDIR
-- An assembler for the byte programs fuzz_lua_args.c interprets; the numbers below are its
-- tables' indices (g_api, g_words, g_keys, the ops), so keep them in step with it. Each seed is
-- a plausible session (write summaries, trace and export, policies, faults...), from which the
-- fuzzer mutates towards the odd cases.
local outdir = assert(arg[1], "usage: lua5.4 make_lua_seeds.lua OUTDIR")

local OP = { call = 0, method = 1, meta = 2, set = 3, drop = 4, gc = 5, call_slot = 6,
  resume = 7, yield = 8, ret = 9, error = 10, fault = 11, file = 12 }
local API = {}
for i, name in ipairs {
  "strerror", "crc32c", "hostname", "pid", "create_file_writer", "create_noop_writer", "flush",
  "default_writer", "get_step", "set_step", "experimental.get_step", "experimental.set_step",
  "scalar", "text", "histogram", "image", "audio", "write", "record_if", "should_record_summaries",
  "records", "events", "event_to_json", "trace_on", "trace_off", "trace_stats", "internal.snapshot",
  "span_begin", "span_end", "span", "instant", "counter", "depends", "thread_name", "scope",
  "trace_export", "last_export", "policy.load", "policy.from_table", "policy.set",
  "policy.current", "policy.resolve",
} do API[name] = i - 1 end
local METHOD = { set_as_default = 0, as_default = 1, flush = 2, close = 3, logdir = 4, path = 5,
  closed = 6, stats = 7 }
local WORD = { loss = 0, ["acc/train"] = 1, x = 2, step = 4, load = 5, compute = 6, float32 = 13,
  int64 = 19, string = 24, wav = 25, run = 37, main = 38, logs = 41 }
local KEY = { max_queue = 0, flush_millis = 1, filename_suffix = 2, graph = 4, profiler = 5,
  profiler_outdir = 6, memory_limit = 7, name = 8, step = 9 }
local INT = { [0] = 0, [1] = 1, [-1] = 2, [2] = 3, [3] = 4, [4] = 5, [7] = 6, [30] = 7, [100] = 8 }

local function b(...) return string.char(...) end

-- Values, as gen() reads them: a byte below 224 keeps the position's hint.
local v = {}
function v.word(w) return b(0, 1, WORD[w]) end                 -- hint s/N: a listed word
function v.int(n) return b(0, INT[n]) end                      -- hint i
function v.num(k) return b(0, k) end                           -- hint n: g_floats[k] (k < 64)
function v.bool(t) return b(0, t and 1 or 0) end               -- hint b
function v.path(d, e) return b(0, 0, d, e) end                 -- hint p: <scratch>/d<d>/e<e>
function v.file(i) return b(0, 3, 4 + i) end                   -- hint p: f<i>, made by OP.file
function v.slot(i) return b(0, i) end                          -- hint w
function v.nil_() return b(255, 0) end                         -- anything: nil
-- hint o: {key = value, ...}, values as their keys' hints
function v.opts(pairs_)
  local t = { b(0, #pairs_) }
  for _, p in ipairs(pairs_) do t[#t + 1] = b(KEY[p[1]], 0) .. p[2] end
  return table.concat(t)
end
-- hint T: a rectangular nest; leaves one byte each: kind 0 numbers (byte/8), 2 listed words
function v.tensor(dims, kind, leaves)
  local t = { b(0, #dims) }
  for _, d in ipairs(dims) do t[#t + 1] = b(d) end
  t[#t + 1] = b(kind, 1)   -- the leaf kind, then the plain form (not {dtype=, values=})
  t[#t + 1] = leaves
  return table.concat(t)
end
local function fn_body(body)
  assert(#body < 48, "a callback holds at most 47 bytes")
  return b(#body) .. body
end
function v.fn(body) return b(0) .. fn_body(body) end           -- hint f: a callback
function v.anyfn(body) return b(255, 9) .. fn_body(body) end   -- a callback where any value goes
function v.coroutine(body) return b(18) .. fn_body(body) end   -- for OP.set: a coroutine
-- Callback bodies that return one value.
function v.ret_word(w) return b(9, 1, 2) .. v.word(w) end
function v.ret_int(n) return b(9, 1, 0) .. v.int(n) end

local function call(slot, api, ...)
  local args = { ... }
  return b(OP.call, slot, API[api], 0) .. table.concat(args)
end
-- A method of the value in slot; its result goes to slot dest.
local function method(slot, dest, m, ...)
  return b(OP.method, slot, dest, METHOD[m], 0) .. table.concat { ... }
end

local seeds = {}

-- Summaries of every kind through a default writer, then flush and close.
seeds.summaries = table.concat {
  call(0, "create_file_writer", v.path(0, 0), v.opts { { "max_queue", v.int(2) } }),
  method(0, 1, "set_as_default", v.int(1)),
  call(1, "scalar", v.word("loss"), v.num(2), v.int(1), v.nil_()),
  call(1, "text", v.word("x"), v.tensor({ 2 }, 2, b(WORD.loss, WORD.run)), v.int(2), v.nil_()),
  call(1, "histogram", v.word("loss"), v.tensor({ 3 }, 0, b(1, 9, 200)), v.int(3), v.int(3), v.nil_()),
  call(1, "write", v.word("acc/train"), v.tensor({ 2, 2 }, 0, b(1, 2, 3, 4)), v.int(4), v.nil_()),
  -- a 2x2 grey image: nested form, rank 3, h = w = 2, channels[0] = 1, integer leaves
  call(1, "image", v.word("x"), b(0, 1, 0, 2, 2, 0, 0) .. b(0, 80, 160, 255), v.int(4), v.nil_(), v.nil_()),
  -- one clip of 4 frames, 1 channel, leaves (byte - 128) / 100
  call(1, "audio", v.word("x"), b(0, 0, 4, 1, 0) .. b(10, 100, 200, 250), v.int(100), v.int(4), v.nil_(), v.nil_(), v.nil_()),
  method(0, 1, "flush"),
  method(0, 1, "stats"),
  method(0, 1, "close"),
  call(1, "scalar", v.word("loss"), v.num(3), v.int(7), v.nil_()),
}

-- A trace with nested spans, exported as graph and profile.
seeds.trace = table.concat {
  call(0, "create_file_writer", v.path(1, 0), v.opts {}),
  method(0, 1, "set_as_default", v.int(7)),
  call(1, "trace_on", v.opts { { "graph", v.bool(true) }, { "profiler", v.bool(true) } }, v.nil_(), v.nil_(), v.nil_()),
  call(2, "thread_name", v.word("main")),
  call(2, "span_begin", v.word("step"), v.nil_()),
  call(2, "span", v.word("load"), v.fn(call(3, "instant", v.word("x"), v.nil_())), v.nil_(), v.nil_()),
  call(2, "counter", v.word("loss"), v.num(4)),
  call(2, "span_end"),
  call(2, "depends", v.word("step"), v.word("load")),
  call(2, "trace_stats"),
  call(2, "trace_export", v.word("run"), v.int(7), v.nil_()),
  call(2, "last_export"),
}

-- record_if with a condition function, a scope left open and dropped, collections.
seeds.record_if = table.concat {
  call(0, "create_file_writer", v.path(2, 0), v.opts {}),
  method(0, 1, "set_as_default", v.int(0)),
  call(1, "record_if", v.anyfn(b(9, 1, 3, 0, 1)), v.nil_(), v.nil_(), v.nil_()),   -- returns true
  call(2, "scalar", v.word("loss"), v.num(1), v.nil_(), v.nil_()),
  call(2, "should_record_summaries"),
  b(OP.drop, 1), b(OP.gc, 0, 1),
  call(2, "scalar", v.word("loss"), v.num(1), v.nil_(), v.nil_()),
}

-- as_default with a body, and the to-be-closed form closed through its metatable.
seeds.as_default = table.concat {
  call(0, "create_file_writer", v.path(3, 1), v.opts { { "flush_millis", v.int(1) } }),
  method(0, 1, "as_default", v.int(3), v.fn(call(2, "scalar", v.word("x"), v.num(5), v.nil_(), v.nil_())), v.nil_(), v.nil_()),
  method(0, 1, "as_default", v.int(4), v.nil_(), v.nil_(), v.nil_()),
  call(2, "scalar", v.word("x"), v.num(4), v.nil_(), v.nil_()),
  b(OP.meta, 1, 2, 0, 0),   -- the scope in slot 1: __close
  call(3, "create_noop_writer"),
  method(3, 4, "as_default", v.int(2), v.fn(call(5, "get_step")), v.nil_(), v.nil_()),
}

-- A policy with name and step hooks, then an export that uses it.
seeds.policy = table.concat {
  -- {name = function() return "run" end, step = function() return 3 end}
  call(0, "policy.set", b(0, 2) .. b(0) .. fn_body(v.ret_word("run")) .. b(1) .. fn_body(v.ret_int(3)), v.nil_()),
  call(1, "create_file_writer", v.path(0, 1), v.opts {}),
  method(1, 2, "set_as_default", v.nil_()),
  call(2, "trace_on", v.opts {}, v.nil_(), v.nil_(), v.nil_()),
  call(2, "span_begin", v.word("compute"), v.nil_()),
  call(2, "trace_export", v.nil_(), v.nil_(), v.nil_()),
  call(2, "policy.current"),
  call(2, "policy.set", v.nil_(), v.nil_()),
}

-- No default writer: the policy names the logdir (a writer is made there), the run and step.
seeds.policy_logdir = table.concat {
  -- {logdir = ... "logs", run_name = ... "run", step = ... 3}
  call(0, "policy.set", b(0, 3) .. b(2) .. fn_body(v.ret_word("logs")) .. b(4) .. fn_body(v.ret_word("run"))
    .. b(1) .. fn_body(v.ret_int(3)), v.nil_()),
  call(1, "trace_on", v.opts { { "profiler", v.bool(true) } }, v.nil_(), v.nil_(), v.nil_()),
  call(1, "span", v.word("step"), v.fn(call(2, "span_begin", v.word("load"), v.word("compute"))), v.nil_(), v.nil_()),
  call(1, "trace_export", v.word("x"), v.nil_(), v.nil_()),
  call(1, "last_export"),
  call(1, "default_writer"),
  method(1, 2, "close"),
}

-- The disk fills while events are queued; flush and close fail, then succeed.
seeds.faults = table.concat {
  call(0, "create_file_writer", v.path(1, 1), v.opts { { "max_queue", v.int(1) } }),
  method(0, 1, "set_as_default", v.int(1)),
  b(OP.fault, 0, 1, 0),     -- ENOSPC from the next write on
  call(1, "scalar", v.word("loss"), v.num(2), v.nil_(), v.nil_()),
  call(1, "scalar", v.word("loss"), v.num(2), v.nil_(), v.nil_()),
  call(1, "scalar", v.word("loss"), v.num(2), v.nil_(), v.nil_()),
  method(0, 1, "flush"),
  method(0, 1, "close"),
  b(OP.fault, 0, 0, 0),     -- the disk has room again
  method(0, 1, "close"),
  method(0, 1, "stats"),
}

-- A coroutine that opens a span and yields; resumed twice, then left.
seeds.coroutine = table.concat {
  call(0, "trace_on", v.opts {}, v.nil_(), v.nil_(), v.nil_()),
  b(OP.set, 1) .. v.coroutine(call(2, "span_begin", v.word("load"), v.nil_()) .. b(OP.yield, 0)),
  b(OP.resume, 1, 0),
  b(OP.resume, 1, 0),
  call(2, "internal.snapshot"),
  call(2, "trace_off"),
}

-- Read back the events a writer wrote.
seeds.reader = table.concat {
  call(0, "create_file_writer", v.path(2, 1), v.opts {}),
  method(0, 1, "set_as_default", v.int(1)),
  call(1, "text", v.word("x"), v.tensor({ 1 }, 2, b(WORD.x)), v.nil_(), v.nil_()),
  method(0, 1, "close"),
  method(0, 1, "path"),
  b(OP.call, 2, API.events, 0, 255, 8, 1),     -- events(<slot 1: the path>)
  b(OP.call_slot, 2, 3, 0, 255, 0, 255, 0),    -- the iterator, three times
  b(OP.call_slot, 2, 3, 0, 255, 0, 255, 0),
  b(OP.call_slot, 2, 3, 0, 255, 0, 255, 0),
}

-- Files the writer would never make, read back: framed records (an Event, then bytes that are
-- not one), and raw bytes.
seeds.reader_bad_files = table.concat {
  b(OP.file, 0, 1, 1) .. b(2, 16, 5) .. b(2, 255, 255),   -- f0: 2 framed records
  call(1, "events", v.file(0)),
  b(OP.call_slot, 1, 2, 0, 255, 0, 255, 0),
  b(OP.call_slot, 1, 2, 0, 255, 0, 255, 0),
  b(OP.call_slot, 1, 2, 0, 255, 0, 255, 0),
  b(OP.file, 1, 0, 0) .. b(5) .. "abcde",                 -- f1: raw bytes
  call(3, "records", v.file(1)),
  b(OP.call_slot, 3, 4, 0, 255, 0, 255, 0),
}

-- Regressions: programs that reproduced a bug once.

-- A span's category long enough to grow the Chrome trace encoder's name cache moved the span's
-- name under it (a use after free in encode_chrome_json.c).
seeds.regress_chrome_category_uaf = table.concat {
  call(0, "trace_on", v.opts { { "profiler", v.bool(true) }, { "profiler_outdir", v.path(0, 0) } },
       v.nil_(), v.nil_(), v.nil_()),
  -- span_begin("step", ("eve"):rep(1001)): a long string where any value goes
  call(1, "span_begin", v.word("step"), b(255, 6, 3) .. "eve" .. b(0x03, 0xe8)),
  call(1, "span_end"),
  call(1, "trace_export", v.word("run"), v.int(1), v.nil_()),
}

for name, bytes in pairs(seeds) do
  local f = assert(io.open(outdir .. "/" .. name, "wb"))
  f:write(bytes)
  f:close()
end

-- wire.lua: an independent pure-Lua reader for what tbtrace writes (TFRecord framing, protobuf
-- messages of proto/*.proto, gzip'ed Chrome trace JSON). The specs check the C writer's bytes with
-- it, so it shares no code with the writer and loads no C module.
--
-- Decoded messages are plain tables keyed by the field names of the .proto files. A key is present
-- iff the field was on the wire: an absent scalar means its proto3 default, an absent repeated or
-- map field means empty (wire.get supplies these defaults). Repeated fields are arrays, maps are
-- tables keyed by the map key, sub-messages are tables. Fields the schema does not know (or known
-- numbers with the wrong wire type) go to t._unknown; a singular field seen twice or a second
-- member of a oneof is noted by name in t._duplicates. Both keys exist only when non-empty.

local byte, char, sub, unpack = string.byte, string.char, string.sub, string.unpack
local format, find = string.format, string.find
local concat, sort = table.concat, table.sort

local M = {}

-- ---------------------------------------------------------------------------------------------
-- CRC-32C and the TFRecord mask

local CRC_TABLE = {}
for n = 0, 255 do
  local c = n
  for _ = 1, 8 do
    if c & 1 == 1 then c = (c >> 1) ~ 0x82F63B78 else c = c >> 1 end
  end
  CRC_TABLE[n] = c
end

-- crc continues a previous result, so crc32c(b, crc32c(a)) == crc32c(a .. b).
function M.crc32c(s, crc)
  local T = CRC_TABLE
  local c = ~(crc or 0) & 0xFFFFFFFF
  local n, i = #s, 1
  -- eight bytes per string.byte call: the call, not the table lookup, dominates in Lua
  while i + 7 <= n do
    local b1, b2, b3, b4, b5, b6, b7, b8 = byte(s, i, i + 7)
    c = T[(c ~ b1) & 0xFF] ~ (c >> 8)
    c = T[(c ~ b2) & 0xFF] ~ (c >> 8)
    c = T[(c ~ b3) & 0xFF] ~ (c >> 8)
    c = T[(c ~ b4) & 0xFF] ~ (c >> 8)
    c = T[(c ~ b5) & 0xFF] ~ (c >> 8)
    c = T[(c ~ b6) & 0xFF] ~ (c >> 8)
    c = T[(c ~ b7) & 0xFF] ~ (c >> 8)
    c = T[(c ~ b8) & 0xFF] ~ (c >> 8)
    i = i + 8
  end
  for k = i, n do
    c = T[(c ~ byte(s, k)) & 0xFF] ~ (c >> 8)
  end
  return ~c & 0xFFFFFFFF
end

local MASK_DELTA = 0xa282ead8

function M.mask(c)
  c = c & 0xFFFFFFFF
  return ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + MASK_DELTA) & 0xFFFFFFFF
end

function M.unmask(m)
  local r = (m - MASK_DELTA) & 0xFFFFFFFF
  return ((r >> 17) | (r << 15)) & 0xFFFFFFFF
end

-- ---------------------------------------------------------------------------------------------
-- TFRecord framing. Offsets are 0-based byte positions in the file, as a hex dump shows them.

local function parse_records(s)
  local out, pos, n = {}, 1, #s
  while pos <= n do
    local off = pos - 1
    if n - pos + 1 < 12 then
      return out, { offset = off, reason = format("truncated header: %d of 12 bytes", n - pos + 1) }
    end
    local len_bytes = sub(s, pos, pos + 7)
    local len, lcrc = unpack("<i8I4", s, pos)
    local want = M.mask(M.crc32c(len_bytes))
    if lcrc ~= want then
      return out, { offset = off, reason = format(
        "length checksum mismatch (stored 0x%08x, expected 0x%08x)", lcrc, want) }
    end
    -- a length with the top bit set is negative here, and certainly past the end
    local avail = n - (pos + 12) + 1
    if len < 0 or len + 4 > avail then
      return out, { offset = off, reason = format(
        "truncated record: length %u needs %s bytes after the header, %d left",
        len, len < 0 and "more" or tostring(len + 4), avail) }
    end
    local data = sub(s, pos + 12, pos + 11 + len)
    local dcrc = unpack("<I4", s, pos + 12 + len)
    want = M.mask(M.crc32c(data))
    if dcrc ~= want then
      return out, { offset = off, reason = format(
        "data checksum mismatch (stored 0x%08x, expected 0x%08x; data at offset %d, %d bytes)",
        dcrc, want, off + 12, len) }
    end
    out[#out + 1] = { offset = off, data = data }
    pos = pos + 16 + len
  end
  return out, nil
end

-- Returns records, err: err is nil or {offset=, reason=} for the first bad record.
function M.read_records_lenient(s)
  return parse_records(s)
end

-- Returns a list of {offset=, data=}; raises on the first bad record.
function M.read_records(s)
  local recs, err = parse_records(s)
  if err then
    error(format("tfrecord: record at offset %d: %s", err.offset, err.reason), 0)
  end
  return recs
end

-- ---------------------------------------------------------------------------------------------
-- Protobuf wire format

local WIRE_VARINT, WIRE_I64, WIRE_LEN, WIRE_I32 = 0, 1, 2, 5

-- Reads a varint at s[pos], not past j. Returns value (64-bit two's complement) and next pos.
-- Errors name the offset where the varint starts.
local function read_varint(s, pos, j, what)
  local v, shift, start = 0, 0, pos
  while true do
    if pos > j then
      error(format("protobuf: truncated varint in %s at offset %d", what, start - 1), 0)
    end
    local b = byte(s, pos)
    if shift == 63 and b > 1 then
      error(format("protobuf: varint overflows 64 bits in %s at offset %d", what, start - 1), 0)
    end
    v = v | ((b & 0x7F) << shift)
    pos = pos + 1
    if b < 0x80 then return v, pos end
    shift = shift + 7
  end
end

-- Reads one field's tag and payload. Returns field, wire, value, next pos; for wire 2 the value
-- is the payload's (start, stop) range, returned as two extra results.
local function read_field(s, pos, j, what)
  local start, key = pos, nil
  key, pos = read_varint(s, pos, j, what)
  local field, wt = key >> 3, key & 7
  if field == 0 or field > 0x1FFFFFFF then
    error(format("protobuf: bad field number %u in %s at offset %d", field, what, start - 1), 0)
  end
  if wt == WIRE_VARINT then
    local v
    v, pos = read_varint(s, pos, j, what)
    return field, wt, v, pos
  elseif wt == WIRE_I64 or wt == WIRE_I32 then
    local size = wt == WIRE_I64 and 8 or 4
    if pos + size - 1 > j then
      error(format("protobuf: truncated fixed%d field %d in %s at offset %d", size * 8, field, what, pos - 1), 0)
    end
    return field, wt, sub(s, pos, pos + size - 1), pos + size
  elseif wt == WIRE_LEN then
    local len
    len, pos = read_varint(s, pos, j, what)
    if len < 0 or len > j - pos + 1 then
      error(format("protobuf: truncated length-delimited field %d in %s at offset %d (length %u, %d left)",
        field, what, pos - 1, len, j - pos + 1), 0)
    end
    return field, wt, nil, pos + len, pos, pos + len - 1
  else
    error(format("protobuf: unsupported wire type %d (field %d) in %s at offset %d", wt, field, what, pos - 1), 0)
  end
end

-- Returns a list of {field=, wire=, value=, offset=}: value is an integer for varints, the raw
-- little-endian bytes for fixed32/fixed64 (decode with string.unpack), the payload for wire 2.
function M.decode_raw(s)
  local out, pos, j = {}, 1, #s
  while pos <= j do
    local off = pos - 1
    local field, wt, v, npos, a, b = read_field(s, pos, j, "message")
    if wt == WIRE_LEN then v = sub(s, a, b) end
    out[#out + 1] = { field = field, wire = wt, value = v, offset = off }
    pos = npos
  end
  return out
end

-- Scalar types: wire type, converter from the raw varint / fixed bytes, proto3 default.
local function sext32(v) return ((v & 0xFFFFFFFF) ~ 0x80000000) - 0x80000000 end
local SCALAR = {
  int32 = { WIRE_VARINT, sext32, 0 },
  enum = { WIRE_VARINT, sext32, 0 },
  int64 = { WIRE_VARINT, function(v) return v end, 0 },
  uint64 = { WIRE_VARINT, function(v) return v end, 0 },
  uint32 = { WIRE_VARINT, function(v) return v & 0xFFFFFFFF end, 0 },
  bool = { WIRE_VARINT, function(v) return v ~= 0 end, false },
  sint32 = { WIRE_VARINT, function(v) v = v & 0xFFFFFFFF; return sext32((v >> 1) ~ -(v & 1)) end, 0 },
  sint64 = { WIRE_VARINT, function(v) return (v >> 1) ~ -(v & 1) end, 0 },
  double = { WIRE_I64, function(b) return (unpack("<d", b)) end, 0.0 },
  fixed64 = { WIRE_I64, function(b) return (unpack("<i8", b)) end, 0 },
  sfixed64 = { WIRE_I64, function(b) return (unpack("<i8", b)) end, 0 },
  float = { WIRE_I32, function(b) return (unpack("<f", b)) end, 0.0 },
  fixed32 = { WIRE_I32, function(b) return (unpack("<I4", b)) end, 0 },
  sfixed32 = { WIRE_I32, function(b) return (unpack("<i4", b)) end, 0 },
  string = { WIRE_LEN, nil, "" },
  bytes = { WIRE_LEN, nil, "" },
}

-- ---------------------------------------------------------------------------------------------
-- Schemas, written from proto/*.proto. Each field: { number, name, type [, oneof] } where type
-- is a scalar type, "repeated <type>", "map<key,value>", or a message's full name.

local TF, PROF = "tensorflow.", "tensorflow.profiler."
local TB, HP = "tensorboard.", "tensorboard.hparams."

local SCHEMA_SRC = {
  -- event.proto
  [TF .. "LogMessage"] = {
    { 1, "level", "enum" }, { 2, "message", "string" },
  },
  [TF .. "SessionLog"] = {
    { 1, "status", "enum" }, { 2, "checkpoint_path", "string" }, { 3, "msg", "string" },
  },
  [TF .. "TaggedRunMetadata"] = {
    { 1, "tag", "string" }, { 2, "run_metadata", "bytes" },
  },
  [TF .. "SourceMetadata"] = {
    { 1, "writer", "string" },
  },
  [TF .. "Event"] = {
    { 1, "wall_time", "double" },
    { 2, "step", "int64" },
    { 3, "file_version", "string", "what" },
    { 4, "graph_def", "bytes", "what" },
    { 5, "summary", TF .. "Summary", "what" },
    { 6, "log_message", TF .. "LogMessage", "what" },
    { 7, "session_log", TF .. "SessionLog", "what" },
    { 8, "tagged_run_metadata", TF .. "TaggedRunMetadata", "what" },
    { 9, "meta_graph_def", "bytes", "what" },
    { 10, "source_metadata", TF .. "SourceMetadata" },
  },
  -- summary.proto
  [TF .. "HistogramProto"] = {
    { 1, "min", "double" }, { 2, "max", "double" }, { 3, "num", "double" }, { 4, "sum", "double" },
    { 5, "sum_squares", "double" },
    { 6, "bucket_limit", "repeated double" }, { 7, "bucket", "repeated double" },
  },
  [TF .. "SummaryMetadata.PluginData"] = {
    { 1, "plugin_name", "string" }, { 2, "content", "bytes" },
  },
  [TF .. "SummaryMetadata"] = {
    { 1, "plugin_data", TF .. "SummaryMetadata.PluginData" },
    { 2, "display_name", "string" },
    { 3, "summary_description", "string" },
    { 4, "data_class", "enum" },
  },
  [TF .. "Summary.Image"] = {
    { 1, "height", "int32" }, { 2, "width", "int32" }, { 3, "colorspace", "int32" },
    { 4, "encoded_image_string", "bytes" },
  },
  [TF .. "Summary.Audio"] = {
    { 1, "sample_rate", "float" }, { 2, "num_channels", "int64" }, { 3, "length_frames", "int64" },
    { 4, "encoded_audio_string", "bytes" }, { 5, "content_type", "string" },
  },
  [TF .. "Summary.Value"] = {
    { 7, "node_name", "string" },
    { 1, "tag", "string" },
    { 9, "metadata", TF .. "SummaryMetadata" },
    { 2, "simple_value", "float", "value" },
    { 3, "obsolete_old_style_histogram", "bytes", "value" },
    { 4, "image", TF .. "Summary.Image", "value" },
    { 5, "histo", TF .. "HistogramProto", "value" },
    { 6, "audio", TF .. "Summary.Audio", "value" },
    { 8, "tensor", TF .. "TensorProto", "value" },
  },
  [TF .. "Summary"] = {
    { 1, "value", "repeated " .. TF .. "Summary.Value" },
  },
  -- tensor.proto
  [TF .. "TensorShapeProto.Dim"] = {
    { 1, "size", "int64" }, { 2, "name", "string" },
  },
  [TF .. "TensorShapeProto"] = {
    { 2, "dim", "repeated " .. TF .. "TensorShapeProto.Dim" }, { 3, "unknown_rank", "bool" },
  },
  [TF .. "TensorProto"] = {
    { 1, "dtype", "enum" },
    { 2, "tensor_shape", TF .. "TensorShapeProto" },
    { 3, "version_number", "int32" },
    { 4, "tensor_content", "bytes" },
    { 13, "half_val", "repeated int32" },
    { 5, "float_val", "repeated float" },
    { 6, "double_val", "repeated double" },
    { 7, "int_val", "repeated int32" },
    { 8, "string_val", "repeated bytes" },
    { 10, "int64_val", "repeated int64" },
    { 11, "bool_val", "repeated bool" },
    { 16, "uint32_val", "repeated uint32" },
    { 17, "uint64_val", "repeated uint64" },
  },
  -- graph.proto
  [TF .. "AttrValue.ListValue"] = {
    { 2, "s", "repeated bytes" }, { 3, "i", "repeated int64" }, { 4, "f", "repeated float" },
    { 5, "b", "repeated bool" },
  },
  [TF .. "AttrValue"] = {
    { 2, "s", "bytes", "value" },
    { 3, "i", "int64", "value" },
    { 4, "f", "float", "value" },
    { 5, "b", "bool", "value" },
    { 6, "type", "enum", "value" },
    { 7, "shape", TF .. "TensorShapeProto", "value" },
    { 8, "tensor", TF .. "TensorProto", "value" },
    { 1, "list", TF .. "AttrValue.ListValue", "value" },
  },
  [TF .. "NodeDef"] = {
    { 1, "name", "string" }, { 2, "op", "string" }, { 3, "input", "repeated string" },
    { 4, "device", "string" }, { 5, "attr", "map<string," .. TF .. "AttrValue>" },
  },
  [TF .. "VersionDef"] = {
    { 1, "producer", "int32" }, { 2, "min_consumer", "int32" }, { 3, "bad_consumers", "repeated int32" },
  },
  [TF .. "GraphDef"] = {
    { 1, "node", "repeated " .. TF .. "NodeDef" }, { 4, "versions", TF .. "VersionDef" },
  },
  -- run_metadata.proto
  [TF .. "AllocatorMemoryUsed"] = {
    { 1, "allocator_name", "string" }, { 2, "total_bytes", "int64" }, { 3, "peak_bytes", "int64" },
    { 4, "live_bytes", "int64" }, { 5, "allocator_bytes_in_use", "int64" },
  },
  [TF .. "NodeExecStats"] = {
    { 1, "node_name", "string" },
    { 2, "all_start_micros", "int64" },
    { 3, "op_start_rel_micros", "int64" },
    { 4, "op_end_rel_micros", "int64" },
    { 5, "all_end_rel_micros", "int64" },
    { 6, "memory", "repeated " .. TF .. "AllocatorMemoryUsed" },
    { 8, "timeline_label", "string" },
    { 9, "scheduled_micros", "int64" },
    { 10, "thread_id", "uint32" },
    { 13, "all_start_nanos", "int64" },
    { 14, "op_start_rel_nanos", "int64" },
    { 15, "op_end_rel_nanos", "int64" },
    { 16, "all_end_rel_nanos", "int64" },
    { 17, "scheduled_nanos", "int64" },
  },
  [TF .. "DeviceStepStats"] = {
    { 1, "device", "string" },
    { 2, "node_stats", "repeated " .. TF .. "NodeExecStats" },
    { 3, "thread_names", "map<uint32,string>" },
  },
  [TF .. "StepStats"] = {
    { 1, "dev_stats", "repeated " .. TF .. "DeviceStepStats" },
  },
  [TF .. "RunMetadata.FunctionGraphs"] = {
    { 1, "partition_graphs", "repeated " .. TF .. "GraphDef" },
    { 2, "pre_optimization_graph", TF .. "GraphDef" },
    { 3, "post_optimization_graph", TF .. "GraphDef" },
  },
  [TF .. "RunMetadata"] = {
    { 1, "step_stats", TF .. "StepStats" },
    { 3, "partition_graphs", "repeated " .. TF .. "GraphDef" },
    { 4, "function_graphs", "repeated " .. TF .. "RunMetadata.FunctionGraphs" },
  },
  -- hparams.proto (tensorboard/plugins/hparams: api.proto, plugin_data.proto; Value and
  -- ListValue are google.protobuf's struct.proto)
  [HP .. "ListValue"] = {
    { 1, "values", "repeated " .. HP .. "Value" },
  },
  [HP .. "Value"] = {
    { 1, "null_value", "enum", "kind" }, { 2, "number_value", "double", "kind" },
    { 3, "string_value", "string", "kind" }, { 4, "bool_value", "bool", "kind" },
    { 6, "list_value", HP .. "ListValue", "kind" },
  },
  [HP .. "Interval"] = {
    { 1, "min_value", "double" }, { 2, "max_value", "double" },
  },
  [HP .. "HParamInfo"] = {
    { 1, "name", "string" }, { 2, "display_name", "string" }, { 3, "description", "string" },
    { 4, "type", "enum" },
    { 5, "domain_discrete", HP .. "ListValue", "domain" },
    { 6, "domain_interval", HP .. "Interval", "domain" },
    { 7, "differs", "bool" },
  },
  [HP .. "MetricName"] = {
    { 1, "group", "string" }, { 2, "tag", "string" },
  },
  [HP .. "MetricInfo"] = {
    { 1, "name", HP .. "MetricName" }, { 3, "display_name", "string" }, { 4, "description", "string" },
    { 5, "dataset_type", "enum" },
  },
  [HP .. "Experiment"] = {
    { 6, "name", "string" }, { 1, "description", "string" }, { 2, "user", "string" },
    { 3, "time_created_secs", "double" },
    { 4, "hparam_infos", "repeated " .. HP .. "HParamInfo" },
    { 5, "metric_infos", "repeated " .. HP .. "MetricInfo" },
  },
  [HP .. "SessionStartInfo"] = {
    { 1, "hparams", "map<string," .. HP .. "Value>" }, { 2, "model_uri", "string" },
    { 3, "monitor_url", "string" }, { 4, "group_name", "string" }, { 5, "start_time_secs", "double" },
  },
  [HP .. "SessionEndInfo"] = {
    { 1, "status", "enum" }, { 2, "end_time_secs", "double" },
  },
  [HP .. "HParamsPluginData"] = {
    { 1, "version", "int32" },
    { 2, "experiment", HP .. "Experiment", "data" },
    { 3, "session_start_info", HP .. "SessionStartInfo", "data" },
    { 4, "session_end_info", HP .. "SessionEndInfo", "data" },
  },
  -- custom_scalar.proto (tensorboard/plugins/custom_scalar/layout.proto)
  [TB .. "MultilineChartContent"] = {
    { 1, "tag", "repeated string" },
  },
  [TB .. "MarginChartContent.Series"] = {
    { 1, "value", "string" }, { 2, "lower", "string" }, { 3, "upper", "string" },
  },
  [TB .. "MarginChartContent"] = {
    { 1, "series", "repeated " .. TB .. "MarginChartContent.Series" },
  },
  [TB .. "Chart"] = {
    { 1, "title", "string" },
    { 2, "multiline", TB .. "MultilineChartContent", "content" },
    { 3, "margin", TB .. "MarginChartContent", "content" },
  },
  [TB .. "Category"] = {
    { 1, "title", "string" }, { 2, "chart", "repeated " .. TB .. "Chart" }, { 3, "closed", "bool" },
  },
  [TB .. "Layout"] = {
    { 1, "version", "int32" }, { 2, "category", "repeated " .. TB .. "Category" },
  },
  -- xplane.proto
  [PROF .. "XSpace"] = {
    { 1, "planes", "repeated " .. PROF .. "XPlane" },
    { 2, "errors", "repeated string" },
    { 3, "warnings", "repeated string" },
    { 4, "hostnames", "repeated string" },
  },
  [PROF .. "XPlane"] = {
    { 1, "id", "int64" },
    { 2, "name", "string" },
    { 3, "lines", "repeated " .. PROF .. "XLine" },
    { 4, "event_metadata", "map<int64," .. PROF .. "XEventMetadata>" },
    { 5, "stat_metadata", "map<int64," .. PROF .. "XStatMetadata>" },
    { 6, "stats", "repeated " .. PROF .. "XStat" },
  },
  [PROF .. "XLine"] = {
    { 1, "id", "int64" }, { 10, "display_id", "int64" }, { 2, "name", "string" },
    { 11, "display_name", "string" }, { 3, "timestamp_ns", "int64" }, { 9, "duration_ps", "int64" },
    { 4, "events", "repeated " .. PROF .. "XEvent" },
  },
  [PROF .. "XEvent"] = {
    { 1, "metadata_id", "int64" },
    { 2, "offset_ps", "int64", "data" },
    { 5, "num_occurrences", "int64", "data" },
    { 3, "duration_ps", "int64" },
    { 4, "stats", "repeated " .. PROF .. "XStat" },
  },
  [PROF .. "XStat"] = {
    { 1, "metadata_id", "int64" },
    { 2, "double_value", "double", "value" },
    { 3, "uint64_value", "uint64", "value" },
    { 4, "int64_value", "int64", "value" },
    { 5, "str_value", "string", "value" },
    { 6, "bytes_value", "bytes", "value" },
    { 7, "ref_value", "uint64", "value" },
  },
  [PROF .. "XEventMetadata"] = {
    { 1, "id", "int64" }, { 2, "name", "string" }, { 4, "display_name", "string" },
    { 3, "metadata", "bytes" }, { 5, "stats", "repeated " .. PROF .. "XStat" },
    { 6, "child_id", "repeated int64" },
  },
  [PROF .. "XStatMetadata"] = {
    { 1, "id", "int64" }, { 2, "name", "string" }, { 3, "description", "string" },
  },
}

-- Enum values by name, for readable assertions.
M.enums = {
  DataType = {
    DT_INVALID = 0, DT_FLOAT = 1, DT_DOUBLE = 2, DT_INT32 = 3, DT_UINT8 = 4, DT_INT16 = 5,
    DT_INT8 = 6, DT_STRING = 7, DT_COMPLEX64 = 8, DT_INT64 = 9, DT_BOOL = 10, DT_UINT16 = 17,
    DT_HALF = 19, DT_UINT32 = 22, DT_UINT64 = 23,
  },
  DataClass = {
    DATA_CLASS_UNKNOWN = 0, DATA_CLASS_SCALAR = 1, DATA_CLASS_TENSOR = 2, DATA_CLASS_BLOB_SEQUENCE = 3,
  },
  LogMessage_Level = { UNKNOWN = 0, DEBUGGING = 10, INFO = 20, WARN = 30, ERROR = 40, FATAL = 50 },
  SessionLog_SessionStatus = { STATUS_UNSPECIFIED = 0, START = 1, STOP = 2, CHECKPOINT = 3 },
  HParamsDataType = { DATA_TYPE_UNSET = 0, DATA_TYPE_STRING = 1, DATA_TYPE_BOOL = 2, DATA_TYPE_FLOAT64 = 3 },
  HParamsStatus = { STATUS_UNKNOWN = 0, STATUS_SUCCESS = 1, STATUS_FAILURE = 2, STATUS_RUNNING = 3 },
  DatasetType = { DATASET_UNKNOWN = 0, DATASET_TRAINING = 1, DATASET_VALIDATION = 2 },
}

-- Compiled schemas by full name and by the name without package ("Event", "Summary.Value").
local schemas = {}

-- Field descriptor: { num, name, kind = "scalar"|"message"|"map", type, repeated, oneof,
-- key (map key scalar type), entry (map entry schema) }.
local function compile_type(msgname, f, tstr)
  local repeated = false
  local rest = tstr:match("^repeated (.+)$")
  if rest then repeated, tstr = true, rest end
  local k, v = tstr:match("^map<([%w_]+),([%w_.]+)>$")
  if k then
    assert(SCALAR[k], msgname .. ": bad map key type " .. k)
    local entry_name = msgname .. "." .. f.name .. "#entry"
    SCHEMA_SRC[entry_name] = { { 1, "key", k }, { 2, "value", v } }
    assert(SCALAR[v] or SCHEMA_SRC[v], msgname .. ": unknown map value type " .. v)
    f.kind, f.type, f.key, f.entry = "map", v, k, entry_name
  elseif SCALAR[tstr] then
    f.kind, f.type = "scalar", tstr
  else
    assert(SCHEMA_SRC[tstr], msgname .. ": unknown type " .. tstr)
    f.kind, f.type = "message", tstr
  end
  f.repeated = repeated
end

local function compile(name)
  local src = SCHEMA_SRC[name]
  local sch = { name = name, by_num = {}, by_name = {}, oneofs = {} }
  schemas[name] = sch
  for _, d in ipairs(src) do
    local f = { num = d[1], name = d[2], oneof = d[4] }
    assert(not sch.by_num[f.num] and not sch.by_name[f.name], name .. ": duplicate field " .. f.name)
    compile_type(name, f, d[3])
    sch.by_num[f.num], sch.by_name[f.name] = f, f
    if f.oneof then
      local members = sch.oneofs[f.oneof] or {}
      members[#members + 1] = f.name
      sch.oneofs[f.oneof] = members
    end
  end
end

do
  local names = {}
  for name in pairs(SCHEMA_SRC) do names[#names + 1] = name end
  sort(names)
  for _, name in ipairs(names) do compile(name) end
  -- map entry schemas were added to SCHEMA_SRC while compiling the messages
  for name in pairs(SCHEMA_SRC) do
    if not schemas[name] then compile(name) end
  end
  for _, name in ipairs(names) do
    local short = name:gsub("^tensorflow%.profiler%.", ""):gsub("^tensorflow%.", "")
      :gsub("^tensorboard%.hparams%.", ""):gsub("^tensorboard%.", "")
    assert(not schemas[short], "ambiguous short schema name " .. short)
    schemas[short] = schemas[name]
  end
end

local function schema(name)
  local sch = schemas[name]
  if not sch then error("wire: unknown schema '" .. tostring(name) .. "'", 3) end
  return sch
end

-- Full names of all message schemas (map entries excluded).
function M.schema_names()
  local out = {}
  for name, sch in pairs(schemas) do
    if name == sch.name and not name:find("#", 1, true) then out[#out + 1] = name end
  end
  sort(out)
  return out
end

-- The schema each decoded table came from, for wire.get.
local schema_of = setmetatable({}, { __mode = "k" })

local decode_into

local function note(t, key, v)
  local list = t[key]
  if not list then list = {}; t[key] = list end
  list[#list + 1] = v
end

local function scalar_from(ty, wt, v, s, a, b)
  if wt == WIRE_LEN then return sub(s, a, b) end
  return SCALAR[ty][2](v)
end

-- Decodes a packed run of scalars of type ty in s[a..b] and appends them to list.
local function unpack_packed(list, ty, s, a, b, what)
  local wt, conv = SCALAR[ty][1], SCALAR[ty][2]
  local pos = a
  if wt == WIRE_VARINT then
    while pos <= b do
      local v
      v, pos = read_varint(s, pos, b, what)
      list[#list + 1] = conv(v)
    end
  else
    local size = wt == WIRE_I64 and 8 or 4
    if (b - a + 1) % size ~= 0 then
      error(format("protobuf: packed %s field in %s has %d bytes, not a multiple of %d at offset %d",
        ty, what, b - a + 1, size, a - 1), 0)
    end
    while pos <= b do
      list[#list + 1] = conv(sub(s, pos, pos + size - 1))
      pos = pos + size
    end
  end
end

local function new_message(sch)
  local t = {}
  schema_of[t] = sch
  return t
end

-- Sets singular field f of t to v, noting repeats and clearing other members of its oneof.
local function set_singular(t, sch, f, v, seen)
  if seen[f.name] then note(t, "_duplicates", f.name) end
  seen[f.name] = true
  if f.oneof then
    for _, other in ipairs(sch.oneofs[f.oneof]) do
      if other ~= f.name and t[other] ~= nil then
        note(t, "_duplicates", other)
        t[other] = nil
      end
    end
  end
  t[f.name] = v
end

-- Decodes s[i..j] as message sch into table t (merging, as protobuf does for repeated messages
-- of a singular field).
function decode_into(sch, s, i, j, t)
  local what = sch.name
  local seen = {}
  local pos = i
  while pos <= j do
    local off = pos - 1
    local num, wt, v, npos, a, b = read_field(s, pos, j, what)
    local f = sch.by_num[num]
    local expected = f and (f.kind == "scalar" and SCALAR[f.type][1] or WIRE_LEN)
    if not f then
      note(t, "_unknown", { field = num, wire = wt, value = wt == WIRE_LEN and sub(s, a, b) or v, offset = off })
    elseif f.kind == "scalar" and f.repeated and wt == WIRE_LEN and expected ~= WIRE_LEN then
      local list = t[f.name] or {}
      t[f.name] = list
      unpack_packed(list, f.type, s, a, b, what .. "." .. f.name)
    elseif wt ~= expected then
      note(t, "_unknown", { field = num, wire = wt, value = wt == WIRE_LEN and sub(s, a, b) or v, offset = off,
        name = f.name })
    elseif f.kind == "scalar" then
      local x = scalar_from(f.type, wt, v, s, a, b)
      if f.repeated then
        local list = t[f.name] or {}
        t[f.name] = list
        list[#list + 1] = x
      else
        set_singular(t, sch, f, x, seen)
      end
    elseif f.kind == "message" then
      local sub_sch = schemas[f.type]
      if f.repeated then
        local m = new_message(sub_sch)
        decode_into(sub_sch, s, a, b, m)
        local list = t[f.name] or {}
        t[f.name] = list
        list[#list + 1] = m
      else
        local m = t[f.name]
        if m == nil then m = new_message(sub_sch) end
        decode_into(sub_sch, s, a, b, m)
        set_singular(t, sch, f, m, seen)
      end
    else -- map
      local esch = schemas[f.entry]
      local e = {}
      decode_into(esch, s, a, b, e)
      local key = e.key
      if key == nil then key = SCALAR[f.key][3] end
      local val = e.value
      if val == nil then
        if SCALAR[f.type] then val = SCALAR[f.type][3] else val = new_message(schemas[f.type]) end
      end
      if e._unknown then
        for _, u in ipairs(e._unknown) do u.in_map = f.name; note(t, "_unknown", u) end
      end
      local map = t[f.name] or {}
      t[f.name] = map
      map[key] = val
    end
    pos = npos
  end
  return t
end

-- Decodes bytes as the named message ("tensorflow.Event" or "Event", "Summary.Value", ...).
function M.decode(schema_name, s)
  local sch = schema(schema_name)
  assert(type(s) == "string", "wire.decode: bytes must be a string")
  return decode_into(sch, s, 1, #s, new_message(sch))
end

-- Value of field name in decoded message t, or its default: the given default if any, else the
-- proto3 default (0, 0.0, "", false; {} for repeated and map fields; nil for sub-messages).
function M.get(t, name, default)
  local v = t[name]
  if v ~= nil then return v end
  if default ~= nil then return default end
  local sch = schema_of[t]
  if not sch then return nil end
  local f = sch.by_name[name]
  if not f then error(format("wire.get: %s has no field '%s'", sch.name, tostring(name)), 2) end
  if f.repeated or f.kind == "map" then return {} end
  if f.kind == "scalar" then return SCALAR[f.type][3] end
  return nil
end

-- Full schema name a decoded table came from.
function M.schema_name(t)
  local sch = schema_of[t]
  return sch and sch.name
end

-- ---------------------------------------------------------------------------------------------
-- Tensors

local DT_RAW = {
  [1] = { "<f", 4 }, [2] = { "<d", 8 }, [3] = { "<i4", 4 }, [4] = { "B", 1 }, [5] = { "<i2", 2 },
  [6] = { "b", 1 }, [9] = { "<i8", 8 }, [10] = { "B", 1 }, [17] = { "<I2", 2 }, [19] = { "<I2", 2 },
  [22] = { "<I4", 4 }, [23] = { "<i8", 8 },
}
local DT_FIELD = {
  [1] = "float_val", [2] = "double_val", [3] = "int_val", [4] = "int_val", [5] = "int_val",
  [6] = "int_val", [7] = "string_val", [9] = "int64_val", [10] = "bool_val", [17] = "int_val",
  [19] = "half_val", [22] = "uint32_val", [23] = "uint64_val",
}
local DT_ZERO = { [7] = "", [10] = false, [1] = 0.0, [2] = 0.0, [19] = 0.0 }

local function half_to_float(h)
  local sign = (h & 0x8000) ~= 0 and -1 or 1
  local e, m = (h >> 10) & 0x1F, h & 0x3FF
  if e == 0 then return sign * m * 2.0 ^ -24 end
  if e == 31 then return m == 0 and sign * math.huge or 0 / 0 end
  return sign * (1 + m / 1024) * 2.0 ^ (e - 15)
end

-- Returns values (flat, row-major), shape (list of dim sizes), and where the values came from
-- ("tensor_content", the *_val field name, or "none" when the tensor has no elements stored).
-- Typed fields shorter than the element count are padded with their last value, as TensorFlow
-- does; an element count mismatch in tensor_content, or more typed values than elements, raises.
function M.tensor_values(tp)
  local dtype = tp.dtype or 0
  local shape, numel = {}, 1
  local dims = tp.tensor_shape and tp.tensor_shape.dim or {}
  for k, d in ipairs(dims) do
    local size = d.size or 0
    shape[k] = size
    if size < 0 then numel = nil elseif numel then numel = numel * size end
  end
  if tp.tensor_shape and tp.tensor_shape.unknown_rank then numel = nil end
  local vals = {}
  local content = tp.tensor_content
  if content ~= nil and content ~= "" then
    local raw = DT_RAW[dtype]
    if not raw then error(format("wire.tensor_values: dtype %d cannot use tensor_content", dtype), 2) end
    local fmt, size = raw[1], raw[2]
    if #content % size ~= 0 or (numel and #content ~= numel * size) then
      error(format("wire.tensor_values: tensor_content has %d bytes, shape [%s] of dtype %d needs %s",
        #content, concat(shape, ","), dtype, numel and tostring(numel * size) or "a multiple of " .. size), 2)
    end
    for k = 1, #content // size do
      local v = unpack(fmt, content, (k - 1) * size + 1)
      if dtype == 10 then v = v ~= 0 elseif dtype == 19 then v = half_to_float(v) end
      vals[k] = v
    end
    return vals, shape, "tensor_content"
  end
  local field = DT_FIELD[dtype]
  if not field then error(format("wire.tensor_values: unsupported dtype %d", dtype), 2) end
  local src = tp[field] or {}
  for k, v in ipairs(src) do
    if dtype == 19 then v = half_to_float(v & 0xFFFF) end
    vals[k] = v
  end
  if numel then
    if #vals > numel then
      error(format("wire.tensor_values: %d values in %s for shape [%s]", #vals, field, concat(shape, ",")), 2)
    end
    local fill = vals[#vals]
    if fill == nil then fill = DT_ZERO[dtype] or 0 end
    for k = #vals + 1, numel do vals[k] = fill end
  end
  return vals, shape, #src > 0 and field or "none"
end

-- ---------------------------------------------------------------------------------------------
-- Files

local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

function M.read_file(path)
  local f, err = io.open(path, "rb")
  if not f then error("wire.read_file: " .. err, 2) end
  local s = f:read("a")
  f:close()
  return s
end

-- Every record of a TFRecord event file decoded as tensorflow.Event, each with _offset (0-based
-- offset of its record in the file).
function M.read_event_file(path)
  local recs = M.read_records(M.read_file(path))
  local out = {}
  for k, r in ipairs(recs) do
    local ok, ev = pcall(M.decode, "tensorflow.Event", r.data)
    if not ok then error(format("%s: record %d at offset %d: %s", path, k, r.offset, ev), 0) end
    ev._offset = r.offset
    out[k] = ev
  end
  return out
end

function M.gunzip(path)
  local p = assert(io.popen("gzip -dc -- " .. shell_quote(path), "r"))
  local s = p:read("a")
  local ok, how, code = p:close()
  if not ok then error(format("wire.gunzip: gzip -dc %s failed (%s %s)", path, tostring(how), tostring(code)), 2) end
  return s
end

-- Hex dump of s ("0a 03 ..."), for assertion messages.
function M.hex(s)
  return (s:gsub(".", function(c) return format("%02x ", byte(c)) end):gsub(" $", ""))
end

-- ---------------------------------------------------------------------------------------------
-- JSON (RFC 8259). Objects and arrays become Lua tables, null becomes wire.null, integers
-- without fraction or exponent that fit in 64 bits become Lua integers, other numbers floats.

M.null = setmetatable({}, { __tostring = function() return "null" end, __newindex = function()
  error("wire.null is read-only", 2)
end })

local function json_error(s, pos, msg)
  local line, col = 1, 1
  local k = 1
  while true do
    local nl = find(s, "\n", k, true)
    if not nl or nl >= pos then break end
    line, k = line + 1, nl + 1
  end
  col = pos - k + 1
  error(format("json: %s at byte %d (line %d, column %d)", msg, pos, line, col), 0)
end

local ESCAPES = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }

local json_value

local function skip_ws(s, pos)
  local _, e = find(s, "^[ \t\r\n]*", pos)
  return e + 1
end

local function json_string(s, pos)
  -- pos is just after the opening quote
  local parts, n = {}, 0
  while true do
    local a = find(s, '["\\%c]', pos)
    if not a then json_error(s, pos, "unterminated string") end
    if a > pos then n = n + 1; parts[n] = sub(s, pos, a - 1) end
    local c = byte(s, a)
    if c == 34 then -- "
      return concat(parts), a + 1
    elseif c == 92 then -- backslash
      local e = sub(s, a + 1, a + 1)
      if e == "u" then
        local hex = s:match("^%x%x%x%x", a + 2)
        if not hex then json_error(s, a, "bad \\u escape") end
        local cp = tonumber(hex, 16)
        pos = a + 6
        if cp >= 0xD800 and cp <= 0xDBFF then
          local lo = s:match("^\\u(%x%x%x%x)", pos)
          lo = lo and tonumber(lo, 16)
          if not lo or lo < 0xDC00 or lo > 0xDFFF then
            json_error(s, a, "high surrogate without a low surrogate")
          end
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
          pos = pos + 6
        elseif cp >= 0xDC00 and cp <= 0xDFFF then
          json_error(s, a, "lone low surrogate")
        end
        n = n + 1; parts[n] = utf8.char(cp)
      elseif ESCAPES[e] then
        n = n + 1; parts[n] = ESCAPES[e]
        pos = a + 2
      else
        json_error(s, a, "bad escape '\\" .. e .. "'")
      end
    elseif c == 127 then -- %c matches DEL, which JSON allows unescaped
      n = n + 1; parts[n] = "\127"
      pos = a + 1
    else
      json_error(s, a, format("unescaped control character 0x%02x in string", c))
    end
  end
end

local function json_number(s, pos)
  local int = s:match("^-?%d+", pos)
  if not int then json_error(s, pos, "bad number") end
  if int:match("^-?0%d") then json_error(s, pos, "leading zero in number") end
  local p = pos + #int
  local frac = ""
  if sub(s, p, p) == "." then
    frac = s:match("^%.%d+", p)
    if not frac then json_error(s, p, "bad fraction in number") end
    p = p + #frac
  end
  local exp = ""
  if find(s, "^[eE]", p) then
    exp = s:match("^[eE][-+]?%d+", p)
    if not exp then json_error(s, p, "bad exponent in number") end
    p = p + #exp
  end
  local text = sub(s, pos, p - 1)
  if frac == "" and exp == "" then
    -- integers beyond 64 bits come back from tonumber as floats
    return tonumber(text), p
  end
  return tonumber(text) + 0.0, p
end

local function json_literal(s, pos, word, value)
  if sub(s, pos, pos + #word - 1) ~= word then json_error(s, pos, "unexpected character") end
  return value, pos + #word
end

function json_value(s, pos, depth)
  pos = skip_ws(s, pos)
  local c = sub(s, pos, pos)
  if c == "{" then
    if depth > 500 then json_error(s, pos, "nesting too deep") end
    local obj = {}
    pos = skip_ws(s, pos + 1)
    if sub(s, pos, pos) == "}" then return obj, pos + 1 end
    while true do
      if sub(s, pos, pos) ~= '"' then json_error(s, pos, "expected string key") end
      local key
      key, pos = json_string(s, pos + 1)
      pos = skip_ws(s, pos)
      if sub(s, pos, pos) ~= ":" then json_error(s, pos, "expected ':'") end
      obj[key], pos = json_value(s, pos + 1, depth + 1)
      pos = skip_ws(s, pos)
      local d = sub(s, pos, pos)
      if d == "}" then return obj, pos + 1 end
      if d ~= "," then json_error(s, pos, "expected ',' or '}'") end
      pos = skip_ws(s, pos + 1)
    end
  elseif c == "[" then
    if depth > 500 then json_error(s, pos, "nesting too deep") end
    local arr, n = {}, 0
    pos = skip_ws(s, pos + 1)
    if sub(s, pos, pos) == "]" then return arr, pos + 1 end
    while true do
      n = n + 1
      arr[n], pos = json_value(s, pos, depth + 1)
      pos = skip_ws(s, pos)
      local d = sub(s, pos, pos)
      if d == "]" then return arr, pos + 1 end
      if d ~= "," then json_error(s, pos, "expected ',' or ']'") end
      pos = pos + 1
    end
  elseif c == '"' then
    return json_string(s, pos + 1)
  elseif c == "-" or c:match("%d") then
    return json_number(s, pos)
  elseif c == "t" then
    return json_literal(s, pos, "true", true)
  elseif c == "f" then
    return json_literal(s, pos, "false", false)
  elseif c == "n" then
    return json_literal(s, pos, "null", M.null)
  elseif c == "" then
    json_error(s, pos, "unexpected end of input")
  else
    json_error(s, pos, "unexpected character")
  end
end

function M.json_decode(s)
  assert(type(s) == "string", "wire.json_decode: expected a string")
  -- JSON text is UTF-8; reject anything else up front, with the position of the first bad byte
  local ok, bad = utf8.len(s)
  if not ok then json_error(s, bad, "invalid UTF-8") end
  local v, pos = json_value(s, 1, 0)
  pos = skip_ws(s, pos)
  if pos <= #s then json_error(s, pos, "trailing characters after the value") end
  return v
end

return M

-- The Lua module as a rock: `luarocks --lua-version 5.4 make` in a checkout builds it with CMake
-- (Debian packages: liblua5.4-dev libprotobuf-c-dev protobuf-c-compiler zlib1g-dev) and installs
-- tbtrace.so into the rock tree.
rockspec_format = "3.0"
package = "tbtrace"
version = "0.1.0-1"
source = {
  url = "git+file://.",
}
description = {
  summary = "TensorBoard summaries and traces from Lua 5.4 (tf.summary's writer and trace API)",
  detailed = [[
tbtrace writes TensorBoard event files and profile files as TensorFlow's tf.summary does:
scalars, histograms, text, images, audio, and traces of spans, without TensorFlow.]],
}
dependencies = {
  "lua >= 5.4, < 5.5",
}
build = {
  type = "cmake",
  variables = {
    CMAKE_BUILD_TYPE = "Release",
    CMAKE_INSTALL_PREFIX = "$(PREFIX)",
    BUILD_TESTING = "OFF",
    TBT_INSTALL_MODULE_ONLY = "ON",
    TBT_LUA_CMOD_DIR = "$(LIBDIR)",
  },
}

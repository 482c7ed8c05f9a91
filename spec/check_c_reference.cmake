# Regenerates the C reference into OUT and fails when it differs from docs/c-reference.md.
execute_process(COMMAND ${LUA} ${SRC}/scripts/gen_c_reference.lua ${SRC}
  OUTPUT_FILE ${OUT} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "gen_c_reference.lua failed (${rc})")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${OUT} ${SRC}/docs/c-reference.md
  RESULT_VARIABLE diff)
if(NOT diff EQUAL 0)
  message(FATAL_ERROR "docs/c-reference.md is out of date: run `cmake --build build --target docs`")
endif()

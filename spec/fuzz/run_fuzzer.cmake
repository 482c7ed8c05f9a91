# run_fuzzer.cmake: runs a libFuzzer target for a bounded time on a copy of its seed corpus, so
# the committed corpus is never written to (cmake -P).
#   -DFUZZER=<executable> -DSEEDS=<seed dir> -DWORK=<scratch dir> -DSECONDS=<n>
#   [-DKEEP=1]          keep WORK/corpus from earlier runs (long runs build on each other)
#   [-DARGS=<a;b;...>]  more libFuzzer flags
# Fails when the fuzzer reports anything; the input that did it is in WORK/artifacts/.
foreach(v FUZZER SEEDS WORK SECONDS)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "run_fuzzer.cmake: -D${v}= is required")
  endif()
endforeach()

if(NOT KEEP)
  file(REMOVE_RECURSE ${WORK})
endif()
file(MAKE_DIRECTORY ${WORK}/corpus ${WORK}/artifacts ${WORK}/tmp)
file(GLOB seeds ${SEEDS}/*)
if(seeds)
  file(COPY ${seeds} DESTINATION ${WORK}/corpus)
endif()

get_filename_component(name ${FUZZER} NAME)
message(STATUS "${name}: ${SECONDS} s on ${WORK}/corpus")
execute_process(
  COMMAND ${CMAKE_COMMAND} -E env TMPDIR=${WORK}/tmp
          ${FUZZER} -max_total_time=${SECONDS} -rss_limit_mb=2048 -timeout=30
          -print_final_stats=1 -artifact_prefix=${WORK}/artifacts/ ${ARGS} ${WORK}/corpus
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${name} found a problem (exit status ${rc}); the input is in ${WORK}/artifacts/. "
                      "Replay it with: ${FUZZER} <input>")
endif()

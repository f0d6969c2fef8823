# Fuzz targets of the formats layer (zip reader, unpickler, shard index). With AM_FUZZ (clang):
# libFuzzer binaries plus a bounded ctest run each (label fuzz); otherwise each target replays its
# seed corpus as a normal regression test.
foreach(_t zip pickle index)
  set(_src ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_${_t}.c)
  set(_corpus ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/${_t})
  if(AM_FUZZ)
    add_executable(fuzz_${_t} ${_src})
    target_include_directories(fuzz_${_t} PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/tests)
    target_compile_definitions(fuzz_${_t} PRIVATE AM_FUZZ_LIBFUZZER)
    target_link_options(fuzz_${_t} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(fuzz_${_t} PRIVATE automodel_static)
    file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz_corpus_${_t})
    add_test(NAME fuzz_${_t}_run COMMAND fuzz_${_t} -max_total_time=60 -rss_limit_mb=2048
             ${CMAKE_BINARY_DIR}/fuzz_corpus_${_t} ${_corpus})
    set_tests_properties(fuzz_${_t}_run PROPERTIES LABELS fuzz TIMEOUT 300)
  else()
    am_add_test(fuzz_${_t}_replay SOURCES ${_src} ARGS ${_corpus} LABELS "fast;fuzz")
  endif()
endforeach()

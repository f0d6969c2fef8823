# Fuzz target for the hub's name/encoding parsers. With AM_FUZZ (clang): a libFuzzer binary.
# Otherwise: a regression test that feeds the seed corpus through the same entry point.
if(AM_FUZZ)
  add_executable(fuzz_hub ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_hub.c)
  target_include_directories(fuzz_hub PRIVATE ${CMAKE_SOURCE_DIR}/src)
  target_link_libraries(fuzz_hub PRIVATE automodel_static)
  target_link_options(fuzz_hub PRIVATE -fsanitize=fuzzer)
else()
  am_add_test(test_fuzz_hub_corpus SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_hub.c ${CMAKE_SOURCE_DIR}/tests/hub/fuzz_corpus_main.c
              LABELS fuzz fast ARGS ${CMAKE_SOURCE_DIR}/tests/hub/corpus)
endif()

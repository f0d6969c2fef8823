# GGUF conversion for the llama.cpp comparison of issue 15 (bench/gguf_convert.py; the timing itself
# is bench/bench_llamacpp.sh, never ctest). llamacpp_install: npm node-llama-cpp's CPU build into the
# build tree (label net: the npm registry); test_gguf_llamacpp: round trip of the f32/q8_0/q4_0
# files, llama.cpp's tokenization and greedy tokens against automodel's on models/shakespeare-gpt2.
# Without node/npm they fail and say why, never skip.
find_program(AM_NODE node)
find_program(AM_NPM npm)
if(AM_NODE AND AM_NPM)
  add_test(NAME llamacpp_install COMMAND sh ${CMAKE_SOURCE_DIR}/bench/install_llamacpp.sh ${CMAKE_BINARY_DIR})
  set_tests_properties(llamacpp_install PROPERTIES LABELS net TIMEOUT 600 FIXTURES_SETUP llamacpp)
  add_test(NAME test_gguf_llamacpp COMMAND sh ${CMAKE_SOURCE_DIR}/tests/llamacpp/check_gguf.sh $<TARGET_FILE:automodel> ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR})
  set_tests_properties(test_gguf_llamacpp PROPERTIES LABELS net TIMEOUT 120 FIXTURES_REQUIRED llamacpp ENVIRONMENT "${AM_TEST_ENV}")
else()
  add_test(NAME test_gguf_llamacpp COMMAND sh -c "echo 'FAILED: node and npm are needed for the llama.cpp check of bench/gguf_convert.py' >&2; exit 1")
  set_tests_properties(test_gguf_llamacpp PROPERTIES LABELS net)
endif()

am_add_fuzz(fuzz_safetensors ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_safetensors.c ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/safetensors)
am_add_fuzz(fuzz_config ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_config.c ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/config)

# Fuzz target of device_map / max_memory / offload_folder parsing (auto/device_map.c): libFuzzer
# under AM_FUZZ, a corpus replay otherwise.
am_add_fuzz(fuzz_device_map ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_device_map.c ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/device_map)

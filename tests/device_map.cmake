# device_map / max_memory / offload_folder (issue 15): accelerate's placement planned on the fixture
# models, hostile values, disk-offloaded outputs bit-identical to the unrestricted run, and the peak
# RSS of a ~117 MB Llama-shaped model written at test time bounded by max_memory["cpu"] + overhead.
am_add_test(test_device_map SOURCES ${CMAKE_SOURCE_DIR}/tests/test_device_map.c)

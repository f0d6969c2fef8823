# Robustness of the public API: the options structs' size contract (a struct from an older,
# smaller header; label net: it starts a loopback hub server for the hub options).
am_add_test(test_options_size SOURCES ${CMAKE_SOURCE_DIR}/tests/test_options_size.c LABELS net
            ARGS ${CMAKE_SOURCE_DIR}/models/sms-spam-bert)
# The allocation-failure sweep (tests/test_faults.c) needs the injection hook, which the sanitizer
# build compiles in (AM_FAULT_INJECT defaults to AM_SANITIZE), so it runs under ASan + LSan there.
if(AM_FAULT_INJECT)
  am_add_test(test_faults SOURCES ${CMAKE_SOURCE_DIR}/tests/test_faults.c LABELS slow)
endif()
# Mapped weights: a safetensors file with tensors at odd offsets (copied once into aligned memory,
# same outputs), const getters, and am_model_parameter_mut's copy-on-write editing.
am_add_test(test_mapped SOURCES ${CMAKE_SOURCE_DIR}/tests/test_mapped.c)

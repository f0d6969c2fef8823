# The attention kernel against a double-precision reference, at the native ISA and on each lower
# path of the fused kernel (AM_GEMV_ISA caps the run-time choice it shares with the GEMV).
am_add_test(test_attention SOURCES ${CMAKE_SOURCE_DIR}/tests/test_attention.c)
foreach(isa avx2 c)
  add_test(NAME test_attention_${isa} COMMAND test_attention)
  set_tests_properties(test_attention_${isa} PROPERTIES LABELS fast ENVIRONMENT "${AM_TEST_ENV};AM_GEMV_ISA=${isa}" TIMEOUT 300)
endforeach()

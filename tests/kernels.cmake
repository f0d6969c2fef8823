# The linear entry and the ISA report (kernels/linear.c, kernels/isa.c): at the native ISA, then
# with the level capped so every lower path runs on this CPU too (bf16 weights without bf16
# units take the float32 copy; AVX2 GEMV; oneDNN capped through its own variable as well).
am_add_test(test_kernels SOURCES ${CMAKE_SOURCE_DIR}/tests/test_kernels.c LABELS fast)
foreach(cap avx512 avx2)
  add_test(NAME test_kernels_${cap} COMMAND test_kernels)
  set_tests_properties(test_kernels_${cap} PROPERTIES LABELS fast ENVIRONMENT "${AM_TEST_ENV};AM_MAX_ISA=${cap}")
endforeach()
add_test(NAME test_kernels_onednn_avx2 COMMAND test_kernels)
set_tests_properties(test_kernels_onednn_avx2 PROPERTIES LABELS fast ENVIRONMENT "${AM_TEST_ENV};ONEDNN_MAX_CPU_ISA=AVX2")
add_test(NAME test_kernels_nopack COMMAND test_kernels)
set_tests_properties(test_kernels_nopack PROPERTIES LABELS fast ENVIRONMENT "${AM_TEST_ENV};AM_NO_PACK=1")

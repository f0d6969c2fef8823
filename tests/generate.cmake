# Generation (src/generate) and the decode kernels: sampling statistics, processors, bad input,
# the CLI text mode; the GEMV once more with the portable C fallback forced.
am_add_test(test_generate SOURCES ${CMAKE_SOURCE_DIR}/tests/test_generate.c LABELS fast)
add_test(NAME test_generate_gemv_c COMMAND test_generate kernels)
set_tests_properties(test_generate_gemv_c PROPERTIES LABELS fast ENVIRONMENT "${AM_TEST_ENV};AM_GEMV_ISA=c")
add_test(NAME test_generate_gemv_avx2 COMMAND test_generate kernels)
set_tests_properties(test_generate_gemv_avx2 PROPERTIES LABELS fast ENVIRONMENT "${AM_TEST_ENV};AM_GEMV_ISA=avx2")

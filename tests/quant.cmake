# Quantization at load (kernels/quant.c, auto/quantize.c): kernels against a reference, model
# conversion, sms-spam-bert accuracy; the kernels again with the ISA capped (AVX2 GEMV bodies,
# portable C), as tests/kernels.cmake does.
am_add_test(test_quant SOURCES ${CMAKE_SOURCE_DIR}/tests/test_quant.c ARGS ${CMAKE_SOURCE_DIR}/models)
foreach(cap avx2 c)
  add_test(NAME test_quant_${cap} COMMAND test_quant ${CMAKE_SOURCE_DIR}/models)
  set_tests_properties(test_quant_${cap} PROPERTIES LABELS fast ENVIRONMENT "${AM_TEST_ENV};AM_MAX_ISA=${cap};AM_QUANT_KERNELS_ONLY=1")
endforeach()
am_add_fuzz(fuzz_quant ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_quant.c ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/quant)
# Loading and serialising quantized models: peak RSS of quantization at load (each weight quantized
# as it is read, its mapped pages released) bounded by the quantized footprint + one layer, against
# a float32 load of the same GPT-2-shaped model written at test time.
am_add_test(test_quant_load SOURCES ${CMAKE_SOURCE_DIR}/tests/test_quant_load.c)

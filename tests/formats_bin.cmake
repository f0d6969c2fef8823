# formats layer, pytorch_model.bin side: zip reader/writer, restricted unpickler, torch.save
# archives, shard index files. The am_tensors shim is linked only while no library source
# defines am_tensors_new (remove tests/formats_tensors_shim.c once src/core/tensors.c exists).
set(_am_fmt_shim ${CMAKE_SOURCE_DIR}/tests/formats_tensors_shim.c)
file(GLOB _am_fmt_lib_srcs ${CMAKE_SOURCE_DIR}/src/*/*.c)
foreach(_f ${_am_fmt_lib_srcs})
  file(STRINGS ${_f} _hit REGEX "am_tensors \\*am_tensors_new\\(void\\)")
  if(_hit)
    set(_am_fmt_shim "")
  endif()
endforeach()

am_add_test(test_torch_bin SOURCES ${CMAKE_SOURCE_DIR}/tests/test_torch_bin.c ${_am_fmt_shim})
# Interop with real PyTorch (Debian python3-torch; ~16 s, mostly importing torch 8 times); exits 77
# (ctest: skipped) when torch is not installed.
am_add_test(test_torch_bin_pytorch SOURCES ${CMAKE_SOURCE_DIR}/tests/test_torch_bin_pytorch.c ${_am_fmt_shim} LABELS slow)
set_tests_properties(test_torch_bin_pytorch PROPERTIES SKIP_RETURN_CODE 77)

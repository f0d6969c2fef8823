# formats layer, pytorch_model.bin side: zip reader/writer, restricted unpickler, torch.save
# archives, shard index files.
am_add_test(test_torch_bin SOURCES ${CMAKE_SOURCE_DIR}/tests/test_torch_bin.c)
# Interop with real PyTorch (Debian python3-torch; ~16 s, mostly importing torch 8 times); exits 77
# (ctest: skipped) when torch is not installed.
am_add_test(test_torch_bin_pytorch SOURCES ${CMAKE_SOURCE_DIR}/tests/test_torch_bin_pytorch.c LABELS slow)
set_tests_properties(test_torch_bin_pytorch PROPERTIES SKIP_RETURN_CODE 77)

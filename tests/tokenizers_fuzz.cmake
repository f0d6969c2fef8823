# Tokenizer fuzz targets (libFuzzer with AM_FUZZ, else corpus-replay regression tests).
am_add_fuzz(fuzz_tokenizer_text ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_tokenizer_text.c ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/tokenizer_text)
am_add_fuzz(fuzz_tokenizer_json ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_tokenizer_json.c ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/tokenizer_json)
am_add_fuzz(fuzz_tokenizer_files ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_tokenizer_files.c ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/tokenizer_files)

# Tokenizer layer: every fixture tokenizer's reference cases (through the CLI), legacy vocab
# files, invalid input and bad files.
am_add_test(test_tokenizers SOURCES ${CMAKE_SOURCE_DIR}/tests/test_tokenizers.c LABELS fast)
add_dependencies(test_tokenizers automodel)

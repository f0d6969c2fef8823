# Encoder-decoder models (T5, BART): generation ops against the fixtures, config variants, bad input.
am_add_test(test_seq2seq SOURCES ${CMAKE_SOURCE_DIR}/tests/test_seq2seq.c LABELS fast)

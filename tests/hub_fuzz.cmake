# Fuzz target for the hub's name/encoding parsers (libFuzzer under AM_FUZZ, corpus replay otherwise).
am_add_fuzz(fuzz_hub ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_hub.c ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/hub)

# The automodel command as a user meets it: per-command help, flags refused before loading,
# transformers' spellings, device_map / attn values, messages naming flags, tokenize -> forward,
# --set / --config, init, info (tests/test_cli.c drives the built CLI through AM_CLI).
am_add_test(test_cli SOURCES ${CMAKE_SOURCE_DIR}/tests/test_cli.c)

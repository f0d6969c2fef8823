# Pipelines (src/pipelines, cli/cmd_pipelines.c, examples/): post-processing on the fixture models,
# the sms-spam-bert test split through the CLI batch mode, and the example program.
am_add_test(test_pipelines SOURCES ${CMAKE_SOURCE_DIR}/tests/test_pipelines.c)

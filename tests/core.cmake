am_add_test(test_core SOURCES ${CMAKE_SOURCE_DIR}/tests/test_core.c)

am_add_test(test_errors SOURCES ${CMAKE_SOURCE_DIR}/tests/test_errors.c)

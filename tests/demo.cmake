am_add_test(test_demo_sms SOURCES ${CMAKE_SOURCE_DIR}/tests/test_demo.c ARGS ${CMAKE_SOURCE_DIR}/models/sms-spam-bert)

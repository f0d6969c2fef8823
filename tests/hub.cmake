# The hub layer: naming, settings, cache layout, push/download against an in-process server on a
# free loopback port (label net: loopback only, it runs in CI).
am_add_test(test_hub SOURCES ${CMAKE_SOURCE_DIR}/tests/test_hub.c LABELS net)
# Hostile input on both sides: a scripted fake server for the client, hostile requests for ours.
am_add_test(test_hub_hostile SOURCES ${CMAKE_SOURCE_DIR}/tests/test_hub_hostile.c LABELS net)

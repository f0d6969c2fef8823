am_add_test(test_core SOURCES ${CMAKE_SOURCE_DIR}/tests/test_core.c)
add_test(NAME header_c11_pedantic COMMAND ${CMAKE_C_COMPILER} -std=c11 -pedantic -Wall -Wextra -Werror -fsyntax-only
  -I${CMAKE_SOURCE_DIR}/include ${CMAKE_SOURCE_DIR}/tests/header_only.c)
add_test(NAME header_cxx COMMAND ${CMAKE_CXX_COMPILER} -x c++ -std=c++11 -pedantic -Wall -Wextra -Werror -fsyntax-only
  -I${CMAKE_SOURCE_DIR}/include ${CMAKE_SOURCE_DIR}/tests/header_only.c)
set_tests_properties(header_c11_pedantic header_cxx PROPERTIES LABELS fast)

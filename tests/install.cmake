# The library as shipped (CMakeLists.txt, cmake/install.cmake): libautomodel.so exports exactly the
# header's AM_API functions, and an installed tree builds and runs examples/classify.c through
# pkg-config and find_package(automodel). Not under sanitizers: their runtime must come first in
# a program, which a plain user build against the installed .so does not arrange.
if(NOT AM_SANITIZE AND NOT AM_FUZZ)
  add_test(NAME shared_exports COMMAND bash ${CMAKE_SOURCE_DIR}/tests/install/check_exports.sh
    $<TARGET_FILE:automodel_shared> ${CMAKE_SOURCE_DIR}/include/automodel.h)
  add_test(NAME install_consumers COMMAND bash ${CMAKE_SOURCE_DIR}/tests/install/install_test.sh
    ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR} ${CMAKE_C_COMPILER})
  set_tests_properties(shared_exports install_consumers PROPERTIES LABELS fast ENVIRONMENT "${AM_TEST_ENV}" TIMEOUT 300)
endif()

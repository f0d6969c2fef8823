# Issue 17: the Python package (python/automodel, ctypes over the build tree's libautomodel.so) under
# Debian's pytest run by /usr/bin/python3, one ctest per test file (label python). Under the
# sanitizer build the ASan runtime is preloaded into the interpreter (leak checks off: CPython
# keeps its own allocations to the end).
find_program(AM_SYS_PYTHON3 NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
set(AM_PY_ENV "${AM_TEST_ENV}" "AUTOMODEL_LIBRARY=$<TARGET_FILE:automodel_shared>" "PYTHONDONTWRITEBYTECODE=1")
if(AM_SANITIZE)
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libasan.so OUTPUT_VARIABLE AM_LIBASAN OUTPUT_STRIP_TRAILING_WHITESPACE)
  list(FILTER AM_PY_ENV EXCLUDE REGEX "^ASAN_OPTIONS=")
  list(APPEND AM_PY_ENV "LD_PRELOAD=${AM_LIBASAN}" "ASAN_OPTIONS=detect_leaks=0:abort_on_error=0")
endif()
foreach(t models tokenizers errors threads pipelines hub install)
  if(NOT EXISTS ${CMAKE_SOURCE_DIR}/python/tests/test_${t}.py)
    continue()
  endif()
  if(AM_SYS_PYTHON3)
    add_test(NAME python_${t}
             COMMAND ${AM_SYS_PYTHON3} -m pytest -q -p no:cacheprovider ${CMAKE_SOURCE_DIR}/python/tests/test_${t}.py
             WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
    set_tests_properties(python_${t} PROPERTIES LABELS python ENVIRONMENT "${AM_PY_ENV}" TIMEOUT 900)
  else()
    add_test(NAME python_${t} COMMAND sh -c "echo 'FAILED: /usr/bin/python3 (with python3-pytest, python3-numpy) is needed' >&2; exit 1")
    set_tests_properties(python_${t} PROPERTIES LABELS python)
  endif()
endforeach()

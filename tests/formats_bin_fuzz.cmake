# Fuzz targets of the formats layer (zip reader, unpickler, shard index): libFuzzer binaries under
# AM_FUZZ, corpus replays as regression tests otherwise (see am_add_fuzz).
foreach(_t zip pickle index)
  am_add_fuzz(fuzz_${_t} ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_${_t}.c ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/${_t})
endforeach()

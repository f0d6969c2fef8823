# cmake --install: libautomodel.so (+ SONAME link), libautomodel.a, automodel.h, the `automodel` CLI,
# automodel.pc (pkg-config) and automodelConfig.cmake (find_package(automodel) ->
# automodel::automodel, the shared library). Everything is relative to the install prefix, so
# `cmake --install build --prefix DIR` gives a tree that works from DIR.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set_target_properties(automodel_shared PROPERTIES EXPORT_NAME automodel)
install(TARGETS automodel_shared EXPORT automodelTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS automodel_static ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS automodel RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${CMAKE_SOURCE_DIR}/include/automodel.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(AM_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/automodel)
install(EXPORT automodelTargets NAMESPACE automodel:: DESTINATION ${AM_CMAKE_DIR})
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/automodelConfig.cmake.in
  ${CMAKE_BINARY_DIR}/automodelConfig.cmake INSTALL_DESTINATION ${AM_CMAKE_DIR})
# 0.x: a minor version may break the API, so only the same major.minor is compatible.
write_basic_package_version_file(${CMAKE_BINARY_DIR}/automodelConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/automodelConfig.cmake ${CMAKE_BINARY_DIR}/automodelConfigVersion.cmake DESTINATION ${AM_CMAKE_DIR})

# pkg-config: the prefix is found from the .pc file's own place (${pcfiledir}), so the file stays
# right wherever the tree is installed or moved. Requires.private / Libs.private are what a static
# link (pkg-config --static) needs; a shared link needs -lautomodel only.
file(RELATIVE_PATH AM_PC_TO_PREFIX /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
string(REGEX REPLACE "/$" "" AM_PC_TO_PREFIX "${AM_PC_TO_PREFIX}")
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  message(FATAL_ERROR "automodel.pc wants CMAKE_INSTALL_LIBDIR and CMAKE_INSTALL_INCLUDEDIR relative to the prefix")
endif()
set(AM_PC_REQUIRES_PRIVATE "libcjson libutf8proc libpcre2-8 libcurl libmicrohttpd zlib libcrypto libjpeg libpng16 libwebp libavformat libavcodec libswresample libavutil fftw3")
get_filename_component(AM_DNNL_DIR ${DNNL_LIB} DIRECTORY)
set(AM_PC_LIBS_PRIVATE "-ldnnl ${OpenMP_C_FLAGS} -lpthread -lm") # oneDNN ships no .pc file
if(NOT AM_DNNL_DIR IN_LIST CMAKE_C_IMPLICIT_LINK_DIRECTORIES)
  set(AM_PC_LIBS_PRIVATE "-L${AM_DNNL_DIR} ${AM_PC_LIBS_PRIVATE}")
endif()
configure_file(${CMAKE_SOURCE_DIR}/cmake/automodel.pc.in ${CMAKE_BINARY_DIR}/automodel.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/automodel.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

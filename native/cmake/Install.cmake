# Install: libsofp, include/sofp/*.h(pp), the CMake package (find_package(sofp) -> sofp::sofp),
# a pkg-config file (sofp.pc), the CLI and the shared parameter file (for reference).
install(TARGETS sofp EXPORT sofpTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES include/sofp/sofp.h include/sofp/sofp.hpp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/sofp)
install(EXPORT sofpTargets NAMESPACE sofp:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/sofp)
configure_package_config_file(cmake/sofpConfig.cmake.in "${CMAKE_CURRENT_BINARY_DIR}/sofpConfig.cmake"
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/sofp)
write_basic_package_version_file("${CMAKE_CURRENT_BINARY_DIR}/sofpConfigVersion.cmake"
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/sofpConfig.cmake" "${CMAKE_CURRENT_BINARY_DIR}/sofpConfigVersion.cmake"
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/sofp)
file(RELATIVE_PATH SOFP_PC_TO_PREFIX "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
configure_file(cmake/sofp.pc.in "${CMAKE_CURRENT_BINARY_DIR}/sofp.pc" @ONLY)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/sofp.pc" DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
install(FILES "${SOFP_PARAMS_FILE}" DESTINATION ${CMAKE_INSTALL_DATADIR}/sofp)
if(SOFP_BUILD_CLI)
  install(TARGETS sofp-stream-native RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

# `cmake --install` for users who build on shardtcp (issue 16, part 1):
# libraries, public headers, the programs, default configs, systemd units, a
# CMake package (find_package(shardtcp) -> shardtcp::tcp, shardtcp::config,
# shardtcp::dataplane, shardtcp::app_common) and a pkg-config file (shardtcp.pc),
# plus the CPack settings for the Debian package (deploy/cmake/cpack.cmake).
# Included once from the top-level CMakeLists.txt, after the targets exist,
# so the targets' own CMakeLists stay as they are: include paths that point
# into the source tree are rewrapped here as BUILD_INTERFACE, and the
# installed package finds the same third-party dependencies again
# (shardtcpConfig.cmake.in).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(SHARDTCP_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/shardtcp)

# Source-tree include directories -> BUILD_INTERFACE; installed consumers get
# ${prefix}/include, where every public header lives under shardtcp/.
function(_shardtcp_rewrap_includes target)
  get_target_property(_inc ${target} INTERFACE_INCLUDE_DIRECTORIES)
  set(_out)
  foreach(d IN LISTS _inc)
    list(APPEND _out "$<BUILD_INTERFACE:${d}>")
  endforeach()
  list(APPEND _out "$<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>")
  set_target_properties(${target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_out}")
endfunction()

set(_shardtcp_libs shardtcp_tcp shardtcp_config)
set_target_properties(shardtcp_tcp PROPERTIES EXPORT_NAME tcp)
set_target_properties(shardtcp_config PROPERTIES EXPORT_NAME config)
if(TARGET shardtcp_dataplane)
  list(APPEND _shardtcp_libs shardtcp_dataplane)
  set_target_properties(shardtcp_dataplane PROPERTIES EXPORT_NAME dataplane)
endif()
if(TARGET shardtcp_app_common)
  # The apps' shared start-up (--config/--set/--version, one-line config
  # errors with exit 2): app_main.h is installed as shardtcp/app/app_main.h.
  list(APPEND _shardtcp_libs shardtcp_app_common)
  set_target_properties(shardtcp_app_common PROPERTIES EXPORT_NAME app_common)
endif()
foreach(t IN LISTS _shardtcp_libs)
  _shardtcp_rewrap_includes(${t})
endforeach()
if(TARGET shardtcp_app_common)
  # Installed as ${include}/shardtcp/app/app_main.h (not at the top level).
  set_property(TARGET shardtcp_app_common APPEND PROPERTY INTERFACE_INCLUDE_DIRECTORIES
    "$<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}/shardtcp/app>")
endif()
# shardtcp_config takes tcp's include path through a $<TARGET_PROPERTY:...>
# expression; installed, both live under the same ${include}, so drop it.
get_target_property(_cfg_inc shardtcp_config INTERFACE_INCLUDE_DIRECTORIES)
list(FILTER _cfg_inc EXCLUDE REGEX "INSTALL_INTERFACE:.*TARGET_PROPERTY")
set_target_properties(shardtcp_config PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_cfg_inc}")

# Static libraries carry their private link dependencies as $<LINK_ONLY:...>;
# shardtcp_warnings (compile flags only) must be in the export set for that.
install(TARGETS ${_shardtcp_libs} shardtcp_warnings
  EXPORT shardtcpTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/tcp/include/ ${PROJECT_SOURCE_DIR}/config/include/
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")
if(TARGET shardtcp_dataplane)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/dataplane/include/
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")
endif()
if(TARGET shardtcp_app_common)
  install(FILES ${PROJECT_SOURCE_DIR}/app/common/app_main.h
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/shardtcp/app)
endif()

install(EXPORT shardtcpTargets NAMESPACE shardtcp:: DESTINATION ${SHARDTCP_INSTALL_CMAKEDIR})
set(SHARDTCP_PACKAGE_WITH_DPDK ${SHARDTCP_WITH_DPDK})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/shardtcpConfig.cmake.in
  ${PROJECT_BINARY_DIR}/shardtcpConfig.cmake INSTALL_DESTINATION ${SHARDTCP_INSTALL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/shardtcpConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/shardtcpConfig.cmake
  ${PROJECT_BINARY_DIR}/shardtcpConfigVersion.cmake DESTINATION ${SHARDTCP_INSTALL_CMAKEDIR})

# pkg-config: static archives, so the DPDK/TOML dependencies go to
# Requires (they are needed at link time) and Libs lists the archives in link order.
if(SHARDTCP_WITH_DPDK)
  set(SHARDTCP_PC_LIBS "-lshardtcp_dataplane -lshardtcp_config -lshardtcp_tcp -lpthread")
  set(SHARDTCP_PC_REQUIRES "libdpdk tomlplusplus prometheus-cpp-pull")
else()
  set(SHARDTCP_PC_LIBS "-lshardtcp_config -lshardtcp_tcp")
  set(SHARDTCP_PC_REQUIRES "tomlplusplus")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/shardtcp.pc.in ${PROJECT_BINARY_DIR}/shardtcp.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/shardtcp.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# Default configs: as GNUInstallDirs does for the /usr prefix, a prefix that
# ends in /usr (the .deb's /usr, or a scratch root's .../usr) puts them in
# the etc/ beside it (/etc/shardtcp), any other prefix in <prefix>/etc/shardtcp.
# Decided at install time, because CPack installs into <staging>/usr.
set(_shardtcp_configs ${PROJECT_SOURCE_DIR}/config/httpd.toml
  ${PROJECT_SOURCE_DIR}/config/echo.toml ${PROJECT_SOURCE_DIR}/config/example-full.toml)
install(CODE "
  if(CMAKE_INSTALL_PREFIX MATCHES \"(^|/)usr/?$\")
    get_filename_component(_shardtcp_etc \"\${CMAKE_INSTALL_PREFIX}/../etc/shardtcp\" ABSOLUTE)
  else()
    set(_shardtcp_etc \"\${CMAKE_INSTALL_PREFIX}/etc/shardtcp\")
  endif()
  file(INSTALL DESTINATION \"\${_shardtcp_etc}\" TYPE FILE FILES ${_shardtcp_configs})
")
# Units: <prefix>/lib/systemd/system, i.e. /usr/lib/systemd/system in the .deb
# (systemd reads it on Debian 12 as on every merged-/usr system).
set(SHARDTCP_SYSTEMD_UNITDIR lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/shardtcp-httpd@.service
  ${PROJECT_SOURCE_DIR}/deploy/systemd/shardtcp-echo@.service
  DESTINATION ${SHARDTCP_SYSTEMD_UNITDIR})
install(FILES ${PROJECT_SOURCE_DIR}/app/loadgen/summary.schema.json
  ${PROJECT_SOURCE_DIR}/deploy/k8s/loadgen/merge.py
  DESTINATION ${CMAKE_INSTALL_DATADIR}/shardtcp)

install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})

include(${CMAKE_CURRENT_LIST_DIR}/cpack.cmake)

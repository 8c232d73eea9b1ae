# CPack: `cpack -G DEB` (from the build dir) makes shardtcp_<version>_<arch>.deb
# with prefix /usr, configs in /etc/shardtcp (conffiles), the systemd units in /usr
# lib/systemd/system. Runtime dependencies: dpkg-shlibdeps computes the
# shared libraries the programs link (libtomlplusplus3, libprometheus-cpp-*,
# librte-*, libnuma1, ...); the DPDK drivers are plugins that EAL loads from
# its pmds directory at start-up, invisible to shlibdeps, so the ones our
# configs name are listed by hand (the mempool driver every port needs, the
# vdev bus, and the af_packet, af_xdp, memif and tap PMDs).
set(CPACK_PACKAGE_NAME shardtcp)
set(CPACK_PACKAGE_VENDOR "shardtcp")
set(CPACK_PACKAGE_CONTACT "shardtcp maintainers <shardtcp@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "userspace TCP server framework on DPDK")
set(CPACK_PACKAGE_DESCRIPTION
  "shardtcp-httpd, -echo, -loadgen and -stat, the static libraries, headers, CMake package and pkg-config file to build on it, default configs in /etc/shardtcp and systemd units.")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_GENERATOR DEB)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# zstd (dpkg >= 1.21.18): a fraction of xz's time for a few % more bytes.
set(CPACK_DEBIAN_COMPRESSION_TYPE zstd)
set(CPACK_DEBIAN_PACKAGE_DEPENDS
  "librte-mempool-ring23, librte-bus-vdev23, librte-net-af-packet23, librte-net-af-xdp23, librte-net-memif23, librte-net-tap23")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "dpdk, curl")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "prometheus")
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://shardtcp.invalid/")
# The configs are conffiles: an upgrade keeps what the operator changed.
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PROJECT_SOURCE_DIR}/deploy/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_SOURCE_IGNORE_FILES "/build.*/;/\\\\.git/")
include(CPack)

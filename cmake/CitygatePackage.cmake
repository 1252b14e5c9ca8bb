# `cpack -G DEB` (SPEC §16): one package, citygate, with everything
# CitygateInstall.cmake installs, for prefix /usr (so the config lands in
# /etc/citygate and the unit in systemd's folder).
#
# The maintainer scripts in dist/ create the citygate system user and
# /var/lib/citygate, and enable or start nothing; the files under
# /etc/citygate are conffiles, so an upgrade keeps the operator's edits.
#
# CPACK_SET_DESTDIR makes cpack install with prefix /usr into a staging
# DESTDIR, so the install-time script sees the real prefix (/usr, hence
# /etc) and writes /usr/bin/citygate into the unit, not a staging path.

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME citygate)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR citygate)
set(CPACK_PACKAGE_CONTACT "citygate maintainers <citygate@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "MQTT gateway and rules engine for smart-city edge boxes")
set(CPACK_PACKAGE_DESCRIPTION
"citygate subscribes to the topics that hardware vendors' devices publish
on, decodes and normalizes each vendor's payloads, applies YAML rules
written per smart-city domain, and forwards normalized events to
government, enterprise and citizen consumers over MQTT, HTTP or files,
with a durable spool. This package installs the gateway, its simulator,
an example config in /etc/citygate and a hardened systemd unit, which it
neither enables nor starts.")
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # citygate_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# The libraries the binaries link come from dpkg-shlibdeps when it is
# there (dpkg-dev); otherwise the Debian 12 names are listed. adduser runs
# in postinst; tzdata backs gateway.timezone.
find_program(CG_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(CG_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, tzdata")
else()
  set(CPACK_DEBIAN_PACKAGE_DEPENDS
      "libc6, libpaho-mqtt1.3, libyaml-0-2, libcurl4, libmicrohttpd12, zlib1g, libsystemd0, libmosquitto1, adduser, tzdata")
endif()
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "mosquitto, mosquitto-clients")

# conffiles: every file installed under /etc/citygate, from the same lists
# the install script uses.
set(_cg_conffiles "/etc/citygate/citygate.yaml\n")
foreach(f ${CG_RULE_FILES})
  get_filename_component(name ${f} NAME)
  string(APPEND _cg_conffiles "/etc/citygate/rules/${name}\n")
endforeach()
foreach(f ${CG_TABLE_FILES})
  file(RELATIVE_PATH rel ${CMAKE_SOURCE_DIR}/config ${f})
  string(APPEND _cg_conffiles "/etc/citygate/${rel}\n")
endforeach()
file(WRITE ${CG_DIST_DIR}/deb/conffiles "${_cg_conffiles}")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CG_DIST_DIR}/deb/conffiles ${CMAKE_SOURCE_DIR}/dist/postinst
    ${CMAKE_SOURCE_DIR}/dist/prerm ${CMAKE_SOURCE_DIR}/dist/postrm)
# Maintainer scripts 0755 and conffiles 0644, whatever the checkout's modes.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)

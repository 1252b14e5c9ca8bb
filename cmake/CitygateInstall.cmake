# What `cmake --install` puts where (SPEC §16), with GNUInstallDirs:
#
#   bin/citygate, bin/citygate-sim                     component runtime
#   etc/citygate/citygate.yaml, rules/, tables/        (/etc for /usr)
#   share/man/man1/citygate.1.gz, man5/citygate.yaml.5.gz,
#     man5/citygate-rules.5.gz
#   lib/systemd/system/citygate.service                (systemd's folder for /usr)
#   share/doc/citygate/README.md, mosquitto.conf
#   include/citygate/citygate_plugin.h,                component plugin-sdk
#     share/pkgconfig/citygate-plugin.pc               (CitygatePluginSdk)
#
# The installed config is not the example itself but a production variant
# generated at build time (CitygateProdConfig.cmake): its spool and file
# sinks live in /var/lib/citygate, the unit's state directory. The config
# and the unit are installed by a script that runs at install time
# (CitygateInstallSystem.cmake.in), because their place and the unit's
# ExecStart depend on the prefix, which `--prefix` and cpack choose then.
include(GNUInstallDirs)

set(CG_STATE_DIR /var/lib/citygate)
set(CG_DIST_DIR ${CMAKE_BINARY_DIR}/dist)
set(CG_PROD_CONFIG ${CG_DIST_DIR}/citygate.yaml)
set(CG_UNIT_TEMPLATE ${CMAKE_SOURCE_DIR}/dist/citygate.service.in)
set(CG_TABLES_DIR ${CMAKE_SOURCE_DIR}/config/tables)

foreach(tool citygate citygate-sim)
  if(TARGET ${tool})
    install(TARGETS ${tool} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
            COMPONENT runtime)
  endif()
endforeach()

# The production config, regenerated whenever the example changes.
add_custom_command(
  OUTPUT ${CG_PROD_CONFIG}
  COMMAND ${CMAKE_COMMAND} -DIN=${CMAKE_SOURCE_DIR}/config/citygate.yaml
          -DOUT=${CG_PROD_CONFIG} -DSTATE_DIR=${CG_STATE_DIR}
          -P ${CMAKE_SOURCE_DIR}/cmake/CitygateProdConfig.cmake
  DEPENDS ${CMAKE_SOURCE_DIR}/config/citygate.yaml
          ${CMAKE_SOURCE_DIR}/cmake/CitygateProdConfig.cmake
  COMMENT "Generating the installed config (spool under ${CG_STATE_DIR})")

# Manual pages, gzip-compressed as Debian ships them.
set(CG_MAN_PAGES citygate.1 citygate.yaml.5 citygate-rules.5)
set(_cg_man_gz "")
foreach(page ${CG_MAN_PAGES})
  set(src ${CMAKE_SOURCE_DIR}/man/${page})
  set(gz ${CMAKE_BINARY_DIR}/man/${page}.gz)
  add_custom_command(
    OUTPUT ${gz}
    COMMAND ${CMAKE_COMMAND} -DIN=${src} -DOUT=${gz}
            -P ${CMAKE_SOURCE_DIR}/cmake/CitygateGzip.cmake
    DEPENDS ${src} ${CMAKE_SOURCE_DIR}/cmake/CitygateGzip.cmake
    COMMENT "Compressing man/${page}")
  string(REGEX REPLACE "^.*\\.([0-9])$" "\\1" section ${page})
  install(FILES ${gz} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section}
          COMPONENT runtime)
  list(APPEND _cg_man_gz ${gz})
endforeach()
add_custom_target(citygate-dist ALL DEPENDS ${CG_PROD_CONFIG} ${_cg_man_gz})

install(FILES ${CMAKE_SOURCE_DIR}/README.md
              ${CMAKE_SOURCE_DIR}/config/mosquitto.conf
        DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT runtime)

# systemd's unit folder: what pkg-config says (Debian 12: /lib/systemd/system),
# else lib/systemd/system under the prefix. Relative to another prefix it
# keeps its place under lib/ (/usr/lib/... and /lib/... both give lib/...).
find_package(PkgConfig QUIET)
set(CG_SYSTEMD_UNITDIR "")
if(PKG_CONFIG_FOUND)
  pkg_get_variable(CG_SYSTEMD_UNITDIR systemd systemdsystemunitdir)
endif()
if(CG_SYSTEMD_UNITDIR)
  string(REGEX REPLACE "^(/usr)?/" "" CG_SYSTEMD_UNITDIR_REL
         "${CG_SYSTEMD_UNITDIR}")
else()
  set(CG_SYSTEMD_UNITDIR lib/systemd/system)
  set(CG_SYSTEMD_UNITDIR_REL lib/systemd/system)
endif()

# The example's rule files (and tables), listed at configure time; the
# globs are checked again at every build, so a new rule file is picked up.
file(GLOB CG_RULE_FILES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/config/rules/*.yaml)
file(GLOB_RECURSE CG_TABLE_FILES CONFIGURE_DEPENDS ${CG_TABLES_DIR}/*)
set(CG_RULE_FILES_QUOTED "")
foreach(f ${CG_RULE_FILES})
  string(APPEND CG_RULE_FILES_QUOTED " \"${f}\"")
endforeach()
configure_file(${CMAKE_SOURCE_DIR}/cmake/CitygateInstallSystem.cmake.in
               ${CG_DIST_DIR}/install_system.cmake @ONLY)
install(SCRIPT ${CG_DIST_DIR}/install_system.cmake COMPONENT runtime)

include(CitygatePackage)

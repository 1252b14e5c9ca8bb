# The plugin SDK: what a vendor needs to build a plugin outside this tree.
#
# citygate_plugin.h installs to <prefix>/include/citygate, and a
# pkg-config file, citygate-plugin.pc, points at it (`pkg-config --cflags
# citygate-plugin`; `--variable=abi` gives the CG_PLUGIN_ABI it speaks).
# The header is all there is: plugins link against nothing, the host hands
# them its services at run time.
#
# A second copy of the .pc, in <build>/pkgconfig, points at the source
# tree, so plugins (and the tests) can build against a tree that was never
# installed: PKG_CONFIG_PATH=<build>/pkgconfig.
include(GNUInstallDirs)

set(_cg_sdk_header ${CMAKE_SOURCE_DIR}/include/citygate_plugin.h)
set(_cg_sdk_pc_in ${CMAKE_SOURCE_DIR}/plugins/citygate-plugin.pc.in)
file(STRINGS ${_cg_sdk_header} _cg_abi_line
     REGEX "^#define CG_PLUGIN_ABI +[0-9]+")
string(REGEX REPLACE "^#define CG_PLUGIN_ABI +([0-9]+).*$" "\\1"
       CG_PLUGIN_ABI_VERSION "${_cg_abi_line}")

install(FILES ${_cg_sdk_header}
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/citygate
        COMPONENT plugin-sdk)

# Installed copy: with the usual relative install dirs the prefix is found
# from where the .pc file lies (share/pkgconfig), so the installed tree
# stays correct when it is moved or installed with `cmake --install
# --prefix`. Absolute install dirs are written as they are.
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}"
   OR IS_ABSOLUTE "${CMAKE_INSTALL_DATADIR}")
  set(CG_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(CG_PC_INCLUDEDIR "${CMAKE_INSTALL_FULL_INCLUDEDIR}/citygate")
else()
  file(RELATIVE_PATH _cg_up /${CMAKE_INSTALL_DATADIR}/pkgconfig /)
  string(REGEX REPLACE "/$" "" _cg_up "${_cg_up}")
  set(CG_PC_PREFIX "\${pcfiledir}/${_cg_up}")
  set(CG_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}/citygate")
endif()
configure_file(${_cg_sdk_pc_in}
               ${CMAKE_BINARY_DIR}/pkgconfig-install/citygate-plugin.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/pkgconfig-install/citygate-plugin.pc
        DESTINATION ${CMAKE_INSTALL_DATADIR}/pkgconfig
        COMPONENT plugin-sdk)

# Build-tree copy: the header straight from the sources.
set(CG_PC_PREFIX "${CMAKE_SOURCE_DIR}")
set(CG_PC_INCLUDEDIR "\${prefix}/include")
configure_file(${_cg_sdk_pc_in}
               ${CMAKE_BINARY_DIR}/pkgconfig/citygate-plugin.pc @ONLY)

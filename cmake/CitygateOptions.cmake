# Warnings, sanitizers and the plugin helper shared by every directory.

add_compile_options(-Wall -Wextra -Wshadow -Wstrict-prototypes
                    -Wmissing-prototypes -Wno-unused-parameter)
if(CG_WERROR)
  add_compile_options(-Werror)
endif()

set(_cg_san "")
if(CG_ASAN)
  list(APPEND _cg_san address)
endif()
if(CG_UBSAN)
  list(APPEND _cg_san undefined)
endif()
if(CG_TSAN)
  list(APPEND _cg_san thread)
endif()
if(_cg_san)
  list(JOIN _cg_san "," _cg_san_list)
  add_compile_options(-fsanitize=${_cg_san_list} -fno-omit-frame-pointer
                      -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${_cg_san_list})
endif()

# cg_add_plugin(name SOURCES ...): a loadable plugin (.so without the lib
# prefix) that exports only cg_plugin_entry.
function(cg_add_plugin name)
  cmake_parse_arguments(P "" "" "SOURCES;LIBS" ${ARGN})
  add_library(${name} MODULE ${P_SOURCES})
  set_target_properties(${name} PROPERTIES PREFIX ""
                        C_VISIBILITY_PRESET hidden
                        LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/plugins)
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/plugins)
  if(P_LIBS)
    target_link_libraries(${name} PRIVATE ${P_LIBS})
  endif()
endfunction()

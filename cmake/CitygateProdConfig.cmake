# Run at build time (cmake -P): writes the installed production config,
# a copy of the example city (config/citygate.yaml) in which only
# gateway.spool_dir and the file sinks' relative paths change, to point
# under the service's state directory (citygate.service: StateDirectory=).
#
#   cmake -DIN=config/citygate.yaml -DOUT=<build>/dist/citygate.yaml
#         -DSTATE_DIR=/var/lib/citygate -P CitygateProdConfig.cmake
#
# It fails, rather than installing a config that writes into /etc, when the
# example no longer has exactly one spool_dir or keeps a relative path.
foreach(var IN ITEMS IN OUT STATE_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "CitygateProdConfig: -D${var}=... is required")
  endif()
endforeach()

file(READ "${IN}" text)
# A leading newline lets every pattern anchor on "\n" (CMake regexes have
# no multi-line ^); it is removed again before writing.
set(text "\n${text}")

string(REGEX MATCHALL "\n +spool_dir:" found "${text}")
list(LENGTH found n)
if(NOT n EQUAL 1)
  message(FATAL_ERROR "${IN}: expected one gateway.spool_dir, found ${n}")
endif()
# The trailing comments of the changed lines describe the example's
# config/spool folder; they are replaced by one that fits the new value.
string(REGEX REPLACE "\n( +)spool_dir:[^\n]*"
       "\n\\1spool_dir: ${STATE_DIR}          # the service's state directory"
       text "${text}")
# A file sink's relative path moves under the state directory; a leading
# ./ and the example's spool/ folder are dropped (./spool/archive.jsonl
# becomes ${STATE_DIR}/archive.jsonl). Absolute paths stay as they are.
string(REGEX REPLACE "\n( +)path: (\\./)?(spool/)?([^/ \n#][^ \n#]*)[^\n]*"
       "\n\\1path: ${STATE_DIR}/\\4" text "${text}")
if(text MATCHES "\n +path: +[^/ \n]")
  message(FATAL_ERROR "${IN}: a file sink path is still relative")
endif()

string(SUBSTRING "${text}" 1 -1 text)
set(header
"# Installed by citygate (cmake --install, the Debian package) from the
# example city, config/citygate.yaml in the source tree. It differs only in
# gateway.spool_dir and the file sinks' paths, which are under ${STATE_DIR},
# the state directory of citygate.service. Edit it for your city, check it
# with `citygate check -c /etc/citygate/citygate.yaml`, apply it with
# `systemctl reload citygate`; see citygate.yaml(5).
#
")
file(WRITE "${OUT}.tmp" "${header}${text}")
file(RENAME "${OUT}.tmp" "${OUT}")

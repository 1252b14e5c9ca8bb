# Run at build time (cmake -P): compresses one manual page the way Debian
# ships them (gzip at the highest level), with CMake alone.
#
#   cmake -DIN=<src>/man/citygate.1 -DOUT=<build>/man/citygate.1.gz
#         -P CitygateGzip.cmake
#
# The raw format stores the file's bytes without a tar header, so the
# result is a plain .gz that man(1) and zcat read.
get_filename_component(dir "${OUT}" DIRECTORY)
file(MAKE_DIRECTORY "${dir}")
file(ARCHIVE_CREATE OUTPUT "${OUT}" PATHS "${IN}" FORMAT raw
     COMPRESSION GZip COMPRESSION_LEVEL 9)

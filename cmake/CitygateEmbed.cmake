# Turns a file into a C array at build time, so a page people edit as
# HTML (with an editor's help and a browser to look at it) ships inside
# the binary without escaping every quote by hand:
#
#   cmake -DIN=page.html -DOUT=page.c -DNAME=symbol -P CitygateEmbed.cmake
#
# writes `const char symbol[]` (the bytes, NUL-terminated) and
# `const unsigned long symbol_len` (without the NUL).
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" digits)
math(EXPR len "${digits} / 2")
# Sixteen bytes a line keeps the generated file readable in a debugger.
string(REGEX REPLACE "(................................)" "\\1\n" hex
       "${hex}")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
get_filename_component(src "${IN}" NAME)
file(WRITE "${OUT}"
     "/* Generated from ${src} by cmake/CitygateEmbed.cmake: do not edit. */\n"
     "const char ${NAME}[] = {\n${bytes}0};\n"
     "const unsigned long ${NAME}_len = ${len};\n")

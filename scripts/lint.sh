#!/usr/bin/env bash
# Formatting (the root .clang-format), static analysis (cppcheck) and the
# one-way dependencies of the folders (no include circle) over the C
# sources. Fails on any difference, warning or circle.
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t files < <(git ls-files '*.c' '*.h' 2>/dev/null ||
                     find base rules config gateway plugins sim tests bench \
                          -name '*.[ch]')
echo "== clang-format (${#files[@]} files)"
clang-format --dry-run -Werror "${files[@]}"

echo "== include circles"
python3 scripts/check_includes.py

echo "== cppcheck"
cppcheck --quiet --error-exitcode=1 --enable=warning,style,performance,portability \
    --inline-suppr --std=c11 --suppress=missingIncludeSystem \
    -I base -I rules -I config -I gateway -I plugins -I include \
    base rules config gateway plugins sim tests/fuzz

#!/usr/bin/env bash
# Builds citygate and runs every test: once with -Werror, once under
# AddressSanitizer + UndefinedBehaviorSanitizer. This is the README's test
# command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
scripts/lint.sh

jobs=$(nproc)
# Tests run two per core: the integration suites spend most of their time
# waiting on brokers, timers and `for` holds, not on the CPU (none asserts
# a wall-clock limit, so a busy machine makes them slower, not red).
test_jobs=$((jobs * 2))
run_suite() {
    local dir=$1; shift
    cmake -S . -B "$dir" -DCG_WERROR=ON "$@" >/dev/null
    cmake --build "$dir" -j "$jobs"
    ctest --test-dir "$dir" --output-on-failure -j "$test_jobs"
}

echo "== build and test (-Werror)"
run_suite build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo
echo "== build and test under ASan + UBSan"
run_suite build/asan -DCMAKE_BUILD_TYPE=Debug -DCG_ASAN=ON -DCG_UBSAN=ON \
    -DCG_BUILD_BENCH=OFF
echo "== the threaded suites under ThreadSanitizer"
# The suites where threads meet: MQTT callbacks, the pipeline, delivery
# threads, reloads, the metrics server, timers. A report stops the
# gateway (halt_on_error), which fails the test.
cmake -S . -B build/tsan -DCG_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCG_TSAN=ON -DCG_BUILD_BENCH=OFF >/dev/null
cmake --build build/tsan -j "$jobs" --target citygate
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
    ctest --test-dir build/tsan --output-on-failure -j "$test_jobs" \
    -L tsan
echo "== fuzz every harness for 10 s (scripts/fuzz.sh SECONDS runs longer)"
scripts/fuzz.sh 10
echo "== all tests passed"

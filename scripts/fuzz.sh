#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang, ASan and UBSan in
# build/fuzz, and runs each for SECONDS (default 60) on a fresh copy of
# its seed corpus, two at a time. Fails when any target finds a crash, a
# leak, undefined behaviour, a broken invariant or a timeout; the input
# that did it is kept in build/fuzz/artifacts/<target>/.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]      e.g. scripts/fuzz.sh 600 fuzz_expr
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] ||
    targets=(fuzz_json fuzz_decode fuzz_expr fuzz_topic fuzz_config fuzz_rules)
parallel=2
build=$root/build/fuzz

command -v clang >/dev/null || { echo "fuzz.sh: clang is required" >&2; exit 1; }
grep -q 'add_subdirectory(tests/fuzz)' CMakeLists.txt || {
    echo "fuzz.sh: CMakeLists.txt does not add tests/fuzz" >&2
    exit 1
}
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCG_BUILD_FUZZERS=ON \
    -DCG_ASAN=ON -DCG_UBSAN=ON -DCG_BUILD_TESTS=OFF -DCG_BUILD_BENCH=OFF \
    >/dev/null
cmake --build "$build" -j "$(nproc)" --target fuzzers >/dev/null

export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# run_one TARGET: fuzzes one target; its exit status is the fuzzer's.
run_one() {
    local t=$1 name=${1#fuzz_}
    local work=$build/corpus/$name art=$build/artifacts/$t/
    rm -rf "$work" "$art"
    mkdir -p "$work" "$art" "$build/logs"
    cp -r "$root/tests/fuzz/corpus/$name/." "$work/"
    # The extra minute of `timeout` only guards against a hung process;
    # libFuzzer's own -timeout catches slow inputs.
    timeout $((seconds + 60)) "$build/tests/fuzz/$t" "$work" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2560 \
        -print_final_stats=1 -artifact_prefix="$art" \
        >"$build/logs/$t.log" 2>&1
}

# summary TARGET STATUS: one line of what the run did.
summary() {
    local log=$build/logs/$1.log status=$2 execs last
    execs=$(sed -n 's/^stat::number_of_executed_units: //p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 |
        sed -E 's/.*(cov: [0-9]+ ft: [0-9]+ corp: [0-9]+).*/\1/')
    printf '%-12s %-6s %4s s  %10s execs  %s\n' "$1" "$status" "$seconds" \
        "${execs:-?}" "${last:-no coverage line}"
}

declare -A status
pending=("${targets[@]}")
running=()
start() {
    run_one "$1" &
    running+=("$!:$1")
}
collect() {
    local entry pid t rc left=()
    for entry in "${running[@]}"; do
        pid=${entry%%:*} t=${entry#*:}
        if kill -0 "$pid" 2>/dev/null; then
            left+=("$entry")
            continue
        fi
        rc=0
        wait "$pid" || rc=$?
        status[$t]=$([ $rc -eq 0 ] && echo ok || echo FAILED)
    done
    running=("${left[@]+"${left[@]}"}")
}

echo "fuzzing ${#targets[@]} targets for $seconds s each, $parallel at a time"
while [ ${#pending[@]} -gt 0 ] || [ ${#running[@]} -gt 0 ]; do
    while [ ${#pending[@]} -gt 0 ] && [ ${#running[@]} -lt $parallel ]; do
        start "${pending[0]}"
        pending=("${pending[@]:1}")
    done
    sleep 1
    collect
done

failed=0
for t in "${targets[@]}"; do
    summary "$t" "${status[$t]}"
    [ "${status[$t]}" = ok ] || failed=1
done
if [ $failed -ne 0 ]; then
    for t in "${targets[@]}"; do
        [ "${status[$t]}" = ok ] && continue
        echo "---- $t (log: build/fuzz/logs/$t.log) ----"
        grep -E -A12 'ERROR|fuzz invariant|runtime error' \
            "$build/logs/$t.log" | head -40 || tail -20 "$build/logs/$t.log"
        ls "$build/artifacts/$t/" 2>/dev/null | sed "s|^|  input: build/fuzz/artifacts/$t/|"
    done
    echo "fuzz.sh: FAILED"
    exit 1
fi
echo "fuzz.sh: all ${#targets[@]} targets ran clean"

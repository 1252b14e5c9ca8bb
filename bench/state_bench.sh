#!/usr/bin/env bash
# The cost per message of stateful rules (SPEC §13) against a stateless
# one, in the engine alone (bench/README.md, "Stateful rules"):
#
#   bench/state_bench.sh [--build-dir DIR] [--messages N] [--no-build]
#
# One vendor (the benchmark's aircheck-shaped 210-byte payloads, 100
# devices), one consumer, and one rule per config:
#   stateless   when + data, an event per message
#   silent      the same rule whose `when` never holds: match and when only
#   for         the same when and data, for: 1m (pending, then firing: a
#               firing key keeps each message's data for repeat and stale)
#   throttle    the same when and data, throttle: 1m per device
#   on_change   the same when and data, on_change: {pm25: 5} per device
#   window      a 1-hour window per district: avg, max, count_distinct
# Messages arrive 100 ms apart (simulated) and timers run every 1,000
# messages. For each config it prints the instructions per message inside
# cg_pipeline_process under callgrind (repeatable) and the native ns per
# message, and each stateful rule's ratio to the stateless one.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=$root/build-bench
msgs=20000 do_build=1
while [ $# -gt 0 ]; do
    case $1 in
    --build-dir) build=$2; shift ;;
    --messages) msgs=$2; shift ;;
    --no-build) do_build=0 ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "state_bench.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

if [ "$do_build" = 1 ]; then
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
        -DCG_BUILD_TESTS=OFF >/dev/null
    cmake --build "$build" --target engine_bench -j2 >/dev/null
fi
bench=$build/bench/engine_bench
work=$(mktemp -d /tmp/citygate-state-bench.XXXXXX)

config() { # NAME RULE-KEYS...
    local d=$work/$1
    mkdir -p "$d"
    cat >"$d/citygate.yaml" <<'EOF'
gateway: { id: bench }
vendors:
  - name: aircheck
    topics: ["vendors/aircheck/aqs/+/telemetry"]
    fields: { pm25: pm2_5_24h, no2: no2_24h, district: zone, status: status }
consumers:
  - { name: ops, role: government, topic: "city/ops/{domain}/{type}" }
rules: ["rules.yaml"]
EOF
    {
        echo "domain: environment"
        echo "rules:"
        echo "  - name: r"
        shift
        printf '    %s\n' "$@"
        echo "    to: [ops]"
    } >"$d/rules.yaml"
}

data="data: { pm25: pm25, district: district, station: device }"
config stateless "when: status == 'ok' && pm25 > 15" "$data"
config silent "when: status == 'ok' && pm25 > 1000" "$data"
config for "when: status == 'ok' && pm25 > 15" "$data" "for: 1m"
config throttle "when: status == 'ok' && pm25 > 15" "$data" "throttle: 1m"
config on_change "when: status == 'ok' && pm25 > 15" "$data" \
    "on_change: { pm25: 5 }"
config window "when: status == 'ok'" \
    "window: { every: 1h, group_by: [district], aggregate: { pm25_avg: avg(pm25), pm25_max: max(pm25), stations: count_distinct(device) } }"

clock=(--step-ms 100 --timers 1000)
printf '%-10s %12s %10s %12s %8s\n' config ir/msg "× stateless" ns/msg events
base=""
for c in stateless silent for throttle on_change window; do
    cfg=$work/$c/citygate.yaml
    valgrind --tool=callgrind --toggle-collect=push_messages \
        --callgrind-out-file="$work/$c.callgrind" "$bench" -c "$cfg" \
        --messages "$msgs" "${clock[@]}" >"$work/$c.log" 2>&1
    ir=$(awk -v n="$msgs" '/Collected :/ { printf "%.0f", $NF / n }' "$work/$c.log")
    native=$("$bench" -c "$cfg" --messages $((msgs * 5)) "${clock[@]}")
    ns=$(sed -n 's/.*ns_per_msg=\([0-9]*\).*/\1/p' <<<"$native")
    events=$(sed -n 's/.*deliveries=\([0-9]*\).*/\1/p' <<<"$native")
    [ -n "$base" ] || base=$ir
    printf '%-10s %12s %10.2f %12s %8s\n' "$c" "$ir" \
        "$(awk -v a="$ir" -v b="$base" 'BEGIN { print a / b }')" "$ns" "$events"
done
echo "configs and callgrind output: $work"

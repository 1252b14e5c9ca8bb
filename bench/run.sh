#!/usr/bin/env bash
# The citygate benchmark, one command (bench/README.md):
#
#   bench/run.sh [--quick] [--rounds N] [--parts LIST] [--results FILE]
#                [--cg-client paho|mosquitto] [--no-build] [--build-dir DIR]
#                [--report-from WORK_FOLDER]
#
# Builds the gateway and the bench tools (Release), starts a private
# mosquitto on a free loopback port, and measures in turn, A B A B over
# rounds, on that one broker with the same payloads:
#   - the bare relays (libmosquitto, Paho async, Paho synchronous in one
#     thread) and citygate with one rule,
#     fan-out 1;
#   - the same relays with the example city's fan-out F and citygate with
#     the example city (config/ copied, pointed at this broker);
#   - citygate with one rule and its spool on tmpfs (QoS 1);
# each at QoS 0 and QoS 1: sustained throughput (closed loop, 1,000 in
# flight), CPU µs per message and peak RSS of the process under test, then
# latency at 1,000 msg/s and at half the sustained rate. Then an overload
# run at twice citygate's sustained rate, a filter check, a perf profile,
# and rule scaling (10 / 1,000 / 10,000 generated rules: check time, load
# time, RSS, instructions per message under callgrind).
#
# Prints the report (markdown) and, for a full run or with --results,
# writes it to bench/RESULTS.md (text after the "<!-- notes -->" line of an
# existing file is kept). Logs and raw records stay in the work folder it
# names. Full run about 12 minutes, --quick about 3. --parts picks some of
# compare,overload,profile,scale (default: all) to repeat a part cheaply;
# --cg-client sets citygate's broker.client in every config it runs;
# --report-from makes the report again from an earlier run's records.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=$root/build-bench
quick=0 rounds=3 results="" do_build=1 parts=compare,overload,profile,scale
cg_client="" command="bench/run.sh${*:+ $*}" report_from=""

while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1 ;;
    --rounds) rounds=$2; shift ;;
    --results) results=$2; shift ;;
    --parts) parts=$2; shift ;;
    --cg-client) cg_client=$2; shift ;;
    --report-from) report_from=$2; shift ;;
    --build-dir) build=$2; shift ;;
    --no-build) do_build=0 ;;
    -h | --help) sed -n '2,33p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done

if [ "$quick" = 1 ]; then
    [ "$rounds" = 3 ] && rounds=1
    closed_s=2 lat_s=1 over_s=5 scale_msgs=2000 check_reps=1 prof_s=2
    scale_load_s=2
else
    closed_s=4 lat_s=3 over_s=10 scale_msgs=10000 check_reps=3 prof_s=4
    scale_load_s=4
    [ -z "$results" ] && [ -z "$report_from" ] && results=$here/RESULTS.md
fi
inflight=1000 # closed-loop window for the sustained rate
want() { [[ ",$parts," == *",$1,"* ]]; }

source "$here/lib.sh"

# Only the report again, from the records of an earlier run's work folder.
if [ -n "$report_from" ]; then
    work=$report_from records=$report_from/records.txt
    cg=$build/gateway/citygate
    make_report >"$work/report.md"
    cat "$work/report.md"
    [ -z "$results" ] || write_results "$work/report.md" "$results"
    exit 0
fi
setup_work

# ---- build --------------------------------------------------------------
if [ "$do_build" = 1 ]; then
    log "building into $build"
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
        -DCG_BUILD_BENCH=ON >"$work/build.log" 2>&1
    cmake --build "$build" -j "$(nproc)" --target citygate loadgen \
        relay_mosq relay_paho relay_paho_sync engine_bench \
        >>"$work/build.log" 2>&1 ||
        { tail -20 "$work/build.log" >&2; exit 1; }
fi
cg=$build/gateway/citygate
bin=$build/bench
for f in "$cg" "$bin/loadgen" "$bin/relay_mosq" "$bin/relay_paho" \
    "$bin/relay_paho_sync" "$bin/engine_bench"; do
    [ -x "$f" ] || { echo "run.sh: $f missing (drop --no-build)" >&2; exit 1; }
done

start_broker
write_configs
record_meta
log "broker on 127.0.0.1:$port; example city fan-out $fanout_city (MQTT events per message)"

# ---- one system: sustained rate, CPU, latency, RSS -----------------------
# measure_system ROUND SYSTEM QOS
measure_system() {
    local r=$1 sys=$2 q=$3
    start_sut "$sys" "$q"
    local tag="round=$r sys=$sys qos=$q"
    local c0 b0 c1 b1 res rate half
    c0=$(cpu_ticks "$sut_pid") b0=$(cpu_ticks "$broker_pid")
    res=$(loadgen_for "$sys" "$q" "$sys-q$q-r$r-closed" --closed "$inflight" \
        --duration "$closed_s") || res=""
    c1=$(cpu_ticks "$sut_pid") b1=$(cpu_ticks "$broker_pid")
    local uss_load
    uss_load=$(uss_kib "$sut_pid")
    record "kind=closed $tag cpu_ticks=$((c1 - c0)) broker_ticks=$((b1 - b0)) $res"
    rate=$(kv out_rate "$res")
    half=$(awk -v r="${rate:-0}" 'BEGIN { h = int(r / 2); print h < 100 ? 100 : h }')
    res=$(loadgen_for "$sys" "$q" "$sys-q$q-r$r-lat1k" --rate 1000 \
        --duration "$lat_s") || res=""
    record "kind=lat1k $tag $res"
    res=$(loadgen_for "$sys" "$q" "$sys-q$q-r$r-lathalf" --rate "$half" \
        --duration "$lat_s") || res=""
    record "kind=lathalf $tag $res"
    record "kind=rss $tag hwm_kib=$(status_kib "$sut_pid" VmHWM) anon_kib=$(status_kib "$sut_pid" RssAnon) uss_kib=$(max_of "$uss_load" "$(uss_kib "$sut_pid")")"
    stop_sut
    log "  $sys qos $q: $(kv out_rate "$(grep "kind=closed $tag " "$records" | tail -1)") msg/s"
}

systems_q0="mosq paho pahos cg1 mosqF pahoF pahosF city"
systems_q1="mosq paho pahos cg1 cg1shm mosqF pahoF pahosF city"
[ "$quick" = 1 ] && systems_q1="mosq paho pahos cg1 mosqF pahoF pahosF city"
want compare || rounds=0
for r in $(seq "$rounds"); do
    for q in 0 1; do
        log "round $r/$rounds, QoS $q"
        eval "list=\$systems_q$q"
        for sys in $list; do
            measure_system "$r" "$sys" "$q"
        done
    done
done

# ---- overload, filter check ---------------------------------------------
overload() {
    local sustained over_rate res c0 c1
    sustained=$(median_of closed "sys=cg1 qos=1" out_rate)
    if [ "${sustained%.*}" -lt 100 ] 2>/dev/null || [ "$sustained" = 0 ]; then
        log "overload: measuring citygate's sustained rate first"
        measure_system 0 cg1 1
        sustained=$(median_of closed "sys=cg1 qos=1" out_rate)
    fi
    over_rate=$(awk -v s="$sustained" 'BEGIN { printf "%d", 2 * s }')
    log "overload: citygate one rule, QoS 1, $over_rate msg/s (2 x $sustained) for $over_s s"
    start_sut cg1 1
    res=$(loadgen_for cg1 1 filter-check --rate 1000 --duration 2 --reject-every 4) || res=""
    record "kind=filter sys=cg1 qos=1 $res"
    sample_rss "$work/overload-rss.txt" $((over_s + 100)) "$sut_pid" "$broker_pid"
    c0=$(cpu_ticks "$sut_pid")
    res=$(loadgen_for cg1 1 overload --rate "$over_rate" --duration "$over_s" \
        --timeout 100 --drain 100 --progress) || res=""
    c1=$(cpu_ticks "$sut_pid")
    stop_sampler
    record "kind=overload sys=cg1 qos=1 sustained=$sustained cpu_ticks=$((c1 - c0)) $(rss_summary "$work/overload-rss.txt") hwm_kib=$(status_kib "$sut_pid" VmHWM) $res"
    stop_sut
}
want overload && overload

# ---- profile --------------------------------------------------------------
if want profile; then
    for q in 0 1; do
        log "perf profile: citygate one rule, QoS $q"
        profile_system cg1 "$q" "$work/perf-cg1-q$q.txt"
    done
    log "callgrind profile: the engine alone"
    callgrind_profile "$work/city-q1/citygate.yaml" "$work/callgrind-city.txt"
fi

# ---- rule scaling ---------------------------------------------------------
if want scale; then
    for n in 10 1000 10000; do
        log "rule scaling: $n rules"
        scale_run "$n"
    done
fi

# ---- report ---------------------------------------------------------------
report="$work/report.md"
make_report >"$report"
cat "$report"
if [ -n "$results" ]; then
    write_results "$report" "$results"
    log "wrote $results"
fi
log "logs and raw records: $work"

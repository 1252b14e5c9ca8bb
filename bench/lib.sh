# Helpers of bench/run.sh (sourced, not run): the work folder, processes
# and their cleanup, the broker, configs, measurements and records.
#
# Every process started here is remembered in `pids` and stopped by PID
# on exit (TERM, then KILL after 10 s); every wait loop is bounded in time.
# Records are lines of key=value in $records, one per measurement; the
# report (report.awk) reads them.

pids=() work="" shm="" records=""
sut_pid="" broker_pid="" sampler_pid=""
in_filter='vendors/aircheck/aqs/+/telemetry'
clk_tck=$(getconf CLK_TCK)
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)

# The work folder (kept: logs, configs, records) and a tmpfs folder for
# the spool-on-tmpfs runs (removed at exit).
setup_work() {
    work=$(mktemp -d /tmp/citygate-bench.XXXXXX)
    shm=$(mktemp -d /dev/shm/citygate-bench.XXXXXX)
    records=$work/records.txt
    : >"$records"
}

log() { printf '%s bench: %s\n' "$(date +%T)" "$*" >&2; }

forget_pid() {
    local keep=() p
    for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    pids=("${keep[@]}")
}

stop_pid() {
    local pid=$1 i
    [ -n "$pid" ] || return 0
    if kill -TERM "$pid" 2>/dev/null; then
        for i in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    forget_pid "$pid"
}

cleanup() {
    local p
    for p in "${pids[@]}"; do stop_pid "$p"; done
    [ -z "$shm" ] || rm -rf "$shm"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- /proc ------------------------------------------------------------------

# utime + stime of a process in clock ticks (threads included, also those
# that ended). The fields are counted after the ")" that closes the name.
cpu_ticks() {
    awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

# Private memory (USS) of a process in KiB: Private_Clean + Private_Dirty
# from smaps_rollup, what it alone holds (RSS also counts the pages of
# shared libraries that other processes map too).
uss_kib() {
    awk '$1 == "Private_Clean:" || $1 == "Private_Dirty:" { s += $2 }
         END { print s + 0 }' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0
}

max_of() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { print (a > b ? a : b) }'; }

status_kib() {
    awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0
}

# ---- records ---------------------------------------------------------------

record() { echo "$*" >>"$records"; }

# kv KEY "k=v k=v ...": the value of KEY.
kv() { tr ' ' '\n' <<<"$2" | awk -F= -v k="$1" '$1 == k { v = $2 } END { print v }'; }

# median_of KIND "FILTER WORDS" KEY: median of KEY over matching records.
median_of() {
    { grep "kind=$1 " "$records" | grep -- "$2 " || true; } | tr ' ' '\n' |
        awk -F= -v k="$3" '$1 == k { v[n++] = $2 + 0 }
            END { for (i = 0; i < n; i++) for (j = i + 1; j < n; j++)
                      if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
                  if (n == 0) print 0
                  else print (n % 2 ? v[int(n / 2)] : (v[n / 2 - 1] + v[n / 2]) / 2) }'
}

# ---- broker ------------------------------------------------------------------

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
        echo $((20000 + RANDOM % 20000))
}

# A private mosquitto: big queues so nothing is dropped for a slow
# subscriber, 100 QoS 1 messages in flight per client, no Nagle delays,
# no persistence (nothing survives this run anyway). It stays root so it
# can write its log here.
start_broker() {
    port=$(free_port)
    cat >"$work/mosquitto.conf" <<EOF
listener $port 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages 1000000
max_inflight_messages 100
set_tcp_nodelay true
user root
EOF
    /usr/sbin/mosquitto -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
    broker_pid=$!
    pids+=("$broker_pid")
    local i
    for i in $(seq 50); do
        mosquitto_pub -h 127.0.0.1 -p "$port" -t bench/ping -m . 2>/dev/null && return 0
        sleep 0.1
    done
    echo "run.sh: mosquitto did not start on port $port" >&2
    exit 1
}

# ---- configs -----------------------------------------------------------------

# write_one DIR QOS SPOOL: citygate with one rule that passes every good
# reading on to one MQTT consumer, its data carrying seq and t.
write_one() {
    local d=$1 q=$2 spool=$3
    mkdir -p "$d/rules"
    cat >"$d/citygate.yaml" <<EOF
# bench/run.sh: the smallest useful citygate, the counterpart of a relay.
gateway:
  id: bench
  log_level: warn
  spool_dir: $spool
  dead_letter_topic: citygate/bench/dead
  status_topic: citygate/bench/status
broker:
  uri: tcp://127.0.0.1:$port
  client_id: cg-bench-one-q$q
  keepalive: 30
  clean_session: true
  qos: $q
networks:
  - name: bench-net
    kind: other
vendors:
  - name: aircheck
    network: bench-net
    topics: ["$in_filter"]
    device: "{topic.3}"
    decoder: json
consumers:
  - name: bench-out
    role: government
    sink: mqtt
    topic: "city/bench/{domain}/{type}"
    qos: $q
rules: ["rules/*.yaml"]
EOF
    cat >"$d/rules/bench.yaml" <<'EOF'
domain: bench
rules:
  - name: relay
    description: Every good reading, with the load generator's sequence number and send time
    match: { vendors: [aircheck] }
    when: status == "ok"
    data: { seq: seq, t: t, dev: dev, pm25: pm2_5_24h }
    to: [bench-out]
EOF
}

# write_city DIR QOS: the example city as it is in config/ (rules and lookup
# tables), pointed at this broker, with its own client id, a clean session
# (no session may outlive a run and collect the next run's traffic) and
# every QoS set to QOS. Its `on_change` and `throttle` gates are taken out:
# they send a device's first message and hold back the same ones after it
# (the benchmark's readings never change), so the fan-out would not be one
# number and every held-back event would count as lost.
write_city() {
    local d=$1 q=$2
    mkdir -p "$d"
    cp -r "$root/config/rules" "$root/config/tables" "$d/"
    sed -i -e '/^    on_change:/d' -e '/^    throttle:/d' "$d"/rules/*.yaml
    sed -e "s#^\(  uri: \)tcp://[^ ]*#\1tcp://127.0.0.1:$port#" \
        -e "s#^\(  client_id: \)[^ ]*#\1cg-bench-city-q$q#" \
        -e "s#^\(  clean_session: \)false#\1true#" \
        -e "s#^\( *qos: \)[01]#\1$q#" \
        "$root/config/citygate.yaml" >"$d/citygate.yaml"
}

# set_client FILE: citygate's MQTT client library, when --cg-client says.
set_client() {
    [ -z "$cg_client" ] || sed -i "/^broker:/a\\  client: $cg_client" "$1"
}

write_configs() {
    local q f
    for q in 0 1; do
        write_one "$work/one-q$q" "$q" ./spool
        write_city "$work/city-q$q" "$q"
    done
    write_one "$work/one-shm-q1" 1 "$shm/spool"
    for f in one-q0 one-q1 one-shm-q1 city-q0 city-q1; do
        set_client "$work/$f/citygate.yaml"
        "$cg" check -c "$work/$f/citygate.yaml" >"$work/check-$f.log" 2>&1 ||
            { cat "$work/check-$f.log" >&2; exit 1; }
    done
    # MQTT events of one benchmark message in the example city: the
    # relays republish that many copies to match.
    fanout_city=$("$bin/engine_bench" -c "$work/city-q1/citygate.yaml" --show 1 |
        awk '$2 ~ /^city\// { n++ } END { print n + 0 }')
    [ "$fanout_city" -ge 1 ] || { echo "run.sh: the example city forwards nothing" >&2; exit 1; }
}

# ---- the system under test -------------------------------------------------------

sut_config() {
    case $1 in
    cg1) echo "$work/one-q$2/citygate.yaml" ;;
    cg1shm) echo "$work/one-shm-q$2/citygate.yaml" ;;
    city) echo "$work/city-q$2/citygate.yaml" ;;
    scale-*) echo "$work/$1/citygate.yaml" ;;
    esac
}

# start_sut SYSTEM QOS: sets sut_pid.
start_sut() {
    local sys=$1 q=$2 logf=$work/sut-$1-q$2.log
    local relay_args=(-p "$port" --sub "$in_filter" --out bench/out --qos "$q")
    case $sys in
    mosq) "$bin/relay_mosq" "${relay_args[@]}" --fanout 1 >>"$logf" 2>&1 & ;;
    paho) "$bin/relay_paho" "${relay_args[@]}" --fanout 1 --inflight 10000 >>"$logf" 2>&1 & ;;
    mosqF) "$bin/relay_mosq" "${relay_args[@]}" --fanout "$fanout_city" >>"$logf" 2>&1 & ;;
    pahoF) "$bin/relay_paho" "${relay_args[@]}" --fanout "$fanout_city" --inflight 10000 >>"$logf" 2>&1 & ;;
    pahos) "$bin/relay_paho_sync" "${relay_args[@]}" --fanout 1 --inflight 1000 >>"$logf" 2>&1 & ;;
    pahosF) "$bin/relay_paho_sync" "${relay_args[@]}" --fanout "$fanout_city" --inflight 1000 >>"$logf" 2>&1 & ;;
    *)
        local cfg
        cfg=$(sut_config "$sys" "$q")
        rm -rf "$(dirname "$cfg")/spool" "$shm/spool"
        "$cg" run -c "$cfg" >>"$logf" 2>&1 &
        ;;
    esac
    sut_pid=$!
    pids+=("$sut_pid")
    sleep 0.2
}

stop_sut() {
    stop_pid "$sut_pid"
    sut_pid=""
}

# loadgen_for SYSTEM QOS LABEL ARGS...: one loadgen run against SYSTEM;
# prints its RESULT fields.
loadgen_for() {
    local sys=$1 q=$2 label=$3
    shift 3
    local subs=(--sub 'city/#' --sub 'citygate/+/dead') fan=1
    case $sys in
    mosq | paho | pahos) subs=(--sub 'bench/out/#') ;;
    mosqF | pahoF | pahosF) subs=(--sub 'bench/out/#') fan=$fanout_city ;;
    city) fan=$fanout_city ;;
    esac
    local out
    out=$("$bin/loadgen" -p "$port" --qos "$q" --id "lg-$label" --label "$label" \
        --expect-fanout "$fan" "${subs[@]}" "$@" 2>>"$work/loadgen.err") || {
        log "loadgen $label failed (see $work/loadgen.err)"
        return 1
    }
    echo "$out" >>"$work/loadgen.log"
    grep '^RESULT ' <<<"$out" | sed 's/^RESULT //'
}

# ---- memory over time ------------------------------------------------------------

# sample_rss FILE MAX_SECONDS PID...: VmRSS of each PID every 0.5 s, then
# the first PID's private memory (USS).
sample_rss() {
    local file=$1 max=$2
    shift 2
    (
        end=$((SECONDS + max))
        while [ "$SECONDS" -lt "$end" ]; do
            line=""
            for p in "$@"; do line="$line $(status_kib "$p" VmRSS)"; done
            echo "$line $(uss_kib "$1")"
            sleep 0.5
        done
    ) >"$file" &
    sampler_pid=$!
    pids+=("$sampler_pid")
}

stop_sampler() {
    stop_pid "$sampler_pid"
    sampler_pid=""
}

rss_summary() {
    awk 'NF >= 2 { if (!n++) first = $1; last = $1
                   if ($1 > max) max = $1; if ($2 > bmax) bmax = $2
                   if ($3 > umax) umax = $3 }
         END { printf "rss_start_kib=%d rss_max_kib=%d rss_end_kib=%d broker_rss_max_kib=%d uss_max_kib=%d",
                      first, max, last, bmax, umax }' "$1"
}

# ---- profiles --------------------------------------------------------------------

# profile_system SYSTEM QOS OUT: perf samples of the process under test
# while it runs flat out (closed loop), by shared object and symbol.
profile_system() {
    local sys=$1 q=$2 out=$3 data=$work/perf-$1-q$2.data
    if ! command -v perf >/dev/null; then
        echo "(perf not installed)" >"$out"
        return 0
    fi
    start_sut "$sys" "$q"
    loadgen_for "$sys" "$q" "profile-$sys-q$q" --closed "$inflight" \
        --duration $((prof_s + 2)) >/dev/null &
    local lg=$!
    pids+=("$lg")
    sleep 1.5
    perf record -F 1999 -p "$sut_pid" -o "$data" -- sleep "$prof_s" >/dev/null 2>&1 || true
    wait "$lg" 2>/dev/null || true
    forget_pid "$lg"
    stop_sut
    {
        perf report -i "$data" --stdio --no-children --sort dso 2>/dev/null |
            grep -v '^#' | grep -v '^$' | head -8 || true
        echo
        perf report -i "$data" --stdio --no-children --sort dso,sym 2>/dev/null |
            grep -v '^#' | grep -v '^$' | head -25 || true
    } >"$out"
}

# callgrind_ir CONFIG OUT [ENGINE_BENCH ARGS...]: instructions per message
# in the engine alone; the annotated profile goes to OUT.
callgrind_ir() {
    local cfg=$1 out=$2 msgs=$scale_msgs
    shift 2
    local cgo=$out.callgrind
    valgrind --tool=callgrind --toggle-collect=push_messages \
        --callgrind-out-file="$cgo" "$bin/engine_bench" -c "$cfg" \
        --messages "$msgs" "$@" >"$out.log" 2>&1 || { echo 0; return 0; }
    callgrind_annotate "$cgo" 2>/dev/null >"$out" || true
    callgrind_annotate --inclusive=yes "$cgo" 2>/dev/null >"$out.incl" || true
    awk -v n="$msgs" '/Collected :/ { printf "%.0f\n", $NF / n }' "$out.log"
}

callgrind_profile() {
    local ir
    ir=$(callgrind_ir "$1" "$2")
    record "kind=callgrind config=city ir_per_msg=$ir"
    ir=$(callgrind_ir "$work/one-q1/citygate.yaml" "$work/callgrind-one.txt")
    record "kind=callgrind config=one ir_per_msg=$ir"
}

# ---- rule scaling ----------------------------------------------------------------

best_check_s() {
    local cfg=$1 best="" i t0 t1 s
    for i in $(seq "$check_reps"); do
        t0=$(date +%s%N)
        "$cg" check -c "$cfg" >/dev/null 2>&1 || { echo "fail"; return 0; }
        t1=$(date +%s%N)
        s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
        best=$(awk -v a="${best:-$s}" -v b="$s" 'BEGIN { print (b < a ? b : a) }')
    done
    echo "$best"
}

scale_run() {
    local n=$1 d=$work/scale-$n shape=(--topic-prefix scale/s --prefixes 1000 --devices 10)
    "$here/gen_rules.sh" "$n" "$d" "tcp://127.0.0.1:$port" 1
    set_client "$d/citygate.yaml"
    local check native ir res
    check=$(best_check_s "$d/citygate.yaml")
    native=$("$bin/engine_bench" -c "$d/citygate.yaml" --messages 20000 "${shape[@]}" |
        sed -n 's/^RESULT //p')
    ir=$(callgrind_ir "$d/citygate.yaml" "$work/callgrind-scale-$n.txt" "${shape[@]}")
    start_sut "scale-$n" 1
    res=$(loadgen_for "scale-$n" 1 "scale-$n" --rate 2000 --duration "$scale_load_s" \
        "${shape[@]}") || res=""
    local hwm
    hwm=$(status_kib "$sut_pid" VmHWM)
    stop_sut
    record "kind=scale n=$n check_s=$check ir_per_msg=$ir run_hwm_kib=$hwm $native $res"
}

# ---- report ------------------------------------------------------------------------

# The settings the report needs, as the first record, so that a report
# can be made again from a work folder alone (--report-from).
record_meta() {
    record "kind=meta fanout=$fanout_city rounds=$rounds clk=$clk_tck closed_s=$closed_s lat_s=$lat_s over_s=$over_s inflight=$inflight"
}

make_report() {
    awk -f "$here/report.awk" "$records"
    echo
    echo "### Where citygate spends its time"
    echo
    echo "perf, citygate with one rule running flat out (closed loop), share of"
    echo "the process's CPU samples by shared object, then by symbol:"
    local q
    for q in 0 1; do
        echo
        echo "QoS $q:"
        echo
        echo '```'
        cat "$work/perf-cg1-q$q.txt" 2>/dev/null || echo "(not run)"
        echo '```'
    done
    echo
    echo "callgrind, the engine alone (engine_bench, example city): instructions"
    echo "by function including callees (from cg_engine_process down), then by"
    echo "function alone:"
    echo
    echo '```'
    annotated "$work/callgrind-city.txt.incl" | sed -n '/cg_engine_process/,$p' | head -24
    echo
    annotated "$work/callgrind-city.txt" | head -14
    echo '```'
}

# The function lines of a callgrind_annotate listing, shortened from
# "123 (4.5%)  path/file.c:function [/path/object]" to "... function (object)".
annotated() {
    if [ -f "$1" ]; then
        awk '/PROGRAM TOTALS/ { on = 1; next } on && /^ *[0-9,]+ +\(/' "$1" |
            sed -E 's#  [^ ]*:([^ :]+) \[.*/([^/]+)\]$#  \1 (\2)#'
    else
        echo "(not run)"
    fi
}

facts() {
    local dirty
    # Uncommitted changes outside bench/ (read-only: no index refresh).
    dirty=$(cd "$root" && GIT_OPTIONAL_LOCKS=0 git status --porcelain -- . ':!bench' 2>/dev/null | wc -l)
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(free -g | awk '/^Mem:/ { print $2 }') GiB RAM, Linux $(uname -r)"
    echo "- citygate $("$cg" --version 2>/dev/null | head -1 | awk '{ print $2 }') at $(cd "$root" && git rev-parse --short HEAD 2>/dev/null)$([ "$dirty" -gt 0 ] && echo " (+ $dirty uncommitted changes)"), Release build"
    echo "- $(/usr/sbin/mosquitto -h 2>/dev/null | head -1); libmosquitto $(dpkg-query -W -f '${Version}' libmosquitto1 2>/dev/null); Paho C $(dpkg-query -W -f '${Version}' libpaho-mqtt1.3 2>/dev/null)"
    echo "- $(gcc --version | head -1); $(valgrind --version 2>/dev/null); cmake $(cmake --version | head -1 | awk '{ print $3 }')"
    echo "- citygate's MQTT client: ${cg_client:-the config default}"
    echo "- Load average when the run started: $load_at_start (the cores are shared; the A B A B pairing is what keeps ratios fair)"
    echo "- Command: \`$command\`"
}

write_results() {
    local report=$1 file=$2 notes=""
    if [ -f "$file" ] && grep -q '^<!-- notes -->' "$file"; then
        notes=$(sed -n '/^<!-- notes -->/,$p' "$file")
    fi
    {
        echo "# citygate benchmark results"
        echo
        echo "Generated by \`bench/run.sh$([ "$quick" = 1 ] && echo " --quick")\` (method: bench/README.md)."
        echo "Numbers are from one run on one machine; compare ratios within the run,"
        echo "not absolute numbers across machines."
        echo
        facts
        echo
        cat "$report"
        echo
        if [ -n "$notes" ]; then
            echo "$notes"
        else
            echo "<!-- notes -->"
        fi
    } >"$file"
}

#!/usr/bin/env bash
# Smoke test for citygate-sim against a private mosquitto.
#
#   test_sim.sh SIM_BINARY CITYGATE_BINARY CONFIG
#
# Starts mosquitto on a free loopback port from a generated config, records
# every message citygate-sim publishes (scenario normal, then malformed),
# checks that every vendor of the example city shows up, and runs each
# message through `citygate eval`: in scenario normal none may be
# dead-lettered and some rule must fire; in scenario malformed exactly the
# messages the simulator reports as malformed are dead-lettered, each with
# a reason the SPEC names. Every wait is bounded; mosquitto is stopped by
# its PID whatever happens.
set -euo pipefail

if [ $# -ne 3 ]; then
    echo "usage: $0 SIM_BINARY CITYGATE_BINARY CONFIG" >&2
    exit 2
fi
SIM=$1
CITYGATE=$2
CONFIG=$3
COUNT=${SIM_TEST_COUNT:-150}
# Debian installs the broker in /usr/sbin, which a user's PATH may lack.
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)

# One topic prefix per vendor of config/citygate.yaml (extended regexes).
VENDOR_PREFIXES=(
    'vendors/aircheck/aqs/' 'vendors/sonitus/noise/'
    'vendors/flowmetrix/counter/' 'vendors/parkwise/[^/]+/bay/'
    'vendors/parkwise/[^/]+/zone/' 'vendors/gridmeter/em/'
    'vendors/lumen/streetlight/' 'vendors/guardian/'
    'vendors/vitalband/band/' 'vendors/mediboard/clinic/'
    'vendors/bms-link/ahu/' 'vendors/hydronet/'
    'vendors/riverwatch/' 'vendors/civicq/' 'vendors/classmate/room/'
)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/citygate-sim-test.XXXXXX")
MOSQ_PID=""
SUB_PID=""
cleanup() {
    for pid in "$SUB_PID" "$MOSQ_PID"; do
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    for f in "$WORK"/*.log; do
        [ -s "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }
    done
    exit 1
}

# A port nothing listens on; mosquitto may still lose a race for it, so
# start_broker tries a few.
pick_port() {
    local port
    for _ in $(seq 50); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    return 1
}

# Starts mosquitto and polls (at most 5 s) until it accepts a publish. The
# probe is a retained message, which later tells a subscriber that its
# subscription is in place.
start_broker() {
    for _ in 1 2 3 4 5; do
        PORT=$(pick_port) || fail "no free loopback port"
        printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' \
            "$PORT" > "$WORK/mosquitto.conf"
        "$MOSQUITTO" -c "$WORK/mosquitto.conf" > "$WORK/mosquitto.log" 2>&1 &
        MOSQ_PID=$!
        for _ in $(seq 50); do
            kill -0 "$MOSQ_PID" 2>/dev/null || break
            if mosquitto_pub -h 127.0.0.1 -p "$PORT" -q 1 -r \
                -t simtest/ready -m ready 2>/dev/null; then
                return 0
            fi
            sleep 0.1
        done
        kill "$MOSQ_PID" 2>/dev/null || true
        wait "$MOSQ_PID" 2>/dev/null || true
        MOSQ_PID=""
    done
    fail "mosquitto did not start"
}

# Prints a payload given in hex (from stdin) as raw bytes.
unhex() {
    perl -e 'local $/; my $h = <STDIN>; print pack("H*", $h // "")'
}

# Records COUNT messages of one scenario into $WORK/<scenario>.msgs, one
# "topic hexpayload" line each (hex keeps invalid UTF-8 and 260 KiB
# payloads intact), and the simulator's summary into <scenario>.sim.log.
record() {
    local scenario=$1 out="$WORK/$1.msgs"
    # -C counts the retained readiness marker too, hence COUNT + 1.
    mosquitto_sub -h 127.0.0.1 -p "$PORT" -q 1 -t 'vendors/#' \
        -t simtest/ready -F '%t %x' -C $((COUNT + 1)) -W 20 \
        > "$out.raw" 2> "$WORK/sub.log" &
    SUB_PID=$!
    for _ in $(seq 100); do
        grep -q '^simtest/ready ' "$out.raw" 2>/dev/null && break
        sleep 0.1
    done
    grep -q '^simtest/ready ' "$out.raw" || fail "subscriber not ready"
    timeout 60 "$SIM" -b "tcp://127.0.0.1:$PORT" --rate 200 \
        --count "$COUNT" --seed 7 --scenario "$scenario" \
        2> "$WORK/$scenario.sim.log" || fail "citygate-sim ($scenario) failed"
    wait "$SUB_PID" || fail "subscriber got fewer than $COUNT messages"
    SUB_PID=""
    grep -v '^simtest/ready ' "$out.raw" > "$out" || true
    local got
    got=$(wc -l < "$out")
    [ "$got" -eq "$COUNT" ] || fail "$scenario: received $got of $COUNT"
}

check_vendors() {
    local file=$1 prefix
    for prefix in "${VENDOR_PREFIXES[@]}"; do
        grep -Eq "^$prefix" "$file" || fail "no message under $prefix"
    done
}

# Runs every recorded message through `citygate eval`; sets DEAD (dead
# letters), FIRED (messages that produced events) and REASONS.
evaluate() {
    local file=$1 topic hex result
    DEAD=0 FIRED=0 REASONS=""
    while read -r topic hex; do
        printf '%s' "$hex" | unhex > "$WORK/payload"
        result=$("$CITYGATE" eval -c "$CONFIG" -t "$topic" \
            -f "$WORK/payload" 2> "$WORK/eval.log") ||
            fail "citygate eval failed on $topic"
        if [[ $result == dead\ * ]]; then
            DEAD=$((DEAD + 1))
            REASONS="$REASONS $(printf '%s' "$result" | cut -d' ' -f2)"
        elif [ -n "$result" ]; then
            FIRED=$((FIRED + 1))
        fi
    done < "$file"
}

start_broker

record normal
check_vendors "$WORK/normal.msgs"
evaluate "$WORK/normal.msgs"
[ "$DEAD" -eq 0 ] || fail "normal: $DEAD dead letters:$REASONS"
[ "$FIRED" -gt 0 ] || fail "normal: no message produced an event"
echo "normal: $COUNT messages, every vendor present, 0 dead letters," \
    "$FIRED produced events"

record malformed
check_vendors "$WORK/malformed.msgs"
evaluate "$WORK/malformed.msgs"
BAD=$(grep -o 'malformed [0-9][0-9]*' "$WORK/malformed.sim.log" | cut -d' ' -f2)
[ -n "$BAD" ] || fail "malformed: no summary line from citygate-sim"
[ "$BAD" -gt 0 ] || fail "malformed: the simulator sent no bad message"
[ "$DEAD" -eq "$BAD" ] ||
    fail "malformed: $DEAD dead letters for $BAD bad messages:$REASONS"
for reason in $REASONS; do
    case $reason in
    decode_error | unknown_vendor | too_large) ;;
    *) fail "malformed: unexpected dead-letter reason $reason" ;;
    esac
done
echo "malformed: $COUNT messages, $BAD bad, all dead-lettered:" \
    $(printf '%s\n' $REASONS | sort | uniq -c | awk '{print $2 " " $1}')
echo "PASS"

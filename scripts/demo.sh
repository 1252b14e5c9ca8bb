#!/usr/bin/env bash
# Quick start: builds citygate, starts a private mosquitto on a free
# loopback port (or uses CITYGATE_BROKER=host:port), runs the gateway with
# the example smart city (pointed at that broker with `run -b`) and the
# simulator, and prints every forwarded event as `mosquitto_sub -v` does,
# until Ctrl-C or SIGTERM.
#
# CITYGATE_BUILD_DIR=DIR uses the binaries already built in DIR (no package
# check, no build); CITYGATE_DEMO_DIR=DIR puts the logs there instead of
# build/demo; CITYGATE_CONFIG=FILE runs another config than the example.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

if [ -n "${CITYGATE_BUILD_DIR:-}" ]; then
    bin=$(cd "$CITYGATE_BUILD_DIR" && pwd)
else
    scripts/deps.sh
    cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build build/release -j "$(nproc)" --target citygate citygate-sim \
        >/dev/null
    bin=$root/build/release
fi

work=${CITYGATE_DEMO_DIR:-$root/build/demo}
config=${CITYGATE_CONFIG:-config/citygate.yaml}
mkdir -p "$work"

# What we started, in order. They stop in reverse order, each waited for
# before the next, so the gateway drains and publishes its offline status
# while its broker is still there.
pids=()
stopped=0
stop_all() {
    [ "$stopped" = 1 ] && return
    stopped=1
    local i
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill -TERM "${pids[i]}" 2>/dev/null || true
        wait "${pids[i]}" 2>/dev/null || true
    done
}
trap stop_all EXIT
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM

# start CMD...: CMD in the background, in a session of its own: Ctrl-C at
# the terminal then reaches this script alone, which stops everything in
# order, instead of every process at once.
start() {
    setsid "$@" &
    pids+=($!)
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

if [ -n "${CITYGATE_BROKER:-}" ]; then
    host=${CITYGATE_BROKER%:*}; port=${CITYGATE_BROKER##*:}
else
    host=127.0.0.1; port=$(free_port)
    # The repo's broker snippet, on our port, persisting into the demo
    # folder.
    mkdir -p "$work/mosquitto"
    chmod 777 "$work/mosquitto"  # mosquitto drops root for its own user
    sed -e "s/^listener .*/listener $port 127.0.0.1/" \
        -e "s#^persistence_location .*#persistence_location $work/mosquitto/#" \
        config/mosquitto.conf >"$work/mosquitto.conf"
    start /usr/sbin/mosquitto -c "$work/mosquitto.conf" \
        >"$work/mosquitto.log" 2>&1
    for _ in $(seq 100); do
        mosquitto_pub -h "$host" -p "$port" -t citygate/demo/ping -m . -q 0 \
            2>/dev/null && break
        sleep 0.1
    done
fi

start "$bin/gateway/citygate" run -c "$config" \
    -b "tcp://$host:$port" 2>"$work/citygate.log"
start "$bin/sim/citygate-sim" -b "tcp://$host:$port" --rate 10 \
    2>"$work/sim.log"

echo "citygate is running against mqtt://$host:$port (logs in $work)." >&2
echo "Forwarded events (Ctrl-C to stop):" >&2
start mosquitto_sub -h "$host" -p "$port" -t 'city/#' -v
# A trapped signal interrupts `wait` (not a command in the foreground), so
# SIGTERM stops the demo at once.
wait "${pids[-1]}" || true

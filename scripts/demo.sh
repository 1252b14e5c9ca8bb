#!/usr/bin/env bash
# Quick start: builds citygate, starts a private mosquitto on a free
# loopback port (or uses CITYGATE_BROKER=host:port), runs the gateway with
# the example smart city and the simulator, and prints every forwarded
# event as `mosquitto_sub -v` does, until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

scripts/deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/release -j "$(nproc)" --target citygate citygate-sim >/dev/null
bin=$root/build/release

work=$root/build/demo
mkdir -p "$work"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -f "$root/config/.demo-citygate.yaml"
}
trap cleanup EXIT INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

if [ -n "${CITYGATE_BROKER:-}" ]; then
    host=${CITYGATE_BROKER%:*}; port=${CITYGATE_BROKER##*:}
else
    host=127.0.0.1; port=$(free_port)
    # The repo's broker snippet, on our port, persisting into build/demo.
    mkdir -p "$work/mosquitto"
    chmod 777 "$work/mosquitto"  # mosquitto drops root for its own user
    sed -e "s/^listener .*/listener $port 127.0.0.1/" \
        -e "s#^persistence_location .*#persistence_location $work/mosquitto/#" \
        config/mosquitto.conf >"$work/mosquitto.conf"
    /usr/sbin/mosquitto -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do
        mosquitto_pub -h "$host" -p "$port" -t citygate/demo/ping -m . -q 0 \
            2>/dev/null && break
        sleep 0.1
    done
fi

# The example config, pointed at this broker. It must sit in config/ so
# that its relative paths (rules, spool) mean what they say.
sed "s#tcp://127.0.0.1:1883#tcp://$host:$port#" config/citygate.yaml \
    >config/.demo-citygate.yaml
"$bin/gateway/citygate" run -c config/.demo-citygate.yaml \
    2>"$work/citygate.log" &
pids+=($!)
"$bin/sim/citygate-sim" -b "tcp://$host:$port" --rate 10 \
    2>"$work/sim.log" &
pids+=($!)

echo "citygate is running against mqtt://$host:$port (logs in build/demo/)." >&2
echo "Forwarded events (Ctrl-C to stop):" >&2
mosquitto_sub -h "$host" -p "$port" -t 'city/#' -v

#!/usr/bin/env bash
# Installs the Debian 12 packages citygate builds, tests and runs with,
# when any is missing. Needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(build-essential cmake pkg-config clang libclang-rt-14-dev
          libpaho-mqtt-dev libmosquitto-dev libyaml-dev libcurl4-openssl-dev
          libcmocka-dev libmicrohttpd-dev zlib1g-dev
          mosquitto mosquitto-clients python3 valgrind clang-format cppcheck
          libsystemd-dev libssl-dev tzdata
          # the package, unit and man page tests (tests/install):
          dpkg-dev mandoc groff-base libxml2-utils
          # the live page in a headless browser (tests/integration/test_service.py)
          chromium
          # a failed integration test prints its gateway's thread stacks
          gdb)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

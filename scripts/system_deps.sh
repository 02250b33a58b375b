#!/usr/bin/env bash
# The system programs the test suite drives besides Python packages: Debian's chromium (the
# dashboard's browser tests; Playwright uses it, it downloads no browser) and haproxy (the
# scale-out test runs two nodes behind it). `make test` calls this first: on Debian as root it
# installs what is missing, elsewhere it names the command to run.
set -euo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
[ ${#missing[@]} -eq 0 ] && exit 0
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
    echo "installing ${missing[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
else
    echo "the tests need ${missing[*]}: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi

#!/bin/sh
# deps.sh -- make sure the Debian build dependencies are installed.
# As root: apt-get update (once, before the first install) and install what
# is missing. Otherwise: print the exact command and fail.
set -eu
# openssl, curl, swaks (+ libnet-ssleay-perl for its TLS): real clients
# the TLS and AUTH tests drive; the tests skip a client that is missing.
PKGS="build-essential cmake pkg-config libevent-dev libssl-dev libcrypt-dev libcmocka-dev python3 openssl curl swaks libnet-ssleay-perl"
missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
    echo "deps.sh: installing:$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $missing
else
    echo "deps.sh: missing packages:$missing" >&2
    echo "run: sudo apt-get update && sudo apt-get install -y$missing" >&2
    exit 1
fi

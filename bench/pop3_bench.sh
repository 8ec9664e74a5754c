#!/usr/bin/env bash
# pop3_bench.sh -- logins/second and RETR messages/second of posthorn's
# pop3_server example beside Dovecot's POP3 server, both serving the same
# Maildir on 127.0.0.1 and both driven by bench/pop3load.c.
#
# usage: bench/pop3_bench.sh [-s dovecot|posthorn|both] [-r ROUNDS] [-p PORT]
#                            [-T SECS] [-D perf|stock] [-U] [-n] [-k] [SCENARIO...]
#
#   -s WHICH   servers to measure (default both; "both" measures Dovecot
#              alone, with a message, when posthorn's pop3_server cannot be
#              built or is still a stub)
#   -r ROUNDS  rounds (default 5); in each round every scenario runs once
#              against each server, the servers alternating (odd rounds
#              Dovecot first, even rounds posthorn first). A run during which
#              other processes used more than NOISE_PCT (env, default 30)
#              percent of a core is flagged 'noisy' and run again (at most 2
#              more times); medians use the clean runs of a cell if it has any
#   -p PORT    first port to try on 127.0.0.1 (default 11310; the next free
#              one is used)
#   -T SECS    time limit of one load run (default 20); pop3load stops
#              there and the run is flagged 'timebound'
#   -D MODE    Dovecot's process model: perf (default) = its documented
#              "high-performance" setup: long-lived pop3-login processes
#              (service_count=0) and reused pop3 processes; stock = Dovecot's
#              defaults: a new pop3-login and a new pop3 process per
#              connection
#   -U         in the c10 scenarios connection slot k logs in as user benchK
#              (bench1..bench10, password bench), each with its own Maildir
#              (hard links to the files of bench's): for servers that lock a
#              maildrop per session (RFC 1939), as posthorn's pop3_server
#              does; Dovecot does not (pop3_lock_session = no). The server
#              must know these users. Default: every session is user bench
#   -n         do not touch docs/PERFORMANCE.md (print the results only)
#   -k         keep the temporary directory (Maildirs, Dovecot config, logs)
#
# PH_BUILD_DIR (env): a CMake build directory made beforehand (e.g. by
# `make build`, or of another commit's worktree): its examples/pop3_server
# is measured as it is, nothing of posthorn is built. Default: the script
# builds pop3_server (Release) from this tree in BENCH_BUILD_DIR
# (build-bench/). pop3load is built in BENCH_BUILD_DIR either way.
#
# Scenarios (default: all; user bench, password bench, USER/PASS):
#   login-c1    1 connection at a time:   USER, PASS, STAT, QUIT  x 1000
#   login-c10   10 connections at a time: USER, PASS, STAT, QUIT  x 3000
#   retr4k-c1   1 connection:   STAT, RETR 1..1000 (4 KiB each), QUIT  x 5
#   retr4k-c10  10 connections: the same                           x 20
#   retr1m-c1   1 connection:   STAT, RETR 1..50 (1 MiB each), QUIT    x 10
#
# Data: a temporary directory (mktemp under TMPDIR or /tmp) with two mail
# roots, mail4k/bench (1000 messages of 4096 bytes) and mail1m/bench (50
# messages of 1048576 bytes): Maildir files in cur/ named
# 1700000000.M<n>P1Q<n>.bench:2,S, LF line ends, one dot-stuffing line per
# message. Dovecot reads them through mail_location (its index and uidlist
# live in a directory of their own, the Maildir itself is shared);
# pop3_server gets the mail root (MAILROOT/bench is the user's Maildir).
#
# Every run has a freshly started server (under setsid: it is stopped by its
# own process group, nothing else is signalled), a warm-up with the same
# load (few sessions), then one timed pop3load run under `timeout`.
# Measured: the load run's rates (pop3load), the server's CPU time summed
# over every process of its session (for Dovecot: master, pop3-login, pop3,
# auth, anvil, log, config; children that exited are in the master's
# cutime/cstime), read from /proc just before and after the load run, the
# client's CPU time and the CPU used by other processes (noise). Results: a
# TSV in $BENCH_OUT (default build-bench/bench-results) and the section
# between the pop3bench markers of docs/PERFORMANCE.md.
#
# Needs dovecot (Debian packages dovecot-core and dovecot-pop3d): as root
# they are installed with service starts forbidden (policy-rc.d exits 101)
# and the dovecot service is then disabled; otherwise the apt-get command is
# printed. Dovecot is only ever started by this script, in the foreground
# (dovecot -F -c CONFIG) with everything under the temporary directory.
set -u
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WHICH=both ROUNDS=5 PORT=11310 TL=20 DMODE=perf WRITE_DOC=1 KEEP=0 MULTI=0
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
while getopts "s:r:p:T:D:nkUh" o; do
    case $o in
    s) WHICH=$OPTARG ;; r) ROUNDS=$OPTARG ;; p) PORT=$OPTARG ;; T) TL=$OPTARG ;;
    D) DMODE=$OPTARG ;; n) WRITE_DOC=0 ;; k) KEEP=1 ;; U) MULTI=1 ;;
    h) usage; exit 0 ;; *) usage; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
ALL_SCENARIOS=(login-c1 login-c10 retr4k-c1 retr4k-c10 retr1m-c1)
SCENARIOS=("$@")
[[ ${#SCENARIOS[@]} -gt 0 ]] || SCENARIOS=("${ALL_SCENARIOS[@]}")
[[ $ROUNDS =~ ^[1-9][0-9]*$ && $PORT =~ ^[0-9]+$ && $TL =~ ^[1-9][0-9]*$ ]] || { usage; exit 2; }
[[ $WHICH == dovecot || $WHICH == posthorn || $WHICH == both ]] || { usage; exit 2; }
[[ $DMODE == perf || $DMODE == stock ]] || { usage; exit 2; }
for sc in "${SCENARIOS[@]}"; do
    [[ " ${ALL_SCENARIOS[*]} " == *" $sc "* ]] || { echo "unknown scenario $sc" >&2; usage; exit 2; }
done

DOVECOT=${DOVECOT:-/usr/sbin/dovecot}
# bench_init, log, die, policy-rc.d, start_server_argv, pgid_of, port_busy,
# round_order, run_cell, tree_ticks, kv, cpu_snap, cpu_row, nonlo_tx,
# AWK_STATS, splice_doc_section
. "$ROOT/bench/lib.sh"
bench_init pop3_bench   # OUT_DIR, DOC, HZ, NOISE; per-run files: $RUNLOG.rROUND.SERVER.SCENARIO.*

# ---------------------------------------------------------------- tools

install_dovecot() {
    local pkgs="dovecot-core dovecot-pop3d"
    local cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $pkgs"
    if [[ $(id -u) -ne 0 ]]; then
        echo "pop3_bench: $DOVECOT missing (Debian packages $pkgs)." >&2
        echo "Install them without starting the dovecot service, as root:" >&2
        echo "  printf '#!/bin/sh\\nexit 101\\n' | sudo tee /usr/sbin/policy-rc.d && sudo chmod 755 /usr/sbin/policy-rc.d" >&2
        echo "  sudo sh -c '$cmd'" >&2
        echo "  sudo update-rc.d dovecot disable; sudo systemctl disable dovecot.service dovecot.socket" >&2
        echo "  sudo rm /usr/sbin/policy-rc.d   # if it was not there before" >&2
        echo "or run with -s posthorn." >&2
        exit 1
    fi
    log "installing $pkgs (the dovecot service is not started)"
    export DEBIAN_FRONTEND=noninteractive
    # invoke-rc.d asks policy-rc.d first; 101 = "action forbidden". A policy
    # that already forbids is left alone; any other is set aside and put back.
    local rc=0
    if [[ -x $POLICY ]]; then "$POLICY" dovecot start > /dev/null 2>&1; rc=$?; else rc=0; fi
    trap 'restore_policy' EXIT
    if [[ ! -x $POLICY || $rc -ne 101 ]]; then
        if [[ -e $POLICY ]]; then
            POLICY_BAK=$POLICY.bak.$$
            cp -p "$POLICY" "$POLICY_BAK"
        else
            POLICY_OURS=1
        fi
        printf '#!/bin/sh\nexit 101\n' > "$POLICY"
        chmod 755 "$POLICY"
    fi
    apt-get update -qq > "$OUT_DIR/pop3-apt-install.log" 2>&1 || { restore_policy; die "apt-get update failed"; }
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $pkgs >> "$OUT_DIR/pop3-apt-install.log" 2>&1 \
        || { tail -n 20 "$OUT_DIR/pop3-apt-install.log" >&2; restore_policy; die "apt-get install failed"; }
    # never a system service: no boot-time start, no socket activation
    update-rc.d dovecot disable >> "$OUT_DIR/pop3-apt-install.log" 2>&1 || true
    if command -v systemctl > /dev/null; then
        systemctl disable dovecot.service dovecot.socket >> "$OUT_DIR/pop3-apt-install.log" 2>&1 || true
    fi
    restore_policy
    trap - EXIT
    [[ -x $DOVECOT ]] || die "dovecot installed but $DOVECOT missing"
}

# A dovecot master of the system configuration (not ours) would be a
# service left running: say so, do not touch it.
check_no_service() {
    local p
    for p in $(pgrep -x dovecot 2>/dev/null); do
        if [[ -r /proc/$p/cmdline ]] && ! tr '\0' ' ' < "/proc/$p/cmdline" | grep -q "$WORK/"; then
            log "warning: a dovecot process not started by this script is running (pid $p: $(tr '\0' ' ' < "/proc/$p/cmdline"))"
        fi
    done
}

NEED_DOVECOT=0 NEED_POSTHORN=0
[[ $WHICH != posthorn ]] && NEED_DOVECOT=1
[[ $WHICH != dovecot ]] && NEED_POSTHORN=1
if [[ $NEED_DOVECOT -eq 1 && ! -x $DOVECOT ]]; then
    install_dovecot
fi
command -v cmake > /dev/null || { sh "$ROOT/scripts/deps.sh" || exit 1; }
mkdir -p "$BUILD_DIR"

log "building pop3load (cc -O2) in $BUILD_DIR"
LOADGEN=$BUILD_DIR/pop3load
cc -O2 -Wall -Wextra -o "$LOADGEN" "$ROOT/bench/pop3load.c" || die "cannot build pop3load"

POP3D=$BUILD_DIR/examples/pop3_server
BUILT="CMake Release, $(cc --version 2>/dev/null | head -n1); commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$( [[ -n $(git -C "$ROOT" status --porcelain -- src include examples 2>/dev/null) ]] && echo ' plus the uncommitted changes in src/include/examples of the working tree at the time')"
if [[ -n ${PH_BUILD_DIR:-} ]]; then
    POP3D=$PH_BUILD_DIR/examples/pop3_server
    BUILT="$(build_desc "$PH_BUILD_DIR")"
fi
if [[ $NEED_POSTHORN -eq 1 && -n ${PH_BUILD_DIR:-} ]]; then
    [[ -x $POP3D ]] || die "$POP3D missing (PH_BUILD_DIR)"
    log "using the prebuilt $POP3D ($BUILT)"
elif [[ $NEED_POSTHORN -eq 1 ]]; then
    why=
    if [[ $(grep -c . "$ROOT/examples/pop3_server.c" 2>/dev/null || echo 0) -lt 10 ]]; then
        why="examples/pop3_server.c is missing or still a stub"
    else
        log "building pop3_server (Release) in $BUILD_DIR"
        if ! { cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DPH_TESTS=OFF &&
               cmake --build "$BUILD_DIR" -j "$(nproc)" --target pop3_server; } > "$OUT_DIR/pop3-cmake.log" 2>&1; then
            tail -n 15 "$OUT_DIR/pop3-cmake.log" >&2
            why="pop3_server does not build (log: $OUT_DIR/pop3-cmake.log)"
        elif [[ ! -x $POP3D ]]; then
            why="$POP3D not built"
        fi
    fi
    if [[ -n $why ]]; then
        [[ $WHICH == posthorn ]] && die "$why"
        log "SKIPPING posthorn: $why; measuring Dovecot alone"
        NEED_POSTHORN=0
    fi
fi
SERVERS=()
[[ $NEED_DOVECOT -eq 1 ]] && SERVERS+=(dovecot)
[[ $NEED_POSTHORN -eq 1 ]] && SERVERS+=(posthorn)

# ---------------------------------------------------------------- data
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pop3bench.XXXXXX") || die "mktemp failed"
chmod 755 "$WORK"   # Dovecot's login and mail processes run as other users
if [[ $(id -u) -eq 0 ]]; then
    # mail processes as nobody/nogroup (Dovecot refuses root: first_valid_uid)
    MAIL_UID=$(id -u nobody 2>/dev/null || echo 65534)
    MAIL_GID=$(getent group nogroup | cut -d: -f3); MAIL_GID=${MAIL_GID:-65534}
else
    MAIL_UID=$(id -u) MAIL_GID=$(id -g)
fi
NM4K=1000 SZ4K=4096 NM1M=50 SZ1M=1048576

make_maildir() { # DIR COUNT SIZE: COUNT files of exactly SIZE bytes in DIR/cur
    mkdir -p "$1"/cur "$1"/new "$1"/tmp
    awk -v dir="$1/cur" -v n="$2" -v size="$3" 'BEGIN {
        line = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"
        body = ".a line that starts with a dot (dot-stuffed on the wire)\n" line
        while (length(body) < size) body = body body
        for (i = 1; i <= n; i++) {
            h = sprintf("Return-Path: <a@x.test>\nFrom: a@x.test\nTo: bench@y.test\n" \
                        "Subject: bench message %d\nMessage-ID: <%d.pop3bench@x.test>\n" \
                        "Date: Thu, 23 Nov 2023 00:00:00 +0000\n\n", i, i)
            f = sprintf("%s/1700000000.M%dP1Q%d.bench:2,S", dir, i, i)
            printf "%s%s\n", h, substr(body, 1, size - length(h) - 1) > f
            close(f)
        }
    }' || die "cannot write $1"
}
log "preparing Maildirs in $WORK ($NM4K x $SZ4K B, $NM1M x $SZ1M B)"
make_maildir "$WORK/mail4k/bench" $NM4K $SZ4K
make_maildir "$WORK/mail1m/bench" $NM1M $SZ1M
for f in "$WORK/mail4k/bench/cur/1700000000.M1P1Q1.bench:2,S" "$WORK/mail1m/bench/cur/1700000000.M1P1Q1.bench:2,S"; do
    s=$(stat -c %s "$f"); [[ $s -eq $SZ4K || $s -eq $SZ1M ]] || die "generated message has $s bytes"
done
USERS="bench"
if [[ $MULTI -eq 1 ]]; then
    for ((k = 1; k <= 10; k++)); do
        cp -al "$WORK/mail4k/bench" "$WORK/mail4k/bench$k"
        cp -al "$WORK/mail1m/bench" "$WORK/mail1m/bench$k"
        USERS="$USERS bench$k"
    done
fi
mkdir -p "$WORK/home" "$WORK/dovecot/run" "$WORK/dovecot/state" "$WORK/dovecot/idx4k" "$WORK/dovecot/idx1m"
for u in $USERS; do echo "$u:{PLAIN}bench:$MAIL_UID:$MAIL_GID::$WORK/home::"; done > "$WORK/passwd"
chmod 644 "$WORK/passwd"
if [[ $(id -u) -eq 0 ]]; then
    chown -R "$MAIL_UID:$MAIL_GID" "$WORK/mail4k" "$WORK/mail1m" "$WORK/home" \
        "$WORK/dovecot/idx4k" "$WORK/dovecot/idx1m"
fi

# ---------------------------------------------------------------- port
for ((i = 0; i < 50; i++)); do
    port_busy "$PORT" || break
    PORT=$((PORT + 1))
done
port_busy "$PORT" && die "no free port found"

dovecot_conf() { # DATASET (4k|1m) -> $WORK/dovecot/DATASET.conf
    local ds=$1 conf=$WORK/dovecot/$1.conf
    {
        echo "# generated by bench/pop3_bench.sh: POP3 on 127.0.0.1 only, plaintext, no TLS"
        echo "base_dir = $WORK/dovecot/run"
        echo "state_dir = $WORK/dovecot/state"
        echo "instance_name = pop3bench"
        echo "protocols = pop3"
        echo "listen = 127.0.0.1"
        echo "ssl = no"
        echo "disable_plaintext_auth = no"
        echo "auth_mechanisms = plain"
        echo "log_path = $WORK/dovecot/dovecot.log"
        echo "first_valid_uid = $MAIL_UID"
        echo "first_valid_gid = $MAIL_GID"
        if [[ $(id -u) -ne 0 ]]; then
            echo "default_login_user = $(id -un)"
            echo "default_internal_user = $(id -un)"
            echo "default_internal_group = $(id -gn)"
        fi
        echo "mail_location = maildir:$WORK/mail$ds/%u:INDEX=$WORK/dovecot/idx$ds/%u:CONTROL=$WORK/dovecot/idx$ds/%u"
        # the default (10) would refuse sessions of login-c10 that overlap
        # the previous session's logout
        echo "mail_max_userip_connections = 10000"
        echo "pop3_uidl_format = %08Xu%08Xv"
        echo "passdb {"
        echo "  driver = passwd-file"
        echo "  args = scheme=PLAIN username_format=%u $WORK/passwd"
        echo "}"
        echo "userdb {"
        echo "  driver = passwd-file"
        echo "  args = username_format=%u $WORK/passwd"
        echo "}"
        echo "service pop3-login {"
        echo "  inet_listener pop3 {"
        echo "    address = 127.0.0.1"
        echo "    port = $PORT"
        echo "  }"
        echo "  inet_listener pop3s {"
        echo "    port = 0"
        echo "  }"
        if [[ $DMODE == perf ]]; then
            echo "  service_count = 0"
            echo "  process_min_avail = $(nproc)"
            echo "  client_limit = 1000"
        fi
        echo "}"
        if [[ $DMODE == perf ]]; then
            echo "service pop3 {"
            echo "  service_count = 0"
            echo "  process_min_avail = 10"
            echo "}"
            # service_count != 1 makes Dovecot ask for this (warning otherwise)
            echo "service auth {"
            echo "  client_limit = 2000"
            echo "}"
        fi
    } > "$conf"
}
if [[ $NEED_DOVECOT -eq 1 ]]; then
    dovecot_conf 4k; dovecot_conf 1m
    "$DOVECOT" -c "$WORK/dovecot/4k.conf" -n > "$WORK/dovecot/config-check.txt" 2>&1 \
        || { cat "$WORK/dovecot/config-check.txt" >&2; die "dovecot rejects the generated configuration"; }
fi

# ---------------------------------------------------------------- servers
SRV_PID=
start_server() { # NAME DATASET LOGFILE
    case $1 in
    dovecot)  SRV_ARGV=("$DOVECOT" -F -c "$WORK/dovecot/$2.conf") ;;
    posthorn) SRV_ARGV=("$POP3D" -q -a 127.0.0.1 "$PORT" "$WORK/mail$2") ;;
    esac
    start_server_argv "$3"
}

wait_greeting() { # until a connection gets "+OK"
    local i line
    for ((i = 0; i < 100; i++)); do
        line=$(timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT && head -n1 <&3" 2>/dev/null) || true
        [[ $line == +OK* ]] && return 0
        kill -0 "$SRV_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

stop_pop3_server() { # TERM to the server (Dovecot's master stops its children),
    # after 5 s KILL to the server's own process group (only that group)
    [[ -n $SRV_PID ]] || return 0
    kill -TERM "$SRV_PID" 2>/dev/null
    local i
    for ((i = 0; i < 50; i++)); do
        kill -0 -- "-$SRV_PID" 2>/dev/null || kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 -- "-$SRV_PID" 2>/dev/null || kill -0 "$SRV_PID" 2>/dev/null; then
        log "server (pid $SRV_PID) still running 5 s after TERM: KILL to its process group"
        kill -KILL -- "-$SRV_PID" 2>/dev/null || kill -KILL "$SRV_PID" 2>/dev/null
    fi
    wait "$SRV_PID" 2>/dev/null
    SRV_PID=
}
cleanup() {
    stop_pop3_server
    if [[ $KEEP -eq 0 && -n ${WORK:-} && -d $WORK ]]; then rm -rf "$WORK"; fi
}
trap 'cleanup' EXIT
trap 'cleanup; exit 130' INT TERM
# The server's CPU time: tree_ticks (lib.sh) over its session, setsid made
# SRV_PID its id; Dovecot's children stay in it and the time of those that
# exited is in the master's cutime/cstime.

# ---------------------------------------------------------------- runs
scenario_args() { # -> DS (dataset), P_ARGS (pop3load), WARM (warm-up args), UNIT
    case $1 in
    login-c1)   DS=4k; P_ARGS=(-m stat -c 1 -n 1000 -e $NM4K);  WARM=(-m stat -c 1 -n 50 -e $NM4K);  UNIT=login ;;
    login-c10)  DS=4k; P_ARGS=(-m stat -c 10 -n 3000 -e $NM4K); WARM=(-m stat -c 10 -n 100 -e $NM4K); UNIT=login ;;
    retr4k-c1)  DS=4k; P_ARGS=(-m retr -c 1 -n 5 -e $NM4K);     WARM=(-m retr -c 1 -n 1 -e $NM4K);    UNIT=msg ;;
    retr4k-c10) DS=4k; P_ARGS=(-m retr -c 10 -n 20 -e $NM4K);   WARM=(-m retr -c 10 -n 10 -e $NM4K);  UNIT=msg ;;
    retr1m-c1)  DS=1m; P_ARGS=(-m retr -c 1 -n 10 -e $NM1M);    WARM=(-m retr -c 1 -n 1 -e $NM1M);    UNIT=msg ;;
    esac
    if [[ $MULTI -eq 1 && $1 == *-c10 ]]; then P_ARGS+=(-u 'bench%d'); WARM+=(-u 'bench%d'); fi
}

TSV=$OUT_DIR/pop3_bench.$STAMP.tsv
printf 'round\tserver\tscenario\tsessions_ok\tfailed\tcut\tsecs\tlogins_per_s\tmsgs_per_s\tMB_per_s\tsrv_cpu_s\tsrv_cpu_us_per_op\tsrv_sys_pct\tcli_cpu_s\tother_cpu_pct\tsrv_procs\tnonlo_tx_pkts\tstatus\n' > "$TSV"

run_one() { # ROUND SERVER SCENARIO
    local round=$1 srv=$2 sc=$3 base="$RUNLOG.r$1.$2.$3"
    scenario_args "$sc"
    LAST_NOISY=0
    start_server "$srv" "$DS" "$base.server.log"
    if ! wait_greeting; then
        log "$srv did not come up:"; tail -n 5 "$base.server.log" >&2
        [[ $srv == dovecot ]] && tail -n 5 "$WORK/dovecot/dovecot.log" >&2
        stop_pop3_server
        printf '%s\t%s\t%s\t0\t0\t0\t0\t0\t0\t0\t\t\t\t\t\t\t\tfail(start)\n' "$round" "$srv" "$sc" >> "$TSV"
        return
    fi
    [[ $(pgid_of "$SRV_PID") == "$SRV_PID" ]] || log "warning: $srv (pid $SRV_PID) is not its own process group"
    timeout 60 "$LOADGEN" -p "$PORT" "${WARM[@]}" -t 30 > "$base.warm" 2>&1 \
        || log "warm-up failed ($srv $sc): $(tr '\n' ' ' < "$base.warm" | cut -c1-300)"
    local s0 c0 tx0 rc
    s0=$(tree_ticks "$SRV_PID"); c0=$(cpu_snap); tx0=$(nonlo_tx)
    timeout $((TL + 10)) "$LOADGEN" -p "$PORT" "${P_ARGS[@]}" -t "$TL" > "$base.load" 2> "$base.err"
    rc=$?
    local s1 c1 txd
    s1=$(tree_ticks "$SRV_PID"); c1=$(cpu_snap); txd=$(( $(nonlo_tx) - tx0 ))
    stop_pop3_server
    local su0 ss0 su1 ss1 np
    read -r su0 ss0 _ <<< "$s0"; read -r su1 ss1 np <<< "$s1"
    local ok failed cut secs lps mps mbs cli
    ok=$(kv "$base.load" sessions_ok); failed=$(kv "$base.load" sessions_failed); cut=$(kv "$base.load" cut)
    secs=$(kv "$base.load" elapsed_s); lps=$(kv "$base.load" logins_per_s); mps=$(kv "$base.load" msgs_per_s)
    mbs=$(kv "$base.load" MB_per_s); cli=$(kv "$base.load" client_cpu_s)
    local ops status=ok
    if [[ $UNIT == login ]]; then ops=$(kv "$base.load" logins); else ops=$(kv "$base.load" msgs); fi
    if [[ -z $secs ]]; then status="fail(rc=$rc)"; ok=0 failed=0 cut=0 secs=0 lps=0 mps=0 mbs=0 cli=0 ops=0
    elif [[ ${failed:-0} -gt 0 ]]; then status="fail($failed)"
    elif [[ ${cut:-0} -gt 0 ]]; then status=timebound
    elif [[ $rc -ne 0 ]]; then status="fail(rc=$rc)"
    fi
    local row
    row=$(cpu_row "$secs" "$ops" "$((su1 - su0 + ss1 - ss0))" "$((ss1 - ss0))" "$((c1 - c0))" "$cli" %.1f)
    # f: server CPU s, us/op, kernel %, client CPU s, client us/op, other %
    local f; IFS='|' read -r -a f <<< "$row"
    # a failed run is not repeated: noise does not explain a protocol error
    if [[ ${f[5]} -gt $NOISE && ( $status == ok || $status == timebound ) ]]; then status="$status,noisy"; LAST_NOISY=1; fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$srv" "$sc" \
        "$ok" "$failed" "$cut" "$secs" "$lps" "$mps" "$mbs" "${f[0]}" "${f[1]}" "${f[2]}" "${f[3]}" "${f[5]}" \
        "$np" "$txd" "$status" >> "$TSV"
    local what
    if [[ $UNIT == login ]]; then what="$lps logins/s"; else what="$mps msgs/s, $mbs MB/s"; fi
    log "round $round $sc $srv: $ok sessions in $secs s = $what; server CPU ${f[0]} s (${f[1]} us/$UNIT, ${f[2]}% kernel, $np procs), client ${f[3]} s, other ${f[5]}% [$status]"
    [[ -s $base.err ]] && log "  pop3load: $(head -n 3 "$base.err" | tr '\n' ' ')"
}

DV_VERSION=
[[ $NEED_DOVECOT -eq 1 ]] && DV_VERSION="dovecot $("$DOVECOT" --version 2>/dev/null) ($(dpkg-query -W -f='${Version}' dovecot-core 2>/dev/null))"
log "servers: ${SERVERS[*]}; ${DV_VERSION:-}; posthorn: $( [[ $NEED_POSTHORN -eq 1 ]] && echo "$POP3D" || echo skipped)"
log "$ROUNDS rounds x ${#SCENARIOS[@]} scenarios, port $PORT, limit ${TL}s per run, Dovecot mode $DMODE; rows -> $TSV"
T_START=$(date -u '+%Y-%m-%d %H:%M UTC')
NONLO0=$(nonlo_tx)
for ((r = 1; r <= ROUNDS; r++)); do
    for sc in "${SCENARIOS[@]}"; do
        round_order "$r"
        for srv in "${ORDER[@]}"; do
            run_cell "$r" "$srv" "$sc" 0.3
        done
    done
done
T_END=$(date -u '+%H:%M UTC')
[[ $NEED_DOVECOT -eq 1 ]] && check_no_service

# ---------------------------------------------------------------- summary
# Per scenario: medians per server (clean runs of a cell if any, else all,
# marked *) of the primary rate (logins/s or msgs/s), MB/s, server CPU per
# op; ratios posthorn/dovecot; per-round wins.
SUMMARY=$(awk -F'\t' -v scs="${SCENARIOS[*]}" "$AWK_STATS"'
    NR > 1 {
        k = $2 SUBSEP $3; rate = ($3 ~ /^login/) ? $8 : $9
        seen[k] = 1
        if ($18 == "ok") { cr[k] = cr[k] " " rate; cm[k] = cm[k] " " $10; cc[k] = cc[k] " " $12; last[k SUBSEP $1] = rate }
        # the rate of a failed run means nothing: it never enters a median
        if ($18 ~ /^(ok|timebound)/) { ar[k] = ar[k] " " rate; am[k] = am[k] " " $10; if ($12 != "") ac[k] = ac[k] " " $12 }
        runs[k]++
        if ($18 !~ /^ok/) bad[k]++
        if ($1 > nr) nr = $1
    }
    END {
        n = split(scs, sc, " ")
        for (i = 1; i <= n; i++) {
            for (j = 1; j <= 2; j++) {
                s = (j == 1) ? "dovecot" : "posthorn"; k = s SUBSEP sc[i]
                fl[j] = ""
                if (!(k in seen)) { r[j] = ""; mb[j] = ""; c[j] = ""; g[j] = "-"; m[j] = ""; b[j] = ""; continue }
                if (ar[k] == "") { r[j] = ""; mb[j] = ""; c[j] = ""; g[j] = "-"; m[j] = ""; b[j] = bad[k] + 0
                                   fl[j] = "failed (" runs[k] " of " runs[k] " runs)"; continue }
                if (cr[k] != "") { r[j] = median(cr[k]); mb[j] = median(cm[k]); c[j] = median(cc[k]); g[j] = range(cr[k]); m[j] = "" }
                else { r[j] = median(ar[k]); mb[j] = median(am[k]); c[j] = median(ac[k]); g[j] = range(ar[k]); m[j] = "*" }
                b[j] = bad[k] + 0
            }
            ratio = "-"; mbr = "-"; cpr = "-"; met = "-"; wins = "-"
            if (fl[2] != "") met = "no"
            if (r[1] != "" && r[2] != "") {
                if (r[1] > 0) ratio = sprintf("%.3f", r[2] / r[1])
                if (mb[1] > 0) mbr = sprintf("%.3f", mb[2] / mb[1])
                if (c[1] > 0 && c[2] != "") cpr = sprintf("%.3f", c[2] / c[1])
                met = (r[2] >= r[1] && b[2] == 0) ? "yes" : "no"
                w = 0; p = 0
                for (rd = 1; rd <= nr; rd++) {
                    kd = "dovecot" SUBSEP sc[i] SUBSEP rd; kp = "posthorn" SUBSEP sc[i] SUBSEP rd
                    if ((kd in last) && (kp in last)) { p++; if (last[kp] + 0 >= last[kd] + 0) w++ }
                }
                wins = w " of " p
            }
            f1 = (fl[1] != "") ? fl[1] : (r[1] == "") ? "-" : sprintf("%.0f%s (%s)", r[1], m[1], g[1])
            f2 = (fl[2] != "") ? fl[2] : (r[2] == "") ? "-" : sprintf("%.0f%s (%s)", r[2], m[2], g[2])
            printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", sc[i], f1, f2, ratio,
                   (mb[1] == "" ? "-" : sprintf("%.1f", mb[1])), (mb[2] == "" ? "-" : sprintf("%.1f", mb[2])), mbr,
                   (c[1] == "" ? "-" : c[1]), (c[2] == "" ? "-" : c[2]), cpr, wins,
                   (b[1] == "" ? "-" : b[1]), (b[2] == "" ? "-" : b[2]), met
        }
    }' "$TSV")

GOAL=yes
log "medians (login-*: logins/s; retr*: msgs/s):"
while IFS=$'\t' read -r sc d p ratio md mp mr cd cp cr wins bd bp met; do
    log "  $sc: dovecot $d, posthorn $p, ratio $ratio; MB/s $md vs $mp ($mr); server CPU us/op $cd vs $cp ($cr); posthorn >= dovecot in $wins rounds; failed/cut runs $bd / $bp"
    [[ $met == yes ]] || GOAL=no
done <<< "$SUMMARY"
[[ $NEED_POSTHORN -eq 1 ]] || GOAL=unmeasured
log "goal (posthorn >= dovecot in every scenario): $GOAL"

[[ $WRITE_DOC -eq 1 ]] || exit 0

# ---------------------------------------------------------------- doc
SECTION=$(mktemp)
{
    echo "<!-- pop3bench:begin (generated by bench/pop3_bench.sh; edits inside are overwritten) -->"
    echo "### Latest POP3 results"
    echo
    echo "- Date: $T_START to $T_END; $ROUNDS rounds, servers alternating; scenarios: ${SCENARIOS[*]}."
    if [[ $MULTI -eq 1 ]]; then
        echo "- Users (\`-U\`): in the c10 scenarios connection slot k logs in as bench*k* (bench1..bench10, each its own hard-linked copy of the Maildir); c1 scenarios as bench."
    else
        echo "- Users: every session logs in as bench (one Maildir; in the c10 scenarios 10 sessions of the same user at a time)."
    fi
    echo "- Machine: \`nproc\` = $(nproc), $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM; kernel $(uname -r); $( . /etc/os-release 2>/dev/null; echo "${PRETTY_NAME:-unknown OS}")."
    if [[ $NEED_POSTHORN -eq 1 ]]; then
        echo "- posthorn: examples/pop3_server, $BUILT."
    else
        echo "- posthorn: **not measured** in this run (examples/pop3_server was not available: ${why:-not requested})."
    fi
    [[ $NEED_DOVECOT -eq 1 ]] && echo "- Dovecot: $DV_VERSION (Debian), mode \`$DMODE\` (see above), started as \`dovecot -F -c CONF\`."
    echo "- Packets sent on non-loopback interfaces during the whole run (any process on the machine): $(( $(nonlo_tx) - NONLO0 ))."
    echo
    echo "| scenario | Dovecot (min-max) | posthorn (min-max) | ratio posthorn/Dovecot | MB/s Dovecot | MB/s posthorn | ratio MB/s | Dovecot CPU µs/op | posthorn CPU µs/op | ratio CPU/op | rounds posthorn ≥ Dovecot | failed/cut runs Dovecot / posthorn |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    while IFS=$'\t' read -r sc d p ratio md mp mr cd cp cr wins bd bp met; do
        case $sc in login-*) u="logins/s" ;; *) u="msgs/s" ;; esac
        [[ $sc == login-* ]] && { md=-; mp=-; mr=-; }
        echo "| $sc ($u) | $d | $p | **$ratio** | $md | $mp | $mr | $cd | $cp | $cr | $wins | $bd / $bp |"
    done <<< "$SUMMARY"
    echo
    echo "Medians over the clean runs (other CPU ≤ $NOISE % of a core); \\* = no clean run in that cell, median of all its successful runs; failed runs (any failed session) never enter a median. op = one login (login-*) or one RETR'd message (retr*); server CPU = every process of the server's session, reaped children included. MB = 10^6 bytes of message content (after un-dot-stuffing)."
    echo
    case $GOAL in
    yes) echo "**Goal met**: posthorn's median rate is at least Dovecot's in every scenario, with no failed or cut run." ;;
    no)  echo "**Goal not met** (strictly): in at least one scenario posthorn's median rate is below Dovecot's (ratio < 1.000), or one of its runs failed." ;;
    *)   echo "**Goal not evaluated**: posthorn was not measured in this run." ;;
    esac
    echo
    echo "<details><summary>Every run</summary>"
    echo
    echo "| round | scenario | server | sessions | secs | logins/s | msgs/s | MB/s | server CPU s | µs/op | kernel share | server procs | client CPU s | other CPU % | status |"
    echo "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    awk -F'\t' 'NR > 1 { printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s%% | %s | %s | %s | %s |\n", $1, $3, $2, $4, $7, $8, $9, $10, $11, $12, $13, $16, $14, $15, $18 }' "$TSV"
    echo
    echo "</details>"
    echo
    echo "Raw rows: \`$(realpath --relative-to="$ROOT" "$TSV" 2>/dev/null || echo "$TSV")\` (not committed)."
    echo "<!-- pop3bench:end -->"
} > "$SECTION"

splice_doc_section pop3bench "$SECTION" "$DOC" "POP3: pop3_server beside Dovecot"
log "updated $DOC"

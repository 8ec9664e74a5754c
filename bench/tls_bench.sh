#!/usr/bin/env bash
# tls_bench.sh -- TLS handshakes/second and messages/second over STARTTLS
# beside plaintext: posthornd beside Postfix's smtpd, both with the same
# certificate, on 127.0.0.1, both driven by bench/tlsload.c in the same run.
#
# usage: bench/tls_bench.sh [-s posthornd|postfix|both] [-r ROUNDS] [-p PORT]
#                           [-T SECS] [-c CONNS] [-M MSGS] [-l BYTES] [-k] [-n]
#                           [SCENARIO...]
#
#   -s WHICH   servers to measure (default both)
#   -r ROUNDS  rounds (default 3). Every round starts both servers afresh
#              (they run side by side, the idle one costs nothing) and runs
#              every scenario once against each, the servers alternating
#              (odd rounds posthornd first, even rounds Postfix first). A run
#              during which other processes used more than NOISE_PCT (env,
#              default 30) percent of a core is flagged 'noisy' and run again
#              (at most 2 more times); medians use the clean runs of a cell
#              if it has any
#   -p PORT    first port on 127.0.0.1 (default 25280): posthornd gets PORT
#              (SMTP), PORT+1 (submission), PORT+2 (SMTPS); Postfix PORT+10
#              (SMTP) and PORT+12 (SMTPS). All must be free
#   -T SECS    length of one handshake run (default 4)
#   -c CONNS   parallel connections of every run (default 10)
#   -M MSGS    messages per connection in the msg-* scenarios (default 200)
#   -l BYTES   message size in the msg-* scenarios (default 4096)
#   -k         keep the temporary directory (certificate, Postfix config and
#              queue, posthornd's Maildir, logs)
#   -n         do not touch docs/PERFORMANCE.md (print the results only)
#
# Scenarios (default: all), with the load of one timed run (CONNS = 10,
# SECS = 4, MSGS = 200, BYTES = 4096; tlsload is built as
# build-bench/tlsload):
#   hs-starttls   connect, EHLO, STARTTLS, TLS handshake (TLS 1.3), EHLO, QUIT,
#                 again and again for SECS, on the SMTP port
#                   tlsload -p P -m handshake -c 10 -n 10000000 -t 4
#   hs-tls12      the same with TLS 1.2 (no TLS 1.3 session tickets)
#                   tlsload -p P -m handshake -2 -c 10 -n 10000000 -t 4
#   hs-implicit   implicit TLS (SMTPS): TLS handshake, 220, EHLO, QUIT
#                   tlsload -p P+2 -m implicit -c 10 -n 10000000 -t 4
#   hs-resume     hs-starttls, each connection resuming the TLS 1.3 session of
#                 its thread's previous one (session tickets)
#                   tlsload -p P -m handshake -R -c 10 -n 10000000 -t 4
#   msg-starttls  10 sessions in parallel, each: STARTTLS, then 200 messages of
#                 4096 bytes (MAIL, RCPT, DATA, one at a time), QUIT
#                   tlsload -p P -m messages -c 10 -M 200 -l 4096 -t 60
#   msg-plain     the same without STARTTLS
#                   tlsload -p P -m messages -P -c 10 -M 200 -l 4096 -t 60
#   msg-auth      posthornd only: msg-starttls on the submission port with
#                 AUTH PLAIN (Postfix has no SASL backend in this setup)
#                   tlsload -p P+1 -m messages -a bench@bench.test:bench
#                           -f bench@bench.test -c 10 -M 200 -l 4096 -t 60
# Every tlsload run is wrapped in `timeout` (its own limit + 20 s); a
# handshake run ends after SECS, a message run after its 2000 messages (the
# 60 s are a safety bound: a run cut there is flagged 'timebound').
#
# Servers (fresh each round, each under setsid: it is stopped by its own
# process group, nothing else is signalled), with one RSA 2048 self-signed
# certificate made by `openssl req -x509 -newkey rsa:2048` in the temporary
# directory TMP (mktemp -d under $BENCH_TMP, else $TMPDIR, else /tmp):
#   posthornd --smtp 127.0.0.1:P --submission 127.0.0.1:P+1 --smtps 127.0.0.1:P+2
#             --mail-root TMP/mail --users TMP/users --tls-cert TMP/cert.pem
#             --tls-key TMP/key.pem --max-connections-per-address 0 [--user root]
#   /usr/lib/postfix/sbin/master -c TMP/postfix -d
# (users: bench@bench.test:{PLAIN}bench; every connection comes from
# 127.0.0.1, so posthornd's per-address limit is off: -c over 30 is not
# refused; --user root only when run as root).
# Postfix's main.cf and master.cf in TMP/postfix are made with postconf -c:
# queue and data directories in TMP, smtpd on 127.0.0.1:P+10 (STARTTLS,
# smtpd_tls_security_level = may) and 127.0.0.1:P+12 (smtpd_tls_wrappermode),
# the same cert and key, mydestination = bench.test, local and default
# transport discard: (a message is queued -- written and fsync'ed -- and then
# discarded), smtpd_peername_lookup = no, no chroot, log to TMP/postfix/maillog;
# everything else at Postfix's defaults (max_use 100, process_limit 100).
# posthornd delivers into TMP/mail/bench.test/bench (fsync'ed before the 250).
#
# Per run: a warm-up with the same load (2 x CONNS handshakes, or 5 messages
# per connection), then the CPU time of every process in the server's
# session (utime+stime+cutime+cstime from /proc, Postfix's exited children
# through the master's cutime/cstime), the machine's busy time and the
# non-loopback packet count, one timed tlsload run, the same counters again.
# Reported: handshakes/s or messages/s, server CPU µs per handshake or
# message, client CPU (tlsload's own), other CPU (noise), and ratios:
# posthornd/Postfix, STARTTLS/plaintext, resumed/full handshake. Results: a
# TSV in $BENCH_OUT (default build-bench/bench-results) and the section
# between the tlsbench markers of docs/PERFORMANCE.md. `openssl speed`
# (rsa2048, X25519; 1 s each) gives the raw cost of the handshake's
# public-key operations on this machine for comparison.
#
# Needs Postfix (Debian package postfix; installed as root when missing, with
# service starts forbidden, see bench/lib.sh; the system's postfix service is
# never started), the OpenSSL headers (libssl-dev) and cmake.
set -u
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WHICH=both ROUNDS=3 PORT=25280 TL=4 CONNS=10 MSGS=200 LEN=4096 KEEP=0 WRITE_DOC=1
MSG_TL=60
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
while getopts "s:r:p:T:c:M:l:knh" o; do
    case $o in
    s) WHICH=$OPTARG ;; r) ROUNDS=$OPTARG ;; p) PORT=$OPTARG ;; T) TL=$OPTARG ;;
    c) CONNS=$OPTARG ;; M) MSGS=$OPTARG ;; l) LEN=$OPTARG ;; k) KEEP=1 ;; n) WRITE_DOC=0 ;;
    h) usage; exit 0 ;; *) usage; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
ALL_SCENARIOS=(hs-starttls hs-tls12 hs-implicit hs-resume msg-starttls msg-plain msg-auth)
SCENARIOS=("$@")
[[ ${#SCENARIOS[@]} -gt 0 ]] || SCENARIOS=("${ALL_SCENARIOS[@]}")
[[ $ROUNDS =~ ^[1-9][0-9]*$ && $PORT =~ ^[0-9]+$ && $PORT -le 65500 && $TL =~ ^[1-9][0-9]*$ &&
   $CONNS =~ ^[1-9][0-9]*$ && $MSGS =~ ^[1-9][0-9]*$ && $LEN =~ ^[1-9][0-9]*$ && $LEN -ge 200 ]] \
    || { usage; exit 2; }
[[ $WHICH == posthornd || $WHICH == postfix || $WHICH == both ]] || { usage; exit 2; }
for sc in "${SCENARIOS[@]}"; do
    [[ " ${ALL_SCENARIOS[*]} " == *" $sc "* ]] || { echo "unknown scenario $sc" >&2; usage; exit 2; }
done
P_SMTP=$PORT P_SUB=$((PORT + 1)) P_SMTPS=$((PORT + 2)) F_SMTP=$((PORT + 10)) F_SMTPS=$((PORT + 12))

TMP_BASE=${BENCH_TMP:-${TMPDIR:-/tmp}}
SINK=${SMTP_SINK:-/usr/sbin/smtp-sink}        # install_postfix checks these
SOURCE=${SMTP_SOURCE:-/usr/sbin/smtp-source}
PF_MASTER=/usr/lib/postfix/sbin/master
# bench_init, log, die, install_postfix, bench_build, start_server_argv,
# wait_banner, stop_server, pgid_of, port_busy, round_order, run_cell,
# tree_ticks, kv, cpu_snap, cpu_row, nonlo_tx, AWK_STATS, splice_doc_section
. "$ROOT/bench/lib.sh"
bench_init tls_bench    # OUT_DIR, DOC, HZ, NOISE; per-run files: $RUNLOG.rROUND.SERVER.SCENARIO.*

NEED_PF=0 NEED_PH=0
[[ $WHICH != posthornd ]] && NEED_PF=1
[[ $WHICH != postfix ]] && NEED_PH=1
if [[ $NEED_PF -eq 1 && ( ! -x $PF_MASTER || ! -x $SINK || ! -x $SOURCE ) ]]; then
    install_postfix
fi
[[ $NEED_PF -eq 0 || -x $PF_MASTER ]] || die "$PF_MASTER missing after installing postfix"
command -v cmake > /dev/null || { sh "$ROOT/scripts/deps.sh" || exit 1; }
pkg-config --exists openssl || die "OpenSSL headers missing (Debian: libssl-dev; scripts/deps.sh installs them)"
mkdir -p "$BUILD_DIR"

log "building tlsload (cc -O2) in $BUILD_DIR"
LOADGEN=$BUILD_DIR/tlsload
# shellcheck disable=SC2046
cc -O2 -Wall -Wextra -pthread -o "$LOADGEN" "$ROOT/bench/tlsload.c" $(pkg-config --cflags --libs openssl) \
    || die "cannot build tlsload"
PHD=
if [[ $NEED_PH -eq 1 ]]; then
    log "building posthornd (Release) in $BUILD_DIR"
    bench_build "$BUILD_DIR" 2 posthornd
    PHD=$BUILD_DIR/posthornd
    [[ -x $PHD ]] || die "posthornd not built"
fi
SERVERS=()
[[ $NEED_PH -eq 1 ]] && SERVERS+=(posthornd)
[[ $NEED_PF -eq 1 ]] && SERVERS+=(postfix)

for p in $P_SMTP $P_SUB $P_SMTPS $F_SMTP $F_SMTPS; do
    port_busy "$p" && die "port $p on 127.0.0.1 is in use (choose another base with -p)"
done

# ---------------------------------------------------------------- setup
WORK=$(mktemp -d "$TMP_BASE/tls_bench.XXXXXX") || die "mktemp failed"
chmod 755 "$WORK"   # Postfix's daemons run as user postfix
PH_PID= PF_PID=
stop_pid() { SRV_PID=$1; stop_server; }
cleanup() {
    [[ -n $PH_PID ]] && stop_pid "$PH_PID"; PH_PID=
    [[ -n $PF_PID ]] && stop_pid "$PF_PID"; PF_PID=
    if [[ -n ${WORK:-} && -d $WORK ]]; then
        if [[ $KEEP -eq 0 ]]; then rm -rf "$WORK"; else log "kept $WORK"; WORK=; fi
    fi
}
trap 'cleanup' EXIT
trap 'cleanup; exit 130' INT TERM

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" -out "$WORK/cert.pem" \
    -days 2 -subj /CN=bench.test > "$WORK/openssl-req.log" 2>&1 \
    || { cat "$WORK/openssl-req.log" >&2; die "openssl req failed"; }
chmod 600 "$WORK/key.pem"
printf 'bench@bench.test:{PLAIN}bench\n' > "$WORK/users"

PF_VERSION=
if [[ $NEED_PF -eq 1 ]]; then
    PFC=$WORK/postfix
    mkdir -p "$PFC" "$WORK/pfqueue" "$WORK/pfdata"
    chown postfix "$WORK/pfdata"
    cp /etc/postfix/master.cf "$PFC/master.cf"
    [[ -f /etc/postfix/dynamicmaps.cf ]] && cp /etc/postfix/dynamicmaps.cf "$PFC/"
    : > "$PFC/main.cf"
    postconf -c "$PFC" -e \
        "compatibility_level = 3.6" \
        "queue_directory = $WORK/pfqueue" "data_directory = $WORK/pfdata" \
        "mail_owner = postfix" "setgid_group = postdrop" \
        "myhostname = postfix.bench.test" "mydomain = bench.test" "mydestination = bench.test" \
        "inet_interfaces = 127.0.0.1" "inet_protocols = ipv4" "mynetworks = 127.0.0.0/8" \
        "local_transport = discard:" "default_transport = discard:" \
        "local_recipient_maps =" "alias_maps =" "alias_database =" \
        "smtpd_tls_cert_file = $WORK/cert.pem" "smtpd_tls_key_file = $WORK/key.pem" \
        "smtpd_tls_security_level = may" "smtpd_tls_loglevel = 0" \
        "smtpd_peername_lookup = no" "biff = no" "append_dot_mydomain = no" \
        "maillog_file_prefixes = $WORK" "maillog_file = $PFC/maillog" \
        || die "postconf -e failed"
    # no chroot (the queue is not under /var/spool/postfix); smtpd only on
    # 127.0.0.1: the SMTP port with STARTTLS, and SMTPS
    postconf -c "$PFC" -F '*/*/chroot = n' || die "postconf -F failed"
    postconf -c "$PFC" -MX smtp/inet || die "postconf -MX failed"
    postconf -c "$PFC" -M "127.0.0.1:$F_SMTP/inet = 127.0.0.1:$F_SMTP inet n - n - - smtpd" \
        "127.0.0.1:$F_SMTPS/inet = 127.0.0.1:$F_SMTPS inet n - n - - smtpd -o smtpd_tls_wrappermode=yes" \
        || die "postconf -M failed"
    # creates the queue directories with Postfix's owners and modes
    postfix -c "$PFC" check > "$WORK/postfix-check.log" 2>&1 \
        || { cat "$WORK/postfix-check.log" "$PFC/maillog" >&2 2>/dev/null
             die "postfix check fails on the generated configuration ($PFC)"; }
    PF_VERSION="postfix $(postconf -c "$PFC" -h mail_version 2>/dev/null) ($(dpkg-query -W -f='${Version}' postfix 2>/dev/null))"
fi

start_servers() { # ROUND: both servers, fresh
    local r=$1 s
    for s in "${SERVERS[@]}"; do
        case $s in
        posthornd)
            SRV_ARGV=("$PHD" --smtp "127.0.0.1:$P_SMTP" --submission "127.0.0.1:$P_SUB"
                      --smtps "127.0.0.1:$P_SMTPS" --mail-root "$WORK/mail" --users "$WORK/users"
                      --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem"
                      --max-connections-per-address 0)
            [[ $(id -u) -eq 0 ]] && SRV_ARGV+=(--user root)
            start_server_argv "$RUNLOG.r$r.posthornd.server.log"; PH_PID=$SRV_PID
            local i
            for ((i = 0; i < 100; i++)); do
                grep -q 'event=ready' "$RUNLOG.r$r.posthornd.server.log" 2>/dev/null && break
                kill -0 "$PH_PID" 2>/dev/null || break
                sleep 0.1
            done
            PORT=$P_SMTP
            wait_banner || { tail -n 5 "$RUNLOG.r$r.posthornd.server.log" >&2; die "posthornd did not come up"; } ;;
        postfix)
            SRV_ARGV=("$PF_MASTER" -c "$PFC" -d)
            start_server_argv "$RUNLOG.r$r.postfix.server.log"; PF_PID=$SRV_PID
            PORT=$F_SMTP
            wait_banner || { tail -n 5 "$RUNLOG.r$r.postfix.server.log" "$PFC/maillog" >&2; die "Postfix did not come up"; } ;;
        esac
        [[ $(pgid_of "$SRV_PID") == "$SRV_PID" ]] || log "warning: $s (pid $SRV_PID) is not its own process group"
    done
}
stop_servers() {
    [[ -n $PH_PID ]] && stop_pid "$PH_PID"; PH_PID=
    [[ -n $PF_PID ]] && stop_pid "$PF_PID"; PF_PID=
}

# ---------------------------------------------------------------- runs
scenario_args() { # SCENARIO SERVER -> L_ARGS (timed run), WARM, UNIT; 1 = not for this server
    local sc=$1 srv=$2 smtp smtps
    if [[ $srv == posthornd ]]; then smtp=$P_SMTP smtps=$P_SMTPS; else smtp=$F_SMTP smtps=$F_SMTPS; fi
    local hs=(-c "$CONNS" -n 10000000 -t "$TL") hw=(-c "$CONNS" -n $((2 * CONNS)) -t 10)
    local ms=(-c "$CONNS" -M "$MSGS" -l "$LEN" -t "$MSG_TL") mw=(-c "$CONNS" -M 5 -l "$LEN" -t 20)
    case $sc in
    hs-starttls)  L_ARGS=(-p "$smtp" -m handshake "${hs[@]}");     WARM=(-p "$smtp" -m handshake "${hw[@]}"); UNIT=hs ;;
    hs-tls12)     L_ARGS=(-p "$smtp" -m handshake -2 "${hs[@]}");  WARM=(-p "$smtp" -m handshake -2 "${hw[@]}"); UNIT=hs ;;
    hs-implicit)  L_ARGS=(-p "$smtps" -m implicit "${hs[@]}");     WARM=(-p "$smtps" -m implicit "${hw[@]}"); UNIT=hs ;;
    hs-resume)    L_ARGS=(-p "$smtp" -m handshake -R "${hs[@]}");  WARM=(-p "$smtp" -m handshake -R "${hw[@]}"); UNIT=hs ;;
    msg-starttls) L_ARGS=(-p "$smtp" -m messages "${ms[@]}");      WARM=(-p "$smtp" -m messages "${mw[@]}"); UNIT=msg ;;
    msg-plain)    L_ARGS=(-p "$smtp" -m messages -P "${ms[@]}");   WARM=(-p "$smtp" -m messages -P "${mw[@]}"); UNIT=msg ;;
    msg-auth)
        [[ $srv == posthornd ]] || return 1
        local a=(-a bench@bench.test:bench -f bench@bench.test)
        L_ARGS=(-p "$P_SUB" -m messages "${a[@]}" "${ms[@]}");     WARM=(-p "$P_SUB" -m messages "${a[@]}" "${mw[@]}"); UNIT=msg ;;
    esac
    return 0
}

TSV=$RUNLOG.tsv
printf 'round\tserver\tscenario\tconns\tops\tresumed\tsecs\trate\tMB_per_s\tsrv_cpu_s\tsrv_cpu_us_per_op\tsrv_sys_pct\tcli_cpu_s\tcli_cpu_us_per_op\tother_cpu_pct\tsrv_procs\tproto\tcipher\tgroup\tnonlo_tx_pkts\tstatus\n' > "$TSV"

run_one() { # ROUND SERVER SCENARIO
    local round=$1 srv=$2 sc=$3 base="$RUNLOG.r$1.$2.$3" sid
    LAST_NOISY=0
    scenario_args "$sc" "$srv" || return 0
    if [[ $srv == posthornd ]]; then sid=$PH_PID; else sid=$PF_PID; fi
    timeout 40 "$LOADGEN" "${WARM[@]}" > "$base.warm" 2>&1 \
        || log "warm-up failed ($srv $sc): $(tr '\n' ' ' < "$base.warm" | cut -c1-300)"
    local s0 c0 tx0 rc tlim=$TL
    [[ $UNIT == msg ]] && tlim=$MSG_TL
    s0=$(tree_ticks "$sid"); c0=$(cpu_snap); tx0=$(nonlo_tx)
    timeout $((tlim + 20)) "$LOADGEN" "${L_ARGS[@]}" > "$base.load" 2> "$base.err"
    rc=$?
    local s1 c1 txd
    s1=$(tree_ticks "$sid"); c1=$(cpu_snap); txd=$(( $(nonlo_tx) - tx0 ))
    local su0 ss0 su1 ss1 np
    read -r su0 ss0 _ <<< "$s0"; read -r su1 ss1 np <<< "$s1"
    local secs ops res rate mbs cli failed cut proto cipher group status=ok
    secs=$(kv "$base.load" elapsed_s); failed=$(kv "$base.load" failed); cut=$(kv "$base.load" cut)
    cli=$(kv "$base.load" client_cpu_s); mbs=$(kv "$base.load" MB_per_s); res=$(kv "$base.load" resumed)
    proto=$(kv "$base.load" proto); cipher=$(kv "$base.load" cipher); group=$(kv "$base.load" group)
    if [[ $UNIT == hs ]]; then ops=$(kv "$base.load" handshakes); rate=$(kv "$base.load" hs_per_s)
    else ops=$(kv "$base.load" msgs); rate=$(kv "$base.load" msgs_per_s); fi
    if [[ -z $secs ]]; then status="fail(rc=$rc)"; secs=0 ops=0 res=0 rate=0 mbs=0 cli=0 proto=- cipher=- group=-
    elif [[ ${failed:-0} -gt 0 ]]; then status="fail($failed)"
    elif [[ ${cut:-0} -gt 0 ]]; then status=timebound
    elif [[ $rc -ne 0 ]]; then status="fail(rc=$rc)"
    elif [[ $((su1 + ss1)) -lt $((su0 + ss0)) ]]; then status="fail(cpu)"   # a lost process: no CPU figure
    fi
    local row
    row=$(cpu_row "$secs" "$ops" "$((su1 - su0 + ss1 - ss0))" "$((ss1 - ss0))" "$((c1 - c0))" "$cli")
    local f; IFS='|' read -r -a f <<< "$row"
    # a failed run is not repeated: noise does not explain a protocol error
    if [[ ${f[5]} -gt $NOISE && ( $status == ok || $status == timebound ) ]]; then status="$status,noisy"; LAST_NOISY=1; fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$round" "$srv" "$sc" "$CONNS" "$ops" "${res:-0}" "$secs" "$rate" "$mbs" "${f[0]}" "${f[1]}" "${f[2]}" \
        "${f[3]}" "${f[4]}" "${f[5]}" "$np" "$proto" "$cipher" "$group" "$txd" "$status" >> "$TSV"
    local what="$rate $UNIT/s"
    [[ $UNIT == msg ]] && what="$what, $mbs MB/s"
    [[ $sc == hs-resume ]] && what="$what, $res of $ops resumed"
    log "round $round $sc $srv: $ops ${UNIT} in $secs s = $what; server CPU ${f[0]} s (${f[1]} us/$UNIT, ${f[2]}% kernel, $np procs), client ${f[3]} s (${f[4]} us/$UNIT), other ${f[5]}% [$status]"
    [[ -s $base.err ]] && log "  tlsload: $(head -n 3 "$base.err" | tr '\n' ' ')"
    return 0
}

# raw cost of the handshake's public-key operations on this machine
RSA_SIGN_US= RSA_VERIFY_US= X25519_US=
openssl speed -seconds 1 rsa2048 ecdhx25519 > "$RUNLOG.openssl-speed" 2>/dev/null
RSA_SIGN_US=$(awk '/^rsa 2048 bits/ { printf "%.0f", 1e6 * $4; exit }' "$RUNLOG.openssl-speed")
RSA_VERIFY_US=$(awk '/^rsa 2048 bits/ { printf "%.0f", 1e6 * $5; exit }' "$RUNLOG.openssl-speed")
X25519_US=$(awk '/X25519/ { printf "%.0f", 1e6 / $NF; exit }' "$RUNLOG.openssl-speed")
log "openssl speed: RSA-2048 sign ${RSA_SIGN_US:-?} us, verify ${RSA_VERIFY_US:-?} us; X25519 ${X25519_US:-?} us per operation"

log "servers: ${SERVERS[*]}; ${PF_VERSION:-}; $(openssl version)"
log "$ROUNDS rounds x ${#SCENARIOS[@]} scenarios, $CONNS connections, handshake runs ${TL}s, messages $CONNS x $MSGS x $LEN B; rows -> $TSV"
T_START=$(date -u '+%Y-%m-%d %H:%M UTC')
T0=$EPOCHSECONDS
NONLO0=$(nonlo_tx)
for ((r = 1; r <= ROUNDS; r++)); do
    start_servers "$r"
    round_order "$r"
    for sc in "${SCENARIOS[@]}"; do
        for srv in "${ORDER[@]}"; do
            run_cell "$r" "$srv" "$sc" 0.2
        done
    done
    stop_servers
done
T_END=$(date -u '+%H:%M UTC')
T_SECS=$((EPOCHSECONDS - T0))
NONLO=$(( $(nonlo_tx) - NONLO0 ))
if [[ $NEED_PF -eq 1 ]]; then
    for p in $(pgrep -x master 2>/dev/null); do
        tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -q "$WORK/" ||
            log "warning: a Postfix master not started by this script is running (pid $p: $(tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null))"
    done
fi

# ---------------------------------------------------------------- summary
# Per server and scenario: median rate (clean runs of the cell if any, else
# all its ok/timebound runs, marked *), min-max, MB/s, server and client CPU
# per op, resumed share, failed/cut runs.
declare -A RATE RANGE MARK MB CPU CLI RES BAD TLSV
while IFS='|' read -r srv sc rate range mark mb cpu cli res bad tlsv; do
    k=$srv.$sc
    RATE[$k]=$rate RANGE[$k]=$range MARK[$k]=$mark MB[$k]=$mb CPU[$k]=$cpu CLI[$k]=$cli RES[$k]=$res BAD[$k]=$bad TLSV[$k]=$tlsv
done < <(awk -F'\t' "$AWK_STATS"'
    NR > 1 {
        k = $2 "|" $3; seen[k] = 1
        if ($21 == "ok") { cr[k] = cr[k] " " $8; cm[k] = cm[k] " " $9; cc[k] = cc[k] " " $11; cl[k] = cl[k] " " $14
                           if ($5 > 0) cs[k] = cs[k] " " 100 * $6 / $5 }
        # the rate of a failed run means nothing: it never enters a median
        if ($21 ~ /^(ok|timebound)/) { ar[k] = ar[k] " " $8; am[k] = am[k] " " $9; ac[k] = ac[k] " " $11; al[k] = al[k] " " $14
                                       if ($5 > 0) as[k] = as[k] " " 100 * $6 / $5
                                       if (!(k in tv) && $17 != "-") tv[k] = $17 " " $18 " " $19 }
        if ($21 !~ /^ok/ || $21 ~ /noisy/) bad[k]++
    }
    END {
        for (k in seen) {
            if (cr[k] != "") printf "%s|%s|%s||%.2f|%.0f|%.0f|%s|%d|%s\n", k, median(cr[k]), range(cr[k]), median(cm[k]), median(cc[k]), median(cl[k]), median(cs[k]), bad[k], (k in tv) ? tv[k] : "-"
            else if (ar[k] != "") printf "%s|%s|%s|*|%.2f|%.0f|%.0f|%s|%d|%s\n", k, median(ar[k]), range(ar[k]), median(am[k]), median(ac[k]), median(al[k]), median(as[k]), bad[k], (k in tv) ? tv[k] : "-"
            else printf "%s||-||||||%d|-\n", k, bad[k]
        }
    }' "$TSV")

ratio() { awk -v a="${1:-}" -v b="${2:-}" 'BEGIN { if (a != "" && b != "" && b + 0 > 0) printf "%.3f", a / b; else print "-" }'; }
fmt_rate() { # KEY
    local k=$1
    [[ -n ${RATE[$k]+x} ]] || { echo "-"; return; }
    [[ -n ${RATE[$k]} ]] || { echo "failed"; return; }
    printf '%.0f%s (%s)' "${RATE[$k]}" "${MARK[$k]}" "${RANGE[$k]}"
}
val() { local k=$1 a=$2; local -n arr=$a; [[ -n ${arr[$k]+x} && -n ${arr[$k]} ]] && echo "${arr[$k]}" || echo "-"; }
num() { [[ $1 == - ]] && echo "" || echo "$1"; }

log "medians (hs-*: handshakes/s; msg-*: messages/s):"
for sc in "${SCENARIOS[@]}"; do
    ph=posthornd.$sc pf=postfix.$sc
    log "  $sc: posthornd $(fmt_rate "$ph"), Postfix $(fmt_rate "$pf"), ratio $(ratio "$(num "$(val "$ph" RATE)")" "$(num "$(val "$pf" RATE)")"); server CPU us/op $(val "$ph" CPU) vs $(val "$pf" CPU); flagged runs $(val "$ph" BAD) / $(val "$pf" BAD)"
done
# paired SERVER SC_A SC_B: per round, the last clean run (else the last
# successful one) of SC_A against that of SC_B on the same server instance;
# prints "median rate ratio|min-max|median CPU/op ratio|median CPU/op
# difference in us|rounds" (the pairs cancel the drift between rounds, which
# in the msg-* runs -- fsync on a shared VM disk -- is larger than the
# difference looked for)
paired() {
    awk -F'\t' -v s="$1" -v a="$2" -v b="$3" "$AWK_STATS"'
        NR > 1 && $2 == s && ($3 == a || $3 == b) && $21 ~ /^(ok|timebound)/ {
            k = $3 SUBSEP $1
            if ($21 == "ok" || !(k in clean)) { r[k] = $8; c[k] = $11 }
            if ($21 == "ok") clean[k] = 1
            if ($1 > nr) nr = $1
        }
        END {
            for (i = 1; i <= nr; i++) {
                ka = a SUBSEP i; kb = b SUBSEP i
                if (!(ka in r) || !(kb in r) || r[kb] <= 0) continue
                q = r[ka] / r[kb]; rl = rl " " q; n++
                if (n == 1 || q < lo) lo = q
                if (n == 1 || q > hi) hi = q
                if (c[ka] != "" && c[kb] > 0) { cl = cl " " c[ka] / c[kb]; dl = dl " " c[ka] - c[kb] }
            }
            if (n == 0) { print "-|-|-|-|0"; exit }
            printf "%.3f|%.3f-%.3f|%s|%s|%d\n", median(rl), lo, hi,
                   (cl == "" ? "-" : sprintf("%.3f", median(cl))), (dl == "" ? "-" : sprintf("%+.0f", median(dl))), n
        }' "$TSV"
}
for s in "${SERVERS[@]}"; do
    IFS='|' read -r tr trr cr cx nn <<< "$(paired "$s" msg-starttls msg-plain)"
    log "  TLS cost, $s: msg-starttls/msg-plain = $tr ($trr over $nn rounds) in msgs/s, $cr in server CPU per message ($cx us)"
done

[[ $WRITE_DOC -eq 1 ]] || { log "results not written to $DOC (-n); total ${T_SECS}s"; exit 0; }

# ---------------------------------------------------------------- document
sc_load() { # SCENARIO: the tlsload arguments of its timed run, for the table
    scenario_args "$1" posthornd > /dev/null
    local a="${L_ARGS[*]}"
    echo "${a/-p $P_SMTP /-p P }" | sed -e "s/-p $P_SUB /-p P+1 /" -e "s/-p $P_SMTPS /-p P+2 /"
}
SECTION=$(mktemp)
{
    echo "<!-- tlsbench:begin (generated by bench/tls_bench.sh; edits inside are overwritten) -->"
    echo "### Latest TLS results"
    echo
    echo '```sh'
    echo "bench/tls_bench.sh$( [[ $WHICH != both ]] && echo " -s $WHICH")$( [[ $ROUNDS -ne 3 ]] && echo " -r $ROUNDS")$( [[ $TL -ne 4 ]] && echo " -T $TL")$( [[ $CONNS -ne 10 ]] && echo " -c $CONNS")$( [[ $MSGS -ne 200 ]] && echo " -M $MSGS")$( [[ $LEN -ne 4096 ]] && echo " -l $LEN")$( [[ ${#SCENARIOS[@]} -ne ${#ALL_SCENARIOS[@]} ]] && echo " ${SCENARIOS[*]}")   # this run; -n: print only, -k: keep TMP"
    echo "# servers, fresh every round (under setsid; stopped by their own process group)"
    echo "build-bench/posthornd --smtp 127.0.0.1:P --submission 127.0.0.1:P+1 --smtps 127.0.0.1:P+2 \\"
    echo "    --mail-root TMP/mail --users TMP/users --tls-cert TMP/cert.pem --tls-key TMP/key.pem [--user root]"
    echo "/usr/lib/postfix/sbin/master -c TMP/postfix -d      # smtpd on 127.0.0.1:P+10 (STARTTLS) and P+12 (SMTPS)"
    echo "# load of each timed run (P = posthornd's ports; Postfix's: P+10, P+12), after a warm-up"
    for sc in "${SCENARIOS[@]}"; do
        printf 'timeout %s build-bench/tlsload %s   # %s\n' "$( [[ $sc == msg-* ]] && echo $((MSG_TL + 20)) || echo $((TL + 20)))" "$(sc_load "$sc")" "$sc"
    done
    echo '```'
    echo
    echo "- Date: $T_START to $T_END (${T_SECS} s); $ROUNDS rounds, both servers started afresh each round, alternating per scenario (odd rounds posthornd first); $CONNS parallel connections in every run; handshake runs ${TL} s each."
    echo "- Machine: \`nproc\` = $(nproc), $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM; kernel $(uname -r); $( . /etc/os-release 2>/dev/null; echo "${PRETTY_NAME:-unknown OS}"). Client and server share these CPUs."
    echo "- $(openssl version) (client and both servers). \`openssl speed\` on this machine: RSA-2048 sign **${RSA_SIGN_US:-?} µs**, verify ${RSA_VERIFY_US:-?} µs; X25519 ${X25519_US:-?} µs per operation."
    if [[ $NEED_PH -eq 1 ]]; then
        echo "- posthornd: CMake Release, $(cc --version 2>/dev/null | head -n1); commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$( [[ -n $(git -C "$ROOT" status --porcelain -- src include 2>/dev/null) ]] && echo ' + uncommitted changes in src/include'); run as $( [[ $(id -u) -eq 0 ]] && echo 'root with `--user root`' || id -un)."
    fi
    [[ $NEED_PF -eq 1 ]] && echo "- Postfix: $PF_VERSION (Debian), master in the foreground with its own configuration directory; the system's postfix service is not used."
    echo "- Packets sent on non-loopback interfaces during the whole run (any process on the machine): $NONLO."
    echo
    echo "| scenario | TLS (first handshake) | Postfix (min-max) | posthornd (min-max) | ratio posthornd/Postfix | Postfix server CPU µs/op | posthornd server CPU µs/op | ratio CPU/op | client CPU µs/op (Postfix / posthornd runs) | resumed (Postfix / posthornd) | flagged runs Postfix / posthornd |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for sc in "${SCENARIOS[@]}"; do
        ph=posthornd.$sc pf=postfix.$sc
        case $sc in hs-*) u="handshakes/s" ;; *) u="msgs/s" ;; esac
        tv=$(val "$ph" TLSV); [[ $tv == - ]] && tv=$(val "$pf" TLSV)
        [[ $sc == msg-plain ]] && tv="none"
        rs="-"; [[ $sc == hs-resume ]] && rs="$(awk -v v="$(num "$(val "$pf" RES)")" 'BEGIN { if (v != "") printf "%.0f %%", v; else print "-" }') / $(awk -v v="$(num "$(val "$ph" RES)")" 'BEGIN { if (v != "") printf "%.0f %%", v; else print "-" }')"
        echo "| $sc ($u) | $tv | $(fmt_rate "$pf") | $(fmt_rate "$ph") | **$(ratio "$(num "$(val "$ph" RATE)")" "$(num "$(val "$pf" RATE)")")** | $(val "$pf" CPU) | $(val "$ph" CPU) | $(ratio "$(num "$(val "$ph" CPU)")" "$(num "$(val "$pf" CPU)")") | $(val "$pf" CLI) / $(val "$ph" CLI) | $rs | $(val "$pf" BAD) / $(val "$ph" BAD) |"
    done
    echo
    echo "Medians over the clean runs (other CPU ≤ $NOISE % of a core); \\* = no clean run in that cell, median of all its successful runs; failed runs never enter a median; flagged = noisy, timebound or failed. op = one handshake (hs-\*; the whole connection: banner, EHLO, STARTTLS, handshake, EHLO, QUIT) or one message (msg-\*; its share of the session's handshake included). Server CPU = every process of the server's session (Postfix: master, smtpd, cleanup, qmgr, trivial-rewrite, discard, tlsmgr, postlogd and whatever else master starts; reaped children included). msg-\* MB/s: $(val posthornd.msg-starttls MB) (posthornd, STARTTLS) and $(val postfix.msg-starttls MB) (Postfix, STARTTLS), 10^6 bytes of message."
    echo
    echo "Derived ratios, paired by round (each round's two runs on the same server instance; median and min-max over the rounds):"
    echo
    for s in "${SERVERS[@]}"; do
        IFS='|' read -r tr trr cr cx nn <<< "$(paired "$s" msg-starttls msg-plain)"
        name=$s; [[ $s == postfix ]] && name=Postfix
        echo "- **Cost of STARTTLS for $name** (msg-starttls / msg-plain, $CONNS × $MSGS messages of $LEN bytes): **$tr** ($trr) in messages/s, $cr in server CPU per message ($cx µs per message)."
    done
    for s in "${SERVERS[@]}"; do
        name=$s; [[ $s == postfix ]] && name=Postfix
        IFS='|' read -r rr rrr rc rx _ <<< "$(paired "$s" hs-resume hs-starttls)"
        IFS='|' read -r t2 t2r t2c _ _ <<< "$(paired "$s" hs-tls12 hs-starttls)"
        IFS='|' read -r im imr imc _ _ <<< "$(paired "$s" hs-implicit hs-starttls)"
        echo "- $name, against a full TLS 1.3 STARTTLS connection (hs-starttls): resumed (hs-resume) $rr ($rrr) in handshakes/s, $rc in server CPU per handshake; TLS 1.2 (hs-tls12) $t2 ($t2r), CPU $t2c; implicit TLS (hs-implicit) $im ($imr), CPU $imc."
    done
    for s in "${SERVERS[@]}"; do
        name=$s; [[ $s == postfix ]] && name=Postfix
        c13=$(num "$(val "$s.hs-starttls" CPU)") c12=$(num "$(val "$s.hs-tls12" CPU)")
        [[ -n $c13 && -n $RSA_SIGN_US ]] || continue
        echo "- One RSA-2048 signature (\`openssl speed\`, ${RSA_SIGN_US} µs) is $(awk -v a="$RSA_SIGN_US" -v b="$c13" 'BEGIN { printf "%.0f", 100 * a / b }') % of $name's server CPU per full TLS 1.3 connection (hs-starttls, $c13 µs)$( [[ -n $c12 ]] && awk -v a="$RSA_SIGN_US" -v b="$c12" 'BEGIN { printf ", %.0f %% of it with TLS 1.2 (%s µs)", 100 * a / b, b }'); the two X25519 operations (key generation and shared secret) $(awk -v a="${X25519_US:-0}" -v b="$c13" 'BEGIN { printf "%.0f", 200 * a / b }') %."
    done
    echo
    echo "<details><summary>Every run</summary>"
    echo
    echo "| round | scenario | server | ops | resumed | secs | ops/s | MB/s | server CPU s | µs/op | kernel share | server procs | client CPU s | client µs/op | other CPU % | status |"
    echo "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    awk -F'\t' 'NR > 1 { printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s%% | %s | %s | %s | %s | %s |\n", $1, $3, $2, $5, $6, $7, $8, $9, $10, $11, $12, $16, $13, $14, $15, $21 }' "$TSV"
    echo
    echo "</details>"
    echo
    echo "Raw rows: \`$(realpath --relative-to="$ROOT" "$TSV" 2>/dev/null || echo "$TSV")\` (not committed)."
    echo "<!-- tlsbench:end -->"
} > "$SECTION"

splice_doc_section tlsbench "$SECTION" "$DOC" "TLS: handshakes and messages over STARTTLS, posthornd beside Postfix"
log "updated $DOC; total ${T_SECS}s"

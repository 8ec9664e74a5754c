#!/usr/bin/env bash
# posthornd_bench.sh -- messages/second of posthornd delivering durably into
# Maildir (tmp/ -> fsync -> rename into new/ -> fsync new/, before the 250)
# beside esmtp_sink (accepts and discards, no storage), both driven by
# Postfix's smtp-source on 127.0.0.1. The ratio is the cost of durability.
#
# usage: bench/posthornd_bench.sh [-r ROUNDS] [-p PORT] [-m MSGS] [-T SECS] [-S] [-k] [-n]
#
#   -r ROUNDS  rounds (default 3); each round runs the load once against each
#              server, alternating (odd rounds posthornd first, even rounds
#              esmtp_sink first)
#   -p PORT    SMTP port on 127.0.0.1 (default 25270); posthornd's POP3
#              listener gets PORT+1
#   -m MSGS    messages per timed run (default 20000)
#   -T SECS    time limit of one timed run (default 120); a run cut short is
#              rated by the messages it completed and flagged 'timebound'
#   -S         skip the extra strace run that counts fsync calls
#   -k         keep the temporary directories (mail stores) of posthornd runs
#   -n         do not touch docs/PERFORMANCE.md (print the results only)
#
# Load of every timed run (4 KiB messages, 50 parallel sessions, a new
# connection per message, as smtp-source does without -d):
#   timeout SECS smtp-source -c -s 50 -m MSGS -l 4096 -f a@x.test -t bench@bench.test 127.0.0.1:PORT
#
# Per run: a fresh server (under setsid: stopped by its own process group,
# nothing else is signalled); posthornd gets a new temporary directory
# (mktemp -d under $BENCH_TMP, else $TMPDIR, else /tmp) with a users file
# holding bench@bench.test:{PLAIN}bench and is started as
#   posthornd --smtp 127.0.0.1:PORT --pop3 127.0.0.1:PORT+1 --mail-root DIR/mail --users DIR/users --max-connections-per-address 0 [--user root]
# (every session comes from 127.0.0.1: without the per-address limit's
# default of 30, 50 parallel sessions are not refused; --user root only
# when run as root: posthornd requires --user then), and
# is ready when it logs "event=ready"; esmtp_sink is started as
#   esmtp_sink -q -a 127.0.0.1 PORT
# Then a 200-message warm-up, then the timed run. Measured: wall time,
# server CPU (utime+stime from /proc/PID/stat), client CPU, other CPU on
# the machine (noise). For posthornd the run only counts as 'ok' when
# exactly warm-up + MSGS files are in DIR/mail/bench.test/bench/new and
# none in tmp/. One extra posthornd run of 2000 messages under
# `strace -f -c -e trace=fsync,fdatasync` counts the fsync calls.
#
# Results: a TSV in $BENCH_OUT (default build-bench/bench-results) and the
# section between the daemonbench markers of docs/PERFORMANCE.md.
# Needs /usr/sbin/smtp-source (Debian package postfix; installed as root
# when missing, see bench/lib.sh) and, for the fsync count, strace.
set -u
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=3 PORT=25270 MSGS=20000 TL=120 WRITE_DOC=1 KEEP=0 DO_STRACE=1
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
while getopts "r:p:m:T:Sknh" o; do
    case $o in
    r) ROUNDS=$OPTARG ;; p) PORT=$OPTARG ;; m) MSGS=$OPTARG ;; T) TL=$OPTARG ;;
    S) DO_STRACE=0 ;; k) KEEP=1 ;; n) WRITE_DOC=0 ;;
    h) usage; exit 0 ;; *) usage; exit 2 ;;
    esac
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ && $PORT =~ ^[0-9]+$ && $MSGS =~ ^[1-9][0-9]*$ && $TL =~ ^[1-9][0-9]*$ ]] \
    || { usage; exit 2; }
PORT2=$((PORT + 1))

BUILD_DIR=${BENCH_BUILD_DIR:-$ROOT/build-bench}
OUT_DIR=${BENCH_OUT:-$BUILD_DIR/bench-results}
TMP_BASE=${BENCH_TMP:-${TMPDIR:-/tmp}}
DOC=$ROOT/docs/PERFORMANCE.md
SINK=${SMTP_SINK:-/usr/sbin/smtp-sink}
SOURCE=${SMTP_SOURCE:-/usr/sbin/smtp-source}
FROM=a@x.test RCPT=bench@bench.test LEN=4096 SESS=50 WARM=200 STRACE_MSGS=2000
HZ=$(getconf CLK_TCK)
BENCH_NAME=posthornd_bench
# log, die, install_postfix, bench_build, start_server_argv, wait_banner,
# stop_server, proc_ticks, cpu_snap, nonlo_tx
. "$ROOT/bench/lib.sh"

mkdir -p "$OUT_DIR" || die "cannot create $OUT_DIR"
# smtp-sink is not used here, but it comes with smtp-source (same package)
if [[ ! -x $SINK || ! -x $SOURCE ]]; then
    install_postfix
fi
command -v cmake > /dev/null || { sh "$ROOT/scripts/deps.sh" || exit 1; }

log "building posthornd and esmtp_sink (Release) in $BUILD_DIR"
bench_build "$BUILD_DIR" 2 posthornd esmtp_sink
PHD=$BUILD_DIR/posthornd
[[ -x $PHD ]] || PHD=$(find "$BUILD_DIR" -maxdepth 3 -type f -name posthornd -perm -u+x | head -n1)
ESMTP=$BUILD_DIR/examples/esmtp_sink
[[ -n $PHD && -x $PHD ]] || die "posthornd not built"
[[ -x $ESMTP ]] || die "$ESMTP not built"

# ---------------------------------------------------------------- servers
RUN_DIR= STRACE_PID=
cleanup() {
    [[ -n $STRACE_PID ]] && { kill -INT "$STRACE_PID" 2>/dev/null; wait "$STRACE_PID" 2>/dev/null; }
    stop_server
    [[ -n $RUN_DIR && $KEEP -eq 0 ]] && rm -rf "$RUN_DIR"
}
trap 'cleanup' EXIT
trap 'cleanup; exit 130' INT TERM

start_server() { # NAME LOGFILE; posthornd: a fresh RUN_DIR
    case $1 in
    posthornd)
        RUN_DIR=$(mktemp -d "$TMP_BASE/posthornd_bench.XXXXXX") || die "mktemp failed"
        printf 'bench@bench.test:{PLAIN}bench\n' > "$RUN_DIR/users"
        SRV_ARGV=("$PHD" --smtp "127.0.0.1:$PORT" --pop3 "127.0.0.1:$PORT2"
                  --mail-root "$RUN_DIR/mail" --users "$RUN_DIR/users"
                  --max-connections-per-address 0)
        [[ $(id -u) -eq 0 ]] && SRV_ARGV+=(--user root) ;;
    esmtp_sink)
        SRV_ARGV=("$ESMTP" -q -a 127.0.0.1 "$PORT") ;;
    esac
    start_server_argv "$2"
}

wait_ready() { # NAME LOGFILE
    local i
    if [[ $1 == posthornd ]]; then
        for ((i = 0; i < 100; i++)); do
            grep -q 'event=ready' "$2" 2>/dev/null && break
            kill -0 "$SRV_PID" 2>/dev/null || return 1
            sleep 0.1
        done
        grep -q 'event=ready' "$2" 2>/dev/null || return 1
    fi
    wait_banner
}

finish_run_dir() {
    [[ -n $RUN_DIR ]] || return 0
    if [[ $KEEP -eq 1 ]]; then log "kept $RUN_DIR"; else rm -rf "$RUN_DIR"; fi
    RUN_DIR=
}

count_files() { find "$1" -maxdepth 1 -type f 2>/dev/null | wc -l; }
sum_bytes() { find "$1" -maxdepth 1 -type f -printf '%s\n' 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'; }
ss_count() { tr '\r' '\n' < "$1" | grep -E '^[0-9]+$' | tail -n1; }

# ---------------------------------------------------------------- runs
TSV=$OUT_DIR/posthornd_bench.$(date +%Y%m%d-%H%M%S).tsv
printf 'round\tserver\tmsgs\tsecs\tmsgs_per_s\tMB_per_s\tsrv_cpu_s\tsrv_cpu_us_per_msg\tsrv_sys_pct\tcli_cpu_s\tother_cpu_pct\tnew_files\ttmp_files\tavg_file_bytes\tstatus\n' > "$TSV"

run_one() { # ROUND SERVER
    local round=$1 srv=$2 base="$OUT_DIR/$2.daemon.r$1"
    start_server "$srv" "$base.server.log"
    if ! wait_ready "$srv" "$base.server.log"; then
        log "$srv did not come up:"; tail -n 5 "$base.server.log" >&2
        stop_server; finish_run_dir
        printf '%s\t%s\t0\t0\t0\t0\t\t\t\t\t\t\t\t\tfail(start)\n' "$round" "$srv" >> "$TSV"
        return
    fi
    local warm_n
    timeout 30 "$SOURCE" -c -s "$SESS" -m "$WARM" -l "$LEN" -f "$FROM" -t "$RCPT" \
        "127.0.0.1:$PORT" > "$base.warm.counter" 2>&1 || log "warm-up failed ($srv)"
    warm_n=$(ss_count "$base.warm.counter"); warm_n=${warm_n:-0}
    local s0 c0 t0 t1 rc
    s0=$(proc_ticks "$SRV_PID"); c0=$(cpu_snap)
    local TIMEFORMAT='%R %U %S'
    t0=$EPOCHREALTIME
    { time timeout "$TL" "$SOURCE" -c -s "$SESS" -m "$MSGS" -l "$LEN" -f "$FROM" -t "$RCPT" \
        "127.0.0.1:$PORT" > "$base.counter" 2> "$base.client.err"; } 2> "$base.time"
    rc=$?
    t1=$EPOCHREALTIME
    local s1 c1 su0 ss0 su1 ss1
    s1=$(proc_ticks "$SRV_PID"); c1=$(cpu_snap)
    stop_server
    read -r su0 ss0 <<< "$s0"; read -r su1 ss1 <<< "$s1"
    local done_n status=ok nnew=- ntmp=- avg=-
    done_n=$(ss_count "$base.counter"); done_n=${done_n:-0}
    if [[ $rc -eq 124 ]]; then status=timebound
    elif [[ $rc -ne 0 ]]; then status="fail($rc)"
    elif [[ $done_n -ne $MSGS ]]; then status=short
    fi
    if [[ $srv == posthornd ]]; then
        local md=$RUN_DIR/mail/bench.test/bench
        nnew=$(count_files "$md/new"); ntmp=$(count_files "$md/tmp")
        avg=$(awk -v b="$(sum_bytes "$md/new")" -v n="$nnew" 'BEGIN { if (n > 0) printf "%.0f", b / n; else print "-" }')
        if [[ $ntmp -ne 0 || $nnew -ne $((warm_n + done_n)) || $warm_n -ne $WARM ]]; then
            status="$status,files($nnew+$ntmp!=$warm_n+$done_n)"
        fi
        finish_run_dir
    fi
    local row
    row=$(awk -v t0="$t0" -v t1="$t1" -v n="$done_n" -v s="$((su1 - su0 + ss1 - ss0))" -v hz="$HZ" \
              -v k="$((ss1 - ss0))" -v len="$LEN" -v busy="$((c1 - c0))" -v tf="$(tail -n1 "$base.time")" '
        BEGIN {
            secs = t1 - t0; split(tf, c, " "); cli = c[2] + c[3]; srv = s / hz
            other = 100 * (busy / hz - srv - cli) / secs; if (other < 0) other = 0
            per = ""; if (n > 0) per = sprintf("%.0f", 1e6 * srv / n)
            sys = ""; if (s > 0) sys = sprintf("%.0f", 100 * k / s)
            printf "%d\t%.3f\t%.1f\t%.2f\t%.2f\t%s\t%s\t%.2f\t%.0f", n, secs, n / secs, n * len / secs / 1e6, srv, per, sys, cli, other
        }')
    local f; IFS=$'\t' read -r -a f <<< "$row"
    [[ ${f[8]} -gt ${NOISE_PCT:-30} ]] && status="$status,noisy"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$srv" "$row" "$nnew" "$ntmp" "$avg" "$status" >> "$TSV"
    log "round $round $srv: ${f[0]} msgs in ${f[1]} s = ${f[2]} msg/s (${f[3]} MB/s), server CPU ${f[4]} s (${f[5]} us/msg, ${f[6]:-?}% kernel), client ${f[7]} s, other ${f[8]}%, new/ $nnew tmp/ $ntmp [$status]"
}

# One extra posthornd run under strace -c: fsync calls per message.
FSYNC_CALLS= FSYNC_SECS= FSYNC_MSGS= FSYNC_NOTE=
strace_run() {
    local base="$OUT_DIR/posthornd.daemon.strace"
    if ! command -v strace > /dev/null; then FSYNC_NOTE="strace not installed"; return; fi
    start_server posthornd "$base.server.log"
    if ! wait_ready posthornd "$base.server.log"; then
        stop_server; finish_run_dir; FSYNC_NOTE="posthornd did not come up"; return
    fi
    timeout 30 "$SOURCE" -s "$SESS" -m "$WARM" -l "$LEN" -f "$FROM" -t "$RCPT" "127.0.0.1:$PORT" > /dev/null 2>&1
    strace -f -c -e trace=fsync,fdatasync -o "$base.strace" -p "$SRV_PID" 2> "$base.strace.err" &
    STRACE_PID=$!
    sleep 1
    if ! kill -0 "$STRACE_PID" 2>/dev/null; then
        FSYNC_NOTE="strace could not attach ($(head -c 200 "$base.strace.err"))"
        STRACE_PID=; stop_server; finish_run_dir; return
    fi
    local t0 t1
    t0=$EPOCHREALTIME
    timeout "$TL" "$SOURCE" -c -s "$SESS" -m "$STRACE_MSGS" -l "$LEN" -f "$FROM" -t "$RCPT" \
        "127.0.0.1:$PORT" > "$base.counter" 2>&1
    t1=$EPOCHREALTIME
    kill -INT "$STRACE_PID" 2>/dev/null; wait "$STRACE_PID" 2>/dev/null; STRACE_PID=
    stop_server; finish_run_dir
    FSYNC_MSGS=$(ss_count "$base.counter"); FSYNC_MSGS=${FSYNC_MSGS:-0}
    FSYNC_CALLS=$(awk '$NF == "fsync" || $NF == "fdatasync" { s += $4 } END { print s + 0 }' "$base.strace")
    FSYNC_SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    log "strace run: $FSYNC_CALLS fsync/fdatasync calls for $FSYNC_MSGS messages in $FSYNC_SECS s (under strace)"
}

# Synchronous 4 KiB writes on the temp dir's file system: the disk's flush latency.
DSYNC_US=
dsync_probe() {
    local d; d=$(mktemp -d "$TMP_BASE/posthornd_bench.dd.XXXXXX") || return
    DSYNC_US=$(dd if=/dev/zero of="$d/x" bs=4k count=500 oflag=dsync 2>&1 |
               awk '/copied/ { for (i = 1; i <= NF; i++) if ($i == "s,") { printf "%.0f", 1e6 * $(i-1) / 500; exit } }')
    rm -rf "$d"
}

DF_LINE=$(df -T "$TMP_BASE" | awk 'NR == 2 { printf "%s, %s, mounted on %s", $1, $2, $7 }')
MNT_OPTS=$(findmnt -no OPTIONS -T "$TMP_BASE" 2>/dev/null)
log "posthornd: $PHD; esmtp_sink: $ESMTP; smtp-source: $(dpkg-query -W -f='postfix ${Version}' postfix 2>/dev/null)"
log "temp dirs under $TMP_BASE: $DF_LINE ($MNT_OPTS)"
log "$ROUNDS rounds x 2 servers, $MSGS msgs each, port $PORT, limit ${TL}s per run; rows -> $TSV"
T_START=$(date -u '+%Y-%m-%d %H:%M UTC')
NONLO0=$(nonlo_tx)
dsync_probe
for ((r = 1; r <= ROUNDS; r++)); do
    if ((r % 2)); then order=(posthornd esmtp_sink); else order=(esmtp_sink posthornd); fi
    for srv in "${order[@]}"; do
        run_one "$r" "$srv"
        sleep 1
    done
done
[[ $DO_STRACE -eq 1 ]] && strace_run
T_END=$(date -u '+%H:%M UTC')
NONLO=$(( $(nonlo_tx) - NONLO0 ))

# ---------------------------------------------------------------- summary
# per server: median msgs/s (range), MB/s, CPU us/msg, kernel share, bad runs
SUMMARY=$(awk -F'\t' '
    function median(list,   a, n, i, j, t) {
        n = split(list, a, " ")
        for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
        if (n == 0) return 0
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function range(list,   a, n, i, lo, hi) {
        n = split(list, a, " "); lo = hi = a[1] + 0
        for (i = 2; i <= n; i++) { if (a[i] + 0 < lo) lo = a[i] + 0; if (a[i] + 0 > hi) hi = a[i] + 0 }
        return sprintf("%.0f-%.0f", lo, hi)
    }
    NR > 1 { s = $2
             if ($15 ~ /^(ok|timebound)/ && $15 !~ /files/) { rate[s] = rate[s] " " $5; mb[s] = mb[s] " " $6; cpu[s] = cpu[s] " " $8; sys[s] = sys[s] " " $9; n[s]++ }
             if ($15 != "ok") bad[s]++ }
    END {
        for (i = 1; i <= 2; i++) {
            s = i == 1 ? "posthornd" : "esmtp_sink"
            printf "%s\t%.0f\t%s\t%.1f\t%.0f\t%.0f\t%d\t%d\n", s, median(rate[s]), range(rate[s]), median(mb[s]), median(cpu[s]), median(sys[s]), n[s], bad[s]
        }
    }' "$TSV")
read -r _ P_RATE P_RANGE P_MB P_CPU P_SYS P_N P_BAD <<< "$(sed -n 1p <<< "$SUMMARY")"
read -r _ E_RATE E_RANGE E_MB E_CPU E_SYS E_N E_BAD <<< "$(sed -n 2p <<< "$SUMMARY")"
RATIO=$(awk -v p="$P_RATE" -v e="$E_RATE" 'BEGIN { if (e > 0) printf "%.3f", p / e; else print "-" }')
CPU_RATIO=$(awk -v p="$P_CPU" -v e="$E_CPU" 'BEGIN { if (e > 0) printf "%.1f", p / e; else print "-" }')
FSYNC_PER_MSG= FSYNC_PER_S_STRACE= FSYNC_PER_S_EST=
if [[ -n $FSYNC_CALLS && ${FSYNC_MSGS:-0} -gt 0 ]]; then
    FSYNC_PER_MSG=$(awk -v c="$FSYNC_CALLS" -v m="$FSYNC_MSGS" 'BEGIN { printf "%.2f", c / m }')
    FSYNC_PER_S_STRACE=$(awk -v c="$FSYNC_CALLS" -v t="$FSYNC_SECS" 'BEGIN { printf "%.0f", c / t }')
    FSYNC_PER_S_EST=$(awk -v f="$FSYNC_PER_MSG" -v r="$P_RATE" 'BEGIN { printf "%.0f", f * r }')
fi
log "medians: posthornd $P_RATE msgs/s ($P_RANGE), $P_MB MB/s, $P_CPU us/msg; esmtp_sink $E_RATE msgs/s ($E_RANGE), $E_MB MB/s, $E_CPU us/msg; ratio posthornd/esmtp_sink $RATIO; bad runs $P_BAD / $E_BAD"
[[ -n $FSYNC_PER_MSG ]] && log "fsync: $FSYNC_PER_MSG per message; about $FSYNC_PER_S_EST/s at posthornd's median rate ($FSYNC_PER_S_STRACE/s under strace)"
[[ -n $FSYNC_NOTE ]] && log "fsync count: $FSYNC_NOTE"

[[ $WRITE_DOC -eq 1 ]] || { log "results not written to $DOC (-n)"; exit 0; }

# ---------------------------------------------------------------- document
SECTION=$(mktemp)
{
    echo "<!-- daemonbench:begin (generated by bench/posthornd_bench.sh; edits inside are overwritten) -->"
    echo "### Latest daemon results"
    echo
    echo "- Date: $T_START to $T_END; $ROUNDS rounds, servers alternating (odd rounds posthornd first); load \`smtp-source -c -s $SESS -m $MSGS -l $LEN\` (a new connection per message), $WARM-message warm-up per run."
    echo "- Machine: \`nproc\` = $(nproc), $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(awk '/MemTotal/ { printf "%.0f GiB RAM", $2 / 1048576 }' /proc/meminfo); kernel $(uname -r); $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")."
    echo "- Mail store (temp dir under \`$TMP_BASE\`, \`df -T\`): $DF_LINE; mount options \`$MNT_OPTS\`. Synchronous 4 KiB write (\`dd oflag=dsync\`, 500 writes) on it: ${DSYNC_US:-?} µs each."
    echo "- posthornd and esmtp_sink: CMake Release, $(cc --version 2>/dev/null | head -n1); commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes'); posthornd run as $( [[ $(id -u) -eq 0 ]] && echo 'root with `--user root`' || echo "$(id -un)")."
    echo "- smtp-source: $(dpkg-query -W -f='postfix ${Version}' postfix 2>/dev/null). Packets sent on non-loopback interfaces during the whole run (any process): $NONLO."
    echo
    echo "| server | msgs/s (min-max) | MB/s | server CPU µs/msg | kernel share of server CPU | runs counted / flagged (noisy, short, …) |"
    echo "|---|---:|---:|---:|---:|---:|"
    echo "| esmtp_sink (no storage) | $E_RATE ($E_RANGE) | $E_MB | $E_CPU | $E_SYS % | $E_N / $E_BAD |"
    echo "| posthornd (Maildir, fsync) | $P_RATE ($P_RANGE) | $P_MB | $P_CPU | $P_SYS % | $P_N / $P_BAD |"
    echo
    echo "**Ratio posthornd / esmtp_sink: $RATIO** in messages/second (the cost of durability: posthornd delivers at $(awk -v r="$RATIO" 'BEGIN { printf "%.0f", 100 * r }') % of the discard rate), ${CPU_RATIO}x the server CPU per message."
    echo
    if [[ -n $FSYNC_PER_MSG ]]; then
        echo "fsync: **$FSYNC_PER_MSG fsync calls per message** (strace -c -f -e trace=fsync,fdatasync on one extra posthornd run of $FSYNC_MSGS messages: $FSYNC_CALLS calls in $FSYNC_SECS s, $FSYNC_PER_S_STRACE/s under strace), i.e. about **$FSYNC_PER_S_EST fsyncs/s** at the median rate above."
    else
        echo "fsync count: not measured (${FSYNC_NOTE:-skipped with -S})."
    fi
    echo
    echo "MB/s = messages × $LEN bytes (smtp-source's \`-l\`) / wall time, 10^6 bytes; a stored file is about $(awk -F'\t' 'NR > 1 && $2 == "posthornd" && $14 != "-" { print $14; exit }' "$TSV") bytes (headers added by smtp-source and posthornd's Received: line). Medians over the runs that completed with the right file count (timebound runs are rated by what they completed)."
    echo
    echo "<details><summary>Every run</summary>"
    echo
    echo "| round | server | msgs | secs | msgs/s | MB/s | server CPU s | µs/msg | kernel share | client CPU s | other CPU % | files new/ | files tmp/ | status |"
    echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    awk -F'\t' 'NR > 1 { printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s%% | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $15 }' "$TSV"
    echo
    echo "</details>"
    echo
    echo "Raw rows: \`$(realpath --relative-to="$ROOT" "$TSV" 2>/dev/null || echo "$TSV")\` (not committed)."
    echo "<!-- daemonbench:end -->"
} > "$SECTION"

splice_doc_section daemonbench "$SECTION" "$DOC" "posthornd: durable Maildir delivery beside esmtp_sink"
log "updated $DOC"

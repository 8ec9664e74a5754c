#!/usr/bin/env bash
# smtp_sink_bench.sh -- messages/second of posthorn's esmtp_sink beside
# Postfix's smtp-sink, both driven by Postfix's smtp-source on 127.0.0.1.
#
# usage: bench/smtp_sink_bench.sh [-r ROUNDS] [-p PORT] [-T SECS] [-n]
#
#   -r ROUNDS  rounds (default 15); in each round every scenario runs once
#              against each server, the servers alternating (odd rounds
#              smtp-sink first, even rounds posthorn first). A run during
#              which other processes used more than NOISE_PCT (env, default
#              30) percent of a core is flagged 'noisy' and run again (at
#              most 2 more times); medians use the clean runs of a cell when
#              it has any
#   -p PORT    port on 127.0.0.1 (default 25260)
#   -T SECS    time limit of one load run (default 25); a run cut short is
#              rated by the messages it completed and flagged 'timebound'
#   -n         do not touch docs/PERFORMANCE.md (print the results only)
#
# PH_BUILD_DIR (env): a CMake build directory made beforehand (e.g. by
# `make build`, or of another commit's worktree): its examples/esmtp_sink is
# measured as it is, nothing is built. Default: the script builds
# esmtp_sink (Release) from this tree in BENCH_BUILD_DIR (build-bench/).
#
# Scenarios (1 KiB messages, sender a@x.test, recipient b@y.test):
#   reuse    smtp-source -d -s 20 -m 20000 -l 1024   (20 sessions, connections reused)
#   newconn  smtp-source    -s 20 -m 5000  -l 1024   (a new connection per message)
#
# Every run has a freshly started server (under setsid: it is stopped by its
# own process group, nothing else is signalled), a short warm-up, then one
# timed smtp-source run under `timeout`. Measured: wall time of the load run
# (messages/second), the server's CPU time (utime+stime from /proc/PID/stat,
# read just before stopping it, minus the value after the warm-up), the
# client's CPU time, and the CPU used by other processes on the machine
# during the run (noise). Results: a TSV in $BENCH_OUT (default
# build-bench/bench-results) and the section between the bench markers of
# docs/PERFORMANCE.md.
#
# Needs /usr/sbin/smtp-sink and /usr/sbin/smtp-source (Debian package
# postfix): as root they are installed without starting the postfix
# service; otherwise the apt-get command is printed.
set -u
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=15 PORT=25260 TL=25 WRITE_DOC=1
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
while getopts "r:p:T:nh" o; do
    case $o in
    r) ROUNDS=$OPTARG ;; p) PORT=$OPTARG ;; T) TL=$OPTARG ;; n) WRITE_DOC=0 ;;
    h) usage; exit 0 ;; *) usage; exit 2 ;;
    esac
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ && $PORT =~ ^[0-9]+$ && $TL =~ ^[1-9][0-9]*$ ]] || { usage; exit 2; }

BUILD_DIR=${BENCH_BUILD_DIR:-$ROOT/build-bench}
OUT_DIR=${BENCH_OUT:-$BUILD_DIR/bench-results}
DOC=$ROOT/docs/PERFORMANCE.md
SINK=${SMTP_SINK:-/usr/sbin/smtp-sink}      # overridable for tests of this script
SOURCE=${SMTP_SOURCE:-/usr/sbin/smtp-source}
FROM=a@x.test RCPT=b@y.test LEN=1024
HZ=$(getconf CLK_TCK)

BENCH_NAME=smtp_sink_bench
# log, die, install_postfix, bench_build, start_server_argv, wait_banner,
# stop_server, proc_ticks, cpu_snap, nonlo_tx
. "$ROOT/bench/lib.sh"

mkdir -p "$OUT_DIR" || die "cannot create $OUT_DIR"
if [[ ! -x $SINK || ! -x $SOURCE ]]; then
    install_postfix
fi
command -v cmake > /dev/null || { sh "$ROOT/scripts/deps.sh" || exit 1; }

if [[ -n ${PH_BUILD_DIR:-} ]]; then
    ESMTP=$PH_BUILD_DIR/examples/esmtp_sink
    BUILT="$(build_desc "$PH_BUILD_DIR")"
    log "using the prebuilt $ESMTP ($BUILT)"
else
    log "building esmtp_sink (Release) in $BUILD_DIR"
    bench_build "$BUILD_DIR" "$(nproc)" esmtp_sink
    ESMTP=$BUILD_DIR/examples/esmtp_sink
    BUILT="CMake Release, $(cc --version 2>/dev/null | head -n1); commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$( [[ -n $(git -C "$ROOT" status --porcelain -- src include examples 2>/dev/null) ]] && echo ' plus the uncommitted changes in src/include/examples of the working tree at the time')"
fi
[[ -x $ESMTP ]] || die "$ESMTP not built"

# ---------------------------------------------------------------- servers
# server_cmd NAME: fills SRV_ARGV
server_cmd() {
    case $1 in
    smtp-sink)
        # -m: concurrency cap (default 256); 4096: listen backlog.
        # smtp-sink refuses to run as root without -u.
        SRV_ARGV=("$SINK")
        [[ $(id -u) -eq 0 ]] && SRV_ARGV+=(-u nobody)
        SRV_ARGV+=(-m 20000 "127.0.0.1:$PORT" 4096) ;;
    posthorn)
        SRV_ARGV=("$ESMTP" -q -a 127.0.0.1 "$PORT") ;;
    esac
}

start_server() { # NAME LOGFILE
    server_cmd "$1"
    start_server_argv "$2"
}

trap 'stop_server' EXIT
trap 'stop_server; exit 130' INT TERM

# ---------------------------------------------------------------- runs
scenario_args() {
    case $1 in
    reuse)   SS_ARGS=(-d -s 20); MSGS=20000 ;;
    newconn) SS_ARGS=(-s 20);    MSGS=5000 ;;
    esac
}

TSV=$OUT_DIR/smtp_sink_bench.$(date +%Y%m%d-%H%M%S).tsv
printf 'round\tserver\tscenario\tmsgs\tsecs\tmsgs_per_s\tsrv_cpu_s\tsrv_cpu_us_per_msg\tcli_cpu_s\tother_cpu_pct\tnonlo_tx_pkts\tstatus\tsrv_sys_pct\n' > "$TSV"

run_one() { # ROUND SERVER SCENARIO
    local round=$1 srv=$2 sc=$3 base="$OUT_DIR/$2.$3.r$1"
    scenario_args "$sc"
    start_server "$srv" "$base.server.log"
    if ! wait_banner; then
        log "$srv did not come up:"; tail -n 5 "$base.server.log" >&2
        stop_server
        printf '%s\t%s\t%s\t0\t0\t0\t\t\t\t\t\tfail(start)\n' "$round" "$srv" "$sc" >> "$TSV"
        return
    fi
    [[ $(pgid_of "$SRV_PID") == "$SRV_PID" ]] || log "warning: $srv (pid $SRV_PID) is not its own process group"
    # warm-up: the same kind of load, few messages
    timeout 20 "$SOURCE" "${SS_ARGS[@]}" -m 200 -l "$LEN" -f "$FROM" -t "$RCPT" \
        "127.0.0.1:$PORT" > /dev/null 2>&1 || log "warm-up failed ($srv $sc)"
    local s0 c0 tx0 t0 t1 rc
    s0=$(proc_ticks "$SRV_PID"); c0=$(cpu_snap); tx0=$(nonlo_tx)
    local TIMEFORMAT='%R %U %S'
    t0=$EPOCHREALTIME
    { time timeout "$TL" "$SOURCE" -c "${SS_ARGS[@]}" -m "$MSGS" -l "$LEN" -f "$FROM" -t "$RCPT" \
        "127.0.0.1:$PORT" > "$base.counter" 2> "$base.client.err"; } 2> "$base.time"
    rc=$?
    t1=$EPOCHREALTIME
    local s1 c1 txd su0 ss0 su1 ss1
    s1=$(proc_ticks "$SRV_PID"); c1=$(cpu_snap); txd=$(( $(nonlo_tx) - tx0 ))
    stop_server
    read -r su0 ss0 <<< "$s0"; read -r su1 ss1 <<< "$s1"
    local done_n status=ok
    done_n=$(tr '\r' '\n' < "$base.counter" | grep -E '^[0-9]+$' | tail -n1)
    done_n=${done_n:-0}
    if [[ $rc -eq 124 ]]; then status=timebound
    elif [[ $rc -ne 0 ]]; then status="fail($rc)"
    elif [[ $done_n -ne $MSGS ]]; then status=short
    fi
    local row
    row=$(awk -v t0="$t0" -v t1="$t1" -v n="$done_n" -v s="$((su1 - su0 + ss1 - ss0))" -v hz="$HZ" \
              -v busy="$((c1 - c0))" -v tf="$(tail -n1 "$base.time")" '
        BEGIN {
            secs = t1 - t0; split(tf, c, " "); cli = c[2] + c[3]; srv = s / hz
            other = 100 * (busy / hz - srv - cli) / secs; if (other < 0) other = 0
            per = ""; if (n > 0) per = sprintf("%.0f", 1e6 * srv / n)
            printf "%d\t%.3f\t%.1f\t%.2f\t%s\t%.2f\t%.0f", n, secs, n / secs, srv, per, cli, other
        }')
    local f; IFS=$'\t' read -r -a f <<< "$row"
    LAST_NOISY=0
    if [[ ${f[6]} -gt ${NOISE_PCT:-30} ]]; then status="$status,noisy"; LAST_NOISY=1; fi
    local sys_pct
    sys_pct=$(awk -v u="$((su1 - su0))" -v k="$((ss1 - ss0))" 'BEGIN { if (u + k > 0) printf "%.0f", 100 * k / (u + k) }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$srv" "$sc" "$row" "$txd" "$status" "$sys_pct" >> "$TSV"
    log "round $round $sc $srv: ${f[0]} msgs in ${f[1]} s = ${f[2]} msg/s, server CPU ${f[3]} s (${f[4]} us/msg, ${sys_pct:-?}% kernel), client ${f[5]} s, other ${f[6]}% [$status]"
}

log "posthorn: $ESMTP; smtp-sink: $(dpkg-query -W -f='postfix ${Version}' postfix 2>/dev/null)"
log "$ROUNDS rounds x 2 scenarios x 2 servers, port $PORT, limit ${TL}s per run; rows -> $TSV"
T_START=$(date -u '+%Y-%m-%d %H:%M UTC')
NONLO0=$(nonlo_tx)
for ((r = 1; r <= ROUNDS; r++)); do
    for sc in reuse newconn; do
        if ((r % 2)); then order=(smtp-sink posthorn); else order=(posthorn smtp-sink); fi
        for srv in "${order[@]}"; do
            for ((try = 0; try < 3; try++)); do
                run_one "$r" "$srv" "$sc"
                sleep 0.5
                [[ $LAST_NOISY -eq 0 ]] && break
            done
        done
    done
done
T_END=$(date -u '+%H:%M UTC')

# ---------------------------------------------------------------- summary
# medians per server x scenario, and the ratio posthorn / smtp-sink
SUMMARY=$(awk -F'\t' '
    function median(list,   a, n, i, j, t) {
        n = split(list, a, " ")
        for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
        if (n == 0) return ""
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function range(list,   a, n, i, lo, hi) {
        n = split(list, a, " "); lo = hi = a[1] + 0
        for (i = 2; i <= n; i++) { if (a[i] + 0 < lo) lo = a[i] + 0; if (a[i] + 0 > hi) hi = a[i] + 0 }
        return sprintf("%.0f-%.0f", lo, hi)
    }
    # clean rows ("ok") of a cell if it has any, else every row (flag "*")
    NR > 1 { k = $2 SUBSEP $3
             if ($12 == "ok") { crate[k] = crate[k] " " $6; ccpu[k] = ccpu[k] " " $8; csys[k] = csys[k] " " $13
                                last[k SUBSEP $1] = $6 }
             arate[k] = arate[k] " " $6; if ($8 != "") acpu[k] = acpu[k] " " $8; asys[k] = asys[k] " " $13
             if ($12 !~ /^ok/) bad[k]++
             if ($1 > nr) nr = $1 }
    END {
        split("reuse newconn", scs, " "); split("smtp-sink posthorn", sv, " ")
        for (i = 1; i <= 2; i++) {
            sc = scs[i]
            for (j = 1; j <= 2; j++) {
                k = sv[j] SUBSEP sc
                if (crate[k] != "") { l = crate[k]; c[j] = median(ccpu[k]); y[j] = median(csys[k]); m[j] = "" }
                else { l = arate[k]; c[j] = median(acpu[k]); y[j] = median(asys[k]); m[j] = "*" }
                r[j] = median(l); g[j] = range(l)
            }
            ratio = 0; if (r[1] > 0) ratio = r[2] / r[1]
            met = (r[2] >= r[1] && bad["posthorn" SUBSEP sc] == 0) ? 1 : 0
            wins = 0; paired = 0
            for (rd = 1; rd <= nr; rd++) {
                ks = "smtp-sink" SUBSEP sc SUBSEP rd; kp = "posthorn" SUBSEP sc SUBSEP rd
                if ((ks in last) && (kp in last)) { paired++; if (last[kp] + 0 >= last[ks] + 0) wins++ }
            }
            printf "%s\t%.0f%s\t%.0f%s\t%.3f\t%.0f\t%.0f\t%d\t%d\t%d\t%s\t%s\t%d\t%d\t%.0f\t%.0f\n", sc, r[1], m[1], r[2], m[2], ratio,
                   c[1], c[2], bad["smtp-sink" SUBSEP sc], bad["posthorn" SUBSEP sc], met, g[1], g[2], wins, paired, y[1], y[2]
        }
    }' "$TSV")

GOAL_MET=1
log "medians (msgs/s):"
while IFS=$'\t' read -r sc ps pp ratio cs cp bs bp met gs gp wins paired ys yp; do
    log "  $sc: smtp-sink $ps ($gs), posthorn $pp ($gp), ratio $ratio, posthorn >= smtp-sink in $wins of $paired rounds; server CPU us/msg $cs vs $cp (kernel $ys% vs $yp%); failed/short runs $bs / $bp"
    [[ $met -eq 1 ]] || GOAL_MET=0
done <<< "$SUMMARY"
if [[ $GOAL_MET -eq 1 ]]; then log "goal (posthorn >= smtp-sink in msgs/s, every scenario): MET"
else log "goal (posthorn >= smtp-sink in msgs/s, every scenario): NOT MET"; fi

[[ $WRITE_DOC -eq 1 ]] || exit 0

# ---------------------------------------------------------------- doc
SECTION=$(mktemp)
{
    echo "<!-- bench:begin (generated by bench/smtp_sink_bench.sh; edits inside are overwritten) -->"
    echo "## Latest results"
    echo
    echo "- Date: $T_START to $T_END; $ROUNDS rounds, servers alternating."
    echo "- Machine: \`nproc\` = $(nproc), $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM; kernel $(uname -r); $( . /etc/os-release 2>/dev/null; echo "${PRETTY_NAME:-unknown OS}")."
    echo "- posthorn: esmtp_sink, $BUILT."
    echo "- smtp-sink / smtp-source: $(dpkg-query -W -f='postfix ${Version}' postfix 2>/dev/null) (Debian)."
    echo "- Packets sent on non-loopback interfaces during the whole run (any process on the machine): $(( $(nonlo_tx) - NONLO0 ))."
    echo
    echo "### Medians"
    echo
    echo "| scenario | smtp-sink msgs/s (min-max) | posthorn msgs/s (min-max) | ratio posthorn/smtp-sink | rounds posthorn ≥ smtp-sink | smtp-sink CPU µs/msg | posthorn CPU µs/msg | kernel share of server CPU, smtp-sink / posthorn |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    while IFS=$'\t' read -r sc ps pp ratio cs cp bs bp met gs gp wins paired ys yp; do
        case $sc in
        reuse)   d='reuse (`-d -s 20 -m 20000`)' ;;
        newconn) d='newconn (`-s 20 -m 5000`)' ;;
        esac
        echo "| $d | $ps ($gs) | $pp ($gp) | **$ratio** | $wins of $paired | $cs | $cp | $ys % / $yp % |"
    done <<< "$SUMMARY"
    echo
    echo "Medians over the clean runs (other CPU ≤ ${NOISE_PCT:-30} % of a core); \\* = no clean run in that cell, median of all its runs. \"Rounds posthorn ≥ smtp-sink\" compares the two servers' clean runs of the same round."
    echo
    if [[ $GOAL_MET -eq 1 ]]; then
        echo "**Goal met**: the median messages/second of esmtp_sink is at least that of smtp-sink in every scenario (median of $ROUNDS rounds), with no failed or short run."
    else
        echo "**Goal not met** (strictly): in at least one scenario the median messages/second of esmtp_sink is below that of smtp-sink (ratio < 1.000 above), or one of its runs failed. Compare the ratio with the min-max spread and the per-round wins before reading much into a gap of a few per cent."
    fi
    echo
    echo "### Every run"
    echo
    echo "Wall time of the smtp-source run; server CPU = utime+stime of the server process during the timed run; client CPU = smtp-source (and \`timeout\`); other CPU = everything else on the machine, in % of one core (noise from other work)."
    echo
    echo "| round | scenario | server | msgs | secs | msgs/s | server CPU s | server CPU µs/msg | server kernel share | client CPU s | other CPU % | status |"
    echo "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    awk -F'\t' 'NR > 1 { printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s%% | %s | %s | %s |\n", $1, $3, $2, $4, $5, $6, $7, $8, $13, $9, $10, $12 }' "$TSV"
    echo
    echo "Raw rows: \`$(realpath --relative-to="$ROOT" "$TSV" 2>/dev/null || echo "$TSV")\` (not committed)."
    echo "<!-- bench:end -->"
} > "$SECTION"

splice_doc_section bench "$SECTION" "$DOC" "Performance"
log "updated $DOC"

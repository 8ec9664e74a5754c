# bench/lib.sh -- helpers shared by bench/smtp_sink_bench.sh,
# bench/posthornd_bench.sh, bench/pop3_bench.sh and bench/tls_bench.sh.
# Sourced, not run.
#
# The caller sets, before using the helpers below:
#   SINK SOURCE   paths of Postfix's smtp-sink and smtp-source
#   OUT_DIR       directory for logs (exists before install_postfix)
#   PORT          the SMTP port on 127.0.0.1 the server listens on
#   BENCH_NAME    name used in messages (default smtp_sink_bench)
# and, per server, SRV_ARGV (the server's command line) before
# start_server_argv. SRV_PID is the running server's PID (= its process
# group), empty when none runs.

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# bench_init NAME: what pop3_bench.sh and tls_bench.sh set alike (after
# ROOT): BENCH_NAME, BUILD_DIR and OUT_DIR (env BENCH_BUILD_DIR, BENCH_OUT),
# DOC, HZ, NOISE (env NOISE_PCT, default 30: percent of a core other
# processes may use before a run is flagged noisy); creates OUT_DIR and sets
# STAMP and RUNLOG=$OUT_DIR/NAME.STAMP, the prefix of the run's files.
bench_init() {
    BENCH_NAME=$1
    BUILD_DIR=${BENCH_BUILD_DIR:-$ROOT/build-bench}
    OUT_DIR=${BENCH_OUT:-$BUILD_DIR/bench-results}
    DOC=$ROOT/docs/PERFORMANCE.md
    HZ=$(getconf CLK_TCK)
    NOISE=${NOISE_PCT:-30}
    mkdir -p "$OUT_DIR" || die "cannot create $OUT_DIR"
    STAMP=$(date +%Y%m%d-%H%M%S)
    RUNLOG=$OUT_DIR/$1.$STAMP
}

# ---------------------------------------------------------------- tools
POLICY=/usr/sbin/policy-rc.d POLICY_BAK=
POLICY_OURS=0       # set to 1 by an installer that created $POLICY itself
restore_policy() {
    if [[ -n $POLICY_BAK ]]; then
        mv -f "$POLICY_BAK" "$POLICY"; POLICY_BAK=
    elif [[ $POLICY_OURS -eq 1 || -f $POLICY.smtp_sink_bench ]]; then
        rm -f "$POLICY" "$POLICY.smtp_sink_bench"; POLICY_OURS=0
    fi
}

install_postfix() {
    local cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postfix"
    if [[ $(id -u) -ne 0 ]]; then
        echo "${BENCH_NAME:-smtp_sink_bench}: $SINK / $SOURCE missing (Debian package postfix)." >&2
        echo "Install them without starting the postfix service, as root:" >&2
        echo "  echo 'postfix postfix/main_mailer_type select No configuration' | sudo debconf-set-selections" >&2
        echo "  printf '#!/bin/sh\\nexit 101\\n' | sudo tee /usr/sbin/policy-rc.d && sudo chmod 755 /usr/sbin/policy-rc.d" >&2
        echo "  sudo sh -c '$cmd'" >&2
        echo "  sudo rm /usr/sbin/policy-rc.d   # if it was not there before" >&2
        exit 1
    fi
    log "installing postfix (for smtp-sink/smtp-source; the service is not started)"
    export DEBIAN_FRONTEND=noninteractive
    echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
    # invoke-rc.d asks policy-rc.d; 101 = "action forbidden": no service start.
    # An existing policy that already forbids is left as it is; any other is
    # set aside and put back afterwards.
    local had_policy=0 rc=0
    if [[ -x $POLICY ]]; then
        "$POLICY" postfix start > /dev/null 2>&1; rc=$?
        had_policy=1
    fi
    trap 'restore_policy' EXIT
    if [[ $had_policy -eq 0 || $rc -ne 101 ]]; then
        if [[ -e $POLICY ]]; then
            POLICY_BAK=$POLICY.bak.$$
            cp -p "$POLICY" "$POLICY_BAK"
        else
            : > "$POLICY.smtp_sink_bench"   # marker: ours, remove afterwards
        fi
        printf '#!/bin/sh\nexit 101\n' > "$POLICY"
        chmod 755 "$POLICY"
    fi
    apt-get update -qq || die "apt-get update failed"
    apt-get install -y -qq --no-install-recommends postfix > "$OUT_DIR/apt-install.log" 2>&1 \
        || { tail -n 20 "$OUT_DIR/apt-install.log" >&2; restore_policy; die "apt-get install postfix failed"; }
    restore_policy
    trap - EXIT
    [[ -x $SINK && -x $SOURCE ]] || die "postfix installed but $SINK / $SOURCE missing"
}

# bench_build BUILD_DIR JOBS TARGET...: CMake Release, tests off; log in
# $OUT_DIR/cmake.log
bench_build() {
    local dir=$1 jobs=$2; shift 2
    cmake -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=Release -DPH_TESTS=OFF > "$OUT_DIR/cmake.log" 2>&1 \
        || { tail -n 20 "$OUT_DIR/cmake.log" >&2; die "cmake configure failed"; }
    cmake --build "$dir" -j "$jobs" --target "$@" >> "$OUT_DIR/cmake.log" 2>&1 \
        || { tail -n 20 "$OUT_DIR/cmake.log" >&2; die "build failed"; }
}

# build_desc DIR: "CMake TYPE, COMPILER; commit C" of the CMake build in
# DIR (its cache names the source tree and the build type), for the results
# of a run on a prebuilt PH_BUILD_DIR
build_desc() {
    local src type
    src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$1/CMakeCache.txt" 2>/dev/null)
    type=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$1/CMakeCache.txt" 2>/dev/null)
    printf 'CMake %s (prebuilt in %s), %s; commit %s' "${type:-?}" "$1" \
        "$(cc --version 2>/dev/null | head -n1)" \
        "$(git -C "${src:-$1}" rev-parse --short HEAD 2>/dev/null || echo '?')"
}

# ---------------------------------------------------------------- servers
SRV_PID=
start_server_argv() { # LOGFILE: runs "${SRV_ARGV[@]}" in a new session
    # The background subshell is not a process-group leader, so setsid does
    # not fork: $! is the server itself, leader of its own new group.
    ( exec setsid "${SRV_ARGV[@]}" ) > "$1" 2>&1 < /dev/null &
    SRV_PID=$!
}

pgid_of() { awk '{ sub(/^.*\) /, ""); print $3 }' "/proc/$1/stat" 2>/dev/null; }

wait_banner() { # until a connection gets "220"
    local i line
    for ((i = 0; i < 100; i++)); do
        line=$(timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT && head -n1 <&3" 2>/dev/null) || true
        [[ $line == 220* ]] && return 0
        kill -0 "$SRV_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

stop_server() { # TERM to the server's own process group, KILL after 5 s
    [[ -n $SRV_PID ]] || return 0
    if [[ $(pgid_of "$SRV_PID") == "$SRV_PID" ]]; then
        kill -TERM -- "-$SRV_PID" 2>/dev/null
    else
        kill -TERM "$SRV_PID" 2>/dev/null
    fi
    local i
    for ((i = 0; i < 50; i++)); do
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL -- "-$SRV_PID" 2>/dev/null || kill -KILL "$SRV_PID" 2>/dev/null
    wait "$SRV_PID" 2>/dev/null
    SRV_PID=
}

# ---------------------------------------------------------------- rounds
# round_order ROUND: ORDER = the caller's SERVERS, reversed in even rounds
# (no server always runs first)
round_order() {
    local j
    ORDER=()
    if (($1 % 2)); then ORDER=("${SERVERS[@]}"); return; fi
    for ((j = ${#SERVERS[@]} - 1; j >= 0; j--)); do ORDER+=("${SERVERS[j]}"); done
}

# run_cell ROUND SERVER SCENARIO PAUSE: the caller's run_one, again while
# it flags its run noisy (LAST_NOISY=1), 3 runs at most; PAUSE seconds of
# sleep after each
run_cell() {
    local try
    for ((try = 0; try < 3; try++)); do
        run_one "$1" "$2" "$3"
        sleep "$4"
        [[ $LAST_NOISY -eq 0 ]] && break
    done
}

# ---------------------------------------------------------------- CPU
# CPU ticks (utime+stime+cutime+cstime) of one process. Prints "user system".
proc_ticks() { awk '{ sub(/^.*\) /, ""); print $12+$14, $13+$15 }' "/proc/$1/stat" 2>/dev/null || echo 0 0; }

# CPU ticks (utime+stime+cutime+cstime) summed over the processes of one
# session (setsid made the server's PID its id; a multi-process server's
# children stay in it, and the time of children that exited is in their
# reaper's cutime/cstime). Prints "user system nprocs". cat, not awk on the
# glob: a process may exit between the glob and the read.
tree_ticks() {
    cat /proc/[0-9]*/stat 2>/dev/null | awk -v sid="$1" '
        { sub(/^.*\) /, "") }
        $4 == sid { u += $12 + $14; s += $13 + $15; n++ }
        END { print u + 0, s + 0, n + 0 }'
}

# kv FILE KEY: the value of KEY=value in FILE's key=value words (pop3load,
# tlsload output)
kv() { tr ' ' '\n' < "$1" | sed -n "s/^$2=//p" | head -n1; }

cpu_snap() { awk '/^cpu /{ idle = $5 + $6; t = 0; for (i = 2; i <= NF; i++) t += $i; print t - idle; exit }' /proc/stat; }
nonlo_tx() { awk -F'[: ]+' 'NR > 2 && $2 != "lo" { s += $12 } END { print s + 0 }' /proc/net/dev; }

# cpu_row SECS OPS TICKS KTICKS BUSY CLI [PERFMT]: the CPU figures of one
# timed run from the server's ticks over it (TICKS, KTICKS of them in the
# kernel: tree_ticks before and after), the machine's busy ticks over it
# (BUSY: cpu_snap before and after) and the client's CPU seconds (CLI).
# Prints "srv_s|srv_us_per_op|sys_pct|cli_s|cli_us_per_op|other_pct";
# PERFMT is the printf format of srv_us_per_op (default %.0f). Needs HZ.
cpu_row() {
    awk -v secs="$1" -v ops="$2" -v t="$3" -v k="$4" -v busy="$5" -v cli="$6" \
        -v pf="${7:-%.0f}" -v hz="$HZ" '
        BEGIN {
            srv = t / hz
            other = 0; if (secs > 0) other = 100 * (busy / hz - srv - cli) / secs
            if (other < 0) other = 0
            per = ""; cper = ""
            if (ops > 0) { per = sprintf(pf, 1e6 * srv / ops); cper = sprintf("%.0f", 1e6 * cli / ops) }
            sys = ""; if (t > 0) sys = sprintf("%.0f", 100 * k / t)
            printf "%.2f|%s|%s|%.2f|%s|%.0f", srv, per, sys, cli, cper, other
        }'
}

# AWK_STATS: awk functions to put in front of a summary program,
#   awk -F'\t' "$AWK_STATS"' NR > 1 { ... }' TSV
# median(LIST) of a space-separated list of numbers ("" when empty) and
# range(LIST), its "min-max" ("-" when empty).
AWK_STATS='
    function median(list,   a, n, i, j, t) {
        n = split(list, a, " ")
        if (n == 0) return ""
        for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function range(list,   a, n, i, lo, hi) {
        n = split(list, a, " "); if (n == 0) return "-"
        lo = hi = a[1] + 0
        for (i = 2; i <= n; i++) { if (a[i] + 0 < lo) lo = a[i] + 0; if (a[i] + 0 > hi) hi = a[i] + 0 }
        return sprintf("%.0f-%.0f", lo, hi)
    }
'

# port_busy PORT: true when something listens on 127.0.0.1:PORT
port_busy() { timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2> /dev/null; }

# splice_doc_section MARKER SECTION DOC TITLE: replaces the lines between
# "<!-- MARKER:begin" and "<!-- MARKER:end" in DOC by the file SECTION
# (which holds both marker lines); appends it, under "# TITLE", when DOC
# has no such markers yet. Removes SECTION.
splice_doc_section() {
    local marker=$1 section=$2 doc=$3 title=$4
    if [[ -f $doc ]] && grep -q "^<!-- $marker:begin" "$doc" &&
       grep -q "^<!-- $marker:end" "$doc"; then
        awk -v sec="$section" -v b="^<!-- $marker:begin" -v e="^<!-- $marker:end" '
            $0 ~ b { while ((getline l < sec) > 0) print l; skip = 1; next }
            $0 ~ e { skip = 0; next }
            !skip' "$doc" > "$doc.tmp" && mv "$doc.tmp" "$doc"
    else
        mkdir -p "$(dirname "$doc")"
        {
            [[ -f $doc ]] && { cat "$doc"; echo; }
            printf '# %s\n\n' "$title"
            cat "$section"
        } > "$doc.tmp" && mv "$doc.tmp" "$doc"
    fi
    rm -f "$section"
}

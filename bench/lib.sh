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

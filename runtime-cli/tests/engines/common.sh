# Shared by the real-engine tests (containerd.sh, docker.sh, podman.sh): sourced, not run.
# Each engine script drives a real engine, started by the script itself with private state
# directories, with RUNTIME (husk, or runc as the control) at the bottom, and records one line
# per check. Nothing is mocked: what is checked is what a user of the engine sees.
#   ENGINE_RUNTIME=/path/to/husk bash runtime-cli/tests/engines/containerd.sh
# Environment:
#   ENGINE_RUNTIME   the runtime binary under test (default: target/debug/husk)
#   ENGINE_WORK      work directory (default: a fresh mktemp -d, removed at exit)
#   HUSK_TEST_NO_SKIP=1  a missing prerequisite is a failure, not a skip (set by scripts/test.sh)

set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
RUNTIME=${ENGINE_RUNTIME:-$repo/target/debug/husk}
RUNTIME_NAME=$(basename "$RUNTIME")
checks_passed=0
checks_failed=0
declare -a failed_names=()

note() { printf '    %s\n' "$*"; }

pass() { checks_passed=$((checks_passed + 1)); printf 'PASS  %s\n' "$1"; }

fail() {
    # fail NAME [DETAIL...]
    local name=$1
    shift
    checks_failed=$((checks_failed + 1))
    failed_names+=("$name")
    printf 'FAIL  %s\n' "$name"
    [ $# -eq 0 ] || printf '      %s\n' "$@"
}

check() {
    # check NAME COMMAND...: PASS when COMMAND exits 0; its output is shown on failure.
    local name=$1 out rc
    shift
    out=$("$@" 2>&1)
    rc=$?
    if [ $rc -eq 0 ]; then pass "$name"; else fail "$name" "exit $rc: $*" "$out"; fi
}

check_eq() {
    # check_eq NAME EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "expected: $2" "got:      $3"; fi
}

check_contains() {
    # check_contains NAME NEEDLE HAYSTACK
    case $3 in
        *"$2"*) pass "$1" ;;
        *) fail "$1" "expected to contain: $2" "got: $3" ;;
    esac
}

skip_all() {
    # skip_all REASON: the engine cannot run here. A skip is a failure under HUSK_TEST_NO_SKIP=1.
    if [ "${HUSK_TEST_NO_SKIP:-0}" = 1 ]; then
        echo "FAIL  prerequisites: $1 (HUSK_TEST_NO_SKIP=1)"
        exit 1
    fi
    echo "SKIPPED: $1"
    exit 0
}

wait_for() {
    # wait_for SECONDS COMMAND...: poll COMMAND every 50 ms until it succeeds; 1 on timeout.
    # For waiting on an engine's own asynchronous state (a daemon's socket, a task's status),
    # never as a stand-in for an ordering the runtime should guarantee.
    local deadline=$(($(date +%s) + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        sleep 0.05
    done
}

mk_rootfs() {
    # mk_rootfs DIR: a busybox-static root filesystem (relative applet links) in DIR.
    local dir=$1 bb applet
    bb=$(command -v busybox) || return 1
    mkdir -p "$dir"/{bin,proc,sys,dev,etc,tmp,root,usr/bin,sbin,run,var}
    cp "$bb" "$dir/bin/busybox"
    for applet in $("$bb" --list); do
        [ "$applet" = busybox ] && continue
        [ -e "$dir/bin/$applet" ] || ln -s busybox "$dir/bin/$applet"
    done
    ln -sf ../../bin/busybox "$dir/usr/bin/env"
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$dir/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' > "$dir/etc/group"
    chmod 1777 "$dir/tmp"
}

work_dir() {
    # work_dir: sets WORK (ENGINE_WORK or a fresh temp dir, removed by the caller's cleanup).
    if [ -n "${ENGINE_WORK:-}" ]; then
        WORK=$ENGINE_WORK
        mkdir -p "$WORK"
    else
        WORK=$(mktemp -d /tmp/husk-engine.XXXXXX)
    fi
}

summary() {
    # summary ENGINE: the last line is `ENGINE with RUNTIME: N passed, M failed`; exit status.
    printf '\n%s with %s: %d passed, %d failed\n' "$1" "$RUNTIME_NAME" "$checks_passed" "$checks_failed"
    [ ${#failed_names[@]} -eq 0 ] || printf '  failed: %s\n' "${failed_names[@]}"
    [ "$checks_failed" -eq 0 ]
}

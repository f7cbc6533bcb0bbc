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

mk_oci_archive() {
    # mk_oci_archive ROOTFS OUT.tar REF: pack ROOTFS as a one-layer OCI image layout archive
    # (oci-layout, index.json, blobs/sha256/...) whose index names the image REF
    # (e.g. localhost/busybox:husk) — what `ctr images import` reads. Made with tar, sha256sum
    # and jq only: no registry, no download, no image tool.
    local rootfs=$1 out=$2 ref=$3 d layer cfg man
    d=$(mktemp -d "${TMPDIR:-/tmp}/husk-oci.XXXXXX") || return 1
    mkdir -p "$d/blobs/sha256"
    # The layer is an uncompressed tar, so its digest is also its diff id.
    tar -C "$rootfs" --numeric-owner -cf "$d/layer.tar" . || { rm -rf "$d"; return 1; }
    layer=$(sha256sum "$d/layer.tar" | cut -d' ' -f1)
    mv "$d/layer.tar" "$d/blobs/sha256/$layer"
    jq -cn --arg diff "sha256:$layer" '{
        architecture: "amd64", os: "linux",
        config: {Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                 Cmd: ["sh"], WorkingDir: "/"},
        rootfs: {type: "layers", diff_ids: [$diff]}}' > "$d/config.json"
    cfg=$(sha256sum "$d/config.json" | cut -d' ' -f1)
    mv "$d/config.json" "$d/blobs/sha256/$cfg"
    jq -cn --arg cfg "sha256:$cfg" --argjson cs "$(stat -c %s "$d/blobs/sha256/$cfg")" \
        --arg layer "sha256:$layer" --argjson ls "$(stat -c %s "$d/blobs/sha256/$layer")" '{
        schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cfg, size: $cs},
        layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar", digest: $layer, size: $ls}]}' \
        > "$d/manifest.json"
    man=$(sha256sum "$d/manifest.json" | cut -d' ' -f1)
    jq -cn --arg man "sha256:$man" --argjson ms "$(stat -c %s "$d/manifest.json")" --arg ref "$ref" '{
        schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
        manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $man, size: $ms,
                     platform: {architecture: "amd64", os: "linux"},
                     annotations: {"io.containerd.image.name": $ref,
                                   "org.opencontainers.image.ref.name": ($ref | sub(".*:"; ""))}}]}' \
        > "$d/index.json"
    mv "$d/manifest.json" "$d/blobs/sha256/$man"
    printf '{"imageLayoutVersion":"1.0.0"}' > "$d/oci-layout"
    tar -C "$d" -cf "$out" oci-layout index.json blobs
    local rc=$?
    rm -rf "$d"
    return $rc
}

kill_wait() {
    # kill_wait SECONDS PID...: SIGTERM each PID (processes this script started), SIGKILL what
    # is still there after SECONDS, then wait until each is gone (a zombie counts as gone:
    # see environment.md about PID 1 reaping late).
    local secs=$1 p
    shift
    for p in "$@"; do kill -TERM "$p" 2>/dev/null; done
    for p in "$@"; do
        wait_for "$secs" pid_gone "$p" || kill -KILL "$p" 2>/dev/null
        wait_for 10 pid_gone "$p"
        wait "$p" 2>/dev/null
    done
    return 0
}

pid_gone() {
    # pid_gone PID: the process does not exist or is a zombie.
    local st
    st=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null)
    [ -z "$st" ] || [ "$st" = Z ]
}

pids_with_arg() {
    # pids_with_arg STRING: pids of processes whose command line contains STRING (e.g. a
    # private socket path, so only what this script started matches).
    local f p c
    for f in /proc/[0-9]*/cmdline; do
        p=${f#/proc/}
        p=${p%/cmdline}
        c=$(tr '\0' ' ' 2>/dev/null < "$f") || continue
        [[ $c == *"$1"* ]] && echo "$p"
    done
    return 0
}

umount_under() {
    # umount_under DIR: lazily unmount every mount at or below DIR, deepest first.
    local m
    awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo |
        sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
    return 0
}

kill_cgroup_leftovers() {
    # kill_cgroup_leftovers NAME: thaw the containers below cgroup NAME (a failed check may
    # leave one frozen: a frozen v1 task acts on no signal) and SIGKILL what is left in them.
    local p
    for p in /sys/fs/cgroup/freezer/"$1"/*/freezer.state; do [ -f "$p" ] && echo THAWED > "$p"; done
    for p in $(cat /sys/fs/cgroup/pids/"$1"/*/cgroup.procs 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    return 0
}

rm_cgroups() {
    # rm_cgroups NAME: remove the cgroup NAME (and everything below it) in every v1 hierarchy
    # and in cgroup2, deepest first; cgroups with processes left in them stay (and are listed).
    local base dir
    for base in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
        [ -d "$base$1" ] || continue
        find "$base$1" -depth -type d 2>/dev/null | while read -r dir; do
            rmdir "$dir" 2>/dev/null || note "cgroup left behind: $dir"
        done
    done
    return 0
}

#!/usr/bin/env bash
# podman 4.3 (Debian's podman + conmon) with RUNTIME at the bottom: `podman --runtime RUNTIME`,
# private storage, run and tmp dirs, a private containers.conf, no network, and a busybox
# root filesystem given with `--rootfs` (no image, no registry). Every check is what a podman
# user sees: output, exit codes, `podman inspect` states.
#   ENGINE_RUNTIME=/path/to/husk bash runtime-cli/tests/engines/podman.sh
#   ENGINE_RUNTIME=/usr/sbin/runc bash runtime-cli/tests/engines/podman.sh   (the control)
# Exit 0 only when every check passed. Needs root, podman, conmon, script(1), rustc (to build
# the static sd_notify probe).
#
# podman calls the runtime WITHOUT --root for start/kill/delete/pause/update (compat.md), so the
# runtime keeps its state in its default root (/run/husk, /run/runc); the cleanup deletes the
# containers this script made there by id.

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root"
for tool in podman conmon script; do
    command -v "$tool" >/dev/null || skip_all "$tool is not installed (scripts/setup.sh installs it)"
done
command -v busybox >/dev/null || skip_all "busybox-static is not installed"
[ -x "$RUNTIME" ] || skip_all "runtime $RUNTIME not found (cargo build -p husk-cli)"

work_dir
ROOTFS=$WORK/rootfs
declare -a made_ids=()
# A cgroup parent of our own (podman's default, /libpod_parent, is shared with any other podman
# on the machine, and conmon's cgroup lives under it too): removed at the end.
CG_PARENT=husk-podman-$$

cleanup() {
    local id pid mnt cg
    # Containers first (podman stops conmon and the runtime deletes its state) ...
    pm rm --all --force --time 0 >/dev/null 2>&1
    # ... then whatever a broken runtime may have left: runtime state, conmon, cgroups.
    for id in "${made_ids[@]}"; do
        "$RUNTIME" delete --force "$id" >/dev/null 2>&1
    done
    for pid in $(pgrep -f -- "$WORK" 2>/dev/null); do
        [ "$pid" != $$ ] && kill -9 "$pid" 2>/dev/null
    done
    # Mounts podman made under the private dirs (shm, overlay), deepest first.
    grep -F " $WORK" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r mnt; do
        umount -l "$mnt" 2>/dev/null
    done
    # The cgroup parent: container cgroups and conmon's first (rmdir removes only empty ones).
    find /sys/fs/cgroup/*/"$CG_PARENT" -depth -type d -exec rmdir {} + 2>/dev/null
    [ -z "${ENGINE_WORK:-}" ] && rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mk_rootfs "$ROOTFS" || skip_all "cannot write a busybox root filesystem"
# A file under /tmp of the image: `--read-only` mounts a tmpfs there with `tmpcopyup`, which must
# copy it up.
echo copied > "$ROOTFS/tmp/from-image"
mkdir -p "$ROOTFS/mnt"
mkdir -p "$WORK"/{storage,run,tmp,cni,vartmp}

# The sd_notify probe (busybox cannot send a unix datagram): std-only Rust, linked statically.
PROBE_SRC=$repo/runtime-cli/tests/probes/sd_notify.rs
have_probe=0
if command -v rustc >/dev/null &&
    rustc -O -C target-feature=+crt-static -o "$ROOTFS/bin/sd_notify" "$PROBE_SRC" 2>"$WORK/rustc.err"; then
    have_probe=1
fi

# podman's defaults do not fit this machine: nofile 1048576 and nproc above the hard limits
# (no CAP_SYS_RESOURCE, environment.md); podman adds --log-format=json only for runtimes named
# in runtime_supports_json (compat.md). File locks keep podman off the host-wide
# /dev/shm/libpod_lock.
cat >"$WORK/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
netns = "none"

[network]
network_config_dir = "$WORK/cni"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
lock_type = "file"
runtime_supports_json = ["husk", "runc", "crun"]
EOF
export CONTAINERS_CONF=$WORK/containers.conf
# `podman update` writes its resources file with os.CreateTemp: keep it private too.
export TMPDIR=$WORK/vartmp
unset NOTIFY_SOCKET LISTEN_FDS LISTEN_PID

# podman with the private dirs and RUNTIME, as a script so that script(1) can run it too;
# `run` gets the private cgroup parent.
cat >"$WORK/pm" <<EOF
#!/bin/sh
if [ "\$1" = run ]; then
    shift
    set -- run --cgroup-parent "/$CG_PARENT" "\$@"
fi
exec podman --root "$WORK/storage" --runroot "$WORK/run" --tmpdir "$WORK/tmp" \\
    --runtime "$RUNTIME" --cgroup-manager cgroupfs --events-backend file "\$@"
EOF
chmod +x "$WORK/pm"
pm() { "$WORK/pm" "$@"; }

# run_ctr NAME ARGS...: `podman run -d --name NAME ARGS...`; records the id for cleanup.
run_ctr() {
    local name=$1 id
    shift
    id=$(pm run -d --name "$name" "$@" 2>"$WORK/$name.err") || {
        cat "$WORK/$name.err"
        return 1
    }
    made_ids+=("$id")
}

status_of() { pm inspect -f '{{.State.Status}}' "$1" 2>&1; }
exit_code_of() { pm inspect -f '{{.State.ExitCode}}' "$1" 2>&1; }
status_is() { [ "$(status_of "$1")" = "$2" ]; }

echo "podman $(podman --version | awk '{print $3}'), conmon $(conmon --version | awk 'NR==1{print $3}'), runtime $RUNTIME"

# --- run in the foreground ---------------------------------------------------------------
out=$(pm run --rm --rootfs "$ROOTFS" sh -c 'echo hello; echo to-stderr >&2' 2>&1)
check_eq "run --rm: output" "$(printf 'hello\nto-stderr')" "$out"
pm run --rm --rootfs "$ROOTFS" true
check_eq "run --rm: exit 0" 0 $?
pm run --rm --rootfs "$ROOTFS" sh -c 'exit 3'
check_eq "run --rm: exit 3 propagates" 3 $?

out=$(echo piped-in | pm run --rm -i --rootfs "$ROOTFS" cat 2>&1)
check_eq "run -i: stdin reaches the container" "piped-in" "$out"
out=$(pm run --rm --user 1000:1001 --workdir /tmp --env FOO=bar --rootfs "$ROOTFS" \
    sh -c 'echo $(id -u):$(id -g) $(pwd) $FOO' 2>&1)
check_eq "run --user --workdir --env" "1000:1001 /tmp bar" "$out"
out=$(pm run --rm --memory 32m --pids-limit 50 --rootfs "$ROOTFS" \
    cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max 2>&1)
check_eq "run --memory --pids-limit: the cgroup limits" "$(printf '33554432\n50')" "$out"

# -t: a pty from conmon's console socket; script(1) gives podman a terminal of its own.
out=$(script -qec "$(printf '%q ' "$WORK/pm" run --rm -t --rootfs "$ROOTFS" \
    sh -c 'tty; test -t 0 && echo stdin-is-a-tty; exit 4')" /dev/null 2>&1)
rc=$?
check_contains "run -t: the process has a pty" "/dev/pts/" "$out"
check_contains "run -t: stdin is the tty" "stdin-is-a-tty" "$out"
check_eq "run -t: exit code through the pty" 4 "$rc"

# A missing program: runc's wording, mapped by podman to 127, with the runtime's message.
out=$(pm run --rm --rootfs "$ROOTFS" /nonexistent 2>&1)
rc=$?
check_eq "missing executable: exit 127" 127 "$rc"
check_contains "missing executable: the runtime's error text" \
    'exec: "/nonexistent": stat /nonexistent: no such file or directory' "$out"
check_contains "missing executable: podman names the runtime" "$RUNTIME" "$out"
out=$(pm run --rm --rootfs "$ROOTFS" no-such-program 2>&1)
check_eq "program not in PATH: exit 127" 127 $?
check_contains "program not in PATH: message" 'executable file not found in $PATH' "$out"

# --- a detached container: exec, pause, top, stats, update --------------------------------
if run_ctr c1 --rootfs "$ROOTFS" sh -c 'trap "exit 7" TERM; while :; do sleep 1; done'; then
    pass "run -d"
    check_eq "run -d: status running" running "$(status_of c1)"
    out=$(pm exec c1 sh -c 'echo exec-out; echo exec-err >&2; exit 5' 2>&1)
    check_eq "exec: exit code 5" 5 $?
    check_eq "exec: output" "$(printf 'exec-out\nexec-err')" "$out"
    out=$(pm exec c1 cat /proc/1/cmdline | tr '\0' ' ')
    check_contains "exec: runs in the container's pid namespace" "trap" "$out"
    out=$(script -qec "$(printf '%q ' "$WORK/pm" exec -it c1 \
        sh -c 'tty; test -t 0 && echo stdin-is-a-tty; exit 6')" /dev/null 2>&1)
    rc=$?
    check_contains "exec -it: a pty" "/dev/pts/" "$out"
    check_contains "exec -it: stdin is the tty" "stdin-is-a-tty" "$out"
    check_eq "exec -it: exit code" 6 "$rc"
    out=$(pm exec c1 /nonexistent 2>&1)
    check_eq "exec of a missing program: exit 127" 127 $?

    check "pause" pm pause c1
    check_eq "pause: inspect says paused" paused "$(status_of c1)"
    check "unpause" pm unpause c1
    check_eq "unpause: inspect says running" running "$(status_of c1)"
    check_eq "unpause: the container works" ok "$(pm exec c1 echo ok 2>&1)"

    out=$(pm top c1 2>&1)
    check_contains "top: lists the container's process" "while" "$out"
    out=$(pm stats --no-stream --format '{{.Name}} {{.PIDs}}' c1 2>&1)
    check_contains "stats --no-stream: a line for the container" "c1 " "$out"

    # podman 4.3 has `update`: it calls `RUNTIME update --resources=FILE ID`.
    if pm update --memory 64m c1 >/dev/null 2>"$WORK/update.err"; then
        pass "update --memory 64m"
        out=$(pm exec c1 cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>&1)
        check_eq "update: the memory limit reached the cgroup" 67108864 "$out"
    else
        fail "update --memory 64m" "$(cat "$WORK/update.err")"
    fi

    # stop: SIGTERM first; the trap exits 7 well before the 10 s timeout.
    start=$(date +%s)
    check "stop" pm stop -t 10 c1
    check_eq "stop: exit status from the SIGTERM trap" 7 "$(exit_code_of c1)"
    check_eq "stop: status exited" exited "$(status_of c1)"
    [ $(($(date +%s) - start)) -lt 10 ] && pass "stop: no timeout needed" ||
        fail "stop: no timeout needed" "took $(($(date +%s) - start)) s"

    # restart: a stopped container runs again (a new create + start by conmon).
    check "restart" pm restart c1
    check_eq "restart: status running" running "$(status_of c1)"
    check_eq "restart: exec works" ok "$(pm exec c1 echo ok 2>&1)"

    check "kill" pm kill c1
    wait_for 10 status_is c1 exited
    check_eq "kill: status exited" exited "$(status_of c1)"
    check_eq "kill: exit 137 (SIGKILL is podman's default)" 137 "$(exit_code_of c1)"

    check "rm" pm rm c1
    out=$(pm inspect c1 2>&1)
    check_contains "rm: podman no longer knows it" "no such object" "$out"
    "$RUNTIME" state "${made_ids[-1]}" >/dev/null 2>&1
    check_eq "rm: the runtime's state is gone" 1 $?
else
    fail "run -d" "$(cat "$WORK/c1.err")"
fi

# kill with a signal to a stopped-on-signal container, and restart of a running one.
if run_ctr c2 --rootfs "$ROOTFS" sleep 600; then
    pid1=$(pm inspect -f '{{.State.Pid}}' c2)
    check "restart (running)" pm restart -t 1 c2
    pid2=$(pm inspect -f '{{.State.Pid}}' c2)
    [ -n "$pid2" ] && [ "$pid2" != 0 ] && [ "$pid1" != "$pid2" ] && pass "restart: a new process" ||
        fail "restart: a new process" "pid before $pid1, after $pid2"
    check "rm -f (running)" pm rm -f -t 0 c2
    "$RUNTIME" state "${made_ids[-1]}" >/dev/null 2>&1
    check_eq "rm -f: the runtime's state is gone" 1 $?
else
    fail "run -d c2" "$(cat "$WORK/c2.err")"
fi

# --- read-only root, privileged ------------------------------------------------------------
out=$(pm run --rm --read-only --rootfs "$ROOTFS" sh -c \
    'touch /etc/x 2>/dev/null && echo rootfs-writable; cat /tmp/from-image; touch /tmp/new && echo tmp-writable; grep " /tmp " /proc/mounts | cut -d" " -f3' 2>&1)
check_eq "run --read-only: root read-only, /tmp a tmpfs with the image's files (tmpcopyup)" \
    "$(printf 'copied\ntmp-writable\ntmpfs')" "$out"

host_bnd=$(awk '/^CapBnd/ {print $2}' /proc/self/status)
out=$(pm run --rm --privileged --rootfs "$ROOTFS" sh -c 'grep -E "^Cap(Eff|Bnd)" /proc/self/status' 2>&1)
check_eq "run --privileged: every capability of the host's bounding set" \
    "$(printf 'CapEff:\t%s\nCapBnd:\t%s' "$host_bnd" "$host_bnd")" "$out"
out=$(pm run --rm --privileged --rootfs "$ROOTFS" sh -c 'ls /dev | grep -c . ; mount -t tmpfs t /mnt && echo mounted' 2>&1)
check_contains "run --privileged: mount works" "mounted" "$out"

# --- sd_notify through podman (--sdnotify=container) -----------------------------------------
# podman 4.3 proxies the socket itself (its own socket bind-mounted into the container); the
# host socket gets MAINPID=<conmon> and READY=1 once the container sent READY=1.
if [ $have_probe = 1 ]; then
    "$ROOTFS/bin/sd_notify" --listen "$WORK/host-notify.sock" 30 2 >"$WORK/notify.out" 2>&1 &
    listener=$!
    wait_for 10 test -S "$WORK/host-notify.sock"
    if NOTIFY_SOCKET=$WORK/host-notify.sock run_ctr sdn --sdnotify=container --rootfs "$ROOTFS" sh -c \
        'sd_notify READY=1 STATUS=serving; sleep 600'; then
        wait "$listener"
        check_eq "sdnotify=container: the host socket got the notification" 0 $?
        out=$(tr '\n' ' ' <"$WORK/notify.out")
        check_contains "sdnotify=container: READY=1" "READY=1" "$out"
        check_contains "sdnotify=container: MAINPID" "MAINPID=" "$out"
        pm rm -f -t 0 sdn >/dev/null 2>&1
    else
        kill "$listener" 2>/dev/null
        fail "sdnotify=container run" "$(cat "$WORK/sdn.err")"
    fi
else
    fail "sd_notify probe" "rustc could not build $PROBE_SRC: $(cat "$WORK/rustc.err" 2>/dev/null)"
fi

# --- nothing left -------------------------------------------------------------------------
pm rm --all --force --time 0 >/dev/null 2>&1
check_eq "no container left in podman" "" "$(pm ps -aq 2>&1)"
left=""
for id in "${made_ids[@]}"; do
    "$RUNTIME" state "$id" >/dev/null 2>&1 && left="$left $id"
    compgen -G "/sys/fs/cgroup/*/$CG_PARENT/libpod-$id" >/dev/null && left="$left cgroup:$id"
done
check_eq "no runtime state or cgroup left" "" "$left"
check_eq "no conmon left" "" "$(pgrep -f -- "conmon.*$WORK" 2>/dev/null)"

summary podman

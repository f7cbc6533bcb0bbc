#!/usr/bin/env bash
# containerd 1.6 + ctr with RUNTIME at the bottom: a private containerd (its own config, root,
# state and socket; no CRI plugin), the runc v2 shim told to use RUNTIME with
# `ctr run --runc-binary`, and a busybox image built here (tar + jq, no registry) and imported
# with `ctr images import`. Every check compares what ctr shows with what a user expects, and
# the same script passes with runc as the control:
#   ENGINE_RUNTIME=/usr/sbin/runc bash runtime-cli/tests/engines/containerd.sh
# Not covered because ctr 1.6 has no command for it: `update` (no `ctr task update`) and
# creating a container with a chosen runtime binary without running it (`ctr container
# create` has no --runc-binary). Checkpoint/restore: CRIU does not work on this kernel.
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

for tool in containerd ctr containerd-shim-runc-v2 busybox jq script timeout; do
    command -v "$tool" >/dev/null || skip_all "$tool is not installed (apt-get install containerd busybox-static jq util-linux)"
done
[ "$(id -u)" = 0 ] || skip_all "containerd needs root"
[ -x "$RUNTIME" ] || skip_all "no runtime at $RUNTIME (cargo build -p husk-cli)"

work_dir
# A user namespace's root (--uidmap) must be able to reach the rootfs below WORK.
chmod 755 "$WORK"
CT=$WORK/containerd
SOCK=$CT/containerd.sock
# The namespace names the containers' cgroups (/sys/fs/cgroup/*/NS/ID): one per run, so that
# cleaning up never touches another run's (or another engine's) cgroups.
NS=husk-engines-$$
IMG=localhost/busybox:husk-engines
CONTAINERD_PID=

# (-k: `ctr run` and `docker run` pass SIGTERM on to the container, whose PID 1 may ignore it.)
ctrc() { timeout -k 10 60 ctr --address "$SOCK" --namespace "$NS" "$@"; }
# Every `ctr run` uses RUNTIME, keeps the runtime's state and ctr's fifos under CT.
RUN=(--runc-binary "$RUNTIME" --runc-root "$CT/runc" --fifo-dir "$CT/fifo")
EXEC=(--fifo-dir "$CT/fifo")

task_status() { ctrc task ls 2>/dev/null | awk -v id="$1" '$1 == id { print $3 }'; }
task_pid() { ctrc task ls 2>/dev/null | awk -v id="$1" '$1 == id { print $2 }'; }
status_is() { [ "$(task_status "$1")" = "$2" ]; }
strip_tty() {
    # What a terminal shows, as plain lines: no CR, and no echo of the NUL that script(1)
    # writes to its pty when its own stdin (/dev/null) ends.
    tr -d '\r\0' | sed 's/\^@//g; s/\^D//g'
}
# Inside a container with a terminal: ctr sets the window size only after the process has
# started (ctr's own order), so wait (at most 10 s) until it is there before printing it.
# (busybox `stty size` exits 0 even when it fails, hence the test of its output.)
SIZE_SH='i=0; until s=$(stty size 2>/dev/null); [ -n "$s" ] && [ "$s" != "0 0" ]; do i=$((i+1)); [ $i -lt 200 ] || break; sleep 0.05; done; echo "$s"'

cleanup() {
    set +e
    local t p
    if [ -n "$CONTAINERD_PID" ] && ! pid_gone "$CONTAINERD_PID"; then
        for t in $(ctrc task ls -q 2>/dev/null); do
            ctrc task resume "$t" >/dev/null 2>&1
            ctrc task kill -a -s SIGKILL "$t" >/dev/null 2>&1
            wait_for 10 status_is "$t" STOPPED
            ctrc task rm -f "$t" >/dev/null 2>&1
        done
        for t in $(ctrc containers ls -q 2>/dev/null); do ctrc containers rm "$t" >/dev/null 2>&1; done
        kill_wait 10 "$CONTAINERD_PID"
    fi
    # Shims outlive containerd by design; these are ours (they name our socket).
    # shellcheck disable=SC2046
    kill_wait 5 $(pids_with_arg "$SOCK")
    # Container processes left in our cgroups (a failed check may leave one frozen).
    kill_cgroup_leftovers "$NS"
    umount_under "$WORK"
    rm_cgroups "$NS"
    # The default runtime root, used when ctr drops --runc-root (see the start of containerd).
    rmdir "/run/containerd/runc/$NS" 2>/dev/null
    [ -n "${ENGINE_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "containerd $(containerd --version | awk '{print $3}') with $RUNTIME (work dir $WORK, namespace $NS)"

# ---- the image: a busybox root filesystem as an OCI image layout archive ----
mk_rootfs "$WORK/rootfs" || skip_all "cannot build a busybox rootfs"
mk_oci_archive "$WORK/rootfs" "$WORK/busybox-oci.tar" "$IMG" || skip_all "cannot pack the OCI image"

# ---- a private containerd ----
mkdir -p "$CT"
cat > "$CT/config.toml" <<EOF
version = 2
root = "$CT/root"
state = "$CT/state"
# No CRI (nothing here is Kubernetes) and no snapshotters that need other file systems.
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[debug]
  address = "$CT/debug.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$CT/opt"
EOF
# `ctr run --runc-binary` is lost when ctr also sends task options (--uidmap, --no-pivot: ctr
# 1.6 then replaces the runtime options, and the shim runs plain `runc` from PATH with its
# default --root). So the shims also find RUNTIME as `runc` first on their PATH, inherited
# from containerd: whatever ctr sends, RUNTIME is the runtime at the bottom.
mkdir -p "$CT/bin"
ln -s "$RUNTIME" "$CT/bin/runc"
PATH="$CT/bin:$PATH" containerd --config "$CT/config.toml" > "$CT/containerd.log" 2>&1 &
CONTAINERD_PID=$!
if ! wait_for 30 ctr --address "$SOCK" version; then
    fail "containerd starts" "$(tail -20 "$CT/containerd.log")"
    summary containerd
    exit 1
fi
pass "private containerd answers on $SOCK"

check "ctr images import (OCI layout built with tar + jq)" ctrc images import "$WORK/busybox-oci.tar"
check_contains "ctr images ls lists the imported image" "$IMG" "$(ctrc images ls -q 2>&1)"

# ---- ctr run --rm: output, exit codes, errors ----
out=$(ctrc run --rm "${RUN[@]}" "$IMG" r1 sh -c 'echo hello from busybox; id -un; pwd' 2>&1)
rc=$?
check_eq "ctr run --rm: output" $'hello from busybox\nroot\n/' "$out"
check_eq "ctr run --rm: exit code 0" 0 "$rc"
check_eq "ctr run --rm: the container is gone afterwards" "" "$(ctrc containers ls -q 2>&1)"
# Only stdio is open in the container (3 is ls's own directory fd): nothing of the shim's or
# the runtime's leaks in.
check_eq "ctr run: only fds 0 1 2 open in the container" $'0\n1\n2\n3' \
    "$(ctrc run --rm "${RUN[@]}" "$IMG" r1b ls /proc/self/fd 2>&1)"

out=$(ctrc run --rm "${RUN[@]}" --env FOO=bar --cwd /tmp "$IMG" r2 sh -c 'echo "$FOO"; pwd; exit 7' 2>&1)
rc=$?
check_eq "ctr run --env --cwd: output" $'bar\n/tmp' "$out"
check_eq "ctr run: a non-zero exit code propagates (7)" 7 "$rc"

check_eq "ctr run: 10 MB of output arrive whole" 10000000 \
    "$(ctrc run --rm "${RUN[@]}" "$IMG" r2b head -c 10000000 /dev/zero | wc -c)"

mkdir -p "$WORK/shared"
out=$(ctrc run --rm "${RUN[@]}" --read-only --mount "type=bind,src=$WORK/shared,dst=/shared,options=rbind:rw" \
    "$IMG" r3 sh -c 'echo from-container > /shared/f && touch /x' 2>&1)
rc=$?
check_eq "ctr run --mount: the bind mount is written through" from-container "$(cat "$WORK/shared/f" 2>&1)"
check_contains "ctr run --read-only: the root is read-only" "Read-only file system" "$out"
check_eq "ctr run --read-only: touch fails (exit 1)" 1 "$rc"

ctrc run --rm "${RUN[@]}" "$IMG" r4 sleep 1000 > "$WORK/r4.out" 2>&1 &
r4=$!
if wait_for 15 status_is r4 RUNNING; then
    ctrc task kill -s SIGKILL r4 >/dev/null 2>&1
    wait "$r4"
    check_eq "ctr run: killed by SIGKILL exits 137 (128+9)" 137 "$?"
else
    fail "ctr run: killed by SIGKILL exits 137 (128+9)" "r4 never RUNNING: $(cat "$WORK/r4.out")"
    kill "$r4" 2>/dev/null
    wait "$r4" 2>/dev/null
fi

out=$(ctrc run --rm "${RUN[@]}" "$IMG" n1 /nonexistent 2>&1)
rc=$?
check "ctr run /nonexistent fails" test "$rc" -ne 0
check_contains "ctr run /nonexistent: ctr shows the runtime's error" \
    'exec: "/nonexistent": stat /nonexistent: no such file or directory' "$out"
out=$(ctrc run --rm "${RUN[@]}" "$IMG" n2 no-such-command 2>&1)
check_contains "ctr run no-such-command: executable file not found in \$PATH" \
    'exec: "no-such-command": executable file not found in $PATH' "$out"
check_eq "ctr run failures leave no task behind" "" "$(ctrc task ls -q 2>&1)"

# ---- ctr run -t: a terminal (script(1) gives ctr a pty of a known size) ----
out=$(script -qec "stty rows 33 cols 101; timeout -k 10 --foreground 60 ctr --address $SOCK --namespace $NS \
    run -t --rm ${RUN[*]} $IMG t1 sh -c 'tty; $SIZE_SH; exit 3'" /dev/null </dev/null | strip_tty)
rc=$?  # pipefail: the status of script(1), i.e. of the engine client
check_eq "ctr run -t: tty and window size inside" $'/dev/pts/0\n33 101' "$out"
check_eq "ctr run -t: exit code propagates (3)" 3 "$rc"

out=$(printf 'echo typed-$((2+3))\nexit 5\n' | script -qec "timeout -k 10 --foreground 60 ctr --address $SOCK \
    --namespace $NS run -t --rm ${RUN[*]} $IMG t2 sh" /dev/null | strip_tty)
rc=$?  # pipefail: the status of script(1), i.e. of the engine client
check_contains "ctr run -t: typed input reaches the shell (typed-5)" $'\ntyped-5\n' "$out"
check_eq "ctr run -t: the typed exit code (5)" 5 "$rc"

# ---- security options ctr sets in the spec ----
STATUS_SH='grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status | tr -s "\t" " "'
out=$(ctrc run --rm "${RUN[@]}" --seccomp "$IMG" s1 sh -c "$STATUS_SH" 2>&1)
check_eq "ctr run --seccomp: ctr's default capabilities, no_new_privs, seccomp filter" \
    $'CapEff: 00000000a80425fb\nNoNewPrivs: 1\nSeccomp: 2' "$out"
out=$(ctrc run --rm "${RUN[@]}" --cap-add CAP_SYS_ADMIN "$IMG" s2 sh -c "$STATUS_SH" 2>&1)
check_contains "ctr run --cap-add CAP_SYS_ADMIN: CapEff has bit 21" "CapEff: 00000000a82425fb" "$out"
out=$(ctrc run --rm "${RUN[@]}" --privileged "$IMG" s3 sh -c "$STATUS_SH" 2>&1)
# (ctr sets no_new_privs unless --allow-new-privs, --privileged or not.)
check_eq "ctr run --privileged: every capability ctr has, no seccomp" \
    "$(grep '^CapEff:' /proc/self/status | tr -s '\t' ' ')"$'\nNoNewPrivs: 1\nSeccomp: 0' "$out"
out=$(ctrc run --rm "${RUN[@]}" --uidmap 0:100000:65536 --gidmap 0:100000:65536 "$IMG" u1 \
    sh -c 'tr -s " " < /proc/self/uid_map; id -u; touch /tmp/f && stat -c %u:%g /tmp/f' 2>&1)
check_eq "ctr run --uidmap/--gidmap: a user namespace, root inside" $' 0 100000 65536\n0\n0:0' "$out"
out=$(ctrc run --rm "${RUN[@]}" --no-pivot "$IMG" p1 sh -c 'echo no-pivot; cat /proc/1/mountinfo | grep -c " / / "' 2>&1)
check_eq "ctr run --no-pivot" $'no-pivot\n1' "$out"

# ---- a long-running task: exec, ps, pause/resume, metrics, kill, delete ----
check "ctr run -d (64 MiB memory limit, log to a file)" ctrc run -d "${RUN[@]}" --memory-limit 67108864 \
    --log-uri "file://$WORK/d1.log" "$IMG" d1 \
    sh -c 'trap "echo got TERM; exit 42" TERM; echo started; while :; do sleep 0.1; done'
check "ctr task ls: d1 RUNNING" wait_for 15 status_is d1 RUNNING
check "the task's output reaches the log" wait_for 15 grep -q started "$WORK/d1.log"
init=$(task_pid d1)

out=$(ctrc task exec "${EXEC[@]}" --exec-id e1 d1 sh -c 'echo exec-out; exit 5' 2>&1)
rc=$?
check_eq "ctr task exec: output" exec-out "$out"
check_eq "ctr task exec: exit code propagates (5)" 5 "$rc"
check_eq "ctr task exec: only fds 0 1 2 open" $'0\n1\n2\n3' \
    "$(ctrc task exec "${EXEC[@]}" --exec-id e1b d1 ls /proc/self/fd 2>&1)"
SEC_SH='grep -E "^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):" /proc/$1/status'
check_eq "ctr task exec: the same capabilities, no_new_privs and seccomp as init" \
    "$(ctrc task exec "${EXEC[@]}" --exec-id e1c d1 sh -c "$SEC_SH" sh 1 2>&1)" \
    "$(ctrc task exec "${EXEC[@]}" --exec-id e1d d1 sh -c "$SEC_SH" sh self 2>&1)"
out=$(ctrc task exec "${EXEC[@]}" --exec-id e2 --user 65534 --cwd /tmp d1 sh -c 'id -u; pwd' 2>&1)
check_eq "ctr task exec --user --cwd" $'65534\n/tmp' "$out"
ctrc task exec "${EXEC[@]}" --exec-id e2b d1 sh -c 'kill -9 $$' >/dev/null 2>&1
check_eq "ctr task exec: a process killed by SIGKILL exits 137" 137 "$?"
out=$(ctrc task exec "${EXEC[@]}" --exec-id e3 d1 /nonexistent 2>&1)
rc=$?
check "ctr task exec /nonexistent fails" test "$rc" -ne 0
check_contains "ctr task exec /nonexistent: ctr shows the runtime's error" \
    'exec: "/nonexistent": stat /nonexistent: no such file or directory' "$out"

out=$(script -qec "stty rows 20 cols 70; timeout -k 10 --foreground 60 ctr --address $SOCK --namespace $NS \
    task exec -t ${EXEC[*]} --exec-id t2 d1 sh -c 'tty; $SIZE_SH; exit 4'" /dev/null </dev/null | strip_tty)
rc=$?  # pipefail: the status of script(1), i.e. of the engine client
check_contains "ctr task exec -t: a pty" /dev/pts/ "$out"
check_contains "ctr task exec -t: window size inside" $'\n20 70' "$out"
check_eq "ctr task exec -t: exit code propagates (4)" 4 "$rc"

check "ctr task exec -d" ctrc task exec "${EXEC[@]}" -d --exec-id bg1 d1 sleep 1000
ps_out=$(ctrc task ps d1 2>&1)
check_contains "ctr task ps: lists init" $'\n'"$init " "$ps_out"
check_contains "ctr task ps: lists the exec'd process" "ExecID:bg1" "$ps_out"
same_ns=yes
for p in $(awk 'NR > 1 { print $1 }' <<<"$ps_out"); do
    # (init's `sleep 0.1` children come and go: one that has exited since cannot be checked.)
    ns=$(readlink "/proc/$p/ns/pid" 2>/dev/null) || continue
    [ "$ns" = "$(readlink "/proc/$init/ns/pid")" ] || same_ns="no: $p"
done
check_eq "ctr task ps: every pid listed is in the container" yes "$same_ns"

metrics=$(ctrc task metrics --format json d1 2>&1)
check_eq "ctr task metrics: memory limit 64 MiB" 67108864 "$(jq -r '.memory.usage.limit' <<<"$metrics" 2>&1)"
check "ctr task metrics: memory usage > 0" jq -e '.memory.usage.usage > 0' <<<"$metrics"
check "ctr task metrics: pids.current >= 2 (init and bg1)" jq -e '.pids.current >= 2' <<<"$metrics"

check "ctr task pause" ctrc task pause d1
check_eq "ctr task ls: PAUSED" PAUSED "$(task_status d1)"
out=$(ctrc task exec "${EXEC[@]}" --exec-id e4 d1 true 2>&1)
check_contains "ctr task exec in a paused task is refused" "paused" "$out"
check "ctr task resume" ctrc task resume d1
check_eq "ctr task ls: RUNNING again" RUNNING "$(task_status d1)"
out=$(ctrc task exec "${EXEC[@]}" --exec-id e5 d1 echo after-resume 2>&1)
check_eq "ctr task exec after resume" after-resume "$out"

check "ctr task kill (SIGTERM)" ctrc task kill d1
check "ctr task ls: STOPPED after SIGTERM" wait_for 15 status_is d1 STOPPED
check "the task's TERM trap ran" grep -q "got TERM" "$WORK/d1.log"
out=$(ctrc task rm d1 2>&1)
check_contains "ctr task rm: reports the exit code 42" "exit code 42" "$out"
check "ctr container rm" ctrc containers rm d1
check_eq "ctr containers ls: d1 is gone" "" "$(ctrc containers ls -q 2>&1)"
check "the runtime's state for d1 is gone" test ! -e "$CT/runc/$NS/d1"

# ---- kill --all and ps of a stopped task ----
check "ctr run -d d2" ctrc run -d "${RUN[@]}" "$IMG" d2 sleep 1000
check "ctr task ls: d2 RUNNING" wait_for 15 status_is d2 RUNNING
ctrc task exec "${EXEC[@]}" -d --exec-id bg2 d2 sleep 1000 >/dev/null 2>&1
pids=$(ctrc task ps d2 2>/dev/null | awk 'NR > 1 { print $1 }')
check_eq "ctr task ps: two processes" 2 "$(wc -w <<<"$pids")"
check "ctr task kill -a -s SIGKILL" ctrc task kill -a -s SIGKILL d2
check "ctr task ls: d2 STOPPED" wait_for 15 status_is d2 STOPPED
gone=yes
for p in $pids; do wait_for 10 pid_gone "$p" || gone="no: $p"; done
check_eq "kill -a: every process of the task is gone" yes "$gone"
out=$(ctrc task ps d2 2>&1)
rc=$?
check_eq "ctr task ps of a stopped task succeeds" 0 "$rc"
check_eq "ctr task ps of a stopped task: no processes" "" "$(awk 'NR > 1' <<<"$out")"
out=$(ctrc task rm d2 2>&1)
check_contains "ctr task rm: reports the exit code 137" "exit code 137" "$out"
check "ctr container rm d2" ctrc containers rm d2

# ---- a paused task killed with SIGKILL; a task sharing another's pid namespace ----
check "ctr run -d d3" ctrc run -d "${RUN[@]}" "$IMG" d3 sleep 1000
check "ctr task ls: d3 RUNNING" wait_for 15 status_is d3 RUNNING
check "ctr task pause d3" ctrc task pause d3
check "ctr task kill -s SIGKILL of a paused task" ctrc task kill -s SIGKILL d3
check "ctr task ls: the paused task is STOPPED after SIGKILL" wait_for 15 status_is d3 STOPPED
out=$(ctrc task rm d3 2>&1)
check_contains "ctr task rm of the paused task killed: exit code 137" "exit code 137" "$out"
ctrc containers rm d3 >/dev/null 2>&1

check "ctr run -d d4" ctrc run -d "${RUN[@]}" "$IMG" d4 sleep 1000
check "ctr task ls: d4 RUNNING" wait_for 15 status_is d4 RUNNING
d4=$(task_pid d4)
# d5 joins d4's pid namespace: its init's death does not end its other processes, so the
# shim ends them with `kill --all` when that init exits.
check "ctr run -d --with-ns pid:... d5" ctrc run -d "${RUN[@]}" --with-ns "pid:/proc/$d4/ns/pid" \
    "$IMG" d5 sh -c 'sleep 1000 & exec sleep 999'
check "ctr task ls: d5 RUNNING" wait_for 15 status_is d5 RUNNING
check "d5: its background sleep runs" wait_for 15 sh -c "[ \$(cat /sys/fs/cgroup/pids/$NS/d5/cgroup.procs | wc -l) = 2 ]"
bg=$(grep -v "^$(task_pid d5)\$" "/sys/fs/cgroup/pids/$NS/d5/cgroup.procs" 2>/dev/null)
check "d5: its background sleep found in its cgroup" test -n "$bg"
check "ctr task kill -s SIGKILL d5 (init)" ctrc task kill -s SIGKILL d5
check "ctr task ls: d5 STOPPED" wait_for 15 status_is d5 STOPPED
check "d5's background sleep is ended by the shim's kill --all" wait_for 15 pid_gone "${bg:-0}"
check_eq "ctr task ls: d4 still RUNNING" RUNNING "$(task_status d4)"
ctrc task rm d5 >/dev/null 2>&1
ctrc containers rm d5 >/dev/null 2>&1
check "ctr task rm -f of a running task" ctrc task rm -f d4
check "ctr task rm -f: its process is gone" wait_for 15 pid_gone "$d4"
check "ctr container rm d4" ctrc containers rm d4
check_eq "ctr task ls: nothing left" "" "$(ctrc task ls -q 2>&1)"

# ---- containerd restarts under a running task: the shim and the runtime's state carry on ----
check "ctr run -d d6" ctrc run -d "${RUN[@]}" "$IMG" d6 sleep 1000
check "ctr task ls: d6 RUNNING" wait_for 15 status_is d6 RUNNING
kill_wait 20 "$CONTAINERD_PID"
PATH="$CT/bin:$PATH" containerd --config "$CT/config.toml" >> "$CT/containerd.log" 2>&1 &
CONTAINERD_PID=$!
check "containerd restarted" wait_for 30 ctr --address "$SOCK" version
check "after the restart: d6 RUNNING" wait_for 15 status_is d6 RUNNING
out=$(ctrc task exec "${EXEC[@]}" --exec-id e6 d6 echo after-restart 2>&1)
check_eq "after the restart: ctr task exec" after-restart "$out"
check "after the restart: ctr task pause" ctrc task pause d6
check_eq "after the restart: PAUSED" PAUSED "$(task_status d6)"
check "after the restart: ctr task resume" ctrc task resume d6
check "after the restart: ctr task kill -s SIGKILL" ctrc task kill -s SIGKILL d6
check "after the restart: d6 STOPPED" wait_for 15 status_is d6 STOPPED
ctrc task rm d6 >/dev/null 2>&1
check "ctr container rm d6" ctrc containers rm d6
check_eq "no container cgroup left" "" "$(find /sys/fs/cgroup/*/"$NS" -mindepth 1 -type d 2>/dev/null)"
check_eq "no runtime state left" "" "$(ls -A "$CT/runc/$NS" 2>&1)"

summary containerd

#!/usr/bin/env bash
# Docker 20.10 (Debian's docker.io) with RUNTIME at the bottom: a private dockerd (its own
# config file, data root, exec root, socket, pid file and cgroup parent; no iptables, no
# bridge; it starts its own containerd) with RUNTIME added as the runtime `engine-test`, and
# an image imported from a busybox root filesystem (`docker import`, no registry). Every check
# compares what docker shows with what a user expects; the same script passes with runc:
#   ENGINE_RUNTIME=/usr/sbin/runc bash runtime-cli/tests/engines/docker.sh
# The client is Debian's /usr/bin/docker (20.10): a newer client elsewhere on PATH may speak an
# API version this daemon does not.
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

DOCKER=/usr/bin/docker
[ -x "$DOCKER" ] || skip_all "$DOCKER is not installed (apt-get install docker.io)"
for tool in dockerd busybox jq script timeout tar; do
    command -v "$tool" >/dev/null || skip_all "$tool is not installed (apt-get install docker.io busybox-static jq util-linux)"
done
[ "$(id -u)" = 0 ] || skip_all "dockerd needs root"
[ -x "$RUNTIME" ] || skip_all "no runtime at $RUNTIME (cargo build -p husk-cli)"

work_dir
DK=$WORK/docker
SOCK=$DK/docker.sock
# The containers' cgroups live under this parent (one per run), so cleaning up never touches
# another run's cgroups or a system dockerd's /docker.
CGP=husk-engines-docker-$$
IMG=busybox:husk-engines
RT=engine-test
DOCKERD_PID=

# (-k: `ctr run` and `docker run` pass SIGTERM on to the container, whose PID 1 may ignore it.)
dk() { timeout -k 10 60 "$DOCKER" --host "unix://$SOCK" "$@"; }
# Every container runs with RUNTIME and no network (the daemon has no bridge).
RUN=(--runtime "$RT" --network none)

state() { dk inspect -f "{{.State.$2}}" "$1" 2>&1; }
status_is() { [ "$(state "$1" Status)" = "$2" ]; }
strip_tty() {
    # What a terminal shows, as plain lines: no CR, and no echo of the NUL that script(1)
    # writes to its pty when its own stdin (/dev/null) ends.
    tr -d '\r\0' | sed 's/\^@//g; s/\^D//g'
}
# Inside a container with a terminal: docker sets the window size only after the process has
# started, so wait (at most 10 s) until it is there before printing it. (busybox `stty size`
# exits 0 even when it fails, hence the test of its output.)
SIZE_SH='i=0; until s=$(stty size 2>/dev/null); [ -n "$s" ] && [ "$s" != "0 0" ]; do i=$((i+1)); [ $i -lt 200 ] || break; sleep 0.05; done; echo "$s"'
# The container's memory limit as it sees it (cgroup v1, or v2's memory.max).
MEMLIMIT_SH='cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max'

cleanup() {
    set +e
    local p ids
    if [ -n "$DOCKERD_PID" ] && ! pid_gone "$DOCKERD_PID"; then
        ids=$(dk ps -aq 2>/dev/null)
        # shellcheck disable=SC2086
        [ -z "$ids" ] || dk rm -f $ids >/dev/null 2>&1
        # dockerd stops its containerd on the way out.
        kill_wait 20 "$DOCKERD_PID"
    fi
    # Its containerd and the shims (they outlive containerd by design): ours name our dirs.
    # shellcheck disable=SC2046
    kill_wait 5 $(pids_with_arg "$DK/exec/containerd")
    kill_cgroup_leftovers "$CGP"
    # overlay2 layers, network namespace files, shm: unmount before removing anything.
    umount_under "$WORK"
    rm_cgroups "$CGP"
    [ -n "${ENGINE_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "dockerd $(dockerd --version | awk '{print $3}' | tr -d ,) with $RUNTIME (work dir $WORK)"

mk_rootfs "$WORK/rootfs" || skip_all "cannot build a busybox rootfs"

# ---- a private dockerd ----
mkdir -p "$DK"
# Its own config file, so that a host /etc/docker/daemon.json cannot change what is tested,
# and its identity key under DK (dockerd 20.10 writes /etc/docker/key.json otherwise).
jq -n --arg key "$DK/key.json" '{"deprecated-key-path": $key}' > "$DK/daemon.json"
dockerd --config-file "$DK/daemon.json" --data-root "$DK/data" --exec-root "$DK/exec" \
    -H "unix://$SOCK" --pidfile "$DK/docker.pid" --iptables=false --ip-forward=false \
    --bridge=none --cgroup-parent "/$CGP" --add-runtime "$RT=$RUNTIME" \
    > "$DK/dockerd.log" 2>&1 &
DOCKERD_PID=$!
if ! wait_for 60 dk version; then
    fail "dockerd starts" "$(tail -20 "$DK/dockerd.log")"
    summary docker
    exit 1
fi
pass "private dockerd answers on $SOCK"
check_contains "docker info lists the runtime $RT" "\"$RT\"" "$(dk info -f '{{json .Runtimes}}' 2>&1)"

tar -C "$WORK/rootfs" -c . | dk import - "$IMG" >/dev/null 2>&1
check "docker import of the busybox rootfs" test -n "$(dk images -q "$IMG" 2>/dev/null)"

# ---- docker run --rm: output, exit codes, options, errors ----
out=$(dk run --rm "${RUN[@]}" "$IMG" sh -c 'echo hello from busybox; id -un; pwd' 2>&1)
rc=$?
check_eq "docker run --rm: output" $'hello from busybox\nroot\n/' "$out"
check_eq "docker run --rm: exit code 0" 0 "$rc"
dk run --rm "${RUN[@]}" "$IMG" sh -c 'exit 7' >/dev/null 2>&1
check_eq "docker run: a non-zero exit code propagates (7)" 7 "$?"
check_eq "docker run --rm: no container left" "" "$(dk ps -aq 2>&1)"
# Only stdio is open in the container (3 is ls's own directory fd).
check_eq "docker run: only fds 0 1 2 open in the container" $'0\n1\n2\n3' \
    "$(dk run --rm "${RUN[@]}" "$IMG" ls /proc/self/fd 2>&1)"

out=$(dk run --rm "${RUN[@]}" -e FOO=bar -w /tmp -u 65534 --read-only "$IMG" \
    sh -c 'echo "$FOO"; pwd; id -u; touch /x 2>&1' 2>&1)
rc=$?
check_eq "docker run -e -w -u --read-only: output" \
    $'bar\n/tmp\n65534\ntouch: /x: Read-only file system' "$out"
check_eq "docker run --read-only: touch fails (exit 1)" 1 "$rc"

mkdir -p "$WORK/shared"
dk run --rm "${RUN[@]}" -v "$WORK/shared:/shared" "$IMG" sh -c 'echo from-container > /shared/f' >/dev/null 2>&1
check_eq "docker run -v: the bind mount is written through" from-container "$(cat "$WORK/shared/f" 2>&1)"

out=$(echo hello-stdin | dk run -i --rm "${RUN[@]}" "$IMG" cat 2>&1)
check_eq "docker run -i: stdin reaches the container" hello-stdin "$out"

out=$(dk run --rm "${RUN[@]}" "$IMG" /nonexistent 2>&1)
rc=$?
check_eq "docker run /nonexistent: exit code 127" 127 "$rc"
check_contains "docker run /nonexistent: docker shows the runtime's error" \
    'exec: "/nonexistent": stat /nonexistent: no such file or directory' "$out"
out=$(dk run --rm "${RUN[@]}" "$IMG" no-such-command 2>&1)
rc=$?
check_eq "docker run no-such-command: exit code 127" 127 "$rc"
check_contains "docker run no-such-command: executable file not found in \$PATH" \
    'exec: "no-such-command": executable file not found in $PATH' "$out"
out=$(dk run --rm "${RUN[@]}" "$IMG" /etc/passwd 2>&1)
rc=$?
check_eq "docker run of a non-executable file: exit code 126" 126 "$rc"
check_contains "docker run of a non-executable file: permission denied" \
    'exec: "/etc/passwd": permission denied' "$out"
check_eq "failed runs leave no container" "" "$(dk ps -aq 2>&1)"

# ---- docker run -t: a terminal (script(1) gives docker a pty of a known size) ----
out=$(script -qec "stty rows 33 cols 101; timeout -k 10 --foreground 60 $DOCKER --host unix://$SOCK \
    run -t --rm ${RUN[*]} $IMG sh -c 'tty; $SIZE_SH; exit 3'" /dev/null </dev/null | strip_tty)
rc=$?  # pipefail: the status of script(1), i.e. of the engine client
check_eq "docker run -t: tty and window size inside" $'/dev/pts/0\n33 101' "$out"
check_eq "docker run -t: exit code propagates (3)" 3 "$rc"

out=$(printf 'echo typed-$((2+3))\nexit 5\n' | script -qec "timeout -k 10 --foreground 60 $DOCKER --host unix://$SOCK \
    run -it --rm ${RUN[*]} $IMG sh" /dev/null | strip_tty)
rc=$?  # pipefail: the status of script(1), i.e. of the engine client
check_contains "docker run -it: typed input reaches the shell (typed-5)" $'\ntyped-5\n' "$out"
check_eq "docker run -it: the typed exit code (5)" 5 "$rc"

# ---- what docker puts in the spec: capabilities, cgroup limits, mounts, rlimits, init ----
# (cgroup v1 paths: the machines these run on are hybrid v1, see docs/environment.md.)
out=$(dk run --rm "${RUN[@]}" --cap-drop ALL --cap-add NET_ADMIN "$IMG" grep -E '^(CapEff|Seccomp):' /proc/self/status 2>&1)
check_eq "docker run --cap-drop ALL --cap-add NET_ADMIN; default seccomp profile" \
    $'CapEff:\t0000000000001000\nSeccomp:\t2' "$out"
out=$(dk run --rm "${RUN[@]}" --pids-limit 33 --cpus 0.5 --cpu-shares 512 "$IMG" sh -c \
    'cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.shares' 2>&1)
check_eq "docker run --pids-limit --cpus --cpu-shares: the container's cgroup" $'33\n50000\n512' "$out"
out=$(dk run --rm "${RUN[@]}" --tmpfs /run:size=1m --shm-size 8m --ulimit nofile=1234:2345 \
    --hostname myhost --sysctl net.ipv4.ip_forward=1 "$IMG" sh -c \
    'df -k /run /dev/shm | awk "NR > 1 { print \$2 }"; ulimit -n; ulimit -Hn; hostname; cat /proc/sys/net/ipv4/ip_forward' 2>&1)
check_eq "docker run --tmpfs --shm-size --ulimit --hostname --sysctl" $'1024\n8192\n1234\n2345\nmyhost\n1' "$out"
out=$(dk run --rm "${RUN[@]}" --init "$IMG" ps -o pid,args 2>&1)
check_contains "docker run --init: docker-init is PID 1" "1 /sbin/docker-init -- ps" "$out"
dk run --name oom "${RUN[@]}" --memory 32m --memory-swap 32m "$IMG" \
    sh -c 'x=$(head -c 100000000 /dev/zero | tr "\0" a); echo survived' >/dev/null 2>&1
check_eq "docker run --memory 32m, allocating 100 MB: exit 137" 137 "$?"
check_eq "docker inspect: OOMKilled" true "$(state oom OOMKilled)"
dk rm oom >/dev/null 2>&1

# ---- a long-running container: exec, top, stats, update, pause, kill, stop, restart, rm ----
check "docker run -d (64 MiB memory limit)" dk run -d --name d1 "${RUN[@]}" --memory 64m "$IMG" \
    sh -c 'trap "echo got USR1" USR1; trap "echo got TERM; exit 42" TERM; echo started; while :; do sleep 0.1; done'
check "docker inspect: d1 running" wait_for 15 status_is d1 running
check "docker logs: the container's output" wait_for 15 sh -c "'$DOCKER' --host 'unix://$SOCK' logs d1 2>&1 | grep -q started"
pid1=$(state d1 Pid)

out=$(dk exec d1 sh -c 'echo exec-out; exit 6' 2>&1)
rc=$?
check_eq "docker exec: output" exec-out "$out"
check_eq "docker exec: exit code propagates (6)" 6 "$rc"
check_eq "docker exec: only fds 0 1 2 open" $'0\n1\n2\n3' "$(dk exec d1 ls /proc/self/fd 2>&1)"
SEC_SH='grep -E "^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):" /proc/$1/status'
check_eq "docker exec: the same capabilities, no_new_privs and seccomp as init" \
    "$(dk exec d1 sh -c "$SEC_SH" sh 1 2>&1)" "$(dk exec d1 sh -c "$SEC_SH" sh self 2>&1)"
check_contains "docker exec: under docker's seccomp profile" $'Seccomp:\t2' "$(dk exec d1 sh -c "$SEC_SH" sh self 2>&1)"
out=$(dk exec -u 65534 -w /tmp -e BAR=baz d1 sh -c 'id -u; pwd; echo "$BAR"' 2>&1)
check_eq "docker exec -u -w -e" $'65534\n/tmp\nbaz' "$out"
out=$(dk exec d1 /nonexistent 2>&1)
rc=$?
check_eq "docker exec /nonexistent: exit code 126 (docker's code for a failed exec)" 126 "$rc"
check_contains "docker exec /nonexistent: docker shows the runtime's error" \
    'exec: "/nonexistent": stat /nonexistent: no such file or directory' "$out"

out=$(script -qec "stty rows 20 cols 70; timeout -k 10 --foreground 60 $DOCKER --host unix://$SOCK \
    exec -t d1 sh -c 'tty; $SIZE_SH; exit 4'" /dev/null </dev/null | strip_tty)
rc=$?  # pipefail: the status of script(1), i.e. of the engine client
check_contains "docker exec -t: a pty" /dev/pts/ "$out"
check_contains "docker exec -t: window size inside" $'\n20 70' "$out"
check_eq "docker exec -t: exit code propagates (4)" 4 "$rc"

check "docker exec -d" dk exec -d d1 sleep 1000
top=$(dk top d1 2>&1)
check_contains "docker top: lists init (pid $pid1)" " $pid1 " "$top"
check_contains "docker top: lists the exec'd sleep" "sleep 1000" "$top"

stats=$(dk stats --no-stream --format '{{.MemUsage}}|{{.PIDs}}' d1 2>&1)
check_contains "docker stats: memory limit 64MiB" " / 64MiB|" "$stats"
case ${stats%% /*} in
    0B | "") fail "docker stats: memory usage > 0" "got: $stats" ;;
    *) pass "docker stats: memory usage > 0 (${stats%% /*})" ;;
esac
check "docker stats: pids >= 2 (init and the exec'd sleep)" test "${stats##*|}" -ge 2

check_eq "memory limit inside the container: 64 MiB" 67108864 "$(dk exec d1 sh -c "$MEMLIMIT_SH" 2>&1)"
check "docker update --memory 96m" dk update --memory 96m --memory-swap 200m d1
check_eq "memory limit inside after docker update: 96 MiB" 100663296 "$(dk exec d1 sh -c "$MEMLIMIT_SH" 2>&1)"
# An update that leaves memory alone (docker sends 0 for the fields not changed: "unchanged").
check "docker update --cpus 0.5 --pids-limit 40" dk update --cpus 0.5 --pids-limit 40 d1
check_eq "after docker update --cpus: quota, pids limit, and the memory limit kept" $'50000\n40\n100663296' \
    "$(dk exec d1 sh -c "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/pids/pids.max; $MEMLIMIT_SH" 2>&1)"

check "docker pause" dk pause d1
check_eq "docker inspect: paused" paused "$(state d1 Status)"
check "docker unpause" dk unpause d1
check_eq "docker inspect: running again" running "$(state d1 Status)"
out=$(dk exec d1 echo after-unpause 2>&1)
check_eq "docker exec after unpause" after-unpause "$out"

check "docker kill -s USR1" dk kill -s USR1 d1
check "docker logs: the USR1 trap ran" wait_for 15 sh -c "'$DOCKER' --host 'unix://$SOCK' logs d1 2>&1 | grep -q 'got USR1'"
check_eq "docker inspect: still running after USR1" running "$(state d1 Status)"

start=$(date +%s)
check "docker stop (SIGTERM, 30 s grace)" dk stop -t 30 d1
took=$(($(date +%s) - start))
check_eq "docker inspect: exited with the TERM trap's code 42" "exited 42" "$(state d1 Status) $(state d1 ExitCode)"
check "docker stop: SIGTERM reached the container (stopped in ${took}s, before the grace period)" test "$took" -lt 20
check_contains "docker logs: the TERM trap ran" "got TERM" "$(dk logs d1 2>&1)"

check "docker restart" dk restart -t 1 d1
check_eq "docker inspect: running after restart" running "$(state d1 Status)"
check "docker restart: a new init process" test "$(state d1 Pid)" != "$pid1"
check "docker logs: started twice" wait_for 15 sh -c "[ \$('$DOCKER' --host 'unix://$SOCK' logs d1 2>&1 | grep -c started) = 2 ]"

check "docker kill (SIGKILL)" dk kill d1
check "docker inspect: d1 exited" wait_for 15 status_is d1 exited
check_eq "docker kill: exit code 137" 137 "$(state d1 ExitCode)"

check "docker run -d sleep" dk run -d --name d2 "${RUN[@]}" "$IMG" sleep 1000
check "docker inspect: d2 running" wait_for 15 status_is d2 running
# sleep is the container's PID 1 and has no SIGTERM handler: the kernel ignores SIGTERM for
# it, so docker stop ends with SIGKILL after the grace period.
check "docker stop -t 1 of sleep" dk stop -t 1 d2
check_eq "docker stop: exited 137 (SIGKILL after the grace period)" "exited 137" "$(state d2 Status) $(state d2 ExitCode)"

check "docker run -d, exits 9" dk run -d --name d3 "${RUN[@]}" "$IMG" sh -c 'exit 9'
check_eq "docker wait: 9" 9 "$(dk wait d3 2>&1)"

dk run --name d4 "${RUN[@]}" "$IMG" sh -c 'echo to-stdout; echo to-stderr >&2' >/dev/null 2>&1
check_eq "docker logs: stdout apart from stderr" "to-stdout|to-stderr" \
    "$(dk logs d4 2>/dev/null)|$(dk logs d4 2>&1 >/dev/null)"

check "docker run -d d5, then pause" sh -c "'$DOCKER' --host 'unix://$SOCK' run -d --name d5 ${RUN[*]} $IMG sleep 1000 &&
    '$DOCKER' --host 'unix://$SOCK' pause d5"
check "docker kill of a paused container" dk kill d5
check_eq "docker inspect: the paused container exited 137" "exited 137" "$(state d5 Status) $(state d5 ExitCode)"
check "docker run -d d6, then pause" sh -c "'$DOCKER' --host 'unix://$SOCK' run -d --name d6 ${RUN[*]} $IMG sleep 1000 &&
    '$DOCKER' --host 'unix://$SOCK' pause d6"
check "docker rm -f of a paused container" dk rm -f d6

check "docker run -d --restart on-failure:2" dk run -d --name d7 --restart on-failure:2 "${RUN[@]}" "$IMG" sh -c 'exit 3'
check "docker restarts it twice, then it stays exited" wait_for 15 sh -c \
    "[ \"\$('$DOCKER' --host 'unix://$SOCK' inspect -f '{{.RestartCount}} {{.State.Status}}' d7)\" = '2 exited' ]"
check_eq "docker inspect: exit code 3" 3 "$(state d7 ExitCode)"

# A detached container with a terminal: its output goes through the pty into the log.
check "docker run -dt" dk run -dt --name d8 "${RUN[@]}" "$IMG" sh -c 'echo tty-out; tty; exec sleep 1000'
check "docker logs of a -t container" wait_for 15 sh -c \
    "'$DOCKER' --host 'unix://$SOCK' logs d8 2>&1 | tr -d '\r' | grep -qx /dev/pts/0"
# d9 joins d8's pid namespace: its processes other than init end with it (shim's kill --all).
check "docker run -d --pid container:d8" dk run -d --name d9 --pid container:d8 --runtime "$RT" "$IMG" \
    sh -c 'sleep 1000 & exec sleep 999'
out=$(dk exec d9 ps -o args 2>&1)
check_contains "docker exec in d9 sees d8's processes" "sleep 1000" "$out"
check_contains "docker exec in d9 sees its own" "sleep 999" "$out"
d9=$(state d9 Pid)
bg=$(grep -vx "$d9" "/sys/fs/cgroup/pids/$CGP/$(dk inspect -f '{{.Id}}' d9)/cgroup.procs" 2>/dev/null)
check "docker stop -t 1 d9" dk stop -t 1 d9
check "d9: its background sleep found in its cgroup" test -n "$bg"
check "d9's background sleep is gone" wait_for 15 pid_gone "${bg:-0}"
check_eq "docker inspect: d8 still running" running "$(state d8 Status)"

check "docker run -dit sh" dk run -dit --name d10 "${RUN[@]}" "$IMG" sh
out=$(printf 'echo attached-$((1+1))\nexit 3\n' | script -qec "timeout -k 10 --foreground 60 $DOCKER --host unix://$SOCK \
    attach d10" /dev/null | strip_tty)
check_contains "docker attach: typed input reaches the container's shell" $'\nattached-2\n' "$out"
check "docker attach: the shell's exit ends the container" wait_for 15 status_is d10 exited
check_eq "docker inspect: exit code 3" 3 "$(state d10 ExitCode)"

check "docker rm" dk rm d1 d2 d3 d4 d5 d7 d9 d10
check "docker rm -f d8" dk rm -f d8
check_eq "docker ps -a: nothing left" "" "$(dk ps -aq 2>&1)"
check_eq "the runtime's state is gone" "" "$(ls "$DK/exec/runtime-runc/moby" 2>&1)"
check_eq "the containers' cgroups are gone" "" "$(find /sys/fs/cgroup/*/"$CGP" -mindepth 1 -type d 2>/dev/null)"

summary docker

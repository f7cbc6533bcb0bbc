#!/bin/sh
# The checks of the cgroup v2 lab, run by busybox sh inside the VM (lab/vm-init.sh) as root on a
# cgroup v2-only kernel, against the static husk at /bin/husk and the bundles of
# lab/vm-bundles.sh. Each check prints PASS: or FAIL: with what it saw; the last line is
# `LAB-RESULT: N passed, M failed`.
B=/lab/bundles
CG=/sys/fs/cgroup
H="husk --root /run/husk"
. /lab/lib.sh
# run ID: `husk run` in the foreground; sets out (stdout+stderr) and rc (its exit status).
run() {
    out=$($H run --bundle "$B/$1" "lab-$1" 2>&1)
    rc=$?
    printf '%s\n' "$out" | sed "s/^/  [$1] /"
    echo "  [$1] exit $rc"
}
status() { $H state "$1" 2>/dev/null | grep -o '"status": *"[a-z]*"' | grep -o '[a-z]*"$' | tr -d '"'; }
state_pid() { $H state "$1" 2>/dev/null | grep -o '"pid": *[0-9]*' | grep -o '[0-9]*$'; }
gone() { [ ! -e "$CG/husk-lab/$1" ]; }

echo "lab: $($H --version 2>&1 | head -n1)"

# A first container on cgroup v2, with its cgroup namespace: it sees itself at the root and
# the controllers husk enabled for it.
run smoke
check "smoke: husk run exits 0" [ "$rc" = 0 ]
check "smoke: the container is at / of its cgroup namespace" has "$out" '^0::/$'
for c in memory pids cpu; do
    check "smoke: $c reaches the container's cgroup" has "$out" "\\<$c\\>"
done
check "smoke: deleted with its cgroup" gone smoke

# (a) memory.max 32 MiB: the memory hog is OOM-killed (SIGKILL: 128+9).
run memory
check "memory: memory.max reads 33554432 inside" has "$out" '^memory.max=33554432$'
check "memory: the hog is OOM-killed, husk run exits 137 (got $rc)" [ "$rc" = 137 ]
check "memory: by the cgroup's OOM killer (memory.events oom_kill 1)" has "$out" '^memory.events.oom_kill=1$'
check "memory: deleted with its cgroup" gone memory

# (b) pids.max 10: forking beyond the limit fails with EAGAIN, the sleepers stay under it.
run pids
check "pids: pids.max reads 10 inside" has "$out" '^pids.max=10$'
check "pids: fork fails beyond the limit" has "$out" "can't fork"
n=$(printf '%s\n' "$out" | sed -n 's/^pids.current=//p')
check "pids: pids.current stays within 10 (got $n)" sh -c "[ -n '$n' ] && [ '$n' -le 10 ]"
check "pids: pids.events counts the refused forks" has "$out" '^pids.events: max [1-9]'

# (c) cpu.max and the shares → weight conversion, and a busy loop gets throttled.
run cpu
check "cpu: cpu.max reads '50000 100000' inside" has "$out" '^cpu.max=50000_100000$'
check "cpu: cpu.weight 20 from shares 512" has "$out" '^cpu.weight=20$'
check "cpu: a busy loop is throttled (nr_throttled > 0)" has "$out" '^nr_throttled=[1-9]'

# (d) devices: the eBPF device program denies /dev/kmsg with EPERM, allows /dev/null; with an
# allow rule for c 1:11 the same write works.
run devices
check "devices: /dev/null works" has "$out" '^null-ok$'
check "devices: writing /dev/kmsg fails with EPERM" has "$out" 'kmsg: Operation not permitted'
check "devices: ...and nothing was written" lacks "$out" 'kmsg-written'
run devices-allow
check "devices: with an allow rule for c 1:11 w, /dev/kmsg is writable" has "$out" '^kmsg-written$'

# (e) pause/resume with cgroup.freeze: a counter stops while paused and goes on after resume.
rm -f /lab/out/n
$H run -d --bundle "$B/pause" lab-pause </dev/null >/dev/null 2>/tmp/pause.err
rc=$?
check "pause: husk run -d exits 0" [ "$rc" = 0 ]
cat /tmp/pause.err
i=0
while [ ! -s /lab/out/n ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
pid=$(state_pid lab-pause)
check "pause: the container is running and counting (pid $pid)" \
    sh -c "[ '$(status lab-pause)' = running ] && [ -s /lab/out/n ]"
ps=$($H ps --format json lab-pause 2>&1)
check "ps: husk ps --format json lists the init ($pid in $ps)" has "$ps" "\\<$pid\\>"
$H pause lab-pause
check "pause: husk pause exits 0" [ $? = 0 ]
check "pause: husk state says paused" [ "$(status lab-pause)" = paused ]
check "pause: cgroup.freeze is 1 and cgroup.events says frozen" \
    sh -c "[ \$(cat $CG/husk-lab/pause/cgroup.freeze) = 1 ] && grep -qx 'frozen 1' $CG/husk-lab/pause/cgroup.events"
a=$(cat /lab/out/n)
sleep 1
b=$(cat /lab/out/n)
check "pause: the counter stands still while paused ($a, then $b)" [ "$a" = "$b" ]
$H resume lab-pause
check "pause: husk resume exits 0" [ $? = 0 ]
check "pause: husk state says running" [ "$(status lab-pause)" = running ]
sleep 1
c=$(cat /lab/out/n)
check "pause: the counter goes on after resume ($b, then $c)" [ "$c" -gt "$b" ]

# (f) delete leaves no cgroup behind: the paused-then-resumed one, one with the default
# cgroupsPath (found from /proc/<pid>/cgroup), and one whose create failed halfway.
$H kill lab-pause KILL
i=0
while [ "$(status lab-pause)" != stopped ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
$H delete lab-pause
check "delete: husk delete exits 0" [ $? = 0 ]
check "delete: no cgroup left for the paused container" gone pause

$H run -d --bundle "$B/default-path" lab-default-path </dev/null >/dev/null 2>&1
pid=$(state_pid lab-default-path)
path=$(sed -n 's/^0:://p' /proc/"$pid"/cgroup 2>/dev/null)
echo "  [default-path] pid $pid in cgroup $path"
check "delete: the default cgroupsPath is a cgroup of its own" \
    sh -c "[ -n '$path' ] && [ '$path' != / ] && [ -d '$CG$path' ]"
# ...paused first: delete --force of a frozen container (SIGKILL, then thaw).
$H pause lab-default-path
check "delete --force: the container is paused first" [ "$(status lab-default-path)" = paused ]
$H delete --force lab-default-path
check "delete --force: exits 0" [ $? = 0 ]
check "delete --force: the init is gone (or a zombie)" \
    sh -c "! grep -q '^State:.*[RSDT]' /proc/$pid/status 2>/dev/null"
check "delete --force: no cgroup left at the default path" sh -c "[ -n '$path' ] && [ ! -e '$CG$path' ]"

run failed
check "failed create: husk run fails (exit $rc)" [ "$rc" != 0 ]
check "failed create: no cgroup left" gone failed
check "failed create: no state left" sh -c "! $H state lab-failed >/dev/null 2>&1"

# (g) CLONE_INTO_CGROUP: right after create the init is already in the container's cgroup.
# And it was born there: husk create runs alone in a cgroup with pids.max 1, so a plain fork
# of the init (charged to the parent's cgroup, then moved) fails with EAGAIN; clone3 with
# CLONE_INTO_CGROUP charges the new task to the target cgroup only.
mkdir -p $CG/lab-tight
echo +pids > $CG/cgroup.subtree_control
echo 1 > $CG/lab-tight/pids.max
sh -c "echo \$\$ > $CG/lab-tight/cgroup.procs && exec $H create --bundle $B/clone-into lab-clone-into" \
    </dev/null >/dev/null 2>/tmp/create.err
check "clone-into: husk create exits 0 from a cgroup with pids.max 1" [ $? = 0 ]
cat /tmp/create.err
rmdir $CG/lab-tight
pid=$(state_pid lab-clone-into)
cg=$(cat /proc/"$pid"/cgroup 2>/dev/null)
echo "  [clone-into] pid $pid: $cg"
check "clone-into: /proc/<pid>/cgroup is 0::/husk-lab/clone-into right after create" \
    [ "$cg" = "0::/husk-lab/clone-into" ]
check "clone-into: the pid is in the cgroup's cgroup.procs" grep -qx "$pid" "$CG/husk-lab/clone-into/cgroup.procs"
$H delete --force lab-clone-into
check "clone-into: deleted with its cgroup" gone clone-into

# More fields: cpuset (the process's affinity), memory reservation → memory.low, swap →
# memory.swap.max = swap - limit (runc's conversion), hugetlb, unified.
run fields
check "fields: cpus 1 pins the process (Cpus_allowed_list 1)" has "$out" '^Cpus_allowed_list:1$'
for kv in cpuset.cpus=1 cpuset.mems=0 memory.max=67108864 memory.low=16777216 \
    memory.swap.max=33554432 memory.high=50331648 hugetlb.2MB.max=4194304; do
    check "fields: $kv" has "$out" "^$kv\$"
done

run fields2
for kv in cpu.weight=77 cpu.max.burst=20000 memory.max=max memory.swap.max=max pids.max=max \
    hugetlb.2MB.rsvd.max=4194304; do
    check "fields2: $kv" has "$out" "^$kv\$"
done
run idle
check "idle: cpu.idle=1" has "$out" '^cpu.idle=1$'

run no-cgroupns
check "no cgroupns: /proc/self/cgroup shows 0::/husk-lab/no-cgroupns" has "$out" '^0::/husk-lab/no-cgroupns$'

# io.max: the throttled read takes >= 2 s (2 MiB at 512 KiB/s, less the initial burst the
# throttle grants), the same read unthrottled well under 1 s.
# Two RAM disks: ram0 for this check, ram1 for swap (the CLI cgroup tests below). Pages of a
# RAM disk take memory only once written.
if insmod /lab/brd.ko rd_nr=2 rd_size=65536 && [ -b /dev/ram0 ]; then
    run io
    check "io: io.max reads '1:0 rbps=524288 ...' inside" has "$out" '^io.max=1:0_rbps=524288_'
    check "io: io.weight 4950 from blockIO.weight 500" has "$out" '^io.weight=default_4950$'
    check "io: the read succeeds" has "$out" '^read-ok$'
    t=$(printf '%s\n' "$out" | sed -n 's/^elapsed_cs=//p')
    check "io: 2 MiB at rbps 512 KiB/s take >= 2 s (took ${t}0 ms)" sh -c "[ -n '$t' ] && [ '$t' -ge 200 ]"
    run io-free
    check "io: unthrottled, the read succeeds" has "$out" '^read-ok$'
    t=$(printf '%s\n' "$out" | sed -n 's/^elapsed_cs=//p')
    check "io: unthrottled, it takes < 1 s (took ${t}0 ms)" sh -c "[ -n '$t' ] && [ '$t' -lt 100 ]"
else
    bad "io: no /dev/ram0 (insmod brd.ko failed)"
fi

# events: `events --stats` in runc's shape with the limits, and an `oom` line streamed when the
# OOM killer strikes (the container's init is the hog, so the kill also stops it).
rm -f /lab/out/hog
$H run -d --bundle "$B/oom-events" lab-oom-events </dev/null >/dev/null 2>/tmp/oom-events.err
check "events: husk run -d exits 0" [ $? = 0 ]
stats=$($H events --stats lab-oom-events 2>&1)
echo "  [events] $stats" | cut -c1-300
check "events --stats: one {\"data\":..., \"type\":\"stats\"} line" has "$stats" '^{"data":{.*},"id":"lab-oom-events","type":"stats"}$'
for k in cpu cpuset memory pids blkio hugetlb intel_rdt network_interfaces; do
    check "events --stats: has data.$k" has "$stats" "\"$k\":"
done
check "events --stats: memory.usage.limit is the 32 MiB limit" has "$stats" '"usage":{[^}]*"limit":33554432'
check "events --stats: pids.current 1 or 2 (sh, its sleep)" has "$stats" '"pids":{"current":[12][,}]'
$H events --interval 1s lab-oom-events >/tmp/events.out 2>&1 &
evpid=$!
# The first stats line is printed at once: from then on events watches the OOM counter.
i=0
while [ ! -s /tmp/events.out ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
touch /lab/out/hog
i=0
while [ "$(status lab-oom-events)" != stopped ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
check "events: the hog was OOM-killed and the container stopped" [ "$(status lab-oom-events)" = stopped ]
i=0
while kill -0 $evpid 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
check "events: the stream ends when the container stops" sh -c "! kill -0 $evpid 2>/dev/null"
kill $evpid 2>/dev/null
sed 's/^/  [events stream] /' /tmp/events.out | cut -c1-200
check "events: an {\"id\":...,\"type\":\"oom\"} line was streamed" grep -qx '{"id":"lab-oom-events","type":"oom"}' /tmp/events.out
$H delete lab-oom-events
check "events: deleted with its cgroup" gone oom-events

# The CLI's cgroup tests (lab/cgroup-v2.sh built them static) against /bin/husk: every
# resource field by its effect from inside a container (runtime-cli/tests/cgroup_effects.rs),
# and husk next to runc (cgroups_vs_runc.rs: update, pause/resume, ps, events --stats). Swap on
# a RAM disk for the memory+swap check, only while they run (the other checks assume none);
# loop devices for the block I/O throttles. A test that skips here is a failure.
insmod /lab/loop.ko || echo "lab: insmod loop.ko failed"
# BFQ (a module in Debian's kernel): the blockIO.weight effect test sets it on its loop device.
# Loaded only now: with BFQ the weight goes to io.bfq.weight, the io check above wants io.weight.
[ ! -e /lab/bfq.ko ] || insmod /lab/bfq.ko || echo "lab: insmod bfq.ko failed"
if mkswap /dev/ram1 >/dev/null 2>&1 && swapon /dev/ram1; then :; else bad "swap on /dev/ram1"; fi
for t in cgroup_effects cgroups_vs_runc; do
    HUSK_TEST_RUNTIME=/bin/husk HUSK_TEST_RUNC="$(command -v runc)" \
        /lab/husk-$t --test-threads=2 --nocapture >/tmp/$t.log 2>&1
    rc=$?
    # Each failure with the lines after its panic (the message, left/right).
    grep -E -A6 '^(thread .* panicked|SKIPPED)' /tmp/$t.log | grep -v '^ *[0-9]*: \|^ *at \|^stack\|^note:' |
        sed "s/^/  [$t] /" | cut -c1-3000
    res=$(grep '^test result:' /tmp/$t.log)
    n=$(echo "$res" | sed -n 's/.* \([0-9]*\) passed;.*/\1/p')
    m=$(echo "$res" | sed -n 's/.* \([0-9]*\) failed;.*/\1/p')
    if [ -n "$n" ] && [ -n "$m" ]; then
        echo "lab: $t: $n passed, $m failed (exit $rc), $(echo "$res" | sed -n 's/.*\(finished in .*\)/\1/p')"
        pass=$((pass + n))
        fail=$((fail + m))
    else
        bad "$t gave no result line (exit $rc)"
        tail -n 20 /tmp/$t.log
    fi
    skipped=$(grep '^SKIPPED' /tmp/$t.log)
    check "$t: nothing skipped ${skipped:+($skipped)}" [ -z "$skipped" ]
done
swapoff /dev/ram1

# The library's cgroup tests (lab/cgroup-v2.sh built them static): the pure ones, and the
# system tests of the v2 manager, which only here find a cgroup v2 root with controllers. Each
# libtest result counts; a v2 test that skipped is a failure (the lab exists to run them).
echo "lab: husk's lib tests cgroups::"
/lab/husk-lib-tests cgroups:: --test-threads=1 --nocapture >/tmp/lib-tests.log 2>&1
rc=$?
sed 's/^/  [lib] /' /tmp/lib-tests.log | grep -v '^  \[lib\] test .* \.\.\. ok$'
res=$(grep '^test result:' /tmp/lib-tests.log)
n=$(echo "$res" | sed -n 's/.* \([0-9]*\) passed;.*/\1/p')
m=$(echo "$res" | sed -n 's/.* \([0-9]*\) failed;.*/\1/p')
if [ -n "$n" ] && [ -n "$m" ]; then
    echo "lab: lib tests cgroups:: $n passed, $m failed (exit $rc)"
    pass=$((pass + n))
    fail=$((fail + m))
else
    bad "lib tests cgroups:: gave no result line (exit $rc)"
fi
skipped=$(grep -E '^test cgroups::(v2_system_tests::|system_tests::v2_).* \.\.\. SKIPPED' /tmp/lib-tests.log)
check "lib tests: no v2 system test skipped ${skipped:+($skipped)}" [ -z "$skipped" ]
grep -E '^test cgroups::(v2_system_tests::|system_tests::v2_)' /tmp/lib-tests.log | sed 's/^/  ran: /'

# The runtime-spec conformance cases about cgroups, resources (devices too), pause/resume, ps,
# the cgroup at delete, on
# cgroup v2: first with Debian's runc, then with husk gated on runc's results (a case fails
# the lab only if runc passes it and husk does not: the harness checks runc's behaviour too,
# and some cases still assume v1, see the report).
conformance() {
    # conformance RUNTIME NAME [ARGS...]
    rt=$1
    name=$2
    shift 2
    /lab/husk-conformance --runtime "$rt" --busybox /bin/busybox --jobs 2 --timeout 60 \
        --filter 'cgroup|resources/|pause|/ps/|delete/removes-cgroup' --json "/tmp/conformance-$name.json" \
        "$@" >"/tmp/conformance-$name.log" 2>&1
    rc=$?
    grep -v '^ok [0-9]* - [^#]*$' "/tmp/conformance-$name.log" | sed "s/^/  [conformance $name] /"
    res=$(tail -n1 "/tmp/conformance-$name.log")
    echo "lab: conformance $name: $res (exit $rc)"
}
[ -e /dev/loop-control ] || insmod /lab/loop.ko || echo "lab: insmod loop.ko failed: the device cases will skip"
conformance "$(command -v runc)" runc
if has "$res" '^[0-9]* passed, [0-9]* failed, [0-9]* skipped$'; then
    conformance /bin/husk husk --baseline /tmp/conformance-runc.json
    n=$(echo "$res" | sed -n 's/^\([0-9]*\) passed, .*/\1/p')
    regressions=$(grep -c '^# regression' /tmp/conformance-husk.log)
    if [ -n "$n" ]; then
        echo "lab: conformance: husk passed $n cases, $regressions regressions against runc"
        pass=$((pass + n))
        fail=$((fail + regressions))
        [ "$rc" = 0 ] || [ "$regressions" -gt 0 ] || bad "conformance husk: exit $rc without a regression line"
    else
        bad "conformance husk gave no result line (exit $rc)"
    fi
else
    bad "conformance runc gave no result line (the baseline)"
fi

echo "LAB-RESULT: $pass passed, $fail failed"

# The bundles of the cgroup v2 lab (sourced by lab/cgroup-v2.sh on the host; jq is not in the
# VM). `bundle NAME FILTER` applies a jq FILTER to the base spec (busybox rootfs at /lab/rootfs,
# read-only, its own cgroup namespace, cgroupsPath /husk-lab/NAME). lab/vm-tests.sh runs them.
# shellcheck shell=bash

# A first container on cgroup v2: where it is, what it may use.
bundle smoke '.process.args = ["sh", "-c", "cat /proc/self/cgroup; cat /sys/fs/cgroup/cgroup.controllers"]'

# (a) memory.max 32 MiB: `tail /dev/zero` keeps one endless line in memory until the OOM killer.
# The shell survives it (the killer takes the biggest task), reports memory.events (an OOM of
# the whole VM would kill the hog too, but not count there) and exits with the hog's status.
bundle memory '.linux.resources.memory = {limit: 33554432}
    | .process.args = ["sh", "-c", "echo memory.max=$(cat /sys/fs/cgroup/memory.max); tail /dev/zero; rc=$?; while read k v; do echo memory.events.$k=$v; done < /sys/fs/cgroup/memory.events; exit $rc"]'

# (b) pids.max 10: a shell that forks 20 sleepers must fail to fork (busybox sh exits on it).
# Afterwards every fork fails, so the report uses only shell builtins (read, echo).
bundle pids '.linux.resources.pids = {limit: 10}
    | .process.args = ["sh", "-c", "read max < /sys/fs/cgroup/pids.max; echo pids.max=$max; sh -c \"for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do sleep 60 & done\"; read cur < /sys/fs/cgroup/pids.current; echo pids.current=$cur; read ev < /sys/fs/cgroup/pids.events; echo \"pids.events: $ev\""]'

# (c) cpu.max 50 ms per 100 ms and shares 512 (→ cpu.weight 20, runc'\''s conversion): a busy loop
# for 1 s must be throttled.
bundle cpu '.linux.resources.cpu = {quota: 50000, period: 100000, shares: 512}
    | .process.args = ["sh", "-c", "echo cpu.max=$(cat /sys/fs/cgroup/cpu.max | tr \" \" _); echo cpu.weight=$(cat /sys/fs/cgroup/cpu.weight); timeout 1 sh -c \"while :; do :; done\"; grep nr_throttled /sys/fs/cgroup/cpu.stat | tr \" \" ="]'

# (d) devices: /dev/kmsg (c 1:11) is bind-mounted in, so the node exists but the default rules
# (deny all but the standard devices) must make opening it fail with EPERM in the eBPF program;
# /dev/null stays usable. devices-allow adds a rule for c 1:11 w: the same open then works, so
# the EPERM is the device program's doing. Write-only: reading /dev/kmsg also needs CAP_SYSLOG.
kmsg_mount='.mounts += [{destination: "/dev/kmsg", type: "bind", source: "/dev/kmsg", options: ["bind"]}]'
kmsg_args='.process.args = ["sh", "-c", "echo x > /dev/null && echo null-ok; echo husk-lab > /dev/kmsg && echo kmsg-written"]'
bundle devices "$kmsg_mount | $kmsg_args"
bundle devices-allow "$kmsg_mount | $kmsg_args
    | .linux.resources.devices += [{allow: true, type: \"c\", major: 1, minor: 11, access: \"w\"}]"

# (e) pause/resume: a counter the host side reads through a bind mount.
bundle pause '.mounts += [{destination: "/out", type: "bind", source: "/lab/out", options: ["rbind", "rw"]}]
    | .process.args = ["sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /out/n; sleep 0.1; done"]'

# (f) delete: the default cgroupsPath (none given) must go too.
bundle default-path 'del(.linux.cgroupsPath) | .process.args = ["sleep", "60"]'
# (f) a create that fails halfway (after the cgroup exists: a bind mount of a missing source).
bundle failed '.mounts += [{destination: "/x", type: "bind", source: "/lab/missing", options: ["bind"]}]
    | .process.args = ["true"]'

# (g) CLONE_INTO_CGROUP: the init is in its cgroup right after create.
bundle clone-into '.process.args = ["true"]'

# More fields, read back from inside the container's own cgroup (and cpuset from its effect on
# the process's affinity): cpuset, memory reservation/swap, hugetlb, unified.
bundle fields '.linux.resources.cpu = {cpus: "1", mems: "0"}
    | .linux.resources.memory = {limit: 67108864, reservation: 16777216, swap: 100663296}
    | .linux.resources.hugepageLimits = [{pageSize: "2MB", limit: 4194304}]
    | .linux.resources.unified = {"memory.high": "50331648"}
    | .process.args = ["sh", "-c", "grep Cpus_allowed_list /proc/self/status | tr -d \"\\t \"; cd /sys/fs/cgroup; for f in cpuset.cpus cpuset.mems memory.max memory.low memory.swap.max memory.high hugetlb.2MB.max; do echo $f=$(cat $f); done"]'

# Without a cgroup namespace the container sees its full path.
bundle no-cgroupns '.linux.namespaces |= map(select(.type != "cgroup"))
    | .process.args = ["cat", "/proc/self/cgroup"]'

# io: a RAM disk (/dev/ram0, b 1:0, brd loaded by lab/vm-tests.sh) bind-mounted in and allowed;
# reading 2 MiB with O_DIRECT (each read is a bio the throttle sees) at rbps 512 KiB/s must
# take seconds; io-free reads the same without the throttle. Also blockIO.weight 500 → io.weight
# (runc's conversion, without BFQ). /proc/uptime in centiseconds times the read.
ram_args='.mounts += [{destination: "/dev/ram0", type: "bind", source: "/dev/ram0", options: ["bind"]}]
    | .linux.resources.devices += [{allow: true, type: "b", major: 1, minor: 0, access: "r"}]
    | .process.args = ["sh", "-c", "echo io.max=$(cat /sys/fs/cgroup/io.max | tr \" \" _); echo io.weight=$(cat /sys/fs/cgroup/io.weight | tr \" \" _); read t0 x < /proc/uptime; dd if=/dev/ram0 of=/dev/null bs=64k count=32 iflag=direct 2>/dev/null && echo read-ok; read t1 x < /proc/uptime; echo elapsed_cs=$(( $(echo $t1 | tr -d .) - $(echo $t0 | tr -d .) ))"]'
bundle io "$ram_args | .linux.resources.blockIO = {weight: 500, throttleReadBpsDevice: [{major: 1, minor: 0, rate: 524288}]}"
bundle io-free "$ram_args"

# More conversions: -1 is "max" (a fresh cgroup has "max" too: these prove -1 is accepted
# and written, not refused); a unified key overrides the converted value of the same file
# (written last, runc's order); cpu burst and idle.
bundle fields2 '.linux.resources.cpu = {shares: 1024, quota: 50000, period: 100000, burst: 20000}
    | .linux.resources.memory = {limit: -1, swap: -1}
    | .linux.resources.pids = {limit: -1}
    | .linux.resources.hugepageLimits = [{pageSize: "2MB", limit: 4194304}]
    | .linux.resources.unified = {"cpu.weight": "77"}
    | .process.args = ["sh", "-c", "cd /sys/fs/cgroup; for f in cpu.weight cpu.max.burst memory.max memory.swap.max pids.max hugetlb.2MB.rsvd.max; do echo $f=$(cat $f | tr \" \" _); done"]'
bundle idle '.linux.resources.cpu = {idle: 1}
    | .process.args = ["sh", "-c", "echo cpu.idle=$(cat /sys/fs/cgroup/cpu.idle)"]'

# events: a 32 MiB container whose init becomes a memory hog once /out/hog exists (the host side
# starts `husk events` first, then creates the file).
bundle oom-events '.linux.resources.memory = {limit: 33554432, swap: 33554432}
    | .mounts += [{destination: "/out", type: "bind", source: "/lab/out", options: ["rbind", "rw"]}]
    | .process.args = ["sh", "-c", "while [ ! -e /out/hog ]; do sleep 0.1; done; exec tail /dev/zero"]'

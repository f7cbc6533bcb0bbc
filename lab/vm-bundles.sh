# The bundles of the cgroup v2 lab (sourced by lab/cgroup-v2.sh on the host; jq is not in the
# VM). `bundle NAME FILTER` applies a jq FILTER to the base spec (busybox rootfs at /lab/rootfs,
# read-only, its own cgroup namespace, cgroupsPath /husk-lab/NAME). lab/vm-tests.sh runs them.
# shellcheck shell=bash

# A first container on cgroup v2: where it is, what it may use.
bundle smoke '.process.args = ["sh", "-c", "cat /proc/self/cgroup; cat /sys/fs/cgroup/cgroup.controllers"]'

# (a) memory.max 32 MiB: `tail /dev/zero` keeps one endless line in memory until the OOM killer.
bundle memory '.linux.resources.memory = {limit: 33554432}
    | .process.args = ["sh", "-c", "echo memory.max=$(cat /sys/fs/cgroup/memory.max); exec tail /dev/zero"]'

# (b) pids.max 10: a shell that forks 20 sleepers must fail to fork (busybox sh exits on it).
bundle pids '.linux.resources.pids = {limit: 10}
    | .process.args = ["sh", "-c", "echo pids.max=$(cat /sys/fs/cgroup/pids.max); sh -c \"for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do sleep 60 & done\" 2>/dev/shm/err; cat /dev/shm/err; echo sleepers=$(pidof sleep | wc -w); echo pids.events.$(cat /sys/fs/cgroup/pids.events | tr \" \" =)"]'

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

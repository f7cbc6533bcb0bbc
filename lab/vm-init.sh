#!/bin/busybox sh
# PID 1 of the cgroup v2 lab VM (lab/cgroup-v2.sh builds the initramfs around it).
# Stage 1 (from the initramfs): pivot_root does not work with the initramfs as the root (it is
# not a mount that can be moved), so copy everything into a tmpfs and switch_root into it.
# Stage 2 (from the tmpfs): mount proc, sys, dev, cgroup2 at /sys/fs/cgroup, run the checks,
# print the result line and power off.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
if [ "$1" != stage2 ]; then
    mkdir -p /proc /newroot
    mount -t proc proc /proc
    mount -t tmpfs -o size=700m,mode=755 tmpfs /newroot
    for f in /*; do
        case "$f" in /proc|/newroot) continue ;; esac
        cp -a "$f" /newroot/
    done
    mkdir -p /newroot/proc
    umount /proc
    exec switch_root /newroot /init stage2
    echo "LAB-RESULT: 0 passed, 1 failed (switch_root failed)"
    poweroff -f
fi

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
tests=/lab/tests.sh
if grep -qw husk_lab=v1 /proc/cmdline; then
    # The cgroup v1 boot (lab/vm-tests-v1.sh): one hierarchy per controller, like the build hosts.
    mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup
    for c in cpu cpuacct cpuset memory devices freezer blkio pids hugetlb; do
        mkdir -p /sys/fs/cgroup/$c && mount -t cgroup -o $c cgroup /sys/fs/cgroup/$c
    done
    tests=/lab/tests-v1.sh
else
    mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
fi
mount -t tmpfs -o mode=755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
echo "lab: kernel $(uname -r), cgroup controllers: $(cat /sys/fs/cgroup/cgroup.controllers 2>/dev/null || ls /sys/fs/cgroup)"
# The checks run in a child so that this shell stays PID 1 and reaps orphans while it waits.
# AppArmor first (lab/vm-lsm.sh: its own LSM-RESULT line), then the cgroup checks; the SELinux
# boot (lab=selinux) runs only its LSM checks, the cgroup v1 boot (husk_lab=v1) only its own.
if grep -q 'lab=selinux' /proc/cmdline; then
    sh /lab/lsm.sh selinux
    sync
    poweroff -f
fi
[ "$tests" = /lab/tests.sh ] && sh /lab/lsm.sh
sh $tests
rc=$?
[ $rc = 0 ] || echo "lab: tests.sh exited $rc"
sync
poweroff -f

#!/bin/sh
# Build the conformance harness (with its embedded static probe) and run it.
#   conformance/run.sh --runtime /usr/sbin/runc [--jobs N] [--filter RE] [--json FILE] ...
# Every argument goes to husk-conformance (see `--help`). Needs root.
#
# Host set-up it does (idempotent, see docs/environment.md):
#  - busybox-static is required for the root filesystems (apt-get install when missing);
#  - on a hybrid cgroup host whose cgroup2 hierarchy holds the idle hugetlb controller, crun
#    refuses to run ("cgroups in hybrid mode not supported"): bind hugetlb to a v1 hierarchy.
#    That leaves cgroup2 without controllers and is harmless to everything else.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)

if [ "$(id -u)" != 0 ]; then
    echo "run.sh: must run as root" >&2
    exit 2
fi
if ! [ -x /usr/bin/busybox ] || ! /usr/bin/busybox --list >/dev/null 2>&1; then
    apt-get install -y busybox-static >/dev/null
fi
unified=/sys/fs/cgroup/unified/cgroup.controllers
if [ -f "$unified" ] && grep -qw hugetlb "$unified" && ! grep -q ' /sys/fs/cgroup/hugetlb ' /proc/self/mountinfo; then
    mkdir -p /sys/fs/cgroup/hugetlb
    mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb
    echo "run.sh: bound the hugetlb controller to /sys/fs/cgroup/hugetlb (cgroup v1)" >&2
fi
cargo build --quiet --manifest-path "$top/Cargo.toml" -p husk-conformance
target=${CARGO_TARGET_DIR:-$top/target}
exec "$target/debug/husk-conformance" "$@"

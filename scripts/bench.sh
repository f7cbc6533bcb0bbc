#!/usr/bin/env bash
# husk against crun and runc, side by side in one run (benches/, husk-bench):
#   sudo scripts/bench.sh [husk-bench options, e.g. --runs 30 --series 100 --many 1000]
# Writes target/bench/report.md and target/bench/report.svg.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
need_root
install_packages "busybox-static runc crun time build-essential git ca-certificates curl"
ensure_rust
# crun refuses hybrid cgroups while cgroup2 holds the idle hugetlb controller: bind it to a v1
# hierarchy (harmless, idempotent; docs/environment.md), rather than a wrapper whose own cost
# would spoil crun's timings.
unified=/sys/fs/cgroup/unified/cgroup.controllers
if [ -f "$unified" ] && grep -qw hugetlb "$unified" && ! grep -q ' /sys/fs/cgroup/hugetlb ' /proc/self/mountinfo; then
    mkdir -p /sys/fs/cgroup/hugetlb
    mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb
fi
log "building husk (static, profile dist) and husk-bench (release)"
husk=$(build_static_husk)
cargo build --release -p husk-bench
exec target/release/husk-bench --husk "$husk" "$@"

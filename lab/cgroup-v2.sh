#!/usr/bin/env bash
# The cgroup v2 lab: boot Debian's 6.1 kernel under QEMU software emulation (TCG) with
# `cgroup_no_v1=all` (a cgroup v2-only machine, like every modern distribution; the build host
# is hybrid v1), run husk's busybox containers inside and check each limit from its effect.
#   sudo lab/cgroup-v2.sh
# Exits 0 only if every in-VM check passed; the last line is `N passed, M failed`.
# Environment:
#   HUSK_SKIP_INSTALL=1   do not apt-get install anything
#   LAB_DIR=DIR           work/cache directory (default target/cgroup-v2-lab): the kernel .deb,
#                         the static build (its own target dir, so the normal cache is kept)
#   LAB_TIMEOUT=SECONDS   the VM's wall-time limit (default 420; a run takes ~250 s)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
. scripts/setup.sh
need_root

start=$(date +%s)
lab=${LAB_DIR:-$repo/target/cgroup-v2-lab}
timeout_s=${LAB_TIMEOUT:-420}
mkdir -p "$lab"

# --- 1. packages and Debian's kernel -------------------------------------------------------
if [ "${HUSK_SKIP_INSTALL:-0}" != 1 ]; then
    # qemu-system-x86: the VM; cpio: the initramfs; busybox-static: the VM's userland and the
    # containers' rootfs; jq: the bundles' config.json; binutils: strip (the initramfs size).
    # runc: the reference for the conformance cases in the VM.
    install_packages "qemu-system-x86 cpio busybox-static jq binutils build-essential runc"
fi
ensure_rust

kdir=$lab/kernel
if [ ! -e "$kdir/vmlinuz" ] || [ ! -e "$kdir/brd.ko" ] || [ ! -e "$kdir/loop.ko" ] ||
    [ ! -e "$kdir/bfq.ko" ]; then
    log "fetching Debian's kernel"
    # The newest 6.1.0-N-amd64 image Debian 12 has: N moves with point releases.
    pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' |
        awk '{print $1}' | sort -V | tail -n1)
    [ -n "$pkg" ] || { echo "lab: no linux-image-6.1.0-N-amd64 package (apt-get update?)" >&2; exit 1; }
    rm -rf "$kdir" && mkdir -p "$kdir/x"
    # apt-get download writes into the current directory as the _apt user when it can.
    (cd "$kdir" && chmod 777 . && apt-get download -q "$pkg")
    dpkg-deb -x "$kdir"/"$pkg"_*.deb "$kdir/x"
    cp "$kdir"/x/boot/vmlinuz-* "$kdir/vmlinuz"
    # brd (RAM disk) is a module there: a block device for the io.max check.
    cp "$kdir"/x/lib/modules/*/kernel/drivers/block/brd.ko "$kdir/brd.ko"
    # loop: the conformance device cases use /dev/loop-control.
    cp "$kdir"/x/lib/modules/*/kernel/drivers/block/loop.ko "$kdir/loop.ko"
    # bfq: the I/O scheduler the blockIO.weight effect test puts on its loop device.
    cp "$kdir"/x/lib/modules/*/kernel/block/bfq.ko "$kdir/bfq.ko"
    echo "$pkg" > "$kdir/package"
    rm -rf "$kdir/x" "$kdir"/*.deb
fi
log "kernel: $(cat "$kdir/package")"

# --- 2. static husk ------------------------------------------------------------------------
log "building a static husk (target dir $lab/target)"
# +crt-static on the gnu target (the musl target is not installed, environment.md). A
# separate target dir: other RUSTFLAGS would otherwise invalidate the normal build cache.
RUSTFLAGS="-C target-feature=+crt-static" cargo build -q --target x86_64-unknown-linux-gnu \
    --target-dir "$lab/target" -p husk-cli
husk_bin=$lab/target/x86_64-unknown-linux-gnu/debug/husk
# The library's unit and system tests (run in the VM: cgroups::, with the v2 system tests that
# skip on a hybrid host). --no-run prints nothing useful on stdout; the JSON names the binary.
lib_tests=$(RUSTFLAGS="-C target-feature=+crt-static" cargo test -q --no-run \
    --target x86_64-unknown-linux-gnu --target-dir "$lab/target" -p husk --lib \
    --message-format=json | jq -r 'select(.profile.test == true and .executable != null) | .executable')
[ -x "$lib_tests" ] || { echo "lab: no test executable for husk's lib" >&2; exit 1; }
# The CLI's cgroup system tests (each field by its effect; husk next to runc), run in the VM
# against /bin/husk.
cli_tests=$(RUSTFLAGS="-C target-feature=+crt-static" cargo test -q --no-run \
    --target x86_64-unknown-linux-gnu --target-dir "$lab/target" -p husk-cli \
    --test cgroup_effects --test cgroups_vs_runc --message-format=json |
    jq -r 'select(.profile.test == true and .executable != null) | .target.name + " " + .executable')
# The conformance harness (it embeds its own static probe), for the cgroup-related cases.
RUSTFLAGS="-C target-feature=+crt-static" cargo build -q --target x86_64-unknown-linux-gnu \
    --target-dir "$lab/target" -p husk-conformance
conformance_bin=$lab/target/x86_64-unknown-linux-gnu/debug/husk-conformance

# --- 3. the initramfs ----------------------------------------------------------------------
log "building the initramfs"
root=$lab/initramfs
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,run,newroot,lab/bundles,lab/out}
# The kernel opens /dev/console for PID 1 before anything is mounted.
mknod -m 600 "$root/dev/console" c 5 1
busybox=$(command -v busybox)
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
done
strip -o "$root/bin/husk" "$husk_bin"
strip -o "$root/lab/husk-lib-tests" "$lib_tests"
while read -r name exe; do
    strip -o "$root/lab/husk-$name" "$exe"
done <<<"$cli_tests"
[ -x "$root/lab/husk-cgroup_effects" ] && [ -x "$root/lab/husk-cgroups_vs_runc" ] ||
    { echo "lab: the CLI cgroup tests did not build" >&2; exit 1; }
cp "$kdir/brd.ko" "$kdir/loop.ko" "$kdir/bfq.ko" "$root/lab/"
strip -o "$root/lab/husk-conformance" "$conformance_bin"
# Debian's runc with its shared libraries (same paths), the conformance baseline.
runc_bin=$(command -v runc)
for f in "$runc_bin" $(ldd "$runc_bin" | grep -o '/[^ ]*'); do
    cp -L --parents "$f" "$root"
done
cp lab/vm-init.sh "$root/init"
cp lab/vm-tests.sh "$root/lab/tests.sh"
cp lab/vm-tests-v1.sh "$root/lab/tests-v1.sh"
cp lab/vm-lib.sh "$root/lab/lib.sh"
chmod 755 "$root/init" "$root/lab/tests.sh" "$root/lab/tests-v1.sh"
# The containers' rootfs (shared, read-only) and one bundle per check: the base spec is
# husk's own `husk spec`; each check adds its limits and its command (lab/vm-tests.sh).
scripts/mk-bundle.sh "$root/lab" "$husk_bin" >/dev/null
mv "$root/lab/config.json" "$lab/base.json"
base=$(jq '.root = {path: "/lab/rootfs", readonly: true}
    | .process.terminal = false
    | .linux.namespaces += [{type: "cgroup"}]' "$lab/base.json")
bundle() {
    # bundle NAME JQ-FILTER: /lab/bundles/NAME/config.json, cgroupsPath /husk-lab/NAME
    mkdir -p "$root/lab/bundles/$1"
    jq --arg name "$1" ".linux.cgroupsPath = \"/husk-lab/\" + \$name | $2" <<<"$base" \
        > "$root/lab/bundles/$1/config.json"
}
. lab/vm-bundles.sh
. lab/lsm-host.sh
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$lab/initrd.gz"
log "initramfs: $(du -h "$lab/initrd.gz" | cut -f1)"

# --- 4. boot ------------------------------------------------------------------------------
log "booting the cgroup v2 VM (TCG, timeout ${timeout_s}s)"
out=$lab/serial.log
vm_start=$(date +%s)
set +e
timeout "$timeout_s" qemu-system-x86_64 -accel tcg -m 1024 -smp 2 -nographic -no-reboot \
    -kernel "$kdir/vmlinuz" -initrd "$lab/initrd.gz" \
    -append "console=ttyS0 quiet cgroup_no_v1=all panic=-1 apparmor=1 security=apparmor" </dev/null 2>&1 |
    tr -d '\r' | tee "$out"
qemu_rc=${PIPESTATUS[0]}
set -e
log "VM ran $(( $(date +%s) - vm_start ))s (qemu exit $qemu_rc); lab total $(( $(date +%s) - start ))s"

result=$(grep -E '^LAB-RESULT: [0-9]+ passed, [0-9]+ failed$' "$out" | tail -n1 || true)
if [ -z "$result" ]; then
    [ "$qemu_rc" = 124 ] && echo "lab: the VM did not finish within ${timeout_s}s" >&2
    echo "lab: no result line from the VM (serial log: $out)" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
passed=$(echo "$result" | awk '{print $2}')
failed=$(echo "$result" | awk '{print $4}')
# The LSM checks (lab/vm-lsm.sh) report on their own line: AppArmor in this boot, SELinux
# in a second short one.
lsm_selinux_boot "$lab/serial-selinux.log"
for log_file in "$out" "$lab/serial-selinux.log"; do
    lsm=$(grep -E '^LSM-RESULT: [0-9]+ passed, [0-9]+ failed$' "$log_file" | tail -n1 || true)
    if [ -n "$lsm" ]; then
        passed=$((passed + $(echo "$lsm" | awk '{print $2}')))
        failed=$((failed + $(echo "$lsm" | awk '{print $4}')))
        [ "$log_file" = "$out" ] || grep '^FAIL: ' "$log_file" || true
    else
        echo "lab: no LSM-RESULT line in $log_file" >&2
        failed=$((failed + 1))
    fi
done
grep '^FAIL: ' "$out" || true

# --- 5. a cgroup v1 boot: what needs v1 and swap (the build machines have no swap) ---------
log "booting the same VM with cgroup v1 (swap checks, lab/vm-tests-v1.sh)"
out1=$lab/serial-v1.log
vm_start=$(date +%s)
set +e
timeout 120 qemu-system-x86_64 -accel tcg -m 1024 -smp 2 -nographic -no-reboot \
    -kernel "$kdir/vmlinuz" -initrd "$lab/initrd.gz" \
    -append "console=ttyS0 quiet panic=-1 husk_lab=v1" </dev/null 2>&1 |
    tr -d '\r' | tee "$out1"
set -e
log "v1 VM ran $(( $(date +%s) - vm_start ))s; lab total $(( $(date +%s) - start ))s"
result=$(grep -E '^LAB-RESULT: [0-9]+ passed, [0-9]+ failed$' "$out1" | tail -n1 || true)
if [ -n "$result" ]; then
    passed=$((passed + $(echo "$result" | awk '{print $2}')))
    failed=$((failed + $(echo "$result" | awk '{print $4}')))
    grep '^FAIL: ' "$out1" || true
else
    echo "lab: no result line from the cgroup v1 VM (serial log: $out1)" >&2
    failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]

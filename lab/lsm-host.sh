# The LSM part of the lab, host side (sourced by lab/cgroup-v2.sh after the bundles; needs
# $lab, $kdir, $root, bundle()). Debian's kernel has AppArmor built in (booted with
# `apparmor=1 security=apparmor`); this puts Debian's apparmor_parser (package `apparmor`,
# downloaded and unpacked, not installed on the host) with its shared libraries, a test
# profile, a file the profile denies, and the bundles of lab/vm-lsm.sh into the initramfs.
# shellcheck shell=bash

aa=$lab/apparmor
if [ ! -x "$aa/sbin/apparmor_parser" ]; then
    log "fetching Debian's apparmor_parser"
    rm -rf "$aa" && mkdir -p "$aa/deb"
    (cd "$aa/deb" && chmod 777 . && apt-get download -q apparmor)
    dpkg-deb -x "$aa"/deb/apparmor_*.deb "$aa"
    rm -rf "$aa/deb"
fi
mkdir -p "$root/sbin" "$root/lab/lsm"
cp "$aa/sbin/apparmor_parser" "$root/sbin/apparmor_parser"
for f in $(ldd "$aa/sbin/apparmor_parser" | grep -o '/[^ ]*'); do
    cp -L --parents "$f" "$root"
done
# Everything allowed but reading /etc/lab-secret (a path inside the container).
cat > "$root/lab/lsm/husk-lab.profile" <<'PROFILE'
profile husk-lab flags=(attach_disconnected,mediate_deleted) {
  file,
  capability,
  network,
  signal,
  ptrace,
  unix,
  mount,
  umount,
  pivot_root,
  deny /etc/lab-secret r,
}
PROFILE
echo lab-secret-content > "$root/lab/rootfs/etc/lab-secret"
echo allowed-content > "$root/lab/rootfs/etc/lab-allowed"
cp lab/vm-lsm.sh "$root/lab/lsm.sh"
chmod 755 "$root/lab/lsm.sh"
# What the container reports: its label, the denied read, an allowed read.
lsm_args='["sh", "-c", "echo current=$(cat /proc/self/attr/current); cat /etc/lab-secret || echo secret-denied; echo allowed=$(cat /etc/lab-allowed)"]'
bundle lsm-confined ".process.apparmorProfile = \"husk-lab\" | .process.args = $lsm_args"
bundle lsm-plain ".process.args = $lsm_args"
# As a non-root user with no capabilities: the label is written after the user switch.
bundle lsm-user ".process.apparmorProfile = \"husk-lab\" | .process.user = {uid: 1000, gid: 1000}
    | .process.capabilities = {} | .process.args = [\"cat\", \"/proc/self/attr/current\"]"
bundle lsm-unknown '.process.apparmorProfile = "husk-lab-not-loaded" | .process.args = ["true"]'
bundle lsm-sleep '.process.args = ["sleep", "60"]'
bundle lsm-sleep-confined '.process.apparmorProfile = "husk-lab" | .process.args = ["sleep", "60"]'

# --- SELinux: a second, short boot (AppArmor and SELinux cannot be active together) ----------
# Debian ships its policy as modules that need semodule to link; instead, a minimal policy
# compiled here with Debian's checkpolicy (package `checkpolicy`, unpacked, not installed):
# kernel_t for everything but the container, container_t for it, file_t for files, and
# secret_t, whose files container_t may create and write but not read. Unknown classes and
# permissions are allowed (`-U allow`), so the policy needs only what the checks use.
# container_t is bounded by kernel_t: the lab's containers run with no_new_privs, under which
# SELinux allows only a transition to a bounded type (no nnp_transition policy capability).
se=$lab/selinux
if [ ! -x "$se/usr/bin/checkpolicy" ]; then
    log "fetching Debian's checkpolicy"
    rm -rf "$se" && mkdir -p "$se/deb"
    (cd "$se/deb" && chmod 777 . && apt-get download -q checkpolicy)
    dpkg-deb -x "$se"/deb/checkpolicy_*.deb "$se"
    rm -rf "$se/deb"
fi
cat > "$se/lab.te" <<'POLICY'
class process
class file
class dir
class filesystem
class key
sid kernel
sid security
sid unlabeled
sid fs
sid file
common file { ioctl read write create getattr setattr lock relabelfrom relabelto append unlink link rename execute quotaon mounton map open audit_access watch }
class process { fork transition sigchld sigkill sigstop signull signal ptrace getsched setsched getsession getpgid setpgid getcap setcap share getattr setexec setfscreate noatsecure siginh setrlimit rlimitinh dyntransition setcurrent execmem execstack execheap setkeycreate setsockcreate getrlimit }
class file inherits file { execute_no_trans entrypoint }
class dir inherits file { add_name remove_name reparent search rmdir }
class filesystem { mount remount unmount getattr relabelfrom relabelto associate quotamod quotaget watch }
class key { view read write search link setattr create }
type kernel_t;
type container_t;
type file_t;
type secret_t;
allow kernel_t { kernel_t container_t file_t secret_t }:{ process file dir filesystem key } *;
allow container_t { container_t kernel_t file_t }:{ process file dir filesystem key } *;
allow container_t secret_t:dir *;
allow container_t secret_t:file { create write append open getattr setattr };
allow { file_t secret_t } { file_t secret_t }:filesystem associate;
typebounds kernel_t container_t;
role system_r;
role system_r types { kernel_t container_t };
user system_u roles { system_r object_r };
sid kernel system_u:system_r:kernel_t
sid security system_u:object_r:file_t
sid unlabeled system_u:object_r:file_t
sid fs system_u:object_r:file_t
sid file system_u:object_r:file_t
fs_use_trans tmpfs system_u:object_r:file_t;
fs_use_trans devpts system_u:object_r:file_t;
fs_use_trans mqueue system_u:object_r:file_t;
genfscon proc / system_u:object_r:file_t
genfscon sysfs / system_u:object_r:file_t
genfscon selinuxfs / system_u:object_r:file_t
genfscon cgroup2 / system_u:object_r:file_t
genfscon securityfs / system_u:object_r:file_t
genfscon rootfs / system_u:object_r:file_t
genfscon devtmpfs / system_u:object_r:file_t
POLICY
"$se/usr/bin/checkpolicy" -U allow -c 33 -o "$root/lab/lsm/lab.policy" "$se/lab.te" >/dev/null
# The container: labelled container_t, every tmpfs/devpts mount labelled secret_t (device
# nodes are chr_file, a class the policy leaves alone), a tmpfs at /secret to write then read.
se_args='["sh", "-c", "echo current=$(cat /proc/self/attr/current); echo data > /secret/f && echo wrote; cat /secret/f || echo read-denied; grep context= /proc/self/mountinfo | cut -d\" \" -f5,10-"]'
bundle se-confined ".process.selinuxLabel = \"system_u:system_r:container_t\"
    | .linux.mountLabel = \"system_u:object_r:secret_t\"
    | .mounts += [{destination: \"/secret\", type: \"tmpfs\", source: \"tmpfs\", options: [\"nosuid\"]}]
    | .process.args = $se_args"
bundle se-bad-label '.process.selinuxLabel = "system_u:system_r:no_such_t" | .process.args = ["true"]'
bundle se-sleep '.process.selinuxLabel = "system_u:system_r:container_t" | .process.args = ["sleep", "60"]'

# lsm_selinux_boot LOG: boot the same initramfs with SELinux (lab=selinux: vm-init.sh runs
# only `lab/vm-lsm.sh selinux`); its LSM-RESULT line lands in LOG.
lsm_selinux_boot() {
    log "booting the SELinux VM (TCG)"
    local t0
    t0=$(date +%s)
    timeout 120 qemu-system-x86_64 -accel tcg -m 1024 -smp 2 -nographic -no-reboot \
        -kernel "$kdir/vmlinuz" -initrd "$lab/initrd.gz" \
        -append "console=ttyS0 quiet cgroup_no_v1=all panic=-1 security=selinux selinux=1 lab=selinux" \
        </dev/null 2>&1 | tr -d '\r' | tee "$1" | grep -E '^(PASS|FAIL|  \[)' || true
    log "SELinux VM ran $(( $(date +%s) - t0 ))s"
}

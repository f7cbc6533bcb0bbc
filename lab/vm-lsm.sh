#!/bin/sh
# The LSM checks of the lab, busybox sh in the VM (run by lab/vm-init.sh before the cgroup
# checks; lab/lsm-host.sh made the bundles). The kernel has AppArmor enabled: load a test
# profile with apparmor_parser, then run the same containers with husk and with Debian's runc
# (the control): the profile named in /proc/self/attr/current, its deny rule enforced, an
# unknown profile failing the create, exec --apparmor and exec inheriting the profile.
# The last line is `LSM-RESULT: N passed, M failed`.
B=/lab/bundles
. /lab/lib.sh

if [ "$1" = selinux ]; then
    # Booted with security=selinux: load the lab's minimal policy (lab/lsm-host.sh), enforce
    # it, and run the same containers with husk and runc.
    mount -t selinuxfs selinuxfs /sys/fs/selinux
    dd if=/lab/lsm/lab.policy of=/sys/fs/selinux/load bs=1M 2>/dev/null
    check "selinux: the lab policy loads" [ $? = 0 ]
    echo 1 > /sys/fs/selinux/enforce
    check "selinux: enforcing" [ "$(cat /sys/fs/selinux/enforce)" = 1 ]
    echo "  [selinux] this shell: $(cat /proc/self/attr/current)"
    for rt in husk runc; do
        R="$rt --root /run/se-$rt"
        out=$($R run --bundle $B/se-confined "se-$rt" 2>&1)
        rc=$?
        printf '%s\n' "$out" | sed "s/^/  [$rt se-confined] /"
        check "$rt: the labelled container exits 0 (got $rc)" [ "$rc" = 0 ]
        check "$rt: /proc/self/attr/current is system_u:system_r:container_t" \
            has "$out" '^current=system_u:system_r:container_t$'
        check "$rt: the container may write a file on its secret_t tmpfs" has "$out" '^wrote$'
        check "$rt: ...but not read it: the mount label reached the tmpfs (context=)" has "$out" '^read-denied$'
        for m in /secret /dev /dev/pts /dev/shm /sys/firmware; do
            check "$rt: $m is mounted with context=...secret_t" has "$out" "^$m .*context=system_u:object_r:secret_t"
        done
        check "$rt: ...but not proc, sysfs or mqueue" lacks "$out" '^/\(proc\|sys\|dev/mqueue\) '
        out=$($R run --bundle $B/se-bad-label "se-$rt-bad" 2>&1)
        rc=$?
        printf '%s\n' "$out" | sed "s/^/  [$rt se-bad-label] /"
        check "$rt: a label the policy does not know fails the run (exit $rc)" [ "$rc" != 0 ]
        $R run -d --bundle $B/se-sleep "se-$rt-sleep" </dev/null >/dev/null 2>&1
        out=$($R exec "se-$rt-sleep" cat /proc/self/attr/current 2>&1)
        check "$rt: exec into a labelled container gets its label ($out)" [ "$out" = system_u:system_r:container_t ]
        out=$($R exec --process-label system_u:system_r:kernel_t "se-$rt-sleep" cat /proc/self/attr/current 2>&1)
        check "$rt: exec --process-label overrides it ($out)" [ "$out" = system_u:system_r:kernel_t ]
        $R delete --force "se-$rt-sleep" >/dev/null 2>&1
    done
    echo "LSM-RESULT: $pass passed, $fail failed"
    exit 0
fi

[ -d /sys/kernel/security/apparmor ] || mount -t securityfs securityfs /sys/kernel/security
check "lsm: AppArmor is enabled (/sys/module/apparmor/parameters/enabled)" \
    [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ]
out=$(apparmor_parser -r /lab/lsm/husk-lab.profile 2>&1)
rc=$?
printf '%s\n' "$out" | grep -v "parser.conf' not found" | sed 's/^/  [apparmor_parser] /'
check "lsm: apparmor_parser loads the test profile (exit $rc)" [ "$rc" = 0 ]
check "lsm: the kernel lists husk-lab (enforce)" grep -qx 'husk-lab (enforce)' /sys/kernel/security/apparmor/profiles

for rt in husk runc; do
    R="$rt --root /run/lsm-$rt"
    out=$($R run --bundle $B/lsm-confined "lsm-$rt-confined" 2>&1)
    rc=$?
    printf '%s\n' "$out" | sed "s/^/  [$rt confined] /"
    check "$rt: the confined container exits 0 (got $rc)" [ "$rc" = 0 ]
    check "$rt: /proc/self/attr/current names husk-lab (enforce)" has "$out" '^current=husk-lab (enforce)$'
    check "$rt: the deny rule holds: reading /etc/lab-secret is refused" has "$out" "lab-secret': Permission denied"
    check "$rt: ...and nothing of it was read" lacks "$out" 'lab-secret-content'
    check "$rt: an allowed file still reads" has "$out" '^allowed=allowed-content$'

    out=$($R run --bundle $B/lsm-user "lsm-$rt-user" 2>&1)
    check "$rt: as uid 1000 without capabilities, confined too ($out)" [ "$out" = "husk-lab (enforce)" ]

    out=$($R run --bundle $B/lsm-plain "lsm-$rt-plain" 2>&1)
    printf '%s\n' "$out" | sed "s/^/  [$rt plain] /"
    check "$rt: without a profile the process is unconfined" has "$out" '^current=unconfined$'
    check "$rt: ...and reads the file" has "$out" '^lab-secret-content$'

    out=$($R run --bundle $B/lsm-unknown "lsm-$rt-unknown" 2>&1)
    rc=$?
    printf '%s\n' "$out" | sed "s/^/  [$rt unknown] /"
    check "$rt: a profile that is not loaded fails the run (exit $rc)" [ "$rc" != 0 ]
    check "$rt: ...and leaves no container" sh -c "! $R state lsm-$rt-unknown >/dev/null 2>&1"

    $R run -d --bundle $B/lsm-sleep "lsm-$rt-sleep" </dev/null >/dev/null 2>&1
    out=$($R exec --apparmor husk-lab "lsm-$rt-sleep" cat /proc/self/attr/current 2>&1)
    check "$rt: exec --apparmor husk-lab confines the exec'd process ($out)" [ "$out" = "husk-lab (enforce)" ]
    out=$($R exec "lsm-$rt-sleep" cat /proc/self/attr/current 2>&1)
    check "$rt: a plain exec stays unconfined ($out)" [ "$out" = unconfined ]
    $R delete --force "lsm-$rt-sleep" >/dev/null 2>&1

    $R run -d --bundle $B/lsm-sleep-confined "lsm-$rt-sleepc" </dev/null >/dev/null 2>&1
    out=$($R exec "lsm-$rt-sleepc" cat /proc/self/attr/current 2>&1)
    check "$rt: exec into a confined container gets its profile ($out)" [ "$out" = "husk-lab (enforce)" ]
    out=$($R exec "lsm-$rt-sleepc" cat /etc/lab-secret 2>&1)
    check "$rt: ...and its deny rule ($out)" has "$out" 'Permission denied'
    $R delete --force "lsm-$rt-sleepc" >/dev/null 2>&1
done
echo "LSM-RESULT: $pass passed, $fail failed"

#!/bin/sh
# The cgroup v1 boot of the lab (lab/vm-init.sh with `husk_lab=v1`): one v1 hierarchy per
# controller, like the build machines, but WITH swap (a RAM disk), which they lack. Runs the
# effect tests that need both (runtime-cli/tests/cgroup_effects.rs, names containing "swap"):
# memory+swap lets a process past the memory limit, swappiness 0 does not. A skip is a failure.
pass=0
fail=0
if insmod /lab/brd.ko rd_nr=1 rd_size=131072 && mkswap /dev/ram0 >/dev/null && swapon /dev/ram0; then
    echo "lab: swap: $(tail -n +2 /proc/swaps)"
else
    echo "FAIL: swap on /dev/ram0"
    fail=$((fail + 1))
fi
HUSK_TEST_RUNTIME=/bin/husk /lab/husk-cgroup_effects swap --test-threads=1 --nocapture \
    >/tmp/v1.log 2>&1
rc=$?
grep -E '^test |^SKIPPED' /tmp/v1.log | sed 's/^/  [v1] /'
grep -E -A6 '^thread .* panicked' /tmp/v1.log | grep -v '^ *[0-9]*: \|^ *at \|^stack\|^note:' |
    sed 's/^/  [v1] /' | cut -c1-3000
res=$(grep '^test result:' /tmp/v1.log)
n=$(echo "$res" | sed -n 's/.* \([0-9]*\) passed;.*/\1/p')
m=$(echo "$res" | sed -n 's/.* \([0-9]*\) failed;.*/\1/p')
if [ -n "$n" ] && [ -n "$m" ] && [ "$n" -ge 2 ]; then
    echo "lab: cgroup v1 + swap: $n passed, $m failed (exit $rc)"
    pass=$((pass + n))
    fail=$((fail + m))
else
    echo "FAIL: cgroup v1 + swap tests gave no usable result line (exit $rc): $res"
    tail -n 20 /tmp/v1.log
    fail=$((fail + 1))
fi
if grep -q '^SKIPPED' /tmp/v1.log; then
    echo "FAIL: a cgroup v1 + swap test skipped"
    fail=$((fail + 1))
fi
echo "LAB-RESULT: $pass passed, $fail failed"

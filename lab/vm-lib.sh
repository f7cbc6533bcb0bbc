# Shared by the lab's in-VM check scripts (vm-tests.sh, vm-lsm.sh): sourced by busybox sh.
# Each check prints PASS: or FAIL: with what it saw; the callers count them for their result line.
pass=0
fail=0
ok() { echo "PASS: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
# check NAME CONDITION-COMMAND...: PASS/FAIL on the command's status.
check() {
    name=$1
    shift
    if "$@"; then ok "$name"; else bad "$name"; fi
}
has() { printf '%s\n' "$1" | grep -q -- "$2"; }
lacks() { ! has "$@"; }

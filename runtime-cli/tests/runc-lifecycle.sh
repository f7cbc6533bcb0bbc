#!/bin/sh
# A lifecycle script written for runc: create, start, state, kill, delete.
#   RUNC=/path/to/runtime runc-lifecycle.sh BUNDLE ID
# $RUNC defaults to runc; set it to husk to check that husk stands in for runc.
# $RUNC_ROOT, when set, is passed as --root (the tests use a private state directory).
set -eu
RUNC=${RUNC:-runc}
bundle=${1:?usage: runc-lifecycle.sh BUNDLE ID}
id=${2:?usage: runc-lifecycle.sh BUNDLE ID}
r() { "$RUNC" ${RUNC_ROOT:+--root "$RUNC_ROOT"} "$@"; }
status() { r state "$id" | sed -n 's/.*"status": *"\([a-z]*\)".*/\1/p'; }
expect() {
    got=$(status)
    [ "$got" = "$1" ] || { echo "expected status $1, got '$got'" >&2; exit 1; }
    echo "status: $got"
}

r create --bundle "$bundle" --pid-file "$bundle/init.pid" "$id" </dev/null >/dev/null 2>&1
expect created
pid=$(cat "$bundle/init.pid")
kill -0 "$pid"
r start "$id"
expect running
r kill "$id" KILL
i=0
while [ "$(status)" != stopped ]; do
    i=$((i + 1)); [ $i -lt 200 ] || { echo "container did not stop" >&2; exit 1; }
    sleep 0.05
done
expect stopped
r list | grep -q "^$id "
r delete "$id"
if r state "$id" >/dev/null 2>&1; then echo "state still exists after delete" >&2; exit 1; fi
echo "lifecycle ok"

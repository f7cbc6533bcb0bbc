#!/usr/bin/env bash
# Real engines drive the runtime: each engine script (containerd.sh, docker.sh, podman.sh —
# those present) runs once with husk and once with runc as the control, then a summary: one
# line per engine and runtime with its checks and wall time, the checks husk fails that runc
# passes, and the checks the control fails. Exits non-zero if any run failed or was skipped
# under HUSK_TEST_NO_SKIP=1.
#   sudo bash runtime-cli/tests/engines/run.sh [ENGINE...]      (default: all of them)
# Environment:
#   HUSK=PATH               the husk binary (default: target/debug/husk, built when missing)
#   RUNC=PATH               the control runtime (default: runc on PATH)
#   HUSK_SKIP_INSTALL=1     do not apt-get install the engines
# Each run's full output is in target/engines/ENGINE-RUNTIME.log.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
cd "$repo" || exit 1

if [ "$(id -u)" != 0 ]; then
    echo "$0: run as root: the engines' daemons need it" >&2
    exit 1
fi
# shellcheck source=../../../scripts/setup.sh
. scripts/setup.sh
if [ "${HUSK_SKIP_INSTALL:-0}" != 1 ]; then
    # A no-op when scripts/test.sh has installed them already.
    install_packages "containerd docker.io podman conmon busybox-static jq runc" || exit 1
fi

HUSK=${HUSK:-$repo/target/debug/husk}
RUNC=${RUNC:-$(command -v runc)}
if [ ! -x "$HUSK" ]; then
    log "building husk (cargo build -p husk-cli)"
    cargo build -p husk-cli || exit 1
fi
[ -n "$RUNC" ] && [ -x "$RUNC" ] || { echo "runc is not installed (apt-get install runc)" >&2; exit 1; }

if [ $# -gt 0 ]; then engines=("$@"); else engines=(containerd docker podman); fi
logs=$repo/target/engines
mkdir -p "$logs"

declare -a lines=() regressions=() control_failures=()
failed=0
for engine in "${engines[@]}"; do
    script=$here/$engine.sh
    if [ ! -f "$script" ]; then
        lines+=("$(printf '%-11s %-5s %s' "$engine" - "not in this checkout ($script)")")
        continue
    fi
    for rt in husk runc; do
        if [ $rt = husk ]; then bin=$HUSK; else bin=$RUNC; fi
        log "$engine with $rt ($bin)"
        out=$logs/$engine-$rt.log
        start=$(date +%s)
        ENGINE_RUNTIME=$bin bash "$script" </dev/null 2>&1 | tee "$out"
        rc=${PIPESTATUS[0]}
        secs=$(($(date +%s) - start))
        result=$(grep -E "^$engine with |^SKIPPED: |^FAIL  prerequisites" "$out" | tail -n1)
        [ -n "$result" ] || result="no summary line (crashed?)"
        if [ "$rc" -ne 0 ]; then
            failed=1
            result="FAIL (exit $rc): $result"
        fi
        lines+=("$(printf '%-11s %-5s %4ss  %s' "$engine" "$rt" "$secs" "$result")")
        # The names of the failed checks, for the comparison below.
        sed -n 's/^FAIL  //p' "$out" > "$logs/$engine-$rt.failed"
    done
    # Checks husk fails and runc passes are husk's bugs; checks runc fails are listed apart
    # (a check the control fails is either runc's limitation here or a wrong check).
    if [ -f "$logs/$engine-husk.failed" ] && [ -f "$logs/$engine-runc.failed" ]; then
        while IFS= read -r name; do
            [ -n "$name" ] || continue
            if grep -qxF -- "$name" "$logs/$engine-runc.failed"; then
                control_failures+=("$engine: $name (husk fails it too)")
            else
                regressions+=("$engine: $name")
            fi
        done < "$logs/$engine-husk.failed"
        while IFS= read -r name; do
            [ -n "$name" ] || continue
            grep -qxF -- "$name" "$logs/$engine-husk.failed" ||
                control_failures+=("$engine: $name (husk passes it)")
        done < "$logs/$engine-runc.failed"
    fi
done

printf '\n================ engines: husk and runc (control) ================\n'
printf '%s\n' "${lines[@]}"
if [ ${#regressions[@]} -gt 0 ]; then
    printf '\nfailing with husk, passing with runc:\n'
    printf '  %s\n' "${regressions[@]}"
fi
if [ ${#control_failures[@]} -gt 0 ]; then
    printf '\nfailing with runc (the control):\n'
    printf '  %s\n' "${control_failures[@]}"
fi
printf '\nlogs: %s\n' "$logs"
exit $failed

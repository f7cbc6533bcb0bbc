#!/usr/bin/env bash
# Regenerate runtime-cli/layout/husk.order: the functions of the static husk that its common
# commands run, in the order they first run (scripts/layout-trace.py), which build_static_husk
# (scripts/setup.sh) hands to lld as --symbol-ordering-file. lld then packs that code at the
# start of .text, so the kernel's 64 KiB fault-around windows map hot code and little else:
# the resident set of `husk create` drops by ~1 MiB (benches/README.md).
#   sudo scripts/layout.sh
# Rerun it when the commands' code paths change much; a stale list costs memory, not
# correctness (lld skips names it does not find; build_static_husk says how many it found).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
need_root
install_packages "busybox-static jq python3 binutils"
ensure_rust

out=$PWD/runtime-cli/layout/husk.order
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The list comes from a build WITHOUT an ordering file, so that it does not feed on itself.
husk=$(HUSK_LAYOUT=none build_static_husk)
cp "$husk" "$work/husk"

# Bundles: runc's default config, and podman's and containerd's real ones when present.
scripts/mk-bundle.sh "$work/min" "$work/husk" >/dev/null
jq '.process.terminal = false | .process.args = ["sleep", "100"]' "$work/min/config.json" > "$work/c"
mv "$work/c" "$work/min/config.json"
configs=../shared/data/configs
bundles=("$work/min")
for cfg in podman-4.3-busybox containerd-1.6-busybox-seccomp; do
    [ -f "$configs/$cfg.json" ] || continue
    mkdir -p "$work/$cfg/userdata/shm"
    touch "$work/$cfg/userdata/"{hosts,hostname,.containerenv}
    jq '.root.path = "rootfs" | .process.terminal = false | .process.args = ["sleep", "100"]
        | del(.linux.cgroupsPath)' "$configs/$cfg.json" > "$work/$cfg/config.json"
    scripts/mk-bundle.sh "$work/$cfg" >/dev/null
    bundles+=("$work/$cfg")
done

# The workload: what containerd, podman and the benchmarks call, on each bundle.
cat > "$work/workload.sh" <<'EOF'
set -eu
h=$1; root=$2; shift 2
for b in "$@"; do
    id=lt-$(basename "$b")
    "$h" --root "$root" create --bundle "$b" --pid-file "$root/$id.pid" "$id"
    "$h" --root "$root" state "$id" >/dev/null
    "$h" --root "$root" start "$id"
    "$h" --root "$root" exec "$id" true
    "$h" --root "$root" ps "$id" >/dev/null
    "$h" --root "$root" list >/dev/null
    "$h" --root "$root" kill "$id" KILL
    "$h" --root "$root" delete --force "$id"
    jq '.process.args = ["true"]' "$b/config.json" > "$b/run.json"
    cp "$b/config.json" "$b/sleep.json"
    cp "$b/run.json" "$b/config.json"
    "$h" --root "$root" run --bundle "$b" "$id-run"
    cp "$b/sleep.json" "$b/config.json"
done
EOF
mkdir -p "$(dirname "$out")"
python3 scripts/layout-trace.py "$work/husk" "$out" -- \
    bash "$work/workload.sh" "$work/husk" "$work/state" "${bundles[@]}"
log "wrote $out ($(wc -l < "$out") symbols)"

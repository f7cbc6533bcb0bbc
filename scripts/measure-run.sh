#!/usr/bin/env bash
# The issue-2 closing measurement: median wall time of `husk run` of /bin/true against
# `runc run` on the same bundle (hyperfine, 30+ runs), and husk's peak RSS (/usr/bin/time -v).
#   sudo scripts/measure-run.sh [RUNS]
# HUSK_BIN=/path skips the release build.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
need_root
install_packages "busybox-static jq hyperfine time runc build-essential git ca-certificates curl"
runs=${1:-50}

if [ -n "${HUSK_BIN:-}" ]; then
    husk=$HUSK_BIN
else
    ensure_rust
    log "building husk (release)"
    cargo build --release -p husk-cli
    husk=$PWD/target/release/husk
fi

bundle=$PWD/target/measure-bundle
rm -rf "$bundle"
mkdir -p "$bundle"
scripts/mk-bundle.sh "$bundle" "$husk"
jq '.process.terminal = false | .process.args = ["/bin/true"]' "$bundle/config.json" > "$bundle/c.json"
mv "$bundle/c.json" "$bundle/config.json"
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT

# Same bundle, same kind of state dir (tmpfs-backed /tmp or not, both runtimes alike), a
# fresh id per call is not needed: a foreground run deletes its container.
log "hyperfine: $runs runs each"
hyperfine -N --warmup 3 --runs "$runs" --export-json "$state/hf.json" \
    -n husk "$husk --root $state/husk run --bundle $bundle m" \
    -n runc "runc --root $state/runc run --bundle $bundle m"
jq -r '.results[] | "\(.command): median \(.median * 1000 | . * 100 | round / 100) ms (mean \(.mean * 1000 | . * 100 | round / 100) ms, n=\(.times | length))"' "$state/hf.json"

log "peak RSS"
for rt in husk runc; do
    bin=$husk
    [ $rt = runc ] && bin=runc
    rss=$(/usr/bin/time -v "$bin" --root "$state/$rt" run --bundle "$bundle" m 2>&1 >/dev/null |
        sed -n 's/.*Maximum resident set size (kbytes): //p')
    echo "$rt: peak RSS ${rss} KiB"
done

#!/usr/bin/env bash
# Build husk and run a container from a locally built busybox bundle (no image download).
#   sudo scripts/demo.sh
# Environment: HUSK_PROFILE=debug (or release) to build that profile instead of the one static
# executable husk ships as; HUSK_BIN=/path to run an existing binary (any runc-compatible
# runtime) instead of building.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
need_root
install_packages "busybox-static jq build-essential git ca-certificates curl"

profile=${HUSK_PROFILE:-dist}
if [ -n "${HUSK_BIN:-}" ]; then
    husk=$HUSK_BIN
else
    ensure_rust
    log "building husk ($profile)"
    case $profile in
        dist) husk=$(build_static_husk) ;;
        release) cargo build --release -p husk-cli && husk=$PWD/target/release/husk ;;
        *) cargo build -p husk-cli && husk=$PWD/target/debug/husk ;;
    esac
fi
"$husk" --version

bundle=$PWD/target/demo-bundle
log "building a busybox bundle in $bundle"
rm -rf "$bundle"
mkdir -p "$bundle"
scripts/mk-bundle.sh "$bundle" "$husk"
# The default config wants a terminal and runs `sh`; run a short script without a terminal.
jq '.process.terminal = false
    | .process.args = ["sh", "-c", "echo hello from inside husk; hostname; id"]
    | .hostname = "husk-demo"' "$bundle/config.json" > "$bundle/config.json.new"
mv "$bundle/config.json.new" "$bundle/config.json"

id=husk-demo-$$
log "$husk run --bundle $bundle $id"
"$husk" run --bundle "$bundle" "$id"
log "done: the container exited 0 and was deleted"

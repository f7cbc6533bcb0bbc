# Shared set-up for scripts/demo.sh and scripts/test.sh (sourced, not run).
# Installs what building and testing husk needs on Debian/Ubuntu, as root, without prompts.

# Packages: busybox-static (the containers' root filesystems), jq (edit config.json in shell),
# build tools (the Rust linker is cc; static probes need libc6-dev), git (the commit in
# `husk --version`), runc and crun (reference runtimes for the tests, conformance and
# benchmarks), hyperfine and time (benchmarks, peak RSS), curl + ca-certificates (rustup when no Rust is found),
# procps (`husk ps` runs ps(1)), python3-jsonschema (`husk features` against the spec's schema),
# podman + conmon (runtime-cli/tests/engines/podman.sh; script(1) from bsdutils gives podman a
# terminal there), containerd and docker.io (runtime-cli/tests/engines/containerd.sh and
# docker.sh).
HUSK_APT_PACKAGES="busybox-static jq build-essential pkg-config git ca-certificates curl runc crun hyperfine time procps python3-jsonschema podman conmon bsdutils containerd docker.io"

# The Rust version the workspace needs (Cargo.toml rust-version).
HUSK_RUST_MIN=1.85

log() { printf '\n==> %s\n' "$*"; }

need_root() {
    if [ "$(id -u)" != 0 ]; then
        echo "$0: run as root (sudo $0): containers need root, and this installs packages" >&2
        exit 1
    fi
}

install_packages() {
    # $1: space-separated package list (default: all of HUSK_APT_PACKAGES)
    local pkgs=${1:-$HUSK_APT_PACKAGES} missing=()
    for p in $pkgs; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        log "packages already installed: $pkgs"
        return 0
    fi
    if ! command -v apt-get >/dev/null; then
        echo "no apt-get: install these by hand: ${missing[*]}" >&2
        return 1
    fi
    log "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
}

version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }

# Make `cargo` (>= HUSK_RUST_MIN) available on PATH: an existing toolchain, ~/.cargo/bin, or
# rustup (needs https access to static.rust-lang.org).
ensure_rust() {
    export PATH="$HOME/.cargo/bin:$PATH"
    if command -v cargo >/dev/null; then
        local v
        v=$(rustc --version | awk '{print $2}')
        if version_ge "$v" "$HUSK_RUST_MIN"; then
            log "using Rust $v ($(command -v cargo))"
            return 0
        fi
        echo "Rust $v is older than $HUSK_RUST_MIN" >&2
    fi
    log "installing Rust with rustup (stable, minimal profile + rustfmt, clippy)"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
        sh -s -- -y --profile minimal --component rustfmt,clippy </dev/null
    export PATH="$HOME/.cargo/bin:$PATH"
}

# The runtime-spec 1.2 JSON schemas (features-schema.json is new in 1.1: Debian 12's
# golang-github-opencontainers-specs-dev is 1.0.2, so take Debian 13's package, pinned by its
# sha256) unpacked into $1 (default target/spec-schema); prints the schema directory.
HUSK_SPEC_DEB=pool/main/g/golang-github-opencontainers-specs/golang-github-opencontainers-specs-dev_1.2.0-2_all.deb
HUSK_SPEC_DEB_SHA256=6c3357147c17e618486884b0678f577ca61d0ffdd9068757adbf907e9961fc7d
fetch_spec_schema() {
    local dir=${1:-$PWD/target/spec-schema} deb
    local schema=$dir/usr/share/gocode/src/github.com/opencontainers/runtime-spec/schema
    if [ ! -e "$schema/features-schema.json" ]; then
        mkdir -p "$dir"
        deb=$dir/specs.deb
        curl -fsSL --retry 3 -o "$deb" "http://deb.debian.org/debian/$HUSK_SPEC_DEB" || return 1
        echo "$HUSK_SPEC_DEB_SHA256  $deb" | sha256sum -c --quiet - || return 1
        dpkg-deb -x "$deb" "$dir" && rm -f "$deb"
    fi
    echo "$schema"
}

# A 256 MiB swap file while the tests run, when the host has no swap: the memory.swap and
# swappiness effect tests (runtime-cli/tests/cgroup_effects.rs) need swap to show anything.
# Sets HUSK_SWAP_FILE when it made one (remove it with remove_test_swap).
HUSK_SWAP_FILE=
add_test_swap() {
    [ "$(wc -l < /proc/swaps)" -le 1 ] || return 0
    local f=/var/tmp/husk-test.swap
    swapoff "$f" 2>/dev/null; rm -f "$f"
    fallocate -l 256M "$f" && chmod 600 "$f" && mkswap -q "$f" >/dev/null && swapon "$f" || {
        echo "could not enable a swap file at $f (the swap effect tests will fail)" >&2
        rm -f "$f"
        return 1
    }
    HUSK_SWAP_FILE=$f
    log "swap for the tests: $f (256 MiB)"
}
remove_test_swap() {
    [ -n "$HUSK_SWAP_FILE" ] || return 0
    swapoff "$HUSK_SWAP_FILE" && rm -f "$HUSK_SWAP_FILE"
    HUSK_SWAP_FILE=
}

# Build husk the way it ships: ONE static, non-PIE executable (glibc's crt-static on the gnu
# target; benches/README.md says why). --target keeps RUSTFLAGS off the proc-macro crates (a
# static proc-macro cannot be built) and puts this build apart from target/release. Prints the
# binary's path on stdout (cargo's output goes to stderr).
# The functions its common commands run come first in .text, in the order of
# runtime-cli/layout/husk.order (scripts/layout.sh; HUSK_LAYOUT=none builds without it).
build_static_husk() {
    local host flags order=$PWD/runtime-cli/layout/husk.order
    host=$(rustc -vV | sed -n 's/^host: //p')
    flags="-C target-feature=+crt-static -C relocation-model=static"
    if [ "${HUSK_LAYOUT:-}" != none ] && [ -f "$order" ]; then
        flags="$flags -C link-arg=-Wl,--symbol-ordering-file=$order -C link-arg=-Wl,--no-warn-symbol-ordering"
    fi
    RUSTFLAGS=$flags cargo build --profile dist --target "$host" -p husk-cli >&2 || return 1
    local bin=$PWD/target/$host/dist/husk
    if [[ $flags == *symbol-ordering* ]]; then
        # A list gone stale (renamed code) costs memory, never correctness: say how stale.
        echo "==> layout: $(nm "$bin" | awk 'NR == FNR { s[$NF] = 1; next } $1 in s' - "$order" |
            wc -l) of $(wc -l < "$order") functions of $order are in the binary" >&2
    fi
    echo "$bin"
}

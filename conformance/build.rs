//! Compiles the in-container probe (`probe/probe.rs`, std only) into a STATIC executable and
//! leaves it in OUT_DIR, where `src/probe.rs` embeds it with `include_bytes!`. The harness is
//! then one self-contained binary that writes the probe into every test root filesystem.
//!
//! Static linking: `-C target-feature=+crt-static` on the gnu target (musl is not installed on
//! the build machines). The probe is compiled with `$RUSTC` directly, not a nested cargo: it has
//! no dependencies, and a nested cargo would fight the outer one over locks and flags.
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let src = PathBuf::from("probe/probe.rs");
    println!("cargo:rerun-if-changed={}", src.display());
    println!("cargo:rerun-if-changed=build.rs");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR set by cargo"));
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let target = std::env::var("TARGET").expect("TARGET set by cargo");
    let dest = out.join("husk-probe");
    let status = Command::new(rustc)
        .args([
            "--edition",
            "2021",
            "--crate-name",
            "husk_probe",
            "--crate-type",
            "bin",
        ])
        .args([
            "-C",
            "opt-level=2",
            "-C",
            "target-feature=+crt-static",
            "-C",
            "strip=symbols",
        ])
        .args(["-C", "panic=abort", "--target", &target, "-o"])
        .arg(&dest)
        .arg(&src)
        // The outer build's RUSTFLAGS/encoded flags are for the harness, not the probe.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .expect("run rustc for the probe");
    assert!(status.success(), "compiling probe/probe.rs failed");
}

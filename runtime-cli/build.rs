//! Records the git commit for `husk --version` ("commit: <hash>", or "unknown" outside git).
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=HUSK_GIT_COMMIT");
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    if std::env::var_os("HUSK_GIT_COMMIT").is_none() {
        if let Some(hash) = git(&["rev-parse", "HEAD"]) {
            println!("cargo:rustc-env=HUSK_GIT_COMMIT={hash}");
        }
    }
    // Rebuild when HEAD moves (a worktree's HEAD lives in its own git dir).
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        println!("cargo:rerun-if-changed={dir}/HEAD");
        println!("cargo:rerun-if-changed={dir}/logs/HEAD");
    }
}

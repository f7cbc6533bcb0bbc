//! The harness checked against deliberately broken runtimes: thin shell wrappers around runc
//! that each break one thing. The cases that check that thing must fail against the wrapper
//! and pass against runc itself — otherwise the harness cannot tell a broken runtime from a
//! working one. Needs root and runc (skipped otherwise).

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const RUNC: &str = "/usr/sbin/runc";

fn skip_reason() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("needs root".into());
    }
    if !Path::new(RUNC).exists() {
        return Some(format!("{RUNC} not installed (apt-get install runc)"));
    }
    if !Path::new("/usr/bin/busybox").exists() {
        return Some("busybox-static not installed".into());
    }
    None
}

/// A wrapper script `name` in a fresh directory: `body` runs with the runtime's argv in "$@"
/// and must end by exec'ing runc.
fn wrapper(name: &str, body: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "husk-conformance-selftest-{}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    Command::new("chmod")
        .arg("755")
        .arg(&path)
        .status()
        .unwrap();
    path
}

/// Run the harness on `runtime` for exactly `cases`; return name -> (result, reason).
fn run(runtime: &Path, cases: &[&str]) -> BTreeMap<String, (String, String)> {
    let json = std::env::temp_dir().join(format!(
        "husk-conformance-selftest-{}-{}.json",
        std::process::id(),
        runtime.file_name().unwrap().to_string_lossy()
    ));
    let filter = format!(
        "^({})$",
        cases
            .iter()
            .map(|c| regex_escape(c))
            .collect::<Vec<_>>()
            .join("|")
    );
    let out = Command::new(env!("CARGO_BIN_EXE_husk-conformance"))
        .args([
            "--runtime",
            &runtime.to_string_lossy(),
            "--filter",
            &filter,
            "--json",
            &json.to_string_lossy(),
        ])
        .output()
        .expect("run husk-conformance");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout
            .lines()
            .last()
            .is_some_and(|l| l.ends_with("skipped")),
        "no summary line:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value =
        serde_json::from_slice(&std::fs::read(&json).expect("json report")).unwrap();
    let _ = std::fs::remove_file(&json);
    let mut m = BTreeMap::new();
    for c in report["cases"].as_array().unwrap() {
        m.insert(
            c["name"].as_str().unwrap().to_string(),
            (
                c["result"].as_str().unwrap().to_string(),
                c["reason"].as_str().unwrap_or("").to_string(),
            ),
        );
    }
    assert_eq!(m.len(), cases.len(), "every case ran: {m:?}");
    m
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .map(|c| {
            if "\\.+*?()|[]{}^$".contains(c) {
                format!("\\{c}")
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn assert_all(results: &BTreeMap<String, (String, String)>, want: &str, what: &str) {
    for (name, (result, reason)) in results {
        assert_eq!(
            result, want,
            "{what}: {name} should be `{want}` but is `{result}` ({reason})"
        );
    }
}

#[test]
fn dropped_pid_file_is_caught() {
    if let Some(r) = skip_reason() {
        println!("SKIPPED: {r}");
        return;
    }
    // Rebuild "$@" without `--pid-file X` (what a runtime that ignores the flag does).
    let w = wrapper(
        "runc-no-pid-file",
        "drop=0\nfor a do\n  shift\n  if [ $drop = 1 ]; then drop=0; continue; fi\n  case \"$a\" in --pid-file) drop=1; continue;; --pid-file=*) continue;; esac\n  set -- \"$@\" \"$a\"\ndone\nexec /usr/sbin/runc \"$@\"",
    );
    let cases = [
        "runtime/state/pid",
        "cli/create/pid-file-absolute-written-before-exit",
        "cli/create/pid-file-no-trailing-newline",
        "cli/exec/detach-pid-file",
    ];
    assert_all(&run(Path::new(RUNC), &cases), "ok", "runc");
    assert_all(&run(&w, &cases), "fail", "runc without --pid-file");
}

#[test]
fn ignored_process_user_is_caught() {
    if let Some(r) = skip_reason() {
        println!("SKIPPED: {r}");
        return;
    }
    // On create, rewrite process.user to uid/gid 0 in the bundle's config.json.
    let w = wrapper(
        "runc-root-user",
        "prev=\nfor a do\n  if [ \"$prev\" = --bundle ]; then sed -i 's/\"uid\": [0-9]*/\"uid\": 0/; s/\"gid\": [0-9]*/\"gid\": 0/' \"$a/config.json\"; fi\n  prev=$a\ndone\nexec /usr/sbin/runc \"$@\"",
    );
    let cases = [
        "config/process/user/uid",
        "config/process/user/gid",
        "config/process/capabilities/non-root-without-ambient",
    ];
    assert_all(&run(Path::new(RUNC), &cases), "ok", "runc");
    assert_all(
        &run(&w, &cases),
        "fail",
        "runc that runs everything as root",
    );
}

#[test]
fn leaks_are_reported() {
    if let Some(r) = skip_reason() {
        println!("SKIPPED: {r}");
        return;
    }
    // `delete` does nothing and claims success: the container's processes and cgroups stay.
    let w = wrapper(
        "runc-no-delete",
        "for a do\n  [ \"$a\" = delete ] && exit 0\ndone\nexec /usr/sbin/runc \"$@\"",
    );
    let cases = [
        "runtime/lifecycle/created-init-alive",
        "runtime/state/status-running",
    ];
    assert_all(&run(Path::new(RUNC), &cases), "ok", "runc");
    let broken = run(&w, &cases);
    assert_all(&broken, "fail", "runc whose delete does nothing");
    for (name, (_, reason)) in &broken {
        assert!(
            reason.contains("leak:"),
            "{name}: the failure should name the leak: {reason}"
        );
    }
}

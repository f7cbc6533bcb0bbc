//! Commands that need no root and no container: `--version`, `spec`, usage errors.

mod common;

use std::fs;
use std::process::Command;

use common::*;

#[test]
fn version_lines() {
    let o = Command::new(runtime()).arg("--version").output().unwrap();
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = text.lines().collect();
    let first: Vec<&str> = lines[0].split(' ').collect();
    assert_eq!(first.len(), 3, "{text}");
    assert_eq!(first[1], "version");
    assert!(
        first[2]
            .split(['.', '+', '-'])
            .take(3)
            .all(|n| n.parse::<u32>().is_ok()),
        "{text}"
    );
    assert!(lines.iter().any(|l| l.starts_with("commit: ")), "{text}");
    let spec = lines
        .iter()
        .find_map(|l| l.strip_prefix("spec: "))
        .expect("spec: line");
    assert!(spec.starts_with("1."), "{text}");
    if is_husk() {
        assert_eq!(first[0], "husk");
        assert_eq!(spec, husk::spec::SPEC_VERSION);
    }
}

#[test]
fn spec_writes_a_default_config_and_refuses_to_overwrite() {
    let env = TestEnv::new("spec");
    let o = Command::new(runtime())
        .arg("spec")
        .current_dir(&env.dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value =
        serde_json::from_slice(&fs::read(env.path("config.json")).unwrap()).unwrap();
    assert!(v["ociVersion"].as_str().unwrap().starts_with("1."));
    assert_eq!(v["root"]["path"], "rootfs");
    assert_eq!(v["process"]["args"][0], "sh");
    let ns: Vec<&str> = v["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    for want in ["pid", "network", "ipc", "uts", "mount"] {
        assert!(ns.contains(&want), "{ns:?}");
    }
    assert!(v["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["destination"] == "/proc"));

    let before = fs::read(env.path("config.json")).unwrap();
    let o = Command::new(runtime())
        .arg("spec")
        .current_dir(&env.dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("File config.json exists. Remove it first"));
    assert_eq!(
        fs::read(env.path("config.json")).unwrap(),
        before,
        "config.json was changed"
    );

    let sub = env.path("other");
    fs::create_dir(&sub).unwrap();
    let o = Command::new(runtime())
        .args(["spec", "--bundle"])
        .arg(&sub)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(sub.join("config.json").exists());
}

#[test]
fn spec_rootless_maps_the_caller() {
    let env = TestEnv::new("specrootless");
    let o = Command::new(runtime())
        .args(["spec", "--rootless"])
        .current_dir(&env.dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value =
        serde_json::from_slice(&fs::read(env.path("config.json")).unwrap()).unwrap();
    let ns = v["linux"]["namespaces"].as_array().unwrap();
    assert!(ns.iter().any(|n| n["type"] == "user"), "{ns:?}");
    let uid = nix::unistd::geteuid().as_raw();
    assert_eq!(v["linux"]["uidMappings"][0]["hostID"], uid);
    assert_eq!(v["linux"]["uidMappings"][0]["containerID"], 0);
}

#[test]
fn usage_error_exits_1_with_one_json_line() {
    let env = TestEnv::new("usage");
    let log = env.path("log.json");
    let o = Command::new(runtime())
        .args([
            "--log",
            log.to_str().unwrap(),
            "--log-format",
            "json",
            "start",
        ])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    if is_husk() {
        // runc 1.1.5 reports usage errors on stderr only.
        one_error_line(&log);
    }
}

//! Generated bundle configs: the shape `runc spec` writes (what engines hand a runtime), built
//! in code so the suite depends on no runtime's `spec` command, with the harness's own choices:
//! no terminal, the probe as the process, a cgroupsPath the harness can check for leaks, and a
//! tag in the environment that marks every process of the case.

use serde_json::{json, Value};

/// The default capability set runc and crun give a container (`runc spec`).
pub const DEFAULT_CAPS: [&str; 3] = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

/// The environment variable whose value tags every process of one case.
pub const TAG_VAR: &str = "HUSK_CONFORMANCE_TAG";

/// The default PATH of the generated configs.
pub const PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A config for a container whose process is the probe, with `cgroups_path` and tag.
pub fn base(cgroups_path: &str, tag: &str) -> Value {
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": ["/husk-probe"],
            "env": [PATH, "TERM=xterm", format!("{TAG_VAR}={tag}")],
            "cwd": "/",
            "capabilities": {
                "bounding": DEFAULT_CAPS,
                "effective": DEFAULT_CAPS,
                "permitted": DEFAULT_CAPS,
                "ambient": DEFAULT_CAPS,
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": false},
        "hostname": "husk-conformance",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "cgroupsPath": cgroups_path,
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    })
}

/// Set `process.args` to a shell command line (`sh -c SCRIPT`).
pub fn shell(cfg: &mut Value, script: &str) {
    cfg["process"]["args"] = json!(["/bin/sh", "-c", script]);
}

/// Set `process.args` to the probe with these ops.
pub fn probe(cfg: &mut Value, ops: &[&str]) {
    let mut args = vec!["/husk-probe".to_string()];
    args.extend(ops.iter().map(|s| s.to_string()));
    cfg["process"]["args"] = json!(args);
}

/// Remove the namespace of `kind` from `linux.namespaces`.
pub fn drop_ns(cfg: &mut Value, kind: &str) {
    if let Some(list) = cfg["linux"]["namespaces"].as_array_mut() {
        list.retain(|n| n["type"] != kind);
    }
}

/// Add (or replace) the namespace `kind`, optionally joining `path`.
pub fn set_ns(cfg: &mut Value, kind: &str, path: Option<&str>) {
    drop_ns(cfg, kind);
    let mut ns = json!({"type": kind});
    if let Some(p) = path {
        ns["path"] = json!(p);
    }
    cfg["linux"]["namespaces"]
        .as_array_mut()
        .expect("namespaces array")
        .push(ns);
}

/// Remove the mount at `destination`.
pub fn drop_mount(cfg: &mut Value, destination: &str) {
    if let Some(list) = cfg["mounts"].as_array_mut() {
        list.retain(|m| m["destination"] != destination);
    }
}

/// Append a mount.
pub fn add_mount(cfg: &mut Value, mount: Value) {
    cfg["mounts"]
        .as_array_mut()
        .expect("mounts array")
        .push(mount);
}

/// Add a user namespace mapping container ids 0..65536 to host ids from `host_base`. The
/// cgroup v1 mount goes: only the initial user namespace may mount cgroup v1 filesystems, and
/// what a runtime does instead (bind mounts, nothing) is not what these cases check.
pub fn userns(cfg: &mut Value, host_base: u32) {
    set_ns(cfg, "user", None);
    cfg["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": host_base, "size": 65536}]);
    cfg["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": host_base, "size": 65536}]);
    drop_mount(cfg, "/sys/fs/cgroup");
}

/// Replace `process.env` keeping the tag variable.
pub fn set_env(cfg: &mut Value, vars: &[&str]) {
    let tag = cfg["process"]["env"].as_array().and_then(|e| {
        e.iter()
            .find(|v| v.as_str().is_some_and(|s| s.starts_with(TAG_VAR)))
            .cloned()
    });
    let mut env: Vec<Value> = vars.iter().map(|v| json!(v)).collect();
    if let Some(t) = tag {
        env.push(t);
    }
    cfg["process"]["env"] = Value::Array(env);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_is_runc_shaped_and_tagged() {
        let c = base("/prefix/id", "7-3");
        assert_eq!(c["linux"]["cgroupsPath"], "/prefix/id");
        assert_eq!(c["root"]["path"], "rootfs");
        assert!(c["process"]["env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == "HUSK_CONFORMANCE_TAG=7-3"));
        let ns: Vec<&str> = c["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert_eq!(ns, ["pid", "network", "ipc", "uts", "mount"]);
    }

    #[test]
    fn namespace_edits() {
        let mut c = base("/p", "t");
        set_ns(&mut c, "network", Some("/proc/1/ns/net"));
        set_ns(&mut c, "user", None);
        drop_ns(&mut c, "pid");
        let ns = c["linux"]["namespaces"].as_array().unwrap();
        assert_eq!(ns.iter().filter(|n| n["type"] == "network").count(), 1);
        assert!(ns
            .iter()
            .any(|n| n["type"] == "network" && n["path"] == "/proc/1/ns/net"));
        assert!(ns.iter().any(|n| n["type"] == "user"));
        assert!(!ns.iter().any(|n| n["type"] == "pid"));
    }

    #[test]
    fn set_env_keeps_the_tag() {
        let mut c = base("/p", "t1");
        set_env(&mut c, &["A=1"]);
        assert_eq!(
            c["process"]["env"],
            serde_json::json!(["A=1", "HUSK_CONFORMANCE_TAG=t1"])
        );
    }
}

//! The static probe binary, compiled from `probe/probe.rs` by `build.rs` and embedded here, and
//! helpers to read its JSON report.

use serde_json::Value;

/// The static probe executable.
pub const BYTES: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/husk-probe"));

/// Find the probe report (one JSON line starting with `{"argv"`) in a container's stdout.
pub fn parse(stdout: &str) -> Option<Value> {
    stdout
        .lines()
        .rev()
        .filter(|l| l.starts_with('{') && l.contains("\"probe\":\"husk-probe"))
        .find_map(|l| serde_json::from_str(l).ok())
}

/// The capability mask for a list of names (unknown names are ignored).
pub fn cap_mask(names: &[&str]) -> u64 {
    names
        .iter()
        .filter_map(|n| CAPS.iter().position(|c| c == n))
        .fold(0, |m, b| m | (1u64 << b))
}

/// Capability names by bit number (linux/capability.h).
pub const CAPS: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// The embedded probe, written out and run on the host (no container needed).
    fn run_probe(args: &[&str]) -> (Option<i32>, Value) {
        let dir = std::env::temp_dir().join(format!(
            "husk-probe-test-{}-{}",
            std::process::id(),
            args.join("_").replace('/', "_")
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let exe = dir.join("husk-probe");
        std::fs::write(&exe, BYTES).unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        // ETXTBSY: a test thread that forks while this one still holds `exe` open for writing
        // gives the child a copy of that fd until the child execs; that copy goes, so retry.
        let mut tries = 0;
        let out = loop {
            match std::process::Command::new(&exe)
                .args(args)
                .env("PROBE_TEST_VAR", "a b")
                .output()
            {
                Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 50 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                r => break r.unwrap(),
            }
        };
        std::fs::remove_dir_all(&dir).unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        (
            out.status.code(),
            parse(&stdout).unwrap_or_else(|| panic!("no report in {stdout:?}")),
        )
    }

    #[test]
    fn embedded_probe_is_static() {
        let path = std::env::temp_dir().join(format!("husk-probe-static-{}", std::process::id()));
        std::fs::write(&path, BYTES).unwrap();
        let is_static = crate::host::is_static_elf(&path);
        std::fs::remove_file(&path).unwrap();
        assert!(
            is_static,
            "the probe must run in a rootfs without a C library"
        );
    }

    #[test]
    fn reports_ops_with_errno_and_exit_status() {
        let (code, r) = run_probe(&[
            "stat=/dev/null",
            "mkdir=/no/such/parent/x",
            "lstat=/proc/self",
            "exit=3",
        ]);
        assert_eq!(code, Some(3));
        let null = &r["ops"]["stat=/dev/null"];
        assert_eq!(
            (
                null["type"].as_str(),
                null["major"].as_i64(),
                null["minor"].as_i64()
            ),
            (Some("c"), Some(1), Some(3))
        );
        assert_eq!(r["ops"]["mkdir=/no/such/parent/x"]["errno"], libc::ENOENT);
        assert_eq!(r["ops"]["lstat=/proc/self"]["type"], "l");
    }

    #[test]
    fn reports_process_view() {
        let (_, r) = run_probe(&["two words"]);
        assert_eq!(r["argv"][1], "two words");
        assert!(r["env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == "PROBE_TEST_VAR=a b"));
        assert!(
            r["pid"].as_u64().is_some_and(|p| p > 1),
            "pid: {}",
            r["pid"]
        );
        for ns in ["mnt", "net", "pid", "uts", "ipc", "user", "cgroup"] {
            assert_eq!(
                r["ns"][ns]
                    .as_str()
                    .map(|s| s.starts_with(&format!("{ns}:["))),
                Some(true),
                "{ns}: {}",
                r["ns"][ns]
            );
        }
        assert_eq!(r["caps"]["bounding"].as_str().map(str::len), Some(16));
        assert!(r["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["mount_point"] == "/"));
        assert!(r["limits"]["Max open files"]["soft"].is_number());
        // stdio plus nothing the probe opened itself (its /proc/self/fd stream is left out)
        let fds = r["fds"].as_object().unwrap();
        assert!(fds.contains_key("0") && fds.contains_key("1") && fds.contains_key("2"));
        assert!(!fds.values().any(|t| t
            .as_str()
            .is_some_and(|t| t.ends_with("/fd") && t.starts_with("/proc/"))));
    }

    #[test]
    fn cap_mask_uses_kernel_bit_numbers() {
        assert_eq!(cap_mask(&["CAP_CHOWN"]), 1);
        assert_eq!(
            cap_mask(&["CAP_KILL", "CAP_NET_BIND_SERVICE"]),
            (1 << 5) | (1 << 10)
        );
        assert_eq!(cap_mask(&["CAP_SYS_ADMIN"]), 1 << 21);
        assert_eq!(cap_mask(&["CAP_CHECKPOINT_RESTORE"]), 1 << 40);
    }

    #[test]
    fn parse_takes_the_probe_line_only() {
        let out = "noise\n{\"not\":\"probe\"}\n{\"argv\":[],\"probe\":\"husk-probe 1\"}\n";
        assert_eq!(parse(out).unwrap()["probe"], "husk-probe 1");
        assert!(parse("{\"x\":1}\n").is_none());
    }
}

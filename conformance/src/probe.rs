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

/// Parse a 64-bit capability mask as printed in /proc/PID/status into capability names.
pub fn cap_names(mask_hex: &str) -> Vec<String> {
    let mask = u64::from_str_radix(mask_hex.trim(), 16).unwrap_or(0);
    (0..64).filter(|b| mask & (1u64 << b) != 0).map(|b| cap_name(b).to_string()).collect()
}

/// The capability mask for a list of names (unknown names are ignored).
pub fn cap_mask(names: &[&str]) -> u64 {
    names.iter().filter_map(|n| CAPS.iter().position(|c| c == n)).fold(0, |m, b| m | (1u64 << b))
}

fn cap_name(bit: u32) -> &'static str {
    CAPS.get(bit as usize).copied().unwrap_or("CAP_UNKNOWN")
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

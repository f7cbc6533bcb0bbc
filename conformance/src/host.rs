//! Facts about the host the harness runs on: its namespaces, cgroup hierarchies, mounts and
//! processes. Cases compare what the probe sees inside with these, and cleanup uses them to
//! find what a runtime left behind.

use std::fs;
use std::path::{Path, PathBuf};

/// The harness's own namespace link for `ns` (e.g. `net:[4026531840]`), i.e. the host's.
pub fn ns(ns: &str) -> String {
    fs::read_link(format!("/proc/self/ns/{ns}"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The namespace link of another process.
pub fn ns_of(pid: i32, ns: &str) -> Option<String> {
    fs::read_link(format!("/proc/{pid}/ns/{ns}"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

/// One line of /proc/PID/mountinfo.
#[derive(Debug, Clone)]
pub struct Mount {
    /// Mount point (unescaped).
    pub mount_point: String,
    /// Filesystem type.
    pub fstype: String,
    /// Superblock options (for cgroup v1: the controllers).
    pub super_options: String,
}

/// The mounts of the harness's mount namespace.
pub fn mounts() -> Vec<Mount> {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let l: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            Some(Mount {
                mount_point: unescape(l.get(4)?),
                fstype: r.first()?.to_string(),
                super_options: r.get(2).unwrap_or(&"").to_string(),
            })
        })
        .collect()
}

fn unescape(v: &str) -> String {
    v.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// A cgroup hierarchy mounted on the host.
#[derive(Debug, Clone)]
pub struct Hierarchy {
    /// Where it is mounted.
    pub path: PathBuf,
    /// `true` for cgroup2.
    pub v2: bool,
    /// v1 controllers bound to it (`name=systemd` included).
    pub controllers: Vec<String>,
}

/// Every cgroup hierarchy mounted on the host (first mount of each).
pub fn hierarchies() -> Vec<Hierarchy> {
    let mut out: Vec<Hierarchy> = Vec::new();
    for m in mounts() {
        let v2 = m.fstype == "cgroup2";
        if m.fstype != "cgroup" && !v2 {
            continue;
        }
        let controllers: Vec<String> = if v2 {
            Vec::new()
        } else {
            m.super_options
                .split(',')
                .filter(|o| {
                    !matches!(
                        *o,
                        "rw" | "ro"
                            | "relatime"
                            | "nosuid"
                            | "nodev"
                            | "noexec"
                            | "xattr"
                            | "clone_children"
                    )
                })
                .map(str::to_string)
                .collect()
        };
        if out
            .iter()
            .any(|h| h.v2 == v2 && h.controllers == controllers)
        {
            continue;
        }
        out.push(Hierarchy {
            path: PathBuf::from(m.mount_point),
            v2,
            controllers,
        });
    }
    out
}

/// The v1 hierarchy holding `controller`, if any.
pub fn v1_hierarchy(controller: &str) -> Option<PathBuf> {
    hierarchies()
        .into_iter()
        .find(|h| h.controllers.iter().any(|c| c == controller))
        .map(|h| h.path)
}

/// True when the host has only a cgroup2 hierarchy (unified mode).
pub fn cgroup_v2_only() -> bool {
    let h = hierarchies();
    !h.is_empty() && h.iter().all(|h| h.v2)
}

/// The cgroup directory of `pid` in the v1 hierarchy of `controller` (or the v2 one when the
/// host has no v1 hierarchy for it).
pub fn cgroup_dir_of(pid: i32, controller: &str) -> Option<PathBuf> {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let all = hierarchies();
    // The v1 hierarchy holding the controller wins; cgroup2 only when no v1 one has it (on a
    // hybrid host cgroup2 is mounted too, with no or idle controllers).
    let h = all
        .iter()
        .find(|h| !h.v2 && h.controllers.iter().any(|c| c == controller))
        .or_else(|| all.iter().find(|h| h.v2))?;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
        let matches = if h.v2 {
            ctrls.is_empty()
        } else {
            let mine: Vec<&str> = ctrls.split(',').collect();
            h.controllers.iter().all(|c| mine.contains(&c.as_str()))
        };
        if matches {
            return Some(h.path.join(path.trim_start_matches('/')));
        }
    }
    None
}

/// Processes (alive, not zombies) whose environment holds `needle` (`KEY=value`).
pub fn processes_with_env(needle: &str) -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir("/proc") else {
        return out;
    };
    let me = std::process::id() as i32;
    for e in rd.filter_map(|e| e.ok()) {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(env) = fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()) && crate::proc::alive(pid) {
            out.push(pid);
        }
    }
    out
}

/// Mount points of the host under `dir`.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let prefix = dir.to_string_lossy().into_owned();
    mounts()
        .into_iter()
        .map(|m| m.mount_point)
        .filter(|p| p == &prefix || p.starts_with(&format!("{prefix}/")))
        .collect()
}

/// True if `path` is a statically linked ELF executable (no PT_INTERP program header): the
/// only kind that runs in a root filesystem without a C library.
pub fn is_static_elf(path: &Path) -> bool {
    let Ok(b) = fs::read(path) else { return false };
    if b.len() < 64 || &b[..4] != b"\x7fELF" || b[4] != 2 {
        return false;
    }
    let u64at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap()) as usize;
    let u16at = |o: usize| u16::from_le_bytes(b[o..o + 2].try_into().unwrap()) as usize;
    let (phoff, phentsize, phnum) = (u64at(0x20), u16at(0x36), u16at(0x38));
    (0..phnum).all(|i| {
        let o = phoff + i * phentsize;
        // PT_INTERP = 3
        o + 4 <= b.len() && u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) != 3
    })
}

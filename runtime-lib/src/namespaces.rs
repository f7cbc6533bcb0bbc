//! Creating and joining namespaces, id mappings and time offsets.
//!
//! [`NamespacePlan`] is pure data resolved from `linux.namespaces`; it also decides the process
//! shape (see `process/`): one `clone3` with every new namespace when the order allows, and a
//! second fork only when a pid or time namespace must take effect for a child.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::PathBuf;

use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};

use crate::spec::SpecError;

/// Every namespace kind, in the order they are joined: user first (so the others are joined
/// with the capabilities it grants), mount last (its path may only resolve in the old mount
/// namespace).
pub const JOIN_ORDER: [LinuxNamespaceType; 8] = [
    LinuxNamespaceType::User,
    LinuxNamespaceType::Ipc,
    LinuxNamespaceType::Uts,
    LinuxNamespaceType::Network,
    LinuxNamespaceType::Pid,
    LinuxNamespaceType::Cgroup,
    LinuxNamespaceType::Time,
    LinuxNamespaceType::Mount,
];

/// The clone flag of a namespace kind.
pub fn clone_flag(t: LinuxNamespaceType) -> CloneFlags {
    match t {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(0x80),
    }
}

/// The name of a namespace kind as `config.json` spells it.
pub fn name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mount",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "network",
        LinuxNamespaceType::Time => "time",
    }
}

/// How the container's namespaces are made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamespacePlan {
    /// Namespaces to create.
    pub new: Vec<LinuxNamespaceType>,
    /// Namespaces to join, with their paths, in [`JOIN_ORDER`].
    pub join: Vec<(LinuxNamespaceType, PathBuf)>,
}

/// The process shape a [`NamespacePlan`] needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Flags for the first `clone3`.
    pub clone_flags: CloneFlags,
    /// Flags the first process `unshare`s after joining (slow path).
    pub unshare_flags: CloneFlags,
    /// A second fork is needed: a pid or time namespace takes effect only for children.
    pub second_fork: bool,
}

impl NamespacePlan {
    /// Resolve `linux.namespaces`. Errors name the entry.
    ///
    /// # Errors
    /// A duplicate kind, or a `path` that does not exist or is not a namespace of that kind.
    pub fn from_spec(spec: &Spec) -> Result<NamespacePlan, SpecError> {
        let mut plan = NamespacePlan::default();
        let list = spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().clone())
            .unwrap_or_default();
        let mut seen = Vec::new();
        for (i, ns) in list.iter().enumerate() {
            let t = ns.typ();
            if seen.contains(&t) {
                return Err(SpecError::Invalid {
                    field: format!("linux.namespaces[{i}].type"),
                    msg: format!("duplicate namespace \"{}\"", name(t)),
                });
            }
            seen.push(t);
            match ns.path() {
                Some(p) if !p.as_os_str().is_empty() => {
                    check_ns_path(t, p).map_err(|msg| SpecError::Invalid {
                        field: format!("linux.namespaces[{i}].path"),
                        msg,
                    })?;
                    plan.join.push((t, p.clone()));
                }
                _ => plan.new.push(t),
            }
        }
        plan.join
            .sort_by_key(|(t, _)| JOIN_ORDER.iter().position(|o| o == t));
        Ok(plan)
    }

    /// Whether `t` is created or joined (i.e. not the runtime's own).
    pub fn has(&self, t: LinuxNamespaceType) -> bool {
        self.is_new(t) || self.join.iter().any(|(j, _)| *j == t)
    }

    /// Whether `t` is created new.
    pub fn is_new(&self, t: LinuxNamespaceType) -> bool {
        self.new.contains(&t)
    }

    /// Decide the process shape.
    ///
    /// Fast path: nothing that forces an order — one `clone3` with every new namespace (but
    /// cgroup, which is unshared after the process is in its cgroup so that the namespace's
    /// root is the container's cgroup), then `setns` of the joined non-user namespaces. A second
    /// fork only for a joined pid namespace.
    ///
    /// Slow path (a joined user namespace, a new user namespace together with joined ones —
    /// which must be joined with host credentials first — or a time namespace, whose offsets
    /// must be written before any process enters it): `clone3` with no namespace, join, then
    /// `unshare` the new ones and fork when pid or time is involved.
    pub fn shape(&self) -> Shape {
        let new_flags = self
            .new
            .iter()
            .filter(|t| **t != LinuxNamespaceType::Cgroup)
            .fold(CloneFlags::empty(), |f, t| f | clone_flag(*t));
        let joins_user = self
            .join
            .iter()
            .any(|(t, _)| *t == LinuxNamespaceType::User);
        let slow = joins_user
            || (self.is_new(LinuxNamespaceType::User) && !self.join.is_empty())
            || self.has(LinuxNamespaceType::Time);
        if !slow {
            return Shape {
                clone_flags: new_flags,
                unshare_flags: CloneFlags::empty(),
                second_fork: self.join.iter().any(|(t, _)| *t == LinuxNamespaceType::Pid),
            };
        }
        Shape {
            clone_flags: CloneFlags::empty(),
            unshare_flags: new_flags,
            second_fork: self.has(LinuxNamespaceType::Pid) || self.has(LinuxNamespaceType::Time),
        }
    }
}

/// The `CLONE_NEW*` type of an nsfs file, from `ioctl(NS_GET_NSTYPE)` — or, where that is not
/// available, accept any nsfs file.
fn check_ns_path(t: LinuxNamespaceType, p: &std::path::Path) -> Result<(), String> {
    let f = File::open(p).map_err(|e| format!("open {}: {}", p.display(), crate::OsError(e)))?;
    let st = nix::sys::statfs::fstatfs(f.as_fd())
        .map_err(|e| format!("statfs {}: {}", p.display(), crate::OsError(e.into())))?;
    // NSFS_MAGIC: namespace files are the only files on nsfs; /proc/<pid>/ns/* links
    // resolve there.
    const NSFS_MAGIC: i64 = 0x6e73_6673;
    if st.filesystem_type().0 as i64 != NSFS_MAGIC {
        return Err(format!("{} is not a namespace file", p.display()));
    }
    let _ = t;
    Ok(())
}

/// Render id mappings as `uid_map`/`gid_map` content.
pub fn render_id_map(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// Map a container uid to the host through `maps` (identity when there are none).
pub fn map_id(maps: &[LinuxIdMapping], id: u32) -> Option<u32> {
    if maps.is_empty() {
        return Some(id);
    }
    maps.iter().find_map(|m| {
        let off = id.checked_sub(m.container_id())?;
        (off < m.size()).then(|| m.host_id() + off)
    })
}

/// Render `linux.timeOffsets` as `/proc/self/timens_offsets` content.
///
/// # Errors
/// A clock other than `monotonic` or `boottime`.
pub fn render_time_offsets(spec: &Spec) -> Result<String, SpecError> {
    let mut out = String::new();
    let offsets = spec
        .linux()
        .as_ref()
        .and_then(|l| l.time_offsets().clone())
        .unwrap_or_default();
    let mut keys: Vec<_> = offsets.keys().cloned().collect();
    keys.sort();
    for k in keys {
        if k != "monotonic" && k != "boottime" {
            return Err(SpecError::Invalid {
                field: format!("linux.timeOffsets.{k}"),
                msg: "unknown clock (want monotonic or boottime)".into(),
            });
        }
        let o = &offsets[&k];
        out.push_str(&format!(
            "{k} {} {}\n",
            o.secs().unwrap_or(0),
            o.nanosecs().unwrap_or(0)
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_with(ns: serde_json::Value) -> Spec {
        serde_json::from_value(serde_json::json!({"ociVersion":"1.2.0","linux":{"namespaces":ns}}))
            .unwrap()
    }

    #[test]
    fn fast_path_one_clone() {
        let s = spec_with(
            serde_json::json!([{"type":"pid"},{"type":"mount"},{"type":"network"},{"type":"cgroup"}]),
        );
        let p = NamespacePlan::from_spec(&s).unwrap();
        let sh = p.shape();
        assert!(!sh.second_fork);
        assert!(sh
            .clone_flags
            .contains(CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS));
        assert!(
            !sh.clone_flags.contains(CloneFlags::CLONE_NEWCGROUP),
            "cgroupns is unshared later"
        );
    }

    #[test]
    fn pod_shape_joins_without_second_fork() {
        let s = spec_with(
            serde_json::json!([{"type":"pid"},{"type":"mount"},{"type":"network","path":"/proc/self/ns/net"}]),
        );
        let p = NamespacePlan::from_spec(&s).unwrap();
        assert_eq!(p.join.len(), 1);
        let sh = p.shape();
        assert!(!sh.second_fork);
        assert!(sh.clone_flags.contains(CloneFlags::CLONE_NEWPID));
    }

    #[test]
    fn joined_pid_needs_second_fork() {
        let s = spec_with(
            serde_json::json!([{"type":"pid","path":"/proc/self/ns/pid"},{"type":"mount"}]),
        );
        assert!(NamespacePlan::from_spec(&s).unwrap().shape().second_fork);
    }

    #[test]
    fn joined_user_takes_slow_path() {
        let s = spec_with(
            serde_json::json!([{"type":"user","path":"/proc/self/ns/user"},{"type":"pid"}]),
        );
        let sh = NamespacePlan::from_spec(&s).unwrap().shape();
        assert!(sh.clone_flags.is_empty());
        assert!(sh.unshare_flags.contains(CloneFlags::CLONE_NEWPID));
        assert!(sh.second_fork);
    }

    #[test]
    fn duplicate_and_bad_paths_are_named() {
        let s = spec_with(serde_json::json!([{"type":"pid"},{"type":"pid"}]));
        let e = NamespacePlan::from_spec(&s).unwrap_err().to_string();
        assert_eq!(e, "linux.namespaces[1].type: duplicate namespace \"pid\"");
        let s = spec_with(serde_json::json!([{"type":"network","path":"/nonexistent/ns"}]));
        let e = NamespacePlan::from_spec(&s).unwrap_err().to_string();
        assert!(
            e.starts_with("linux.namespaces[0].path: open /nonexistent/ns: no such file"),
            "{e}"
        );
        let s = spec_with(serde_json::json!([{"type":"network","path":"/etc/hostname"}]));
        assert!(NamespacePlan::from_spec(&s).is_err());
    }

    #[test]
    fn id_maps() {
        let m: Vec<LinuxIdMapping> =
            serde_json::from_str(r#"[{"containerID":0,"hostID":100000,"size":65536}]"#).unwrap();
        assert_eq!(render_id_map(&m), "0 100000 65536\n");
        assert_eq!(map_id(&m, 0), Some(100000));
        assert_eq!(map_id(&m, 65536), None);
        assert_eq!(map_id(&[], 5), Some(5));
    }
}

//! Resolution of `linux.cgroupsPath` into cgroup directories, as runc's cgroupfs driver does.
//!
//! - An absolute path is taken relative to the mount point of each hierarchy
//!   (`/a/b` → `/sys/fs/cgroup/memory/a/b` on v1, `/sys/fs/cgroup/a/b` on v2).
//! - A relative path is taken relative to the cgroup of the runtime itself, read from
//!   `/proc/self/cgroup` (per hierarchy on v1). On v2 it is relative to the PARENT of the
//!   runtime's cgroup, as runc's fs2 driver does: the runtime's own cgroup has processes in it,
//!   so by the "no internal processes" rule controllers could not be enabled for a child of it.
//! - No `cgroupsPath` at all means the relative path `<id>` (runc's specconv sets the cgroup
//!   name to the container id and leaves the parent empty).
//!
//! Unlike runc, whose `CleanPath` silently clamps `..` at the root, a path whose `..` would
//! escape its base is refused: a config asking for that is a mistake or an attack.
//!
//! Everything here is pure over the text of `/proc/self/mountinfo` and `/proc/self/cgroup`, so
//! the unit tests feed it invented layouts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::CgroupError;

/// The cgroup v1 subsystems husk creates a directory in, when their hierarchy is mounted.
/// runc's fs driver knows the same list (including the `name=systemd` named hierarchy, which it
/// joins so that systemd on the host sees the container under its own path).
pub(crate) const V1_SUBSYSTEMS: &[&str] = &[
    "cpuset",
    "devices",
    "memory",
    "cpu",
    "cpuacct",
    "pids",
    "blkio",
    "hugetlb",
    "net_cls",
    "net_prio",
    "perf_event",
    "freezer",
    "rdma",
    "misc",
    "name=systemd",
];

/// A cleaned `cgroupsPath`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Inner {
    /// True for a path relative to each hierarchy's root.
    pub absolute: bool,
    /// The normalised components (no `.`, `..` or empty ones); never empty.
    pub components: Vec<String>,
}

impl Inner {
    /// The path as a relative `PathBuf` (to join onto a base directory).
    pub(crate) fn rel(&self) -> PathBuf {
        self.components.iter().collect()
    }

    /// The path as it is stored in [`super::CgroupConfig::path`].
    pub(crate) fn display(&self) -> String {
        let joined = self.components.join("/");
        if self.absolute {
            format!("/{joined}")
        } else {
            joined
        }
    }
}

/// Clean `linux.cgroupsPath` (or the default `<id>`). Refuses `..` that escapes its base, and
/// a path that names the base itself (the hierarchy root or the runtime's own cgroup), because
/// `delete` would then try to remove a cgroup the container does not own.
pub(crate) fn clean(cgroups_path: Option<&str>, id: &str) -> Result<Inner, CgroupError> {
    let (field, raw) = match cgroups_path {
        Some(p) if !p.is_empty() => ("linux.cgroupsPath", p),
        _ => ("linux.cgroupsPath (default: the container id)", id),
    };
    let invalid = |msg: String| CgroupError::Invalid {
        field: field.to_string(),
        msg,
    };
    if raw.contains('\0') {
        return Err(invalid("contains a NUL byte".into()));
    }
    let absolute = raw.starts_with('/');
    let mut components: Vec<String> = Vec::new();
    for c in raw.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if components.pop().is_none() {
                    return Err(invalid(format!(
                        "{raw:?}: \"..\" escapes the {}",
                        if absolute {
                            "cgroup root"
                        } else {
                            "runtime's own cgroup"
                        }
                    )));
                }
            }
            other => components.push(other.to_string()),
        }
    }
    if components.is_empty() {
        return Err(invalid(format!(
            "{raw:?} names the {} itself, not a cgroup of the container",
            if absolute {
                "cgroup root"
            } else {
                "runtime's own cgroup"
            }
        )));
    }
    Ok(Inner {
        absolute,
        components,
    })
}

/// One cgroup mount from `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CgroupMount {
    /// Where it is mounted.
    pub mountpoint: PathBuf,
    /// The cgroup path (inside the hierarchy) the mount shows at its mountpoint.
    pub root: String,
    /// `None` for cgroup2; the subsystems (and `name=...`) of a v1 hierarchy.
    pub subsystems: Option<Vec<String>>,
}

/// The cgroup mounts (v1 and v2) listed in the text of `/proc/self/mountinfo`, in order (the
/// lines parsed by `rootfs::mountinfo`).
pub(crate) fn parse_mountinfo(text: &str) -> Vec<CgroupMount> {
    crate::rootfs::mountinfo::parse_mountinfo(text)
        .into_iter()
        .filter_map(|m| {
            let subsystems = match m.fstype.as_str() {
                "cgroup2" => None,
                "cgroup" => Some(
                    m.super_options
                        .iter()
                        .filter(|o| V1_SUBSYSTEMS.contains(&o.as_str()) || o.starts_with("name="))
                        .cloned()
                        .collect(),
                ),
                _ => return None,
            };
            Some(CgroupMount {
                mountpoint: m.mount_point,
                root: m.root.to_string_lossy().into_owned(),
                subsystems,
            })
        })
        .collect()
}

/// The runtime's own cgroup per v1 subsystem (key `name=systemd` for the named hierarchy), and
/// on the unified hierarchy (key `""`), from the text of `/proc/self/cgroup`.
pub(crate) fn parse_proc_cgroup(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_id), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if ctrls.is_empty() {
            out.insert(String::new(), path.to_string());
        } else {
            for c in ctrls.split(',') {
                out.insert(c.to_string(), path.to_string());
            }
        }
    }
    out
}

/// `own` (a cgroup path) seen below a mount whose root is `root`, as a relative path.
fn below_root(own: &str, root: &str) -> Option<PathBuf> {
    let own = Path::new(own);
    let rel = own.strip_prefix(root).ok()?;
    Some(rel.to_path_buf())
}

/// The directories of a v1 container cgroup, keyed by subsystem. A subsystem whose hierarchy is
/// not mounted is left out, except `devices`: running a container without its device allow-list
/// would be a security hole, so that is an error (as in runc).
pub(crate) fn resolve_v1(
    mounts: &[CgroupMount],
    own: &BTreeMap<String, String>,
    inner: &Inner,
) -> Result<BTreeMap<String, PathBuf>, CgroupError> {
    let mut dirs = BTreeMap::new();
    for &sub in V1_SUBSYSTEMS {
        let Some(m) = mounts.iter().find(|m| {
            m.subsystems
                .as_ref()
                .is_some_and(|s| s.iter().any(|x| x == sub))
        }) else {
            if sub == "devices" {
                return Err(CgroupError::Unsupported(
                    "cgroup v1: the devices controller is not mounted; refusing to run a \
                     container without its device allow-list"
                        .into(),
                ));
            }
            continue;
        };
        let dir = if inner.absolute {
            m.mountpoint.join(inner.rel())
        } else {
            let Some(own_path) = own.get(sub) else {
                continue;
            };
            let Some(rel) = below_root(own_path, &m.root) else {
                return Err(CgroupError::Unsupported(format!(
                    "cgroup v1 {sub}: the runtime's own cgroup {own_path:?} is not visible \
                     under the mount {:?} (root {:?}); use an absolute linux.cgroupsPath",
                    m.mountpoint, m.root
                )));
            };
            m.mountpoint.join(rel).join(inner.rel())
        };
        dirs.insert(sub.to_string(), dir);
    }
    Ok(dirs)
}

/// The directory of a v2 container cgroup under the unified mount `mountpoint`.
pub(crate) fn resolve_v2(
    mountpoint: &Path,
    own: &BTreeMap<String, String>,
    inner: &Inner,
) -> Result<PathBuf, CgroupError> {
    if inner.absolute {
        return Ok(mountpoint.join(inner.rel()));
    }
    let own_path = own.get("").ok_or_else(|| {
        CgroupError::Unsupported(
            "cgroup v2: /proc/self/cgroup has no unified (\"0::\") entry".into(),
        )
    })?;
    let parent = Path::new(own_path).parent().unwrap_or(Path::new("/"));
    let parent = parent.strip_prefix("/").unwrap_or(parent);
    Ok(mountpoint.join(parent).join(inner.rel()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_accepts_and_normalises() {
        let i = clean(Some("/husk//a/./b/../c"), "x").unwrap();
        assert!(i.absolute);
        assert_eq!(i.display(), "/husk/a/c");
        let i = clean(None, "demo").unwrap();
        assert!(!i.absolute);
        assert_eq!(i.display(), "demo");
        let i = clean(Some(""), "demo").unwrap();
        assert_eq!(i.display(), "demo");
        // runc's systemd-style "slice:prefix:name" is just a directory name for cgroupfs.
        let i = clean(Some("system.slice:husk:abc"), "x").unwrap();
        assert_eq!(i.display(), "system.slice:husk:abc");
    }

    #[test]
    fn clean_refuses_escapes_and_roots() {
        for bad in [
            "/..",
            "/a/../..",
            "../x",
            "a/../../x",
            "/",
            "/a/..",
            ".",
            "a/..",
        ] {
            let e = clean(Some(bad), "x").unwrap_err().to_string();
            assert!(e.starts_with("linux.cgroupsPath: "), "{bad}: {e}");
        }
        let e = clean(None, "..").unwrap_err().to_string();
        assert!(e.contains("default"), "{e}");
    }

    const MOUNTINFO: &str = "\
25 30 0:23 / /sys rw,nosuid shared:7 - sysfs sysfs rw
33 25 0:28 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755
34 33 0:29 / /sys/fs/cgroup/unified rw shared:10 - cgroup2 cgroup2 rw
35 33 0:30 / /sys/fs/cgroup/systemd rw shared:11 - cgroup cgroup rw,xattr,name=systemd
36 33 0:31 / /sys/fs/cgroup/cpu,cpuacct rw shared:12 - cgroup cgroup rw,cpu,cpuacct
37 33 0:32 / /sys/fs/cgroup/memory rw shared:13 - cgroup cgroup rw,memory
38 33 0:33 /outer /sys/fs/cgroup/devices rw shared:14 - cgroup cgroup rw,devices
39 33 0:34 / /sys/fs/cgroup/with\\040space rw - cgroup cgroup rw,pids
";

    const PROC_CGROUP: &str = "\
9:pids:/
5:devices:/outer/inner
4:memory:/user/1000
3:cpu,cpuacct:/
1:name=systemd:/user.slice
0::/user.slice/session-1.scope
";

    #[test]
    fn mountinfo_and_proc_cgroup_parse() {
        let m = parse_mountinfo(MOUNTINFO);
        assert_eq!(m.len(), 6);
        assert_eq!(m[0].subsystems, None);
        assert_eq!(
            m[1].subsystems.as_deref(),
            Some(&["name=systemd".to_string()][..])
        );
        assert_eq!(m[2].mountpoint, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(m[4].root, "/outer");
        assert_eq!(m[5].mountpoint, Path::new("/sys/fs/cgroup/with space"));
        let own = parse_proc_cgroup(PROC_CGROUP);
        assert_eq!(own["cpuacct"], "/");
        assert_eq!(own["memory"], "/user/1000");
        assert_eq!(own[""], "/user.slice/session-1.scope");
    }

    #[test]
    fn v1_absolute_and_relative() {
        let m = parse_mountinfo(MOUNTINFO);
        let own = parse_proc_cgroup(PROC_CGROUP);
        let abs = resolve_v1(&m, &own, &clean(Some("/husk/c1"), "c1").unwrap()).unwrap();
        assert_eq!(abs["memory"], Path::new("/sys/fs/cgroup/memory/husk/c1"));
        assert_eq!(abs["cpu"], Path::new("/sys/fs/cgroup/cpu,cpuacct/husk/c1"));
        assert_eq!(abs["cpuacct"], abs["cpu"]);
        assert_eq!(abs["devices"], Path::new("/sys/fs/cgroup/devices/husk/c1"));
        assert_eq!(
            abs["name=systemd"],
            Path::new("/sys/fs/cgroup/systemd/husk/c1")
        );
        assert!(!abs.contains_key("freezer"));
        let rel = resolve_v1(&m, &own, &clean(None, "c1").unwrap()).unwrap();
        assert_eq!(
            rel["memory"],
            Path::new("/sys/fs/cgroup/memory/user/1000/c1")
        );
        assert_eq!(rel["cpu"], Path::new("/sys/fs/cgroup/cpu,cpuacct/c1"));
        // The devices mount shows the hierarchy from /outer: our /outer/inner is at inner/.
        assert_eq!(rel["devices"], Path::new("/sys/fs/cgroup/devices/inner/c1"));
        assert_eq!(
            rel["name=systemd"],
            Path::new("/sys/fs/cgroup/systemd/user.slice/c1")
        );
    }

    #[test]
    fn v1_without_devices_is_refused() {
        let m: Vec<_> = parse_mountinfo(MOUNTINFO)
            .into_iter()
            .filter(|m| m.mountpoint != Path::new("/sys/fs/cgroup/devices"))
            .collect();
        let own = parse_proc_cgroup(PROC_CGROUP);
        let e = resolve_v1(&m, &own, &clean(Some("/a"), "a").unwrap()).unwrap_err();
        assert!(
            e.to_string().contains("devices controller is not mounted"),
            "{e}"
        );
    }

    #[test]
    fn v2_absolute_and_relative() {
        let own = parse_proc_cgroup(PROC_CGROUP);
        let root = Path::new("/sys/fs/cgroup");
        let abs = resolve_v2(root, &own, &clean(Some("/husk/c1"), "c1").unwrap()).unwrap();
        assert_eq!(abs, Path::new("/sys/fs/cgroup/husk/c1"));
        // Relative to the parent of our own cgroup, as runc's fs2 driver.
        let rel = resolve_v2(root, &own, &clean(None, "c1").unwrap()).unwrap();
        assert_eq!(rel, Path::new("/sys/fs/cgroup/user.slice/c1"));
        let own = parse_proc_cgroup("0::/\n");
        let rel = resolve_v2(root, &own, &clean(Some("x/y"), "c1").unwrap()).unwrap();
        assert_eq!(rel, Path::new("/sys/fs/cgroup/x/y"));
    }
}

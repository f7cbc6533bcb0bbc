//! The `cgroup` mount type: the container's view of its cgroups, as runc builds it.
//!
//! - cgroup v2 host (or `type: cgroup2`): a `cgroup2` mount. Without a cgroup namespace, a
//!   user namespace may not mount it (EPERM): then the container's own cgroup directory is
//!   bind-mounted instead.
//! - cgroup v1 / hybrid host: a tmpfs at the destination, and in it one entry per v1
//!   hierarchy (named after the host's mount point: `cpu,cpuacct`, `memory`, `systemd`, ...):
//!   with a cgroup namespace a fresh `cgroup` mount of that hierarchy (rooted at the
//!   namespace's root), without one a bind mount of the container's own cgroup directory.
//!   Co-mounted controllers get symlinks (`cpu` -> `cpu,cpuacct`). The hybrid `unified`
//!   cgroup2 mount is not shown, like runc 1.1.
//!
//! The host's hierarchies come from `/proc/self/mountinfo` and the container's cgroups from
//! `/proc/self/cgroup`, both read inside the container's mount namespace before
//! `pivot_root` (so mount points are host paths) after the caller joined the cgroup.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::MsFlags;
use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC};

use super::mountinfo::{parse_mountinfo, parse_proc_cgroup, v1_controllers, CgroupLine, MountInfo};
use super::mounts::{mount_at, mount_bind, propagate, remount, Ctx};
use super::options::{MountKind, MountOptions};
use super::resolver::sys_err;
use super::RootfsError;

/// The flags runc gives the cgroup tmpfs and hierarchies whatever the config says.
const DEFAULT_FLAGS: MsFlags = MsFlags::MS_NOEXEC
    .union(MsFlags::MS_NOSUID)
    .union(MsFlags::MS_NODEV);

fn read(path: &str) -> Result<String, RootfsError> {
    // Bounded: these are kernel-generated files of the runtime's own process.
    std::fs::read_to_string(path).map_err(|e| RootfsError::Sys {
        op: format!("read({path:?})"),
        source: e,
    })
}

fn host_is_v2() -> bool {
    statfs("/sys/fs/cgroup").is_ok_and(|s| s.filesystem_type() == CGROUP2_SUPER_MAGIC)
}

/// Mount the `cgroup` entry at `dest`.
pub(crate) fn mount_cgroup(
    ctx: &Ctx<'_>,
    dest: &Path,
    o: &MountOptions,
) -> Result<(), RootfsError> {
    if host_is_v2() {
        return mount_v2(ctx, dest, o);
    }
    mount_v1(ctx, dest, o)
}

pub(crate) fn mount_v2(ctx: &Ctx<'_>, dest: &Path, o: &MountOptions) -> Result<(), RootfsError> {
    let target = ctx.root.mkdir_all(dest, 0o755)?;
    let data = o.data_string();
    let source = Some(Path::new("cgroup2"));
    match mount_at(
        source,
        target.as_fd(),
        dest,
        Some("cgroup2"),
        o.flags,
        data.as_deref(),
    ) {
        // A user namespace without its own cgroup namespace may not mount cgroup2: show the
        // container's own cgroup directory instead (runc does the same).
        Err(e) if e.errno() == Some(libc::EPERM) && !ctx.opts.new_cgroupns => {
            let mounts = parse_mountinfo(&read("/proc/self/mountinfo")?);
            let cgroups = parse_proc_cgroup(&read("/proc/self/cgroup")?);
            let src = v2_own_dir(&mounts, &cgroups).ok_or_else(|| {
                RootfsError::Unsafe("no cgroup2 mount holds this process's cgroup".into())
            })?;
            mount_bind(ctx, &src, dest, &bind_options(o), None)
        }
        Err(e) => Err(e),
        Ok(()) => {
            if !o.propagation.is_empty() {
                let top = ctx.root.open_path(dest, nix::fcntl::OFlag::O_PATH)?;
                propagate(top.as_fd(), dest, &o.propagation)?;
            }
            Ok(())
        }
    }
}

/// Pure: the host directory of the process's cgroup v2 cgroup (the `0::` line), under the
/// first cgroup2 mount that contains it (`/sys/fs/cgroup`, or `/sys/fs/cgroup/unified` on a
/// hybrid host).
pub(crate) fn v2_own_dir(mounts: &[MountInfo], cgroups: &[CgroupLine]) -> Option<PathBuf> {
    let own = &cgroups.iter().find(|l| l.controllers.is_empty())?.path;
    mounts
        .iter()
        .filter(|m| m.fstype == "cgroup2")
        .find_map(|m| {
            own.strip_prefix(&m.root)
                .ok()
                .map(|rel| m.mount_point.join(rel))
        })
}

fn bind_options(o: &MountOptions) -> MountOptions {
    let mut b = o.clone();
    b.kind = MountKind::Bind;
    b.flags |= MsFlags::MS_BIND | MsFlags::MS_REC;
    b.data.clear();
    b
}

/// One v1 hierarchy to show in the container.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct V1Entry {
    /// Name under the destination (the host mount point's last component).
    pub name: String,
    /// Controllers (`cpu`, `cpuacct`, or `name=systemd`), the mount data with a cgroupns.
    pub controllers: Vec<String>,
    /// The host directory of the container's own cgroup in it, for the bind without cgroupns
    /// (`None` when asked not to look: in a cgroup namespace, where paths are relative to it).
    pub own_dir: Option<PathBuf>,
}

/// Pure: the v1 hierarchies of the host and, given the process's cgroups, where the
/// container's cgroup is in each.
pub(crate) fn v1_entries(
    mounts: &[MountInfo],
    cgroups: Option<&[CgroupLine]>,
) -> Result<Vec<V1Entry>, String> {
    let mut out: Vec<V1Entry> = Vec::new();
    // A hierarchy may be mounted more than once (also as a subtree, e.g. in another
    // container's view): use the first mount that holds this process's cgroup.
    let mut missed: Vec<(Vec<String>, String)> = Vec::new();
    for m in mounts.iter().filter(|m| m.fstype == "cgroup") {
        let controllers = v1_controllers(m);
        let Some(name) = m.mount_point.file_name() else {
            continue;
        };
        let name = name.to_string_lossy().into_owned();
        if out
            .iter()
            .any(|e| e.name == name || e.controllers == controllers)
        {
            continue;
        }
        let own_dir = match cgroups.map(|c| own_dir(m, &controllers, c)) {
            None => None,
            Some(Ok(d)) => Some(d),
            Some(Err(e)) => {
                missed.push((controllers, e));
                continue;
            }
        };
        out.push(V1Entry {
            name,
            controllers,
            own_dir,
        });
    }
    if let Some((_, e)) = missed
        .into_iter()
        .find(|(c, _)| !out.iter().any(|e| &e.controllers == c))
    {
        return Err(e);
    }
    Ok(out)
}

fn own_dir(
    m: &MountInfo,
    controllers: &[String],
    cgroups: &[CgroupLine],
) -> Result<PathBuf, String> {
    let mut want = controllers.to_vec();
    want.sort();
    let line = cgroups
        .iter()
        .find(|l| {
            let mut have = l.controllers.clone();
            have.sort();
            have == want
        })
        .ok_or_else(|| {
            format!(
                "no line for cgroup hierarchy {} in /proc/self/cgroup",
                controllers.join(",")
            )
        })?;
    // The mount may show a subtree of the hierarchy (its root field): the cgroup path is
    // relative to the hierarchy's root.
    let rel = line.path.strip_prefix(&m.root).map_err(|_| {
        format!(
            "cgroup {:?} is outside the {:?} mount of hierarchy {}",
            line.path,
            m.mount_point,
            controllers.join(",")
        )
    })?;
    Ok(m.mount_point.join(rel))
}

fn mount_v1(ctx: &Ctx<'_>, dest: &Path, o: &MountOptions) -> Result<(), RootfsError> {
    // In a cgroup namespace the hierarchies are mounted afresh (rooted at the namespace's
    // root) and the process's own paths are not needed.
    let cgroups = match ctx.opts.new_cgroupns {
        true => None,
        false => Some(parse_proc_cgroup(&read("/proc/self/cgroup")?)),
    };
    let entries = v1_entries(
        &parse_mountinfo(&read("/proc/self/mountinfo")?),
        cgroups.as_deref(),
    )
    .map_err(RootfsError::Unsafe)?;
    // The tmpfs that holds the hierarchies: runc's flags and mode, the config's propagation.
    // It gets linux.mountLabel like any tmpfs (runc mounts it as a tmpfs mount entry).
    let tmp = ctx.root.mkdir_all(dest, 0o755)?;
    let data = ctx.labelled(&MountKind::Tmpfs, Some("mode=755".into()));
    mount_at(
        Some(Path::new("tmpfs")),
        tmp.as_fd(),
        dest,
        Some("tmpfs"),
        DEFAULT_FLAGS,
        data.as_deref(),
    )
    .map_err(|e| ctx.label_hint(&MountKind::Tmpfs, e))?;
    let tmp = ctx.root.open_path(
        dest,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY,
    )?;
    propagate(tmp.as_fd(), dest, &o.propagation)?;
    for e in &entries {
        let sub = dest.join(&e.name);
        if ctx.opts.new_cgroupns {
            let target = ctx.root.mkdir_all(&sub, 0o755)?;
            let mut flags = DEFAULT_FLAGS;
            if o.flags.contains(MsFlags::MS_RDONLY) {
                flags |= MsFlags::MS_RDONLY;
            }
            let data = e.controllers.join(",");
            mount_at(
                Some(Path::new("cgroup")),
                target.as_fd(),
                &sub,
                Some("cgroup"),
                flags,
                Some(&data),
            )?;
        } else if let Some(own) = &e.own_dir {
            mount_bind(ctx, own, &sub, &bind_options(o), None)?;
        }
        if e.controllers.len() > 1 {
            for c in &e.controllers {
                match nix::unistd::symlinkat(e.name.as_str(), tmp.as_fd(), c.as_str()) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(err) => {
                        return Err(sys_err(
                            format!("symlinkat({:?}, {:?})", e.name, dest.join(c)),
                            err,
                        ))
                    }
                }
            }
        }
    }
    if o.flags.contains(MsFlags::MS_RDONLY) {
        let top = ctx.root.open_path(dest, nix::fcntl::OFlag::O_PATH)?;
        remount(
            top.as_fd(),
            dest,
            DEFAULT_FLAGS | MsFlags::MS_RDONLY | MsFlags::MS_BIND,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_own_dir_under_the_cgroup2_mount() {
        let mi = parse_mountinfo(
            "35 30 0:31 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate
36 30 0:32 /a /mnt/sub rw - cgroup2 cgroup2 rw
",
        );
        let cg = parse_proc_cgroup("4:memory:/x\n0::/a/b\n");
        assert_eq!(
            v2_own_dir(&mi, &cg),
            Some(PathBuf::from("/sys/fs/cgroup/unified/a/b"))
        );
        assert_eq!(v2_own_dir(&mi[1..], &cg), Some(PathBuf::from("/mnt/sub/b")));
        assert_eq!(v2_own_dir(&mi, &parse_proc_cgroup("4:memory:/x\n")), None);
    }

    #[test]
    fn v1_entries_follow_runc() {
        let mi = parse_mountinfo(
            "30 22 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
33 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
34 30 0:30 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
35 30 0:31 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate
36 30 0:32 /sub /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
",
        );
        let cg =
            parse_proc_cgroup("5:cpuacct,cpu:/c1\n4:memory:/sub/c1\n1:name=systemd:/s/c1\n0::/u\n");
        let e = v1_entries(&mi, Some(&cg)).unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].name, "cpu,cpuacct");
        assert_eq!(
            e[0].own_dir,
            Some(PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/c1"))
        );
        assert_eq!(e[1].controllers, vec!["name=systemd"]);
        assert_eq!(
            e[1].own_dir,
            Some(PathBuf::from("/sys/fs/cgroup/systemd/s/c1"))
        );
        assert_eq!(
            e[2].own_dir,
            Some(PathBuf::from("/sys/fs/cgroup/memory/c1"))
        );
        // the same hierarchy also mounted as a subtree elsewhere first: the full one is used
        let mut twice =
            parse_mountinfo("50 22 0:32 /other /mnt/memory rw - cgroup cgroup rw,memory\n");
        twice.extend(mi.iter().cloned());
        let e = v1_entries(&twice, Some(&cg)).unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(
            e[2].own_dir,
            Some(PathBuf::from("/sys/fs/cgroup/memory/c1"))
        );
        let bad = parse_proc_cgroup("5:cpu,cpuacct:/c1\n");
        assert!(v1_entries(&mi, Some(&bad))
            .unwrap_err()
            .contains("name=systemd"));
        // in a cgroup namespace the own paths are not needed (nor meaningful)
        let e = v1_entries(&mi, None).unwrap();
        assert_eq!(e.len(), 3);
        assert!(e.iter().all(|e| e.own_dir.is_none()));
    }
}

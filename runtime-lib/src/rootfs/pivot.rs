//! Making the rootfs a mount of its own, and switching into it: `pivot_root` or, with
//! `--no-pivot`, `MS_MOVE` + `chroot`.

use std::os::fd::AsFd;
use std::path::Path;

use nix::fcntl::{open, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::Mode;
use nix::unistd::{chdir, chroot, fchdir, pivot_root};

use super::mountinfo::parse_mountinfo;
use super::options::render_flags;
use super::resolver::{sys_err, Root};
use super::RootfsError;

const NONE: Option<&str> = None;

fn mount_path(
    source: Option<&Path>,
    target: &Path,
    flags: MsFlags,
    fstype: Option<&str>,
) -> Result<(), RootfsError> {
    mount(source, target, fstype, flags, NONE).map_err(|e| {
        sys_err(
            format!(
                "mount({}, {target:?}, {}, {}, NULL)",
                source.map_or("NULL".into(), |s| format!("{s:?}")),
                fstype.map_or("NULL".into(), |s| format!("{s:?}")),
                render_flags(flags)
            ),
            e,
        )
    })
}

fn read_mountinfo() -> Result<Vec<super::mountinfo::MountInfo>, RootfsError> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| RootfsError::Sys {
        op: "read(\"/proc/self/mountinfo\")".into(),
        source: e,
    })?;
    Ok(parse_mountinfo(&text))
}

/// Before any mount: set the propagation of the whole tree (default `rslave`, so nothing
/// done here reaches the host while host mounts still reach the container), make the mount
/// holding the rootfs a slave if it is shared (a bind of the rootfs would otherwise
/// propagate back to the host, and `pivot_root` refuses a shared parent), and bind the
/// rootfs onto itself so it is a mount that can be pivoted into / moved. `rootfs` is a
/// trusted host path.
///
/// runc makes that parent private instead; a slave keeps the same two guarantees but still
/// receives the host's mount events, so that the rootfs bind (a clone of the slave, hence a
/// slave of the same peer group) sees host mounts made below it later, which is what
/// `rootfsPropagation: slave` (and the default `rslave`) promise.
pub(crate) fn prepare_root(rootfs: &Path, propagation: Option<MsFlags>) -> Result<(), RootfsError> {
    let flags = propagation.unwrap_or(MsFlags::MS_SLAVE | MsFlags::MS_REC);
    mount_path(None, Path::new("/"), flags, None)?;
    let infos = read_mountinfo()?;
    let parent = infos
        .iter()
        .filter(|m| rootfs.starts_with(&m.mount_point))
        .max_by_key(|m| m.mount_point.as_os_str().len());
    if let Some(p) = parent {
        if p.optional.iter().any(|o| o.starts_with("shared:")) {
            mount_path(None, &p.mount_point, MsFlags::MS_SLAVE, None)?;
        }
    }
    mount_path(
        Some(rootfs),
        rootfs,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )
}

/// `pivot_root(".", ".")` inside the new root, then detach the old root, which is stacked
/// on the same directory (the trick runc and lxc use: no temporary put_old directory in the
/// untrusted rootfs).
pub(crate) fn pivot(root: &Root) -> Result<(), RootfsError> {
    let old = open(
        "/",
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| sys_err("open(\"/\", O_RDONLY|O_DIRECTORY|O_CLOEXEC)".into(), e))?;
    fchdir(root.fd()).map_err(|e| sys_err(format!("fchdir(<root {:?}>)", root.host()), e))?;
    pivot_root(".", ".")
        .map_err(|e| sys_err(format!("pivot_root(\".\", \".\") in {:?}", root.host()), e))?;
    fchdir(old.as_fd()).map_err(|e| sys_err("fchdir(<old root>)".into(), e))?;
    // The old root may be shared with the host: unmounting it must not propagate there.
    mount_path(
        None,
        Path::new("."),
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None,
    )?;
    umount2(".", MntFlags::MNT_DETACH)
        .map_err(|e| sys_err("umount2(\".\", MNT_DETACH)".into(), e))?;
    chdir("/").map_err(|e| sys_err("chdir(\"/\")".into(), e))
}

/// `--no-pivot`: move the rootfs mount over `/` and `chroot` into it. The host's procfs and
/// sysfs mounts stay reachable in this mount namespace, and the kernel's check that a new
/// procfs/sysfs mount would not reveal more than an existing one looks at all of them:
/// detach them (or cover them with a tmpfs where that is not allowed), as runc does.
pub(crate) fn move_root(root: &Root) -> Result<(), RootfsError> {
    for m in read_mountinfo()? {
        let full = m.root == Path::new("/") && (m.fstype == "proc" || m.fstype == "sysfs");
        if !full || m.mount_point.starts_with(root.host()) {
            continue;
        }
        match mount_path(
            None,
            &m.mount_point,
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None,
        ) {
            Err(e) if e.errno() == Some(libc::ENOENT) => continue,
            r => r?,
        }
        match umount2(&m.mount_point, MntFlags::MNT_DETACH) {
            Ok(()) => {}
            Err(nix::errno::Errno::EINVAL | nix::errno::Errno::EPERM) => mount_path(
                Some(Path::new("tmpfs")),
                &m.mount_point,
                MsFlags::empty(),
                Some("tmpfs"),
            )?,
            Err(e) => {
                return Err(sys_err(
                    format!("umount2({:?}, MNT_DETACH)", m.mount_point),
                    e,
                ))
            }
        }
    }
    fchdir(root.fd()).map_err(|e| sys_err(format!("fchdir(<root {:?}>)", root.host()), e))?;
    mount_path(Some(Path::new(".")), Path::new("/"), MsFlags::MS_MOVE, None)?;
    chroot(".").map_err(|e| sys_err("chroot(\".\")".into(), e))?;
    chdir("/").map_err(|e| sys_err("chdir(\"/\")".into(), e))
}

/// After the switch: `rootfsPropagation` applies to the new `/` (runc does this too; before
/// the switch it was applied to the host's tree as seen from this namespace).
pub(crate) fn set_root_propagation(flags: MsFlags) -> Result<(), RootfsError> {
    mount_path(None, Path::new("/"), flags, None)
}

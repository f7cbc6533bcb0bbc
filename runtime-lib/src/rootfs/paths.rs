//! What [`super::finalize`] does inside the new root: `readonlyPaths`, `maskedPaths`, a
//! read-only `/dev` and `root.readonly`.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use nix::sys::stat::{fstat, makedev, FileStat, SFlag};

use super::mounts::{fd_path, locked_flags, mount_at, mount_shown, remount};
use super::resolver::{sys_err, Root};
use super::RootfsError;

fn kind(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT
}

/// Open a listed path; `None` when it does not exist (runc skips those).
fn open_listed(root: &Root, p: &Path) -> Result<Option<OwnedFd>, RootfsError> {
    match root.try_open(p, OFlag::O_PATH) {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno::ENOENT | Errno::ENOTDIR) => Ok(None),
        Err(e) => Err(sys_err(format!("openat2(<root>, {p:?}, O_PATH)"), e)),
    }
}

/// Bind the path onto itself, then remount that bind read-only, keeping the flags the kernel
/// locks in a user namespace (nosuid, nodev, noexec, atime), like runc.
pub(crate) fn readonly_path(root: &Root, p: &Path) -> Result<(), RootfsError> {
    let Some(fd) = open_listed(root, p)? else {
        return Ok(());
    };
    let st = fstat(fd.as_fd()).map_err(|e| sys_err(format!("fstat({p:?})"), e))?;
    let src = fd_path(fd.as_fd());
    mount_shown(
        Some(&src),
        Some(p.to_string_lossy().into_owned()),
        fd.as_fd(),
        p,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )?;
    let top = root.open_path(p, OFlag::O_PATH)?;
    let top_st = fstat(top.as_fd()).map_err(|e| sys_err(format!("fstat({p:?})"), e))?;
    if (top_st.st_dev, top_st.st_ino) != (st.st_dev, st.st_ino) {
        return Err(RootfsError::Unsafe(format!(
            "{p:?} changed while it was made read-only"
        )));
    }
    let flags = MsFlags::MS_BIND | MsFlags::MS_RDONLY | locked_flags(top.as_fd());
    remount(top.as_fd(), p, flags)
}

/// The container's `/dev/null`, checked to be the null device (security.md S4: an image or a
/// racing container may have replaced it with a symlink to some sensitive file, which a
/// bind would then expose instead of hiding the masked path, CVE-2025-31133).
pub(crate) fn verified_null(root: &Root) -> Result<OwnedFd, RootfsError> {
    let null = root.open_path(Path::new("/dev/null"), OFlag::O_PATH | OFlag::O_NOFOLLOW)?;
    let st = fstat(null.as_fd()).map_err(|e| sys_err("fstat(\"/dev/null\")".into(), e))?;
    if kind(&st) != SFlag::S_IFCHR || st.st_rdev != makedev(1, 3) {
        return Err(RootfsError::Unsafe(
            "/dev/null in the container is not the null device (char 1:3): refusing to mask paths with it".into(),
        ));
    }
    Ok(null)
}

/// Hide a path: a directory under an empty read-only tmpfs, anything else under the null
/// device.
pub(crate) fn mask_path(
    root: &Root,
    null: &mut Option<OwnedFd>,
    p: &Path,
) -> Result<(), RootfsError> {
    let Some(fd) = open_listed(root, p)? else {
        return Ok(());
    };
    let st = fstat(fd.as_fd()).map_err(|e| sys_err(format!("fstat({p:?})"), e))?;
    if kind(&st) == SFlag::S_IFDIR {
        return mount_at(
            Some(Path::new("tmpfs")),
            fd.as_fd(),
            p,
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            None,
        );
    }
    if null.is_none() {
        *null = Some(verified_null(root)?);
    }
    let null = null
        .as_ref()
        .map(|n| fd_path(n.as_fd()))
        .unwrap_or_default();
    mount_shown(
        Some(&null),
        Some("/dev/null".into()),
        fd.as_fd(),
        p,
        None,
        MsFlags::MS_BIND,
        None,
    )
}

/// Remount the mount at `p` (the container's `/`, or `/dev`) read-only.
pub(crate) fn remount_readonly(root: &Root, p: &Path) -> Result<(), RootfsError> {
    let top = root.open_path(p, OFlag::O_PATH)?;
    remount(
        top.as_fd(),
        p,
        MsFlags::MS_BIND | MsFlags::MS_RDONLY | locked_flags(top.as_fd()),
    )
}

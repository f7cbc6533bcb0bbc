//! What [`super::finalize`] does inside the new root: `readonlyPaths`, `maskedPaths`, a
//! read-only `/dev` and `root.readonly`.
//!
//! Each is done with the new mount API first: a detached copy of a mount (`open_tree`) or a
//! new tmpfs (`fsmount`) is made read-only with `mount_setattr` BEFORE it is attached with
//! `move_mount` onto the descriptor the resolver opened. No `/proc` is needed, no remount
//! (so no user-namespace locked-flag dance: only `MOUNT_ATTR_RDONLY` is set, every other
//! flag is kept), and no window where the new mount is writable. Where the kernel lacks the
//! API (before 5.12) or a seccomp profile hides it (ENOSYS/EPERM), the classic way: bind
//! through `/proc/self/fd/N`, then remount read-only keeping the locked flags, like runc.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use nix::sys::stat::{fstat, makedev, FileStat, SFlag};

use super::mounts::{fd_path, locked_flags, mount_at, mount_shown, remount};
use super::resolver::{sys_err, Root};
use super::RootfsError;
use crate::sys::mount as api;

/// Tests: use the classic path even where the new mount API works.
#[cfg(test)]
pub(crate) static FORCE_CLASSIC: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// The result of a new-mount-API attempt: done, or "use the classic way".
enum Attempt {
    Done,
    Unavailable,
}

fn unavailable(e: Errno) -> bool {
    matches!(e, Errno::ENOSYS | Errno::EPERM)
}

fn forced_classic() -> bool {
    #[cfg(test)]
    {
        FORCE_CLASSIC.load(std::sync::atomic::Ordering::Relaxed)
    }
    #[cfg(not(test))]
    {
        false
    }
}

/// Run a new-API attempt; ENOSYS/EPERM from its first call means "not available".
fn attempt(f: impl FnOnce() -> Result<(), (Errno, String)>) -> Result<Attempt, RootfsError> {
    if forced_classic() {
        return Ok(Attempt::Unavailable);
    }
    match f() {
        Ok(()) => Ok(Attempt::Done),
        Err((e, _)) if unavailable(e) => Ok(Attempt::Unavailable),
        Err((e, op)) => Err(sys_err(op, e)),
    }
}

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

/// `open_tree` a copy of the mount tree at `src`, optionally make its top mount read-only,
/// and attach it onto `target`.
fn attach_copy(
    src: BorrowedFd<'_>,
    src_shown: &str,
    target: BorrowedFd<'_>,
    shown: &Path,
    recursive: bool,
    readonly: bool,
) -> Result<(), (Errno, String)> {
    let rec = if recursive { "|AT_RECURSIVE" } else { "" };
    let tree = api::open_tree_clone(src, recursive).map_err(|e| {
        let op = format!(
            "open_tree(<{src_shown}>, \"\", OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC|AT_EMPTY_PATH{rec})"
        );
        (e, op)
    })?;
    if readonly {
        // Only the top mount, like runc's remount (which has no recursive form).
        api::mount_setattr(tree.as_fd(), false, libc::MOUNT_ATTR_RDONLY, 0, 0).map_err(|e| {
            let op = format!("mount_setattr(<{src_shown} copy>, \"\", AT_EMPTY_PATH, {{attr_set=MOUNT_ATTR_RDONLY}})");
            (e, op)
        })?;
    }
    api::move_mount(tree.as_fd(), target).map_err(|e| {
        let op = format!(
            "move_mount(<{src_shown} copy>, \"\", <{shown:?}>, \"\", MOVE_MOUNT_F_EMPTY_PATH|MOVE_MOUNT_T_EMPTY_PATH)"
        );
        (e, op)
    })
}

/// Make the path read-only: a read-only bind of it onto itself.
pub(crate) fn readonly_path(root: &Root, p: &Path) -> Result<(), RootfsError> {
    let Some(fd) = open_listed(root, p)? else {
        return Ok(());
    };
    let shown = p.to_string_lossy();
    let done = attempt(|| attach_copy(fd.as_fd(), &shown, fd.as_fd(), p, true, true))?;
    if let Attempt::Unavailable = done {
        readonly_path_classic(root, &fd, p)?;
    }
    Ok(())
}

/// runc's way: bind the path onto itself, then remount that bind read-only, keeping the
/// flags the kernel locks in a user namespace (nosuid, nodev, noexec, atime).
fn readonly_path_classic(root: &Root, fd: &OwnedFd, p: &Path) -> Result<(), RootfsError> {
    super::require_proc()?;
    let st = fstat(fd.as_fd()).map_err(|e| sys_err(format!("fstat({p:?})"), e))?;
    let src = fd_path(fd.as_fd());
    let shown = Some(p.to_string_lossy().into_owned());
    let flags = MsFlags::MS_BIND | MsFlags::MS_REC;
    mount_shown(Some(&src), shown, fd.as_fd(), p, None, flags, None)?;
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

/// A new read-only tmpfs, detached, attached onto `target`.
fn attach_empty_tmpfs(
    target: BorrowedFd<'_>,
    shown: &Path,
    label: Option<&str>,
) -> Result<(), (Errno, String)> {
    let fs =
        api::fsopen(c"tmpfs").map_err(|e| (e, "fsopen(\"tmpfs\", FSOPEN_CLOEXEC)".to_string()))?;
    // The mount source shown in mountinfo ("none" otherwise), as a classic mount would have.
    api::fsconfig_set_string(fs.as_fd(), c"source", c"tmpfs").map_err(|e| {
        let op = "fsconfig(<tmpfs>, FSCONFIG_SET_STRING, \"source\", \"tmpfs\", 0)";
        (e, op.to_string())
    })?;
    // linux.mountLabel: runc masks with a tmpfs carrying context= too. fsconfig takes the
    // value unquoted (only mount(2)'s option string needs the quotes around the commas).
    if let Some(l) = label {
        let op = format!("fsconfig(<tmpfs>, FSCONFIG_SET_STRING, \"context\", {l:?}, 0)");
        let value = std::ffi::CString::new(l).map_err(|_| (Errno::EINVAL, op.clone()))?;
        api::fsconfig_set_string(fs.as_fd(), c"context", &value).map_err(|e| (e, op))?;
    }
    // A read-only superblock too (it is a private one), as MS_RDONLY on a classic mount gives.
    api::fsconfig_set_flag(fs.as_fd(), c"ro").map_err(|e| {
        (
            e,
            "fsconfig(<tmpfs>, FSCONFIG_SET_FLAG, \"ro\", NULL, 0)".to_string(),
        )
    })?;
    api::fsconfig_create(fs.as_fd()).map_err(|e| {
        (
            e,
            "fsconfig(<tmpfs>, FSCONFIG_CMD_CREATE, NULL, NULL, 0)".to_string(),
        )
    })?;
    let m = api::fsmount(fs.as_fd(), libc::MOUNT_ATTR_RDONLY).map_err(|e| {
        (
            e,
            "fsmount(<tmpfs>, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY)".to_string(),
        )
    })?;
    api::move_mount(m.as_fd(), target).map_err(|e| {
        let op = format!("move_mount(<tmpfs>, \"\", <{shown:?}>, \"\", MOVE_MOUNT_F_EMPTY_PATH|MOVE_MOUNT_T_EMPTY_PATH)");
        (e, op)
    })
}

/// Hide a path: a directory under an empty read-only tmpfs, anything else under the
/// (verified) null device.
/// `label` is `linux.mountLabel`, given to the tmpfs as runc does.
pub(crate) fn mask_path(
    root: &Root,
    null: &mut Option<OwnedFd>,
    p: &Path,
    label: Option<&str>,
) -> Result<(), RootfsError> {
    let Some(fd) = open_listed(root, p)? else {
        return Ok(());
    };
    let st = fstat(fd.as_fd()).map_err(|e| sys_err(format!("fstat({p:?})"), e))?;
    if kind(&st) == SFlag::S_IFDIR {
        if let Attempt::Done = attempt(|| attach_empty_tmpfs(fd.as_fd(), p, label))? {
            return Ok(());
        }
        super::require_proc()?;
        let tmpfs = Some(Path::new("tmpfs"));
        let data = crate::security::lsm::with_mount_label(None, label);
        return mount_at(
            tmpfs,
            fd.as_fd(),
            p,
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            data.as_deref(),
        );
    }
    if null.is_none() {
        *null = Some(verified_null(root)?);
    }
    let Some(null) = null.as_ref() else {
        return Err(RootfsError::Unsafe("no /dev/null".into()));
    };
    if let Attempt::Done =
        attempt(|| attach_copy(null.as_fd(), "/dev/null", fd.as_fd(), p, false, false))?
    {
        return Ok(());
    }
    super::require_proc()?;
    let src = fd_path(null.as_fd());
    mount_shown(
        Some(&src),
        Some("/dev/null".into()),
        fd.as_fd(),
        p,
        None,
        MsFlags::MS_BIND,
        None,
    )
}

/// Make the mount at `p` (the container's `/`, or `/dev`) read-only.
pub(crate) fn remount_readonly(root: &Root, p: &Path) -> Result<(), RootfsError> {
    let top = root.open_path(p, OFlag::O_PATH)?;
    let done = attempt(|| {
        api::mount_setattr(top.as_fd(), false, libc::MOUNT_ATTR_RDONLY, 0, 0).map_err(|e| {
            let op = format!(
                "mount_setattr(<{p:?}>, \"\", AT_EMPTY_PATH, {{attr_set=MOUNT_ATTR_RDONLY}})"
            );
            (e, op)
        })
    })?;
    if let Attempt::Done = done {
        return Ok(());
    }
    super::require_proc()?;
    remount(
        top.as_fd(),
        p,
        MsFlags::MS_BIND | MsFlags::MS_RDONLY | locked_flags(top.as_fd()),
    )
}

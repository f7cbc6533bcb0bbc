//! A trusted procfs handle (security.md S6).
//!
//! Writes to `/proc/sys`, `/proc/self/attr/*`, `oom_score_adj` or `setgroups` must land in the
//! real procfs, not in a file that a mount or symlink from the image put in their place
//! (CVE-2019-16884, CVE-2019-19921, CVE-2023-27561, CVE-2025-52881). A fresh, detached procfs
//! instance from `fsopen("proc")` cannot have anything mounted over its entries. Where the
//! new mount API is unavailable, `/proc` is opened and accepted only if it is the root of a
//! procfs (`fstatfs` magic and the procfs root inode).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstat, Mode};
use nix::sys::statfs::{fstatfs, PROC_SUPER_MAGIC};

use super::resolver::sys_err;
use super::RootfsError;

/// The inode number of every procfs root directory (`PROC_ROOT_INO`).
const PROC_ROOT_INO: u64 = 1;

/// Whether `fd` is the root directory of a procfs.
pub(crate) fn is_proc_root(fd: BorrowedFd<'_>) -> bool {
    fstatfs(fd).is_ok_and(|s| s.filesystem_type() == PROC_SUPER_MAGIC)
        && fstat(fd).is_ok_and(|s| s.st_ino == PROC_ROOT_INO)
}

fn fresh() -> Result<OwnedFd, RootfsError> {
    use crate::sys::mount::{fsconfig_create, fsmount, fsopen};
    let fs = fsopen(c"proc").map_err(|e| sys_err("fsopen(\"proc\", FSOPEN_CLOEXEC)".into(), e))?;
    fsconfig_create(fs.as_fd()).map_err(|e| {
        sys_err(
            "fsconfig(<proc>, FSCONFIG_CMD_CREATE, NULL, NULL, 0)".into(),
            e,
        )
    })?;
    let attr = libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV | libc::MOUNT_ATTR_NOEXEC;
    fsmount(fs.as_fd(), attr).map_err(|e| {
        sys_err(
            "fsmount(<proc>, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID|MOUNT_ATTR_NODEV|MOUNT_ATTR_NOEXEC)".into(),
            e,
        )
    })
}

fn checked_slash_proc() -> Result<OwnedFd, RootfsError> {
    let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = nix::fcntl::open("/proc", flags, Mode::empty()).map_err(|e| {
        sys_err(
            "open(\"/proc\", O_PATH|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC)".into(),
            e,
        )
    })?;
    if !is_proc_root(fd.as_fd()) {
        return Err(RootfsError::Unsafe(
            "/proc is not the root of a procfs".into(),
        ));
    }
    Ok(fd)
}

/// Tests: act as if the new mount API were unavailable.
#[cfg(test)]
pub(crate) static FORCE_FALLBACK: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

fn fresh_or_forced_failure() -> Result<OwnedFd, RootfsError> {
    #[cfg(test)]
    if FORCE_FALLBACK.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(sys_err(
            "fsopen(\"proc\", FSOPEN_CLOEXEC)".into(),
            Errno::ENOSYS,
        ));
    }
    fresh()
}

pub(crate) fn trusted_procfs() -> Result<OwnedFd, RootfsError> {
    match fresh_or_forced_failure() {
        Ok(fd) if is_proc_root(fd.as_fd()) => Ok(fd),
        Ok(_) => Err(RootfsError::Unsafe(
            "fsmount(\"proc\") did not give a procfs root".into(),
        )),
        Err(fresh_err) => checked_slash_proc().map_err(|e| {
            RootfsError::Unsafe(format!("no trusted procfs: {fresh_err}; fallback: {e}"))
        }),
    }
}

/// Open `rel` (e.g. `sys/kernel/hostname`, `self/attr/current`) beneath a procfs handle from
/// [`super::trusted_procfs`]: no magic links, no crossing into another mount, no escaping
/// the handle with `..` or absolute symlinks.
pub(crate) fn open_in(
    proc: BorrowedFd<'_>,
    rel: &Path,
    flags: OFlag,
) -> Result<OwnedFd, RootfsError> {
    let how = OpenHow::new().flags(flags | OFlag::O_CLOEXEC).resolve(
        ResolveFlag::RESOLVE_BENEATH
            | ResolveFlag::RESOLVE_NO_MAGICLINKS
            | ResolveFlag::RESOLVE_NO_XDEV,
    );
    match openat2(proc, rel, how) {
        Err(Errno::ENOSYS | Errno::EPERM | Errno::E2BIG) => {
            // No openat2: plain openat of a relative path; a fresh procfs has no overmounts,
            // and the checked /proc fallback is the real procfs root.
            if rel.is_absolute() || rel.components().any(|c| c == std::path::Component::ParentDir) {
                return Err(RootfsError::Unsafe(format!("{rel:?}: not a plain path beneath procfs")));
            }
            nix::fcntl::openat(proc, rel, flags | OFlag::O_CLOEXEC, Mode::empty())
                .map_err(|e| sys_err(format!("openat(<procfs>, {rel:?})"), e))
        }
        r => r.map_err(|e| sys_err(format!("openat2(<procfs>, {rel:?}, RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS|RESOLVE_NO_XDEV)"), e)),
    }
}

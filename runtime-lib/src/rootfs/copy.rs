//! `tmpcopyup`: copy a directory tree of the (untrusted) rootfs into a freshly mounted tmpfs.
//!
//! Everything is relative to descriptors and nothing is followed: symlinks are copied as
//! symlinks, device nodes and fifos are recreated, ownership and permission bits are kept
//! (runc's `fileutils.CopyDirectory` does the same).

use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::dir::Dir;
use nix::fcntl::{openat, readlinkat, AtFlags, OFlag};
use nix::sys::stat::{fchmod, fstatat, mkdirat, mknodat, Mode, SFlag};
use nix::unistd::{fchownat, symlinkat, Gid, Uid};

use super::resolver::sys_err;
use super::RootfsError;

/// Deeper trees than this are refused rather than risk running out of descriptors.
const MAX_DEPTH: usize = 64;

/// Copy the content of directory `src` into directory `dst` (both opened for reading).
pub(crate) fn copy_tree(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    shown: &Path,
) -> Result<(), RootfsError> {
    copy_dir(src, dst, shown, 0)
}

fn copy_dir(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    shown: &Path,
    depth: usize,
) -> Result<(), RootfsError> {
    if depth > MAX_DEPTH {
        return Err(RootfsError::Unsafe(format!(
            "tmpcopyup: {shown:?} is nested too deeply"
        )));
    }
    let err =
        |op: &str, name: &OsStr, e| sys_err(format!("tmpcopyup: {op}({:?})", shown.join(name)), e);
    let mut dir = Dir::openat(
        src,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| err("opendir", OsStr::new(""), e))?;
    let names: Vec<_> = dir
        .iter()
        .filter_map(Result::ok)
        // d_type is not trusted: fstatat below decides what each entry is
        .map(|e| e.file_name().to_owned())
        .filter(|n| n.to_bytes() != b"." && n.to_bytes() != b"..")
        .collect();
    for name in names {
        let n = OsStr::from_bytes(name.to_bytes());
        let st = fstatat(src, n, AtFlags::AT_SYMLINK_NOFOLLOW).map_err(|e| err("lstat", n, e))?;
        let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
        let perm = Mode::from_bits_truncate(st.st_mode & 0o7777);
        let owner = (
            Some(Uid::from_raw(st.st_uid)),
            Some(Gid::from_raw(st.st_gid)),
        );
        match kind {
            SFlag::S_IFDIR => {
                mkdirat(dst, n, Mode::from_bits_truncate(0o700)).map_err(|e| err("mkdir", n, e))?;
                let flags =
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
                let s = openat(src, n, flags, Mode::empty()).map_err(|e| err("open", n, e))?;
                let d = openat(dst, n, flags, Mode::empty()).map_err(|e| err("open", n, e))?;
                copy_dir(s.as_fd(), d.as_fd(), &shown.join(n), depth + 1)?;
                fchownat(d.as_fd(), "", owner.0, owner.1, AtFlags::AT_EMPTY_PATH)
                    .map_err(|e| err("chown", n, e))?;
                fchmod(d.as_fd(), perm).map_err(|e| err("chmod", n, e))?;
            }
            SFlag::S_IFREG => {
                let s = openat(
                    src,
                    n,
                    OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| err("open", n, e))?;
                let d = openat(
                    dst,
                    n,
                    OFlag::O_WRONLY
                        | OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o600),
                )
                .map_err(|e| err("create", n, e))?;
                let (mut s, mut d) = (std::fs::File::from(s), std::fs::File::from(d));
                std::io::copy(&mut s, &mut d).map_err(|e| RootfsError::Sys {
                    op: format!("tmpcopyup: copy({:?})", shown.join(n)),
                    source: e,
                })?;
                fchownat(d.as_fd(), "", owner.0, owner.1, AtFlags::AT_EMPTY_PATH)
                    .map_err(|e| err("chown", n, e))?;
                fchmod(d.as_fd(), perm).map_err(|e| err("chmod", n, e))?;
            }
            SFlag::S_IFLNK => {
                let target = readlinkat(src, n).map_err(|e| err("readlink", n, e))?;
                symlinkat(target.as_os_str(), dst, n).map_err(|e| err("symlink", n, e))?;
                fchownat(dst, n, owner.0, owner.1, AtFlags::AT_SYMLINK_NOFOLLOW)
                    .map_err(|e| err("lchown", n, e))?;
            }
            SFlag::S_IFCHR | SFlag::S_IFBLK | SFlag::S_IFIFO | SFlag::S_IFSOCK => {
                if kind == SFlag::S_IFSOCK {
                    continue; // a socket is useless without its listener; runc skips them too
                }
                mknodat(dst, n, kind, perm, st.st_rdev).map_err(|e| err("mknod", n, e))?;
                fchownat(dst, n, owner.0, owner.1, AtFlags::AT_SYMLINK_NOFOLLOW)
                    .map_err(|e| err("chown", n, e))?;
            }
            _ => {}
        }
    }
    Ok(())
}

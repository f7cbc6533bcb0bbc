//! Wrappers for the new mount API (`fsopen`, `fsconfig`, `fsmount`, `mount_setattr`), which
//! neither nix nor libc wrap (libc only has the syscall numbers and the constants).
//!
//! All returned descriptors are close-on-exec (security.md S2).

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::errno::Errno;

/// Turn a syscall's `c_long` return value into an owned fd.
fn fd_result(ret: libc::c_long) -> Result<OwnedFd, Errno> {
    if ret < 0 {
        return Err(Errno::last());
    }
    let raw = i32::try_from(ret).map_err(|_| Errno::EBADF)?;
    // SAFETY: the kernel returned a new descriptor (ret >= 0) that nothing else owns yet; it
    // becomes owned by exactly this OwnedFd.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

fn unit_result(ret: libc::c_long) -> Result<(), Errno> {
    if ret < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// `fsopen(fstype, FSOPEN_CLOEXEC)`: a filesystem context for a new superblock.
pub(crate) fn fsopen(fstype: &CStr) -> Result<OwnedFd, Errno> {
    // SAFETY: `fstype` is a valid NUL-terminated string that outlives the call; the flags are a
    // plain integer; the kernel does not keep the pointer.
    let ret = unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), libc::FSOPEN_CLOEXEC) };
    fd_result(ret)
}

/// `fsconfig(fd, FSCONFIG_SET_STRING, key, value, 0)`.
pub(crate) fn fsconfig_set_string(
    fs: BorrowedFd<'_>,
    key: &CStr,
    value: &CStr,
) -> Result<(), Errno> {
    // SAFETY: `fs` is open for the call's duration; `key` and `value` are valid NUL-terminated
    // strings the kernel only reads during the call; aux must be 0 for SET_STRING.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            libc::FSCONFIG_SET_STRING,
            key.as_ptr(),
            value.as_ptr(),
            0,
        )
    };
    unit_result(ret)
}

/// `fsconfig(fd, FSCONFIG_SET_FLAG, key, NULL, 0)`.
pub(crate) fn fsconfig_set_flag(fs: BorrowedFd<'_>, key: &CStr) -> Result<(), Errno> {
    // SAFETY: `fs` is open for the call's duration; `key` is a valid NUL-terminated string the
    // kernel only reads during the call; SET_FLAG takes a NULL value and aux 0.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            libc::FSCONFIG_SET_FLAG,
            key.as_ptr(),
            std::ptr::null::<libc::c_char>(),
            0,
        )
    };
    unit_result(ret)
}

/// `fsconfig(fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0)`: create the superblock.
pub(crate) fn fsconfig_create(fs: BorrowedFd<'_>) -> Result<(), Errno> {
    // SAFETY: `fs` is an open descriptor for the call's duration; CMD_CREATE takes NULL key and
    // value and aux 0, so no memory is passed to the kernel.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            libc::FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    };
    unit_result(ret)
}

/// `fsmount(fd, FSMOUNT_CLOEXEC, attr)`: a detached mount of the created superblock.
pub(crate) fn fsmount(fs: BorrowedFd<'_>, attr: u64) -> Result<OwnedFd, Errno> {
    // SAFETY: `fs` is an open descriptor for the call's duration; the other arguments are plain
    // integers.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            fs.as_raw_fd(),
            libc::FSMOUNT_CLOEXEC,
            attr as libc::c_uint,
        )
    };
    fd_result(ret)
}

/// `mount_setattr(fd, "", AT_EMPTY_PATH [| AT_RECURSIVE], {attr_set, attr_clr, propagation})`
/// on the mount `fd` refers to.
pub(crate) fn mount_setattr(
    fd: BorrowedFd<'_>,
    recursive: bool,
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
) -> Result<(), Errno> {
    let attr = libc::mount_attr {
        attr_set,
        attr_clr,
        propagation,
        userns_fd: 0,
    };
    let mut flags = libc::AT_EMPTY_PATH;
    if recursive {
        flags |= libc::AT_RECURSIVE;
    }
    // SAFETY: `fd` is open for the call's duration; the path is a valid empty C string; `attr`
    // is a live, initialised `struct mount_attr` whose exact size is passed, and the kernel
    // only reads it during the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags as libc::c_uint,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    unit_result(ret)
}

/// `open_tree(fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH [| AT_RECURSIVE])`:
/// a detached copy of the mount (tree) at `fd`.
pub(crate) fn open_tree_clone(fd: BorrowedFd<'_>, recursive: bool) -> Result<OwnedFd, Errno> {
    let mut flags =
        libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC | libc::AT_EMPTY_PATH as libc::c_uint;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    // SAFETY: `fd` is open for the call's duration; the path is a valid empty C string the
    // kernel only reads during the call; the flags are plain integers.
    let ret = unsafe { libc::syscall(libc::SYS_open_tree, fd.as_raw_fd(), c"".as_ptr(), flags) };
    fd_result(ret)
}

/// `move_mount(from, "", to, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)`: attach
/// the (detached) mount `from` onto the object `to` refers to.
pub(crate) fn move_mount(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> Result<(), Errno> {
    let flags = libc::MOVE_MOUNT_F_EMPTY_PATH | libc::MOVE_MOUNT_T_EMPTY_PATH;
    // SAFETY: both descriptors are open for the call's duration; both paths are valid empty C
    // strings the kernel only reads during the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_raw_fd(),
            c"".as_ptr(),
            to.as_raw_fd(),
            c"".as_ptr(),
            flags,
        )
    };
    unit_result(ret)
}

/// Test support: `fork()` the test process, for tests that must change namespaces, mounts
/// and the root without touching the test runner itself.
#[cfg(test)]
pub(crate) fn fork_for_test() -> Result<nix::unistd::ForkResult, Errno> {
    // SAFETY: the child of a multi-threaded test runner may only rely on what fork keeps
    // consistent: glibc's fork resets malloc's locks, and the rootfs test children never take
    // locks other test threads may hold (no stdio; results go back through a socket) and end
    // with `_exit`, never returning into the runner.
    unsafe { nix::unistd::fork() }
}

/// Test support: leave a forked test child at once, without running the test runner's
/// atexit handlers or flushing its stdio (which other threads may have held at fork time).
#[cfg(test)]
pub(crate) fn exit_child(code: i32) -> ! {
    // SAFETY: _exit(2) takes a plain integer and never returns; it touches no user-space state.
    unsafe { libc::_exit(code) }
}

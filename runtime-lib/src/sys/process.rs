//! Process-level system calls: `clone3` (with a `clone` fallback), pidfds, `close_range`,
//! raw credential changes and the session keyring.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// What `clone3` returned.
pub(crate) enum Forked {
    /// We are the new child.
    Child,
    /// We are the parent; the child's pid.
    Parent { pid: i32 },
}

/// `struct clone_args` from linux/sched.h (version 2, with `cgroup`).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Fork the calling process with `clone3`, creating the namespaces in `ns_flags` and (on cgroup
/// v2) starting the child directly in `cgroup`. Falls back to `clone(2)` where `clone3` is
/// missing (ENOSYS) or refuses `CLONE_INTO_CGROUP` (the caller then moves the child itself:
/// `into_cgroup_used` in the result tells).
///
/// The child is a copy of the caller (no shared memory, no shared fd table), like `fork`, but
/// without running `pthread_atfork` handlers: the caller must be single-threaded, which the
/// container code checks before calling.
pub(crate) fn clone3_fork(
    ns_flags: u64,
    cgroup: Option<BorrowedFd<'_>>,
    parent: bool,
) -> io::Result<(Forked, bool)> {
    let mut args = CloneArgs {
        flags: ns_flags,
        // clone3 refuses an exit signal with CLONE_PARENT (clone3_args_valid): the sibling
        // then inherits ours (SIGCHLD), and our parent is signalled.
        exit_signal: if parent { 0 } else { libc::SIGCHLD as u64 },
        ..Default::default()
    };
    if parent {
        args.flags |= libc::CLONE_PARENT as u64;
    }
    if let Some(fd) = cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd.as_raw_fd() as u64;
    }
    // SAFETY: clone3 without CLONE_VM and without a stack behaves like fork: the child gets a
    // private copy of our address space and resumes here with a return value of 0. `args`
    // outlives the call; the size passed is the struct's real size.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            std::ptr::addr_of_mut!(args),
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if ret < 0 {
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            // clone3 missing, or CLONE_INTO_CGROUP unsupported: plain clone, cgroup by hand.
            Some(libc::ENOSYS) | Some(libc::E2BIG) => {
                return clone_fallback(ns_flags, parent).map(|f| (f, false))
            }
            Some(libc::EINVAL) | Some(libc::EOPNOTSUPP) if cgroup.is_some() => {
                return clone3_fork(ns_flags, None, parent).map(|(f, _)| (f, false))
            }
            _ => return Err(err),
        }
    }
    if ret == 0 {
        return Ok((Forked::Child, cgroup.is_some()));
    }
    Ok((Forked::Parent { pid: ret as i32 }, cgroup.is_some()))
}

fn clone_fallback(ns_flags: u64, parent: bool) -> io::Result<Forked> {
    let mut flags = ns_flags as libc::c_ulong | libc::SIGCHLD as libc::c_ulong;
    if parent {
        flags |= libc::CLONE_PARENT as libc::c_ulong;
    }
    // SAFETY: clone with a NULL stack and without CLONE_VM is fork with namespace flags: the
    // child continues on a private copy of our stack. The remaining pointer arguments are
    // unused for these flags and passed as NULL.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_int>(),
            std::ptr::null_mut::<libc::c_int>(),
            0usize,
        )
    };
    match ret {
        r if r < 0 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent { pid: pid as i32 }),
    }
}

/// `pidfd_open(2)`: a pidfd for any process, which becomes readable when it exits.
pub(crate) fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd that we own.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel returned a new fd, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(ret as i32) })
}

/// `pidfd_send_signal(2)`: signal the exact process behind `pidfd` (no pid-reuse race).
pub(crate) fn pidfd_send_signal(pidfd: BorrowedFd<'_>, sig: i32) -> io::Result<()> {
    // SAFETY: the fd is a live pidfd borrowed for the duration of the call; info is NULL.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Mark every fd from `first` up close-on-exec (`close_range(first, ~0, CLOSE_RANGE_CLOEXEC)`),
/// so no inherited fd reaches the container process (security.md S2).
pub(crate) fn cloexec_from(first: u32) -> io::Result<()> {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range only changes fd flags in our own table; no memory is involved.
    let ret = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Close, in a forked child, an fd whose owning value lives in the parent's half of the copied
/// memory and is never dropped here (the child `execve`s or `_exit`s): e.g. the state-dir lock,
/// which a created init must not hold until `start`.
pub(crate) fn close_inherited(fd: BorrowedFd<'_>) -> io::Result<()> {
    let raw = fd.as_raw_fd() as libc::c_uint;
    // SAFETY: close_range on one fd number of our own table; the value that owns it is never
    // used or dropped in this process, so nothing refers to the closed number afterwards.
    let ret = unsafe { libc::syscall(libc::SYS_close_range, raw, raw, 0 as libc::c_uint) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Raw `setresuid(2)`: glibc's wrapper signals every thread (setxid broadcast), which must not
/// run in a freshly cloned child whose parent had threads.
pub(crate) fn setresuid(uid: u32) -> io::Result<()> {
    // SAFETY: plain integer arguments; changes only our credentials.
    let ret = unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Raw `setresgid(2)` (see [`setresuid`]).
pub(crate) fn setresgid(gid: u32) -> io::Result<()> {
    // SAFETY: plain integer arguments; changes only our credentials.
    let ret = unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Raw `setgroups(2)` (see [`setresuid`]).
pub(crate) fn setgroups(groups: &[u32]) -> io::Result<()> {
    // SAFETY: the pointer and length describe `groups`, which outlives the call.
    let ret = unsafe { libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Join a new anonymous session keyring named `name` (`KEYCTL_JOIN_SESSION_KEYRING`), so the
/// container does not share the caller's keys. Returns the keyring's serial.
pub(crate) fn join_session_keyring(name: &CStr) -> io::Result<i32> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_int = 1;
    // SAFETY: `name` is a valid NUL-terminated string for the duration of the call.
    let ret =
        unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ret as i32)
}

/// Add `bits` to the permission mask of key `serial`: `KEYCTL_DESCRIBE` (whose text is
/// `type;uid;gid;perm;description`, perm in hex), then `KEYCTL_SETPERM`. No allocation: it
/// runs in the forked child.
pub(crate) fn key_add_perm(serial: i32, bits: u32) -> io::Result<()> {
    const KEYCTL_SETPERM: libc::c_int = 5;
    const KEYCTL_DESCRIBE: libc::c_int = 6;
    let mut buf = [0u8; 256];
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`, which outlives the call.
    let n = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_DESCRIBE,
            serial,
            buf.as_mut_ptr(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    // The description is truncated when longer than the buffer; the perm field comes first.
    let text = &buf[..(n as usize).min(buf.len())];
    let perm = text
        .split(|&b| b == b';')
        .nth(3)
        .and_then(|f| std::str::from_utf8(f).ok())
        .and_then(|f| u32::from_str_radix(f, 16).ok())
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: plain integer arguments.
    let ret = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_SETPERM, serial, perm | bits) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `_exit(2)`: leave a forked child without running atexit handlers or flushing stdio
/// buffers that belong to the parent.
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no Rust state.
    unsafe { libc::_exit(code) }
}

/// `execve(2)`. Returns only on failure.
pub(crate) fn execve(path: &CStr, argv: &[&CStr], envp: &[&CStr]) -> io::Error {
    let mut a: Vec<*const libc::c_char> = argv.iter().map(|s| s.as_ptr()).collect();
    a.push(std::ptr::null());
    let mut e: Vec<*const libc::c_char> = envp.iter().map(|s| s.as_ptr()).collect();
    e.push(std::ptr::null());
    // SAFETY: path, argv and envp are NUL-terminated strings in NULL-terminated arrays that
    // live until the call returns (it only returns on failure).
    unsafe { libc::execve(path.as_ptr(), a.as_ptr(), e.as_ptr()) };
    io::Error::last_os_error()
}

/// The number of threads of the calling process (from `/proc/self/stat`'s `num_threads`).
pub(crate) fn thread_count() -> io::Result<usize> {
    let stat = super::read_small(std::path::Path::new("/proc/self/stat"), 1024)?;
    let stat = String::from_utf8_lossy(&stat);
    // Field 20 (1-based); the command (field 2) may contain spaces, so count after ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    rest.split_whitespace()
        .nth(17)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad /proc/self/stat"))
}

/// `setdomainname(2)`.
pub(crate) fn setdomainname(name: &str) -> io::Result<()> {
    // SAFETY: pointer and length describe `name`, which outlives the call.
    let ret = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Clear `FD_CLOEXEC` on an inherited fd number (for `--preserve-fds`, where the fds are
/// known only by number).
pub(crate) fn clear_cloexec(fd: i32) -> io::Result<()> {
    // SAFETY: F_SETFD only changes the flags of the fd number in our own table; an fd that is
    // not open yields EBADF, no memory is touched.
    let ret = unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Make the terminal `fd` our controlling terminal (`TIOCSCTTY`); we are a session leader.
pub(crate) fn set_controlling_tty(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: TIOCSCTTY takes an int argument (0: do not steal); the fd is borrowed and open.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSCTTY, 0) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Set a terminal's window size (`TIOCSWINSZ`).
pub(crate) fn set_winsize(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a `struct winsize` from the pointer, which points to `ws` on
    // our stack for the duration of the call.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, std::ptr::addr_of!(ws)) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Take ownership of an fd number the kernel just installed for us (SCM_RIGHTS).
pub(crate) fn own_received_fd(raw: i32) -> OwnedFd {
    // SAFETY: the kernel created this fd in our table while receiving the message; nothing
    // else refers to it, so this is its only owner.
    unsafe { OwnedFd::from_raw_fd(raw) }
}

/// Give the program about to be `execve`d the signal state a fresh process expects: no signal
/// blocked, and SIGPIPE back to its default action. The Rust runtime ignores SIGPIPE at
/// startup, and an ignored signal stays ignored across `execve` (runc's Go runtime resets it).
pub(crate) fn reset_signals_for_exec() -> io::Result<()> {
    use nix::sys::signal::{sigprocmask, SigHandler, SigSet, SigmaskHow, Signal};
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)?;
    // SAFETY: SIG_DFL installs no handler code, so no async-signal-safety invariant applies.
    unsafe { nix::sys::signal::signal(Signal::SIGPIPE, SigHandler::SigDfl) }?;
    Ok(())
}

/// Whether fd number `fd` is open in our table (`fcntl(F_GETFD)`), for `--preserve-fds`.
pub(crate) fn fd_is_open(fd: i32) -> bool {
    // SAFETY: F_GETFD only reads the flags of the fd number; a closed number yields EBADF.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

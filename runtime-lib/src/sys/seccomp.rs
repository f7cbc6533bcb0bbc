//! seccomp(2): load a classic BPF filter; in tests also fork and the user-notification ioctls.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

use crate::security::seccomp::bpf::Insn;

// `Insn` stands in for the kernel's `struct sock_filter`: same fields, same order, repr(C).
const _: () = assert!(std::mem::size_of::<Insn>() == std::mem::size_of::<libc::sock_filter>());
const _: () = assert!(std::mem::align_of::<Insn>() == std::mem::align_of::<libc::sock_filter>());

const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;
const SECCOMP_FILTER_FLAG_NEW_LISTENER: u32 = 1 << 3;

/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog)` for the calling thread (all threads with
/// TSYNC). Returns the listener fd when `flags` has NEW_LISTENER.
///
/// Needs `no_new_privs` or CAP_SYS_ADMIN. Allocation-free, so it is fine in a forked child.
pub(crate) fn set_mode_filter(flags: u32, prog: &[Insn]) -> io::Result<Option<OwnedFd>> {
    let len = u16::try_from(prog.len()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let fprog = libc::sock_fprog {
        len,
        filter: prog.as_ptr().cast::<libc::sock_filter>().cast_mut(),
    };
    // SAFETY: `fprog` points to `len` instructions that live in `prog` for the whole call; Insn
    // has sock_filter's layout (checked above); the kernel copies the program and does not
    // write through the pointer.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            libc::c_ulong::from(flags),
            &fprog as *const libc::sock_fprog,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    if flags & SECCOMP_FILTER_FLAG_NEW_LISTENER != 0 {
        let fd = i32::try_from(ret).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
        // SAFETY: with NEW_LISTENER a non-negative return is a new fd (O_CLOEXEC, see
        // seccomp_new_listener()) that nothing else owns.
        return Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }));
    }
    if ret > 0 {
        // TSYNC without TSYNC_ESRCH returns the id of a thread that could not be synchronized.
        return Err(io::Error::other(format!(
            "thread {ret} could not be synchronized to the new filter"
        )));
    }
    Ok(None)
}

/// Whether the kernel knows the seccomp(2) filter `flags`: a load with a NULL program fails
/// with EFAULT after the flags were accepted, EINVAL when they were not. Nothing is installed
/// either way (the program is copied in before any privilege check or listener allocation).
pub(crate) fn filter_flags_known(flags: u32) -> bool {
    // SAFETY: a NULL program pointer is rejected by the kernel (EFAULT) without dereferencing
    // anything in this process; no filter is installed and no fd is created.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            libc::c_ulong::from(flags),
            std::ptr::null::<libc::sock_fprog>(),
        )
    };
    ret < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EFAULT)
}

/// Test helpers: fork, and a seccomp agent's side of the notification fd.
#[cfg(test)]
pub(crate) mod testing {
    use std::io::{self, IoSliceMut};
    use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

    use nix::unistd::Pid;

    /// Fork; the child runs `f` and `_exit`s with its return value. The caller must hold the
    /// test fork lock and wait for the child.
    pub(crate) fn fork_run(f: impl FnOnce() -> i32) -> nix::Result<Pid> {
        // SAFETY: the child only runs `f` and then `_exit`s, never returning into the test
        // harness. glibc's fork takes the malloc locks around the fork, so `f` may allocate;
        // the tests' `f` do not touch stdio (whose Rust-side locks another thread may hold).
        match unsafe { nix::unistd::fork() }? {
            nix::unistd::ForkResult::Parent { child } => Ok(child),
            nix::unistd::ForkResult::Child => {
                let code = f();
                // SAFETY: _exit ends the child without running the parent's atexit handlers or
                // destructors, which belong to the parent's state.
                unsafe { libc::_exit(code) }
            }
        }
    }

    /// `SECCOMP_IOCTL_NOTIF_RECV`: the next notification, as (id, pid, nr, args).
    pub(crate) fn notif_recv(fd: BorrowedFd<'_>) -> io::Result<(u64, u32, i32, [u64; 6])> {
        // SAFETY: seccomp_notif is plain data; all-zero is the value the kernel requires on
        // input (it returns EINVAL otherwise).
        let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        // SAFETY: `req` is a valid seccomp_notif the kernel fills in; `fd` is open.
        let ret = unsafe {
            libc::ioctl(
                fd.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_RECV as _,
                &mut req as *mut libc::seccomp_notif,
            )
        };
        if ret < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((req.id, req.pid, req.data.nr, req.data.args))
    }

    /// `SECCOMP_IOCTL_NOTIF_SEND`: answer notification `id` with `val` or `-error`.
    pub(crate) fn notif_send(fd: BorrowedFd<'_>, id: u64, val: i64, error: i32) -> io::Result<()> {
        let resp = libc::seccomp_notif_resp {
            id,
            val,
            error,
            flags: 0,
        };
        // SAFETY: `resp` is a valid seccomp_notif_resp the kernel only reads; `fd` is open.
        let ret = unsafe {
            libc::ioctl(
                fd.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_SEND as _,
                &resp as *const libc::seccomp_notif_resp,
            )
        };
        if ret < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// What a raw syscall did in a child: returned (>= 0), failed with an errno, or the child
    /// was killed by a signal (a filter's `SCMP_ACT_KILL*` gives `SIGSYS`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum Outcome {
        /// The call returned a value >= 0.
        Ok,
        /// It failed with this errno.
        Errno(i32),
        /// The child died of this signal.
        Signal(i32),
    }

    /// Make one raw syscall in a forked child that `_exit`s right after it, and report what
    /// happened. For the in-container probe: real calls (unshare, clone with namespace flags,
    /// personality, sockets) change only the child. Pointer arguments must point into memory
    /// of this process (the child has a copy); `clone` flags must not include `CLONE_VM`.
    pub(crate) fn syscall_in_child(nr: libc::c_long, args: [u64; 6]) -> nix::Result<Outcome> {
        // SAFETY: the child makes exactly one syscall and `_exit`s, never returning into the
        // caller; the syscall's effects (namespaces, personality, fds, a clone child that runs
        // on a copy of the address space and `_exit`s too) stay in the children. Pointers in
        // `args` are valid in the child's copy of this address space (caller's contract).
        match unsafe { nix::unistd::fork() }? {
            nix::unistd::ForkResult::Child => {
                // SAFETY: as above.
                let ret = unsafe {
                    libc::syscall(nr, args[0], args[1], args[2], args[3], args[4], args[5])
                };
                let code = if ret < 0 {
                    io::Error::last_os_error().raw_os_error().unwrap_or(255)
                } else {
                    0
                };
                // SAFETY: _exit without the parent's atexit handlers or destructors.
                unsafe { libc::_exit(code) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                use nix::sys::wait::{waitpid, WaitStatus};
                loop {
                    match waitpid(child, None) {
                        Ok(WaitStatus::Exited(_, 0)) => return Ok(Outcome::Ok),
                        Ok(WaitStatus::Exited(_, n)) => return Ok(Outcome::Errno(n)),
                        Ok(WaitStatus::Signaled(_, sig, _)) => {
                            return Ok(Outcome::Signal(sig as i32))
                        }
                        Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
                        Err(e) => return Err(e),
                    }
                }
            }
        }
    }

    /// Receive one message with the fds attached as SCM_RIGHTS (what a seccomp agent does).
    pub(crate) fn recv_with_fds(sock: BorrowedFd<'_>) -> io::Result<(Vec<u8>, Vec<OwnedFd>)> {
        use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
        let mut data = vec![0u8; 64 * 1024];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 4]);
        let mut iov = [IoSliceMut::new(&mut data)];
        let msg = recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )?;
        let mut fds = Vec::new();
        for c in msg.cmsgs()? {
            if let ControlMessageOwned::ScmRights(raw) = c {
                // SAFETY: SCM_RIGHTS installed these fds in this process for this message;
                // nothing else refers to them, so each is owned exactly once here.
                fds.extend(
                    raw.into_iter()
                        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
                );
            }
        }
        let len = msg.bytes;
        data.truncate(len);
        Ok((data, fds))
    }
}

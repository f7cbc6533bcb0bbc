//! The effects behind `start`, `kill`, `delete` and `wait`.

use std::fs::File;
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

use super::ExitStatus;
use crate::cgroups;
use crate::state::{ProcInfo, StateDir, StateFile};
use crate::sys::process::{pidfd_open, pidfd_send_signal};
use crate::{Error, Result};

/// Open the exec fifo for reading, which releases init from its blocking open, and read its
/// byte. `Err(None)` when init died instead (it never writes): the fifo is polled together
/// with init's pidfd so `start` cannot hang on a dead container.
pub(super) fn release_fifo(dir: &StateDir, pid: i32) -> std::result::Result<File, Option<Error>> {
    let path = dir.fifo();
    // The pidfd first: opening the fifo releases init, which may exit (and be reaped) at once.
    let pidfd = pidfd_open(pid).map_err(|_| None)?;
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&path)
        .map_err(|e| Some(Error::sys(format!("open {}", path.display()), e)))?;
    loop {
        let mut fds = [
            PollFd::new(f.as_fd(), PollFlags::POLLIN),
            PollFd::new(pidfd.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(Some(Error::sys("poll exec fifo", e))),
            Ok(_) => {}
        }
        let fifo_ready = fds[0]
            .revents()
            .is_some_and(|r| r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP));
        if fifo_ready {
            break;
        }
        if fds[1].revents().is_some_and(|r| !r.is_empty()) {
            return Err(None);
        }
    }
    let mut byte = [0u8; 1];
    if !matches!(f.read(&mut byte), Ok(1)) {
        return Err(None);
    }
    std::fs::remove_file(&path)
        .map_err(|e| Some(Error::sys(format!("remove {}", path.display()), e)))?;
    Ok(f)
}

/// Wait until init has `execve`d the user program (or died): init holds the fifo open,
/// close-on-exec, until then. Returns what init wrote after its first byte: empty, or why
/// it gave up (a failed startContainer hook).
pub(super) fn wait_exec(f: File) -> String {
    let mut f = f;
    if let Ok(flags) = nix::fcntl::fcntl(&f, nix::fcntl::FcntlArg::F_GETFL) {
        let flags = nix::fcntl::OFlag::from_bits_truncate(flags) & !nix::fcntl::OFlag::O_NONBLOCK;
        let _ = nix::fcntl::fcntl(&f, nix::fcntl::FcntlArg::F_SETFL(flags));
    }
    let mut rest = Vec::new();
    let _ = f.read_to_end(&mut rest);
    String::from_utf8_lossy(&rest).into_owned()
}

/// Signal the exact process we started (pidfd: no pid-reuse race; the start time is checked
/// against the state first).
pub(super) fn signal(pid: i32, start: u64, sig: i32) -> std::io::Result<()> {
    if !ProcInfo::alive_as(pid, start) {
        return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
    }
    let fd = pidfd_open(pid)?;
    pidfd_send_signal(fd.as_fd(), sig)
}

/// Wait until `pid` has exited (zombie counts), at most `limit`.
fn wait_gone(pid: i32, start: u64, limit: Duration) -> bool {
    let Ok(fd) = pidfd_open(pid) else { return true };
    let deadline = Instant::now() + limit;
    while ProcInfo::alive_as(pid, start) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        let ms =
            PollTimeout::try_from(left.as_millis().min(10_000) as i32).unwrap_or(PollTimeout::MAX);
        let _ = poll(&mut fds, ms);
    }
    true
}

/// Kill everything the container has left (init, and every process of its cgroup), wait for
/// them, and remove the cgroup.
/// `info` is the caller's look at the process (under the state lock), so that delete reads
/// `/proc/<pid>/stat` once, not three times.
pub(super) fn destroy(st: &StateFile, child: bool, info: Option<ProcInfo>) -> Result<()> {
    // An embedder that created the container (detached or not) is its parent: reap it, or
    // it stays a zombie of the embedder.
    // A frozen (paused) process does not die from SIGKILL on cgroup v1 until it is thawed:
    // kill first, then thaw, as runc's destroy does.
    let cgroup = st.cgroup.as_ref().map(cgroups::from_config);
    let thaw = || {
        if let Some(m) = &cgroup {
            if m.is_frozen().unwrap_or(false) {
                let _ = m.thaw();
            }
        }
    };
    let ours = child
        || info.is_some_and(|p| p.start == st.pid_start && p.ppid == std::process::id() as i32);
    if st.pid > 0 && info.is_some_and(|p| p.is_alive_as(st.pid_start)) {
        let _ = signal(st.pid, st.pid_start, Signal::SIGKILL as i32);
        thaw();
        if !ours {
            wait_gone(st.pid, st.pid_start, Duration::from_secs(10));
        }
    }
    if ours && st.pid > 0 {
        let _ = waitpid(Pid::from_raw(st.pid), None);
    }
    if let Some(m) = &cgroup {
        // Processes that escaped init's death (a container without a pid namespace, or
        // children re-parented to a subreaper) are still in the cgroup.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let pids = m.pids().unwrap_or_default();
            if pids.is_empty() || Instant::now() > deadline {
                break;
            }
            for p in pids {
                let _ = nix::sys::signal::kill(Pid::from_raw(p), Signal::SIGKILL);
            }
            thaw();
            std::thread::sleep(Duration::from_millis(5));
        }
        m.destroy()?;
    }
    Ok(())
}

/// `waitpid` for our own child: the shell-style status.
pub(super) fn wait_child(pid: i32) -> Result<ExitStatus> {
    loop {
        match waitpid(Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(ExitStatus::Code(code)),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(ExitStatus::Signaled(sig as i32)),
            Ok(_) => continue,
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(Error::sys(format!("waitpid({pid})"), e)),
        }
    }
}

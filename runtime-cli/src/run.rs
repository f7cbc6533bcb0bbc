//! `husk run`: create and start a container; in the foreground, forward signals to it, wait for
//! it, delete it and exit with its status (128 + signal when it was killed).
//!
//! Waiting and forwarding happen in ONE thread (the library refuses to fork from a threaded
//! process): the forwarded signals and SIGCHLD are blocked and read from a signalfd
//! ([`Foreground`], shared with `exec`). They are blocked only after `create`, so the
//! container's init (cloned during `create`) does not inherit a blocked mask, which `execve`
//! would pass on to the user process.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, OwnedFd};

use husk::container::ExitStatus;
use husk::Container;
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::create::{self, CreateArgs};
use crate::logging::Logger;
use crate::{err_msg, Cli, CmdResult};

/// `run` flags: those of `create`, plus `--detach` and `--keep`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Return once the container runs, instead of waiting for it
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keep the container's state after it exits in the foreground (do not delete it)
    #[arg(long)]
    pub keep: bool,
    /// Accepted for runc compatibility: runc's `run` becomes a child subreaper unless told
    /// not to; husk's never does, so this flag already describes its behaviour
    #[arg(long, hide = true)]
    pub no_subreaper: bool,
    #[command(flatten)]
    pub create: CreateArgs,
}

/// Signals a foreground `run` passes on to the container process, as runc forwards every
/// catchable signal it receives. SIGCHLD is ours; SIGWINCH is forwarded only when there is no
/// terminal (with a pty the kernel notifies the container's foreground group itself).
const FORWARDED: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGALRM,
    Signal::SIGCONT,
    Signal::SIGPWR,
    Signal::SIGVTALRM,
    Signal::SIGPROF,
];

/// Run `run`.
pub fn run(cli: &Cli, log: &mut Logger, a: &RunArgs) -> CmdResult {
    let builder = create::builder(cli, &a.create)?.detached(a.detach);
    let mut c = builder.create().map_err(err_msg)?;
    for w in c.warnings() {
        log.warn(w);
    }
    if let Some(host) = create::notify_socket() {
        c.notify_socket(host);
    }
    log.debug(format!("created {} pid {}", a.create.id, c.recorded_pid()));
    if a.detach {
        if let Err(e) = c.start() {
            cleanup(c, log);
            return Err(err_msg(e));
        }
        return Ok(0);
    }

    let fg = Foreground::block()?;
    let result = foreground(&mut c, log, &fg);
    // Restore the mask (signals that arrived meanwhile were forwarded or are SIGCHLD).
    drop(fg);
    let status = match result {
        Ok(s) => s,
        Err(e) => {
            cleanup(c, log);
            return Err(e);
        }
    };
    log.debug(format!("{} exited: {status:?}", a.create.id));
    if !a.keep {
        // Force: processes the init left behind in the cgroup (no pid namespace) go too.
        c.delete(true).map_err(err_msg)?;
    }
    Ok(u8::try_from(status.code()).unwrap_or(255))
}

/// Remove a container whose start or wait failed, so a failed `run` leaves nothing behind.
fn cleanup(c: Container, log: &mut Logger) {
    if let Err(e) = c.delete(true) {
        log.warn(format!("cleanup after failed run: {e}"));
    }
}

/// Start the container and wait for it, forwarding signals and relaying a pty if the library
/// handed one back.
fn foreground(c: &mut Container, log: &mut Logger, fg: &Foreground) -> Result<ExitStatus, String> {
    let console = c.take_console();
    c.start().map_err(err_msg)?;
    // Our own child, just started: its pid is the recorded one (no need to read /proc again to
    // ask). If it is already gone, `supervise` sees that first (waitid), drains the pty and
    // reaps it.
    let pid = c.recorded_pid();
    let c = &*c;
    fg.supervise(
        Pid::from_raw(pid),
        console,
        log,
        // The process may be exiting right now: a failure here is not an error of `run`;
        // its exit is picked up by the next SIGCHLD.
        &mut |sig| {
            let _ = c.kill(sig, false);
        },
        &mut || c.wait().map_err(err_msg),
    )
}

/// The foreground part shared by `run` and `exec`: the forwarded signals and SIGCHLD are
/// blocked (restored on drop) and read from a signalfd, so waiting and forwarding happen in
/// this one thread.
pub struct Foreground {
    sfd: SignalFd,
    old: SigSet,
}

impl Foreground {
    /// Block the signals and open the signalfd.
    pub fn block() -> Result<Foreground, String> {
        let mut mask = SigSet::empty();
        mask.add(Signal::SIGCHLD);
        for s in FORWARDED {
            mask.add(*s);
        }
        let mut old = SigSet::empty();
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), Some(&mut old))
            .map_err(|e| format!("rt_sigprocmask(SIG_BLOCK): {e}"))?;
        let sfd = match SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC) {
            Ok(s) => s,
            Err(e) => {
                let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
                return Err(format!("signalfd: {e}"));
            }
        };
        Ok(Foreground { sfd, old })
    }

    /// Until `pid` (our child) exits: pass every forwarded signal to `forward` and relay the
    /// pty `console`, if any; then `wait` for its status.
    pub fn supervise(
        &self,
        pid: Pid,
        console: Option<OwnedFd>,
        log: &mut Logger,
        forward: &mut dyn FnMut(Signal),
        wait: &mut dyn FnMut() -> Result<ExitStatus, String>,
    ) -> Result<ExitStatus, String> {
        let sfd = &self.sfd;
        let mut relay = console.map(Relay::new);
        loop {
            if has_exited(pid) {
                if let Some(r) = &mut relay {
                    r.drain();
                }
                return wait();
            }
            if let Some(r) = &mut relay {
                r.wait_readable(sfd)?;
            }
            match sfd.read_signal() {
                Ok(Some(info)) => {
                    let Ok(sig) = Signal::try_from(info.ssi_signo as i32) else {
                        continue;
                    };
                    if sig == Signal::SIGCHLD || (sig == Signal::SIGWINCH && relay.is_some()) {
                        continue;
                    }
                    log.debug(format!("forwarding {sig} to pid {pid}"));
                    forward(sig);
                }
                // Non-blocking read with nothing pending (only when a relay polled for it).
                Ok(None) => {}
                Err(Errno::EINTR) => {}
                Err(e) => return Err(format!("read signalfd: {e}")),
            }
        }
    }
}

impl Drop for Foreground {
    fn drop(&mut self) {
        let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.old), None);
    }
}

/// Whether `pid` (our child) has exited, without reaping it: `Container::wait` reaps it and
/// reads the status.
fn has_exited(pid: Pid) -> bool {
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    !matches!(waitid(Id::Pid(pid), flags), Ok(WaitStatus::StillAlive))
}

/// Copies between our stdin/stdout and the container's pty master.
struct Relay {
    master: std::fs::File,
    master_open: bool,
    stdin_open: bool,
}

impl Relay {
    fn new(fd: OwnedFd) -> Relay {
        Relay {
            master: std::fs::File::from(fd),
            master_open: true,
            stdin_open: true,
        }
    }

    /// Poll until a signal is pending, copying pty output and stdin input meanwhile.
    fn wait_readable(&mut self, sfd: &SignalFd) -> Result<(), String> {
        loop {
            let stdin = std::io::stdin();
            let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
            if self.master_open {
                fds.push(PollFd::new(self.master.as_fd(), PollFlags::POLLIN));
            }
            let stdin_idx = fds.len();
            if self.stdin_open {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            }
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(format!("poll: {e}")),
            }
            let ready = |f: &PollFd<'_>| f.revents().is_some_and(|r| !r.is_empty());
            let signal = ready(&fds[0]);
            let master = self.master_open && ready(&fds[1]);
            let input = self.stdin_open && ready(&fds[stdin_idx]);
            drop(fds);
            if master {
                self.copy_out();
            }
            if input {
                let mut buf = [0u8; 4096];
                match std::io::stdin().lock().read(&mut buf) {
                    Ok(0) | Err(_) => self.stdin_open = false,
                    Ok(n) => {
                        let _ = self.master.write_all(&buf[..n]);
                    }
                }
            }
            if signal {
                return Ok(());
            }
        }
    }

    /// One read from the master to stdout; EIO means every slave fd is closed.
    fn copy_out(&mut self) {
        let mut buf = [0u8; 4096];
        match self.master.read(&mut buf) {
            Ok(0) => self.master_open = false,
            Ok(n) => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(&buf[..n]).and_then(|_| out.flush());
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => self.master_open = false,
        }
    }

    /// After the process exited: copy whatever output is still buffered in the pty. The
    /// kernel moves the slave's last writes to the master asynchronously (the tty flip buffer),
    /// so an exited process's output may not be readable yet: read until the master reports
    /// EIO (every slave closed, buffer empty), or until nothing comes for a moment (another
    /// process may still hold the slave).
    fn drain(&mut self) {
        while self.master_open {
            let mut fds = [PollFd::new(self.master.as_fd(), PollFlags::POLLIN)];
            if !matches!(poll(&mut fds, PollTimeout::from(200u8)), Ok(n) if n > 0) {
                break;
            }
            self.copy_out();
        }
    }
}

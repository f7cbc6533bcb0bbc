//! Child processes of the harness.
//!
//! The harness makes itself a child subreaper (prctl(PR_SET_CHILD_SUBREAPER)) so that a
//! container's init, orphaned when `runtime create` exits, is reparented to the harness — the
//! position containerd's shim and conmon have. That is the only way to learn the container
//! process's exit status, and it lets cleanup reap whatever the runtime leaves behind.
//!
//! Because orphans of unknown pid arrive at any time, ONE reaper thread owns `waitpid(-1)` for
//! the whole process; everybody else learns exit statuses from the table it fills. Nothing
//! else may call wait (so never `Command::status()/output()`, only `spawn()` + [`wait_exit`]).

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use serde::Serialize;
use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Exit {
    /// Exited with this status.
    Code(i32),
    /// Killed by this signal number.
    Signal(i32),
    /// Gone, but not our descendant, so the status is unknown.
    Unknown,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exit status {c}"),
            Exit::Signal(s) => write!(f, "killed by signal {s}"),
            Exit::Unknown => write!(f, "exited (status unknown: not our descendant)"),
        }
    }
}

struct Table {
    exits: Mutex<HashMap<i32, Exit>>,
    changed: Condvar,
    spawned: Mutex<u64>,
    spawned_cv: Condvar,
}

fn table() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| Table {
        exits: Mutex::new(HashMap::new()),
        changed: Condvar::new(),
        spawned: Mutex::new(0),
        spawned_cv: Condvar::new(),
    })
}

/// Become a subreaper and start the reaper thread. Call once, before spawning anything.
pub fn init() -> nix::Result<()> {
    nix::sys::prctl::set_child_subreaper(true)?;
    std::thread::Builder::new()
        .name("reaper".into())
        .spawn(reaper_loop)
        .map_err(|_| Errno::EAGAIN)?;
    Ok(())
}

fn reaper_loop() {
    let t = table();
    loop {
        let generation = *t.spawned.lock().unwrap();
        match waitpid(None::<Pid>, Some(WaitPidFlag::__WALL)) {
            Ok(WaitStatus::Exited(pid, code)) => record(pid.as_raw(), Exit::Code(code)),
            Ok(WaitStatus::Signaled(pid, sig, _)) => record(pid.as_raw(), Exit::Signal(sig as i32)),
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => {
                // ECHILD: nothing to wait for until the next spawn (orphans only arrive from
                // our own descendants, so a spawn always precedes them).
                let g = t.spawned.lock().unwrap();
                if *g == generation {
                    let _ = t
                        .spawned_cv
                        .wait_timeout(g, Duration::from_millis(500))
                        .unwrap();
                }
            }
        }
    }
}

fn record(pid: i32, exit: Exit) {
    let t = table();
    t.exits.lock().unwrap().insert(pid, exit);
    t.changed.notify_all();
}

fn note_spawn() {
    let t = table();
    *t.spawned.lock().unwrap() += 1;
    t.spawned_cv.notify_all();
}

/// True if `pid` has not exited: alive and not a zombie (a zombie has exited; PID 1 of some
/// machines reaps orphans late, see environment.md).
pub fn alive(pid: i32) -> bool {
    if table().exits.lock().unwrap().contains_key(&pid) {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // "pid (comm) S ..." — comm may hold spaces and parentheses: split at the last ')'.
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, r)| r.trim_start().chars().next());
            !matches!(state, Some('Z') | Some('X') | None)
        }
        Err(_) => false,
    }
}

/// Wait until `pid` exits or `deadline` passes. The status is exact for our descendants,
/// [`Exit::Unknown`] for processes reaped elsewhere.
pub fn wait_exit(pid: i32, deadline: Instant) -> Option<Exit> {
    let t = table();
    let mut exits = t.exits.lock().unwrap();
    let mut gone_since: Option<Instant> = None;
    loop {
        if let Some(e) = exits.get(&pid) {
            return Some(*e);
        }
        let now = Instant::now();
        drop(exits);
        if !alive(pid) {
            // A zombie child of ours is reaped within moments; anything gone for longer
            // than that was somebody else's child.
            let since = *gone_since.get_or_insert(now);
            if now.duration_since(since) > Duration::from_millis(300) || now >= deadline {
                return table()
                    .exits
                    .lock()
                    .unwrap()
                    .get(&pid)
                    .copied()
                    .or(Some(Exit::Unknown));
            }
        }
        if now >= deadline {
            return None;
        }
        exits = t.exits.lock().unwrap();
        let slice = (deadline - now).min(Duration::from_millis(50));
        exits = t.changed.wait_timeout(exits, slice).unwrap().0;
    }
}

/// SIGKILL a process (errors ignored: it may be gone already).
pub fn kill9(pid: i32) {
    if pid > 0 {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// Held while spawning. A received pty master is briefly an inheritable fd (see
/// [`read_received_fd`]); no other spawn may happen in that window.
static SPAWN_LOCK: Mutex<()> = Mutex::new(());

/// Receive ONE message with an SCM_RIGHTS fd on `sock` (a runtime's `--console-socket`
/// message: payload = pty name, fd = pty master) and start `cat` reading that fd into `out`.
/// Returns the reader's pid and the payload.
///
/// The harness has no `unsafe` (the project keeps it to runtime-lib/src/sys/), so it never
/// turns the received raw fd into an owned file: the fd arrives without O_CLOEXEC, a reader
/// child inherits it, and the harness closes its copy — all under [`SPAWN_LOCK`], so no other
/// child inherits it meanwhile.
pub fn read_received_fd(
    sock: &std::os::unix::net::UnixStream,
    out: &Path,
) -> io::Result<(i32, String)> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::AsRawFd;
    let _guard = SPAWN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let mut buf = [0u8; 4096];
    let mut iov = [io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 4]);
    let (fds, len) = {
        let msg = recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::empty(),
        )
        .map_err(io::Error::from)?;
        let mut fds = Vec::new();
        for c in msg.cmsgs().map_err(io::Error::from)? {
            if let ControlMessageOwned::ScmRights(v) = c {
                fds.extend(v);
            }
        }
        (fds, msg.bytes)
    };
    let name = String::from_utf8_lossy(&buf[..len]).into_owned();
    let result = match fds.as_slice() {
        [fd] => Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("exec timeout 20 cat <&{fd}"))
            .stdin(Stdio::null())
            .stdout(File::create(out)?)
            .stderr(Stdio::null())
            .spawn()
            .map(|c| c.id() as i32),
        other => Err(io::Error::other(format!(
            "expected exactly one fd in the message, got {}",
            other.len()
        ))),
    };
    for fd in fds {
        let _ = nix::unistd::close(fd);
    }
    drop(_guard);
    note_spawn();
    result.map(|pid| (pid, name))
}

/// One finished command: what ran and what came of it (this is evidence in the JSON report).
#[derive(Clone, Debug, Serialize)]
pub struct CmdOut {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// How it ended; `None` when it timed out (it was then killed).
    pub exit: Option<Exit>,
    /// Captured standard output.
    pub stdout: String,
    /// Captured standard error.
    pub stderr: String,
    /// Wall time in milliseconds.
    pub millis: u64,
}

impl CmdOut {
    /// Exited with status 0.
    pub fn success(&self) -> bool {
        self.exit == Some(Exit::Code(0))
    }

    /// One line for failure messages.
    pub fn summary(&self) -> String {
        let how = match self.exit {
            Some(e) => e.to_string(),
            None => "timed out".to_string(),
        };
        let err = self.stderr.trim();
        let err = if err.len() > 300 {
            &err[err.len() - 300..]
        } else {
            err
        };
        format!(
            "`{}` {how}{}",
            self.argv.join(" "),
            if err.is_empty() {
                String::new()
            } else {
                format!(": {err}")
            }
        )
    }
}

/// Run `argv` with stdin from `stdin` (or /dev/null), stdout and stderr into the given files
/// (files, never pipes: a detached container inherits them and would hold a pipe open),
/// killing its process group when `deadline` passes.
pub fn run(
    argv: &[String],
    stdin: Option<&Path>,
    out: &Path,
    err: &Path,
    deadline: Instant,
) -> io::Result<CmdOut> {
    let started = Instant::now();
    let stdin = match stdin {
        Some(p) => Stdio::from(File::open(p)?),
        None => Stdio::null(),
    };
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .stdin(stdin)
        .stdout(File::create(out)?)
        .stderr(File::create(err)?)
        .process_group(0);
    let child = {
        let _guard = SPAWN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        cmd.spawn()?
    };
    note_spawn();
    let pid = child.id() as i32;
    // The std handle is dropped without waiting: the reaper thread collects the status.
    drop(child);
    let exit = wait_exit(pid, deadline);
    if exit.is_none() {
        // Timed out: kill the whole group the command started (runtime and helpers).
        let _ = kill(Pid::from_raw(-pid), Signal::SIGKILL);
        let _ = wait_exit(pid, Instant::now() + Duration::from_secs(2));
    }
    Ok(CmdOut {
        argv: argv.to_vec(),
        exit,
        stdout: std::fs::read_to_string(out).unwrap_or_default(),
        stderr: std::fs::read_to_string(err).unwrap_or_default(),
        millis: started.elapsed().as_millis() as u64,
    })
}

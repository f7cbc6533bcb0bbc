//! `exec`: a new process in a running container.
//!
//! Shape (the same as init's slow path, without creating anything):
//!
//! 1. The runtime opens every namespace of the container's init that differs from its own
//!    (`/proc/<init>/ns/*`, before forking: the paths only resolve from the host), and forks
//!    child A (`clone3`, `CLONE_INTO_CGROUP` on cgroup v2; on v1 the parent moves A into the
//!    container's cgroup before saying `Go`).
//! 2. A joins the namespaces: user first (the others are then joined with the capabilities it
//!    grants), mount last. A pid namespace only takes effect for children, so A forks B with
//!    `CLONE_PARENT` (B is the runtime's child, which `exec` in the foreground waits for),
//!    reports `Init { pid: B }` and exits.
//! 3. B sets up the process exactly as asked (session, keyring, terminal, rlimits, user and
//!    groups, capabilities, cwd checked inside the root, fds, `no_new_privs`, seccomp last)
//!    and `execve`s. Its end of the channel is close-on-exec: the parent seeing EOF without an
//!    `Error` means `execve` succeeded.
//!
//! Messages used (see `sync`): `Go`, `Init { pid }`, `SeccompFd`/`SeccompDone` (a notify
//! profile: the listener fd goes to the agent), `Error`.

use std::convert::Infallible;
use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};

use nix::sched::setns;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceType, Process};

use super::init::{become_process_user, expect, fail, load_seccomp, setup_console, sys_err};
use super::sync::{Channel, ErrorData, Inbox, ToChild, ToParent};
use super::{InitError, Reaper};
use crate::cgroups::{Manager, TasksFile};
use crate::namespaces::{clone_flag, JOIN_ORDER};
use crate::security;
use crate::security::seccomp::SeccompProgram;
use crate::sys::process::{clone3_fork, exit_now, Forked};
use crate::Error;

/// What the exec child needs; it reads it from its copy of the parent's memory.
pub(crate) struct ExecConfig<'a> {
    /// The container id (names the session keyring).
    pub id: &'a str,
    /// Host pid of the container's init, whose namespaces are joined (for messages).
    pub init_pid: i32,
    /// The process to run, complete (defaults already merged in).
    pub process: &'a Process,
    /// The container's seccomp filter.
    pub seccomp: Option<&'a SeccompProgram>,
    /// Join a new session keyring unless the container was created with `--no-new-keyring`.
    pub no_new_keyring: bool,
    /// Pass fds 3..3+n through.
    pub preserve_fds: u32,
    /// Where the pty master goes, when `process.terminal` is set.
    pub console_socket: Option<&'a OwnedFd>,
    /// Init's namespaces to join, from [`open_namespaces`].
    pub namespaces: &'a [(LinuxNamespaceType, OwnedFd)],
}

/// The `/proc/<pid>/ns/` file name of a namespace kind.
fn proc_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Network => "net",
        other => crate::namespaces::name(other),
    }
}

/// Open every namespace of `pid` that is not also ours, in join order (user first, mount
/// last). A namespace the container shares with the runtime (one it neither created nor
/// joined) is left alone: joining our own user namespace would even fail (`EINVAL`).
///
/// # Errors
/// When a namespace file of `pid` cannot be opened (the process is gone: `ESRCH`/`ENOENT`).
pub(crate) fn open_namespaces(pid: i32) -> Result<Vec<(LinuxNamespaceType, OwnedFd)>, Error> {
    use std::os::unix::fs::OpenOptionsExt;
    let open = |p: &str| {
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(p)
    };
    let mut out = Vec::new();
    for t in JOIN_ORDER {
        let n = proc_name(t);
        let theirs_path = format!("/proc/{pid}/ns/{n}");
        let mine = match std::fs::metadata(format!("/proc/self/ns/{n}")) {
            Ok(m) => m,
            // The kernel lacks this namespace kind (e.g. time before 5.6): nothing to join.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::sys(format!("stat /proc/self/ns/{n}"), e)),
        };
        let f = open(&theirs_path).map_err(|e| Error::sys(format!("open {theirs_path}"), e))?;
        let theirs = f
            .metadata()
            .map_err(|e| Error::sys(format!("fstat {theirs_path}"), e))?;
        use std::os::unix::fs::MetadataExt;
        if (theirs.dev(), theirs.ino()) != (mine.dev(), mine.ino()) {
            out.push((t, OwnedFd::from(f)));
        }
    }
    Ok(out)
}

/// Fork the exec'd process into the container and drive its setup until it `execve`s.
/// `notify(pid, fd)` hands a seccomp listener fd to the agent. Returns the host pid, a child of
/// the calling process.
pub(crate) fn spawn(
    cfg: &ExecConfig<'_>,
    cgroup: Option<&dyn Manager>,
    notify: &dyn Fn(i32, OwnedFd) -> Result<(), Error>,
) -> Result<i32, Error> {
    super::require_single_thread("exec")?;
    let (parent_end, child_end) = Channel::pair().map_err(|e| Error::sys("socketpair", e))?;
    let (cg_fd, tasks) = super::cgroup_entry(cgroup)?;
    let (forked, into_cgroup) = clone3_fork(0, cg_fd.as_ref().map(|f| f.as_fd()), false)
        .map_err(|e| Error::sys("clone3()", e))?;
    let first = match forked {
        Forked::Child => {
            drop(parent_end);
            child_main(cfg, child_end, tasks)
        }
        Forked::Parent { pid, .. } => pid,
    };
    drop(child_end);
    drop(cg_fd);
    let self_joined = !tasks.is_empty();
    drop(tasks);
    let mut reaper = Reaper { pids: vec![first] };
    if let (Some(m), false) = (cgroup, into_cgroup || self_joined) {
        m.add_process(first)?;
    }
    if let Some(adj) = cfg.process.oom_score_adj() {
        // Through the host's /proc, before A joins anything: B inherits it from A.
        let p = format!("/proc/{first}/oom_score_adj");
        std::fs::write(&p, adj.to_string())
            .map_err(|e| Error::sys(format!("write {p} ({adj}) for process.oomScoreAdj"), e))?;
    }
    let send = |m: ToChild| {
        parent_end
            .send_child(m)
            .map_err(|e| Error::sys("send to exec process", e))
    };
    send(ToChild::Go)?;
    let mut pid = None;
    let mut inbox = Inbox::new(&parent_end, true);
    loop {
        let (msg, fd) = match inbox
            .recv()
            .map_err(|e| Error::sys("read from exec process", e))?
        {
            Some((m, fd)) => (Some(m), fd),
            None => (None, None),
        };
        match (msg, pid) {
            (Some(ToParent::Init { pid: p }), None) => {
                reaper.pids.push(p);
                let st =
                    waitpid(Pid::from_raw(first), None).map_err(|e| Error::sys("waitpid", e))?;
                reaper.pids.retain(|x| *x != first);
                if !matches!(st, WaitStatus::Exited(_, 0)) {
                    return Err(InitError {
                        msg: format!("intermediate process: {st:?}"),
                        errno: None,
                    }
                    .into());
                }
                pid = Some(p);
            }
            (Some(ToParent::SeccompFd), Some(p)) => {
                let fd = fd.ok_or_else(|| InitError {
                    msg: "seccomp notify fd missing".into(),
                    errno: None,
                })?;
                notify(p, fd)?;
                send(ToChild::SeccompDone)?;
            }
            (Some(ToParent::Error(e)), _) => {
                return Err(InitError {
                    msg: e.msg,
                    errno: e.errno,
                }
                .into())
            }
            // EOF after the process was forked: its end closed on execve.
            (None, Some(p)) => {
                reaper.pids.clear();
                return Ok(p);
            }
            (None, None) => {
                return Err(InitError {
                    msg: "exec: the intermediate process exited unexpectedly".into(),
                    errno: None,
                }
                .into())
            }
            (Some(m), _) => {
                return Err(InitError {
                    msg: format!("sync: unexpected message from the exec process: {m:?}"),
                    errno: None,
                }
                .into())
            }
        }
    }
}

/// Entry point of child A (and, after the second fork, of B).
fn child_main(cfg: &ExecConfig<'_>, ch: Channel, tasks: Vec<TasksFile>) -> ! {
    // v1: into the container's cgroups first (see process::cgroup_entry), then close them.
    let joined = super::join_cgroups_self(&tasks);
    drop(tasks);
    match joined.and_then(|()| exec_child(cfg, &ch)) {
        Ok(never) => match never {},
        Err(e) => {
            let _ = ch.send_parent(&ToParent::Error(e));
            exit_now(1)
        }
    }
}

fn exec_child(cfg: &ExecConfig<'_>, ch: &Channel) -> Result<Infallible, ErrorData> {
    let process = cfg.process;
    // S1 (CVE-2019-5736): until execve this process IS the husk binary, inside a container
    // whose processes are hostile. Non-dumpable, its /proc/<pid>/exe and memory are out of
    // reach of anyone without CAP_SYS_PTRACE over the host's user namespace. B inherits it;
    // execve of the container's program resets it.
    nix::sys::prctl::set_dumpable(false).map_err(|e| sys_err("prctl(PR_SET_DUMPABLE, 0)", e))?;
    expect(ch, ToChild::Go)?;
    let mut user_ns = false;
    for (t, fd) in cfg.namespaces {
        setns(fd.as_fd(), clone_flag(*t)).map_err(|e| {
            sys_err(
                format!(
                    "setns(/proc/{}/ns/{}, {:#x})",
                    cfg.init_pid,
                    proc_name(*t),
                    clone_flag(*t).bits()
                ),
                e,
            )
        })?;
        user_ns |= *t == LinuxNamespaceType::User;
    }
    // A joined pid (or time) namespace applies to children only. CLONE_PARENT: B is the
    // runtime's child, not ours.
    match clone3_fork(0, None, true) {
        Ok((Forked::Child, _)) => {}
        Ok((Forked::Parent { pid, .. }, _)) => {
            let _ = ch.send_parent(&ToParent::Init { pid });
            exit_now(0)
        }
        Err(e) => return Err(sys_err("clone(CLONE_PARENT)", e)),
    }
    if user_ns {
        // Become root of the joined user namespace (when root is mapped, as runc's nsexec
        // does): the pty and keyring made below need a mapped owner (else EOVERFLOW).
        let _ = crate::sys::process::setresgid(0);
        let _ = crate::sys::process::setresuid(0);
    }
    // runc's exec'd processes lead their own session, like init.
    nix::unistd::setsid().map_err(|e| sys_err("setsid()", e))?;
    if !cfg.no_new_keyring {
        let name = CString::new(format!("_ses.{}", cfg.id)).unwrap_or_default();
        // Joins init's keyring (found by name: init made it searchable), as runc does.
        let joined = security::lsm::with_key_label(process, || {
            crate::sys::process::join_session_keyring(&name)
        })
        .map_err(|e| fail(e.to_string(), e.errno()))?;
        match joined {
            Err(e) if e.raw_os_error() != Some(libc::ENOSYS) => {
                return Err(sys_err("keyctl(KEYCTL_JOIN_SESSION_KEYRING)", e))
            }
            _ => {}
        }
    }
    if let Some(sock) = cfg.console_socket {
        // /dev/console belongs to init's terminal: only the pty itself is set up.
        setup_console(sock, process.console_size().as_ref(), false)?;
    }
    security::apply_rlimits(process.rlimits().as_deref().unwrap_or(&[]))
        .map_err(|e| fail(e.to_string(), e.source.errno()))?;
    // AppArmor/SELinux labels are written through a trusted procfs (S6), opened now while we
    // have the capabilities a fresh procfs needs.
    let procfs = match security::lsm::wants_labels(process) {
        true => Some(crate::rootfs::trusted_procfs().map_err(|e| fail(e.to_string(), e.errno()))?),
        false => None,
    };
    let cwd = process.cwd();
    let cwd_done = nix::unistd::chdir(cwd).is_ok();
    let nnp = process.no_new_privileges().unwrap_or(false);
    // Without no_new_privs, loading seccomp needs CAP_SYS_ADMIN: load it while we have it.
    if !nnp {
        if let Some(prog) = cfg.seccomp {
            load_seccomp(prog, ch)?;
        }
    }
    let (env, args, exe) = become_process_user(process, user_ns, cwd_done, "process.cwd")?;
    // S2: only stdio and the preserved fds reach the process (the preserved ones even when the
    // caller had them close-on-exec, as runc does).
    for fd in 3..3 + cfg.preserve_fds as i32 {
        crate::sys::process::clear_cloexec(fd)
            .map_err(|e| sys_err(format!("fcntl({fd}, F_SETFD, 0) for --preserve-fds"), e))?;
    }
    crate::sys::process::cloexec_from(3 + cfg.preserve_fds)
        .map_err(|e| sys_err("close_range(CLOSE_RANGE_CLOEXEC)", e))?;
    crate::sys::process::reset_signals_for_exec()
        .map_err(|e| sys_err("rt_sigprocmask(SIG_SETMASK, [])", e))?;
    if let Some(procfs) = procfs {
        security::lsm::apply_exec_labels(procfs.as_fd(), process)
            .map_err(|e| fail(e.to_string(), e.errno()))?;
    }
    if nnp {
        security::set_no_new_privs().map_err(|e| fail(e.to_string(), e.source.errno()))?;
        if let Some(prog) = cfg.seccomp {
            load_seccomp(prog, ch)?;
        }
    }
    let c = |s: &str| CString::new(s).map_err(|_| fail(format!("{s:?} contains a NUL byte"), None));
    let path = c(&exe.to_string_lossy())?;
    let argv = args.iter().map(|a| c(a)).collect::<Result<Vec<_>, _>>()?;
    let envp = env.iter().map(|a| c(a)).collect::<Result<Vec<_>, _>>()?;
    let argv_r: Vec<_> = argv.iter().map(|s| s.as_c_str()).collect();
    let envp_r: Vec<_> = envp.iter().map(|s| s.as_c_str()).collect();
    let err = crate::sys::process::execve(&path, &argv_r, &envp_r);
    let errno = err.raw_os_error();
    let msg = format!("exec: {:?}: {}", args[0], crate::OsError(err));
    // The filter may forbid sending: then stderr (the caller's) still tells.
    if ch
        .send_parent(&ToParent::Error(fail(msg.clone(), errno)))
        .is_err()
    {
        let _ = writeln!(std::io::stderr(), "husk: {msg}");
    }
    exit_now(127)
}

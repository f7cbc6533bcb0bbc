//! The container process: `clone3`, the parent/child channel ([`sync`]), the init stages
//! (`init`), and the parent's side of the conversation.
//!
//! Process shape (architecture.md): the runtime forks ONE child with every namespace it can
//! create at once (`clone3`, `CLONE_INTO_CGROUP` on cgroup v2); a second fork happens only when
//! a pid or time namespace takes effect for children (joined pid namespace, time namespace,
//! or a joined user namespace). The second child is created with `CLONE_PARENT`, so the
//! runtime stays the parent of init either way.

pub(crate) mod exec;
mod init;
pub(crate) mod sync;

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

use crate::cgroups::{Manager, TasksFile};
use crate::namespaces::render_id_map;
use crate::spec::Plan;
use crate::sys::process::{clone3_fork, Forked};
use crate::Error;
use sync::{Channel, ToChild, ToParent};

/// An error that happened in the container process during setup, carried back as data.
#[derive(Debug, thiserror::Error)]
#[error("unable to start container process: {msg}")]
pub struct InitError {
    /// What failed, with the failing call and path.
    pub msg: String,
    /// The errno, if any.
    pub errno: Option<i32>,
}

/// What the child needs; it reads it from its copy of the parent's memory.
pub(crate) struct InitConfig<'a> {
    pub plan: &'a Plan,
    pub id: &'a str,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    /// Socket-activation fds (`LISTEN_FDS`): fds 3..3+n, before the preserved ones.
    pub listen_fds: u32,
    /// `O_PATH` fd of the exec fifo.
    pub fifo: &'a OwnedFd,
    /// The connected console socket, when `process.terminal` is set.
    pub console_socket: Option<&'a OwnedFd>,
    /// An fd of the runtime's that the child closes first thing: the state-dir lock, held by
    /// `create` across the fork (a created init must not keep the state folder open until
    /// `start`).
    pub close_in_child: Option<std::os::fd::BorrowedFd<'a>>,
}

/// A started init process, blocked on the exec fifo.
#[derive(Debug)]
pub(crate) struct Spawned {
    pub pid: i32,
}

/// Kills and reaps the child(ren) if setup fails half-way.
struct Reaper {
    pids: Vec<i32>,
}

impl Drop for Reaper {
    fn drop(&mut self) {
        for &pid in &self.pids {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
            let _ = waitpid(Pid::from_raw(pid), None);
        }
    }
}

/// How a new process enters its cgroup: v2, a directory fd for clone3's `CLONE_INTO_CGROUP`;
/// v1, the `tasks` files it writes "0" to itself, first thing (no global lock, no RCU grace
/// period: see [`Manager::self_join_files`]). Neither (v2 on a kernel without clone3): the
/// parent writes its pid to `cgroup.procs`.
fn cgroup_entry(cgroup: Option<&dyn Manager>) -> Result<(Option<OwnedFd>, Vec<TasksFile>), Error> {
    let Some(m) = cgroup else {
        return Ok((None, Vec::new()));
    };
    match m.clone_into_fd()? {
        Some(fd) => Ok((Some(fd), Vec::new())),
        None => Ok((None, m.self_join_files()?)),
    }
}

/// Move the calling process (a new child, one thread) into its v1 cgroups.
fn join_cgroups_self(tasks: &[TasksFile]) -> Result<(), sync::ErrorData> {
    for t in tasks {
        t.join_self().map_err(|e| {
            let errno = std::error::Error::source(&e)
                .and_then(|s| s.downcast_ref::<std::io::Error>())
                .and_then(std::io::Error::raw_os_error);
            init::fail(e.to_string(), errno)
        })?;
    }
    Ok(())
}

/// Fork the container process and drive its setup until it blocks on the exec fifo.
/// `state_json(pid)` renders the state passed to createRuntime/prestart hooks.
pub(crate) fn spawn(
    cfg: &InitConfig<'_>,
    cgroup: Option<&dyn Manager>,
    state_json: &dyn Fn(i32) -> Vec<u8>,
) -> Result<Spawned, Error> {
    require_single_thread("create containers")?;
    let shape = cfg.plan.namespaces.shape();
    let (parent_end, child_end) = Channel::pair().map_err(|e| Error::sys("socketpair", e))?;
    let (cg_fd, tasks) = cgroup_entry(cgroup)?;
    let (forked, into_cgroup) = clone3_fork(
        shape.clone_flags.bits() as u64,
        cg_fd.as_ref().map(|f| f.as_fd()),
        false,
    )
    .map_err(|e| Error::sys(format!("clone3({:?})", shape.clone_flags), e))?;
    let first = match forked {
        Forked::Child => {
            drop(parent_end);
            init::child_main(cfg, child_end, tasks)
        }
        Forked::Parent { pid, .. } => pid,
    };
    drop(child_end);
    drop(cg_fd);
    let self_joined = !tasks.is_empty();
    drop(tasks);
    let mut reaper = Reaper { pids: vec![first] };
    let linux = cfg.plan.spec.linux().as_ref();
    let write_maps = |pid: i32| -> Result<(), Error> {
        let uid = linux
            .and_then(|l| l.uid_mappings().clone())
            .unwrap_or_default();
        let gid = linux
            .and_then(|l| l.gid_mappings().clone())
            .unwrap_or_default();
        for (file, maps) in [("uid_map", uid), ("gid_map", gid)] {
            let p = format!("/proc/{pid}/{file}");
            std::fs::write(&p, render_id_map(&maps))
                .map_err(|e| Error::sys(format!("write {p}"), e))?;
        }
        Ok(())
    };
    if shape
        .clone_flags
        .contains(nix::sched::CloneFlags::CLONE_NEWUSER)
    {
        write_maps(first)?;
    }
    let send = |m: ToChild| {
        parent_end
            .send_child(m)
            .map_err(|e| Error::sys("send to init", e))
    };
    send(ToChild::Go)?;
    // v2 without clone3: join the cgroup while the child starts on its namespaces and first
    // mounts. The child waits for `CgroupJoined` before anything that depends on its cgroup
    // (see init.rs and the table in sync.rs). On v1 the child has moved itself in.
    let joined = match (cgroup, into_cgroup || self_joined) {
        (Some(m), false) => m.add_process(first).map_err(Error::from),
        _ => Ok(()),
    };
    if let Err(e) = joined.and_then(|()| send(ToChild::CgroupJoined)) {
        // The child may have failed meanwhile (then its error waits in the socket and says
        // more than ours: e.g. a bad mount, EPIPE here). Stop it, and read what it left.
        let _ = nix::sys::signal::kill(Pid::from_raw(first), Signal::SIGKILL);
        if let Ok(Some((ToParent::Error(d), _))) = parent_end.recv_from_child_fd() {
            return Err(InitError {
                msg: d.msg,
                errno: d.errno,
            }
            .into());
        }
        return Err(e);
    }
    let mut init_pid = first;
    let hooks = cfg.plan.spec.hooks().as_ref();
    let mut inbox = sync::Inbox::new(&parent_end, shape.second_fork);
    loop {
        let (msg, fd) = match inbox.recv().map_err(|e| Error::sys("read from init", e))? {
            Some((m, fd)) => (Some(m), fd),
            None => (None, None),
        };
        match msg {
            Some(ToParent::NeedMaps) => {
                write_maps(init_pid)?;
                send(ToChild::MapsDone)?;
            }
            Some(ToParent::Init { pid }) => {
                // The intermediate process exits right after sending this.
                reaper.pids.push(pid);
                let st =
                    waitpid(Pid::from_raw(first), None).map_err(|e| Error::sys("waitpid", e))?;
                reaper.pids.retain(|p| *p != first);
                if !matches!(st, WaitStatus::Exited(_, 0)) {
                    return Err(InitError {
                        msg: format!("intermediate process: {st:?}"),
                        errno: None,
                    }
                    .into());
                }
                init_pid = pid;
            }
            Some(ToParent::CreateRuntimeHooks) => {
                let state = state_json(init_pid);
                #[allow(deprecated)]
                for kind in ["prestart", "createRuntime"] {
                    crate::hooks::run(kind, crate::hooks::of_kind(hooks, kind), &state)?;
                }
                send(ToChild::HooksDone)?;
            }
            Some(ToParent::SeccompFd) => {
                let fd = fd.ok_or_else(|| InitError {
                    msg: "seccomp notify fd missing".into(),
                    errno: None,
                })?;
                send_to_agent(cfg, init_pid, fd)?;
                send(ToChild::SeccompDone)?;
            }
            Some(ToParent::MountSources) => {
                send_mount_sources(cfg, init_pid, &parent_end)?;
                send(ToChild::MountSourcesDone)?;
            }
            Some(ToParent::Ready) => break,
            Some(ToParent::Error(e)) => {
                return Err(InitError {
                    msg: e.msg,
                    errno: e.errno,
                }
                .into())
            }
            None => {
                let st = waitpid(Pid::from_raw(init_pid), None);
                reaper.pids.retain(|p| *p != init_pid);
                return Err(InitError {
                    msg: format!("container init exited unexpectedly ({st:?})"),
                    errno: None,
                }
                .into());
            }
        }
    }
    reaper.pids.clear();
    Ok(Spawned { pid: init_pid })
}

/// Open the bind sources of init's mounts as host root, in init's (final) mount namespace,
/// and pass them to it: from inside its user namespace, init cannot reach a source under a
/// root-only directory (rootfs::MountSources).
fn send_mount_sources(cfg: &InitConfig<'_>, pid: i32, ch: &Channel) -> Result<(), Error> {
    let plan = cfg.plan;
    let sources =
        crate::rootfs::MountSources::open_for(pid, &plan.spec, &plan.bundle, &plan.rootfs)
            .map_err(|e| InitError {
                msg: e.to_string(),
                errno: e.errno(),
            })?;
    for (index, fd) in sources.iter() {
        ch.send_child_fd(&ToChild::MountSource { index }, fd)
            .map_err(|e| Error::sys("send to init", e))?;
    }
    Ok(())
}

/// Hand the seccomp notify fd to the agent at `linux.seccomp.listenerPath`, with runc's
/// `ContainerProcessState` (status `creating`).
fn send_to_agent(cfg: &InitConfig<'_>, pid: i32, fd: OwnedFd) -> Result<(), Error> {
    let spec = &cfg.plan.spec;
    let mut state = oci_spec::runtime::State::default();
    state.set_version(spec.version().clone());
    state.set_id(cfg.id.to_string());
    state.set_status(oci_spec::runtime::ContainerState::Creating);
    state.set_pid(Some(pid));
    state.set_bundle(cfg.plan.bundle.clone());
    state.set_annotations(spec.annotations().clone());
    let profile = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref());
    crate::security::seccomp::notify_agent(profile, &state, pid, fd.as_fd())?;
    Ok(())
}

/// Receive the pty master init sent over our end of a private console socketpair.
pub(crate) fn recv_console(sock: &std::os::unix::net::UnixStream) -> Result<OwnedFd, Error> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, UnixAddr};
    use std::os::fd::AsRawFd;
    let mut buf = [0u8; 4096];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<UnixAddr>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(|e| Error::sys("recvmsg(console)", e))?;
    let mut master = None;
    for c in msg.cmsgs().map_err(|e| Error::sys("recvmsg(console)", e))? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            for raw in fds {
                let fd = crate::sys::process::own_received_fd(raw);
                master.get_or_insert(fd);
            }
        }
    }
    master.ok_or_else(|| {
        InitError {
            msg: "no pty master received from init".into(),
            errno: None,
        }
        .into()
    })
}

/// clone3 runs no atfork handlers: another thread could hold the malloc lock forever in the
/// child. Refuse rather than risk a deadlock (architecture.md, process model 1).
pub(crate) fn require_single_thread(what: &str) -> Result<(), Error> {
    match crate::sys::process::thread_count() {
        Ok(1) => Ok(()),
        Ok(n) => Err(Error::Unsupported(format!(
            "husk must {what} from a single-threaded process (this one has {n} threads)"
        ))),
        Err(e) => Err(Error::sys("read /proc/self/stat", e)),
    }
}

/// The `PATH` lookup of `exec.LookPath`, with Go's error wording (podman maps
/// "executable file not found" and "no such file or directory" to exit code 127).
pub(crate) fn look_path(name: &str, env: &[String]) -> Result<std::path::PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let is_exec = |p: &Path| match std::fs::metadata(p) {
        Ok(m) => m.is_file() && m.permissions().mode() & 0o111 != 0,
        Err(_) => false,
    };
    if name.contains('/') {
        let p = Path::new(name);
        return match std::fs::metadata(p) {
            Err(e) => Err(format!(
                "exec: {name:?}: stat {name}: {}",
                crate::OsError(e)
            )),
            Ok(_) if is_exec(p) => Ok(p.to_path_buf()),
            Ok(_) => Err(format!("exec: {name:?}: permission denied")),
        };
    }
    let path = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("");
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let cand = Path::new(dir).join(name);
        if is_exec(&cand) {
            return Ok(cand);
        }
    }
    Err(format!(
        "exec: {name:?}: executable file not found in $PATH"
    ))
}

/// Replace `NAME=...` in `env` (every occurrence) by `value`, or append it: the runtime's value
/// wins over the bundle's, as in runc where it is set last.
pub(crate) fn set_env(env: &mut Vec<String>, value: String) {
    let name = value.split_once('=').map_or(value.as_str(), |(n, _)| n);
    let prefix = format!("{name}=");
    env.retain(|e| !e.starts_with(&prefix));
    env.push(value);
}

/// The most of `/etc/passwd` read to find a home directory (S9: the file is the image's).
const PASSWD_MAX: u64 = 1 << 20;

/// `env` with `HOME` added when it has none, as runc does: the home directory of `uid` in the
/// container's `/etc/passwd` (read through the current root, bounded, only when it is a regular
/// file), else `/`.
pub(crate) fn with_home(mut env: Vec<String>, uid: u32) -> Vec<String> {
    if env.iter().any(|e| e.starts_with("HOME=")) {
        return env;
    }
    let home = passwd_home("/etc/passwd", uid).unwrap_or_else(|| "/".to_string());
    env.push(format!("HOME={home}"));
    env
}

fn passwd_home(path: &str, uid: u32) -> Option<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    // O_NONBLOCK: a FIFO planted at /etc/passwd must not hang us; it is refused below.
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .ok()?;
    if !f.metadata().ok()?.is_file() {
        return None;
    }
    let mut data = Vec::new();
    f.take(PASSWD_MAX).read_to_end(&mut data).ok()?;
    String::from_utf8_lossy(&data).lines().find_map(|l| {
        let fields: Vec<&str> = l.split(':').collect();
        (fields.len() >= 6 && fields[2].parse::<u32>().ok() == Some(uid))
            .then(|| fields[5].to_string())
            .filter(|h| !h.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_env_replaces_every_copy() {
        let mut env = vec![
            "A=1".to_string(),
            "NOTIFY=x".into(),
            "NOTIFY_SOCKET=/a".into(),
        ];
        env.push("NOTIFY_SOCKET=/b".into());
        set_env(&mut env, "NOTIFY_SOCKET=/run/notify/notify.sock".into());
        assert_eq!(
            env,
            ["A=1", "NOTIFY=x", "NOTIFY_SOCKET=/run/notify/notify.sock"]
        );
    }

    #[test]
    fn look_path_like_go() {
        let env = vec!["PATH=/nonexistent:/bin:/usr/bin".to_string()];
        assert!(look_path("sh", &env).unwrap().ends_with("sh"));
        assert_eq!(
            look_path("no-such-cmd-xyz", &env).unwrap_err(),
            "exec: \"no-such-cmd-xyz\": executable file not found in $PATH"
        );
        assert_eq!(
            look_path("/no/such", &env).unwrap_err(),
            "exec: \"/no/such\": stat /no/such: no such file or directory"
        );
        let f = std::env::temp_dir().join(format!("husk-noexec-{}", std::process::id()));
        std::fs::write(&f, "not a program").unwrap();
        let e = look_path(f.to_str().unwrap(), &env).unwrap_err();
        std::fs::remove_file(&f).unwrap();
        assert!(e.ends_with("permission denied"), "{e}");
        assert!(look_path("sh", &[]).is_err(), "no PATH, no lookup");
    }

    #[test]
    fn home_from_passwd_like_runc() {
        let f = std::env::temp_dir().join(format!("husk-passwd-{}", std::process::id()));
        std::fs::write(
            &f,
            "root:x:0:0:root:/root:/bin/sh\nbad line\nu:x:1000:1000::/home/u:\n",
        )
        .unwrap();
        let p = f.to_str().unwrap();
        assert_eq!(passwd_home(p, 0).as_deref(), Some("/root"));
        assert_eq!(passwd_home(p, 1000).as_deref(), Some("/home/u"));
        assert_eq!(passwd_home(p, 7), None);
        std::fs::remove_file(&f).unwrap();
        assert_eq!(passwd_home("/nonexistent/passwd", 0), None);
        assert_eq!(passwd_home("/dev/zero", 0), None, "not a regular file");
        let env = vec!["HOME=/x".to_string()];
        assert_eq!(with_home(env.clone(), 0), env, "an explicit HOME stays");
    }
}

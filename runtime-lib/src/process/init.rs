//! The container side of setup. Runs in the forked child; never returns: it either `execve`s
//! the user program or reports an error to the parent and `_exit`s.

use std::convert::Infallible;
use std::ffi::CString;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::fcntl::{openat, OFlag};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::stat::Mode;
use oci_spec::runtime::LinuxNamespaceType;

use super::sync::{Channel, ErrorData, ToChild, ToParent};
use super::InitConfig;
use crate::cgroups::TasksFile;
use crate::namespaces::clone_flag;
use crate::rootfs::{self, RootfsOptions};
use crate::security::{self, CapSets};
use crate::sys::process::{clone3_fork, exit_now, Forked};

/// `KEY_USR_SEARCH` of keyctl(2)'s permission mask.
const KEY_USR_SEARCH: u32 = 0x0008_0000;

/// Entry point of the forked child.
pub(super) fn child_main(cfg: &InitConfig<'_>, ch: Channel, tasks: Vec<TasksFile>) -> ! {
    if let Some(fd) = cfg.close_in_child {
        let _ = crate::sys::process::close_inherited(fd);
    }
    let ready = std::cell::Cell::new(false);
    // v1: into the container's cgroups first, before anything else (and before the user
    // namespace: the files were opened by the runtime), then close them.
    let joined = super::join_cgroups_self(&tasks);
    drop(tasks);
    match joined.and_then(|()| init(cfg, &ch, &ready)) {
        Ok(never) => match never {},
        Err(e) => {
            if ready.get() {
                // The parent has returned from create: the container's stderr is the only
                // place left to tell (runc does the same).
                let _ = writeln!(std::io::stderr(), "husk: container init: {}", e.msg);
            } else {
                let _ = ch.send_parent(&ToParent::Error(e));
            }
            exit_now(1)
        }
    }
}

pub(super) fn fail(msg: impl Into<String>, errno: Option<i32>) -> ErrorData {
    ErrorData {
        msg: msg.into(),
        errno,
    }
}

pub(super) fn sys_err(op: impl std::fmt::Display, e: impl Into<crate::OsError>) -> ErrorData {
    let e: crate::OsError = e.into();
    fail(format!("{op}: {e}"), e.errno())
}

pub(super) fn expect(ch: &Channel, want: ToChild) -> Result<(), ErrorData> {
    match ch.recv_from_parent() {
        Ok(Some(m)) if m == want => Ok(()),
        Ok(Some(m)) => Err(fail(format!("sync: expected {want:?}, got {m:?}"), None)),
        Ok(None) => exit_now(1), // the parent is gone: nobody to report to
        Err(e) => Err(sys_err("sync: recv", e)),
    }
}

fn init(
    cfg: &InitConfig<'_>,
    ch: &Channel,
    ready: &std::cell::Cell<bool>,
) -> Result<Infallible, ErrorData> {
    let plan = cfg.plan;
    let spec = &plan.spec;
    let ns = &plan.namespaces;
    let shape = ns.shape();
    let linux = spec.linux().as_ref();
    let process = spec.process().as_ref().expect("validated");

    // S1 (CVE-2019-5736): until execve, this process is the husk binary; non-dumpable, its
    // /proc/<pid>/exe and memory are out of reach of other processes in the container. execve
    // restores dumpability for the user program.
    nix::sys::prctl::set_dumpable(false).map_err(|e| sys_err("prctl(PR_SET_DUMPABLE, 0)", e))?;
    expect(ch, ToChild::Go)?;
    // On cgroup v2 without clone3 the runtime moves us into the container's cgroup after
    // `Go`, and says so with `CgroupJoined`, its next message whatever comes (it sends it in
    // every case; we are in already on v1 and with CLONE_INTO_CGROUP). Meanwhile we go on with
    // what does not depend on the cgroup; we wait before anything that does: a fork (children
    // are born in our cgroup), a new cgroup namespace (rooted at our cgroup), a `cgroup`
    // mount (reads /proc/self/cgroup), the hooks, and any other exchange with the parent.
    let joined = std::cell::Cell::new(false);
    let join_cgroup = || -> Result<(), ErrorData> {
        if !joined.get() {
            expect(ch, ToChild::CgroupJoined)?;
            joined.set(true);
        }
        Ok(())
    };

    // Open every namespace to join BEFORE joining any: after setns(mnt) the paths would
    // resolve in the container's mount namespace.
    let mut joins = Vec::new();
    for (t, p) in &ns.join {
        let f = File::open(p).map_err(|e| sys_err(format!("open {}", p.display()), e))?;
        joins.push((*t, f));
    }
    for (t, f) in &joins {
        setns(f.as_fd(), clone_flag(*t)).map_err(|e| {
            sys_err(
                format!(
                    "setns({}, {})",
                    ns_path(&ns.join, *t),
                    crate::namespaces::name(*t)
                ),
                e,
            )
        })?;
    }
    drop(joins);

    if !shape.unshare_flags.is_empty() {
        unshare(shape.unshare_flags)
            .map_err(|e| sys_err(format!("unshare({:?})", shape.unshare_flags), e))?;
        if shape.unshare_flags.contains(CloneFlags::CLONE_NEWUSER) {
            ch.send_parent(&ToParent::NeedMaps)
                .map_err(|e| sys_err("sync: send", e))?;
            join_cgroup()?;
            expect(ch, ToChild::MapsDone)?;
        }
    }
    if ns.is_new(LinuxNamespaceType::Time) {
        let offsets =
            crate::namespaces::render_time_offsets(spec).map_err(|e| fail(e.to_string(), None))?;
        if !offsets.is_empty() {
            std::fs::write("/proc/self/timens_offsets", offsets)
                .map_err(|e| sys_err("write /proc/self/timens_offsets", e))?;
        }
    }
    if shape.second_fork {
        join_cgroup()?;
        // CLONE_PARENT: init becomes the runtime's child too, so `run` can wait for it and
        // `create` leaves it to the caller's subreaper like a first-level child.
        match clone3_fork(0, None, true) {
            Ok((Forked::Child, _)) => {}
            Ok((Forked::Parent { pid, .. }, _)) => {
                let _ = ch.send_parent(&ToParent::Init { pid });
                exit_now(0)
            }
            Err(e) => return Err(sys_err("clone(CLONE_PARENT)", e)),
        }
    }
    if ns.has(LinuxNamespaceType::User) {
        // Become root of the (new or joined) user namespace when root is mapped, as runc's
        // nsexec does: files made from now on must be owned by a mapped id (else EOVERFLOW).
        let _ = crate::sys::process::setresgid(0);
        let _ = crate::sys::process::setresuid(0);
    }
    nix::unistd::setsid().map_err(|e| sys_err("setsid()", e))?;
    // The cgroup namespace is unshared now that the parent has put us in our cgroup, so that
    // its root is the container's cgroup.
    if ns.is_new(LinuxNamespaceType::Cgroup) {
        join_cgroup()?;
        unshare(CloneFlags::CLONE_NEWCGROUP).map_err(|e| sys_err("unshare(CLONE_NEWCGROUP)", e))?;
    }
    if !cfg.no_new_keyring {
        let name = CString::new(format!("_ses.{}", cfg.id)).unwrap_or_default();
        // The keyring gets the process' SELinux label, as with runc.
        let joined = security::lsm::with_key_label(process, || {
            crate::sys::process::join_session_keyring(&name)
        })
        .map_err(|e| fail(e.to_string(), e.errno()))?;
        match joined {
            // As runc: the owner may search the keyring (KEY_USR_SEARCH), so that `exec`'s
            // join by the same name finds it and exec'd processes share init's keyring
            // instead of each getting a new one.
            Ok(serial) => crate::sys::process::key_add_perm(serial, KEY_USR_SEARCH)
                .map_err(|e| sys_err(format!("keyctl(KEYCTL_SETPERM, {serial}, +search)"), e))?,
            Err(e) if e.raw_os_error() != Some(libc::ENOSYS) => {
                return Err(sys_err("keyctl(KEYCTL_JOIN_SESSION_KEYRING)", e))
            }
            _ => {}
        }
    }
    // In a user namespace, bind sources under root-only directories are out of our reach:
    // the runtime opens them (our namespaces are final now, no mount is made yet).
    let sources = if ns.has(LinuxNamespaceType::User) && rootfs::MountSources::wanted(spec) {
        // An exchange with the parent: `CgroupJoined` comes first.
        join_cgroup()?;
        Some(recv_mount_sources(ch)?)
    } else {
        None
    };
    let opts = RootfsOptions {
        spec,
        rootfs: &plan.rootfs,
        bundle: &plan.bundle,
        no_pivot: cfg.no_pivot,
        new_userns: ns.is_new(LinuxNamespaceType::User),
        new_cgroupns: ns.is_new(LinuxNamespaceType::Cgroup),
        mount_sources: None,
    };
    // prestart/createRuntime (in the runtime) and createContainer (here) run once every mount
    // is in place, before pivot_root, as runc does.
    let hooks = spec.hooks().as_ref();
    let hook_err = std::cell::RefCell::new(None);
    let keep = |e: ErrorData| {
        let msg = e.msg.clone();
        *hook_err.borrow_mut() = Some(e);
        rootfs::RootfsError::Unsafe(msg)
    };
    let before_cgroup = || join_cgroup().map_err(keep);
    let before_pivot = || {
        join_cgroup()
            .and_then(|()| run_create_hooks(cfg, ch, hooks))
            .map_err(keep)
    };
    let with_sources = RootfsOptions {
        mount_sources: sources.as_ref(),
        ..opts
    };
    if let Err(e) = rootfs::setup_with_hooks(&with_sources, before_cgroup, before_pivot) {
        return Err(hook_err
            .into_inner()
            .unwrap_or_else(|| fail(e.to_string(), e.errno())));
    }
    // The host-side sources are mounted: close them now, not at execve.
    drop(sources);
    // setup_with_hooks ran before_pivot, so we are in our cgroups from here on.
    debug_assert!(joined.get());
    if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h).map_err(|e| sys_err(format!("sethostname({h:?})"), e))?;
    }
    if let Some(d) = spec.domainname().as_deref().filter(|h| !h.is_empty()) {
        crate::sys::process::setdomainname(d)
            .map_err(|e| sys_err(format!("setdomainname({d:?})"), e))?;
    }
    if let Some(sock) = cfg.console_socket {
        setup_console(sock, process.console_size().as_ref(), true)?;
    }
    let procfs = rootfs::trusted_procfs().map_err(|e| fail(e.to_string(), e.errno()))?;
    if let Some(sysctl) = linux.and_then(|l| l.sysctl().as_ref()) {
        let mut keys: Vec<_> = sysctl.iter().collect();
        keys.sort();
        for (k, v) in keys {
            let rel = format!("sys/{}", k.replace('.', "/"));
            proc_write(&procfs, &rel, v.as_bytes())?;
        }
    }
    rootfs::finalize(&opts).map_err(|e| fail(e.to_string(), e.errno()))?;
    if let Some(adj) = process.oom_score_adj() {
        proc_write(&procfs, "self/oom_score_adj", adj.to_string().as_bytes())?;
    }
    if let Some(p) = linux.and_then(|l| l.personality().as_ref()) {
        security::apply_personality(p.domain())
            .map_err(|e| fail(e.to_string(), e.source.errno()))?;
    }
    security::apply_rlimits(process.rlimits().as_deref().unwrap_or(&[]))
        .map_err(|e| fail(e.to_string(), e.source.errno()))?;

    // chdir as root first (runc does too); a directory only the process user may enter is
    // retried after the user switch.
    let cwd = process.cwd();
    let cwd_done = nix::unistd::chdir(cwd).is_ok();
    let nnp = process.no_new_privileges().unwrap_or(false);
    // Without no_new_privs, loading seccomp needs CAP_SYS_ADMIN: load it while we still have
    // it (runc does the same); with no_new_privs it is loaded last, right before execve.
    if !nnp {
        if let Some(prog) = &plan.seccomp {
            load_seccomp(prog, ch)?;
        }
    }
    let (env, args, exe) = become_process_user(
        process,
        ns.is_new(LinuxNamespaceType::User),
        cwd_done,
        "config.json",
    )?;

    // Socket activation, as runc: the listen fds come first (3..), then the preserved ones.
    let mut env = env;
    if cfg.listen_fds > 0 {
        super::set_env(&mut env, format!("LISTEN_FDS={}", cfg.listen_fds));
        // The process' own pid, as sd_listen_fds(3) checks it: 1 in a new pid namespace (what
        // runc always sets), the real one when the host's pid namespace is shared.
        let pid = nix::unistd::getpid();
        super::set_env(&mut env, format!("LISTEN_PID={pid}"));
    }
    // S2: nothing but stdio, the listen fds and the preserved fds may reach the container
    // process. They are passed even if the caller had them close-on-exec, as runc does.
    let passed = cfg.listen_fds + cfg.preserve_fds;
    for fd in 3..3 + passed as i32 {
        let what = if (fd - 3) < cfg.listen_fds as i32 {
            "LISTEN_FDS"
        } else {
            "--preserve-fds"
        };
        crate::sys::process::clear_cloexec(fd)
            .map_err(|e| sys_err(format!("fcntl({fd}, F_SETFD, 0) for {what}"), e))?;
    }
    crate::sys::process::cloexec_from(3 + passed)
        .map_err(|e| sys_err("close_range(CLOSE_RANGE_CLOEXEC)", e))?;
    // AppArmor/SELinux take effect at execve; written now, before Ready, so that a profile
    // the kernel does not know fails `create` (as with runc), through the trusted procfs (S6).
    security::lsm::apply_exec_labels(procfs.as_fd(), process)
        .map_err(|e| fail(e.to_string(), e.errno()))?;
    // A notify listener must reach the parent before create returns (runc does the same):
    // then the filter is loaded here, before Ready, instead of right before execve.
    let notify = plan.seccomp.as_ref().filter(|p| nnp && p.uses_notify());
    if let Some(prog) = notify {
        security::set_no_new_privs().map_err(|e| fail(e.to_string(), e.source.errno()))?;
        load_seccomp(prog, ch)?;
    }
    ch.send_parent(&ToParent::Ready)
        .map_err(|e| sys_err("sync: send", e))?;
    ready.set(true);

    // Block until `start` opens the fifo for reading. Reopen the O_PATH fd through our own
    // procfs: the fifo's path is in the runtime's mount namespace, out of our reach now.
    let fifo = openat(
        procfs.as_fd(),
        format!("self/fd/{}", cfg.fifo.as_raw_fd()).as_str(),
        OFlag::O_WRONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| sys_err("open exec fifo", e))?;
    let mut fifo = File::from(fifo);
    fifo.write_all(b"0")
        .map_err(|e| sys_err("write exec fifo", e))?;
    // The fifo stays open (close-on-exec) until execve: its EOF tells `start` that the user
    // program runs, so poststart hooks come after startContainer hooks and the exec.
    let mut _exec_signal = fifo;
    drop(procfs);

    let start_hooks = crate::hooks::of_kind(hooks, "startContainer");
    if !start_hooks.is_empty() {
        let state = hook_state(cfg, "running");
        if let Err(e) = crate::hooks::run("startContainer", start_hooks, &state) {
            // runtime-spec: a failing startContainer hook fails `start`, and the user program
            // never runs. `start` reads the fifo to its end: the message tells it why.
            let msg = e.to_string();
            let _ = _exec_signal.write_all(msg.as_bytes());
            return Err(fail(msg, None));
        }
    }
    // The Rust runtime ignores SIGPIPE; an ignored signal stays ignored across execve.
    crate::sys::process::reset_signals_for_exec()
        .map_err(|e| sys_err("rt_sigprocmask(SIG_SETMASK, [])", e))?;
    if nnp {
        security::set_no_new_privs().map_err(|e| fail(e.to_string(), e.source.errno()))?;
        if let Some(prog) = plan.seccomp.as_ref().filter(|_| notify.is_none()) {
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
    // The parent is gone; stderr is the container's, where the user sees it.
    let _ = writeln!(
        std::io::stderr(),
        "husk: exec {:?}: {}",
        args[0],
        crate::OsError(err)
    );
    exit_now(127)
}

/// Ask the runtime for the bind sources and collect them (sync messages 10-12).
fn recv_mount_sources(ch: &Channel) -> Result<rootfs::MountSources, ErrorData> {
    ch.send_parent(&ToParent::MountSources)
        .map_err(|e| sys_err("sync: send", e))?;
    let mut sources = rootfs::MountSources::default();
    loop {
        match ch.recv_from_parent_fd() {
            Ok(Some((ToChild::MountSource { index }, Some(fd)))) => sources.insert(index, fd),
            Ok(Some((ToChild::MountSourcesDone, _))) => return Ok(sources),
            Ok(Some((m, _))) => {
                return Err(fail(
                    format!("sync: expected MountSource or MountSourcesDone, got {m:?}"),
                    None,
                ))
            }
            Ok(None) => exit_now(1), // the parent is gone: nobody to report to
            Err(e) => return Err(sys_err("sync: recv", e)),
        }
    }
}

fn ns_path(join: &[(LinuxNamespaceType, std::path::PathBuf)], t: LinuxNamespaceType) -> String {
    join.iter()
        .find(|(j, _)| *j == t)
        .map(|(_, p)| p.display().to_string())
        .unwrap_or_default()
}

/// Write a procfs file through the trusted handle (S6), never through a path in the
/// container's `/proc`, which the image could have redirected.
fn proc_write(procfs: &OwnedFd, rel: &str, data: &[u8]) -> Result<(), ErrorData> {
    let fd = openat(
        procfs.as_fd(),
        rel,
        OFlag::O_WRONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW,
        Mode::empty(),
    )
    .map_err(|e| sys_err(format!("open /proc/{rel}"), e))?;
    File::from(fd)
        .write_all(data)
        .map_err(|e| sys_err(format!("write /proc/{rel}"), e))
}

/// In a new user namespace, `setgroups` works only when the parent did not write "deny".
pub(super) fn setgroups_allowed() -> bool {
    std::fs::read_to_string("/proc/self/setgroups")
        .map(|s| s.trim() == "allow")
        .unwrap_or(false)
}

/// The state JSON for hooks that run inside the container.
fn hook_state(cfg: &InitConfig<'_>, status: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "ociVersion": cfg.plan.spec.version(),
        "id": cfg.id,
        "status": status,
        "pid": nix::unistd::getpid().as_raw(),
        "bundle": cfg.plan.bundle,
        "annotations": cfg.plan.spec.annotations().clone().unwrap_or_default(),
    }))
    .unwrap_or_default()
}

/// Allocate the container's terminal from its own devpts, make it our controlling terminal and
/// stdio, bind it onto `/dev/console` from the fd actually opened (S5, CVE-2025-52565), and
/// send the master to the console socket: one message, payload the pty name, SCM_RIGHTS with
/// exactly one fd (compat.md). `exec` passes `bind_console: false`: `/dev/console` is init's.
pub(super) fn setup_console(
    sock: &OwnedFd,
    size: Option<&oci_spec::runtime::Box>,
    bind_console: bool,
) -> Result<(), ErrorData> {
    use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags, UnixAddr};
    use std::os::unix::fs::OpenOptionsExt;

    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .map_err(|e| sys_err("open /dev/ptmx", e))?;
    grantpt(&master).map_err(|e| sys_err("grantpt", e))?;
    unlockpt(&master).map_err(|e| sys_err("unlockpt", e))?;
    let name = ptsname_r(&master).map_err(|e| sys_err("ptsname", e))?;
    if let Some(sz) = size {
        crate::sys::process::set_winsize(master.as_fd(), sz.height() as u16, sz.width() as u16)
            .map_err(|e| sys_err("ioctl(TIOCSWINSZ)", e))?;
    }
    let slave: OwnedFd = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(&name)
        .map_err(|e| sys_err(format!("open {name}"), e))?
        .into();
    // The slave must be a pty slave (Unix98 majors 136-143), not whatever the image put there.
    let st =
        nix::sys::stat::fstat(slave.as_fd()).map_err(|e| sys_err(format!("fstat {name}"), e))?;
    let major = libc::major(st.st_rdev);
    if st.st_mode & libc::S_IFMT != libc::S_IFCHR || !(136..=143).contains(&major) {
        return Err(fail(format!("{name} is not a pty slave"), None));
    }
    if bind_console {
        let console = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o666)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open("/dev/console")
            .map_err(|e| sys_err("create /dev/console", e))?;
        let src = format!("/proc/self/fd/{}", slave.as_raw_fd());
        let dst = format!("/proc/self/fd/{}", console.as_raw_fd());
        nix::mount::mount(
            Some(src.as_str()),
            dst.as_str(),
            None::<&str>,
            nix::mount::MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| sys_err(format!("mount({src:?}, \"/dev/console\", MS_BIND)"), e))?;
        drop(console);
    }
    crate::sys::process::set_controlling_tty(slave.as_fd())
        .map_err(|e| sys_err("ioctl(TIOCSCTTY)", e))?;
    nix::unistd::dup2_stdin(&slave).map_err(|e| sys_err("dup2(pty, 0)", e))?;
    nix::unistd::dup2_stdout(&slave).map_err(|e| sys_err("dup2(pty, 1)", e))?;
    nix::unistd::dup2_stderr(&slave).map_err(|e| sys_err("dup2(pty, 2)", e))?;
    let fds = [master.as_raw_fd()];
    let iov = [std::io::IoSlice::new(name.as_bytes())];
    sendmsg::<UnixAddr>(
        sock.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| sys_err("sendmsg(console socket)", e))?;
    Ok(())
}

/// The createRuntime/prestart sync with the parent, then createContainer hooks.
fn run_create_hooks(
    cfg: &InitConfig<'_>,
    ch: &Channel,
    hooks: Option<&oci_spec::runtime::Hooks>,
) -> Result<(), ErrorData> {
    #[allow(deprecated)]
    let runtime_hooks = !crate::hooks::of_kind(hooks, "prestart").is_empty()
        || !crate::hooks::of_kind(hooks, "createRuntime").is_empty();
    if runtime_hooks {
        ch.send_parent(&ToParent::CreateRuntimeHooks)
            .map_err(|e| sys_err("sync: send", e))?;
        expect(ch, ToChild::HooksDone)?;
    }
    let create_container = crate::hooks::of_kind(hooks, "createContainer");
    if !create_container.is_empty() {
        let state = hook_state(cfg, "created");
        crate::hooks::run("createContainer", create_container, &state)
            .map_err(|e| fail(e.to_string(), None))?;
    }

    Ok(())
}

/// Load the filter; with `SCMP_ACT_NOTIFY`, pass the listener fd to the parent and wait until
/// it reached the agent.
pub(super) fn load_seccomp(
    prog: &crate::security::seccomp::SeccompProgram,
    ch: &Channel,
) -> Result<(), ErrorData> {
    use crate::security::seccomp::SeccompError;
    let fd = prog.load().map_err(|e| match &e {
        SeccompError::Sys { source, .. } => fail(e.to_string(), source.raw_os_error()),
        _ => fail(e.to_string(), None),
    })?;
    if let Some(fd) = fd {
        ch.send_parent_fd(&ToParent::SeccompFd, fd.as_fd())
            .map_err(|e| sys_err("sync: send seccomp fd", e))?;
        expect(ch, ToChild::SeccompDone)?;
    }
    Ok(())
}

/// The tail shared by init and exec: bounding set, user and groups, the capability sets (S7:
/// exactly what is asked), umask, the cwd (retried as the user, then checked to be inside the
/// root, S2), `HOME`, and the `PATH` lookup of `args[0]`. `cwd_source` names where the cwd came
/// from in the error.
pub(super) fn become_process_user(
    process: &oci_spec::runtime::Process,
    new_userns: bool,
    cwd_done: bool,
    cwd_source: &str,
) -> Result<(Vec<String>, Vec<String>, std::path::PathBuf), ErrorData> {
    let sets = CapSets::from_spec(process.capabilities().as_ref());
    security::drop_bounding(&sets).map_err(|e| fail(e.to_string(), e.source.errno()))?;
    let user = process.user();
    let groups = user.additional_gids().clone().unwrap_or_default();
    let set_groups = !new_userns || setgroups_allowed();
    security::switch_user(user.uid(), user.gid(), &groups, set_groups)
        .map_err(|e| fail(e.to_string(), e.source.errno()))?;
    security::apply_caps(&sets).map_err(|e| fail(e.to_string(), e.source.errno()))?;
    if let Some(mask) = user.umask() {
        nix::sys::stat::umask(Mode::from_bits_truncate(mask as libc::mode_t));
    }
    let cwd = process.cwd();
    if !cwd_done {
        nix::unistd::chdir(cwd).map_err(|e| {
            sys_err(
                format!(
                    "chdir to cwd (\"{}\") set in {cwd_source} failed",
                    cwd.display()
                ),
                e,
            )
        })?;
    }
    // S2 (CVE-2024-21626): the working directory must be inside the container's root.
    match nix::unistd::getcwd() {
        Ok(p) if p.is_absolute() => {}
        _ => return Err(fail("current working directory is outside of container mount namespace root -- possible container breakout detected", None)),
    }
    let env = super::with_home(process.env().clone().unwrap_or_default(), user.uid());
    let args = process.args().clone().unwrap_or_default();
    let Some(arg0) = args.first() else {
        return Err(fail("process.args: must name the program to run", None));
    };
    let exe = super::look_path(arg0, &env).map_err(|m| fail(m, Some(libc::ENOENT)))?;
    Ok((env, args, exe))
}

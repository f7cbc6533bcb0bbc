//! System tests: load filters into forked children and make real syscalls.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::sync::Mutex;

use nix::errno::Errno;
use nix::sys::personality::{self, Persona};
use nix::sys::signal::Signal;
use nix::sys::stat::Mode;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{Pid, Whence};
use serde_json::json;

use super::{containerd, profile, prog, TempDir};
use crate::security::seccomp::{compile, process_state, send_to_listener};
use crate::sys::seccomp::testing::{fork_run, notif_recv, notif_send, recv_with_fds};

/// Forks in this module are serialized so that children do not inherit each other's fds.
pub(super) static FORK: Mutex<()> = Mutex::new(());

fn errno_of<T>(r: nix::Result<T>) -> i32 {
    match r {
        Ok(_) => 0,
        Err(e) => e as i32,
    }
}

fn io_errno(r: std::io::Result<()>) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => e.raw_os_error().unwrap_or(-1),
    }
}

/// Fork a child that sets no_new_privs, loads `program`, runs `probes` and writes their
/// results (0 or the errno) to a pipe. Returns the results and how the child ended.
fn run_child(
    program: &crate::security::seccomp::SeccompProgram,
    probes: Vec<Box<dyn Fn() -> i32>>,
) -> (Vec<i32>, WaitStatus) {
    let _g = FORK.lock().unwrap_or_else(|e| e.into_inner());
    let (rd, wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    let child = fork_run(|| {
        // SIGSYS (KILL, TRAP) would dump core into the working directory otherwise.
        let no_core = nix::sys::resource::Resource::RLIMIT_CORE;
        if nix::sys::resource::setrlimit(no_core, 0, 0).is_err() {
            return 99;
        }
        if nix::sys::prctl::set_no_new_privs().is_err() {
            return 100;
        }
        if program.load().is_err() {
            return 101;
        }
        let mut out = Vec::with_capacity(4 * probes.len());
        for probe in &probes {
            out.extend_from_slice(&probe().to_ne_bytes());
        }
        match nix::unistd::write(&wr, &out) {
            Ok(n) if n == out.len() => 0,
            _ => 102,
        }
    })
    .unwrap();
    drop(wr);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 256];
    loop {
        match nix::unistd::read(&rd, &mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(Errno::EINTR) => continue,
            Err(e) => panic!("read: {e}"),
        }
    }
    let status = waitpid(child, None).unwrap();
    let results = buf
        .chunks_exact(4)
        .map(|c| i32::from_ne_bytes(c.try_into().unwrap()))
        .collect();
    (results, status)
}

fn dev_null() -> OwnedFd {
    std::fs::File::open("/dev/null").unwrap().into()
}

#[test]
fn sys_errno_allow_trace_log_and_args() {
    let dir = TempDir::new("errno");
    let (a, b, c) = (dir.0.join("a"), dir.0.join("b"), dir.0.join("c"));
    std::fs::create_dir(&b).unwrap();
    let null = dev_null();
    let p = prog(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 123},
            {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["chdir"], "action": "SCMP_ACT_TRACE"},
            {"names": ["getppid"], "action": "SCMP_ACT_LOG"},
            {"names": ["lseek"], "action": "SCMP_ACT_ERRNO", "errnoRet": 77,
             "args": [{"index": 1, "value": 0x1_0000_0005u64, "op": "SCMP_CMP_EQ"}]},
            {"names": ["lseek"], "action": "SCMP_ACT_ERRNO", "errnoRet": 78,
             "args": [{"index": 1, "value": 0xffff_ffff_0000_0000u64, "op": "SCMP_CMP_GE"}]},
        ],
    }));
    let probes: Vec<Box<dyn Fn() -> i32>> = vec![
        Box::new(|| i32::from(nix::unistd::getpid().as_raw() <= 0)),
        Box::new(move || errno_of(nix::unistd::mkdir(&a, Mode::from_bits_truncate(0o700)))),
        Box::new(move || io_errno(std::fs::remove_dir(&b))),
        Box::new(move || errno_of(nix::unistd::chdir(&c))),
        Box::new(|| i32::from(nix::unistd::getppid().as_raw() <= 0)),
        Box::new({
            let fd = null.try_clone().unwrap();
            move || errno_of(nix::unistd::lseek(&fd, 5, Whence::SeekSet))
        }),
        Box::new({
            let fd = null.try_clone().unwrap();
            move || errno_of(nix::unistd::lseek(&fd, 0x1_0000_0005, Whence::SeekSet))
        }),
        Box::new({
            let fd = null.try_clone().unwrap();
            move || errno_of(nix::unistd::lseek(&fd, 0x1_0000_0006, Whence::SeekSet))
        }),
        Box::new({
            let fd = null.try_clone().unwrap();
            move || errno_of(nix::unistd::lseek(&fd, -5, Whence::SeekSet))
        }),
    ];
    let (results, status) = run_child(&p, probes);
    assert!(matches!(status, WaitStatus::Exited(_, 0)), "{status:?}");
    // getpid ok, mkdir 123, rmdir EPERM, chdir (TRACE, no tracer) ENOSYS, getppid logged
    // and allowed, lseek by 64-bit offset: exact 0x1_0000_0005 -> 77, negative -> 78.
    assert_eq!(results, vec![0, 123, 1, 38, 0, 0, 77, 0, 78]);
    assert!(dir.0.join("b").exists(), "rmdir was refused");
    assert!(!dir.0.join("a").exists(), "mkdir was refused");
}

#[test]
fn sys_enosys_stub_and_default_errno() {
    let dir = TempDir::new("enosys");
    let a = dir.0.join("a");
    let dirfd = std::fs::File::open(&dir.0).unwrap();
    // Default EPERM; the highest allowed syscall is exit_group (231), so mkdirat (258) is
    // "newer than the profile" and gets ENOSYS, while mkdir (83) gets the default.
    let p = prog(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["write", "exit_group", "brk", "mmap", "munmap", "mremap",
                                "getpid", "madvise", "rt_sigprocmask", "sigaltstack"],
                      "action": "SCMP_ACT_ALLOW"}],
    }));
    let probes: Vec<Box<dyn Fn() -> i32>> = vec![
        Box::new(|| i32::from(nix::unistd::getpid().as_raw() <= 0)),
        Box::new(move || errno_of(nix::unistd::mkdir(&a, Mode::from_bits_truncate(0o700)))),
        Box::new(move || {
            errno_of(nix::sys::stat::mkdirat(
                &dirfd,
                "b",
                Mode::from_bits_truncate(0o700),
            ))
        }),
    ];
    let (results, status) = run_child(&p, probes);
    assert!(matches!(status, WaitStatus::Exited(_, 0)), "{status:?}");
    assert_eq!(results, vec![0, libc::EPERM, libc::ENOSYS]);
}

#[test]
fn sys_containerd_profile_personality_and_unshare() {
    let p = containerd();
    let probes: Vec<Box<dyn Fn() -> i32>> = vec![
        Box::new(|| errno_of(personality::get())),
        Box::new(|| errno_of(personality::set(Persona::empty()))),
        Box::new(|| errno_of(personality::set(Persona::ADDR_NO_RANDOMIZE))),
        Box::new(|| errno_of(nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUTS))),
    ];
    let (results, status) = run_child(&p, probes);
    assert!(matches!(status, WaitStatus::Exited(_, 0)), "{status:?}");
    assert_eq!(results, vec![0, 0, libc::EPERM, libc::EPERM]);
}

fn killed_by(action: &str) -> WaitStatus {
    let p = prog(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getppid"], "action": action}],
    }));
    let probes: Vec<Box<dyn Fn() -> i32>> = vec![Box::new(|| nix::unistd::getppid().as_raw())];
    let (results, status) = run_child(&p, probes);
    assert!(
        results.is_empty(),
        "{action}: the child went on: {results:?}"
    );
    status
}

#[test]
fn sys_kill_actions_end_the_child_with_sigsys() {
    for action in [
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_TRAP",
    ] {
        match killed_by(action) {
            WaitStatus::Signaled(_, Signal::SIGSYS, _) => {}
            other => panic!("{action}: {other:?}"),
        }
    }
}

#[test]
fn sys_flags_are_accepted_by_the_kernel() {
    let p = prog(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                  "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
        "syscalls": [{"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 9}],
    }));
    let probes: Vec<Box<dyn Fn() -> i32>> = vec![Box::new(|| {
        io_errno(std::fs::remove_dir("/nonexistent-husk-test"))
    })];
    let (results, status) = run_child(&p, probes);
    assert!(matches!(status, WaitStatus::Exited(_, 0)), "{status:?}");
    assert_eq!(results, vec![9]);
}

/// SCMP_ACT_NOTIFY end to end: the child loads the filter and sends the fd with the state to
/// a listener (this test, as the agent), which answers the child's mkdir with EXDEV.
#[test]
fn sys_notify_sends_fd_and_state_to_the_listener() {
    let dir = TempDir::new("notify");
    let sock = dir.0.join("agent.sock");
    let target = dir.0.join("x");
    let listener = UnixListener::bind(&sock).unwrap();
    let p = compile(&profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": sock,
        "listenerMetadata": "meta=1",
        "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}],
    })))
    .unwrap();
    let _g = FORK.lock().unwrap_or_else(|e| e.into_inner());
    let (rd, wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    let child = fork_run(|| {
        if nix::sys::prctl::set_no_new_privs().is_err() {
            return 100;
        }
        let Ok(Some(fd)) = p.load() else { return 101 };
        let mut state = oci_spec::runtime::State::default();
        state.set_id("notify-test".into());
        let json = process_state(&state, nix::unistd::getpid().as_raw(), Some("meta=1"));
        if send_to_listener(&sock, &json, fd.as_fd()).is_err() {
            return 102;
        }
        drop(fd);
        let r = errno_of(nix::unistd::mkdir(&target, Mode::from_bits_truncate(0o700)));
        match nix::unistd::write(&wr, &r.to_ne_bytes()) {
            Ok(4) => 0,
            _ => 103,
        }
    })
    .unwrap();
    drop(wr);
    let reap = |child: Pid| waitpid(child, None).unwrap();

    // Accept with a bound: a child that failed early must fail the test, not hang it.
    let mut pfd = [nix::poll::PollFd::new(
        listener.as_fd(),
        nix::poll::PollFlags::POLLIN,
    )];
    let ready = nix::poll::poll(&mut pfd, 10_000u16).unwrap();
    if ready == 0 {
        let _ = nix::sys::signal::kill(child, Signal::SIGKILL);
        panic!("no connection from the child: {:?}", reap(child));
    }
    let (conn, _) = listener.accept().unwrap();
    let (data, mut fds) = recv_with_fds(conn.as_fd()).unwrap();
    assert_eq!(fds.len(), 1, "one fd as SCM_RIGHTS");
    let notify = fds.remove(0);
    let state: serde_json::Value = serde_json::from_slice(&data).unwrap();
    assert_eq!(state["fds"], json!(["seccompFd"]));
    assert_eq!(state["pid"], json!(child.as_raw()));
    assert_eq!(state["metadata"], json!("meta=1"));
    assert_eq!(state["state"]["id"], json!("notify-test"));

    let (id, pid, nr, _args) = notif_recv(notify.as_fd()).unwrap();
    assert_eq!(pid, child.as_raw() as u32);
    assert_eq!(i64::from(nr), libc::SYS_mkdir);
    notif_send(notify.as_fd(), id, 0, -libc::EXDEV).unwrap();

    let mut buf = [0u8; 4];
    let n = nix::unistd::read(&rd, &mut buf).unwrap();
    let status = reap(child);
    assert!(matches!(status, WaitStatus::Exited(_, 0)), "{status:?}");
    assert_eq!(n, 4);
    assert_eq!(i32::from_ne_bytes(buf), libc::EXDEV);
    assert!(!dir.0.join("x").exists());
}

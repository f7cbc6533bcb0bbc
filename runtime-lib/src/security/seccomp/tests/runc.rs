//! The same syscalls under runc 1.1.5 (with its libseccomp) and under husk's filter, for both
//! real engine profiles: mount, unshare, keyctl, ptrace, personality with arguments, clone with
//! namespace flags, clone3, socket families, and syscalls newer than the profile.
//!
//! The probe is this test binary itself, run as the ignored test [`probe`]: inside a runc
//! container (host /usr bind-mounted read-only for its shared libraries), and in a forked child
//! that loads husk's program and execs it. Every call passes arguments that the kernel rejects
//! with a fixed errno when the filter lets the call through (bad pointers, invalid flags), so
//! the result shows the filter's decision and not the capabilities or namespaces around it.

use std::ffi::CString;
use std::path::Path;

use nix::sys::wait::{waitpid, WaitStatus};
use serde_json::json;

use super::{profile, TempDir};
use crate::security::seccomp::compile;
use crate::sys::seccomp::testing::{fork_run, probe_syscall};

const PROBE_ENV: &str = "HUSK_SECCOMP_PROBE=1";

/// (name, syscall, arguments). With the call allowed, each fails in the kernel's own checks.
fn probes() -> Vec<(&'static str, libc::c_long, [u64; 6])> {
    const BAD: u64 = 1; // an invalid user pointer
    vec![
        ("mount", libc::SYS_mount, [BAD, BAD, BAD, 0, 0, 0]), // EFAULT copying the type
        ("umount2", libc::SYS_umount2, [BAD, 0, 0, 0, 0, 0]), // EFAULT on the path
        ("unshare(0x1)", libc::SYS_unshare, [1, 0, 0, 0, 0, 0]), // EINVAL: unknown flag
        ("keyctl(9999)", libc::SYS_keyctl, [9999, 0, 0, 0, 0, 0]), // EOPNOTSUPP
        ("add_key", libc::SYS_add_key, [BAD, BAD, 0, 0, 0, 0]), // EFAULT
        (
            "ptrace(SEIZE, 0)",
            libc::SYS_ptrace,
            [0x4206, 0, 0, 0, 0, 0],
        ), // ESRCH
        (
            "personality(query)",
            libc::SYS_personality,
            [0xffff_ffff, 0, 0, 0, 0, 0],
        ),
        (
            "personality(PER_LINUX)",
            libc::SYS_personality,
            [0, 0, 0, 0, 0, 0],
        ),
        (
            "personality(0x1_0000_0000)",
            libc::SYS_personality,
            [1 << 32, 0, 0, 0, 0, 0],
        ),
        (
            "personality(ADDR_NO_RANDOMIZE)",
            libc::SYS_personality,
            [0x0040000, 0, 0, 0, 0, 0],
        ),
        // NEWNS|FS and NEWUSER|FS are invalid combinations (EINVAL), THREAD without SIGHAND too.
        (
            "clone(NEWNS|FS)",
            libc::SYS_clone,
            [0x0002_0200, 0, 0, 0, 0, 0],
        ),
        (
            "clone(NEWUSER|FS)",
            libc::SYS_clone,
            [0x1000_0200, 0, 0, 0, 0, 0],
        ),
        (
            "clone(NEWNET|NEWNS|FS)",
            libc::SYS_clone,
            [0x4002_0200, 0, 0, 0, 0, 0],
        ),
        (
            "clone(THREAD)",
            libc::SYS_clone,
            [0x0001_0000, 0, 0, 0, 0, 0],
        ),
        ("clone3(NULL, 0)", libc::SYS_clone3, [0, 0, 0, 0, 0, 0]), // EINVAL: size 0
        ("setns(-1)", libc::SYS_setns, [u64::MAX, 0, 0, 0, 0, 0]), // EBADF
        ("bpf(-1)", libc::SYS_bpf, [0xffff, 0, 0, 0, 0, 0]),
        (
            "perf_event_open",
            libc::SYS_perf_event_open,
            [BAD, 0, u64::MAX, u64::MAX, 0, 0],
        ),
        (
            "userfaultfd(-1)",
            libc::SYS_userfaultfd,
            [0xffff_ffff, 0, 0, 0, 0, 0],
        ),
        (
            "io_uring_setup(0)",
            libc::SYS_io_uring_setup,
            [0, 0, 0, 0, 0, 0],
        ),
        (
            "process_vm_readv(0)",
            libc::SYS_process_vm_readv,
            [0, 0, 0, 0, 0, 0],
        ),
        ("chroot", libc::SYS_chroot, [BAD, 0, 0, 0, 0, 0]),
        (
            "clock_settime",
            libc::SYS_clock_settime,
            [0, BAD, 0, 0, 0, 0],
        ),
        (
            "kexec_load",
            libc::SYS_kexec_load,
            [0, 0, 0, 0xffff_ffff, 0, 0],
        ),
        ("acct", libc::SYS_acct, [BAD, 0, 0, 0, 0, 0]),
        (
            "open_by_handle_at",
            libc::SYS_open_by_handle_at,
            [u64::MAX, BAD, 0, 0, 0, 0],
        ),
        // Newer than both profiles (ENOSYS stub or default), and one the kernel lacks.
        ("cachestat(-1)", 451, [u64::MAX, 0, 0, 0, 0, 0]),
        ("mseal(0, 0)", 462, [0, 0, 0, 0, 0, 0]),
        ("listns", 470, [0, 0, 0, 0, 0, 0]),
    ]
}

fn sockets() -> Vec<(&'static str, i32, i32)> {
    vec![
        ("socket(AF_UNIX)", libc::AF_UNIX, libc::SOCK_STREAM),
        ("socket(AF_INET)", libc::AF_INET, libc::SOCK_DGRAM),
        ("socket(AF_INET6)", libc::AF_INET6, libc::SOCK_DGRAM),
        ("socket(AF_NETLINK)", libc::AF_NETLINK, libc::SOCK_RAW),
        ("socket(AF_VSOCK)", libc::AF_VSOCK, libc::SOCK_STREAM),
    ]
}

/// Run inside runc and under husk's filter; prints one `PROBE <name> <result>` line per call.
#[test]
#[ignore = "the probe the runc comparison runs under a filter"]
fn probe() {
    for (name, nr, args) in probes() {
        let r = match probe_syscall(nr, args) {
            Ok(_) => "ok".to_string(),
            Err(e) => e.to_string(),
        };
        println!("PROBE {name} {r}");
    }
    for (name, domain, ty) in sockets() {
        let r = match nix::sys::socket::socket(
            nix::sys::socket::AddressFamily::from_i32(domain).unwrap(),
            if ty == libc::SOCK_STREAM {
                nix::sys::socket::SockType::Stream
            } else if ty == libc::SOCK_DGRAM {
                nix::sys::socket::SockType::Datagram
            } else {
                nix::sys::socket::SockType::Raw
            },
            nix::sys::socket::SockFlag::SOCK_CLOEXEC,
            None,
        ) {
            Ok(_fd) => "ok".to_string(),
            Err(e) => (e as i32).to_string(),
        };
        println!("PROBE {name} {r}");
    }
}

fn probe_args(exe: &str) -> Vec<String> {
    [
        exe,
        "--ignored",
        "--exact",
        "security::seccomp::tests::runc::probe",
        "--nocapture",
        "--test-threads=1",
    ]
    .map(String::from)
    .to_vec()
}

fn parse(out: &str) -> Vec<(String, String)> {
    out.lines()
        // With --nocapture the harness's "test ... probe ... " shares the first line.
        .filter_map(|l| l.find("PROBE ").map(|i| &l[i + "PROBE ".len()..]))
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(n, r)| (n.to_string(), r.to_string()))
        .collect()
}

fn under_runc(dir: &Path, seccomp: &serde_json::Value, exe: &Path) -> Result<String, String> {
    let bundle = dir.join("bundle");
    let rootfs = bundle.join("rootfs");
    for d in ["usr", "proc", "dev", "sys", "tmp"] {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    // Debian is merged-/usr: the dynamic loader and libc are reached through these links.
    std::os::unix::fs::symlink("usr/lib", rootfs.join("lib")).unwrap();
    std::os::unix::fs::symlink("usr/lib64", rootfs.join("lib64")).unwrap();
    std::fs::write(rootfs.join("probe"), b"").unwrap();
    let out = std::process::Command::new("runc")
        .args(["spec", "--bundle"])
        .arg(&bundle)
        .output()
        .map_err(|e| format!("runc spec: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "runc spec: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let path = bundle.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    config["process"]["terminal"] = json!(false);
    config["process"]["args"] = json!(probe_args("/probe"));
    config["process"]["env"] = json!(["PATH=/usr/bin:/bin", PROBE_ENV]);
    config["linux"]["seccomp"] = seccomp.clone();
    let mounts = config["mounts"].as_array_mut().unwrap();
    mounts.push(
        json!({"destination": "/usr", "type": "bind", "source": "/usr",
                       "options": ["rbind", "ro"]}),
    );
    mounts.push(
        json!({"destination": "/probe", "type": "bind", "source": exe,
                       "options": ["bind", "ro"]}),
    );
    std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    let id = format!("husk-seccomp-cmp-{}", std::process::id());
    let out = std::process::Command::new("runc")
        .arg("--root")
        .arg(dir.join("runc-state"))
        .args(["run", "--bundle"])
        .arg(&bundle)
        .arg(&id)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("runc run: {e}"));
    // `run` deletes the container when it exits; this covers a run that failed half-way
    // (cgroups, state), and is a no-op otherwise.
    let _ = std::process::Command::new("runc")
        .arg("--root")
        .arg(dir.join("runc-state"))
        .args(["delete", "--force", &id])
        .output();
    let out = out?;
    if !out.status.success() {
        return Err(format!(
            "runc run: {:?}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn under_husk(seccomp: &serde_json::Value, exe: &Path) -> String {
    let program = compile(&profile(seccomp.clone())).unwrap();
    let exe_c = CString::new(exe.as_os_str().as_encoded_bytes()).unwrap();
    let args: Vec<CString> = probe_args(exe.to_str().unwrap())
        .into_iter()
        .map(|a| CString::new(a).unwrap())
        .collect();
    let env = [
        CString::new(PROBE_ENV).unwrap(),
        CString::new("PATH=/usr/bin:/bin").unwrap(),
    ];
    let _g = super::system::FORK
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let (rd, wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    let child = fork_run(|| {
        if nix::unistd::dup2_stdout(&wr).is_err() {
            return 100;
        }
        if nix::sys::prctl::set_no_new_privs().is_err() {
            return 101;
        }
        if program.load().is_err() {
            return 102;
        }
        let _ = nix::unistd::execve(&exe_c, &args, &env);
        103
    })
    .unwrap();
    drop(wr);
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match nix::unistd::read(&rd, &mut chunk) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => panic!("read: {e}"),
        }
    }
    let status = waitpid(child, None).unwrap();
    assert!(
        matches!(status, WaitStatus::Exited(_, 0)),
        "probe under husk: {status:?}"
    );
    String::from_utf8_lossy(&out).into_owned()
}

fn compare(name: &str, profile_json: &str) {
    if nix::unistd::geteuid().as_raw() != 0 {
        println!("SKIPPED: runc comparison needs root");
        return;
    }
    if std::process::Command::new("runc")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("SKIPPED: runc is not installed");
        return;
    }
    let seccomp: serde_json::Value = serde_json::from_str(profile_json).unwrap();
    let exe = std::env::current_exe().unwrap();
    let dir = TempDir::new(&format!("runc-{name}"));
    let runc = parse(&under_runc(&dir.0, &seccomp, &exe).unwrap_or_else(|e| panic!("{e}")));
    let husk = parse(&under_husk(&seccomp, &exe));
    let expected = probes().len() + sockets().len();
    assert_eq!(runc.len(), expected, "runc probe output: {runc:?}");
    println!("{name}: {:<32} {:>6} {:>6}", "call", "runc", "husk");
    for ((call, r), (_, h)) in runc.iter().zip(&husk) {
        println!("{name}: {call:<32} {r:>6} {h:>6}");
    }
    assert_eq!(runc, husk);
}

#[test]
fn same_results_as_runc_containerd_profile() {
    compare(
        "containerd",
        include_str!("../testdata/containerd-1.6.json"),
    );
}

#[test]
fn same_results_as_runc_podman_profile() {
    compare("podman", include_str!("../testdata/podman-4.3.json"));
}

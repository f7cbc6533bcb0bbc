//! The same calls inside a runc 1.1.5 container and inside a husk container, each made from
//! the REAL engine config (podman 4.3's and containerd 1.6's `config.json`, with their seccomp
//! profile, capabilities, namespaces, masked paths and all; only the root filesystem is a
//! busybox one and the process is the probe), compared call by call: return, errno or signal.
//! issue 5's "no difference over the whole list of calls, for both real profiles".
//!
//! The probe is this test binary itself, run as the ignored test [`probe`], copied with its
//! shared libraries into the busybox root filesystem (one bundle, run by both runtimes). Each
//! call is made in a forked child, so that calls which succeed (unshare, clone with namespace
//! flags, personality, sockets) or kill (`SCMP_ACT_KILL`) leave the probe as it was. Calls come
//! in two kinds: with arguments the kernel rejects with a fixed errno once the filter lets them
//! through (bad pointers, invalid flags: the result is the filter's decision), and real ones
//! (the result is the filter AND the capabilities/namespaces the runtime set up).

use std::ffi::CString;
use std::path::Path;

use serde_json::json;

use super::TempDir;
use crate::sys::seccomp::testing::{fork_run, syscall_in_child, Outcome};

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

/// Memory the real calls point into; it outlives every call (the child has a copy).
struct Buffers {
    none: CString,
    missing: CString,
    tmpfs: CString,
    root: CString,
    clone3_plain: Vec<u64>,
    clone3_newuser: Vec<u64>,
    uring_params: Vec<u8>,
}

impl Buffers {
    fn new() -> Buffers {
        const SIGCHLD: u64 = 17;
        // struct clone_args (88 bytes, CLONE_ARGS_SIZE_VER2): flags, pidfd, child_tid,
        // parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup.
        let clone_args = |flags: u64| {
            let mut a = vec![0u64; 11];
            a[0] = flags;
            a[4] = SIGCHLD;
            a
        };
        Buffers {
            none: CString::new("none").unwrap(),
            missing: CString::new("/husk-probe-no-such-dir").unwrap(),
            tmpfs: CString::new("tmpfs").unwrap(),
            root: CString::new("/").unwrap(),
            clone3_plain: clone_args(0),
            clone3_newuser: clone_args(CLONE_NEWUSER),
            // struct io_uring_params: 120 bytes, all zero on input.
            uring_params: vec![0u8; 120],
        }
    }
}

const CLONE_NEWUSER: u64 = 0x1000_0000;
const NAMESPACE_FLAGS: [(&str, u64); 8] = [
    ("NEWNS", 0x0002_0000),
    ("NEWCGROUP", 0x0200_0000),
    ("NEWUTS", 0x0400_0000),
    ("NEWIPC", 0x0800_0000),
    ("NEWUSER", CLONE_NEWUSER),
    ("NEWPID", 0x2000_0000),
    ("NEWNET", 0x4000_0000),
    ("NEWTIME", 0x80),
];

/// Real calls: (name, syscall, arguments). Safe to make in a child of a process in a
/// container (the probe refuses to run elsewhere): mounts aim at a missing directory, nothing
/// writes host state.
fn real_probes(b: &Buffers) -> Vec<(String, libc::c_long, [u64; 6])> {
    let p = |c: &CString| c.as_ptr() as u64;
    let mut v: Vec<(String, libc::c_long, [u64; 6])> = vec![
        // The path is looked up before the capability check: ENOENT when the filter allows.
        (
            "mount(tmpfs on a missing dir)".into(),
            libc::SYS_mount,
            [p(&b.none), p(&b.missing), p(&b.tmpfs), 0, 0, 0],
        ),
        (
            "umount2(missing dir)".into(),
            libc::SYS_umount2,
            [p(&b.missing), 0, 0, 0, 0, 0],
        ),
        (
            "chroot(/)".into(),
            libc::SYS_chroot,
            [p(&b.root), 0, 0, 0, 0, 0],
        ),
        (
            "keyctl(GET_KEYRING_ID, SESSION)".into(),
            libc::SYS_keyctl,
            [0, (-3i64) as u64, 0, 0, 0, 0],
        ),
        (
            "keyctl(JOIN_SESSION_KEYRING)".into(),
            libc::SYS_keyctl,
            [1, 0, 0, 0, 0, 0],
        ),
        (
            "ptrace(TRACEME)".into(),
            libc::SYS_ptrace,
            [0, 0, 0, 0, 0, 0],
        ),
        (
            "clone3(plain fork)".into(),
            libc::SYS_clone3,
            [b.clone3_plain.as_ptr() as u64, 88, 0, 0, 0, 0],
        ),
        (
            "clone3(NEWUSER)".into(),
            libc::SYS_clone3,
            [b.clone3_newuser.as_ptr() as u64, 88, 0, 0, 0, 0],
        ),
        (
            "clone(SIGCHLD)".into(),
            libc::SYS_clone,
            [17, 0, 0, 0, 0, 0],
        ),
        (
            "userfaultfd(0)".into(),
            libc::SYS_userfaultfd,
            [0, 0, 0, 0, 0, 0],
        ),
        (
            "io_uring_setup(1)".into(),
            libc::SYS_io_uring_setup,
            [1, b.uring_params.as_ptr() as u64, 0, 0, 0, 0],
        ),
        (
            "pidfd_open(self)".into(),
            libc::SYS_pidfd_open,
            [1, 0, 0, 0, 0, 0],
        ),
        // SYSLOG_ACTION_SIZE_BUFFER: reads nothing.
        (
            "syslog(SIZE_BUFFER)".into(),
            libc::SYS_syslog,
            [10, 0, 0, 0, 0, 0],
        ),
        // Lowering the I/O privilege level to 0 changes nothing.
        ("iopl(0)".into(), libc::SYS_iopl, [0, 0, 0, 0, 0, 0]),
        (
            "ioperm(0, 0, 0)".into(),
            libc::SYS_ioperm,
            [0, 0, 0, 0, 0, 0],
        ),
        // MPOL_DEFAULT: the policy every process has.
        (
            "set_mempolicy(DEFAULT)".into(),
            libc::SYS_set_mempolicy,
            [0, 0, 0, 0, 0, 0],
        ),
        (
            "get_mempolicy".into(),
            libc::SYS_get_mempolicy,
            [0, 0, 0, 0, 0, 0],
        ),
        // LANDLOCK_CREATE_RULESET_VERSION: a query.
        (
            "landlock_create_ruleset(VERSION)".into(),
            libc::SYS_landlock_create_ruleset,
            [0, 0, 1, 0, 0, 0],
        ),
        ("memfd_secret(0)".into(), 447, [0, 0, 0, 0, 0, 0]),
        (
            "reboot(bad magic)".into(),
            libc::SYS_reboot,
            [0, 0, 0, 0, 0, 0],
        ),
        (
            "swapoff(missing)".into(),
            libc::SYS_swapoff,
            [p(&b.missing), 0, 0, 0, 0, 0],
        ),
        (
            "delete_module(bad ptr)".into(),
            libc::SYS_delete_module,
            [1, 0, 0, 0, 0, 0],
        ),
        (
            "finit_module(-1)".into(),
            libc::SYS_finit_module,
            [u64::MAX, 0, 0, 0, 0, 0],
        ),
        (
            "quotactl(bad)".into(),
            libc::SYS_quotactl,
            [0, 1, 0, 1, 0, 0],
        ),
        (
            "fanotify_init(bad flags)".into(),
            libc::SYS_fanotify_init,
            [u64::MAX, 0, 0, 0, 0, 0],
        ),
        (
            "name_to_handle_at(bad)".into(),
            libc::SYS_name_to_handle_at,
            [u64::MAX, 1, 1, 1, 0, 0],
        ),
        (
            "fsopen(bad ptr)".into(),
            libc::SYS_fsopen,
            [1, 0, 0, 0, 0, 0],
        ),
        (
            "open_tree(-1, bad)".into(),
            libc::SYS_open_tree,
            [u64::MAX, 1, 0, 0, 0, 0],
        ),
        (
            "move_mount(bad)".into(),
            libc::SYS_move_mount,
            [u64::MAX, 1, u64::MAX, 1, 0, 0],
        ),
        (
            "mount_setattr(bad)".into(),
            libc::SYS_mount_setattr,
            [u64::MAX, 1, 0, 1, 0, 0],
        ),
        (
            "pidfd_getfd(-1)".into(),
            libc::SYS_pidfd_getfd,
            [u64::MAX, 0, 0, 0, 0, 0],
        ),
        (
            "lookup_dcookie".into(),
            libc::SYS_lookup_dcookie,
            [0, 0, 0, 0, 0, 0],
        ),
        (
            "nfsservctl".into(),
            libc::SYS_nfsservctl,
            [0, 0, 0, 0, 0, 0],
        ),
        ("_sysctl".into(), libc::SYS__sysctl, [0, 0, 0, 0, 0, 0]),
        ("create_module".into(), 174, [0, 0, 0, 0, 0, 0]),
        ("uselib(bad)".into(), libc::SYS_uselib, [1, 0, 0, 0, 0, 0]),
        ("ustat(bad)".into(), libc::SYS_ustat, [0, 1, 0, 0, 0, 0]),
        ("sysfs(bad)".into(), libc::SYS_sysfs, [0, 0, 0, 0, 0, 0]),
        ("tuxcall".into(), libc::SYS_tuxcall, [0, 0, 0, 0, 0, 0]),
        (
            "request_key(bad)".into(),
            libc::SYS_request_key,
            [1, 1, 0, 0, 0, 0],
        ),
        (
            "adjtimex(bad)".into(),
            libc::SYS_adjtimex,
            [1, 0, 0, 0, 0, 0],
        ),
        (
            "clock_adjtime(bad)".into(),
            libc::SYS_clock_adjtime,
            [0, 1, 0, 0, 0, 0],
        ),
        (
            "settimeofday(NULL, NULL)".into(),
            libc::SYS_settimeofday,
            [0, 0, 0, 0, 0, 0],
        ),
        (
            "kexec_file_load(-1)".into(),
            libc::SYS_kexec_file_load,
            [u64::MAX, u64::MAX, 0, 0, 0, 0],
        ),
        (
            "bpf(PROG_LOAD, bad)".into(),
            libc::SYS_bpf,
            [5, 1, 128, 0, 0, 0],
        ),
        (
            "process_madvise(-1)".into(),
            libc::SYS_process_madvise,
            [u64::MAX, 0, 0, 0, 0, 0],
        ),
        (
            "set_mempolicy_home_node(bad)".into(),
            450,
            [0, 0, 0, 1, 0, 0],
        ),
        ("futex_waitv(bad)".into(), 449, [1, 1, 0, 0, 0, 0]),
    ];
    for (n, f) in NAMESPACE_FLAGS {
        v.push((
            format!("unshare({n})"),
            libc::SYS_unshare,
            [f, 0, 0, 0, 0, 0],
        ));
        // clone(2) cannot ask for NEWTIME: 0x80 is in its exit-signal byte (CSIGNAL).
        if f == 0x80 {
            continue;
        }
        // Stack 0: the child runs on a copy of the stack, like fork, and exits at once.
        v.push((
            format!("clone(SIGCHLD|{n})"),
            libc::SYS_clone,
            [f | 17, 0, 0, 0, 0, 0],
        ));
    }
    for (n, arg) in [
        ("PER_LINUX32", 0x0008),
        ("UNAME26", 0x2_0000),
        ("PER_LINUX32|UNAME26", 0x2_0008),
        ("READ_IMPLIES_EXEC", 0x40_0000),
        ("PER_BSD", 0x0006),
        ("0xffff_fffe", 0xffff_fffe),
    ] {
        v.push((
            format!("personality({n})"),
            libc::SYS_personality,
            [arg, 0, 0, 0, 0, 0],
        ));
    }
    v
}

fn sockets() -> Vec<(&'static str, i32, i32, i32)> {
    use libc::{SOCK_DGRAM as D, SOCK_RAW as R, SOCK_SEQPACKET as Q, SOCK_STREAM as S};
    vec![
        ("AF_UNIX", libc::AF_UNIX, S, 0),
        ("AF_INET", libc::AF_INET, D, 0),
        ("AF_INET raw icmp", libc::AF_INET, R, libc::IPPROTO_ICMP),
        ("AF_INET6", libc::AF_INET6, D, 0),
        ("AF_NETLINK route", libc::AF_NETLINK, R, libc::NETLINK_ROUTE),
        ("AF_NETLINK audit", libc::AF_NETLINK, R, libc::NETLINK_AUDIT),
        (
            "AF_NETLINK kobject_uevent",
            libc::AF_NETLINK,
            R,
            libc::NETLINK_KOBJECT_UEVENT,
        ),
        ("AF_PACKET", libc::AF_PACKET, R, 0),
        ("AF_KEY", libc::AF_KEY, R, 2),
        ("AF_VSOCK", libc::AF_VSOCK, S, 0),
        ("AF_BLUETOOTH", libc::AF_BLUETOOTH, R, 0),
        ("AF_ALG", libc::AF_ALG, Q, 0),
        ("AF_TIPC", libc::AF_TIPC, libc::SOCK_RDM, 0),
        ("AF_CAN", libc::AF_CAN, R, 1),
        ("AF_XDP", libc::AF_XDP, R, 0),
        ("AF_RDS", libc::AF_RDS, Q, 0),
        ("AF_SMC", 43, S, 0),
        ("AF_APPLETALK", libc::AF_APPLETALK, D, 0),
        ("AF_X25", libc::AF_X25, Q, 0),
        ("AF_NFC", libc::AF_NFC, Q, 0),
        ("AF_LLC", libc::AF_LLC, D, 0),
        ("family 46 (beyond AF_MAX of the profiles)", 46, S, 0),
    ]
}

/// The outcome as the comparison table shows it.
fn render(o: Outcome) -> String {
    match o {
        Outcome::Ok => "ok".into(),
        Outcome::Errno(e) => nix::errno::Errno::from_raw(e)
            .to_string()
            .split(':')
            .next()
            .unwrap_or("?")
            .to_string(),
        Outcome::Signal(s) => nix::sys::signal::Signal::try_from(s)
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|_| format!("signal {s}")),
    }
}

/// Run inside a container; prints one `PROBE\t<name>\t<result>` line per call.
#[test]
#[ignore = "the probe the runc comparison runs inside containers"]
fn probe() {
    // Real calls (unshare, clone, sockets, chroot) happen in children, but must never be made
    // on the host: only as the init of a container's own pid namespace, with the marker.
    if std::env::var_os("HUSK_SECCOMP_PROBE").is_none() || std::process::id() != 1 {
        println!("SKIPPED: the probe runs only as a container's init (HUSK_SECCOMP_PROBE=1)");
        return;
    }
    let _g = super::system::FORK
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let b = Buffers::new();
    let mut calls: Vec<(String, libc::c_long, [u64; 6])> = probes()
        .into_iter()
        .map(|(n, nr, a)| (n.to_string(), nr, a))
        .collect();
    calls.extend(real_probes(&b));
    for (name, domain, ty, proto) in sockets() {
        calls.push((
            format!("socket({name})"),
            libc::SYS_socket,
            [
                domain as u64,
                (ty | libc::SOCK_CLOEXEC) as u64,
                proto as u64,
                0,
                0,
                0,
            ],
        ));
    }
    for (name, nr, args) in &calls {
        let r = match syscall_in_child(*nr, *args) {
            Ok(o) => render(o),
            Err(e) => format!("fork-failed-{e}"),
        };
        println!("PROBE\t{name}\t{r}");
    }
    drop(b);
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
        .filter_map(|l| l.find("PROBE\t").map(|i| &l[i + "PROBE\t".len()..]))
        .filter_map(|l| l.split_once('\t'))
        .map(|(n, r)| (n.to_string(), r.to_string()))
        .collect()
}

/// One bundle for both runtimes: the engine's config with the probe as the process, a
/// cgroupsPath of our own, and a busybox root filesystem holding the probe and its libraries.
fn make_bundle(dir: &Path, config_json: &str, exe: &Path) -> Result<std::path::PathBuf, String> {
    let bundle = dir.join("bundle");
    let rootfs = bundle.join("rootfs");
    std::fs::create_dir_all(&bundle).map_err(|e| e.to_string())?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/mk-bundle.sh");
    std::fs::write(bundle.join("config.json"), b"{}").map_err(|e| e.to_string())?;
    let st = std::process::Command::new("sh")
        .arg(&script)
        .arg(&bundle)
        .status()
        .map_err(|e| format!("mk-bundle: {e}"))?;
    if !st.success() {
        return Err(format!("mk-bundle: {st}"));
    }
    // The probe and what its dynamic loader needs, at the same paths.
    let probe = rootfs.join("probe");
    if std::fs::hard_link(exe, &probe).is_err() {
        std::fs::copy(exe, &probe).map_err(|e| format!("copy the probe: {e}"))?;
    }
    let ldd = std::process::Command::new("ldd")
        .arg(exe)
        .output()
        .map_err(|e| format!("ldd: {e}"))?;
    for lib in String::from_utf8_lossy(&ldd.stdout)
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
    {
        let dest = rootfs.join(lib.trim_start_matches('/'));
        std::fs::create_dir_all(dest.parent().unwrap()).map_err(|e| e.to_string())?;
        std::fs::copy(lib, &dest).map_err(|e| format!("copy {lib}: {e}"))?;
    }
    let mut config: serde_json::Value = serde_json::from_str(config_json).unwrap();
    config["process"]["terminal"] = json!(false);
    config["process"]["args"] = json!(probe_args("/probe"));
    config["process"]["env"] = json!(["PATH=/bin:/usr/bin", PROBE_ENV]);
    config["root"] = json!({"path": "rootfs"});
    // podman's bind-mount sources (see /work/shared/data/configs/README.md).
    let userdata = bundle.join("userdata");
    std::fs::create_dir_all(userdata.join("shm")).map_err(|e| e.to_string())?;
    for f in ["hosts", "hostname", ".containerenv"] {
        std::fs::write(userdata.join(f), b"").map_err(|e| e.to_string())?;
    }
    std::fs::write(
        bundle.join("config.json"),
        serde_json::to_vec_pretty(&config).unwrap(),
    )
    .map_err(|e| e.to_string())?;
    Ok(bundle)
}

fn with_cgroup(bundle: &Path, cgroup: &str) {
    let path = bundle.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    config["linux"]["cgroupsPath"] = json!(cgroup);
    std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
}

fn under_runc(dir: &Path, bundle: &Path, id: &str) -> Result<String, String> {
    let state = dir.join("runc-state");
    let out = std::process::Command::new("runc")
        .arg("--root")
        .arg(&state)
        .args(["run", "--bundle"])
        .arg(bundle)
        .arg(id)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("runc run: {e}"));
    // `run` deletes the container when it exits; this covers a run that failed half-way
    // (cgroups, state), and is a no-op otherwise.
    let _ = std::process::Command::new("runc")
        .arg("--root")
        .arg(&state)
        .args(["delete", "--force", id])
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

/// Read a pipe to its end.
fn read_all(fd: &std::os::fd::OwnedFd) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match nix::unistd::read(fd, &mut chunk) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => break,
        }
    }
    out
}

/// The same bundle as a husk container, through the library: create, start, wait, delete,
/// in a forked child (the library forks only from a single-threaded process; the test
/// harness has threads). The container's stdout is the pipe read here.
fn under_husk(dir: &Path, bundle: &Path, id: &str) -> Result<String, String> {
    use nix::sys::wait::{waitpid, WaitStatus};
    let state = dir.join("husk-state");
    let _g = super::system::FORK
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let (rd, wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    let (erd, ewr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    let child = fork_run(|| {
        if nix::unistd::dup2_stdout(&wr).is_err() {
            return 100;
        }
        let run = || -> Result<i32, String> {
            let mut c = crate::ContainerBuilder::new(id, bundle)
                .state_root(&state)
                .detached(false)
                .create()
                .map_err(|e| format!("create: {e}"))?;
            c.start().map_err(|e| format!("start: {e}"))?;
            let st = c.wait().map_err(|e| format!("wait: {e}"))?;
            c.delete(true).map_err(|e| format!("delete: {e}"))?;
            Ok(st.code())
        };
        match run() {
            Ok(0) => 0,
            Ok(n) => {
                let _ = nix::unistd::write(&ewr, format!("the probe exited {n}").as_bytes());
                101
            }
            Err(e) => {
                let _ = nix::unistd::write(&ewr, e.as_bytes());
                if let Ok(c) = crate::Container::load(&state, id) {
                    let _ = c.delete(true);
                }
                102
            }
        }
    })
    .map_err(|e| format!("fork: {e}"))?;
    drop(wr);
    drop(ewr);
    let out = read_all(&rd);
    let err = read_all(&erd);
    let status = waitpid(child, None).map_err(|e| format!("waitpid: {e}"))?;
    if !matches!(status, WaitStatus::Exited(_, 0)) {
        return Err(format!(
            "husk: {status:?}: {}",
            String::from_utf8_lossy(&err)
        ));
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn compare(name: &str, config_json: &str) {
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
    let has_busybox = std::process::Command::new("sh")
        .args(["-c", "command -v busybox"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_busybox {
        println!("SKIPPED: no busybox for the root filesystem (apt-get install busybox-static)");
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let dir = TempDir::new(&format!("incontainer-{name}"));
    let bundle = make_bundle(&dir.0, config_json, &exe).unwrap_or_else(|e| panic!("{e}"));
    let tag = format!("husk-seccmp-{}-{name}", std::process::id());
    with_cgroup(&bundle, &format!("/{tag}-runc"));
    let runc = under_runc(&dir.0, &bundle, &format!("{tag}-runc"));
    with_cgroup(&bundle, &format!("/{tag}-husk"));
    let husk = under_husk(&dir.0, &bundle, &format!("{tag}-husk"));
    let runc = parse(&runc.unwrap_or_else(|e| panic!("{e}")));
    let husk = parse(&husk.unwrap_or_else(|e| panic!("{e}")));
    let b = Buffers::new();
    let expected = probes().len() + real_probes(&b).len() + sockets().len();
    assert_eq!(runc.len(), expected, "runc probe output: {runc:?}");
    assert_eq!(husk.len(), expected, "husk probe output: {husk:?}");
    let mut table = format!("{name}: {:<44} {:>12} {:>12}\n", "call", "runc", "husk");
    let mut differ = 0;
    for ((call, r), (hcall, h)) in runc.iter().zip(&husk) {
        assert_eq!(call, hcall, "the probes ran different lists");
        let mark = if r == h { "" } else { "  <-- differs" };
        differ += usize::from(r != h);
        table.push_str(&format!("{name}: {call:<44} {r:>12} {h:>12}{mark}\n"));
    }
    println!("{table}");
    assert_eq!(
        differ, 0,
        "{differ} calls differ between runc and husk:\n{table}"
    );
}

#[test]
fn same_results_as_runc_containerd_config() {
    compare(
        "containerd",
        include_str!("../../../rootfs/testdata/containerd-1.6-busybox-seccomp.json"),
    );
}

#[test]
fn same_results_as_runc_podman_config() {
    compare(
        "podman",
        include_str!("../../../rootfs/testdata/podman-4.3-busybox.json"),
    );
}

//! Shared helpers of the system tests: which runtime to drive, busybox bundles, a temp dir
//! per test with its own `--root`, and the "nothing left behind" checks.
//!
//! The tests drive the `husk` binary built by cargo, or any runc-compatible runtime named by
//! `HUSK_TEST_RUNTIME` (e.g. `HUSK_TEST_RUNTIME=/usr/sbin/runc`), so the tests themselves can
//! be checked against the reference runtime.
#![allow(dead_code)] // each test binary uses a different subset

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// How long a test waits for a container to reach a state or print a line: generous, because
/// the machines are shared (2 cores, several builds at once); a healthy run takes milliseconds.
pub const WAIT: Duration = Duration::from_secs(30);

/// The runtime binary under test.
pub fn runtime() -> PathBuf {
    match std::env::var_os("HUSK_TEST_RUNTIME") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_husk")),
    }
}

/// Whether the tests drive husk itself (and not a reference runtime): a few checks are of
/// husk's own choices (its `--version` name, `list --format json` with no container).
pub fn is_husk() -> bool {
    runtime().file_name().is_some_and(|n| n == "husk")
}

/// Whether the reference runtime is runc (where runc 1.1.5 legitimately differs).
pub fn is_runc() -> bool {
    runtime().file_name().is_some_and(|n| n == "runc")
}

/// Print `SKIPPED: <test>: <reason>`, or fail when `HUSK_TEST_NO_SKIP=1` (scripts/test.sh sets
/// it: it runs as root and installed everything, so a skip there would hide a broken set-up).
pub fn skip(test: &str, reason: &str) {
    if std::env::var_os("HUSK_TEST_NO_SKIP").is_some_and(|v| v == "1") {
        panic!("{test}: would be skipped ({reason}) but HUSK_TEST_NO_SKIP=1");
    }
    println!("SKIPPED: {test}: {reason}");
}

/// True when running as root; otherwise prints the SKIPPED line.
pub fn root_or_skip(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        true
    } else {
        skip(test, "needs root");
        false
    }
}

/// A statically linked busybox on the host (`apt-get install busybox-static`).
pub fn busybox() -> Option<&'static Path> {
    static BB: OnceLock<Option<PathBuf>> = OnceLock::new();
    BB.get_or_init(|| {
        ["/bin/busybox", "/usr/bin/busybox", "/usr/sbin/busybox"]
            .iter()
            .map(PathBuf::from)
            .find(|p| is_static_elf(p))
    })
    .as_deref()
}

/// An ELF64 file without a PT_INTERP program header (no dynamic loader needed).
fn is_static_elf(p: &Path) -> bool {
    let Ok(b) = fs::read(p) else { return false };
    if b.len() < 64 || &b[..4] != b"\x7fELF" || b[4] != 2 {
        return false;
    }
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(b[0x20..0x28].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    (0..phnum).all(|i| {
        let o = phoff + i * phentsize;
        o + 4 <= b.len() && u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) != 3
    })
}

/// Root and busybox present, or SKIPPED.
pub fn can_run_containers(test: &str) -> bool {
    if !root_or_skip(test) {
        return false;
    }
    if busybox().is_none() {
        skip(test, "no static busybox (apt-get install busybox-static)");
        return false;
    }
    true
}

fn applets() -> &'static [String] {
    static LIST: OnceLock<Vec<String>> = OnceLock::new();
    LIST.get_or_init(|| {
        let out = Command::new(busybox().expect("busybox"))
            .arg("--list")
            .output()
            .expect("busybox --list");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|a| !a.is_empty() && *a != "busybox")
            .map(str::to_owned)
            .collect()
    })
}

/// A config like `runc spec` 1.1.5 writes, with `terminal: false`, running `args`.
pub fn base_config(args: &[&str]) -> Value {
    json!({
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": false,
            "user": { "uid": 0, "gid": 0 },
            "args": args,
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "ambient": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
            },
            "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 }],
            "noNewPrivileges": true
        },
        "root": { "path": "rootfs", "readonly": true },
        "hostname": "runc",
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
              "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
              "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
            { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
              "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
              "options": ["nosuid", "noexec", "nodev"] },
            { "destination": "/sys", "type": "sysfs", "source": "sysfs",
              "options": ["nosuid", "noexec", "nodev", "ro"] },
            { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
              "options": ["nosuid", "noexec", "nodev", "relatime", "ro"] }
        ],
        "linux": {
            "resources": { "devices": [{ "allow": false, "access": "rwm" }] },
            "namespaces": [
                { "type": "pid" }, { "type": "network" }, { "type": "ipc" },
                { "type": "uts" }, { "type": "mount" }
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    })
}

/// Write a busybox root filesystem into `rootfs` (relative symlink per applet).
pub fn make_rootfs(rootfs: &Path) {
    for d in [
        "bin", "proc", "sys", "dev", "etc", "tmp", "root", "usr/bin", "sbin",
    ] {
        fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    fs::copy(busybox().expect("busybox"), rootfs.join("bin/busybox")).unwrap();
    for a in applets() {
        let link = rootfs.join("bin").join(a);
        if !link.exists() {
            symlink("busybox", link).unwrap();
        }
    }
    symlink("../../bin/busybox", rootfs.join("usr/bin/env")).unwrap();
    fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    )
    .unwrap();
    fs::write(rootfs.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(rootfs.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
}

/// An OCI bundle in the test's temp dir.
pub struct Bundle {
    /// The bundle directory.
    pub dir: PathBuf,
    /// The config, written by [`Bundle::write`].
    pub config: Value,
}

impl Bundle {
    /// Write `config.json`.
    pub fn write(&self) {
        fs::write(
            self.dir.join("config.json"),
            serde_json::to_vec_pretty(&self.config).unwrap(),
        )
        .unwrap();
    }
    /// `rootfs` path.
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// One test's world: a temp dir holding bundles, outputs and the `--root` state dir, and the
/// ids it created; dropping it deletes those containers (`delete --force`) and the temp dir,
/// also when the test failed.
pub struct TestEnv {
    /// The temp dir.
    pub dir: PathBuf,
    /// The `--root` of this test.
    pub root: PathBuf,
    name: String,
    ids: std::cell::RefCell<Vec<String>>,
}

impl TestEnv {
    /// A fresh environment for test `name`.
    pub fn new(name: &str) -> TestEnv {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("husk-systest-{}-{n}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let root = dir.join("state");
        TestEnv {
            dir,
            root,
            name: name.to_owned(),
            ids: Default::default(),
        }
    }

    /// A unique container id (registered for cleanup).
    pub fn id(&self, suffix: &str) -> String {
        let id = format!(
            "hk{}-{}-{suffix}",
            std::process::id(),
            self.name.replace('_', "-")
        );
        self.register(&id);
        id
    }

    /// Register an id for `delete --force` on drop.
    pub fn register(&self, id: &str) {
        self.ids.borrow_mut().push(id.to_owned());
    }

    /// A busybox bundle `name` running `args`, config written.
    pub fn bundle(&self, name: &str, args: &[&str]) -> Bundle {
        let b = self.bundle_with(name, base_config(args));
        b.write();
        b
    }

    /// A busybox bundle with the given config (not written yet: tests may edit it).
    pub fn bundle_with(&self, name: &str, config: Value) -> Bundle {
        let dir = self.dir.join(name);
        fs::create_dir_all(&dir).unwrap();
        make_rootfs(&dir.join("rootfs"));
        Bundle { dir, config }
    }

    /// A runtime command with this test's `--root` (and a JSON log in the temp dir).
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(runtime());
        c.arg("--root").arg(&self.root).args(args);
        c.stdin(Stdio::null());
        c
    }

    /// Run the runtime to completion, capturing its output. Only for commands that do not
    /// leave a container process holding stdout (use [`TestEnv::run_to_files`] for those).
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("spawn runtime")
    }

    /// Run the runtime with stdout/stderr in files `<tag>.out`/`<tag>.err` of the temp dir:
    /// a created or detached container inherits them and keeps them open, so a pipe would
    /// never see EOF. Returns the exit code and the stderr text.
    pub fn run_to_files(&self, tag: &str, args: &[&str]) -> (i32, String) {
        let out = fs::File::create(self.dir.join(format!("{tag}.out"))).unwrap();
        let err_path = self.dir.join(format!("{tag}.err"));
        let err = fs::File::create(&err_path).unwrap();
        let status = self
            .cmd(args)
            .stdout(out)
            .stderr(err)
            .status()
            .expect("spawn runtime");
        (
            status.code().unwrap_or(-1),
            fs::read_to_string(err_path).unwrap_or_default(),
        )
    }

    /// What a container wrote to `<tag>.out`.
    pub fn out(&self, tag: &str) -> String {
        fs::read_to_string(self.dir.join(format!("{tag}.out"))).unwrap_or_default()
    }

    /// Spawn the runtime (for a foreground `run`) with stdout/stderr in `<tag>.out/.err`.
    pub fn spawn_to_files(&self, tag: &str, args: &[&str]) -> Child {
        let out = fs::File::create(self.dir.join(format!("{tag}.out"))).unwrap();
        let err = fs::File::create(self.dir.join(format!("{tag}.err"))).unwrap();
        self.cmd(args)
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawn runtime")
    }

    /// `create --bundle B <id>` with output in files; panics with the runtime's stderr on
    /// failure.
    pub fn create(&self, id: &str, bundle: &Bundle) {
        let b = bundle.dir.to_str().unwrap();
        let (code, err) = self.run_to_files(id, &["create", "--bundle", b, id]);
        assert_eq!(code, 0, "create {id} failed: {err}");
    }

    /// `run -d`, as [`TestEnv::create`].
    pub fn run_detached(&self, id: &str, bundle: &Bundle) {
        let b = bundle.dir.to_str().unwrap();
        let (code, err) = self.run_to_files(id, &["run", "-d", "--bundle", b, id]);
        assert_eq!(code, 0, "run -d {id} failed: {err}");
    }

    /// `state <id>` parsed, or None when the runtime says it does not exist.
    pub fn state(&self, id: &str) -> Option<Value> {
        let o = self.run(&["state", id]);
        if !o.status.success() {
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(err.contains("does not exist"), "state {id}: {err}");
            return None;
        }
        Some(serde_json::from_slice(&o.stdout).expect("state prints JSON"))
    }

    /// The `status` field of `state <id>`.
    pub fn status(&self, id: &str) -> String {
        let s = self
            .state(id)
            .unwrap_or_else(|| panic!("{id} does not exist"));
        s["status"].as_str().unwrap().to_owned()
    }

    /// Wait (bounded) until `state <id>` says `want`.
    pub fn wait_status(&self, id: &str, want: &str) {
        let mut last = String::new();
        let ok = wait_until(WAIT, || {
            last = self.status(id);
            last == want
        });
        assert!(ok, "{id}: status stayed {last:?}, wanted {want:?}");
    }

    /// A path for a log file in the temp dir.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        for id in self.ids.borrow().iter() {
            let _ = self
                .cmd(&["delete", "--force", id])
                .stderr(Stdio::null())
                .stdout(Stdio::null())
                .status();
        }
        // A leaked mount under the temp dir would make remove_dir_all descend into whatever is
        // mounted there: detach those first.
        for m in mounts_mentioning(&[self.dir.to_str().unwrap()]) {
            if let Some(target) = m.split(' ').nth(4) {
                let _ = nix::mount::umount2(target, nix::mount::MntFlags::MNT_DETACH);
            }
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Poll `cond` every 20 ms until it holds or `limit` passes; returns whether it held.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Lines of /proc/self/mountinfo that mention any of `needles`.
pub fn mounts_mentioning(needles: &[&str]) -> BTreeSet<String> {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines()
        .filter(|l| needles.iter().any(|n| l.contains(n)))
        // Drop the mount id and parent id: the same mount re-read has the same line anyway.
        .map(str::to_owned)
        .collect()
}

/// The host's mount table, to compare after a failed call.
pub struct MountSnapshot(BTreeSet<String>);

impl MountSnapshot {
    /// Take a snapshot.
    pub fn take() -> MountSnapshot {
        let info = fs::read_to_string("/proc/self/mountinfo").unwrap();
        MountSnapshot(info.lines().map(str::to_owned).collect())
    }
    /// Mounts present now and not in the snapshot that concern this test (the machine is
    /// shared: other test binaries and other users mount things concurrently, so only new
    /// mounts naming the test's temp dir or container id count).
    pub fn new_mounts(&self, needles: &[&str]) -> Vec<String> {
        mounts_mentioning(needles)
            .into_iter()
            .filter(|l| !self.0.contains(l))
            .collect()
    }
}

/// Cgroup directories (any hierarchy under /sys/fs/cgroup) whose name contains `id`.
pub fn cgroups_named(id: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, id: &str, depth: usize, found: &mut Vec<PathBuf>) {
        let Ok(rd) = fs::read_dir(dir) else { return };
        for e in rd.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            if !ft.is_dir() {
                continue;
            }
            if e.file_name().to_string_lossy().contains(id) {
                found.push(e.path());
            }
            if depth < 10 {
                walk(&e.path(), id, depth + 1, found);
            }
        }
    }
    let mut found = Vec::new();
    walk(Path::new("/sys/fs/cgroup"), id, 0, &mut found);
    found
}

/// Live (non-zombie) processes whose command line or cgroup mentions `id`, as "pid cmdline".
/// Zombies are exited processes not yet reaped (this machine's pid 1 reaps slowly).
pub fn processes_mentioning(id: &str) -> Vec<String> {
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    let Ok(rd) = fs::read_dir("/proc") else {
        return found;
    };
    for e in rd.flatten() {
        let pid = e.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) || pid == me {
            continue;
        }
        let read = |f: &str| {
            let mut s = Vec::new();
            fs::File::open(e.path().join(f))
                .and_then(|mut h| h.read_to_end(&mut s))
                .map(|_| s)
                .unwrap_or_default()
        };
        let stat = String::from_utf8_lossy(&read("stat")).into_owned();
        let state = stat
            .rsplit_once(") ")
            .map(|(_, r)| r.chars().next().unwrap_or('?'));
        if state == Some('Z') || stat.is_empty() {
            continue;
        }
        let cmdline = String::from_utf8_lossy(&read("cmdline")).replace('\0', " ");
        let cgroup = String::from_utf8_lossy(&read("cgroup")).into_owned();
        if cmdline.contains(id) || cgroup.contains(id) {
            found.push(format!("{pid} {cmdline}"));
        }
    }
    found
}

/// Assert that container `id` left nothing behind: no state folder under the test's
/// `--root`, no cgroup directory named after it, no new host mount, no live process.
pub fn assert_nothing_left(env: &TestEnv, id: &str, before: &MountSnapshot) {
    if !id.is_empty() && !id.contains('/') && id != ".." && id.len() < 256 {
        assert!(
            !env.root.join(id).exists(),
            "{id}: state folder left under --root"
        );
    }
    if let Ok(rd) = fs::read_dir(&env.root) {
        let left: Vec<_> = rd.flatten().map(|e| e.file_name()).collect();
        assert!(left.is_empty(), "{id}: entries left under --root: {left:?}");
    }
    // An id the runtime must refuse ("..", "a/b", "") is no distinctive marker on a shared
    // machine (any process may have ".." in its argv): look for the test's temp dir instead,
    // which every runtime call of the test names in its argv (`--root`, `--bundle`).
    let distinctive = id.len() >= 8 && !id.contains('/') && !id.contains("..");
    if distinctive {
        let cg = cgroups_named(id);
        assert!(cg.is_empty(), "{id}: cgroups left: {cg:?}");
    }
    let marker = if distinctive {
        id
    } else {
        env.dir.to_str().unwrap()
    };
    let procs = processes_mentioning(marker);
    assert!(procs.is_empty(), "{id}: processes left: {procs:?}");
    let mut needles = vec![env.dir.to_str().unwrap()];
    if distinctive {
        needles.push(id);
    }
    let m = before.new_mounts(&needles);
    assert!(m.is_empty(), "{id}: host mounts left: {m:?}");
}

/// The lines of a JSON log file, each parsed; panics on a line that is not one JSON object.
pub fn json_log(path: &Path) -> Vec<Value> {
    let text = fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("log line {l:?}: {e}")))
        .collect()
}

/// Exactly one `level: error` line, with `msg` and an RFC 3339 `time`; returns its msg.
pub fn one_error_line(path: &Path) -> String {
    let lines = json_log(path);
    let errors: Vec<&Value> = lines.iter().filter(|l| l["level"] == "error").collect();
    assert_eq!(
        errors.len(),
        1,
        "want exactly one error line in {}: {lines:?}",
        path.display()
    );
    let e = errors[0];
    let time = e["time"].as_str().expect("time is a string");
    assert!(
        time.len() >= 20 && time.as_bytes()[4] == b'-' && time.as_bytes()[10] == b'T',
        "time {time:?} is not RFC 3339"
    );
    e["msg"].as_str().expect("msg is a string").to_owned()
}

/// The static sd_notify client (tests/probes/sd_notify.rs), built with rustc into cargo's test
/// tmp dir (rebuilt when the source is newer; written under a temp name and renamed, as test
/// binaries for husk and runc may build it at once): busybox has no way to send a unix
/// datagram. None (SKIPPED) without rustc.
pub fn sd_notify_probe() -> Option<&'static Path> {
    static PROBE: OnceLock<Option<PathBuf>> = OnceLock::new();
    PROBE
        .get_or_init(|| {
            let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/probes/sd_notify.rs");
            let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sd_notify");
            let mtime = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
            if mtime(&out).is_some() && mtime(&out) >= mtime(&src) {
                return Some(out);
            }
            let tmp = out.with_extension(format!("tmp{}", std::process::id()));
            let ok = Command::new("rustc")
                .args(["-O", "-C", "target-feature=+crt-static", "-o"])
                .arg(&tmp)
                .arg(&src)
                .status()
                .is_ok_and(|s| s.success());
            (ok && fs::rename(&tmp, &out).is_ok()).then_some(out)
        })
        .as_deref()
}

/// The host runs cgroup v2 only (`/sys/fs/cgroup` is the unified hierarchy).
pub fn v2() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// The host directory of the cgroup of `pid` for `controller` (v1), or its v2 directory.
pub fn host_cgroup_dir(pid: i64, controller: &str) -> PathBuf {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for l in text.lines() {
        let mut p = l.splitn(3, ':');
        let (_, ctrls, path) = (p.next(), p.next().unwrap(), p.next().unwrap());
        if !v2() && ctrls.split(',').any(|c| c == controller) {
            return PathBuf::from(format!("/sys/fs/cgroup/{controller}{path}"));
        }
        if v2() && ctrls.is_empty() {
            return PathBuf::from(format!("/sys/fs/cgroup{path}"));
        }
    }
    panic!("pid {pid}: no {controller} cgroup in {text}");
}

/// One message from `conn` and the fds that came with it (`SCM_RIGHTS`): a console socket's
/// pty master, a seccomp agent's notify fd. Tests have no `unsafe`, so the fds stay raw: the
/// caller closes them with `nix::unistd::close`. `cloexec`: receive them `O_CLOEXEC` (false
/// when a child process is to inherit one).
pub fn recv_with_fds(
    conn: &std::os::unix::net::UnixStream,
    cloexec: bool,
) -> nix::Result<(Vec<u8>, Vec<std::os::fd::RawFd>)> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, UnixAddr};
    use std::os::fd::AsRawFd;
    let mut buf = vec![0u8; 65536];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 4]);
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let flags = if cloexec {
        MsgFlags::MSG_CMSG_CLOEXEC
    } else {
        MsgFlags::empty()
    };
    let msg = recvmsg::<UnixAddr>(conn.as_raw_fd(), &mut iov, Some(&mut cmsg), flags)?;
    let len = msg.bytes;
    let mut fds = Vec::new();
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(f) = c {
            fds.extend(f);
        }
    }
    buf.truncate(len);
    Ok((buf, fds))
}

//! Namespaced tests: each forks a child that unshares a mount namespace (and a pid, cgroup
//! namespace as needed), runs [`setup`] and [`finalize`] on a temporary bundle, checks from
//! inside the new root what a user would check, and reports through a socket. The parent
//! asserts on the report and that no mount appeared under the bundle on the host.
//! Needs root; prints SKIPPED otherwise.

use std::io::{Read, Write};
use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nix::sched::{unshare, CloneFlags};
use nix::sys::stat::{major, minor};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::ForkResult;
use oci_spec::runtime::Spec;

use super::mountinfo::{parse_mountinfo, MountInfo};
use super::*;
use crate::sys::mount::{exit_child, fork_for_test};

/// One namespaced test at a time: they fork, and a fork while another test's child is being
/// set up is harmless but makes failures hard to read.
static SERIAL: Mutex<()> = Mutex::new(());

fn root_or_skip() -> bool {
    if !nix::unistd::geteuid().is_root() {
        println!("SKIPPED: needs root (mount namespaces, pivot_root, mknod)");
        return false;
    }
    true
}

/// A bundle in a temporary directory: `rootfs/` with a marker file and busybox.
struct Bundle {
    dir: PathBuf,
}

impl Bundle {
    fn new(tag: &str) -> Bundle {
        let dir = std::env::temp_dir().join(format!("husk-rootfs-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let b = Bundle { dir };
        for d in ["proc", "sys", "dev", "etc", "tmp", "bin"] {
            std::fs::create_dir_all(b.rootfs().join(d)).unwrap();
        }
        std::fs::write(b.rootfs().join("marker"), "husk-test-root").unwrap();
        if Path::new("/bin/busybox").exists() {
            std::fs::copy("/bin/busybox", b.rootfs().join("bin/busybox")).unwrap();
        }
        b
    }
    fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }
    /// Host mount points under the bundle (there must never be any).
    fn host_mounts(&self) -> Vec<PathBuf> {
        host_mounts_under(&self.dir)
    }
}

fn host_mounts_under(dir: &Path) -> Vec<PathBuf> {
    parse_mountinfo(&std::fs::read_to_string("/proc/self/mountinfo").unwrap())
        .into_iter()
        .map(|m| m.mount_point)
        .filter(|p| p.starts_with(dir))
        .collect()
}

impl Drop for Bundle {
    fn drop(&mut self) {
        // Never delete through a mount that leaked to the host (it could be /dev or /sys).
        if self.host_mounts().is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A shared bind mount of a directory onto itself on the host, undone on drop.
struct SharedBind(PathBuf);
impl SharedBind {
    fn new(dir: &Path) -> SharedBind {
        use nix::mount::{mount, MsFlags};
        let none: Option<&str> = None;
        mount(Some(dir), dir, none, MsFlags::MS_BIND, none).expect("bind bundle");
        let guard = SharedBind(dir.to_path_buf());
        mount(none, dir, none, MsFlags::MS_SHARED, none).expect("make bundle shared");
        guard
    }
}
impl Drop for SharedBind {
    fn drop(&mut self) {
        // MNT_DETACH also takes along anything that leaked onto it
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// A temporary host directory that must stay empty.
struct HostDir(PathBuf);
impl HostDir {
    fn new(tag: &str) -> HostDir {
        let p = std::env::temp_dir().join(format!("husk-host-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        HostDir(p)
    }
    fn entries(&self) -> Vec<PathBuf> {
        std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect()
    }
}
impl Drop for HostDir {
    fn drop(&mut self) {
        if host_mounts_under(&self.0).is_empty() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn spec(json: &str) -> Spec {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("test config: {e}\n{json}"))
}

/// Run `f` in a forked child in new namespaces (`CLONE_NEWNS` always; with `CLONE_NEWPID` in a
/// grandchild that is pid 1). Returns what `f` returned.
fn in_child<F>(flags: CloneFlags, f: F) -> Result<(), String>
where
    F: FnOnce() -> Result<(), String>,
{
    in_child_with(flags, || Ok(()), f)
}

/// [`in_child`], running `after_unshare` in the child right after `unshare` (to write id
/// maps) and before the pid-1 grandchild is forked.
fn in_child_with<F>(
    flags: CloneFlags,
    after_unshare: fn() -> Result<(), String>,
    f: F,
) -> Result<(), String>
where
    F: FnOnce() -> Result<(), String>,
{
    let (mut rd, mut wr) = UnixStream::pair().unwrap();
    match fork_for_test().expect("fork") {
        ForkResult::Child => {
            drop(rd);
            let res =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Result<(), String> {
                    unshare(flags | CloneFlags::CLONE_NEWNS)
                        .map_err(|e| format!("unshare: {e}"))?;
                    after_unshare()?;
                    if !flags.contains(CloneFlags::CLONE_NEWPID) {
                        return f();
                    }
                    match fork_for_test().map_err(|e| format!("fork: {e}"))? {
                        ForkResult::Child => {
                            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
                                .unwrap_or_else(|_| Err("panicked".into()));
                            let _ = wr.write_all(report(&r).as_bytes());
                            exit_child(0);
                        }
                        ForkResult::Parent { child } => {
                            let _ = waitpid(child, None);
                            // the grandchild wrote the report
                            exit_child(0);
                        }
                    }
                }))
                .unwrap_or_else(|_| Err("panicked".into()));
            let _ = wr.write_all(report(&res).as_bytes());
            exit_child(0);
        }
        ForkResult::Parent { child } => {
            drop(wr);
            let mut out = String::new();
            let _ = rd.read_to_string(&mut out);
            let st = waitpid(child, None).expect("waitpid");
            assert_eq!(
                st,
                WaitStatus::Exited(child, 0),
                "test child died; report: {out:?}"
            );
            match out.strip_prefix("OK") {
                Some("") => Ok(()),
                _ => Err(out.strip_prefix("ERR ").unwrap_or(&out).to_string()),
            }
        }
    }
}

fn report(r: &Result<(), String>) -> String {
    match r {
        Ok(()) => "OK".into(),
        Err(e) => format!("ERR {e}"),
    }
}

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

fn mounts_inside() -> Vec<MountInfo> {
    parse_mountinfo(&std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default())
}

/// The top mount at `p` inside the container.
fn mount_at_path(all: &[MountInfo], p: &str) -> Result<MountInfo, String> {
    all.iter()
        .rev()
        .find(|m| m.mount_point == Path::new(p))
        .cloned()
        .ok_or_else(|| {
            format!(
                "no mount at {p}: {:?}",
                all.iter().map(|m| &m.mount_point).collect::<Vec<_>>()
            )
        })
}

fn has_opt(m: &MountInfo, o: &str) -> bool {
    m.options.iter().any(|x| x == o)
}

fn erofs(p: &str) -> Result<(), String> {
    match std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(p)
    {
        Err(e) if e.raw_os_error() == Some(libc::EROFS) => Ok(()),
        other => Err(format!("writing {p}: want EROFS, got {other:?}")),
    }
}

fn setup_and_finalize(opts: &RootfsOptions<'_>) -> Result<(), String> {
    setup(opts).map_err(|e| format!("setup: {e}"))?;
    finalize(opts).map_err(|e| format!("finalize: {e}"))
}

#[test]
fn full_config_mounts_devices_masks_from_inside() {
    if !root_or_skip() {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let b = Bundle::new("full");
    let r = b.rootfs();
    std::fs::create_dir_all(b.dir.join("userdata/shm")).unwrap();
    std::fs::write(b.dir.join("userdata/hosts"), "127.0.0.1 test\n").unwrap();
    std::fs::create_dir_all(b.dir.join("rodir")).unwrap();
    std::fs::write(b.dir.join("rodir/file"), "ro").unwrap();
    std::fs::create_dir_all(r.join("etc/copy/sub")).unwrap();
    std::fs::write(r.join("etc/copy/a"), "hello").unwrap();
    std::fs::write(r.join("etc/copy/sub/b"), "b").unwrap();
    std::fs::set_permissions(
        r.join("etc/copy/sub/b"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    symlink("a", r.join("etc/copy/link")).unwrap();
    std::fs::write(r.join("secret"), "s").unwrap();
    let s = spec(&format!(
        r#"{{"ociVersion":"1.0.2","root":{{"path":"rootfs"}},
        "process":{{"cwd":"/work/dir","args":["sh"],"user":{{"uid":0,"gid":0}}}},
        "mounts":[
          {{"destination":"/proc","type":"proc","source":"proc","options":["nosuid","noexec","nodev"]}},
          {{"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]}},
          {{"destination":"/sys","type":"sysfs","source":"sysfs","options":["nosuid","noexec","nodev","ro"]}},
          {{"destination":"/dev/pts","type":"devpts","source":"devpts","options":["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620","gid=5"]}},
          {{"destination":"/dev/mqueue","type":"mqueue","source":"mqueue","options":["nosuid","noexec","nodev"]}},
          {{"destination":"/etc/hosts","type":"bind","source":"userdata/hosts","options":["bind","rprivate"]}},
          {{"destination":"/dev/shm","type":"bind","source":"userdata/shm","options":["bind","rprivate","nosuid","noexec","nodev"]}},
          {{"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["rprivate","nosuid","noexec","nodev","relatime","ro"]}},
          {{"destination":"/etc/copy","type":"tmpfs","source":"tmpfs","options":["tmpcopyup","mode=755"]}},
          {{"destination":"/ro","source":"{rodir}","options":["rbind","ro","nosuid","noatime"]}},
          {{"destination":"/rro","source":"{rodir}","options":["rbind","rro","rnoexec"]}},
          {{"destination":"/run","type":"tmpfs","options":["nosuid","nodev","mode=700"]}}
        ],
        "linux":{{
          "devices":[{{"path":"/dev/fuse","type":"c","major":10,"minor":229,"fileMode":416,"uid":1,"gid":2}},
                     {{"path":"/dev/fifo","type":"p"}}],
          "maskedPaths":["/proc/timer_list","/secret","/proc/acpi","/sys/firmware","/proc/does-not-exist"],
          "readonlyPaths":["/proc/sys","/proc/sysrq-trigger","/does/not/exist"]
        }}}}"#,
        rodir = b.dir.join("rodir").display()
    ));
    let rootfs = b.rootfs();
    let opts = RootfsOptions {
        spec: &s,
        rootfs: &rootfs,
        bundle: &b.dir,
        no_pivot: false,
        new_userns: false,
        new_cgroupns: false,
    };
    let bundle_str = b.dir.display().to_string();
    let res = in_child(CloneFlags::CLONE_NEWPID, || {
        // stdin on the host's /dev/null must end up on the container's
        let host_null = std::fs::File::open("/dev/null").map_err(|e| e.to_string())?;
        nix::unistd::dup2_stdin(&host_null).map_err(|e| e.to_string())?;
        drop(host_null);
        setup_and_finalize(&opts)?;
        ensure!(
            std::fs::read_to_string("/marker").ok().as_deref() == Some("husk-test-root"),
            "/ is not the rootfs"
        );
        let (s0, n) = (
            nix::sys::stat::fstat(std::io::stdin()),
            nix::sys::stat::stat("/dev/null"),
        );
        ensure!(
            matches!((s0, n), (Ok(a), Ok(b)) if (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)),
            "stdin is not the container's /dev/null"
        );
        ensure!(
            std::env::current_dir().ok() == Some(PathBuf::from("/")),
            "cwd is not /"
        );
        let all = mounts_inside();
        ensure!(
            !all.iter()
                .any(|m| m.mount_point.to_string_lossy().contains(&bundle_str)),
            "host paths visible in the container's mount table: {all:?}"
        );
        let m = mount_at_path(&all, "/proc")?;
        ensure!(
            m.fstype == "proc"
                && has_opt(&m, "nosuid")
                && has_opt(&m, "noexec")
                && has_opt(&m, "nodev"),
            "/proc: {m:?}"
        );
        let m = mount_at_path(&all, "/dev")?;
        ensure!(
            m.fstype == "tmpfs" && has_opt(&m, "rw") && has_opt(&m, "nosuid"),
            "/dev: {m:?}"
        );
        ensure!(
            m.super_options.iter().any(|o| o == "mode=755"),
            "/dev mode: {m:?}"
        );
        let m = mount_at_path(&all, "/sys")?;
        ensure!(m.fstype == "sysfs" && has_opt(&m, "ro"), "/sys: {m:?}");
        let m = mount_at_path(&all, "/dev/pts")?;
        ensure!(
            m.fstype == "devpts" && m.super_options.iter().any(|o| o == "ptmxmode=666"),
            "/dev/pts: {m:?}"
        );
        ensure!(
            mount_at_path(&all, "/dev/mqueue")?.fstype == "mqueue",
            "/dev/mqueue"
        );
        ensure!(
            std::fs::read_to_string("/etc/hosts").ok().as_deref() == Some("127.0.0.1 test\n"),
            "/etc/hosts"
        );
        let m = mount_at_path(&all, "/dev/shm")?;
        ensure!(
            has_opt(&m, "nosuid") && has_opt(&m, "noexec") && has_opt(&m, "nodev"),
            "/dev/shm: {m:?}"
        );
        let m = mount_at_path(&all, "/sys/fs/cgroup")?;
        if m.fstype == "tmpfs" {
            // cgroup v1 host: one bind per hierarchy, read-only like the tmpfs
            ensure!(has_opt(&m, "ro"), "/sys/fs/cgroup: {m:?}");
            let mem = mount_at_path(&all, "/sys/fs/cgroup/memory")?;
            ensure!(
                mem.fstype == "cgroup" && has_opt(&mem, "ro"),
                "memory: {mem:?}"
            );
            ensure!(
                Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists(),
                "no memory.limit_in_bytes"
            );
            ensure!(
                mount_at_path(&all, "/sys/fs/cgroup/unified").is_err(),
                "unified shown"
            );
        } else {
            ensure!(
                m.fstype == "cgroup2" && has_opt(&m, "ro"),
                "/sys/fs/cgroup: {m:?}"
            );
        }
        erofs("/sys/fs/cgroup/x")?;
        let m = mount_at_path(&all, "/etc/copy")?;
        ensure!(m.fstype == "tmpfs", "/etc/copy: {m:?}");
        ensure!(
            std::fs::read_to_string("/etc/copy/a").ok().as_deref() == Some("hello"),
            "tmpcopyup a"
        );
        let meta = std::fs::metadata("/etc/copy/sub/b").map_err(|e| format!("sub/b: {e}"))?;
        ensure!(
            meta.mode() & 0o7777 == 0o600,
            "sub/b mode {:o}",
            meta.mode()
        );
        ensure!(
            std::fs::read_link("/etc/copy/link").ok() == Some(PathBuf::from("a")),
            "tmpcopyup symlink"
        );
        let m = mount_at_path(&all, "/ro")?;
        ensure!(
            has_opt(&m, "ro") && has_opt(&m, "nosuid") && has_opt(&m, "noatime"),
            "/ro: {m:?}"
        );
        let m = mount_at_path(&all, "/rro")?;
        ensure!(has_opt(&m, "ro") && has_opt(&m, "noexec"), "/rro: {m:?}");
        erofs("/rro/new")?;
        ensure!(
            std::fs::read_to_string("/ro/file").ok().as_deref() == Some("ro"),
            "/ro/file"
        );
        erofs("/ro/new")?;
        let m = mount_at_path(&all, "/run")?;
        ensure!(
            m.super_options.iter().any(|o| o == "mode=700"),
            "/run: {m:?}"
        );
        // devices
        let null = std::fs::metadata("/dev/null").map_err(|e| format!("/dev/null: {e}"))?;
        ensure!(
            null.file_type().is_char_device() && (major(null.rdev()), minor(null.rdev())) == (1, 3),
            "/dev/null"
        );
        ensure!(
            null.mode() & 0o7777 == 0o666,
            "/dev/null mode {:o}",
            null.mode()
        );
        for (p, ma, mi) in [
            ("/dev/zero", 1, 5),
            ("/dev/full", 1, 7),
            ("/dev/random", 1, 8),
            ("/dev/urandom", 1, 9),
            ("/dev/tty", 5, 0),
        ] {
            let m = std::fs::metadata(p).map_err(|e| format!("{p}: {e}"))?;
            ensure!((major(m.rdev()), minor(m.rdev())) == (ma, mi), "{p}");
        }
        let fuse = std::fs::metadata("/dev/fuse").map_err(|e| format!("/dev/fuse: {e}"))?;
        ensure!(
            fuse.file_type().is_char_device()
                && (major(fuse.rdev()), minor(fuse.rdev())) == (10, 229)
                && fuse.mode() & 0o7777 == 0o640
                && (fuse.uid(), fuse.gid()) == (1, 2),
            "/dev/fuse: mode {:o} uid {} gid {}",
            fuse.mode(),
            fuse.uid(),
            fuse.gid()
        );
        ensure!(
            std::fs::metadata("/dev/fifo").is_ok_and(|m| m.file_type().is_fifo()),
            "/dev/fifo"
        );
        for (l, t) in [
            ("/dev/ptmx", "pts/ptmx"),
            ("/dev/fd", "/proc/self/fd"),
            ("/dev/stdin", "/proc/self/fd/0"),
            ("/dev/stderr", "/proc/self/fd/2"),
        ] {
            ensure!(
                std::fs::read_link(l).ok() == Some(PathBuf::from(t)),
                "{l} -> {t}"
            );
        }
        // read-only and masked paths
        erofs("/proc/sys/kernel/hostname")?;
        if Path::new("/proc/sysrq-trigger").exists() {
            erofs("/proc/sysrq-trigger")?; // absent without CONFIG_MAGIC_SYSRQ
        }
        for p in ["/proc/timer_list", "/secret"] {
            let m = std::fs::metadata(p).map_err(|e| format!("{p}: {e}"))?;
            ensure!(
                m.file_type().is_char_device() && m.rdev() == nix::sys::stat::makedev(1, 3),
                "{p} not masked"
            );
            ensure!(
                std::fs::read(p)
                    .map_err(|e| format!("{p}: {e}"))?
                    .is_empty(),
                "{p} readable"
            );
        }
        let fw = std::fs::read_dir("/sys/firmware").map_err(|e| format!("/sys/firmware: {e}"))?;
        ensure!(fw.count() == 0, "/sys/firmware not masked");
        erofs("/sys/firmware/x")?;
        ensure!(Path::new("/work/dir").is_dir(), "process.cwd not created");
        if Path::new("/bin/busybox").exists() {
            let out = std::process::Command::new("/bin/busybox")
                .args(["cat", "/etc/copy/a"])
                .output()
                .map_err(|e| format!("exec busybox: {e}"))?;
            ensure!(out.stdout == b"hello", "busybox cat: {out:?}");
        }
        Ok(())
    });
    assert_eq!(
        b.host_mounts(),
        Vec::<PathBuf>::new(),
        "mounts leaked to the host"
    );
    assert_eq!(
        std::fs::read_to_string(b.dir.join("userdata/hosts")).unwrap(),
        "127.0.0.1 test\n"
    );
    res.unwrap();
}

/// security.md S3/S8: destinations and device paths that are symlinks to host directories
/// resolve inside the root; the host directories stay untouched. Run with openat2 and with the
/// fallback walk.
fn symlinked_destinations(walk: bool) {
    if !root_or_skip() {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let tag = if walk { "sym-walk" } else { "sym" };
    let b = Bundle::new(tag);
    let (h1, h2, h3) = (
        HostDir::new(&format!("{tag}1")),
        HostDir::new(&format!("{tag}2")),
        HostDir::new(&format!("{tag}3")),
    );
    let r = b.rootfs();
    symlink(&h1.0, r.join("evil")).unwrap();
    let rel_up = format!("../../../../../../../../..{}", h2.0.display());
    symlink(&rel_up, r.join("evilrel")).unwrap();
    symlink(&h3.0, r.join("dev/sub")).unwrap();
    // a mount destination that is a symlink into /proc once proc is mounted
    symlink("/proc/sys", r.join("procsys")).unwrap();
    std::fs::write(b.dir.join("file"), "bound").unwrap();
    let s = spec(
        r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
        "mounts":[
          {"destination":"/proc","type":"proc"},
          {"destination":"/evil/t1","type":"tmpfs"},
          {"destination":"/evilrel/f","type":"bind","source":"file","options":["bind"]}
        ],
        "linux":{"devices":[{"path":"/dev/sub/null2","type":"c","major":1,"minor":3}]}}"#,
    );
    let rootfs = b.rootfs();
    let opts = RootfsOptions {
        spec: &s,
        rootfs: &rootfs,
        bundle: &b.dir,
        no_pivot: false,
        new_userns: false,
        new_cgroupns: false,
    };
    let (p1, p2, p3) = (h1.0.clone(), h2.0.clone(), h3.0.clone());
    let res = in_child(CloneFlags::CLONE_NEWPID, || {
        if walk {
            super::resolver::FORCE_WALK.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        setup_and_finalize(&opts)?;
        let all = mounts_inside();
        // inside the container, /evil -> <h1> resolves to <rootfs>/<h1>
        let m = mount_at_path(&all, &format!("{}/t1", p1.display()))?;
        ensure!(m.fstype == "tmpfs", "t1: {m:?}");
        ensure!(
            std::fs::read_to_string(p2.join("f")).ok().as_deref() == Some("bound"),
            "bind through a relative symlink not inside the root"
        );
        let n = std::fs::metadata(p3.join("null2")).map_err(|e| format!("null2: {e}"))?;
        ensure!(n.file_type().is_char_device(), "null2 not a device");
        Ok(())
    });
    assert_eq!(
        b.host_mounts(),
        Vec::<PathBuf>::new(),
        "mounts leaked to the host"
    );
    res.unwrap();
    for h in [&h1, &h2, &h3] {
        assert_eq!(
            h.entries(),
            Vec::<PathBuf>::new(),
            "host dir {:?} was written",
            h.0
        );
    }
    assert!(b
        .rootfs()
        .join(h1.0.strip_prefix("/").unwrap())
        .join("t1")
        .is_dir());
    assert!(b
        .rootfs()
        .join(h3.0.strip_prefix("/").unwrap())
        .join("null2")
        .exists());

    // A symlink into /proc as a mount destination is refused like /proc/sys itself.
    let s = spec(
        r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
        "mounts":[{"destination":"/proc","type":"proc"},{"destination":"/procsys","type":"tmpfs"}]}"#,
    );
    let opts = RootfsOptions { spec: &s, ..opts };
    let res = in_child(CloneFlags::CLONE_NEWPID, || {
        if walk {
            super::resolver::FORCE_WALK.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        setup(&opts).map_err(|e| e.to_string())
    });
    let err = res.unwrap_err();
    assert!(
        err.contains("\"/proc/sys\" cannot be mounted because it is inside /proc"),
        "{err}"
    );
    assert_eq!(b.host_mounts(), Vec::<PathBuf>::new());
}

#[test]
fn symlinked_destinations_stay_inside_openat2() {
    symlinked_destinations(false);
}

#[test]
fn symlinked_destinations_stay_inside_fallback_walk() {
    symlinked_destinations(true);
}

/// security.md S6: a rootfs whose /dev (or /proc, /sys) is a symlink is refused.
#[test]
fn symlinked_dev_is_refused() {
    if !root_or_skip() {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for name in ["dev", "proc", "sys"] {
        let b = Bundle::new(&format!("symdev-{name}"));
        let h = HostDir::new(&format!("symdev-{name}"));
        std::fs::remove_dir(b.rootfs().join(name)).unwrap();
        symlink(&h.0, b.rootfs().join(name)).unwrap();
        let s = spec(
            r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
            "mounts":[{"destination":"/proc","type":"proc"},{"destination":"/dev","type":"tmpfs"}]}"#,
        );
        let rootfs = b.rootfs();
        let opts = RootfsOptions {
            spec: &s,
            rootfs: &rootfs,
            bundle: &b.dir,
            no_pivot: false,
            new_userns: false,
            new_cgroupns: false,
        };
        let err = in_child(CloneFlags::empty(), || {
            setup(&opts).map_err(|e| e.to_string())
        })
        .unwrap_err();
        assert!(
            err.contains(&format!("/{name} in the root filesystem"))
                && err.contains("is a symlink"),
            "{err}"
        );
        assert_eq!(h.entries(), Vec::<PathBuf>::new());
        assert_eq!(b.host_mounts(), Vec::<PathBuf>::new());
    }
}

/// security.md S4: masking with a /dev/null that is not the null device fails.
#[test]
fn masking_refuses_a_fake_dev_null() {
    if !root_or_skip() {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let b = Bundle::new("fakenull");
    // /dev comes from a bind of this directory, so husk creates no devices in it
    std::fs::create_dir_all(b.dir.join("fakedev")).unwrap();
    symlink("/proc/sys/kernel/core_pattern", b.dir.join("fakedev/null")).unwrap();
    let s = spec(&format!(
        r#"{{"ociVersion":"1.0.2","root":{{"path":"rootfs"}},
        "mounts":[{{"destination":"/proc","type":"proc"}},
                  {{"destination":"/dev","source":"{}","options":["rbind"]}}],
        "linux":{{"maskedPaths":["/marker"]}}}}"#,
        b.dir.join("fakedev").display()
    ));
    let rootfs = b.rootfs();
    let opts = RootfsOptions {
        spec: &s,
        rootfs: &rootfs,
        bundle: &b.dir,
        no_pivot: false,
        new_userns: false,
        new_cgroupns: false,
    };
    let err = in_child(CloneFlags::CLONE_NEWPID, || setup_and_finalize(&opts)).unwrap_err();
    assert!(
        err.contains("linux.maskedPaths[0]: /dev/null in the container is not the null device"),
        "{err}"
    );
    assert_eq!(b.host_mounts(), Vec::<PathBuf>::new());
}

#[test]
fn no_pivot_and_readonly_root() {
    if !root_or_skip() {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let b = Bundle::new("nopivot");
    let s = spec(
        r#"{"ociVersion":"1.0.2","root":{"path":"rootfs","readonly":true},
        "mounts":[{"destination":"/proc","type":"proc"},{"destination":"/tmp","type":"tmpfs"}],
        "linux":{"rootfsPropagation":"rslave"}}"#,
    );
    let rootfs = b.rootfs();
    let opts = RootfsOptions {
        spec: &s,
        rootfs: &rootfs,
        bundle: &b.dir,
        no_pivot: true,
        new_userns: false,
        new_cgroupns: false,
    };
    let res = in_child(CloneFlags::CLONE_NEWPID, || {
        // stdin on the host's /dev/null must end up on the container's
        let host_null = std::fs::File::open("/dev/null").map_err(|e| e.to_string())?;
        nix::unistd::dup2_stdin(&host_null).map_err(|e| e.to_string())?;
        drop(host_null);
        setup_and_finalize(&opts)?;
        ensure!(
            std::fs::read_to_string("/marker").ok().as_deref() == Some("husk-test-root"),
            "/ is not the rootfs"
        );
        let (s0, n) = (
            nix::sys::stat::fstat(std::io::stdin()),
            nix::sys::stat::stat("/dev/null"),
        );
        ensure!(
            matches!((s0, n), (Ok(a), Ok(b)) if (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)),
            "stdin is not the container's /dev/null"
        );
        erofs("/newfile")?;
        std::fs::write("/tmp/ok", "x").map_err(|e| format!("/tmp stays writable: {e}"))?;
        Ok(())
    });
    assert_eq!(b.host_mounts(), Vec::<PathBuf>::new());
    res.unwrap();
    assert!(!b.rootfs().join("tmp/ok").exists());

    // runc refuses private propagation with --no-pivot
    let s = spec(
        r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},"linux":{"rootfsPropagation":"rprivate"}}"#,
    );
    let opts = RootfsOptions { spec: &s, ..opts };
    let err = in_child(CloneFlags::empty(), || {
        setup(&opts).map_err(|e| e.to_string())
    })
    .unwrap_err();
    assert!(err.starts_with("linux.rootfsPropagation: "), "{err}");
}

#[test]
fn cgroup_namespace_mounts_the_hierarchies() {
    if !root_or_skip() {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let b = Bundle::new("cgns");
    let s = spec(
        r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
        "mounts":[{"destination":"/proc","type":"proc"},{"destination":"/sys","type":"sysfs","options":["ro"]},
          {"destination":"/sys/fs/cgroup","type":"cgroup","options":["nosuid","noexec","nodev","ro"]}]}"#,
    );
    let rootfs = b.rootfs();
    let opts = RootfsOptions {
        spec: &s,
        rootfs: &rootfs,
        bundle: &b.dir,
        no_pivot: false,
        new_userns: false,
        new_cgroupns: true,
    };
    let res = in_child(
        CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWCGROUP,
        || {
            setup_and_finalize(&opts)?;
            let all = mounts_inside();
            let m = mount_at_path(&all, "/sys/fs/cgroup")?;
            if m.fstype == "tmpfs" {
                let mem = mount_at_path(&all, "/sys/fs/cgroup/memory")?;
                ensure!(
                    mem.fstype == "cgroup" && mem.root == Path::new("/") && has_opt(&mem, "ro"),
                    "memory: {mem:?}"
                );
                ensure!(
                    Path::new("/sys/fs/cgroup/memory/cgroup.procs").exists(),
                    "no cgroup.procs"
                );
            } else {
                ensure!(m.fstype == "cgroup2", "{m:?}");
            }
            erofs("/sys/fs/cgroup/memory/x")?;
            Ok(())
        },
    );
    assert_eq!(b.host_mounts(), Vec::<PathBuf>::new());
    res.unwrap();
}

#[test]
fn failing_mounts_render_the_syscall() {
    if !root_or_skip() {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let b = Bundle::new("render");
    let s = spec(
        r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
        "mounts":[{"destination":"/bad","type":"tmpfs","source":"tmpfs","options":["nosuid","size=lots"]}]}"#,
    );
    let rootfs = b.rootfs();
    let opts = RootfsOptions {
        spec: &s,
        rootfs: &rootfs,
        bundle: &b.dir,
        no_pivot: false,
        new_userns: false,
        new_cgroupns: false,
    };
    let err = in_child(CloneFlags::empty(), || {
        setup(&opts).map_err(|e| e.to_string())
    })
    .unwrap_err();
    assert_eq!(
        err,
        r#"mounts[0]: mount("tmpfs", "/bad", "tmpfs", MS_NOSUID, "size=lots"): Invalid argument (os error 22)"#
    );
    assert_eq!(b.host_mounts(), Vec::<PathBuf>::new());
}

#[test]
fn trusted_procfs_is_a_procfs_root() {
    let proc = match trusted_procfs() {
        Ok(p) => p,
        Err(e) if !nix::unistd::geteuid().is_root() => {
            println!("SKIPPED: {e}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    assert!(procfs::is_proc_root(proc.as_fd()));
    let f = open_in_procfs(&proc, "sys/kernel/ostype", OFlag::O_RDONLY).unwrap();
    let mut s = String::new();
    std::fs::File::from(f).read_to_string(&mut s).unwrap();
    assert_eq!(s, "Linux\n");
    // magic links and escapes are refused
    assert!(open_in_procfs(&proc, "self/fd/0", OFlag::O_RDONLY).is_err());
    assert!(open_in_procfs(&proc, "../etc/passwd", OFlag::O_RDONLY).is_err());
    assert!(open_in_procfs(&proc, "/etc/passwd", OFlag::O_RDONLY).is_err());
}

/// Map the child's root to the host's root (the single mapping a process may write for
/// itself), so a user namespace can be tested without a helper parent.
fn map_root_to_root() -> Result<(), String> {
    std::fs::write("/proc/self/uid_map", "0 0 1").map_err(|e| format!("uid_map: {e}"))?;
    std::fs::write("/proc/self/setgroups", "deny").map_err(|e| format!("setgroups: {e}"))?;
    std::fs::write("/proc/self/gid_map", "0 0 1").map_err(|e| format!("gid_map: {e}"))
}

/// In a user namespace: devices are bind-mounted from the host, sysfs falls back to a bind of
/// the host's /sys (EPERM without a network namespace), and read-only remounts keep the
/// flags the kernel locks.
#[test]
fn user_namespace_binds_devices_and_keeps_locked_flags() {
    if !root_or_skip() {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let b = Bundle::new("userns");
    let s = spec(
        r#"{"ociVersion":"1.0.2","root":{"path":"rootfs","readonly":true},
        "mounts":[
          {"destination":"/proc","type":"proc","options":["nosuid","noexec","nodev"]},
          {"destination":"/dev","type":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]},
          {"destination":"/sys","type":"sysfs","options":["nosuid","noexec","nodev","ro"]},
          {"destination":"/dev/pts","type":"devpts","options":["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620"]},
          {"destination":"/dev/mqueue","type":"mqueue","options":["nosuid","noexec","nodev"]},
          {"destination":"/sys/fs/cgroup","type":"cgroup","options":["nosuid","noexec","nodev","relatime","ro"]}
        ],
        "linux":{"maskedPaths":["/proc/timer_list","/sys/firmware"],"readonlyPaths":["/proc/sys"]}}"#,
    );
    let rootfs = b.rootfs();
    let opts = RootfsOptions {
        spec: &s,
        rootfs: &rootfs,
        bundle: &b.dir,
        no_pivot: false,
        new_userns: true,
        new_cgroupns: false,
    };
    let flags = CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWIPC;
    let res = in_child_with(flags, map_root_to_root, || {
        setup_and_finalize(&opts)?;
        let null = std::fs::metadata("/dev/null").map_err(|e| format!("/dev/null: {e}"))?;
        ensure!(
            null.file_type().is_char_device() && null.rdev() == nix::sys::stat::makedev(1, 3),
            "/dev/null"
        );
        let all = mounts_inside();
        ensure!(
            mount_at_path(&all, "/dev/null").is_ok(),
            "/dev/null is not a bind mount"
        );
        let sys = mount_at_path(&all, "/sys")?;
        ensure!(
            sys.fstype == "sysfs" && has_opt(&sys, "ro"),
            "/sys: {sys:?}"
        );
        erofs("/proc/sys/kernel/hostname")?;
        let m = mount_at_path(&all, "/proc/sys")?;
        ensure!(
            has_opt(&m, "nosuid") && has_opt(&m, "noexec") && has_opt(&m, "nodev"),
            "locked flags lost: {m:?}"
        );
        ensure!(
            std::fs::read("/proc/timer_list")
                .map_err(|e| format!("timer_list: {e}"))?
                .is_empty(),
            "timer_list"
        );
        erofs("/newfile")?;
        Ok(())
    });
    assert_eq!(b.host_mounts(), Vec::<PathBuf>::new());
    res.unwrap();
}

/// cgroup v2 in a user namespace without a cgroup namespace: the kernel refuses a cgroup2
/// mount (EPERM), so the process's own cgroup2 directory is bind-mounted instead. (Called
/// directly: on this project's hybrid hosts a `cgroup` mount takes the v1 path.)
#[test]
fn cgroup2_in_a_user_namespace_falls_back_to_a_bind() {
    if !root_or_skip() {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    if !parse_mountinfo(&text).iter().any(|m| m.fstype == "cgroup2") {
        println!("SKIPPED: no cgroup2 mount on this host");
        return;
    }
    let b = Bundle::new("cg2");
    let s = spec(r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"}}"#);
    let rootfs = std::fs::canonicalize(b.rootfs()).unwrap();
    let opts = RootfsOptions {
        spec: &s,
        rootfs: &rootfs,
        bundle: &b.dir,
        no_pivot: false,
        new_userns: true,
        new_cgroupns: false,
    };
    let flags = CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWPID;
    let res = in_child_with(flags, map_root_to_root, || {
        pivot::prepare_root(&rootfs, None).map_err(|e| e.to_string())?;
        let root = Root::open(&rootfs).map_err(|e| e.to_string())?;
        let ctx = mounts::Ctx {
            root: &root,
            opts: &opts,
            rootfs: &rootfs,
        };
        let o = parse_mount_options(Some("cgroup"), &["nosuid".into(), "ro".into()])
            .map_err(|e| format!("{e:?}"))?;
        cgroup::mount_v2(&ctx, Path::new("/sys/fs/cgroup"), &o).map_err(|e| e.to_string())?;
        let all = mounts_inside();
        let m = mount_at_path(&all, &format!("{}/sys/fs/cgroup", rootfs.display()))?;
        ensure!(
            m.fstype == "cgroup2" && has_opt(&m, "ro") && has_opt(&m, "nosuid"),
            "{m:?}"
        );
        ensure!(
            rootfs.join("sys/fs/cgroup/cgroup.procs").exists(),
            "no cgroup.procs"
        );
        Ok(())
    });
    assert_eq!(b.host_mounts(), Vec::<PathBuf>::new());
    res.unwrap();
}

/// `rootfsPropagation: rshared` makes the container's `/` a shared mount, yet nothing husk
/// mounts during setup may propagate back to the host (the rootfs's parent is made private
/// before the rootfs bind, like runc); `rprivate` leaves it, and every mount under it, in no
/// peer group.
#[test]
fn root_propagation() {
    if !root_or_skip() {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for (prop, want_shared, data_shared) in [
        ("rshared", true, true),
        ("rprivate", false, false),
        ("shared", true, true),
        ("", false, true),
    ] {
        let b = Bundle::new(&format!("prop-{prop}"));
        // Put the bundle on a shared host mount, so that a mount propagating from the
        // container's namespace would show up on the host.
        let _shared = SharedBind::new(&b.dir);
        let s = spec(&format!(
            r#"{{"ociVersion":"1.0.2","root":{{"path":"rootfs"}},
            "mounts":[{{"destination":"/proc","type":"proc"}},{{"destination":"/dev","type":"tmpfs"}},
                      {{"destination":"/data","type":"tmpfs","options":["rshared"]}}],
            "linux":{{"rootfsPropagation":"{prop}"}}}}"#
        ));
        let rootfs = b.rootfs();
        let opts = RootfsOptions {
            spec: &s,
            rootfs: &rootfs,
            bundle: &b.dir,
            no_pivot: false,
            new_userns: false,
            new_cgroupns: false,
        };
        let res = in_child(CloneFlags::CLONE_NEWPID, || {
            setup_and_finalize(&opts)?;
            let all = mounts_inside();
            let root = mount_at_path(&all, "/")?;
            let shared = root.optional.iter().any(|o| o.starts_with("shared:"));
            ensure!(shared == want_shared, "{prop}: / is {:?}", root.optional);
            // rootfsPropagation, when set, is applied to / recursively after the switch (runc
            // too): rprivate overrides /data's own rshared
            let data = mount_at_path(&all, "/data")?;
            let is_shared = data.optional.iter().any(|o| o.starts_with("shared:"));
            ensure!(
                is_shared == data_shared,
                "{prop}: /data is {:?}",
                data.optional
            );
            Ok(())
        });
        let leaked: Vec<_> = b
            .host_mounts()
            .into_iter()
            .filter(|p| p != &b.dir)
            .collect();
        assert_eq!(
            leaked,
            Vec::<PathBuf>::new(),
            "{prop}: mounts leaked to the host"
        );
        res.unwrap_or_else(|e| panic!("{prop}: {e}"));
    }
}

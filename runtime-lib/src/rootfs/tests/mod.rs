//! Namespaced tests: each forks a child that unshares a mount namespace (and a pid, cgroup
//! namespace as needed), runs [`setup`] and [`finalize`] on a temporary bundle, checks from
//! inside the new root what a user would check, and reports through a socket. The parent
//! asserts on the report and that no mount appeared under the bundle on the host.
//! Needs root; prints SKIPPED otherwise.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nix::sched::{unshare, CloneFlags};
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

/// A tmpfs mounted on the host with `flags`, unmounted on drop.
struct HostTmpfs(PathBuf);
impl HostTmpfs {
    fn new(dir: &Path, flags: nix::mount::MsFlags) -> HostTmpfs {
        std::fs::create_dir_all(dir).unwrap();
        nix::mount::mount(Some("tmpfs"), dir, Some("tmpfs"), flags, None::<&str>)
            .expect("host tmpfs");
        HostTmpfs(dir.to_path_buf())
    }
}
impl Drop for HostTmpfs {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// A host mount point, unmounted (detached) on drop.
struct Unmount(PathBuf);
impl Drop for Unmount {
    fn drop(&mut self) {
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

mod attacks;
mod full;
mod setup;
mod sources;
mod userns;

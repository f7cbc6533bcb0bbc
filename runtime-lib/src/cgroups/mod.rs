//! cgroups: one manager per driver (cgroup v1, cgroup v2; systemd later) behind [`Manager`].
//!
//! Controllers are small pure functions that write files under a directory handed in, so unit
//! tests run against a temporary directory.
//!
//! INTERFACE (used by `container/` and `process/`; keep these signatures):
//! - [`CgroupConfig`]: serialisable, stored in the container's state so a later `delete`,
//!   `kill --all` or `ps` finds the cgroup again.
//! - [`new_manager`]: pure resolution of `linux.cgroupsPath` (or the default) into a manager; no
//!   filesystem change.
//! - [`validate`]: pure check of `linux.resources` before anything is created; errors name the
//!   field (`linux.resources.memory.limit: ...`).
//! - [`from_config`]: rebuild a manager from the state.
//!
//! The order a container's creation calls them in:
//!
//! ```text
//! new_manager(path, id, systemd)        resolve; reads /proc/self/{mountinfo,cgroup}, creates nothing
//! manager.check_resources(resources)    validate() + what this host cannot honour; warnings to log
//! manager.create()                      mkdir (v1: every hierarchy; v2: enable controllers above)
//! manager.apply_resources(resources)    write the limits; ALWAYS call it, with
//!                                       `&LinuxResources::default()` when the config has none:
//!                                       it installs the device allow-list (deny all but runc's
//!                                       default devices), as runc does
//! manager.clone_into_fd()               v2: clone3(CLONE_INTO_CGROUP) with it
//!   or manager.self_join_files()        v1: the child writes "0" to each (TasksFile::join_self)
//!   or manager.add_process(pid)         v2 without clone3 (or a process not ours): move it in
//! ...                                   store manager.config() in the state
//! from_config(&state.cgroup).destroy()  at delete, after every process is dead
//! ```
//!
//! Later operations on a stored [`CgroupConfig`] (through [`from_config`]): `pids()` for
//! `ps`/`kill --all`, `freeze()`/`thaw()`/`is_frozen()` for `pause`/`resume`/status,
//! `stats()`/`oom_kills()` for `events`, and for `update`:
//! `apply_resources(&merge_resources(&current, &update))` (the full set: v1 and v2 write every
//! field again; the device list is written only where it changed).
//!
//! Hybrid hosts (v1 controllers plus a cgroup2 mount at `/sys/fs/cgroup/unified`) are driven as
//! cgroup v1, like runc does.

mod blkio;
mod devices;
mod freezer;
mod fs;
mod hugetlb;
mod merge;
mod misc;
mod path;
mod stats;
#[cfg(test)]
mod system_tests;
mod v1;
mod v2;
#[cfg(test)]
mod v2_system_tests;
mod validate;

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

pub use merge::merge_resources;
pub use stats::{
    BlkioEntry, BlkioStats, CpuSetStats, CpuStats, CpuUsage, HugetlbStats, MemoryEntry,
    MemoryStats, PidsStats, Stats, Throttling,
};
pub use validate::validate;

/// Where the cgroup filesystems are mounted on every host husk supports.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Errors of cgroup operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CgroupError {
    /// A config field is invalid or cannot be honoured on this host.
    #[error("{field}: {msg}")]
    Invalid {
        /// The offending field, e.g. `linux.resources.memory.limit`.
        field: String,
        /// What is wrong with it.
        msg: String,
    },
    /// A filesystem operation on a cgroup file failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done (`mkdir`, `write`, `rmdir`, ...).
        op: &'static str,
        /// The file or directory.
        path: std::path::PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Writing a value into a cgroup file failed (rendered like strace shows it, prefixed by
    /// the config field the value came from, when there is one).
    #[error(
        "{}write {} {:?}: {source}",
        .field.as_deref().map(|f| format!("{f}: ")).unwrap_or_default(),
        .path.display(),
        .value
    )]
    Write {
        /// The config field the value comes from, e.g. `linux.resources.memory.limit`.
        field: Option<String>,
        /// The cgroup file.
        path: std::path::PathBuf,
        /// What was written.
        value: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The requested driver or feature is not supported yet.
    #[error("{0}")]
    Unsupported(String),
}

/// A cgroup v1 `tasks` file, opened for writing by the runtime (the kernel checks the
/// opener's credentials, so a process that has since entered a user namespace can still use
/// it). See [`Manager::self_join_files`].
#[derive(Debug)]
pub struct TasksFile {
    path: PathBuf,
    file: std::fs::File,
}

impl TasksFile {
    pub(crate) fn open(dir: &Path) -> Result<Self, CgroupError> {
        let path = dir.join("tasks");
        match std::fs::OpenOptions::new().write(true).open(&path) {
            Ok(file) => Ok(TasksFile { path, file }),
            Err(source) => Err(CgroupError::Io {
                op: "open",
                path,
                source,
            }),
        }
    }

    /// Move the calling thread into this cgroup ("0" names the caller). Call it from a
    /// process with a single thread, so that the whole process moves: its later children are
    /// born in the cgroup.
    ///
    /// # Errors
    /// When the kernel refuses the move.
    pub fn join_self(&self) -> Result<(), CgroupError> {
        use std::io::Write as _;
        (&self.file)
            .write_all(b"0")
            .map_err(|source| CgroupError::Write {
                field: None,
                path: self.path.clone(),
                value: "0".to_string(),
                source,
            })
    }
}

/// Where a container's cgroup lives; stored in the container's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupConfig {
    /// The cleaned `cgroupsPath` as given: absolute (`/husk/demo`, relative to each hierarchy's
    /// root) or relative (`demo`, relative to the runtime's own cgroup at creation time).
    pub path: String,
    /// True when the host uses cgroup v2 only (unified hierarchy).
    pub unified: bool,
    /// The resolved directories. On v1 one entry per mounted subsystem (`memory`, `cpu`,
    /// `name=systemd`, ...; co-mounted subsystems share a directory); on v2 one entry,
    /// `unified`. Stored because a relative path depends on the cgroup of the process that
    /// created the container, which a later `delete` need not share.
    #[serde(default)]
    pub dirs: BTreeMap<String, PathBuf>,
}

/// A cgroup driver. Implemented for cgroup v1 and cgroup v2; systemd comes later.
pub trait Manager {
    /// The serialisable description of this cgroup, for the state file.
    fn config(&self) -> CgroupConfig;
    /// Create the cgroup directories (all needed controllers on v1). Idempotent.
    ///
    /// # Errors
    /// When a directory cannot be created.
    fn create(&self) -> Result<(), CgroupError>;
    /// Apply `linux.resources`. Called after [`Manager::create`], before the container
    /// process runs user code.
    ///
    /// # Errors
    /// When a controller file cannot be written.
    fn apply_resources(&self, resources: &LinuxResources) -> Result<(), CgroupError>;
    /// Move the process `pid` into the cgroup (all hierarchies on v1).
    ///
    /// # Errors
    /// When `cgroup.procs` cannot be written.
    fn add_process(&self, pid: i32) -> Result<(), CgroupError>;
    /// On cgroup v1: the `tasks` file of the cgroup in every hierarchy, open for writing, for a
    /// new single-threaded process to move ITSELF in with [`TasksFile::join_self`]. A thread
    /// moving itself is the one move the kernel (5.17 and later) makes without the global
    /// threadgroup lock, whose write side waits for an RCU grace period: writing a pid to
    /// `cgroup.procs` instead costs 5 to 15 ms here, per container. Empty on v2 (clone3's
    /// `CLONE_INTO_CGROUP` places the process at birth; see [`Manager::clone_into_fd`]).
    ///
    /// # Errors
    /// When a `tasks` file cannot be opened.
    fn self_join_files(&self) -> Result<Vec<TasksFile>, CgroupError>;
    /// On cgroup v2: an `O_PATH|O_DIRECTORY|O_CLOEXEC` fd of the cgroup directory, for
    /// `clone3(CLONE_INTO_CGROUP)`. `None` on v1.
    ///
    /// # Errors
    /// When the directory cannot be opened.
    fn clone_into_fd(&self) -> Result<Option<OwnedFd>, CgroupError>;
    /// The pids in the cgroup (and its descendants).
    ///
    /// # Errors
    /// When `cgroup.procs` cannot be read.
    fn pids(&self) -> Result<Vec<i32>, CgroupError>;
    /// Remove the cgroup directories. Succeeds when they are already gone. The caller has
    /// killed every process first.
    ///
    /// # Errors
    /// When a directory still exists and cannot be removed.
    fn destroy(&self) -> Result<(), CgroupError>;

    /// Everything [`validate`] checks, plus what this host's driver cannot honour (a v1-only
    /// field on v2, a controller that is not mounted, ...). Pure: reads nothing but the
    /// resolved layout. Returns the warnings the caller should log for the fields that are
    /// tolerated but have no effect (as runc tolerates them).
    ///
    /// # Errors
    /// The first field that is invalid or cannot be honoured here.
    fn check_resources(&self, resources: &LinuxResources) -> Result<Vec<String>, CgroupError>;

    /// Freeze every process in the cgroup (`pause`); returns once the kernel reports the
    /// cgroup frozen. A freeze that does not complete in a few seconds is undone and reported.
    ///
    /// # Errors
    /// When the freezer is missing (v1: the freezer hierarchy is not mounted) or the freeze
    /// does not complete.
    fn freeze(&self) -> Result<(), CgroupError>;
    /// Thaw the cgroup (`resume`); returns once the kernel reports it thawed.
    ///
    /// # Errors
    /// As [`Manager::freeze`].
    fn thaw(&self) -> Result<(), CgroupError>;
    /// True when the cgroup is frozen (the container's status is `paused`).
    ///
    /// # Errors
    /// When the freezer state cannot be read.
    fn is_frozen(&self) -> Result<bool, CgroupError>;

    /// Current resource usage (`events --stats`). Counters a host lacks read as 0.
    ///
    /// # Errors
    /// When a statistics file exists but cannot be read or parsed.
    fn stats(&self) -> Result<Stats, CgroupError>;
    /// How many processes of the cgroup the OOM killer has killed so far (v1: `oom_kill` of
    /// `memory.oom_control`; v2: `oom_kill` of `memory.events`). `events` reports an `oom`
    /// event whenever it grows.
    ///
    /// # Errors
    /// When the memory controller's file cannot be read.
    fn oom_kills(&self) -> Result<u64, CgroupError>;
}

/// What a host's cgroup layout looks like: enough to resolve a `cgroupsPath`.
#[derive(Debug, Clone)]
struct Host {
    unified: bool,
    mounts: Vec<path::CgroupMount>,
    own: BTreeMap<String, String>,
    v2_root: PathBuf,
}

impl Host {
    /// Read the layout of the running host (reads `/proc/self/mountinfo` and
    /// `/proc/self/cgroup`, statfs of `/sys/fs/cgroup`).
    fn detect() -> Result<Host, CgroupError> {
        let unified = is_unified(Path::new(CGROUP_ROOT))?;
        let read = |p: &str| {
            std::fs::read_to_string(p).map_err(|source| CgroupError::Io {
                op: "read",
                path: p.into(),
                source,
            })
        };
        let mounts = if unified {
            Vec::new()
        } else {
            path::parse_mountinfo(&read("/proc/self/mountinfo")?)
        };
        let own = path::parse_proc_cgroup(&read("/proc/self/cgroup")?);
        Ok(Host {
            unified,
            mounts,
            own,
            v2_root: PathBuf::from(CGROUP_ROOT),
        })
    }

    fn resolve(&self, cgroups_path: Option<&str>, id: &str) -> Result<CgroupConfig, CgroupError> {
        let inner = path::clean(cgroups_path, id)?;
        let dirs = if self.unified {
            let d = path::resolve_v2(&self.v2_root, &self.own, &inner)?;
            BTreeMap::from([(v2::KEY.to_string(), d)])
        } else {
            path::resolve_v1(&self.mounts, &self.own, &inner)?
        };
        Ok(CgroupConfig {
            path: inner.display(),
            unified: self.unified,
            dirs,
        })
    }
}

/// True when `root` is a cgroup2 filesystem (the host runs the unified hierarchy only).
fn is_unified(root: &Path) -> Result<bool, CgroupError> {
    let st = nix::sys::statfs::statfs(root).map_err(|e| CgroupError::Io {
        op: "statfs",
        path: root.to_path_buf(),
        source: e.into(),
    })?;
    Ok(st.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
}

/// Resolve `linux.cgroupsPath` (or the default for `id`) into a manager for this host. Pure:
/// nothing is created until [`Manager::create`].
///
/// Without a `cgroupsPath` the cgroup is `<id>` relative to the runtime's own cgroup (on v2:
/// to its parent), which is what runc's cgroupfs driver does. See the `path` module for the
/// full rules; `..` that escapes is refused.
///
/// # Errors
/// When the path is invalid, the host's cgroup layout is not usable, or `systemd` is asked
/// for (not supported yet).
///
/// ```no_run
/// let m = husk::cgroups::new_manager(Some("/husk/demo"), "demo", false)?;
/// m.create()?;
/// # Ok::<(), husk::cgroups::CgroupError>(())
/// ```
pub fn new_manager(
    cgroups_path: Option<&str>,
    id: &str,
    systemd: bool,
) -> Result<Box<dyn Manager>, CgroupError> {
    if systemd {
        return Err(CgroupError::Unsupported(
            "systemd cgroup driver (--systemd-cgroup) is not supported yet".into(),
        ));
    }
    let config = Host::detect()?.resolve(cgroups_path, id)?;
    Ok(from_config(&config))
}

/// Rebuild the manager of an existing container from its stored [`CgroupConfig`].
///
/// A config without `dirs` (written before they were stored) is resolved again from its
/// `path` against this process's view of the host.
pub fn from_config(config: &CgroupConfig) -> Box<dyn Manager> {
    let mut config = config.clone();
    if config.dirs.is_empty() {
        if let Ok(c) = Host::detect().and_then(|h| h.resolve(Some(&config.path), "")) {
            config.dirs = c.dirs;
        }
    }
    if config.unified {
        Box::new(v2::V2Manager::new(config))
    } else {
        Box::new(v1::V1Manager::new(config))
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    //! A temporary directory removed on drop (the crate has no tempfile dependency).
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU32, Ordering};

    pub(crate) struct TempDir(PathBuf);

    impl TempDir {
        pub(crate) fn new(tag: &str) -> TempDir {
            static N: AtomicU32 = AtomicU32::new(0);
            let p = std::env::temp_dir().join(format!(
                "husk-cg-{tag}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }
        pub(crate) fn path(&self) -> &Path {
            &self.0
        }
        /// Create empty files (cgroup control files) in `sub` (relative).
        pub(crate) fn touch(&self, sub: &str, files: &[&str]) -> PathBuf {
            let d = self.0.join(sub);
            std::fs::create_dir_all(&d).unwrap();
            for f in files {
                std::fs::write(d.join(f), "").unwrap();
            }
            d
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    pub(crate) fn read(dir: &Path, file: &str) -> String {
        std::fs::read_to_string(dir.join(file)).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_v1_host() -> Host {
        Host {
            unified: false,
            mounts: path::parse_mountinfo(
                "1 0 0:1 / /cg/memory rw - cgroup cgroup rw,memory\n\
                 2 0 0:2 / /cg/devices rw - cgroup cgroup rw,devices\n\
                 3 0 0:3 / /cg/unified rw - cgroup2 cgroup2 rw\n",
            ),
            own: path::parse_proc_cgroup("4:memory:/m\n2:devices:/\n0::/\n"),
            v2_root: PathBuf::from("/cg/unified"),
        }
    }

    #[test]
    fn resolve_hybrid_as_v1_and_roundtrip_state() {
        let c = fake_v1_host().resolve(None, "c1").unwrap();
        assert!(!c.unified);
        assert_eq!(c.path, "c1");
        assert_eq!(c.dirs["memory"], Path::new("/cg/memory/m/c1"));
        assert_eq!(c.dirs["devices"], Path::new("/cg/devices/c1"));
        assert_eq!(
            c.dirs.len(),
            2,
            "the hybrid cgroup2 mount is not used: {c:?}"
        );
        let json = serde_json::to_string(&c).unwrap();
        let back: CgroupConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
        // An old state without dirs still parses.
        let old: CgroupConfig = serde_json::from_str(r#"{"path":"/a","unified":false}"#).unwrap();
        assert!(old.dirs.is_empty());
    }

    #[test]
    fn resolve_v2() {
        let mut h = fake_v1_host();
        h.unified = true;
        h.own = path::parse_proc_cgroup("0::/user.slice/x.scope\n");
        let c = h.resolve(Some("/a/b"), "c1").unwrap();
        assert_eq!(c.dirs[v2::KEY], Path::new("/cg/unified/a/b"));
        let c = h.resolve(None, "c1").unwrap();
        assert_eq!(c.dirs[v2::KEY], Path::new("/cg/unified/user.slice/c1"));
    }

    #[test]
    fn systemd_driver_is_refused_clearly() {
        let e = new_manager(None, "x", true).err().unwrap().to_string();
        assert!(
            e.contains("systemd") && e.contains("not supported yet"),
            "{e}"
        );
    }

    #[test]
    fn write_error_renders_field_path_value() {
        let e = CgroupError::Write {
            field: Some("linux.resources.memory.limit".into()),
            path: "/sys/fs/cgroup/memory/x/memory.limit_in_bytes".into(),
            value: "1024".into(),
            source: std::io::Error::from_raw_os_error(libc::EBUSY),
        };
        // The errno's text is the C library's (glibc: "Device or resource busy", musl:
        // "Resource busy").
        let busy = std::io::Error::from_raw_os_error(libc::EBUSY);
        assert_eq!(
            e.to_string(),
            format!(
                "linux.resources.memory.limit: write /sys/fs/cgroup/memory/x/memory.limit_in_bytes \
                 \"1024\": {busy}"
            )
        );
    }
}

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

use std::os::fd::OwnedFd;

use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

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
    /// The requested driver or feature is not supported yet.
    #[error("{0}")]
    Unsupported(String),
}

/// Where a container's cgroup lives; stored in the container's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupConfig {
    /// The cgroup path relative to the cgroup root(s), e.g. `/husk/demo`.
    pub path: String,
    /// True when the host uses cgroup v2 only (unified hierarchy).
    pub unified: bool,
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
}

/// Resolve `linux.cgroupsPath` (or the default for `id`) into a manager for this host. Pure:
/// nothing is created until [`Manager::create`].
///
/// # Errors
/// When the path is invalid, the host's cgroup layout is not usable, or `systemd` is asked
/// for (not supported yet).
pub fn new_manager(
    cgroups_path: Option<&str>,
    id: &str,
    systemd: bool,
) -> Result<Box<dyn Manager>, CgroupError> {
    let _ = (cgroups_path, id, systemd);
    unimplemented!("cgroups helper")
}

/// Rebuild the manager of an existing container from its stored [`CgroupConfig`].
pub fn from_config(config: &CgroupConfig) -> Box<dyn Manager> {
    let _ = config;
    unimplemented!("cgroups helper")
}

/// Check `linux.resources` before anything is created. Errors name the offending field.
///
/// # Errors
/// A field that is invalid, or that husk cannot honour on this host.
pub fn validate(resources: &LinuxResources) -> Result<(), CgroupError> {
    let _ = resources;
    unimplemented!("cgroups helper")
}

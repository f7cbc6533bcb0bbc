//! The container's root filesystem: mounts, propagation, `pivot_root` (and the no-pivot path),
//! `/dev`, masked and read-only paths, and the ONE resolver through which any path inside the
//! container root is opened (security.md S3, S8).
//!
//! INTERFACE (used by `process/`; keep these signatures):
//! - [`validate`]: pure checks of `mounts`, `root`, `linux.devices`, `linux.maskedPaths`,
//!   `linux.readonlyPaths`, `linux.rootfsPropagation`; errors name the field
//!   (`mounts[3].options: unknown mount option "foo"`).
//! - [`setup`]: in the container's new mount namespace, before user code: propagation,
//!   every mount in order, default devices and `/dev` symlinks, `linux.devices`, then
//!   `pivot_root` (or `MS_MOVE` + `chroot` with `no_pivot`). Leaves the process in the new `/`.
//! - [`finalize`]: after sysctls are written: read-only paths, masked paths, `root.readonly`.
//! - [`trusted_procfs`]: a private procfs handle for procfs writes (S6).

use std::os::fd::OwnedFd;
use std::path::Path;

use oci_spec::runtime::Spec;

/// Errors of root filesystem preparation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RootfsError {
    /// A config field is invalid.
    #[error("{field}: {msg}")]
    Invalid {
        /// The offending field, e.g. `mounts[3].options`.
        field: String,
        /// What is wrong with it.
        msg: String,
    },
    /// A system call failed; `op` renders it with its arguments, like strace.
    #[error("{op}: {source}")]
    Sys {
        /// The failing call, e.g. `mount("proc", "/proc", "proc", MS_NOSUID, NULL)`.
        op: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The root filesystem is unsafe (e.g. `/proc` is a symlink).
    #[error("{0}")]
    Unsafe(String),
}

impl RootfsError {
    /// The errno behind this error, if any (carried across the parent/child channel).
    pub fn errno(&self) -> Option<i32> {
        match self {
            RootfsError::Sys { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

/// What [`setup`] and [`finalize`] need besides the spec.
#[derive(Debug, Clone, Copy)]
pub struct RootfsOptions<'a> {
    /// The whole config.
    pub spec: &'a Spec,
    /// Absolute host path of the root filesystem (`root.path` resolved against the bundle).
    pub rootfs: &'a Path,
    /// Absolute path of the bundle, for relative bind-mount sources.
    pub bundle: &'a Path,
    /// `--no-pivot`: `MS_MOVE` the rootfs onto `/` and `chroot` instead of `pivot_root`.
    pub no_pivot: bool,
    /// The container has its own user namespace: devices are bind-mounted from the host
    /// instead of created with `mknod`.
    pub new_userns: bool,
    /// The container has its own cgroup namespace (affects `cgroup` mounts).
    pub new_cgroupns: bool,
}

/// Pure validation of every filesystem-related field, before anything is created.
///
/// # Errors
/// The first invalid field, named.
pub fn validate(spec: &Spec) -> Result<(), RootfsError> {
    let _ = spec;
    unimplemented!("rootfs helper")
}

/// Prepare the root filesystem and switch into it. Runs in the container process, inside its
/// new mount namespace, as (namespaced) root.
///
/// # Errors
/// The failing mount or device, with the system call and errno.
pub fn setup(opts: &RootfsOptions<'_>) -> Result<(), RootfsError> {
    let _ = opts;
    unimplemented!("rootfs helper")
}

/// Read-only paths, masked paths and `root.readonly`, applied after [`setup`] (and after the
/// sysctls are written, since `/proc/sys` is usually read-only).
///
/// # Errors
/// The failing path, with the system call and errno.
pub fn finalize(opts: &RootfsOptions<'_>) -> Result<(), RootfsError> {
    let _ = opts;
    unimplemented!("rootfs helper")
}

/// A handle on a private, trusted procfs (fresh `fsopen("proc")`, or an equivalent checked with
/// `fstatfs`), for writes to `/proc/sys`, `/proc/self/attr`, `oom_score_adj` (security.md S6).
///
/// # Errors
/// When no trusted procfs can be obtained.
pub fn trusted_procfs() -> Result<OwnedFd, RootfsError> {
    unimplemented!("rootfs helper")
}

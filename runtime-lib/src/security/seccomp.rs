//! seccomp: compile `linux.seccomp` into one BPF program (no libseccomp) and load it.
//!
//! INTERFACE (used by `process/`; keep these signatures):
//! - [`compile`]: pure, in the runtime process before the fork.
//! - [`SeccompProgram::load`]: in the container process, last thing before `execve`, after
//!   `no_new_privs` and the capability changes.

use std::os::fd::OwnedFd;

use oci_spec::runtime::LinuxSeccomp;

/// Errors of seccomp compilation and loading.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SeccompError {
    /// A field of `linux.seccomp` is invalid or unsupported.
    #[error("{field}: {msg}")]
    Invalid {
        /// The offending field, e.g. `linux.seccomp.syscalls[3].args[0].op`.
        field: String,
        /// What is wrong with it.
        msg: String,
    },
    /// Loading the filter failed.
    #[error("{op}: {source}")]
    Sys {
        /// The failing call.
        op: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// A compiled seccomp filter, ready to load.
#[derive(Debug, Clone)]
pub struct SeccompProgram {
    _private: (),
}

/// Compile `linux.seccomp` for this machine's architecture (and the compat architectures the
/// profile lists).
///
/// # Errors
/// An invalid or unsupported field, named.
pub fn compile(seccomp: &LinuxSeccomp) -> Result<SeccompProgram, SeccompError> {
    let _ = seccomp;
    unimplemented!("seccomp helper")
}

impl SeccompProgram {
    /// Load the filter into the calling thread (with TSYNC when asked). Returns the notify
    /// listener fd when the profile uses `SCMP_ACT_NOTIFY`.
    ///
    /// # Errors
    /// When `seccomp(2)` refuses the program.
    pub fn load(&self) -> Result<Option<OwnedFd>, SeccompError> {
        unimplemented!("seccomp helper")
    }
}

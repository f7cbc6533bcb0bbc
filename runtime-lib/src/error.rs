//! The library's public error type.
//!
//! Each module has its own `thiserror` enum; [`Error`] gathers them. Messages are lowercase,
//! without a trailing period, and use runc's wording where callers (containerd, podman) match on
//! the text: "container does not exist", "container not running", "no such process",
//! "executable file not found in $PATH".

use std::io;
use std::path::PathBuf;

/// A specialised `Result` for husk operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while creating or driving a container.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bundle's `config.json` could not be loaded or is invalid.
    #[error(transparent)]
    Spec(#[from] crate::spec::SpecError),
    /// Preparing the root filesystem failed.
    #[error(transparent)]
    Rootfs(#[from] crate::rootfs::RootfsError),
    /// A cgroup operation failed.
    #[error(transparent)]
    Cgroup(#[from] crate::cgroups::CgroupError),
    /// Compiling or loading the seccomp filter failed.
    #[error(transparent)]
    Seccomp(#[from] crate::security::seccomp::SeccompError),
    /// Reading or writing the state directory failed.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    /// A hook failed.
    #[error(transparent)]
    Hook(#[from] crate::hooks::HookError),
    /// The container id is not acceptable.
    #[error("invalid container id {id:?}: {reason}")]
    InvalidId {
        /// The id as given.
        id: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A container with this id already exists in the state directory.
    #[error("container with id exists: {0}")]
    AlreadyExists(String),
    /// No container with this id exists in the state directory.
    #[error("container does not exist")]
    NotFound(String),
    /// The operation needs a different container status.
    #[error("{msg}")]
    WrongState {
        /// The container's id.
        id: String,
        /// runc's wording, e.g. "container not running" or "cannot start a container that has
        /// stopped".
        msg: String,
    },
    /// Setting up the container process failed; the error happened inside the new container
    /// (or its intermediate process) and was carried back to the caller as data.
    #[error("{0}")]
    Init(#[from] crate::process::InitError),
    /// A system call failed in the runtime process.
    #[error("{op}: {source}")]
    Sys {
        /// The failing call, rendered with its arguments like strace does.
        op: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A file given by the caller (pid file, console socket, ...) could not be used.
    #[error("{op} {path}: {source}")]
    Path {
        /// What was being done.
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The caller's process cannot run the operation (for example it has several threads).
    #[error("{0}")]
    Unsupported(String),
}

impl Error {
    /// Wrap an OS error with the call that failed.
    pub(crate) fn sys(op: impl Into<String>, source: impl Into<io::Error>) -> Self {
        Error::Sys { op: op.into(), source: source.into() }
    }
}

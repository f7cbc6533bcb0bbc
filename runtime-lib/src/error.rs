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
        source: OsError,
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
        source: OsError,
    },
    /// The caller's process cannot run the operation (for example it has several threads).
    #[error("{0}")]
    Unsupported(String),
}

/// An OS error rendered the way runc (Go) renders it: the lowercase `strerror` text, without
/// Rust's " (os error N)" suffix. podman and containerd match on this text ("no such file or
/// directory", "permission denied").
#[derive(Debug)]
pub struct OsError(pub io::Error);

impl OsError {
    /// The errno, if this is an OS error.
    pub fn errno(&self) -> Option<i32> {
        self.0.raw_os_error()
    }
}

impl std::fmt::Display for OsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.raw_os_error() {
            Some(n) => f.write_str(&errno_text(n)),
            None => write!(f, "{}", self.0),
        }
    }
}

impl std::error::Error for OsError {}

impl From<io::Error> for OsError {
    fn from(e: io::Error) -> Self {
        OsError(e)
    }
}

impl From<nix::Error> for OsError {
    fn from(e: nix::Error) -> Self {
        OsError(e.into())
    }
}

/// `strerror(errno)` in lowercase, like Go's `syscall.Errno.Error()`.
pub fn errno_text(errno: i32) -> String {
    let desc = nix::errno::Errno::from_raw(errno).desc();
    let mut c = desc.chars();
    match c.next() {
        Some(first) => first.to_lowercase().chain(c).collect(),
        None => format!("errno {errno}"),
    }
}

impl Error {
    /// Wrap an OS error with the call that failed.
    pub(crate) fn sys(op: impl Into<String>, source: impl Into<OsError>) -> Self {
        Error::Sys {
            op: op.into(),
            source: source.into(),
        }
    }
}

//! The public lifecycle: create, start, state, kill, delete, list.
//!
//! INTERFACE (used by the CLI and by embedders; keep these signatures).

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::sys::signal::Signal;
use serde::{Deserialize, Serialize};

use crate::Result;

/// The default state root, as `--root` defaults to.
pub const DEFAULT_STATE_ROOT: &str = "/run/husk";

/// Container status as the runtime-spec defines it (plus `paused`, as runc reports it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Being created: the runtime has not finished `create`.
    Creating,
    /// Created: init is blocked, waiting for `start`.
    Created,
    /// The user process runs.
    Running,
    /// The cgroup is frozen.
    Paused,
    /// The container process has exited.
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// The `state` command's output (runtime-spec state plus runc's extra fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateReport {
    /// The spec version of the container's config.
    pub oci_version: String,
    /// The container id.
    pub id: String,
    /// The pid of the container process as seen from the host (0 when stopped).
    pub pid: i32,
    /// The status.
    pub status: Status,
    /// Absolute path of the bundle.
    pub bundle: PathBuf,
    /// Absolute path of the root filesystem.
    pub rootfs: PathBuf,
    /// Creation time, RFC 3339 in UTC.
    pub created: String,
    /// The owner (as runc: empty for root-created containers).
    pub owner: String,
    /// The config's annotations.
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub annotations: HashMap<String, String>,
}

/// How the container's exit was observed by [`Container::wait`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Exited with this code.
    Code(i32),
    /// Killed by this signal number.
    Signaled(i32),
}

impl ExitStatus {
    /// The shell-style exit code: the code, or 128 + signal.
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Code(c) => c,
            ExitStatus::Signaled(s) => 128 + s,
        }
    }
}

/// Builds a container from a bundle: `ContainerBuilder::new(id, bundle)...create()`.
#[derive(Debug)]
pub struct ContainerBuilder {
    pub(crate) id: String,
    pub(crate) bundle: PathBuf,
    pub(crate) root: PathBuf,
    pub(crate) pid_file: Option<PathBuf>,
    pub(crate) console_socket: Option<PathBuf>,
    pub(crate) no_pivot: bool,
    pub(crate) no_new_keyring: bool,
    pub(crate) preserve_fds: u32,
    pub(crate) systemd_cgroup: bool,
    pub(crate) detached: bool,
}

impl ContainerBuilder {
    /// A builder for container `id` from the bundle directory `bundle`.
    pub fn new(id: impl Into<String>, bundle: impl Into<PathBuf>) -> Self {
        ContainerBuilder {
            id: id.into(),
            bundle: bundle.into(),
            root: PathBuf::from(DEFAULT_STATE_ROOT),
            pid_file: None,
            console_socket: None,
            no_pivot: false,
            no_new_keyring: false,
            preserve_fds: 0,
            systemd_cgroup: false,
            detached: true,
        }
    }
    /// The state root (`--root`), default [`DEFAULT_STATE_ROOT`].
    pub fn state_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.root = root.into();
        self
    }
    /// Write the container's host pid here (no trailing newline, atomically).
    pub fn pid_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.pid_file = Some(path.into());
        self
    }
    /// Send the pty master to this unix socket (for `process.terminal`).
    pub fn console_socket(mut self, path: impl Into<PathBuf>) -> Self {
        self.console_socket = Some(path.into());
        self
    }
    /// Use `MS_MOVE` + `chroot` instead of `pivot_root` (`--no-pivot`).
    pub fn no_pivot(mut self, yes: bool) -> Self {
        self.no_pivot = yes;
        self
    }
    /// Do not create a new session keyring (`--no-new-keyring`).
    pub fn no_new_keyring(mut self, yes: bool) -> Self {
        self.no_new_keyring = yes;
        self
    }
    /// Pass fds 3..3+n of the caller into the container (`--preserve-fds`).
    pub fn preserve_fds(mut self, n: u32) -> Self {
        self.preserve_fds = n;
        self
    }
    /// Use the systemd cgroup driver (`--systemd-cgroup`): not supported yet, refused at create.
    pub fn systemd_cgroup(mut self, yes: bool) -> Self {
        self.systemd_cgroup = yes;
        self
    }
    /// `true` (the default, like `runc create`): the container process is reparented to the
    /// caller's subreaper when this process exits. `false` (`runc run` in the foreground): the
    /// caller stays the parent and may [`Container::wait`] for it.
    pub fn detached(mut self, yes: bool) -> Self {
        self.detached = yes;
        self
    }
    /// Create the container: validate the bundle, create cgroup and namespaces, prepare the
    /// root filesystem, and leave init blocked until [`Container::start`].
    ///
    /// # Errors
    /// Any invalid config field (named), a missing rootfs, an invalid or duplicate id, or a
    /// failure while setting up the container. Nothing is left behind on error.
    pub fn create(self) -> Result<Container> {
        unimplemented!()
    }
}

/// A container in the state directory.
#[derive(Debug)]
pub struct Container {
    _private: (),
}

impl Container {
    /// Load container `id` from the state root.
    ///
    /// # Errors
    /// [`crate::Error::NotFound`] ("container does not exist") or an unreadable state file.
    pub fn load(root: impl AsRef<Path>, id: &str) -> Result<Container> {
        let _ = (root.as_ref(), id);
        unimplemented!()
    }
    /// The container id.
    pub fn id(&self) -> &str {
        unimplemented!()
    }
    /// The host pid of the container process, when it has not stopped.
    pub fn pid(&self) -> Option<i32> {
        unimplemented!()
    }
    /// The status, derived from the real process (and cgroup freezer).
    pub fn status(&self) -> Status {
        unimplemented!()
    }
    /// The `state` command's report.
    pub fn state(&self) -> StateReport {
        unimplemented!()
    }
    /// Start the user process of a `created` container.
    ///
    /// # Errors
    /// [`crate::Error::WrongState`] when the container is not `created`.
    pub fn start(&mut self) -> Result<()> {
        unimplemented!()
    }
    /// Send `signal` to the container process, or with `all` to every process in its cgroup.
    ///
    /// # Errors
    /// "container not running" when it has stopped.
    pub fn kill(&self, signal: Signal, all: bool) -> Result<()> {
        let _ = (signal, all);
        unimplemented!()
    }
    /// Delete the container: its cgroup and state. Without `force`, only a `created` or
    /// `stopped` container (a created one is killed first, as runc does); with `force`, a
    /// running one is killed first.
    ///
    /// # Errors
    /// When the container is running and `force` is false, or cleanup fails.
    pub fn delete(self, force: bool) -> Result<()> {
        let _ = force;
        unimplemented!()
    }
    /// Wait for the container process to exit. Only for a container created by this process
    /// with `detached(false)`.
    ///
    /// # Errors
    /// When this process is not the container's parent.
    pub fn wait(&self) -> Result<ExitStatus> {
        unimplemented!()
    }
    /// The pty master, when created with `detached(false)`, a terminal and no console socket.
    pub fn take_console(&mut self) -> Option<OwnedFd> {
        None
    }
}

/// Every container in the state root, sorted by id. Unreadable entries are skipped.
///
/// # Errors
/// When the state root exists but cannot be read.
pub fn list(root: impl AsRef<Path>) -> Result<Vec<Container>> {
    let _ = root.as_ref();
    unimplemented!()
}

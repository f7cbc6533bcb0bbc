//! The public lifecycle: create, start, state, kill, delete, list, exec.
//!
//! INTERFACE (used by the CLI and by embedders; keep these signatures).

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::sys::signal::Signal;
use serde::{Deserialize, Serialize};

use nix::unistd::Pid;

use crate::cgroups;
use crate::state::{validate_id, ProcInfo, StateDir, StateError, StateFile};
use crate::{Error, Result};

mod create;
mod exec;
mod lifecycle;
mod notify;

pub use exec::{ExecDefaults, ExecOptions, ExecProcess};

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
    pub(crate) notify_socket: Option<PathBuf>,
    pub(crate) listen_fds: u32,
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
            notify_socket: None,
            listen_fds: 0,
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
    /// The caller's `NOTIFY_SOCKET` (runc's sd_notify proxy): the container gets a socket of
    /// its own at `/run/notify/notify.sock` (`NOTIFY_SOCKET` set for its process), which
    /// [`Container::start`] relays to the host's socket; see [`Container::notify_socket`].
    pub fn notify_socket(mut self, host_socket: impl Into<PathBuf>) -> Self {
        self.notify_socket = Some(host_socket.into());
        self
    }
    /// Socket activation: the caller's fds 3..3+n (systemd's `LISTEN_FDS`, meant for this
    /// process) go to the container process, before any `--preserve-fds` ones, with
    /// `LISTEN_FDS=n` and `LISTEN_PID` set to the process' own pid (1 in a new pid namespace,
    /// what runc sets).
    pub fn listen_fds(mut self, n: u32) -> Self {
        self.listen_fds = n;
        self
    }
    /// Create the container: validate the bundle, create cgroup and namespaces, prepare the
    /// root filesystem, and leave init blocked until [`Container::start`].
    ///
    /// # Errors
    /// Any invalid config field (named), a missing rootfs, an invalid or duplicate id, or a
    /// failure while setting up the container. Nothing is left behind on error.
    pub fn create(self) -> Result<Container> {
        create::create(self)
    }
}

/// A container in the state directory.
#[derive(Debug)]
pub struct Container {
    dir: StateDir,
    state: StateFile,
    /// The container process is our child (created with `detached(false)`).
    child: bool,
    warnings: Vec<String>,
    /// The pty master of a foreground container with a terminal.
    console: Option<OwnedFd>,
    /// The host's sd_notify socket for [`Container::start`] to relay to.
    notify_host: Option<PathBuf>,
}

impl Container {
    /// Load container `id` from the state root.
    ///
    /// # Errors
    /// [`Error::NotFound`] ("container does not exist") or an unreadable state file.
    pub fn load(root: impl AsRef<Path>, id: &str) -> Result<Container> {
        validate_id(id).map_err(|reason| Error::InvalidId {
            id: id.to_string(),
            reason,
        })?;
        let dir = StateDir::new(root.as_ref(), id);
        if !dir.exists() {
            return Err(Error::NotFound(id.to_string()));
        }
        Container::load_dir(dir, id)
    }

    /// Load from `dir`, known to be a folder (see [`list`]).
    fn load_dir(dir: StateDir, id: &str) -> Result<Container> {
        let state = match dir.load() {
            Ok(s) => s,
            // A folder without state.json: a create that died before its first write.
            Err(StateError::Io { source, .. }) if source.errno() == Some(libc::ENOENT) => {
                StateFile::placeholder(id)
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Container {
            dir,
            state,
            child: false,
            warnings: Vec::new(),
            console: None,
            notify_host: None,
        })
    }

    /// The container id.
    pub fn id(&self) -> &str {
        &self.state.id
    }

    /// Warnings collected while creating or starting (e.g. dropped capabilities, failed
    /// poststart hooks), for the caller to log.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The host pid of the container process, when it has not stopped.
    pub fn pid(&self) -> Option<i32> {
        match self.status() {
            Status::Stopped | Status::Creating => None,
            _ => Some(self.state.pid),
        }
    }

    /// The host pid recorded by `create` (0 while creating), without looking at the process:
    /// for a caller that already knows it runs (e.g. its own child, just started), where
    /// [`Container::pid`] would read `/proc` again.
    pub fn recorded_pid(&self) -> i32 {
        self.state.pid
    }

    /// One look at the container process (`/proc/<pid>/stat`), for [`Container::status_from`]
    /// and [`lifecycle::destroy`] to share instead of each reading it again.
    fn probe(&self) -> Option<ProcInfo> {
        if self.state.pid > 0 {
            ProcInfo::read(self.state.pid)
        } else {
            None
        }
    }

    /// The status, derived from the real process: `stopped` once it has exited (a zombie
    /// counts as exited), `created` while the exec fifo exists, else `running`.
    pub fn status(&self) -> Status {
        if !self.state.created_done {
            return Status::Creating;
        }
        self.status_from(self.probe())
    }

    /// [`Container::status`] from a look at the process the caller already took.
    fn status_from(&self, info: Option<ProcInfo>) -> Status {
        if !self.state.created_done {
            return Status::Creating;
        }
        if !info.is_some_and(|p| p.is_alive_as(self.state.pid_start)) {
            return Status::Stopped;
        }
        if self.dir.fifo().exists() {
            return Status::Created;
        }
        if let Some(cg) = &self.state.cgroup {
            if cgroups::from_config(cg).is_frozen().unwrap_or(false) {
                return Status::Paused;
            }
        }
        Status::Running
    }

    /// The `state` command's report.
    pub fn state(&self) -> StateReport {
        let status = self.status();
        StateReport {
            oci_version: self.state.oci_version.clone(),
            id: self.state.id.clone(),
            pid: if matches!(status, Status::Stopped | Status::Creating) {
                0
            } else {
                self.state.pid
            },
            status,
            bundle: self.state.bundle.clone(),
            rootfs: self.state.rootfs.clone(),
            created: self.state.created.clone(),
            owner: String::new(),
            annotations: self.state.annotations.clone(),
        }
    }

    /// The state JSON handed to hooks.
    fn hook_state(&self) -> Vec<u8> {
        serde_json::to_vec(&self.state()).unwrap_or_default()
    }

    /// Start the user process of a `created` container.
    ///
    /// # Errors
    /// [`Error::WrongState`] when the container is not `created`.
    pub fn start(&mut self) -> Result<()> {
        let lock = self.dir.lock()?;
        match self.status() {
            Status::Created => {}
            Status::Stopped => return Err(self.wrong("cannot start a container that has stopped")),
            Status::Creating => {
                return Err(self.wrong("cannot start a container in the creating state"))
            }
            _ => return Err(self.wrong("cannot start an already running container")),
        }
        let relay = match &self.notify_host {
            Some(host) => notify::Relay::bind(&self.dir, host)?,
            None => None,
        };
        let fifo = match lifecycle::release_fifo(&self.dir, self.state.pid) {
            Ok(f) => f,
            Err(e) => {
                return Err(
                    e.unwrap_or_else(|| self.wrong("cannot start a container that has stopped"))
                )
            }
        };
        let hooks = self.state.hooks.as_ref();
        let poststart = crate::hooks::of_kind(hooks, "poststart");
        if !poststart.is_empty() || !crate::hooks::of_kind(hooks, "startContainer").is_empty() {
            // Wait for the user program's execve. runtime-spec: a failing startContainer hook
            // fails `start` (init writes why into the fifo and exits without running the user
            // program); poststart hooks run after the user program started.
            let failure = lifecycle::wait_exec(fifo);
            if !failure.is_empty() {
                return Err(crate::hooks::HookError::InContainer(failure).into());
            }
        }
        if !poststart.is_empty() {
            // runtime-spec: a failing poststart hook is a warning; the lifecycle goes on.
            let failed = crate::hooks::run_all("poststart", poststart, &self.hook_state());
            self.warnings.extend(failed.iter().map(|e| e.to_string()));
        }
        // The wait for READY may be long: `delete` and others must not queue behind it.
        drop(lock);
        if let Some(relay) = relay {
            // As runc: after the poststart hooks. A foreground `run` stays the main process.
            let main_pid = if self.child {
                std::process::id()
            } else {
                self.state.pid as u32
            };
            relay.forward(self.state.pid, main_pid)?;
        }
        Ok(())
    }

    /// Relay the container's sd_notify `READY=` to `host_socket` during [`Container::start`]
    /// (runc reads `NOTIFY_SOCKET` from `start`'s environment). Only a container created with
    /// [`ContainerBuilder::notify_socket`] has a socket to listen on; for others this does
    /// nothing. `start` then returns once the container said `READY=` or exited, after sending
    /// the `READY=` line and `MAINPID=<container pid>` (the runtime's own pid for a foreground
    /// `run`, which stays the main process) to the host.
    pub fn notify_socket(&mut self, host_socket: impl Into<PathBuf>) {
        self.notify_host = Some(host_socket.into());
    }

    fn wrong(&self, msg: &str) -> Error {
        Error::WrongState {
            id: self.state.id.clone(),
            msg: msg.to_string(),
        }
    }

    /// Send `signal` to the container process, or with `all` to every process in its cgroup.
    ///
    /// SIGKILL to a paused container also thaws it, as runc does: on cgroup v1 a frozen process
    /// acts on no signal, not even SIGKILL, until it is thawed, so the container would stay
    /// paused with the kill pending (`ctr task kill -s SIGKILL` of a paused task never ended,
    /// and neither did `ctr task rm -f`). Other signals leave it paused.
    ///
    /// `all` works on a stopped container too, as in runc: processes that outlived init (it
    /// did not own its pid namespace) are still in its cgroup, and containerd's shim ends them
    /// with `kill --all <id> 9` as soon as init exits.
    ///
    /// # Errors
    /// "container not running" when it has stopped (without `all`) or is being created.
    pub fn kill(&self, signal: Signal, all: bool) -> Result<()> {
        let status = self.status();
        if status == Status::Creating || (status == Status::Stopped && !all) {
            return Err(self.wrong("container not running"));
        }
        if status == Status::Stopped && self.state.cgroup.is_none() {
            return Ok(());
        }
        let sent = self.send(signal, all, status == Status::Paused);
        if sent.is_ok() && status == Status::Paused && signal == Signal::SIGKILL {
            self.cgroup()?.thaw()?;
        }
        sent
    }

    fn send(&self, signal: Signal, all: bool, paused: bool) -> Result<()> {
        if all {
            if let Some(cg) = &self.state.cgroup {
                // Frozen while the list is read and signalled, as runc does: a process that
                // forks in between would otherwise escape the signal (a fork bomb outruns
                // any loop over cgroup.procs). A paused container stays paused; thawing it
                // after SIGKILL is `kill`'s business.
                let m = cgroups::from_config(cg);
                let froze = !paused && m.freeze().is_ok();
                let pids = m.pids();
                if let Ok(pids) = &pids {
                    for pid in pids {
                        let _ = nix::sys::signal::kill(Pid::from_raw(*pid), signal);
                    }
                }
                if froze {
                    m.thaw()?;
                }
                pids?;
                return Ok(());
            }
        }
        lifecycle::signal(self.state.pid, self.state.pid_start, signal as i32).map_err(|e| match e
            .raw_os_error()
        {
            Some(libc::ESRCH) => self.wrong("container not running"),
            _ => Error::sys(format!("kill({}, {})", self.state.pid, signal.as_str()), e),
        })
    }

    /// Delete the container: its cgroup and state. A `created` (or half-created) container is
    /// killed first, as runc does; a running one only with `force`.
    ///
    /// # Errors
    /// When the container is running and `force` is false, or cleanup fails.
    pub fn delete(self, force: bool) -> Result<()> {
        let _lock = self.dir.lock()?;
        let info = self.probe();
        let status = self.status_from(info);
        if matches!(status, Status::Running | Status::Paused) && !force {
            return Err(self.wrong(&format!(
                "cannot delete container {} that is not stopped: {status}",
                self.state.id
            )));
        }
        lifecycle::destroy(&self.state, self.child, info)?;
        let poststop = crate::hooks::of_kind(self.state.hooks.as_ref(), "poststop");
        if !poststop.is_empty() {
            // runtime-spec: poststop failures are warnings, and the remaining hooks still run.
            let _ = crate::hooks::run_all("poststop", poststop, &self.hook_state());
        }
        self.dir.remove()?;
        Ok(())
    }

    fn cgroup(&self) -> Result<Box<dyn cgroups::Manager>> {
        match &self.state.cgroup {
            Some(cg) => Ok(cgroups::from_config(cg)),
            None => Err(Error::Unsupported(format!(
                "container {} has no cgroup",
                self.state.id
            ))),
        }
    }

    /// Freeze every process of the container (`pause`); returns once the kernel reports the
    /// cgroup frozen.
    ///
    /// # Errors
    /// "container not running" unless it is running.
    pub fn pause(&self) -> Result<()> {
        match self.status() {
            Status::Running => Ok(self.cgroup()?.freeze()?),
            Status::Paused => Err(self.wrong("container already paused")),
            _ => Err(self.wrong("container not running")),
        }
    }

    /// Thaw a paused container (`resume`).
    ///
    /// # Errors
    /// "container not paused" unless it is paused.
    pub fn resume(&self) -> Result<()> {
        match self.status() {
            Status::Paused => Ok(self.cgroup()?.thaw()?),
            _ => Err(self.wrong("container not paused")),
        }
    }

    /// The host pids of every process of the container (`ps`).
    ///
    /// A stopped container is not an error: its cgroup (until `delete`) may still hold
    /// processes that outlived init, and otherwise the list is empty. containerd's shim asks
    /// for the pids of a stopped task (`ctr task ps` after `ctr task kill`), and runc answers.
    ///
    /// # Errors
    /// While the container is being created, or when its cgroup cannot be read.
    pub fn pids(&self) -> Result<Vec<i32>> {
        if self.status() == Status::Creating {
            return Err(self.wrong("container not running"));
        }
        let mut p = self.cgroup()?.pids()?;
        p.sort_unstable();
        Ok(p)
    }

    /// Cgroup statistics in runc's `events --stats` shape.
    ///
    /// # Errors
    /// When the container has stopped or its cgroup cannot be read.
    pub fn stats(&self) -> Result<cgroups::Stats> {
        if matches!(self.status(), Status::Stopped | Status::Creating) {
            return Err(self.wrong("container not running"));
        }
        Ok(self.cgroup()?.stats()?)
    }

    /// How many of the container's processes the OOM killer has killed.
    ///
    /// # Errors
    /// When its cgroup cannot be read.
    pub fn oom_kills(&self) -> Result<u64> {
        Ok(self.cgroup()?.oom_kills()?)
    }

    /// Change the resources of a created, running or paused container (`update`): `update` is
    /// merged over the resources in force, validated, applied, and remembered.
    ///
    /// # Errors
    /// An invalid field (named), a stopped container, or a cgroup write the kernel refuses.
    pub fn update(&mut self, update: &oci_spec::runtime::LinuxResources) -> Result<()> {
        let _lock = self.dir.lock()?;
        if matches!(self.status(), Status::Stopped | Status::Creating) {
            return Err(self.wrong("container not running"));
        }
        let current = self.state.resources.clone().unwrap_or_default();
        let merged = cgroups::merge_resources(&current, update);
        cgroups::validate(&merged)?;
        let m = self.cgroup()?;
        self.warnings.extend(m.check_resources(&merged)?);
        m.apply_resources(&merged)?;
        self.state.resources = Some(merged);
        self.dir.save(&self.state)?;
        Ok(())
    }

    /// Wait for the container process to exit. Only for a container created by this process
    /// with `detached(false)`.
    ///
    /// # Errors
    /// When this process is not the container's parent.
    pub fn wait(&self) -> Result<ExitStatus> {
        if !self.child {
            return Err(Error::Unsupported(
                "wait: the container process is not a child of this process".into(),
            ));
        }
        lifecycle::wait_child(self.state.pid)
    }

    /// The pty master, when created with `detached(false)`, a terminal and no console socket.
    pub fn take_console(&mut self) -> Option<OwnedFd> {
        self.console.take()
    }
}

/// Every container in the state root, sorted by id. Unreadable entries are skipped.
///
/// # Errors
/// When the state root exists but cannot be read.
pub fn list(root: impl AsRef<Path>) -> Result<Vec<Container>> {
    let root = root.as_ref();
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(Error::Path {
                op: "read",
                path: root.to_path_buf(),
                source: e.into(),
            })
        }
    };
    // Sort the names, not the loaded containers (moving those around cost more than the
    // sort itself: 6k instructions per container with 200 of them). Folders only, known from
    // the directory entry's type (no stat per container).
    let mut ids: Vec<String> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|id| validate_id(id).is_ok())
        .collect();
    ids.sort_unstable();
    Ok(ids
        .iter()
        .filter_map(|id| Container::load_dir(StateDir::new(root, id), id).ok())
        .collect())
}

/// The console plumbing of `create` and `exec`, checked as runc checks it: with a terminal, the
/// pty master goes to `console_socket` (connected here), or, in the foreground without one, back
/// to us over a private socketpair (returned second, for [`process::recv_console`]). Returns the
/// socket to hand to the child.
pub(crate) fn console_endpoints(
    terminal: bool,
    console_socket: Option<&PathBuf>,
    detached: bool,
) -> Result<(Option<OwnedFd>, Option<std::os::unix::net::UnixStream>)> {
    let own_console = terminal && console_socket.is_none() && !detached;
    if terminal && console_socket.is_none() && !own_console {
        return Err(Error::Unsupported(
            "cannot allocate tty if husk will detach without setting console socket".into(),
        ));
    }
    if !terminal && console_socket.is_some() {
        return Err(Error::Unsupported(
            "cannot use console socket if husk will not detach or allocate tty".into(),
        ));
    }
    Ok(match console_socket {
        None if own_console => {
            let (ours, theirs) = std::os::unix::net::UnixStream::pair()
                .map_err(|e| Error::sys("socketpair(AF_UNIX, SOCK_STREAM)", e))?;
            (Some(theirs.into()), Some(ours))
        }
        Some(p) => (
            Some(
                std::os::unix::net::UnixStream::connect(p)
                    .map_err(|e| Error::Path {
                        op: "connect",
                        path: p.clone(),
                        source: e.into(),
                    })?
                    .into(),
            ),
            None,
        ),
        None => (None, None),
    })
}

/// Write `--pid-file`: absolute, atomically, no trailing newline (containerd parses it
/// without trimming).
pub(crate) fn write_pid_file(pf: &Path, pid: i32) -> Result<()> {
    let pf = if pf.is_absolute() {
        pf.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(pf)
    };
    crate::state::write_atomic(&pf, pid.to_string().as_bytes(), 0o644)?;
    Ok(())
}

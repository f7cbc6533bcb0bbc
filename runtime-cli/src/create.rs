//! `husk create`: set the container up and leave init blocked until `start`.

use std::path::{Path, PathBuf};

use husk::ContainerBuilder;

use crate::logging::Logger;
use crate::{err_msg, Cli, CmdResult};

/// `create` flags (shared with `run`).
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Path to the bundle directory (default: the current directory)
    #[arg(short = 'b', long, value_name = "DIR", default_value = ".")]
    pub bundle: PathBuf,
    /// Write the container's host pid to this file (no trailing newline)
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Send the pty master of a terminal container to this unix socket
    #[arg(long, value_name = "SOCKET")]
    pub console_socket: Option<PathBuf>,
    /// Do not use pivot_root to jail the process (for ramdisk roots)
    #[arg(long)]
    pub no_pivot: bool,
    /// Do not create a new session keyring for the container
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass this many extra fds (3, 4, ...) into the container
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
    /// The container id
    pub id: String,
}

/// Paths from the command line are relative to the caller's cwd; the library keeps them in
/// state and uses them later (from other cwds), so they are made absolute here, as runc does.
fn absolute(p: &Path) -> Result<PathBuf, String> {
    std::path::absolute(p).map_err(|e| format!("{}: {e}", p.display()))
}

/// The builder for `create` and `run`, with every global and create flag applied.
pub fn builder(cli: &Cli, a: &CreateArgs) -> Result<ContainerBuilder, String> {
    let mut b = ContainerBuilder::new(a.id.clone(), absolute(&a.bundle)?)
        .state_root(absolute(&cli.root)?)
        .no_pivot(a.no_pivot)
        .no_new_keyring(a.no_new_keyring)
        .preserve_fds(a.preserve_fds)
        .systemd_cgroup(cli.systemd_cgroup);
    if let Some(p) = &a.pid_file {
        b = b.pid_file(absolute(p)?);
    }
    if let Some(s) = &a.console_socket {
        b = b.console_socket(absolute(s)?);
    }
    if let Some(host) = notify_socket() {
        b = b.notify_socket(host);
    }
    let n = listen_fds();
    if n > 0 {
        b = b.listen_fds(n);
    }
    Ok(b)
}

/// `NOTIFY_SOCKET` from our environment (systemd's `Type=notify`, or an engine's), as runc
/// reads it in `create`, `run` and `start`. Empty means unset.
pub fn notify_socket() -> Option<PathBuf> {
    std::env::var_os("NOTIFY_SOCKET")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The number of socket-activation fds passed to THIS process: `LISTEN_FDS`, counted only when
/// `LISTEN_PID` is our pid (sd_listen_fds(3); the variables may be stale, inherited from a
/// parent they were meant for). 0 otherwise.
fn listen_fds() -> u32 {
    let var = |n: &str| {
        std::env::var(n)
            .ok()
            .and_then(|v| v.trim().parse::<u32>().ok())
    };
    match (var("LISTEN_PID"), var("LISTEN_FDS")) {
        (Some(pid), Some(n)) if pid == std::process::id() => n,
        _ => 0,
    }
}

/// Run `create`.
pub fn run(cli: &Cli, log: &mut Logger, a: &CreateArgs) -> CmdResult {
    log.debug(format!(
        "create {} from bundle {}",
        a.id,
        a.bundle.display()
    ));
    let c = builder(cli, a)?.create().map_err(err_msg)?;
    // What was tolerated but not applied (a cgroup field this host cannot honour, ...):
    // never silently.
    for w in c.warnings() {
        log.warn(w);
    }
    log.debug(format!("created {} pid {}", a.id, c.recorded_pid()));
    Ok(0)
}

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
    Ok(b)
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
    log.debug(format!("created {} pid {}", a.id, c.pid().unwrap_or(0)));
    Ok(0)
}

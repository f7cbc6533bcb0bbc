//! `husk delete`: remove a container's cgroup and state.

use husk::{Container, Error};

use crate::logging::Logger;
use crate::{err_msg, Cli, CmdResult};

/// `delete` arguments.
#[derive(Debug, clap::Args)]
pub struct DeleteArgs {
    /// Kill the container first if it is running (or half-created)
    #[arg(short = 'f', long)]
    pub force: bool,
    /// The container id
    pub id: String,
}

/// Run `delete`.
pub fn run(cli: &Cli, log: &mut Logger, a: &DeleteArgs) -> CmdResult {
    match Container::load(&cli.root, &a.id) {
        Ok(c) => c.delete(a.force).map_err(err_msg)?,
        // containerd's cleanup calls `delete --force` for containers that may already be gone:
        // runc answers success then, and so does husk.
        Err(Error::NotFound(_)) if a.force => {
            log.debug(format!("delete --force {}: container does not exist", a.id));
        }
        Err(e) => return Err(err_msg(e)),
    }
    Ok(0)
}

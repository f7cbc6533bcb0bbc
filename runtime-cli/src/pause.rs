//! `husk pause` / `husk resume`: freeze and thaw every process of a container.

use husk::Container;

use crate::{err_msg, Cli, CmdResult};

/// `pause` and `resume` arguments.
#[derive(Debug, clap::Args)]
pub struct PauseArgs {
    /// The container id
    pub id: String,
}

/// Run `pause`.
pub fn pause(cli: &Cli, a: &PauseArgs) -> CmdResult {
    Container::load(&cli.root, &a.id)
        .and_then(|c| c.pause())
        .map_err(err_msg)?;
    Ok(0)
}

/// Run `resume`.
pub fn resume(cli: &Cli, a: &PauseArgs) -> CmdResult {
    Container::load(&cli.root, &a.id)
        .and_then(|c| c.resume())
        .map_err(err_msg)?;
    Ok(0)
}

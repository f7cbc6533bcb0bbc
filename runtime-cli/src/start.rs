//! `husk start`: let a created container's init exec the user process.

use husk::Container;

use crate::logging::Logger;
use crate::{err_msg, Cli, CmdResult};

/// `start` arguments.
#[derive(Debug, clap::Args)]
pub struct StartArgs {
    /// The container id
    pub id: String,
}

/// Run `start`.
pub fn run(cli: &Cli, log: &mut Logger, a: &StartArgs) -> CmdResult {
    let mut c = Container::load(&cli.root, &a.id).map_err(err_msg)?;
    if let Some(host) = crate::create::notify_socket() {
        c.notify_socket(host);
    }
    c.start().map_err(err_msg)?;
    log.debug(format!("started {}", a.id));
    Ok(0)
}

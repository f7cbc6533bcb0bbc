//! `husk state`: the container's state as runc prints it (pretty JSON, compat.md fields).

use husk::Container;

use crate::{err_msg, Cli, CmdResult};

/// `state` arguments.
#[derive(Debug, clap::Args)]
pub struct StateArgs {
    /// The container id
    pub id: String,
}

/// Run `state`.
pub fn run(cli: &Cli, a: &StateArgs) -> CmdResult {
    let c = Container::load(&cli.root, &a.id).map_err(err_msg)?;
    let json =
        serde_json::to_string_pretty(&c.state()).map_err(|e| format!("encode state: {e}"))?;
    println!("{json}");
    Ok(0)
}

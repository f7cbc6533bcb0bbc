//! `husk features`: the runtime-spec `features` JSON (containerd reads it, compat.md).

use crate::CmdResult;

/// `features` takes no flags.
#[derive(Debug, clap::Args)]
pub struct FeaturesArgs {}

/// Print the features, indented as runc prints them.
pub fn run(_a: &FeaturesArgs) -> CmdResult {
    let text =
        serde_json::to_string_pretty(&husk::features()).map_err(|e| format!("features: {e}"))?;
    println!("{text}");
    Ok(0)
}

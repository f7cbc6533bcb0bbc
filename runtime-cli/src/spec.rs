//! `husk spec`: write a default `config.json`, as `runc spec` does.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::path::PathBuf;

use serde::Serialize;

use crate::CmdResult;

/// `spec` flags.
#[derive(Debug, clap::Args)]
pub struct SpecArgs {
    /// Directory to write config.json into (default: the current directory)
    #[arg(short = 'b', long, value_name = "DIR", default_value = ".")]
    pub bundle: PathBuf,
    /// A spec for a rootless container (user namespace mapping the caller's ids)
    #[arg(long)]
    pub rootless: bool,
}

/// runc writes config.json indented with tabs; keep the same shape so diffs against a runc
/// generated file stay readable.
fn to_tab_json(v: &impl Serialize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    v.serialize(&mut ser)
        .map_err(|e| format!("encode config.json: {e}"))?;
    out.push(b'\n');
    Ok(out)
}

/// Run `spec`.
pub fn run(a: &SpecArgs) -> CmdResult {
    let spec = husk::spec::default_spec(a.rootless);
    let bytes = to_tab_json(&spec)?;
    let path = a.bundle.join("config.json");
    // O_EXCL: refusing to overwrite must not race with another writer.
    let mut f = match OpenOptions::new().write(true).create_new(true).open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            return Err("File config.json exists. Remove it first".to_owned())
        }
        Err(e) => return Err(format!("open {}: {e}", path.display())),
    };
    f.write_all(&bytes)
        .map_err(|e| format!("write {}: {e}", path.display()))?;
    Ok(0)
}

//! `husk list`: the containers under `--root`, as a table (runc's columns), JSON or ids.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use husk::container::StateReport;
use nix::unistd::{Uid, User};

use crate::{err_msg, Cli, CmdResult};

/// `list` flags.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Output format
    #[arg(short = 'f', long, value_enum, default_value = "table")]
    pub format: ListFormat,
    /// Print only the container ids
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// `list --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    /// Aligned columns ID PID STATUS BUNDLE CREATED OWNER.
    Table,
    /// A JSON array of state objects.
    Json,
}

/// The owner column: runc shows the user owning the container's state folder by name (while
/// `state` reports an empty owner for root's containers).
fn owner(root: &Path, id: &str) -> String {
    match std::fs::metadata(root.join(id)) {
        Ok(m) => match User::from_uid(Uid::from_raw(m.uid())) {
            Ok(Some(u)) => u.name,
            _ => format!("#{}", m.uid()),
        },
        Err(_) => String::new(),
    }
}

/// Run `list`.
pub fn run(cli: &Cli, a: &ListArgs) -> CmdResult {
    let containers = husk::container::list(&cli.root).map_err(err_msg)?;
    let states: Vec<StateReport> = containers
        .iter()
        .map(|c| {
            let mut s = c.state();
            s.owner = owner(&cli.root, &s.id);
            s
        })
        .collect();
    if a.quiet {
        for s in &states {
            println!("{}", s.id);
        }
        return Ok(0);
    }
    match a.format {
        // runc prints `null` for no containers; an empty array is what a JSON reader expects.
        ListFormat::Json => {
            println!(
                "{}",
                serde_json::to_string(&states).map_err(|e| format!("encode: {e}"))?
            )
        }
        ListFormat::Table => print!("{}", table(&states)),
    }
    Ok(0)
}

/// runc's table: text/tabwriter with minimum cell width 12 and padding 3; the last column is
/// not padded.
fn table(states: &[StateReport]) -> String {
    let mut rows: Vec<[String; 6]> =
        vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(str::to_owned)];
    for s in states {
        rows.push([
            s.id.clone(),
            s.pid.to_string(),
            s.status.to_string(),
            s.bundle.display().to_string(),
            s.created.clone(),
            s.owner.clone(),
        ]);
    }
    let mut widths = [0usize; 5];
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(cell.chars().count() + 3).max(12);
        }
    }
    let mut out = String::new();
    for r in &rows {
        for (cell, w) in r.iter().zip(widths) {
            out.push_str(&format!("{cell:<w$}"));
        }
        out.push_str(&r[5]);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use husk::Status;

    #[test]
    fn table_matches_runc_layout() {
        let s = StateReport {
            oci_version: "1.2.1".into(),
            id: "t2".into(),
            pid: 0,
            status: Status::Stopped,
            bundle: "/tmp/rs".into(),
            rootfs: "/tmp/rs/rootfs".into(),
            created: "2026-11-28T18:40:43.686480971Z".into(),
            owner: "root".into(),
            annotations: Default::default(),
        };
        // Captured from `runc list` 1.1.5 for the same container.
        let want = "ID          PID         STATUS      BUNDLE      CREATED                          OWNER\n\
                    t2          0           stopped     /tmp/rs     2026-11-28T18:40:43.686480971Z   root\n";
        assert_eq!(table(&[s]), want);
    }
}

//! `husk list`: the containers under `--root`, as a table (runc's columns), JSON or ids.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use husk::container::StateReport;

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
/// `state` reports an empty owner for root's containers). Names come from the host's
/// `/etc/passwd`, read once for the whole list (not through NSS: the release binary is static,
/// and glibc's static NSS would need the shared modules at run time).
fn owner(root: &Path, id: &str, names: &mut Names) -> String {
    match std::fs::metadata(root.join(id)) {
        Ok(m) => names
            .get(m.uid())
            .map_or_else(|| format!("#{}", m.uid()), str::to_owned),
        Err(_) => String::new(),
    }
}

/// uid → user name from `/etc/passwd`, loaded on first use.
#[derive(Default)]
struct Names(Option<std::collections::HashMap<u32, String>>);

impl Names {
    fn get(&mut self, uid: u32) -> Option<&str> {
        self.0
            .get_or_insert_with(|| {
                parse_passwd(&std::fs::read_to_string("/etc/passwd").unwrap_or_default())
            })
            .get(&uid)
            .map(String::as_str)
    }
}

/// `name:passwd:uid:...` lines; the first entry of a uid wins, as getpwuid answers.
fn parse_passwd(text: &str) -> std::collections::HashMap<u32, String> {
    let mut out = std::collections::HashMap::new();
    for line in text.lines() {
        let mut f = line.split(':');
        let (Some(name), Some(_), Some(uid)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if let Ok(uid) = uid.parse() {
            out.entry(uid).or_insert_with(|| name.to_string());
        }
    }
    out
}

/// Run `list`.
pub fn run(cli: &Cli, a: &ListArgs) -> CmdResult {
    let containers = husk::container::list(&cli.root).map_err(err_msg)?;
    let mut names = Names::default();
    let states: Vec<StateReport> = containers
        .iter()
        .map(|c| {
            let mut s = c.state();
            s.owner = owner(&cli.root, &s.id, &mut names);
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
    fn passwd_names_first_entry_wins() {
        let m = parse_passwd(
            "root:x:0:0:root:/root:/bin/sh\nbad\ntoor:x:0:0::/:\nu:x:1000:1000::/h:\n",
        );
        assert_eq!(m.get(&0).map(String::as_str), Some("root"));
        assert_eq!(m.get(&1000).map(String::as_str), Some("u"));
        assert_eq!(m.len(), 2);
    }

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

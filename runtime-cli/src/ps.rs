//! `husk ps`: the processes of a container. `--format json` prints the host pids as a JSON
//! array (containerd's shim parses it); `table` runs the host's `ps` with the given arguments
//! (default `-ef`) and keeps the header and the container's lines, as runc does.

use std::process::Command;

use husk::Container;

use crate::{err_msg, Cli, CmdResult};

/// `ps` arguments.
#[derive(Debug, clap::Args)]
pub struct PsArgs {
    /// Output format
    #[arg(short, long, value_parser = ["table", "json"], default_value = "table")]
    pub format: String,
    /// The container id
    pub id: String,
    /// Arguments for ps(1) (table format)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

/// Run `ps`.
pub fn run(cli: &Cli, a: &PsArgs) -> CmdResult {
    let c = Container::load(&cli.root, &a.id).map_err(err_msg)?;
    let pids = c.pids().map_err(err_msg)?;
    if a.format == "json" {
        println!(
            "{}",
            serde_json::to_string(&pids).map_err(|e| e.to_string())?
        );
        return Ok(0);
    }
    let args = if a.ps_args.is_empty() {
        vec!["-ef".to_string()]
    } else {
        a.ps_args.clone()
    };
    let out = Command::new("ps")
        .args(&args)
        .output()
        .map_err(|e| format!("exec ps: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ps {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    print!(
        "{}",
        filter_table(&String::from_utf8_lossy(&out.stdout), &pids)?
    );
    Ok(0)
}

/// Keep the header and the lines whose PID column is one of `pids`.
fn filter_table(text: &str, pids: &[i32]) -> Result<String, String> {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("");
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or("couldn't find PID field in ps output")?;
    let mut out = format!("{header}\n");
    for l in lines {
        if l.split_whitespace()
            .nth(col)
            .and_then(|p| p.parse().ok())
            .is_some_and(|p: i32| pids.contains(&p))
        {
            out.push_str(l);
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_keeps_header_and_container_lines() {
        let ps = "UID PID PPID C STIME TTY TIME CMD\nroot 1 0 0 10:00 ? 00:00:01 init\nroot 42 1 0 10:01 ? 00:00:00 sleep 100\n";
        assert_eq!(
            filter_table(ps, &[42]).unwrap(),
            "UID PID PPID C STIME TTY TIME CMD\nroot 42 1 0 10:01 ? 00:00:00 sleep 100\n"
        );
        assert!(filter_table("USER COMMAND\nx y\n", &[1]).is_err());
    }
}

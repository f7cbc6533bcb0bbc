//! `husk kill <id> [signal]`: send a signal to the container's init (or, with `--all`, to every
//! process in its cgroup).

use std::str::FromStr;

use husk::Container;
use nix::sys::signal::Signal;

use crate::logging::Logger;
use crate::{err_msg, Cli, CmdResult};

/// `kill` arguments.
#[derive(Debug, clap::Args)]
pub struct KillArgs {
    /// Send the signal to all processes in the container
    #[arg(short = 'a', long)]
    pub all: bool,
    /// The container id
    pub id: String,
    /// A signal name (KILL, SIGKILL, kill) or number (9); default SIGTERM
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

/// Parse a signal as runc does: a decimal number, or a name with or without the `SIG` prefix,
/// in any case.
///
/// Real-time signals (34 and up) are refused: the library's `kill` takes a `nix` `Signal`, which
/// has no real-time variants.
pub fn parse_signal(raw: &str) -> Result<Signal, String> {
    if let Ok(n) = raw.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| format!("unknown signal {raw:?}"));
    }
    let upper = raw.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    Signal::from_str(&name).map_err(|_| format!("unknown signal {raw:?}"))
}

/// Run `kill`.
pub fn run(cli: &Cli, log: &mut Logger, a: &KillArgs) -> CmdResult {
    let sig = parse_signal(&a.signal)?;
    let c = Container::load(&cli.root, &a.id).map_err(err_msg)?;
    c.kill(sig, a.all).map_err(err_msg)?;
    log.debug(format!(
        "sent {sig} to {}{}",
        a.id,
        if a.all { " (all processes)" } else { "" }
    ));
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_or_without_prefix_and_numbers() {
        assert_eq!(parse_signal("SIGKILL"), Ok(Signal::SIGKILL));
        assert_eq!(parse_signal("KILL"), Ok(Signal::SIGKILL));
        assert_eq!(parse_signal("kill"), Ok(Signal::SIGKILL));
        assert_eq!(parse_signal("9"), Ok(Signal::SIGKILL));
        assert_eq!(parse_signal("15"), Ok(Signal::SIGTERM));
        assert_eq!(parse_signal("sigusr1"), Ok(Signal::SIGUSR1));
        assert_eq!(parse_signal("WINCH"), Ok(Signal::SIGWINCH));
    }

    #[test]
    fn unknown_signals_are_refused() {
        assert_eq!(
            parse_signal("FOO"),
            Err("unknown signal \"FOO\"".to_owned())
        );
        assert!(parse_signal("0").is_err());
        assert!(parse_signal("99").is_err());
        assert!(parse_signal("").is_err());
    }
}

//! `husk exec`: run a process in a container, with runc's flags. In the foreground, signals are
//! forwarded to the process (as `run` does, see [`Foreground`]) and husk exits with its status
//! (128 + signal when it was killed); with `--detach`, husk returns once it runs.
//!
//! A failure exits with 255 and the message prefixed by "exec failed: ", as runc does (callers
//! tell a failed exec from a process that exited 1).

use std::path::PathBuf;

use husk::container::{ExecOptions, ExecProcess};
use husk::Container;
use nix::unistd::Pid;

use crate::logging::Logger;
use crate::run::Foreground;
use crate::{err_msg, Cli, CmdResult};

/// `exec` flags (runc's names).
#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// Path to a process.json (a full OCI `process` object); no command may follow the id
    #[arg(short = 'p', long, value_name = "FILE")]
    pub process: Option<PathBuf>,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Send the pty master to this unix socket
    #[arg(long, value_name = "SOCKET")]
    pub console_socket: Option<PathBuf>,
    /// Current working directory in the container
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Set an environment variable (NAME=value); may be repeated
    #[arg(short = 'e', long, value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// The user, uid[:gid] (numbers)
    #[arg(short = 'u', long, value_name = "UID[:GID]")]
    pub user: Option<String>,
    /// An additional group id; may be repeated
    #[arg(short = 'g', long = "additional-gids", value_name = "GID")]
    pub additional_gids: Vec<u32>,
    /// Add a capability to the bounding, effective, permitted and ambient sets; may be repeated
    #[arg(short = 'c', long, value_name = "CAP")]
    pub cap: Vec<String>,
    /// Set no_new_privileges for the process
    #[arg(long)]
    pub no_new_privs: bool,
    /// Pass this many extra fds (3, 4, ...) to the process
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Write the process' host pid to this file (no trailing newline)
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Return once the process runs
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Exec into a paused container too (the process starts frozen)
    #[arg(long)]
    pub ignore_paused: bool,
    /// The AppArmor profile of the process (instead of the container's)
    #[arg(long, value_name = "PROFILE")]
    pub apparmor: Option<String>,
    /// The SELinux label of the process (instead of the container's)
    #[arg(long, value_name = "LABEL")]
    pub process_label: Option<String>,
    /// A sub-cgroup to put the process in: refused, not supported yet
    #[arg(long, value_name = "PATH")]
    pub cgroup: Vec<String>,
    /// The container id
    pub id: String,
    /// The command and its arguments (everything after the id is taken literally)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// runc's `--user uid[:gid]`.
fn parse_user(s: &str) -> Result<(u32, Option<u32>), String> {
    let num = |v: &str| {
        v.parse::<u32>()
            .map_err(|_| format!("--user {s:?}: parsing {v:?}: not a number (uid[:gid])"))
    };
    match s.split_once(':') {
        Some((u, g)) => Ok((num(u)?, Some(num(g)?))),
        None => Ok((num(s)?, None)),
    }
}

fn options(a: &ExecArgs) -> Result<ExecOptions, String> {
    if !a.cgroup.is_empty() {
        return Err("--cgroup: exec into a sub-cgroup is not supported yet".into());
    }
    let process = match &a.process {
        None => None,
        Some(f) => {
            if !a.command.is_empty() {
                return Err("exec: --process cannot be combined with a command".into());
            }
            let data = std::fs::read(f)
                .map_err(|e| format!("open {}: {}", f.display(), husk::OsError(e)))?;
            let p =
                serde_json::from_slice(&data).map_err(|e| format!("parse {}: {e}", f.display()))?;
            Some(p)
        }
    };
    let absolute =
        |p: &PathBuf| std::path::absolute(p).map_err(|e| format!("{}: {e}", p.display()));
    Ok(ExecOptions {
        process,
        args: a.command.clone(),
        // With --process the JSON's `terminal` decides, and runc ignores --tty: conmon passes
        // `--process FILE --tty --console-socket S` for `podman exec -t` (compat.md).
        tty: a.tty && a.process.is_none(),
        cwd: a.cwd.clone(),
        env: a.env.clone(),
        user: a.user.as_deref().map(parse_user).transpose()?,
        additional_gids: a.additional_gids.clone(),
        caps: a.cap.clone(),
        no_new_privs: a.no_new_privs,
        console_socket: a.console_socket.as_ref().map(absolute).transpose()?,
        preserve_fds: a.preserve_fds,
        pid_file: a.pid_file.as_ref().map(absolute).transpose()?,
        detach: a.detach,
        ignore_paused: a.ignore_paused,
        // runc ignores empty values of these flags.
        apparmor: a.apparmor.clone().filter(|s| !s.is_empty()),
        process_label: a.process_label.clone().filter(|s| !s.is_empty()),
    })
}

/// Run `exec`.
pub fn run(cli: &Cli, log: &mut Logger, a: &ExecArgs) -> CmdResult {
    match exec(cli, log, a) {
        Ok(code) => Ok(code),
        Err(msg) => {
            log.error(format!("exec failed: {msg}"));
            Ok(255)
        }
    }
}

fn exec(cli: &Cli, log: &mut Logger, a: &ExecArgs) -> Result<u8, String> {
    let opts = options(a)?;
    let c = Container::load(&cli.root, &a.id).map_err(err_msg)?;
    if a.detach {
        let p = c.exec(opts).map_err(err_msg)?;
        log.debug(format!("exec in {}: pid {}", a.id, p.pid()));
        return Ok(0);
    }
    // Blocked before the fork so that no signal is lost; the exec'd process unblocks every
    // signal before execve.
    let fg = Foreground::block()?;
    let mut p: ExecProcess = c.exec(opts).map_err(err_msg)?;
    let pid = Pid::from_raw(p.pid());
    log.debug(format!("exec in {}: pid {pid}", a.id));
    let console = p.take_console();
    let status = fg.supervise(
        pid,
        console,
        log,
        // Our child, not reaped before `wait`: the pid cannot have been reused.
        &mut |sig| {
            let _ = nix::sys::signal::kill(pid, sig);
        },
        &mut || p.wait().map_err(err_msg),
    )?;
    drop(fg);
    log.debug(format!("exec in {}: pid {pid} exited: {status:?}", a.id));
    Ok(u8::try_from(status.code()).unwrap_or(255))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> ExecArgs {
        let mut v = vec!["husk", "exec"];
        v.extend(args);
        match crate::Cli::try_parse_from(v).unwrap().command {
            Some(crate::Command::Exec(a)) => *a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn everything_after_the_id_is_the_command() {
        let a = parse(&[
            "-t", "-e", "A=1", "-u", "5:6", "-c", "CAP_KILL", "id1", "sh", "-c", "exit 3",
        ]);
        assert_eq!(a.id, "id1");
        assert_eq!(a.command, ["sh", "-c", "exit 3"]);
        assert!(a.tty);
        assert_eq!(a.cap, ["CAP_KILL"]);
        let o = options(&a).unwrap();
        assert_eq!(o.user, Some((5, Some(6))));
        assert_eq!(o.env, ["A=1"]);
    }

    #[test]
    fn bad_user_and_process_with_command_are_refused() {
        assert!(options(&parse(&["-u", "root", "x", "true"])).is_err());
        let e = options(&parse(&["--process", "/nonexistent.json", "x", "true"])).unwrap_err();
        assert!(e.contains("--process cannot be combined"), "{e}");
    }
}

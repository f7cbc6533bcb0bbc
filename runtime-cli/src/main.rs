//! husk: a runc-compatible OCI runtime command line.
//!
//! This binary only parses runc's flags, calls the `husk` library and turns its errors into
//! what callers expect: one log line per failure (`--log`, `--log-format json`), runc's
//! wording, exit status 1 (or the container's status for `run` in the foreground). One file per
//! command, as runc has it.
//!
//! The process stays single-threaded (the library refuses to fork from a threaded caller):
//! nothing here may spawn a thread.

mod create;
mod delete;
mod events;
mod exec;
mod features;
mod kill;
mod list;
mod logging;
mod pause;
mod ps;
mod run;
mod spec;
mod start;
mod state;
mod update;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use logging::{LogFormat, Logger};

/// The global flags, runc's names and defaults.
#[derive(Debug, Parser)]
#[command(
    name = "husk",
    about = "husk: an OCI container runtime with runc's command line",
    disable_version_flag = true,
    subcommand_required = false
)]
pub struct Cli {
    /// Root directory for storage of container state (should be a tmpfs)
    #[arg(long, value_name = "DIR", default_value = husk::container::DEFAULT_STATE_ROOT)]
    pub root: PathBuf,
    /// Append log lines to this file (default: stderr)
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Log format
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Enable debug logging
    #[arg(long)]
    pub debug: bool,
    /// Manage cgroups with systemd (not supported yet: create refuses it with a clear error)
    #[arg(long)]
    pub systemd_cgroup: bool,
    /// Accepted for runc compatibility (auto|true|false); husk decides from its effective uid,
    /// which is what runc's "auto" does
    #[arg(long, value_name = "VALUE", hide = true)]
    pub rootless: Option<String>,
    /// Print the version
    #[arg(short = 'v', long)]
    pub version: bool,
    /// The command to run.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a container (init waits for `start`)
    Create(create::CreateArgs),
    /// Start the user process of a created container
    Start(start::StartArgs),
    /// Create and start a container, wait for it in the foreground unless --detach
    Run(run::RunArgs),
    /// Print the state of a container as JSON
    State(state::StateArgs),
    /// Send a signal to the container's init process (default SIGTERM)
    Kill(kill::KillArgs),
    /// Delete a container's state and cgroup
    Delete(delete::DeleteArgs),
    /// List the containers under --root
    List(list::ListArgs),
    /// Write a default config.json (a template for a bundle)
    Spec(spec::SpecArgs),
    /// Freeze every process of a container
    Pause(pause::PauseArgs),
    /// Thaw a paused container
    Resume(pause::PauseArgs),
    /// List a container's processes (host pids with --format json)
    Ps(ps::PsArgs),
    /// Run a process in a container
    Exec(Box<exec::ExecArgs>),
    /// Print the features husk supports, as runtime-spec `features` JSON
    Features(features::FeaturesArgs),
    /// Change a container's resources (--resources=- reads LinuxResources JSON)
    Update(Box<update::UpdateArgs>),
    /// Print cgroup statistics (--stats once, else every --interval) and OOM events
    Events(events::EventsArgs),
}

/// The commit this binary was built from (build.rs), or "unknown".
const COMMIT: &str = match option_env!("HUSK_GIT_COMMIT") {
    Some(c) => c,
    None => "unknown",
};

fn version_text() -> String {
    format!(
        "husk version {}\ncommit: {}\nspec: {}\n",
        env!("CARGO_PKG_VERSION"),
        COMMIT,
        husk::spec::SPEC_VERSION
    )
}

/// The outcome of a command: the process exit status, or an error to log.
type CmdResult = Result<u8, String>;

fn main() -> ExitCode {
    let raw: Vec<OsString> = std::env::args_os().collect();
    let args = normalize_args(raw.clone());
    let mut cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => return usage_error(&args, e),
    };
    restore_exec_command(&mut cli, &raw);
    let mut log = Logger::open(cli.log.as_deref(), cli.log_format, cli.debug);
    log.debug(format!("argv: {:?}", &args[1..]));
    let result = dispatch(&cli, &mut log);
    match result {
        Ok(code) => ExitCode::from(code),
        Err(msg) => {
            log.error(&msg);
            ExitCode::from(1)
        }
    }
}

fn dispatch(cli: &Cli, log: &mut Logger) -> CmdResult {
    if cli.version {
        print!("{}", version_text());
        return Ok(0);
    }
    let Some(command) = &cli.command else {
        use clap::CommandFactory;
        // As runc: no command prints the help, which is not an error.
        let _ = Cli::command().print_help();
        return Ok(0);
    };
    match command {
        Command::Create(a) => create::run(cli, log, a),
        Command::Start(a) => start::run(cli, log, a),
        Command::Run(a) => run::run(cli, log, a),
        Command::State(a) => state::run(cli, a),
        Command::Kill(a) => kill::run(cli, log, a),
        Command::Delete(a) => delete::run(cli, log, a),
        Command::List(a) => list::run(cli, a),
        Command::Spec(a) => spec::run(a),
        Command::Pause(a) => pause::pause(cli, a),
        Command::Resume(a) => pause::resume(cli, a),
        Command::Ps(a) => ps::run(cli, a),
        Command::Exec(a) => exec::run(cli, log, a),
        Command::Features(a) => features::run(a),
        Command::Update(a) => update::run(cli, log, a),
        Command::Events(a) => events::run(cli, a),
    }
}

/// A command-line usage error: clap's message on stderr, and (since the flags could not be
/// parsed) a best-effort look at argv for `--log`/`--log-format` so that a caller reading the
/// JSON log still finds the one error line. Exit status 1, as runc.
fn usage_error(args: &[OsString], e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    let (path, format) = scan_log_flags(args);
    let rendered = e.to_string();
    let msg = rendered
        .lines()
        .next()
        .unwrap_or("invalid arguments")
        .trim_start_matches("error: ");
    if let Some(path) = path {
        Logger::open(Some(&path), format, false).write_error_only(msg);
    }
    let _ = e.print();
    ExitCode::from(1)
}

/// `--log FILE` / `--log=FILE` and `--log-format F` from raw argv, for [`usage_error`].
fn scan_log_flags(args: &[OsString]) -> (Option<PathBuf>, LogFormat) {
    let mut path = None;
    let mut format = LogFormat::Text;
    let mut it = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned());
    while let Some(a) = it.next() {
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
            None => (a.clone(), None),
        };
        let value = |it: &mut dyn Iterator<Item = String>| inline.clone().or_else(|| it.next());
        match name.as_str() {
            "--log" => path = value(&mut it).map(PathBuf::from),
            "--log-format" if value(&mut it).as_deref() == Some("json") => format = LogFormat::Json,
            _ => {}
        }
    }
    (path, format)
}

/// Long option names that callers may spell with ONE dash: runc parses flags with Go's flag
/// package semantics (urfave/cli), where `-root X` means `--root X`, and some callers rely on
/// it (CRIU restore passes `-no-subreaper`). clap would read `-root` as the short flags `-r
/// -o -o -t`, so such arguments are rewritten to the two-dash form before parsing. Only known
/// names are rewritten, and nothing after a bare `--`.
const LONG_NAMES: &[&str] = &[
    "root",
    "log",
    "log-format",
    "debug",
    "systemd-cgroup",
    "rootless",
    "version",
    "help",
    "bundle",
    "pid-file",
    "console-socket",
    "no-pivot",
    "no-new-keyring",
    "preserve-fds",
    "detach",
    "keep",
    "no-subreaper",
    "all",
    "force",
    "format",
    "quiet",
];

fn normalize_args(args: Vec<OsString>) -> Vec<OsString> {
    let mut out = Vec::with_capacity(args.len());
    let mut literal = false;
    for (i, a) in args.into_iter().enumerate() {
        if i == 0 || literal {
            out.push(a);
            continue;
        }
        if a == "--" {
            literal = true;
            out.push(a);
            continue;
        }
        let rewritten = a.to_str().and_then(|s| {
            let rest = s.strip_prefix('-').filter(|r| !r.starts_with('-'))?;
            let name = rest.split_once('=').map_or(rest, |(n, _)| n);
            (name.len() > 1 && LONG_NAMES.contains(&name)).then(|| OsString::from(format!("-{s}")))
        });
        out.push(rewritten.unwrap_or(a));
    }
    out
}

/// `exec`'s command is taken literally: undo [`normalize_args`] in it (`exec ID ls -all` must
/// run `ls -all`, not `ls --all`). The rewrite keeps the number of arguments, and the command
/// is the tail of argv.
fn restore_exec_command(cli: &mut Cli, raw: &[OsString]) {
    if let Some(Command::Exec(a)) = &mut cli.command {
        let n = a.command.len();
        if n <= raw.len() {
            a.command = raw[raw.len() - n..]
                .iter()
                .map(|s| s.to_string_lossy().into_owned())
                .collect();
        }
    }
}

/// Render a library error for the log: its message, which already carries the OS error.
pub fn err_msg(e: husk::Error) -> String {
    e.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn single_dash_long_flags_become_double_dash() {
        let got = normalize_args(os(&[
            "husk",
            "-root",
            "/r",
            "-log-format=json",
            "kill",
            "-a",
            "x",
            "9",
        ]));
        assert_eq!(
            got,
            os(&[
                "husk",
                "--root",
                "/r",
                "--log-format=json",
                "kill",
                "-a",
                "x",
                "9"
            ])
        );
    }

    #[test]
    fn unknown_single_dash_words_and_literals_stay() {
        let got = normalize_args(os(&["husk", "-xyz", "--", "-root"]));
        assert_eq!(got, os(&["husk", "-xyz", "--", "-root"]));
    }

    #[test]
    fn exec_command_is_not_normalized() {
        let raw = os(&[
            "husk", "-root", "/r", "exec", "-t", "id", "ls", "-all", "-format",
        ]);
        let mut cli = Cli::try_parse_from(normalize_args(raw.clone())).unwrap();
        restore_exec_command(&mut cli, &raw);
        let Some(Command::Exec(a)) = cli.command else {
            panic!("not exec")
        };
        assert_eq!(cli.root, PathBuf::from("/r"));
        assert_eq!(a.command, ["ls", "-all", "-format"]);
    }

    #[test]
    fn version_has_the_lines_callers_parse() {
        let v = version_text();
        let lines: Vec<&str> = v.lines().collect();
        assert!(lines[0].starts_with("husk version "), "{v}");
        assert!(lines[1].starts_with("commit: "), "{v}");
        assert_eq!(lines[2], format!("spec: {}", husk::spec::SPEC_VERSION));
    }

    #[test]
    fn runc_style_command_lines_parse() {
        let cli = Cli::try_parse_from(os(&[
            "husk",
            "--root",
            "/run/x",
            "--log",
            "/b/log.json",
            "--log-format",
            "json",
            "--systemd-cgroup",
            "create",
            "--bundle",
            "/b",
            "--pid-file",
            "/b/init.pid",
            "--console-socket",
            "/s",
            "--no-pivot",
            "--no-new-keyring",
            "--preserve-fds",
            "2",
            "id1",
        ]))
        .unwrap();
        assert_eq!(cli.log_format, LogFormat::Json);
        assert!(cli.systemd_cgroup);
        let Some(Command::Create(c)) = cli.command else {
            panic!("not create")
        };
        assert_eq!(c.id, "id1");
        assert_eq!(c.preserve_fds, 2);
        assert!(c.no_pivot && c.no_new_keyring);
    }

    #[test]
    fn log_flags_are_found_in_unparsable_argv() {
        let (p, f) = scan_log_flags(&os(&["husk", "--log=/l", "--log-format", "json", "bogus"]));
        assert_eq!(p, Some(PathBuf::from("/l")));
        assert_eq!(f, LogFormat::Json);
    }
}

//! `exec`: run another process in a created, running (or, when asked, paused) container.
//!
//! The process is either a full OCI `process` object (`exec --process FILE`, what containerd
//! and conmon pass) or built as runc builds it from the command line: the container's own
//! `process` with `args` replaced and the flags applied ([`ExecOptions`]).

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use oci_spec::runtime::{Capability, LinuxCapabilities, LinuxSeccomp, Process, Spec};
use serde::{Deserialize, Serialize};

use super::{Container, ExitStatus, Status};
use crate::process::exec::{self as pexec, ExecConfig};
use crate::state::ProcInfo;
use crate::{cgroups, Error, Result};

/// What `exec` needs from the container's config, kept in the state at create time (the
/// bundle may change or disappear while the container runs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecDefaults {
    /// The config's `process`: the template of a process built from command-line arguments,
    /// and the capabilities and rlimits of a `--process` object that has none.
    #[serde(default)]
    pub process: Option<Process>,
    /// `linux.seccomp`: every exec'd process gets the container's filter.
    #[serde(default)]
    pub seccomp: Option<LinuxSeccomp>,
    /// Created with `--no-new-keyring`: exec'd processes keep the caller's keyring too.
    #[serde(default)]
    pub no_new_keyring: bool,
}

impl ExecDefaults {
    /// From a container's config.
    pub fn from_spec(spec: &Spec, no_new_keyring: bool) -> ExecDefaults {
        ExecDefaults {
            process: spec.process().clone(),
            seccomp: spec.linux().as_ref().and_then(|l| l.seccomp().clone()),
            no_new_keyring,
        }
    }
}

/// How to run a process in a container (runc's `exec` flags).
///
/// With `process` set, it is used as given (`--process FILE`) and the command-line fields
/// (`args` to `no_new_privs`) must be empty. Otherwise the container's `process` is the
/// template: `args` replace its arguments and the other fields are applied as runc applies
/// its flags.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// A full OCI `process` object.
    pub process: Option<Process>,
    /// The command and its arguments.
    pub args: Vec<String>,
    /// Allocate a terminal (`--tty`).
    pub tty: bool,
    /// The working directory (`--cwd`).
    pub cwd: Option<PathBuf>,
    /// `NAME=value` entries added to (or replacing those of) the environment (`--env`).
    pub env: Vec<String>,
    /// The user, `uid` and optionally `gid` (`--user uid[:gid]`).
    pub user: Option<(u32, Option<u32>)>,
    /// Supplementary groups added (`--additional-gids`).
    pub additional_gids: Vec<u32>,
    /// Capabilities added to the bounding, effective, permitted and ambient sets (`--cap`),
    /// never to the inheritable set (security.md S7).
    pub caps: Vec<String>,
    /// Set `no_new_privileges` (`--no-new-privs`).
    pub no_new_privs: bool,
    /// Send the pty master to this unix socket (`--console-socket`).
    pub console_socket: Option<PathBuf>,
    /// Pass the caller's fds 3..3+n through (`--preserve-fds`).
    pub preserve_fds: u32,
    /// Write the process' host pid here: atomically, no trailing newline (`--pid-file`).
    pub pid_file: Option<PathBuf>,
    /// The caller will not wait (`--detach`): a terminal then needs a console socket.
    pub detach: bool,
    /// Exec into a paused container too (`--ignore-paused`); the process starts frozen.
    pub ignore_paused: bool,
    /// The AppArmor profile (`--apparmor`), instead of the container's.
    pub apparmor: Option<String>,
    /// The SELinux label (`--process-label`), instead of the container's.
    pub process_label: Option<String>,
}

/// A process started by [`Container::exec`].
#[derive(Debug)]
pub struct ExecProcess {
    pid: i32,
    console: Option<OwnedFd>,
}

impl ExecProcess {
    /// Its host pid. It is a child of the calling process.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Wait for it to exit (it is our child).
    ///
    /// # Errors
    /// When `waitpid` fails (e.g. it was already reaped).
    pub fn wait(&self) -> Result<ExitStatus> {
        super::lifecycle::wait_child(self.pid)
    }

    /// The pty master, for a terminal process without a console socket in the foreground.
    pub fn take_console(&mut self) -> Option<OwnedFd> {
        self.console.take()
    }
}

fn bad(field: &str, msg: impl Into<String>) -> Error {
    Error::Spec(crate::spec::SpecError::Invalid {
        field: field.to_string(),
        msg: msg.into(),
    })
}

/// runc's `--cap` and capability names: `CAP_` plus the kernel's name.
fn parse_cap(name: &str) -> Result<Capability> {
    let full = if name.to_ascii_uppercase().starts_with("CAP_") {
        name.to_ascii_uppercase()
    } else {
        format!("CAP_{}", name.to_ascii_uppercase())
    };
    serde_json::from_value(serde_json::Value::String(full.clone()))
        .map_err(|_| bad("--cap", format!("unknown capability {name:?}")))
}

/// Replace `NAME=...` in `env` or append it.
fn set_env(env: &mut Vec<String>, entry: &str) {
    let name = entry.split_once('=').map_or(entry, |(n, _)| n);
    let prefix = format!("{name}=");
    match env.iter_mut().find(|e| e.starts_with(&prefix)) {
        Some(e) => *e = entry.to_string(),
        None => env.push(entry.to_string()),
    }
}

impl ExecOptions {
    /// The process to run, from the options and the container's defaults (what runc's `exec`
    /// builds before it starts anything).
    ///
    /// # Errors
    /// Command-line fields together with `process`, no command, a malformed `--env` entry or
    /// an unknown `--cap`.
    pub fn resolve(&self, defaults: &ExecDefaults) -> Result<Process> {
        let base = defaults.process.clone().unwrap_or_default();
        let p = match &self.process {
            Some(p) => {
                let cli_set = !self.args.is_empty()
                    || self.tty
                    || self.cwd.is_some()
                    || !self.env.is_empty()
                    || self.user.is_some()
                    || !self.additional_gids.is_empty()
                    || !self.caps.is_empty()
                    || self.no_new_privs
                    || self.apparmor.is_some()
                    || self.process_label.is_some();
                if cli_set {
                    return Err(Error::Unsupported(
                        "exec: --process cannot be combined with a command or process flags".into(),
                    ));
                }
                let mut p = p.clone();
                // runc: a process without them gets the container's capabilities and rlimits.
                if p.capabilities().is_none() {
                    p.set_capabilities(base.capabilities().clone());
                }
                if p.rlimits().as_ref().is_none_or(|r| r.is_empty()) {
                    p.set_rlimits(base.rlimits().clone());
                }
                // runc: and the container's AppArmor profile and SELinux label.
                if p.apparmor_profile().as_ref().is_none_or(|a| a.is_empty()) {
                    p.set_apparmor_profile(base.apparmor_profile().clone());
                }
                if p.selinux_label().as_ref().is_none_or(|l| l.is_empty()) {
                    p.set_selinux_label(base.selinux_label().clone());
                }
                p
            }
            None => {
                if self.args.is_empty() {
                    return Err(bad("process.args", "exec needs a command to run"));
                }
                let mut p = base;
                p.set_args(Some(self.args.clone()));
                p.set_terminal(Some(self.tty));
                // The template's terminal size belongs to init's terminal.
                p.set_console_size(None);
                if let Some(cwd) = &self.cwd {
                    p.set_cwd(cwd.clone());
                }
                let mut env = p.env().clone().unwrap_or_default();
                for e in &self.env {
                    if !e.contains('=') || e.starts_with('=') {
                        return Err(bad("--env", format!("{e:?} is not NAME=value")));
                    }
                    set_env(&mut env, e);
                }
                p.set_env(Some(env));
                let mut user = p.user().clone();
                if let Some((uid, gid)) = self.user {
                    user.set_uid(uid);
                    if let Some(g) = gid {
                        user.set_gid(g);
                    }
                }
                if !self.additional_gids.is_empty() {
                    let mut g = user.additional_gids().clone().unwrap_or_default();
                    g.extend(&self.additional_gids);
                    user.set_additional_gids(Some(g));
                }
                p.set_user(user);
                if !self.caps.is_empty() {
                    let mut c = p.capabilities().clone().unwrap_or_else(empty_capabilities);
                    for name in &self.caps {
                        let cap = parse_cap(name)?;
                        let add = |s: &Option<oci_spec::runtime::Capabilities>| {
                            let mut s = s.clone().unwrap_or_default();
                            s.insert(cap);
                            Some(s)
                        };
                        c.set_bounding(add(c.bounding()));
                        c.set_effective(add(c.effective()));
                        c.set_permitted(add(c.permitted()));
                        c.set_ambient(add(c.ambient()));
                    }
                    p.set_capabilities(Some(c));
                }
                if self.no_new_privs {
                    p.set_no_new_privileges(Some(true));
                }
                if let Some(a) = &self.apparmor {
                    p.set_apparmor_profile(Some(a.clone()));
                }
                if let Some(l) = &self.process_label {
                    p.set_selinux_label(Some(l.clone()));
                }
                p
            }
        };
        validate(&p)?;
        Ok(p)
    }
}

fn empty_capabilities() -> LinuxCapabilities {
    let mut c = LinuxCapabilities::default();
    let none = Some(Default::default());
    c.set_bounding(none.clone());
    c.set_effective(none.clone());
    c.set_inheritable(none.clone());
    c.set_permitted(none.clone());
    c.set_ambient(none);
    c
}

/// The checks create makes on `process`, for the exec'd one.
fn validate(p: &Process) -> Result<()> {
    match p.args() {
        Some(a) if !a.is_empty() && !a[0].is_empty() => {}
        _ => return Err(bad("process.args", "must name the program to run")),
    }
    if p.command_line().is_some() {
        return Err(bad("process.commandLine", "is for Windows only"));
    }
    if !p.cwd().is_absolute() {
        return Err(bad("process.cwd", "must be an absolute path"));
    }
    let mut s = Spec::default();
    s.set_process(Some(p.clone()));
    crate::spec::validate_process(&s)?;
    Ok(())
}

impl Container {
    /// The defaults `exec` builds processes from (the container's config, as stored at
    /// create; for a container created by an older husk, read from its bundle).
    ///
    /// # Errors
    /// When the state has none and the bundle's `config.json` cannot be read.
    pub fn exec_defaults(&self) -> Result<ExecDefaults> {
        if let Some(d) = &self.state.exec {
            return Ok(d.clone());
        }
        if let Some(d) = self.dir.load_exec()? {
            return Ok(d);
        }
        let path = self.state.bundle.join("config.json");
        let data = std::fs::read(&path).map_err(|e| Error::Path {
            op: "open",
            path: path.clone(),
            source: e.into(),
        })?;
        let spec = crate::spec::parse(&data, &mut Vec::new())?;
        Ok(ExecDefaults::from_spec(&spec, false))
    }

    /// Run a new process in the container: in every namespace of its init, in its cgroup,
    /// with the process' own user, capabilities, rlimits, `no_new_privileges`, and the
    /// container's seccomp filter (see [`ExecOptions`]).
    ///
    /// # Errors
    /// runc's wording for a stopped ("cannot exec in a stopped container") or paused container,
    /// an invalid process field (named), or a failure in the new process before `execve`
    /// ("executable file not found in $PATH").
    pub fn exec(&self, opts: ExecOptions) -> Result<ExecProcess> {
        let status = self.status();
        match status {
            Status::Stopped => return Err(self.wrong("cannot exec in a stopped container")),
            Status::Creating => {
                return Err(self.wrong("cannot exec in a container that is being created"))
            }
            Status::Paused if !opts.ignore_paused => {
                return Err(self
                    .wrong("cannot exec in a paused container (use --ignore-paused to override)"))
            }
            _ => {}
        }
        let defaults = self.exec_defaults()?;
        let process = opts.resolve(&defaults)?;
        let seccomp = match &defaults.seccomp {
            Some(s) => Some(
                crate::security::seccomp::compile(s)
                    .map_err(|e| bad("linux.seccomp", e.to_string()))?,
            ),
            None => None,
        };
        // The preserved fds must really be open: otherwise the fds made below could take
        // their numbers and leak into the container.
        for fd in 3..3 + opts.preserve_fds as i32 {
            if !crate::sys::process::fd_is_open(fd) {
                return Err(Error::Unsupported(format!(
                    "--preserve-fds {}: fd {fd} is not open",
                    opts.preserve_fds
                )));
            }
        }
        let terminal = process.terminal().unwrap_or(false);
        let (console_socket, console_peer) =
            super::console_endpoints(terminal, opts.console_socket.as_ref(), opts.detach)?;

        // A pidfd pins init while its namespaces are opened; the start time then proves that
        // the namespaces are those of OUR init, not of a process that reused its pid.
        let init = self.state.pid;
        let _pin = crate::sys::process::pidfd_open(init)
            .map_err(|_| self.wrong("cannot exec in a stopped container"))?;
        // A zombie has no namespaces left: an error here usually means init just died.
        let namespaces = pexec::open_namespaces(init);
        if !ProcInfo::alive_as(init, self.state.pid_start) {
            return Err(self.wrong("cannot exec in a stopped container"));
        }
        let namespaces = namespaces?;
        let cgroup = self.state.cgroup.as_ref().map(cgroups::from_config);
        let cfg = ExecConfig {
            id: &self.state.id,
            init_pid: init,
            process: &process,
            seccomp: seccomp.as_ref(),
            no_new_keyring: defaults.no_new_keyring,
            preserve_fds: opts.preserve_fds,
            console_socket: console_socket.as_ref(),
            namespaces: &namespaces,
        };
        let notify = |pid: i32, fd: OwnedFd| -> Result<()> {
            let mut st = oci_spec::runtime::State::default();
            st.set_version(self.state.oci_version.clone());
            st.set_id(self.state.id.clone());
            st.set_status(oci_spec::runtime::ContainerState::Running);
            st.set_pid(Some(init));
            st.set_bundle(self.state.bundle.clone());
            st.set_annotations(Some(self.state.annotations.clone()));
            let profile = defaults.seccomp.as_ref();
            crate::security::seccomp::notify_agent(profile, &st, pid, fd.as_fd())?;
            Ok(())
        };
        // In a frozen cgroup the process could not even finish its setup: with
        // --ignore-paused it joins the cgroup once it has exec'd (and freezes there). Until
        // then it runs outside the container's cgroup limits, a window only this flag opens.
        let paused = status == Status::Paused;
        let early = if paused { None } else { cgroup.as_deref() };
        let pid = pexec::spawn(&cfg, early, &notify)?;
        drop(console_socket);
        let reap = |e: Error| {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
            e
        };
        if let (true, Some(m)) = (paused, cgroup.as_deref()) {
            m.add_process(pid).map_err(|e| reap(e.into()))?;
        }
        let console = match console_peer {
            Some(sock) => Some(crate::process::recv_console(&sock).map_err(reap)?),
            None => None,
        };
        if let Some(pf) = &opts.pid_file {
            super::write_pid_file(pf, pid).map_err(reap)?;
        }
        Ok(ExecProcess { pid, console })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> ExecDefaults {
        let p: Process = serde_json::from_value(serde_json::json!({
            "user": {"uid": 0, "gid": 0},
            "args": ["sleep", "600"],
            "env": ["PATH=/bin", "TERM=xterm"],
            "cwd": "/",
            "terminal": true,
            "consoleSize": {"height": 10, "width": 20},
            "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"],
                             "permitted": ["CAP_KILL"]},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]
        }))
        .unwrap();
        ExecDefaults {
            process: Some(p),
            seccomp: None,
            no_new_keyring: false,
        }
    }

    #[test]
    fn command_line_exec_is_built_like_runc() {
        let o = ExecOptions {
            args: vec!["sh".into()],
            env: vec!["TERM=dumb".into(), "X=1".into()],
            user: Some((1000, None)),
            additional_gids: vec![5],
            caps: vec!["CAP_CHOWN".into(), "net_raw".into()],
            cwd: Some("/tmp".into()),
            ..Default::default()
        };
        let p = o.resolve(&defaults()).unwrap();
        assert_eq!(p.args().as_deref(), Some(&["sh".to_string()][..]));
        assert_eq!(p.terminal(), Some(false), "no --tty: no terminal");
        assert!(p.console_size().is_none());
        assert_eq!(
            p.env().as_deref().unwrap(),
            &["PATH=/bin", "TERM=dumb", "X=1"]
        );
        assert_eq!((p.user().uid(), p.user().gid()), (1000, 0));
        assert_eq!(p.user().additional_gids().as_deref(), Some(&[5u32][..]));
        assert_eq!(p.cwd(), std::path::Path::new("/tmp"));
        let c = p.capabilities().as_ref().unwrap();
        for set in [c.bounding(), c.effective(), c.permitted(), c.ambient()] {
            let s = set.as_ref().unwrap();
            assert!(s.contains(&Capability::Chown) && s.contains(&Capability::NetRaw));
        }
        assert!(
            c.inheritable().as_ref().is_none_or(|s| s.is_empty()),
            "--cap never reaches the inheritable set (S7)"
        );
        assert_eq!(p.rlimits().as_ref().unwrap().len(), 1);
    }

    #[test]
    fn process_objects_are_used_as_given_with_container_caps_and_rlimits() {
        let given: Process = serde_json::from_value(serde_json::json!({
            "user": {"uid": 7, "gid": 7}, "args": ["id"], "cwd": "/"
        }))
        .unwrap();
        let o = ExecOptions {
            process: Some(given),
            ..Default::default()
        };
        let p = o.resolve(&defaults()).unwrap();
        assert_eq!(p.user().uid(), 7);
        assert!(p.env().is_none());
        assert_eq!(p.capabilities(), defaults().process.unwrap().capabilities());
        let both = ExecOptions {
            args: vec!["x".into()],
            ..o
        };
        assert!(both.resolve(&defaults()).is_err());
    }

    #[test]
    fn bad_exec_input_is_named() {
        let e = ExecOptions::default().resolve(&defaults()).unwrap_err();
        assert!(e.to_string().starts_with("process.args: "), "{e}");
        let o = ExecOptions {
            args: vec!["sh".into()],
            caps: vec!["CAP_NOPE".into()],
            ..Default::default()
        };
        assert_eq!(
            o.resolve(&defaults()).unwrap_err().to_string(),
            "--cap: unknown capability \"CAP_NOPE\""
        );
        let o = ExecOptions {
            args: vec!["sh".into()],
            cwd: Some("rel".into()),
            ..Default::default()
        };
        assert!(o
            .resolve(&defaults())
            .unwrap_err()
            .to_string()
            .starts_with("process.cwd: "));
    }
}

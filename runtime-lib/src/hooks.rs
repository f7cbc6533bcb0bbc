//! Hooks: the six kinds of the runtime-spec, each run with the container state on stdin, its
//! own `args` and `env`, and a `timeout`.
//!
//! | kind | run by | when | namespaces |
//! |---|---|---|---|
//! | prestart (deprecated), createRuntime | runtime | after namespaces, before `pivot_root` | runtime's |
//! | createContainer | container init | after mounts, before `pivot_root` | container's |
//! | startContainer | container init | after `start`, before the user program | container's |
//! | poststart | runtime (`start`) | after the user program started | runtime's |
//! | poststop | runtime (`delete`) | after the container stopped | runtime's |

use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::{Hook, Hooks};

use crate::spec::SpecError;

/// Errors of hooks.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HookError {
    /// A hook could not run or failed.
    #[error("error running {kind} hook #{index}: {msg}")]
    Failed {
        /// The hook kind (`createRuntime`, ...).
        kind: &'static str,
        /// Its index in the list.
        index: usize,
        /// What happened (exit status, timeout, exec error) with the hook's path.
        msg: String,
    },
    /// A startContainer hook failed inside the container: init's own message, passed to
    /// `start` through the exec fifo.
    #[error("{0}")]
    InContainer(String),
}

/// Check every hook: absolute path, positive timeout.
///
/// # Errors
/// The offending hook, named by its JSON path.
pub fn validate(hooks: &Hooks) -> Result<(), SpecError> {
    for (kind, list) in all(hooks) {
        for (i, h) in list.iter().enumerate() {
            if !h.path().is_absolute() {
                return Err(SpecError::Invalid {
                    field: format!("hooks.{kind}[{i}].path"),
                    msg: "must be an absolute path".into(),
                });
            }
            if h.timeout().is_some_and(|t| t <= 0) {
                return Err(SpecError::Invalid {
                    field: format!("hooks.{kind}[{i}].timeout"),
                    msg: "must be greater than zero".into(),
                });
            }
        }
    }
    Ok(())
}

fn all(h: &Hooks) -> [(&'static str, &[Hook]); 6] {
    #[allow(deprecated)]
    let prestart = h.prestart().as_deref().unwrap_or(&[]);
    [
        ("prestart", prestart),
        (
            "createRuntime",
            h.create_runtime().as_deref().unwrap_or(&[]),
        ),
        (
            "createContainer",
            h.create_container().as_deref().unwrap_or(&[]),
        ),
        (
            "startContainer",
            h.start_container().as_deref().unwrap_or(&[]),
        ),
        ("poststart", h.poststart().as_deref().unwrap_or(&[])),
        ("poststop", h.poststop().as_deref().unwrap_or(&[])),
    ]
}

/// Run `hooks` of `kind` in order with `state` (the state JSON) on stdin. Stops at the first
/// failure.
///
/// # Errors
/// The first hook that cannot be started, exits non-zero, or outlives its timeout (it is
/// killed).
pub fn run(kind: &'static str, hooks: &[Hook], state: &[u8]) -> Result<(), HookError> {
    for (index, h) in hooks.iter().enumerate() {
        run_one(h, state).map_err(|msg| HookError::Failed { kind, index, msg })?;
    }
    Ok(())
}

fn run_one(h: &Hook, state: &[u8]) -> Result<(), String> {
    let path = h.path().display().to_string();
    let args = h.args().clone().unwrap_or_default();
    let mut cmd = Command::new(h.path());
    if let Some((argv0, rest)) = args.split_first() {
        cmd.arg0(argv0).args(rest);
    }
    cmd.env_clear();
    for e in h.env().iter().flatten() {
        if let Some((k, v)) = e.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("{path}: {}", crate::OsError(e)))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine (EPIPE).
        let _ = stdin.write_all(state);
    }
    let deadline = h
        .timeout()
        .map(|t| Instant::now() + Duration::from_secs(t as u64));
    let status = match deadline {
        None => child.wait().map_err(|e| format!("{path}: wait: {e}"))?,
        Some(deadline) => {
            let pidfd = crate::sys::process::pidfd_open(child.id() as i32)
                .map_err(|e| format!("{path}: pidfd_open: {e}"))?;
            let left = deadline.saturating_duration_since(Instant::now());
            let mut fds = [nix::poll::PollFd::new(
                pidfd.as_fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            let ms = left.as_millis().min(i32::MAX as u128) as i32;
            let ready = nix::poll::poll(
                &mut fds,
                nix::poll::PollTimeout::try_from(ms).unwrap_or(nix::poll::PollTimeout::MAX),
            )
            .unwrap_or(0);
            if ready == 0 {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{path}: timeout after {} seconds",
                    h.timeout().unwrap_or(0)
                ));
            }
            child.wait().map_err(|e| format!("{path}: wait: {e}"))?
        }
    };
    if status.success() {
        Ok(())
    } else {
        Err(format!("{path}: {status}"))
    }
}

/// Run every hook of `kind`, even after one failed (poststart and poststop: the runtime-spec
/// says a failure is a warning and the remaining hooks still run). Returns the failures.
pub fn run_all(kind: &'static str, hooks: &[Hook], state: &[u8]) -> Vec<HookError> {
    hooks
        .iter()
        .enumerate()
        .filter_map(|(index, h)| {
            run_one(h, state)
                .err()
                .map(|msg| HookError::Failed { kind, index, msg })
        })
        .collect()
}

/// The hooks of one kind from a config's `hooks`.
pub fn of_kind<'a>(hooks: Option<&'a Hooks>, kind: &str) -> &'a [Hook] {
    match hooks {
        Some(h) => all(h)
            .into_iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, l)| l)
            .unwrap_or(&[]),
        None => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(json: serde_json::Value) -> Hook {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn state_on_stdin_args_and_env() {
        let dir = std::env::temp_dir().join(format!("husk-hook-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("out");
        let h = hook(serde_json::json!({
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("cat > {0}; echo \" $0 $FOO\" >> {0}", out.display()), "me"],
            "env": ["FOO=bar"]
        }));
        run("poststart", &[h], br#"{"id":"x"}"#).unwrap();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "{\"id\":\"x\"} me bar\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn failure_and_timeout() {
        let h = hook(serde_json::json!({"path": "/bin/false"}));
        let e = run("createRuntime", &[h], b"{}").unwrap_err().to_string();
        assert!(
            e.starts_with("error running createRuntime hook #0: /bin/false: exit status: 1"),
            "{e}"
        );
        let h =
            hook(serde_json::json!({"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}));
        let t = Instant::now();
        let e = run("prestart", &[h], b"{}").unwrap_err().to_string();
        assert!(e.contains("timeout after 1 seconds"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(20));
    }

    #[test]
    fn validation() {
        let hooks: Hooks = serde_json::from_value(serde_json::json!({
            "poststop": [{"path": "/bin/true"}, {"path": "relative"}]}))
        .unwrap();
        assert_eq!(
            validate(&hooks).unwrap_err().to_string(),
            "hooks.poststop[1].path: must be an absolute path"
        );
    }
}

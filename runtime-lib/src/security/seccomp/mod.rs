//! seccomp: compile `linux.seccomp` into one BPF program (no libseccomp) and load it.
//!
//! INTERFACE (used by `process/`; keep these signatures):
//! - [`compile`]: pure, in the runtime process before the fork.
//! - [`SeccompProgram::load`]: in the container process, last thing before `execve`, after
//!   `no_new_privs` and the capability changes.
//!
//! Added: [`send_to_listener`] and [`process_state`] for `SCMP_ACT_NOTIFY`; [`features`] for
//! `husk features`.
//!
//! The semantics follow runc with libseccomp (see `profile.rs` for the details: rules equal to
//! the default are skipped, unknown names are ignored, first unconditional rule per syscall
//! wins, the ENOSYS stub for syscalls newer than the profile). `seccompiler` was not used: it
//! builds one match action per filter and has no notion of the default-errno stub, x32 or
//! libseccomp's per-syscall rule merging, and its types would only have wrapped the 8 opcodes
//! generated here.
//!
//! # Notify listener protocol (as runc)
//!
//! | step | who | what |
//! |---|---|---|
//! | 1 | container process | `load()` with `SECCOMP_FILTER_FLAG_NEW_LISTENER`, gets the notify fd |
//! | 2 | container process | passes the fd to the runtime (the process module's socket) |
//! | 3 | runtime | `connect(listenerPath)` (a unix stream socket the agent listens on) |
//! | 4 | runtime | one `sendmsg`: data = `ContainerProcessState` JSON (`{"ociVersion", "fds": ["seccompFd"], "pid", "metadata", "state"}`), `SCM_RIGHTS` = `[notify fd]` |
//! | 5 | runtime | closes its copies of the socket and the fd; the agent now answers notifications |

mod codegen;
mod profile;
mod tables;

pub(crate) mod bpf;

#[cfg(test)]
mod interp;
#[cfg(test)]
mod tests;

use std::io::IoSlice;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use oci_spec::runtime::LinuxSeccomp;

/// Errors of seccomp compilation and loading.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SeccompError {
    /// A field of `linux.seccomp` is invalid or unsupported.
    #[error("{field}: {msg}")]
    Invalid {
        /// The offending field, e.g. `linux.seccomp.syscalls[3].args[0].op`.
        field: String,
        /// What is wrong with it.
        msg: String,
    },
    /// Loading the filter failed.
    #[error("{op}: {source}")]
    Sys {
        /// The failing call.
        op: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// A compiled seccomp filter, ready to load.
#[derive(Debug, Clone)]
pub struct SeccompProgram {
    insns: Vec<bpf::Insn>,
    /// seccomp(2) flags: the profile's, plus NEW_LISTENER (and TSYNC_ESRCH with TSYNC) when a
    /// rule uses SCMP_ACT_NOTIFY.
    flags: u32,
}

/// Compile `linux.seccomp` for this machine's architecture (and the compat architectures the
/// profile lists).
///
/// ```
/// let profile: oci_spec::runtime::LinuxSeccomp = serde_json::from_str(r#"{
///     "defaultAction": "SCMP_ACT_ERRNO",
///     "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
///     "syscalls": [{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"}]
/// }"#).unwrap();
/// let program = husk::security::seccomp::compile(&profile).unwrap();
/// assert!(program.instruction_count() < 100);
/// ```
///
/// # Errors
/// An invalid or unsupported field, named (`linux.seccomp.syscalls[3].errnoRet: ...`).
pub fn compile(seccomp: &LinuxSeccomp) -> Result<SeccompProgram, SeccompError> {
    if !cfg!(target_arch = "x86_64") {
        return Err(SeccompError::Invalid {
            field: "linux.seccomp".into(),
            msg: "only x86_64 hosts are supported".into(),
        });
    }
    let plan = profile::resolve(seccomp)?;
    let insns = codegen::generate(&plan).ok_or_else(|| SeccompError::Invalid {
        field: "linux.seccomp".into(),
        msg: "internal error: the BPF assembler could not resolve a jump".into(),
    })?;
    if insns.len() > bpf::MAX_INSNS {
        return Err(SeccompError::Invalid {
            field: "linux.seccomp".into(),
            msg: format!(
                "the filter needs {} instructions, more than the kernel's limit of {}",
                insns.len(),
                bpf::MAX_INSNS
            ),
        });
    }
    Ok(SeccompProgram {
        insns,
        flags: plan.flags,
    })
}

impl SeccompProgram {
    /// Load the filter into the calling thread (with TSYNC when asked). Returns the notify
    /// listener fd when the profile uses `SCMP_ACT_NOTIFY`.
    ///
    /// Call it last before `execve`: every syscall after it is filtered. Without
    /// `no_new_privs` the caller needs CAP_SYS_ADMIN (runc loads the filter before dropping
    /// capabilities in that case, and after `no_new_privs` otherwise).
    ///
    /// ```no_run
    /// # let profile: oci_spec::runtime::LinuxSeccomp = serde_json::from_str(
    /// #     r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#).unwrap();
    /// let program = husk::security::seccomp::compile(&profile)?;
    /// nix::sys::prctl::set_no_new_privs().unwrap();
    /// let notify_fd = program.load()?;
    /// # Ok::<(), husk::security::seccomp::SeccompError>(())
    /// ```
    ///
    /// # Errors
    /// When `seccomp(2)` refuses the program.
    pub fn load(&self) -> Result<Option<OwnedFd>, SeccompError> {
        crate::sys::seccomp::set_mode_filter(self.flags, &self.insns).map_err(|source| {
            SeccompError::Sys {
                op: format!(
                    "seccomp(SECCOMP_SET_MODE_FILTER, {}, {{len={}}})",
                    flag_names(self.flags),
                    self.insns.len()
                ),
                source,
            }
        })
    }

    /// Number of BPF instructions (the kernel accepts at most 4096).
    ///
    /// ```
    /// # let profile: oci_spec::runtime::LinuxSeccomp = serde_json::from_str(
    /// #     r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#).unwrap();
    /// let program = husk::security::seccomp::compile(&profile).unwrap();
    /// assert!(program.instruction_count() > 0);
    /// ```
    pub fn instruction_count(&self) -> usize {
        self.insns.len()
    }

    /// Whether [`load`](Self::load) will return a notify fd, to be passed to
    /// [`send_to_listener`].
    ///
    /// ```
    /// # let profile: oci_spec::runtime::LinuxSeccomp = serde_json::from_str(
    /// #     r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#).unwrap();
    /// let program = husk::security::seccomp::compile(&profile).unwrap();
    /// assert!(!program.uses_notify());
    /// ```
    pub fn uses_notify(&self) -> bool {
        self.flags & profile::FLAG_NEW_LISTENER != 0
    }

    /// The raw program (for tests and debugging).
    #[cfg(test)]
    pub(crate) fn insns(&self) -> &[bpf::Insn] {
        &self.insns
    }
}

/// What `husk features` reports under `linux.seccomp`: the actions, operators, architectures
/// and flags this module implements, and which flags the running kernel accepts (probed like
/// runc does, without installing anything).
///
/// ```
/// let f = husk::security::seccomp::features();
/// assert_eq!(*f.enabled(), Some(true));
/// assert!(f.archs().as_ref().unwrap().len() >= 3);
/// ```
pub fn features() -> oci_spec::runtime::Seccomp {
    use oci_spec::runtime::{Arch, LinuxSeccompAction as A};
    let known_flags = [
        ("SECCOMP_FILTER_FLAG_TSYNC", profile::FLAG_TSYNC),
        ("SECCOMP_FILTER_FLAG_LOG", profile::FLAG_LOG),
        ("SECCOMP_FILTER_FLAG_SPEC_ALLOW", profile::FLAG_SPEC_ALLOW),
        // The kernel only takes it together with a listener.
        (
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
            profile::FLAG_WAIT_KILLABLE_RECV | profile::FLAG_NEW_LISTENER,
        ),
    ];
    let supported = known_flags
        .iter()
        .filter(|(_, bits)| crate::sys::seccomp::filter_flags_known(*bits))
        .map(|(name, _)| name.to_string())
        .collect();
    let mut f = oci_spec::runtime::Seccomp::default();
    f.set_enabled(Some(true));
    f.set_actions(Some(vec![
        A::ScmpActAllow,
        A::ScmpActErrno,
        A::ScmpActKill,
        A::ScmpActKillProcess,
        A::ScmpActKillThread,
        A::ScmpActLog,
        A::ScmpActNotify,
        A::ScmpActTrace,
        A::ScmpActTrap,
    ]));
    f.set_operators(Some(
        [
            "SCMP_CMP_EQ",
            "SCMP_CMP_GE",
            "SCMP_CMP_GT",
            "SCMP_CMP_LE",
            "SCMP_CMP_LT",
            "SCMP_CMP_MASKED_EQ",
            "SCMP_CMP_NE",
        ]
        .map(String::from)
        .to_vec(),
    ));
    f.set_archs(Some(vec![
        Arch::ScmpArchX86,
        Arch::ScmpArchX86_64,
        Arch::ScmpArchX32,
    ]));
    f.set_known_flags(Some(known_flags.map(|(n, _)| n.to_string()).to_vec()));
    f.set_supported_flags(Some(supported));
    f
}

/// seccomp(2) flags as strace prints them.
fn flag_names(flags: u32) -> String {
    let names = [
        (profile::FLAG_TSYNC, "SECCOMP_FILTER_FLAG_TSYNC"),
        (profile::FLAG_LOG, "SECCOMP_FILTER_FLAG_LOG"),
        (profile::FLAG_SPEC_ALLOW, "SECCOMP_FILTER_FLAG_SPEC_ALLOW"),
        (
            profile::FLAG_NEW_LISTENER,
            "SECCOMP_FILTER_FLAG_NEW_LISTENER",
        ),
        (profile::FLAG_TSYNC_ESRCH, "SECCOMP_FILTER_FLAG_TSYNC_ESRCH"),
        (
            profile::FLAG_WAIT_KILLABLE_RECV,
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
        ),
    ];
    let set: Vec<&str> = names
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, n)| *n)
        .collect();
    if set.is_empty() {
        "0".into()
    } else {
        set.join("|")
    }
}

/// The `ContainerProcessState` JSON that [`send_to_listener`] sends to a seccomp agent, as
/// runc builds it: `fds` is `["seccompFd"]`, `metadata` is `linux.seccomp.listenerMetadata`.
///
/// ```
/// let state = oci_spec::runtime::State::default();
/// let json = husk::security::seccomp::process_state(&state, 42, Some("meta"));
/// let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
/// assert_eq!(v["fds"][0], "seccompFd");
/// assert_eq!(v["pid"], 42);
/// ```
pub fn process_state(
    state: &oci_spec::runtime::State,
    pid: i32,
    metadata: Option<&str>,
) -> Vec<u8> {
    let mut s = oci_spec::runtime::ContainerProcessState::default();
    s.set_version(state.version().clone());
    s.set_fds(vec![oci_spec::runtime::SECCOMP_FD_NAME.to_string()]);
    s.set_pid(pid);
    s.set_metadata(metadata.map(str::to_string));
    s.set_state(state.clone());
    // Serializing plain strings and integers cannot fail.
    serde_json::to_vec(&s).unwrap_or_default()
}

/// Hand the notify fd to the seccomp agent listening on `listener_path`
/// (`linux.seccomp.listenerPath`): connect, and send `process_state` (see [`process_state`])
/// with the fd attached as `SCM_RIGHTS`, in one message, as runc does.
///
/// ```no_run
/// # fn f(fd: std::os::fd::OwnedFd) -> Result<(), husk::security::seccomp::SeccompError> {
/// use std::os::fd::AsFd;
/// let state = husk::security::seccomp::process_state(&Default::default(), 1234, None);
/// husk::security::seccomp::send_to_listener("/run/agent.sock".as_ref(), &state, fd.as_fd())?;
/// # Ok(()) }
/// ```
///
/// # Errors
/// When the agent's socket cannot be reached or the message cannot be sent.
pub fn send_to_listener(
    listener_path: &Path,
    process_state: &[u8],
    notify_fd: BorrowedFd<'_>,
) -> Result<(), SeccompError> {
    let sock = UnixStream::connect(listener_path).map_err(|source| SeccompError::Sys {
        op: format!(
            "connect(AF_UNIX, {:?}) to the seccomp agent",
            listener_path.display().to_string()
        ),
        source,
    })?;
    let fds = [notify_fd.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(process_state)];
    let sent = sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsg, MsgFlags::MSG_NOSIGNAL, None).map_err(
        |e| SeccompError::Sys {
            op: format!(
                "sendmsg({:?}, {{len={}}}, SCM_RIGHTS=[{}])",
                listener_path.display().to_string(),
                process_state.len(),
                fds[0]
            ),
            source: e.into(),
        },
    )?;
    if sent != process_state.len() {
        return Err(SeccompError::Sys {
            op: format!(
                "sendmsg({:?}): short write ({sent} of {} bytes)",
                listener_path.display().to_string(),
                process_state.len()
            ),
            source: std::io::Error::from(std::io::ErrorKind::WriteZero),
        });
    }
    Ok(())
}

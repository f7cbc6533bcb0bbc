//! Linux security modules: the AppArmor profile and SELinux label a container process gets at
//! its `execve`, and the SELinux mount label.
//!
//! What runc 1.1 does, and so husk:
//!
//! - `process.apparmorProfile`: `exec <profile>` is written to the process' own
//!   `attr/apparmor/exec` (`attr/exec` on kernels before 5.8, which lack the per-LSM
//!   directory); the kernel switches to the profile at the next `execve`. A profile that is not
//!   loaded fails the write (`ENOENT`), so the create fails. With AppArmor not enabled, runc
//!   still writes and the kernel refuses (`EINVAL`: no LSM takes `exec ...`): the create fails.
//!   husk fails the create too, but without writing AppArmor syntax into whatever other LSM
//!   owns `attr/exec`, and says why.
//! - `process.selinuxLabel`: refused at create when SELinux is disabled, with runc's words
//!   ("selinux label is specified in config, but selinux is disabled or not supported");
//!   otherwise written to `attr/exec` before `execve`, and to `attr/keycreate` around joining
//!   the session keyring (so the keyring gets the process' label).
//! - `linux.mountLabel`: `context="<label>"` is added to the data of the mounts runc labels
//!   (tmpfs, devpts and other filesystems; not proc, sysfs, mqueue, cgroup2 or bind mounts) —
//!   whether SELinux is enabled or not, as runc 1.1 does: without SELinux the kernel refuses
//!   such a mount (`EINVAL`) and the error says that the label is the cause. `mqueue` gets the
//!   label as its root's `security.selinux` attribute when SELinux is enabled.
//!
//! Every write goes through the trusted procfs handle (security.md S6), to the calling thread's
//! own attributes (`thread-self`: an LSM only lets a task change its own), and is checked to
//! have opened a procfs file before anything is written.

use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd};

use nix::fcntl::OFlag;
use nix::sys::statfs::{fstatfs, statfs, FsType, PROC_SUPER_MAGIC};

use crate::rootfs::{open_in_procfs, RootfsError};

/// `SELINUX_MAGIC` from `<linux/magic.h>`: selinuxfs.
const SELINUX_MAGIC: i64 = 0xf97c_ff8c;

/// An error applying an LSM label. The message names the config field.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LsmError {
    /// A profile is asked for, but the kernel has no AppArmor enabled.
    #[error("process.apparmorProfile: apparmor failed to apply profile {profile:?}: AppArmor is not enabled on this host (/sys/module/apparmor/parameters/enabled is not Y)")]
    AppArmorDisabled {
        /// The profile asked for.
        profile: String,
    },
    /// A label is asked for, but SELinux is disabled (runc's words).
    #[error(
        "{field}: selinux label is specified in config, but selinux is disabled or not supported"
    )]
    SelinuxDisabled {
        /// `process.selinuxLabel` or `--process-label`.
        field: &'static str,
    },
    /// Opening or writing a procfs attribute failed.
    #[error("{field}: {op}: {source}")]
    Sys {
        /// The config field being applied.
        field: &'static str,
        /// The call, e.g. `write /proc/thread-self/attr/apparmor/exec ("exec foo")`.
        op: String,
        /// The OS error.
        #[source]
        source: crate::OsError,
    },
    /// The attribute file is not on a procfs (S6).
    #[error("{field}: {path} is not on a procfs: refusing to write it")]
    NotProcfs {
        /// The config field being applied.
        field: &'static str,
        /// The file.
        path: String,
    },
}

impl LsmError {
    /// The errno behind this error, if any (carried across the parent/child channel).
    pub fn errno(&self) -> Option<i32> {
        match self {
            LsmError::Sys { source, .. } => source.errno(),
            LsmError::AppArmorDisabled { .. } => Some(libc::EINVAL),
            LsmError::SelinuxDisabled { .. } => Some(libc::EINVAL),
            LsmError::NotProcfs { .. } => None,
        }
    }
}

/// Whether the kernel has AppArmor enabled: the module parameter says `Y` (runc also wants
/// securityfs to show it, but only to decide defaults; applying a profile needs just this).
pub fn apparmor_enabled() -> bool {
    std::fs::read("/sys/module/apparmor/parameters/enabled").is_ok_and(|b| b.first() == Some(&b'Y'))
}

/// Whether SELinux is enabled: selinuxfs is mounted at `/sys/fs/selinux` (go-selinux's test,
/// which runc uses). Without a loaded policy selinuxfs is not mounted by anyone.
pub fn selinux_enabled() -> bool {
    statfs("/sys/fs/selinux").is_ok_and(|s| s.filesystem_type() == FsType(SELINUX_MAGIC as _))
}

/// Pure check for create and exec: a `process.selinuxLabel` (or `--process-label`) needs SELinux.
///
/// # Errors
/// [`LsmError::SelinuxDisabled`] when a label is set and SELinux is not enabled.
///
/// `enabled` (a look at the host) is only asked when a label is set: create and exec pay
/// nothing for it otherwise.
pub fn check_selinux_label(
    label: Option<&str>,
    field: &'static str,
    enabled: impl FnOnce() -> bool,
) -> Result<(), LsmError> {
    match label {
        Some(l) if !l.is_empty() && !enabled() => Err(LsmError::SelinuxDisabled { field }),
        _ => Ok(()),
    }
}

/// Pure check: a `process.apparmorProfile` needs AppArmor enabled.
///
/// # Errors
/// [`LsmError::AppArmorDisabled`] when a profile is set and AppArmor is not enabled.
/// `enabled` is only asked when a profile is set.
pub fn check_apparmor_profile(
    profile: Option<&str>,
    enabled: impl FnOnce() -> bool,
) -> Result<(), LsmError> {
    match profile {
        Some(p) if !p.is_empty() && !enabled() => Err(LsmError::AppArmorDisabled {
            profile: p.to_string(),
        }),
        _ => Ok(()),
    }
}

/// What `exec <profile>` looks like in `attr/apparmor/exec` (libapparmor's `aa_change_onexec`).
pub fn apparmor_exec_command(profile: &str) -> String {
    format!("exec {profile}")
}

fn sys_err(field: &'static str, op: String, e: RootfsError) -> LsmError {
    let errno = e.errno();
    LsmError::Sys {
        field,
        op: match errno {
            Some(_) => op,
            None => format!("{op}: {e}"),
        },
        source: crate::OsError(match errno {
            Some(n) => std::io::Error::from_raw_os_error(n),
            None => std::io::Error::other(e.to_string()),
        }),
    }
}

/// Write `data` to `rel` beneath the trusted procfs, checking first that the opened file is
/// a procfs file.
fn write_attr(
    procfs: BorrowedFd<'_>,
    rel: &str,
    data: &[u8],
    field: &'static str,
) -> Result<(), LsmError> {
    let path = format!("/proc/{rel}");
    let fd = open_in_procfs(&procfs, rel, OFlag::O_WRONLY)
        .map_err(|e| sys_err(field, format!("open {path}"), e))?;
    match fstatfs(fd.as_fd()) {
        Ok(s) if s.filesystem_type() == PROC_SUPER_MAGIC => {}
        _ => return Err(LsmError::NotProcfs { field, path }),
    }
    std::fs::File::from(fd)
        .write_all(data)
        .map_err(|e| LsmError::Sys {
            field,
            op: format!("write {path} ({:?})", String::from_utf8_lossy(data)),
            source: e.into(),
        })
}

/// Make the next `execve` of this thread enter the AppArmor profile `profile`.
///
/// Whether AppArmor is enabled was checked at create/exec ([`check_apparmor_profile`], in
/// the host's view): here, inside the container, `/sys` may be the container's or absent.
///
/// # Errors
/// The kernel refused (`ENOENT`: no such profile loaded).
pub fn apply_apparmor(procfs: BorrowedFd<'_>, profile: &str) -> Result<(), LsmError> {
    const FIELD: &str = "process.apparmorProfile";
    // Linux 5.8+ has a directory per LSM; before, AppArmor owned the shared `attr/exec`.
    let rel = match open_in_procfs(&procfs, "thread-self/attr/apparmor", OFlag::O_PATH) {
        Ok(_) => "thread-self/attr/apparmor/exec",
        Err(e) if e.errno() == Some(libc::ENOENT) => "thread-self/attr/exec",
        Err(e) => {
            return Err(sys_err(
                FIELD,
                "open /proc/thread-self/attr/apparmor".into(),
                e,
            ))
        }
    };
    write_attr(
        procfs,
        rel,
        apparmor_exec_command(profile).as_bytes(),
        FIELD,
    )
    .map_err(|e| match e {
        // runc's words first: "apparmor failed to apply profile: write ...: no such file".
        LsmError::Sys { field, op, source } => LsmError::Sys {
            field,
            op: format!("apparmor failed to apply profile {profile:?}: {op}"),
            source,
        },
        e => e,
    })
}

/// Make the next `execve` of this thread run with the SELinux label `label`.
///
/// Whether SELinux is enabled was checked at create/exec ([`check_selinux_label`]): inside
/// the container `/sys/fs/selinux` is usually not mounted.
///
/// # Errors
/// The kernel refused the label (`EINVAL`: not valid in the policy, `EACCES`).
pub fn apply_selinux_exec(
    procfs: BorrowedFd<'_>,
    label: &str,
    field: &'static str,
) -> Result<(), LsmError> {
    write_attr(procfs, "thread-self/attr/exec", label.as_bytes(), field)
}

/// Set (`Some`) or reset (`None`) the SELinux label of keys this thread creates: runc labels
/// the container's session keyring with the process label.
///
/// # Errors
/// The kernel refused the label.
pub fn set_selinux_keycreate(
    procfs: BorrowedFd<'_>,
    label: Option<&str>,
    field: &'static str,
) -> Result<(), LsmError> {
    write_attr(
        procfs,
        "thread-self/attr/keycreate",
        label.unwrap_or("").as_bytes(),
        field,
    )
}

/// Run `join` (joining the session keyring) with the process' SELinux label as the label of
/// new keys, as runc does; without a label, just run it.
///
/// # Errors
/// No trusted procfs, or the kernel refused the label; `join`'s own result is returned inside.
pub fn with_key_label<T>(
    process: &oci_spec::runtime::Process,
    join: impl FnOnce() -> T,
) -> Result<T, LsmError> {
    const FIELD: &str = "process.selinuxLabel";
    let Some(label) = process.selinux_label().as_deref().filter(|l| !l.is_empty()) else {
        return Ok(join());
    };
    let procfs = crate::rootfs::trusted_procfs()
        .map_err(|e| sys_err(FIELD, "open a trusted procfs".into(), e))?;
    set_selinux_keycreate(procfs.as_fd(), Some(label), FIELD)?;
    let r = join();
    set_selinux_keycreate(procfs.as_fd(), None, FIELD)?;
    Ok(r)
}

/// The labels of a process, applied right before its `execve` (init: before it reports ready,
/// so that a profile that is not loaded fails `create`, as with runc; exec: before `execve`).
///
/// # Errors
/// The first label that cannot be applied.
pub fn apply_exec_labels(
    procfs: BorrowedFd<'_>,
    process: &oci_spec::runtime::Process,
) -> Result<(), LsmError> {
    if let Some(p) = process
        .apparmor_profile()
        .as_deref()
        .filter(|p| !p.is_empty())
    {
        apply_apparmor(procfs, p)?;
    }
    if let Some(l) = process.selinux_label().as_deref().filter(|l| !l.is_empty()) {
        apply_selinux_exec(procfs, l, "process.selinuxLabel")?;
    }
    Ok(())
}

/// Whether `process` asks for any exec label (then a trusted procfs is needed).
pub fn wants_labels(process: &oci_spec::runtime::Process) -> bool {
    process
        .apparmor_profile()
        .as_deref()
        .is_some_and(|p| !p.is_empty())
        || process
            .selinux_label()
            .as_deref()
            .is_some_and(|l| !l.is_empty())
}

/// Which kinds of mounts runc 1.1 gives `context="<mountLabel>"` (its `mountToRootfs`): tmpfs
/// (also the tmpfs under a cgroup v1 `cgroup` mount), devpts and any other filesystem; not
/// proc and sysfs (the kernel does not label them), mqueue (labelled as a file instead),
/// cgroup2 or bind mounts (which take no data).
pub fn mount_takes_label(kind: &crate::rootfs::MountKind) -> bool {
    use crate::rootfs::MountKind as K;
    matches!(kind, K::Tmpfs | K::Devpts | K::Other(_))
}

/// `data` with `context="<label>"` appended (go-selinux's `FormatMountLabel`).
pub fn with_mount_label(data: Option<String>, label: Option<&str>) -> Option<String> {
    match (data, label.filter(|l| !l.is_empty())) {
        (d, None) => d,
        (None, Some(l)) => Some(format!("context=\"{l}\"")),
        (Some(d), Some(l)) => Some(format!("{d},context=\"{l}\"")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rootfs::MountKind;

    #[test]
    fn disabled_lsms_refuse_labels_with_runc_words() {
        let e = check_selinux_label(
            Some("system_u:system_r:container_t:s0"),
            "process.selinuxLabel",
            || false,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "process.selinuxLabel: selinux label is specified in config, but selinux is disabled or not supported"
        );
        assert!(check_selinux_label(Some(""), "process.selinuxLabel", || false).is_ok());
        assert!(check_selinux_label(None, "process.selinuxLabel", || false).is_ok());
        assert!(check_selinux_label(Some("x"), "process.selinuxLabel", || true).is_ok());
        let e = check_apparmor_profile(Some("lab"), || false).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("process.apparmorProfile: apparmor failed to apply profile \"lab\""),
            "{e}"
        );
        assert_eq!(e.errno(), Some(libc::EINVAL));
        assert!(check_apparmor_profile(Some("lab"), || true).is_ok());
        assert!(check_apparmor_profile(Some(""), || false).is_ok());
    }

    #[test]
    fn mount_label_goes_where_runc_puts_it() {
        assert_eq!(
            with_mount_label(
                Some("mode=755".into()),
                Some("system_u:object_r:container_file_t:s0")
            ),
            Some("mode=755,context=\"system_u:object_r:container_file_t:s0\"".into())
        );
        assert_eq!(
            with_mount_label(None, Some("l")),
            Some("context=\"l\"".into())
        );
        assert_eq!(
            with_mount_label(Some("a".into()), Some("")),
            Some("a".into())
        );
        assert_eq!(with_mount_label(None, None), None);
        for k in [
            MountKind::Tmpfs,
            MountKind::Devpts,
            MountKind::Other("overlay".into()),
        ] {
            assert!(mount_takes_label(&k), "{k:?}");
        }
        for k in [
            MountKind::Proc,
            MountKind::Sysfs,
            MountKind::Mqueue,
            MountKind::Bind,
            MountKind::Cgroup2,
        ] {
            assert!(!mount_takes_label(&k), "{k:?}");
        }
        assert_eq!(apparmor_exec_command("husk-lab"), "exec husk-lab");
    }

    /// On a host without any LSM (this build machine) the kernel refuses the write (EINVAL,
    /// as runc sees it), and the error says which file and what was written; with AppArmor
    /// it is the VM lab's job (lab/vm-lsm.sh).
    #[test]
    fn apparmor_write_without_apparmor_is_refused_by_the_kernel() {
        if apparmor_enabled() || selinux_enabled() {
            println!("SKIPPED: this host has an LSM (the lab tests the enabled path)");
            return;
        }
        let procfs = crate::rootfs::trusted_procfs().unwrap();
        let e = apply_apparmor(procfs.as_fd(), "husk-test").unwrap_err();
        assert_eq!(e.errno(), Some(libc::EINVAL), "{e}");
        let text = e.to_string();
        assert!(
            text.contains("write /proc/thread-self/attr/exec (\"exec husk-test\")"),
            "{text}"
        );
    }
}

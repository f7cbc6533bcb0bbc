//! The container's root filesystem: mounts, propagation, `pivot_root` (and the no-pivot path),
//! `/dev`, masked and read-only paths, and the ONE resolver through which any path inside the
//! container root is opened (security.md S3, S8).
//!
//! INTERFACE (used by `process/`; keep these signatures):
//! - [`validate`]: pure checks of `mounts`, `root`, `linux.devices`, `linux.maskedPaths`,
//!   `linux.readonlyPaths`, `linux.rootfsPropagation`; errors name the field
//!   (`mounts[3].options: unknown mount option "foo"`).
//! - [`setup`]: in the container's new mount namespace, before user code: propagation,
//!   every mount in order, default devices and `/dev` symlinks, `linux.devices`, then
//!   `pivot_root` (or `MS_MOVE` + `chroot` with `no_pivot`). Leaves the process in the new `/`.
//! - [`finalize`]: after sysctls are written: read-only paths, masked paths, `root.readonly`.
//! - [`trusted_procfs`]: a private procfs handle for procfs writes (S6).
//!
//! ## What the caller must have done before [`setup`]
//!
//! - run in the container's init process, single-threaded, already in its NEW mount
//!   namespace (and its other new namespaces; uid/gid maps written if it has a user
//!   namespace), as root in its user namespace with `CAP_SYS_ADMIN` and `CAP_MKNOD`
//!   (or `new_userns` set), after joining the container's cgroup (the `cgroup` mount
//!   shows the cgroup the process is in);
//! - `/proc` of that mount namespace must be a procfs (the inherited host one): mounts are
//!   made onto `/proc/self/fd/N`;
//! - the cwd does not matter ([`setup`] leaves it at the new `/`);
//! - with a user namespace: the bind sources opened by the runtime, still root of the host's
//!   user namespace, through this process's `/proc/<pid>/root` once its namespaces are final
//!   ([`MountSources::open_for`]), passed in [`RootfsOptions::mount_sources`]: from inside the
//!   user namespace a source under a root-only directory cannot be looked up (EACCES).
//!
//! Then [`setup`] (or [`setup_with_hook`] to run `createContainer`-style hooks between the
//! mounts and `pivot_root`), hostname and sysctls through [`trusted_procfs`], then
//! [`finalize`], then `chdir` to `process.cwd` (which [`setup`] created), user, capabilities,
//! seccomp and exec. `/dev/console` (security.md S5) is not made here.
//!
//! ## Layout
//!
//! - `options`: mount option parsing (pure); `validate`: config checks (pure);
//! - `resolver`: `Root`, the fd-based path resolver;
//! - `mounts` (+ `cgroup`, `copy`): one function per mount type; `devices`: `/dev`;
//! - `pivot`: propagation, the rootfs self-bind, `pivot_root` / `MS_MOVE`;
//! - `paths`: read-only and masked paths; `procfs`: the trusted procfs handle;
//! - `sources`: bind sources the runtime opens on the host side for a user namespace.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use nix::sys::stat::{fstatat, SFlag};
use oci_spec::runtime::Spec;

mod cgroup;
mod copy;
mod devices;
pub(crate) mod mountinfo;
mod mounts;
mod options;
mod paths;
mod pivot;
mod procfs;
mod resolver;
mod sources;
mod validate;

#[cfg(test)]
mod tests;

use resolver::Root;
pub use sources::MountSources;

pub use options::{
    known_option_names, parse_mount_options, parse_propagation, render_flags, MountKind,
    MountOptions, OptionError,
};

/// Errors of root filesystem preparation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RootfsError {
    /// A config field is invalid.
    #[error("{field}: {msg}")]
    Invalid {
        /// The offending field, e.g. `mounts[3].options`.
        field: String,
        /// What is wrong with it.
        msg: String,
    },
    /// A system call failed; `op` renders it with its arguments, like strace.
    #[error("{op}: {source}")]
    Sys {
        /// The failing call, e.g. `mount("proc", "/proc", "proc", MS_NOSUID, NULL)`.
        op: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The root filesystem is unsafe (e.g. `/proc` is a symlink).
    #[error("{0}")]
    Unsafe(String),
    /// A step of the setup failed; `what` names the config entry (`mounts[3]`,
    /// `linux.maskedPaths[1]`).
    #[error("{what}: {source}")]
    In {
        /// The config entry being applied.
        what: String,
        /// What went wrong.
        #[source]
        source: Box<RootfsError>,
    },
}

impl RootfsError {
    /// The errno behind this error, if any (carried across the parent/child channel).
    pub fn errno(&self) -> Option<i32> {
        match self {
            RootfsError::Sys { source, .. } => source.raw_os_error(),
            RootfsError::In { source, .. } => source.errno(),
            _ => None,
        }
    }

    fn context(self, what: impl Into<String>) -> RootfsError {
        RootfsError::In {
            what: what.into(),
            source: Box::new(self),
        }
    }
}

/// What [`setup`] and [`finalize`] need besides the spec.
#[derive(Debug, Clone, Copy)]
pub struct RootfsOptions<'a> {
    /// The whole config.
    pub spec: &'a Spec,
    /// Absolute host path of the root filesystem (`root.path` resolved against the bundle).
    pub rootfs: &'a Path,
    /// Absolute path of the bundle, for relative bind-mount sources.
    pub bundle: &'a Path,
    /// `--no-pivot`: `MS_MOVE` the rootfs onto `/` and `chroot` instead of `pivot_root`.
    pub no_pivot: bool,
    /// The container has its own user namespace: devices are bind-mounted from the host
    /// instead of created with `mknod`.
    pub new_userns: bool,
    /// The container has its own cgroup namespace (affects `cgroup` mounts).
    pub new_cgroupns: bool,
    /// Bind sources the runtime opened on the host side (a container with a user namespace
    /// cannot look up a source under a root-only directory itself); a bind mount without one
    /// here opens its source by path.
    pub mount_sources: Option<&'a MountSources>,
}

/// Pure validation of every filesystem-related field, before anything is created.
///
/// Relative mount destinations are accepted, taken from the container's `/`, like runc 1.1
/// (which warns): see [`validate_warnings`].
///
/// ```
/// let spec: oci_spec::runtime::Spec = serde_json::from_str(
///     r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
///         "mounts":[{"destination":"/tmp","type":"tmpfs","options":["nosuid","foo"]}]}"#,
/// ).unwrap();
/// let err = husk::rootfs::validate(&spec).unwrap_err();
/// assert_eq!(err.to_string(), r#"mounts[0].options: unknown mount option "foo""#);
/// ```
///
/// # Errors
/// The first invalid field, named.
pub fn validate(spec: &Spec) -> Result<(), RootfsError> {
    validate::validate(spec)
}

/// Things [`validate`] accepts but runc warns about (relative mount destinations), one
/// message per item, for the CLI to log.
///
/// ```
/// let spec: oci_spec::runtime::Spec = serde_json::from_str(
///     r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
///         "mounts":[{"destination":"run","type":"tmpfs"}]}"#,
/// ).unwrap();
/// assert_eq!(husk::rootfs::validate_warnings(&spec).len(), 1);
/// ```
pub fn validate_warnings(spec: &Spec) -> Vec<String> {
    validate::warnings(spec)
}

/// Prepare the root filesystem and switch into it. Runs in the container process, inside its
/// new mount namespace, as (namespaced) root. See the module documentation for what the
/// caller must have done before.
///
/// ```no_run
/// # fn init(spec: &oci_spec::runtime::Spec) -> Result<(), husk::rootfs::RootfsError> {
/// use std::path::Path;
/// use husk::rootfs::{finalize, setup, RootfsOptions};
/// // in the container's init process, in its new mount namespace
/// let opts = RootfsOptions {
///     spec,
///     rootfs: Path::new("/bundle/rootfs"),
///     bundle: Path::new("/bundle"),
///     no_pivot: false,
///     new_userns: false,
///     new_cgroupns: false,
///     mount_sources: None,
/// };
/// setup(&opts)?;
/// // ... hostname, sysctls through husk::rootfs::trusted_procfs() ...
/// finalize(&opts)?;
/// # Ok(()) }
/// ```
///
/// # Errors
/// The failing mount or device, with the system call and errno.
pub fn setup(opts: &RootfsOptions<'_>) -> Result<(), RootfsError> {
    setup_with_hook(opts, || Ok(()))
}

/// [`setup`], calling `before_pivot` after every mount and device is in place and before
/// `pivot_root` (the moment of runc's prestart/createRuntime sync and of `createContainer`
/// hooks), with the old root still visible.
///
/// # Errors
/// As [`setup`], or the hook's error.
pub fn setup_with_hook<F>(opts: &RootfsOptions<'_>, before_pivot: F) -> Result<(), RootfsError>
where
    F: FnOnce() -> Result<(), RootfsError>,
{
    setup_with_hooks(opts, || Ok(()), before_pivot)
}

/// [`setup_with_hook`], calling also `before_cgroup` before each `cgroup` mount: it reads
/// `/proc/self/cgroup`, so the caller must be in the container's cgroups by then, while every
/// mount before it may be made earlier (init does its first mounts while the runtime still
/// moves it into its cgroups, which on cgroup v1 waits for an RCU grace period).
///
/// # Errors
/// As [`setup`], or a hook's error.
pub fn setup_with_hooks<C, F>(
    opts: &RootfsOptions<'_>,
    mut before_cgroup: C,
    before_pivot: F,
) -> Result<(), RootfsError>
where
    C: FnMut() -> Result<(), RootfsError>,
    F: FnOnce() -> Result<(), RootfsError>,
{
    let spec = opts.spec;
    validate(spec)?;
    let propagation = root_propagation(spec)?;
    if opts.no_pivot && propagation.is_some_and(|p| p.contains(MsFlags::MS_PRIVATE)) {
        // runc's specconv refuses this combination, with these words.
        return Err(RootfsError::Invalid {
            field: "linux.rootfsPropagation".into(),
            msg: "rootfsPropagation of [r]private is not safe without pivot_root".into(),
        });
    }
    require_proc()?;
    let rootfs = std::fs::canonicalize(opts.rootfs).map_err(|e| RootfsError::Sys {
        op: format!("realpath({:?})", opts.rootfs),
        source: e,
    })?;
    refuse_symlinked_dirs(&rootfs)?;
    pivot::prepare_root(&rootfs, propagation)?;
    let root = Root::open(&rootfs)?;
    let ctx = mounts::Ctx {
        root: &root,
        opts,
        rootfs: &rootfs,
    };
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let parsed = validate::parse_entry(i, m)?;
        if parsed.kind == MountKind::Cgroup {
            before_cgroup()?;
        }
        let opened = opts.mount_sources.and_then(|s| s.get(i));
        mounts::mount_entry(&ctx, m, &parsed, opened)
            .map_err(|e| e.context(format!("mounts[{i}]")))?;
    }
    let setup_dev = devices::needs_setup_dev(spec);
    if setup_dev {
        devices::setup_dev(&root, spec, opts.new_userns).map_err(|e| e.context("/dev"))?;
    }
    if let Some(cwd) = spec.process().as_ref().map(|p| p.cwd()) {
        // runc creates the working directory too; the caller chdirs into it after finalize.
        root.mkdir_all(cwd, 0o755)
            .map_err(|e| e.context("process.cwd"))?;
    }
    before_pivot()?;
    if opts.no_pivot {
        pivot::move_root(&root)?;
    } else {
        pivot::pivot(&root)?;
    }
    if setup_dev {
        devices::reopen_dev_null(&Root::open(Path::new("/"))?)
            .map_err(|e| e.context("/dev/null"))?;
    }
    if let Some(p) = propagation {
        pivot::set_root_propagation(p)?;
    }
    Ok(())
}

fn root_propagation(spec: &Spec) -> Result<Option<MsFlags>, RootfsError> {
    let name = spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().clone())
        .unwrap_or_default();
    parse_propagation(&name).map_err(|msg| RootfsError::Invalid {
        field: "linux.rootfsPropagation".into(),
        msg,
    })
}

/// Mount targets are `/proc/self/fd/N`: that `/proc` must be a real procfs.
fn require_proc() -> Result<(), RootfsError> {
    let fd = nix::fcntl::open(
        "/proc",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| resolver::sys_err("open(\"/proc\", O_PATH|O_DIRECTORY)".into(), e))?;
    if !procfs::is_proc_root(fd.as_fd()) {
        return Err(RootfsError::Unsafe(
            "/proc is not a procfs: husk mounts through /proc/self/fd".into(),
        ));
    }
    Ok(())
}

/// security.md S6: a rootfs whose `/proc`, `/sys` or `/dev` is a symlink is refused (even
/// though the resolver would keep such a link inside the root, writes meant for procfs or
/// devices must not be redirected to whatever the image chose).
fn refuse_symlinked_dirs(rootfs: &Path) -> Result<(), RootfsError> {
    let root = Root::open(rootfs)?;
    for name in ["proc", "sys", "dev"] {
        if let Ok(st) = fstatat(root.fd(), name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
            if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK {
                return Err(RootfsError::Unsafe(format!(
                    "/{name} in the root filesystem {rootfs:?} is a symlink: refusing it"
                )));
            }
        }
    }
    Ok(())
}

/// Read-only paths, masked paths and `root.readonly`, applied after [`setup`] (and after the
/// sysctls are written, since `/proc/sys` is usually read-only). Runs in the container
/// process after [`setup`] returned (its `/` is the container's root). Uses the new mount API
/// (Linux 5.12+); on older kernels it mounts through `/proc/self/fd/N`, and then the
/// container's `/proc` must be a procfs (the `proc` mount of the config).
///
/// # Errors
/// The failing path, with the system call and errno.
pub fn finalize(opts: &RootfsOptions<'_>) -> Result<(), RootfsError> {
    let spec = opts.spec;
    let linux = spec.linux().as_ref();
    let readonly = linux
        .and_then(|l| l.readonly_paths().clone())
        .unwrap_or_default();
    let masked = linux
        .and_then(|l| l.masked_paths().clone())
        .unwrap_or_default();
    let dev_ro = spec.mounts().iter().flatten().any(|m| {
        let o = m.options().clone().unwrap_or_default();
        validate::clean_in_root(m.destination()) == Path::new("/dev")
            && parse_mount_options(m.typ().as_deref(), &o)
                .is_ok_and(|o| o.kind == MountKind::Tmpfs && o.flags.contains(MsFlags::MS_RDONLY))
    });
    let root_ro = spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false);
    if readonly.is_empty() && masked.is_empty() && !dev_ro && !root_ro {
        return Ok(());
    }
    let root = Root::open(Path::new("/"))?;
    for (i, p) in readonly.iter().enumerate() {
        paths::readonly_path(&root, Path::new(p))
            .map_err(|e| e.context(format!("linux.readonlyPaths[{i}]")))?;
    }
    let mut null = None;
    let label = linux
        .and_then(|l| l.mount_label().as_deref())
        .filter(|l| !l.is_empty());
    for (i, p) in masked.iter().enumerate() {
        paths::mask_path(&root, &mut null, Path::new(p), label)
            .map_err(|e| label_hint(label, e))
            .map_err(|e| e.context(format!("linux.maskedPaths[{i}]")))?;
    }
    if dev_ro {
        paths::remount_readonly(&root, Path::new("/dev")).map_err(|e| e.context("/dev"))?;
    }
    if root_ro {
        paths::remount_readonly(&root, Path::new("/")).map_err(|e| e.context("root.readonly"))?;
    }
    Ok(())
}

/// Say so when a mount labelled with `linux.mountLabel` (`label`) fails because the kernel has
/// no SELinux: runc 1.1 fails the same mount, with only the kernel's EINVAL. Used for the
/// config's mounts and for the tmpfs of masked directories, which carries the label too.
pub(crate) fn label_hint(label: Option<&str>, e: RootfsError) -> RootfsError {
    match label {
        Some(l) if e.errno() == Some(libc::EINVAL) && !crate::security::lsm::selinux_enabled() => e
            .context(format!(
                "linux.mountLabel {l:?}: SELinux is disabled or not supported, and the kernel refuses the context= mount option"
            )),
        _ => e,
    }
}

/// A handle on a private, trusted procfs (fresh `fsopen("proc")`, or an equivalent checked with
/// `fstatfs`), for writes to `/proc/sys`, `/proc/self/attr`, `oom_score_adj` (security.md S6).
///
/// Open files beneath it with [`open_in_procfs`]. The handle is close-on-exec.
///
/// ```no_run
/// use std::io::Write;
/// let proc = husk::rootfs::trusted_procfs()?;
/// let f = husk::rootfs::open_in_procfs(&proc, "sys/net/ipv4/ip_forward", nix::fcntl::OFlag::O_WRONLY)?;
/// std::fs::File::from(f).write_all(b"1")?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// When no trusted procfs can be obtained.
pub fn trusted_procfs() -> Result<OwnedFd, RootfsError> {
    procfs::trusted_procfs()
}

/// Open `rel` (relative, e.g. `sys/kernel/domainname` or `self/attr/exec`) beneath a handle
/// from [`trusted_procfs`], refusing magic links, mount crossings and escapes.
///
/// # Errors
/// The failing `openat2`/`openat`.
pub fn open_in_procfs(
    proc: &impl AsFd,
    rel: impl AsRef<Path>,
    flags: OFlag,
) -> Result<OwnedFd, RootfsError> {
    let proc: BorrowedFd<'_> = proc.as_fd();
    procfs::open_in(proc, rel.as_ref(), flags)
}

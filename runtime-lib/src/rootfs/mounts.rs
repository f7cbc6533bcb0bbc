//! Mounting `mounts[]` entries into the root filesystem, each onto a descriptor the resolver
//! opened (security.md S3).
//!
//! The target of every `mount(2)` is `/proc/self/fd/N` for a descriptor from [`Root`]: the
//! kernel follows that magic link to exactly the object the resolver found, so a symlink
//! swapped into the path after resolution cannot redirect the mount (CVE-2021-30465). The
//! `/proc` used is the one of the mount namespace before `pivot_root` (the host's, which the
//! container cannot touch) or, in [`super::finalize`], the container's freshly mounted one.
//!
//! A mount does not change the descriptor it was made on (it still names the covered
//! directory), so follow-up operations on the new mount (remount read-only, propagation)
//! resolve the destination again and check that they found the new mount.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use nix::sys::stat::{fstat, FileStat, SFlag};
use nix::sys::statfs::{fstatfs, PROC_SUPER_MAGIC, TMPFS_MAGIC};
use nix::sys::statvfs::{fstatvfs, FsFlags};
use oci_spec::runtime::Mount;

use super::options::{render_flags, MountKind, MountOptions};
use super::resolver::{sys_err, Root};
use super::validate::{check_proc_destination, clean_in_root};
use super::{cgroup, copy, RootfsError, RootfsOptions};
use crate::security::lsm;

/// The `/proc/self/fd/N` path of a descriptor.
pub(crate) fn fd_path(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

fn quoted(s: Option<&str>) -> String {
    s.map_or_else(|| "NULL".to_string(), |s| format!("{s:?}"))
}

/// `mount(source, <target fd>, fstype, flags, data)`; errors render the call like strace with
/// the container path `shown` in place of `/proc/self/fd/N`.
pub(crate) fn mount_at(
    source: Option<&Path>,
    target: BorrowedFd<'_>,
    shown: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<(), RootfsError> {
    mount_shown(
        source,
        source.map(|s| s.to_string_lossy().into_owned()),
        target,
        shown,
        fstype,
        flags,
        data,
    )
}

/// [`mount_at`] with the source shown differently than passed (a `/proc/self/fd/N` source).
pub(crate) fn mount_shown(
    source: Option<&Path>,
    source_shown: Option<String>,
    target: BorrowedFd<'_>,
    shown: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<(), RootfsError> {
    nix::mount::mount(source, &fd_path(target), fstype, flags, data).map_err(|e| {
        sys_err(
            format!(
                "mount({}, {:?}, {}, {}, {})",
                quoted(source_shown.as_deref()),
                shown,
                quoted(fstype),
                render_flags(flags),
                quoted(data)
            ),
            e,
        )
    })
}

/// The per-mount flags a mount already has that an unprivileged (user namespace) remount
/// must keep: the kernel locks them and refuses a remount that would drop them.
pub(crate) fn locked_flags(fd: BorrowedFd<'_>) -> MsFlags {
    let Ok(st) = fstatvfs(fd) else {
        return MsFlags::empty();
    };
    let f = st.flags();
    // ST_RELATIME is the kernel's 0x1000; musl's headers (so nix on musl) do not name it.
    let st_relatime = FsFlags::from_bits_retain(0x1000);
    let mut out = MsFlags::empty();
    for (s, m) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (st_relatime, MsFlags::MS_RELATIME),
    ] {
        if f.contains(s) {
            out |= m;
        }
    }
    // (Strict atime has no bit; a remount without atime flags keeps the current atime mode.)
    out
}

/// Change the per-mount flags of the mount at `target` (`MS_REMOUNT` is added). In a user
/// namespace a remount that drops a locked flag fails with EPERM: retry keeping them, as runc.
pub(crate) fn remount(
    target: BorrowedFd<'_>,
    shown: &Path,
    flags: MsFlags,
) -> Result<(), RootfsError> {
    let flags = flags | MsFlags::MS_REMOUNT;
    match mount_at(None, target, shown, None, flags, None) {
        Err(e) if e.errno() == Some(libc::EPERM) => {
            let locked = locked_flags(target);
            if flags.contains(locked) {
                return Err(e);
            }
            mount_at(None, target, shown, None, flags | locked, None)
        }
        r => r,
    }
}

/// Apply propagation changes (`MS_PRIVATE|MS_REC`, ...) in order to the mount at `target`.
pub(crate) fn propagate(
    target: BorrowedFd<'_>,
    shown: &Path,
    list: &[MsFlags],
) -> Result<(), RootfsError> {
    for &p in list {
        mount_at(None, target, shown, None, p, None)?;
    }
    Ok(())
}

/// State shared by the mounts of one [`super::setup`].
pub(crate) struct Ctx<'a> {
    pub root: &'a Root,
    pub opts: &'a RootfsOptions<'a>,
    /// Canonical host path of the rootfs.
    pub rootfs: &'a Path,
}

impl Ctx<'_> {
    /// Where the resolver really went, as a container path (`/proc/sys` for a symlink
    /// `/foo` -> `/proc/sys`), for the checks that must look at the resolved target.
    pub(crate) fn resolved(
        &self,
        fd: BorrowedFd<'_>,
        shown: &Path,
    ) -> Result<PathBuf, RootfsError> {
        let link = nix::fcntl::readlink(&fd_path(fd))
            .map_err(|e| sys_err(format!("readlink({:?})", fd_path(fd)), e))?;
        let link = PathBuf::from(link);
        match link.strip_prefix(self.rootfs) {
            Ok(rel) => Ok(Path::new("/").join(rel)),
            Err(_) => Err(RootfsError::Unsafe(format!(
                "mount destination {shown:?} resolved to {link:?}, outside the root {:?}",
                self.rootfs
            ))),
        }
    }

    /// `linux.mountLabel`, if set.
    pub(crate) fn mount_label(&self) -> Option<&str> {
        self.opts
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.mount_label().as_deref())
            .filter(|l| !l.is_empty())
    }

    /// The mount data for a mount of `kind`, with `context="<linux.mountLabel>"` where runc
    /// puts it (security::lsm).
    pub(crate) fn labelled(&self, kind: &MountKind, data: Option<String>) -> Option<String> {
        if lsm::mount_takes_label(kind) {
            lsm::with_mount_label(data, self.mount_label())
        } else {
            data
        }
    }

    /// Say so when a labelled mount of `kind` fails because the kernel has no SELinux.
    pub(crate) fn label_hint(&self, kind: &MountKind, e: RootfsError) -> RootfsError {
        if lsm::mount_takes_label(kind) {
            super::label_hint(self.mount_label(), e)
        } else {
            e
        }
    }

    /// The new mount at `dest`, resolved again after mounting (see the module comment).
    fn reopen(&self, dest: &Path) -> Result<OwnedFd, RootfsError> {
        self.root.open_path(dest, OFlag::O_PATH)
    }
}

fn same_file(a: &FileStat, b: &FileStat) -> bool {
    (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)
}

/// The host path of a bind mount's source: relative ones are taken from the bundle.
pub(crate) fn bind_source(m: &Mount, bundle: &Path) -> PathBuf {
    let src = m.source().clone().unwrap_or_default();
    if src.is_relative() {
        bundle.join(src)
    } else {
        src
    }
}

/// Mount one `mounts[]` entry. `opened`: its bind source, already opened by the runtime on the
/// host side ([`super::MountSources`]).
pub(crate) fn mount_entry(
    ctx: &Ctx<'_>,
    m: &Mount,
    o: &MountOptions,
    opened: Option<BorrowedFd<'_>>,
) -> Result<(), RootfsError> {
    let dest = clean_in_root(m.destination());
    match &o.kind {
        MountKind::Bind => mount_bind(ctx, &bind_source(m, ctx.opts.bundle), &dest, o, opened),
        MountKind::Tmpfs => mount_tmpfs(ctx, m, &dest, o),
        MountKind::Cgroup => cgroup::mount_cgroup(ctx, &dest, o),
        MountKind::Sysfs => match mount_fs(ctx, m, &dest, o) {
            // Without its own network namespace a user namespace may not mount sysfs: bind
            // the host's, as runc does.
            Err(e) if e.errno() == Some(libc::EPERM) && ctx.opts.new_userns => {
                let mut b = o.clone();
                b.kind = MountKind::Bind;
                b.flags |= MsFlags::MS_BIND | MsFlags::MS_REC;
                b.data.clear();
                mount_bind(ctx, Path::new("/sys"), &dest, &b, None)
            }
            r => r,
        },
        _ => mount_fs(ctx, m, &dest, o),
    }
}

/// A new filesystem instance (proc, sysfs, devpts, mqueue, cgroup2, overlay, ...).
pub(crate) fn mount_fs(
    ctx: &Ctx<'_>,
    m: &Mount,
    dest: &Path,
    o: &MountOptions,
) -> Result<(), RootfsError> {
    let fstype = m.typ().clone().unwrap_or_default();
    let source = m.source().clone().unwrap_or_else(|| PathBuf::from(&fstype));
    let target = ctx.root.mkdir_all(dest, 0o755)?;
    let resolved = ctx.resolved(target.as_fd(), dest)?;
    check_proc_destination(&resolved, &o.kind).map_err(RootfsError::Unsafe)?;
    let data = ctx.labelled(&o.kind, o.data_string());
    mount_at(
        Some(&source),
        target.as_fd(),
        dest,
        Some(&fstype),
        o.flags,
        data.as_deref(),
    )
    .map_err(|e| ctx.label_hint(&o.kind, e))?;
    if o.kind == MountKind::Mqueue {
        label_mqueue(ctx, dest)?;
    }
    if !o.propagation.is_empty() {
        propagate(ctx.reopen(dest)?.as_fd(), dest, &o.propagation)?;
    }
    Ok(())
}

/// mqueue takes no `context=`: runc labels its root as a file instead, when SELinux is
/// enabled (go-selinux's `SetFileLabel` does nothing otherwise).
fn label_mqueue(ctx: &Ctx<'_>, dest: &Path) -> Result<(), RootfsError> {
    let Some(label) = ctx.mount_label() else {
        return Ok(());
    };
    if !lsm::selinux_enabled() {
        return Ok(());
    }
    let top = ctx
        .root
        .open_path(dest, OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
    crate::sys::xattr::fsetxattr(top.as_fd(), c"security.selinux", label.as_bytes()).map_err(|e| {
        sys_err(
            format!("fsetxattr({dest:?}, \"security.selinux\", {label:?})"),
            e,
        )
    })
}

/// A bind mount of the host path `source` (trusted: it comes from the config) at `dest`;
/// `opened` is that source already opened by the runtime (a container with a user namespace,
/// [`super::MountSources`]), else it is opened here.
pub(crate) fn mount_bind(
    ctx: &Ctx<'_>,
    source: &Path,
    dest: &Path,
    o: &MountOptions,
    opened: Option<BorrowedFd<'_>>,
) -> Result<(), RootfsError> {
    // The source is a host path from the trusted config, but it may sit in a volume another
    // container can change: open it once, and check and mount that very object.
    let own;
    let src = match opened {
        Some(fd) => fd,
        None => {
            own = open_bind_source(ctx, source)?;
            own.as_fd()
        }
    };
    let st = fstat(src).map_err(|e| sys_err(format!("fstat({source:?})"), e))?;
    let is_dir = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR;
    let target = if is_dir {
        ctx.root.mkdir_all(dest, 0o755)?
    } else {
        ctx.root.create_file(dest, 0o755)?
    };
    let resolved = ctx.resolved(target.as_fd(), dest)?;
    check_proc_destination(&resolved, &o.kind).map_err(RootfsError::Unsafe)?;
    if resolved == Path::new("/proc") {
        // Only a procfs may cover /proc (runc's checkProcMount).
        let fs = fstatfs(src).map_err(|e| sys_err(format!("fstatfs({source:?})"), e))?;
        if fs.filesystem_type() != PROC_SUPER_MAGIC {
            return Err(RootfsError::Unsafe(format!(
                "{source:?} cannot be mounted on /proc because it is not of type proc"
            )));
        }
    }
    let shown = Some(source.to_string_lossy().into_owned());
    let src_path = fd_path(src);
    mount_shown(
        Some(&src_path),
        shown,
        target.as_fd(),
        dest,
        None,
        o.flags,
        None,
    )?;
    let top = ctx.reopen(dest)?;
    let top_st = fstat(top.as_fd()).map_err(|e| sys_err(format!("fstat({dest:?})"), e))?;
    if !same_file(&top_st, &st) {
        return Err(RootfsError::Unsafe(format!(
            "{dest:?} changed while {source:?} was bind-mounted on it"
        )));
    }
    // A bind mount ignores every flag but MS_REC: the others need a remount (runc does the
    // same, and only when there is something to change).
    let extra = o.flags - (MsFlags::MS_REC | MsFlags::MS_REMOUNT | MsFlags::MS_BIND);
    if !extra.is_empty() {
        remount(top.as_fd(), dest, o.flags)?;
    }
    propagate(top.as_fd(), dest, &o.propagation)?;
    if o.attr_set | o.attr_clr != 0 {
        crate::sys::mount::mount_setattr(top.as_fd(), true, o.attr_set, o.attr_clr, 0).map_err(|e| {
            sys_err(
                format!(
                    "mount_setattr({dest:?}, \"\", AT_EMPTY_PATH|AT_RECURSIVE, {{attr_set={:#x}, attr_clr={:#x}}})",
                    o.attr_set, o.attr_clr
                ),
                e,
            )
        })?;
    }
    Ok(())
}

/// Open a bind source by path, in this process. A source inside the rootfs (the image,
/// untrusted) is resolved inside it, so that an image symlink cannot lead root to a host file
/// (security.md: no container-controlled symlink is followed on the host side); any other
/// source is the config's, a host path.
fn open_bind_source(ctx: &Ctx<'_>, source: &Path) -> Result<OwnedFd, RootfsError> {
    let shown = || format!("open({source:?}, O_PATH|O_CLOEXEC)");
    if let Ok(rel) = clean_in_root(source).strip_prefix(ctx.rootfs) {
        return ctx
            .root
            .try_open(rel, OFlag::O_PATH)
            .map_err(|e| sys_err(shown(), e));
    }
    nix::fcntl::open(
        source,
        OFlag::O_PATH | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| sys_err(shown(), e))
}

/// tmpfs, with `tmpcopyup`, and runc's habit of giving the new tmpfs the mode of the
/// directory it covers (unless `mode=` says otherwise).
fn mount_tmpfs(ctx: &Ctx<'_>, m: &Mount, dest: &Path, o: &MountOptions) -> Result<(), RootfsError> {
    let existing = match ctx.root.try_open(dest, OFlag::O_PATH | OFlag::O_DIRECTORY) {
        Ok(fd) => Some(fstat(fd.as_fd()).map_err(|e| sys_err(format!("fstat({dest:?})"), e))?),
        Err(Errno::ENOENT) => None,
        Err(e) => {
            return Err(sys_err(
                format!("openat2(<root>, {dest:?}, O_PATH|O_DIRECTORY)"),
                e,
            ))
        }
    };
    let target = ctx.root.mkdir_all(dest, 0o755)?;
    let resolved = ctx.resolved(target.as_fd(), dest)?;
    check_proc_destination(&resolved, &o.kind).map_err(RootfsError::Unsafe)?;
    // The content to copy up, read through a descriptor opened before the tmpfs covers it.
    let lower = if o.tmpcopyup {
        Some(
            ctx.root
                .open_path(dest, OFlag::O_RDONLY | OFlag::O_DIRECTORY)?,
        )
    } else {
        None
    };
    let source = m.source().clone().unwrap_or_else(|| PathBuf::from("tmpfs"));
    let data = ctx.labelled(&o.kind, o.data_string());
    // Mounted writable first: /dev gets device nodes and the mode is set below; read-only
    // comes after (for /dev in finalize), like runc.
    let flags = o.flags - MsFlags::MS_RDONLY;
    mount_at(
        Some(&source),
        target.as_fd(),
        dest,
        Some("tmpfs"),
        flags,
        data.as_deref(),
    )
    .map_err(|e| ctx.label_hint(&o.kind, e))?;
    let top = ctx
        .root
        .open_path(dest, OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
    let fs = fstatfs(top.as_fd()).map_err(|e| sys_err(format!("fstatfs({dest:?})"), e))?;
    if fs.filesystem_type() != TMPFS_MAGIC {
        return Err(RootfsError::Unsafe(format!(
            "{dest:?} is not the tmpfs just mounted on it"
        )));
    }
    if let Some(lower) = lower {
        copy::copy_tree(lower.as_fd(), top.as_fd(), dest)?;
    }
    if let Some(st) = existing {
        if !o.data.iter().any(|d| d.starts_with("mode=")) {
            let mode = nix::sys::stat::Mode::from_bits_truncate(st.st_mode & 0o7777);
            nix::sys::stat::fchmod(top.as_fd(), mode)
                .map_err(|e| sys_err(format!("fchmod({dest:?}, {:#o})", st.st_mode & 0o7777), e))?;
        }
    }
    propagate(top.as_fd(), dest, &o.propagation)?;
    if o.flags.contains(MsFlags::MS_RDONLY) && dest != Path::new("/dev") {
        remount(top.as_fd(), dest, o.flags | MsFlags::MS_BIND)?;
    }
    Ok(())
}

//! `/dev`: the default devices, `linux.devices`, `/dev/ptmx` and the standard symlinks, all
//! created relative to descriptors from the root handle (security.md S8: an image whose
//! `/dev` or `/dev/x` is a symlink to a host directory must not make husk create anything
//! outside the root).

use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::mount::MsFlags;
use nix::sys::stat::{fstat, makedev, mknodat, Mode, SFlag};
use nix::unistd::{fchownat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};
use oci_spec::runtime::{LinuxDeviceType, Spec};

use super::mounts::{fd_path, mount_at};
use super::options::MountKind;
use super::resolver::{sys_err, Root};
use super::validate::clean_in_root;
use super::RootfsError;

/// A device node to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Device {
    pub path: PathBuf,
    pub kind: SFlag,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// The devices every container gets (runc's list), besides `linux.devices`.
const DEFAULTS: &[(&str, u64, u64)] = &[
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

/// runc sets `/dev` up unless the config bind-mounts something over it.
pub(crate) fn needs_setup_dev(spec: &Spec) -> bool {
    !spec.mounts().iter().flatten().any(|m| {
        let opts = m.options().clone().unwrap_or_default();
        let bind = super::options::parse_mount_options(m.typ().as_deref(), &opts)
            .is_ok_and(|o| o.kind == MountKind::Bind);
        bind && clean_in_root(m.destination()) == Path::new("/dev")
    })
}

/// Pure: `linux.devices`, then the defaults whose path the config did not take.
pub(crate) fn device_list(spec: &Spec) -> Vec<Device> {
    let mut out: Vec<Device> = Vec::new();
    for d in spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().clone())
        .unwrap_or_default()
    {
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
            LinuxDeviceType::B => SFlag::S_IFBLK,
            LinuxDeviceType::P => SFlag::S_IFIFO,
            LinuxDeviceType::A => continue, // refused by validate
        };
        out.push(Device {
            path: clean_in_root(d.path()),
            kind,
            major: d.major().max(0) as u64,
            minor: d.minor().max(0) as u64,
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        });
    }
    for &(p, major, minor) in DEFAULTS {
        if !out.iter().any(|d| d.path == Path::new(p)) {
            out.push(Device {
                path: p.into(),
                kind: SFlag::S_IFCHR,
                major,
                minor,
                mode: 0o666,
                uid: 0,
                gid: 0,
            });
        }
    }
    out
}

fn is_device(st: &nix::sys::stat::FileStat, d: &Device) -> bool {
    let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
    kind == d.kind && (d.kind == SFlag::S_IFIFO || st.st_rdev == makedev(d.major, d.minor))
}

/// Create (or, in a user namespace, bind from the host) every device, then `/dev/ptmx` and
/// the standard symlinks.
pub(crate) fn setup_dev(root: &Root, spec: &Spec, bind: bool) -> Result<(), RootfsError> {
    for d in device_list(spec) {
        create_device(root, &d, bind)?;
    }
    let dev = root.mkdir_all(Path::new("/dev"), 0o755)?;
    // /dev/ptmx -> pts/ptmx: the ptmx of the container's own devpts instance.
    match unlinkat(dev.as_fd(), "ptmx", UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(sys_err("unlinkat(</dev>, \"ptmx\", 0)".into(), e)),
    }
    symlink(dev.as_fd(), "pts/ptmx", "ptmx", true)?;
    let mut links = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
    ];
    // kcore exists only with CONFIG_PROC_KCORE; looked up in the host's /proc (still ours).
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "core"));
    }
    for (target, name) in links {
        symlink(dev.as_fd(), target, name, false)?;
    }
    Ok(())
}

fn symlink(dir: BorrowedFd<'_>, target: &str, name: &str, must: bool) -> Result<(), RootfsError> {
    match symlinkat(target, dir, name) {
        Ok(()) => Ok(()),
        // runc leaves an existing entry alone
        Err(Errno::EEXIST) if !must => Ok(()),
        Err(e) => Err(sys_err(
            format!("symlinkat({target:?}, </dev>, {name:?})"),
            e,
        )),
    }
}

fn create_device(root: &Root, d: &Device, bind: bool) -> Result<(), RootfsError> {
    let (parent, name) = root.open_parent(&d.path)?;
    let name = name.as_os_str();
    if bind {
        return bind_device(&parent, name, d);
    }
    let perm = Mode::from_bits_truncate(d.mode);
    let mut made = mknodat(
        parent.as_fd(),
        name,
        d.kind,
        perm,
        makedev(d.major, d.minor),
    );
    if made == Err(Errno::EEXIST) {
        // Something is there already (an image's /dev when /dev is not a tmpfs). Keep a
        // matching node; replace anything else that is not a directory, so a symlink planted
        // at /dev/null is not left for later users of the path.
        let node = open_nofollow(&parent, name)?;
        let st = fstat(node.as_fd()).map_err(|e| sys_err(format!("fstat({:?})", d.path), e))?;
        if is_device(&st, d) {
            return finish(&node, d);
        }
        unlinkat(parent.as_fd(), name, UnlinkatFlags::NoRemoveDir)
            .map_err(|e| sys_err(format!("unlinkat({:?})", d.path), e))?;
        made = mknodat(
            parent.as_fd(),
            name,
            d.kind,
            perm,
            makedev(d.major, d.minor),
        );
    }
    match made {
        Ok(()) => {}
        // Not allowed to create devices (a user namespace the caller did not tell us about,
        // or a device cgroup): bind the host's node instead, like runc.
        Err(Errno::EPERM) => return bind_device(&parent, name, d),
        Err(e) => {
            return Err(sys_err(
                format!(
                    "mknodat({:?}, {:#o}, makedev({}, {}))",
                    d.path,
                    d.kind.bits() | d.mode,
                    d.major,
                    d.minor
                ),
                e,
            ))
        }
    }
    let node = open_nofollow(&parent, name)?;
    let st = fstat(node.as_fd()).map_err(|e| sys_err(format!("fstat({:?})", d.path), e))?;
    if !is_device(&st, d) {
        return Err(RootfsError::Unsafe(format!(
            "{:?} was replaced while husk created it",
            d.path
        )));
    }
    finish(&node, d)
}

fn open_nofollow(parent: &OwnedFd, name: &OsStr) -> Result<OwnedFd, RootfsError> {
    openat(
        parent.as_fd(),
        name,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| sys_err(format!("openat(<dir>, {name:?}, O_PATH|O_NOFOLLOW)"), e))
}

/// Exact mode (mknod is subject to the umask) and owner, on the verified node.
fn finish(node: &OwnedFd, d: &Device) -> Result<(), RootfsError> {
    // chmod through the descriptor's /proc/self/fd path: fchmod refuses O_PATH descriptors
    // and fchmodat cannot avoid following a symlink on older kernels.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        fd_path(node.as_fd()),
        std::fs::Permissions::from_mode(d.mode),
    )
    .map_err(|e| RootfsError::Sys {
        op: format!("chmod({:?}, {:#o})", d.path, d.mode),
        source: e,
    })?;
    fchownat(
        node.as_fd(),
        "",
        Some(Uid::from_raw(d.uid)),
        Some(Gid::from_raw(d.gid)),
        AtFlags::AT_EMPTY_PATH,
    )
    .map_err(|e| sys_err(format!("chown({:?}, {}, {})", d.path, d.uid, d.gid), e))
}

/// Bind the host's node at the same path onto an empty file in the container.
fn bind_device(parent: &OwnedFd, name: &OsStr, d: &Device) -> Result<(), RootfsError> {
    match openat(
        parent.as_fd(),
        name,
        // O_EXCL: never open what is there (a fifo would block, a device would be opened)
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o644),
    ) {
        Ok(_) => {}
        // an existing node or file: bind over it (a symlink is refused below)
        Err(Errno::EEXIST) => {}
        Err(e) => {
            return Err(sys_err(
                format!("openat(<dir>, {name:?}, O_CREAT|O_WRONLY|O_NOFOLLOW)"),
                e,
            ))
        }
    }
    let target = open_nofollow(parent, name)?;
    let st = fstat(target.as_fd()).map_err(|e| sys_err(format!("fstat({:?})", d.path), e))?;
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK {
        return Err(RootfsError::Unsafe(format!("{:?} is a symlink", d.path)));
    }
    // The host path of the device is the same as in the container (the host is trusted).
    mount_at(
        Some(&d.path),
        target.as_fd(),
        &d.path,
        None,
        MsFlags::MS_BIND,
        None,
    )
}

/// After the switch into the new root: stdio descriptors that are the host's `/dev/null` are
/// reopened on the container's (runc's `reOpenDevNull`). An open file of the host's node
/// would let the container `chmod`/`chown` the host's `/dev/null` through `/proc/self/fd/N`.
pub(crate) fn reopen_dev_null(root: &Root) -> Result<(), RootfsError> {
    let null = root.open_path(Path::new("/dev/null"), OFlag::O_RDWR | OFlag::O_NOFOLLOW)?;
    let nst = fstat(null.as_fd()).map_err(|e| sys_err("fstat(\"/dev/null\")".into(), e))?;
    let is_null = |st: &nix::sys::stat::FileStat| {
        SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFCHR
            && st.st_rdev == makedev(1, 3)
    };
    if !is_null(&nst) {
        return Err(RootfsError::Unsafe(
            "/dev/null in the container is not the null device (char 1:3)".into(),
        ));
    }
    for n in 0..3 {
        let st = match n {
            0 => fstat(std::io::stdin()),
            1 => fstat(std::io::stdout()),
            _ => fstat(std::io::stderr()),
        };
        let Ok(st) = st else { continue };
        if is_null(&st) && (st.st_dev, st.st_ino) != (nst.st_dev, nst.st_ino) {
            let r = match n {
                0 => nix::unistd::dup2_stdin(&null),
                1 => nix::unistd::dup2_stdout(&null),
                _ => nix::unistd::dup2_stderr(&null),
            };
            r.map_err(|e| sys_err(format!("dup2(</dev/null>, {n})"), e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_list_adds_defaults_after_config_devices() {
        let spec: Spec = serde_json::from_str(
            r#"{"ociVersion":"1.0.2","root":{"path":"r"},"linux":{"devices":[
                {"path":"/dev/fuse","type":"c","major":10,"minor":229,"fileMode":8630,"uid":1,"gid":2},
                {"path":"/dev/null","type":"c","major":1,"minor":3,"fileMode":384},
                {"path":"/dev/fifo","type":"p"}]}}"#,
        )
        .unwrap();
        let l = device_list(&spec);
        assert_eq!(l.len(), 3 + 5);
        assert_eq!(l[0].path, PathBuf::from("/dev/fuse"));
        assert_eq!(l[0].mode, 0o666); // 8630 = 0o20666: the type bits are dropped
        assert_eq!(
            (l[0].uid, l[0].gid, l[0].major, l[0].minor),
            (1, 2, 10, 229)
        );
        assert_eq!(l[1].mode, 0o600);
        assert_eq!(l[2].kind, SFlag::S_IFIFO);
        assert_eq!(
            l.iter()
                .filter(|d| d.path == Path::new("/dev/null"))
                .count(),
            1
        );
        assert!(l
            .iter()
            .any(|d| d.path == Path::new("/dev/tty") && d.major == 5));
    }

    #[test]
    fn dev_is_set_up_unless_bind_mounted() {
        let with = |m: &str| -> Spec {
            serde_json::from_str(&format!(
                r#"{{"ociVersion":"1.0.2","root":{{"path":"r"}},"mounts":[{m}]}}"#
            ))
            .unwrap()
        };
        assert!(needs_setup_dev(&with(
            r#"{"destination":"/dev","type":"tmpfs"}"#
        )));
        assert!(!needs_setup_dev(&with(
            r#"{"destination":"/dev/","source":"/dev","options":["rbind"]}"#
        )));
    }
}

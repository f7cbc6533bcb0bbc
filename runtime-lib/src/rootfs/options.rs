//! Parsing of `mounts[].options` into mount flags, propagation, recursive attributes and
//! filesystem data. Pure code: every decision about what an option means lives here.
//!
//! The flag table follows runc's (`libcontainer/specconv`): options apply in order, so
//! `ro,rw` ends read-write. What is not a flag must be a filesystem option this module knows
//! for the mount's type (`mode=755` for tmpfs, `newinstance` for devpts, ...); anything else is
//! an error instead of being passed to the kernel and silently ignored.

use nix::mount::MsFlags;

/// What kind of mount an entry of `mounts` is, after looking at its type and options.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MountKind {
    /// `bind`/`rbind` option or `type: bind`: a bind mount of a host path.
    Bind,
    /// `proc`.
    Proc,
    /// `sysfs`.
    Sysfs,
    /// `tmpfs`.
    Tmpfs,
    /// `devpts`.
    Devpts,
    /// `mqueue`.
    Mqueue,
    /// `cgroup`: the container's view of the cgroup hierarchies (v1 or v2, whatever the host
    /// runs), as runc sets it up.
    Cgroup,
    /// `cgroup2`.
    Cgroup2,
    /// Any other filesystem type husk passes to `mount(2)` unchanged (overlay, ext4, ...).
    Other(String),
}

/// The parsed form of one `mounts[]` entry's type and options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// What to mount.
    pub kind: MountKind,
    /// Flags for `mount(2)` (`MS_BIND`, `MS_REC`, `MS_RDONLY`, `MS_NOSUID`, ...).
    pub flags: MsFlags,
    /// Propagation changes applied after the mount, in order (`MS_PRIVATE|MS_REC`, ...).
    pub propagation: Vec<MsFlags>,
    /// Recursive attributes (`rro`, `rnosuid`, ...) to set with `mount_setattr(AT_RECURSIVE)`,
    /// as `MOUNT_ATTR_*` bits.
    pub attr_set: u64,
    /// Recursive attributes to clear (`rrw`, `rsuid`, ...), as `MOUNT_ATTR_*` bits.
    pub attr_clr: u64,
    /// Filesystem options passed as mount data, in order (`mode=755`, `newinstance`, ...).
    pub data: Vec<String>,
    /// `tmpcopyup`: copy the directory's existing content into the new tmpfs.
    pub tmpcopyup: bool,
}

impl MountOptions {
    /// The mount data string (`mode=755,size=65536k`), or `None` when there is none.
    pub fn data_string(&self) -> Option<String> {
        (!self.data.is_empty()).then(|| self.data.join(","))
    }

    /// Whether this is a bind mount.
    pub fn is_bind(&self) -> bool {
        self.kind == MountKind::Bind
    }
}

/// Flag options: (name, clear?, flag).
const FLAGS: &[(&str, bool, MsFlags)] = &[
    ("acl", false, MsFlags::MS_POSIXACL),
    ("async", true, MsFlags::MS_SYNCHRONOUS),
    ("atime", true, MsFlags::MS_NOATIME),
    ("bind", false, MsFlags::MS_BIND),
    ("defaults", false, MsFlags::empty()),
    ("dev", true, MsFlags::MS_NODEV),
    ("diratime", true, MsFlags::MS_NODIRATIME),
    ("dirsync", false, MsFlags::MS_DIRSYNC),
    ("exec", true, MsFlags::MS_NOEXEC),
    ("iversion", false, MsFlags::MS_I_VERSION),
    ("lazytime", false, MsFlags::MS_LAZYTIME),
    ("loud", true, MsFlags::MS_SILENT),
    ("mand", false, MsFlags::MS_MANDLOCK),
    ("noacl", true, MsFlags::MS_POSIXACL),
    ("noatime", false, MsFlags::MS_NOATIME),
    ("nodev", false, MsFlags::MS_NODEV),
    ("nodiratime", false, MsFlags::MS_NODIRATIME),
    ("noexec", false, MsFlags::MS_NOEXEC),
    ("noiversion", true, MsFlags::MS_I_VERSION),
    ("nolazytime", true, MsFlags::MS_LAZYTIME),
    ("nomand", true, MsFlags::MS_MANDLOCK),
    ("norelatime", true, MsFlags::MS_RELATIME),
    ("nostrictatime", true, MsFlags::MS_STRICTATIME),
    ("nosuid", false, MsFlags::MS_NOSUID),
    // nix 0.32 has no name for MS_NOSYMFOLLOW (Linux 5.10); runc accepts it.
    (
        "nosymfollow",
        false,
        MsFlags::from_bits_retain(libc::MS_NOSYMFOLLOW),
    ),
    ("rbind", false, MsFlags::MS_BIND.union(MsFlags::MS_REC)),
    ("relatime", false, MsFlags::MS_RELATIME),
    ("remount", false, MsFlags::MS_REMOUNT),
    ("ro", false, MsFlags::MS_RDONLY),
    ("rw", true, MsFlags::MS_RDONLY),
    ("silent", false, MsFlags::MS_SILENT),
    ("strictatime", false, MsFlags::MS_STRICTATIME),
    ("suid", true, MsFlags::MS_NOSUID),
    ("sync", false, MsFlags::MS_SYNCHRONOUS),
];

/// Propagation options (also the values of `linux.rootfsPropagation`).
const PROPAGATION: &[(&str, MsFlags)] = &[
    ("private", MsFlags::MS_PRIVATE),
    ("rprivate", MsFlags::MS_PRIVATE.union(MsFlags::MS_REC)),
    ("shared", MsFlags::MS_SHARED),
    ("rshared", MsFlags::MS_SHARED.union(MsFlags::MS_REC)),
    ("slave", MsFlags::MS_SLAVE),
    ("rslave", MsFlags::MS_SLAVE.union(MsFlags::MS_REC)),
    ("unbindable", MsFlags::MS_UNBINDABLE),
    ("runbindable", MsFlags::MS_UNBINDABLE.union(MsFlags::MS_REC)),
];

/// Recursive attribute options (runtime-spec 1.1 `rro` & co): (name, clear?, MOUNT_ATTR_*).
const RECURSIVE: &[(&str, bool, u64)] = &[
    ("rro", false, libc::MOUNT_ATTR_RDONLY),
    ("rrw", true, libc::MOUNT_ATTR_RDONLY),
    ("rnosuid", false, libc::MOUNT_ATTR_NOSUID),
    ("rsuid", true, libc::MOUNT_ATTR_NOSUID),
    ("rnodev", false, libc::MOUNT_ATTR_NODEV),
    ("rdev", true, libc::MOUNT_ATTR_NODEV),
    ("rnoexec", false, libc::MOUNT_ATTR_NOEXEC),
    ("rexec", true, libc::MOUNT_ATTR_NOEXEC),
    ("rnodiratime", false, libc::MOUNT_ATTR_NODIRATIME),
    ("rdiratime", true, libc::MOUNT_ATTR_NODIRATIME),
    ("rnosymfollow", false, libc::MOUNT_ATTR_NOSYMFOLLOW),
    ("rsymfollow", true, libc::MOUNT_ATTR_NOSYMFOLLOW),
];

/// Recursive access-time options: they replace the whole `MOUNT_ATTR__ATIME` field.
const RECURSIVE_ATIME: &[(&str, u64)] = &[
    ("rrelatime", libc::MOUNT_ATTR_RELATIME),
    ("rnoatime", libc::MOUNT_ATTR_NOATIME),
    ("rstrictatime", libc::MOUNT_ATTR_STRICTATIME),
    // runc accepts these three too. The access-time field is one value, not bits: "not
    // noatime", "not relatime" and "not strictatime" can only mean the kernel's default,
    // relatime (runc clears a single bit, which mount_setattr refuses with EINVAL).
    ("ratime", libc::MOUNT_ATTR_RELATIME),
    ("rnorelatime", libc::MOUNT_ATTR_RELATIME),
    ("rnostrictatime", libc::MOUNT_ATTR_RELATIME),
];

/// Option words (without `=`) that are filesystem data for a given type.
fn known_data_word(kind: &MountKind, word: &str) -> bool {
    const CGROUP1: &[&str] = &[
        "all",
        "none",
        "noprefix",
        "xattr",
        "clone_children",
        "cpuset_v2_mode",
        "cpu",
        "cpuacct",
        "cpuset",
        "memory",
        "devices",
        "freezer",
        "net_cls",
        "net_prio",
        "blkio",
        "perf_event",
        "hugetlb",
        "pids",
        "rdma",
        "misc",
    ];
    const CGROUP2: &[&str] = &[
        "nsdelegate",
        "memory_recursiveprot",
        "memory_localevents",
        "memory_hugetlb_accounting",
        "favordynmods",
        "pids_localevents",
    ];
    match kind {
        MountKind::Devpts => word == "newinstance",
        MountKind::Tmpfs => matches!(
            word,
            "inode32" | "inode64" | "noswap" | "quota" | "usrquota" | "grpquota"
        ),
        MountKind::Cgroup => CGROUP1.contains(&word),
        MountKind::Cgroup2 => CGROUP2.contains(&word),
        // husk cannot know every option of every filesystem: the kernel validates these.
        MountKind::Other(_) => true,
        MountKind::Bind | MountKind::Proc | MountKind::Sysfs | MountKind::Mqueue => false,
    }
}

/// Filesystem types husk accepts besides its own special cases.
const OTHER_TYPES: &[&str] = &[
    "overlay",
    "ramfs",
    "hugetlbfs",
    "securityfs",
    "debugfs",
    "tracefs",
    "fusectl",
    "binfmt_misc",
    "bpf",
    "pstore",
    "configfs",
    "efivarfs",
    "ext2",
    "ext3",
    "ext4",
    "xfs",
    "btrfs",
    "vfat",
    "nfs",
    "nfs4",
    "9p",
    "virtiofs",
    "squashfs",
    "iso9660",
    "fuse",
    "fuseblk",
    "erofs",
    "zfs",
    "f2fs",
];

fn kind_of(typ: Option<&str>, bind: bool) -> Result<MountKind, String> {
    if bind {
        return Ok(MountKind::Bind);
    }
    Ok(match typ.unwrap_or("") {
        "bind" => MountKind::Bind,
        "proc" => MountKind::Proc,
        "sysfs" => MountKind::Sysfs,
        "tmpfs" => MountKind::Tmpfs,
        "devpts" => MountKind::Devpts,
        "mqueue" => MountKind::Mqueue,
        "cgroup" => MountKind::Cgroup,
        "cgroup2" => MountKind::Cgroup2,
        "" | "none" => {
            return Err("no filesystem type: give a type, or \"bind\"/\"rbind\" in options".into())
        }
        t if OTHER_TYPES.contains(&t) || t.starts_with("fuse.") => MountKind::Other(t.into()),
        t => return Err(format!("unknown mount type {t:?}")),
    })
}

/// Every mount option word [`parse_mount_options`] recognises by name, for any filesystem type
/// (flags, propagation, recursive attributes, `tmpcopyup`), sorted: the `mountOptions` of
/// `features`. Filesystem data (`mode=755`, `newinstance`) is passed to the kernel as is.
pub fn known_option_names() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = FLAGS.iter().map(|(n, _, _)| *n).collect();
    v.extend(PROPAGATION.iter().map(|(n, _)| *n));
    v.extend(RECURSIVE.iter().map(|(n, _, _)| *n));
    v.extend(RECURSIVE_ATIME.iter().map(|(n, _)| *n));
    v.push("tmpcopyup");
    v.sort_unstable();
    v.dedup();
    v
}

/// Why a mount entry was refused, and which part of it (for the field name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionError {
    /// The `type` is wrong.
    Type(String),
    /// An option is wrong.
    Options(String),
}

/// Parse one mount entry's `type` and `options`.
///
/// ```
/// use husk::rootfs::{parse_mount_options, MountKind};
/// use nix::mount::MsFlags;
/// let o = parse_mount_options(Some("tmpfs"), &["nosuid".into(), "mode=755".into()]).unwrap();
/// assert_eq!(o.kind, MountKind::Tmpfs);
/// assert_eq!(o.flags, MsFlags::MS_NOSUID);
/// assert_eq!(o.data_string().as_deref(), Some("mode=755"));
/// ```
///
/// # Errors
/// An unknown type or option, or an option husk does not implement (`idmap`).
pub fn parse_mount_options(
    typ: Option<&str>,
    options: &[String],
) -> Result<MountOptions, OptionError> {
    let bind = options.iter().any(|o| o == "bind" || o == "rbind");
    let kind = kind_of(typ, bind).map_err(OptionError::Type)?;
    let mut out = MountOptions {
        flags: if kind == MountKind::Bind {
            MsFlags::MS_BIND
        } else {
            MsFlags::empty()
        },
        kind,
        propagation: Vec::new(),
        attr_set: 0,
        attr_clr: 0,
        data: Vec::new(),
        tmpcopyup: false,
    };
    for opt in options {
        let opt = opt.as_str();
        if let Some(&(_, clear, f)) = FLAGS.iter().find(|(n, _, _)| *n == opt) {
            if clear {
                out.flags.remove(f);
            } else {
                out.flags.insert(f);
            }
        } else if let Some(&(_, f)) = PROPAGATION.iter().find(|(n, _)| *n == opt) {
            out.propagation.push(f);
        } else if let Some(&(_, clear, a)) = RECURSIVE.iter().find(|(n, _, _)| *n == opt) {
            if clear {
                out.attr_clr |= a;
                out.attr_set &= !a;
            } else {
                out.attr_set |= a;
                out.attr_clr &= !a;
            }
        } else if let Some(&(_, a)) = RECURSIVE_ATIME.iter().find(|(n, _)| *n == opt) {
            out.attr_clr |= libc::MOUNT_ATTR__ATIME;
            out.attr_set = (out.attr_set & !libc::MOUNT_ATTR__ATIME) | a;
        } else if opt == "tmpcopyup" {
            if out.kind != MountKind::Tmpfs {
                return Err(OptionError::Options(
                    "\"tmpcopyup\" is only valid for tmpfs mounts".into(),
                ));
            }
            out.tmpcopyup = true;
        } else if opt == "idmap" || opt == "ridmap" {
            return Err(OptionError::Options(format!(
                "{opt:?}: idmapped mounts are not supported by husk"
            )));
        } else if let Some((key, _)) = opt.split_once('=') {
            if key.is_empty() {
                return Err(OptionError::Options(format!(
                    "invalid mount option {opt:?}"
                )));
            }
            if out.kind == MountKind::Bind {
                return Err(OptionError::Options(format!(
                    "{opt:?}: filesystem options have no meaning for a bind mount"
                )));
            }
            out.data.push(opt.to_string());
        } else if known_data_word(&out.kind, opt) {
            out.data.push(opt.to_string());
        } else {
            return Err(OptionError::Options(format!(
                "unknown mount option {opt:?}"
            )));
        }
    }
    if (out.attr_set | out.attr_clr) != 0 && out.kind != MountKind::Bind {
        return Err(OptionError::Options(
            "recursive mount attributes (rro, rnosuid, ...) are only valid for bind mounts".into(),
        ));
    }
    Ok(out)
}

/// Parse a propagation name (`linux.rootfsPropagation`): `""` means "not set".
///
/// ```
/// use nix::mount::MsFlags;
/// assert_eq!(husk::rootfs::parse_propagation("rslave"), Ok(Some(MsFlags::MS_SLAVE | MsFlags::MS_REC)));
/// assert_eq!(husk::rootfs::parse_propagation(""), Ok(None));
/// assert!(husk::rootfs::parse_propagation("sideways").is_err());
/// ```
///
/// # Errors
/// An unknown name.
pub fn parse_propagation(name: &str) -> Result<Option<MsFlags>, String> {
    if name.is_empty() {
        return Ok(None);
    }
    PROPAGATION
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, f)| Some(f))
        .ok_or_else(|| format!("unknown propagation {name:?}"))
}

/// Render mount flags the way strace does (`MS_NOSUID|MS_NODEV`, or `0`).
///
/// ```
/// use nix::mount::MsFlags;
/// assert_eq!(husk::rootfs::render_flags(MsFlags::MS_BIND | MsFlags::MS_REC), "MS_BIND|MS_REC");
/// ```
pub fn render_flags(flags: MsFlags) -> String {
    const NAMES: &[(MsFlags, &str)] = &[
        (MsFlags::MS_RDONLY, "MS_RDONLY"),
        (MsFlags::MS_NOSUID, "MS_NOSUID"),
        (MsFlags::MS_NODEV, "MS_NODEV"),
        (MsFlags::MS_NOEXEC, "MS_NOEXEC"),
        (MsFlags::MS_SYNCHRONOUS, "MS_SYNCHRONOUS"),
        (MsFlags::MS_REMOUNT, "MS_REMOUNT"),
        (MsFlags::MS_MANDLOCK, "MS_MANDLOCK"),
        (MsFlags::MS_DIRSYNC, "MS_DIRSYNC"),
        (MsFlags::MS_NOATIME, "MS_NOATIME"),
        (MsFlags::MS_NODIRATIME, "MS_NODIRATIME"),
        (MsFlags::MS_BIND, "MS_BIND"),
        (MsFlags::MS_MOVE, "MS_MOVE"),
        (MsFlags::MS_REC, "MS_REC"),
        (MsFlags::MS_SILENT, "MS_SILENT"),
        (MsFlags::MS_POSIXACL, "MS_POSIXACL"),
        (MsFlags::MS_UNBINDABLE, "MS_UNBINDABLE"),
        (MsFlags::MS_PRIVATE, "MS_PRIVATE"),
        (MsFlags::MS_SLAVE, "MS_SLAVE"),
        (MsFlags::MS_SHARED, "MS_SHARED"),
        (MsFlags::MS_RELATIME, "MS_RELATIME"),
        (MsFlags::MS_I_VERSION, "MS_I_VERSION"),
        (MsFlags::MS_STRICTATIME, "MS_STRICTATIME"),
        (MsFlags::MS_LAZYTIME, "MS_LAZYTIME"),
        (
            MsFlags::from_bits_retain(libc::MS_NOSYMFOLLOW),
            "MS_NOSYMFOLLOW",
        ),
    ];
    let parts: Vec<&str> = NAMES
        .iter()
        .filter(|(f, _)| flags.contains(*f))
        .map(|(_, n)| *n)
        .collect();
    if parts.is_empty() {
        "0".into()
    } else {
        parts.join("|")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(typ: Option<&str>, opts: &[&str]) -> Result<MountOptions, OptionError> {
        let opts: Vec<String> = opts.iter().map(|s| s.to_string()).collect();
        parse_mount_options(typ, &opts)
    }

    #[test]
    fn flags_apply_in_order_like_runc() {
        let o = parse(Some("tmpfs"), &["ro", "rw", "nosuid", "suid", "nodev"]).unwrap();
        assert_eq!(o.flags, MsFlags::MS_NODEV);
        let o = parse(Some("tmpfs"), &["rw", "ro"]).unwrap();
        assert_eq!(o.flags, MsFlags::MS_RDONLY);
    }

    #[test]
    fn tmpfs_data_and_flags_are_split() {
        let o = parse(
            Some("tmpfs"),
            &[
                "nosuid",
                "strictatime",
                "mode=755",
                "size=65536k",
                "inode64",
            ],
        )
        .unwrap();
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(
            o.data_string().as_deref(),
            Some("mode=755,size=65536k,inode64")
        );
        assert!(!o.tmpcopyup);
    }

    #[test]
    fn devpts_newinstance_is_data() {
        let o = parse(
            Some("devpts"),
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        )
        .unwrap();
        assert_eq!(o.kind, MountKind::Devpts);
        assert_eq!(
            o.data_string().as_deref(),
            Some("newinstance,ptmxmode=0666,mode=0620,gid=5")
        );
    }

    #[test]
    fn bind_options_make_a_bind_whatever_the_type() {
        for typ in [None, Some("none"), Some("bind"), Some("tmpfs")] {
            let o = parse(typ, &["rbind", "ro"]).unwrap();
            assert_eq!(o.kind, MountKind::Bind, "{typ:?}");
            assert_eq!(
                o.flags,
                MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_RDONLY
            );
        }
        // type bind without a bind option is still a (non-recursive) bind
        let o = parse(Some("bind"), &["nosuid"]).unwrap();
        assert_eq!(o.flags, MsFlags::MS_BIND | MsFlags::MS_NOSUID);
    }

    #[test]
    fn propagation_is_kept_in_order() {
        let o = parse(Some("bind"), &["bind", "rprivate", "shared"]).unwrap();
        assert_eq!(
            o.propagation,
            vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC, MsFlags::MS_SHARED]
        );
        assert_eq!(o.flags, MsFlags::MS_BIND);
    }

    #[test]
    fn every_atime_option() {
        for (name, f) in [
            ("relatime", MsFlags::MS_RELATIME),
            ("strictatime", MsFlags::MS_STRICTATIME),
            ("noatime", MsFlags::MS_NOATIME),
            ("nodiratime", MsFlags::MS_NODIRATIME),
        ] {
            assert_eq!(
                parse(Some("bind"), &["bind", name]).unwrap().flags,
                MsFlags::MS_BIND | f
            );
        }
    }

    #[test]
    fn recursive_attributes() {
        let o = parse(None, &["rbind", "rro", "rnosuid", "rnoatime"]).unwrap();
        assert_eq!(
            o.attr_set,
            libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NOATIME
        );
        assert_eq!(o.attr_clr, libc::MOUNT_ATTR__ATIME);
        let o = parse(None, &["rbind", "rro", "rrw"]).unwrap();
        assert_eq!((o.attr_set, o.attr_clr), (0, libc::MOUNT_ATTR_RDONLY));
        assert!(matches!(
            parse(Some("tmpfs"), &["rro"]),
            Err(OptionError::Options(_))
        ));
    }

    #[test]
    fn unknown_and_unsupported_options_are_errors() {
        assert_eq!(
            parse(Some("tmpfs"), &["foo"]),
            Err(OptionError::Options("unknown mount option \"foo\"".into()))
        );
        assert!(matches!(
            parse(Some("proc"), &["newinstance"]),
            Err(OptionError::Options(_))
        ));
        let e = parse(None, &["rbind", "idmap"]).unwrap_err();
        assert!(
            matches!(&e, OptionError::Options(m) if m.contains("idmapped mounts are not supported"))
        );
        assert!(parse(None, &["rbind", "ridmap"]).is_err());
        assert!(parse(None, &["bind", "size=1"]).is_err());
        assert!(parse(Some("proc"), &["=x"]).is_err());
        assert!(parse(Some("sysfs"), &["tmpcopyup"]).is_err());
    }

    #[test]
    fn types() {
        assert!(
            matches!(parse(Some("foofs"), &[]), Err(OptionError::Type(m)) if m == "unknown mount type \"foofs\"")
        );
        assert!(matches!(
            parse(None, &["nosuid"]),
            Err(OptionError::Type(_))
        ));
        assert_eq!(
            parse(Some("overlay"), &["lowerdir=/a", "userxattr"])
                .unwrap()
                .kind,
            MountKind::Other("overlay".into())
        );
        assert_eq!(
            parse(Some("fuse.sshfs"), &[]).unwrap().kind,
            MountKind::Other("fuse.sshfs".into())
        );
        assert_eq!(
            parse(Some("cgroup"), &["nosuid", "ro"]).unwrap().kind,
            MountKind::Cgroup
        );
        assert_eq!(
            parse(Some("cgroup2"), &["nsdelegate"]).unwrap().data,
            vec!["nsdelegate".to_string()]
        );
        let o = parse(Some("tmpfs"), &["tmpcopyup", "mode=1777"]).unwrap();
        assert!(o.tmpcopyup);
    }

    #[test]
    fn propagation_names() {
        assert_eq!(parse_propagation(""), Ok(None));
        assert_eq!(
            parse_propagation("rslave"),
            Ok(Some(MsFlags::MS_SLAVE | MsFlags::MS_REC))
        );
        assert_eq!(
            parse_propagation("unbindable"),
            Ok(Some(MsFlags::MS_UNBINDABLE))
        );
        assert!(parse_propagation("rsomething").is_err());
    }

    #[test]
    fn flags_render_like_strace() {
        assert_eq!(render_flags(MsFlags::empty()), "0");
        assert_eq!(
            render_flags(MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC),
            "MS_NOSUID|MS_NODEV|MS_NOEXEC"
        );
        assert_eq!(
            render_flags(MsFlags::MS_BIND | MsFlags::MS_REC),
            "MS_BIND|MS_REC"
        );
    }
}

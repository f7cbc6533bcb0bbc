//! Pure validation of the filesystem fields of a config, before anything is created.

use std::path::{Component, Path, PathBuf};

use oci_spec::runtime::{LinuxDeviceType, Mount, Spec};

use super::options::{
    parse_mount_options, parse_propagation, MountKind, MountOptions, OptionError,
};
use super::RootfsError;

/// `/proc` entries a non-proc mount may cover: files that lxcfs emulates (runc's list).
pub(crate) const PROC_MOUNT_ALLOWED: &[&str] = &[
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/net/dev",
    "/proc/sys/kernel/ns_last_pid",
];

/// Lexically clean a path inside the container, anchored at `/`: `.` dropped, `..` pops but never
/// above `/`, relative paths taken from `/` (runc's `CleanPath` + join with the root).
pub(crate) fn clean_in_root(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// Whether a mount of `kind` may go to the cleaned container path `dest` with respect to
/// `/proc` (runc's `checkProcMount`; the bind-of-procfs-onto-/proc case is checked at mount
/// time, where the source can be inspected).
pub(crate) fn check_proc_destination(dest: &Path, kind: &MountKind) -> Result<(), String> {
    let Ok(rest) = dest.strip_prefix("/proc") else {
        return Ok(());
    };
    if rest.as_os_str().is_empty() {
        return match kind {
            MountKind::Proc | MountKind::Bind => Ok(()),
            _ => Err(format!(
                "{dest:?} cannot be mounted because it is not of type proc"
            )),
        };
    }
    if PROC_MOUNT_ALLOWED.iter().any(|a| Path::new(a) == dest) {
        return Ok(());
    }
    Err(format!(
        "{dest:?} cannot be mounted because it is inside /proc"
    ))
}

fn invalid(field: String, msg: impl Into<String>) -> RootfsError {
    RootfsError::Invalid {
        field,
        msg: msg.into(),
    }
}

/// Parse `mounts[i]`'s type and options, errors naming the field.
pub(crate) fn parse_entry(i: usize, m: &Mount) -> Result<MountOptions, RootfsError> {
    let opts = m.options().clone().unwrap_or_default();
    parse_mount_options(m.typ().as_deref(), &opts).map_err(|e| match e {
        OptionError::Type(msg) => invalid(format!("mounts[{i}].type"), msg),
        OptionError::Options(msg) => invalid(format!("mounts[{i}].options"), msg),
    })
}

/// Pure validation; see [`super::validate`].
pub(crate) fn validate(spec: &Spec) -> Result<(), RootfsError> {
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let dest = m.destination();
        if dest.as_os_str().is_empty() {
            return Err(invalid(format!("mounts[{i}].destination"), "empty"));
        }
        let parsed = parse_entry(i, m)?;
        if parsed.is_bind() && m.source().as_ref().is_none_or(|s| s.as_os_str().is_empty()) {
            return Err(invalid(
                format!("mounts[{i}].source"),
                "a bind mount needs a source",
            ));
        }
        if m.uid_mappings().is_some() || m.gid_mappings().is_some() {
            return Err(invalid(
                format!("mounts[{i}].uidMappings"),
                "idmapped mounts are not supported by husk",
            ));
        }
        let clean = clean_in_root(dest);
        if clean == Path::new("/") {
            return Err(invalid(
                format!("mounts[{i}].destination"),
                "cannot mount over the container's root",
            ));
        }
        check_proc_destination(&clean, &parsed.kind)
            .map_err(|msg| invalid(format!("mounts[{i}].destination"), msg))?;
    }
    if let Some(linux) = spec.linux() {
        if let Some(p) = linux.rootfs_propagation() {
            parse_propagation(p).map_err(|msg| invalid("linux.rootfsPropagation".into(), msg))?;
        }
        for (i, d) in linux.devices().iter().flatten().enumerate() {
            let path = d.path();
            if !path.is_absolute() || clean_in_root(path) == Path::new("/") {
                return Err(invalid(
                    format!("linux.devices[{i}].path"),
                    format!("{path:?} is not an absolute file path"),
                ));
            }
            match d.typ() {
                LinuxDeviceType::C | LinuxDeviceType::B | LinuxDeviceType::U => {
                    if d.major() < 0 || d.minor() < 0 {
                        return Err(invalid(
                            format!("linux.devices[{i}]"),
                            "major and minor must not be negative",
                        ));
                    }
                }
                LinuxDeviceType::P => {}
                LinuxDeviceType::A => {
                    return Err(invalid(
                        format!("linux.devices[{i}].type"),
                        "\"a\" is not a device type (want c, b, u or p)",
                    ))
                }
            }
            if let Some(mode) = d.file_mode() {
                if mode & !(libc::S_IFMT | 0o7777) != 0 {
                    return Err(invalid(
                        format!("linux.devices[{i}].fileMode"),
                        format!("invalid mode {mode:#o}"),
                    ));
                }
            }
        }
        for (name, list) in [
            ("maskedPaths", linux.masked_paths()),
            ("readonlyPaths", linux.readonly_paths()),
        ] {
            for (i, p) in list.iter().flatten().enumerate() {
                if !p.starts_with('/') {
                    return Err(invalid(
                        format!("linux.{name}[{i}]"),
                        format!("{p:?} is not an absolute path"),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Accepted-but-deprecated things runc 1.1 warns about (relative mount destinations).
pub(crate) fn warnings(spec: &Spec) -> Vec<String> {
    spec.mounts()
        .iter()
        .flatten()
        .enumerate()
        .filter(|(_, m)| !m.destination().is_absolute())
        .map(|(i, m)| {
            format!(
                "mounts[{i}].destination: {:?} is not absolute; taken relative to the container's root",
                m.destination()
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_from(json: &str) -> Spec {
        serde_json::from_str(json).expect("test config parses")
    }

    fn with_mounts(mounts: &str) -> Spec {
        spec_from(&format!(
            r#"{{"ociVersion":"1.0.2","root":{{"path":"rootfs"}},"mounts":{mounts}}}"#
        ))
    }

    fn err(spec: &Spec) -> String {
        validate(spec).unwrap_err().to_string()
    }

    #[test]
    fn real_engine_configs_validate() {
        for (name, text) in [
            ("podman", include_str!("testdata/podman-4.3-busybox.json")),
            (
                "containerd",
                include_str!("testdata/containerd-1.6-busybox-seccomp.json"),
            ),
            ("runc spec", include_str!("testdata/runc-1.1-spec.json")),
            (
                "runc spec --rootless",
                include_str!("testdata/runc-1.1-spec-rootless.json"),
            ),
        ] {
            let spec = spec_from(text);
            validate(&spec).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(warnings(&spec).is_empty(), "{name}");
        }
    }

    #[test]
    fn the_field_is_named() {
        let s = with_mounts(
            r#"[{"destination":"/proc","type":"proc","source":"proc"},
                {"destination":"/a","type":"tmpfs","options":["nosuid"]},
                {"destination":"/b","type":"bind","source":"/x","options":["rbind"]},
                {"destination":"/c","type":"tmpfs","options":["nosuid","foo"]}]"#,
        );
        assert_eq!(err(&s), "mounts[3].options: unknown mount option \"foo\"");
        let s = with_mounts(r#"[{"destination":"/a","type":"zfsx"}]"#);
        assert_eq!(err(&s), "mounts[0].type: unknown mount type \"zfsx\"");
        let s = with_mounts(r#"[{"destination":"/a","type":"bind"}]"#);
        assert_eq!(err(&s), "mounts[0].source: a bind mount needs a source");
        let s = with_mounts(r#"[{"destination":"","type":"tmpfs"}]"#);
        assert_eq!(err(&s), "mounts[0].destination: empty");
        let s = with_mounts(r#"[{"destination":"/x/..","type":"tmpfs"}]"#);
        assert!(err(&s).starts_with("mounts[0].destination: cannot mount over"));
        let s = with_mounts(r#"[{"destination":"/m","source":"/s","options":["rbind","idmap"]}]"#);
        assert!(err(&s).contains("idmapped mounts are not supported"));
    }

    #[test]
    fn proc_destinations() {
        let s = with_mounts(r#"[{"destination":"/proc/sys","type":"tmpfs"}]"#);
        assert_eq!(
            err(&s),
            "mounts[0].destination: \"/proc/sys\" cannot be mounted because it is inside /proc"
        );
        let s = with_mounts(r#"[{"destination":"/x/../proc","type":"tmpfs"}]"#);
        assert!(err(&s).contains("not of type proc"));
        let s = with_mounts(
            r#"[{"destination":"/proc/meminfo","source":"/var/lib/lxcfs/proc/meminfo","options":["bind"]}]"#,
        );
        validate(&s).unwrap();
    }

    #[test]
    fn relative_destination_is_accepted_with_a_warning_like_runc_1_1() {
        let s = with_mounts(r#"[{"destination":"run","type":"tmpfs"}]"#);
        validate(&s).unwrap();
        assert_eq!(warnings(&s).len(), 1);
        assert!(warnings(&s)[0].starts_with("mounts[0].destination: \"run\" is not absolute"));
    }

    #[test]
    fn linux_fields() {
        let base = r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},"linux":"#;
        let s = spec_from(&format!(r#"{base}{{"rootfsPropagation":"rslave"}}}}"#));
        validate(&s).unwrap();
        let s = spec_from(&format!(r#"{base}{{"rootfsPropagation":"sideways"}}}}"#));
        assert_eq!(
            err(&s),
            "linux.rootfsPropagation: unknown propagation \"sideways\""
        );
        let s = spec_from(&format!(
            r#"{base}{{"devices":[{{"path":"/dev/fuse","type":"c","major":10,"minor":229}},{{"path":"/dev/x","type":"a"}}]}}}}"#
        ));
        assert!(err(&s).starts_with("linux.devices[1].type: "));
        let s = spec_from(&format!(
            r#"{base}{{"devices":[{{"path":"dev/x","type":"c","major":1,"minor":3}}]}}}}"#
        ));
        assert!(err(&s).starts_with("linux.devices[0].path: "));
        let s = spec_from(&format!(
            r#"{base}{{"devices":[{{"path":"/dev/x","type":"b","major":-1,"minor":3}}]}}}}"#
        ));
        assert!(err(&s).starts_with("linux.devices[0]: "));
        let s = spec_from(&format!(
            r#"{base}{{"devices":[{{"path":"/dev/p","type":"p","fileMode":4480}}]}}}}"#
        ));
        validate(&s).unwrap();
        let s = spec_from(&format!(
            r#"{base}{{"maskedPaths":["/ok","proc/kcore"]}}}}"#
        ));
        assert_eq!(
            err(&s),
            "linux.maskedPaths[1]: \"proc/kcore\" is not an absolute path"
        );
        let s = spec_from(&format!(r#"{base}{{"readonlyPaths":["x"]}}}}"#));
        assert!(err(&s).starts_with("linux.readonlyPaths[0]: "));
    }

    #[test]
    fn clean_paths() {
        assert_eq!(
            clean_in_root(Path::new("../../etc/./x/../y")),
            Path::new("/etc/y")
        );
        assert_eq!(clean_in_root(Path::new("/")), Path::new("/"));
        assert_eq!(clean_in_root(Path::new("a/b")), Path::new("/a/b"));
    }
}

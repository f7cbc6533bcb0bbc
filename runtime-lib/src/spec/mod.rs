//! Loading and validating `config.json`, and resolving it into a [`Plan`].
//!
//! Pure code (but for reading the bundle and checking host paths): every check that can be
//! made before anything is created is made here, so that a bad config leaves nothing behind.
//! Errors name the offending field by its JSON path: `linux.namespaces[2].type: unknown
//! namespace "foo"`.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Spec};
use serde_json::Value;

use crate::error::OsError;
use crate::namespaces::NamespacePlan;
use crate::security::seccomp::{self, SeccompProgram};

/// Errors of loading and validating a bundle's config.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// A field is invalid; `field` is its JSON path.
    #[error("{field}: {msg}")]
    Invalid {
        /// e.g. `linux.namespaces[2].type`.
        field: String,
        /// What is wrong with it.
        msg: String,
    },
    /// A file of the bundle could not be read.
    #[error("{op} {path}: {source}")]
    Read {
        /// What was being done (`open`, `chdir`, `stat`).
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: OsError,
    },
    /// `config.json` is not valid JSON.
    #[error("invalid config.json: {0}")]
    Json(String),
}

fn invalid(field: impl Into<String>, msg: impl Into<String>) -> SpecError {
    SpecError::Invalid {
        field: field.into(),
        msg: msg.into(),
    }
}

/// The runtime-spec version husk implements (the `spec:` line of `--version`).
pub const SPEC_VERSION: &str = "1.2.1";

const NAMESPACE_TYPES: [&str; 8] = [
    "pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time",
];

/// A validated bundle, resolved into what the runtime executes.
#[derive(Debug)]
pub struct Plan {
    /// The config.
    pub spec: Spec,
    /// Absolute path of the bundle.
    pub bundle: PathBuf,
    /// Absolute path of the root filesystem.
    pub rootfs: PathBuf,
    /// How namespaces are made.
    pub namespaces: NamespacePlan,
    /// The compiled seccomp filter.
    pub seccomp: Option<SeccompProgram>,
    /// Things husk tolerates as runc does, but that the caller should see (logged as
    /// warnings by the CLI): e.g. capabilities unknown to this kernel.
    pub warnings: Vec<String>,
}

/// Read and validate `<bundle>/config.json` into a [`Plan`].
///
/// # Errors
/// A missing bundle or config, malformed JSON, or the first invalid field.
pub fn load(bundle: &Path) -> Result<Plan, SpecError> {
    let bundle = std::fs::canonicalize(bundle).map_err(|e| SpecError::Read {
        op: "chdir",
        path: bundle.to_path_buf(),
        source: e.into(),
    })?;
    let path = bundle.join("config.json");
    let data = std::fs::read(&path).map_err(|e| SpecError::Read {
        op: "open",
        path: path.clone(),
        source: e.into(),
    })?;
    let mut warnings = Vec::new();
    let spec = parse(&data, &mut warnings)?;
    plan(spec, bundle, warnings)
}

/// Parse config.json bytes: JSON syntax, then the checks serde can't phrase well (namespace
/// types, capability names), then the typed [`Spec`] with the failing field's path.
///
/// # Errors
/// Malformed JSON or a field of the wrong type or value.
pub fn parse(data: &[u8], warnings: &mut Vec<String>) -> Result<Spec, SpecError> {
    let mut v: Value = serde_json::from_slice(data).map_err(|e| SpecError::Json(e.to_string()))?;
    precheck(&mut v, warnings)?;
    serde_path_to_error::deserialize::<_, Spec>(v).map_err(|e| {
        let path = e.path().to_string();
        invalid(
            if path == "." {
                String::from("config.json")
            } else {
                path
            },
            e.into_inner().to_string(),
        )
    })
}

fn precheck(v: &mut Value, warnings: &mut Vec<String>) -> Result<(), SpecError> {
    if !v.is_object() {
        return Err(invalid("config.json", "not a JSON object"));
    }
    if let Some(list) = v.pointer("/linux/namespaces").and_then(Value::as_array) {
        for (i, ns) in list.iter().enumerate() {
            match ns.get("type").and_then(Value::as_str) {
                Some(t) if NAMESPACE_TYPES.contains(&t) => {}
                Some(t) => {
                    return Err(invalid(
                        format!("linux.namespaces[{i}].type"),
                        format!("unknown namespace \"{t}\""),
                    ))
                }
                None => return Err(invalid(format!("linux.namespaces[{i}].type"), "missing")),
            }
        }
    }
    // Capabilities this build does not know, or this kernel lacks, are dropped with a warning,
    // as runc and crun do: `podman run --privileged` asks for every capability podman knows.
    if let Some(caps) = v
        .pointer_mut("/process/capabilities")
        .and_then(Value::as_object_mut)
    {
        let last = caps::runtime::procfs_all_supported(None).unwrap_or_else(|_| caps::all());
        for (set, list) in caps.iter_mut() {
            let Some(arr) = list.as_array_mut() else {
                continue;
            };
            arr.retain(|c| {
                let name = c.as_str().unwrap_or_default();
                let ok = name.parse::<caps::Capability>().map(|c| last.contains(&c)).unwrap_or(false);
                if !ok {
                    warnings.push(format!(
                        "process.capabilities.{set}: ignoring unknown or unavailable capability {name:?}"
                    ));
                }
                ok
            });
        }
    }
    Ok(())
}

/// Validate a parsed config against the spec and this host, and resolve it.
///
/// # Errors
/// The first invalid or unsupported field.
pub fn plan(spec: Spec, bundle: PathBuf, warnings: Vec<String>) -> Result<Plan, SpecError> {
    if !spec.version().starts_with("1.") {
        return Err(invalid(
            "ociVersion",
            format!("unsupported version {:?}", spec.version()),
        ));
    }
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| invalid("root", "missing"))?;
    let rootfs_raw = bundle.join(root.path());
    let rootfs = std::fs::canonicalize(&rootfs_raw).map_err(|e| SpecError::Read {
        op: "stat",
        path: rootfs_raw.clone(),
        source: e.into(),
    })?;
    if !rootfs.is_dir() {
        return Err(invalid(
            "root.path",
            format!("{} is not a directory", rootfs.display()),
        ));
    }
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| invalid("process", "missing"))?;
    match process.args() {
        Some(a) if !a.is_empty() && !a[0].is_empty() => {}
        _ => return Err(invalid("process.args", "must name the program to run")),
    }
    if process.command_line().is_some() {
        return Err(invalid("process.commandLine", "is for Windows only"));
    }
    if !process.cwd().is_absolute() {
        return Err(invalid("process.cwd", "must be an absolute path"));
    }
    let namespaces = NamespacePlan::from_spec(&spec)?;
    validate_linux(&spec, &namespaces)?;
    validate_process(&spec)?;
    if let Some(r) = spec.linux().as_ref().and_then(|l| l.resources().as_ref()) {
        crate::cgroups::validate(r).map_err(|e| invalid_from(e.to_string()))?;
    }
    crate::rootfs::validate(&spec).map_err(|e| invalid_from(e.to_string()))?;
    let mut warnings = warnings;
    warnings.extend(crate::rootfs::validate_warnings(&spec));
    let seccomp = match spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        Some(s) => Some(seccomp::compile(s).map_err(|e| invalid_from(e.to_string()))?),
        None => None,
    };
    if let Some(h) = spec.hooks() {
        crate::hooks::validate(h)?;
    }
    Ok(Plan {
        spec,
        bundle,
        rootfs,
        namespaces,
        seccomp,
        warnings,
    })
}

/// Module errors already render as "field: msg"; keep that text.
fn invalid_from(text: String) -> SpecError {
    match text.split_once(": ") {
        Some((f, m)) if !f.contains(' ') => invalid(f, m),
        _ => invalid("config.json", text),
    }
}

fn validate_linux(spec: &Spec, ns: &NamespacePlan) -> Result<(), SpecError> {
    let Some(linux) = spec.linux() else {
        return Err(invalid("linux", "missing (husk runs Linux containers)"));
    };
    let user = ns.has(LinuxNamespaceType::User);
    let has_maps = linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
        || linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty());
    if ns.is_new(LinuxNamespaceType::User) {
        if linux.uid_mappings().as_ref().is_none_or(|m| m.is_empty()) {
            return Err(invalid(
                "linux.uidMappings",
                "a new user namespace needs uid mappings",
            ));
        }
        if linux.gid_mappings().as_ref().is_none_or(|m| m.is_empty()) {
            return Err(invalid(
                "linux.gidMappings",
                "a new user namespace needs gid mappings",
            ));
        }
    } else if has_maps && !user {
        return Err(invalid(
            "linux.uidMappings",
            "id mappings need a user namespace",
        ));
    }
    // With a joined user namespace, mappings may be given (runc 1.1 requires them): they
    // describe that namespace, and husk uses them to own the exec fifo by its root.
    if linux.time_offsets().as_ref().is_some_and(|t| !t.is_empty()) {
        if !ns.is_new(LinuxNamespaceType::Time) {
            return Err(invalid(
                "linux.timeOffsets",
                "time offsets need a new time namespace",
            ));
        }
        crate::namespaces::render_time_offsets(spec)?;
    }
    if spec.hostname().as_ref().is_some_and(|h| !h.is_empty()) && !ns.has(LinuxNamespaceType::Uts) {
        return Err(invalid(
            "hostname",
            "unable to set hostname without a private UTS namespace",
        ));
    }
    if spec.domainname().as_ref().is_some_and(|h| !h.is_empty()) && !ns.has(LinuxNamespaceType::Uts)
    {
        return Err(invalid(
            "domainname",
            "unable to set domainname without a private UTS namespace",
        ));
    }
    if !ns.has(LinuxNamespaceType::Mount) {
        return Err(invalid("linux.namespaces", "a mount namespace is required"));
    }
    if let Some(sysctl) = linux.sysctl() {
        let mut keys: Vec<_> = sysctl.keys().collect();
        keys.sort();
        for k in keys {
            validate_sysctl(k, ns).map_err(|m| invalid(format!("linux.sysctl.{k}"), m))?;
        }
    }
    if linux.intel_rdt().is_some() {
        return Err(invalid("linux.intelRdt", "not supported yet"));
    }
    if linux.memory_policy().is_some() {
        return Err(invalid("linux.memoryPolicy", "not supported yet"));
    }
    if linux.net_devices().as_ref().is_some_and(|d| !d.is_empty()) {
        return Err(invalid("linux.netDevices", "not supported yet"));
    }
    if let Some(p) = linux.personality() {
        if p.flags().as_ref().is_some_and(|f| !f.is_empty()) {
            return Err(invalid("linux.personality.flags", "no flags are supported"));
        }
    }
    // linux.mountLabel: applied by rootfs to the mounts runc labels (security::lsm); like
    // runc 1.1, also without SELinux, where the kernel then refuses those mounts.
    Ok(())
}

/// runc's rules: a sysctl is allowed only when it belongs to a namespace the container has
/// on its own (validate/validator.go).
fn validate_sysctl(key: &str, ns: &NamespacePlan) -> Result<(), String> {
    const IPC: [&str; 8] = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    if IPC.contains(&key) || key.starts_with("fs.mqueue.") {
        return if ns.has(LinuxNamespaceType::Ipc) {
            Ok(())
        } else {
            Err("not allowed in the host's ipc namespace".into())
        };
    }
    if key.starts_with("net.") {
        return if ns.has(LinuxNamespaceType::Network) {
            Ok(())
        } else {
            Err("not allowed in the host's network namespace".into())
        };
    }
    if key == "kernel.hostname" || key == "kernel.domainname" {
        return if ns.has(LinuxNamespaceType::Uts) {
            Ok(())
        } else {
            Err("not allowed in the host's uts namespace".into())
        };
    }
    Err("not whitelisted: it is not namespaced".into())
}

pub(crate) fn validate_process(spec: &Spec) -> Result<(), SpecError> {
    let p = spec.process().as_ref().expect("checked by plan");
    if p.io_priority().is_some() {
        return Err(invalid("process.ioPriority", "not supported yet"));
    }
    if p.scheduler().is_some() {
        return Err(invalid("process.scheduler", "not supported yet"));
    }
    if p.exec_cpu_affinity().is_some() {
        return Err(invalid("process.execCPUAffinity", "not supported yet"));
    }
    // runc 1.1 refuses a SELinux label without SELinux at create; an AppArmor profile
    // without AppArmor fails its write in init, before create returns: both fail the create.
    use crate::security::lsm;
    lsm::check_selinux_label(
        p.selinux_label().as_deref(),
        "process.selinuxLabel",
        lsm::selinux_enabled,
    )
    .and_then(|()| {
        lsm::check_apparmor_profile(p.apparmor_profile().as_deref(), lsm::apparmor_enabled)
    })
    .map_err(|e| invalid_from(e.to_string()))?;
    if p.console_size().is_some() && !p.terminal().unwrap_or(false) {
        return Err(invalid(
            "process.consoleSize",
            "set without process.terminal",
        ));
    }
    if let Some(rl) = p.rlimits() {
        let mut seen = Vec::new();
        for (i, r) in rl.iter().enumerate() {
            if seen.contains(&r.typ()) {
                return Err(invalid(
                    format!("process.rlimits[{i}].type"),
                    "duplicate rlimit",
                ));
            }
            seen.push(r.typ());
            if r.soft() > r.hard() {
                return Err(invalid(
                    format!("process.rlimits[{i}]"),
                    "soft limit above hard limit",
                ));
            }
        }
    }
    for (i, e) in p.env().iter().flatten().enumerate() {
        if !e.contains('=') || e.starts_with('=') || e.contains('\0') {
            return Err(invalid(
                format!("process.env[{i}]"),
                format!("{e:?} is not NAME=value"),
            ));
        }
    }
    Ok(())
}

/// A default config.json like `runc spec` writes (with `rootless`, like `runc spec --rootless`:
/// a user namespace mapping the caller's ids to root, no network namespace, `/sys` bound from
/// the host).
pub fn default_spec(rootless: bool) -> Spec {
    let mut v: Value =
        serde_json::from_str(include_str!("default-config.json")).expect("embedded config parses");
    if rootless {
        let uid = nix::unistd::geteuid().as_raw();
        let gid = nix::unistd::getegid().as_raw();
        let linux = v["linux"].as_object_mut().expect("linux object");
        linux.insert(
            "uidMappings".into(),
            serde_json::json!([{"containerID":0,"hostID":uid,"size":1}]),
        );
        linux.insert(
            "gidMappings".into(),
            serde_json::json!([{"containerID":0,"hostID":gid,"size":1}]),
        );
        linux.remove("resources");
        let ns = linux["namespaces"].as_array_mut().expect("namespaces");
        ns.retain(|n| n["type"] != "network");
        ns.push(serde_json::json!({"type":"user"}));
        let mounts = v["mounts"].as_array_mut().expect("mounts");
        mounts.retain(|m| m["destination"] != "/sys/fs/cgroup");
        for m in mounts.iter_mut() {
            if m["destination"] == "/sys" {
                *m = serde_json::json!({"destination":"/sys","type":"none","source":"/sys",
                    "options":["rbind","nosuid","noexec","nodev","ro"]});
            }
            if let Some(opts) = m["options"].as_array_mut() {
                opts.retain(|o| o != "gid=5");
            }
        }
    }
    serde_json::from_value(v).expect("default config is a valid spec")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(s: &str) -> Result<Spec, SpecError> {
        parse(s.as_bytes(), &mut Vec::new())
    }

    #[test]
    fn unknown_namespace_is_named() {
        let e = parse_str(r#"{"ociVersion":"1.2.0","linux":{"namespaces":[{"type":"pid"},{"type":"ipc"},{"type":"foo"}]}}"#)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "linux.namespaces[2].type: unknown namespace \"foo\""
        );
    }

    #[test]
    fn wrong_types_name_their_path() {
        let e = parse_str(
            r#"{"ociVersion":"1.2.0","process":{"cwd":"/","user":{"uid":"zero","gid":0}}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("process.user.uid: "), "{e}");
        let e = parse_str("{bad").unwrap_err().to_string();
        assert!(e.starts_with("invalid config.json: "), "{e}");
        assert!(parse_str("[]").is_err());
    }

    #[test]
    fn unknown_capabilities_are_dropped_with_a_warning() {
        let mut w = Vec::new();
        let s = parse(
            br#"{"ociVersion":"1.2.0","process":{"cwd":"/","user":{"uid":0,"gid":0},
                "capabilities":{"bounding":["CAP_KILL","CAP_NOT_A_CAP"]}}}"#,
            &mut w,
        )
        .unwrap();
        let b = s
            .process()
            .as_ref()
            .unwrap()
            .capabilities()
            .as_ref()
            .unwrap()
            .bounding()
            .clone()
            .unwrap();
        assert_eq!(b.len(), 1);
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("CAP_NOT_A_CAP"));
    }

    #[test]
    fn sysctl_rules() {
        let s: Spec = serde_json::from_value(serde_json::json!({"ociVersion":"1.2.0","linux":{
            "namespaces":[{"type":"ipc"},{"type":"mount"}]}}))
        .unwrap();
        let ns = NamespacePlan::from_spec(&s).unwrap();
        assert!(validate_sysctl("kernel.shmmax", &ns).is_ok());
        assert!(validate_sysctl("fs.mqueue.msg_max", &ns).is_ok());
        assert!(validate_sysctl("net.ipv4.ip_forward", &ns).is_err());
        assert!(validate_sysctl("kernel.hostname", &ns).is_err());
        assert!(validate_sysctl("vm.swappiness", &ns).is_err());
    }

    #[test]
    fn default_spec_round_trips() {
        let s = default_spec(false);
        assert_eq!(s.version(), SPEC_VERSION);
        assert_eq!(
            s.process().as_ref().unwrap().args().as_ref().unwrap(),
            &vec!["sh".to_string()]
        );
        let r = default_spec(true);
        let ns = NamespacePlan::from_spec(&r).unwrap();
        assert!(ns.is_new(LinuxNamespaceType::User));
        assert!(!ns.has(LinuxNamespaceType::Network));
    }
}

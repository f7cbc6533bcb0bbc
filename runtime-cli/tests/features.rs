//! `features`: the document validates against the runtime-spec's own JSON schema, and what it
//! claims works: every mount option takes effect, every namespace is new inside the
//! container, every capability can be granted. (The other claims have their own tests: the
//! hooks in conformance's `config/hooks/*`, seccomp's actions, operators, arches and flags in
//! the library's `security::seccomp` tests, cgroup v1 here and v2 in the lab.)
//!
//! Runs against any runtime (`HUSK_TEST_RUNTIME=/usr/sbin/runc`): each is checked against its
//! own claims.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;
use std::process::Command;

use common::*;
use serde_json::{json, Value};

fn features() -> Value {
    let out = Command::new(runtime())
        .arg("features")
        .output()
        .expect("spawn runtime");
    assert!(out.status.success(), "features failed: {out:?}");
    serde_json::from_slice(&out.stdout).expect("features prints JSON")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The runtime-spec schema directory: `HUSK_SPEC_SCHEMA` (scripts/test.sh fetches it with
/// `fetch_spec_schema` from scripts/setup.sh), else where that function unpacks it.
fn schema_dir() -> Option<PathBuf> {
    let default = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(
        "../target/spec-schema/usr/share/gocode/src/github.com/opencontainers/runtime-spec/schema",
    );
    std::env::var_os("HUSK_SPEC_SCHEMA")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .or(Some(default))
        .filter(|d| d.join("features-schema.json").exists())
}

/// Validate `doc` against features-schema.json with Debian's python3-jsonschema (Draft 4,
/// `$ref`s resolved relative to the schema directory). Err carries the validator's message.
fn validate(schema: &std::path::Path, doc: &Value, tmp: &std::path::Path) -> Result<(), String> {
    const PY: &str = r#"
import json, pathlib, sys, jsonschema
d = pathlib.Path(sys.argv[1]).resolve()
schema = json.loads((d / "features-schema.json").read_text())
resolver = jsonschema.RefResolver(base_uri=d.as_uri() + "/", referrer=schema)
jsonschema.Draft4Validator(schema, resolver=resolver).validate(json.load(open(sys.argv[2])))
"#;
    let f = tmp.join("doc.json");
    fs::write(&f, serde_json::to_vec(doc).unwrap()).unwrap();
    let out = Command::new("/usr/bin/python3")
        .args(["-W", "ignore", "-c", PY])
        .arg(schema)
        .arg(&f)
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn features_validate_against_the_runtime_spec_schema() {
    const T: &str = "features_validate_against_the_runtime_spec_schema";
    let Some(schema) = schema_dir() else {
        return skip(
            T,
            "no runtime-spec schema (scripts/setup.sh: fetch_spec_schema)",
        );
    };
    let py_ok = Command::new("/usr/bin/python3")
        .args(["-c", "import jsonschema"])
        .status()
        .is_ok_and(|s| s.success());
    if !py_ok {
        return skip(
            T,
            "no python3-jsonschema (apt-get install python3-jsonschema)",
        );
    }
    let tmp = tempdir(T);
    let doc = features();
    if let Err(e) = validate(&schema, &doc, &tmp) {
        panic!("`features` does not validate against the runtime-spec schema:\n{e}\n{doc:#}");
    }
    // The validator does refuse what the schema forbids: the same document without the
    // required ociVersionMax, and with an unset field written as null (oci-spec's default).
    let mut bad = doc.clone();
    bad.as_object_mut().unwrap().remove("ociVersionMax");
    assert!(
        validate(&schema, &bad, &tmp).is_err(),
        "validator accepted a missing ociVersionMax"
    );
    let mut bad = doc;
    bad["annotations"] = Value::Null;
    assert!(
        validate(&schema, &bad, &tmp).is_err(),
        "validator accepted annotations: null"
    );
    let _ = fs::remove_dir_all(tmp);
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("husk-features-{name}-{}", std::process::id()));
    fs::create_dir_all(&d).unwrap();
    d
}

/// What a mount of `/m/<option>` must show in the container's mountinfo line.
#[derive(Debug)]
enum Expect {
    /// A per-mount option present (`ro`, `nosuid`, ...) or, with `!`, absent.
    MountOpt(&'static str),
    NoMountOpt(&'static str),
    /// A superblock option (after the ` - ` separator).
    SuperOpt(&'static str),
    /// An optional field prefix (`shared:`, `unbindable`) present or absent.
    Tag(&'static str),
    NoTag(&'static str),
    /// The file put there before the mount is visible (bind, rbind, tmpcopyup).
    Seeded,
    /// No visible trace in mountinfo: the mount must exist, nothing more can be seen.
    Mounted,
}

/// Options that are mount_setattr(2) attributes of a whole mount tree.
const RECURSIVE_ATTRS: &[&str] = &[
    "rro",
    "rrw",
    "rnosuid",
    "rsuid",
    "rnodev",
    "rdev",
    "rnoexec",
    "rexec",
    "rnodiratime",
    "rdiratime",
    "rnosymfollow",
    "rsymfollow",
    "rrelatime",
    "rnoatime",
    "rstrictatime",
    "ratime",
    "rnorelatime",
    "rnostrictatime",
];

fn expectation(opt: &str) -> Expect {
    use Expect::*;
    match opt {
        "ro" | "rro" => MountOpt("ro"),
        "rw" | "rrw" | "defaults" => MountOpt("rw"),
        "nosuid" | "rnosuid" => MountOpt("nosuid"),
        "suid" | "rsuid" => NoMountOpt("nosuid"),
        "nodev" | "rnodev" => MountOpt("nodev"),
        "dev" | "rdev" => NoMountOpt("nodev"),
        "noexec" | "rnoexec" => MountOpt("noexec"),
        "exec" | "rexec" => NoMountOpt("noexec"),
        "noatime" | "rnoatime" => MountOpt("noatime"),
        "relatime" | "rrelatime" => MountOpt("relatime"),
        "strictatime" | "rstrictatime" => NoMountOpt("relatime"),
        "atime" | "ratime" | "norelatime" | "rnorelatime" | "nostrictatime" | "rnostrictatime" => {
            NoMountOpt("noatime")
        }
        "nodiratime" | "rnodiratime" => MountOpt("nodiratime"),
        "diratime" | "rdiratime" => NoMountOpt("nodiratime"),
        "nosymfollow" | "rnosymfollow" => MountOpt("nosymfollow"),
        "symfollow" | "rsymfollow" => NoMountOpt("nosymfollow"),
        "sync" => SuperOpt("sync"),
        "dirsync" => SuperOpt("dirsync"),
        "lazytime" => SuperOpt("lazytime"),
        "shared" | "rshared" => Tag("shared:"),
        "private" | "rprivate" | "slave" | "rslave" => NoTag("shared:"),
        "unbindable" | "runbindable" => Tag("unbindable"),
        "bind" | "rbind" | "tmpcopyup" => Seeded,
        _ => Mounted,
    }
}

#[test]
fn every_claimed_mount_option_takes_effect() {
    const T: &str = "every_claimed_mount_option_takes_effect";
    if !can_run_containers(T) {
        return;
    }
    let env = TestEnv::new("features-mounts");
    let claimed = strings(&features()["mountOptions"]);
    assert!(!claimed.is_empty(), "no mountOptions claimed");
    let seed = env.path("seed");
    fs::create_dir_all(&seed).unwrap();
    fs::write(seed.join("seeded"), "x").unwrap();
    let mut config = base_config(&["cat", "/proc/self/mountinfo"]);
    let mut tested = Vec::new();
    for opt in &claimed {
        // `remount` on a fresh mount point has nothing to remount (it is for changing an
        // existing mount): not something a container's mount list can show.
        if opt == "remount" {
            continue;
        }
        let dest = format!("/m/{opt}");
        let mut options = vec![json!(opt)];
        // The runtime-spec 1.1 recursive attributes (mount_setattr(2) on a mount tree) are
        // for bind mounts: husk refuses them elsewhere.
        let recursive = RECURSIVE_ATTRS.contains(&opt.as_str());
        if recursive {
            options.push(json!("rbind"));
        }
        let entry = match expectation(opt) {
            _ if recursive => {
                json!({"destination": dest, "type": "none", "source": seed, "options": options})
            }
            Expect::Seeded if opt != "tmpcopyup" => {
                json!({"destination": dest, "type": "none", "source": seed, "options": options})
            }
            _ => {
                if !matches!(opt.as_str(), "ro" | "rro") {
                    // so that a flag that needs a writable mount (sync...) is not refused
                    options.push(json!("mode=755"));
                }
                json!({"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": options})
            }
        };
        config["mounts"].as_array_mut().unwrap().push(entry);
        tested.push(opt.clone());
    }
    config["root"]["readonly"] = json!(false);
    let bundle = env.bundle_with("b", config);
    let rootfs = bundle.rootfs();
    for opt in &tested {
        fs::create_dir_all(rootfs.join("m").join(opt)).unwrap();
    }
    // tmpcopyup copies what the directory held before the tmpfs went over it.
    fs::write(rootfs.join("m/tmpcopyup/seeded"), "x").unwrap();
    bundle.write();
    let id = env.id("m");
    env.register(&id);
    let b = bundle.dir.to_str().unwrap();
    let (code, err) = env.run_to_files("m", &["run", "--bundle", b, &id]);
    assert_eq!(
        code, 0,
        "a container with every claimed mount option failed: {err}"
    );
    let mountinfo = env.out("m");
    let mut wrong = Vec::new();
    for opt in &tested {
        let dest = format!("/m/{opt}");
        let Some(line) = mountinfo
            .lines()
            .rfind(|l| l.split(' ').nth(4) == Some(dest.as_str()))
        else {
            wrong.push(format!("{opt}: not mounted"));
            continue;
        };
        let fields: Vec<&str> = line.split(' ').collect();
        let mount_opts: BTreeSet<&str> = fields[5].split(',').collect();
        let sep = fields.iter().position(|f| *f == "-").unwrap();
        let tags = &fields[6..sep];
        let super_opts: BTreeSet<&str> = fields[sep + 3].split(',').collect();
        let ok = match expectation(opt) {
            Expect::MountOpt(o) => mount_opts.contains(o),
            Expect::NoMountOpt(o) => !mount_opts.contains(o),
            Expect::SuperOpt(o) => super_opts.contains(o),
            Expect::Tag(t) => tags.iter().any(|x| x.starts_with(t)),
            Expect::NoTag(t) => !tags.iter().any(|x| x.starts_with(t)),
            Expect::Seeded => true, // checked below, from inside
            Expect::Mounted => true,
        };
        if !ok {
            wrong.push(format!("{opt}: expected {:?} in {line}", expectation(opt)));
        }
    }
    assert!(
        wrong.is_empty(),
        "mount options without their effect:\n{}",
        wrong.join("\n")
    );

    // The seeded mounts show the seed file from inside.
    let mut config = base_config(&[
        "sh",
        "-c",
        "cat /m/bind/seeded /m/rbind/seeded /m/tmpcopyup/seeded",
    ]);
    for (opt, entry) in [
        (
            "bind",
            json!({"destination": "/m/bind", "type": "none", "source": seed, "options": ["bind"]}),
        ),
        (
            "rbind",
            json!({"destination": "/m/rbind", "type": "none", "source": seed, "options": ["rbind"]}),
        ),
        (
            "tmpcopyup",
            json!({"destination": "/m/tmpcopyup", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup"]}),
        ),
    ] {
        if claimed.iter().any(|c| c == opt) {
            config["mounts"].as_array_mut().unwrap().push(entry);
        }
    }
    let bundle = env.bundle_with("s", config);
    for d in ["m/bind", "m/rbind", "m/tmpcopyup"] {
        fs::create_dir_all(bundle.rootfs().join(d)).unwrap();
    }
    fs::write(bundle.rootfs().join("m/tmpcopyup/seeded"), "x").unwrap();
    bundle.write();
    let id = env.id("s");
    env.register(&id);
    let (code, err) =
        env.run_to_files("s", &["run", "--bundle", bundle.dir.to_str().unwrap(), &id]);
    let want = ["bind", "rbind", "tmpcopyup"]
        .iter()
        .filter(|o| claimed.iter().any(|c| c == *o))
        .count();
    assert_eq!(code, 0, "seeded mounts: {err}");
    assert_eq!(env.out("s"), "x".repeat(want), "seeded files not visible");
}

#[test]
fn every_claimed_namespace_is_new_inside() {
    const T: &str = "every_claimed_namespace_is_new_inside";
    if !can_run_containers(T) {
        return;
    }
    let env = TestEnv::new("features-ns");
    let f = features();
    let claimed = strings(&f["linux"]["namespaces"]);
    assert!(!claimed.is_empty(), "no namespaces claimed");
    // /proc/self/ns file names of the spec's namespace types.
    let file = |t: &str| {
        match t {
            "network" => "net",
            "mount" => "mnt",
            other => other,
        }
        .to_owned()
    };
    let script: String = claimed
        .iter()
        .map(|t| format!("echo {t} $(readlink /proc/self/ns/{});", file(t)))
        .collect();
    let mut config = base_config(&["sh", "-c", &script]);
    config["linux"]["namespaces"] =
        Value::Array(claimed.iter().map(|t| json!({"type": t})).collect());
    if claimed.iter().any(|t| t == "user") {
        config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 0, "size": 65536}]);
        config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 0, "size": 65536}]);
    }
    // A cgroup v1 mount needs the host's cgroup ns in a user ns: not what is measured here.
    config["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["type"] != "cgroup");
    let bundle = env.bundle_with("b", config);
    bundle.write();
    let id = env.id("ns");
    env.register(&id);
    let (code, err) = env.run_to_files(
        "ns",
        &["run", "--bundle", bundle.dir.to_str().unwrap(), &id],
    );
    assert_eq!(
        code, 0,
        "a container with every claimed namespace failed: {err}"
    );
    let out = env.out("ns");
    for t in &claimed {
        let host = fs::read_link(format!("/proc/self/ns/{}", file(t)))
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let inside = out
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{t} ")))
            .unwrap_or_else(|| panic!("no {t} line in {out:?}"));
        assert!(
            inside.starts_with(&format!("{}:[", file(t))) && inside != host,
            "{t}: inside {inside:?}, host {host:?}: not a new namespace"
        );
    }
}

#[test]
fn every_claimed_capability_can_be_granted() {
    const T: &str = "every_claimed_capability_can_be_granted";
    if !can_run_containers(T) {
        return;
    }
    let env = TestEnv::new("features-caps");
    let claimed = strings(&features()["linux"]["capabilities"]);
    assert!(!claimed.is_empty(), "no capabilities claimed");
    let host_bounding = status_mask(&fs::read_to_string("/proc/self/status").unwrap(), "CapBnd");
    // A capability outside the host's bounding set cannot be granted by anyone (runc 1.1.5
    // and husk both fail the start with EPERM): ask for the claimed ones the host has.
    let mut want = 0u64;
    let mut grantable = Vec::new();
    for name in &claimed {
        let bit =
            cap_number(name).unwrap_or_else(|| panic!("claimed capability {name} is unknown"));
        if host_bounding & (1 << bit) != 0 {
            want |= 1 << bit;
            grantable.push(name.clone());
        } else {
            println!("{name} is not in this host's bounding set: not asked for");
        }
    }
    let mut config = base_config(&["grep", "^Cap", "/proc/self/status"]);
    for set in ["bounding", "effective", "permitted"] {
        config["process"]["capabilities"][set] = json!(grantable);
    }
    config["process"]["capabilities"]["ambient"] = json!([]);
    config["process"]["noNewPrivileges"] = json!(false);
    let bundle = env.bundle_with("b", config);
    bundle.write();
    let id = env.id("caps");
    env.register(&id);
    let (code, err) = env.run_to_files(
        "caps",
        &["run", "--bundle", bundle.dir.to_str().unwrap(), &id],
    );
    assert_eq!(
        code, 0,
        "a container with every claimed capability failed: {err}"
    );
    let out = env.out("caps");
    for field in ["CapBnd", "CapEff", "CapPrm"] {
        assert_eq!(status_mask(&out, field), want, "{field} inside: {out}");
    }
}

fn status_mask(status: &str, field: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
        .unwrap_or_else(|| panic!("no {field} in {status}"))
}

/// The kernel's number of a capability (include/uapi/linux/capability.h).
fn cap_number(name: &str) -> Option<u32> {
    const NAMES: [&str; 41] = [
        "CHOWN",
        "DAC_OVERRIDE",
        "DAC_READ_SEARCH",
        "FOWNER",
        "FSETID",
        "KILL",
        "SETGID",
        "SETUID",
        "SETPCAP",
        "LINUX_IMMUTABLE",
        "NET_BIND_SERVICE",
        "NET_BROADCAST",
        "NET_ADMIN",
        "NET_RAW",
        "IPC_LOCK",
        "IPC_OWNER",
        "SYS_MODULE",
        "SYS_RAWIO",
        "SYS_CHROOT",
        "SYS_PTRACE",
        "SYS_PACCT",
        "SYS_ADMIN",
        "SYS_BOOT",
        "SYS_NICE",
        "SYS_RESOURCE",
        "SYS_TIME",
        "SYS_TTY_CONFIG",
        "MKNOD",
        "LEASE",
        "AUDIT_WRITE",
        "AUDIT_CONTROL",
        "SETFCAP",
        "MAC_OVERRIDE",
        "MAC_ADMIN",
        "SYSLOG",
        "WAKE_ALARM",
        "BLOCK_SUSPEND",
        "AUDIT_READ",
        "PERFMON",
        "BPF",
        "CHECKPOINT_RESTORE",
    ];
    let n = name.strip_prefix("CAP_")?;
    NAMES.iter().position(|x| *x == n).map(|i| i as u32)
}

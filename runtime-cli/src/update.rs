//! `husk update`: change a running container's resources. `--resources=-` (stdin) or
//! `--resources FILE` takes a runtime-spec `LinuxResources` JSON object, as containerd and
//! podman send it; runc's individual flags build one. The library merges it over the resources
//! in force, validates, applies and remembers it.

use std::io::Read;

use husk::Container;
use oci_spec::runtime::LinuxResources;
use serde_json::{json, Map, Value};

use crate::logging::Logger;
use crate::{err_msg, Cli, CmdResult};

/// `update` arguments (runc's names).
#[derive(Debug, clap::Args)]
pub struct UpdateArgs {
    /// A LinuxResources JSON file, or `-` for stdin
    #[arg(short, long, value_name = "FILE")]
    pub resources: Option<String>,
    /// Memory limit (bytes, or with a k/m/g suffix)
    #[arg(long, short = 'm')]
    pub memory: Option<String>,
    /// Memory plus swap limit (-1: unlimited)
    #[arg(long)]
    pub memory_swap: Option<String>,
    /// Memory soft limit
    #[arg(long)]
    pub memory_reservation: Option<String>,
    /// CPU shares (relative weight); runc's name is --cpu-share
    #[arg(long = "cpu-share", alias = "cpu-shares")]
    pub cpu_shares: Option<u64>,
    /// CPU CFS quota in microseconds (-1: unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU CFS period in microseconds
    #[arg(long)]
    pub cpu_period: Option<u64>,
    /// CPU real-time period in microseconds (cgroup v1)
    #[arg(long)]
    pub cpu_rt_period: Option<u64>,
    /// CPU real-time runtime in microseconds (cgroup v1; -1: unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// CPUs to use (0-3, 0,1)
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to use (0-3, 0,1)
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// Maximum number of pids (-1: unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Block IO weight (10-1000)
    #[arg(long)]
    pub blkio_weight: Option<u16>,
    /// Intel RDT/CAT L3 cache schema (not supported: refused)
    #[arg(long)]
    pub l3_cache_schema: Option<String>,
    /// Intel RDT/MBA memory bandwidth schema (not supported: refused)
    #[arg(long)]
    pub mem_bw_schema: Option<String>,
    /// The container id
    pub id: String,
}

/// Run `update`.
pub fn run(cli: &Cli, log: &mut Logger, a: &UpdateArgs) -> CmdResult {
    let resources = resources_of(a)?;
    let mut c = Container::load(&cli.root, &a.id).map_err(err_msg)?;
    let before = c.warnings().len();
    c.update(&resources).map_err(err_msg)?;
    // Fields of the update this host cannot honour but tolerates (as runc does): logged.
    for w in &c.warnings()[before..] {
        log.warn(w);
    }
    Ok(0)
}

fn resources_of(a: &UpdateArgs) -> Result<LinuxResources, String> {
    if a.l3_cache_schema.is_some() || a.mem_bw_schema.is_some() {
        return Err(
            "--l3-cache-schema/--mem-bw-schema: Intel RDT (linux.intelRdt) is not supported".into(),
        );
    }
    // As runc: with --resources, the individual flags are ignored.
    let text = match a.resources.as_deref() {
        Some("-") => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| format!("read stdin: {e}"))?;
            Some(s)
        }
        Some(f) => Some(std::fs::read_to_string(f).map_err(|e| format!("open {f}: {e}"))?),
        None => None,
    };
    let mut v = match text {
        Some(t) => serde_json::from_str(&t).map_err(|e| format!("resources: {e}"))?,
        None => flags_to_value(a)?,
    };
    drop_unset_zeros(&mut v);
    serde_path_to_error::deserialize(v)
        .map_err(|e| format!("resources.{}: {}", e.path(), e.inner()))
}

/// runc's individual `update` flags as a `LinuxResources` JSON object.
fn flags_to_value(a: &UpdateArgs) -> Result<Value, String> {
    let mut v = Value::Object(Map::new());
    let mut set = |section: &str, key: &str, val: Value| {
        let obj = v.as_object_mut().expect("object");
        let sec = obj.entry(section).or_insert_with(|| json!({}));
        sec[key] = val;
    };
    if let Some(m) = &a.memory {
        set("memory", "limit", json!(parse_bytes(m)?));
    }
    if let Some(m) = &a.memory_swap {
        set("memory", "swap", json!(parse_bytes(m)?));
    }
    if let Some(m) = &a.memory_reservation {
        set("memory", "reservation", json!(parse_bytes(m)?));
    }
    if let Some(s) = a.cpu_shares {
        set("cpu", "shares", json!(s));
    }
    if let Some(q) = a.cpu_quota {
        set("cpu", "quota", json!(q));
    }
    if let Some(p) = a.cpu_period {
        set("cpu", "period", json!(p));
    }
    if let Some(p) = a.cpu_rt_period {
        set("cpu", "realtimePeriod", json!(p));
    }
    if let Some(r) = a.cpu_rt_runtime {
        set("cpu", "realtimeRuntime", json!(r));
    }
    if let Some(c) = &a.cpuset_cpus {
        set("cpu", "cpus", json!(c));
    }
    if let Some(m) = &a.cpuset_mems {
        set("cpu", "mems", json!(m));
    }
    if let Some(p) = a.pids_limit {
        set("pids", "limit", json!(p));
    }
    if let Some(w) = a.blkio_weight {
        set("blockIO", "weight", json!(w));
    }
    Ok(v)
}

/// The fields for which `update` takes 0 (or "" for cpus/mems) to mean "leave it as it is".
const ZERO_MEANS_UNCHANGED: &[(&str, &[&str])] = &[
    (
        "memory",
        &["limit", "reservation", "swap", "kernel", "kernelTCP"],
    ),
    (
        "cpu",
        &[
            "shares",
            "quota",
            "period",
            "realtimeRuntime",
            "realtimePeriod",
            "cpus",
            "mems",
        ],
    ),
    ("blockIO", &["weight", "leafWeight"]),
    ("pids", &["limit"]),
];

/// Remove the [`ZERO_MEANS_UNCHANGED`] fields that are 0 or "", so that the merge keeps the
/// values in force. runc's `update` decodes the JSON over a struct of zeros and writes a
/// cgroup value only when it is not zero, and engines rely on that: containerd and Docker
/// marshal Go structs, which carry 0 for every field the user did not change
/// (`docker update --cpus 1` sends `"memory":{"limit":0,"reservation":0,"kernel":0}`). Taken
/// as values, those zeros replaced the memory limit in force, and a container started with
/// `--memory 50m --memory-swap 100m` could no longer be updated at all ("a swap limit needs a
/// memory limit").
fn drop_unset_zeros(v: &mut Value) {
    let Some(obj) = v.as_object_mut() else {
        return;
    };
    for (section, fields) in ZERO_MEANS_UNCHANGED {
        let Some(sec) = obj.get_mut(*section).and_then(Value::as_object_mut) else {
            continue;
        };
        sec.retain(|k, val| {
            !(fields.contains(&k.as_str())
                && (val.as_i64() == Some(0) || val.as_u64() == Some(0) || val.as_str() == Some("")))
        });
        // `pids` has one (required) field: without it there is nothing to update.
        if *section == "pids" && sec.is_empty() {
            obj.remove("pids");
        }
    }
}

/// Bytes with an optional binary-unit suffix (`k`, `m`, `g`, `t`, with or without `b`), as
/// runc's `units.RAMInBytes`; `-1` means unlimited.
fn parse_bytes(s: &str) -> Result<i64, String> {
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("invalid size: {s:?}"))?;
    if n < 0.0 {
        return Err(format!("invalid size: {s:?}"));
    }
    Ok((n * mult as f64) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeros_mean_unchanged_as_in_runc() {
        // What `docker update --pids-limit -1` sends to the runtime.
        let mut v: Value = serde_json::from_str(
            r#"{"memory":{"limit":0,"reservation":0,"kernel":0,"swappiness":0},
                "cpu":{"shares":0,"quota":0,"period":0,"cpus":""},
                "pids":{"limit":-1},"blockIO":{"weight":0}}"#,
        )
        .unwrap();
        drop_unset_zeros(&mut v);
        assert_eq!(
            v,
            json!({"memory":{"swappiness":0},"cpu":{},"pids":{"limit":-1},"blockIO":{}})
        );
        let mut v = json!({"pids":{"limit":0},"memory":{"limit":1048576,"swap":-1}});
        drop_unset_zeros(&mut v);
        assert_eq!(v, json!({"memory":{"limit":1048576,"swap":-1}}));
    }

    #[test]
    fn sizes_like_runc() {
        assert_eq!(parse_bytes("1024").unwrap(), 1024);
        assert_eq!(parse_bytes("100m").unwrap(), 100 << 20);
        assert_eq!(parse_bytes("1.5g").unwrap(), 3 << 29);
        assert_eq!(parse_bytes("2KB").unwrap(), 2048);
        assert_eq!(parse_bytes("-1").unwrap(), -1);
        assert!(parse_bytes("lots").is_err());
    }
}

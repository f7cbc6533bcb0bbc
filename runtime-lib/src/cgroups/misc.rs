//! The small controllers: `rdma` (v1 and v2 `rdma.max`), `network` (v1 `net_cls.classid`,
//! `net_prio.ifpriomap`; cgroup v2 has neither) and `unified` (raw v2 key/values).

use std::collections::HashMap;
use std::path::Path;

use oci_spec::runtime::{LinuxNetwork, LinuxRdma};

use super::{fs, CgroupError};

/// `rdma.max` lines, one per device: `mlx4_0 hca_handle=2 hca_object=2000` (runc's format; a
/// missing count is left out, keeping the current value). Sorted by device for a stable
/// order.
pub(crate) fn rdma_lines(rdma: &HashMap<String, LinuxRdma>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = rdma
        .iter()
        .map(|(dev, l)| {
            let mut s = dev.clone();
            if let Some(h) = l.hca_handles() {
                s.push_str(&format!(" hca_handle={h}"));
            }
            if let Some(o) = l.hca_objects() {
                s.push_str(&format!(" hca_object={o}"));
            }
            (dev.clone(), s)
        })
        .collect();
    out.sort();
    out
}

/// Check device names (one word each: they are written as the first word of a line).
pub(crate) fn validate_rdma(rdma: &HashMap<String, LinuxRdma>) -> Result<(), CgroupError> {
    for dev in rdma.keys() {
        if dev.is_empty() || dev.contains(char::is_whitespace) {
            return Err(CgroupError::Invalid {
                field: format!("linux.resources.rdma[{dev:?}]"),
                msg: "not a device name".into(),
            });
        }
    }
    Ok(())
}

/// Write the rdma limits into `dir` (v1 or v2: same file and format).
pub(crate) fn set_rdma(dir: &Path, rdma: &HashMap<String, LinuxRdma>) -> Result<(), CgroupError> {
    for (dev, line) in rdma_lines(rdma) {
        fs::write(
            Some(&format!("linux.resources.rdma[{dev:?}]")),
            dir,
            "rdma.max",
            &line,
        )?;
    }
    Ok(())
}

/// Check interface names of `network.priorities`.
pub(crate) fn validate_network(n: &LinuxNetwork) -> Result<(), CgroupError> {
    for (i, p) in n.priorities().iter().flatten().enumerate() {
        if p.name().is_empty() || p.name().contains(char::is_whitespace) {
            return Err(CgroupError::Invalid {
                field: format!("linux.resources.network.priorities[{i}].name"),
                msg: format!("{:?} is not an interface name", p.name()),
            });
        }
    }
    Ok(())
}

/// v1 `net_cls.classid` into the net_cls directory.
pub(crate) fn set_classid(dir: &Path, n: &LinuxNetwork) -> Result<(), CgroupError> {
    if let Some(c) = n.class_id() {
        fs::write(
            Some("linux.resources.network.classID"),
            dir,
            "net_cls.classid",
            &c.to_string(),
        )?;
    }
    Ok(())
}

/// v1 `net_prio.ifpriomap` (`IFNAME PRIO`, one write per interface) into the net_prio
/// directory.
pub(crate) fn set_priorities(dir: &Path, n: &LinuxNetwork) -> Result<(), CgroupError> {
    for (i, p) in n.priorities().iter().flatten().enumerate() {
        fs::write(
            Some(&format!("linux.resources.network.priorities[{i}]")),
            dir,
            "net_prio.ifpriomap",
            &format!("{} {}", p.name(), p.priority()),
        )?;
    }
    Ok(())
}

/// Check `unified` keys: a plain file name of the form `CONTROLLER.PARAMETER` (a key is
/// joined to the cgroup directory, so `/` or `..` would write outside it).
pub(crate) fn validate_unified(u: &HashMap<String, String>) -> Result<(), CgroupError> {
    for k in u.keys() {
        let bad = |msg: &str| CgroupError::Invalid {
            field: format!("linux.resources.unified[{k:?}]"),
            msg: msg.into(),
        };
        if k.contains('/') || k.contains('\0') {
            return Err(bad("must be a file name (no slashes)"));
        }
        match k.split_once('.') {
            Some((c, p)) if !c.is_empty() && !p.is_empty() => {}
            _ => return Err(bad("must be of the form CONTROLLER.PARAMETER")),
        }
    }
    Ok(())
}

/// Write `unified` into the v2 cgroup `dir`, keys sorted, a multi-line value one line per
/// write (files like `io.max` take one device per write). A missing file gets a clearer
/// error when its controller is not available to the cgroup.
pub(crate) fn set_unified(dir: &Path, u: &HashMap<String, String>) -> Result<(), CgroupError> {
    let mut keys: Vec<&String> = u.keys().collect();
    keys.sort();
    for k in keys {
        let field = format!("linux.resources.unified[{k:?}]");
        for line in u[k].lines().filter(|l| !l.trim().is_empty()) {
            if let Err(e) = fs::write(Some(&field), dir, k, line) {
                let ctrl = k.split('.').next().unwrap_or_default();
                let available = fs::read(dir, "cgroup.controllers").unwrap_or_default();
                if ctrl != "cgroup" && !available.split_whitespace().any(|c| c == ctrl) {
                    return Err(CgroupError::Invalid {
                        field,
                        msg: format!(
                            "can't be set: controller {ctrl:?} is not available to this cgroup"
                        ),
                    });
                }
                return Err(e);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{read, TempDir};
    use super::*;

    #[test]
    fn rdma_format_and_write() {
        let r: HashMap<String, LinuxRdma> = serde_json::from_str(
            r#"{"mlx5_1":{"hcaHandles":3},"mlx4_0":{"hcaHandles":2,"hcaObjects":2000}}"#,
        )
        .unwrap();
        let lines: Vec<String> = rdma_lines(&r).into_iter().map(|(_, l)| l).collect();
        assert_eq!(
            lines,
            ["mlx4_0 hca_handle=2 hca_object=2000", "mlx5_1 hca_handle=3"]
        );
        let t = TempDir::new("misc");
        let d = t.touch("r", &["rdma.max"]);
        set_rdma(&d, &r).unwrap();
        assert_eq!(read(&d, "rdma.max"), "mlx5_1 hca_handle=3");
        let bad: HashMap<String, LinuxRdma> = serde_json::from_str(r#"{"a b":{}}"#).unwrap();
        assert!(validate_rdma(&bad).is_err());
    }

    #[test]
    fn network_files() {
        let n: LinuxNetwork = serde_json::from_str(
            r#"{"classID":1048577,"priorities":[{"name":"eth0","priority":5}]}"#,
        )
        .unwrap();
        validate_network(&n).unwrap();
        let t = TempDir::new("misc");
        let cls = t.touch("cls", &["net_cls.classid"]);
        let prio = t.touch("prio", &["net_prio.ifpriomap"]);
        set_classid(&cls, &n).unwrap();
        set_priorities(&prio, &n).unwrap();
        assert_eq!(read(&cls, "net_cls.classid"), "1048577");
        assert_eq!(read(&prio, "net_prio.ifpriomap"), "eth0 5");
    }

    #[test]
    fn unified_keys_and_errors() {
        let ok: HashMap<String, String> =
            serde_json::from_str(r#"{"memory.high":"1000000","pids.max":"7"}"#).unwrap();
        validate_unified(&ok).unwrap();
        for k in ["../x.y", "memory", ".high", "a/b.c"] {
            let m = HashMap::from([(k.to_string(), "1".to_string())]);
            let e = validate_unified(&m).unwrap_err().to_string();
            assert!(e.starts_with("linux.resources.unified["), "{e}");
        }
        let t = TempDir::new("misc");
        let d = t.touch("u", &["memory.high", "pids.max", "cgroup.controllers"]);
        std::fs::write(d.join("cgroup.controllers"), "memory pids\n").unwrap();
        set_unified(&d, &ok).unwrap();
        assert_eq!(read(&d, "memory.high"), "1000000");
        assert_eq!(read(&d, "pids.max"), "7");
        let io = HashMap::from([(
            "io.max".to_string(),
            "8:0 rbps=1\n8:16 wbps=2\n".to_string(),
        )]);
        let e = set_unified(&d, &io).unwrap_err().to_string();
        assert!(e.contains("controller \"io\" is not available"), "{e}");
    }
}

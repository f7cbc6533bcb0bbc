//! The cgroup v2 driver: one directory in the unified hierarchy.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxCpu, LinuxMemory, LinuxResources};

use super::{
    blkio, devices, freezer, fs, hugetlb, misc, stats, validate, CgroupConfig, CgroupError,
    Manager, TasksFile, CGROUP_ROOT,
};

/// The key of the single directory in [`CgroupConfig::dirs`] on v2.
pub(crate) const KEY: &str = "unified";

/// The cgroup v2 manager.
pub(crate) struct V2Manager {
    config: CgroupConfig,
    root: PathBuf,
}

impl V2Manager {
    pub(crate) fn new(config: CgroupConfig) -> V2Manager {
        V2Manager {
            config,
            root: PathBuf::from(CGROUP_ROOT),
        }
    }

    /// A manager whose unified hierarchy is mounted at `root` (tests drive the cgroup2 mount of
    /// a hybrid host this way).
    #[cfg(test)]
    pub(crate) fn with_root(config: CgroupConfig, root: PathBuf) -> V2Manager {
        V2Manager { config, root }
    }

    fn dir(&self) -> Result<&Path, CgroupError> {
        self.config
            .dirs
            .get(KEY)
            .map(PathBuf::as_path)
            .ok_or_else(|| {
                CgroupError::Unsupported(format!(
                    "cgroup v2: no directory resolved for cgroup {:?}",
                    self.config.path
                ))
            })
    }
}

impl Manager for V2Manager {
    fn config(&self) -> CgroupConfig {
        self.config.clone()
    }

    fn create(&self) -> Result<(), CgroupError> {
        create_dirs(&self.root, self.dir()?)
    }

    fn apply_resources(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        self.check_resources(r)?;
        let dir = self.dir()?;
        apply(dir, r)?;
        let rules = devices::from_spec(r.devices().as_deref().unwrap_or_default())?;
        set_devices(dir, &devices::effective(&rules))
    }

    fn add_process(&self, pid: i32) -> Result<(), CgroupError> {
        fs::write(None, self.dir()?, "cgroup.procs", &pid.to_string())
    }

    fn self_join_files(&self) -> Result<Vec<TasksFile>, CgroupError> {
        Ok(Vec::new())
    }

    fn clone_into_fd(&self) -> Result<Option<OwnedFd>, CgroupError> {
        open_dir(self.dir()?).map(Some)
    }

    fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        fs::procs_recursive(self.dir()?)
    }

    fn destroy(&self) -> Result<(), CgroupError> {
        fs::remove_all(&[self.dir()?])
    }

    fn check_resources(&self, r: &LinuxResources) -> Result<Vec<String>, CgroupError> {
        validate::validate(r)?;
        let mut w = validate::common_warnings(r);
        if let Some(m) = r.memory() {
            if m.use_hierarchy() == Some(false) {
                w.push(super::v1::use_hierarchy_warning());
            }
            // runc's fs2 driver ignores both; they have no v2 file.
            if m.swappiness().is_some_and(|s| s <= 100) {
                w.push(
                    "linux.resources.memory.swappiness: cgroup v2 has no per-cgroup \
                     swappiness; ignored"
                        .into(),
                );
            }
            if m.disable_oom_killer() == Some(true) {
                w.push(
                    "linux.resources.memory.disableOOMKiller: cgroup v2 cannot disable the OOM \
                     killer; ignored"
                        .into(),
                );
            }
        }
        if let Some(n) = r.network() {
            if n.class_id().is_some() || n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
                w.push(
                    "linux.resources.network: cgroup v2 has no net_cls/net_prio controllers; \
                     ignored (as runc does)"
                        .into(),
                );
            }
        }
        if let Some(b) = r.block_io() {
            let leaf = b.leaf_weight().is_some_and(|v| v != 0)
                || b.weight_device()
                    .iter()
                    .flatten()
                    .any(|d| d.leaf_weight().is_some_and(|v| v != 0));
            if leaf {
                w.push(
                    "linux.resources.blockIO.leafWeight: cgroup v2 has no leaf weights; \
                     ignored (as runc does)"
                        .into(),
                );
            }
        }
        if let Some(c) = r.cpu() {
            for (f, set) in [
                (
                    "realtimeRuntime",
                    c.realtime_runtime().is_some_and(|v| v != 0),
                ),
                (
                    "realtimePeriod",
                    c.realtime_period().is_some_and(|v| v != 0),
                ),
            ] {
                if set {
                    return Err(CgroupError::Invalid {
                        field: format!("linux.resources.cpu.{f}"),
                        msg: "real-time bandwidth is not supported on cgroup v2".into(),
                    });
                }
            }
        }
        Ok(w)
    }

    fn freeze(&self) -> Result<(), CgroupError> {
        freezer::set_v2(self.dir()?, true, freezer::TIMEOUT)
    }

    fn thaw(&self) -> Result<(), CgroupError> {
        freezer::set_v2(self.dir()?, false, freezer::TIMEOUT)
    }

    fn is_frozen(&self) -> Result<bool, CgroupError> {
        freezer::is_frozen_v2(self.dir()?)
    }

    fn stats(&self) -> Result<stats::Stats, CgroupError> {
        stats::v2(
            self.dir()?,
            &stats::hugepage_sizes(Path::new(stats::HUGEPAGES_SYSFS)),
        )
    }

    fn oom_kills(&self) -> Result<u64, CgroupError> {
        let dir = self.dir()?;
        match fs::read(dir, "memory.events") {
            Ok(t) => Ok(super::v1::oom_kill_count(&t)),
            // The memory controller is not enabled for this cgroup: no OOM kills to report.
            Err(CgroupError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                Ok(0)
            }
            Err(e) => Err(e),
        }
    }
}

/// An `O_PATH|O_DIRECTORY|O_CLOEXEC` fd of `dir`, for `clone3(CLONE_INTO_CGROUP)` and
/// `BPF_PROG_ATTACH`.
fn open_dir(dir: &Path) -> Result<OwnedFd, CgroupError> {
    // Not std's OpenOptions: it masks custom flags with O_ACCMODE, which on musl includes
    // O_PATH (O_SEARCH), and the fd would be a plain read-only one.
    use nix::fcntl::OFlag;
    nix::fcntl::open(
        dir,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| CgroupError::Io {
        op: "open",
        path: dir.to_path_buf(),
        source: e.into(),
    })
}

#[cfg(test)]
pub(crate) fn open_dir_for_test(dir: &Path) -> OwnedFd {
    open_dir(dir).unwrap()
}

/// Create `dir` under the unified mount `root`, enabling in every ancestor's
/// `cgroup.subtree_control` the controllers that ancestor has, so they reach the new cgroup
/// (what runc's fs2 `CreateCgroupPath` does). A controller that cannot be enabled (delegation,
/// threaded subtree) is left out here; writing its limit later fails with a clear error.
pub(crate) fn create_dirs(root: &Path, dir: &Path) -> Result<(), CgroupError> {
    let rel = dir.strip_prefix(root).map_err(|_| {
        CgroupError::Unsupported(format!(
            "cgroup v2: {} is not under {}",
            dir.display(),
            root.display()
        ))
    })?;
    let mut created: Vec<PathBuf> = Vec::new();
    let res = (|| {
        let mut cur = root.to_path_buf();
        for comp in rel.components() {
            enable_controllers(&cur)?;
            cur.push(comp);
            created.extend(fs::mkdir_p(&cur)?);
            check_type(&cur)?;
        }
        Ok(())
    })();
    if res.is_err() {
        for d in created.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
    res
}

/// A cgroup below a parent that has processes of its own (or below a threaded subtree) is
/// "domain invalid": no process can join it and no domain controller works there. Say so
/// instead of failing later at `cgroup.procs` with a bare EOPNOTSUPP.
fn check_type(dir: &Path) -> Result<(), CgroupError> {
    match fs::read(dir, "cgroup.type") {
        Ok(t) if t.trim() == "domain invalid" => Err(CgroupError::Unsupported(format!(
            "cgroup v2: {} is \"domain invalid\" (its parent has processes of its own, or \
             is threaded); choose another linux.cgroupsPath",
            dir.display()
        ))),
        _ => Ok(()),
    }
}

fn enable_controllers(dir: &Path) -> Result<(), CgroupError> {
    let available = fs::read(dir, "cgroup.controllers")?;
    let enabled = fs::read(dir, "cgroup.subtree_control")?;
    let missing: Vec<&str> = available
        .split_whitespace()
        .filter(|c| !enabled.split_whitespace().any(|e| e == *c))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let all = missing
        .iter()
        .map(|c| format!("+{c}"))
        .collect::<Vec<_>>()
        .join(" ");
    if fs::write(None, dir, "cgroup.subtree_control", &all).is_err() {
        for c in missing {
            let _ = fs::write(None, dir, "cgroup.subtree_control", &format!("+{c}"));
        }
    }
    Ok(())
}

/// `0` is "not set", `-1` is "max" (runc's numToStr).
fn num(v: Option<i64>) -> Option<String> {
    match v {
        None | Some(0) => None,
        Some(n) if n < 0 => Some("max".into()),
        Some(n) => Some(n.to_string()),
    }
}

/// runc's conversion of v1 cpu.shares ([2, 262144]) to v2 cpu.weight ([1, 10000]).
pub(crate) fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        0
    } else {
        1 + ((shares.saturating_sub(2)) * 9999) / 262_142
    }
}

/// Every file limit of `r` except devices.
pub(crate) fn apply(dir: &Path, r: &LinuxResources) -> Result<(), CgroupError> {
    if let Some(c) = r.cpu() {
        if let Some(s) = c.cpus().as_deref().filter(|s| !s.trim().is_empty()) {
            fs::write(
                Some("linux.resources.cpu.cpus"),
                dir,
                "cpuset.cpus",
                s.trim(),
            )?;
        }
        if let Some(s) = c.mems().as_deref().filter(|s| !s.trim().is_empty()) {
            fs::write(
                Some("linux.resources.cpu.mems"),
                dir,
                "cpuset.mems",
                s.trim(),
            )?;
        }
    }
    if let Some(m) = r.memory() {
        set_memory(dir, m)?;
    }
    if let Some(c) = r.cpu() {
        set_cpu(dir, c)?;
    }
    if let Some(p) = r.pids() {
        if let Some(v) = num(Some(p.limit())) {
            fs::write(Some("linux.resources.pids.limit"), dir, "pids.max", &v)?;
        }
    }
    if let Some(b) = r.block_io().as_ref().filter(|b| blkio::is_set(b)) {
        blkio::set_v2(dir, b)?;
    }
    if let Some(h) = r.hugepage_limits() {
        hugetlb::set(dir, h, true)?;
    }
    if let Some(x) = r.rdma() {
        misc::set_rdma(dir, x)?;
    }
    // Last, so that a raw key overrides the converted value of the same file (runc's order).
    if let Some(u) = r.unified() {
        misc::set_unified(dir, u)?;
    }
    Ok(())
}

pub(crate) fn set_memory(dir: &Path, m: &LinuxMemory) -> Result<(), CgroupError> {
    let limit = m.limit().unwrap_or(0);
    let swap = m.swap().unwrap_or(0);
    if m.check_before_update() == Some(true) && limit > 0 {
        let usage = fs::read_u64(dir, "memory.current")?;
        if usage > limit as u64 {
            return Err(CgroupError::Invalid {
                field: "linux.resources.memory.checkBeforeUpdate".into(),
                msg: format!("the cgroup uses {usage} bytes, more than the new limit {limit}"),
            });
        }
    }
    // v1's swap is memory+swap; v2's memory.swap.max is swap alone (runc's
    // ConvertMemorySwapToCgroupV2Value). Unlimited memory with no swap word: unlimited swap.
    let swap_v2: Option<String> = if (limit == -1 && swap == 0) || swap == -1 {
        Some("max".into())
    } else if swap > 0 {
        // validate() guarantees limit > 0 and swap >= limit here.
        Some((swap - limit).to_string())
    } else {
        None
    };
    if let Some(v) = swap_v2 {
        match fs::write(
            Some("linux.resources.memory.swap"),
            dir,
            "memory.swap.max",
            &v,
        ) {
            // No swap accounting in this kernel: "max" or "0" ask for nothing it can't give
            // (runc tolerates exactly these).
            Err(CgroupError::Write { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound && (v == "max" || v == "0") => {}
            r => r?,
        }
    }
    if let Some(v) = num(Some(limit)) {
        fs::write(Some("linux.resources.memory.limit"), dir, "memory.max", &v)?;
    }
    if let Some(v) = num(m.reservation()) {
        fs::write(
            Some("linux.resources.memory.reservation"),
            dir,
            "memory.low",
            &v,
        )?;
    }
    Ok(())
}

pub(crate) fn set_cpu(dir: &Path, c: &LinuxCpu) -> Result<(), CgroupError> {
    if let Some(s) = c.shares().filter(|&s| s != 0) {
        fs::write(
            Some("linux.resources.cpu.shares"),
            dir,
            "cpu.weight",
            &shares_to_weight(s).to_string(),
        )?;
    }
    let quota = c.quota().unwrap_or(0);
    let period = c.period().unwrap_or(0);
    if quota != 0 || period != 0 {
        // "$QUOTA $PERIOD"; a lone quota keeps the current period.
        let mut v = if quota > 0 {
            quota.to_string()
        } else {
            "max".to_string()
        };
        if period != 0 {
            v = format!("{v} {period}");
        }
        fs::write(Some("linux.resources.cpu.quota"), dir, "cpu.max", &v)?;
    }
    if let Some(b) = c.burst().filter(|&b| b != 0) {
        fs::write(
            Some("linux.resources.cpu.burst"),
            dir,
            "cpu.max.burst",
            &b.to_string(),
        )?;
    }
    if let Some(i) = c.idle() {
        fs::write(
            Some("linux.resources.cpu.idle"),
            dir,
            "cpu.idle",
            &i.to_string(),
        )?;
    }
    Ok(())
}

/// Replace the device program of `dir` by one compiled from `st`: attach the new one first,
/// then detach the old ones, so there is no moment without a device policy.
pub(crate) fn set_devices(dir: &Path, st: &devices::DeviceState) -> Result<(), CgroupError> {
    let field = "linux.resources.devices";
    let bpf_err = |what: &str, source: std::io::Error| CgroupError::Invalid {
        field: field.into(),
        msg: format!(
            "{what} (cgroup v2 device eBPF program for {}): {source}",
            dir.display()
        ),
    };
    let cg = open_dir(dir)?;
    let old = crate::sys::cgroup::query_device_programs(cg.as_fd())
        .map_err(|e| bpf_err("bpf(BPF_PROG_QUERY, BPF_CGROUP_DEVICE)", e))?;
    let prog = crate::sys::cgroup::load_device_program(&devices::bpf_program(st), c"Apache-2.0")
        .map_err(|e| bpf_err("bpf(BPF_PROG_LOAD, BPF_PROG_TYPE_CGROUP_DEVICE)", e))?;
    crate::sys::cgroup::attach_device_program(cg.as_fd(), prog.as_fd()).map_err(|e| {
        bpf_err(
            "bpf(BPF_PROG_ATTACH, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI)",
            e,
        )
    })?;
    for id in old {
        let p = crate::sys::cgroup::program_by_id(id)
            .map_err(|e| bpf_err(&format!("bpf(BPF_PROG_GET_FD_BY_ID, {id})"), e))?;
        crate::sys::cgroup::detach_device_program(cg.as_fd(), p.as_fd())
            .map_err(|e| bpf_err(&format!("bpf(BPF_PROG_DETACH, prog id {id})"), e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{read, TempDir};
    use super::*;
    use oci_spec::runtime::{LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder};

    #[test]
    fn open_dir_gives_an_o_path_fd() {
        // CLONE_INTO_CGROUP and BPF_PROG_ATTACH take it; std's OpenOptions loses O_PATH on
        // musl, where O_ACCMODE includes it.
        let d = TempDir::new("v2-open-dir");
        let fd = open_dir(d.path()).unwrap();
        let fl = nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_GETFL).unwrap();
        assert_ne!(fl & libc::O_PATH, 0, "flags {fl:#o}");
    }

    #[test]
    fn weight_conversion_matches_runc() {
        assert_eq!(shares_to_weight(0), 0);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
    }

    #[test]
    fn files_written() {
        let t = TempDir::new("v2");
        let d = t.touch(
            "c",
            &[
                "memory.max",
                "memory.swap.max",
                "memory.low",
                "cpu.weight",
                "cpu.max",
                "cpu.max.burst",
                "cpuset.cpus",
                "cpuset.mems",
                "pids.max",
            ],
        );
        let r = LinuxResources::default();
        let mut r = r;
        r.set_memory(Some(
            LinuxMemoryBuilder::default()
                .limit(64 << 20)
                .swap(96 << 20)
                .reservation(16 << 20)
                .build()
                .unwrap(),
        ));
        r.set_cpu(Some(
            LinuxCpuBuilder::default()
                .shares(1024u64)
                .quota(50_000)
                .period(100_000u64)
                .burst(5000u64)
                .cpus("0")
                .mems("0")
                .build()
                .unwrap(),
        ));
        r.set_pids(Some(LinuxPidsBuilder::default().limit(-1).build().unwrap()));
        apply(&d, &r).unwrap();
        for (f, v) in [
            ("memory.max", (64u64 << 20).to_string()),
            ("memory.swap.max", (32u64 << 20).to_string()),
            ("memory.low", (16u64 << 20).to_string()),
            ("cpu.weight", "39".into()),
            ("cpu.max", "50000 100000".into()),
            ("cpu.max.burst", "5000".into()),
            ("cpuset.cpus", "0".into()),
            ("pids.max", "max".into()),
        ] {
            assert_eq!(read(&d, f), v, "{f}");
        }
    }

    #[test]
    fn memory_unlimited_tolerates_missing_swap_file() {
        let t = TempDir::new("v2");
        let d = t.touch("c", &["memory.max"]);
        set_memory(
            &d,
            &LinuxMemoryBuilder::default().limit(-1).build().unwrap(),
        )
        .unwrap();
        assert_eq!(read(&d, "memory.max"), "max");
        // ...but a real swap limit on a kernel without swap accounting is an error.
        let m = LinuxMemoryBuilder::default()
            .limit(1 << 20)
            .swap(2 << 20)
            .build()
            .unwrap();
        let e = set_memory(&d, &m).unwrap_err().to_string();
        assert!(e.starts_with("linux.resources.memory.swap: write "), "{e}");
    }

    #[test]
    fn quota_alone_and_unlimited() {
        let t = TempDir::new("v2");
        let d = t.touch("c", &["cpu.max"]);
        set_cpu(
            &d,
            &LinuxCpuBuilder::default().quota(20_000).build().unwrap(),
        )
        .unwrap();
        assert_eq!(read(&d, "cpu.max"), "20000");
        set_cpu(
            &d,
            &LinuxCpuBuilder::default()
                .quota(-1)
                .period(50_000u64)
                .build()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(read(&d, "cpu.max"), "max 50000");
    }

    #[test]
    fn create_enables_controllers_in_ancestors_only() {
        let t = TempDir::new("v2");
        let root = t.touch("", &["cgroup.controllers", "cgroup.subtree_control"]);
        std::fs::write(root.join("cgroup.controllers"), "cpu memory pids\n").unwrap();
        std::fs::write(root.join("cgroup.subtree_control"), "memory\n").unwrap();
        let mid = t.touch("husk", &["cgroup.controllers", "cgroup.subtree_control"]);
        std::fs::write(mid.join("cgroup.controllers"), "cpu memory\n").unwrap();
        create_dirs(&root, &root.join("husk/c1")).unwrap();
        assert_eq!(read(&root, "cgroup.subtree_control"), "+cpu +pids");
        assert_eq!(read(&mid, "cgroup.subtree_control"), "+cpu +memory");
        assert!(root.join("husk/c1").is_dir());
        assert!(!root.join("husk/c1/cgroup.subtree_control").exists());
    }

    #[test]
    fn domain_invalid_is_refused_clearly() {
        let t = TempDir::new("v2");
        let root = t.touch("", &["cgroup.controllers", "cgroup.subtree_control"]);
        let leaf = t.touch("c1", &["cgroup.type"]);
        std::fs::write(leaf.join("cgroup.type"), "domain invalid\n").unwrap();
        let e = create_dirs(&root, &leaf).unwrap_err().to_string();
        assert!(e.contains("\"domain invalid\""), "{e}");
    }

    #[test]
    fn failed_create_leaves_nothing() {
        let t = TempDir::new("v2");
        let root = t.touch("", &["cgroup.controllers", "cgroup.subtree_control"]);
        // The new intermediate directory has no cgroup.controllers (not a real cgroup): the
        // second level fails, and the first level made here is removed again.
        let e = create_dirs(&root, &root.join("a/b"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cgroup.controllers"), "{e}");
        assert!(!root.join("a").exists());
    }
}

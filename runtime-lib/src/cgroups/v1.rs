//! The cgroup v1 driver: one directory per mounted hierarchy (`memory`, `cpu,cpuacct`, ...,
//! and the `name=systemd` named hierarchy), each controller a function over its directory.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxCpu, LinuxMemory, LinuxResources};

use super::{
    blkio, devices, freezer, fs, hugetlb, misc, stats, validate, CgroupConfig, CgroupError,
    Manager, TasksFile,
};

/// The cgroup v1 manager.
pub(crate) struct V1Manager {
    config: CgroupConfig,
}

impl V1Manager {
    pub(crate) fn new(config: CgroupConfig) -> V1Manager {
        V1Manager { config }
    }

    fn dir(&self, subsystem: &str) -> Option<&Path> {
        self.config.dirs.get(subsystem).map(PathBuf::as_path)
    }

    /// Each directory once (co-mounted subsystems share one), cpuset first: a task can only
    /// join a cpuset cgroup whose cpus and mems are set, so it is prepared first.
    fn unique_dirs(&self) -> Vec<&Path> {
        let mut out: Vec<&Path> = Vec::new();
        for d in self
            .dir("cpuset")
            .into_iter()
            .chain(self.config.dirs.values().map(PathBuf::as_path))
        {
            if !out.contains(&d) {
                out.push(d);
            }
        }
        out
    }
}

impl Manager for V1Manager {
    fn config(&self) -> CgroupConfig {
        self.config.clone()
    }

    fn create(&self) -> Result<(), CgroupError> {
        let mut created: Vec<PathBuf> = Vec::new();
        let res = (|| {
            for d in self.unique_dirs() {
                created.extend(fs::mkdir_p(d)?);
            }
            if let Some(d) = self.dir("cpuset") {
                ensure_cpuset(d)?;
            }
            Ok(())
        })();
        if res.is_err() {
            // Leave nothing behind of a failed creation.
            for d in created.iter().rev() {
                let _ = std::fs::remove_dir(d);
            }
        }
        res
    }

    fn apply_resources(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        self.check_resources(r)?;
        if let (Some(d), Some(c)) = (self.dir("cpuset"), r.cpu()) {
            set_cpuset(d, c)?;
        }
        if let Some(d) = self.dir("devices") {
            let rules = devices::from_spec(r.devices().as_deref().unwrap_or_default())?;
            set_devices(d, &devices::effective(&rules))?;
        }
        if let (Some(d), Some(m)) = (self.dir("memory"), r.memory()) {
            set_memory(d, m)?;
        }
        if let (Some(d), Some(c)) = (self.dir("cpu"), r.cpu()) {
            set_cpu(d, c)?;
        }
        if let (Some(d), Some(p)) = (self.dir("pids"), r.pids()) {
            set_pids(d, p.limit())?;
        }
        if let (Some(d), Some(b)) = (self.dir("blkio"), r.block_io()) {
            blkio::set_v1(d, b)?;
        }
        if let (Some(d), Some(h)) = (self.dir("hugetlb"), r.hugepage_limits()) {
            hugetlb::set(d, h, false)?;
        }
        if let Some(n) = r.network() {
            if let Some(d) = self.dir("net_cls") {
                misc::set_classid(d, n)?;
            }
            if let Some(d) = self.dir("net_prio") {
                misc::set_priorities(d, n)?;
            }
        }
        if let (Some(d), Some(x)) = (self.dir("rdma"), r.rdma()) {
            misc::set_rdma(d, x)?;
        }
        Ok(())
    }

    fn add_process(&self, pid: i32) -> Result<(), CgroupError> {
        for d in self.unique_dirs() {
            fs::write(None, d, "cgroup.procs", &pid.to_string())?;
        }
        Ok(())
    }

    fn self_join_files(&self) -> Result<Vec<TasksFile>, CgroupError> {
        self.unique_dirs()
            .into_iter()
            .map(TasksFile::open)
            .collect()
    }

    fn clone_into_fd(&self) -> Result<Option<OwnedFd>, CgroupError> {
        Ok(None)
    }

    fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        let d = ["pids", "devices", "memory", "freezer"]
            .iter()
            .find_map(|s| self.dir(s))
            .or_else(|| self.config.dirs.values().next().map(PathBuf::as_path));
        match d {
            Some(d) => fs::procs_recursive(d),
            None => Ok(Vec::new()),
        }
    }

    fn destroy(&self) -> Result<(), CgroupError> {
        fs::remove_all(&self.unique_dirs())
    }

    fn check_resources(&self, r: &LinuxResources) -> Result<Vec<String>, CgroupError> {
        validate::validate(r)?;
        if r.unified().as_ref().is_some_and(|u| !u.is_empty()) {
            return Err(CgroupError::Invalid {
                field: "linux.resources.unified".into(),
                msg: "cgroup v2 unified resources cannot be used on a cgroup v1 host".into(),
            });
        }
        let mut w = validate::common_warnings(r);
        if r.memory().as_ref().and_then(|m| m.use_hierarchy()) == Some(false) {
            w.push(use_hierarchy_warning());
        }
        // A value for a controller whose hierarchy is not mounted cannot be set. runc 1.1
        // refuses it ("cannot set X limit: container could not join or create cgroup"), so
        // husk refuses it too, naming the field; a section that asks for nothing is fine.
        let cpu = r.cpu().as_ref();
        let wants = [
            (
                "memory",
                "memory",
                r.memory().as_ref().is_some_and(memory_fields_set),
            ),
            ("cpu", "cpu", cpu.is_some_and(cpu_fields_set)),
            (
                "cpu.cpus/mems",
                "cpuset",
                cpu.is_some_and(|c| {
                    [c.cpus(), c.mems()]
                        .iter()
                        .any(|v| v.as_deref().is_some_and(|s| !s.trim().is_empty()))
                }),
            ),
            ("pids", "pids", r.pids().is_some_and(|p| p.limit() != 0)),
            (
                "blockIO",
                "blkio",
                r.block_io().as_ref().is_some_and(blkio::is_set),
            ),
            (
                "hugepageLimits",
                "hugetlb",
                r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty()),
            ),
            (
                "network.classID",
                "net_cls",
                r.network()
                    .as_ref()
                    .is_some_and(|n| n.class_id().is_some_and(|c| c != 0)),
            ),
            (
                "network.priorities",
                "net_prio",
                r.network()
                    .as_ref()
                    .is_some_and(|n| n.priorities().as_ref().is_some_and(|p| !p.is_empty())),
            ),
            (
                "rdma",
                "rdma",
                r.rdma().as_ref().is_some_and(|x| !x.is_empty()),
            ),
        ];
        for (field, sub, wanted) in wants {
            if wanted && self.dir(sub).is_none() {
                return Err(CgroupError::Invalid {
                    field: format!("linux.resources.{field}"),
                    msg: format!(
                        "cannot set the limit: the cgroup v1 {sub} controller is not mounted \
                         on this host (runc refuses it too)"
                    ),
                });
            }
        }
        Ok(w)
    }

    fn freeze(&self) -> Result<(), CgroupError> {
        freezer::set_v1(self.freezer_dir()?, true, freezer::TIMEOUT)
    }

    fn thaw(&self) -> Result<(), CgroupError> {
        freezer::set_v1(self.freezer_dir()?, false, freezer::TIMEOUT)
    }

    fn is_frozen(&self) -> Result<bool, CgroupError> {
        freezer::is_frozen_v1(self.freezer_dir()?)
    }

    fn stats(&self) -> Result<stats::Stats, CgroupError> {
        let dirs = stats::V1Dirs {
            cpuacct: self.dir("cpuacct"),
            cpu: self.dir("cpu"),
            memory: self.dir("memory"),
            pids: self.dir("pids"),
            blkio: self.dir("blkio"),
            hugetlb: self.dir("hugetlb"),
            cpuset: self.dir("cpuset"),
        };
        stats::v1(
            &dirs,
            &stats::hugepage_sizes(Path::new(stats::HUGEPAGES_SYSFS)),
        )
    }

    fn oom_kills(&self) -> Result<u64, CgroupError> {
        let Some(d) = self.dir("memory") else {
            return Ok(0);
        };
        Ok(oom_kill_count(&fs::read(d, "memory.oom_control")?))
    }
}

impl V1Manager {
    fn freezer_dir(&self) -> Result<&Path, CgroupError> {
        self.dir("freezer").ok_or_else(|| {
            CgroupError::Unsupported(
                "cgroup v1: the freezer controller is not mounted; cannot pause or resume".into(),
            )
        })
    }
}

/// Whether `set_cpu` writes anything (0 means "not set", as in runc).
fn cpu_fields_set(c: &LinuxCpu) -> bool {
    c.shares().is_some_and(|v| v != 0)
        || c.quota().is_some_and(|v| v != 0)
        || c.period().is_some_and(|v| v != 0)
        || c.burst().is_some_and(|v| v != 0)
        || c.idle().is_some()
        || c.realtime_runtime().is_some_and(|v| v != 0)
        || c.realtime_period().is_some_and(|v| v != 0)
}

/// Whether `set_memory` writes anything.
fn memory_fields_set(m: &LinuxMemory) -> bool {
    [m.limit(), m.swap(), m.reservation()]
        .iter()
        .any(|v| v.is_some_and(|v| v != 0))
        || m.disable_oom_killer() == Some(true)
        || m.swappiness().is_some_and(|s| s <= 100)
        || m.use_hierarchy() == Some(true)
}

/// `useHierarchy: false` cannot be honoured: since Linux 5.11 memory is always accounted
/// hierarchically (v1 `memory.use_hierarchy` reads 1 and refuses 0; v2 has no such switch).
/// runc 1.1 ignores the field on both drivers; husk ignores it too, with this warning.
pub(crate) fn use_hierarchy_warning() -> String {
    "linux.resources.memory.useHierarchy: false cannot be honoured, this kernel always \
     accounts memory hierarchically; ignored (as runc does)"
        .into()
}

/// The `oom_kill` line of `memory.oom_control` (or `memory.events` on v2).
pub(crate) fn oom_kill_count(text: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// A new v1 cpuset cgroup starts with empty `cpuset.cpus` and `cpuset.mems`, and no task can
/// join it until both are set (ENOSPC). Fill every empty one from its parent, top down, as
/// runc's cpuset `ensureParent` does.
pub(crate) fn ensure_cpuset(dir: &Path) -> Result<(), CgroupError> {
    fill_cpuset(dir).map(|_| ())
}

/// [`ensure_cpuset`], returning the `cpuset.cpus` and `cpuset.mems` that `dir` ends with, so
/// that each file along the way is read once.
fn fill_cpuset(dir: &Path) -> Result<[String; 2], CgroupError> {
    const FILES: [&str; 2] = ["cpuset.cpus", "cpuset.mems"];
    let read =
        |f: &str| -> Result<String, CgroupError> { Ok(fs::read(dir, f)?.trim().to_string()) };
    let mut have = [read(FILES[0])?, read(FILES[1])?];
    if have.iter().all(|v| !v.is_empty()) {
        return Ok(have);
    }
    let parent = dir.parent().ok_or_else(|| CgroupError::Io {
        op: "read",
        path: dir.join("cpuset.cpus"),
        source: std::io::Error::new(std::io::ErrorKind::NotFound, "no parent cpuset to copy"),
    })?;
    let from = fill_cpuset(parent)?;
    for ((f, v), p) in FILES.iter().zip(&mut have).zip(from) {
        if v.is_empty() {
            fs::write(None, dir, f, &p)?;
            *v = p;
        }
    }
    Ok(have)
}

pub(crate) fn set_cpuset(dir: &Path, c: &LinuxCpu) -> Result<(), CgroupError> {
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
    Ok(())
}

pub(crate) fn set_devices(dir: &Path, st: &devices::DeviceState) -> Result<(), CgroupError> {
    // Writing the reset line (`a`) opens a window in which running processes lose even
    // /dev/null, and the kernel refuses it once the cgroup has children. So when the current
    // list can be read back (a default-deny list, which is what containers have), write only
    // the difference (nothing on an update that keeps the list).
    let cur = fs::read(dir, "devices.list")
        .ok()
        .and_then(|l| devices::parse_v1_list(&l));
    let writes = cur
        .and_then(|cur| devices::v1_transition(&cur, st))
        .unwrap_or_else(|| devices::v1_writes(st));
    for (file, line) in writes {
        fs::write(Some("linux.resources.devices"), dir, file, &line)?;
    }
    Ok(())
}

fn mem_write(dir: &Path, field: &str, file: &str, v: i64) -> Result<(), CgroupError> {
    match fs::write(Some(field), dir, file, &v.to_string()) {
        // EBUSY: the cgroup already uses more than the new limit (an update); say how much,
        // as runc does.
        Err(CgroupError::Write { source, .. })
            if source.raw_os_error() == Some(libc::EBUSY) && file == "memory.limit_in_bytes" =>
        {
            let usage = fs::read_u64(dir, "memory.usage_in_bytes")?;
            let peak = fs::read_u64(dir, "memory.max_usage_in_bytes")?;
            Err(CgroupError::Invalid {
                field: field.into(),
                msg: format!(
                    "unable to set memory limit to {v} (current usage: {usage}, peak usage: \
                     {peak})"
                ),
            })
        }
        r => r,
    }
}

pub(crate) fn set_memory(dir: &Path, m: &LinuxMemory) -> Result<(), CgroupError> {
    const LIMIT: &str = "memory.limit_in_bytes";
    const SWAP: &str = "memory.memsw.limit_in_bytes";
    const F_LIMIT: &str = "linux.resources.memory.limit";
    const F_SWAP: &str = "linux.resources.memory.swap";
    let limit = m.limit().unwrap_or(0);
    let mut swap = m.swap().unwrap_or(0);
    if m.check_before_update() == Some(true) && limit > 0 {
        let usage = fs::read_u64(dir, "memory.usage_in_bytes")?;
        if usage > limit as u64 {
            return Err(CgroupError::Invalid {
                field: "linux.resources.memory.checkBeforeUpdate".into(),
                msg: format!("the cgroup uses {usage} bytes, more than the new limit {limit}"),
            });
        }
    }
    // "Unlimited memory" with no word on swap means unlimited swap too (runc), where the
    // kernel accounts swap at all.
    if limit == -1 && swap == 0 && dir.join(SWAP).exists() {
        swap = -1;
    }
    // memsw must stay >= the memory limit at every step: raise memsw first when it grows
    // past the current limit, otherwise lower the limit first.
    if limit != 0 && swap != 0 {
        let cur = fs::read_u64(dir, LIMIT)?;
        if swap == -1 || cur < swap as u64 {
            mem_write(dir, F_SWAP, SWAP, swap)?;
            mem_write(dir, F_LIMIT, LIMIT, limit)?;
        } else {
            mem_write(dir, F_LIMIT, LIMIT, limit)?;
            mem_write(dir, F_SWAP, SWAP, swap)?;
        }
    } else {
        if limit != 0 {
            mem_write(dir, F_LIMIT, LIMIT, limit)?;
        }
        if swap != 0 {
            mem_write(dir, F_SWAP, SWAP, swap)?;
        }
    }
    if let Some(r) = m.reservation().filter(|&r| r != 0) {
        mem_write(
            dir,
            "linux.resources.memory.reservation",
            "memory.soft_limit_in_bytes",
            r,
        )?;
    }
    if m.disable_oom_killer() == Some(true) {
        fs::write(
            Some("linux.resources.memory.disableOOMKiller"),
            dir,
            "memory.oom_control",
            "1",
        )?;
    }
    if let Some(s) = m.swappiness().filter(|&s| s <= 100) {
        fs::write(
            Some("linux.resources.memory.swappiness"),
            dir,
            "memory.swappiness",
            &s.to_string(),
        )?;
    }
    // false is warned about and skipped (use_hierarchy_warning).
    if m.use_hierarchy() == Some(true) {
        fs::write(
            Some("linux.resources.memory.useHierarchy"),
            dir,
            "memory.use_hierarchy",
            "1",
        )?;
    }
    Ok(())
}

pub(crate) fn set_cpu(dir: &Path, c: &LinuxCpu) -> Result<(), CgroupError> {
    set_rt(dir, c)?;
    if let Some(shares) = c.shares().filter(|&s| s != 0) {
        fs::write(
            Some("linux.resources.cpu.shares"),
            dir,
            "cpu.shares",
            &shares.to_string(),
        )?;
    }
    let quota = c.quota().unwrap_or(0);
    let mut period_pending = None;
    if let Some(p) = c.period().filter(|&p| p != 0) {
        let v = p.to_string();
        match fs::write(
            Some("linux.resources.cpu.period"),
            dir,
            "cpu.cfs_period_us",
            &v,
        ) {
            Ok(()) => {}
            // A shorter period can make the OLD quota/period exceed the parent's bandwidth
            // (EINVAL); when a quota comes too, retry after writing it (as runc does).
            Err(CgroupError::Write { source, .. })
                if source.raw_os_error() == Some(libc::EINVAL) && quota != 0 =>
            {
                period_pending = Some(v)
            }
            Err(e) => return Err(e),
        }
    }
    if quota != 0 {
        fs::write(
            Some("linux.resources.cpu.quota"),
            dir,
            "cpu.cfs_quota_us",
            &quota.to_string(),
        )?;
        if let Some(v) = period_pending {
            fs::write(
                Some("linux.resources.cpu.period"),
                dir,
                "cpu.cfs_period_us",
                &v,
            )?;
        }
    }
    if let Some(b) = c.burst().filter(|&b| b != 0) {
        fs::write(
            Some("linux.resources.cpu.burst"),
            dir,
            "cpu.cfs_burst_us",
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

/// Real-time bandwidth, period before runtime. Must be in place before a task joins: a
/// SCHED_RR/FIFO task cannot join a cgroup with no real-time runtime.
fn set_rt(dir: &Path, c: &LinuxCpu) -> Result<(), CgroupError> {
    if let Some(p) = c.realtime_period().filter(|&p| p != 0) {
        fs::write(
            Some("linux.resources.cpu.realtimePeriod"),
            dir,
            "cpu.rt_period_us",
            &p.to_string(),
        )?;
    }
    if let Some(r) = c.realtime_runtime().filter(|&r| r != 0) {
        fs::write(
            Some("linux.resources.cpu.realtimeRuntime"),
            dir,
            "cpu.rt_runtime_us",
            &r.to_string(),
        )?;
    }
    Ok(())
}

/// `0` leaves the limit alone (runc); a negative value is "max".
pub(crate) fn set_pids(dir: &Path, limit: i64) -> Result<(), CgroupError> {
    if limit == 0 {
        return Ok(());
    }
    let v = if limit < 0 {
        "max".to_string()
    } else {
        limit.to_string()
    };
    fs::write(Some("linux.resources.pids.limit"), dir, "pids.max", &v)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{read, TempDir};
    use super::*;
    use oci_spec::runtime::{LinuxCpuBuilder, LinuxMemoryBuilder};

    const MEM_FILES: &[&str] = &[
        "memory.limit_in_bytes",
        "memory.memsw.limit_in_bytes",
        "memory.soft_limit_in_bytes",
        "memory.oom_control",
        "memory.swappiness",
        "memory.usage_in_bytes",
        "memory.max_usage_in_bytes",
        "memory.use_hierarchy",
    ];

    #[test]
    fn memory_files() {
        let t = TempDir::new("v1");
        let d = t.touch("m", MEM_FILES);
        std::fs::write(d.join("memory.limit_in_bytes"), "9223372036854771712").unwrap();
        let m = LinuxMemoryBuilder::default()
            .limit(64 << 20)
            .swap(96 << 20)
            .reservation(32 << 20)
            .swappiness(10u64)
            .disable_oom_killer(true)
            .build()
            .unwrap();
        set_memory(&d, &m).unwrap();
        assert_eq!(read(&d, "memory.limit_in_bytes"), (64u64 << 20).to_string());
        assert_eq!(
            read(&d, "memory.memsw.limit_in_bytes"),
            (96u64 << 20).to_string()
        );
        assert_eq!(
            read(&d, "memory.soft_limit_in_bytes"),
            (32u64 << 20).to_string()
        );
        assert_eq!(read(&d, "memory.swappiness"), "10");
        assert_eq!(read(&d, "memory.oom_control"), "1");
        assert_eq!(read(&d, "memory.use_hierarchy"), "");
    }

    #[test]
    fn memory_unlimited_sets_swap_unlimited() {
        let t = TempDir::new("v1");
        let d = t.touch("m", MEM_FILES);
        std::fs::write(d.join("memory.limit_in_bytes"), "1048576").unwrap();
        set_memory(
            &d,
            &LinuxMemoryBuilder::default().limit(-1).build().unwrap(),
        )
        .unwrap();
        assert_eq!(read(&d, "memory.limit_in_bytes"), "-1");
        assert_eq!(read(&d, "memory.memsw.limit_in_bytes"), "-1");
    }

    #[test]
    fn memory_check_before_update_refuses_a_limit_below_usage() {
        let t = TempDir::new("v1");
        let d = t.touch("m", MEM_FILES);
        std::fs::write(d.join("memory.usage_in_bytes"), "5000000").unwrap();
        let m = LinuxMemoryBuilder::default()
            .limit(1 << 20)
            .check_before_update(true)
            .build()
            .unwrap();
        let e = set_memory(&d, &m).unwrap_err().to_string();
        assert!(
            e.starts_with("linux.resources.memory.checkBeforeUpdate: "),
            "{e}"
        );
        assert_eq!(read(&d, "memory.limit_in_bytes"), "", "nothing written");
    }

    #[test]
    fn cpu_files() {
        let t = TempDir::new("v1");
        let d = t.touch(
            "c",
            &[
                "cpu.shares",
                "cpu.cfs_quota_us",
                "cpu.cfs_period_us",
                "cpu.cfs_burst_us",
                "cpu.idle",
                "cpu.rt_period_us",
                "cpu.rt_runtime_us",
            ],
        );
        let c = LinuxCpuBuilder::default()
            .shares(512u64)
            .quota(50_000)
            .period(200_000u64)
            .burst(1000u64)
            .realtime_period(500_000u64)
            .realtime_runtime(1000)
            .build()
            .unwrap();
        set_cpu(&d, &c).unwrap();
        for (f, v) in [
            ("cpu.shares", "512"),
            ("cpu.cfs_quota_us", "50000"),
            ("cpu.cfs_period_us", "200000"),
            ("cpu.cfs_burst_us", "1000"),
            ("cpu.rt_period_us", "500000"),
            ("cpu.rt_runtime_us", "1000"),
            ("cpu.idle", ""),
        ] {
            assert_eq!(read(&d, f), v, "{f}");
        }
    }

    #[test]
    fn cpuset_is_inherited_then_set() {
        let t = TempDir::new("v1");
        let root = t.touch("cpuset", &["cpuset.cpus", "cpuset.mems"]);
        std::fs::write(root.join("cpuset.cpus"), "0-3\n").unwrap();
        std::fs::write(root.join("cpuset.mems"), "0\n").unwrap();
        let mid = t.touch("cpuset/husk", &["cpuset.cpus", "cpuset.mems"]);
        let leaf = t.touch("cpuset/husk/c1", &["cpuset.cpus", "cpuset.mems"]);
        ensure_cpuset(&leaf).unwrap();
        assert_eq!(read(&mid, "cpuset.cpus"), "0-3");
        assert_eq!(read(&leaf, "cpuset.mems"), "0");
        let c = LinuxCpuBuilder::default().cpus("1").build().unwrap();
        set_cpuset(&leaf, &c).unwrap();
        assert_eq!(read(&leaf, "cpuset.cpus"), "1");
        assert_eq!(read(&leaf, "cpuset.mems"), "0");
    }

    #[test]
    fn pids_values() {
        let t = TempDir::new("v1");
        let d = t.touch("p", &["pids.max"]);
        set_pids(&d, 0).unwrap();
        assert_eq!(read(&d, "pids.max"), "");
        set_pids(&d, -1).unwrap();
        assert_eq!(read(&d, "pids.max"), "max");
        set_pids(&d, 42).unwrap();
        assert_eq!(read(&d, "pids.max"), "42");
    }

    #[test]
    fn missing_controller_file_is_an_error_naming_field_and_file() {
        let t = TempDir::new("v1");
        let d = t.touch("p", &[]);
        let e = set_pids(&d, 5).unwrap_err().to_string();
        assert!(e.starts_with("linux.resources.pids.limit: write "), "{e}");
        assert!(e.contains("pids.max \"5\""), "{e}");
    }

    #[test]
    fn unmounted_controller_is_refused_like_runc_and_use_hierarchy_false_warned() {
        let m = V1Manager::new(CgroupConfig {
            path: "/x".into(),
            unified: false,
            dirs: [(
                "devices".to_string(),
                PathBuf::from("/nonexistent/devices/x"),
            )]
            .into_iter()
            .collect(),
        });
        let r = |j: &str| -> LinuxResources { serde_json::from_str(j).unwrap() };
        for (j, field) in [
            (r#"{"memory":{"limit":1048576}}"#, "memory"),
            (r#"{"cpu":{"shares":512}}"#, "cpu"),
            (r#"{"cpu":{"cpus":"0"}}"#, "cpu.cpus/mems"),
            (r#"{"pids":{"limit":5}}"#, "pids"),
            (r#"{"network":{"classID":5}}"#, "network.classID"),
        ] {
            let e = m.check_resources(&r(j)).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("linux.resources.{field}: cannot set the limit: ")),
                "{e}"
            );
        }
        // Sections that ask for nothing (0 is "not set") need no controller.
        let w = m
            .check_resources(&r(
                r#"{"memory":{"limit":0},"cpu":{"shares":0,"cpus":""},"pids":{"limit":0},
                    "network":{"classID":0},"hugepageLimits":[],"rdma":{}}"#,
            ))
            .unwrap();
        assert!(w.is_empty(), "{w:?}");
        let m = V1Manager::new(CgroupConfig {
            path: "/x".into(),
            unified: false,
            dirs: [("memory".to_string(), PathBuf::from("/nonexistent/memory/x"))]
                .into_iter()
                .collect(),
        });
        let w = m
            .check_resources(&r(r#"{"memory":{"useHierarchy":false}}"#))
            .unwrap();
        assert_eq!(w.len(), 1);
        assert!(
            w[0].starts_with("linux.resources.memory.useHierarchy: "),
            "{w:?}"
        );
    }
}

//! Resource usage of a cgroup, for `events --stats`. The types serialise to the JSON shape of
//! runc's `types.Stats` (`cpu`, `memory`, `pids`, `blkio`, `hugetlb`), so the CLI can put them in runc's
//! `{"type":"stats","id":...,"data":...}` envelope as they are.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{fs, CgroupError};

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// Resource usage of a container's cgroup.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// CPU time and throttling.
    pub cpu: CpuStats,
    /// The cpuset in force (v1; all zero on v2, as runc 1.1 reports it).
    #[serde(default)]
    pub cpuset: CpuSetStats,
    /// Memory usage and limits.
    pub memory: MemoryStats,
    /// Process count and limit.
    pub pids: PidsStats,
    /// Block I/O counters.
    pub blkio: BlkioStats,
    /// Huge page usage per page size (`2MB`, `1GB`, ...).
    pub hugetlb: BTreeMap<String, HugetlbStats>,
}

/// The cpuset of the cgroup (runc's `CPUSet`, v1 `cpuset.*` files).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuSetStats {
    /// The CPUs (`cpuset.cpus` expanded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u16>,
    /// `cpuset.cpu_exclusive`.
    #[serde(default)]
    pub cpu_exclusive: u64,
    /// The memory nodes (`cpuset.mems` expanded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mems: Vec<u16>,
    /// `cpuset.mem_hardwall`.
    #[serde(default)]
    pub mem_hardwall: u64,
    /// `cpuset.mem_exclusive`.
    #[serde(default)]
    pub mem_exclusive: u64,
    /// `cpuset.memory_migrate`.
    #[serde(default)]
    pub memory_migrate: u64,
    /// `cpuset.memory_spread_page`.
    #[serde(default)]
    pub memory_spread_page: u64,
    /// `cpuset.memory_spread_slab`.
    #[serde(default)]
    pub memory_spread_slab: u64,
    /// `cpuset.memory_pressure`.
    #[serde(default)]
    pub memory_pressure: u64,
    /// `cpuset.sched_load_balance`.
    #[serde(default)]
    pub sched_load_balance: u64,
    /// `cpuset.sched_relax_domain_level` (-1: the system default).
    #[serde(default)]
    pub sched_relax_domain_level: i64,
}

/// v1 cpuset statistics of `d` (runc's shape: lists expanded to numbers).
fn cpuset_v1(d: &Path) -> Result<CpuSetStats, CgroupError> {
    let list = |f: &str| -> Result<Vec<u16>, CgroupError> {
        let text = match fs::read(d, f) {
            Ok(t) => t,
            Err(CgroupError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                return Ok(Vec::new())
            }
            Err(e) => return Err(e),
        };
        if text.trim().is_empty() {
            return Ok(Vec::new());
        }
        let ranges = fs::parse_cpuset_list(&text).map_err(|msg| CgroupError::Io {
            op: "parse",
            path: d.join(f),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, msg),
        })?;
        Ok(ranges
            .into_iter()
            .flat_map(|(a, b)| a..=b)
            .filter_map(|n| u16::try_from(n).ok())
            .collect())
    };
    let level = fs::read(d, "cpuset.sched_relax_domain_level")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0);
    Ok(CpuSetStats {
        cpus: list("cpuset.cpus")?,
        cpu_exclusive: num(d, "cpuset.cpu_exclusive")?,
        mems: list("cpuset.mems")?,
        mem_hardwall: num(d, "cpuset.mem_hardwall")?,
        mem_exclusive: num(d, "cpuset.mem_exclusive")?,
        memory_migrate: num(d, "cpuset.memory_migrate")?,
        memory_spread_page: num(d, "cpuset.memory_spread_page")?,
        memory_spread_slab: num(d, "cpuset.memory_spread_slab")?,
        memory_pressure: num(d, "cpuset.memory_pressure")?,
        sched_load_balance: num(d, "cpuset.sched_load_balance")?,
        sched_relax_domain_level: level,
    })
}

/// Block I/O counters per device and operation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlkioStats {
    /// Bytes transferred.
    #[serde(
        rename = "ioServiceBytesRecursive",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    /// Operations done.
    #[serde(
        rename = "ioServicedRecursive",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub io_serviced_recursive: Vec<BlkioEntry>,
}

/// One block I/O counter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlkioEntry {
    /// Device major number.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub major: u64,
    /// Device minor number.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub minor: u64,
    /// `Read`, `Write`, `Sync`, `Async`, `Discard`, ...
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub op: String,
    /// The counter.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub value: u64,
}

/// Huge page usage of one page size (bytes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HugetlbStats {
    /// Current usage.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub usage: u64,
    /// Peak usage (v1 only).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max: u64,
    /// How many times the limit was hit.
    pub failcnt: u64,
}

/// CPU statistics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuStats {
    /// CPU time used.
    pub usage: CpuUsage,
    /// CFS bandwidth throttling.
    pub throttling: Throttling,
}

/// CPU time used, in nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuUsage {
    /// Total CPU time.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub total: u64,
    /// Total CPU time per CPU (v1 only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    /// Kernel-mode CPU time per CPU (v1 `cpuacct.usage_all`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    /// User-mode CPU time per CPU (v1 `cpuacct.usage_all`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    /// Time in kernel mode.
    pub kernel: u64,
    /// Time in user mode.
    pub user: u64,
}

/// CFS bandwidth throttling counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Throttling {
    /// Enforcement periods that elapsed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub periods: u64,
    /// Periods in which the cgroup was throttled (runc's JSON name: `throttledPeriods`).
    #[serde(rename = "throttledPeriods", default, skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    /// Total time throttled, in nanoseconds.
    #[serde(rename = "throttledTime", default, skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

/// One memory counter set (bytes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryEntry {
    /// The limit (`u64::MAX`-like large values mean none).
    pub limit: u64,
    /// Current usage.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub usage: u64,
    /// Peak usage.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max: u64,
    /// How many times the limit was hit.
    pub failcnt: u64,
}

/// Memory statistics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryStats {
    /// Page cache (v1 `cache`, v2 `file` of memory.stat).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cache: u64,
    /// Memory.
    pub usage: MemoryEntry,
    /// Memory plus swap (as on v1; v2 values are converted to that meaning, as runc does).
    pub swap: MemoryEntry,
    /// Kernel memory (v1 only).
    pub kernel: MemoryEntry,
    /// Kernel TCP buffers (v1 only).
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    /// The raw `memory.stat` counters.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

/// Process statistics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PidsStats {
    /// Processes and threads in the cgroup.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub current: u64,
    /// The limit; 0 when there is none (runc).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub limit: u64,
}

/// A number file; absent (older kernel, controller not there) reads as 0.
fn num(dir: &Path, file: &str) -> Result<u64, CgroupError> {
    match fs::read_u64(dir, file) {
        Err(CgroupError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Ok(0)
        }
        r => r,
    }
}

/// A flat-keyed file (`key value` lines); absent reads as empty.
fn keyed(dir: &Path, file: &str) -> Result<BTreeMap<String, u64>, CgroupError> {
    let text = match fs::read(dir, file) {
        Ok(t) => t,
        Err(CgroupError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Ok(BTreeMap::new())
        }
        Err(e) => return Err(e),
    };
    Ok(text
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect())
}

/// `pids.max` as runc reports it: "max" is 0.
fn pids_limit(dir: &Path) -> Result<u64, CgroupError> {
    Ok(match num(dir, "pids.max")? {
        u64::MAX => 0,
        n => n,
    })
}

/// Parse v1 blkio lines `MAJ:MIN Op Value` (the `Total` line is skipped).
fn blkio_entries(text: &str) -> Vec<BlkioEntry> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let (ma, mi) = it.next()?.split_once(':')?;
            Some(BlkioEntry {
                major: ma.parse().ok()?,
                minor: mi.parse().ok()?,
                op: it.next()?.to_string(),
                value: it.next()?.parse().ok()?,
            })
        })
        .collect()
}

/// v1 blkio counters: CFQ's files when the kernel has them, else BFQ's, else the throttle
/// layer's (runc's order).
fn blkio_v1(d: &Path) -> Result<BlkioStats, CgroupError> {
    let prefix = ["blkio.", "blkio.bfq.", "blkio.throttle."]
        .into_iter()
        .find(|p| d.join(format!("{p}io_serviced_recursive")).exists());
    let Some(p) = prefix else {
        return Ok(BlkioStats::default());
    };
    Ok(BlkioStats {
        io_service_bytes_recursive: blkio_entries(&fs::read(
            d,
            &format!("{p}io_service_bytes_recursive"),
        )?),
        io_serviced_recursive: blkio_entries(&fs::read(d, &format!("{p}io_serviced_recursive"))?),
    })
}

/// v2 `io.stat` (`MAJ:MIN rbytes=.. wbytes=.. rios=.. wios=.. dbytes=.. dios=..`) in v1's
/// shape, as runc converts it.
fn blkio_v2(d: &Path) -> Result<BlkioStats, CgroupError> {
    let text = match fs::read(d, "io.stat") {
        Ok(t) => t,
        Err(CgroupError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Ok(BlkioStats::default())
        }
        Err(e) => return Err(e),
    };
    let mut s = BlkioStats::default();
    for l in text.lines() {
        let mut it = l.split_whitespace();
        let Some((ma, mi)) = it.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (ma.parse(), mi.parse()) else {
            continue;
        };
        for kv in it {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let Ok(value) = v.parse() else { continue };
            let (list, op) = match k {
                "rbytes" => (&mut s.io_service_bytes_recursive, "Read"),
                "wbytes" => (&mut s.io_service_bytes_recursive, "Write"),
                "dbytes" => (&mut s.io_service_bytes_recursive, "Discard"),
                "rios" => (&mut s.io_serviced_recursive, "Read"),
                "wios" => (&mut s.io_serviced_recursive, "Write"),
                "dios" => (&mut s.io_serviced_recursive, "Discard"),
                _ => continue,
            };
            list.push(BlkioEntry {
                major,
                minor,
                op: op.into(),
                value,
            });
        }
    }
    Ok(s)
}

/// The huge page sizes of this machine as cgroup file names use them (`2MB`, `1GB`), from
/// the `hugepages-2048kB` entries of /sys/kernel/mm/hugepages.
pub(crate) fn hugepage_sizes(sysfs_dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(sysfs_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let kb: u64 = name
                .strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .parse()
                .ok()?;
            Some(if kb >= 1 << 20 && kb % (1 << 20) == 0 {
                format!("{}GB", kb >> 20)
            } else if kb >= 1 << 10 && kb % (1 << 10) == 0 {
                format!("{}MB", kb >> 10)
            } else {
                format!("{kb}KB")
            })
        })
        .collect();
    out.sort();
    out
}

/// Huge page usage of `dir` for each of `sizes` whose files exist.
fn hugetlb(
    dir: &Path,
    sizes: &[String],
    v2: bool,
) -> Result<BTreeMap<String, HugetlbStats>, CgroupError> {
    let mut out = BTreeMap::new();
    for size in sizes {
        let p = format!("hugetlb.{size}");
        let st = if v2 {
            if !dir.join(format!("{p}.current")).exists() {
                continue;
            }
            HugetlbStats {
                usage: num(dir, &format!("{p}.current"))?,
                max: 0,
                failcnt: keyed(dir, &format!("{p}.events"))?
                    .get("max")
                    .copied()
                    .unwrap_or(0),
            }
        } else {
            if !dir.join(format!("{p}.usage_in_bytes")).exists() {
                continue;
            }
            HugetlbStats {
                usage: num(dir, &format!("{p}.usage_in_bytes"))?,
                max: num(dir, &format!("{p}.max_usage_in_bytes"))?,
                failcnt: num(dir, &format!("{p}.failcnt"))?,
            }
        };
        out.insert(size.clone(), st);
    }
    Ok(out)
}

/// Where the kernel lists the huge page sizes.
pub(crate) const HUGEPAGES_SYSFS: &str = "/sys/kernel/mm/hugepages";

/// USER_HZ, the unit of v1 `cpuacct.stat` (fixed at 100 on Linux for user space).
const USER_HZ: u64 = 100;

/// The v1 directories statistics are read from (any may be missing).
pub(crate) struct V1Dirs<'a> {
    pub cpuacct: Option<&'a Path>,
    pub cpu: Option<&'a Path>,
    pub memory: Option<&'a Path>,
    pub pids: Option<&'a Path>,
    pub blkio: Option<&'a Path>,
    pub hugetlb: Option<&'a Path>,
    pub cpuset: Option<&'a Path>,
}

/// v1 statistics; `sizes` are the machine's huge page sizes.
pub(crate) fn v1(dirs: &V1Dirs<'_>, sizes: &[String]) -> Result<Stats, CgroupError> {
    let V1Dirs {
        cpuacct,
        cpu,
        memory,
        pids,
        blkio,
        hugetlb: huge,
        cpuset,
    } = *dirs;
    let mut s = Stats::default();
    if let Some(d) = cpuset {
        s.cpuset = cpuset_v1(d)?;
    }
    if let Some(d) = blkio {
        s.blkio = blkio_v1(d)?;
    }
    if let Some(d) = huge {
        s.hugetlb = hugetlb(d, sizes, false)?;
    }
    if let Some(d) = cpuacct {
        s.cpu.usage.total = num(d, "cpuacct.usage")?;
        if let Ok(t) = fs::read(d, "cpuacct.usage_percpu") {
            s.cpu.usage.percpu = t
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
        }
        // `cpu user system` header, then one `CPU USER_NS SYSTEM_NS` line per CPU.
        if let Ok(t) = fs::read(d, "cpuacct.usage_all") {
            for l in t.lines().skip(1) {
                let v: Vec<u64> = l
                    .split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect();
                if let [_, user, system] = v[..] {
                    s.cpu.usage.percpu_user.push(user);
                    s.cpu.usage.percpu_kernel.push(system);
                }
            }
        }
        let st = keyed(d, "cpuacct.stat")?;
        let ns = |k: &str| st.get(k).copied().unwrap_or(0) * (1_000_000_000 / USER_HZ);
        s.cpu.usage.user = ns("user");
        s.cpu.usage.kernel = ns("system");
    }
    if let Some(d) = cpu {
        let st = keyed(d, "cpu.stat")?;
        let g = |k: &str| st.get(k).copied().unwrap_or(0);
        s.cpu.throttling = Throttling {
            periods: g("nr_periods"),
            throttled_periods: g("nr_throttled"),
            throttled_time: g("throttled_time"),
        };
    }
    if let Some(d) = memory {
        let entry = |prefix: &str| -> Result<MemoryEntry, CgroupError> {
            Ok(MemoryEntry {
                limit: num(d, &format!("{prefix}.limit_in_bytes"))?,
                usage: num(d, &format!("{prefix}.usage_in_bytes"))?,
                max: num(d, &format!("{prefix}.max_usage_in_bytes"))?,
                failcnt: num(d, &format!("{prefix}.failcnt"))?,
            })
        };
        s.memory.usage = entry("memory")?;
        s.memory.swap = entry("memory.memsw")?;
        s.memory.kernel = entry("memory.kmem")?;
        s.memory.kernel_tcp = entry("memory.kmem.tcp")?;
        s.memory.raw = keyed(d, "memory.stat")?;
        s.memory.cache = s.memory.raw.get("cache").copied().unwrap_or(0);
    }
    if let Some(d) = pids {
        s.pids.current = num(d, "pids.current")?;
        s.pids.limit = pids_limit(d)?;
    }
    Ok(s)
}

/// v2 statistics of `dir`; `sizes` are the machine's huge page sizes.
pub(crate) fn v2(dir: &Path, sizes: &[String]) -> Result<Stats, CgroupError> {
    let mut s = Stats {
        blkio: blkio_v2(dir)?,
        hugetlb: hugetlb(dir, sizes, true)?,
        ..Stats::default()
    };
    let cpu = keyed(dir, "cpu.stat")?;
    let g = |k: &str| cpu.get(k).copied().unwrap_or(0);
    s.cpu.usage.total = g("usage_usec") * 1000;
    s.cpu.usage.user = g("user_usec") * 1000;
    s.cpu.usage.kernel = g("system_usec") * 1000;
    s.cpu.throttling = Throttling {
        periods: g("nr_periods"),
        throttled_periods: g("nr_throttled"),
        throttled_time: g("throttled_usec") * 1000,
    };
    let events = keyed(dir, "memory.events")?;
    s.memory.usage = MemoryEntry {
        limit: num(dir, "memory.max")?,
        usage: num(dir, "memory.current")?,
        max: num(dir, "memory.peak")?,
        failcnt: events.get("max").copied().unwrap_or(0),
    };
    // v1's "swap" is memory+swap; runc converts v2's swap-only numbers to that meaning.
    let swap_usage = num(dir, "memory.swap.current")?;
    let swap_limit = num(dir, "memory.swap.max")?;
    s.memory.swap = MemoryEntry {
        limit: if swap_limit == u64::MAX || s.memory.usage.limit == u64::MAX {
            u64::MAX
        } else {
            swap_limit + s.memory.usage.limit
        },
        usage: swap_usage + s.memory.usage.usage,
        max: 0,
        failcnt: 0,
    };
    s.memory.raw = keyed(dir, "memory.stat")?;
    s.memory.cache = s.memory.raw.get("file").copied().unwrap_or(0);
    s.pids.current = num(dir, "pids.current")?;
    s.pids.limit = pids_limit(dir)?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::TempDir;
    use super::*;

    fn put(d: &Path, f: &str, v: &str) {
        std::fs::write(d.join(f), v).unwrap();
    }

    #[test]
    fn v1_reads_and_converts() {
        let t = TempDir::new("st");
        let acct = t.touch("cpuacct", &[]);
        put(&acct, "cpuacct.usage", "5000\n");
        put(&acct, "cpuacct.usage_percpu", "3000 2000 \n");
        put(&acct, "cpuacct.stat", "user 3\nsystem 1\n");
        let cpu = t.touch("cpu", &[]);
        put(
            &cpu,
            "cpu.stat",
            "nr_periods 10\nnr_throttled 4\nthrottled_time 777\n",
        );
        let mem = t.touch("memory", &[]);
        put(&mem, "memory.usage_in_bytes", "4096\n");
        put(&mem, "memory.limit_in_bytes", "8192\n");
        put(&mem, "memory.failcnt", "2\n");
        put(&mem, "memory.stat", "cache 100\nrss 200\n");
        let pids = t.touch("pids", &[]);
        put(&pids, "pids.current", "3\n");
        put(&pids, "pids.max", "max\n");
        let blk = t.touch("blkio", &[]);
        put(
            &blk,
            "blkio.throttle.io_service_bytes_recursive",
            "8:0 Read 512\n8:0 Write 1024\nTotal 1536\n",
        );
        put(
            &blk,
            "blkio.throttle.io_serviced_recursive",
            "8:0 Read 1\n8:0 Write 2\nTotal 3\n",
        );
        let huge = t.touch("hugetlb", &[]);
        put(&huge, "hugetlb.2MB.usage_in_bytes", "2097152\n");
        put(&huge, "hugetlb.2MB.max_usage_in_bytes", "4194304\n");
        put(&huge, "hugetlb.2MB.failcnt", "1\n");
        let dirs = V1Dirs {
            cpuacct: Some(&acct),
            cpu: Some(&cpu),
            memory: Some(&mem),
            pids: Some(&pids),
            blkio: Some(&blk),
            hugetlb: Some(&huge),
            cpuset: None,
        };
        let s = v1(&dirs, &["1GB".to_string(), "2MB".to_string()]).unwrap();
        assert_eq!(s.blkio.io_service_bytes_recursive.len(), 2);
        assert_eq!(s.blkio.io_serviced_recursive[1].op, "Write");
        assert_eq!(s.blkio.io_serviced_recursive[1].value, 2);
        assert_eq!(s.hugetlb.len(), 1, "no 1GB files: no entry");
        assert_eq!(s.hugetlb["2MB"].max, 4194304);
        assert_eq!(s.cpu.usage.total, 5000);
        assert_eq!(s.cpu.usage.percpu, vec![3000, 2000]);
        assert_eq!(s.cpu.usage.user, 30_000_000);
        assert_eq!(s.cpu.usage.kernel, 10_000_000);
        assert_eq!(s.cpu.throttling.throttled_periods, 4);
        assert_eq!(s.memory.usage.usage, 4096);
        assert_eq!(s.memory.usage.limit, 8192);
        assert_eq!(s.memory.usage.failcnt, 2);
        assert_eq!(s.memory.cache, 100);
        assert_eq!(s.memory.swap, MemoryEntry::default());
        assert_eq!(s.pids.current, 3);
        assert_eq!(s.pids.limit, 0);
        // runc's JSON field names.
        let j = serde_json::to_value(&s).unwrap();
        // runc's names (types.Throttling): camelCase, unlike the other counters.
        assert_eq!(j["cpu"]["throttling"]["throttledTime"], 777);
        assert_eq!(j["cpu"]["throttling"]["throttledPeriods"], 4);
        assert_eq!(j["memory"]["usage"]["failcnt"], 2);
        assert!(j["memory"].get("kernelTCP").is_some());
        assert!(j["pids"].get("limit").is_none());
    }

    #[test]
    fn hugepage_size_names() {
        let t = TempDir::new("st");
        for n in [
            "hugepages-2048kB",
            "hugepages-1048576kB",
            "hugepages-64kB",
            "other",
        ] {
            t.touch(n, &[]);
        }
        assert_eq!(hugepage_sizes(t.path()), ["1GB", "2MB", "64KB"]);
    }

    #[test]
    fn v2_reads_and_converts() {
        let t = TempDir::new("st");
        let d = t.touch("c", &[]);
        put(
            &d,
            "cpu.stat",
            "usage_usec 7\nuser_usec 5\nsystem_usec 2\nnr_periods 3\n",
        );
        put(&d, "memory.current", "1000\n");
        put(&d, "memory.max", "4000\n");
        put(
            &d,
            "memory.events",
            "low 0\nhigh 0\nmax 6\noom 1\noom_kill 1\n",
        );
        put(&d, "memory.swap.current", "10\n");
        put(&d, "memory.swap.max", "max\n");
        put(&d, "memory.stat", "anon 5\nfile 9\n");
        put(&d, "pids.current", "2\n");
        put(&d, "pids.max", "50\n");
        put(
            &d,
            "io.stat",
            "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n",
        );
        put(&d, "hugetlb.2MB.current", "0\n");
        put(&d, "hugetlb.2MB.events", "max 3\n");
        let s = v2(&d, &["2MB".to_string()]).unwrap();
        let bytes = &s.blkio.io_service_bytes_recursive;
        assert_eq!((bytes[1].op.as_str(), bytes[1].value), ("Write", 200));
        assert_eq!(s.blkio.io_serviced_recursive[0].value, 1);
        assert_eq!(s.hugetlb["2MB"].failcnt, 3);
        let j = serde_json::to_value(&s).unwrap();
        assert_eq!(j["blkio"]["ioServiceBytesRecursive"][0]["op"], "Read");
        assert_eq!(s.cpu.usage.total, 7000);
        assert_eq!(s.cpu.usage.kernel, 2000);
        assert_eq!(s.cpu.throttling.periods, 3);
        assert_eq!(s.memory.usage.limit, 4000);
        assert_eq!(s.memory.usage.max, 0, "no memory.peak on this kernel");
        assert_eq!(s.memory.usage.failcnt, 6);
        assert_eq!(s.memory.swap.usage, 1010);
        assert_eq!(s.memory.swap.limit, u64::MAX);
        assert_eq!(s.memory.cache, 9);
        assert_eq!(s.pids.limit, 50);
    }
}

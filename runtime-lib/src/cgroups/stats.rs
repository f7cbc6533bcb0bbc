//! Resource usage of a cgroup, for `events --stats`. The types serialise to the JSON shape of
//! runc's `types.Stats` (`cpu`, `memory`, `pids` parts), so the CLI can put them in runc's
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
    /// Memory usage and limits.
    pub memory: MemoryStats,
    /// Process count and limit.
    pub pids: PidsStats,
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
    /// Periods in which the cgroup was throttled.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    /// Total time throttled, in nanoseconds.
    #[serde(default, skip_serializing_if = "is_zero")]
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

/// USER_HZ, the unit of v1 `cpuacct.stat` (fixed at 100 on Linux for user space).
const USER_HZ: u64 = 100;

/// v1 statistics from the cpuacct, cpu, memory and pids directories (any may be missing).
pub(crate) fn v1(
    cpuacct: Option<&Path>,
    cpu: Option<&Path>,
    memory: Option<&Path>,
    pids: Option<&Path>,
) -> Result<Stats, CgroupError> {
    let mut s = Stats::default();
    if let Some(d) = cpuacct {
        s.cpu.usage.total = num(d, "cpuacct.usage")?;
        if let Ok(t) = fs::read(d, "cpuacct.usage_percpu") {
            s.cpu.usage.percpu = t
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
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

/// v2 statistics of `dir`.
pub(crate) fn v2(dir: &Path) -> Result<Stats, CgroupError> {
    let mut s = Stats::default();
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
        let s = v1(Some(&acct), Some(&cpu), Some(&mem), Some(&pids)).unwrap();
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
        assert_eq!(j["cpu"]["throttling"]["throttled_time"], 777);
        assert_eq!(j["memory"]["usage"]["failcnt"], 2);
        assert!(j["memory"].get("kernelTCP").is_some());
        assert!(j["pids"].get("limit").is_none());
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
        let s = v2(&d).unwrap();
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

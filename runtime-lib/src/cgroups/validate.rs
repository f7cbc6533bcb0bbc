//! Host-independent checks of `linux.resources`. Every error names the field.
//!
//! Conventions taken from runc (what engines send it): `0` means "not set" for memory, cpu
//! and pids numbers, `-1` means "unlimited".

use oci_spec::runtime::{LinuxCpu, LinuxMemory, LinuxResources};

use super::{blkio, devices, fs, hugetlb, misc, CgroupError};

fn invalid(field: &str, msg: impl Into<String>) -> CgroupError {
    CgroupError::Invalid {
        field: format!("linux.resources.{field}"),
        msg: msg.into(),
    }
}

/// Check `linux.resources` before anything is created. Errors name the offending field.
///
/// Pure: it does not look at the host; [`super::Manager::check_resources`] adds what the
/// host's driver cannot honour.
///
/// # Errors
/// A field that is invalid, or that husk cannot honour on this host.
///
/// ```
/// use oci_spec::runtime::{LinuxMemoryBuilder, LinuxResourcesBuilder};
/// let r = LinuxResourcesBuilder::default()
///     .memory(LinuxMemoryBuilder::default().limit(-5).build().unwrap())
///     .build()
///     .unwrap();
/// let e = husk::cgroups::validate(&r).unwrap_err();
/// assert!(e.to_string().starts_with("linux.resources.memory.limit: "));
/// ```
pub fn validate(resources: &LinuxResources) -> Result<(), CgroupError> {
    if let Some(d) = resources.devices() {
        devices::from_spec(d)?;
    }
    if let Some(m) = resources.memory() {
        memory(m)?;
    }
    if let Some(c) = resources.cpu() {
        cpu(c)?;
    }
    if let Some(p) = resources.pids() {
        if p.limit() < -1 {
            return Err(invalid(
                "pids.limit",
                format!("{} is negative (use -1 for unlimited)", p.limit()),
            ));
        }
    }
    if let Some(b) = resources.block_io() {
        blkio::validate(b)?;
    }
    if let Some(h) = resources.hugepage_limits() {
        hugetlb::validate(h)?;
    }
    if let Some(n) = resources.network() {
        misc::validate_network(n)?;
    }
    if let Some(r) = resources.rdma() {
        misc::validate_rdma(r)?;
    }
    if let Some(u) = resources.unified() {
        misc::validate_unified(u)?;
    }
    Ok(())
}

fn limit_value(field: &str, v: Option<i64>) -> Result<(), CgroupError> {
    match v {
        Some(n) if n < -1 => Err(invalid(
            field,
            format!("{n} is negative (use -1 for unlimited)"),
        )),
        _ => Ok(()),
    }
}

fn memory(m: &LinuxMemory) -> Result<(), CgroupError> {
    limit_value("memory.limit", m.limit())?;
    limit_value("memory.reservation", m.reservation())?;
    limit_value("memory.swap", m.swap())?;
    if let Some(swap) = m.swap().filter(|&s| s > 0) {
        // Both drivers need the memory limit: v1 memsw.limit_in_bytes counts memory plus
        // swap and must be >= memory.limit_in_bytes; v2 memory.swap.max is swap - limit.
        match m.limit() {
            Some(l) if l > 0 => {
                if swap < l {
                    return Err(invalid(
                        "memory.swap",
                        format!(
                            "{swap} is below memory.limit {l} (swap is memory+swap, so it must \
                             be >= the memory limit)"
                        ),
                    ));
                }
            }
            _ => {
                return Err(invalid(
                    "memory.swap",
                    "a swap limit needs a memory limit (linux.resources.memory.limit)",
                ))
            }
        }
    }
    if let Some(s) = m.swappiness() {
        // -1 read as u64 (Go's runc treats -1 as "unset"); the kernel takes 0..=100.
        if s > 100 && s != u64::MAX {
            return Err(invalid(
                "memory.swappiness",
                format!("{s} is out of range (0 to 100)"),
            ));
        }
    }
    Ok(())
}

fn cpu(c: &LinuxCpu) -> Result<(), CgroupError> {
    if let Some(s) = c.shares().filter(|&s| s != 0) {
        // The kernel clamps cpu.shares to [2, 262144]; runc reports a clamped value as an
        // error, so refuse it up front.
        if !(2..=262_144).contains(&s) {
            return Err(invalid(
                "cpu.shares",
                format!("{s} is out of range (2 to 262144)"),
            ));
        }
    }
    if let Some(q) = c.quota() {
        // The kernel refuses a quota under 1 ms (EINVAL); 0 means "not set".
        if q < -1 || (0 < q && q < 1000) {
            return Err(invalid(
                "cpu.quota",
                format!("{q} is out of range (-1 for unlimited, or at least 1000 microseconds)"),
            ));
        }
    }
    if let Some(p) = c.period().filter(|&p| p != 0) {
        if !(1000..=1_000_000).contains(&p) {
            return Err(invalid(
                "cpu.period",
                format!("{p} is out of range (1000 to 1000000 microseconds)"),
            ));
        }
    }
    // The kernel refuses a burst above a set quota (EINVAL); with no quota in this config the
    // cgroup's current quota decides, so only the kernel can check.
    if let (Some(b), Some(q)) = (c.burst().filter(|&b| b != 0), c.quota().filter(|&q| q > 0)) {
        if b > q as u64 {
            return Err(invalid("cpu.burst", format!("{b} exceeds cpu.quota {q}")));
        }
    }
    if let Some(i) = c.idle() {
        if !(0..=1).contains(&i) {
            return Err(invalid("cpu.idle", format!("{i} is not 0 or 1")));
        }
    }
    if let Some(r) = c.realtime_runtime() {
        if r < -1 {
            return Err(invalid(
                "cpu.realtimeRuntime",
                format!("{r} is negative (use -1 for unlimited)"),
            ));
        }
        if let Some(p) = c.realtime_period().filter(|&p| p != 0) {
            if r > 0 && r as u64 > p {
                return Err(invalid(
                    "cpu.realtimeRuntime",
                    format!("{r} exceeds cpu.realtimePeriod {p}"),
                ));
            }
        }
    }
    for (f, v) in [("cpu.cpus", c.cpus()), ("cpu.mems", c.mems())] {
        if let Some(s) = v.as_deref().filter(|s| !s.trim().is_empty()) {
            fs::parse_cpuset_list(s).map_err(|m| invalid(f, m))?;
        }
    }
    Ok(())
}

/// Warnings for fields that are accepted but have no effect on any driver (runc 1.1 ignores
/// kernel memory limits: the kernel deprecated them, and 6.x refuses to set them).
pub(crate) fn common_warnings(r: &LinuxResources) -> Vec<String> {
    let mut w = Vec::new();
    if let Some(m) = r.memory() {
        for (f, v) in [("kernel", m.kernel()), ("kernelTCP", m.kernel_tcp())] {
            if v.is_some_and(|v| v != 0) {
                w.push(format!(
                    "linux.resources.memory.{f}: kernel memory limits are not supported by \
                     this kernel and are ignored (as runc does)"
                ));
            }
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{
        LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResourcesBuilder,
    };

    fn err(r: LinuxResources) -> String {
        validate(&r).unwrap_err().to_string()
    }

    fn mem(m: LinuxMemoryBuilder) -> LinuxResources {
        LinuxResourcesBuilder::default()
            .memory(m.build().unwrap())
            .build()
            .unwrap()
    }

    fn cpu(c: LinuxCpuBuilder) -> LinuxResources {
        LinuxResourcesBuilder::default()
            .cpu(c.build().unwrap())
            .build()
            .unwrap()
    }

    #[test]
    fn engine_configs_pass() {
        for f in [
            "containerd-1.6-busybox-seccomp.json",
            "podman-4.3-busybox.json",
        ] {
            let p = std::path::Path::new("/work/shared/data/configs").join(f);
            let Ok(text) = std::fs::read_to_string(&p) else {
                println!("SKIPPED: {} not present", p.display());
                continue;
            };
            let spec: oci_spec::runtime::Spec = serde_json::from_str(&text).unwrap();
            let r = spec.linux().as_ref().unwrap().resources().as_ref().unwrap();
            validate(r).unwrap();
        }
        validate(&LinuxResources::default()).unwrap();
    }

    #[test]
    fn good_values_pass() {
        validate(&mem(LinuxMemoryBuilder::default()
            .limit(64 << 20)
            .swap(128 << 20)
            .reservation(-1)
            .swappiness(60u64)))
        .unwrap();
        validate(&mem(LinuxMemoryBuilder::default().limit(-1))).unwrap();
        validate(&cpu(LinuxCpuBuilder::default()
            .shares(1024u64)
            .quota(50_000)
            .period(100_000u64)
            .burst(10_000u64)
            .cpus("0-1")
            .mems("0")))
        .unwrap();
        // A quota without a period is fine: the kernel's default period (100 ms) applies.
        validate(&cpu(LinuxCpuBuilder::default().quota(20_000))).unwrap();
    }

    #[test]
    fn bad_values_name_the_field() {
        let cases = [
            (mem(LinuxMemoryBuilder::default().limit(-2)), "memory.limit"),
            (
                mem(LinuxMemoryBuilder::default().reservation(-7)),
                "memory.reservation",
            ),
            (
                mem(LinuxMemoryBuilder::default().swap(1 << 20)),
                "memory.swap",
            ),
            (
                mem(LinuxMemoryBuilder::default().limit(2 << 20).swap(1 << 20)),
                "memory.swap",
            ),
            (
                mem(LinuxMemoryBuilder::default().swappiness(101u64)),
                "memory.swappiness",
            ),
            (cpu(LinuxCpuBuilder::default().shares(1u64)), "cpu.shares"),
            (
                cpu(LinuxCpuBuilder::default().shares(300_000u64)),
                "cpu.shares",
            ),
            (cpu(LinuxCpuBuilder::default().quota(-5)), "cpu.quota"),
            (cpu(LinuxCpuBuilder::default().quota(10)), "cpu.quota"),
            (cpu(LinuxCpuBuilder::default().period(10u64)), "cpu.period"),
            (
                cpu(LinuxCpuBuilder::default().quota(5000).burst(10_000u64)),
                "cpu.burst",
            ),
            (cpu(LinuxCpuBuilder::default().idle(2)), "cpu.idle"),
            (
                cpu(LinuxCpuBuilder::default().realtime_runtime(-3)),
                "cpu.realtimeRuntime",
            ),
            (
                cpu(LinuxCpuBuilder::default()
                    .realtime_runtime(2000)
                    .realtime_period(1000u64)),
                "cpu.realtimeRuntime",
            ),
            (cpu(LinuxCpuBuilder::default().cpus("0-x")), "cpu.cpus"),
            (cpu(LinuxCpuBuilder::default().mems("2-1")), "cpu.mems"),
            (
                LinuxResourcesBuilder::default()
                    .pids(LinuxPidsBuilder::default().limit(-2).build().unwrap())
                    .build()
                    .unwrap(),
                "pids.limit",
            ),
        ];
        for (r, field) in cases {
            let e = err(r);
            assert!(
                e.starts_with(&format!("linux.resources.{field}: ")),
                "{field}: {e}"
            );
        }
    }

    #[test]
    fn every_section_is_checked() {
        for (j, f) in [
            (r#"{"blockIO":{"weight":1}}"#, "blockIO.weight"),
            (
                r#"{"hugepageLimits":[{"pageSize":"x","limit":1}]}"#,
                "hugepageLimits[0].pageSize",
            ),
            (
                r#"{"network":{"priorities":[{"name":"","priority":1}]}}"#,
                "network.priorities[0].name",
            ),
            (r#"{"rdma":{"":{}}}"#, "rdma[\"\"]"),
            (
                r#"{"unified":{"../memory.max":"1"}}"#,
                "unified[\"../memory.max\"]",
            ),
        ] {
            let r: LinuxResources = serde_json::from_str(j).unwrap();
            let e = err(r);
            assert!(e.starts_with(&format!("linux.resources.{f}: ")), "{e}");
        }
        // Present but empty sections ask for nothing.
        let r: LinuxResources =
            serde_json::from_str(r#"{"blockIO":{},"hugepageLimits":[],"network":{}}"#).unwrap();
        validate(&r).unwrap();
    }

    #[test]
    fn kernel_memory_is_a_warning() {
        let r = mem(LinuxMemoryBuilder::default().kernel(1 << 20));
        validate(&r).unwrap();
        let w = common_warnings(&r);
        assert_eq!(w.len(), 1);
        assert!(w[0].starts_with("linux.resources.memory.kernel: "), "{w:?}");
    }
}

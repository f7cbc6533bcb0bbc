//! config-linux.md: control groups — cgroupsPath and linux.resources. Limits are read on the
//! host from the container's own cgroup directory (found through /proc/PID/cgroup) while the
//! container runs, and enforcement is checked from inside where it is observable (OOM kill,
//! pids limit).

use super::{case, Case};
use crate::ctx::{Bundle, Ctx, R};
use crate::{fail, host, skip, spec};
use serde_json::{json, Value};

pub fn cases() -> Vec<Case> {
    vec![
        case("config-linux/cgroups-path/absolute", path_absolute),
        case("config-linux/cgroups-path/seen-inside", path_inside),
        case(
            "config-linux/cgroups-path/absent-gets-a-cgroup",
            path_absent,
        ),
        case("config-linux/resources/memory/limit", |c| {
            limit(
                c,
                "memory",
                json!({"memory": {"limit": 67108864}}),
                "memory.limit_in_bytes",
                "67108864",
                "memory.max",
                "67108864",
            )
        }),
        case("config-linux/resources/memory/reservation", |c| {
            limit(
                c,
                "memory",
                json!({"memory": {"reservation": 33554432}}),
                "memory.soft_limit_in_bytes",
                "33554432",
                "memory.low",
                "33554432",
            )
        }),
        case("config-linux/resources/memory/swap", |c| {
            limit(
                c,
                "memory",
                json!({"memory": {"limit": 67108864, "swap": 134217728}}),
                "memory.memsw.limit_in_bytes",
                "134217728",
                "memory.swap.max",
                "67108864",
            )
        }),
        case("config-linux/resources/memory/swappiness", |c| {
            limit(
                c,
                "memory",
                json!({"memory": {"swappiness": 10}}),
                "memory.swappiness",
                "10",
                "",
                "",
            )
        }),
        case(
            "config-linux/resources/memory/disableOOMKiller",
            oom_disable,
        ),
        case(
            "config-linux/resources/memory/limit-enforced-oom-kill",
            oom_kill,
        ),
        case("config-linux/resources/cpu/shares", |c| {
            limit(
                c,
                "cpu",
                json!({"cpu": {"shares": 512}}),
                "cpu.shares",
                "512",
                "cpu.weight",
                "20",
            )
        }),
        case("config-linux/resources/cpu/quota", |c| {
            limit(
                c,
                "cpu",
                json!({"cpu": {"quota": 50000, "period": 100000}}),
                "cpu.cfs_quota_us",
                "50000",
                "cpu.max",
                "50000 100000",
            )
        }),
        case("config-linux/resources/cpu/period", |c| {
            limit(
                c,
                "cpu",
                json!({"cpu": {"quota": 20000, "period": 200000}}),
                "cpu.cfs_period_us",
                "200000",
                "cpu.max",
                "20000 200000",
            )
        }),
        case("config-linux/resources/cpu/cpus", |c| {
            limit(
                c,
                "cpuset",
                json!({"cpu": {"cpus": "0"}}),
                "cpuset.cpus",
                "0",
                "cpuset.cpus",
                "0",
            )
        }),
        case("config-linux/resources/cpu/mems", |c| {
            limit(
                c,
                "cpuset",
                json!({"cpu": {"mems": "0"}}),
                "cpuset.mems",
                "0",
                "cpuset.mems",
                "0",
            )
        }),
        case("config-linux/resources/cpu/realtime", rt_runtime),
        case("config-linux/resources/pids/limit", |c| {
            limit(
                c,
                "pids",
                json!({"pids": {"limit": 42}}),
                "pids.max",
                "42",
                "pids.max",
                "42",
            )
        }),
        case("config-linux/resources/pids/limit-enforced", pids_enforced),
        case("config-linux/resources/blockIO/weight", blkio_weight),
        case(
            "config-linux/resources/blockIO/throttle-read-bps",
            blkio_throttle,
        ),
        case("config-linux/resources/hugepageLimits", hugetlb),
        case("config-linux/resources/network/classID", net_cls),
        case(
            "config-linux/resources/unified-needs-cgroup-v2",
            unified_on_v1,
        ),
    ]
}

/// A running sleeper with `linux.resources` merged with `resources`.
fn running_with(c: &mut Ctx<'_>, resources: &Value) -> R<(Bundle, i32)> {
    let mut b = c.shell_bundle("exec sleep 600")?;
    if let (Some(dst), Some(src)) = (
        b.config["linux"]["resources"].as_object_mut(),
        resources.as_object(),
    ) {
        for (k, v) in src {
            dst.insert(k.clone(), v.clone());
        }
    }
    let pid = c.create_ok(&b)?;
    c.start_ok(&b.id)?;
    Ok((b, pid))
}

fn read_cg(pid: i32, controller: &str, file: &str) -> R<String> {
    let Some(dir) = host::cgroup_dir_of(pid, controller) else {
        fail!("no {controller} cgroup for pid {pid}")
    };
    let p = dir.join(file);
    match std::fs::read_to_string(&p) {
        Ok(t) => Ok(t.trim().to_string()),
        Err(e) => fail!("{}: {e}", p.display()),
    }
}

fn file_exists_in_root(controller: &str, v1_file: &str) -> bool {
    match host::v1_hierarchy(controller) {
        Some(h) => h.join(v1_file).exists(),
        None => false,
    }
}

#[allow(clippy::too_many_arguments)]
fn limit(
    c: &mut Ctx<'_>,
    controller: &str,
    resources: Value,
    v1_file: &str,
    v1_want: &str,
    v2_file: &str,
    v2_want: &str,
) -> R {
    let v2 = host::cgroup_v2_only();
    let (file, want) = if v2 {
        (v2_file, v2_want)
    } else {
        (v1_file, v1_want)
    };
    if file.is_empty() {
        skip!("no cgroup v2 equivalent of {v1_file}");
    }
    if !v2 && host::v1_hierarchy(controller).is_none() {
        skip!("no {controller} hierarchy mounted (host environment)");
    }
    let (_, pid) = running_with(c, &resources)?;
    // Some files (pids.max) exist only below the root: look in the container's cgroup.
    if host::cgroup_dir_of(pid, controller).is_some_and(|d| !d.join(file).exists()) {
        skip!("this kernel has no {file} (host environment)");
    }
    let seen = read_cg(pid, controller, file)?;
    c.check(&format!("{file} of the container's cgroup"), want, seen)
}

fn path_absolute(c: &mut Ctx<'_>) -> R {
    let (b, pid) = running_with(c, &json!({}))?;
    let want = b.config["linux"]["cgroupsPath"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let Some(dir) = host::cgroup_dir_of(pid, "pids") else {
        fail!("no pids cgroup for {pid}")
    };
    let h = host::v1_hierarchy("pids")
        .or_else(|| {
            host::hierarchies()
                .into_iter()
                .find(|h| h.v2)
                .map(|h| h.path)
        })
        .unwrap_or_default();
    let rel = format!("/{}", dir.strip_prefix(&h).unwrap_or(&dir).display());
    c.check("the container's cgroup (pids hierarchy)", want, rel)
}

fn path_inside(c: &mut Ctx<'_>) -> R {
    let mut b = c.probe_bundle(&[])?;
    spec::drop_ns(&mut b.config, "cgroup");
    let want = b.config["linux"]["cgroupsPath"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let r = c.probe(&b)?;
    let text = r["cgroup"].as_str().unwrap_or("").to_string();
    let ok = text
        .lines()
        .any(|l| l.contains(":pids:") && l.ends_with(&want))
        || (host::cgroup_v2_only() && text.contains(&format!("0::{want}")));
    c.check_that(
        "/proc/self/cgroup inside (no cgroup namespace)",
        &format!("pids line ending in {want}"),
        &text,
        ok,
    )
}

fn path_absent(c: &mut Ctx<'_>) -> R {
    // Without cgroupsPath the runtime picks a path; the container must still get its own
    // cgroup (not stay in the caller's), so that limits and cleanup work.
    let mut b = c.shell_bundle("exec sleep 600")?;
    if let Some(l) = b.config["linux"].as_object_mut() {
        l.remove("cgroupsPath");
    }
    let pid = c.create_ok(&b)?;
    c.start_ok(&b.id)?;
    let mine = host::cgroup_dir_of(std::process::id() as i32, "pids");
    let theirs = host::cgroup_dir_of(pid, "pids");
    if let Some(t) = &theirs {
        c.extra_cgroups.push(t.clone());
    }
    c.check_that(
        "the container's pids cgroup",
        "not the caller's",
        theirs.as_ref().map(|p| p.display().to_string()),
        theirs.is_some() && theirs != mine,
    )
}

fn oom_disable(c: &mut Ctx<'_>) -> R {
    if host::cgroup_v2_only() {
        skip!("cgroup v2 has no OOM-killer switch");
    }
    let (_, pid) = running_with(
        c,
        &json!({"memory": {"limit": 67108864, "disableOOMKiller": true}}),
    )?;
    let text = read_cg(pid, "memory", "memory.oom_control")?;
    let v = text
        .lines()
        .find_map(|l| l.strip_prefix("oom_kill_disable "))
        .unwrap_or("")
        .to_string();
    c.check("memory.oom_control oom_kill_disable", "1", v)
}

fn oom_kill(c: &mut Ctx<'_>) -> R {
    // dd fills a 64 MiB buffer: over a 16 MiB limit the OOM killer picks it (the biggest
    // process in the cgroup) and the shell reports its status.
    let mut b =
        c.shell_bundle("dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; echo dd=$?")?;
    b.config["linux"]["resources"]["memory"] = json!({"limit": 16777216, "swap": 16777216});
    if !host::cgroup_v2_only() && !file_exists_in_root("memory", "memory.memsw.limit_in_bytes") {
        b.config["linux"]["resources"]["memory"] = json!({"limit": 16777216});
    }
    let (_, out) = c.run_container(&b)?;
    c.check(
        "exit status of dd filling 64 MiB under a 16 MiB limit",
        "dd=137",
        out.trim(),
    )
}

fn rt_runtime(c: &mut Ctx<'_>) -> R {
    if !file_exists_in_root("cpu", "cpu.rt_runtime_us") {
        skip!("kernel without CONFIG_RT_GROUP_SCHED: no cpu.rt_runtime_us (host environment)");
    }
    // A child's real-time budget must fit in its parent's, and a new cgroup gets 0: give the
    // run's parent cgroup (which the runtime would otherwise create with 0) a budget first,
    // as an engine's parent slice would have.
    if let Some(h) = host::v1_hierarchy("cpu") {
        let parent = h.join(&c.env.cg_prefix);
        let _ = std::fs::create_dir(&parent);
        if let Err(e) = std::fs::write(parent.join("cpu.rt_runtime_us"), "10000") {
            skip!(
                "cannot give {} a real-time budget: {e} (host environment)",
                parent.display()
            );
        }
    }
    limit(
        c,
        "cpu",
        json!({"cpu": {"realtimeRuntime": 1000, "realtimePeriod": 1000000}}),
        "cpu.rt_runtime_us",
        "1000",
        "",
        "",
    )
}

fn pids_enforced(c: &mut Ctx<'_>) -> R {
    // With pids.max 4 the shell (pid 1) can fork 3 sleeps; busybox sh gives up on the first
    // fork that fails ("can't fork"), so the script never reaches its last line.
    let mut b = c.shell_bundle("for i in 1 2 3 4 5 6 7 8; do sleep 600 & done; echo all-forked")?;
    b.config["linux"]["resources"]["pids"] = json!({"limit": 4});
    let (_, out) = c.run_container(&b)?;
    let err = std::fs::read_to_string(b.err()).unwrap_or_default();
    c.check_that(
        "8 forks under pids.max=4",
        "a fork fails (\"can't fork\"), \"all-forked\" never printed",
        json!({"stdout": out.trim(), "stderr": err.trim()}),
        !out.contains("all-forked") && err.contains("fork"),
    )
}

fn blkio_weight(c: &mut Ctx<'_>) -> R {
    if !host::cgroup_v2_only()
        && !file_exists_in_root("blkio", "blkio.weight")
        && !file_exists_in_root("blkio", "blkio.bfq.weight")
    {
        skip!(
            "no blkio.weight or blkio.bfq.weight: no proportional I/O scheduler (host environment)"
        );
    }
    let file = if file_exists_in_root("blkio", "blkio.weight") {
        "blkio.weight"
    } else {
        "blkio.bfq.weight"
    };
    let (_, pid) = running_with(c, &json!({"blockIO": {"weight": 300}}))?;
    let seen = read_cg(pid, "blkio", file)?;
    c.check_that(
        file,
        "300",
        &seen,
        seen.split_whitespace().any(|w| w == "300"),
    )
}

/// major:minor of the block device holding the root filesystem.
fn root_dev() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let line = text.lines().find(|l| l.split(' ').nth(4) == Some("/"))?;
    let (ma, mi) = line.split(' ').nth(2)?.split_once(':')?;
    Some((ma.parse().ok()?, mi.parse().ok()?))
}

fn blkio_throttle(c: &mut Ctx<'_>) -> R {
    if !file_exists_in_root("blkio", "blkio.throttle.read_bps_device") {
        skip!("no blkio.throttle.read_bps_device (host environment)");
    }
    let Some((ma, mi)) = root_dev() else {
        skip!("cannot find the root block device")
    };
    let (_, pid) = running_with(
        c,
        &json!({"blockIO": {"throttleReadBpsDevice": [{"major": ma, "minor": mi, "rate": 1048576}]}}),
    )?;
    let seen = read_cg(pid, "blkio", "blkio.throttle.read_bps_device")?;
    c.check(
        "blkio.throttle.read_bps_device",
        format!("{ma}:{mi} 1048576"),
        seen,
    )
}

fn hugetlb(c: &mut Ctx<'_>) -> R {
    if host::v1_hierarchy("hugetlb").is_none() && !host::cgroup_v2_only() {
        skip!("hugetlb is not bound to a v1 hierarchy here (see environment.md; run.sh does it)");
    }
    limit(
        c,
        "hugetlb",
        json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]}),
        "hugetlb.2MB.limit_in_bytes",
        "4194304",
        "hugetlb.2MB.max",
        "4194304",
    )
}

fn net_cls(c: &mut Ctx<'_>) -> R {
    if host::v1_hierarchy("net_cls").is_none() {
        skip!("no net_cls hierarchy mounted (host environment)");
    }
    limit(
        c,
        "net_cls",
        json!({"network": {"classID": 1048577}}),
        "net_cls.classid",
        "1048577",
        "",
        "",
    )
}

fn unified_on_v1(c: &mut Ctx<'_>) -> R {
    c.control()?;
    if host::cgroup_v2_only() {
        skip!("the host is cgroup v2: unified is valid here");
    }
    // config-linux.md, unified: "The runtime MUST generate an error when the configuration
    // refers to a cgroup controller that is not present or that cannot be enabled" — on a v1
    // (or hybrid) host the memory controller is not in the unified hierarchy.
    let mut b = c.shell_bundle("exit 0")?;
    b.config["linux"]["resources"]["unified"] = json!({"memory.max": "67108864"});
    let res = c.create_with(&b, &[])?;
    c.check_that(
        "create with linux.resources.unified on a cgroup v1 host",
        "fails",
        res.summary(),
        !res.success(),
    )
}

//! System tests on the host's real cgroups (root only; they print `SKIPPED: ...` otherwise).
//!
//! They move only processes they spawn, use unique cgroup names (`husk-test-<pid>-<name>`),
//! and a guard kills those processes and removes the cgroups even when an assertion fails.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

use oci_spec::runtime::LinuxResources;

use super::*;

fn unique(name: &str) -> String {
    format!("husk-test-{}-{name}", std::process::id())
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Kills its processes and removes its cgroups on drop.
struct Guard {
    children: Vec<Child>,
    managers: Vec<Box<dyn Manager>>,
    extra_dirs: Vec<PathBuf>,
}

impl Guard {
    fn new() -> Guard {
        Guard {
            children: Vec::new(),
            managers: Vec::new(),
            extra_dirs: Vec::new(),
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for m in &self.managers {
            let _ = m.destroy();
        }
        for d in self.extra_dirs.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// (Each open runs in a subshell: a failed redirection of the special builtin `:` ends a
/// POSIX shell.)
/// A shell that waits for a line on stdin, then reports whether it can open /dev/null
/// (allowed by runc's defaults) and /dev/kmsg (c 1:11, not allowed), then sleeps.
fn spawn_device_prober() -> Child {
    Command::new("/bin/sh")
        .arg("-c")
        .arg(
            "read go; \
             if (: </dev/null); then echo null-ok; else echo null-denied; fi; \
             if (: </dev/kmsg); then echo kmsg-ok; else echo kmsg-denied; fi; \
             exec sleep 60",
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn /bin/sh")
}

/// Release the prober and read its two answers.
fn probe(child: &mut Child) -> (String, String) {
    child.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
    let out: &mut ChildStdout = child.stdout.as_mut().unwrap();
    let mut r = BufReader::new(out);
    let mut a = String::new();
    let mut b = String::new();
    r.read_line(&mut a).unwrap();
    r.read_line(&mut b).unwrap();
    (a.trim().to_string(), b.trim().to_string())
}

fn resources(json: &str) -> LinuxResources {
    serde_json::from_str(json).unwrap()
}

fn v1_host() -> Option<()> {
    if !is_root() {
        println!("SKIPPED: needs root");
        return None;
    }
    if is_unified(Path::new(CGROUP_ROOT)).unwrap_or(true) {
        println!("SKIPPED: the host is not cgroup v1/hybrid");
        return None;
    }
    Some(())
}

#[test]
fn v1_create_apply_join_destroy() {
    let Some(()) = v1_host() else { return };
    let id = unique("life");
    let mut g = Guard::new();
    g.managers
        .push(new_manager(Some(&format!("/{id}")), &id, false).unwrap());
    let m = &g.managers[0];
    let cfg = m.config();
    assert!(!cfg.unified);
    assert_eq!(cfg.path, format!("/{id}"));
    for sub in ["memory", "cpu", "cpuset", "pids", "devices", "freezer"] {
        assert_eq!(
            cfg.dirs[sub],
            Path::new(CGROUP_ROOT).join(sub).join(&id),
            "{sub}"
        );
    }
    let r = resources(
        r#"{"devices":[{"allow":false,"access":"rwm"}],
            "memory":{"limit":67108864,"swap":100663296,"reservation":33554432},
            "cpu":{"shares":512,"quota":50000,"period":100000,"cpus":"0","mems":"0"},
            "pids":{"limit":10}}"#,
    );
    assert!(m.check_resources(&r).unwrap().is_empty());
    m.create().unwrap();
    m.create().unwrap(); // idempotent
    m.apply_resources(&r).unwrap();
    let rd = |sub: &str, f: &str| {
        std::fs::read_to_string(cfg.dirs[sub].join(f))
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(rd("memory", "memory.limit_in_bytes"), "67108864");
    assert_eq!(rd("memory", "memory.memsw.limit_in_bytes"), "100663296");
    assert_eq!(rd("memory", "memory.soft_limit_in_bytes"), "33554432");
    assert_eq!(rd("cpu", "cpu.shares"), "512");
    assert_eq!(rd("cpu", "cpu.cfs_quota_us"), "50000");
    assert_eq!(rd("cpu", "cpu.cfs_period_us"), "100000");
    assert_eq!(rd("cpuset", "cpuset.cpus"), "0");
    assert_eq!(rd("cpuset", "cpuset.mems"), "0");
    assert_eq!(rd("pids", "pids.max"), "10");
    let list = rd("devices", "devices.list");
    assert!(!list.contains("a *:* rwm"), "{list}");
    for want in ["c 1:3 rwm", "c 136:* rwm", "b *:* m", "c *:* m"] {
        assert!(
            list.lines().any(|l| l == want),
            "{want} missing from {list}"
        );
    }

    g.children.push(spawn_device_prober());
    let pid = g.children[0].id() as i32;
    m.add_process(pid).unwrap();
    assert_eq!(m.pids().unwrap(), vec![pid]);
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for sub in ["memory", "pids", "devices", "cpuset"] {
        assert!(
            own.lines().any(|l| l.ends_with(&format!(":{sub}:/{id}"))),
            "{sub} not joined: {own}"
        );
    }
    // The device allow-list is enforced: runc's defaults open, anything else is EPERM.
    assert_eq!(
        probe(&mut g.children[0]),
        ("null-ok".into(), "kmsg-denied".into())
    );

    // Update while running: allow reading /dev/kmsg, then take it away again. Each change
    // is written as a difference (no reset of the list under running processes).
    let mut more = r.clone();
    more.set_devices(Some(
        serde_json::from_str(
            r#"[{"allow":false,"access":"rwm"},
                {"allow":true,"type":"c","major":1,"minor":11,"access":"r"}]"#,
        )
        .unwrap(),
    ));
    m.apply_resources(&more).unwrap();
    assert!(rd("devices", "devices.list")
        .lines()
        .any(|l| l == "c 1:11 r"));
    g.children.push(spawn_device_prober());
    m.add_process(g.children[1].id() as i32).unwrap();
    assert_eq!(
        probe(&mut g.children[1]),
        ("null-ok".into(), "kmsg-ok".into())
    );
    m.apply_resources(&r).unwrap();
    assert_eq!(rd("devices", "devices.list"), list);
    g.children.push(spawn_device_prober());
    m.add_process(g.children[2].id() as i32).unwrap();
    assert_eq!(
        probe(&mut g.children[2]),
        ("null-ok".into(), "kmsg-denied".into())
    );

    for mut child in g.children.drain(..) {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    assert!(m.pids().unwrap().is_empty());
    m.destroy().unwrap();
    for (sub, d) in &cfg.dirs {
        assert!(!d.exists(), "{sub}: {} left behind", d.display());
    }
    m.destroy().unwrap(); // already gone: still success
}

#[test]
fn v1_default_path_is_the_id_under_our_own_cgroup() {
    let Some(()) = v1_host() else { return };
    let id = unique("rel");
    let mut g = Guard::new();
    g.managers.push(new_manager(None, &id, false).unwrap());
    let m = &g.managers[0];
    let cfg = m.config();
    assert_eq!(cfg.path, id);
    let own = path::parse_proc_cgroup(&std::fs::read_to_string("/proc/self/cgroup").unwrap());
    let mem_own = own["memory"].trim_start_matches('/');
    assert_eq!(
        cfg.dirs["memory"],
        Path::new(CGROUP_ROOT)
            .join("memory")
            .join(mem_own)
            .join(&id)
    );
    m.create().unwrap();
    // A container may create cgroups of its own below its cgroup; destroy takes them too.
    std::fs::create_dir(cfg.dirs["memory"].join("nested")).unwrap();
    for d in cfg.dirs.values() {
        assert!(d.is_dir(), "{}", d.display());
    }
    m.destroy().unwrap();
    for d in cfg.dirs.values() {
        assert!(!d.exists(), "{} left behind", d.display());
    }
}

#[test]
fn v1_kernel_rejection_names_the_field() {
    let Some(()) = v1_host() else { return };
    let id = unique("bad");
    let mut g = Guard::new();
    g.managers
        .push(new_manager(Some(&format!("/{id}")), &id, false).unwrap());
    let m = &g.managers[0];
    m.create().unwrap();
    // CPUs this machine does not have: valid syntax, refused by the kernel.
    let r = resources(r#"{"cpu":{"cpus":"1000-1001"}}"#);
    let e = m.apply_resources(&r).unwrap_err().to_string();
    assert!(
        e.starts_with("linux.resources.cpu.cpus: write /sys/fs/cgroup/cpuset/"),
        "{e}"
    );
    assert!(e.contains("\"1000-1001\""), "{e}");
    m.destroy().unwrap();
    for d in m.config().dirs.values() {
        assert!(!d.exists(), "{} left behind", d.display());
    }
}

/// The cgroup2 mount: `/sys/fs/cgroup` on a v2 host, `/sys/fs/cgroup/unified` on a hybrid one.
fn cgroup2_mount() -> Option<PathBuf> {
    if is_unified(Path::new(CGROUP_ROOT)).ok()? {
        return Some(PathBuf::from(CGROUP_ROOT));
    }
    let mi = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    path::parse_mountinfo(&mi)
        .into_iter()
        .find(|m| m.subsystems.is_none())
        .map(|m| m.mountpoint)
}

/// The v2 driver on the host's cgroup2 mount (the unified mount of a hybrid host works for
/// everything but the resource controllers): create, eBPF device program, join, pids,
/// clone_into_fd, update of the device program, destroy.
#[test]
fn v2_devices_ebpf_join_and_destroy() {
    if !is_root() {
        println!("SKIPPED: needs root");
        return;
    }
    let Some(mount) = cgroup2_mount() else {
        println!("SKIPPED: no cgroup2 mount");
        return;
    };
    let mut g = Guard::new();
    let parent = mount.join(unique("v2"));
    std::fs::create_dir(&parent).unwrap();
    g.extra_dirs.push(parent.clone());
    let cfg = CgroupConfig {
        path: "/c1".into(),
        unified: true,
        dirs: BTreeMap::from([(v2::KEY.to_string(), parent.join("c1"))]),
    };
    g.managers.push(Box::new(v2::V2Manager::with_root(
        cfg.clone(),
        parent.clone(),
    )));
    let m = &g.managers[0];
    m.create().unwrap();
    assert!(parent.join("c1").is_dir());
    m.apply_resources(&resources(
        r#"{"devices":[{"allow":false,"access":"rwm"}]}"#,
    ))
    .unwrap();
    assert!(m.clone_into_fd().unwrap().is_some());

    g.children.push(spawn_device_prober());
    let pid = g.children[0].id() as i32;
    m.add_process(pid).unwrap();
    assert_eq!(m.pids().unwrap(), vec![pid]);
    assert_eq!(
        probe(&mut g.children[0]),
        ("null-ok".into(), "kmsg-denied".into())
    );

    // An update replaces the program (the old one is detached, not ANDed with the new).
    m.apply_resources(&resources(r#"{"devices":[{"allow":true,"access":"rwm"}]}"#))
        .unwrap();
    g.children.push(spawn_device_prober());
    let pid2 = g.children[1].id() as i32;
    m.add_process(pid2).unwrap();
    assert_eq!(
        probe(&mut g.children[1]),
        ("null-ok".into(), "kmsg-ok".into())
    );
    let cg = v2::open_dir_for_test(&parent.join("c1"));
    assert_eq!(
        crate::sys::cgroup::query_device_programs(std::os::fd::AsFd::as_fd(&cg))
            .unwrap()
            .len(),
        1
    );

    for mut c in g.children.drain(..) {
        c.kill().unwrap();
        c.wait().unwrap();
    }
    m.destroy().unwrap();
    assert!(!parent.join("c1").exists());
}

/// A process (in `m`'s cgroup) that counts into a file about every 10 ms must stop counting
/// while frozen and continue after the thaw.
fn check_freeze_thaw(m: &dyn Manager, g: &mut Guard, tag: &str) {
    let file = std::env::temp_dir().join(unique(&format!("count-{tag}")));
    let _cleanup = RmOnDrop(file.clone());
    let child = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!(
            "i=0; while :; do i=$((i+1)); echo $i > {}; sleep 0.01; done",
            file.display()
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    m.add_process(child.id() as i32).unwrap();
    g.children.push(child);
    let count = || {
        std::fs::read_to_string(&file)
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let changes = |from: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        while std::time::Instant::now() < deadline {
            let c = count();
            if !c.is_empty() && c != from {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        false
    };
    assert!(changes(""), "the counter never started");
    assert!(!m.is_frozen().unwrap());
    m.freeze().unwrap();
    assert!(m.is_frozen().unwrap());
    let a = count();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(count(), a, "counted while frozen");
    m.thaw().unwrap();
    assert!(!m.is_frozen().unwrap());
    assert!(changes(&a), "did not resume counting after thaw");
    // The counting used CPU time, and the stats see it.
    assert!(m.stats().unwrap().cpu.usage.total > 0);
}

struct RmOnDrop(PathBuf);

impl Drop for RmOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn v1_freeze_and_thaw() {
    let Some(()) = v1_host() else { return };
    let id = unique("frz");
    let mut g = Guard::new();
    let m = new_manager(Some(&format!("/{id}")), &id, false).unwrap();
    // A second handle on the same cgroup, for the guard's cleanup.
    g.managers.push(from_config(&m.config()));
    m.create().unwrap();
    check_freeze_thaw(m.as_ref(), &mut g, "v1");
    for mut c in g.children.drain(..) {
        c.kill().unwrap();
        c.wait().unwrap();
    }
    m.destroy().unwrap();
}

#[test]
fn v2_freeze_and_thaw() {
    if !is_root() {
        println!("SKIPPED: needs root");
        return;
    }
    let Some(mount) = cgroup2_mount() else {
        println!("SKIPPED: no cgroup2 mount");
        return;
    };
    let mut g = Guard::new();
    let parent = mount.join(unique("v2frz"));
    std::fs::create_dir(&parent).unwrap();
    g.extra_dirs.push(parent.clone());
    let cfg = CgroupConfig {
        path: "/c1".into(),
        unified: true,
        dirs: BTreeMap::from([(v2::KEY.to_string(), parent.join("c1"))]),
    };
    let m = v2::V2Manager::with_root(cfg.clone(), parent.clone());
    g.managers
        .push(Box::new(v2::V2Manager::with_root(cfg, parent.clone())));
    m.create().unwrap();
    check_freeze_thaw(&m, &mut g, "v2");
    for mut c in g.children.drain(..) {
        c.kill().unwrap();
        c.wait().unwrap();
    }
    m.destroy().unwrap();
    assert!(!parent.join("c1").exists());
}

/// A shell in the cgroup that runs `script` once released.
fn spawn_held(script: &str) -> Child {
    Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("read go; {script}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn /bin/sh")
}

/// Limits are enforced, seen from outside: a memory hog is OOM-killed (and `oom_kills` and
/// the stats count it), a busy loop is throttled by the cpu quota, a fork over the pids
/// limit fails.
#[test]
fn v1_limits_enforced_and_counted() {
    let Some(()) = v1_host() else { return };
    let id = unique("enf");
    let mut g = Guard::new();
    let m = new_manager(Some(&format!("/{id}")), &id, false).unwrap();
    g.managers.push(from_config(&m.config()));
    m.create().unwrap();
    // memory+swap == memory: the hog cannot escape into swap.
    m.apply_resources(&resources(
        r#"{"memory":{"limit":16777216,"swap":16777216},"pids":{"limit":3},
            "cpu":{"quota":10000,"period":100000}}"#,
    ))
    .unwrap();

    let mut hog = spawn_held("dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; echo dd=$?");
    m.add_process(hog.id() as i32).unwrap();
    let before = m.stats().unwrap();
    assert_eq!(before.pids.current, 1);
    assert_eq!(before.pids.limit, 3);
    assert_eq!(before.memory.usage.limit, 16 << 20);
    assert_eq!(m.oom_kills().unwrap(), 0);
    hog.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
    let out = hog.wait_with_output().unwrap();
    // dd killed by SIGKILL: the shell reports 128+9.
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "dd=137");
    assert!(m.oom_kills().unwrap() >= 1);
    // The peak reached the limit (kernel 6.18 leaves v1 failcnt at 0 here).
    let st = m.stats().unwrap();
    assert_eq!(st.memory.usage.max, 16 << 20, "{:?}", st.memory);

    // cpu quota 10 ms per 100 ms: a busy loop gets throttled, and cpu.stat counts it.
    let mut busy = spawn_held("while :; do :; done");
    m.add_process(busy.id() as i32).unwrap();
    busy.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
    g.children.push(busy);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut throttled = 0;
    while throttled == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
        throttled = m.stats().unwrap().cpu.throttling.throttled_periods;
    }
    assert!(throttled > 0, "the busy loop was never throttled");
    let mut busy = g.children.pop().unwrap();
    busy.kill().unwrap();
    busy.wait().unwrap();

    // pids.max 3: the shell plus two sleeps; the third fork fails (EAGAIN).
    let mut forks = spawn_held("sleep 30 & sleep 30 & sleep 30 & echo forked");
    m.add_process(forks.id() as i32).unwrap();
    forks.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
    let pids_dir = m.config().dirs["pids"].clone();
    let events = || std::fs::read_to_string(pids_dir.join("pids.events")).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while events().trim() == "max 0" && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_ne!(events().trim(), "max 0", "no fork was refused");
    assert!(m.pids().unwrap().len() <= 3);
    g.children.push(forks);
    for mut c in g.children.drain(..) {
        c.kill().unwrap();
        c.wait().unwrap();
    }
    // The sleeps are still in the cgroup: kill them too, then destroy.
    for pid in m.pids().unwrap() {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    m.destroy().unwrap();
    for d in m.config().dirs.values() {
        assert!(!d.exists(), "{} left behind", d.display());
    }
}

/// blockIO throttles reach the kernel (read back from blkio's files), `unified` is refused on
/// v1, and a limit for a v1 controller that is not mounted is refused (as runc refuses it).
#[test]
fn v1_blkio_unified_refusal_and_warnings() {
    let Some(()) = v1_host() else { return };
    let Some(dev) = std::fs::read_dir("/sys/block").ok().and_then(|rd| {
        rd.flatten()
            .filter(|e| !e.file_name().to_string_lossy().starts_with("loop"))
            .find_map(|e| std::fs::read_to_string(e.path().join("dev")).ok())
    }) else {
        println!("SKIPPED: no block device");
        return;
    };
    let (maj, min) = dev.trim().split_once(':').unwrap();
    let id = unique("blk");
    let mut g = Guard::new();
    let m = new_manager(Some(&format!("/{id}")), &id, false).unwrap();
    g.managers.push(from_config(&m.config()));
    let Some(blk) = m.config().dirs.get("blkio").cloned() else {
        println!("SKIPPED: blkio not mounted");
        return;
    };
    m.create().unwrap();
    m.apply_resources(&resources(&format!(
        r#"{{"blockIO":{{"throttleReadBpsDevice":[{{"major":{maj},"minor":{min},"rate":1048576}}],
              "throttleWriteIOPSDevice":[{{"major":{maj},"minor":{min},"rate":50}}]}}}}"#
    )))
    .unwrap();
    let rd = |f: &str| std::fs::read_to_string(blk.join(f)).unwrap();
    assert_eq!(
        rd("blkio.throttle.read_bps_device").trim(),
        format!("{maj}:{min} 1048576")
    );
    assert_eq!(
        rd("blkio.throttle.write_iops_device").trim(),
        format!("{maj}:{min} 50")
    );

    let e = m
        .check_resources(&resources(r#"{"unified":{"memory.high":"1"}}"#))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("linux.resources.unified: "), "{e}");
    // This host has no net_cls, net_prio nor rdma hierarchy (environment.md); a value for
    // one of them is refused, naming the field; an empty section asks for nothing.
    for (json, field, sub) in [
        (
            r#"{"network":{"classID":1048577}}"#,
            "network.classID",
            "net_cls",
        ),
        (
            r#"{"network":{"priorities":[{"name":"lo","priority":5}]}}"#,
            "network.priorities",
            "net_prio",
        ),
        (r#"{"rdma":{"mlx4_0":{"hcaHandles":3}}}"#, "rdma", "rdma"),
        (
            r#"{"hugepageLimits":[{"pageSize":"2MB","limit":0}]}"#,
            "hugepageLimits",
            "hugetlb",
        ),
    ] {
        if m.config().dirs.contains_key(sub) {
            println!("{field}: the {sub} hierarchy is mounted here, refusal not checked");
            continue;
        }
        let e = m.check_resources(&resources(json)).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("linux.resources.{field}: cannot set the limit: "))
                && e.contains(&format!("the cgroup v1 {sub} controller is not mounted")),
            "{e}"
        );
    }
    assert!(m
        .check_resources(&resources(r#"{"network":{},"rdma":{}}"#))
        .unwrap()
        .is_empty());
    m.destroy().unwrap();
}

/// `unified` on the host's cgroup2 mount: a core `cgroup.` key is written; a key of a
/// controller the cgroup does not have gets a clear error.
#[test]
fn v2_unified_keys() {
    if !is_root() {
        println!("SKIPPED: needs root");
        return;
    }
    let Some(mount) = cgroup2_mount() else {
        println!("SKIPPED: no cgroup2 mount");
        return;
    };
    let mut g = Guard::new();
    let parent = mount.join(unique("v2uni"));
    std::fs::create_dir(&parent).unwrap();
    // Intermediate levels the manager creates (and, like runc, leaves at destroy).
    g.extra_dirs
        .extend([parent.clone(), parent.join("a"), parent.join("a/b")]);
    let dir = parent.join("a/b/c1");
    let cfg = CgroupConfig {
        path: "/c1".into(),
        unified: true,
        dirs: BTreeMap::from([(v2::KEY.to_string(), dir.clone())]),
    };
    g.managers
        .push(Box::new(v2::V2Manager::with_root(cfg, parent.clone())));
    let m = &g.managers[0];
    m.create().unwrap();
    m.apply_resources(&resources(r#"{"unified":{"cgroup.max.descendants":"5"}}"#))
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("cgroup.max.descendants"))
            .unwrap()
            .trim(),
        "5"
    );
    let controllers = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap();
    if !controllers.contains("memory") {
        let e = m
            .apply_resources(&resources(r#"{"unified":{"memory.high":"1000000"}}"#))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("controller \"memory\" is not available to this cgroup"),
            "{e}"
        );
    }
    m.destroy().unwrap();
    assert!(!dir.exists());
    assert!(parent.join("a/b").is_dir());
}

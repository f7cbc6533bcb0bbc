//! System tests of the v2 manager on a real cgroup v2-only host with the resource controllers:
//! they need root and `/sys/fs/cgroup` to be cgroup2 with memory, pids and cpu, and print
//! `SKIPPED: ...` elsewhere. The development and CI machines are hybrid v1 (their cgroup2 mount
//! has no controllers): these tests run in the cgroup v2 lab VM (`lab/cgroup-v2.sh`).
//!
//! Like system_tests.rs: unique cgroup names, only processes they spawn, and a guard that kills
//! them and removes the cgroup even when an assertion fails.

use std::io::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::LinuxResources;

use super::*;

fn unique(name: &str) -> String {
    format!("husk-test-{}-{name}", std::process::id())
}

fn resources(json: &str) -> LinuxResources {
    serde_json::from_str(json).unwrap()
}

/// `Some(())` on a cgroup v2-only host whose root offers memory, pids and cpu to children.
fn v2_host() -> Option<()> {
    if !nix::unistd::geteuid().is_root() {
        println!("SKIPPED: needs root");
        return None;
    }
    if !is_unified(Path::new(CGROUP_ROOT)).unwrap_or(false) {
        println!("SKIPPED: /sys/fs/cgroup is not cgroup v2 (runs in lab/cgroup-v2.sh)");
        return None;
    }
    let controllers =
        std::fs::read_to_string(Path::new(CGROUP_ROOT).join("cgroup.controllers")).ok()?;
    for c in ["memory", "pids", "cpu"] {
        if !controllers.split_whitespace().any(|x| x == c) {
            println!("SKIPPED: the cgroup v2 root has no {c} controller");
            return None;
        }
    }
    Some(())
}

/// Kills its processes (and anything left in the manager's cgroup), then destroys it.
struct Guard {
    children: Vec<Child>,
    manager: Box<dyn Manager>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for pid in self.manager.pids().unwrap_or_default() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = self.manager.destroy();
    }
}

/// A shell that runs `script` once it reads a line: it is moved into the cgroup first.
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

fn release(c: &mut Child) {
    c.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
}

/// Polls `f` for up to 5 s (the VM is emulated, so slow).
fn eventually(mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

/// Limits are enforced on cgroup v2, seen from outside, and counted by `oom_kills` and the
/// stats: a memory hog is OOM-killed (memory.max with swap == limit, so memory.swap.max 0),
/// a busy loop is throttled by cpu.max, a fork over pids.max fails.
#[test]
fn v2_limits_enforced_and_counted() {
    let Some(()) = v2_host() else { return };
    let id = unique("enf");
    let m = new_manager(Some(&format!("/{id}")), &id, false).unwrap();
    assert!(m.config().unified);
    let dir = m.config().dirs[v2::KEY].clone();
    let mut g = Guard {
        children: Vec::new(),
        manager: from_config(&m.config()),
    };
    m.create().unwrap();
    m.apply_resources(&resources(
        r#"{"memory":{"limit":16777216,"swap":16777216},"pids":{"limit":3},
            "cpu":{"quota":10000,"period":100000}}"#,
    ))
    .unwrap();
    let rd = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    assert_eq!(rd("memory.max").trim(), "16777216");
    assert_eq!(rd("memory.swap.max").trim(), "0");
    assert_eq!(rd("pids.max").trim(), "3");
    assert_eq!(rd("cpu.max").trim(), "10000 100000");

    let mut hog = spawn_held("dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; echo dd=$?");
    m.add_process(hog.id() as i32).unwrap();
    let before = m.stats().unwrap();
    assert_eq!(before.pids.current, 1);
    assert_eq!(before.pids.limit, 3);
    assert_eq!(before.memory.usage.limit, 16 << 20);
    assert_eq!(m.oom_kills().unwrap(), 0);
    release(&mut hog);
    let out = hog.wait_with_output().unwrap();
    // dd killed by SIGKILL: the shell reports 128+9.
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "dd=137");
    assert_eq!(m.oom_kills().unwrap(), 1);
    let st = m.stats().unwrap();
    // memory.peak reached the limit; memory.events "max" (failcnt) counted the reclaims.
    assert_eq!(st.memory.usage.max, 16 << 20, "{:?}", st.memory);
    assert!(st.memory.usage.failcnt > 0, "{:?}", st.memory);

    // cpu.max 10 ms per 100 ms: a busy loop gets throttled, and cpu.stat counts it.
    let mut busy = spawn_held("while :; do :; done");
    m.add_process(busy.id() as i32).unwrap();
    release(&mut busy);
    g.children.push(busy);
    assert!(
        eventually(|| m.stats().unwrap().cpu.throttling.throttled_periods > 0),
        "the busy loop was never throttled"
    );
    let mut busy = g.children.pop().unwrap();
    busy.kill().unwrap();
    busy.wait().unwrap();

    // pids.max 3: the shell plus two sleeps; the third fork fails (EAGAIN), pids.events counts.
    let mut forks = spawn_held("sleep 30 & sleep 30 & sleep 30 & echo forked");
    m.add_process(forks.id() as i32).unwrap();
    release(&mut forks);
    g.children.push(forks);
    assert!(
        eventually(|| rd("pids.events").trim() != "max 0"),
        "no fork was refused"
    );
    assert!(m.pids().unwrap().len() <= 3);
    assert!(m.stats().unwrap().pids.current <= 3);
    drop(g);
    assert!(!dir.exists(), "{} left behind", dir.display());
}

/// An update while a process runs: pids.max and cpu.max change in place, and a memory.max
/// below the usage takes effect at once: anonymous memory cannot be reclaimed without swap,
/// so the kernel OOM-kills the holder before the write returns.
#[test]
fn v2_update_while_running() {
    let Some(()) = v2_host() else { return };
    let id = unique("upd");
    let m = new_manager(Some(&format!("/{id}")), &id, false).unwrap();
    let dir = m.config().dirs[v2::KEY].clone();
    let mut g = Guard {
        children: Vec::new(),
        manager: from_config(&m.config()),
    };
    m.create().unwrap();
    m.apply_resources(&resources(
        r#"{"memory":{"limit":134217728,"swap":134217728},"pids":{"limit":10}}"#,
    ))
    .unwrap();
    // dd fills a 24 MiB buffer from /dev/zero, then blocks writing it into a pipe nobody reads.
    let mut holder = spawn_held("dd if=/dev/zero bs=24M count=1 2>/dev/null | sleep 60");
    m.add_process(holder.id() as i32).unwrap();
    release(&mut holder);
    g.children.push(holder);
    let rd = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    let current = || rd("memory.current").trim().parse::<u64>().unwrap();
    assert!(
        eventually(|| current() > 20 << 20),
        "the holder never reached 20 MiB: {}",
        current()
    );
    assert_eq!(m.oom_kills().unwrap(), 0);
    m.apply_resources(&resources(
        r#"{"memory":{"limit":8388608,"swap":8388608},"pids":{"limit":20},
            "cpu":{"quota":20000,"period":100000}}"#,
    ))
    .unwrap();
    assert_eq!(rd("memory.max").trim(), "8388608");
    assert_eq!(rd("pids.max").trim(), "20");
    assert_eq!(rd("cpu.max").trim(), "20000 100000");
    assert!(current() <= 8 << 20, "memory.current {}", current());
    // At least dd; the kernel may pick a second victim before dd's memory is freed.
    assert!(m.oom_kills().unwrap() >= 1);
    drop(g);
    assert!(!dir.exists(), "{} left behind", dir.display());
}

//! The same container under husk and under runc (`/usr/sbin/runc`, or `HUSK_TEST_RUNC`),
//! side by side: `update` (its effect and the `state` after it), `pause`/`resume` (status, a
//! counting process stops and goes on), `ps --format json` and `ps -o pid,comm`, and
//! `events --stats` (the same keys, the same limit values). Each runtime has its own `--root`
//! and container id; the bundle is the same.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

fn runc() -> Option<PathBuf> {
    let p = std::env::var_os("HUSK_TEST_RUNC")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/sbin/runc"));
    p.exists().then_some(p)
}

/// One runtime driving one container of the test.
struct Rt {
    name: &'static str,
    bin: PathBuf,
    root: PathBuf,
    id: String,
    bundle: PathBuf,
}

impl Rt {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--root").arg(&self.root).args(args);
        c.stdin(Stdio::null());
        c
    }
    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("spawn runtime")
    }
    /// `args` followed by the container id; must succeed.
    fn ok(&self, args: &[&str]) -> String {
        let mut a = args.to_vec();
        a.push(&self.id);
        let o = self.run(&a);
        assert!(
            o.status.success(),
            "{} {args:?}: {}",
            self.name,
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
    fn start_detached(&self) {
        let out = fs::File::create(self.bundle.join(format!("{}.out", self.name))).unwrap();
        let st = self
            .cmd(&[
                "run",
                "-d",
                "--bundle",
                self.bundle.to_str().unwrap(),
                &self.id,
            ])
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .status()
            .unwrap();
        assert!(st.success(), "{}: run -d failed", self.name);
    }
    fn state(&self) -> Value {
        serde_json::from_str(&self.ok(&["state"])).expect("state JSON")
    }
    fn pid(&self) -> i64 {
        self.state()["pid"].as_i64().unwrap()
    }
    fn status(&self) -> String {
        self.state()["status"].as_str().unwrap().to_owned()
    }
}

impl Drop for Rt {
    fn drop(&mut self) {
        let _ = self
            .cmd(&["delete", "--force", &self.id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// husk and runc, each with its own root and id, on copies of the same bundle (the rootfs is
/// written to by the containers, so each gets its own).
fn pair(env: &TestEnv, test: &str, config: Value) -> Option<(Rt, Rt)> {
    if !can_run_containers(test) {
        return None;
    }
    let Some(runc) = runc() else {
        skip(test, "no runc (apt-get install runc)");
        return None;
    };
    let mk = |name: &'static str, bin: PathBuf| {
        let b = env.bundle_with(name, config.clone());
        b.write();
        let id = format!("hk{}-{test}-{name}", std::process::id()).replace('_', "-");
        Rt {
            name,
            bin,
            root: env.dir.join(format!("state-{name}")),
            id,
            bundle: b.dir,
        }
    };
    Some((mk("husk", runtime()), mk("runc", runc)))
}

fn cgroup_file(pid: i64, controller: &str, v1: &str, v2_file: &str) -> String {
    let f = host_cgroup_dir(pid, controller).join(if v2() { v2_file } else { v1 });
    fs::read_to_string(&f)
        .unwrap_or_else(|e| panic!("{}: {e}", f.display()))
        .trim()
        .to_owned()
}

/// `update` with runc's flags, then the effect: the limits in the cgroup files are the same
/// for both runtimes, and the pids limit lowered under the running container makes its next
/// forks fail under both. `state` still says running, with the same keys.
#[test]
fn update_like_runc() {
    let env = TestEnv::new("vs-update");
    let mut c = base_config(&[
        "sh",
        "-c",
        "while [ ! -e /tmp/go ]; do sleep 0.1; done; \
         sh -c 'for i in 1 2 3 4; do sleep 30 & done' && echo forked; sleep 1000",
    ]);
    c["root"]["readonly"] = json!(false);
    c["linux"]["resources"]["memory"] = json!({"limit": 64 << 20});
    c["linux"]["resources"]["pids"] = json!({"limit": 100});
    let Some((husk, runc)) = pair(&env, "update_like_runc", c) else {
        return;
    };
    let mut seen = Vec::new();
    for rt in [&husk, &runc] {
        rt.start_detached();
        rt.ok(&[
            "update",
            "--memory",
            "48m",
            "--memory-swap",
            "96m",
            "--cpu-share",
            "512",
            "--cpu-quota",
            "30000",
            "--cpu-period",
            "100000",
            "--cpuset-cpus",
            "0",
            "--pids-limit",
            "3",
        ]);
        let pid = rt.pid();
        let files = [
            ("memory", "memory.limit_in_bytes", "memory.max"),
            ("memory", "memory.memsw.limit_in_bytes", "memory.swap.max"),
            ("cpu", "cpu.shares", "cpu.weight"),
            ("cpu", "cpu.cfs_quota_us", "cpu.max"),
            ("cpu", "cpu.cfs_period_us", "cpu.max"),
            ("cpuset", "cpuset.cpus", "cpuset.cpus"),
            ("pids", "pids.max", "pids.max"),
        ]
        .map(|(c, v1, v2)| cgroup_file(pid, c, v1, v2));
        // The effect: the shell (pid 1), its loop's sleep and one more; further forks fail.
        fs::write(rt.bundle.join("rootfs/tmp/go"), "").unwrap();
        let out = rt.bundle.join(format!("{}.out", rt.name));
        assert!(
            wait_until(WAIT, || fs::read_to_string(&out)
                .unwrap_or_default()
                .contains("can't fork")),
            "{}: no failed fork after update --pids-limit 3: {}",
            rt.name,
            fs::read_to_string(&out).unwrap_or_default()
        );
        assert!(!fs::read_to_string(&out).unwrap().contains("forked"));
        let state = rt.state();
        assert_eq!(state["status"], "running", "{}", rt.name);
        let keys: BTreeSet<String> = state.as_object().unwrap().keys().cloned().collect();
        seen.push((files, keys));
    }
    assert_eq!(
        seen[0].0, seen[1].0,
        "cgroup files after update: husk vs runc"
    );
    assert_eq!(seen[0].1, seen[1].1, "state keys: husk vs runc");
    assert_eq!(seen[0].0[6], "3");
}

/// `pause`/`resume`: the same statuses, a counter that stops while paused and goes on after,
/// and the same refusals (pause of a paused container, resume of a running one).
#[test]
fn pause_resume_like_runc() {
    let env = TestEnv::new("vs-pause");
    let mut c = base_config(&["sh", "-c", "while :; do echo x >> /tmp/n; sleep 0.01; done"]);
    c["root"]["readonly"] = json!(false);
    let Some((husk, runc)) = pair(&env, "pause_resume_like_runc", c) else {
        return;
    };
    let mut seen = Vec::new();
    for rt in [&husk, &runc] {
        rt.start_detached();
        let n = rt.bundle.join("rootfs/tmp/n");
        let count = || fs::metadata(&n).map(|m| m.len()).unwrap_or(0);
        let grows = |from: u64| wait_until(WAIT, || count() > from);
        assert!(grows(0), "{}: never counted", rt.name);
        rt.ok(&["pause"]);
        let paused = rt.status();
        let a = count();
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(count(), a, "{}: counted while paused", rt.name);
        let again = rt.run(&["pause", &rt.id]).status.success();
        rt.ok(&["resume"]);
        let running = rt.status();
        assert!(grows(a), "{}: did not count after resume", rt.name);
        let resume_running = rt.run(&["resume", &rt.id]).status.success();
        seen.push((paused, again, running, resume_running));
    }
    assert_eq!(seen[0].0, "paused");
    assert_eq!(seen[0].2, "running");
    assert_eq!(
        seen[0], seen[1],
        "(status paused, pause again ok, status, resume again ok)"
    );
}

/// `ps --format json` lists the container's host pids (the same count and commands for both
/// runtimes), and `ps -o pid,comm` (table) keeps ps's header and exactly those pids.
#[test]
fn ps_like_runc() {
    let env = TestEnv::new("vs-ps");
    let c = base_config(&["sh", "-c", "sleep 1000 & sleep 1000 & wait"]);
    let Some((husk, runc)) = pair(&env, "ps_like_runc", c) else {
        return;
    };
    let mut seen = Vec::new();
    for rt in [&husk, &runc] {
        rt.start_detached();
        // The two sleeps have been forked once the json list has three pids.
        let mut pids: Vec<i64> = Vec::new();
        assert!(
            wait_until(WAIT, || {
                pids = serde_json::from_str(&rt.ok(&["ps", "--format", "json"])).unwrap();
                pids.len() == 3
            }),
            "{}: ps json {pids:?}",
            rt.name
        );
        pids.sort();
        let mut a = vec!["ps"];
        a.push(&rt.id);
        a.extend(["-o", "pid,comm"]);
        let o = rt.run(&a);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        let mut lines = text.lines();
        let header: Vec<String> = lines
            .next()
            .unwrap()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        let mut rows: Vec<(i64, String)> = lines
            .map(|l| {
                let mut it = l.split_whitespace();
                (
                    it.next().unwrap().parse().unwrap(),
                    it.next().unwrap().to_owned(),
                )
            })
            .collect();
        rows.sort();
        assert_eq!(
            rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            pids,
            "{}: table vs json",
            rt.name
        );
        let comms: Vec<String> = rows.into_iter().map(|r| r.1).collect();
        seen.push((header, comms));
    }
    assert_eq!(seen[0], seen[1], "(header, commands): husk vs runc");
    assert_eq!(seen[0].1, ["sh", "sleep", "sleep"]);
}

/// Key paths of a JSON value (objects only; arrays are leaves).
fn key_paths(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    if let Value::Object(m) = v {
        for (k, v) in m {
            let p = format!("{prefix}.{k}");
            out.insert(p.clone());
            key_paths(v, &p, out);
        }
    }
}

/// `events --stats`: the same envelope and the same keys (runc omits zero counters; so does
/// husk, so only keys whose value is non-zero in both are compared beyond the fixed ones), and
/// the same limits.
#[test]
fn events_stats_like_runc() {
    let env = TestEnv::new("vs-events");
    // A busy loop under a 50 % quota, so the throttling counters are there to compare.
    let mut c = base_config(&["sh", "-c", "while :; do :; done & sleep 1000 & wait"]);
    c["linux"]["resources"]["memory"] = json!({"limit": 64 << 20});
    c["linux"]["resources"]["pids"] = json!({"limit": 50});
    c["linux"]["resources"]["cpu"] = json!({"quota": 50000, "period": 100000});
    let Some((husk, runc)) = pair(&env, "events_stats_like_runc", c) else {
        return;
    };
    let mut seen = Vec::new();
    for rt in [&husk, &runc] {
        rt.start_detached();
        assert!(wait_until(WAIT, || {
            serde_json::from_str::<Vec<i64>>(&rt.ok(&["ps", "--format", "json"]))
                .unwrap()
                .len()
                == 3
        }));
        let ev: Value = serde_json::from_str(rt.ok(&["events", "--stats"]).trim())
            .unwrap_or_else(|e| panic!("{}: events --stats is one JSON object: {e}", rt.name));
        assert_eq!(ev["type"], "stats");
        assert_eq!(ev["id"], rt.id.as_str());
        seen.push(ev["data"].clone());
    }
    let (h, r) = (&seen[0], &seen[1]);
    // Counters omitted when zero still have runc's names when present.
    for (who, d) in [("husk", h), ("runc", r)] {
        for k in d["cpu"]["throttling"].as_object().unwrap().keys() {
            assert!(
                ["periods", "throttledPeriods", "throttledTime"].contains(&k.as_str()),
                "{who}: cpu.throttling.{k}"
            );
        }
    }
    assert!(
        h["cpu"]["throttling"].get("throttledPeriods").is_some()
            || r["cpu"]["throttling"].get("throttledPeriods").is_none(),
        "runc reports throttled periods, husk does not: {h} {r}"
    );
    // Sections and their always-present keys.
    let fixed = |d: &Value| -> BTreeSet<String> {
        let mut s = BTreeSet::new();
        key_paths(d, "", &mut s);
        s.retain(|p| {
            // Counters that depend on what the container did (page cache, block I/O, per-CPU
            // time) are omitted when zero by both runtimes.
            !p.starts_with(".blkio.")
                && !p.starts_with(".memory.raw.")
                && !matches!(
                    p.as_str(),
                    ".memory.cache"
                        | ".cpu.throttling.periods"
                        | ".cpu.throttling.throttledPeriods"
                        | ".cpu.throttling.throttledTime"
                        | ".cpu.usage.total"
                        | ".cpu.usage.percpu"
                        | ".cpu.usage.percpu_kernel"
                        | ".cpu.usage.percpu_user"
                )
                && !p.ends_with(".usage")
                && !p.ends_with(".max")
        });
        s
    };
    let (fh, fr) = (fixed(h), fixed(r));
    assert!(
        fh == fr,
        "stats keys: only husk has {:?}, only runc has {:?}\nhusk {h}\nrunc {r}",
        fh.difference(&fr).collect::<Vec<_>>(),
        fr.difference(&fh).collect::<Vec<_>>()
    );
    // The raw memory.stat keys come from the same kernel file.
    let raw = |d: &Value| -> BTreeSet<String> {
        d["memory"]["raw"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    };
    assert_eq!(raw(h), raw(r), "memory.raw keys");
    for p in [
        "/memory/usage/limit",
        "/memory/swap/limit",
        "/pids/limit",
        "/pids/current",
        "/cpuset/cpus",
        "/cpuset/mems",
    ] {
        assert_eq!(h.pointer(p), r.pointer(p), "{p}: husk vs runc");
    }
    assert_eq!(h["memory"]["usage"]["limit"], 64 << 20);
    assert_eq!(h["pids"]["limit"], 50);
}

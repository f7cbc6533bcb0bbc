//! The measurements. Every measurement alternates the runtimes call by call.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// A runtime under test.
pub struct Runtime {
    /// Its short name (husk, crun, runc).
    pub name: &'static str,
    /// Its binary.
    pub path: PathBuf,
}

/// One measurement: per runtime, the wall times in seconds and the peak RSS in KiB.
pub struct Measure {
    /// What was measured.
    pub name: String,
    /// Per runtime (same order as the runtimes): samples in seconds.
    pub times: Vec<Vec<f64>>,
    /// Per runtime: peak RSS of the runtime process in KiB, when measured.
    pub rss: Vec<Option<u64>>,
}

/// Binary sizes in bytes, as a pseudo-measurement.
pub fn sizes(rts: &[Runtime]) -> Vec<u64> {
    rts.iter()
        .map(|r| std::fs::metadata(&r.path).map(|m| m.len()).unwrap_or(0))
        .collect()
}

/// Run a command to completion. Its stderr goes to a file, not a pipe: a container created by
/// it inherits the runtime's stdio, and a pipe would stay open as long as the container lives.
fn sh(cmd: &mut Command) -> Result<(), String> {
    // On a tmpfs when there is one: a file truncated on every call is metadata churn, and on
    // this machine's ext4 (mounted with `discard`) churn slows every runtime (see RunDir).
    let dir = Path::new("/dev/shm");
    let dir = if dir.is_dir() {
        dir.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let err_path = dir.join(format!("husk-bench-{}.err", std::process::id()));
    let err = std::fs::File::create(&err_path).map_err(|e| e.to_string())?;
    let st = cmd
        .stdout(Stdio::null())
        .stderr(err)
        .status()
        .map_err(|e| format!("{cmd:?}: {e}"))?;
    if st.success() {
        Ok(())
    } else {
        let msg = std::fs::read_to_string(&err_path).unwrap_or_default();
        Err(format!("{cmd:?}: {st}: {}", msg.trim()))
    }
}

/// A busybox bundle with `config` (args and all) written as its config.json.
fn bundle(dir: &Path, config: &Value) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    std::fs::write(
        dir.join("config.json"),
        serde_json::to_vec_pretty(config).unwrap(),
    )
    .map_err(|e| e.to_string())?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/mk-bundle.sh");
    sh(Command::new("sh").arg(script).arg(dir))?;
    for f in ["hosts", "hostname", ".containerenv"] {
        let p = dir.join("userdata").join(f);
        std::fs::create_dir_all(p.parent().unwrap()).map_err(|e| e.to_string())?;
        std::fs::write(p, "").map_err(|e| e.to_string())?;
    }
    std::fs::create_dir_all(dir.join("userdata/shm")).map_err(|e| e.to_string())
}

/// runc's default spec (ociVersion 1.0.2-dev, which crun 1.8.1 also accepts), running `args`.
fn minimal(args: &[&str]) -> Value {
    let mut v = spec_template();
    v["process"]["terminal"] = json!(false);
    v["process"]["args"] = json!(args);
    v
}

fn spec_template() -> Value {
    // The same content `runc spec` writes, embedded so that the bench does not depend on runc.
    let mut v: Value = serde_json::from_str(include_str!(
        "../../runtime-lib/src/spec/default-config.json"
    ))
    .expect("embedded config");
    v["ociVersion"] = json!("1.0.2-dev");
    v["hostname"] = json!("bench");
    v
}

/// podman's generated config (seccomp, masked paths, ...), running `args`.
fn realistic(configs: &Path, args: &[&str]) -> Result<Value, String> {
    let p = configs.join("podman-4.3-busybox.json");
    let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
    let mut v: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    v["process"]["terminal"] = json!(false);
    v["process"]["args"] = json!(args);
    Ok(v)
}

struct Ctx<'a> {
    rts: &'a [Runtime],
    /// The runtimes' state roots and the pid files: a tmpfs, see [`RunDir`].
    run: &'a Path,
    n: std::cell::Cell<u64>,
}

/// A private tmpfs for what engines keep under `/run` (the runtimes' state roots, pid files),
/// unmounted on drop. `/run` is a tmpfs on every systemd host, and containerd and podman keep
/// the runtime's root there; on this development VM `/run` and `/tmp` are on the ext4 disk,
/// mounted with `discard`, and after a burst of containers created and deleted every
/// runtime's `create` stays slower for minutes (husk 9.1 → 12–14 ms, crun 30 → 32–34 ms,
/// with the CPU idle), which the series then shows as a cost growing with the count. With
/// the state on a tmpfs the same probe stays flat (benches/README.md).
struct RunDir(PathBuf);

impl RunDir {
    fn mount(dir: PathBuf) -> Result<RunDir, String> {
        use nix::mount::{mount, MsFlags};
        std::fs::create_dir_all(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        mount(
            Some("tmpfs"),
            &dir,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some("mode=0755"),
        )
        .map_err(|e| format!("mount tmpfs on {}: {e}", dir.display()))?;
        Ok(RunDir(dir))
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

impl Ctx<'_> {
    fn id(&self) -> String {
        let n = self.n.get() + 1;
        self.n.set(n);
        format!("hb{}-{n}", std::process::id())
    }
    fn root(&self, rt: &Runtime) -> PathBuf {
        self.run.join("state").join(rt.name)
    }
    fn cmd(&self, rt: &Runtime, args: &[&str]) -> Command {
        let mut c = Command::new(&rt.path);
        c.arg("--root").arg(self.root(rt)).args(args);
        c.stdin(Stdio::null());
        c
    }
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        0.0
    } else {
        s[s.len() / 2]
    }
}

/// The runtimes' order in round `round`: rotated every round, so that no runtime always
/// follows the same one (a runtime's call lands on the kernel's clean-up of the previous
/// one's container: network namespaces are freed by a worker, after an RCU grace period).
fn rotation(n: usize, round: usize) -> impl Iterator<Item = usize> {
    (0..n).map(move |j| (round + j) % n)
}

/// Peak RSS (KiB) of one runtime call `args`, from `/usr/bin/time -f %M` (GNU time reads
/// wait4's rusage: the runtime process, and the children it reaped).
fn peak_rss_of(c: &Ctx<'_>, rt: &Runtime, args: &[&str]) -> Option<u64> {
    // time's report goes to a file (-o), not a pipe: a container made by the call inherits
    // stderr, and would hold a pipe open as long as it lives (see `sh`).
    let report = c.run.join("time.out");
    let mut cmd = Command::new("/usr/bin/time");
    cmd.args(["-f", "%M", "-o"])
        .arg(&report)
        .arg(&rt.path)
        .arg("--root")
        .arg(c.root(rt))
        .args(args);
    sh(&mut cmd).ok()?;
    std::fs::read_to_string(&report)
        .ok()?
        .lines()
        .last()?
        .trim()
        .parse()
        .ok()
}

/// Peak RSS (KiB) of `run` of the bundle.
fn peak_rss(c: &Ctx<'_>, rt: &Runtime, bundle: &Path) -> Option<u64> {
    let id = c.id();
    peak_rss_of(c, rt, &["run", "--bundle", bundle.to_str()?, &id])
}

/// Peak RSS (KiB) of `create` of the bundle (the container is deleted afterwards).
fn peak_rss_create(c: &Ctx<'_>, rt: &Runtime, bundle: &Path) -> Option<u64> {
    let id = c.id();
    let rss = peak_rss_of(c, rt, &["create", "--bundle", bundle.to_str()?, &id]);
    let _ = sh(&mut c.cmd(rt, &["delete", "--force", &id]));
    reap();
    rss
}

/// Reap the re-parented inits of deleted containers.
fn reap() {
    while nix::sys::wait::waitpid(None, Some(nix::sys::wait::WaitPidFlag::WNOHANG))
        .is_ok_and(|s| s.pid().is_some())
    {}
}

fn bench_run(c: &Ctx<'_>, name: &str, bundle: &Path, runs: usize) -> Result<Measure, String> {
    let mut times = vec![Vec::new(); c.rts.len()];
    for round in 0..runs {
        for i in rotation(c.rts.len(), round) {
            let rt = &c.rts[i];
            let id = c.id();
            let t = Instant::now();
            sh(&mut c.cmd(rt, &["run", "--bundle", bundle.to_str().unwrap(), &id]))?;
            times[i].push(t.elapsed().as_secs_f64());
        }
    }
    let rss = c.rts.iter().map(|rt| peak_rss(c, rt, bundle)).collect();
    Ok(Measure {
        name: name.to_string(),
        times,
        rss,
    })
}

/// create → start → wait → delete, as containerd's shim does it.
fn lifecycle_once(c: &Ctx<'_>, rt: &Runtime, bundle: &Path) -> Result<f64, String> {
    let id = c.id();
    let pid_file = c.run.join(format!("{id}.pid"));
    let t = Instant::now();
    sh(&mut c.cmd(
        rt,
        &[
            "create",
            "--bundle",
            bundle.to_str().unwrap(),
            "--pid-file",
            pid_file.to_str().unwrap(),
            &id,
        ],
    ))?;
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .map_err(|e| e.to_string())?
        .trim()
        .parse()
        .map_err(|e| format!("{e}"))?;
    sh(&mut c.cmd(rt, &["start", &id]))?;
    // We are the subreaper: init is our child now.
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
    sh(&mut c.cmd(rt, &["delete", &id]))?;
    let secs = t.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(pid_file);
    Ok(secs)
}

fn bench_lifecycle(c: &Ctx<'_>, name: &str, bundle: &Path, runs: usize) -> Result<Measure, String> {
    let mut times = vec![Vec::new(); c.rts.len()];
    for round in 0..runs {
        for i in rotation(c.rts.len(), round) {
            times[i].push(lifecycle_once(c, &c.rts[i], bundle)?);
        }
    }
    let rss = c
        .rts
        .iter()
        .map(|rt| peak_rss_create(c, rt, bundle))
        .collect();
    Ok(Measure {
        name: name.to_string(),
        times,
        rss,
    })
}

/// `exec` of `/bin/true` into a running `sleep` container (one per runtime, same bundle),
/// alternating the runtimes call by call; and the peak RSS of one `exec`.
fn bench_exec(c: &Ctx<'_>, name: &str, bundle: &Path, runs: usize) -> Result<Measure, String> {
    let b = bundle.to_str().unwrap();
    let ids: Vec<String> = c.rts.iter().map(|_| c.id()).collect();
    let mut started = Vec::new();
    let result = (|| {
        for (rt, id) in c.rts.iter().zip(&ids) {
            sh(&mut c.cmd(rt, &["run", "--detach", "--bundle", b, id]))?;
            started.push((rt, id));
        }
        let mut times = vec![Vec::new(); c.rts.len()];
        for round in 0..runs {
            for i in rotation(c.rts.len(), round) {
                let (rt, id) = (&c.rts[i], &ids[i]);
                let t = Instant::now();
                sh(&mut c.cmd(rt, &["exec", id, "/bin/true"]))?;
                times[i].push(t.elapsed().as_secs_f64());
            }
        }
        let rss = c
            .rts
            .iter()
            .zip(&ids)
            .map(|(rt, id)| peak_rss_of(c, rt, &["exec", id, "/bin/true"]))
            .collect();
        Ok(Measure {
            name: name.to_string(),
            times,
            rss,
        })
    })();
    for (rt, id) in started {
        let _ = sh(&mut c.cmd(rt, &["delete", "--force", id]));
    }
    reap();
    result
}

/// `state` of one container and `list` (table) with `count` created containers in each
/// runtime's own state root; the containers are made by the runtime itself (`create`), and
/// deleted afterwards.
fn bench_many(
    c: &Ctx<'_>,
    bundle: &Path,
    count: usize,
    runs: usize,
) -> Result<Vec<Measure>, String> {
    let b = bundle.to_str().unwrap();
    let mut made: Vec<Vec<String>> = vec![Vec::new(); c.rts.len()];
    let result = (|| {
        for (i, rt) in c.rts.iter().enumerate() {
            for _ in 0..count {
                let id = c.id();
                sh(&mut c.cmd(rt, &["create", "--bundle", b, &id]))?;
                made[i].push(id);
            }
        }
        let mut state = vec![Vec::new(); c.rts.len()];
        let mut list = vec![Vec::new(); c.rts.len()];
        for k in 0..runs {
            for i in rotation(c.rts.len(), k) {
                let rt = &c.rts[i];
                let id = &made[i][k * 7 % count];
                let t = Instant::now();
                sh(&mut c.cmd(rt, &["state", id]))?;
                state[i].push(t.elapsed().as_secs_f64());
                let t = Instant::now();
                sh(&mut c.cmd(rt, &["list"]))?;
                list[i].push(t.elapsed().as_secs_f64());
            }
        }
        let none = vec![None; c.rts.len()];
        Ok(vec![
            Measure {
                name: format!("state ({count} containers)"),
                times: state,
                rss: none.clone(),
            },
            Measure {
                name: format!("list ({count} containers)"),
                times: list,
                rss: none,
            },
        ])
    })();
    for (i, rt) in c.rts.iter().enumerate() {
        for id in &made[i] {
            let _ = sh(&mut c.cmd(rt, &["delete", "--force", id]));
        }
    }
    reap();
    result
}

/// Idle and busy jiffies of all CPUs so far (the `cpu` line of /proc/stat).
fn cpu_jiffies() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...
    let idle = v.get(3)? + v.get(4).copied().unwrap_or(0);
    Some((idle, v.iter().sum::<u64>() - idle))
}

/// Wait (at most 30 s) until the machine is idle: 90 % of the CPU time of a 250 ms window
/// idle. Containers deleted by one phase leave the kernel work for a while afterwards (network
/// namespaces are freed by a worker, cgroups after an RCU grace period); without this, that
/// work lands on the next phase's first samples. Returns the seconds waited.
fn settle() -> f64 {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(30) {
        let Some(a) = cpu_jiffies() else { break };
        std::thread::sleep(Duration::from_millis(250));
        let Some(b) = cpu_jiffies() else { break };
        let (idle, busy) = (b.0 - a.0, b.1 - a.1);
        if idle + busy > 0 && idle * 10 >= (idle + busy) * 9 {
            break;
        }
    }
    t.elapsed().as_secs_f64()
}

/// Announce a phase of the bench, once the machine has settled after the previous one.
fn phase(name: &str) {
    let waited = settle();
    eprintln!("husk-bench: {name} (settled in {waited:.1} s)");
}

/// The series `reps` times over: per repetition, per runtime, the create+start time of each
/// container. Each runtime runs its series on its own, on a settled machine (see [`settle`]),
/// the runtimes' order rotating from one repetition to the next: the question is how a
/// runtime's cost grows with the number of containers it runs. Taking turns container by
/// container, as the other measurements do, would put three runtimes' containers on the machine
/// at every point, and triple what the kernel adds per running container (pivot_root walks
/// every task, a v1 cpuset write walks every cpuset, a sysfs mount every network namespace's
/// sysfs: benches/README.md) in every runtime's slope.
fn bench_series_reps(
    c: &Ctx<'_>,
    bundle: &Path,
    count: usize,
    reps: usize,
) -> Result<Vec<Vec<Vec<f64>>>, String> {
    let mut all = Vec::new();
    for r in 0..reps {
        let mut rep = vec![Vec::new(); c.rts.len()];
        for i in rotation(c.rts.len(), r) {
            let waited = settle();
            eprintln!(
                "husk-bench:   series {}/{reps}, {} (settled in {waited:.1} s)",
                r + 1,
                c.rts[i].name
            );
            rep[i] = bench_series(c, &c.rts[i], bundle, count)?;
        }
        all.push(rep);
    }
    Ok(all)
}

/// `count` sleep containers created and started in a row by `rt`: the create+start time of
/// each, in order. All of them run together at the end, then are deleted.
fn bench_series(
    c: &Ctx<'_>,
    rt: &Runtime,
    bundle: &Path,
    count: usize,
) -> Result<Vec<f64>, String> {
    let mut out = Vec::new();
    let mut ids = Vec::new();
    let b = bundle.to_str().unwrap();
    let result = (|| {
        for _ in 0..count {
            let id = c.id();
            let t = Instant::now();
            sh(&mut c.cmd(rt, &["create", "--bundle", b, &id]))?;
            ids.push(id.clone());
            sh(&mut c.cmd(rt, &["start", &id]))?;
            out.push(t.elapsed().as_secs_f64());
        }
        Ok(())
    })();
    for id in &ids {
        let _ = sh(&mut c.cmd(rt, &["delete", "--force", id]));
    }
    reap();
    result.map(|()| out)
}

/// All measurements.
pub fn all(
    rts: &[Runtime],
    configs: &Path,
    work: &Path,
    runs: usize,
    series: usize,
    series_reps: usize,
    many: usize,
) -> Result<Results, String> {
    let run = RunDir::mount(work.join("run"))?;
    let c = Ctx {
        rts,
        run: &run.0,
        n: std::cell::Cell::new(0),
    };
    let min = work.join("min");
    bundle(&min, &minimal(&["/bin/true"]))?;
    let real = work.join("real");
    bundle(&real, &realistic(configs, &["/bin/true"])?)?;
    let sleep = work.join("sleep");
    bundle(&sleep, &minimal(&["sleep", "1000"]))?;
    let mut measures = Vec::new();
    phase("run /bin/true, minimal config");
    measures.push(bench_run(&c, "run /bin/true (minimal)", &min, runs)?);
    phase("run /bin/true, realistic config");
    measures.push(bench_run(&c, "run /bin/true (podman config)", &real, runs)?);
    phase("lifecycle, minimal config");
    measures.push(bench_lifecycle(
        &c,
        "create+start+wait+delete (minimal)",
        &min,
        runs,
    )?);
    phase("lifecycle, realistic config");
    measures.push(bench_lifecycle(
        &c,
        "create+start+wait+delete (podman config)",
        &real,
        runs,
    )?);
    phase("exec into a running container");
    measures.push(bench_exec(&c, "exec /bin/true (minimal)", &sleep, runs)?);
    // The series before the 1,000 containers: deleting those leaves the kernel busy for a
    // while (network namespaces are freed by a worker), which would weigh on the first
    // containers of the series.
    eprintln!("husk-bench: series of {series}, {series_reps} times");
    let s = bench_series_reps(&c, &sleep, series, series_reps)?;
    if many > 0 {
        phase(&format!(
            "state and list with {many} created containers per runtime"
        ));
        measures.extend(bench_many(&c, &sleep, many, runs)?);
    }
    Ok(Results {
        measures,
        series_reps: s,
        sizes: sizes(rts),
    })
}

/// Everything the report shows.
pub struct Results {
    /// The timed measurements.
    pub measures: Vec<Measure>,
    /// Per repetition of the series, per runtime, the create+start time of each container.
    pub series_reps: Vec<Vec<Vec<f64>>>,
    /// Binary sizes in bytes.
    pub sizes: Vec<u64>,
}

/// Median of the slice (for the report).
pub fn med(v: &[f64]) -> f64 {
    median(v)
}

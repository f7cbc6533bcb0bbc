//! The context of one case: its work directory, the runtime calls it makes (each recorded as
//! evidence), what it expected and saw, and the cleanup that runs whatever the outcome —
//! kill and delete every container it created, then look for anything left behind (tagged
//! processes, cgroup directories, mounts, state entries) and report each as a leak.

use crate::host;
use crate::proc::{self, CmdOut, Exit};
use crate::spec;
use serde::Serialize;
use serde_json::Value;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Why a case did not pass.
#[derive(Debug)]
pub enum Fail {
    /// The runtime (or the harness) did something wrong.
    Fail(String),
    /// The case cannot run here; the reason says why.
    Skip(String),
}

impl From<io::Error> for Fail {
    fn from(e: io::Error) -> Self {
        Fail::Fail(format!("harness i/o error: {e}"))
    }
}

/// What a case returns.
pub type R<T = ()> = Result<T, Fail>;

/// Fail the case with a formatted reason.
#[macro_export]
macro_rules! fail {
    ($($t:tt)*) => { return Err($crate::ctx::Fail::Fail(format!($($t)*))) };
}

/// Skip the case with a formatted reason.
#[macro_export]
macro_rules! skip {
    ($($t:tt)*) => { return Err($crate::ctx::Fail::Skip(format!($($t)*))) };
}

/// Fail the case unless the condition holds.
#[macro_export]
macro_rules! ensure {
    ($c:expr, $($t:tt)*) => { if !$c { $crate::fail!($($t)*) } };
}

/// The runtime under test.
#[derive(Debug, Clone)]
pub struct Runtime {
    /// Its executable.
    pub path: PathBuf,
    /// Extra global flags, before the command.
    pub global: Vec<String>,
    /// Its state directory (`--root`).
    pub root: PathBuf,
}

impl Runtime {
    /// The full argv for a runtime command.
    pub fn argv(&self, args: &[&str]) -> Vec<String> {
        let mut v = vec![self.path.to_string_lossy().into_owned()];
        v.extend(self.global.iter().cloned());
        v.push("--root".into());
        v.push(self.root.to_string_lossy().into_owned());
        v.extend(args.iter().map(|s| s.to_string()));
        v
    }
}

/// Shared by every case of one run.
#[derive(Debug)]
pub struct Env {
    /// The runtime under test.
    pub rt: Runtime,
    /// Where case directories go.
    pub work: PathBuf,
    /// Holds `busybox` and `husk-probe`, hard-linked into every root filesystem.
    pub template: PathBuf,
    /// busybox applet names.
    pub applets: Vec<String>,
    /// First component of every container's cgroupsPath.
    pub cg_prefix: String,
    /// Distinguishes this run's ids from other runs'.
    pub run_id: u32,
    /// Per-case time limit.
    pub timeout: Duration,
    /// Keep case directories.
    pub keep: bool,
}

/// A bundle: a directory with `config.json` and `rootfs/`, and the id it will be created as.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// Container id.
    pub id: String,
    /// Bundle directory.
    pub dir: PathBuf,
    /// The config, written at create time.
    pub config: Value,
}

impl Bundle {
    /// The root filesystem.
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }
    /// Where the container's stdout (and the create command's) goes.
    pub fn out(&self) -> PathBuf {
        self.dir.join("stdout")
    }
    /// Where the container's stderr (and the create command's) goes.
    pub fn err(&self) -> PathBuf {
        self.dir.join("stderr")
    }
    /// The pid file passed to create.
    pub fn pid_file(&self) -> PathBuf {
        self.dir.join("pid")
    }
    /// Write config.json.
    pub fn write_config(&self) -> io::Result<()> {
        fs::write(
            self.dir.join("config.json"),
            serde_json::to_vec_pretty(&self.config)?,
        )
    }
}

/// One comparison a case made.
#[derive(Debug, Serialize)]
pub struct Evidence {
    /// What was checked.
    pub what: String,
    /// What the spec/config requires.
    pub expected: Value,
    /// What was observed.
    pub seen: Value,
    /// Whether it matched.
    pub ok: bool,
}

/// The context one case runs in.
pub struct Ctx<'a> {
    /// Run-wide settings.
    pub env: &'a Env,
    /// This case's work directory.
    pub dir: PathBuf,
    /// Value of [`spec::TAG_VAR`] in every process of this case.
    pub tag: String,
    idx: usize,
    deadline: Instant,
    nbundles: usize,
    ncmds: usize,
    /// Containers created (cleanup deletes them).
    pub ids: Vec<String>,
    /// Extra cgroup directories to check for leaks and remove.
    pub extra_cgroups: Vec<PathBuf>,
    /// Mounts the case made itself (not leaks; unmounted at cleanup).
    own_mounts: Vec<PathBuf>,
    /// What was compared.
    pub evidence: Vec<Evidence>,
    /// Runtime calls made.
    pub commands: Vec<CmdOut>,
}

impl<'a> Ctx<'a> {
    /// A context for case number `idx`.
    pub fn new(env: &'a Env, idx: usize) -> io::Result<Self> {
        let dir = env.work.join(idx.to_string());
        fs::create_dir_all(&dir)?;
        Ok(Ctx {
            env,
            dir,
            tag: format!("{}-{}", env.run_id, idx),
            idx,
            deadline: Instant::now() + env.timeout,
            nbundles: 0,
            ncmds: 0,
            ids: Vec::new(),
            extra_cgroups: Vec::new(),
            own_mounts: Vec::new(),
            evidence: Vec::new(),
            commands: Vec::new(),
        })
    }

    /// A fresh bundle: busybox + probe root filesystem and the default config.
    pub fn bundle(&mut self) -> R<Bundle> {
        let k = self.nbundles;
        self.nbundles += 1;
        let id = format!("hc{}-{}-{}", self.env.run_id, self.idx, k);
        let dir = self.dir.join(format!("b{k}"));
        make_rootfs(self.env, &dir.join("rootfs"))?;
        let config = spec::base(&format!("/{}/{}", self.env.cg_prefix, id), &self.tag);
        Ok(Bundle { id, dir, config })
    }

    /// A bundle whose process is the probe with `ops`.
    pub fn probe_bundle(&mut self, ops: &[&str]) -> R<Bundle> {
        let mut b = self.bundle()?;
        spec::probe(&mut b.config, ops);
        Ok(b)
    }

    /// A bundle whose process is `sh -c script`.
    pub fn shell_bundle(&mut self, script: &str) -> R<Bundle> {
        let mut b = self.bundle()?;
        spec::shell(&mut b.config, script);
        Ok(b)
    }

    fn cmd_deadline(&self) -> Instant {
        self.deadline.min(Instant::now() + Duration::from_secs(10))
    }

    /// Run the runtime with `args` (global flags and `--root` prepended).
    pub fn rt(&mut self, args: &[&str]) -> R<CmdOut> {
        let argv = self.env.rt.argv(args);
        self.run_argv(&argv, None)
    }

    /// Run any argv with stdout/stderr captured through files in the case directory.
    pub fn run_argv(&mut self, argv: &[String], stdin: Option<&Path>) -> R<CmdOut> {
        let n = self.ncmds;
        self.ncmds += 1;
        let out = self.dir.join(format!("cmd{n}.out"));
        let err = self.dir.join(format!("cmd{n}.err"));
        let res = proc::run(argv, stdin, &out, &err, self.cmd_deadline())
            .map_err(|e| Fail::Fail(format!("cannot run {}: {e}", argv[0])))?;
        self.commands.push(res.clone());
        Ok(res)
    }

    /// `create --bundle B --pid-file B/pid ID` (with extra create flags), container stdio into
    /// the bundle's stdout/stderr files.
    pub fn create_with(&mut self, b: &Bundle, extra: &[&str]) -> R<CmdOut> {
        b.write_config()?;
        self.ids.push(b.id.clone());
        let bundle = b.dir.to_string_lossy().into_owned();
        let pid_file = b.pid_file().to_string_lossy().into_owned();
        let mut args = vec!["create", "--bundle", &bundle, "--pid-file", &pid_file];
        args.extend_from_slice(extra);
        args.push(&b.id);
        let argv = self.env.rt.argv(&args);
        let res = proc::run(&argv, None, &b.out(), &b.err(), self.cmd_deadline())
            .map_err(|e| Fail::Fail(format!("cannot run the runtime: {e}")))?;
        self.commands.push(res.clone());
        Ok(res)
    }

    /// `create`, which must succeed; returns the pid from the pid file.
    pub fn create_ok(&mut self, b: &Bundle) -> R<i32> {
        let res = self.create_with(b, &[])?;
        if !res.success() {
            fail!("create failed: {}", res.summary());
        }
        self.read_pid_file(&b.pid_file())
    }

    /// The pid in a pid file.
    pub fn read_pid_file(&self, path: &Path) -> R<i32> {
        let text = fs::read_to_string(path)
            .map_err(|e| Fail::Fail(format!("pid file {}: {e}", path.display())))?;
        text.trim()
            .parse()
            .map_err(|_| Fail::Fail(format!("pid file {} holds {text:?}", path.display())))
    }

    /// A runtime command that must succeed.
    pub fn rt_ok(&mut self, args: &[&str]) -> R<CmdOut> {
        let res = self.rt(args)?;
        if !res.success() {
            fail!("{}", res.summary());
        }
        Ok(res)
    }

    /// A runtime command that must FAIL (non-zero exit, not a timeout); recorded as evidence.
    pub fn rt_fails(&mut self, args: &[&str], why: &str) -> R<CmdOut> {
        let res = self.rt(args)?;
        let ok = matches!(res.exit, Some(Exit::Code(c)) if c != 0);
        self.evidence.push(Evidence {
            what: format!("`{}` fails ({why})", args.join(" ")),
            expected: Value::from("non-zero exit"),
            seen: serde_json::to_value(res.exit).unwrap_or(Value::Null),
            ok,
        });
        if !ok {
            fail!(
                "`{}` must fail ({why}) but {}",
                args.join(" "),
                res.exit
                    .map(|e| e.to_string())
                    .unwrap_or("timed out".into())
            );
        }
        Ok(res)
    }

    /// `start ID`, which must succeed.
    pub fn start_ok(&mut self, id: &str) -> R {
        self.rt_ok(&["start", id]).map(|_| ())
    }

    /// `delete ID`, which must succeed.
    pub fn delete_ok(&mut self, id: &str) -> R {
        self.rt_ok(&["delete", id]).map(|_| ())
    }

    /// `state ID` parsed.
    pub fn state(&mut self, id: &str) -> R<Value> {
        let res = self.rt_ok(&["state", id])?;
        serde_json::from_str(&res.stdout)
            .map_err(|e| Fail::Fail(format!("state output is not JSON ({e}): {:?}", res.stdout)))
    }

    /// The `status` field of `state ID`.
    pub fn status(&mut self, id: &str) -> R<String> {
        let st = self.state(id)?;
        Ok(st["status"].as_str().unwrap_or("").to_string())
    }

    /// Wait for a container process to exit (within the case's time).
    pub fn wait_exit(&mut self, pid: i32) -> R<Exit> {
        match proc::wait_exit(pid, self.deadline) {
            Some(e) => Ok(e),
            None => fail!("process {pid} still running when the case timed out"),
        }
    }

    /// Poll `state ID` until its status is `want` (the runtime may take a moment to notice a
    /// process exit); fails with the last status seen.
    pub fn wait_status(&mut self, id: &str, want: &str, within: Duration) -> R {
        let until = Instant::now() + within;
        loop {
            let st = self.status(id)?;
            if st == want {
                return Ok(());
            }
            if Instant::now() >= until {
                self.check("state.status", want, &st)?;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// create, start, wait for exit, delete: returns the exit and the container's stdout.
    pub fn run_container(&mut self, b: &Bundle) -> R<(Exit, String)> {
        let pid = self.create_ok(b)?;
        self.start_ok(&b.id)?;
        let exit = self.wait_exit(pid)?;
        self.wait_status(&b.id, "stopped", Duration::from_secs(5))?;
        self.delete_ok(&b.id)?;
        let out = fs::read_to_string(b.out()).unwrap_or_default();
        Ok((exit, out))
    }

    /// Run a probe container and return its report.
    pub fn probe(&mut self, b: &Bundle) -> R<Value> {
        let (exit, out) = self.run_container(b)?;
        match crate::probe::parse(&out) {
            Some(v) => Ok(v),
            None => {
                let err = fs::read_to_string(b.err()).unwrap_or_default();
                fail!(
                    "no probe report ({exit}); stdout {:?}; stderr {:?}",
                    tail(&out),
                    tail(&err)
                )
            }
        }
    }

    /// Probe with `ops` in a default bundle changed by `edit`.
    pub fn probe_with(&mut self, ops: &[&str], edit: impl FnOnce(&mut Value)) -> R<Value> {
        let mut b = self.probe_bundle(ops)?;
        edit(&mut b.config);
        self.probe(&b)
    }

    /// The control for negative cases: a valid container must run (create, start, exit 0,
    /// delete) before a refusal counts — a runtime that refuses everything proves nothing.
    pub fn control(&mut self) -> R {
        let b = self.shell_bundle("exit 0")?;
        match self.run_container(&b) {
            Ok((Exit::Code(0), _)) => Ok(()),
            Ok((e, _)) => {
                fail!("control: a valid container ended with {e}, so a refusal would prove nothing")
            }
            Err(Fail::Fail(r)) => fail!(
                "control: a valid container does not run, so a refusal would prove nothing: {r}"
            ),
            Err(e) => Err(e),
        }
    }

    /// Record a comparison; fail unless `expected == seen`.
    pub fn check(&mut self, what: &str, expected: impl Serialize, seen: impl Serialize) -> R {
        let expected = serde_json::to_value(expected).unwrap_or(Value::Null);
        let seen = serde_json::to_value(seen).unwrap_or(Value::Null);
        let ok = expected == seen;
        let msg = format!("{what}: expected {expected}, saw {seen}");
        self.evidence.push(Evidence {
            what: what.into(),
            expected,
            seen,
            ok,
        });
        if !ok {
            fail!("{msg}");
        }
        Ok(())
    }

    /// Record a check described in words; fail unless `ok`.
    pub fn check_that(&mut self, what: &str, expected: &str, seen: impl Serialize, ok: bool) -> R {
        let seen = serde_json::to_value(seen).unwrap_or(Value::Null);
        let msg = format!("{what}: expected {expected}, saw {seen}");
        self.evidence.push(Evidence {
            what: what.into(),
            expected: Value::from(expected),
            seen,
            ok,
        });
        if !ok {
            fail!("{msg}");
        }
        Ok(())
    }

    /// Make the case directory a shared mount (bind onto itself, MS_SHARED), for cases whose
    /// outcome depends on the propagation of the bundle's parent mount.
    pub fn own_mount_shared(&mut self) -> R {
        use nix::mount::{mount, MsFlags};
        let d = self.dir.clone();
        mount(Some(&d), &d, None::<&str>, MsFlags::MS_BIND, None::<&str>).map_err(|e| {
            Fail::Fail(format!(
                "mount(\"{0}\", \"{0}\", MS_BIND): {e}",
                d.display()
            ))
        })?;
        self.own_mounts.push(d.clone());
        mount(
            None::<&str>,
            &d,
            None::<&str>,
            MsFlags::MS_SHARED,
            None::<&str>,
        )
        .map_err(|e| Fail::Fail(format!("mount(\"{}\", MS_SHARED): {e}", d.display())))?;
        Ok(())
    }

    /// Mount a small tmpfs at `target` (the case's own mount: not a leak).
    pub fn own_mount_tmpfs(&mut self, target: &Path) -> R {
        use nix::mount::{mount, MsFlags};
        mount(
            Some("tmpfs"),
            target,
            Some("tmpfs"),
            MsFlags::empty(),
            Some("size=1m"),
        )
        .map_err(|e| {
            Fail::Fail(format!(
                "mount(\"tmpfs\", \"{}\", \"tmpfs\"): {e}",
                target.display()
            ))
        })?;
        self.own_mounts.push(target.to_path_buf());
        Ok(())
    }

    /// Clean up everything the case created and return the leaks found on the way.
    pub fn cleanup(&mut self) -> Vec<String> {
        let mut leaks = Vec::new();
        // Cleanup has its own budget: the case may have used all of its time.
        self.deadline = Instant::now() + Duration::from_secs(20);
        let ids = std::mem::take(&mut self.ids);
        for id in &ids {
            let _ = self.rt(&["delete", "--force", id]);
        }
        // Tagged processes: the runtime's delete must have killed every container process.
        let needle = format!("{}={}", spec::TAG_VAR, self.tag);
        let mut left = host::processes_with_env(&needle);
        let until = Instant::now() + Duration::from_secs(3);
        while !left.is_empty() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50));
            left = host::processes_with_env(&needle);
        }
        if !left.is_empty() {
            let desc: Vec<String> = left
                .iter()
                .map(|p| format!("{p} ({})", cmdline(*p)))
                .collect();
            leaks.push(format!("processes left running: {}", desc.join(", ")));
            for p in &left {
                proc::kill9(*p);
            }
        }
        for id in &ids {
            if let Ok(res) = self.rt(&["state", id]) {
                if res.success() {
                    leaks.push(format!("container {id} still exists after delete --force"));
                }
            }
        }
        // cgroups: the container's directory in every hierarchy, plus what the case named.
        let mut dirs = self.extra_cgroups.clone();
        for h in host::hierarchies() {
            for id in &ids {
                dirs.push(h.path.join(&self.env.cg_prefix).join(id));
                dirs.push(h.path.join(id));
            }
        }
        for d in dirs {
            if d.is_dir() {
                let until = Instant::now() + Duration::from_secs(1);
                while d.is_dir() && Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(50));
                }
                if d.is_dir() {
                    leaks.push(format!("cgroup left behind: {}", d.display()));
                    remove_cgroup(&d);
                }
            }
        }
        // Mounts on the host under the case directory (a runtime working in the wrong mount
        // namespace, or not detaching what it set up).
        let own = std::mem::take(&mut self.own_mounts);
        let mut mounts = host::mounts_under(&self.dir);
        // The case's own mounts are not leaks, but only once each: a second mount on the same
        // point is somebody else's.
        for o in &own {
            if let Some(i) = mounts.iter().position(|m| Path::new(m) == o) {
                mounts.remove(i);
            }
        }
        if !mounts.is_empty() {
            leaks.push(format!("host mounts left behind: {}", mounts.join(", ")));
            mounts.reverse();
            for m in mounts {
                let _ = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH);
            }
        }
        for o in own.iter().rev() {
            let _ = nix::mount::umount2(o, nix::mount::MntFlags::MNT_DETACH);
        }
        if !self.env.keep {
            let _ = fs::remove_dir_all(&self.dir);
        }
        leaks
    }
}

fn tail(s: &str) -> &str {
    let s = s.trim();
    if s.len() > 400 {
        let mut i = s.len() - 400;
        while !s.is_char_boundary(i) {
            i += 1;
        }
        &s[i..]
    } else {
        s
    }
}

/// A process's command line, for leak reports.
pub fn cmdline(pid: i32) -> String {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            String::from_utf8_lossy(&b)
                .replace('\0', " ")
                .trim()
                .to_string()
        })
        .unwrap_or_default()
}

/// Kill what is in a cgroup (and its children) and remove the directories, deepest first.
pub fn remove_cgroup(dir: &Path) {
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.filter_map(|e| e.ok()) {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                remove_cgroup(&e.path());
            }
        }
    }
    for file in ["cgroup.procs", "tasks"] {
        if let Ok(text) = fs::read_to_string(dir.join(file)) {
            for pid in text.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                proc::kill9(pid);
            }
        }
    }
    // A frozen v1 cgroup holds its tasks even against SIGKILL until thawed.
    let _ = fs::write(dir.join("freezer.state"), "THAWED");
    let _ = fs::write(dir.join("cgroup.freeze"), "0");
    let until = Instant::now() + Duration::from_secs(2);
    while fs::remove_dir(dir).is_err() && dir.exists() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Populate a root filesystem: busybox with a relative symlink per applet, the probe, and the
/// few files a shell and `id` want.
pub fn make_rootfs(env: &Env, root: &Path) -> io::Result<()> {
    for d in [
        "bin", "proc", "sys", "dev", "etc", "tmp", "root", "usr/bin", "sbin", "mnt",
    ] {
        fs::create_dir_all(root.join(d))?;
    }
    link_or_copy(&env.template.join("busybox"), &root.join("bin/busybox"))?;
    link_or_copy(&env.template.join("husk-probe"), &root.join("husk-probe"))?;
    for applet in &env.applets {
        let p = root.join("bin").join(applet);
        if !p.exists() {
            std::os::unix::fs::symlink("busybox", p)?;
        }
    }
    std::os::unix::fs::symlink("../../bin/busybox", root.join("usr/bin/env"))?;
    fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    )?;
    fs::write(root.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n")?;
    fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777))?;
    Ok(())
}

fn link_or_copy(src: &Path, dst: &Path) -> io::Result<()> {
    // Hard links keep ~200 root filesystems cheap; copy across filesystems.
    fs::hard_link(src, dst).or_else(|_| fs::copy(src, dst).map(|_| ()))
}

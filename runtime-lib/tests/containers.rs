//! System tests of the library's process model, through its public API (root only):
//! user namespaces and id maps, joining namespaces (and the second fork it needs for pid),
//! time namespace offsets, `--preserve-fds` and fd hygiene, exit status, and cleanup after a
//! failed create.
//!
//! Single-threaded on purpose (`harness = false`): the library refuses to fork from a
//! multi-threaded process. Each case prints `ok`/`not ok`; the last line is
//! `N passed, M failed, K skipped`.

use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use husk::container::ExitStatus;
use husk::{Container, ContainerBuilder};
use serde_json::{json, Value};

type R = Result<(), String>;

struct Env {
    dir: PathBuf,
    root: PathBuf,
}

impl Env {
    fn new(name: &str) -> Env {
        let dir = std::env::temp_dir().join(format!("husk-lib-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let root = dir.join("state");
        Env { dir, root }
    }

    /// A busybox bundle `name` whose config is the default spec changed by `edit`.
    fn bundle(&self, name: &str, args: &[&str], edit: impl FnOnce(&mut Value)) -> PathBuf {
        let b = self.dir.join(name);
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/mk-bundle.sh");
        let mut spec = serde_json::to_value(husk::spec::default_spec(false)).unwrap();
        fs::create_dir_all(&b).unwrap();
        spec["process"]["terminal"] = json!(false);
        spec["root"]["readonly"] = json!(false);
        spec["process"]["args"] = json!(args);
        edit(&mut spec);
        fs::write(
            b.join("config.json"),
            serde_json::to_vec_pretty(&spec).unwrap(),
        )
        .unwrap();
        let st = Command::new("sh").arg(&script).arg(&b).status().unwrap();
        assert!(st.success(), "mk-bundle failed");
        let out = b.join("rootfs/out");
        fs::create_dir_all(&out).unwrap();
        fs::set_permissions(&out, fs::Permissions::from_mode(0o777)).unwrap();
        b
    }

    fn builder(&self, id: &str, bundle: &Path) -> ContainerBuilder {
        ContainerBuilder::new(id, bundle).state_root(&self.root)
    }

    /// Create, start and wait for a container; its status.
    fn run(&self, id: &str, bundle: &Path) -> Result<ExitStatus, String> {
        let mut c = self
            .builder(id, bundle)
            .detached(false)
            .create()
            .map_err(|e| e.to_string())?;
        c.start().map_err(|e| e.to_string())?;
        let st = c.wait().map_err(|e| e.to_string())?;
        c.delete(true).map_err(|e| e.to_string())?;
        Ok(st)
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Ok(list) = husk::container::list(&self.root) {
            for c in list {
                let _ = c.delete(true);
            }
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn read(p: impl AsRef<Path>) -> Result<String, String> {
    fs::read_to_string(p.as_ref()).map_err(|e| format!("read {}: {e}", p.as_ref().display()))
}

fn check(cond: bool, msg: impl Into<String>) -> R {
    if cond {
        Ok(())
    } else {
        Err(msg.into())
    }
}

fn user_namespace_maps_ids() -> R {
    let env = Env::new("userns");
    let b = env.bundle(
        "b",
        &[
            "sh",
            "-c",
            "cat /proc/self/uid_map > /out/uid_map; id -u > /out/id; touch /out/mine",
        ],
        |s| {
            s["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "user"}));
            s["linux"]["uidMappings"] =
                json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            s["linux"]["gidMappings"] =
                json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            // A cgroup mount needs the host's cgroup namespace rights, as with runc's rootless spec.
            s["mounts"]
                .as_array_mut()
                .unwrap()
                .retain(|m| m["type"] != "cgroup");
        },
    );
    let st = env.run("u1", &b)?;
    check(st == ExitStatus::Code(0), format!("exit {st:?}"))?;
    let map: Vec<String> = read(b.join("rootfs/out/uid_map"))?
        .split_whitespace()
        .map(String::from)
        .collect();
    check(
        map == ["0", "100000", "65536"],
        format!("uid_map inside: {map:?}"),
    )?;
    check(
        read(b.join("rootfs/out/id"))?.trim() == "0",
        "not root inside",
    )?;
    let owner = fs::metadata(b.join("rootfs/out/mine"))
        .map_err(|e| e.to_string())?
        .uid();
    check(
        owner == 100000,
        format!("file made by container root is owned by host uid {owner}"),
    )
}

fn join_pid_namespace_uses_second_fork() -> R {
    let env = Env::new("joinpid");
    let a = env.bundle("a", &["sleep", "100"], |_| {});
    let mut ca = env.builder("a", &a).create().map_err(|e| e.to_string())?;
    ca.start().map_err(|e| e.to_string())?;
    let apid = ca.pid().ok_or("a has no pid")?;
    let b = env.bundle(
        "b",
        &["sh", "-c", "echo $$ > /out/pid; ps -o pid,comm > /out/ps"],
        |s| {
            for ns in s["linux"]["namespaces"].as_array_mut().unwrap() {
                if ns["type"] == "pid" {
                    ns["path"] = json!(format!("/proc/{apid}/ns/pid"));
                }
            }
        },
    );
    let st = env.run("b", &b)?;
    check(st == ExitStatus::Code(0), format!("exit {st:?}"))?;
    let pid = read(b.join("rootfs/out/pid"))?;
    check(pid.trim() != "1", "joined pid namespace, yet pid 1")?;
    let ps = read(b.join("rootfs/out/ps"))?;
    check(
        ps.contains("sleep"),
        format!("a's sleep not visible from b:\n{ps}"),
    )?;
    ca.delete(true).map_err(|e| e.to_string())
}

fn join_network_namespace_by_path() -> R {
    let env = Env::new("joinnet");
    let a = env.bundle("a", &["sleep", "100"], |_| {});
    let mut ca = env.builder("a", &a).create().map_err(|e| e.to_string())?;
    ca.start().map_err(|e| e.to_string())?;
    let apid = ca.pid().ok_or("a has no pid")?;
    let want = fs::read_link(format!("/proc/{apid}/ns/net")).map_err(|e| e.to_string())?;
    let b = env.bundle(
        "b",
        &[
            "sh",
            "-c",
            "readlink /proc/self/ns/net > /out/net; echo $$ > /out/pid",
        ],
        |s| {
            for ns in s["linux"]["namespaces"].as_array_mut().unwrap() {
                if ns["type"] == "network" {
                    ns["path"] = json!(format!("/proc/{apid}/ns/net"));
                }
            }
        },
    );
    let st = env.run("b", &b)?;
    check(st == ExitStatus::Code(0), format!("exit {st:?}"))?;
    let got = read(b.join("rootfs/out/net"))?;
    check(
        got.trim() == want.to_string_lossy(),
        format!("net ns {} != {}", got.trim(), want.display()),
    )?;
    check(
        read(b.join("rootfs/out/pid"))?.trim() == "1",
        "new pid namespace: init must be pid 1",
    )?;
    ca.delete(true).map_err(|e| e.to_string())
}

fn time_namespace_offsets() -> R {
    let env = Env::new("timens");
    let b = env.bundle(
        "b",
        &["sh", "-c", "cut -d. -f1 /proc/uptime > /out/uptime"],
        |s| {
            s["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "time"}));
            s["linux"]["timeOffsets"] = json!({"boottime": {"secs": 1000000, "nanosecs": 0}});
        },
    );
    let st = env.run("t", &b)?;
    check(st == ExitStatus::Code(0), format!("exit {st:?}"))?;
    let host: u64 = read("/proc/uptime")?
        .split('.')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let inside: u64 = read(b.join("rootfs/out/uptime"))?
        .trim()
        .parse()
        .map_err(|e| format!("{e}"))?;
    check(
        inside >= host + 1_000_000 - 5,
        format!("uptime inside {inside}, host {host}"),
    )
}

fn preserve_fds_and_nothing_else() -> R {
    let env = Env::new("fds");
    // Open a file: it gets the lowest free fd k >= 3. `preserve_fds(k - 2)` passes 3..=k (and
    // whatever the test process inherited below k, which is what --preserve-fds means).
    let f = fs::File::create(env.dir.join("fdk")).map_err(|e| e.to_string())?;
    let k = f.as_raw_fd();
    // A second file above k must NOT reach the container (S2).
    let extra = fs::File::create(env.dir.join("extra")).map_err(|e| e.to_string())?;
    let script = format!("echo through-fd{k} >&{k}; ls /proc/self/fd > /out/fds");
    let b = env.bundle("b", &["sh", "-c", &script], |_| {});
    let mut c = env
        .builder("f", &b)
        .preserve_fds(k as u32 - 2)
        .detached(false)
        .create()
        .map_err(|e| e.to_string())?;
    c.start().map_err(|e| e.to_string())?;
    let st = c.wait().map_err(|e| e.to_string())?;
    c.delete(true).map_err(|e| e.to_string())?;
    drop((f, extra));
    check(st == ExitStatus::Code(0), format!("exit {st:?}"))?;
    check(
        read(env.dir.join("fdk"))? == format!("through-fd{k}\n"),
        format!("fd {k} not passed"),
    )?;
    // ls opens the directory it lists: one more fd above k.
    let mut fds: Vec<i32> = read(b.join("rootfs/out/fds"))?
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    fds.sort();
    let want: Vec<i32> = (0..=k + 1).collect();
    check(
        fds == want,
        format!("fds inside {fds:?}, want {want:?} (k = {k})"),
    )
}

fn exit_status_and_signal() -> R {
    let env = Env::new("exit");
    let b = env.bundle("b", &["sh", "-c", "exit 7"], |_| {});
    let st = env.run("e", &b)?;
    check(st == ExitStatus::Code(7), format!("exit 7 gave {st:?}"))?;
    let b = env.bundle("k", &["sleep", "100"], |_| {});
    let mut c = env
        .builder("k", &b)
        .detached(false)
        .create()
        .map_err(|e| e.to_string())?;
    c.start().map_err(|e| e.to_string())?;
    c.kill(nix::sys::signal::Signal::SIGKILL, false)
        .map_err(|e| e.to_string())?;
    let st = c.wait().map_err(|e| e.to_string())?;
    check(st.code() == 137, format!("SIGKILL gave {st:?}"))?;
    check(
        Container::load(&env.root, "k")
            .map_err(|e| e.to_string())?
            .status()
            == husk::Status::Stopped,
        "not stopped",
    )?;
    c.delete(false).map_err(|e| e.to_string())
}

fn failed_create_leaves_nothing() -> R {
    let env = Env::new("fail");
    let b = env.bundle("b", &["no-such-program"], |_| {});
    let e = match env.builder("x", &b).create() {
        Ok(_) => return Err("create of a missing program succeeded".into()),
        Err(e) => e.to_string(),
    };
    check(
        e.contains("exec: \"no-such-program\": executable file not found in $PATH"),
        format!("error: {e}"),
    )?;
    check(!env.root.join("x").exists(), "state folder left behind")?;
    // No child left: every process we forked was reaped.
    match nix::sys::wait::waitpid(None, Some(nix::sys::wait::WaitPidFlag::WNOHANG)) {
        Err(nix::Error::ECHILD) => Ok(()),
        other => Err(format!("a child is left: {other:?}")),
    }
}

fn hooks_run_in_order_with_state() -> R {
    let env = Env::new("hooks");
    let log_dir = env.dir.join("b/rootfs/out");
    let host_log = log_dir.join("log");
    // Runtime-side and pre-pivot hooks see the host path; startContainer runs after pivot_root
    // and sees the same folder as /out.
    let hook = |kind: &str, path: &Path| json!({"path": "/bin/sh", "args": ["sh", "-c", format!("read -r s; echo \"{kind} $s\" >> {}", path.display())]});
    let b = env.bundle("b", &["true"], |s| {
        s["hooks"] = json!({
            "createRuntime": [hook("createRuntime", &host_log)],
            "createContainer": [hook("createContainer", &host_log)],
            "startContainer": [hook("startContainer", Path::new("/out/log"))],
            "poststart": [hook("poststart", &host_log)],
            "poststop": [hook("poststop", &host_log)],
        });
    });
    let st = env.run("h", &b)?;
    check(st == ExitStatus::Code(0), format!("exit {st:?}"))?;
    let log = read(&host_log)?;
    let kinds: Vec<&str> = log
        .lines()
        .map(|l| l.split(' ').next().unwrap_or(""))
        .collect();
    let pos = |k: &str| {
        kinds
            .iter()
            .position(|x| *x == k)
            .ok_or(format!("{k} did not run:\n{log}"))
    };
    check(
        pos("createRuntime")? < pos("createContainer")?,
        format!("order:\n{log}"),
    )?;
    check(
        pos("createContainer")? < pos("startContainer")?,
        format!("order:\n{log}"),
    )?;
    check(
        pos("poststart")? < pos("poststop")?,
        format!("order:\n{log}"),
    )?;
    let first = log.lines().next().unwrap_or("");
    let state: Value = serde_json::from_str(first.trim_start_matches("createRuntime "))
        .map_err(|e| format!("{e}: {first}"))?;
    check(
        state["id"] == "h"
            && state["status"] == "creating"
            && state["pid"].as_i64().unwrap_or(0) > 0,
        format!("createRuntime state: {state}"),
    )?;
    // A failing createRuntime hook fails create and leaves nothing behind.
    let b2 = env.bundle("b2", &["true"], |s| {
        s["hooks"] = json!({"createRuntime": [{"path": "/bin/false"}]});
    });
    match env.builder("h2", &b2).create() {
        Ok(_) => Err("create succeeded despite a failing createRuntime hook".into()),
        Err(e) => {
            check(
                e.to_string().contains("createRuntime"),
                format!("error: {e}"),
            )?;
            check(!env.root.join("h2").exists(), "state folder left behind")
        }
    }
}

fn main() {
    if !nix::unistd::geteuid().is_root() {
        if std::env::var_os("HUSK_TEST_NO_SKIP").is_some_and(|v| v == "1") {
            eprintln!("containers: needs root, and HUSK_TEST_NO_SKIP=1");
            std::process::exit(1);
        }
        println!("SKIPPED: containers: needs root");
        println!("0 passed, 0 failed, 1 skipped");
        return;
    }
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    type Case = (&'static str, fn() -> R);
    let cases: [Case; 8] = [
        (
            "hooks_run_in_order_with_state",
            hooks_run_in_order_with_state,
        ),
        ("user_namespace_maps_ids", user_namespace_maps_ids),
        (
            "join_pid_namespace_uses_second_fork",
            join_pid_namespace_uses_second_fork,
        ),
        (
            "join_network_namespace_by_path",
            join_network_namespace_by_path,
        ),
        ("time_namespace_offsets", time_namespace_offsets),
        (
            "preserve_fds_and_nothing_else",
            preserve_fds_and_nothing_else,
        ),
        ("exit_status_and_signal", exit_status_and_signal),
        ("failed_create_leaves_nothing", failed_create_leaves_nothing),
    ];
    let (mut passed, mut failed) = (0, 0);
    for (name, f) in cases {
        if filter.as_deref().is_some_and(|p| !name.contains(p)) {
            continue;
        }
        match f() {
            Ok(()) => {
                passed += 1;
                println!("ok - {name}");
            }
            Err(e) => {
                failed += 1;
                println!("not ok - {name}: {e}");
            }
        }
    }
    println!("{passed} passed, {failed} failed, 0 skipped");
    if failed > 0 {
        std::process::exit(1);
    }
}

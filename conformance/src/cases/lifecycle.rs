//! runtime.md: the state of a container, the lifecycle, and the operations (state, create,
//! start, kill, delete), including the operations a runtime MUST refuse in the wrong state.

use super::{case, Case};
use crate::ctx::{Bundle, Ctx, R};
use crate::proc::{self, Exit};
use crate::{ensure, fail};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

pub fn cases() -> Vec<Case> {
    vec![
        case("runtime/state/ociVersion", state_oci_version),
        case("runtime/state/id", state_id),
        case("runtime/state/status-created", state_created),
        case("runtime/state/pid", state_pid),
        case("runtime/state/bundle-absolute", state_bundle),
        case("runtime/state/annotations", state_annotations),
        case("runtime/state/status-running", state_running),
        case("runtime/state/status-stopped", state_stopped),
        case("runtime/state/unknown-container-fails", state_unknown),
        case(
            "runtime/lifecycle/create-does-not-run-process",
            create_not_run,
        ),
        case("runtime/lifecycle/start-runs-process", start_runs),
        case("runtime/lifecycle/created-init-alive", created_alive),
        case("runtime/lifecycle/pid-is-namespace-init", pid_is_init),
        case("runtime/lifecycle/exit-stops-container", exit_stops),
        case(
            "runtime/lifecycle/exit-status-visible-to-subreaper",
            exit_status,
        ),
        case("runtime/lifecycle/two-containers", two_containers),
        case("runtime/lifecycle/bad-executable-fails", bad_executable),
        case("runtime/create/duplicate-id-fails", duplicate_id),
        case("runtime/start/twice-fails", start_twice),
        case("runtime/start/stopped-fails", start_stopped),
        case("runtime/start/unknown-container-fails", start_unknown),
        case("runtime/kill/created-sigkill", kill_created),
        case("runtime/kill/running-signal-delivered", kill_running),
        case("runtime/kill/stopped-fails", kill_stopped),
        case("runtime/kill/unknown-container-fails", kill_unknown),
        case("runtime/delete/stopped-removes", delete_stopped),
        case("runtime/delete/running-fails", delete_running),
        case("runtime/delete/created-fails", delete_created),
        case("runtime/delete/unknown-container-fails", delete_unknown),
        case("runtime/delete/removes-cgroup", delete_cgroup),
        case("runtime/delete/state-dir-reusable-id", delete_reuse_id),
    ]
}

/// A container whose process sleeps; returns the bundle and the init pid, created (not started).
pub fn created_sleeper(c: &mut Ctx<'_>) -> R<(Bundle, i32)> {
    let b = c.shell_bundle("exec sleep 600")?;
    let pid = c.create_ok(&b)?;
    Ok((b, pid))
}

/// A running container whose process sleeps.
pub fn running_sleeper(c: &mut Ctx<'_>) -> R<(Bundle, i32)> {
    let (b, pid) = created_sleeper(c)?;
    c.start_ok(&b.id)?;
    Ok((b, pid))
}

/// A container whose process has exited (not yet deleted).
fn stopped(c: &mut Ctx<'_>) -> R<Bundle> {
    let b = c.shell_bundle("exit 0")?;
    let pid = c.create_ok(&b)?;
    c.start_ok(&b.id)?;
    c.wait_exit(pid)?;
    c.wait_status(&b.id, "stopped", Duration::from_secs(5))?;
    Ok(b)
}

/// Wait up to `within` for `path` to exist (a container writing a marker file).
pub fn appears(path: &Path, within: Duration) -> bool {
    let until = Instant::now() + within;
    while Instant::now() < until {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    path.exists()
}

fn state_oci_version(c: &mut Ctx<'_>) -> R {
    let (b, _) = created_sleeper(c)?;
    let st = c.state(&b.id)?;
    let v = st["ociVersion"].as_str().unwrap_or("");
    c.check_that(
        "state.ociVersion",
        "a non-empty string",
        &st["ociVersion"],
        !v.is_empty(),
    )
}

fn state_id(c: &mut Ctx<'_>) -> R {
    let (b, _) = created_sleeper(c)?;
    let st = c.state(&b.id)?;
    c.check("state.id", &b.id, &st["id"])
}

fn state_created(c: &mut Ctx<'_>) -> R {
    let (b, _) = created_sleeper(c)?;
    let st = c.state(&b.id)?;
    c.check("state.status after create", "created", &st["status"])
}

fn state_pid(c: &mut Ctx<'_>) -> R {
    let (b, pid) = created_sleeper(c)?;
    let st = c.state(&b.id)?;
    c.check("state.pid equals the pid file", pid, &st["pid"])?;
    c.check_that(
        "pid file names a live process",
        "alive",
        pid,
        proc::alive(pid),
    )
}

fn state_bundle(c: &mut Ctx<'_>) -> R {
    let (b, _) = created_sleeper(c)?;
    let st = c.state(&b.id)?;
    c.check("state.bundle", b.dir.to_string_lossy(), &st["bundle"])
}

fn state_annotations(c: &mut Ctx<'_>) -> R {
    let mut b = c.shell_bundle("exec sleep 600")?;
    let ann = json!({"org.example.key": "value", "com.husk.test": "42"});
    b.config["annotations"] = ann.clone();
    c.create_ok(&b)?;
    let st = c.state(&b.id)?;
    c.check("state.annotations", ann, &st["annotations"])
}

fn state_running(c: &mut Ctx<'_>) -> R {
    let (b, _) = running_sleeper(c)?;
    let st = c.state(&b.id)?;
    c.check("state.status after start", "running", &st["status"])
}

fn state_stopped(c: &mut Ctx<'_>) -> R {
    let b = stopped(c)?;
    let st = c.state(&b.id)?;
    c.check(
        "state.status after the process exited",
        "stopped",
        &st["status"],
    )
}

fn state_unknown(c: &mut Ctx<'_>) -> R {
    c.control()?;
    let id = format!("hc-missing-{}", c.tag);
    c.rt_fails(&["state", &id], "no such container").map(|_| ())
}

fn create_not_run(c: &mut Ctx<'_>) -> R {
    let b = c.shell_bundle("touch /ran; exec sleep 600")?;
    c.create_ok(&b)?;
    // The user process must not run before start. A runtime that runs it anyway writes the
    // marker within moments; 500 ms is ample on an idle machine and costs little.
    let ran = appears(&b.rootfs().join("ran"), Duration::from_millis(500));
    c.check("user process ran before start", false, ran)
}

fn start_runs(c: &mut Ctx<'_>) -> R {
    let b = c.shell_bundle("touch /ran; exec sleep 600")?;
    c.create_ok(&b)?;
    c.start_ok(&b.id)?;
    let ran = appears(&b.rootfs().join("ran"), Duration::from_secs(10));
    c.check("user process ran after start", true, ran)
}

fn created_alive(c: &mut Ctx<'_>) -> R {
    let (_, pid) = created_sleeper(c)?;
    c.check("init process alive while created", true, proc::alive(pid))
}

fn pid_is_init(c: &mut Ctx<'_>) -> R {
    let (_, pid) = running_sleeper(c)?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let nspid = status
        .lines()
        .find(|l| l.starts_with("NSpid:"))
        .unwrap_or("")
        .to_string();
    let last = nspid.split_whitespace().last().unwrap_or("");
    c.check("innermost NSpid of the container pid", "1", last)
}

fn exit_stops(c: &mut Ctx<'_>) -> R {
    let b = stopped(c)?;
    c.delete_ok(&b.id)
}

fn exit_status(c: &mut Ctx<'_>) -> R {
    let b = c.shell_bundle("exit 7")?;
    let (exit, _) = c.run_container(&b)?;
    c.check("container process exit", Exit::Code(7), exit)
}

fn two_containers(c: &mut Ctx<'_>) -> R {
    let (a, pa) = running_sleeper(c)?;
    let (b, pb) = running_sleeper(c)?;
    ensure!(pa != pb, "two containers share pid {pa}");
    let sa = c.status(&a.id)?;
    let sb = c.status(&b.id)?;
    c.check(
        "both running",
        json!(["running", "running"]),
        json!([sa, sb]),
    )
}

fn bad_executable(c: &mut Ctx<'_>) -> R {
    c.control()?;
    let mut b = c.bundle()?;
    b.config["process"]["args"] = json!(["/no/such/binary"]);
    let res = c.create_with(&b, &[])?;
    let failed_at = if !res.success() {
        "create"
    } else {
        let st = c.rt(&["start", &b.id])?;
        if st.success() {
            "nowhere"
        } else {
            "start"
        }
    };
    c.check_that(
        "create or start fails for a missing executable",
        "create or start",
        failed_at,
        failed_at != "nowhere",
    )
}

fn duplicate_id(c: &mut Ctx<'_>) -> R {
    let (a, pid) = created_sleeper(c)?;
    let mut b2 = c.shell_bundle("exec sleep 600")?;
    b2.id = a.id.clone();
    let res = c.create_with(&b2, &[])?;
    // cleanup deletes by id: do not list the id twice
    c.ids.pop();
    c.check_that(
        "second create with the same id",
        "fails",
        res.exit,
        !res.success(),
    )?;
    {
        let st = c.status(&a.id)?;
        c.check("first container still created", "created", st)
    }?;
    c.check("first container's init alive", true, proc::alive(pid))
}

fn start_twice(c: &mut Ctx<'_>) -> R {
    let (b, _) = running_sleeper(c)?;
    c.rt_fails(&["start", &b.id], "container already running")?;
    {
        let st = c.status(&b.id)?;
        c.check("still running", "running", st)
    }
}

fn start_stopped(c: &mut Ctx<'_>) -> R {
    let b = stopped(c)?;
    c.rt_fails(&["start", &b.id], "container stopped")?;
    {
        let st = c.status(&b.id)?;
        c.check("still stopped", "stopped", st)
    }
}

fn start_unknown(c: &mut Ctx<'_>) -> R {
    c.control()?;
    let id = format!("hc-missing-{}", c.tag);
    c.rt_fails(&["start", &id], "no such container").map(|_| ())
}

fn kill_created(c: &mut Ctx<'_>) -> R {
    let (b, pid) = created_sleeper(c)?;
    c.rt_ok(&["kill", &b.id, "9"])?;
    let exit = c.wait_exit(pid)?;
    c.check("init killed by SIGKILL", Exit::Signal(9), exit)?;
    c.wait_status(&b.id, "stopped", Duration::from_secs(5))
}

fn kill_running(c: &mut Ctx<'_>) -> R {
    // pid 1 of a pid namespace ignores signals it has no handler for: install one.
    let b = c.shell_bundle("trap 'exit 42' TERM; touch /ready; while :; do sleep 0.05; done")?;
    let pid = c.create_ok(&b)?;
    c.start_ok(&b.id)?;
    ensure!(
        appears(&b.rootfs().join("ready"), Duration::from_secs(10)),
        "container never became ready"
    );
    c.rt_ok(&["kill", &b.id, "15"])?;
    let exit = c.wait_exit(pid)?;
    c.check("process ran its SIGTERM handler", Exit::Code(42), exit)
}

fn kill_stopped(c: &mut Ctx<'_>) -> R {
    let b = stopped(c)?;
    c.rt_fails(&["kill", &b.id, "9"], "container not running")
        .map(|_| ())
}

fn kill_unknown(c: &mut Ctx<'_>) -> R {
    c.control()?;
    let id = format!("hc-missing-{}", c.tag);
    c.rt_fails(&["kill", &id, "9"], "no such container")
        .map(|_| ())
}

fn delete_stopped(c: &mut Ctx<'_>) -> R {
    let b = stopped(c)?;
    c.delete_ok(&b.id)?;
    c.rt_fails(&["state", &b.id], "deleted").map(|_| ())
}

fn delete_running(c: &mut Ctx<'_>) -> R {
    let (b, pid) = running_sleeper(c)?;
    c.rt_fails(&["delete", &b.id], "container running")?;
    c.check("process unaffected", true, proc::alive(pid))?;
    {
        let st = c.status(&b.id)?;
        c.check("still running", "running", st)
    }
}

fn delete_created(c: &mut Ctx<'_>) -> R {
    // runtime.md, delete: "Attempting to delete a container that is not stopped MUST have no
    // effect on the container and MUST generate an error."
    let (b, pid) = created_sleeper(c)?;
    c.rt_fails(&["delete", &b.id], "container created, not stopped")?;
    c.check("init unaffected", true, proc::alive(pid))?;
    {
        let st = c.status(&b.id)?;
        c.check("still created", "created", st)
    }
}

fn delete_unknown(c: &mut Ctx<'_>) -> R {
    c.control()?;
    let id = format!("hc-missing-{}", c.tag);
    c.rt_fails(&["delete", &id], "no such container")
        .map(|_| ())
}

fn delete_cgroup(c: &mut Ctx<'_>) -> R {
    let b = stopped(c)?;
    let Some(dir) = cgroup_of_bundle(&b) else {
        fail!("cannot locate the container's cgroup")
    };
    let existed = dir.is_dir();
    c.check(
        &format!("{} exists before delete", dir.display()),
        true,
        existed,
    )?;
    c.delete_ok(&b.id)?;
    c.check(
        &format!("{} exists after delete", dir.display()),
        false,
        dir.is_dir(),
    )
}

/// The container's directory in the pids (or memory) hierarchy, from its cgroupsPath.
pub fn cgroup_of_bundle(b: &Bundle) -> Option<std::path::PathBuf> {
    let path = b.config["linux"]["cgroupsPath"].as_str()?;
    let h = crate::host::v1_hierarchy("pids").or_else(|| {
        crate::host::hierarchies()
            .into_iter()
            .find(|h| h.v2)
            .map(|h| h.path)
    })?;
    Some(h.join(path.trim_start_matches('/')))
}

fn delete_reuse_id(c: &mut Ctx<'_>) -> R {
    let b = stopped(c)?;
    c.delete_ok(&b.id)?;
    let mut again = c.shell_bundle("exit 0")?;
    again.id = b.id.clone();
    again.config["linux"]["cgroupsPath"] = b.config["linux"]["cgroupsPath"].clone();
    let (exit, _) = c.run_container(&again)?;
    c.check("a deleted id can be created again", Exit::Code(0), exit)
}

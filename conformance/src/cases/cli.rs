//! The runc command-line contract engines rely on (compat.md): pid files, exec, run, ps, list,
//! pause/resume, features, --version, the JSON error log, --preserve-fds, console sockets.
//! Not part of the runtime-spec, but what containerd and podman need from any runtime.

use super::lifecycle::{appears, running_sleeper};
use super::{case, Case};
use crate::ctx::{Ctx, R};
use crate::proc::Exit;
use crate::{ensure, fail, host, probe, spec};
use serde_json::{json, Value};
use std::time::Duration;

pub fn cases() -> Vec<Case> {
    vec![
        case("cli/create/pid-file-no-trailing-newline", pid_file_format),
        case(
            "cli/create/pid-file-absolute-written-before-exit",
            pid_file_exists,
        ),
        case("cli/create/preserve-fds", preserve_fds),
        case("cli/create/no-inherited-fds", no_inherited_fds),
        case("cli/create/console-socket", console_socket),
        case("cli/run/exit-status", run_exit_status),
        case("cli/run/killed-128-plus-signal", run_killed),
        case("cli/exec/joins-namespaces", exec_namespaces),
        case("cli/exec/process-json", exec_process_json),
        case("cli/exec/detach-pid-file", exec_detach),
        case("cli/exec/exit-status", exec_exit_status),
        case("cli/exec/stopped-fails", exec_stopped),
        case("cli/exec/inherits-seccomp-and-caps", exec_security),
        case("cli/kill/signal-by-name", kill_by_name),
        case("cli/kill/default-sigterm", kill_default),
        case("cli/kill/all", kill_all),
        case("cli/delete/force-running", delete_force),
        case("cli/delete/force-unknown-wording", delete_force_unknown),
        case("cli/state/not-exist-wording", state_wording),
        case("cli/ps/format-json", ps_json),
        case("cli/list/shows-container", list),
        case("cli/pause-resume/status", pause_resume),
        case("cli/pause/freezes-processes", pause_frozen),
        case("cli/features/json", features),
        case("cli/version/spec-line", version),
        case("cli/log/json-error-line", log_json),
    ]
}

fn pid_file_format(c: &mut Ctx<'_>) -> R {
    let (b, _) = running_sleeper(c)?;
    let text = std::fs::read_to_string(b.pid_file())?;
    let ok = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    c.check_that(
        "pid file content",
        "decimal digits, no newline (containerd parses it untrimmed)",
        &text,
        ok,
    )
}

fn pid_file_exists(c: &mut Ctx<'_>) -> R {
    let b = c.shell_bundle("exec sleep 600")?;
    let res = c.create_with(&b, &[])?;
    ensure!(res.success(), "create failed: {}", res.summary());
    c.check(
        "pid file exists when create returns",
        true,
        b.pid_file().exists(),
    )
}

fn preserve_fds(c: &mut Ctx<'_>) -> R {
    let b = c.probe_bundle(&[])?;
    b.write_config()?;
    c.ids.push(b.id.clone());
    let marker = c.dir.join("fd3-marker");
    std::fs::write(&marker, "x")?;
    // fd 3 is opened by a shell between the harness and the runtime.
    let mut argv: Vec<String> = vec![
        "/bin/sh".into(),
        "-c".into(),
        format!("exec 3<{}; exec \"$@\"", marker.display()),
        "sh".into(),
    ];
    argv.extend(c.env.rt.argv(&[
        "create",
        "--bundle",
        &b.dir.to_string_lossy(),
        "--pid-file",
        &b.pid_file().to_string_lossy(),
        "--preserve-fds",
        "1",
        &b.id,
    ]));
    let res = c.run_argv(&argv, None)?;
    ensure!(
        res.success(),
        "create --preserve-fds 1 failed: {}",
        res.summary()
    );
    // run_argv captured the runtime's stdout; the container's stdout is the same file.
    let out_file = c.dir.join(format!("cmd{}.out", c.commands.len() - 1));
    let pid = c.read_pid_file(&b.pid_file())?;
    c.start_ok(&b.id)?;
    c.wait_exit(pid)?;
    let out = std::fs::read_to_string(out_file)?;
    let Some(report) = probe::parse(&out) else {
        fail!("no probe report: {out:?}")
    };
    c.check(
        "fd 3 in the container",
        marker.to_string_lossy(),
        &report["fds"]["3"],
    )
}

fn no_inherited_fds(c: &mut Ctx<'_>) -> R {
    let b = c.probe_bundle(&[])?;
    b.write_config()?;
    c.ids.push(b.id.clone());
    // fd 7 is left open (no O_CLOEXEC) in the runtime, as a careless caller would: it must not
    // reach the container (environment.md: stray fds 10 and 251 are seen on these machines).
    let mut argv: Vec<String> = vec![
        "/bin/sh".into(),
        "-c".into(),
        "exec 7</dev/null; exec \"$@\"".into(),
        "sh".into(),
    ];
    argv.extend(c.env.rt.argv(&[
        "create",
        "--bundle",
        &b.dir.to_string_lossy(),
        "--pid-file",
        &b.pid_file().to_string_lossy(),
        &b.id,
    ]));
    let res = c.run_argv(&argv, None)?;
    ensure!(res.success(), "create failed: {}", res.summary());
    let out_file = c.dir.join(format!("cmd{}.out", c.commands.len() - 1));
    let pid = c.read_pid_file(&b.pid_file())?;
    c.start_ok(&b.id)?;
    c.wait_exit(pid)?;
    let out = std::fs::read_to_string(out_file)?;
    let Some(report) = probe::parse(&out) else {
        fail!("no probe report: {out:?}")
    };
    let fds: Vec<String> = report["fds"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    c.check("open fds in the container", json!(["0", "1", "2"]), fds)
}

fn console_socket(c: &mut Ctx<'_>) -> R {
    let mut b = c.shell_bundle("stty size; tty")?;
    b.config["process"]["terminal"] = json!(true);
    b.config["process"]["consoleSize"] = json!({"height": 33, "width": 77});
    let sock_path = c.dir.join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock_path)?;
    let sock_arg = sock_path.to_string_lossy().into_owned();
    let res = c.create_with(&b, &["--console-socket", &sock_arg])?;
    ensure!(
        res.success(),
        "create --console-socket failed: {}",
        res.summary()
    );
    let (conn, _) = accept_within(&listener, Duration::from_secs(5))?;
    let out = c.dir.join("console.out");
    let (reader, _name) = crate::proc::read_received_fd(&conn, &out)
        .map_err(|e| crate::ctx::Fail::Fail(format!("console socket: {e}")))?;
    let pid = c.read_pid_file(&b.pid_file())?;
    c.start_ok(&b.id)?;
    c.wait_exit(pid)?;
    // cat ends at EIO once the container's side of the pty is closed.
    c.wait_exit(reader)?;
    let text = std::fs::read_to_string(&out)?;
    c.check_that(
        "terminal output (stty size; tty)",
        "33 77 and a /dev/pts/N tty",
        &text,
        text.contains("33 77") && text.contains("/dev/pts/"),
    )
}

fn accept_within(
    l: &std::os::unix::net::UnixListener,
    within: Duration,
) -> R<(
    std::os::unix::net::UnixStream,
    std::os::unix::net::SocketAddr,
)> {
    l.set_nonblocking(true)?;
    let until = std::time::Instant::now() + within;
    loop {
        match l.accept() {
            Ok((s, a)) => {
                s.set_nonblocking(false)?;
                return Ok((s, a));
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    && std::time::Instant::now() < until =>
            {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => fail!("no connection on the console socket: {e}"),
        }
    }
}

fn run_exit_status(c: &mut Ctx<'_>) -> R {
    let b = c.shell_bundle("exit 5")?;
    b.write_config()?;
    c.ids.push(b.id.clone());
    let res = c.rt(&["run", "--bundle", &b.dir.to_string_lossy(), &b.id])?;
    c.check("`run` exit status", Exit::Code(5), res.exit)
}

fn run_killed(c: &mut Ctx<'_>) -> R {
    // Without a pid namespace the shell is not an init, so SIGKILL from itself works.
    let mut b = c.shell_bundle("kill -9 $$")?;
    spec::drop_ns(&mut b.config, "pid");
    b.write_config()?;
    c.ids.push(b.id.clone());
    let res = c.rt(&["run", "--bundle", &b.dir.to_string_lossy(), &b.id])?;
    c.check(
        "`run` exit status of a SIGKILLed process",
        Exit::Code(137),
        res.exit,
    )
}

fn exec_namespaces(c: &mut Ctx<'_>) -> R {
    let (b, pid) = running_sleeper(c)?;
    let res = c.rt_ok(&["exec", &b.id, "/husk-probe"])?;
    let Some(report) = probe::parse(&res.stdout) else {
        fail!("no probe report from exec: {}", res.summary())
    };
    for ns in ["pid", "net", "ipc", "uts", "mnt"] {
        let init = host::ns_of(pid, ns);
        c.check(
            &format!("exec'd process {ns} namespace equals init's"),
            init,
            &report["ns"][ns],
        )?;
    }
    Ok(())
}

fn exec_process_json(c: &mut Ctx<'_>) -> R {
    let (b, _) = running_sleeper(c)?;
    let process = json!({
        "terminal": false,
        "user": {"uid": 1000, "gid": 1000},
        "args": ["/husk-probe", "hello world"],
        "env": [spec::PATH, "EXEC_VAR=yes", format!("{}={}", spec::TAG_VAR, c.tag)],
        "cwd": "/tmp",
    });
    let file = c.dir.join("process.json");
    std::fs::write(&file, process.to_string())?;
    let res = c.rt_ok(&["exec", "--process", &file.to_string_lossy(), &b.id])?;
    let Some(r) = probe::parse(&res.stdout) else {
        fail!("no probe report from exec: {}", res.summary())
    };
    c.check("argv", json!(["/husk-probe", "hello world"]), &r["argv"])?;
    c.check("cwd", "/tmp", &r["cwd"])?;
    c.check("uid", json!([1000, 1000, 1000, 1000]), &r["uid"])?;
    let has_var = r["env"]
        .as_array()
        .is_some_and(|e| e.iter().any(|v| v == "EXEC_VAR=yes"));
    c.check("EXEC_VAR=yes in env", true, has_var)
}

fn exec_detach(c: &mut Ctx<'_>) -> R {
    let (b, _) = running_sleeper(c)?;
    let pid_file = c.dir.join("exec.pid");
    let res = c.rt(&[
        "exec",
        "--detach",
        "--pid-file",
        &pid_file.to_string_lossy(),
        &b.id,
        "sleep",
        "600",
    ])?;
    ensure!(res.success(), "exec --detach failed: {}", res.summary());
    let pid = c.read_pid_file(&pid_file)?;
    c.check(
        "exec'd process alive after exec --detach returned",
        true,
        crate::proc::alive(pid),
    )?;
    c.check(
        "exec'd process is in the container's pid namespace",
        host::ns_of(pid, "pid"),
        host::ns_of(c.read_pid_file(&b.pid_file())?, "pid"),
    )
}

fn exec_exit_status(c: &mut Ctx<'_>) -> R {
    let (b, _) = running_sleeper(c)?;
    let res = c.rt(&["exec", &b.id, "sh", "-c", "exit 3"])?;
    c.check("`exec` exit status", Exit::Code(3), res.exit)
}

fn exec_stopped(c: &mut Ctx<'_>) -> R {
    let b = c.shell_bundle("exit 0")?;
    let pid = c.create_ok(&b)?;
    c.start_ok(&b.id)?;
    c.wait_exit(pid)?;
    c.wait_status(&b.id, "stopped", Duration::from_secs(5))?;
    c.rt_fails(&["exec", &b.id, "true"], "container stopped")
        .map(|_| ())
}

fn exec_security(c: &mut Ctx<'_>) -> R {
    let mut b = c.shell_bundle("exec sleep 600")?;
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
    });
    c.create_ok(&b)?;
    c.start_ok(&b.id)?;
    let res = c.rt_ok(&["exec", &b.id, "/husk-probe", "mkdir=/tmp/d"])?;
    let Some(r) = probe::parse(&res.stdout) else {
        fail!("no probe report from exec: {}", res.summary())
    };
    c.check("exec'd process seccomp mode", "2", &r["seccomp"])?;
    c.check(
        "mkdir errno in exec'd process",
        1,
        &r["ops"]["mkdir=/tmp/d"]["errno"],
    )?;
    let bnd = format!("{:016x}", probe::cap_mask(&spec::DEFAULT_CAPS));
    c.check("exec'd process bounding set", bnd, &r["caps"]["bounding"])
}

fn kill_by_name(c: &mut Ctx<'_>) -> R {
    let (b, pid) = running_sleeper(c)?;
    c.rt_ok(&["kill", &b.id, "KILL"])?;
    let e = c.wait_exit(pid)?;
    c.check("killed by SIGKILL", Exit::Signal(9), e)
}

fn kill_default(c: &mut Ctx<'_>) -> R {
    let b = c.shell_bundle("trap 'exit 43' TERM; touch /ready; while :; do sleep 0.05; done")?;
    let pid = c.create_ok(&b)?;
    c.start_ok(&b.id)?;
    ensure!(
        appears(&b.rootfs().join("ready"), Duration::from_secs(10)),
        "container never became ready"
    );
    c.rt_ok(&["kill", &b.id])?;
    let e = c.wait_exit(pid)?;
    c.check("`kill ID` sends SIGTERM", Exit::Code(43), e)
}

fn kill_all(c: &mut Ctx<'_>) -> R {
    let (b, pid) = running_sleeper(c)?;
    let res = c.rt_ok(&["exec", "--detach", &b.id, "sleep", "600"])?;
    let _ = res;
    c.rt_ok(&["kill", "--all", &b.id, "9"])?;
    let e = c.wait_exit(pid)?;
    c.check("init killed", Exit::Signal(9), e)
}

fn delete_force(c: &mut Ctx<'_>) -> R {
    let (b, pid) = running_sleeper(c)?;
    c.rt_ok(&["delete", "--force", &b.id])?;
    let e = c.wait_exit(pid)?;
    c.check_that("process killed by delete --force", "exited", e, true)?;
    c.rt_fails(&["state", &b.id], "deleted").map(|_| ())
}

fn delete_force_unknown(c: &mut Ctx<'_>) -> R {
    c.control()?;
    let id = format!("hc-missing-{}", c.tag);
    let res = c.rt(&["delete", "--force", &id])?;
    // containerd's cleanup calls `delete --force` and accepts either success or an error
    // containing "does not exist".
    let ok = res.success() || res.stderr.contains("does not exist");
    c.check_that(
        "delete --force of an unknown id",
        "success or \"does not exist\"",
        res.summary(),
        ok,
    )
}

fn state_wording(c: &mut Ctx<'_>) -> R {
    c.control()?;
    let id = format!("hc-missing-{}", c.tag);
    let res = c.rt(&["state", &id])?;
    c.check_that(
        "state of an unknown id mentions \"does not exist\"",
        "\"does not exist\" on stderr",
        res.stderr.trim(),
        !res.success() && res.stderr.contains("does not exist"),
    )
}

fn ps_json(c: &mut Ctx<'_>) -> R {
    let (b, pid) = running_sleeper(c)?;
    let res = c.rt_ok(&["ps", "--format", "json", &b.id])?;
    let pids: Value = serde_json::from_str(res.stdout.trim()).unwrap_or(Value::Null);
    let ok = pids.as_array().is_some_and(|a| a.iter().any(|p| p == pid));
    c.check_that(
        "ps --format json",
        &format!("a JSON array holding {pid}"),
        pids,
        ok,
    )
}

fn list(c: &mut Ctx<'_>) -> R {
    let (b, _) = running_sleeper(c)?;
    let res = c.rt_ok(&["list"])?;
    c.check_that(
        "list output names the container",
        &b.id,
        res.stdout.trim(),
        res.stdout.contains(&b.id),
    )
}

fn pause_resume(c: &mut Ctx<'_>) -> R {
    let (b, _) = running_sleeper(c)?;
    c.rt_ok(&["pause", &b.id])?;
    let st = c.status(&b.id)?;
    c.check("status after pause", "paused", st)?;
    c.rt_ok(&["resume", &b.id])?;
    let st = c.status(&b.id)?;
    c.check("status after resume", "running", st)
}

fn pause_frozen(c: &mut Ctx<'_>) -> R {
    let b = c.shell_bundle("i=0; while :; do i=$((i+1)); echo $i > /counter; sleep 0.02; done")?;
    c.create_ok(&b)?;
    c.start_ok(&b.id)?;
    let counter = b.rootfs().join("counter");
    ensure!(
        appears(&counter, Duration::from_secs(10)),
        "container never wrote its counter"
    );
    c.rt_ok(&["pause", &b.id])?;
    let before = std::fs::read_to_string(&counter)?;
    // The loop writes every 20 ms; 300 ms without change means it is frozen (a loaded machine
    // can only make this pass wrongly, never fail wrongly).
    std::thread::sleep(Duration::from_millis(300));
    let after = std::fs::read_to_string(&counter)?;
    c.check("counter while paused", before.trim(), after.trim())?;
    c.rt_ok(&["resume", &b.id])?;
    // Poll (up to 5 s) rather than sleep a fixed time: a loaded machine may be slow to run it.
    let until = std::time::Instant::now() + Duration::from_secs(5);
    let mut resumed = after.clone();
    while resumed.trim() == after.trim() && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
        resumed = std::fs::read_to_string(&counter).unwrap_or_default();
    }
    c.check_that(
        "counter moves after resume",
        "a different value",
        resumed.trim(),
        resumed.trim() != after.trim(),
    )
}

fn features(c: &mut Ctx<'_>) -> R {
    let res = c.rt(&["features"])?;
    // containerd's CRI asks `features` before enabling user-namespace pods (compat.md).
    ensure!(res.success(), "features failed: {}", res.summary());
    let v: Value = serde_json::from_str(&res.stdout).unwrap_or(Value::Null);
    let ok = v["ociVersionMin"].is_string() && v["ociVersionMax"].is_string();
    c.check_that(
        "features JSON",
        "ociVersionMin and ociVersionMax strings",
        &v,
        ok,
    )
}

fn version(c: &mut Ctx<'_>) -> R {
    let argv = vec![
        c.env.rt.path.to_string_lossy().into_owned(),
        "--version".into(),
    ];
    let res = c.run_argv(&argv, None)?;
    let has = res.stdout.lines().any(|l| l.starts_with("spec: "));
    c.check_that(
        "--version has a `spec: X` line",
        "a line starting with \"spec: \"",
        res.stdout.trim(),
        res.success() && has,
    )
}

fn log_json(c: &mut Ctx<'_>) -> R {
    c.control()?;
    let log = c.dir.join("log.json");
    let id = format!("hc-missing-{}", c.tag);
    let mut argv = vec![
        c.env.rt.path.to_string_lossy().into_owned(),
        "--log".into(),
        log.to_string_lossy().into_owned(),
        "--log-format".into(),
        "json".into(),
    ];
    argv.extend(c.env.rt.argv(&["delete", &id]).into_iter().skip(1));
    let res = c.run_argv(&argv, None)?;
    ensure!(!res.success(), "delete of an unknown container succeeded");
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let last_error = text
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["level"] == "error");
    let ok = last_error
        .as_ref()
        .is_some_and(|v| v["msg"].is_string() && v["time"].is_string());
    c.check_that(
        "--log FILE --log-format json",
        "a JSON line {level: error, msg, time}",
        text.trim(),
        ok,
    )
}

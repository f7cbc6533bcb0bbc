//! What systemd and engines pass through the runtime's environment, as runc 1.1 handles it:
//! `NOTIFY_SOCKET` (the sd_notify proxy: a socket inside at /run/notify/notify.sock, relayed to
//! the host's on `start` as `READY=...` + `MAINPID=<pid>`), `LISTEN_FDS`/`LISTEN_PID` (socket
//! activation fds handed to the container process), the session keyring (`--no-new-keyring`),
//! and runc's single-dash `-no-subreaper`. Run against husk and against runc
//! (`HUSK_TEST_RUNTIME=/usr/sbin/runc cargo test -p husk-cli --test notify`).

mod common;

use std::fs;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;

/// A busybox bundle running `script` with the probe at /bin/sd_notify.
fn notify_bundle(env: &TestEnv, name: &str, script: &str) -> Bundle {
    let b = env.bundle(name, &["sh", "-c", script]);
    fs::copy(
        sd_notify_probe().expect("probe"),
        b.rootfs().join("bin/sd_notify"),
    )
    .unwrap();
    b
}

/// A datagram socket standing in for systemd's, in the test's temp dir.
fn host_socket(env: &TestEnv) -> (UnixDatagram, PathBuf) {
    let p = env.path("host.sock");
    let s = UnixDatagram::bind(&p).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    (s, p)
}

/// What is queued on `s` right now (non-blocking), one string per datagram.
fn queued(s: &UnixDatagram) -> Vec<String> {
    s.set_nonblocking(true).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.recv(&mut buf) {
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    s.set_nonblocking(false).unwrap();
    got
}

/// `create`/`run -d` with `NOTIFY_SOCKET` set; the container inherits stdout/stderr and keeps
/// them open, so they go to files, not pipes (a pipe would never see EOF). Panics with the
/// runtime's stderr on failure.
fn with_notify(env: &TestEnv, host: &Path, tag: &str, args: &[&str]) {
    let err_path = env.path(&format!("{tag}.err"));
    let st = env
        .cmd(args)
        .env("NOTIFY_SOCKET", host)
        .stdout(Stdio::null())
        .stderr(fs::File::create(&err_path).unwrap())
        .status()
        .unwrap();
    let err = fs::read_to_string(&err_path).unwrap_or_default();
    assert!(st.success(), "{args:?}: {err}");
}

fn can_notify(test: &str) -> bool {
    if !can_run_containers(test) {
        return false;
    }
    if sd_notify_probe().is_none() {
        skip(test, "rustc could not build tests/probes/sd_notify.rs");
        return false;
    }
    true
}

#[test]
fn notify_socket_ready_is_relayed_by_start_with_mainpid() {
    if !can_notify("notify_ready") {
        return;
    }
    let env = TestEnv::new("ntfy");
    let id = env.id("a");
    // READY=1 in a datagram of its own: runc 1.1.5 forwards only datagrams that START with
    // READY= (see notify_socket_with_run_detached for one with a STATUS line first).
    let b = notify_bundle(&env, "b", "sleep 0.3; sd_notify READY=1 && exec sleep 600");
    let (host, host_path) = host_socket(&env);
    let bundle = b.dir.to_str().unwrap();
    with_notify(
        &env,
        &host_path,
        "create",
        &["create", "--bundle", bundle, &id],
    );
    let state_notify = env.root.join(&id).join("notify");
    assert!(state_notify.is_dir(), "create makes <root>/<id>/notify");
    assert!(queued(&host).is_empty(), "nothing is sent before start");

    let out = env
        .cmd(&["start", &id])
        .env("NOTIFY_SOCKET", &host_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "start: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // start returns only once the container said READY=1 and it was passed on.
    let got = queued(&host);
    let pid = env.state(&id).unwrap()["pid"].as_i64().unwrap();
    assert_eq!(
        got,
        ["READY=1\n".to_string(), format!("MAINPID={pid}\n")],
        "what the host socket got"
    );
    // What init got, and the socket as the container sees it.
    let o = env.run(&[
        "exec",
        &id,
        "sh",
        "-c",
        "tr '\\0' '\\n' < /proc/1/environ | grep NOTIFY; ls -ln /run/notify",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "NOTIFY_SOCKET=/run/notify/notify.sock", "{out}");
    assert!(
        out.contains("notify.sock") && out.contains("srwxrwxrwx"),
        "the socket, mode 0777, inside: {out}"
    );
    // exec'd processes get the bundle's environment, without NOTIFY_SOCKET.
    let o = env.run(&["exec", &id, "sh", "-c", "echo \"[$NOTIFY_SOCKET]\""]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "[]\n");
    // The mount is read-only: the container cannot replace the socket.
    let o = env.run(&["exec", &id, "touch", "/run/notify/x"]);
    assert!(!o.status.success(), "/run/notify is writable");
}

#[test]
fn notify_start_returns_when_the_container_exits_unready() {
    if !can_notify("notify_unready") {
        return;
    }
    let env = TestEnv::new("ntfx");
    let id = env.id("a");
    // A datagram without READY= is not passed on.
    let b = notify_bundle(&env, "b", "sd_notify STATUS=starting; sleep 0.2; exit 3");
    let (host, host_path) = host_socket(&env);
    let bundle = b.dir.to_str().unwrap();
    with_notify(
        &env,
        &host_path,
        "create",
        &["create", "--bundle", bundle, &id],
    );
    let out = env
        .cmd(&["start", &id])
        .env("NOTIFY_SOCKET", &host_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "start: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.wait_status(&id, "stopped");
    assert!(queued(&host).is_empty(), "nothing relayed without READY=");
}

#[test]
fn notify_socket_with_run_detached() {
    if !can_notify("notify_run") {
        return;
    }
    let env = TestEnv::new("ntfr");
    let id = env.id("a");
    // sd_notify(3) clients may put READY=1 after other lines; husk finds it there, runc 1.1.5
    // only at the start of a datagram (it would wait for the container's exit).
    let script = if is_runc() {
        "sd_notify READY=1 && exec sleep 600"
    } else {
        "sd_notify STATUS=serving READY=1 && exec sleep 600"
    };
    let b = notify_bundle(&env, "b", script);
    let (host, host_path) = host_socket(&env);
    let bundle = b.dir.to_str().unwrap();
    with_notify(
        &env,
        &host_path,
        "run",
        &["run", "-d", "--bundle", bundle, &id],
    );
    let pid = env.state(&id).unwrap()["pid"].as_i64().unwrap();
    assert_eq!(
        queued(&host),
        ["READY=1\n".to_string(), format!("MAINPID={pid}\n")]
    );
}

#[test]
fn notify_socket_with_run_in_the_foreground() {
    if !can_notify("notify_run_fg") {
        return;
    }
    let env = TestEnv::new("ntff");
    let id = env.id("a");
    let b = notify_bundle(&env, "b", "sd_notify READY=1 && echo ready-sent");
    let (host, host_path) = host_socket(&env);
    let bundle = b.dir.to_str().unwrap();
    let child = env
        .cmd(&["run", "--bundle", bundle, &id])
        .env("NOTIFY_SOCKET", &host_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The runtime stays the main process (it waits for the container): its own pid, as runc.
    let runtime_pid = child.id();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "ready-sent\n");
    assert_eq!(
        queued(&host),
        ["READY=1\n".to_string(), format!("MAINPID={runtime_pid}\n")]
    );
}

/// Run `run --bundle B ID` (foreground) from a shell that opened `files` as fds 3, 4, ... and
/// exported `vars` ("$$" in a value is the runtime's own pid: the shell execs it).
fn run_with_fds(
    env: &TestEnv,
    id: &str,
    b: &Bundle,
    files: &[&Path],
    vars: &str,
    extra: &[&str],
) -> (i32, String, String) {
    let mut script = String::from("exec");
    for (i, f) in files.iter().enumerate() {
        script.push_str(&format!(" {}<'{}'", 3 + i, f.display()));
    }
    script.push_str(&format!("; export {vars}; exec \"$0\" \"$@\""));
    let mut args = vec![
        "--root".to_string(),
        env.root.display().to_string(),
        "run".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(["--bundle".into(), b.dir.display().to_string(), id.into()]);
    let o = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .arg(runtime())
        .args(&args)
        .stdin(Stdio::null())
        .env_remove("LISTEN_FDS")
        .env_remove("LISTEN_PID")
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The container's script for the fd tests: its LISTEN_* variables, what fds 3 and 4 hold,
/// and its open fds.
/// The fds are listed by a plain command, not a pipeline (while setting one up the shell holds
/// pipe fds), and not as the last command (busybox sh execs that one: `ls` would list its own
/// directory fd).
const FD_SCRIPT: &str =
    "echo \"[$LISTEN_FDS] [$LISTEN_PID]\"; cat <&3; cat <&4; echo fds:; ls /proc/$$/fd; exit 0";

/// The fd numbers listed after the `fds:` line, sorted, space-separated.
fn fds_listed(out: &str) -> String {
    let mut fds: Vec<u32> = out
        .lines()
        .skip_while(|l| *l != "fds:")
        .skip(1)
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    fds.sort_unstable();
    fds.iter().map(u32::to_string).collect::<Vec<_>>().join(" ")
}

#[test]
fn listen_fds_reach_the_container_process() {
    if !can_run_containers("listen_fds") {
        return;
    }
    let env = TestEnv::new("lfds");
    let b = env.bundle("b", &["sh", "-c", FD_SCRIPT]);
    let (f1, f2) = (env.path("one"), env.path("two"));
    fs::write(&f1, "first\n").unwrap();
    fs::write(&f2, "second\n").unwrap();
    let id = env.id("a");
    let (code, out, err) = run_with_fds(
        &env,
        &id,
        &b,
        &[&f1, &f2],
        "LISTEN_FDS=2 LISTEN_PID=$$",
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    // LISTEN_PID is the container process' pid as it sees it: 1 in its pid namespace.
    assert_eq!(&lines[..3], ["[2] [1]", "first", "second"], "{out}");
    // Exactly stdio and the listen fds (S2).
    assert_eq!(fds_listed(&out), "0 1 2 3 4", "{out}");
}

#[test]
fn listen_fds_come_before_preserved_fds() {
    if !can_run_containers("listen_fds_preserve") {
        return;
    }
    let env = TestEnv::new("lfdp");
    let b = env.bundle("b", &["sh", "-c", FD_SCRIPT]);
    let (f1, f2) = (env.path("one"), env.path("two"));
    fs::write(&f1, "listen\n").unwrap();
    fs::write(&f2, "preserved\n").unwrap();
    let id = env.id("a");
    let (code, out, err) = run_with_fds(
        &env,
        &id,
        &b,
        &[&f1, &f2],
        "LISTEN_FDS=1 LISTEN_PID=$$",
        &["--preserve-fds", "1"],
    );
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(&lines[..3], ["[1] [1]", "listen", "preserved"], "{out}");
    assert_eq!(fds_listed(&out), "0 1 2 3 4", "{out}");
}

#[test]
fn listen_fds_meant_for_another_process_are_ignored() {
    if !can_run_containers("listen_fds_stale") {
        return;
    }
    let env = TestEnv::new("lfds");
    let b = env.bundle(
        "b",
        &[
            "sh",
            "-c",
            "echo \"[$LISTEN_FDS] [$LISTEN_PID]\"; echo fds:; ls /proc/$$/fd; exit 0",
        ],
    );
    let f1 = env.path("one");
    fs::write(&f1, "x\n").unwrap();
    let id = env.id("a");
    // LISTEN_PID names our parent, not the runtime: the variables were not meant for it.
    let (code, out, err) =
        run_with_fds(&env, &id, &b, &[&f1], "LISTEN_FDS=1 LISTEN_PID=$PPID", &[]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "[] []", "{out}");
    assert_eq!(fds_listed(&out), "0 1 2", "fd 3 was not passed: {out}");
}

/// The lines of /proc/keys naming keyring `_ses.<id>`, as (serial, perm).
fn session_keyrings(id: &str) -> Vec<(String, u32)> {
    let keys = fs::read_to_string("/proc/keys").unwrap_or_default();
    let name = format!("_ses.{id}:");
    keys.lines()
        .filter(|l| l.split_whitespace().nth(8) == Some(name.as_str()))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0].to_string(), u32::from_str_radix(f[4], 16).unwrap())
        })
        .collect()
}

#[test]
fn session_keyring_unless_no_new_keyring() {
    if !can_run_containers("keyring") {
        return;
    }
    if fs::metadata("/proc/keys").is_err() {
        skip("keyring", "no /proc/keys (CONFIG_KEYS)");
        return;
    }
    let env = TestEnv::new("keys");
    let b = env.bundle("b", &["sleep", "600"]);
    let bundle = b.dir.to_str().unwrap();
    let (with, without) = (env.id("new"), env.id("nonew"));
    env.run_detached(&with, &b);
    let (code, err) = env.run_to_files(
        &without,
        &[
            "run",
            "-d",
            "--no-new-keyring",
            "--bundle",
            bundle,
            &without,
        ],
    );
    assert_eq!(code, 0, "{err}");

    let k = session_keyrings(&with);
    assert_eq!(
        k.len(),
        1,
        "one session keyring named after the container: {k:?}"
    );
    // As runc: possessor everything, owner view+read+search+link (search lets exec join it).
    assert_eq!(k[0].1, 0x3f1b_0000, "perm {:08x}", k[0].1);
    assert!(
        session_keyrings(&without).is_empty(),
        "--no-new-keyring made a keyring"
    );

    // An exec'd process joins init's keyring instead of making a second one.
    let (code, err) = env.run_to_files("exec", &["exec", "-d", &with, "sleep", "600"]);
    assert_eq!(code, 0, "{err}");
    let after = session_keyrings(&with);
    assert_eq!(after.len(), 1, "exec made a second keyring: {after:?}");
    assert_eq!(after[0].0, k[0].0);
}

#[test]
fn run_accepts_single_dash_no_subreaper() {
    if !can_run_containers("no_subreaper") {
        return;
    }
    let env = TestEnv::new("nosr");
    let b = env.bundle("b", &["sh", "-c", "echo ran; exit 5"]);
    let id = env.id("a");
    let o = env.run(&[
        "run",
        "-no-subreaper",
        "--bundle",
        b.dir.to_str().unwrap(),
        &id,
    ]);
    assert_eq!(
        o.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), "ran\n");
}

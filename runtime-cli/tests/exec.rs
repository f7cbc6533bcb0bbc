//! `exec` and `features` through the CLI, the way containerd and podman call them: a process
//! in the container's namespaces and cgroup, its exit status, `--detach --pid-file`,
//! `--process FILE`, the flags, exactly the capabilities asked for (security.md S7), no leaked
//! fds (S2), runc's refusals. Run against husk and against runc (`HUSK_TEST_RUNTIME`).

mod common;

use std::fs;
use std::process::{Command, Stdio};

use common::*;
use serde_json::{json, Value};

/// A running container whose init sleeps, and its host pid.
fn sleeper(env: &TestEnv, name: &str) -> (String, Bundle, i64) {
    let id = env.id(name);
    let b = env.bundle(name, &["sleep", "600"]);
    env.run_detached(&id, &b);
    let pid = env.state(&id).expect("state")["pid"].as_i64().unwrap();
    (id, b, pid)
}

/// `exec` in the foreground: (exit code, stdout, stderr).
fn exec(env: &TestEnv, args: &[&str]) -> (i32, String, String) {
    let mut a = vec!["exec"];
    a.extend(args);
    let o = env.run(&a);
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The `Cap*` lines of /proc/<pid>/status, as a map of hex masks.
fn caps_of(status: &str) -> std::collections::BTreeMap<String, String> {
    status
        .lines()
        .filter_map(|l| l.split_once(":\t"))
        .filter(|(k, _)| k.starts_with("Cap"))
        .map(|(k, v)| (k.to_owned(), v.trim().to_owned()))
        .collect()
}

#[test]
fn exec_runs_in_the_containers_namespaces_and_cgroup() {
    if !can_run_containers("exec_namespaces") {
        return;
    }
    let env = TestEnv::new("execns");
    let (id, b, init) = sleeper(&env, "c");
    fs::write(b.rootfs().join("marker"), "inside").unwrap();
    let (code, out, err) = exec(
        &env,
        &[
            &id,
            "sh",
            "-c",
            "hostname; cat /marker; echo; ps -o pid,args; \
             for n in pid net ipc uts mnt; do readlink /proc/self/ns/$n; done; \
             cat /proc/self/cgroup",
        ],
    );
    assert_eq!(code, 0, "exec: {err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0], "runc",
        "uts namespace (the config's hostname): {out}"
    );
    assert_eq!(
        lines[1], "inside",
        "mount namespace: the container's files: {out}"
    );
    // pid namespace: the container's init is pid 1 there.
    assert!(
        out.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["1", "sleep", "600"]),
        "init is not pid 1 in exec's pid namespace: {out}"
    );
    for n in ["pid", "net", "ipc", "uts", "mnt"] {
        let want = fs::read_link(format!("/proc/{init}/ns/{n}")).unwrap();
        assert!(
            out.lines().any(|l| l == want.to_str().unwrap()),
            "{n} namespace differs from init's {}: {out}",
            want.display()
        );
    }
    // Host view of the cgroup: the exec'd process was in init's cgroup (every hierarchy).
    // Inside there is no cgroup namespace, so the paths are the host's.
    let init_cg = fs::read_to_string(format!("/proc/{init}/cgroup")).unwrap();
    for l in init_cg.lines() {
        assert!(out.contains(l), "exec'd process not in {l}: {out}");
    }
}

#[test]
fn exec_exit_status_and_signal_death() {
    if !can_run_containers("exec_status") {
        return;
    }
    let env = TestEnv::new("execst");
    let (id, _, _) = sleeper(&env, "c");
    assert_eq!(exec(&env, &[&id, "sh", "-c", "exit 3"]).0, 3);
    assert_eq!(exec(&env, &[&id, "true"]).0, 0);
    assert_eq!(
        exec(&env, &[&id, "sh", "-c", "kill -9 $$"]).0,
        137,
        "killed by SIGKILL: 128 + 9"
    );
    // A missing program: the process never started; runc's wording, which podman maps to 127.
    let (code, _, err) = exec(&env, &[&id, "no-such-program"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("executable file not found in $PATH"),
        "wording: {err}"
    );
}

#[test]
fn exec_detach_writes_the_pid_file() {
    if !can_run_containers("exec_detach") {
        return;
    }
    let env = TestEnv::new("execdet");
    let (id, _, init) = sleeper(&env, "c");
    let pf = env.path("exec.pid");
    let (code, err) = env.run_to_files(
        "exec",
        &[
            "exec",
            "--detach",
            "--pid-file",
            pf.to_str().unwrap(),
            &id,
            "sleep",
            "500",
        ],
    );
    assert_eq!(code, 0, "exec --detach: {err}");
    let text = fs::read_to_string(&pf).unwrap();
    assert!(
        !text.ends_with('\n') && text.parse::<i32>().is_ok(),
        "pid file {text:?}: a decimal pid without newline"
    );
    let pid = text.parse::<i32>().unwrap();
    let cmdline = fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap();
    assert_eq!(
        cmdline, "sleep\x00500\x00",
        "the pid file names the exec'd process"
    );
    assert_eq!(
        fs::read_link(format!("/proc/{pid}/ns/pid")).unwrap(),
        fs::read_link(format!("/proc/{init}/ns/pid")).unwrap()
    );
    // `ps --format json` lists it with init: it is in the container's cgroup.
    let o = env.run(&["ps", "--format", "json", &id]);
    let pids: Vec<i64> = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        pids.contains(&(pid as i64)) && pids.contains(&init),
        "{pids:?}"
    );
}

#[test]
fn exec_process_json_and_flags() {
    if !can_run_containers("exec_process") {
        return;
    }
    let env = TestEnv::new("execproc");
    let (id, _, _) = sleeper(&env, "c");
    let script = "id -u; id -g; id -G; pwd; echo \"$FOO\"; umask";
    let process = json!({
        "terminal": false,
        "user": {"uid": 1000, "gid": 1001, "additionalGids": [7], "umask": 23},
        "args": ["sh", "-c", script],
        "env": ["PATH=/bin", "FOO=from-json"],
        "cwd": "/tmp",
    });
    let f = env.path("process.json");
    fs::write(&f, process.to_string()).unwrap();
    let (code, out, err) = exec(&env, &["--process", f.to_str().unwrap(), &id]);
    assert_eq!(code, 0, "exec --process: {err}");
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(
        &l[..5],
        ["1000", "1001", "1001 7", "/tmp", "from-json"],
        "{out}"
    );
    // runc 1.1.5 applies process.user.umask to init only; the spec asks for it on any process.
    if !is_runc() {
        assert_eq!(l[5], "0027", "process.user.umask 23 (octal 027): {out}");
    }

    // The same through runc's flags: the config's process with these applied.
    let (code, out, err) = exec(
        &env,
        &[
            "--cwd",
            "/tmp",
            "-e",
            "FOO=from-flag",
            "-u",
            "1000:1001",
            "-g",
            "7",
            &id,
            "sh",
            "-c",
            script,
        ],
    );
    assert_eq!(code, 0, "exec with flags: {err}");
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(
        &l[..5],
        ["1000", "1001", "1001 7", "/tmp", "from-flag"],
        "{out}"
    );

    // --process with --tty (conmon adds it for `podman exec -t`): the JSON's `terminal`
    // decides, as in runc; here it is false, so the process writes to our pipe.
    let (code, out, err) = exec(&env, &["--process", f.to_str().unwrap(), "--tty", &id]);
    assert_eq!(code, 0, "exec --process --tty: {err}");
    assert_eq!(out.lines().next(), Some("1000"), "{out}");

    // --process with a command: husk refuses it (runc 1.1.5 silently ignores the command).
    if is_husk() {
        let (code, _, err) = exec(&env, &["--process", f.to_str().unwrap(), &id, "true"]);
        assert_ne!(code, 0, "--process with a command was accepted");
        assert!(err.contains("--process cannot be combined"), "{err}");
    }
}

#[test]
fn exec_capabilities_exactly_as_asked() {
    if !can_run_containers("exec_caps") {
        return;
    }
    let env = TestEnv::new("execcap");
    let (id, _, _) = sleeper(&env, "c");
    // base_config: AUDIT_WRITE (29), KILL (5), NET_BIND_SERVICE (10); --cap adds SYS_ADMIN (21).
    let (code, out, err) = exec(
        &env,
        &["--cap", "CAP_SYS_ADMIN", &id, "cat", "/proc/self/status"],
    );
    assert_eq!(code, 0, "{err}");
    let c = caps_of(&out);
    assert_eq!(
        c["CapInh"], "0000000000000000",
        "S7: no inheritable capability"
    );
    assert_eq!(c["CapBnd"], "0000000020200420", "{c:?}");
    assert_eq!(c["CapPrm"], "0000000020200420", "{c:?}");
    assert_eq!(c["CapEff"], "0000000020200420", "{c:?}");
    assert!(
        out.contains("NoNewPrivs:\t1"),
        "the config's noNewPrivileges: {out}"
    );

    // A process object's own capabilities replace the container's.
    let process = json!({
        "user": {"uid": 0, "gid": 0}, "args": ["cat", "/proc/self/status"], "cwd": "/",
        "env": ["PATH=/bin"],
        "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"],
                         "permitted": ["CAP_KILL"]}
    });
    let f = env.path("p.json");
    fs::write(&f, process.to_string()).unwrap();
    let (code, out, err) = exec(&env, &["--process", f.to_str().unwrap(), &id]);
    assert_eq!(code, 0, "{err}");
    let c = caps_of(&out);
    assert_eq!(
        (
            c["CapBnd"].as_str(),
            c["CapEff"].as_str(),
            c["CapInh"].as_str()
        ),
        ("0000000000000020", "0000000000000020", "0000000000000000")
    );
}

#[test]
fn exec_leaks_no_fds_and_passes_preserved_ones() {
    if !can_run_containers("exec_fds") {
        return;
    }
    let env = TestEnv::new("execfd");
    let (id, _, _) = sleeper(&env, "c");
    // ls opens the directory it lists: 3 is that fd.
    let (code, out, err) = exec(&env, &[&id, "ls", "/proc/self/fd"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["0", "1", "2", "3"],
        "fds reaching the exec'd process"
    );
    // --preserve-fds 1: the caller's fd 3 (a shell opens it) arrives as 3; ls's own is then 4.
    let rt = runtime();
    let o = Command::new("sh")
        .args(["-c", "exec 3</etc/hostname; exec \"$@\"", "sh"])
        .arg(&rt)
        .arg("--root")
        .arg(&env.root)
        .args(["exec", "--preserve-fds", "1", &id, "sh", "-c"])
        .arg("ls /proc/self/fd; cat <&3 >/dev/null && echo readable")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(words, ["0", "1", "2", "3", "4", "readable"], "{out}");
}

#[test]
fn exec_refuses_stopped_and_paused_containers() {
    if !can_run_containers("exec_refusals") {
        return;
    }
    let env = TestEnv::new("execref");
    let (id, _, _) = sleeper(&env, "c");
    assert!(env.run(&["pause", &id]).status.success());
    let (code, _, err) = exec(&env, &[&id, "true"]);
    assert_ne!(code, 0);
    assert!(err.contains("cannot exec in a paused container"), "{err}");
    assert!(env.run(&["resume", &id]).status.success());
    assert!(env.run(&["kill", &id, "9"]).status.success());
    env.wait_status(&id, "stopped");
    let (code, _, err) = exec(&env, &[&id, "true"]);
    assert_ne!(code, 0);
    assert!(err.contains("cannot exec in a stopped container"), "{err}");
}

#[test]
fn exec_foreground_forwards_signals() {
    if !can_run_containers("exec_signals") {
        return;
    }
    let env = TestEnv::new("execsig");
    let (id, _, _) = sleeper(&env, "c");
    let mut child = env.spawn_to_files(
        "fg",
        &[
            "exec",
            &id,
            "sh",
            "-c",
            "trap 'exit 42' TERM; echo ready; while :; do sleep 0.05; done",
        ],
    );
    assert!(
        wait_until(WAIT, || env.out("fg").contains("ready")),
        "never ready"
    );
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let st = child.wait().unwrap();
    assert_eq!(
        st.code(),
        Some(42),
        "TERM not forwarded (the trap exits 42)"
    );
}

#[test]
fn features_describes_the_runtime() {
    let o = Command::new(runtime()).arg("features").output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).expect("features prints JSON");
    assert!(v["ociVersionMin"].as_str().unwrap().starts_with("1."));
    assert!(v["ociVersionMax"].as_str().unwrap().starts_with("1."));
    let hooks: Vec<&str> = v["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    for h in [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ] {
        assert!(hooks.contains(&h), "hook {h} missing: {hooks:?}");
    }
    let opts = v["mountOptions"].as_array().unwrap();
    for o in ["ro", "rbind", "nosuid", "rprivate", "tmpcopyup"] {
        assert!(opts.iter().any(|x| x == o), "mount option {o} missing");
    }
    let ns = v["linux"]["namespaces"].as_array().unwrap();
    for n in ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"] {
        assert!(ns.iter().any(|x| x == n), "namespace {n} missing");
    }
    assert!(v["linux"]["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "CAP_SYS_ADMIN"));
    assert_eq!(v["linux"]["seccomp"]["enabled"], true);
    if is_husk() {
        // What husk refuses at create is not claimed.
        assert_eq!(v["linux"]["cgroup"]["systemd"], false);
        // Both LSMs are implemented (tests/lsm.rs, lab/vm-lsm.sh): "enabled" is the runtime's
        // support, whatever the host has, as runc 1.1 reports it.
        assert_eq!(v["linux"]["apparmor"]["enabled"], true);
        assert_eq!(v["linux"]["selinux"]["enabled"], true);
        assert_eq!(v["linux"]["mountExtensions"]["idmap"]["enabled"], false);
    }
}

/// Receive the console socket's one message and start `cat` copying the pty master it carries
/// into `out`; returns the payload (the pty name) and the reader.
///
/// Tests have no `unsafe`, so the received raw fd is never owned: it arrives without
/// O_CLOEXEC, the reader inherits it, and our copy is closed (as the conformance harness does).
fn read_pty_into(
    conn: &std::os::unix::net::UnixStream,
    out: &std::path::Path,
) -> (String, std::process::Child) {
    let (buf, fds) = recv_with_fds(conn, false).unwrap();
    assert_eq!(fds.len(), 1, "exactly one fd with the console message");
    let name = String::from_utf8_lossy(&buf).into_owned();
    let child = Command::new("sh")
        .arg("-c")
        .arg(format!("exec timeout 20 cat <&{}", fds[0]))
        .stdin(Stdio::null())
        .stdout(fs::File::create(out).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    nix::unistd::close(fds[0]).unwrap();
    (name, child)
}

#[test]
fn exec_with_a_terminal_sends_the_pty_to_the_console_socket() {
    if !can_run_containers("exec_tty") {
        return;
    }
    let env = TestEnv::new("exectty");
    let (id, _, _) = sleeper(&env, "c");
    let sock = env.path("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let (code, err) = env.run_to_files(
        "exec",
        &[
            "exec",
            "--detach",
            "--tty",
            "--console-socket",
            sock.to_str().unwrap(),
            &id,
            "sh",
            "-c",
            "tty; echo hello-pty; sleep 1",
        ],
    );
    assert_eq!(code, 0, "exec --tty --console-socket: {err}");
    let (conn, _) = listener.accept().unwrap();
    let out_path = env.path("pty.out");
    let (name, mut reader) = read_pty_into(&conn, &out_path);
    assert!(!name.is_empty(), "the message names the pty");
    let read = || fs::read_to_string(&out_path).unwrap_or_default();
    let ok = wait_until(WAIT, || read().contains("hello-pty"));
    let _ = reader.kill();
    let _ = reader.wait();
    let out = read();
    assert!(ok, "pty output: {out:?}");
    assert!(out.contains("/dev/pts/"), "stdio is the pty: {out:?}");

    // Without --detach and without a socket, husk relays the terminal itself (runc 1.1 needs
    // the caller's /dev/tty for this, which tests do not have).
    if is_husk() {
        let (code, out, err) = exec(&env, &["-t", &id, "sh", "-c", "tty; exit 4"]);
        assert_eq!(code, 4, "{err}");
        assert!(out.contains("/dev/pts/"), "{out:?}");
    }
}

#[test]
fn exec_and_init_start_with_default_signal_state() {
    if !can_run_containers("exec_signal_state") {
        return;
    }
    let env = TestEnv::new("execsigst");
    let (id, _, init) = sleeper(&env, "c");
    // The foreground exec blocks the signals it forwards before forking: the process must
    // not inherit that mask, nor the SIGPIPE disposition of the runtime (Rust ignores it).
    // Other ignored signals are the caller's own and are inherited, as with runc.
    let sigpipe_ignored = |status: &str| {
        let ign = status
            .lines()
            .find_map(|l| l.strip_prefix("SigIgn:\t"))
            .expect("SigIgn line");
        u64::from_str_radix(ign.trim(), 16).unwrap() & (1 << (13 - 1)) != 0
    };
    let (code, out, err) = exec(&env, &[&id, "cat", "/proc/self/status"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("SigBlk:\t0000000000000000"), "{out}");
    assert!(
        !sigpipe_ignored(&out),
        "exec'd process ignores SIGPIPE: {out}"
    );
    let st = fs::read_to_string(format!("/proc/{init}/status")).unwrap();
    assert!(!sigpipe_ignored(&st), "init ignores SIGPIPE: {st}");
}

#[test]
fn exec_ignore_paused_joins_the_frozen_cgroup() {
    if !can_run_containers("exec_ignore_paused") {
        return;
    }
    if is_runc() {
        // runc 1.1.5 puts its setns helper in the frozen cgroup and waits for it forever.
        println!("exec_ignore_paused_joins_the_frozen_cgroup: runc 1.1.5 hangs here");
        return;
    }
    let env = TestEnv::new("execpaused");
    let (id, _, _) = sleeper(&env, "c");
    assert!(env.run(&["pause", &id]).status.success());
    let pf = env.path("exec.pid");
    let (code, err) = env.run_to_files(
        "exec",
        &[
            "exec",
            "--detach",
            "--ignore-paused",
            "--pid-file",
            pf.to_str().unwrap(),
            &id,
            "sh",
            "-c",
            "echo ran > /dev/shm/ran; sleep 600",
        ],
    );
    assert_eq!(code, 0, "exec --ignore-paused: {err}");
    let pid: i64 = fs::read_to_string(&pf).unwrap().parse().unwrap();
    let o = env.run(&["ps", "--format", "json", &id]);
    let pids: Vec<i64> = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        pids.contains(&pid),
        "{pid} not in the container's cgroup: {pids:?}"
    );
    assert!(env.run(&["resume", &id]).status.success());
    let init = env.state(&id).unwrap()["pid"].as_i64().unwrap();
    let shm = format!("/proc/{init}/root/dev/shm/ran");
    assert!(
        wait_until(WAIT, || fs::read_to_string(&shm)
            .is_ok_and(|s| s == "ran\n")),
        "the exec'd process did not run after resume"
    );
}

#[test]
fn exec_process_oom_score_adj() {
    if !can_run_containers("exec_oom_score_adj") {
        return;
    }
    if is_runc() {
        println!("exec_process_oom_score_adj: runc 1.1.5 ignores process.oomScoreAdj on exec");
        return;
    }
    let env = TestEnv::new("execoom");
    let (id, _, _) = sleeper(&env, "c");
    let f = env.path("p.json");
    let p = json!({"user": {"uid": 0, "gid": 0}, "args": ["cat", "/proc/self/oom_score_adj"],
                   "cwd": "/", "env": ["PATH=/bin"], "oomScoreAdj": 500});
    fs::write(&f, p.to_string()).unwrap();
    let (code, out, err) = exec(&env, &["--process", f.to_str().unwrap(), &id]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "500");
}

#[test]
fn exec_joins_the_user_namespace() {
    if !can_run_containers("exec_userns") {
        return;
    }
    let env = TestEnv::new("execuserns");
    let id = env.id("c");
    let mut config = base_config(&["sleep", "600"]);
    config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    // sysfs and cgroupfs need more than a user namespace of their own: not what this tests.
    config["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| !m["destination"].as_str().unwrap().starts_with("/sys"));
    let b = env.bundle_with("b", config);
    b.write();
    env.run_detached(&id, &b);
    let (code, out, err) = exec(&env, &[&id, "sh", "-c", "id -u; cat /proc/self/uid_map"]);
    assert_eq!(code, 0, "{err}");
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(words, ["0", "0", "100000", "65536"], "{out}");
    let pf = env.path("exec.pid");
    let (code, err) = env.run_to_files(
        "d",
        &[
            "exec",
            "-d",
            "--pid-file",
            pf.to_str().unwrap(),
            "-u",
            "1000:1000",
            &id,
            "sleep",
            "500",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let pid = fs::read_to_string(&pf).unwrap();
    let st = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(
        st.contains("Uid:\t101000\t101000\t101000\t101000"),
        "uid 1000 of the container is host uid 101000: {st}"
    );
}

#[test]
fn exec_sets_home_like_runc() {
    if !can_run_containers("exec_home") {
        return;
    }
    let env = TestEnv::new("exechome");
    let (id, b, _) = sleeper(&env, "c");
    fs::write(
        b.rootfs().join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nsvc:x:1000:1000::/srv/svc:/bin/sh\n",
    )
    .unwrap();
    let home = |extra: &[&str]| {
        let mut a = extra.to_vec();
        a.extend([id.as_str(), "sh", "-c", "echo \"$HOME\""]);
        let (code, out, err) = exec(&env, &a);
        assert_eq!(code, 0, "{err}");
        out.trim().to_owned()
    };
    assert_eq!(
        home(&[]),
        "/root",
        "root's home from the container's /etc/passwd"
    );
    assert_eq!(home(&["-u", "1000"]), "/srv/svc");
    assert_eq!(home(&["-u", "1234"]), "/", "a user without a passwd entry");
    assert_eq!(
        home(&["-e", "HOME=/given"]),
        "/given",
        "an explicit HOME stays"
    );
}

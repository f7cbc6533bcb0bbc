//! The seccomp agent hand-off (`linux.seccomp.listenerPath` with an `SCMP_ACT_NOTIFY` rule):
//! `create` and `exec` each connect to the agent and send, in one message, runc's
//! `ContainerProcessState` and the notify fd as `SCM_RIGHTS`. What an agent (e.g. a
//! seccomp-notify supervisor) relies on is checked here: the state, the metadata, the pids,
//! and that the fd is a seccomp notify fd.

mod common;

use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

/// Accept one connection on `l` (bounded wait) and read the agent's message: the JSON and
/// what each received fd is (its `/proc/self/fd` link).
fn receive(l: &UnixListener) -> (Value, Vec<String>) {
    let mut conn: Option<UnixStream> = None;
    let ok = wait_until(Duration::from_secs(10), || {
        conn = l.accept().ok().map(|(s, _)| s);
        conn.is_some()
    });
    assert!(ok, "the runtime never connected to the agent");
    let conn = conn.unwrap();
    conn.set_nonblocking(false).unwrap();
    let (buf, raw) = recv_with_fds(&conn, true).expect("recvmsg from the runtime");
    let mut fds = Vec::new();
    for fd in raw {
        let what = std::fs::read_link(format!("/proc/self/fd/{fd}"))
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        fds.push(what);
        let _ = nix::unistd::close(fd);
    }
    let v: Value = serde_json::from_slice(&buf).expect("the message is one JSON");
    (v, fds)
}

#[test]
fn create_and_exec_hand_the_notify_fd_and_state_to_the_agent() {
    if !can_run_containers("seccomp_agent") {
        return;
    }
    let env = TestEnv::new("seccomp-agent");
    let sock = env.dir.join("agent.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    listener.set_nonblocking(true).unwrap();
    let mut config = base_config(&["sleep", "600"]);
    // mkdir is what no step of the container's start and no `true` calls: nothing waits on
    // the agent, which answers nothing.
    config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": sock,
        "listenerMetadata": "husk-test-meta",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
    });
    let b = env.bundle_with("b", config);
    b.write();
    let id = env.id("c");
    env.create(&id, &b);
    let init = env.state(&id).unwrap()["pid"].as_i64().unwrap();

    let (v, fds) = receive(&listener);
    assert_eq!(v["fds"], json!(["seccompFd"]), "{v}");
    assert_eq!(v["metadata"], "husk-test-meta", "{v}");
    assert_eq!(v["pid"], init, "the process is the container's init: {v}");
    assert_eq!(v["state"]["id"], id.as_str(), "{v}");
    assert_eq!(v["state"]["status"], "creating", "{v}");
    assert_eq!(v["state"]["pid"], init, "{v}");
    assert_eq!(
        v["state"]["bundle"],
        b.dir.to_str().unwrap(),
        "the bundle, absolute: {v}"
    );
    assert_eq!(fds, ["anon_inode:seccomp notify"], "one notify fd: {v}");

    let (code, err) = env.run_to_files("exec", &["exec", &id, "true"]);
    assert_eq!(code, 0, "exec: {err}");
    let (v, fds) = receive(&listener);
    assert_eq!(v["fds"], json!(["seccompFd"]), "{v}");
    assert_eq!(v["metadata"], "husk-test-meta", "{v}");
    assert_eq!(v["state"]["id"], id.as_str(), "{v}");
    assert_eq!(v["state"]["status"], "running", "exec's state: {v}");
    assert_eq!(v["state"]["pid"], init, "the state's pid is init's: {v}");
    let pid = v["pid"].as_i64().expect("a pid");
    assert!(pid > 0 && pid != init, "the exec'd process, not init: {v}");
    assert_eq!(fds, ["anon_inode:seccomp notify"], "one notify fd: {v}");
}

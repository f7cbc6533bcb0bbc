//! config.md, POSIX-platform hooks: which operation calls each hook, their order, the state on
//! their stdin, args/env, the namespace they run in, failures and timeouts.
//!
//! Every hook appends its name to one order file and saves its stdin. Hooks that run in the
//! runtime namespace use the host's /bin/sh and host paths; startContainer resolves its path in
//! the container, so it uses the container's busybox and the same directory bind-mounted at
//! /hooks.

use super::lifecycle::appears;
use super::{case, Case};
use crate::ctx::{Bundle, Ctx, R};
use crate::{ensure, host, spec};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub fn cases() -> Vec<Case> {
    vec![
        case("config/hooks/prestart-called-on-create", |c| {
            called_on_create(c, "prestart")
        }),
        case("config/hooks/createRuntime-called-on-create", |c| {
            called_on_create(c, "createRuntime")
        }),
        case("config/hooks/createContainer-called-on-create", |c| {
            called_on_create(c, "createContainer")
        }),
        case(
            "config/hooks/startContainer-called-on-start",
            start_container,
        ),
        case(
            "config/hooks/poststart-called-before-start-returns",
            poststart,
        ),
        case("config/hooks/poststop-called-on-delete", poststop),
        case("config/hooks/order", order),
        case("config/hooks/state-on-stdin", state_stdin),
        case(
            "config/hooks/createRuntime-state-status-creating",
            state_creating,
        ),
        case("config/hooks/poststop-state-on-stdin", poststop_state),
        case("config/hooks/args-and-env", args_env),
        case("config/hooks/multiple-in-order", multiple),
        case("config/hooks/prestart-failure-fails-create", |c| {
            failure(c, "prestart")
        }),
        case("config/hooks/createRuntime-failure-fails-create", |c| {
            failure(c, "createRuntime")
        }),
        case("config/hooks/createContainer-failure-fails-create", |c| {
            failure(c, "createContainer")
        }),
        case(
            "config/hooks/startContainer-failure-fails-start",
            start_container_failure,
        ),
        case(
            "config/hooks/poststart-failure-only-warns",
            poststart_failure,
        ),
        case(
            "config/hooks/poststop-failure-still-deletes",
            poststop_failure,
        ),
        case("config/hooks/timeout", timeout),
        case("config/hooks/prestart-in-runtime-namespace", prestart_ns),
        case(
            "config/hooks/createContainer-in-container-namespace",
            create_container_ns,
        ),
        case(
            "config/hooks/startContainer-in-container-namespace",
            start_container_ns,
        ),
        case("config/hooks/prestart-sees-the-container-process", |c| {
            sees_container_process(c, "prestart")
        }),
        case(
            "config/hooks/createRuntime-sees-the-container-process",
            |c| sees_container_process(c, "createRuntime"),
        ),
        case(
            "config/hooks/createContainer-sees-mounts-before-pivot",
            create_container_before_pivot,
        ),
        case(
            "config/hooks/startContainer-after-pivot-before-exec",
            start_container_after_pivot,
        ),
        case("config/hooks/poststart-after-exec", poststart_after_exec),
        case(
            "config/hooks/poststop-after-process-gone",
            poststop_after_gone,
        ),
    ]
}

const HOST_HOOKS: [&str; 5] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "poststart",
    "poststop",
];

fn hooks_dir(c: &Ctx<'_>) -> R<PathBuf> {
    let d = c.dir.join("hooks");
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

/// A hook that runs `script` with /bin/sh (host or container, by kind).
fn hook(c: &Ctx<'_>, script: &str) -> Value {
    json!({"path": "/bin/sh", "args": ["sh", "-c", script], "env": [spec::PATH, format!("{}={}", spec::TAG_VAR, c.tag)]})
}

/// The recording hook for `kind`: append the name to `order`, save stdin as NAME.json.
fn recorder(c: &Ctx<'_>, kind: &str, dir: &std::path::Path) -> Value {
    let d = if kind == "startContainer" {
        "/hooks".to_string()
    } else {
        dir.to_string_lossy().into_owned()
    };
    hook(
        c,
        &format!("echo {kind} >> {d}/order; cat > {d}/{kind}.json"),
    )
}

/// A sleeper bundle with recording hooks of the given kinds and /hooks bind-mounted.
fn hooked(c: &mut Ctx<'_>, kinds: &[&str]) -> R<(Bundle, PathBuf)> {
    let dir = hooks_dir(c)?;
    let mut b = c.shell_bundle("exec sleep 600")?;
    let mut hooks = serde_json::Map::new();
    for k in kinds {
        hooks.insert(k.to_string(), json!([recorder(c, k, &dir)]));
    }
    b.config["hooks"] = Value::Object(hooks);
    spec::add_mount(
        &mut b.config,
        json!({"destination": "/hooks", "type": "bind", "source": dir, "options": ["rbind"]}),
    );
    Ok((b, dir))
}

fn order_of(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("order"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn called_on_create(c: &mut Ctx<'_>, kind: &str) -> R {
    let (b, dir) = hooked(c, &[kind])?;
    c.create_ok(&b)?;
    c.check(
        &format!("hooks run by create ({kind} configured)"),
        [kind],
        order_of(&dir),
    )
}

fn start_container(c: &mut Ctx<'_>) -> R {
    let (b, dir) = hooked(c, &["startContainer"])?;
    c.create_ok(&b)?;
    c.check("hooks run by create", Vec::<String>::new(), order_of(&dir))?;
    c.start_ok(&b.id)?;
    let ran = appears(&dir.join("startContainer.json"), Duration::from_secs(5));
    c.check("startContainer ran after start", true, ran)
}

fn poststart(c: &mut Ctx<'_>) -> R {
    let (b, dir) = hooked(c, &["poststart"])?;
    c.create_ok(&b)?;
    c.check("hooks run by create", Vec::<String>::new(), order_of(&dir))?;
    c.start_ok(&b.id)?;
    c.check(
        "hooks run when start returned",
        ["poststart"],
        order_of(&dir),
    )
}

fn poststop(c: &mut Ctx<'_>) -> R {
    let (b, dir) = hooked(c, &["poststop"])?;
    c.create_ok(&b)?;
    c.start_ok(&b.id)?;
    c.check(
        "hooks run before delete",
        Vec::<String>::new(),
        order_of(&dir),
    )?;
    c.rt_ok(&["kill", &b.id, "9"])?;
    c.wait_status(&b.id, "stopped", Duration::from_secs(5))?;
    c.delete_ok(&b.id)?;
    c.check("hooks run by delete", ["poststop"], order_of(&dir))
}

fn order(c: &mut Ctx<'_>) -> R {
    let mut all: Vec<&str> = HOST_HOOKS.to_vec();
    all.push("startContainer");
    let (b, dir) = hooked(c, &all)?;
    c.create_ok(&b)?;
    c.start_ok(&b.id)?;
    ensure!(
        appears(&dir.join("startContainer.json"), Duration::from_secs(5)),
        "startContainer never ran"
    );
    c.rt_ok(&["kill", &b.id, "9"])?;
    c.wait_status(&b.id, "stopped", Duration::from_secs(5))?;
    c.delete_ok(&b.id)?;
    let seen = order_of(&dir);
    let pos = |k: &str| seen.iter().position(|s| s == k);
    let p: Vec<Option<usize>> = [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ]
    .iter()
    .map(|k| pos(k))
    .collect();
    // prestart and createRuntime are both "after the runtime environment is created"; the
    // rest is a strict sequence.
    let ok = p.iter().all(Option::is_some) && {
        let v: Vec<usize> = p.iter().map(|x| x.unwrap()).collect();
        v[0].max(v[1]) < v[2] && v[2] < v[3] && v[3] < v[4] && v[4] < v[5]
    };
    c.check_that(
        "hook order",
        "{prestart, createRuntime} < createContainer < startContainer < poststart < poststop",
        &seen,
        ok,
    )
}

fn read_state(dir: &std::path::Path, kind: &str) -> Value {
    std::fs::read_to_string(dir.join(format!("{kind}.json")))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null)
}

fn state_stdin(c: &mut Ctx<'_>) -> R {
    let (b, dir) = hooked(c, &["prestart"])?;
    let pid = c.create_ok(&b)?;
    let st = read_state(&dir, "prestart");
    c.check(
        "state on the prestart hook's stdin",
        json!({"id": b.id, "pid": pid, "bundle": b.dir.to_string_lossy(), "ociVersion": true}),
        json!({"id": st["id"], "pid": st["pid"], "bundle": st["bundle"], "ociVersion": st["ociVersion"].is_string()}),
    )
}

fn state_creating(c: &mut Ctx<'_>) -> R {
    let (b, dir) = hooked(c, &["createRuntime"])?;
    c.create_ok(&b)?;
    let st = read_state(&dir, "createRuntime");
    c.check(
        "state.status seen by createRuntime",
        "creating",
        &st["status"],
    )
}

fn poststop_state(c: &mut Ctx<'_>) -> R {
    let (b, dir) = hooked(c, &["poststop"])?;
    c.create_ok(&b)?;
    c.start_ok(&b.id)?;
    c.rt_ok(&["kill", &b.id, "9"])?;
    c.wait_status(&b.id, "stopped", Duration::from_secs(5))?;
    c.delete_ok(&b.id)?;
    let st = read_state(&dir, "poststop");
    c.check(
        "state on the poststop hook's stdin",
        json!({"id": b.id, "bundle": b.dir.to_string_lossy()}),
        json!({"id": st["id"], "bundle": st["bundle"]}),
    )
}

fn args_env(c: &mut Ctx<'_>) -> R {
    let dir = hooks_dir(c)?;
    let mut b = c.shell_bundle("exec sleep 600")?;
    let out = dir.join("args");
    b.config["hooks"] = json!({"prestart": [{
        "path": "/bin/sh",
        "args": ["sh", "-c", format!("echo \"$0|$1|$HOOKVAR\" > {}", out.display()), "first", "second"],
        "env": [spec::PATH, "HOOKVAR=hook-env", format!("{}={}", spec::TAG_VAR, c.tag)]
    }]});
    c.create_ok(&b)?;
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    c.check(
        "hook's $0|$1|$HOOKVAR",
        "first|second|hook-env",
        text.trim(),
    )
}

fn multiple(c: &mut Ctx<'_>) -> R {
    let dir = hooks_dir(c)?;
    let mut b = c.shell_bundle("exec sleep 600")?;
    let d = dir.display().to_string();
    b.config["hooks"] = json!({"prestart": [
        hook(c, &format!("echo one >> {d}/order; cat >/dev/null")),
        hook(c, &format!("echo two >> {d}/order; cat >/dev/null")),
        hook(c, &format!("echo three >> {d}/order; cat >/dev/null"))
    ]});
    c.create_ok(&b)?;
    c.check(
        "prestart hooks in array order",
        ["one", "two", "three"],
        order_of(&dir),
    )
}

fn failure(c: &mut Ctx<'_>, kind: &str) -> R {
    c.control()?;
    let mut b = c.shell_bundle("touch /ran; exec sleep 600")?;
    b.config["hooks"] = json!({kind: [hook(c, "cat >/dev/null; exit 3")]});
    let res = c.create_with(&b, &[])?;
    c.check_that(
        &format!("create with a failing {kind} hook"),
        "fails",
        res.summary(),
        !res.success(),
    )?;
    let _ = c.rt(&["start", &b.id]);
    let ran = appears(&b.rootfs().join("ran"), Duration::from_millis(300));
    c.check("user process ran", false, ran)
}

fn poststop_failure(c: &mut Ctx<'_>) -> R {
    // config.md: "If any poststop hook fails, the runtime MUST log a warning, but the remaining
    // hooks and lifecycle continue as if the hook had succeeded."
    let dir = hooks_dir(c)?;
    let mut b = c.shell_bundle("exec sleep 600")?;
    let d = dir.display().to_string();
    b.config["hooks"] = json!({"poststop": [
        hook(c, "cat >/dev/null; exit 3"),
        hook(c, &format!("echo second >> {d}/order; cat >/dev/null"))
    ]});
    c.create_ok(&b)?;
    c.start_ok(&b.id)?;
    c.rt_ok(&["kill", &b.id, "9"])?;
    c.wait_status(&b.id, "stopped", Duration::from_secs(5))?;
    let _ = c.rt(&["delete", &b.id])?;
    let gone = !c.rt(&["state", &b.id])?.success();
    c.check(
        "container gone and the next poststop hook ran",
        json!([true, ["second"]]),
        json!([gone, order_of(&dir)]),
    )
}

fn timeout(c: &mut Ctx<'_>) -> R {
    c.control()?;
    let mut b = c.shell_bundle("exec sleep 600")?;
    let mut h = hook(c, "cat >/dev/null; exec sleep 60");
    h["timeout"] = json!(1);
    b.config["hooks"] = json!({"prestart": [h]});
    let started = Instant::now();
    let res = c.create_with(&b, &[])?;
    let secs = started.elapsed().as_secs_f64();
    c.check_that(
        "create with a prestart hook that outlives its 1 s timeout",
        "fails within 10 s",
        json!({"result": res.summary(), "seconds": secs}),
        !res.success() && secs < 10.0,
    )
}

fn ns_hook(c: &mut Ctx<'_>, kind: &str, script_tail: &str) -> R<(Bundle, PathBuf, String)> {
    let dir = hooks_dir(c)?;
    let mut b = c.shell_bundle("exec sleep 600")?;
    let d = if kind == "startContainer" {
        "/hooks".to_string()
    } else {
        dir.display().to_string()
    };
    b.config["hooks"] = json!({kind: [hook(c, &format!("cat >/dev/null; {script_tail} > {d}/out.tmp && mv {d}/out.tmp {d}/out"))]});
    spec::add_mount(
        &mut b.config,
        json!({"destination": "/hooks", "type": "bind", "source": dir, "options": ["rbind"]}),
    );
    Ok((b, dir, d))
}

fn prestart_ns(c: &mut Ctx<'_>) -> R {
    let (b, dir, _) = ns_hook(c, "prestart", "readlink /proc/self/ns/mnt")?;
    c.create_ok(&b)?;
    let seen = std::fs::read_to_string(dir.join("out")).unwrap_or_default();
    c.check("prestart's mount namespace", host::ns("mnt"), seen.trim())
}

fn create_container_ns(c: &mut Ctx<'_>) -> R {
    let (b, dir, _) = ns_hook(c, "createContainer", "readlink /proc/self/ns/mnt")?;
    let pid = c.create_ok(&b)?;
    let seen = std::fs::read_to_string(dir.join("out")).unwrap_or_default();
    c.check(
        "createContainer's mount namespace",
        host::ns_of(pid, "mnt"),
        Some(seen.trim()),
    )
}

fn start_container_ns(c: &mut Ctx<'_>) -> R {
    let (b, dir, _) = ns_hook(c, "startContainer", "hostname")?;
    c.create_ok(&b)?;
    c.start_ok(&b.id)?;
    ensure!(
        appears(&dir.join("out"), Duration::from_secs(5)),
        "startContainer never ran"
    );
    let seen = std::fs::read_to_string(dir.join("out")).unwrap_or_default();
    let want = b.config["hostname"].as_str().unwrap_or("").to_string();
    c.check("hostname seen by startContainer", want, seen.trim())
}

/// A hook of `kind` that reads the state from stdin and writes what `probe` prints (a shell
/// snippet that may use `$pid` and `$bundle`, taken from the state) to `<d>/out`.
fn timing_hook(c: &Ctx<'_>, d: &str, probe: &str) -> Value {
    hook(
        c,
        &format!(
            "s=$(cat); pid=$(echo \"$s\" | sed -n 's/.*\"pid\": *\\([0-9]*\\).*/\\1/p'); \
             bundle=$(echo \"$s\" | sed -n 's/.*\"bundle\": *\"\\([^\"]*\\)\".*/\\1/p'); \
             {{ {probe} ; }} > {d}/out.tmp 2>&1; mv {d}/out.tmp {d}/out"
        ),
    )
}

fn hook_out(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("out"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn sees_container_process(c: &mut Ctx<'_>, kind: &str) -> R {
    // config.md: prestart and createRuntime run after the runtime environment is created
    // (the container process exists, blocked before the user program), in the runtime
    // namespace: the state's pid is a live process there, not yet running the user program.
    let dir = hooks_dir(c)?;
    let mut b = c.shell_bundle("exec sleep 600")?;
    let d = dir.display().to_string();
    b.config["hooks"] = json!({kind: [timing_hook(c, &d, "kill -0 $pid && echo alive; tr '\\0' ' ' < /proc/$pid/cmdline")]});
    let pid = c.create_ok(&b)?;
    let out = hook_out(&dir);
    let alive = out.starts_with("alive");
    let user_program = out.contains("sleep 600");
    c.check(
        &format!("{kind}: state pid {pid} alive, user program not yet started"),
        json!({"alive": true, "user program running": false}),
        json!({"alive": alive, "user program running": user_program}),
    )
}

fn create_container_before_pivot(c: &mut Ctx<'_>) -> R {
    // config.md: createContainer runs in the container's namespaces after the runtime
    // environment (the mounts) is set up, before pivot_root: the container's /proc is
    // mounted under the root filesystem's path, which is not yet `/`.
    let dir = hooks_dir(c)?;
    let mut b = c.shell_bundle("exec sleep 600")?;
    let d = dir.display().to_string();
    b.config["hooks"] = json!({"createContainer": [timing_hook(c, &d,
        "awk '$9 == \"proc\" && $5 != \"/proc\" {print \"proc-under-root\"} $5 == \"/\" {print \"root-source=\" $4}' /proc/self/mountinfo")]});
    c.create_ok(&b)?;
    let out = hook_out(&dir);
    let proc_under_root = out.lines().any(|l| l == "proc-under-root");
    c.check_that(
        "createContainer sees the container's proc mounted below a root not yet pivoted to",
        "a proc mount at a path other than /proc",
        &out,
        proc_under_root,
    )
}

fn start_container_after_pivot(c: &mut Ctx<'_>) -> R {
    // config.md: startContainer runs in the container after pivot_root (it sees the
    // container's root filesystem as /) and before the user program is executed.
    let dir = hooks_dir(c)?;
    let mut b = c.shell_bundle("exec sleep 600")?;
    std::fs::write(b.rootfs().join("rootfs-marker"), "m")?;
    b.config["hooks"] = json!({"startContainer": [timing_hook(c, "/hooks",
        "test -e /rootfs-marker && echo pivoted; tr '\\0' ' ' < /proc/1/cmdline")]});
    spec::add_mount(
        &mut b.config,
        json!({"destination": "/hooks", "type": "bind", "source": dir, "options": ["rbind"]}),
    );
    c.create_ok(&b)?;
    c.start_ok(&b.id)?;
    ensure!(
        appears(&dir.join("out"), Duration::from_secs(5)),
        "startContainer never ran"
    );
    let out = hook_out(&dir);
    c.check(
        "startContainer: / is the container's root, user program not yet executed",
        json!({"pivoted": true, "user program running": false}),
        json!({"pivoted": out.starts_with("pivoted"), "user program running": out.contains("sleep 600")}),
    )
}

fn poststart_after_exec(c: &mut Ctx<'_>) -> R {
    // config.md: poststart runs after the user-specified process is executed.
    let dir = hooks_dir(c)?;
    let mut b = c.shell_bundle("exec sleep 600")?;
    let d = dir.display().to_string();
    b.config["hooks"] =
        json!({"poststart": [timing_hook(c, &d, "tr '\\0' ' ' < /proc/$pid/cmdline")]});
    c.create_ok(&b)?;
    c.start_ok(&b.id)?;
    ensure!(
        appears(&dir.join("out"), Duration::from_secs(5)),
        "poststart never ran"
    );
    let out = hook_out(&dir);
    c.check_that(
        "poststart: the container's process runs the user program",
        "cmdline `sleep 600`",
        &out,
        out.contains("sleep 600"),
    )
}

fn poststop_after_gone(c: &mut Ctx<'_>) -> R {
    // config.md: poststop runs after the container is deleted: its process is gone.
    let dir = hooks_dir(c)?;
    let mut b = c.shell_bundle("exec sleep 600")?;
    let pid_file = dir.join("pid");
    let d = dir.display().to_string();
    b.config["hooks"] = json!({"poststop": [timing_hook(c, &d,
        &format!("p=$(cat {}); if kill -0 $p 2>/dev/null; then echo alive; else echo gone; fi", pid_file.display()))]});
    let pid = c.create_ok(&b)?;
    std::fs::write(&pid_file, pid.to_string())?;
    c.start_ok(&b.id)?;
    c.rt_ok(&["kill", &b.id, "9"])?;
    c.wait_status(&b.id, "stopped", Duration::from_secs(5))?;
    c.delete_ok(&b.id)?;
    c.check("poststop: the container process", "gone", hook_out(&dir))
}

fn start_container_failure(c: &mut Ctx<'_>) -> R {
    // config.md: if a startContainer hook fails, the runtime MUST generate an error, stop
    // the container: the user program never runs.
    c.control()?;
    let mut b = c.shell_bundle("touch /ran; exec sleep 600")?;
    b.config["hooks"] = json!({"startContainer": [hook(c, "cat >/dev/null; exit 3")]});
    c.create_ok(&b)?;
    let res = c.rt(&["start", &b.id])?;
    c.check_that(
        "start with a failing startContainer hook",
        "fails",
        res.summary(),
        !res.success(),
    )?;
    let ran = appears(&b.rootfs().join("ran"), Duration::from_millis(300));
    c.check("user process ran", false, ran)
}

fn poststart_failure(c: &mut Ctx<'_>) -> R {
    // config.md (1.2): "If any poststart hook fails, the runtime MUST log a warning, but the
    // remaining hooks and lifecycle continue as if the hook had succeeded."
    let dir = hooks_dir(c)?;
    let mut b = c.shell_bundle("exec sleep 600")?;
    let d = dir.display().to_string();
    b.config["hooks"] = json!({"poststart": [
        hook(c, "cat >/dev/null; exit 3"),
        hook(c, &format!("echo second >> {d}/order; cat >/dev/null"))
    ]});
    c.create_ok(&b)?;
    let res = c.rt(&["start", &b.id])?;
    let status = c.status(&b.id).unwrap_or_default();
    c.check(
        "start succeeded, container running, next poststart hook ran",
        json!([true, "running", ["second"]]),
        json!([res.success(), status, order_of(&dir)]),
    )
}

//! What the process sees inside the container, checked from inside (busybox applets print
//! what the kernel reports) and from the host (cgroup files): hostname, pid 1, network
//! namespace, mounts, devices, masked and read-only paths, user and groups, umask, rlimits,
//! capabilities, no_new_privs, env, cwd, read-only root, fds, and cgroup limits.

mod common;

use std::fs;
use std::path::PathBuf;

use common::*;
use serde_json::{json, Value};

/// `run` the config in the foreground; returns (exit code, stdout, stderr).
fn run_inside(env: &TestEnv, name: &str, config: Value) -> (i32, String, String) {
    let b = env.bundle_with(name, config);
    b.write();
    let id = env.id(name);
    let o = env.run(&["run", "--bundle", b.dir.to_str().unwrap(), &id]);
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// `run_inside` that must exit 0; returns stdout.
fn stdout_of(env: &TestEnv, name: &str, config: Value) -> String {
    let (code, out, err) = run_inside(env, name, config);
    assert_eq!(code, 0, "{name}: exit {code}\nstdout: {out}\nstderr: {err}");
    out
}

fn sh(script: &str) -> Value {
    base_config(&["sh", "-c", script])
}

#[test]
fn hostname_pid1_and_own_network() {
    if !can_run_containers("hostname_pid1") {
        return;
    }
    let env = TestEnv::new("hostname");
    let mut c = sh("hostname; echo pid=$$; ls /sys/class/net");
    c["hostname"] = json!("husk-test-host");
    let out = stdout_of(&env, "c", c);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines, ["husk-test-host", "pid=1", "lo"], "{out}");
}

#[test]
fn mounts_devices_masked_and_readonly_paths() {
    if !can_run_containers("mounts") {
        return;
    }
    let env = TestEnv::new("mounts");
    let script = r#"
        cat /proc/self/mountinfo
        echo ---
        for d in null zero full random urandom tty; do test -c /dev/$d && echo "char $d"; done
        echo "fd -> $(readlink /dev/fd)"
        echo "ptmx -> $(readlink /dev/ptmx)"
        echo "stdin -> $(readlink /dev/stdin)"
        echo "timer_list bytes $(cat /proc/timer_list | wc -c)"
        echo "firmware entries $(ls -A /sys/firmware | wc -l)"
        if echo 1 > /proc/sys/vm/drop_caches 2>/dev/null; then echo "proc/sys writable"; else echo "proc/sys readonly"; fi
    "#;
    let out = stdout_of(&env, "c", sh(script));
    let (mountinfo, checks) = out.split_once("---\n").expect("separator");
    // mountinfo fields: id parent major:minor root mountpoint options ... - fstype source super
    let mounts: Vec<(String, String, String)> = mountinfo
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let dash = f.iter().position(|x| *x == "-")?;
            Some((f[4].to_owned(), f[5].to_owned(), f[dash + 1].to_owned()))
        })
        .collect();
    let find = |mp: &str| {
        mounts
            .iter()
            .rev()
            .find(|m| m.0 == mp)
            .unwrap_or_else(|| panic!("{mp} not mounted:\n{mountinfo}"))
    };
    assert!(
        find("/").1.split(',').any(|o| o == "ro"),
        "root.readonly: / is not ro"
    );
    assert_eq!(find("/proc").2, "proc");
    assert_eq!(find("/dev").2, "tmpfs");
    assert_eq!(find("/dev/pts").2, "devpts");
    assert_eq!(find("/dev/shm").2, "tmpfs");
    assert_eq!(find("/dev/mqueue").2, "mqueue");
    assert_eq!(find("/sys").2, "sysfs");
    assert!(find("/sys").1.split(',').any(|o| o == "ro"), "/sys not ro");
    assert!(
        find("/dev/pts").1.split(',').any(|o| o == "noexec"),
        "/dev/pts options lost"
    );
    assert!(
        mounts.iter().any(|m| m.0.starts_with("/sys/fs/cgroup")),
        "no /sys/fs/cgroup"
    );
    assert!(
        find("/proc/sys").1.split(',').any(|o| o == "ro"),
        "readonlyPaths /proc/sys"
    );
    for d in ["null", "zero", "full", "random", "urandom", "tty"] {
        assert!(
            checks.contains(&format!("char {d}\n")),
            "/dev/{d} missing:\n{checks}"
        );
    }
    assert!(checks.contains("fd -> /proc/self/fd\n"), "{checks}");
    assert!(checks.contains("ptmx -> pts/ptmx\n"), "{checks}");
    assert!(checks.contains("stdin -> /proc/self/fd/0\n"), "{checks}");
    // maskedPaths: a file is covered by /dev/null, a directory by an empty read-only tmpfs.
    // (/proc/kcore is not used: kernels without CONFIG_PROC_KCORE lack it.)
    assert!(
        checks.contains("timer_list bytes 0\n"),
        "maskedPaths /proc/timer_list:\n{checks}"
    );
    assert!(
        checks.contains("firmware entries 0\n"),
        "maskedPaths /sys/firmware:\n{checks}"
    );
    assert!(checks.contains("proc/sys readonly"), "{checks}");
    // Nothing of the container's mounts appears on the host.
    assert!(
        mounts_mentioning(&[env.dir.to_str().unwrap()]).is_empty(),
        "container mounts leaked to the host"
    );
}

#[test]
fn user_groups_and_umask() {
    if !can_run_containers("user") {
        return;
    }
    let env = TestEnv::new("user");
    let mut c = sh("id -u; id -g; id -G | tr ' ' '\\n' | sort -n | tr '\\n' ' '; echo; umask; touch /tmp/f; stat -c %a /tmp/f");
    c["process"]["user"] =
        json!({ "uid": 1000, "gid": 1001, "additionalGids": [10, 20], "umask": 23 });
    c["root"]["readonly"] = json!(false);
    let out = stdout_of(&env, "c", c);
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert_eq!(
        lines,
        ["1000", "1001", "10 20 1001", "0027", "640"],
        "{out}"
    );
}

#[test]
fn rlimits() {
    if !can_run_containers("rlimits") {
        return;
    }
    let env = TestEnv::new("rlimits");
    let mut c = sh("grep -E 'Max (open files|core file size|processes)' /proc/self/limits");
    c["process"]["rlimits"] = json!([
        { "type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024 },
        { "type": "RLIMIT_CORE", "soft": 0, "hard": 0 },
        { "type": "RLIMIT_NPROC", "soft": 200, "hard": 300 }
    ]);
    let out = stdout_of(&env, "c", c);
    let row = |name: &str| -> Vec<String> {
        let l = out
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name}: {out}"));
        l[name.len()..]
            .split_whitespace()
            .take(2)
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(row("Max open files"), ["512", "1024"]);
    assert_eq!(row("Max core file size"), ["0", "0"]);
    assert_eq!(row("Max processes"), ["200", "300"]);
}

fn status_fields(out: &str) -> std::collections::HashMap<String, String> {
    out.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

#[test]
fn capabilities_and_no_new_privileges() {
    if !can_run_containers("capabilities") {
        return;
    }
    let env = TestEnv::new("caps");
    let mut c = sh("grep -E '^(Cap|NoNewPrivs)' /proc/self/status");
    let set = json!(["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    c["process"]["capabilities"] = json!({ "bounding": set, "effective": set, "permitted": set });
    let f = status_fields(&stdout_of(&env, "explicit", c));
    // CHOWN = bit 0, KILL = bit 5, NET_BIND_SERVICE = bit 10.
    assert_eq!(f["CapEff"], "0000000000000421");
    assert_eq!(f["CapPrm"], "0000000000000421");
    assert_eq!(f["CapBnd"], "0000000000000421");
    assert_eq!(f["CapInh"], "0000000000000000");
    assert_eq!(f["CapAmb"], "0000000000000000");
    assert_eq!(f["NoNewPrivs"], "1");

    // runc spec's default: AUDIT_WRITE (bit 29), KILL, NET_BIND_SERVICE in bounding, effective,
    // permitted and ambient, but no inheritable set: the kernel only keeps an ambient cap that
    // is also permitted AND inheritable, so the ambient set ends up empty (runc: the same).
    let f = status_fields(&stdout_of(
        &env,
        "default",
        sh("grep -E '^(Cap|NoNewPrivs)' /proc/self/status"),
    ));
    assert_eq!(f["CapEff"], "0000000020000420");
    assert_eq!(f["CapAmb"], "0000000000000000");
    assert_eq!(f["CapBnd"], "0000000020000420");

    // A non-root user keeps exactly its ambient caps across execve (they must be in the
    // inheritable and permitted sets too).
    let mut c = sh("grep -E '^Cap' /proc/self/status");
    let kill = json!(["CAP_KILL"]);
    c["process"]["user"] = json!({ "uid": 1000, "gid": 1000 });
    c["process"]["capabilities"] = json!({ "bounding": set, "effective": kill, "permitted": kill, "inheritable": kill, "ambient": kill });
    let f = status_fields(&stdout_of(&env, "ambient", c));
    assert_eq!(f["CapAmb"], "0000000000000020");
    assert_eq!(f["CapEff"], "0000000000000020");
    assert_eq!(f["CapInh"], "0000000000000020");
    assert_eq!(f["CapBnd"], "0000000000000421");

    let mut c = sh("grep -E '^NoNewPrivs' /proc/self/status");
    c["process"]["noNewPrivileges"] = json!(false);
    assert_eq!(
        status_fields(&stdout_of(&env, "nonnp", c))["NoNewPrivs"],
        "0"
    );
}

#[test]
fn env_and_cwd() {
    if !can_run_containers("env_cwd") {
        return;
    }
    let env = TestEnv::new("envcwd");
    let mut c = sh("pwd; echo \"$FOO\"; echo \"$TERM\"; echo \"$PATH\"");
    c["process"]["cwd"] = json!("/root");
    c["process"]["env"] = json!(["PATH=/bin:/usr/bin", "FOO=bar baz", "TERM=dumb"]);
    let out = stdout_of(&env, "c", c);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["/root", "bar baz", "dumb", "/bin:/usr/bin"]
    );
}

#[test]
fn readonly_and_writable_root() {
    if !can_run_containers("readonly_root") {
        return;
    }
    let env = TestEnv::new("roroot");
    let probe = "if touch /probe 2>/dev/null; then echo writable; else echo readonly; fi";
    assert_eq!(stdout_of(&env, "ro", sh(probe)).trim(), "readonly");
    assert!(!env.dir.join("ro/rootfs/probe").exists());
    let mut c = sh(probe);
    c["root"]["readonly"] = json!(false);
    assert_eq!(stdout_of(&env, "rw", c).trim(), "writable");
    assert!(
        env.dir.join("rw/rootfs/probe").exists(),
        "the write did not reach the bundle's rootfs"
    );
}

#[test]
fn only_stdio_and_preserved_fds_reach_the_container() {
    if !can_run_containers("fds") {
        return;
    }
    let env = TestEnv::new("fds");
    // `ls` itself holds fd 3 open on the directory it lists.
    let out = stdout_of(&env, "plain", sh("ls /proc/self/fd | tr '\\n' ' '"));
    assert_eq!(out.trim(), "0 1 2 3", "fds leaked into the container");

    // --preserve-fds 1: fd 3 of the caller goes in (ls then uses fd 4).
    let b = env.bundle(
        "pres",
        &["sh", "-c", "ls /proc/self/fd | tr '\\n' ' '; echo; cat <&3"],
    );
    let id = env.id("pres");
    let secret = env.path("fd3.txt");
    fs::write(&secret, "through fd 3\n").unwrap();
    let script = format!(
        "exec 3<'{}'; exec \"$0\" --root '{}' run --preserve-fds 1 --bundle '{}' '{id}'",
        secret.display(),
        env.root.display(),
        b.dir.display()
    );
    let o = std::process::Command::new("sh")
        .arg("-c")
        .arg(&script)
        .arg(runtime())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(out, "0 1 2 3 4 \nthrough fd 3\n");
}

/// The host directory of the container's cgroup for `controller` (v1), or its v2 directory.
fn cgroup_dir(pid: i64, controller: &str) -> PathBuf {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for l in text.lines() {
        let mut p = l.splitn(3, ':');
        let (_, ctrls, path) = (p.next(), p.next().unwrap(), p.next().unwrap());
        if ctrls.split(',').any(|c| c == controller) {
            return PathBuf::from(format!("/sys/fs/cgroup/{controller}{path}"));
        }
    }
    let v2 = text
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .expect("no cgroup for controller");
    PathBuf::from(format!("/sys/fs/cgroup{v2}"))
}

fn read_trim(p: PathBuf) -> String {
    fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_owned()
}

#[test]
fn memory_pids_cpu_cpuset_limits_in_the_cgroup() {
    if !can_run_containers("cgroup_limits") {
        return;
    }
    let env = TestEnv::new("limits");
    let id = env.id("c");
    let mut c = base_config(&["sleep", "1000"]);
    c["linux"]["resources"]["memory"] = json!({ "limit": 67108864 });
    c["linux"]["resources"]["pids"] = json!({ "limit": 32 });
    c["linux"]["resources"]["cpu"] = json!({ "quota": 50000, "period": 100000, "cpus": "0" });
    let b = env.bundle_with("b", c);
    b.write();
    let before = MountSnapshot::take();
    env.create(&id, &b);
    let pid = env.state(&id).unwrap()["pid"].as_i64().unwrap();
    let v2 = !std::path::Path::new("/sys/fs/cgroup/memory").exists();
    let mut dirs = Vec::new();
    if v2 {
        let d = cgroup_dir(pid, "memory");
        assert_eq!(read_trim(d.join("memory.max")), "67108864");
        assert_eq!(read_trim(d.join("pids.max")), "32");
        assert_eq!(read_trim(d.join("cpu.max")), "50000 100000");
        assert_eq!(read_trim(d.join("cpuset.cpus")), "0");
        dirs.push(d);
    } else {
        let d = cgroup_dir(pid, "memory");
        assert_eq!(read_trim(d.join("memory.limit_in_bytes")), "67108864");
        dirs.push(d);
        let d = cgroup_dir(pid, "pids");
        assert_eq!(read_trim(d.join("pids.max")), "32");
        dirs.push(d);
        let d = cgroup_dir(pid, "cpu");
        assert_eq!(read_trim(d.join("cpu.cfs_quota_us")), "50000");
        assert_eq!(read_trim(d.join("cpu.cfs_period_us")), "100000");
        dirs.push(d);
        let d = cgroup_dir(pid, "cpuset");
        assert_eq!(read_trim(d.join("cpuset.cpus")), "0");
        dirs.push(d);
    }
    let o = env.run(&["delete", "--force", &id]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for d in dirs {
        assert!(!d.exists(), "{} left after delete", d.display());
    }
    assert_nothing_left(&env, &id, &before);
}

#[test]
fn memory_limit_is_enforced() {
    if !can_run_containers("memory_enforced") {
        return;
    }
    let env = TestEnv::new("oom");
    // 16 MiB limit; the shell builds a ~64 MiB string in memory: the OOM killer ends it.
    let mut c = sh("x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo survived ${#x}");
    c["linux"]["resources"]["memory"] = json!({ "limit": 16777216, "swap": 16777216 });
    let (code, out, err) = run_inside(&env, "c", c);
    assert_eq!(
        code, 137,
        "expected an OOM kill (128+9); stdout {out} stderr {err}"
    );
    assert!(!out.contains("survived"));
}

#[test]
fn no_pivot_still_jails_the_root() {
    if !can_run_containers("no_pivot") {
        return;
    }
    let env = TestEnv::new("nopivot");
    let b = env.bundle(
        "b",
        &["sh", "-c", "ls /; test -e /bin/busybox && echo in-rootfs"],
    );
    // Entries of the host's / that the rootfs does not have must not be listed.
    let names = |d: &std::path::Path| -> std::collections::BTreeSet<String> {
        fs::read_dir(d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    };
    let host_only: Vec<String> = names(std::path::Path::new("/"))
        .difference(&names(&b.rootfs()))
        .cloned()
        .collect();
    assert!(!host_only.is_empty());
    let id = env.id("c");
    let o = env.run(&[
        "run",
        "--no-pivot",
        "--bundle",
        b.dir.to_str().unwrap(),
        &id,
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("in-rootfs"), "{out}");
    let listed: Vec<&str> = out.lines().collect();
    for h in &host_only {
        assert!(
            !listed.contains(&h.as_str()),
            "the host's /{h} is visible:\n{out}"
        );
    }
}

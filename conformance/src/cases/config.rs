//! config.md: root, mounts, process (args, env, cwd, user, rlimits, capabilities,
//! noNewPrivileges, oomScoreAdj), hostname, domainname, annotations; and runtime-linux.md's
//! default filesystems and /dev symlinks.

use super::{case, Case};
use crate::ctx::{Ctx, R};
use crate::proc::Exit;
use crate::{probe, spec};
use serde_json::{json, Value};

pub fn cases() -> Vec<Case> {
    vec![
        case("config/root/path-relative-to-bundle", root_relative),
        case("config/root/path-absolute", root_absolute),
        case("config/root/readonly", root_readonly),
        case("config/root/readonly-false-is-writable", root_writable),
        case("config/mounts/tmpfs", mount_tmpfs),
        case("config/mounts/tmpfs-mode-option", mount_tmpfs_mode),
        case("config/mounts/tmpfs-size-option", mount_tmpfs_size),
        case("config/mounts/bind-directory", mount_bind_dir),
        case("config/mounts/bind-file", mount_bind_file),
        case("config/mounts/bind-readonly", mount_bind_ro),
        case("config/mounts/rbind-includes-submounts", mount_rbind),
        case("config/mounts/order", mount_order),
        case("config/mounts/destination-created", mount_dest_created),
        case("config/mounts/flags-nosuid-nodev-noexec", mount_flags),
        case("config/mounts/ro-option", mount_ro),
        case("runtime-linux/default-filesystems/proc", fs_proc),
        case("runtime-linux/default-filesystems/sys", fs_sys),
        case("runtime-linux/default-filesystems/dev-pts", fs_devpts),
        case("runtime-linux/default-filesystems/dev-shm", fs_devshm),
        case("runtime-linux/default-filesystems/dev-mqueue", fs_mqueue),
        case("runtime-linux/dev-symlinks/fd", link_fd),
        case("runtime-linux/dev-symlinks/stdin", link_stdin),
        case("runtime-linux/dev-symlinks/stdout", link_stdout),
        case("runtime-linux/dev-symlinks/stderr", link_stderr),
        case("config/process/args-verbatim", args_verbatim),
        case("config/process/args-path-lookup", args_path),
        case("config/process/env", env),
        case("config/process/cwd", cwd),
        case("config/process/user/uid", user_uid),
        case("config/process/user/gid", user_gid),
        case("config/process/user/additionalGids", user_groups),
        case("config/process/user/no-additionalGids", user_no_groups),
        case("config/process/user/umask", user_umask),
        case("config/process/rlimits/nofile", rlimit_nofile),
        case("config/process/rlimits/core", rlimit_core),
        case("config/process/rlimits/cpu", rlimit_cpu),
        case("config/process/noNewPrivileges-true", nnp_true),
        case("config/process/noNewPrivileges-false", nnp_false),
        case("config/process/oomScoreAdj", oom_score_adj),
        case("config/process/capabilities/bounding", caps_bounding),
        case(
            "config/process/capabilities/root-effective-permitted",
            caps_root_eff,
        ),
        case(
            "config/process/capabilities/root-without-noNewPrivileges",
            caps_root_no_nnp,
        ),
        case("config/process/capabilities/inheritable", caps_inheritable),
        case("config/process/capabilities/ambient", caps_ambient),
        case(
            "config/process/capabilities/non-root-without-ambient",
            caps_nonroot,
        ),
        case("config/process/capabilities/empty", caps_empty),
        case("config/process/terminal-false-no-tty", terminal_false),
        case("config/hostname", hostname),
        case("config/domainname", domainname),
        case("config/annotations/not-required", annotations_absent),
    ]
}

fn report_has_mount<'a>(r: &'a Value, mount_point: &str) -> Option<&'a Value> {
    r["mounts"]
        .as_array()?
        .iter()
        .rev()
        .find(|m| m["mount_point"] == mount_point)
}

fn root_relative(c: &mut Ctx<'_>) -> R {
    let b = c.probe_bundle(&["read=/marker"])?;
    std::fs::write(b.rootfs().join("marker"), "relative-root")?;
    let r = c.probe(&b)?;
    c.check(
        "/marker from the bundle's rootfs",
        "relative-root",
        &r["ops"]["read=/marker"]["text"],
    )
}

fn root_absolute(c: &mut Ctx<'_>) -> R {
    let mut b = c.probe_bundle(&["read=/marker"])?;
    std::fs::write(b.rootfs().join("marker"), "absolute-root")?;
    b.config["root"]["path"] = json!(b.rootfs().to_string_lossy());
    let r = c.probe(&b)?;
    c.check(
        "/marker from root.path",
        "absolute-root",
        &r["ops"]["read=/marker"]["text"],
    )
}

fn root_readonly(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&["create=/newfile"], |cfg| {
        cfg["root"]["readonly"] = json!(true)
    })?;
    c.check(
        "creating /newfile errno",
        libc::EROFS,
        &r["ops"]["create=/newfile"]["errno"],
    )
}

fn root_writable(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&["create=/newfile"], |_| {})?;
    c.check(
        "creating /newfile",
        json!({"ok": true}),
        &r["ops"]["create=/newfile"],
    )
}

fn mount_tmpfs(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&[], |cfg| {
        spec::add_mount(
            cfg,
            json!({"destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs"}),
        )
    })?;
    let m = report_has_mount(&r, "/mnt/t").map(|m| m["fstype"].clone());
    c.check("filesystem at /mnt/t", "tmpfs", m)
}

fn mount_tmpfs_mode(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&["stat=/mnt/t"], |cfg| {
        spec::add_mount(cfg, json!({"destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs", "options": ["mode=0710"]}))
    })?;
    c.check("mode of /mnt/t", 0o710, &r["ops"]["stat=/mnt/t"]["mode"])
}

fn mount_tmpfs_size(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&[], |cfg| {
        spec::add_mount(cfg, json!({"destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]}))
    })?;
    let opts = report_has_mount(&r, "/mnt/t")
        .map(|m| m["super_options"].as_str().unwrap_or("").to_string())
        .unwrap_or_default();
    c.check_that(
        "superblock options of /mnt/t",
        "size=1024k",
        &opts,
        opts.split(',').any(|o| o == "size=1024k"),
    )
}

fn host_dir_with(c: &mut Ctx<'_>, name: &str, file: &str, content: &str) -> R<std::path::PathBuf> {
    let d = c.dir.join(name);
    std::fs::create_dir_all(&d)?;
    std::fs::write(d.join(file), content)?;
    Ok(d)
}

fn mount_bind_dir(c: &mut Ctx<'_>) -> R {
    let d = host_dir_with(c, "hostdir", "f", "from-host")?;
    let r = c.probe_with(&["read=/mnt/h/f"], |cfg| {
        spec::add_mount(
            cfg,
            json!({"destination": "/mnt/h", "type": "bind", "source": d, "options": ["rbind"]}),
        )
    })?;
    c.check("/mnt/h/f", "from-host", &r["ops"]["read=/mnt/h/f"]["text"])
}

fn mount_bind_file(c: &mut Ctx<'_>) -> R {
    let d = host_dir_with(c, "hostdir", "f", "file-bind")?;
    let r = c.probe_with(&["read=/etc/bound"], |cfg| {
        spec::add_mount(cfg, json!({"destination": "/etc/bound", "type": "bind", "source": d.join("f"), "options": ["bind"]}))
    })?;
    c.check(
        "/etc/bound",
        "file-bind",
        &r["ops"]["read=/etc/bound"]["text"],
    )
}

fn mount_bind_ro(c: &mut Ctx<'_>) -> R {
    let d = host_dir_with(c, "hostdir", "f", "x")?;
    let r = c.probe_with(&["create=/mnt/h/new"], |cfg| {
        spec::add_mount(cfg, json!({"destination": "/mnt/h", "type": "bind", "source": d, "options": ["rbind", "ro"]}))
    })?;
    c.check(
        "creating a file in a ro bind mount: errno",
        libc::EROFS,
        &r["ops"]["create=/mnt/h/new"]["errno"],
    )
}

fn mount_rbind(c: &mut Ctx<'_>) -> R {
    // The host source holds a submount; rbind must carry it into the container. The submount is
    // the harness's own: it is unmounted here, not counted as a leak.
    let d = host_dir_with(c, "hostdir", "f", "x")?;
    let sub = d.join("sub");
    std::fs::create_dir_all(&sub)?;
    c.own_mount_tmpfs(&sub)?;
    let r = c.probe_with(&[], |cfg| {
        spec::add_mount(
            cfg,
            json!({"destination": "/mnt/h", "type": "bind", "source": d, "options": ["rbind"]}),
        )
    })?;
    let m = report_has_mount(&r, "/mnt/h/sub").map(|m| m["fstype"].clone());
    c.check("submount /mnt/h/sub", "tmpfs", m)
}

fn mount_order(c: &mut Ctx<'_>) -> R {
    // /mnt/a/b only exists if the second mount comes after the first (which would hide it).
    let r = c.probe_with(&[], |cfg| {
        spec::add_mount(cfg, json!({"destination": "/mnt/a", "type": "tmpfs", "source": "tmpfs"}));
        spec::add_mount(cfg, json!({"destination": "/mnt/a/b", "type": "tmpfs", "source": "tmpfs", "options": ["size=2m"]}));
    })?;
    let a = report_has_mount(&r, "/mnt/a").is_some();
    let b = report_has_mount(&r, "/mnt/a/b").is_some();
    c.check(
        "mounts /mnt/a then /mnt/a/b",
        json!([true, true]),
        json!([a, b]),
    )
}

fn mount_dest_created(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&["stat=/new/deep/dir"], |cfg| {
        spec::add_mount(
            cfg,
            json!({"destination": "/new/deep/dir", "type": "tmpfs", "source": "tmpfs"}),
        )
    })?;
    c.check(
        "/new/deep/dir created",
        "d",
        &r["ops"]["stat=/new/deep/dir"]["type"],
    )
}

fn mount_flags(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&[], |cfg| {
        spec::add_mount(cfg, json!({"destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "noexec"]}))
    })?;
    let opts = report_has_mount(&r, "/mnt/t")
        .map(|m| m["options"].as_str().unwrap_or("").to_string())
        .unwrap_or_default();
    let has = |o: &str| opts.split(',').any(|x| x == o);
    c.check_that(
        "mount options of /mnt/t",
        "nosuid,nodev,noexec",
        &opts,
        has("nosuid") && has("nodev") && has("noexec"),
    )
}

fn mount_ro(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&["create=/mnt/t/x"], |cfg| {
        spec::add_mount(
            cfg,
            json!({"destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs", "options": ["ro"]}),
        )
    })?;
    c.check(
        "creating a file on a ro tmpfs: errno",
        libc::EROFS,
        &r["ops"]["create=/mnt/t/x"]["errno"],
    )
}

fn fs_check(c: &mut Ctx<'_>, point: &str, fstype: &str) -> R {
    let r = c.probe_with(&[], |_| {})?;
    let m = report_has_mount(&r, point).map(|m| m["fstype"].clone());
    c.check(&format!("filesystem at {point}"), fstype, m)
}

fn fs_proc(c: &mut Ctx<'_>) -> R {
    fs_check(c, "/proc", "proc")
}
fn fs_sys(c: &mut Ctx<'_>) -> R {
    fs_check(c, "/sys", "sysfs")
}
fn fs_devpts(c: &mut Ctx<'_>) -> R {
    fs_check(c, "/dev/pts", "devpts")
}
fn fs_devshm(c: &mut Ctx<'_>) -> R {
    fs_check(c, "/dev/shm", "tmpfs")
}
fn fs_mqueue(c: &mut Ctx<'_>) -> R {
    fs_check(c, "/dev/mqueue", "mqueue")
}

fn link_check(c: &mut Ctx<'_>, link: &str, target: &str) -> R {
    let op = format!("lstat={link}");
    let r = c.probe_with(&[&op], |_| {})?;
    c.check(
        &format!("{link} symlink target"),
        json!({"type": "l", "target": target}),
        json!({"type": r["ops"][&op]["type"], "target": r["ops"][&op]["target"]}),
    )
}

fn link_fd(c: &mut Ctx<'_>) -> R {
    link_check(c, "/dev/fd", "/proc/self/fd")
}
fn link_stdin(c: &mut Ctx<'_>) -> R {
    link_check(c, "/dev/stdin", "/proc/self/fd/0")
}
fn link_stdout(c: &mut Ctx<'_>) -> R {
    link_check(c, "/dev/stdout", "/proc/self/fd/1")
}
fn link_stderr(c: &mut Ctx<'_>) -> R {
    link_check(c, "/dev/stderr", "/proc/self/fd/2")
}

fn args_verbatim(c: &mut Ctx<'_>) -> R {
    let args = ["/husk-probe", "two words", "", "quote\"d", "$HOME", "*"];
    let r = c.probe_with(&[], |cfg| cfg["process"]["args"] = json!(args))?;
    c.check("argv seen by the process", args, &r["argv"])
}

fn args_path(c: &mut Ctx<'_>) -> R {
    let mut b = c.bundle()?;
    b.config["process"]["args"] = json!(["sh", "-c", "echo found-via-PATH"]);
    let (exit, out) = c.run_container(&b)?;
    c.check("exit", Exit::Code(0), exit)?;
    c.check(
        "output of `sh` found through PATH",
        "found-via-PATH",
        out.trim(),
    )
}

fn env(c: &mut Ctx<'_>) -> R {
    let vars = [spec::PATH, "A=1", "WITH_SPACE=a b", "EMPTY=", "EQUALS=x=y"];
    let r = c.probe_with(&[], |cfg| spec::set_env(cfg, &vars))?;
    let seen: Vec<String> = r["env"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    for v in vars {
        c.check_that(
            &format!("env has {v:?}"),
            "present",
            &seen,
            seen.iter().any(|s| s == v),
        )?;
    }
    Ok(())
}

fn cwd(c: &mut Ctx<'_>) -> R {
    let mut b = c.probe_bundle(&[])?;
    std::fs::create_dir_all(b.rootfs().join("work/dir"))?;
    b.config["process"]["cwd"] = json!("/work/dir");
    let r = c.probe(&b)?;
    c.check("cwd", "/work/dir", &r["cwd"])
}

fn user_uid(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&[], |cfg| {
        cfg["process"]["user"] = json!({"uid": 1234, "gid": 0})
    })?;
    c.check(
        "real, effective, saved, fs uid",
        [1234, 1234, 1234, 1234],
        &r["uid"],
    )
}

fn user_gid(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&[], |cfg| {
        cfg["process"]["user"] = json!({"uid": 0, "gid": 4321})
    })?;
    c.check(
        "real, effective, saved, fs gid",
        [4321, 4321, 4321, 4321],
        &r["gid"],
    )
}

fn user_groups(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&[], |cfg| {
        cfg["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [11, 22, 33]})
    })?;
    let mut g: Vec<i64> = r["groups"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default();
    g.sort();
    g.retain(|x| *x != 1000);
    c.check(
        "supplementary groups (besides the primary gid)",
        [11, 22, 33],
        g,
    )
}

fn user_no_groups(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&[], |cfg| {
        cfg["process"]["user"] = json!({"uid": 1000, "gid": 1000})
    })?;
    let mut g: Vec<i64> = r["groups"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default();
    g.retain(|x| *x != 1000);
    c.check(
        "supplementary groups (the host's must not leak in)",
        Vec::<i64>::new(),
        g,
    )
}

fn user_umask(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&[], |cfg| cfg["process"]["user"]["umask"] = json!(0o027))?;
    c.check("umask", "0027", &r["umask"])
}

fn rlimit(c: &mut Ctx<'_>, kind: &str, name: &str, soft: u64, hard: u64) -> R {
    let r = c.probe_with(&[], |cfg| {
        cfg["process"]["rlimits"] = json!([{"type": kind, "soft": soft, "hard": hard}])
    })?;
    c.check(
        &format!("{kind} ({name})"),
        json!({"soft": soft, "hard": hard}),
        &r["limits"][name],
    )
}

fn rlimit_nofile(c: &mut Ctx<'_>) -> R {
    rlimit(c, "RLIMIT_NOFILE", "Max open files", 512, 2048)
}
fn rlimit_core(c: &mut Ctx<'_>) -> R {
    rlimit(c, "RLIMIT_CORE", "Max core file size", 4096, 8192)
}
fn rlimit_cpu(c: &mut Ctx<'_>) -> R {
    rlimit(c, "RLIMIT_CPU", "Max cpu time", 1000, 2000)
}

fn nnp_true(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&[], |cfg| cfg["process"]["noNewPrivileges"] = json!(true))?;
    c.check("NoNewPrivs", "1", &r["no_new_privs"])
}

fn nnp_false(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&[], |cfg| cfg["process"]["noNewPrivileges"] = json!(false))?;
    c.check("NoNewPrivs", "0", &r["no_new_privs"])
}

fn oom_score_adj(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&[], |cfg| cfg["process"]["oomScoreAdj"] = json!(123))?;
    c.check("oom_score_adj", "123", &r["oom_score_adj"])
}

fn mask(names: &[&str]) -> String {
    format!("{:016x}", probe::cap_mask(names))
}

const BND: [&str; 5] = [
    "CAP_CHOWN",
    "CAP_KILL",
    "CAP_SETUID",
    "CAP_SETGID",
    "CAP_NET_BIND_SERVICE",
];

fn caps_cfg(
    cfg: &mut Value,
    uid: u32,
    bnd: &[&str],
    eff: &[&str],
    prm: &[&str],
    inh: &[&str],
    amb: &[&str],
) {
    cfg["process"]["user"] = json!({"uid": uid, "gid": uid});
    cfg["process"]["capabilities"] = json!({"bounding": bnd, "effective": eff, "permitted": prm, "inheritable": inh, "ambient": amb});
}

fn caps_bounding(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&[], |cfg| {
        caps_cfg(cfg, 0, &BND, &["CAP_CHOWN"], &["CAP_CHOWN"], &[], &[])
    })?;
    c.check("CapBnd", mask(&BND), &r["caps"]["bounding"])
}

fn caps_root_eff(c: &mut Ctx<'_>) -> R {
    // With noNewPrivileges, execve(2) cannot add to the permitted set (the kernel intersects
    // it with the old one), so uid 0 ends up with exactly the configured permitted set, and
    // effective = permitted for root.
    let set = ["CAP_CHOWN", "CAP_KILL"];
    let r = c.probe_with(&[], |cfg| {
        caps_cfg(cfg, 0, &BND, &set, &set, &[], &[]);
        cfg["process"]["noNewPrivileges"] = json!(true);
    })?;
    c.check(
        "CapEff and CapPrm of uid 0",
        json!([mask(&set), mask(&set)]),
        json!([r["caps"]["effective"], r["caps"]["permitted"]]),
    )
}

fn caps_root_no_nnp(c: &mut Ctx<'_>) -> R {
    // Without noNewPrivileges, execve(2) as uid 0 (no SECBIT_NOROOT) gives permitted =
    // inheritable | bounding and effective = permitted (capabilities(7), "Capabilities and
    // execution of programs by root"): the bounding set is what limits root.
    let r = c.probe_with(&[], |cfg| {
        caps_cfg(cfg, 0, &BND, &["CAP_CHOWN"], &["CAP_CHOWN"], &[], &[]);
        cfg["process"]["noNewPrivileges"] = json!(false);
    })?;
    c.check(
        "CapEff and CapPrm of uid 0",
        json!([mask(&BND), mask(&BND)]),
        json!([r["caps"]["effective"], r["caps"]["permitted"]]),
    )
}

fn caps_inheritable(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&[], |cfg| {
        caps_cfg(
            cfg,
            1000,
            &BND,
            &["CAP_CHOWN"],
            &["CAP_CHOWN"],
            &["CAP_CHOWN", "CAP_KILL"],
            &[],
        )
    })?;
    c.check(
        "CapInh",
        mask(&["CAP_CHOWN", "CAP_KILL"]),
        &r["caps"]["inheritable"],
    )
}

fn caps_ambient(c: &mut Ctx<'_>) -> R {
    // A non-root process keeps exactly its ambient capabilities across execve.
    let set = ["CAP_NET_BIND_SERVICE", "CAP_KILL"];
    let r = c.probe_with(&[], |cfg| caps_cfg(cfg, 1000, &BND, &set, &set, &set, &set))?;
    let want = mask(&set);
    c.check(
        "CapAmb, CapEff, CapPrm of uid 1000",
        json!([want, want, want]),
        json!([
            r["caps"]["ambient"],
            r["caps"]["effective"],
            r["caps"]["permitted"]
        ]),
    )
}

fn caps_nonroot(c: &mut Ctx<'_>) -> R {
    let set = ["CAP_NET_BIND_SERVICE", "CAP_KILL"];
    let r = c.probe_with(&[], |cfg| caps_cfg(cfg, 1000, &BND, &set, &set, &[], &[]))?;
    let zero = mask(&[]);
    c.check(
        "CapEff, CapPrm of uid 1000 without ambient",
        json!([zero, zero]),
        json!([r["caps"]["effective"], r["caps"]["permitted"]]),
    )
}

fn caps_empty(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&[], |cfg| caps_cfg(cfg, 0, &[], &[], &[], &[], &[]))?;
    let zero = mask(&[]);
    c.check(
        "all five sets empty",
        json!([zero, zero, zero, zero, zero]),
        json!([
            r["caps"]["bounding"],
            r["caps"]["effective"],
            r["caps"]["permitted"],
            r["caps"]["inheritable"],
            r["caps"]["ambient"]
        ]),
    )
}

fn terminal_false(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&[], |_| {})?;
    let fd0 = r["fds"]["0"].as_str().unwrap_or("").to_string();
    c.check_that(
        "stdin is not a pty when terminal is false",
        "not /dev/pts/*",
        &fd0,
        !fd0.starts_with("/dev/pts/"),
    )
}

fn hostname(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&[], |cfg| cfg["hostname"] = json!("conformance-host"))?;
    c.check("hostname", "conformance-host", &r["hostname"])
}

fn domainname(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&[], |cfg| cfg["domainname"] = json!("conformance.example"))?;
    c.check("domainname", "conformance.example", &r["domainname"])
}

fn annotations_absent(c: &mut Ctx<'_>) -> R {
    let mut b = c.probe_bundle(&[])?;
    if let Some(o) = b.config.as_object_mut() {
        o.remove("annotations");
    }
    let (exit, _) = c.run_container(&b)?;
    c.check("probe exit without annotations", Exit::Code(0), exit)
}

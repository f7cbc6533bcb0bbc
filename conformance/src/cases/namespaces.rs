//! config-linux.md: namespaces (new, host, joined by path), user namespace mappings, time
//! namespace offsets, rootfsPropagation, personality, sysctl.

use super::lifecycle::running_sleeper;
use super::{case, Case};
use crate::ctx::{Ctx, R};
use crate::{fail, host, spec};
use serde_json::{json, Value};

/// (config type, /proc/PID/ns name)
const NS: [(&str, &str); 6] = [
    ("pid", "pid"),
    ("network", "net"),
    ("ipc", "ipc"),
    ("uts", "uts"),
    ("mount", "mnt"),
    ("cgroup", "cgroup"),
];

pub fn cases() -> Vec<Case> {
    vec![
        case("config-linux/namespaces/pid-new", |c| ns_new(c, 0)),
        case("config-linux/namespaces/network-new", |c| ns_new(c, 1)),
        case("config-linux/namespaces/ipc-new", |c| ns_new(c, 2)),
        case("config-linux/namespaces/uts-new", |c| ns_new(c, 3)),
        case("config-linux/namespaces/mount-new", |c| ns_new(c, 4)),
        case("config-linux/namespaces/cgroup-new", |c| ns_new(c, 5)),
        case("config-linux/namespaces/user-new", user_new),
        case("config-linux/namespaces/time-new", time_new),
        case("config-linux/namespaces/pid-absent-shares-host", |c| {
            ns_host(c, 0)
        }),
        case("config-linux/namespaces/network-absent-shares-host", |c| {
            ns_host(c, 1)
        }),
        case("config-linux/namespaces/ipc-absent-shares-host", |c| {
            ns_host(c, 2)
        }),
        case("config-linux/namespaces/uts-absent-shares-host", |c| {
            ns_host(c, 3)
        }),
        case("config-linux/namespaces/cgroup-absent-shares-host", |c| {
            ns_host(c, 5)
        }),
        case("config-linux/namespaces/user-absent-shares-host", user_host),
        case("config-linux/namespaces/pid-join-path", |c| ns_join(c, 0)),
        case("config-linux/namespaces/network-join-path", |c| {
            ns_join(c, 1)
        }),
        case("config-linux/namespaces/ipc-join-path", |c| ns_join(c, 2)),
        case("config-linux/namespaces/uts-join-path", |c| ns_join(c, 3)),
        case("config-linux/namespaces/cgroup-join-path", |c| {
            ns_join(c, 5)
        }),
        case("config-linux/namespaces/user-join-path", user_join),
        case("config-linux/namespaces/pid-new-process-is-pid-1", pid_one),
        case("config-linux/namespaces/network-new-only-loopback", net_lo),
        case("config-linux/namespaces/cgroup-new-root-view", cgroup_root),
        case(
            "config-linux/namespaces/path-wrong-type-fails",
            path_wrong_type,
        ),
        case(
            "config-linux/namespaces/path-not-a-namespace-fails",
            path_not_ns,
        ),
        case("config-linux/user-namespace-mappings/uid-map", uid_map),
        case("config-linux/user-namespace-mappings/gid-map", gid_map),
        case(
            "config-linux/user-namespace-mappings/root-is-host-mapped-id",
            userns_owner,
        ),
        case("config-linux/time-offsets/boottime", time_offsets),
        case("config-linux/rootfs-propagation/private", |c| {
            propagation(c, "private")
        }),
        case("config-linux/rootfs-propagation/slave", |c| {
            propagation(c, "slave")
        }),
        case("config-linux/rootfs-propagation/shared", |c| {
            propagation(c, "shared")
        }),
        case("config-linux/personality/linux32", personality),
        case("config-linux/sysctl/net-ipv4-ip-forward", |c| {
            sysctl(c, "net.ipv4.ip_forward", "1")
        }),
        case("config-linux/sysctl/net-ipv4-ping-group-range", |c| {
            sysctl(c, "net.ipv4.ping_group_range", "0\t1000")
        }),
        case("config-linux/sysctl/kernel-shmmax", |c| {
            sysctl(c, "kernel.shmmax", "123456789")
        }),
        case("config-linux/sysctl/kernel-msgmax", |c| {
            sysctl(c, "kernel.msgmax", "4096")
        }),
        case("config-linux/sysctl/fs-mqueue-msg-max", |c| {
            sysctl(c, "fs.mqueue.msg_max", "20")
        }),
    ]
}

fn ns_new(c: &mut Ctx<'_>, i: usize) -> R {
    let (kind, name) = NS[i];
    let r = c.probe_with(&[], |cfg| spec::set_ns(cfg, kind, None))?;
    let seen = r["ns"][name].as_str().unwrap_or("").to_string();
    let host = host::ns(name);
    c.check_that(
        &format!("{name} namespace"),
        &format!("different from the host's {host}"),
        &seen,
        !seen.is_empty() && seen != host,
    )
}

fn ns_host(c: &mut Ctx<'_>, i: usize) -> R {
    let (kind, name) = NS[i];
    let r = c.probe_with(&[], |cfg| {
        spec::drop_ns(cfg, kind);
        if kind == "uts" {
            // a hostname needs a UTS namespace
            if let Some(o) = cfg.as_object_mut() {
                o.remove("hostname");
            }
        }
        if kind == "network" {
            // sysfs of the host's network namespace: bind the host /sys instead (runc's
            // rootless spec does the same)
            spec::drop_mount(cfg, "/sys/fs/cgroup");
            spec::drop_mount(cfg, "/sys");
            spec::add_mount(cfg, json!({"destination": "/sys", "type": "bind", "source": "/sys", "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}));
        }
    })?;
    c.check(&format!("{name} namespace"), host::ns(name), &r["ns"][name])
}

fn user_new(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&[], |cfg| spec::userns(cfg, 100000))?;
    let seen = r["ns"]["user"].as_str().unwrap_or("").to_string();
    c.check_that(
        "user namespace",
        "different from the host's",
        &seen,
        !seen.is_empty() && seen != host::ns("user"),
    )
}

fn user_host(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&[], |_| {})?;
    c.check(
        "user namespace without a user entry",
        host::ns("user"),
        &r["ns"]["user"],
    )
}

fn time_new(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&[], |cfg| spec::set_ns(cfg, "time", None))?;
    let seen = r["ns"]["time"].as_str().unwrap_or("").to_string();
    c.check_that(
        "time namespace",
        "different from the host's",
        &seen,
        !seen.is_empty() && seen != host::ns("time"),
    )
}

fn ns_join(c: &mut Ctx<'_>, i: usize) -> R {
    let (kind, name) = NS[i];
    let (_, holder) = running_sleeper(c)?;
    let path = format!("/proc/{holder}/ns/{name}");
    let want = host::ns_of(holder, name);
    // (Joining a mount namespace is not a case: the bundle's rootfs is not in it.)
    let r = c.probe_with(&[], |cfg| spec::set_ns(cfg, kind, Some(&path)))?;
    c.check(
        &format!("{name} namespace equals the joined one"),
        want,
        &r["ns"][name],
    )
}

fn user_join(c: &mut Ctx<'_>) -> R {
    let mut holder_b = c.shell_bundle("exec sleep 600")?;
    spec::userns(&mut holder_b.config, 100000);
    let holder = c.create_ok(&holder_b)?;
    c.start_ok(&holder_b.id)?;
    let want = host::ns_of(holder, "user");
    let path = format!("/proc/{holder}/ns/user");
    // The mappings are repeated (they are the joined namespace's): engines pass them, and
    // the spec does not forbid it.
    let r = c.probe_with(&[], |cfg| {
        spec::userns(cfg, 100000);
        spec::set_ns(cfg, "user", Some(&path));
    })?;
    c.check(
        "user namespace equals the joined one",
        want,
        &r["ns"]["user"],
    )
}

fn pid_one(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&[], |_| {})?;
    c.check("pid of the process in its new pid namespace", 1, &r["pid"])
}

fn net_lo(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&["ls=/sys/class/net"], |_| {})?;
    c.check(
        "network interfaces",
        json!(["lo"]),
        &r["ops"]["ls=/sys/class/net"]["entries"],
    )
}

fn cgroup_root(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&[], |cfg| spec::set_ns(cfg, "cgroup", None))?;
    let text = r["cgroup"].as_str().unwrap_or("").to_string();
    let all_root = !text.is_empty() && text.lines().all(|l| l.ends_with(":/"));
    c.check_that(
        "/proc/self/cgroup in a new cgroup namespace",
        "every line ends in \":/\"",
        &text,
        all_root,
    )
}

fn must_fail_create(c: &mut Ctx<'_>, edit: impl FnOnce(&mut Value), why: &str) -> R {
    c.control()?;
    let mut b = c.probe_bundle(&[])?;
    edit(&mut b.config);
    let res = c.create_with(&b, &[])?;
    if res.success() {
        let st = c.rt(&["start", &b.id])?;
        c.check_that(
            &format!("create or start fails: {why}"),
            "an error",
            st.summary(),
            !st.success(),
        )
    } else {
        c.check_that(
            &format!("create fails: {why}"),
            "an error",
            res.summary(),
            true,
        )
    }
}

fn path_wrong_type(c: &mut Ctx<'_>) -> R {
    must_fail_create(
        c,
        |cfg| spec::set_ns(cfg, "network", Some("/proc/1/ns/ipc")),
        "a network namespace path naming an ipc namespace",
    )
}

fn path_not_ns(c: &mut Ctx<'_>) -> R {
    let f = c.dir.join("not-a-namespace");
    std::fs::write(&f, "")?;
    let p = f.to_string_lossy().into_owned();
    must_fail_create(
        c,
        |cfg| spec::set_ns(cfg, "ipc", Some(&p)),
        "an ipc namespace path naming a regular file",
    )
}

fn uid_map(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&[], |cfg| spec::userns(cfg, 100000))?;
    let m: Vec<String> = r["uid_map"]
        .as_str()
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    c.check("/proc/self/uid_map", ["0", "100000", "65536"], m)
}

fn gid_map(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&[], |cfg| spec::userns(cfg, 200000))?;
    let m: Vec<String> = r["gid_map"]
        .as_str()
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    c.check("/proc/self/gid_map", ["0", "200000", "65536"], m)
}

fn userns_owner(c: &mut Ctx<'_>) -> R {
    use std::os::unix::fs::MetadataExt;
    let mut b = c.shell_bundle("echo > /tmp/owned")?;
    spec::userns(&mut b.config, 100000);
    c.run_container(&b)?;
    let md = std::fs::metadata(b.rootfs().join("tmp/owned"))?;
    c.check(
        "host owner of a file created by container root",
        [100000, 100000],
        [md.uid(), md.gid()],
    )
}

fn time_offsets(c: &mut Ctx<'_>) -> R {
    let year = 365 * 24 * 3600;
    let r = c.probe_with(&["read=/proc/uptime"], |cfg| {
        spec::set_ns(cfg, "time", None);
        cfg["linux"]["timeOffsets"] = json!({"boottime": {"secs": year, "nanosecs": 0}});
    })?;
    let up: f64 = r["ops"]["read=/proc/uptime"]["text"]
        .as_str()
        .and_then(|t| t.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    c.check_that(
        "/proc/uptime with a one-year boottime offset",
        "more than a year",
        up,
        up > year as f64,
    )
}

fn propagation(c: &mut Ctx<'_>, mode: &str) -> R {
    // The host's / is private on these machines: give the bundle a shared parent mount so
    // that host mount events can propagate at all, then observe them.
    c.own_mount_shared()?;
    let mut b = c.shell_bundle("exec sleep 600")?;
    b.config["linux"]["rootfsPropagation"] = json!(mode);
    let target = b.rootfs().join("mnt/from-host");
    std::fs::create_dir_all(&target)?;
    c.create_ok(&b)?;
    c.start_ok(&b.id)?;
    // A host mount made after the container started, below its rootfs.
    c.own_mount_tmpfs(&target)?;
    let res = c.rt_ok(&["exec", &b.id, "/husk-probe"])?;
    let Some(r) = crate::probe::parse(&res.stdout) else {
        fail!("no probe report from exec: {}", res.summary())
    };
    let seen_host_mount = r["mounts"]
        .as_array()
        .is_some_and(|a| a.iter().any(|m| m["mount_point"] == "/mnt/from-host"));
    let root_opt = r["mounts"]
        .as_array()
        .and_then(|a| a.iter().find(|m| m["mount_point"] == "/"))
        .map(|m| m["optional"].as_str().unwrap_or("").to_string())
        .unwrap_or_default();
    match mode {
        // "the rootfs mount receives propagation events from the host ... but not the other way"
        "slave" => c.check(
            "a host mount below the rootfs appears in the container",
            true,
            seen_host_mount,
        ),
        // "doesn't receive mount propagation events from the host"
        "private" => c.check(
            "a host mount below the rootfs appears in the container",
            false,
            seen_host_mount,
        ),
        // "the rootfs mount belongs to a new peer group"
        _ => c.check_that(
            "propagation fields of / in the container",
            "shared:N",
            &root_opt,
            root_opt.contains("shared:"),
        ),
    }
}

fn personality(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&[], |cfg| {
        cfg["linux"]["personality"] = json!({"domain": "LINUX32"})
    })?;
    c.check("/proc/self/personality", "00000008", &r["personality"])
}

fn sysctl(c: &mut Ctx<'_>, key: &str, value: &str) -> R {
    let op = format!("sysctl={key}");
    let r = c.probe_with(&[&op], |cfg| cfg["linux"]["sysctl"] = json!({key: value}))?;
    c.check(&format!("{key} inside"), value, &r["ops"][&op])
}

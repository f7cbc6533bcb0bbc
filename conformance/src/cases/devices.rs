//! config-linux.md: default devices, `linux.devices`, and the device cgroup
//! (`linux.resources.devices`).

use super::{case, Case};
use crate::ctx::{Ctx, R};
use serde_json::json;

pub fn cases() -> Vec<Case> {
    vec![
        case("config-linux/default-devices/null", |c| {
            default_dev(c, "/dev/null", 1, 3)
        }),
        case("config-linux/default-devices/zero", |c| {
            default_dev(c, "/dev/zero", 1, 5)
        }),
        case("config-linux/default-devices/full", |c| {
            default_dev(c, "/dev/full", 1, 7)
        }),
        case("config-linux/default-devices/random", |c| {
            default_dev(c, "/dev/random", 1, 8)
        }),
        case("config-linux/default-devices/urandom", |c| {
            default_dev(c, "/dev/urandom", 1, 9)
        }),
        case("config-linux/default-devices/tty", |c| {
            default_dev(c, "/dev/tty", 5, 0)
        }),
        case("config-linux/default-devices/ptmx", ptmx),
        case("config-linux/default-devices/null-usable", null_usable),
        case("config-linux/devices/char-device", dev_char),
        case("config-linux/devices/block-device", dev_block),
        case("config-linux/devices/fifo", dev_fifo),
        case("config-linux/devices/file-mode-and-owner", dev_mode_owner),
        case(
            "config-linux/resources/devices/default-deny",
            cg_default_deny,
        ),
        case("config-linux/resources/devices/allow-rule", cg_allow),
        case("config-linux/resources/devices/rules-in-order", cg_deny),
    ]
}

fn default_dev(c: &mut Ctx<'_>, path: &str, major: i64, minor: i64) -> R {
    let op = format!("stat={path}");
    let r = c.probe_with(&[&op], |_| {})?;
    let s = &r["ops"][&op];
    c.check(
        path,
        json!({"type": "c", "major": major, "minor": minor, "mode": 0o666}),
        json!({"type": s["type"], "major": s["major"], "minor": s["minor"], "mode": s["mode"]}),
    )
}

fn ptmx(c: &mut Ctx<'_>) -> R {
    // runtime-linux.md: /dev/ptmx is a bind mount or symlink of the container's /dev/pts/ptmx.
    let r = c.probe_with(
        &["lstat=/dev/ptmx", "stat=/dev/ptmx", "stat=/dev/pts/ptmx"],
        |_| {},
    )?;
    let l = &r["ops"]["lstat=/dev/ptmx"];
    let symlink_ok =
        l["type"] == "l" && (l["target"] == "pts/ptmx" || l["target"] == "/dev/pts/ptmx");
    let same_dev = r["ops"]["stat=/dev/ptmx"]["major"] == 5
        && r["ops"]["stat=/dev/ptmx"]["minor"] == r["ops"]["stat=/dev/pts/ptmx"]["minor"]
        && r["ops"]["stat=/dev/pts/ptmx"]["type"] == "c";
    c.check_that(
        "/dev/ptmx",
        "symlink to pts/ptmx (or the same device)",
        l,
        symlink_ok || (l["type"] == "c" && same_dev),
    )
}

fn null_usable(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&["openw=/dev/null", "read=/dev/zero"], |_| {})?;
    c.check(
        "open /dev/null for writing",
        json!({"ok": true}),
        &r["ops"]["openw=/dev/null"],
    )?;
    c.check(
        "read /dev/zero (4096 bytes)",
        4096,
        &r["ops"]["read=/dev/zero"]["len"],
    )
}

fn dev_char(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&["stat=/dev/hc-mem"], |cfg| {
        cfg["linux"]["devices"] =
            json!([{"path": "/dev/hc-mem", "type": "c", "major": 1, "minor": 1}]);
    })?;
    let s = &r["ops"]["stat=/dev/hc-mem"];
    c.check(
        "/dev/hc-mem",
        json!({"type": "c", "major": 1, "minor": 1}),
        json!({"type": s["type"], "major": s["major"], "minor": s["minor"]}),
    )
}

fn dev_block(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&["stat=/dev/hc-loop"], |cfg| {
        cfg["linux"]["devices"] =
            json!([{"path": "/dev/hc-loop", "type": "b", "major": 7, "minor": 0}]);
    })?;
    let s = &r["ops"]["stat=/dev/hc-loop"];
    c.check(
        "/dev/hc-loop",
        json!({"type": "b", "major": 7, "minor": 0}),
        json!({"type": s["type"], "major": s["major"], "minor": s["minor"]}),
    )
}

fn dev_fifo(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&["stat=/dev/hc-fifo"], |cfg| {
        cfg["linux"]["devices"] = json!([{"path": "/dev/hc-fifo", "type": "p"}]);
    })?;
    c.check(
        "/dev/hc-fifo type",
        "p",
        &r["ops"]["stat=/dev/hc-fifo"]["type"],
    )
}

fn dev_mode_owner(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&["stat=/dev/hc-null"], |cfg| {
        cfg["linux"]["devices"] = json!([{"path": "/dev/hc-null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o640, "uid": 1000, "gid": 2000}]);
    })?;
    let s = &r["ops"]["stat=/dev/hc-null"];
    c.check(
        "/dev/hc-null mode, uid, gid",
        json!({"mode": 0o640, "uid": 1000, "gid": 2000}),
        json!({"mode": s["mode"], "uid": s["uid"], "gid": s["gid"]}),
    )
}

/// /dev/loop-control (c 10:237): opening it needs no capability, only the device cgroup's
/// permission, so the errno of open(2) shows exactly what the device cgroup allows.
fn loopctl(cfg: &mut serde_json::Value) {
    cfg["linux"]["devices"] =
        json!([{"path": "/dev/hc-loopctl", "type": "c", "major": 10, "minor": 237}]);
}

fn need_loopctl() -> R {
    if !std::path::Path::new("/dev/loop-control").exists() {
        crate::skip!("no /dev/loop-control on this host (loop module)");
    }
    if crate::host::v1_hierarchy("devices").is_none() && !crate::host::cgroup_v2_only() {
        crate::skip!("no devices cgroup controller");
    }
    Ok(())
}

fn cg_default_deny(c: &mut Ctx<'_>) -> R {
    need_loopctl()?;
    let r = c.probe_with(&["read=/dev/hc-loopctl"], loopctl)?;
    c.check(
        "open of a device not allowed by linux.resources.devices: errno",
        libc::EPERM,
        &r["ops"]["read=/dev/hc-loopctl"]["errno"],
    )
}

fn cg_allow(c: &mut Ctx<'_>) -> R {
    need_loopctl()?;
    let r = c.probe_with(&["openw=/dev/hc-loopctl"], |cfg| {
        loopctl(cfg);
        cfg["linux"]["resources"]["devices"] = json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 10, "minor": 237, "access": "rw"}
        ]);
    })?;
    c.check(
        "open of an allowed device",
        json!({"ok": true}),
        &r["ops"]["openw=/dev/hc-loopctl"],
    )
}

fn cg_deny(c: &mut Ctx<'_>) -> R {
    need_loopctl()?;
    // Rules apply in order: an allow followed by a deny for the same device denies it.
    let r = c.probe_with(&["read=/dev/hc-loopctl"], |cfg| {
        loopctl(cfg);
        cfg["linux"]["resources"]["devices"] = json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 10, "minor": 237, "access": "rw"},
            {"allow": false, "type": "c", "major": 10, "minor": 237, "access": "rw"}
        ]);
    })?;
    c.check(
        "open of a device allowed then denied: errno",
        libc::EPERM,
        &r["ops"]["read=/dev/hc-loopctl"]["errno"],
    )
}

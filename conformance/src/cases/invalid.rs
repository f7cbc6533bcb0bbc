//! Configs a runtime must refuse (runtime.md, Errors; config.md and config-linux.md MUSTs).
//! Each case expects `create` to fail — or, for what can only fail when the process starts,
//! `start` — with no user process run; cleanup then checks that nothing was left behind
//! (state entry, cgroup, processes, mounts): "invalid configs must be refused before anything
//! is created".

use super::lifecycle::appears;
use super::{case, Case};
use crate::ctx::{Ctx, R};
use crate::spec;
use serde_json::{json, Value};
use std::time::Duration;

pub fn cases() -> Vec<Case> {
    vec![
        case("config/invalid/malformed-json", malformed),
        case("config/invalid/missing-ociVersion", |c| {
            refused(c, |cfg| drop_key(cfg, "ociVersion"))
        }),
        case("config/invalid/missing-root", |c| {
            refused(c, |cfg| drop_key(cfg, "root"))
        }),
        case("config/invalid/root-path-does-not-exist", |c| {
            refused(c, |cfg| cfg["root"]["path"] = json!("no-such-rootfs"))
        }),
        case("config/invalid/process-args-empty", |c| {
            refused(c, |cfg| cfg["process"]["args"] = json!([]))
        }),
        case("config/invalid/process-cwd-relative", |c| {
            refused(c, |cfg| cfg["process"]["cwd"] = json!("relative/dir"))
        }),
        case("config/invalid/rlimit-unknown-type", |c| {
            refused(c, |cfg| {
                cfg["process"]["rlimits"] = json!([{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}])
            })
        }),
        case("config/invalid/rlimit-soft-above-hard", |c| {
            refused(c, |cfg| {
                cfg["process"]["rlimits"] =
                    json!([{"type": "RLIMIT_NOFILE", "soft": 2048, "hard": 1024}])
            })
        }),
        case("config/invalid/capability-unknown", |c| {
            refused(c, |cfg| {
                cfg["process"]["capabilities"]["bounding"] = json!(["CAP_CHOWN", "CAP_BOGUS"])
            })
        }),
        case("config/invalid/mount-missing-destination", |c| {
            refused(c, |cfg| {
                spec::add_mount(cfg, json!({"type": "tmpfs", "source": "tmpfs"}))
            })
        }),
        case("config/invalid/mount-destination-relative", |c| {
            refused(c, |cfg| {
                spec::add_mount(
                    cfg,
                    json!({"destination": "mnt/rel", "type": "tmpfs", "source": "tmpfs"}),
                )
            })
        }),
        case("config/invalid/mount-unknown-type", |c| {
            refused(c, |cfg| {
                spec::add_mount(
                    cfg,
                    json!({"destination": "/mnt/x", "type": "nosuchfs", "source": "none"}),
                )
            })
        }),
        case("config/invalid/bind-source-missing", |c| {
            refused(c, |cfg| {
                spec::add_mount(
                    cfg,
                    json!({"destination": "/mnt/x", "type": "bind", "source": "/no/such/source", "options": ["rbind"]}),
                )
            })
        }),
        case("config/invalid/hostname-without-uts-namespace", |c| {
            refused(c, |cfg| spec::drop_ns(cfg, "uts"))
        }),
        case("config-linux/invalid/namespace-unknown-type", |c| {
            refused(c, |cfg| {
                cfg["linux"]["namespaces"]
                    .as_array_mut()
                    .expect("namespaces")
                    .push(json!({"type": "bogus"}))
            })
        }),
        case("config-linux/invalid/namespace-duplicate", |c| {
            refused(c, |cfg| {
                cfg["linux"]["namespaces"]
                    .as_array_mut()
                    .expect("namespaces")
                    .push(json!({"type": "ipc"}))
            })
        }),
        case(
            "config-linux/invalid/uidMappings-without-user-namespace",
            |c| {
                refused(c, |cfg| {
                    cfg["linux"]["uidMappings"] =
                        json!([{"containerID": 0, "hostID": 100000, "size": 65536}])
                })
            },
        ),
        case(
            "config-linux/invalid/user-namespace-without-mappings",
            |c| refused(c, |cfg| spec::set_ns(cfg, "user", None)),
        ),
        case(
            "config-linux/invalid/sysctl-net-without-network-namespace",
            |c| {
                refused(c, |cfg| {
                    spec::drop_ns(cfg, "network");
                    cfg["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
                })
            },
        ),
        case(
            "config-linux/invalid/sysctl-ipc-without-ipc-namespace",
            |c| {
                refused(c, |cfg| {
                    spec::drop_ns(cfg, "ipc");
                    cfg["linux"]["sysctl"] = json!({"kernel.msgmax": "4096"});
                })
            },
        ),
        case("config-linux/invalid/sysctl-not-namespaced", |c| {
            refused(c, |cfg| {
                cfg["linux"]["sysctl"] = json!({"vm.swappiness": "10"})
            })
        }),
        case("config-linux/invalid/sysctl-unknown", |c| {
            refused(c, |cfg| {
                cfg["linux"]["sysctl"] = json!({"kernel.no_such_sysctl": "1"})
            })
        }),
        case("config-linux/invalid/seccomp-unknown-action", |c| {
            refused(c, |cfg| {
                cfg["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_BOGUS"})
            })
        }),
        case("config-linux/invalid/seccomp-unknown-architecture", |c| {
            refused(
                c,
                |cfg| cfg["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_BOGUS"]}),
            )
        }),
        case("config-linux/invalid/seccomp-unknown-operator", |c| {
            refused(
                c,
                |cfg| cfg["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 1, "value": 1, "op": "SCMP_CMP_BOGUS"}]}]}),
            )
        }),
        case("config-linux/invalid/device-unknown-type", |c| {
            refused(c, |cfg| {
                cfg["linux"]["devices"] =
                    json!([{"path": "/dev/x", "type": "x", "major": 1, "minor": 3}])
            })
        }),
        case("config-linux/invalid/device-path-relative", |c| {
            refused(c, |cfg| {
                cfg["linux"]["devices"] =
                    json!([{"path": "dev/x", "type": "c", "major": 1, "minor": 3}])
            })
        }),
        case("config-linux/invalid/rootfsPropagation-unknown", |c| {
            refused(c, |cfg| cfg["linux"]["rootfsPropagation"] = json!("bogus"))
        }),
        case("config-linux/invalid/personality-unknown-domain", |c| {
            refused(c, |cfg| {
                cfg["linux"]["personality"] = json!({"domain": "BOGUS"})
            })
        }),
        case(
            "config-linux/invalid/timeOffsets-without-time-namespace",
            |c| {
                refused(c, |cfg| {
                    cfg["linux"]["timeOffsets"] = json!({"monotonic": {"secs": 10, "nanosecs": 0}})
                })
            },
        ),
        case("config-linux/invalid/intelRdt-without-resctrl", intel_rdt),
    ]
}

fn drop_key(cfg: &mut Value, key: &str) {
    if let Some(o) = cfg.as_object_mut() {
        o.remove(key);
    }
}

/// Create must fail (or, failing that, start must fail) and the user process must not run.
fn refused(c: &mut Ctx<'_>, edit: impl FnOnce(&mut Value)) -> R {
    c.control()?;
    let mut b = c.shell_bundle("touch /ran; exec sleep 600")?;
    edit(&mut b.config);
    let res = c.create_with(&b, &[])?;
    if !res.success() {
        return c.check_that("create", "fails", res.summary(), true);
    }
    let st = c.rt(&["start", &b.id])?;
    let ran = appears(&b.rootfs().join("ran"), Duration::from_millis(300));
    c.check_that(
        "create (or at least start) refuses the config",
        "create fails",
        json!({"create": "succeeded", "start": st.summary(), "process ran": ran}),
        false,
    )
}

fn malformed(c: &mut Ctx<'_>) -> R {
    c.control()?;
    let b = c.probe_bundle(&[])?;
    b.write_config()?;
    // Truncated JSON.
    let text = std::fs::read_to_string(b.dir.join("config.json"))?;
    std::fs::write(b.dir.join("config.json"), &text[..text.len() / 2])?;
    c.ids.push(b.id.clone());
    let bundle = b.dir.to_string_lossy().into_owned();
    let pid_file = b.pid_file().to_string_lossy().into_owned();
    let res = c.rt(&[
        "create",
        "--bundle",
        &bundle,
        "--pid-file",
        &pid_file,
        &b.id,
    ])?;
    c.check_that(
        "create with a truncated config.json",
        "fails",
        res.summary(),
        !res.success(),
    )
}

fn intel_rdt(c: &mut Ctx<'_>) -> R {
    let has_resctrl = crate::host::mounts().iter().any(|m| m.fstype == "resctrl");
    if has_resctrl {
        crate::skip!("resctrl is mounted here: intelRdt is valid");
    }
    // config-linux.md, IntelRdt: "If no mounted resctrl pseudo-filesystem is available in the
    // runtime mount namespace, the runtime MUST generate an error."
    refused(c, |cfg| {
        cfg["linux"]["intelRdt"] = json!({"closID": "hc-clos", "l3CacheSchema": "L3:0=f"})
    })
}

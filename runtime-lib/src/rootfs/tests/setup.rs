//! no-pivot, read-only root, cgroup namespace, propagation, error rendering, procfs.

use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;

use super::*;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

#[test]
fn no_pivot_and_readonly_root() {
    no_pivot_and_readonly_root_impl(false);
}

/// The same with the classic mount(2) path the new mount API falls back to.
#[test]
fn no_pivot_and_readonly_root_classic() {
    no_pivot_and_readonly_root_impl(true);
}

fn no_pivot_and_readonly_root_impl(classic: bool) {
    if !root_or_skip() {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let b = Bundle::new("nopivot");
    let s = spec(
        r#"{"ociVersion":"1.0.2","root":{"path":"rootfs","readonly":true},
        "mounts":[{"destination":"/proc","type":"proc"},{"destination":"/tmp","type":"tmpfs"}],
        "linux":{"rootfsPropagation":"rslave"}}"#,
    );
    let rootfs = b.rootfs();
    let opts = RootfsOptions {
        spec: &s,
        rootfs: &rootfs,
        bundle: &b.dir,
        no_pivot: true,
        new_userns: false,
        new_cgroupns: false,
        mount_sources: None,
    };
    let res = in_child(CloneFlags::CLONE_NEWPID, || {
        if classic {
            paths::FORCE_CLASSIC.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        // stdin on the host's /dev/null must end up on the container's
        let host_null = std::fs::File::open("/dev/null").map_err(|e| e.to_string())?;
        nix::unistd::dup2_stdin(&host_null).map_err(|e| e.to_string())?;
        drop(host_null);
        setup_and_finalize(&opts)?;
        ensure!(
            std::fs::read_to_string("/marker").ok().as_deref() == Some("husk-test-root"),
            "/ is not the rootfs"
        );
        let (s0, n) = (
            nix::sys::stat::fstat(std::io::stdin()),
            nix::sys::stat::stat("/dev/null"),
        );
        ensure!(
            matches!((s0, n), (Ok(a), Ok(b)) if (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)),
            "stdin is not the container's /dev/null"
        );
        erofs("/newfile")?;
        std::fs::write("/tmp/ok", "x").map_err(|e| format!("/tmp stays writable: {e}"))?;
        Ok(())
    });
    assert_eq!(b.host_mounts(), Vec::<PathBuf>::new());
    res.unwrap();
    assert!(!b.rootfs().join("tmp/ok").exists());

    // runc refuses private propagation with --no-pivot
    let s = spec(
        r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},"linux":{"rootfsPropagation":"rprivate"}}"#,
    );
    let opts = RootfsOptions { spec: &s, ..opts };
    let err = in_child(CloneFlags::empty(), || {
        setup(&opts).map_err(|e| e.to_string())
    })
    .unwrap_err();
    assert!(err.starts_with("linux.rootfsPropagation: "), "{err}");
}

#[test]
fn cgroup_namespace_mounts_the_hierarchies() {
    if !root_or_skip() {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let b = Bundle::new("cgns");
    let s = spec(
        r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
        "mounts":[{"destination":"/proc","type":"proc"},{"destination":"/sys","type":"sysfs","options":["ro"]},
          {"destination":"/sys/fs/cgroup","type":"cgroup","options":["nosuid","noexec","nodev","ro"]}]}"#,
    );
    let rootfs = b.rootfs();
    let opts = RootfsOptions {
        spec: &s,
        rootfs: &rootfs,
        bundle: &b.dir,
        no_pivot: false,
        new_userns: false,
        new_cgroupns: true,
        mount_sources: None,
    };
    let res = in_child(
        CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWCGROUP,
        || {
            setup_and_finalize(&opts)?;
            let all = mounts_inside();
            let m = mount_at_path(&all, "/sys/fs/cgroup")?;
            if m.fstype == "tmpfs" {
                let mem = mount_at_path(&all, "/sys/fs/cgroup/memory")?;
                ensure!(
                    mem.fstype == "cgroup" && mem.root == Path::new("/") && has_opt(&mem, "ro"),
                    "memory: {mem:?}"
                );
                ensure!(
                    Path::new("/sys/fs/cgroup/memory/cgroup.procs").exists(),
                    "no cgroup.procs"
                );
            } else {
                ensure!(m.fstype == "cgroup2", "{m:?}");
            }
            erofs("/sys/fs/cgroup/memory/x")?;
            Ok(())
        },
    );
    assert_eq!(b.host_mounts(), Vec::<PathBuf>::new());
    res.unwrap();
}

#[test]
fn failing_mounts_render_the_syscall() {
    if !root_or_skip() {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let b = Bundle::new("render");
    let s = spec(
        r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
        "mounts":[{"destination":"/bad","type":"tmpfs","source":"tmpfs","options":["nosuid","size=lots"]}]}"#,
    );
    let rootfs = b.rootfs();
    let opts = RootfsOptions {
        spec: &s,
        rootfs: &rootfs,
        bundle: &b.dir,
        no_pivot: false,
        new_userns: false,
        new_cgroupns: false,
        mount_sources: None,
    };
    let err = in_child(CloneFlags::empty(), || {
        setup(&opts).map_err(|e| e.to_string())
    })
    .unwrap_err();
    assert_eq!(
        err,
        r#"mounts[0]: mount("tmpfs", "/bad", "tmpfs", MS_NOSUID, "size=lots"): Invalid argument (os error 22)"#
    );
    assert_eq!(b.host_mounts(), Vec::<PathBuf>::new());
}

#[test]
fn trusted_procfs_is_a_procfs_root() {
    let proc = match trusted_procfs() {
        Ok(p) => p,
        Err(e) if !nix::unistd::geteuid().is_root() => {
            println!("SKIPPED: {e}");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    assert!(procfs::is_proc_root(proc.as_fd()));
    let f = open_in_procfs(&proc, "sys/kernel/ostype", OFlag::O_RDONLY).unwrap();
    let mut s = String::new();
    std::fs::File::from(f).read_to_string(&mut s).unwrap();
    assert_eq!(s, "Linux\n");
    // "self" is an ordinary symlink beneath the handle: what oom_score_adj and attr/* need
    let f = open_in_procfs(&proc, "self/oom_score_adj", OFlag::O_RDONLY).unwrap();
    let mut s = String::new();
    std::fs::File::from(f).read_to_string(&mut s).unwrap();
    assert_eq!(
        s,
        std::fs::read_to_string("/proc/self/oom_score_adj").unwrap()
    );
    // magic links and escapes are refused
    assert!(open_in_procfs(&proc, "self/fd/0", OFlag::O_RDONLY).is_err());
    assert!(open_in_procfs(&proc, "../etc/passwd", OFlag::O_RDONLY).is_err());
    assert!(open_in_procfs(&proc, "/etc/passwd", OFlag::O_RDONLY).is_err());
}

/// `rootfsPropagation`: with `rshared`/`shared` the container's `/` is in a peer group of its
/// own; with `slave` and the default (`rslave`) a host mount made below the rootfs after setup
/// appears in the container; with `rprivate` it does not. Nothing husk mounts during setup
/// propagates back to the host in any mode (the bundle is put on a shared host mount so that
/// a leak would show).
#[test]
fn root_propagation() {
    if !root_or_skip() {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // (mode, / in a peer group of its own, /data shared, host mounts seen inside)
    for (prop, root_shared, data_shared, sees_host) in [
        ("rshared", true, true, true),
        ("rprivate", false, false, false),
        ("shared", true, true, true),
        ("slave", false, true, true),
        ("", false, true, true),
    ] {
        let b = Bundle::new(&format!("prop-{prop}"));
        let _shared = SharedBind::new(&b.dir);
        let s = spec(&format!(
            r#"{{"ociVersion":"1.0.2","root":{{"path":"rootfs"}},
            "mounts":[{{"destination":"/proc","type":"proc"}},{{"destination":"/dev","type":"tmpfs"}},
                      {{"destination":"/data","type":"tmpfs","options":["rshared"]}}],
            "linux":{{"rootfsPropagation":"{prop}"}}}}"#
        ));
        let rootfs = b.rootfs();
        let target = rootfs.join("mnt/from-host");
        std::fs::create_dir_all(&target).unwrap();
        let opts = RootfsOptions {
            spec: &s,
            rootfs: &rootfs,
            bundle: &b.dir,
            no_pivot: false,
            new_userns: false,
            new_cgroupns: false,
            mount_sources: None,
        };
        // The host side mounts a tmpfs below the rootfs once the child says setup is done,
        // and keeps it until the child has exited.
        let (mut host_sync, mut child_sync) = UnixStream::pair().unwrap();
        let host_target = target.clone();
        let host = std::thread::spawn(move || {
            let mut byte = [0u8; 1];
            if host_sync.read_exact(&mut byte).is_err() {
                return;
            }
            let mounted = HostTmpfs::new(&host_target, nix::mount::MsFlags::empty());
            let _ = host_sync.write_all(b"g");
            let _ = host_sync.read(&mut byte); // EOF: the child is gone
            drop(mounted);
        });
        let res = in_child(CloneFlags::CLONE_NEWPID, move || {
            setup_and_finalize(&opts)?;
            child_sync.write_all(b"r").map_err(|e| e.to_string())?;
            child_sync
                .read_exact(&mut [0u8; 1])
                .map_err(|e| e.to_string())?;
            let all = mounts_inside();
            let root = mount_at_path(&all, "/")?;
            let shared = root.optional.iter().any(|o| o.starts_with("shared:"));
            ensure!(shared == root_shared, "{prop}: / is {:?}", root.optional);
            // rootfsPropagation, when set, is applied to / recursively after the switch (runc
            // too): rprivate overrides /data's own rshared
            let data = mount_at_path(&all, "/data")?;
            let is_shared = data.optional.iter().any(|o| o.starts_with("shared:"));
            ensure!(
                is_shared == data_shared,
                "{prop}: /data is {:?}",
                data.optional
            );
            let seen = mount_at_path(&all, "/mnt/from-host").is_ok();
            ensure!(seen == sees_host, "{prop}: host mount seen inside: {seen}");
            Ok(())
        });
        host.join().unwrap();
        let leaked: Vec<_> = b
            .host_mounts()
            .into_iter()
            .filter(|p| p != &b.dir && p != &target)
            .collect();
        assert_eq!(
            leaked,
            Vec::<PathBuf>::new(),
            "{prop}: mounts leaked to the host"
        );
        res.unwrap_or_else(|e| panic!("{prop}: {e}"));
    }
}

/// `setup_with_hook` runs the hook after the mounts and devices, before the switch: the old
/// root is still visible (the host path of the rootfs shows the container's mounts), and a
/// hook error stops the setup.
#[test]
fn hook_runs_between_mounts_and_pivot() {
    if !root_or_skip() {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let b = Bundle::new("hook");
    let s = spec(
        r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
        "mounts":[{"destination":"/proc","type":"proc"},{"destination":"/dev","type":"tmpfs"}]}"#,
    );
    let rootfs = b.rootfs();
    let opts = RootfsOptions {
        spec: &s,
        rootfs: &rootfs,
        bundle: &b.dir,
        no_pivot: false,
        new_userns: false,
        new_cgroupns: false,
        mount_sources: None,
    };
    let host_null = rootfs.join("dev/null");
    let res = in_child(CloneFlags::CLONE_NEWPID, || {
        let mut seen = false;
        setup_with_hook(&opts, || {
            seen = host_null.exists() && rootfs.join("proc/self/status").exists();
            Ok(())
        })
        .map_err(|e| e.to_string())?;
        ensure!(seen, "hook did not see the mounts through the old root");
        ensure!(
            !host_null.exists(),
            "old root still visible after the switch"
        );
        Ok(())
    });
    assert_eq!(b.host_mounts(), Vec::<PathBuf>::new());
    res.unwrap();
    let err = in_child(CloneFlags::CLONE_NEWPID, || {
        setup_with_hook(&opts, || Err(RootfsError::Unsafe("hook failed".into())))
            .map_err(|e| e.to_string())?;
        ensure!(false, "setup went on after the hook failed");
        Ok(())
    })
    .unwrap_err();
    assert_eq!(err, "hook failed");
}

/// The configs engines really send (podman, containerd, `runc spec`) set up and finalize.
#[test]
fn real_engine_configs_set_up() {
    if !root_or_skip() {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for (name, text) in [
        (
            "podman",
            include_str!("../testdata/podman-4.3-busybox.json"),
        ),
        (
            "containerd",
            include_str!("../testdata/containerd-1.6-busybox-seccomp.json"),
        ),
        ("runc", include_str!("../testdata/runc-1.1-spec.json")),
    ] {
        let b = Bundle::new(&format!("engine-{name}"));
        // what podman's bind sources point to (see the configs' README)
        std::fs::create_dir_all(b.dir.join("userdata/shm")).unwrap();
        for f in ["hosts", "hostname", ".containerenv"] {
            std::fs::write(b.dir.join("userdata").join(f), format!("{f}\n")).unwrap();
        }
        let s = spec(text);
        let rootfs = b.rootfs();
        let opts = RootfsOptions {
            spec: &s,
            rootfs: &rootfs,
            bundle: &b.dir,
            no_pivot: false,
            new_userns: false,
            new_cgroupns: false,
            mount_sources: None,
        };
        let res = in_child(CloneFlags::CLONE_NEWPID, || {
            setup_and_finalize(&opts)?;
            ensure!(
                std::fs::read_to_string("/marker").is_ok(),
                "/ is not the rootfs"
            );
            let all = mounts_inside();
            for p in ["/proc", "/dev", "/dev/pts", "/dev/mqueue", "/sys"] {
                mount_at_path(&all, p)?;
            }
            erofs("/proc/sys/kernel/hostname")?;
            ensure!(
                std::fs::read("/proc/timer_list").is_ok_and(|c| c.is_empty()),
                "timer_list"
            );
            if name == "podman" {
                ensure!(
                    std::fs::read_to_string("/etc/hosts").ok().as_deref() == Some("hosts\n"),
                    "/etc/hosts"
                );
                ensure!(
                    Path::new("/run/.containerenv").exists(),
                    "/run/.containerenv"
                );
            }
            Ok(())
        });
        assert_eq!(b.host_mounts(), Vec::<PathBuf>::new(), "{name}");
        res.unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

/// Without the new mount API, the trusted procfs is /proc, accepted only if it is the root of
/// a procfs: a tmpfs over /proc, or a /proc that is a subdirectory of a procfs, is refused.
#[test]
fn trusted_procfs_fallback_checks_proc() {
    if !root_or_skip() {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let res = in_child(CloneFlags::empty(), || {
        use nix::mount::{mount, MsFlags};
        procfs::FORCE_FALLBACK.store(true, std::sync::atomic::Ordering::Relaxed);
        let none: Option<&str> = None;
        mount(none, "/", none, MsFlags::MS_SLAVE | MsFlags::MS_REC, none)
            .map_err(|e| e.to_string())?;
        let p = trusted_procfs().map_err(|e| e.to_string())?;
        ensure!(
            procfs::is_proc_root(p.as_fd()),
            "fallback is not a procfs root"
        );
        drop(p);
        // /proc/sys bound over /proc: a procfs, but not its root
        mount(Some("/proc/sys"), "/proc", none, MsFlags::MS_BIND, none)
            .map_err(|e| e.to_string())?;
        let err = trusted_procfs().map(drop).unwrap_err().to_string();
        ensure!(err.contains("/proc is not the root of a procfs"), "{err}");
        // a tmpfs over /proc
        mount(
            Some("tmpfs"),
            "/proc",
            Some("tmpfs"),
            MsFlags::empty(),
            none,
        )
        .map_err(|e| e.to_string())?;
        let err = trusted_procfs().map(drop).unwrap_err().to_string();
        ensure!(err.contains("/proc is not the root of a procfs"), "{err}");
        Ok(())
    });
    res.unwrap();
}

/// containerd's layout: the rootfs is an overlay mount of its own (a snapshot), on a shared
/// host mount. Setup works on it, and writes land in the upper layer.
#[test]
fn overlay_rootfs_like_containerd() {
    if !root_or_skip() {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let b = Bundle::new("overlay");
    let _shared = SharedBind::new(&b.dir);
    let (lower, upper, work) = (b.dir.join("lower"), b.dir.join("upper"), b.dir.join("work"));
    std::fs::rename(b.rootfs(), &lower).unwrap();
    for d in [&upper, &work, &b.rootfs()] {
        std::fs::create_dir_all(d).unwrap();
    }
    let data = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.display(),
        upper.display(),
        work.display()
    );
    if let Err(e) = nix::mount::mount(
        Some("overlay"),
        &b.rootfs(),
        Some("overlay"),
        nix::mount::MsFlags::empty(),
        Some(data.as_str()),
    ) {
        println!("SKIPPED: overlayfs: {e}");
        return;
    }
    let _overlay = Unmount(b.rootfs());
    let s = spec(
        r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
        "mounts":[{"destination":"/proc","type":"proc"},{"destination":"/dev","type":"tmpfs"}],
        "linux":{"maskedPaths":["/proc/timer_list"],"readonlyPaths":["/proc/sys"]}}"#,
    );
    let rootfs = b.rootfs();
    let opts = RootfsOptions {
        spec: &s,
        rootfs: &rootfs,
        bundle: &b.dir,
        no_pivot: false,
        new_userns: false,
        new_cgroupns: false,
        mount_sources: None,
    };
    let res = in_child(CloneFlags::CLONE_NEWPID, || {
        setup_and_finalize(&opts)?;
        ensure!(
            std::fs::read_to_string("/marker").is_ok(),
            "/ is not the rootfs"
        );
        let all = mounts_inside();
        ensure!(
            mount_at_path(&all, "/")?.fstype == "overlay",
            "/ is not the overlay"
        );
        std::fs::write("/written", "x").map_err(|e| format!("write /written: {e}"))?;
        Ok(())
    });
    let left: Vec<_> = b
        .host_mounts()
        .into_iter()
        .filter(|p| p != &b.dir && p != &b.rootfs())
        .collect();
    assert_eq!(left, Vec::<PathBuf>::new(), "mounts leaked to the host");
    res.unwrap();
    assert!(
        upper.join("written").exists(),
        "the write did not reach the upper layer"
    );
    assert!(
        !upper.join("dev").join("null").exists(),
        "/dev was not a tmpfs"
    );
}

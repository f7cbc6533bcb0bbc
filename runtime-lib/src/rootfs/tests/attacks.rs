//! security.md S3, S4, S6, S8: attacks from the root filesystem that must fail.

use std::os::unix::fs::{symlink, FileTypeExt};
use std::path::PathBuf;

use nix::sched::CloneFlags;

use super::*;

/// security.md S3/S8: destinations and device paths that are symlinks to host directories
/// resolve inside the root; the host directories stay untouched. Run with openat2 and with the
/// fallback walk.
fn symlinked_destinations(walk: bool) {
    if !root_or_skip() {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let tag = if walk { "sym-walk" } else { "sym" };
    let b = Bundle::new(tag);
    let (h1, h2, h3) = (
        HostDir::new(&format!("{tag}1")),
        HostDir::new(&format!("{tag}2")),
        HostDir::new(&format!("{tag}3")),
    );
    let r = b.rootfs();
    symlink(&h1.0, r.join("evil")).unwrap();
    let rel_up = format!("../../../../../../../../..{}", h2.0.display());
    symlink(&rel_up, r.join("evilrel")).unwrap();
    symlink(&h3.0, r.join("dev/sub")).unwrap();
    // a mount destination that is a symlink into /proc once proc is mounted
    symlink("/proc/sys", r.join("procsys")).unwrap();
    std::fs::write(b.dir.join("file"), "bound").unwrap();
    let s = spec(
        r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
        "mounts":[
          {"destination":"/proc","type":"proc"},
          {"destination":"/evil/t1","type":"tmpfs"},
          {"destination":"/evilrel/f","type":"bind","source":"file","options":["bind"]}
        ],
        "linux":{"devices":[{"path":"/dev/sub/null2","type":"c","major":1,"minor":3}]}}"#,
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
    let (p1, p2, p3) = (h1.0.clone(), h2.0.clone(), h3.0.clone());
    let res = in_child(CloneFlags::CLONE_NEWPID, || {
        if walk {
            super::resolver::FORCE_WALK.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        setup_and_finalize(&opts)?;
        let all = mounts_inside();
        // inside the container, /evil -> <h1> resolves to <rootfs>/<h1>
        let m = mount_at_path(&all, &format!("{}/t1", p1.display()))?;
        ensure!(m.fstype == "tmpfs", "t1: {m:?}");
        ensure!(
            std::fs::read_to_string(p2.join("f")).ok().as_deref() == Some("bound"),
            "bind through a relative symlink not inside the root"
        );
        let n = std::fs::metadata(p3.join("null2")).map_err(|e| format!("null2: {e}"))?;
        ensure!(n.file_type().is_char_device(), "null2 not a device");
        Ok(())
    });
    assert_eq!(
        b.host_mounts(),
        Vec::<PathBuf>::new(),
        "mounts leaked to the host"
    );
    res.unwrap();
    for h in [&h1, &h2, &h3] {
        assert_eq!(
            h.entries(),
            Vec::<PathBuf>::new(),
            "host dir {:?} was written",
            h.0
        );
    }
    assert!(b
        .rootfs()
        .join(h1.0.strip_prefix("/").unwrap())
        .join("t1")
        .is_dir());
    assert!(b
        .rootfs()
        .join(h3.0.strip_prefix("/").unwrap())
        .join("null2")
        .exists());

    // A symlink into /proc as a mount destination is refused like /proc/sys itself.
    let s = spec(
        r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},
        "mounts":[{"destination":"/proc","type":"proc"},{"destination":"/procsys","type":"tmpfs"}]}"#,
    );
    let opts = RootfsOptions { spec: &s, ..opts };
    let res = in_child(CloneFlags::CLONE_NEWPID, || {
        if walk {
            super::resolver::FORCE_WALK.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        setup(&opts).map_err(|e| e.to_string())
    });
    let err = res.unwrap_err();
    assert!(
        err.contains("\"/proc/sys\" cannot be mounted because it is inside /proc"),
        "{err}"
    );
    assert_eq!(b.host_mounts(), Vec::<PathBuf>::new());
}

#[test]
fn symlinked_destinations_stay_inside_openat2() {
    symlinked_destinations(false);
}

#[test]
fn symlinked_destinations_stay_inside_fallback_walk() {
    symlinked_destinations(true);
}

/// security.md S6: a rootfs whose /dev (or /proc, /sys) is a symlink is refused.
#[test]
fn symlinked_dev_is_refused() {
    if !root_or_skip() {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for name in ["dev", "proc", "sys"] {
        let b = Bundle::new(&format!("symdev-{name}"));
        let h = HostDir::new(&format!("symdev-{name}"));
        std::fs::remove_dir(b.rootfs().join(name)).unwrap();
        symlink(&h.0, b.rootfs().join(name)).unwrap();
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
        let err = in_child(CloneFlags::empty(), || {
            setup(&opts).map_err(|e| e.to_string())
        })
        .unwrap_err();
        assert!(
            err.contains(&format!("/{name} in the root filesystem"))
                && err.contains("is a symlink"),
            "{err}"
        );
        assert_eq!(h.entries(), Vec::<PathBuf>::new());
        assert_eq!(b.host_mounts(), Vec::<PathBuf>::new());
    }
}

#[test]
fn masking_refuses_a_fake_dev_null() {
    masking_refuses_a_fake_dev_null_impl(false);
}

/// The same with the classic mount(2) path the new mount API falls back to.
#[test]
fn masking_refuses_a_fake_dev_null_classic() {
    masking_refuses_a_fake_dev_null_impl(true);
}

/// security.md S4: masking with a /dev/null that is not the null device fails.
fn masking_refuses_a_fake_dev_null_impl(classic: bool) {
    if !root_or_skip() {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let b = Bundle::new("fakenull");
    // /dev comes from a bind of this directory, so husk creates no devices in it
    std::fs::create_dir_all(b.dir.join("fakedev")).unwrap();
    symlink("/proc/sys/kernel/core_pattern", b.dir.join("fakedev/null")).unwrap();
    let s = spec(&format!(
        r#"{{"ociVersion":"1.0.2","root":{{"path":"rootfs"}},
        "mounts":[{{"destination":"/proc","type":"proc"}},
                  {{"destination":"/dev","source":"{}","options":["rbind"]}}],
        "linux":{{"maskedPaths":["/marker"]}}}}"#,
        b.dir.join("fakedev").display()
    ));
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
    let err = in_child(CloneFlags::CLONE_NEWPID, || {
        if classic {
            paths::FORCE_CLASSIC.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        setup_and_finalize(&opts)
    })
    .unwrap_err();
    assert!(
        err.contains("linux.maskedPaths[0]: /dev/null in the container is not the null device"),
        "{err}"
    );
    assert_eq!(b.host_mounts(), Vec::<PathBuf>::new());
}

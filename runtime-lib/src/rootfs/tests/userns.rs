//! User namespaces: device binds, the sysfs and cgroup2 fallbacks, locked flags.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;

use super::*;

/// Map the child's root to the host's root (the single mapping a process may write for
/// itself), so a user namespace can be tested without a helper parent.
fn map_root_to_root() -> Result<(), String> {
    std::fs::write("/proc/self/uid_map", "0 0 1").map_err(|e| format!("uid_map: {e}"))?;
    std::fs::write("/proc/self/setgroups", "deny").map_err(|e| format!("setgroups: {e}"))?;
    std::fs::write("/proc/self/gid_map", "0 0 1").map_err(|e| format!("gid_map: {e}"))
}

#[test]
fn user_namespace_binds_devices_and_keeps_locked_flags() {
    user_namespace_binds_devices_and_keeps_locked_flags_impl(false);
}

/// The same with the classic mount(2) path the new mount API falls back to.
#[test]
fn user_namespace_binds_devices_and_keeps_locked_flags_classic() {
    user_namespace_binds_devices_and_keeps_locked_flags_impl(true);
}

/// In a user namespace: devices are bind-mounted from the host, sysfs falls back to a bind of
/// the host's /sys (EPERM without a network namespace), and read-only remounts keep the
/// flags the kernel locks.
fn user_namespace_binds_devices_and_keeps_locked_flags_impl(classic: bool) {
    if !root_or_skip() {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let b = Bundle::new("userns");
    // A host mount with nosuid and nodev, bound read-only without them: in the user namespace
    // those flags are locked, the first remount fails with EPERM and the retry keeps them.
    let vol = b.dir.join("vol");
    let _vol = HostTmpfs::new(
        &vol,
        nix::mount::MsFlags::MS_NOSUID | nix::mount::MsFlags::MS_NODEV,
    );
    let mut s: serde_json::Value = serde_json::from_str(
        r#"{"ociVersion":"1.0.2","root":{"path":"rootfs","readonly":true},
        "mounts":[
          {"destination":"/proc","type":"proc","options":["nosuid","noexec","nodev"]},
          {"destination":"/dev","type":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]},
          {"destination":"/sys","type":"sysfs","options":["nosuid","noexec","nodev","ro"]},
          {"destination":"/dev/pts","type":"devpts","options":["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620"]},
          {"destination":"/dev/mqueue","type":"mqueue","options":["nosuid","noexec","nodev"]},
          {"destination":"/sys/fs/cgroup","type":"cgroup","options":["nosuid","noexec","nodev","relatime","ro"]}
        ],
        "linux":{"maskedPaths":["/proc/timer_list","/sys/firmware"],"readonlyPaths":["/proc/sys"]}}"#,
    )
    .unwrap();
    s["mounts"].as_array_mut().unwrap().push(serde_json::json!(
        {"destination": "/vol", "source": vol, "options": ["rbind", "ro"]}
    ));
    let s: Spec = serde_json::from_value(s).unwrap();
    let rootfs = b.rootfs();
    let opts = RootfsOptions {
        spec: &s,
        rootfs: &rootfs,
        bundle: &b.dir,
        no_pivot: false,
        new_userns: true,
        new_cgroupns: false,
        mount_sources: None,
    };
    let flags = CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWIPC;
    let res = in_child_with(flags, map_root_to_root, || {
        if classic {
            paths::FORCE_CLASSIC.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        setup_and_finalize(&opts)?;
        let null = std::fs::metadata("/dev/null").map_err(|e| format!("/dev/null: {e}"))?;
        ensure!(
            null.file_type().is_char_device() && null.rdev() == nix::sys::stat::makedev(1, 3),
            "/dev/null"
        );
        let all = mounts_inside();
        ensure!(
            mount_at_path(&all, "/dev/null").is_ok(),
            "/dev/null is not a bind mount"
        );
        let sys = mount_at_path(&all, "/sys")?;
        ensure!(
            sys.fstype == "sysfs" && has_opt(&sys, "ro"),
            "/sys: {sys:?}"
        );
        erofs("/proc/sys/kernel/hostname")?;
        let m = mount_at_path(&all, "/proc/sys")?;
        ensure!(
            has_opt(&m, "nosuid") && has_opt(&m, "noexec") && has_opt(&m, "nodev"),
            "locked flags lost: {m:?}"
        );
        ensure!(
            std::fs::read("/proc/timer_list")
                .map_err(|e| format!("timer_list: {e}"))?
                .is_empty(),
            "timer_list"
        );
        erofs("/newfile")?;
        let v = mount_at_path(&all, "/vol")?;
        ensure!(
            has_opt(&v, "ro") && has_opt(&v, "nosuid") && has_opt(&v, "nodev"),
            "/vol: {v:?}"
        );
        erofs("/vol/x")?;
        Ok(())
    });
    assert_eq!(
        b.host_mounts(),
        vec![vol.clone()],
        "only the test's own host tmpfs"
    );
    res.unwrap();
}

/// cgroup v2 in a user namespace without a cgroup namespace: the kernel refuses a cgroup2
/// mount (EPERM), so the process's own cgroup2 directory is bind-mounted instead. (Called
/// directly: on this project's hybrid hosts a `cgroup` mount takes the v1 path.)
#[test]
fn cgroup2_in_a_user_namespace_falls_back_to_a_bind() {
    if !root_or_skip() {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    if !parse_mountinfo(&text).iter().any(|m| m.fstype == "cgroup2") {
        println!("SKIPPED: no cgroup2 mount on this host");
        return;
    }
    let b = Bundle::new("cg2");
    let s = spec(r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"}}"#);
    let rootfs = std::fs::canonicalize(b.rootfs()).unwrap();
    let opts = RootfsOptions {
        spec: &s,
        rootfs: &rootfs,
        bundle: &b.dir,
        no_pivot: false,
        new_userns: true,
        new_cgroupns: false,
        mount_sources: None,
    };
    let flags = CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWPID;
    let res = in_child_with(flags, map_root_to_root, || {
        pivot::prepare_root(&rootfs, None).map_err(|e| e.to_string())?;
        let root = Root::open(&rootfs).map_err(|e| e.to_string())?;
        let ctx = mounts::Ctx {
            root: &root,
            opts: &opts,
            rootfs: &rootfs,
        };
        let o = parse_mount_options(Some("cgroup"), &["nosuid".into(), "ro".into()])
            .map_err(|e| format!("{e:?}"))?;
        cgroup::mount_v2(&ctx, Path::new("/sys/fs/cgroup"), &o).map_err(|e| e.to_string())?;
        let all = mounts_inside();
        let m = mount_at_path(&all, &format!("{}/sys/fs/cgroup", rootfs.display()))?;
        ensure!(
            m.fstype == "cgroup2" && has_opt(&m, "ro") && has_opt(&m, "nosuid"),
            "{m:?}"
        );
        ensure!(
            rootfs.join("sys/fs/cgroup/cgroup.procs").exists(),
            "no cgroup.procs"
        );
        Ok(())
    });
    assert_eq!(b.host_mounts(), Vec::<PathBuf>::new());
    res.unwrap();
}

//! The full config: every mount type, devices, masked and read-only paths.

use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;

use super::*;
use nix::sys::stat::{major, minor};

#[test]
fn full_config_mounts_devices_masks_from_inside() {
    full_config_mounts_devices_masks_from_inside_impl(false);
}

/// The same with the classic mount(2) path the new mount API falls back to.
#[test]
fn full_config_mounts_devices_masks_from_inside_classic() {
    full_config_mounts_devices_masks_from_inside_impl(true);
}

fn full_config_mounts_devices_masks_from_inside_impl(classic: bool) {
    if !root_or_skip() {
        return;
    }
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let b = Bundle::new("full");
    let r = b.rootfs();
    std::fs::create_dir_all(b.dir.join("userdata/shm")).unwrap();
    std::fs::write(b.dir.join("userdata/hosts"), "127.0.0.1 test\n").unwrap();
    std::fs::create_dir_all(b.dir.join("rodir")).unwrap();
    std::fs::write(b.dir.join("rodir/file"), "ro").unwrap();
    std::fs::create_dir_all(r.join("etc/copy/sub")).unwrap();
    std::fs::write(r.join("etc/copy/a"), "hello").unwrap();
    std::fs::write(r.join("etc/copy/sub/b"), "b").unwrap();
    std::fs::set_permissions(
        r.join("etc/copy/sub/b"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    symlink("a", r.join("etc/copy/link")).unwrap();
    std::fs::write(r.join("secret"), "s").unwrap();
    let s = spec(&format!(
        r#"{{"ociVersion":"1.0.2","root":{{"path":"rootfs"}},
        "process":{{"cwd":"/work/dir","args":["sh"],"user":{{"uid":0,"gid":0}}}},
        "mounts":[
          {{"destination":"/proc","type":"proc","source":"proc","options":["nosuid","noexec","nodev"]}},
          {{"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]}},
          {{"destination":"/sys","type":"sysfs","source":"sysfs","options":["nosuid","noexec","nodev","ro"]}},
          {{"destination":"/dev/pts","type":"devpts","source":"devpts","options":["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620","gid=5"]}},
          {{"destination":"/dev/mqueue","type":"mqueue","source":"mqueue","options":["nosuid","noexec","nodev"]}},
          {{"destination":"/etc/hosts","type":"bind","source":"userdata/hosts","options":["bind","rprivate"]}},
          {{"destination":"/dev/shm","type":"bind","source":"userdata/shm","options":["bind","rprivate","nosuid","noexec","nodev"]}},
          {{"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["rprivate","nosuid","noexec","nodev","relatime","ro"]}},
          {{"destination":"/etc/copy","type":"tmpfs","source":"tmpfs","options":["tmpcopyup","mode=755"]}},
          {{"destination":"/ro","source":"{rodir}","options":["rbind","ro","nosuid","noatime"]}},
          {{"destination":"/rro","source":"{rodir}","options":["rbind","rro","rnoexec"]}},
          {{"destination":"/run","type":"tmpfs","options":["nosuid","nodev","mode=700"]}}
        ],
        "linux":{{
          "devices":[{{"path":"/dev/fuse","type":"c","major":10,"minor":229,"fileMode":416,"uid":1,"gid":2}},
                     {{"path":"/dev/fifo","type":"p"}}],
          "maskedPaths":["/proc/timer_list","/secret","/proc/acpi","/sys/firmware","/proc/does-not-exist"],
          "readonlyPaths":["/proc/sys","/proc/sysrq-trigger","/does/not/exist"]
        }}}}"#,
        rodir = b.dir.join("rodir").display()
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
    let bundle_str = b.dir.display().to_string();
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
        ensure!(
            std::env::current_dir().ok() == Some(PathBuf::from("/")),
            "cwd is not /"
        );
        let all = mounts_inside();
        ensure!(
            !all.iter()
                .any(|m| m.mount_point.to_string_lossy().contains(&bundle_str)),
            "host paths visible in the container's mount table: {all:?}"
        );
        check_mounts(&all)?;
        check_devices()?;
        check_paths()?;
        ensure!(Path::new("/work/dir").is_dir(), "process.cwd not created");
        if Path::new("/bin/busybox").exists() {
            let out = std::process::Command::new("/bin/busybox")
                .args(["cat", "/etc/copy/a"])
                .output()
                .map_err(|e| format!("exec busybox: {e}"))?;
            ensure!(out.stdout == b"hello", "busybox cat: {out:?}");
        }
        Ok(())
    });
    assert_eq!(
        b.host_mounts(),
        Vec::<PathBuf>::new(),
        "mounts leaked to the host"
    );
    assert_eq!(
        std::fs::read_to_string(b.dir.join("userdata/hosts")).unwrap(),
        "127.0.0.1 test\n"
    );
    res.unwrap();
}

/// What the full config's mounts look like from inside.
fn check_mounts(all: &[MountInfo]) -> Result<(), String> {
    let m = mount_at_path(all, "/proc")?;
    ensure!(
        m.fstype == "proc"
            && has_opt(&m, "nosuid")
            && has_opt(&m, "noexec")
            && has_opt(&m, "nodev"),
        "/proc: {m:?}"
    );
    let m = mount_at_path(all, "/dev")?;
    ensure!(
        m.fstype == "tmpfs" && has_opt(&m, "rw") && has_opt(&m, "nosuid"),
        "/dev: {m:?}"
    );
    ensure!(
        m.super_options.iter().any(|o| o == "mode=755"),
        "/dev mode: {m:?}"
    );
    let m = mount_at_path(all, "/sys")?;
    ensure!(m.fstype == "sysfs" && has_opt(&m, "ro"), "/sys: {m:?}");
    let m = mount_at_path(all, "/dev/pts")?;
    ensure!(
        m.fstype == "devpts" && m.super_options.iter().any(|o| o == "ptmxmode=666"),
        "/dev/pts: {m:?}"
    );
    ensure!(
        mount_at_path(all, "/dev/mqueue")?.fstype == "mqueue",
        "/dev/mqueue"
    );
    ensure!(
        std::fs::read_to_string("/etc/hosts").ok().as_deref() == Some("127.0.0.1 test\n"),
        "/etc/hosts"
    );
    let m = mount_at_path(all, "/dev/shm")?;
    ensure!(
        has_opt(&m, "nosuid") && has_opt(&m, "noexec") && has_opt(&m, "nodev"),
        "/dev/shm: {m:?}"
    );
    let m = mount_at_path(all, "/sys/fs/cgroup")?;
    if m.fstype == "tmpfs" {
        // cgroup v1 host: one bind per hierarchy, read-only like the tmpfs
        ensure!(has_opt(&m, "ro"), "/sys/fs/cgroup: {m:?}");
        let mem = mount_at_path(all, "/sys/fs/cgroup/memory")?;
        ensure!(
            mem.fstype == "cgroup" && has_opt(&mem, "ro"),
            "memory: {mem:?}"
        );
        ensure!(
            Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists(),
            "no memory.limit_in_bytes"
        );
        ensure!(
            mount_at_path(all, "/sys/fs/cgroup/unified").is_err(),
            "unified shown"
        );
    } else {
        ensure!(
            m.fstype == "cgroup2" && has_opt(&m, "ro"),
            "/sys/fs/cgroup: {m:?}"
        );
    }
    erofs("/sys/fs/cgroup/x")?;
    let m = mount_at_path(all, "/etc/copy")?;
    ensure!(m.fstype == "tmpfs", "/etc/copy: {m:?}");
    ensure!(
        std::fs::read_to_string("/etc/copy/a").ok().as_deref() == Some("hello"),
        "tmpcopyup a"
    );
    let meta = std::fs::metadata("/etc/copy/sub/b").map_err(|e| format!("sub/b: {e}"))?;
    ensure!(
        meta.mode() & 0o7777 == 0o600,
        "sub/b mode {:o}",
        meta.mode()
    );
    ensure!(
        std::fs::read_link("/etc/copy/link").ok() == Some(PathBuf::from("a")),
        "tmpcopyup symlink"
    );
    let m = mount_at_path(all, "/ro")?;
    ensure!(
        has_opt(&m, "ro") && has_opt(&m, "nosuid") && has_opt(&m, "noatime"),
        "/ro: {m:?}"
    );
    let m = mount_at_path(all, "/rro")?;
    ensure!(has_opt(&m, "ro") && has_opt(&m, "noexec"), "/rro: {m:?}");
    erofs("/rro/new")?;
    ensure!(
        std::fs::read_to_string("/ro/file").ok().as_deref() == Some("ro"),
        "/ro/file"
    );
    erofs("/ro/new")?;
    let m = mount_at_path(all, "/run")?;
    ensure!(
        m.super_options.iter().any(|o| o == "mode=700"),
        "/run: {m:?}"
    );
    // masked directory: an empty read-only tmpfs, shown like a classic tmpfs mount
    let fw = mount_at_path(all, "/sys/firmware")?;
    ensure!(
        fw.fstype == "tmpfs"
            && fw.source == "tmpfs"
            && has_opt(&fw, "ro")
            && fw.super_options.iter().any(|o| o == "ro"),
        "/sys/firmware: {fw:?}"
    );
    Ok(())
}

/// Default devices, `linux.devices` and the /dev symlinks.
fn check_devices() -> Result<(), String> {
    // devices
    let null = std::fs::metadata("/dev/null").map_err(|e| format!("/dev/null: {e}"))?;
    ensure!(
        null.file_type().is_char_device() && (major(null.rdev()), minor(null.rdev())) == (1, 3),
        "/dev/null"
    );
    ensure!(
        null.mode() & 0o7777 == 0o666,
        "/dev/null mode {:o}",
        null.mode()
    );
    for (p, ma, mi) in [
        ("/dev/zero", 1, 5),
        ("/dev/full", 1, 7),
        ("/dev/random", 1, 8),
        ("/dev/urandom", 1, 9),
        ("/dev/tty", 5, 0),
    ] {
        let m = std::fs::metadata(p).map_err(|e| format!("{p}: {e}"))?;
        ensure!((major(m.rdev()), minor(m.rdev())) == (ma, mi), "{p}");
    }
    let fuse = std::fs::metadata("/dev/fuse").map_err(|e| format!("/dev/fuse: {e}"))?;
    ensure!(
        fuse.file_type().is_char_device()
            && (major(fuse.rdev()), minor(fuse.rdev())) == (10, 229)
            && fuse.mode() & 0o7777 == 0o640
            && (fuse.uid(), fuse.gid()) == (1, 2),
        "/dev/fuse: mode {:o} uid {} gid {}",
        fuse.mode(),
        fuse.uid(),
        fuse.gid()
    );
    ensure!(
        std::fs::metadata("/dev/fifo").is_ok_and(|m| m.file_type().is_fifo()),
        "/dev/fifo"
    );
    for (l, t) in [
        ("/dev/ptmx", "pts/ptmx"),
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stderr", "/proc/self/fd/2"),
    ] {
        ensure!(
            std::fs::read_link(l).ok() == Some(PathBuf::from(t)),
            "{l} -> {t}"
        );
    }
    Ok(())
}

/// readonlyPaths and maskedPaths.
fn check_paths() -> Result<(), String> {
    // read-only and masked paths
    erofs("/proc/sys/kernel/hostname")?;
    if Path::new("/proc/sysrq-trigger").exists() {
        erofs("/proc/sysrq-trigger")?; // absent without CONFIG_MAGIC_SYSRQ
    }
    for p in ["/proc/timer_list", "/secret"] {
        let m = std::fs::metadata(p).map_err(|e| format!("{p}: {e}"))?;
        ensure!(
            m.file_type().is_char_device() && m.rdev() == nix::sys::stat::makedev(1, 3),
            "{p} not masked"
        );
        ensure!(
            std::fs::read(p)
                .map_err(|e| format!("{p}: {e}"))?
                .is_empty(),
            "{p} readable"
        );
    }
    let fw = std::fs::read_dir("/sys/firmware").map_err(|e| format!("/sys/firmware: {e}"))?;
    ensure!(fw.count() == 0, "/sys/firmware not masked");
    erofs("/sys/firmware/x")?;
    Ok(())
}

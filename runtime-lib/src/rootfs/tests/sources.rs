//! [`MountSources::open_for`]: what the runtime opens on the host side for a container with a
//! user namespace. Opened here through this test process's own `/proc/<pid>/root`, which
//! needs no privilege.

use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::symlink;

use nix::sys::stat::fstat;
use nix::sys::statfs::fstatfs;

use super::*;

fn ino_of_fd(fd: BorrowedFd<'_>) -> (u64, u64) {
    let st = fstat(fd).unwrap();
    (st.st_dev, st.st_ino)
}

fn ino_of(p: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(p).unwrap();
    (m.dev(), m.ino())
}

/// Every bind mount gets its source, found as the host would find it, except inside the
/// rootfs, where the image's symlinks stay inside the image; other mounts get none.
#[test]
fn sources_are_resolved_on_the_host_and_inside_the_rootfs() {
    let b = Bundle::new("sources");
    let rootfs = std::fs::canonicalize(b.rootfs()).unwrap();
    let host = b.dir.join("host");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("file"), "host").unwrap();
    // A host symlink, absolute: followed.
    symlink(host.join("file"), host.join("link")).unwrap();
    // An image symlink to the same absolute path, and what that path is inside the image.
    let decoy = rootfs.join(host.join("file").strip_prefix("/").unwrap());
    std::fs::create_dir_all(decoy.parent().unwrap()).unwrap();
    std::fs::write(&decoy, "decoy").unwrap();
    symlink(host.join("file"), rootfs.join("etc/evil")).unwrap();
    let s = spec(&format!(
        r#"{{"ociVersion":"1.0.2","root":{{"path":"rootfs"}},"mounts":[
          {{"destination":"/proc","type":"proc","source":"proc"}},
          {{"destination":"/a","type":"bind","source":"{link}","options":["bind"]}},
          {{"destination":"/b","source":"host","options":["rbind","ro"]}},
          {{"destination":"/c","type":"bind","source":"rootfs/etc/evil","options":["bind"]}},
          {{"destination":"/d","type":"bind","source":"/proc/self/ns/net","options":["bind"]}}
        ]}}"#,
        link = host.join("link").display()
    ));
    let got = MountSources::open_for(std::process::id() as i32, &s, &b.dir, &rootfs).unwrap();
    assert_eq!(got.iter().map(|(i, _)| i).collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert!(got.get(0).is_none(), "proc is not a bind");
    assert_eq!(ino_of_fd(got.get(1).unwrap()), ino_of(&host.join("file")));
    assert_eq!(
        ino_of_fd(got.get(2).unwrap()),
        ino_of(&host),
        "relative to the bundle"
    );
    assert_eq!(
        ino_of_fd(got.get(3).unwrap()),
        ino_of(&decoy),
        "an image symlink left the image"
    );
    // A namespace file is a magic link: opened as given.
    const NSFS_MAGIC: i64 = 0x6e73_6673;
    let fs = fstatfs(got.get(4).unwrap().as_fd()).unwrap();
    assert_eq!(fs.filesystem_type().0 as i64, NSFS_MAGIC);
}

/// A missing source fails with its entry, the call and the path.
#[test]
fn a_missing_source_is_named() {
    let b = Bundle::new("sources-missing");
    let rootfs = std::fs::canonicalize(b.rootfs()).unwrap();
    let missing = b.dir.join("nope");
    let s = spec(&format!(
        r#"{{"ociVersion":"1.0.2","root":{{"path":"rootfs"}},"mounts":[
          {{"destination":"/proc","type":"proc","source":"proc"}},
          {{"destination":"/x","type":"bind","source":"{}","options":["bind"]}}
        ]}}"#,
        missing.display()
    ));
    let e = MountSources::open_for(std::process::id() as i32, &s, &b.dir, &rootfs).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("mounts[1]: open({missing:?}, O_PATH|O_CLOEXEC): No such file or directory (os error 2)")
    );
    assert_eq!(e.errno(), Some(libc::ENOENT));
}

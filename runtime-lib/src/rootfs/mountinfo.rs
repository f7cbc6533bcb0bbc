//! Parsing of `/proc/self/mountinfo` and `/proc/self/cgroup` (pure).

use std::path::PathBuf;

/// One line of `/proc/<pid>/mountinfo` (proc(5)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountInfo {
    /// The root of the mount inside its filesystem (field 4).
    pub root: PathBuf,
    /// Where it is mounted, relative to the reading process's root (field 5).
    pub mount_point: PathBuf,
    /// Per-mount options (`rw,nosuid,relatime`).
    pub options: Vec<String>,
    /// Optional fields (`shared:N`, `master:N`, ...).
    pub optional: Vec<String>,
    /// Filesystem type.
    pub fstype: String,
    /// Mount source (`tmpfs`, `/dev/sda1`, `none`).
    #[cfg_attr(not(test), allow(dead_code))]
    pub source: String,
    /// Per-superblock options.
    pub super_options: Vec<String>,
}

/// Undo the kernel's octal escapes (`\040` for space, `\011`, `\012`, `\134`).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    use std::os::unix::ffi::OsStringExt;
    std::ffi::OsString::from_vec(out)
        .to_string_lossy()
        .into_owned()
}

/// Parse the whole of a mountinfo file; malformed lines are skipped.
pub(crate) fn parse_mountinfo(text: &str) -> Vec<MountInfo> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<MountInfo> {
    let (left, right) = line.split_once(" - ")?;
    let f: Vec<&str> = left.split(' ').collect();
    if f.len() < 6 {
        return None;
    }
    let r: Vec<&str> = right.split(' ').collect();
    if r.len() < 3 {
        return None;
    }
    Some(MountInfo {
        root: PathBuf::from(unescape(f[3])),
        mount_point: PathBuf::from(unescape(f[4])),
        options: f[5].split(',').map(|s| s.to_string()).collect(),
        optional: f[6..].iter().map(|s| s.to_string()).collect(),
        fstype: r[0].to_string(),
        source: unescape(r[1]),
        super_options: r[2].split(',').map(|s| s.to_string()).collect(),
    })
}

/// One line of `/proc/<pid>/cgroup`: hierarchy id, controllers, path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CgroupLine {
    /// The controllers of the hierarchy (`cpu`, `cpuacct`, `name=systemd`); empty for v2.
    pub controllers: Vec<String>,
    /// The process's cgroup in that hierarchy.
    pub path: PathBuf,
}

pub(crate) fn parse_proc_cgroup(text: &str) -> Vec<CgroupLine> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let _id = it.next()?;
            let ctrl = it.next()?;
            let path = it.next()?;
            Some(CgroupLine {
                controllers: ctrl
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect(),
                path: PathBuf::from(path),
            })
        })
        .collect()
}

/// The controllers a v1 cgroup mount carries, from its super options (`rw,cpu,cpuacct` ->
/// `cpu,cpuacct`; `rw,xattr,name=systemd` -> `name=systemd`).
pub(crate) fn v1_controllers(m: &MountInfo) -> Vec<String> {
    const NOT_CONTROLLERS: &[&str] = &[
        "rw",
        "ro",
        "xattr",
        "noprefix",
        "clone_children",
        "cpuset_v2_mode",
        "none",
    ];
    m.super_options
        .iter()
        .filter(|o| !NOT_CONTROLLERS.contains(&o.as_str()) && !o.starts_with("release_agent="))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const SAMPLE: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
30 22 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
33 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,cpu,cpuacct
34 30 0:30 / /sys/fs/cgroup/systemd rw,nosuid shared:15 - cgroup cgroup rw,xattr,name=systemd
35 30 0:31 / /sys/fs/cgroup/unified rw,nosuid shared:16 - cgroup2 cgroup2 rw,nsdelegate
40 22 0:40 /sub /mnt/with\\040space rw master:3 - tmpfs tmpfs rw
";

    #[test]
    fn mountinfo_lines() {
        let m = parse_mountinfo(SAMPLE);
        assert_eq!(m.len(), 7);
        assert_eq!(m[0].mount_point, PathBuf::from("/"));
        assert_eq!(m[0].optional, vec!["shared:1"]);
        assert_eq!(m[3].fstype, "cgroup");
        assert_eq!(v1_controllers(&m[3]), vec!["cpu", "cpuacct"]);
        assert_eq!(v1_controllers(&m[4]), vec!["name=systemd"]);
        assert_eq!(m[6].mount_point, PathBuf::from("/mnt/with space"));
        assert_eq!(m[6].root, PathBuf::from("/sub"));
        assert_eq!(m[6].optional, vec!["master:3"]);
    }

    #[test]
    fn proc_cgroup_lines() {
        let c = parse_proc_cgroup("5:cpu,cpuacct:/a/b\n1:name=systemd:/x\n0::/u\n");
        assert_eq!(c[0].controllers, vec!["cpu", "cpuacct"]);
        assert_eq!(c[0].path, PathBuf::from("/a/b"));
        assert_eq!(c[1].controllers, vec!["name=systemd"]);
        assert!(c[2].controllers.is_empty());
        assert_eq!(c[2].path, PathBuf::from("/u"));
    }

    #[test]
    fn the_real_files_parse() {
        let m = parse_mountinfo(&std::fs::read_to_string("/proc/self/mountinfo").unwrap());
        assert!(m.iter().any(|m| m.mount_point == Path::new("/")));
        let c = parse_proc_cgroup(&std::fs::read_to_string("/proc/self/cgroup").unwrap());
        assert!(!c.is_empty());
    }
}

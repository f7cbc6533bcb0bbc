//! File operations on cgroup directories, shared by the v1 and v2 drivers.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::CgroupError;

/// Write `value` to `dir/file` in ONE write(2), as cgroup files require. `field` names the config
/// field the value comes from, for the error message. The file must exist (no `O_CREAT`): a
/// missing control file means the controller is not there, which is an error to report, not a
/// file to invent.
pub(crate) fn write(
    field: Option<&str>,
    dir: &Path,
    file: &str,
    value: &str,
) -> Result<(), CgroupError> {
    let path = dir.join(file);
    let res = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .and_then(|mut f| f.write_all(value.as_bytes()));
    res.map_err(|source| CgroupError::Write {
        field: field.map(str::to_string),
        path,
        value: value.to_string(),
        source,
    })
}

/// Read `dir/file` whole.
pub(crate) fn read(dir: &Path, file: &str) -> Result<String, CgroupError> {
    let path = dir.join(file);
    let bytes = crate::sys::read_small(&path, 256).map_err(|source| CgroupError::Io {
        op: "read",
        path: path.clone(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|e| CgroupError::Io {
        op: "read",
        path,
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })
}

/// Read a file holding one unsigned number (`max` reads as `u64::MAX`).
pub(crate) fn read_u64(dir: &Path, file: &str) -> Result<u64, CgroupError> {
    let s = read(dir, file)?;
    let t = s.trim();
    if t == "max" {
        return Ok(u64::MAX);
    }
    t.parse().map_err(|_| CgroupError::Io {
        op: "parse",
        path: dir.join(file),
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not a number: {t:?}"),
        ),
    })
}

/// `mkdir -p dir`; returns the directories it created, outermost first, so a failed creation
/// can remove exactly those.
pub(crate) fn mkdir_p(dir: &Path) -> Result<Vec<PathBuf>, CgroupError> {
    // mkdir first: when the parent exists (the common case) that is the one call, where a
    // stat of each level first took three.
    let mkdir = |d: &Path| -> Result<bool, CgroupError> {
        match std::fs::create_dir(d) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(source) => Err(CgroupError::Io {
                op: "mkdir",
                path: d.to_path_buf(),
                source,
            }),
        }
    };
    match mkdir(dir) {
        Ok(made) => Ok(if made {
            vec![dir.to_path_buf()]
        } else {
            Vec::new()
        }),
        Err(CgroupError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound && dir.parent().is_some() =>
        {
            let mut made = mkdir_p(dir.parent().unwrap_or(dir))?;
            if mkdir(dir)? {
                made.push(dir.to_path_buf());
            }
            Ok(made)
        }
        Err(e) => Err(e),
    }
}

/// The pids in `cgroup.procs` of `dir` and of every cgroup below it. A missing `dir` has no
/// processes (the cgroup is gone).
pub(crate) fn procs_recursive(dir: &Path) -> Result<Vec<i32>, CgroupError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let text = match std::fs::read_to_string(d.join("cgroup.procs")) {
            Ok(t) => t,
            // The cgroup (or a child) went away between listing and reading.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(CgroupError::Io {
                    op: "read",
                    path: d.join("cgroup.procs"),
                    source,
                })
            }
        };
        out.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(CgroupError::Io {
                    op: "readdir",
                    path: d,
                    source,
                })
            }
        };
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(e.path());
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// rmdir `dir` and any cgroups created below it (a container may nest its own). Missing is
/// success.
fn remove_tree(dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(_) => {}
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&e.path())?;
            }
        }
    }
    match std::fs::remove_dir(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

/// Remove every directory of `dirs` (and their child cgroups), retrying while the kernel still
/// answers EBUSY: processes killed just before are still leaving the cgroup (runc retries the
/// same way, 10 ms doubling). Gives up after about two seconds, naming what is left.
pub(crate) fn remove_all(dirs: &[&Path]) -> Result<(), CgroupError> {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut delay = Duration::from_millis(10);
    let mut left: Vec<&Path> = dirs.to_vec();
    loop {
        let mut last_err = None;
        left.retain(|d| match remove_tree(d) {
            Ok(()) => false,
            Err(e) => {
                last_err = Some((d.to_path_buf(), e));
                true
            }
        });
        let Some((path, source)) = last_err else {
            return Ok(());
        };
        if Instant::now() >= deadline {
            return Err(CgroupError::Io {
                op: "rmdir",
                path,
                source,
            });
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(200));
    }
}

/// Parse a cpuset list (`0-3,7`); `Err` names what is wrong.
pub(crate) fn parse_cpuset_list(s: &str) -> Result<Vec<(u32, u32)>, String> {
    let mut out = Vec::new();
    for part in s.trim().split(',') {
        let part = part.trim();
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let a: u32 = a
            .trim()
            .parse()
            .map_err(|_| format!("invalid list {s:?}: {part:?} is not a number or a range"))?;
        let b: u32 = b
            .trim()
            .parse()
            .map_err(|_| format!("invalid list {s:?}: {part:?} is not a number or a range"))?;
        if a > b {
            return Err(format!("invalid list {s:?}: range {part:?} is reversed"));
        }
        out.push((a, b));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{read as rd, TempDir};
    use super::*;

    #[test]
    fn write_needs_existing_file_and_names_it() {
        let t = TempDir::new("fs");
        let d = t.touch("c", &["pids.max"]);
        write(None, &d, "pids.max", "10").unwrap();
        write(None, &d, "pids.max", "7").unwrap();
        assert_eq!(rd(&d, "pids.max"), "7");
        let e = write(Some("linux.resources.pids.limit"), &d, "nope", "1")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("linux.resources.pids.limit: write "), "{e}");
        assert!(e.contains("nope \"1\": No such file"), "{e}");
    }

    #[test]
    fn mkdir_p_reports_created_and_remove_all_cleans() {
        let t = TempDir::new("fs");
        let d = t.path().join("a/b/c");
        let made = mkdir_p(&d).unwrap();
        assert_eq!(
            made,
            vec![t.path().join("a"), t.path().join("a/b"), d.clone()]
        );
        assert!(mkdir_p(&d).unwrap().is_empty());
        std::fs::create_dir(d.join("nested")).unwrap();
        remove_all(&[&d]).unwrap();
        assert!(!d.exists());
        assert!(t.path().join("a/b").exists());
        remove_all(&[&d]).unwrap(); // gone already: success
    }

    #[test]
    fn procs_recursive_reads_children() {
        let t = TempDir::new("fs");
        let d = t.touch("c", &[]);
        std::fs::write(d.join("cgroup.procs"), "12\n5\n").unwrap();
        std::fs::create_dir(d.join("sub")).unwrap();
        std::fs::write(d.join("sub/cgroup.procs"), "7\n12\n").unwrap();
        assert_eq!(procs_recursive(&d).unwrap(), vec![5, 7, 12]);
        assert!(procs_recursive(&t.path().join("gone")).unwrap().is_empty());
    }

    #[test]
    fn cpuset_lists() {
        assert_eq!(parse_cpuset_list("0-3,7").unwrap(), vec![(0, 3), (7, 7)]);
        assert!(parse_cpuset_list("3-1").is_err());
        assert!(parse_cpuset_list("a").is_err());
        assert!(parse_cpuset_list("1,,2").is_err());
    }
}

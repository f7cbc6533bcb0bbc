//! The only module allowed `unsafe`: thin wrappers over system calls that `nix` and `libc` do not
//! cover well. Every wrapper takes and returns `OwnedFd`/`BorrowedFd`, never bare integers, and
//! every `unsafe` block carries a `// SAFETY:` comment naming the invariant that makes it sound.
//! Also the one small-file reader for procfs and cgroupfs ([`read_small`]).

pub(crate) mod cgroup;
pub(crate) mod mount;
pub(crate) mod process;
pub(crate) mod seccomp;
pub(crate) mod xattr;

/// A small file whole, into a buffer of `cap` bytes to begin with: open, read until EOF,
/// close. `fs::read` also asks for the size first (statx), and procfs files, whose size reads
/// 0, then go through reads of 32, 32, 64, 128... bytes: 9 syscalls for `/proc/<pid>/stat`
/// against 4 here, per container for `list` and `state`, and on every `create` and `exec` (the
/// thread count, the cgroup files).
pub(crate) fn read_small(path: &std::path::Path, cap: usize) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut f = std::fs::File::open(path)?;
    let mut buf = vec![0u8; cap.max(1)];
    let mut n = 0;
    loop {
        if n == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(n);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    #[test]
    fn read_small_reads_files_larger_and_smaller_than_its_buffer() {
        let d = std::env::temp_dir().join(format!("husk-read-small-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(d.join("f"), &data).unwrap();
        assert_eq!(super::read_small(&d.join("f"), 64).unwrap(), data);
        assert_eq!(super::read_small(&d.join("f"), 8192).unwrap(), data);
        std::fs::write(d.join("e"), b"").unwrap();
        assert!(super::read_small(&d.join("e"), 16).unwrap().is_empty());
        assert!(super::read_small(&d.join("missing"), 16).is_err());
        // procfs: its size reads 0, the content is there all the same.
        let me = super::read_small(std::path::Path::new("/proc/self/stat"), 8).unwrap();
        assert!(String::from_utf8(me).unwrap().contains(')'));
        std::fs::remove_dir_all(&d).unwrap();
    }
}

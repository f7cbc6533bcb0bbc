//! The ONE way husk opens a path inside the container's root filesystem (security.md S3, S8).
//!
//! The root filesystem is untrusted: any component of a path in it may be a symlink (absolute
//! or relative, pointing anywhere), and may be swapped while husk works. So a path inside the
//! rootfs is never joined to the host path of the rootfs and handed to a path-taking syscall.
//! Instead [`Root`] holds a descriptor of the root and resolves everything relative to it:
//!
//! - first with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`: the kernel treats the
//!   descriptor as `/` for absolute symlinks and `..`, and refuses `/proc/self/fd`-style links;
//! - where `openat2` is missing (ENOSYS before Linux 5.6) or filtered (EPERM under a seccomp
//!   profile), and to create missing directories and files, with a component-by-component walk
//!   that keeps a descriptor per level, reads symlinks itself and re-roots absolute ones at the
//!   root descriptor, so that no step can leave the root (the algorithm of libpathrs and
//!   runc's `internal/pathrs`, written anew here).
//!
//! What comes back is a descriptor of the object; callers mount onto it via
//! `/proc/self/fd/N`, `fstat` it, or create entries relative to it. Never a path string.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, openat2, readlinkat, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstat, mkdirat, Mode, SFlag};
use nix::sys::statfs::{fstatfs, PROC_SUPER_MAGIC};

use super::RootfsError;

/// Symlinks followed in one resolution before giving up (the kernel's own limit).
const MAX_SYMLINKS: usize = 40;

#[cfg(test)]
pub(crate) static FORCE_WALK: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

fn force_walk() -> bool {
    #[cfg(test)]
    {
        FORCE_WALK.load(std::sync::atomic::Ordering::Relaxed)
    }
    #[cfg(not(test))]
    {
        false
    }
}

/// What to do with components that do not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Missing {
    /// ENOENT.
    Fail,
    /// Create directories (mode) for every missing component.
    Dirs(u32),
    /// Directories for the parents, a regular file for the last component.
    File(u32),
}

/// A handle on the container's root directory, and the resolver for paths inside it.
#[derive(Debug)]
pub(crate) struct Root {
    fd: OwnedFd,
    /// The host path of the root, for error messages only.
    host: PathBuf,
}

/// Render an `O_*` flag set for error messages.
fn render_oflags(flags: OFlag) -> String {
    const NAMES: &[(OFlag, &str)] = &[
        (OFlag::O_WRONLY, "O_WRONLY"),
        (OFlag::O_RDWR, "O_RDWR"),
        (OFlag::O_CREAT, "O_CREAT"),
        (OFlag::O_EXCL, "O_EXCL"),
        (OFlag::O_DIRECTORY, "O_DIRECTORY"),
        (OFlag::O_NOFOLLOW, "O_NOFOLLOW"),
        (OFlag::O_CLOEXEC, "O_CLOEXEC"),
        (OFlag::O_PATH, "O_PATH"),
    ];
    let mut parts: Vec<&str> = Vec::new();
    if !flags.intersects(OFlag::O_WRONLY | OFlag::O_RDWR | OFlag::O_PATH) {
        parts.push("O_RDONLY");
    }
    parts.extend(
        NAMES
            .iter()
            .filter(|(f, _)| flags.contains(*f))
            .map(|(_, n)| *n),
    );
    parts.join("|")
}

pub(crate) fn sys_err(op: String, e: Errno) -> RootfsError {
    RootfsError::Sys {
        op,
        source: std::io::Error::from_raw_os_error(e as i32),
    }
}

/// Split a container path into its components (`/`, `.` and empty ones dropped; `..` kept:
/// it must be resolved against what the previous components really are).
fn components(p: &Path) -> VecDeque<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

fn is_symlink(st: &nix::sys::stat::FileStat) -> bool {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK
}

fn is_dir(st: &nix::sys::stat::FileStat) -> bool {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR
}

impl Root {
    /// Open the root directory at a trusted host path.
    pub(crate) fn open(host: &Path) -> Result<Root, RootfsError> {
        let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
        let fd = nix::fcntl::open(host, flags, Mode::empty())
            .map_err(|e| sys_err(format!("open({host:?}, {})", render_oflags(flags)), e))?;
        Ok(Root {
            fd,
            host: host.to_path_buf(),
        })
    }

    /// A root on a directory descriptor already open (`O_PATH|O_DIRECTORY`); `host` names it
    /// in messages.
    pub(crate) fn from_fd(fd: OwnedFd, host: PathBuf) -> Root {
        Root { fd, host }
    }

    /// The root directory's descriptor.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The host path of the root (for messages).
    pub(crate) fn host(&self) -> &Path {
        &self.host
    }

    fn err(&self, call: &str, path: &Path, flags: OFlag, e: Errno) -> RootfsError {
        sys_err(
            format!(
                "{call}(<root {:?}>, {path:?}, {})",
                self.host,
                render_oflags(flags)
            ),
            e,
        )
    }

    /// Open an existing object at `unsafe_path` (inside the root; symlinks are followed but
    /// stay inside), with `flags` (`O_PATH`, `O_RDONLY|O_DIRECTORY`, ...; `O_CLOEXEC` is
    /// always added).
    pub(crate) fn open_path(
        &self,
        unsafe_path: &Path,
        flags: OFlag,
    ) -> Result<OwnedFd, RootfsError> {
        self.resolve(unsafe_path, flags, Missing::Fail)
            .map_err(|e| self.err("openat2", unsafe_path, flags, e))
    }

    /// Like [`Root::open_path`] but returns the bare errno (for "missing is fine" callers).
    pub(crate) fn try_open(&self, unsafe_path: &Path, flags: OFlag) -> Result<OwnedFd, Errno> {
        self.resolve(unsafe_path, flags, Missing::Fail)
    }

    /// The directory at `unsafe_path`, creating missing components with `mode` (minus umask);
    /// an `O_PATH` descriptor.
    pub(crate) fn mkdir_all(&self, unsafe_path: &Path, mode: u32) -> Result<OwnedFd, RootfsError> {
        let flags = OFlag::O_PATH | OFlag::O_DIRECTORY;
        self.resolve(unsafe_path, flags, Missing::Dirs(mode))
            .map_err(|e| self.err("mkdirat", unsafe_path, flags, e))
    }

    /// The object at `unsafe_path`, creating missing parent directories (0755) and, if the
    /// last component is missing, an empty regular file with `mode`; an `O_PATH` descriptor.
    pub(crate) fn create_file(
        &self,
        unsafe_path: &Path,
        mode: u32,
    ) -> Result<OwnedFd, RootfsError> {
        let flags = OFlag::O_PATH;
        self.resolve(unsafe_path, flags, Missing::File(mode))
            .map_err(|e| self.err("openat", unsafe_path, flags | OFlag::O_CREAT, e))
    }

    /// The parent directory of `unsafe_path` (created like [`Root::mkdir_all`]) and the last
    /// component's name, for calls that create or remove the entry itself (`mknodat`,
    /// `symlinkat`, `unlinkat`).
    pub(crate) fn open_parent(
        &self,
        unsafe_path: &Path,
    ) -> Result<(OwnedFd, OsString), RootfsError> {
        let clean = super::validate::clean_in_root(unsafe_path);
        let name = clean.file_name().map(OsStr::to_os_string).ok_or_else(|| {
            RootfsError::Unsafe(format!(
                "{unsafe_path:?}: not a path to a file inside the root"
            ))
        })?;
        let parent = clean.parent().unwrap_or(Path::new("/"));
        Ok((self.mkdir_all(parent, 0o755)?, name))
    }

    fn resolve(&self, path: &Path, flags: OFlag, missing: Missing) -> Result<OwnedFd, Errno> {
        if !force_walk() {
            match self.openat2(path, flags) {
                Ok(fd) => return Ok(fd),
                Err(Errno::ENOENT) if missing != Missing::Fail => {}
                // openat2 missing (ENOSYS), filtered by a seccomp profile (EPERM), or a
                // newer struct the kernel refuses (E2BIG): the walk below is just as safe.
                Err(Errno::ENOSYS | Errno::EPERM | Errno::E2BIG | Errno::EAGAIN) => {}
                Err(e) => return Err(e),
            }
        }
        self.walk(path, flags, missing)
    }

    fn openat2(&self, path: &Path, flags: OFlag) -> Result<OwnedFd, Errno> {
        let rel = if path.as_os_str().is_empty() {
            Path::new("/")
        } else {
            path
        };
        let how = OpenHow::new()
            .flags(flags | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        // EAGAIN: a concurrent rename anywhere on the system made the kernel unsure that `..`
        // stayed inside the root; it asks to retry.
        let mut last = Errno::EAGAIN;
        for _ in 0..16 {
            match openat2(self.fd.as_fd(), rel, how) {
                Err(Errno::EAGAIN) => last = Errno::EAGAIN,
                r => return r,
            }
        }
        Err(last)
    }

    /// The component walk: one descriptor per level, symlinks read and spliced by hand.
    fn walk(&self, path: &Path, flags: OFlag, missing: Missing) -> Result<OwnedFd, Errno> {
        let mut rest = components(path);
        // Descriptors of the directories above `cur`, for `..` (never above the root).
        let mut stack: Vec<OwnedFd> = Vec::new();
        let mut cur = nix::unistd::dup(self.fd.as_fd())?;
        // The last component's parent and name, to reopen it with the caller's flags.
        let mut last: Option<(OwnedFd, OsString)> = None;
        let mut links = 0;
        while let Some(name) = rest.pop_front() {
            if name == ".." {
                if let Some(up) = stack.pop() {
                    cur = up;
                }
                last = None;
                continue;
            }
            let is_last = rest.is_empty();
            let mut attempts = 0;
            let next = loop {
                attempts += 1;
                let opened = openat(
                    cur.as_fd(),
                    name.as_os_str(),
                    OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                );
                match opened {
                    Ok(fd) => break fd,
                    Err(Errno::ENOENT) if attempts < 4 => {
                        let created = match missing {
                            Missing::Fail => return Err(Errno::ENOENT),
                            Missing::File(mode) if is_last => openat(
                                cur.as_fd(),
                                name.as_os_str(),
                                OFlag::O_CREAT
                                    | OFlag::O_EXCL
                                    | OFlag::O_WRONLY
                                    | OFlag::O_NOFOLLOW
                                    | OFlag::O_CLOEXEC,
                                Mode::from_bits_truncate(mode),
                            )
                            .map(drop),
                            Missing::File(_) => mkdirat(
                                cur.as_fd(),
                                name.as_os_str(),
                                Mode::from_bits_truncate(0o755),
                            ),
                            Missing::Dirs(mode) => mkdirat(
                                cur.as_fd(),
                                name.as_os_str(),
                                Mode::from_bits_truncate(mode),
                            ),
                        };
                        match created {
                            // Someone else made it meanwhile: look again.
                            Ok(()) | Err(Errno::EEXIST) => continue,
                            Err(e) => return Err(e),
                        }
                    }
                    Err(e) => return Err(e),
                }
            };
            let st = fstat(next.as_fd())?;
            if is_symlink(&st) {
                // A symlink on procfs may be a magic link (/proc/self/fd/N, /proc/self/root):
                // its text says nothing about where it leads. Refuse, like
                // RESOLVE_NO_MAGICLINKS.
                if fstatfs(cur.as_fd())?.filesystem_type() == PROC_SUPER_MAGIC {
                    return Err(Errno::ELOOP);
                }
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(Errno::ELOOP);
                }
                let target = readlinkat(next.as_fd(), "")?;
                let target = Path::new(&target);
                for c in components(target).into_iter().rev() {
                    rest.push_front(c);
                }
                if target.as_os_str().as_bytes().first() == Some(&b'/') {
                    stack.clear();
                    cur = nix::unistd::dup(self.fd.as_fd())?;
                }
                last = None;
                continue;
            }
            if !is_last && !is_dir(&st) {
                return Err(Errno::ENOTDIR);
            }
            let parent = std::mem::replace(&mut cur, next);
            if is_last {
                last = Some((parent, name));
            } else {
                stack.push(parent);
            }
        }
        if flags.contains(OFlag::O_DIRECTORY) && !is_dir(&fstat(cur.as_fd())?) {
            return Err(Errno::ENOTDIR);
        }
        if flags.contains(OFlag::O_PATH) {
            return Ok(cur);
        }
        // Reopen with the real access mode from the parent, without following a symlink that
        // may have been swapped in, and check it is still the same object.
        let (parent, name) = match last {
            Some(l) => l,
            None => (nix::unistd::dup(cur.as_fd())?, OsString::from(".")),
        };
        let fd = openat(
            parent.as_fd(),
            name.as_os_str(),
            flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        let (a, b) = (fstat(fd.as_fd())?, fstat(cur.as_fd())?);
        if (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino) {
            return Err(Errno::EAGAIN);
        }
        Ok(fd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    struct TempDir(PathBuf);
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    fn tempdir(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("husk-resolver-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    fn ino(fd: &OwnedFd) -> u64 {
        fstat(fd.as_fd()).unwrap().st_ino
    }
    fn path_ino(p: &Path) -> u64 {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(p).unwrap().ino()
    }

    /// Runs the same checks with openat2 and with the fallback walk (which is also what
    /// creates missing components). `walk` selects which one `try_open` uses.
    fn check_escapes(walk: bool, tag: &str) {
        let outside = tempdir(&format!("{tag}-outside"));
        std::fs::write(outside.0.join("secret"), "host").unwrap();
        let t = tempdir(tag);
        let root = t.0.join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/secret"), "inside").unwrap();
        symlink(&outside.0, root.join("abs")).unwrap(); // absolute link to a host dir
        symlink("../../../../../../..", root.join("up")).unwrap();
        symlink("/etc", root.join("etclink")).unwrap();
        symlink("loop2", root.join("loop1")).unwrap();
        symlink("loop1", root.join("loop2")).unwrap();
        symlink("/nonexistent/dir", root.join("dangling")).unwrap();
        let r = Root::open(&root).unwrap();
        let open = |p: &str| {
            if walk {
                r.walk(Path::new(p), OFlag::O_PATH, Missing::Fail)
            } else {
                r.try_open(Path::new(p), OFlag::O_PATH)
            }
        };
        // "/abs/secret" must resolve to <root>/<host path>/secret, which does not exist
        assert_eq!(open("/abs/secret").unwrap_err(), Errno::ENOENT);
        // "/up/etc/secret" stays in the root: ".." never leaves it
        assert_eq!(
            ino(&open("/up/etc/secret").unwrap()),
            path_ino(&root.join("etc/secret"))
        );
        assert_eq!(
            ino(&open("../../etc/secret").unwrap()),
            path_ino(&root.join("etc/secret"))
        );
        assert_eq!(
            ino(&open("/etclink/secret").unwrap()),
            path_ino(&root.join("etc/secret"))
        );
        assert_eq!(ino(&open("/").unwrap()), path_ino(&root));
        assert_eq!(open("/loop1/x").unwrap_err(), Errno::ELOOP);
        // mkdir through a dangling absolute symlink creates inside the root
        let d = r.mkdir_all(Path::new("/dangling/sub"), 0o755).unwrap();
        assert_eq!(ino(&d), path_ino(&root.join("nonexistent/dir/sub")));
        // a file through an absolute symlink to a host dir is created inside the root
        let f = r.create_file(Path::new("/abs/newfile"), 0o644).unwrap();
        let inside = root
            .join(outside.0.strip_prefix("/").unwrap())
            .join("newfile");
        assert_eq!(ino(&f), path_ino(&inside));
        assert!(!outside.0.join("newfile").exists());
        // open with a real access mode through the walk
        let fd = r
            .open_path(Path::new("/etclink/secret"), OFlag::O_RDONLY)
            .unwrap();
        let mut s = String::new();
        use std::io::Read;
        std::fs::File::from(fd).read_to_string(&mut s).unwrap();
        assert_eq!(s, "inside");
        let (parent, name) = r
            .open_parent(Path::new("/etclink/../etc/newdir/x"))
            .unwrap();
        assert_eq!(name, OsString::from("x"));
        assert_eq!(ino(&parent), path_ino(&root.join("etc/newdir")));
    }

    #[test]
    fn symlinks_never_leave_the_root_openat2() {
        check_escapes(false, "o2");
    }

    #[test]
    fn symlinks_never_leave_the_root_walk() {
        check_escapes(true, "walk");
    }

    #[test]
    fn walk_refuses_proc_magic_links() {
        let r = Root::open(Path::new("/")).unwrap();
        // /proc/self is an ordinary symlink; /proc/self/root is a magic one
        assert!(r
            .walk(
                Path::new("/proc/self/root/etc"),
                OFlag::O_PATH,
                Missing::Fail
            )
            .is_err());
        assert_eq!(
            r.try_open(Path::new("/proc/self/root/etc"), OFlag::O_PATH)
                .unwrap_err(),
            Errno::ELOOP
        );
    }

    #[test]
    fn oflags_render() {
        assert_eq!(
            render_oflags(OFlag::O_PATH | OFlag::O_DIRECTORY),
            "O_DIRECTORY|O_PATH"
        );
        assert_eq!(render_oflags(OFlag::O_DIRECTORY), "O_RDONLY|O_DIRECTORY");
    }
}

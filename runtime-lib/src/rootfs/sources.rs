//! Bind-mount sources opened by the runtime on the host side, for a container with a user
//! namespace.
//!
//! Why: the mounts are made by init, inside the container's user namespace, where host root's
//! files belong to an unmapped "nobody" and no capability overrides their permissions. A bind
//! source under a root-only directory (the state folder's `notify/`, a 0700 `/root/...`)
//! cannot even be looked up from there (EACCES), although the config naming it is trusted.
//! runc 1.1 solves this the same way: the runtime, still root of the host's user namespace,
//! opens each bind source `O_PATH` and hands the descriptors to init, which mounts from
//! `/proc/self/fd/N` (runc's "mount fds").
//!
//! The descriptors must name mounts of the CONTAINER's mount namespace: a bind mount from a
//! mount of another namespace fails (EINVAL). So they are opened through `/proc/<init>/root`,
//! once init is in its final mount namespace and before it mounts anything (init asks for
//! them: sync message `MountSources`), each path resolved beneath that root
//! (`RESOLVE_IN_ROOT`): an absolute host symlink (`/etc/resolv.conf` -> `/run/...`) then
//! resolves in init's copy of the host tree, as a plain `open` in that namespace would.
//! The alternative, a detached copy of the host mount (`open_tree(OPEN_TREE_CLONE)`) moved in
//! by init, would carry none of the locks the kernel puts on mounts copied into a less
//! privileged namespace: container root could then make a bind of a read-only host mount
//! writable, or unmount a submount of an `rbind` to uncover what the host hid beneath it.
//!
//! security.md: a source is the config's (trusted) and resolved in the host's tree, but a
//! source inside the container's rootfs (the image: untrusted) is resolved with the rootfs
//! resolver, so that a symlink in the image cannot make host root open a host file for the
//! container.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use oci_spec::runtime::Spec;

use super::mounts::bind_source;
use super::options::MountKind;
use super::resolver::{sys_err, Root};
use super::validate::{clean_in_root, parse_entry};
use super::RootfsError;

/// Bind-mount sources opened by the runtime in the host's user namespace, by index in
/// `mounts[]`, for [`super::RootfsOptions::mount_sources`].
///
/// The runtime builds it with [`MountSources::open_for`] once init is in its mount namespace,
/// and passes the descriptors to init (`SCM_RIGHTS`), which rebuilds it with
/// [`MountSources::insert`]. A container without a user namespace needs none: init opens the
/// sources itself, with the same privileges.
#[derive(Debug, Default)]
pub struct MountSources {
    fds: Vec<(usize, OwnedFd)>,
}

impl MountSources {
    /// Whether `spec` has any bind mount (only then are sources worth opening).
    pub fn wanted(spec: &Spec) -> bool {
        binds(spec, Path::new("/")).next().is_some()
    }

    /// Open the source of every bind mount of `spec`, as host root, in the mount namespace of
    /// process `pid` (through `/proc/<pid>/root`). Relative sources are taken from `bundle`;
    /// a source inside `rootfs` (canonical host path) is resolved inside it.
    ///
    /// # Errors
    /// The first source that cannot be opened, named by its `mounts[]` entry.
    pub fn open_for(
        pid: i32,
        spec: &Spec,
        bundle: &Path,
        rootfs: &Path,
    ) -> Result<MountSources, RootfsError> {
        let proc_root = PathBuf::from(format!("/proc/{pid}/root"));
        let root = Root::open(&proc_root)?;
        // The rootfs handle is opened once, on the first source that needs it.
        let mut image: Option<Root> = None;
        let mut out = MountSources::default();
        for (i, source) in binds(spec, bundle) {
            let fd = open_source(&root, &mut image, &source, rootfs)
                .map_err(|e| e.context(format!("mounts[{i}]")))?;
            out.fds.push((i, fd));
        }
        Ok(out)
    }

    /// Record the source of `mounts[index]`.
    pub fn insert(&mut self, index: usize, fd: OwnedFd) {
        self.fds.retain(|(i, _)| *i != index);
        self.fds.push((index, fd));
    }

    /// The source of `mounts[index]`, if one was opened.
    pub fn get(&self, index: usize) -> Option<BorrowedFd<'_>> {
        self.fds
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, fd)| fd.as_fd())
    }

    /// Every source, with its `mounts[]` index.
    pub fn iter(&self) -> impl Iterator<Item = (usize, BorrowedFd<'_>)> {
        self.fds.iter().map(|(i, fd)| (*i, fd.as_fd()))
    }

    /// How many sources there are.
    pub fn len(&self) -> usize {
        self.fds.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.fds.is_empty()
    }
}

/// The bind mounts of `spec`: index and absolute host source.
fn binds<'a>(spec: &'a Spec, bundle: &'a Path) -> impl Iterator<Item = (usize, PathBuf)> + 'a {
    spec.mounts()
        .iter()
        .flatten()
        .enumerate()
        .filter(|(i, m)| parse_entry(*i, m).is_ok_and(|o| o.kind == MountKind::Bind))
        .map(move |(i, m)| (i, bind_source(m, bundle)))
}

/// Open one source `O_PATH` beneath `root` (init's root, seen from the host).
fn open_source(
    root: &Root,
    image: &mut Option<Root>,
    source: &Path,
    rootfs: &Path,
) -> Result<OwnedFd, RootfsError> {
    let shown = || format!("open({source:?}, O_PATH|O_CLOEXEC)");
    if let Ok(rel) = clean_in_root(source).strip_prefix(rootfs) {
        // Inside the image: its symlinks stay inside it.
        if image.is_none() {
            let flags = OFlag::O_PATH | OFlag::O_DIRECTORY;
            let fd = root
                .try_open(rootfs, flags)
                .map_err(|e| sys_err(format!("open({rootfs:?}, O_PATH|O_DIRECTORY)"), e))?;
            *image = Some(Root::from_fd(fd, rootfs.to_path_buf()));
        }
        let image = image.as_ref().expect("just set");
        return image
            .try_open(rel, OFlag::O_PATH)
            .map_err(|e| sys_err(shown(), e));
    }
    match root.try_open(source, OFlag::O_PATH) {
        // The resolver refuses magic links (a namespace file `/proc/<pid>/ns/net`): open such
        // a trusted path as given, in the runtime's namespace; the kernel lets namespace files
        // be bound from any mount namespace (and refuses anything else from there).
        Err(Errno::ELOOP) => {
            nix::fcntl::open(source, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
                .map_err(|e| sys_err(shown(), e))
        }
        r => r.map_err(|e| sys_err(shown(), e)),
    }
}

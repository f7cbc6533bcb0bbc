//! The only module allowed `unsafe`: thin wrappers over system calls that `nix` and `libc` do not
//! cover well. Every wrapper takes and returns `OwnedFd`/`BorrowedFd`, never bare integers, and
//! every `unsafe` block carries a `// SAFETY:` comment naming the invariant that makes it sound.

pub(crate) mod cgroup;
pub(crate) mod mount;
pub(crate) mod process;
pub(crate) mod seccomp;
pub(crate) mod xattr;

//! `fsetxattr`, which nix does not wrap: the SELinux label of a mount's root
//! (`security.selinux`, go-selinux's `SetFileLabel`).

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd};

use nix::errno::Errno;

/// `fsetxattr(fd, name, value, len, 0)`.
pub(crate) fn fsetxattr(fd: BorrowedFd<'_>, name: &CStr, value: &[u8]) -> Result<(), Errno> {
    // SAFETY: `fd` is open for the duration of the call; `name` is NUL-terminated and `value`
    // is valid for `value.len()` bytes; the kernel copies both and keeps no pointer.
    let ret = unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if ret < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

//! System call wrappers (see the parent module): the `bpf(2)` commands the cgroup v2 device
//! controller needs. cgroup v2 has no `devices.allow`; a `BPF_PROG_TYPE_CGROUP_DEVICE` program
//! attached to the cgroup decides every device access instead (kernel
//! Documentation/admin-guide/cgroup-v2.rst, "Device controller").
//!
//! The `bpf_attr` layouts below are the kernel's (include/uapi/linux/bpf.h), each padded to a
//! zeroed 128 bytes: the kernel rejects a non-zero tail beyond the fields it knows, and reads at
//! most the size passed.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;

const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
/// `enum bpf_attach_type` value of `BPF_CGROUP_DEVICE`.
const BPF_CGROUP_DEVICE: u32 = 6;
/// Several programs may be attached; all must allow an access.
const BPF_F_ALLOW_MULTI: u32 = 2;

#[repr(C, align(8))]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
    _pad: [u8; 56],
}

#[repr(C, align(8))]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
    _pad: [u8; 108],
}

#[repr(C, align(8))]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _pad: [u8; 100],
}

#[repr(C, align(8))]
struct GetFdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
    _pad: [u8; 116],
}

/// `bpf(cmd, attr, sizeof attr)`.
///
/// # Safety
/// `attr` must be the `bpf_attr` variant `cmd` expects, and every pointer inside it must be
/// valid for the access the kernel makes during the call.
unsafe fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<libc::c_long> {
    // SAFETY: the caller guarantees `attr` matches `cmd`; `attr` is a live, exclusively
    // borrowed value of exactly size_of::<T>() bytes, which is the size passed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Take ownership of a new fd returned by the kernel.
fn own(fd: libc::c_long) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful bpf() command that creates a new file
    // descriptor; nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

/// Load a cgroup device program (`insns`: encoded `struct bpf_insn`s). On a verifier
/// rejection the error carries the verifier's log.
pub(crate) fn load_device_program(insns: &[u64], license: &CStr) -> io::Result<OwnedFd> {
    let mut log = vec![0u8; 0];
    for attempt in 0..2 {
        if attempt == 1 {
            log = vec![0u8; 64 * 1024];
        }
        let mut attr = ProgLoadAttr {
            prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
            insn_cnt: insns.len() as u32,
            insns: insns.as_ptr() as u64,
            license: license.as_ptr() as u64,
            log_level: u32::from(attempt == 1),
            log_size: log.len() as u32,
            log_buf: if log.is_empty() {
                0
            } else {
                log.as_mut_ptr() as u64
            },
            kern_version: 0,
            prog_flags: 0,
            prog_name: *b"husk_devices\0\0\0\0",
            prog_ifindex: 0,
            expected_attach_type: BPF_CGROUP_DEVICE,
            _pad: [0; 56],
        };
        // SAFETY: a BPF_PROG_LOAD attr; `insns`, `license` and `log` outlive the call and
        // the sizes given match their lengths.
        match unsafe { bpf(BPF_PROG_LOAD, &mut attr) } {
            Ok(fd) => return Ok(own(fd)),
            Err(e) if attempt == 0 && e.raw_os_error() == Some(libc::EINVAL) => continue,
            Err(e) if attempt == 1 => {
                let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
                let text = String::from_utf8_lossy(&log[..end]);
                return Err(io::Error::new(
                    e.kind(),
                    format!("{e}; verifier log: {}", text.trim()),
                ));
            }
            Err(e) => return Err(e),
        }
    }
    unreachable!("the loop returns on its second attempt")
}

/// Attach `prog` to the cgroup directory `cgroup` as a device program, alongside any others
/// (`BPF_F_ALLOW_MULTI`).
pub(crate) fn attach_device_program(
    cgroup: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
) -> io::Result<()> {
    let mut attr = AttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        replace_bpf_fd: 0,
        _pad: [0; 108],
    };
    // SAFETY: a BPF_PROG_ATTACH attr holding two fds borrowed for the call; no pointers.
    unsafe { bpf(BPF_PROG_ATTACH, &mut attr) }.map(drop)
}

/// Detach the device program `prog` from `cgroup`.
pub(crate) fn detach_device_program(
    cgroup: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
) -> io::Result<()> {
    let mut attr = AttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: 0,
        replace_bpf_fd: 0,
        _pad: [0; 108],
    };
    // SAFETY: a BPF_PROG_DETACH attr holding two fds borrowed for the call; no pointers.
    unsafe { bpf(BPF_PROG_DETACH, &mut attr) }.map(drop)
}

/// The ids of the device programs attached directly to `cgroup`.
pub(crate) fn query_device_programs(cgroup: BorrowedFd<'_>) -> io::Result<Vec<u32>> {
    let mut ids = vec![0u32; 64];
    let mut attr = QueryAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        query_flags: 0,
        attach_flags: 0,
        prog_ids: ids.as_mut_ptr() as u64,
        prog_cnt: ids.len() as u32,
        _pad: [0; 100],
    };
    // SAFETY: a BPF_PROG_QUERY attr; `ids` outlives the call and prog_cnt is its length, the
    // most the kernel writes.
    unsafe { bpf(BPF_PROG_QUERY, &mut attr) }?;
    ids.truncate(attr.prog_cnt as usize);
    Ok(ids)
}

/// An fd of the loaded program with id `id`.
pub(crate) fn program_by_id(id: u32) -> io::Result<OwnedFd> {
    let mut attr = GetFdAttr {
        prog_id: id,
        next_id: 0,
        open_flags: 0,
        _pad: [0; 116],
    };
    // SAFETY: a BPF_PROG_GET_FD_BY_ID attr; no pointers.
    unsafe { bpf(BPF_PROG_GET_FD_BY_ID, &mut attr) }.map(own)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attr_layouts_match_the_kernel() {
        assert_eq!(std::mem::size_of::<ProgLoadAttr>(), 128);
        assert_eq!(std::mem::offset_of!(ProgLoadAttr, log_buf), 32);
        assert_eq!(std::mem::offset_of!(ProgLoadAttr, prog_name), 48);
        assert_eq!(std::mem::offset_of!(ProgLoadAttr, expected_attach_type), 68);
        assert_eq!(std::mem::size_of::<AttachAttr>(), 128);
        assert_eq!(std::mem::offset_of!(QueryAttr, prog_ids), 16);
        assert_eq!(std::mem::offset_of!(QueryAttr, prog_cnt), 24);
        assert_eq!(std::mem::size_of::<QueryAttr>(), 128);
        assert_eq!(std::mem::size_of::<GetFdAttr>(), 128);
    }
}

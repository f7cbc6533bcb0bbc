//! Tests: the generated BPF run in an interpreter against synthetic syscalls (`decisions`), the
//! real engine profiles and libseccomp's programs for them (`profiles`), and system tests that
//! load filters into forked children (`system`).

mod decisions;
mod profiles;
mod runc;
mod system;

use super::interp::{self, Data};
use super::profile::{
    Abi, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, FLAG_LOG, FLAG_NEW_LISTENER, FLAG_SPEC_ALLOW,
    FLAG_TSYNC, FLAG_TSYNC_ESRCH, FLAG_WAIT_KILLABLE_RECV, RET_ALLOW, RET_ERRNO, RET_KILL_PROCESS,
    RET_KILL_THREAD, RET_LOG, RET_TRACE, RET_TRAP, RET_USER_NOTIF, X32_SYSCALL_BIT,
};
use super::{compile, tables, SeccompError, SeccompProgram};

const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
const EPERM: u32 = RET_ERRNO | 1;
const ENOSYS: u32 = RET_ERRNO | 38;

fn profile(v: serde_json::Value) -> oci_spec::runtime::LinuxSeccomp {
    serde_json::from_value(v).expect("profile json")
}

/// Compile and pass the kernel's static checks.
fn prog(v: serde_json::Value) -> SeccompProgram {
    let p = compile(&profile(v)).expect("compile");
    interp::check(p.insns()).expect("kernel checks");
    p
}

fn err(v: serde_json::Value) -> String {
    match compile(&profile(v)) {
        Err(e @ SeccompError::Invalid { .. }) => e.to_string(),
        other => panic!("expected an invalid-field error, got {other:?}"),
    }
}

fn nr(abi: Abi, name: &str) -> u32 {
    abi.lookup(name)
        .unwrap_or_else(|| panic!("{name} not in {abi:?}"))
}

fn on(p: &SeccompProgram, arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    interp::run(p.insns(), &Data { nr, arch, args })
}

/// x86_64 syscall `name` with arguments.
fn x64(p: &SeccompProgram, name: &str, args: [u64; 6]) -> u32 {
    on(p, AUDIT_ARCH_X86_64, nr(Abi::X86_64, name), args)
}

const NO_ARGS: [u64; 6] = [0; 6];

fn arg(i: usize, v: u64) -> [u64; 6] {
    let mut a = [0; 6];
    a[i] = v;
    a
}

// Shared by `profiles` and `system`.

fn containerd() -> SeccompProgram {
    prog(serde_json::from_str(include_str!("../testdata/containerd-1.6.json")).unwrap())
}

fn podman() -> SeccompProgram {
    prog(serde_json::from_str(include_str!("../testdata/podman-4.3.json")).unwrap())
}

const CLONE_NEWNS: u64 = 0x0002_0000;
const CLONE_NEWUSER: u64 = 0x1000_0000;
const THREAD_FLAGS: u64 = 0x003d_0f00; // what glibc's pthread_create passes to clone

/// A temporary directory removed on drop (even when the test fails).
struct TempDir(std::path::PathBuf);
impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("husk-seccomp-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir(&p).unwrap();
        TempDir(p)
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

//! The real engine profiles: decisions for interesting syscalls, and the same decisions as the
//! programs runc 1.1 builds with libseccomp 2.5.4 (fixtures from
//! scripts/seccomp-libseccomp-reference.py) for every syscall number.

use super::*;

#[test]
fn containerd_profile_decisions() {
    let p = containerd();
    assert!(p.instruction_count() < 1000, "{}", p.instruction_count());
    for name in [
        "read",
        "write",
        "mkdir",
        "ptrace",
        "socket",
        "getpid",
        "close_range",
        "openat2",
    ] {
        assert_eq!(x64(&p, name, NO_ARGS), RET_ALLOW, "{name}");
    }
    for name in [
        "mount",
        "unshare",
        "keyctl",
        "setns",
        "kexec_load",
        "bpf",
        "add_key",
    ] {
        assert_eq!(x64(&p, name, NO_ARGS), EPERM, "{name}");
    }
    for persona in [0, 8, 0x20000, 0x20008, 0xffff_ffff] {
        assert_eq!(
            x64(&p, "personality", arg(0, persona)),
            RET_ALLOW,
            "{persona:#x}"
        );
    }
    assert_eq!(
        x64(&p, "personality", arg(0, 0x0040000)),
        EPERM,
        "ADDR_NO_RANDOMIZE"
    );
    assert_eq!(x64(&p, "clone", arg(0, THREAD_FLAGS)), RET_ALLOW);
    assert_eq!(x64(&p, "clone", arg(0, THREAD_FLAGS | CLONE_NEWNS)), EPERM);
    assert_eq!(x64(&p, "clone", arg(0, CLONE_NEWUSER)), EPERM);
    assert_eq!(
        x64(&p, "clone3", NO_ARGS),
        ENOSYS,
        "explicit errnoRet 38 rule"
    );
    // The profile's highest x86_64 syscall is futex_waitv (449): newer ones get ENOSYS.
    assert_eq!(x64(&p, "futex_waitv", NO_ARGS), RET_ALLOW);
    for name in [
        "set_mempolicy_home_node",
        "cachestat",
        "mseal",
        "file_setattr",
    ] {
        assert_eq!(x64(&p, name, NO_ARGS), ENOSYS, "{name}");
    }
    // Compat ABIs listed by the profile.
    let i386 = |name| on(&p, AUDIT_ARCH_I386, nr(Abi::I386, name), NO_ARGS);
    assert_eq!(i386("socketcall"), RET_ALLOW);
    assert_eq!(i386("read"), RET_ALLOW);
    assert_eq!(i386("mount"), EPERM);
    assert_eq!(
        on(&p, AUDIT_ARCH_X86_64, nr(Abi::X32, "read"), NO_ARGS),
        RET_ALLOW
    );
    assert_eq!(on(&p, AUDIT_ARCH_AARCH64, 63, NO_ARGS), RET_KILL_THREAD);
}

#[test]
fn podman_profile_decisions() {
    let p = podman();
    let enosys_default = ENOSYS;
    for name in [
        "read", "mount", "unshare", "keyctl", "ptrace", "clone3", "socket",
    ] {
        assert_eq!(x64(&p, name, NO_ARGS), RET_ALLOW, "{name}");
    }
    // setns is allowed by an early rule and denied by a later one: the first wins (libseccomp).
    assert_eq!(x64(&p, "setns", NO_ARGS), RET_ALLOW);
    for name in [
        "kexec_load",
        "open_by_handle_at",
        "bpf",
        "init_module",
        "acct",
        "vmsplice",
    ] {
        assert_eq!(x64(&p, name, NO_ARGS), EPERM, "{name}");
    }
    assert_eq!(x64(&p, "personality", arg(0, 8)), RET_ALLOW);
    assert_eq!(x64(&p, "personality", arg(0, 0x0040000)), enosys_default);
    // Default ERRNO(ENOSYS): no stub needed, unknown syscalls get ENOSYS anyway.
    assert_eq!(x64(&p, "mseal", NO_ARGS), enosys_default);
    assert_eq!(
        on(&p, AUDIT_ARCH_I386, nr(Abi::I386, "bdflush"), NO_ARGS),
        EPERM
    );
}

// ---------------------------------------------------------------- against libseccomp

/// A program exported by libseccomp (raw `struct sock_filter`s, host endian).
fn parse_bpf(bytes: &[u8]) -> Vec<crate::security::seccomp::bpf::Insn> {
    bytes
        .chunks_exact(8)
        .map(|c| crate::security::seccomp::bpf::Insn {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect()
}

/// Run husk's program and the one runc 1.1 would build with libseccomp 2.5.4 (made by
/// scripts/seccomp-libseccomp-reference.py, without runc's ENOSYS stub) on every syscall number
/// of every ABI with argument values the profiles test, and require the same decision, except
/// that numbers above the profile's highest get ENOSYS from husk (the stub, as runc adds it).
fn same_as_libseccomp(profile_json: &str, reference: &[u8]) {
    let seccomp = profile(serde_json::from_str(profile_json).unwrap());
    let ours = compile(&seccomp).unwrap();
    let plan = crate::security::seccomp::profile::resolve(&seccomp).unwrap();
    let theirs = parse_bpf(reference);
    interp::check(&theirs).expect("reference passes the kernel checks");
    let values = [
        0,
        1,
        2,
        3,
        4,
        5,
        6,
        7,
        8,
        9,
        10,
        11,
        15,
        40,
        420,
        0x20000,
        0x20008,
        0xffff_ffff,
        0x40000,
        0x4000_0000,
        0x1000_0000,
        0x1_0000_0004,
        0x1_0000_0005,
        0x1_0000_0006,
        0x1_0000_0008,
        0x2_0000_0004,
        0xffff_ffff_0000_0004,
        THREAD_FLAGS,
        THREAD_FLAGS | CLONE_NEWNS,
        0x7e02_0000,
        u64::MAX,
    ];
    let mut arg_sets: Vec<[u64; 6]> =
        vec![[1, 0, 0, 2, 0, 0], [7, 9, 0, 0, 0, 0], [2, 5, 0, 0, 0, 0]];
    for v in values {
        arg_sets.push([v, v, v, v, 0, 0]);
        for i in 0..4 {
            arg_sets.push(arg(i, v));
        }
    }
    let cases = [
        (AUDIT_ARCH_X86_64, Abi::X86_64, 0u32),
        (AUDIT_ARCH_X86_64, Abi::X32, X32_SYSCALL_BIT),
        (AUDIT_ARCH_I386, Abi::I386, 0),
    ];
    let mut compared = 0;
    // runc's stub picks the ABI by the x32 bit, like the kernel.
    let stub = |arch: u32, n: u32| {
        let abi = match arch {
            AUDIT_ARCH_I386 => Abi::I386,
            _ if n & X32_SYSCALL_BIT != 0 => Abi::X32,
            _ => Abi::X86_64,
        };
        plan.abi(abi).and_then(|p| p.enosys_above)
    };
    for (arch, abi, base) in cases {
        let odd = [
            0x3fff_ffff,
            0x4000_0000,
            0x7fff_ffff,
            0x8000_0000,
            0xbfff_ffff,
            0xffff_ffff,
        ];
        for n in (0..700).map(|n| base | n).chain(odd) {
            for args in &arg_sets {
                let d = Data {
                    nr: n,
                    arch,
                    args: *args,
                };
                let got = interp::run(ours.insns(), &d);
                let want = match stub(arch, n) {
                    Some(highest) if n > highest => ENOSYS,
                    _ => interp::run(&theirs, &d),
                };
                assert_eq!(got, want, "{abi:?} nr {n:#x} args {args:x?}");
                compared += 1;
            }
        }
    }
    let d = Data {
        nr: 63,
        arch: AUDIT_ARCH_AARCH64,
        args: [0; 6],
    };
    assert_eq!(interp::run(ours.insns(), &d), interp::run(&theirs, &d));
    assert!(compared > 20_000);
}

#[test]
fn containerd_profile_same_as_libseccomp() {
    same_as_libseccomp(
        include_str!("../testdata/containerd-1.6.json"),
        include_bytes!("../testdata/containerd-1.6.libseccomp-2.5.4.bpf"),
    );
}

#[test]
fn podman_profile_same_as_libseccomp() {
    same_as_libseccomp(
        include_str!("../testdata/podman-4.3.json"),
        include_bytes!("../testdata/podman-4.3.libseccomp-2.5.4.bpf"),
    );
}

#[test]
fn synthetic_errno_profile_same_as_libseccomp() {
    same_as_libseccomp(
        include_str!("../testdata/synthetic-errno.json"),
        include_bytes!("../testdata/synthetic-errno.libseccomp-2.5.4.bpf"),
    );
}

#[test]
fn synthetic_allow_profile_same_as_libseccomp() {
    same_as_libseccomp(
        include_str!("../testdata/synthetic-allow.json"),
        include_bytes!("../testdata/synthetic-allow.libseccomp-2.5.4.bpf"),
    );
}

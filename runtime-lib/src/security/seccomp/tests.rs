//! Tests: the generated BPF run in an interpreter against synthetic syscalls (pure), the real
//! engine profiles, and system tests that load filters into forked children.

use serde_json::json;

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

// ---------------------------------------------------------------- tables

#[test]
fn tables_sorted_and_known_numbers() {
    for t in [&tables::X86_64[..], &tables::I386[..], &tables::X32[..]] {
        assert!(t.windows(2).all(|w| w[0].0 < w[1].0), "sorted by name");
    }
    // Cross-check with libc's numbers for this target.
    let cases = [
        ("read", libc::SYS_read),
        ("mkdir", libc::SYS_mkdir),
        ("personality", libc::SYS_personality),
        ("clone", libc::SYS_clone),
        ("clone3", libc::SYS_clone3),
        ("openat2", libc::SYS_openat2),
        ("futex_waitv", libc::SYS_futex_waitv),
        ("exit_group", libc::SYS_exit_group),
    ];
    for (name, n) in cases {
        assert_eq!(i64::from(nr(Abi::X86_64, name)), n, "{name}");
    }
    // Added by hand after the 6.1 headers (syscall_64.tbl / syscall_32.tbl of 6.18).
    assert_eq!(nr(Abi::X86_64, "cachestat"), 451);
    assert_eq!(nr(Abi::X86_64, "mseal"), 462);
    assert_eq!(nr(Abi::X86_64, "file_setattr"), 469);
    assert_eq!(nr(Abi::X86_64, "uretprobe"), 335);
    assert_eq!(nr(Abi::X86_64, "uprobe"), 336);
    assert_eq!(nr(Abi::I386, "lsm_list_modules"), 461);
    assert_eq!(Abi::I386.lookup("uretprobe"), None, "x86_64-only");
    assert_eq!(nr(Abi::X32, "open_tree_attr"), X32_SYSCALL_BIT | 467);
    // ABI differences.
    assert_eq!(nr(Abi::I386, "read"), 3);
    assert_eq!(nr(Abi::I386, "socketcall"), 102);
    assert_eq!(Abi::X86_64.lookup("socketcall"), None);
    assert_eq!(nr(Abi::X32, "read"), X32_SYSCALL_BIT);
    assert_eq!(nr(Abi::X32, "rt_sigaction"), X32_SYSCALL_BIT | 512);
    assert_eq!(
        Abi::X86_64.lookup("listns"),
        None,
        "6.19, not on this kernel"
    );
}

// ---------------------------------------------------------------- actions

#[test]
fn every_action_with_its_value() {
    let cases = [
        (json!({"action": "SCMP_ACT_ALLOW"}), RET_ALLOW),
        (json!({"action": "SCMP_ACT_ERRNO"}), RET_ERRNO | 1),
        (
            json!({"action": "SCMP_ACT_ERRNO", "errnoRet": 123}),
            RET_ERRNO | 123,
        ),
        (
            json!({"action": "SCMP_ACT_ERRNO", "errnoRet": 0}),
            RET_ERRNO,
        ),
        (json!({"action": "SCMP_ACT_KILL"}), RET_KILL_THREAD),
        (json!({"action": "SCMP_ACT_KILL_THREAD"}), RET_KILL_THREAD),
        (json!({"action": "SCMP_ACT_KILL_PROCESS"}), RET_KILL_PROCESS),
        (json!({"action": "SCMP_ACT_TRAP"}), RET_TRAP),
        (json!({"action": "SCMP_ACT_TRACE"}), RET_TRACE | 1),
        (
            json!({"action": "SCMP_ACT_TRACE", "errnoRet": 7}),
            RET_TRACE | 7,
        ),
        (json!({"action": "SCMP_ACT_LOG"}), RET_LOG),
        (json!({"action": "SCMP_ACT_NOTIFY"}), RET_USER_NOTIF),
    ];
    for (mut rule, want) in cases {
        rule["names"] = json!(["mkdir"]);
        let p = prog(json!({
            "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 99,
            "listenerPath": "/run/agent.sock",
            "syscalls": [rule],
        }));
        assert_eq!(x64(&p, "mkdir", NO_ARGS), want, "{rule}");
        // getpid (39) is below mkdir (83), so the ENOSYS stub does not apply.
        assert_eq!(
            x64(&p, "getpid", NO_ARGS),
            RET_ERRNO | 99,
            "default for {rule}"
        );
    }
}

#[test]
fn default_actions() {
    for (default, want) in [
        (json!({"defaultAction": "SCMP_ACT_ALLOW"}), RET_ALLOW),
        (json!({"defaultAction": "SCMP_ACT_ERRNO"}), EPERM),
        (
            json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38}),
            ENOSYS,
        ),
        (json!({"defaultAction": "SCMP_ACT_KILL"}), RET_KILL_THREAD),
        (
            json!({"defaultAction": "SCMP_ACT_KILL_PROCESS"}),
            RET_KILL_PROCESS,
        ),
        (json!({"defaultAction": "SCMP_ACT_TRAP"}), RET_TRAP),
        (json!({"defaultAction": "SCMP_ACT_LOG"}), RET_LOG),
        (
            json!({"defaultAction": "SCMP_ACT_TRACE", "defaultErrnoRet": 3}),
            RET_TRACE | 3,
        ),
    ] {
        let p = prog(default.clone());
        assert_eq!(x64(&p, "getpid", NO_ARGS), want, "{default}");
    }
}

// ---------------------------------------------------------------- operators

/// Values whose halves differ in every direction: hi/lo smaller, equal, larger.
const EDGES: [u64; 12] = [
    0,
    1,
    5,
    0xffff_ffff,
    0x1_0000_0000,
    0x1_0000_0004,
    0x1_0000_0005,
    0x1_0000_0006,
    0x1_ffff_ffff,
    0x2_0000_0000,
    0x8000_0000_0000_0000,
    u64::MAX,
];

#[test]
fn every_operator_on_64_bit_halves() {
    type Reference = fn(u64, u64) -> bool;
    let ops: [(&str, Reference); 6] = [
        ("SCMP_CMP_NE", |a, v| a != v),
        ("SCMP_CMP_LT", |a, v| a < v),
        ("SCMP_CMP_LE", |a, v| a <= v),
        ("SCMP_CMP_EQ", |a, v| a == v),
        ("SCMP_CMP_GE", |a, v| a >= v),
        ("SCMP_CMP_GT", |a, v| a > v),
    ];
    for (op, reference) in ops {
        for v in EDGES {
            let p = prog(json!({
                "defaultAction": "SCMP_ACT_ERRNO",
                "syscalls": [{"names": ["lseek"], "action": "SCMP_ACT_ALLOW",
                              "args": [{"index": 1, "value": v, "op": op}]}],
            }));
            for a in EDGES {
                let want = if reference(a, v) { RET_ALLOW } else { EPERM };
                assert_eq!(x64(&p, "lseek", arg(1, a)), want, "{a:#x} {op} {v:#x}");
            }
        }
    }
}

#[test]
fn masked_eq_on_both_halves() {
    let masks = [
        0,
        0xff,
        0x7e02_0000,
        0xffff_ffff_0000_0000,
        0x0000_0f00_0000_00f0,
        u64::MAX,
    ];
    for mask in masks {
        for datum in [
            0,
            0x20000,
            0xf0,
            0x0000_0300_0000_0010,
            0xffff_ffff_0000_0000,
        ] {
            let p = prog(json!({
                "defaultAction": "SCMP_ACT_ERRNO",
                "syscalls": [{"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                              "args": [{"index": 0, "value": mask, "valueTwo": datum,
                                        "op": "SCMP_CMP_MASKED_EQ"}]}],
            }));
            for a in EDGES
                .iter()
                .chain(&[0x20000, 0x2_0000_0000_00f0, 0x0000_0300_1234_0010])
            {
                let want = if a & mask == datum { RET_ALLOW } else { EPERM };
                assert_eq!(
                    x64(&p, "clone", arg(0, *a)),
                    want,
                    "{a:#x} & {mask:#x} == {datum:#x}"
                );
            }
        }
    }
}

#[test]
fn compat_abis_compare_the_low_32_bits_like_libseccomp() {
    let p = prog(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 0x1_0000_0008u64, "op": "SCMP_CMP_EQ"}]},
            {"names": ["personality"], "action": "SCMP_ACT_LOG",
             "args": [{"index": 0, "value": 0xf0, "valueTwo": 0x1_0000_0010u64,
                       "op": "SCMP_CMP_MASKED_EQ"}]},
        ],
    }));
    let i386 = nr(Abi::I386, "personality");
    let x32 = nr(Abi::X32, "personality");
    for (arch, n) in [(AUDIT_ARCH_I386, i386), (AUDIT_ARCH_X86_64, x32)] {
        assert_eq!(on(&p, arch, n, arg(0, 8)), RET_ALLOW);
        assert_eq!(on(&p, arch, n, arg(0, 0x7_0000_0008)), RET_ALLOW);
        assert_eq!(on(&p, arch, n, arg(0, 9)), EPERM);
        assert_eq!(on(&p, arch, n, arg(0, 0x11)), RET_LOG);
    }
    // x86_64 compares all 64 bits.
    assert_eq!(x64(&p, "personality", arg(0, 8)), EPERM);
    assert_eq!(x64(&p, "personality", arg(0, 0x1_0000_0008)), RET_ALLOW);
    assert_eq!(x64(&p, "personality", arg(0, 0x11)), EPERM);
}

#[test]
fn conditions_on_different_args_are_anded() {
    let p = prog(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 97,
                      "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_EQ"},
                               {"index": 2, "value": 0, "op": "SCMP_CMP_NE"},
                               {"index": 5, "value": 0x1_0000_0000u64, "op": "SCMP_CMP_LT"}]}],
    }));
    assert_eq!(x64(&p, "socket", [40, 0, 1, 0, 0, 0]), RET_ERRNO | 97);
    assert_eq!(x64(&p, "socket", [40, 0, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(x64(&p, "socket", [41, 0, 1, 0, 0, 0]), RET_ALLOW);
    assert_eq!(
        x64(&p, "socket", [40, 0, 1, 0, 0, 0x1_0000_0000]),
        RET_ALLOW
    );
    assert_eq!(x64(&p, "socket", [0x1_0000_0028, 0, 1, 0, 0, 0]), RET_ALLOW);
}

#[test]
fn conditions_on_the_same_arg_are_ored_like_runc() {
    // runc turns a rule with two conditions on one argument into two rules.
    let p = prog(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                      "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"},
                               {"index": 0, "value": 0x20000, "op": "SCMP_CMP_EQ"}]}],
    }));
    assert_eq!(x64(&p, "personality", arg(0, 8)), RET_ALLOW);
    assert_eq!(x64(&p, "personality", arg(0, 0x20000)), RET_ALLOW);
    assert_eq!(x64(&p, "personality", arg(0, 0x20008)), EPERM);
}

// ---------------------------------------------------------------- rule merging

#[test]
fn several_rules_per_syscall_first_match_wins() {
    let p = prog(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5,
             "args": [{"index": 0, "value": 7, "op": "SCMP_CMP_EQ"}]},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 5, "op": "SCMP_CMP_GE"}]},
            {"names": ["personality"], "action": "SCMP_ACT_LOG",
             "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
        ],
    }));
    assert_eq!(x64(&p, "personality", arg(0, 7)), RET_ERRNO | 5);
    assert_eq!(x64(&p, "personality", arg(0, 6)), RET_ALLOW);
    assert_eq!(x64(&p, "personality", arg(0, 0)), RET_LOG);
    assert_eq!(x64(&p, "personality", arg(0, 1)), EPERM);
}

#[test]
fn unconditional_rules_merge_like_libseccomp() {
    // An unconditional rule replaces earlier conditional ones...
    let p = prog(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5,
             "args": [{"index": 0, "value": 7, "op": "SCMP_CMP_EQ"}]},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["personality"], "action": "SCMP_ACT_KILL"},
        ],
    }));
    assert_eq!(x64(&p, "personality", arg(0, 7)), RET_ALLOW);
    assert_eq!(x64(&p, "personality", arg(0, 1)), RET_ALLOW);
    // ...and later rules of any kind are dropped (podman's profile allows setns, then denies it).
    let p = prog(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {"names": ["setns"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["setns"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
            {"names": ["setns"], "action": "SCMP_ACT_TRAP",
             "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}]},
        ],
    }));
    assert_eq!(x64(&p, "setns", NO_ARGS), RET_ALLOW);
}

#[test]
fn rules_equal_to_the_default_are_skipped_like_runc() {
    // Without the skip, the unconditional EPERM rule would wipe out the conditional ALLOW.
    let p = prog(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {"names": ["mkdir"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 1, "value": 0o755, "op": "SCMP_CMP_EQ"}]},
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
        ],
    }));
    assert_eq!(x64(&p, "mkdir", arg(1, 0o755)), RET_ALLOW);
    assert_eq!(x64(&p, "mkdir", arg(1, 0o700)), EPERM);
}

#[test]
fn unknown_names_are_skipped_per_abi() {
    let p = prog(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "syscalls": [{"names": ["no_such_syscall", "socketcall", "mkdir"],
                      "action": "SCMP_ACT_ALLOW"}],
    }));
    assert_eq!(x64(&p, "mkdir", NO_ARGS), RET_ALLOW);
    assert_eq!(
        on(&p, AUDIT_ARCH_I386, nr(Abi::I386, "socketcall"), NO_ARGS),
        RET_ALLOW
    );
    assert_eq!(
        on(&p, AUDIT_ARCH_I386, nr(Abi::I386, "mkdir"), NO_ARGS),
        RET_ALLOW
    );
    // x86_64 number 50 is listen, not i386's 50 (getegid).
    assert_eq!(on(&p, AUDIT_ARCH_I386, 50, NO_ARGS), EPERM);
    assert_eq!(on(&p, AUDIT_ARCH_X86_64, 50, NO_ARGS), EPERM);
}

// ---------------------------------------------------------------- architectures

#[test]
fn architectures_and_the_x32_bit() {
    let rules = json!([{"names": ["mkdir", "rt_sigaction"], "action": "SCMP_ACT_ALLOW"}]);
    let native_only = prog(json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": rules}));
    let all = prog(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64"],
        "syscalls": rules,
    }));
    let x32_mkdir = nr(Abi::X32, "mkdir");
    assert_eq!(x32_mkdir, X32_SYSCALL_BIT | 83);
    // The native ABI is always in the filter.
    for p in [&native_only, &all] {
        assert_eq!(x64(p, "mkdir", NO_ARGS), RET_ALLOW);
        assert_eq!(x64(p, "rt_sigaction", NO_ARGS), RET_ALLOW);
        // An architecture the kernel reports but the filter does not know: bad-arch action.
        assert_eq!(on(p, AUDIT_ARCH_AARCH64, 34, NO_ARGS), RET_KILL_THREAD);
    }
    // Compat ABIs only when listed.
    assert_eq!(
        on(&native_only, AUDIT_ARCH_I386, 39, NO_ARGS),
        RET_KILL_THREAD
    );
    assert_eq!(
        on(&native_only, AUDIT_ARCH_X86_64, x32_mkdir, NO_ARGS),
        RET_KILL_THREAD
    );
    assert_eq!(on(&all, AUDIT_ARCH_I386, 39, NO_ARGS), RET_ALLOW); // i386 mkdir
    assert_eq!(on(&all, AUDIT_ARCH_I386, 83, NO_ARGS), EPERM); // i386 83 is symlink
    assert_eq!(on(&all, AUDIT_ARCH_X86_64, x32_mkdir, NO_ARGS), RET_ALLOW);
    // x32 rt_sigaction is 512 | bit; x86_64's 13 with the x32 bit is not an x32 syscall.
    assert_eq!(
        on(&all, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 512, NO_ARGS),
        RET_ALLOW
    );
    assert_eq!(
        on(&all, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 13, NO_ARGS),
        EPERM
    );
    // Bit 31 set, bit 30 clear: runc's stub sees an x86_64 number above the highest (ENOSYS);
    // without the stub, libseccomp treats any number >= the x32 bit as x32 (bad arch here).
    assert_eq!(
        on(&native_only, AUDIT_ARCH_X86_64, 0x8000_0053, NO_ARGS),
        ENOSYS
    );
    let permissive = prog(json!({"defaultAction": "SCMP_ACT_ALLOW",
                                 "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_LOG"}]}));
    assert_eq!(
        on(&permissive, AUDIT_ARCH_X86_64, 0x8000_0053, NO_ARGS),
        RET_KILL_THREAD
    );
    assert_eq!(on(&all, AUDIT_ARCH_X86_64, 0x8000_0053, NO_ARGS), ENOSYS);
}

// ---------------------------------------------------------------- ENOSYS stub

#[test]
fn enosys_stub_for_syscalls_newer_than_the_profile() {
    let rules = json!([{"names": ["read", "mkdir", "exit_group"], "action": "SCMP_ACT_ALLOW"}]);
    let p = prog(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": rules,
    }));
    let highest = nr(Abi::X86_64, "exit_group"); // 231
    assert_eq!(on(&p, AUDIT_ARCH_X86_64, highest, NO_ARGS), RET_ALLOW);
    assert_eq!(
        on(&p, AUDIT_ARCH_X86_64, 100, NO_ARGS),
        EPERM,
        "known range: default"
    );
    assert_eq!(on(&p, AUDIT_ARCH_X86_64, highest + 1, NO_ARGS), ENOSYS);
    assert_eq!(x64(&p, "clone3", NO_ARGS), ENOSYS);
    assert_eq!(on(&p, AUDIT_ARCH_X86_64, 0x3fff_ffff, NO_ARGS), ENOSYS);
    // Per ABI: i386 exit_group is 252; x32 uses its own highest number.
    assert_eq!(on(&p, AUDIT_ARCH_I386, 252, NO_ARGS), RET_ALLOW);
    assert_eq!(on(&p, AUDIT_ARCH_I386, 251, NO_ARGS), EPERM);
    assert_eq!(on(&p, AUDIT_ARCH_I386, 253, NO_ARGS), ENOSYS);
    assert_eq!(
        on(&p, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 231, NO_ARGS),
        RET_ALLOW
    );
    assert_eq!(
        on(&p, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 200, NO_ARGS),
        EPERM
    );
    assert_eq!(
        on(&p, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 232, NO_ARGS),
        ENOSYS
    );

    // Also with KILL/TRAP defaults; not with permissive defaults or an ENOSYS default.
    for (default, beyond) in [
        (json!({"defaultAction": "SCMP_ACT_KILL_PROCESS"}), ENOSYS),
        (json!({"defaultAction": "SCMP_ACT_TRAP"}), ENOSYS),
        (json!({"defaultAction": "SCMP_ACT_ALLOW"}), RET_ALLOW),
        (json!({"defaultAction": "SCMP_ACT_LOG"}), RET_LOG),
        (json!({"defaultAction": "SCMP_ACT_TRACE"}), RET_TRACE | 1),
        (
            json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38}),
            ENOSYS,
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 13}),
            ENOSYS,
        ),
    ] {
        let mut v = default.clone();
        v["syscalls"] = json!([{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 2}]);
        let p = prog(v);
        assert_eq!(x64(&p, "mkdir", NO_ARGS), RET_ERRNO | 2);
        assert_eq!(x64(&p, "clone3", NO_ARGS), beyond, "{default}");
    }
    // runc's quirk: a profile whose highest syscall is number 0 gets no stub.
    let p = prog(json!({"defaultAction": "SCMP_ACT_ERRNO",
                        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}));
    assert_eq!(x64(&p, "clone3", NO_ARGS), EPERM);
}

// ---------------------------------------------------------------- flags and errors

#[test]
fn flags() {
    let p = prog(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                  "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
    }));
    assert_eq!(p.flags, FLAG_TSYNC | FLAG_LOG | FLAG_SPEC_ALLOW);
    assert!(!p.uses_notify());
    let p = prog(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": "/run/agent.sock",
        "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}],
    }));
    assert_eq!(
        p.flags,
        FLAG_TSYNC | FLAG_TSYNC_ESRCH | FLAG_NEW_LISTENER | FLAG_WAIT_KILLABLE_RECV
    );
    assert!(p.uses_notify());
}

#[test]
fn errors_name_the_field() {
    let cases = [
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}),
            "linux.seccomp.syscalls[1].args[0].index: 6 is out of range (0 to 5)",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1}]}),
            "linux.seccomp.syscalls[0].errnoRet: only valid with SCMP_ACT_ERRNO or \
             SCMP_ACT_TRACE, not SCMP_ACT_ALLOW",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_KILL", "defaultErrnoRet": 1}),
            "linux.seccomp.defaultErrnoRet: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, \
             not SCMP_ACT_KILL",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5000}]}),
            "linux.seccomp.syscalls[0].errnoRet: 5000 is out of range (0 to 4095)",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_NOTIFY"}),
            "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be used as the default action",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/a", "syscalls": [
                {"names": ["read", "write"], "action": "SCMP_ACT_NOTIFY"}]}),
            "linux.seccomp.syscalls[0].names[1]: SCMP_ACT_NOTIFY cannot be used for the write \
             syscall",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]}),
            "linux.seccomp.listenerPath: required when a rule uses SCMP_ACT_NOTIFY",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": [], "action": "SCMP_ACT_ERRNO"}]}),
            "linux.seccomp.syscalls[0].names: empty",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["read", ""], "action": "SCMP_ACT_ERRNO"}]}),
            "linux.seccomp.syscalls[0].names[1]: empty string is not a valid syscall",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 0, "value": 1, "valueTwo": 2, "op": "SCMP_CMP_EQ"}]}]}),
            "linux.seccomp.syscalls[0].args[0].valueTwo: only used with SCMP_CMP_MASKED_EQ, \
             not SCMP_CMP_EQ",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW",
                   "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]}),
            "linux.seccomp.flags[1]: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs a rule with \
             SCMP_ACT_NOTIFY",
        ),
    ];
    for (v, want) in cases {
        assert_eq!(err(v), want);
    }
    // valueTwo 0 (how Docker-style profiles spell "absent") is fine with any operator.
    prog(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 0, "value": 1, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]}]}));
}

// ---------------------------------------------------------------- long programs

/// A rule for every x86_64 syscall, alternating actions, with argument rules sprinkled in, so
/// that the search tree and the rule blocks need jumps longer than 255 instructions.
#[test]
fn long_programs_use_trampolines_and_stay_correct() {
    let mut rules = Vec::new();
    for (i, (name, _)) in tables::X86_64.iter().enumerate() {
        let mut r = json!({"names": [name], "action": "SCMP_ACT_ERRNO", "errnoRet": i % 4000 + 2});
        if i % 3 == 0 {
            r["args"] = json!([{"index": i % 6, "value": (i as u64) << 32 | 7, "op": "SCMP_CMP_GT"},
                               {"index": (i + 1) % 6, "value": 3, "op": "SCMP_CMP_NE"}]);
        }
        rules.push(r);
    }
    let p = prog(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules}));
    assert!(p.insns().len() > 2 * 256, "long enough to need trampolines");
    let has_far_jump = p.insns().iter().any(|i| i.code == super::bpf::JA);
    assert!(has_far_jump);
    for (i, (name, n)) in tables::X86_64.iter().enumerate() {
        let errno = RET_ERRNO | (i as u32 % 4000 + 2);
        if i % 3 == 0 {
            let mut args = [0u64; 6];
            args[i % 6] = (i as u64) << 32 | 8;
            args[(i + 1) % 6] = 4;
            assert_eq!(on(&p, AUDIT_ARCH_X86_64, *n, args), errno, "{name}");
            args[(i + 1) % 6] = 3;
            assert_eq!(on(&p, AUDIT_ARCH_X86_64, *n, args), RET_ALLOW, "{name}");
        } else {
            assert_eq!(on(&p, AUDIT_ARCH_X86_64, *n, NO_ARGS), errno, "{name}");
        }
    }
}

// ---------------------------------------------------------------- real engine profiles

fn containerd() -> SeccompProgram {
    prog(serde_json::from_str(include_str!("testdata/containerd-1.6.json")).unwrap())
}

fn podman() -> SeccompProgram {
    prog(serde_json::from_str(include_str!("testdata/podman-4.3.json")).unwrap())
}

const CLONE_NEWNS: u64 = 0x0002_0000;
const CLONE_NEWUSER: u64 = 0x1000_0000;
const THREAD_FLAGS: u64 = 0x003d_0f00; // what glibc's pthread_create passes to clone

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

// ---------------------------------------------------------------- system tests

mod system {
    use std::os::fd::{AsFd, OwnedFd};
    use std::os::unix::net::UnixListener;
    use std::path::PathBuf;
    use std::sync::Mutex;

    use nix::errno::Errno;
    use nix::sys::personality::{self, Persona};
    use nix::sys::signal::Signal;
    use nix::sys::stat::Mode;
    use nix::sys::wait::{waitpid, WaitStatus};
    use nix::unistd::{Pid, Whence};
    use serde_json::json;

    use super::{profile, prog};
    use crate::security::seccomp::{compile, process_state, send_to_listener};
    use crate::sys::seccomp::testing::{fork_run, notif_recv, notif_send, recv_with_fds};

    /// Forks in this module are serialized so that children do not inherit each other's fds.
    static FORK: Mutex<()> = Mutex::new(());

    /// A temporary directory removed on drop (even when the test fails).
    struct TempDir(PathBuf);
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

    fn errno_of<T>(r: nix::Result<T>) -> i32 {
        match r {
            Ok(_) => 0,
            Err(e) => e as i32,
        }
    }

    fn io_errno(r: std::io::Result<()>) -> i32 {
        match r {
            Ok(()) => 0,
            Err(e) => e.raw_os_error().unwrap_or(-1),
        }
    }

    /// Fork a child that sets no_new_privs, loads `program`, runs `probes` and writes their
    /// results (0 or the errno) to a pipe. Returns the results and how the child ended.
    fn run_child(
        program: &crate::security::seccomp::SeccompProgram,
        probes: Vec<Box<dyn Fn() -> i32>>,
    ) -> (Vec<i32>, WaitStatus) {
        let _g = FORK.lock().unwrap_or_else(|e| e.into_inner());
        let (rd, wr) = nix::unistd::pipe().unwrap();
        let child = fork_run(|| {
            if nix::sys::prctl::set_no_new_privs().is_err() {
                return 100;
            }
            if program.load().is_err() {
                return 101;
            }
            let mut out = Vec::with_capacity(4 * probes.len());
            for probe in &probes {
                out.extend_from_slice(&probe().to_ne_bytes());
            }
            match nix::unistd::write(&wr, &out) {
                Ok(n) if n == out.len() => 0,
                _ => 102,
            }
        })
        .unwrap();
        drop(wr);
        let mut buf = Vec::new();
        let mut chunk = [0u8; 256];
        loop {
            match nix::unistd::read(&rd, &mut chunk) {
                Ok(0) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(Errno::EINTR) => continue,
                Err(e) => panic!("read: {e}"),
            }
        }
        let status = waitpid(child, None).unwrap();
        let results = buf
            .chunks_exact(4)
            .map(|c| i32::from_ne_bytes(c.try_into().unwrap()))
            .collect();
        (results, status)
    }

    fn dev_null() -> OwnedFd {
        std::fs::File::open("/dev/null").unwrap().into()
    }

    #[test]
    fn sys_errno_allow_trace_log_and_args() {
        let dir = TempDir::new("errno");
        let (a, b, c) = (dir.0.join("a"), dir.0.join("b"), dir.0.join("c"));
        std::fs::create_dir(&b).unwrap();
        let null = dev_null();
        let p = prog(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 123},
                {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["chdir"], "action": "SCMP_ACT_TRACE"},
                {"names": ["getppid"], "action": "SCMP_ACT_LOG"},
                {"names": ["lseek"], "action": "SCMP_ACT_ERRNO", "errnoRet": 77,
                 "args": [{"index": 1, "value": 0x1_0000_0005u64, "op": "SCMP_CMP_EQ"}]},
                {"names": ["lseek"], "action": "SCMP_ACT_ERRNO", "errnoRet": 78,
                 "args": [{"index": 1, "value": 0xffff_ffff_0000_0000u64, "op": "SCMP_CMP_GE"}]},
            ],
        }));
        let probes: Vec<Box<dyn Fn() -> i32>> = vec![
            Box::new(|| i32::from(nix::unistd::getpid().as_raw() <= 0)),
            Box::new(move || errno_of(nix::unistd::mkdir(&a, Mode::from_bits_truncate(0o700)))),
            Box::new(move || io_errno(std::fs::remove_dir(&b))),
            Box::new(move || errno_of(nix::unistd::chdir(&c))),
            Box::new(|| i32::from(nix::unistd::getppid().as_raw() <= 0)),
            Box::new({
                let fd = null.try_clone().unwrap();
                move || errno_of(nix::unistd::lseek(&fd, 5, Whence::SeekSet))
            }),
            Box::new({
                let fd = null.try_clone().unwrap();
                move || errno_of(nix::unistd::lseek(&fd, 0x1_0000_0005, Whence::SeekSet))
            }),
            Box::new({
                let fd = null.try_clone().unwrap();
                move || errno_of(nix::unistd::lseek(&fd, 0x1_0000_0006, Whence::SeekSet))
            }),
            Box::new({
                let fd = null.try_clone().unwrap();
                move || errno_of(nix::unistd::lseek(&fd, -5, Whence::SeekSet))
            }),
        ];
        let (results, status) = run_child(&p, probes);
        assert!(matches!(status, WaitStatus::Exited(_, 0)), "{status:?}");
        // getpid ok, mkdir 123, rmdir EPERM, chdir (TRACE, no tracer) ENOSYS, getppid logged
        // and allowed, lseek by 64-bit offset: exact 0x1_0000_0005 -> 77, negative -> 78.
        assert_eq!(results, vec![0, 123, 1, 38, 0, 0, 77, 0, 78]);
        assert!(dir.0.join("b").exists(), "rmdir was refused");
        assert!(!dir.0.join("a").exists(), "mkdir was refused");
    }

    #[test]
    fn sys_enosys_stub_and_default_errno() {
        let dir = TempDir::new("enosys");
        let a = dir.0.join("a");
        let dirfd = std::fs::File::open(&dir.0).unwrap();
        // Default EPERM; the highest allowed syscall is exit_group (231), so mkdirat (258) is
        // "newer than the profile" and gets ENOSYS, while mkdir (83) gets the default.
        let p = prog(json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": ["write", "exit_group", "brk", "mmap", "munmap", "mremap",
                                    "getpid", "madvise", "rt_sigprocmask", "sigaltstack"],
                          "action": "SCMP_ACT_ALLOW"}],
        }));
        let probes: Vec<Box<dyn Fn() -> i32>> = vec![
            Box::new(|| i32::from(nix::unistd::getpid().as_raw() <= 0)),
            Box::new(move || errno_of(nix::unistd::mkdir(&a, Mode::from_bits_truncate(0o700)))),
            Box::new(move || {
                errno_of(nix::sys::stat::mkdirat(
                    &dirfd,
                    "b",
                    Mode::from_bits_truncate(0o700),
                ))
            }),
        ];
        let (results, status) = run_child(&p, probes);
        assert!(matches!(status, WaitStatus::Exited(_, 0)), "{status:?}");
        assert_eq!(results, vec![0, libc::EPERM, libc::ENOSYS]);
    }

    #[test]
    fn sys_containerd_profile_personality_and_unshare() {
        let p = super::containerd();
        let probes: Vec<Box<dyn Fn() -> i32>> = vec![
            Box::new(|| errno_of(personality::get())),
            Box::new(|| errno_of(personality::set(Persona::empty()))),
            Box::new(|| errno_of(personality::set(Persona::ADDR_NO_RANDOMIZE))),
            Box::new(|| errno_of(nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUTS))),
        ];
        let (results, status) = run_child(&p, probes);
        assert!(matches!(status, WaitStatus::Exited(_, 0)), "{status:?}");
        assert_eq!(results, vec![0, 0, libc::EPERM, libc::EPERM]);
    }

    fn killed_by(action: &str) -> WaitStatus {
        let p = prog(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getppid"], "action": action}],
        }));
        let probes: Vec<Box<dyn Fn() -> i32>> = vec![Box::new(|| nix::unistd::getppid().as_raw())];
        let (results, status) = run_child(&p, probes);
        assert!(
            results.is_empty(),
            "{action}: the child went on: {results:?}"
        );
        status
    }

    #[test]
    fn sys_kill_actions_end_the_child_with_sigsys() {
        for action in [
            "SCMP_ACT_KILL",
            "SCMP_ACT_KILL_THREAD",
            "SCMP_ACT_KILL_PROCESS",
            "SCMP_ACT_TRAP",
        ] {
            match killed_by(action) {
                WaitStatus::Signaled(_, Signal::SIGSYS, _) => {}
                other => panic!("{action}: {other:?}"),
            }
        }
    }

    #[test]
    fn sys_flags_are_accepted_by_the_kernel() {
        let p = prog(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                      "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
            "syscalls": [{"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 9}],
        }));
        let probes: Vec<Box<dyn Fn() -> i32>> = vec![Box::new(|| {
            io_errno(std::fs::remove_dir("/nonexistent-husk-test"))
        })];
        let (results, status) = run_child(&p, probes);
        assert!(matches!(status, WaitStatus::Exited(_, 0)), "{status:?}");
        assert_eq!(results, vec![9]);
    }

    /// SCMP_ACT_NOTIFY end to end: the child loads the filter and sends the fd with the state to
    /// a listener (this test, as the agent), which answers the child's mkdir with EXDEV.
    #[test]
    fn sys_notify_sends_fd_and_state_to_the_listener() {
        let dir = TempDir::new("notify");
        let sock = dir.0.join("agent.sock");
        let target = dir.0.join("x");
        let listener = UnixListener::bind(&sock).unwrap();
        let p = compile(&profile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": sock,
            "listenerMetadata": "meta=1",
            "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}],
        })))
        .unwrap();
        let _g = FORK.lock().unwrap_or_else(|e| e.into_inner());
        let (rd, wr) = nix::unistd::pipe().unwrap();
        let child = fork_run(|| {
            if nix::sys::prctl::set_no_new_privs().is_err() {
                return 100;
            }
            let Ok(Some(fd)) = p.load() else { return 101 };
            let mut state = oci_spec::runtime::State::default();
            state.set_id("notify-test".into());
            let json = process_state(&state, nix::unistd::getpid().as_raw(), Some("meta=1"));
            if send_to_listener(&sock, &json, fd.as_fd()).is_err() {
                return 102;
            }
            drop(fd);
            let r = errno_of(nix::unistd::mkdir(&target, Mode::from_bits_truncate(0o700)));
            match nix::unistd::write(&wr, &r.to_ne_bytes()) {
                Ok(4) => 0,
                _ => 103,
            }
        })
        .unwrap();
        drop(wr);
        let reap = |child: Pid| waitpid(child, None).unwrap();

        // Accept with a bound: a child that failed early must fail the test, not hang it.
        let mut pfd = [nix::poll::PollFd::new(
            listener.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let ready = nix::poll::poll(&mut pfd, 10_000u16).unwrap();
        if ready == 0 {
            let _ = nix::sys::signal::kill(child, Signal::SIGKILL);
            panic!("no connection from the child: {:?}", reap(child));
        }
        let (conn, _) = listener.accept().unwrap();
        let (data, mut fds) = recv_with_fds(conn.as_fd()).unwrap();
        assert_eq!(fds.len(), 1, "one fd as SCM_RIGHTS");
        let notify = fds.remove(0);
        let state: serde_json::Value = serde_json::from_slice(&data).unwrap();
        assert_eq!(state["fds"], json!(["seccompFd"]));
        assert_eq!(state["pid"], json!(child.as_raw()));
        assert_eq!(state["metadata"], json!("meta=1"));
        assert_eq!(state["state"]["id"], json!("notify-test"));

        let (id, pid, nr, _args) = notif_recv(notify.as_fd()).unwrap();
        assert_eq!(pid, child.as_raw() as u32);
        assert_eq!(i64::from(nr), libc::SYS_mkdir);
        notif_send(notify.as_fd(), id, 0, -libc::EXDEV).unwrap();

        let mut buf = [0u8; 4];
        let n = nix::unistd::read(&rd, &mut buf).unwrap();
        let status = reap(child);
        assert!(matches!(status, WaitStatus::Exited(_, 0)), "{status:?}");
        assert_eq!(n, 4);
        assert_eq!(i32::from_ne_bytes(buf), libc::EXDEV);
        assert!(!dir.0.join("x").exists());
    }
}

// ---------------------------------------------------------------- against libseccomp

/// A program exported by libseccomp (raw `struct sock_filter`s, host endian).
fn parse_bpf(bytes: &[u8]) -> Vec<super::bpf::Insn> {
    bytes
        .chunks_exact(8)
        .map(|c| super::bpf::Insn {
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
    let plan = super::profile::resolve(&seccomp).unwrap();
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
        include_str!("testdata/containerd-1.6.json"),
        include_bytes!("testdata/containerd-1.6.libseccomp-2.5.4.bpf"),
    );
}

#[test]
fn podman_profile_same_as_libseccomp() {
    same_as_libseccomp(
        include_str!("testdata/podman-4.3.json"),
        include_bytes!("testdata/podman-4.3.libseccomp-2.5.4.bpf"),
    );
}

#[test]
fn synthetic_errno_profile_same_as_libseccomp() {
    same_as_libseccomp(
        include_str!("testdata/synthetic-errno.json"),
        include_bytes!("testdata/synthetic-errno.libseccomp-2.5.4.bpf"),
    );
}

#[test]
fn synthetic_allow_profile_same_as_libseccomp() {
    same_as_libseccomp(
        include_str!("testdata/synthetic-allow.json"),
        include_bytes!("testdata/synthetic-allow.libseccomp-2.5.4.bpf"),
    );
}

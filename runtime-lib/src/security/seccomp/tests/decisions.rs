//! Decisions of generated programs for synthetic profiles, one feature at a time.

use serde_json::json;

use super::*;

// ---------------------------------------------------------------- tables

#[test]
fn tables_sorted_and_known_numbers() {
    assert!(
        tables::SYSCALLS.windows(2).all(|w| w[0].0 < w[1].0),
        "sorted by name"
    );
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
            json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "", "syscalls": [
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
fn x86_64_table() -> Vec<(&'static str, u32)> {
    tables::SYSCALLS
        .iter()
        .filter(|(_, n)| n[0] != tables::NONE)
        .map(|(name, n)| (*name, n[0]))
        .collect()
}

#[test]
fn long_programs_use_trampolines_and_stay_correct() {
    let mut rules = Vec::new();
    for (i, (name, _)) in x86_64_table().iter().enumerate() {
        let mut r = json!({"names": [name], "action": "SCMP_ACT_ERRNO", "errnoRet": i % 4000 + 2});
        if i % 3 == 0 {
            r["args"] = json!([{"index": i % 6, "value": (i as u64) << 32 | 7, "op": "SCMP_CMP_GT"},
                               {"index": (i + 1) % 6, "value": 3, "op": "SCMP_CMP_NE"}]);
        }
        rules.push(r);
    }
    let p = prog(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules}));
    assert!(p.insns().len() > 2 * 256, "long enough to need trampolines");
    let has_far_jump = p
        .insns()
        .iter()
        .any(|i| i.code == crate::security::seccomp::bpf::JA);
    assert!(has_far_jump);
    for (i, (name, n)) in x86_64_table().iter().enumerate() {
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

// Unknown action, operator, arch and flag strings never reach `compile`: `oci_spec`'s enums
// reject them while `config.json` is parsed, and serde_path_to_error names the field.
#[test]
fn unknown_enum_strings_are_named_by_the_parser() {
    for (json, path) in [
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["a"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["b"], "action": "X"}]}"#,
            "syscalls[1].action",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"],
                "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_XX"}]}]}"#,
            "syscalls[0].args[0].op",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_VAX"]}"#,
            "architectures[0]",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_NOPE"]}"#,
            "flags[0]",
        ),
    ] {
        let de = &mut serde_json::Deserializer::from_str(json);
        let e = serde_path_to_error::deserialize::<_, oci_spec::runtime::LinuxSeccomp>(de)
            .expect_err(json);
        assert_eq!(e.path().to_string(), path);
        assert!(e.inner().to_string().contains("unknown variant"), "{e}");
    }
}

#[test]
fn features_tell_what_is_implemented_and_what_the_kernel_takes() {
    let f = super::super::features();
    assert_eq!(f.actions().as_ref().unwrap().len(), 9);
    assert_eq!(f.operators().as_ref().unwrap().len(), 7);
    let known = f.known_flags().as_ref().unwrap();
    let supported = f.supported_flags().as_ref().unwrap();
    assert_eq!(known.len(), 4);
    assert!(supported.iter().all(|s| known.contains(s)));
    // This machine's kernel (6.x) has all four (WAIT_KILLABLE_RECV since 5.19).
    let release = nix::sys::utsname::uname().unwrap();
    let release = release.release().to_string_lossy().into_owned();
    let major: u32 = release.split('.').next().unwrap().parse().unwrap();
    if major >= 6 {
        assert_eq!(supported, known);
    } else {
        println!("SKIPPED: kernel {release} may lack some flags");
    }
    // An unknown flag bit is refused by the probe.
    assert!(!crate::sys::seccomp::filter_flags_known(1 << 20));
}

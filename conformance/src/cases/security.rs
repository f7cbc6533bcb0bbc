//! config-linux.md: seccomp, maskedPaths, readonlyPaths, and the LSM fields
//! (process.apparmorProfile, process.selinuxLabel, linux.mountLabel) where the host has them.

use super::{case, Case};
use crate::ctx::{Ctx, R};
use crate::proc::Exit;
use crate::skip;
use serde_json::{json, Value};

pub fn cases() -> Vec<Case> {
    vec![
        case("config-linux/seccomp/filter-mode", seccomp_mode),
        case("config-linux/seccomp/errno-default-eperm", errno_default),
        case("config-linux/seccomp/errnoRet", errno_ret),
        case("config-linux/seccomp/defaultErrnoRet", default_errno_ret),
        case("config-linux/seccomp/kill-thread", |c| {
            kill_action(c, "SCMP_ACT_KILL")
        }),
        case("config-linux/seccomp/kill-process", |c| {
            kill_action(c, "SCMP_ACT_KILL_PROCESS")
        }),
        case("config-linux/seccomp/trap", |c| {
            kill_action(c, "SCMP_ACT_TRAP")
        }),
        case("config-linux/seccomp/log-allows", log_allows),
        case("config-linux/seccomp/other-syscalls-unaffected", unaffected),
        case("config-linux/seccomp/args-eq", args_eq),
        case("config-linux/seccomp/args-masked-eq", args_masked_eq),
        case("config-linux/seccomp/architectures", architectures),
        case("config-linux/seccomp/without-noNewPrivileges", without_nnp),
        case("config-linux/masked-paths/file", masked_file),
        case("config-linux/masked-paths/directory", masked_dir),
        case("config-linux/masked-paths/custom-file", masked_custom),
        case(
            "config-linux/masked-paths/missing-path-ignored",
            masked_missing,
        ),
        case("config-linux/readonly-paths/proc-sys", ro_proc_sys),
        case("config-linux/readonly-paths/sysrq-trigger", ro_sysrq),
        case("config-linux/readonly-paths/custom-directory", ro_custom),
        case(
            "config-linux/readonly-paths/missing-path-ignored",
            ro_missing,
        ),
        case("config/process/apparmorProfile", apparmor),
        case("config/process/selinuxLabel", selinux),
    ]
}

/// mkdir and mkdirat both: glibc's mkdir(3) may use either.
fn seccomp_mkdir(action: &str, errno: Option<u32>) -> Value {
    let mut rule = json!({"names": ["mkdir", "mkdirat"], "action": action});
    if let Some(e) = errno {
        rule["errnoRet"] = json!(e);
    }
    json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule]})
}

fn seccomp_mode(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&[], |cfg| {
        cfg["linux"]["seccomp"] = seccomp_mkdir("SCMP_ACT_ERRNO", None)
    })?;
    c.check("Seccomp mode in /proc/self/status", "2", &r["seccomp"])
}

fn errno_default(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&["mkdir=/tmp/d"], |cfg| {
        cfg["linux"]["seccomp"] = seccomp_mkdir("SCMP_ACT_ERRNO", None)
    })?;
    c.check(
        "mkdir errno with SCMP_ACT_ERRNO and no errnoRet",
        libc::EPERM,
        &r["ops"]["mkdir=/tmp/d"]["errno"],
    )
}

fn errno_ret(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&["mkdir=/tmp/d"], |cfg| {
        cfg["linux"]["seccomp"] = seccomp_mkdir("SCMP_ACT_ERRNO", Some(libc::EXDEV as u32))
    })?;
    c.check(
        "mkdir errno with errnoRet EXDEV",
        libc::EXDEV,
        &r["ops"]["mkdir=/tmp/d"]["errno"],
    )
}

fn default_errno_ret(c: &mut Ctx<'_>) -> R {
    // defaultErrnoRet belongs to the DEFAULT action, so the default must be ERRNO: the probe
    // runs under an allow-list of what a static binary (and a runtime's last steps before
    // execve) use; mkdir is not on it and must fail with the default errno.
    let allowed = [
        "execve",
        "execveat",
        "brk",
        "arch_prctl",
        "set_tid_address",
        "set_robust_list",
        "rseq",
        "prlimit64",
        "mmap",
        "munmap",
        "mprotect",
        "exit",
        "exit_group",
        "getuid",
        "geteuid",
        "getgid",
        "getegid",
        "getpid",
        "getppid",
        "rt_sigaction",
        "rt_sigprocmask",
        "rt_sigreturn",
        "readlink",
        "readlinkat",
        "uname",
        "write",
        "writev",
        "read",
        "close",
        "fstat",
        "newfstatat",
        "statx",
        "openat",
        "open",
        "getrandom",
        "ioctl",
        "fcntl",
        "futex",
        "poll",
        "getcwd",
        "sigaltstack",
        "capget",
        "capset",
        "prctl",
        "setresuid",
        "setresgid",
        "setgroups",
        "setuid",
        "setgid",
        "getdents64",
        "lseek",
        "access",
        "faccessat",
        "faccessat2",
        "dup",
        "dup2",
        "dup3",
        "pipe",
        "pipe2",
        "wait4",
        "clone",
        "clone3",
        "vfork",
        "fork",
        "kill",
        "tgkill",
        "gettid",
        "nanosleep",
        "clock_nanosleep",
        "clock_gettime",
        "sched_getaffinity",
        "sched_yield",
        "madvise",
        "mremap",
        "close_range",
        "chdir",
        "fchdir",
        "umask",
        "getpgrp",
        "setpgid",
        "setsid",
        "getrlimit",
        "setrlimit",
        "sysinfo",
        "pread64",
        "epoll_create1",
        "epoll_ctl",
        "epoll_wait",
        "epoll_pwait",
        "ppoll",
        "pselect6",
        "select",
        "socket",
        "connect",
        "sendto",
        "recvfrom",
        "fstatfs",
        "statfs",
        "getdents",
        "openat2",
        "fchown",
        "fchownat",
        "sendmsg",
        "recvmsg",
        "setns",
        "unshare",
    ];
    let r = c.probe_with(&["mkdir=/tmp/d"], |cfg| {
        cfg["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": libc::EXDEV,
            "syscalls": [{"names": allowed.to_vec(), "action": "SCMP_ACT_ALLOW"}]
        });
    })?;
    c.check(
        "mkdir errno under defaultAction ERRNO with defaultErrnoRet EXDEV",
        libc::EXDEV,
        &r["ops"]["mkdir=/tmp/d"]["errno"],
    )
}

fn kill_action(c: &mut Ctx<'_>, action: &str) -> R {
    let mut b = c.probe_bundle(&["mkdir=/tmp/d"])?;
    b.config["linux"]["seccomp"] = seccomp_mkdir(action, None);
    let (exit, _) = c.run_container(&b)?;
    c.check(
        &format!("probe calling mkdir under {action}"),
        Exit::Signal(libc::SIGSYS),
        exit,
    )
}

fn log_allows(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&["mkdir=/tmp/d"], |cfg| {
        cfg["linux"]["seccomp"] = seccomp_mkdir("SCMP_ACT_LOG", None)
    })?;
    c.check(
        "mkdir under SCMP_ACT_LOG",
        json!({"ok": true}),
        &r["ops"]["mkdir=/tmp/d"],
    )
}

fn unaffected(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&["create=/tmp/f", "chmod=/tmp:1777"], |cfg| {
        cfg["linux"]["seccomp"] = seccomp_mkdir("SCMP_ACT_ERRNO", None)
    })?;
    c.check(
        "open(O_CREAT) and chmod next to a mkdir rule",
        json!([{"ok": true}, {"ok": true}]),
        json!([r["ops"]["create=/tmp/f"], r["ops"]["chmod=/tmp:1777"]]),
    )
}

/// chmod(2) has the mode at index 1, fchmodat(2) at index 2: glibc's chmod(3) may use either.
fn chmod_rule(op: &str, value: u64, value_two: Option<u64>) -> Value {
    let arg = |index: u32| {
        let mut a = json!({"index": index, "value": value, "op": op});
        if let Some(v2) = value_two {
            a["valueTwo"] = json!(v2);
        }
        a
    };
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "args": [arg(1)]},
            {"names": ["fchmodat"], "action": "SCMP_ACT_ERRNO", "args": [arg(2)]}
        ]
    })
}

fn args_eq(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&["chmod=/tmp/x:777", "chmod=/tmp/x:700"], |cfg| {
        cfg["linux"]["seccomp"] = chmod_rule("SCMP_CMP_EQ", 0o777, None)
    })?;
    // /tmp/x does not exist: an allowed chmod fails with ENOENT, a denied one with EPERM.
    c.check(
        "chmod mode 0777 / 0700 with an EQ 0777 rule: errno",
        json!([libc::EPERM, libc::ENOENT]),
        json!([
            r["ops"]["chmod=/tmp/x:777"]["errno"],
            r["ops"]["chmod=/tmp/x:700"]["errno"]
        ]),
    )
}

fn args_masked_eq(c: &mut Ctx<'_>) -> R {
    // MASKED_EQ: (arg & value) == valueTwo — deny any mode with the setuid bit.
    let r = c.probe_with(&["chmod=/tmp/x:4755", "chmod=/tmp/x:755"], |cfg| {
        cfg["linux"]["seccomp"] = chmod_rule("SCMP_CMP_MASKED_EQ", 0o4000, Some(0o4000))
    })?;
    c.check(
        "chmod 4755 / 755 with MASKED_EQ setuid: errno",
        json!([libc::EPERM, libc::ENOENT]),
        json!([
            r["ops"]["chmod=/tmp/x:4755"]["errno"],
            r["ops"]["chmod=/tmp/x:755"]["errno"]
        ]),
    )
}

fn architectures(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&["mkdir=/tmp/d"], |cfg| {
        let mut s = seccomp_mkdir("SCMP_ACT_ERRNO", None);
        s["architectures"] = json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
        cfg["linux"]["seccomp"] = s;
    })?;
    c.check(
        "mkdir errno with explicit architectures",
        libc::EPERM,
        &r["ops"]["mkdir=/tmp/d"]["errno"],
    )
}

fn without_nnp(c: &mut Ctx<'_>) -> R {
    // Loading a filter without no_new_privs needs CAP_SYS_ADMIN: the runtime must load it
    // before dropping capabilities (or the process would run unfiltered).
    let r = c.probe_with(&["mkdir=/tmp/d"], |cfg| {
        cfg["process"]["noNewPrivileges"] = json!(false);
        cfg["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        cfg["linux"]["seccomp"] = seccomp_mkdir("SCMP_ACT_ERRNO", Some(libc::EXDEV as u32));
    })?;
    c.check(
        "mkdir errno (uid 1000, noNewPrivileges false)",
        libc::EXDEV,
        &r["ops"]["mkdir=/tmp/d"]["errno"],
    )
}

fn masked_file(c: &mut Ctx<'_>) -> R {
    // The first file of the default maskedPaths that this kernel has (no /proc/kcore on some).
    let Some(path) = [
        "/proc/kcore",
        "/proc/keys",
        "/proc/timer_list",
        "/proc/sched_debug",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).is_file()) else {
        skip!("none of the default masked /proc files exists on this kernel (host environment)")
    };
    let op = format!("read={path}");
    let r = c.probe_with(&[&op], |_| {})?;
    c.check(
        &format!("bytes read from masked {path}"),
        0,
        &r["ops"][&op]["len"],
    )
}

fn masked_dir(c: &mut Ctx<'_>) -> R {
    let r = c.probe_with(&["ls=/sys/firmware"], |_| {})?;
    c.check(
        "entries of masked /sys/firmware",
        json!([]),
        &r["ops"]["ls=/sys/firmware"]["entries"],
    )
}

fn masked_custom(c: &mut Ctx<'_>) -> R {
    let mut b = c.probe_bundle(&["read=/etc/secret"])?;
    std::fs::write(b.rootfs().join("etc/secret"), "do not read")?;
    b.config["linux"]["maskedPaths"]
        .as_array_mut()
        .expect("maskedPaths")
        .push(json!("/etc/secret"));
    let r = c.probe(&b)?;
    c.check(
        "bytes read from masked /etc/secret",
        0,
        &r["ops"]["read=/etc/secret"]["len"],
    )
}

fn masked_missing(c: &mut Ctx<'_>) -> R {
    let mut b = c.probe_bundle(&[])?;
    b.config["linux"]["maskedPaths"]
        .as_array_mut()
        .expect("maskedPaths")
        .push(json!("/no/such/path"));
    let (exit, _) = c.run_container(&b)?;
    c.check(
        "probe exit with a masked path that does not exist",
        Exit::Code(0),
        exit,
    )
}

fn ro_proc_sys(c: &mut Ctx<'_>) -> R {
    // The container is root with a fresh UTS namespace: only the read-only mount stops it.
    let r = c.probe_with(&["openw=/proc/sys/kernel/domainname"], |_| {})?;
    c.check(
        "open /proc/sys/kernel/domainname for writing: errno",
        libc::EROFS,
        &r["ops"]["openw=/proc/sys/kernel/domainname"]["errno"],
    )
}

fn ro_sysrq(c: &mut Ctx<'_>) -> R {
    if !std::path::Path::new("/proc/sysrq-trigger").exists() {
        skip!("this kernel has no /proc/sysrq-trigger (CONFIG_MAGIC_SYSRQ off; host environment)");
    }
    // open(2) only, never write: a runtime that fails here would let the write reach the host.
    let r = c.probe_with(&["openw=/proc/sysrq-trigger"], |_| {})?;
    c.check(
        "open /proc/sysrq-trigger for writing: errno",
        libc::EROFS,
        &r["ops"]["openw=/proc/sysrq-trigger"]["errno"],
    )
}

fn ro_custom(c: &mut Ctx<'_>) -> R {
    let mut b = c.probe_bundle(&["create=/etc/new", "create=/tmp/new"])?;
    b.config["linux"]["readonlyPaths"]
        .as_array_mut()
        .expect("readonlyPaths")
        .push(json!("/etc"));
    let r = c.probe(&b)?;
    c.check(
        "create in read-only /etc (errno) and in /tmp",
        json!([libc::EROFS, true]),
        json!([
            r["ops"]["create=/etc/new"]["errno"],
            r["ops"]["create=/tmp/new"]["ok"]
        ]),
    )
}

fn ro_missing(c: &mut Ctx<'_>) -> R {
    let mut b = c.probe_bundle(&[])?;
    b.config["linux"]["readonlyPaths"]
        .as_array_mut()
        .expect("readonlyPaths")
        .push(json!("/no/such/path"));
    let (exit, _) = c.run_container(&b)?;
    c.check(
        "probe exit with a read-only path that does not exist",
        Exit::Code(0),
        exit,
    )
}

fn apparmor(c: &mut Ctx<'_>) -> R {
    let enabled = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .map(|s| s.trim() == "Y")
        .unwrap_or(false);
    if !enabled {
        skip!("AppArmor is not enabled on this host (host environment)");
    }
    let r = c.probe_with(&["read=/proc/self/attr/current"], |cfg| {
        cfg["process"]["apparmorProfile"] = json!("unconfined")
    })?;
    c.check(
        "AppArmor label",
        "unconfined",
        r["ops"]["read=/proc/self/attr/current"]["text"]
            .as_str()
            .map(str::trim),
    )
}

fn selinux(_c: &mut Ctx<'_>) -> R {
    if !std::path::Path::new("/sys/fs/selinux/enforce").exists() {
        skip!("SELinux is not enabled on this host (host environment)");
    }
    skip!("SELinux labels need a policy with container types; not checked")
}

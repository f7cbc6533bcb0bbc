//! `linux.seccomp` resolved into a plan: for each ABI the filter covers, what happens to each
//! syscall number. Pure data; [`super::codegen`] turns it into BPF.
//!
//! The semantics are those of runc with libseccomp, because that is what engines and users
//! test against:
//!
//! - A rule whose action equals the default action is skipped (runc's `matchCall`; libseccomp
//!   refuses such rules). This matters: such a rule would otherwise override conditional rules.
//! - Unknown syscall names are skipped, per ABI (runc logs "unknown seccomp syscall ... ignored").
//! - Several conditions on *different* arguments of one rule are ANDed. Several conditions on the
//!   *same* argument turn into one rule per condition, ORed (runc's "old behaviour" fallback).
//! - Per syscall, libseccomp keeps the first unconditional rule and drops every other rule of
//!   that syscall, earlier conditional ones included. Conditional rules are tried in profile
//!   order, the first match wins, and no match means the default action.
//! - The ENOSYS stub (runc's `patchbpf`): unless the default action is permissive (ALLOW, LOG,
//!   TRACE) or already `ERRNO(ENOSYS)`, a syscall number above the highest one the profile names
//!   for an ABI returns ENOSYS, so that libcs fall back from syscalls newer than the profile
//!   (glibc's clone3 -> clone) instead of failing with the default EPERM.
//! - On i386, rules for socket and SysV IPC calls also apply to the socketcall(2)/ipc(2)
//!   multiplexers with the call number as first argument, as libseccomp adds them.
//! - Argument values are compared as 64-bit unsigned numbers on x86_64, and on their low 32 bits
//!   only on i386 and x32 (libseccomp treats both as 32-bit ABIs and truncates the values).
//! - Architectures: the native one (x86_64) is always in the filter; `SCMP_ARCH_X86` and
//!   `SCMP_ARCH_X32` add the compat ABIs. A syscall from an ABI not in the filter gets
//!   libseccomp's default bad-architecture action, KILL_THREAD. Architectures an x86_64 kernel
//!   never reports (ARM, MIPS, ...) are accepted and, as in libseccomp, can never match.

use std::collections::BTreeMap;

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};

use super::{tables, SeccompError};

pub(crate) const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
pub(crate) const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// x32 syscalls run under AUDIT_ARCH_X86_64 with this bit set in the syscall number.
pub(crate) const X32_SYSCALL_BIT: u32 = 0x4000_0000;

// Filter return values (linux/seccomp.h).
pub(crate) const RET_KILL_PROCESS: u32 = 0x8000_0000;
pub(crate) const RET_KILL_THREAD: u32 = 0x0000_0000;
pub(crate) const RET_TRAP: u32 = 0x0003_0000;
pub(crate) const RET_ERRNO: u32 = 0x0005_0000;
pub(crate) const RET_USER_NOTIF: u32 = 0x7fc0_0000;
pub(crate) const RET_TRACE: u32 = 0x7ff0_0000;
pub(crate) const RET_LOG: u32 = 0x7ffc_0000;
pub(crate) const RET_ALLOW: u32 = 0x7fff_0000;
const RET_ACTION_FULL: u32 = 0xffff_0000;

// seccomp(2) flags.
pub(crate) const FLAG_TSYNC: u32 = 1 << 0;
pub(crate) const FLAG_LOG: u32 = 1 << 1;
pub(crate) const FLAG_SPEC_ALLOW: u32 = 1 << 2;
pub(crate) const FLAG_NEW_LISTENER: u32 = 1 << 3;
pub(crate) const FLAG_TSYNC_ESRCH: u32 = 1 << 4;
pub(crate) const FLAG_WAIT_KILLABLE_RECV: u32 = 1 << 5;

const EPERM: u32 = 1;
const ENOSYS: u32 = 38;
/// The kernel clamps a filter's errno to MAX_ERRNO.
const MAX_ERRNO: u32 = 4095;

/// The three syscall ABIs of an x86_64 kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Abi {
    X86_64,
    X32,
    I386,
}

impl Abi {
    fn column(self) -> usize {
        match self {
            Abi::X86_64 => 0,
            Abi::I386 => 1,
            Abi::X32 => 2,
        }
    }

    /// The syscall number of `name` in this ABI (x32 numbers include [`X32_SYSCALL_BIT`]).
    #[cfg(test)]
    pub(crate) fn lookup(self, name: &str) -> Option<u32> {
        numbers(name).and_then(|n| self.pick(n))
    }

    fn pick(self, numbers: &[u32; 3]) -> Option<u32> {
        Some(numbers[self.column()]).filter(|&n| n != tables::NONE)
    }
}

/// A name's numbers in all three ABIs (one search serves all).
fn numbers(name: &str) -> Option<&'static [u32; 3]> {
    tables::SYSCALLS
        .binary_search_by(|(n, _)| (*n).cmp(name))
        .ok()
        .map(|i| &tables::SYSCALLS[i].1)
}

/// An argument comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cmp {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    /// `(arg & value) == value_two`.
    MaskedEq,
}

/// One condition of a rule: `args[index] <cmp> value`, unsigned (64-bit on x86_64, the low 32
/// bits on the compat ABIs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cond {
    pub(crate) index: u8,
    pub(crate) cmp: Cmp,
    pub(crate) value: u64,
    pub(crate) value_two: u64,
}

/// A conditional rule: all conditions hold -> `action`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rule {
    pub(crate) conds: Vec<Cond>,
    pub(crate) action: u32,
}

/// What happens to one syscall number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Always this action.
    Action(u32),
    /// The first rule that matches; the default action when none does.
    Rules(Vec<Rule>),
}

/// The plan for one ABI.
#[derive(Clone, Debug)]
pub(crate) struct AbiPlan {
    pub(crate) abi: Abi,
    /// Syscall numbers above this return ENOSYS (runc's stub); `None` when the stub is off.
    pub(crate) enosys_above: Option<u32>,
    /// Syscalls with an outcome other than the default action.
    pub(crate) syscalls: BTreeMap<u32, Outcome>,
}

/// The whole filter, before code generation.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub(crate) default: u32,
    /// x86_64 first, then the compat ABIs the profile lists.
    pub(crate) abis: Vec<AbiPlan>,
    /// seccomp(2) flags.
    pub(crate) flags: u32,
}

impl Plan {
    pub(crate) fn abi(&self, abi: Abi) -> Option<&AbiPlan> {
        self.abis.iter().find(|p| p.abi == abi)
    }
}

fn invalid(field: impl Into<String>, msg: impl Into<String>) -> SeccompError {
    SeccompError::Invalid {
        field: field.into(),
        msg: msg.into(),
    }
}

/// The filter return value of an action; `field` names the action, `errno_field` the errnoRet.
fn action_value(
    action: LinuxSeccompAction,
    errno_ret: Option<u32>,
    errno_field: &str,
) -> Result<u32, SeccompError> {
    use LinuxSeccompAction as A;
    let with_data = |base: u32, max: u32| match errno_ret {
        None => Ok(base | EPERM),
        Some(e) if e <= max => Ok(base | e),
        Some(e) => Err(invalid(
            errno_field,
            format!("{e} is out of range (0 to {max})"),
        )),
    };
    let plain = |v: u32| match errno_ret {
        None => Ok(v),
        Some(_) => Err(invalid(
            errno_field,
            format!("only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not {action}"),
        )),
    };
    match action {
        // SCMP_ACT_KILL is libseccomp's old name for KILL_THREAD.
        A::ScmpActKill | A::ScmpActKillThread => plain(RET_KILL_THREAD),
        A::ScmpActKillProcess => plain(RET_KILL_PROCESS),
        A::ScmpActTrap => plain(RET_TRAP),
        A::ScmpActErrno => with_data(RET_ERRNO, MAX_ERRNO),
        // TRACE's data goes to the tracer as the event message (16 bits); without a tracer the
        // kernel fails the syscall with ENOSYS.
        A::ScmpActTrace => with_data(RET_TRACE, 0xffff),
        A::ScmpActLog => plain(RET_LOG),
        A::ScmpActNotify => plain(RET_USER_NOTIF),
        A::ScmpActAllow => plain(RET_ALLOW),
    }
}

fn cmp_of(op: LinuxSeccompOperator) -> Cmp {
    use LinuxSeccompOperator as O;
    match op {
        O::ScmpCmpNe => Cmp::Ne,
        O::ScmpCmpLt => Cmp::Lt,
        O::ScmpCmpLe => Cmp::Le,
        O::ScmpCmpEq => Cmp::Eq,
        O::ScmpCmpGe => Cmp::Ge,
        O::ScmpCmpGt => Cmp::Gt,
        O::ScmpCmpMaskedEq => Cmp::MaskedEq,
    }
}

/// Validate `linux.seccomp` and resolve it for this machine.
pub(crate) fn resolve(seccomp: &LinuxSeccomp) -> Result<Plan, SeccompError> {
    let default_action = seccomp.default_action();
    if default_action == LinuxSeccompAction::ScmpActNotify {
        // libseccomp refuses it: the listener could not be reached before the filter is on.
        return Err(invalid(
            "linux.seccomp.defaultAction",
            "SCMP_ACT_NOTIFY cannot be used as the default action",
        ));
    }
    let default = action_value(
        default_action,
        seccomp.default_errno_ret(),
        "linux.seccomp.defaultErrnoRet",
    )?;

    let abis = abis_of(seccomp);
    let syscalls = seccomp.syscalls().as_deref().unwrap_or_default();
    let mut plans: Vec<AbiPlan> = abis
        .iter()
        .map(|&abi| AbiPlan {
            abi,
            enosys_above: None,
            syscalls: BTreeMap::new(),
        })
        .collect();
    let mut highest = vec![0u32; abis.len()];
    let mut notify = false;

    for (i, sc) in syscalls.iter().enumerate() {
        let field = format!("linux.seccomp.syscalls[{i}]");
        if sc.names().is_empty() {
            return Err(invalid(format!("{field}.names"), "empty"));
        }
        let action = action_value(sc.action(), sc.errno_ret(), &format!("{field}.errnoRet"))?;
        let rules = rules_of(sc.args().as_deref().unwrap_or_default(), action, &field)?;
        if action == RET_USER_NOTIF {
            notify = true;
        }
        for (j, name) in sc.names().iter().enumerate() {
            if name.is_empty() {
                return Err(invalid(
                    format!("{field}.names[{j}]"),
                    "empty string is not a valid syscall",
                ));
            }
            if action == RET_USER_NOTIF && name == "write" {
                // runc's rule: the container process writes to its parent after loading the
                // filter, which would then wait for a listener that is not attached yet.
                return Err(invalid(
                    format!("{field}.names[{j}]"),
                    "SCMP_ACT_NOTIFY cannot be used for the write syscall",
                ));
            }
            let nrs = numbers(name);
            for (plan, high) in plans.iter_mut().zip(highest.iter_mut()) {
                if let Some(nr) = nrs.and_then(|n| plan.abi.pick(n)) {
                    // runc counts every rule, whatever its action, for the ENOSYS stub.
                    *high = (*high).max(nr);
                    if action != default {
                        add_rules(&mut plan.syscalls, nr, &rules);
                    }
                }
                if plan.abi == Abi::I386 && action != default {
                    if let Some((mux, call)) = i386_multiplexed(name) {
                        add_rules(&mut plan.syscalls, mux, &multiplexed(&rules, call));
                    }
                }
            }
        }
    }

    let permissive = matches!(default & RET_ACTION_FULL, RET_ALLOW | RET_LOG | RET_TRACE);
    if !permissive && default != RET_ERRNO | ENOSYS {
        for (plan, high) in plans.iter_mut().zip(highest) {
            // As runc: an ABI whose profile names no syscall (or only number 0) gets no stub.
            if high != 0 {
                plan.enosys_above = Some(high);
            }
        }
    }

    let flags = flags_of(seccomp, notify)?;
    Ok(Plan {
        default,
        abis: plans,
        flags,
    })
}

/// The ABIs in the filter: x86_64 always (libseccomp's native arch), then the listed compat
/// ones.
fn abis_of(seccomp: &LinuxSeccomp) -> Vec<Abi> {
    let mut abis = vec![Abi::X86_64];
    for arch in seccomp.architectures().iter().flatten() {
        let abi = match arch {
            Arch::ScmpArchNative | Arch::ScmpArchX86_64 => Abi::X86_64,
            Arch::ScmpArchX86 => Abi::I386,
            Arch::ScmpArchX32 => Abi::X32,
            // Never reported by an x86_64 kernel: a block for it could never run.
            _ => continue,
        };
        if !abis.contains(&abi) {
            abis.push(abi);
        }
    }

    abis
}

/// The seccomp(2) flags: the profile's, plus what SCMP_ACT_NOTIFY needs.
fn flags_of(seccomp: &LinuxSeccomp, notify: bool) -> Result<u32, SeccompError> {
    let mut flags = 0;
    let mut wait_killable_at = None;
    for (i, flag) in seccomp.flags().iter().flatten().enumerate() {
        flags |= match flag {
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => FLAG_TSYNC,
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => FLAG_SPEC_ALLOW,
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => {
                wait_killable_at = Some(i);
                FLAG_WAIT_KILLABLE_RECV
            }
        };
    }
    if notify {
        flags |= FLAG_NEW_LISTENER;
        // The kernel refuses TSYNC with NEW_LISTENER unless a failed sync reports ESRCH
        // (the return value is the listener fd, so it cannot also be a thread id).
        if flags & FLAG_TSYNC != 0 {
            flags |= FLAG_TSYNC_ESRCH;
        }
        if seccomp
            .listener_path()
            .as_ref()
            .is_none_or(|p| p.as_os_str().is_empty())
        {
            return Err(invalid(
                "linux.seccomp.listenerPath",
                "required when a rule uses SCMP_ACT_NOTIFY",
            ));
        }
    } else if let Some(i) = wait_killable_at {
        // The kernel only accepts it together with a listener (EINVAL otherwise).
        return Err(invalid(
            format!("linux.seccomp.flags[{i}]"),
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs a rule with SCMP_ACT_NOTIFY",
        ));
    }

    Ok(flags)
}

/// The rules one OCI syscall entry stands for (empty conditions = unconditional).
fn rules_of(
    args: &[oci_spec::runtime::LinuxSeccompArg],
    action: u32,
    field: &str,
) -> Result<Vec<Rule>, SeccompError> {
    let mut conds = Vec::with_capacity(args.len());
    let mut per_index = [0usize; 6];
    for (k, arg) in args.iter().enumerate() {
        let index = arg.index();
        if index > 5 {
            return Err(invalid(
                format!("{field}.args[{k}].index"),
                format!("{index} is out of range (0 to 5)"),
            ));
        }
        let cmp = cmp_of(arg.op());
        let value_two = arg.value_two().unwrap_or(0);
        if cmp != Cmp::MaskedEq && value_two != 0 {
            return Err(invalid(
                format!("{field}.args[{k}].valueTwo"),
                format!("only used with SCMP_CMP_MASKED_EQ, not {}", arg.op()),
            ));
        }
        per_index[index] += 1;
        conds.push(Cond {
            index: index as u8,
            cmp,
            value: arg.value(),
            value_two,
        });
    }
    if per_index.iter().any(|&n| n > 1) {
        // runc: "if two or more arguments have the same condition, revert to old behavior,
        // adding each condition as a separate rule".
        Ok(conds
            .into_iter()
            .map(|c| Rule {
                conds: vec![c],
                action,
            })
            .collect())
    } else {
        Ok(vec![Rule { conds, action }])
    }
}

/// i386 socketcall(2) and ipc(2) numbers.
const I386_SOCKETCALL: u32 = 102;
const I386_IPC: u32 = 117;

/// On i386 the socket and SysV IPC calls also go through the socketcall(2) and ipc(2)
/// multiplexers, with the call number in the first argument (linux/net.h SYS_*, linux/ipc.h).
/// libseccomp adds a multiplexer rule for each such name, besides the direct syscall.
fn i386_multiplexed(name: &str) -> Option<(u32, u32)> {
    let socketcall = |call| Some((I386_SOCKETCALL, call));
    let ipc = |call| Some((I386_IPC, call));
    match name {
        "socket" => socketcall(1),
        "bind" => socketcall(2),
        "connect" => socketcall(3),
        "listen" => socketcall(4),
        "accept" => socketcall(5),
        "getsockname" => socketcall(6),
        "getpeername" => socketcall(7),
        "socketpair" => socketcall(8),
        "send" => socketcall(9),
        "recv" => socketcall(10),
        "sendto" => socketcall(11),
        "recvfrom" => socketcall(12),
        "shutdown" => socketcall(13),
        "setsockopt" => socketcall(14),
        "getsockopt" => socketcall(15),
        "sendmsg" => socketcall(16),
        "recvmsg" => socketcall(17),
        "accept4" => socketcall(18),
        "recvmmsg" => socketcall(19),
        "sendmmsg" => socketcall(20),
        "semop" => ipc(1),
        "semget" => ipc(2),
        "semctl" => ipc(3),
        "semtimedop" => ipc(4),
        "msgsnd" => ipc(11),
        "msgrcv" => ipc(12),
        "msgget" => ipc(13),
        "msgctl" => ipc(14),
        "shmat" => ipc(21),
        "shmdt" => ipc(22),
        "shmget" => ipc(23),
        "shmctl" => ipc(24),
        _ => None,
    }
}

/// The multiplexer version of `rules`: the first argument must be `call`. Like libseccomp, this
/// replaces any condition on the first argument and keeps the others at their index (they then
/// look at the multiplexer's own arguments, not the real call's, which live in memory).
fn multiplexed(rules: &[Rule], call: u32) -> Vec<Rule> {
    rules
        .iter()
        .map(|r| {
            let mut conds: Vec<Cond> = r.conds.iter().filter(|c| c.index != 0).copied().collect();
            conds.insert(
                0,
                Cond {
                    index: 0,
                    cmp: Cmp::Eq,
                    value: u64::from(call),
                    value_two: 0,
                },
            );
            Rule {
                conds,
                action: r.action,
            }
        })
        .collect()
}

/// Merge one entry's rules into a syscall's outcome the way libseccomp's rule database does.
fn add_rules(map: &mut BTreeMap<u32, Outcome>, nr: u32, rules: &[Rule]) {
    for rule in rules {
        let new = if rule.conds.is_empty() {
            Outcome::Action(rule.action)
        } else {
            Outcome::Rules(vec![rule.clone()])
        };
        match map.get_mut(&nr) {
            None => {
                map.insert(nr, new);
            }
            // An unconditional rule already covers everything: later rules are dropped.
            Some(Outcome::Action(_)) => {}
            Some(existing @ Outcome::Rules(_)) => match new {
                // An unconditional rule replaces the conditional ones.
                Outcome::Action(_) => *existing = new,
                Outcome::Rules(r) => {
                    if let Outcome::Rules(list) = existing {
                        list.extend(r);
                    }
                }
            },
        }
    }
}

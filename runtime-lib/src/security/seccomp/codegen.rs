//! The plan as classic BPF.
//!
//! Layout of the program:
//!
//! ```text
//!   ld  arch
//!   jeq AUDIT_ARCH_X86_64 -> x86_64      (x86_64 is always in the filter)
//!   jeq AUDIT_ARCH_I386   -> i386        (when SCMP_ARCH_X86 is listed)
//!   ret KILL_THREAD                       (libseccomp's bad-arch action)
//! x86_64:
//!   ld  nr
//!   jset X32_SYSCALL_BIT -> x32 (without x32: -1 gets the default, the rest bad_arch)
//!   jgt highest -> enosys                 (runc's ENOSYS stub, when on)
//!   <search tree over syscall-number intervals>
//! x32:   (same, numbers carry the x32 bit)
//! i386:  ld nr; (same)
//! enosys:   ret ERRNO(ENOSYS)
//! bad_arch: ret KILL_THREAD
//! ```
//!
//! The search tree splits the syscall numbers into intervals with one outcome each (neighbouring
//! numbers with the same action share an interval, so a long run of allowed syscalls costs one
//! leaf), and finds the interval with a balanced tree of `jge` tests: about log2(intervals)
//! comparisons per syscall. A leaf is a `ret`, or, for a syscall with argument rules, the rules
//! in order, each a chain of 32-bit comparisons on the argument halves (on the low halves only
//! for i386 and x32, as libseccomp).

use super::bpf::{arg_hi, arg_lo, Asm, Insn, Label, To, DATA_ARCH, DATA_NR};
use super::bpf::{JEQ_K, JGE_K, JGT_K, JSET_K};
use super::profile::{
    Abi, AbiPlan, Cmp, Cond, Outcome, Plan, Rule, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, RET_ERRNO,
    RET_KILL_THREAD, X32_SYSCALL_BIT,
};

const ENOSYS: u32 = 38;

/// Generate the program. `None` only on an internal assembler error.
pub(crate) fn generate(plan: &Plan) -> Option<Vec<Insn>> {
    let mut a = Asm::default();
    let enosys = a.label();
    let bad_arch = a.label();

    let x86_64 = plan.abi(Abi::X86_64)?;
    let x32 = plan.abi(Abi::X32);
    let i386 = plan.abi(Abi::I386);

    a.load(DATA_ARCH);
    let l_x86_64 = a.label();
    let l_i386 = a.label();
    a.jump(JEQ_K, AUDIT_ARCH_X86_64, To::L(l_x86_64), To::Next);
    if i386.is_some() {
        a.jump(JEQ_K, AUDIT_ARCH_I386, To::L(l_i386), To::Next);
    }
    a.ret(RET_KILL_THREAD);

    a.bind(l_x86_64);
    a.load(DATA_NR);
    let l_x32 = a.label();
    a.jump(JSET_K, X32_SYSCALL_BIT, To::L(l_x32), To::Next);
    // libseccomp sends any x86_64 number >= X32_SYSCALL_BIT to the x32 block, or to the bad-arch
    // action without x32; only numbers with bit 31 set and bit 30 clear are left to mirror here.
    let top = if x32.is_some() {
        plan.default
    } else {
        RET_KILL_THREAD
    };
    abi_body(
        &mut a,
        x86_64,
        plan.default,
        Some((0x8000_0000, top)),
        enosys,
    );

    a.bind(l_x32);
    if let Some(x32) = x32 {
        abi_body(&mut a, x32, plan.default, None, enosys);
    } else {
        // Without x32 libseccomp still lets syscall -1 through to the x86_64 rules (none match
        // it): ptrace uses -1 to skip a syscall, and runc's stub does not touch it either.
        a.jump(JEQ_K, u32::MAX, To::Next, To::L(bad_arch));
        a.ret(plan.default);
    }
    if let Some(i386) = i386 {
        a.bind(l_i386);
        a.load(DATA_NR);
        abi_body(&mut a, i386, plan.default, None, enosys);
    }
    a.bind(enosys);
    a.ret(RET_ERRNO | ENOSYS);
    a.bind(bad_arch);
    a.ret(RET_KILL_THREAD);
    a.finish()
}

/// One ABI, with the syscall number in the accumulator.
fn abi_body(a: &mut Asm, p: &AbiPlan, default: u32, top: Option<(u32, u32)>, enosys: Label) {
    if let Some(highest) = p.enosys_above {
        a.jump(JGT_K, highest, To::L(enosys), To::Next);
    }
    let iv = intervals(p, default, top);
    // libseccomp compares only the low 32 bits of arguments on 32-bit ABIs (i386 and x32),
    // truncating the profile's values; do the same so decisions match runc's.
    let wide = p.abi == Abi::X86_64;
    tree(a, &iv, default, wide);
}

#[derive(Clone, Copy, Debug)]
enum Leaf<'a> {
    Ret(u32),
    Rules(&'a [Rule]),
}

/// Intervals `[start_i, start_{i+1})` covering all of u32, each with one outcome.
fn intervals(p: &AbiPlan, default: u32, top: Option<(u32, u32)>) -> Vec<(u32, Leaf<'_>)> {
    fn push<'a>(v: &mut Vec<(u32, Leaf<'a>)>, start: u32, leaf: Leaf<'a>) {
        if v.last().is_some_and(|l| l.0 == start) {
            v.pop(); // the previous interval turned out empty
        }
        if let (Some((_, Leaf::Ret(prev))), Leaf::Ret(new)) = (v.last(), leaf) {
            if *prev == new {
                return; // same action: extend the previous interval
            }
        }
        v.push((start, leaf));
    }
    let mut v = vec![(0, Leaf::Ret(default))];
    for (&nr, outcome) in &p.syscalls {
        if top.is_some_and(|(t, _)| nr >= t) {
            break;
        }
        let leaf = match outcome {
            Outcome::Action(act) => Leaf::Ret(*act),
            Outcome::Rules(rules) => Leaf::Rules(rules),
        };
        push(&mut v, nr, leaf);
        if let Some(next) = nr.checked_add(1) {
            push(&mut v, next, Leaf::Ret(default));
        }
    }
    if let Some((start, act)) = top {
        push(&mut v, start, Leaf::Ret(act));
    }
    v
}

fn tree(a: &mut Asm, iv: &[(u32, Leaf<'_>)], default: u32, wide: bool) {
    if let [(_, leaf)] = iv {
        match leaf {
            Leaf::Ret(act) => a.ret(*act),
            Leaf::Rules(rules) => rules_block(a, rules, default, wide),
        }
        return;
    }
    let mid = iv.len() / 2;
    let right = a.label();
    a.jump(JGE_K, iv[mid].0, To::L(right), To::Next);
    tree(a, &iv[..mid], default, wide);
    a.bind(right);
    tree(a, &iv[mid..], default, wide);
}

fn rules_block(a: &mut Asm, rules: &[Rule], default: u32, wide: bool) {
    for rule in rules {
        let next = a.label();
        for c in &rule.conds {
            if wide {
                cond(a, c, next);
            } else {
                cond32(a, c, next);
            }
        }
        a.ret(rule.action);
        a.bind(next);
    }
    a.ret(default);
}

/// Falls through when `c` holds, jumps to `fail` otherwise. A 64-bit unsigned comparison is
/// decided by the high halves unless they are equal, then by the low halves.
fn cond(a: &mut Asm, c: &Cond, fail: Label) {
    let pass = a.label();
    let (p, f) = (To::L(pass), To::L(fail));
    let hi = |v: u64| (v >> 32) as u32;
    let lo = |v: u64| v as u32;
    let v = c.value;
    a.load(arg_hi(c.index));
    match c.cmp {
        Cmp::Eq => {
            a.jump(JEQ_K, hi(v), To::Next, f);
            a.load(arg_lo(c.index));
            a.jump(JEQ_K, lo(v), p, f);
        }
        Cmp::Ne => {
            a.jump(JEQ_K, hi(v), To::Next, p);
            a.load(arg_lo(c.index));
            a.jump(JEQ_K, lo(v), f, p);
        }
        Cmp::Gt | Cmp::Ge => {
            a.jump(JGT_K, hi(v), p, To::Next);
            a.jump(JEQ_K, hi(v), To::Next, f);
            a.load(arg_lo(c.index));
            let op = if c.cmp == Cmp::Gt { JGT_K } else { JGE_K };
            a.jump(op, lo(v), p, f);
        }
        // LE is "not GT", LT is "not GE".
        Cmp::Le | Cmp::Lt => {
            a.jump(JGT_K, hi(v), f, To::Next);
            a.jump(JEQ_K, hi(v), To::Next, p);
            a.load(arg_lo(c.index));
            let op = if c.cmp == Cmp::Le { JGT_K } else { JGE_K };
            a.jump(op, lo(v), f, p);
        }
        Cmp::MaskedEq => {
            let (mask, datum) = (c.value, c.value_two);
            a.and(hi(mask));
            a.jump(JEQ_K, hi(datum), To::Next, f);
            a.load(arg_lo(c.index));
            a.and(lo(mask));
            a.jump(JEQ_K, lo(datum), p, f);
        }
    }
    a.bind(pass);
}

/// [`cond`] on the low 32 bits only (the values truncated), as libseccomp does for 32-bit ABIs.
fn cond32(a: &mut Asm, c: &Cond, fail: Label) {
    let pass = a.label();
    let (p, f) = (To::L(pass), To::L(fail));
    let v = c.value as u32;
    a.load(arg_lo(c.index));
    match c.cmp {
        Cmp::Eq => a.jump(JEQ_K, v, p, f),
        Cmp::Ne => a.jump(JEQ_K, v, f, p),
        Cmp::Gt => a.jump(JGT_K, v, p, f),
        Cmp::Ge => a.jump(JGE_K, v, p, f),
        Cmp::Le => a.jump(JGT_K, v, f, p),
        Cmp::Lt => a.jump(JGE_K, v, f, p),
        Cmp::MaskedEq => {
            a.and(v);
            a.jump(JEQ_K, c.value_two as u32, p, f);
        }
    }
    a.bind(pass);
}

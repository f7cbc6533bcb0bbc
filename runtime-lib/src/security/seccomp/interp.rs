//! A classic BPF interpreter with the kernel's seccomp checks, to run generated programs against
//! synthetic `seccomp_data` in tests.

use super::bpf::{Insn, ALU_AND_K, JA, JEQ_K, JGE_K, JGT_K, JSET_K, LD_W_ABS, RET_K};

/// A syscall as the filter sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Data {
    pub(crate) nr: u32,
    pub(crate) arch: u32,
    pub(crate) args: [u64; 6],
}

fn bytes(d: &Data) -> [u8; 64] {
    let mut m = [0u8; 64];
    m[0..4].copy_from_slice(&d.nr.to_ne_bytes());
    m[4..8].copy_from_slice(&d.arch.to_ne_bytes());
    // instruction_pointer stays 0
    for (i, a) in d.args.iter().enumerate() {
        m[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_ne_bytes());
    }
    m
}

/// The kernel's static checks (seccomp_check_filter + bpf_check_classic): known opcodes,
/// aligned in-bounds loads, jumps inside the program, ends in a return, at most 4096 insns.
pub(crate) fn check(prog: &[Insn]) -> Result<(), String> {
    if prog.is_empty() || prog.len() > 4096 {
        return Err(format!("bad length {}", prog.len()));
    }
    for (pc, i) in prog.iter().enumerate() {
        let rest = prog.len() - pc - 1;
        match i.code {
            LD_W_ABS => {
                if i.k % 4 != 0 || i.k >= 64 {
                    return Err(format!("{pc}: bad load offset {}", i.k));
                }
            }
            ALU_AND_K | RET_K => {}
            JA => {
                if i.k as usize >= rest {
                    return Err(format!("{pc}: ja out of range"));
                }
            }
            JEQ_K | JGT_K | JGE_K | JSET_K => {
                if usize::from(i.jt) >= rest || usize::from(i.jf) >= rest {
                    return Err(format!("{pc}: jump out of range"));
                }
            }
            c => return Err(format!("{pc}: opcode {c:#x} not allowed")),
        }
    }
    if prog.last().map(|i| i.code) != Some(RET_K) {
        return Err("does not end in ret".into());
    }
    Ok(())
}

/// Run `prog` on `d`; returns the filter's return value.
pub(crate) fn run(prog: &[Insn], d: &Data) -> u32 {
    let mem = bytes(d);
    let mut a: u32 = 0;
    let mut pc = 0usize;
    loop {
        let i = prog[pc];
        pc += 1;
        let taken = |cond: bool| usize::from(if cond { i.jt } else { i.jf });
        match i.code {
            LD_W_ABS => {
                let k = i.k as usize;
                a = u32::from_ne_bytes(mem[k..k + 4].try_into().unwrap());
            }
            ALU_AND_K => a &= i.k,
            JA => pc += i.k as usize,
            JEQ_K => pc += taken(a == i.k),
            JGT_K => pc += taken(a > i.k),
            JGE_K => pc += taken(a >= i.k),
            JSET_K => pc += taken(a & i.k != 0),
            RET_K => return i.k,
            c => panic!("opcode {c:#x}"),
        }
    }
}

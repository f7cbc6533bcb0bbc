//! Classic BPF for seccomp: the instruction format, the few opcodes a filter needs, and a small
//! assembler with forward labels.
//!
//! Conditional jumps in classic BPF have 8-bit offsets (`jt`/`jf`), so a jump past more than 255
//! instructions needs a `ja` (32-bit offset) trampoline. The assembler starts with every jump
//! short and turns the ones that do not fit into trampolines until nothing changes; since a jump
//! only ever goes from short to long, this terminates.

/// One classic BPF instruction, laid out like the kernel's `struct sock_filter`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Insn {
    pub(crate) code: u16,
    pub(crate) jt: u8,
    pub(crate) jf: u8,
    pub(crate) k: u32,
}

// Opcodes (linux/filter.h, linux/bpf_common.h).
pub(crate) const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
pub(crate) const ALU_AND_K: u16 = 0x54; // BPF_ALU | BPF_AND | BPF_K
pub(crate) const JA: u16 = 0x05; // BPF_JMP | BPF_JA
pub(crate) const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
pub(crate) const JGT_K: u16 = 0x25; // BPF_JMP | BPF_JGT | BPF_K
pub(crate) const JGE_K: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
pub(crate) const JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
pub(crate) const RET_K: u16 = 0x06; // BPF_RET | BPF_K

/// The kernel refuses longer programs (BPF_MAXINSNS).
pub(crate) const MAX_INSNS: usize = 4096;

// Offsets into `struct seccomp_data` (linux/seccomp.h): int nr; __u32 arch; __u64
// instruction_pointer; __u64 args[6].
pub(crate) const DATA_NR: u32 = 0;
pub(crate) const DATA_ARCH: u32 = 4;
const DATA_ARGS: u32 = 16;

/// Offset of the low 32 bits of argument `index`.
pub(crate) fn arg_lo(index: u8) -> u32 {
    let base = DATA_ARGS + 8 * u32::from(index);
    if cfg!(target_endian = "little") {
        base
    } else {
        base + 4
    }
}

/// Offset of the high 32 bits of argument `index`.
pub(crate) fn arg_hi(index: u8) -> u32 {
    let base = DATA_ARGS + 8 * u32::from(index);
    if cfg!(target_endian = "little") {
        base + 4
    } else {
        base
    }
}

/// A position in the program, bound later with [`Asm::bind`]. Jumps only go forward.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Label(usize);

/// Where a conditional jump goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum To {
    /// The next instruction.
    Next,
    /// A label.
    L(Label),
}

#[derive(Debug)]
enum Item {
    Fixed(Insn),
    Jump { code: u16, k: u32, t: To, f: To },
    Bind(Label),
}

/// The assembler: append instructions, then [`Asm::finish`].
#[derive(Debug, Default)]
pub(crate) struct Asm {
    items: Vec<Item>,
    labels: usize,
}

impl Asm {
    pub(crate) fn label(&mut self) -> Label {
        self.labels += 1;
        Label(self.labels - 1)
    }

    pub(crate) fn bind(&mut self, l: Label) {
        self.items.push(Item::Bind(l));
    }

    pub(crate) fn load(&mut self, offset: u32) {
        self.items.push(Item::Fixed(Insn {
            code: LD_W_ABS,
            jt: 0,
            jf: 0,
            k: offset,
        }));
    }

    pub(crate) fn and(&mut self, mask: u32) {
        self.items.push(Item::Fixed(Insn {
            code: ALU_AND_K,
            jt: 0,
            jf: 0,
            k: mask,
        }));
    }

    pub(crate) fn ret(&mut self, action: u32) {
        self.items.push(Item::Fixed(Insn {
            code: RET_K,
            jt: 0,
            jf: 0,
            k: action,
        }));
    }

    /// `if (A <code> k) goto t else goto f` with `code` one of the `J*_K` opcodes.
    pub(crate) fn jump(&mut self, code: u16, k: u32, t: To, f: To) {
        self.items.push(Item::Jump { code, k, t, f });
    }

    /// Resolve labels into offsets. Returns `None` if a label was never bound or a jump goes
    /// backwards (both are bugs in the code generator, not in the profile).
    pub(crate) fn finish(self) -> Option<Vec<Insn>> {
        let n_jumps = self
            .items
            .iter()
            .filter(|i| matches!(i, Item::Jump { .. }))
            .count();
        // Per conditional jump: does its true / false branch need a trampoline?
        let mut far = vec![(false, false); n_jumps];
        let mut label_pos = vec![usize::MAX; self.labels];
        loop {
            // Lay out with the current trampoline choices.
            let mut pos = 0usize;
            let mut j = 0;
            for item in &self.items {
                match item {
                    Item::Fixed(_) => pos += 1,
                    Item::Jump { .. } => {
                        pos += 1 + usize::from(far[j].0) + usize::from(far[j].1);
                        j += 1;
                    }
                    Item::Bind(l) => label_pos[l.0] = pos,
                }
            }
            // Find jumps that no longer fit in 8 bits.
            let mut changed = false;
            let mut pos = 0usize;
            let mut j = 0;
            for item in &self.items {
                match item {
                    Item::Fixed(_) => pos += 1,
                    Item::Jump { t, f, .. } => {
                        let (mut t_far, mut f_far) = far[j];
                        let after = pos + 1 + usize::from(t_far) + usize::from(f_far);
                        for (to, is_far) in [(t, &mut t_far), (f, &mut f_far)] {
                            if let To::L(l) = to {
                                let target = *label_pos.get(l.0)?;
                                if target == usize::MAX || target < after {
                                    return None;
                                }
                                if !*is_far && target - (pos + 1) > 255 {
                                    *is_far = true;
                                    changed = true;
                                }
                            }
                        }
                        far[j] = (t_far, f_far);
                        pos = after;
                        j += 1;
                    }
                    Item::Bind(_) => {}
                }
            }
            if !changed {
                break;
            }
        }
        // Emit.
        let mut out = Vec::new();
        let mut j = 0;
        for item in &self.items {
            match item {
                Item::Fixed(insn) => out.push(*insn),
                Item::Jump { code, k, t, f } => {
                    let (t_far, f_far) = far[j];
                    j += 1;
                    let pos = out.len();
                    let n_tramp = usize::from(t_far) + usize::from(f_far);
                    let short = |to: &To| -> Option<u8> {
                        match to {
                            To::Next => u8::try_from(n_tramp).ok(),
                            To::L(l) => u8::try_from(label_pos[l.0] - (pos + 1)).ok(),
                        }
                    };
                    let jt = if t_far { 0 } else { short(t)? };
                    let jf = if f_far { u8::from(t_far) } else { short(f)? };
                    out.push(Insn {
                        code: *code,
                        jt,
                        jf,
                        k: *k,
                    });
                    for (to, is_far) in [(t, t_far), (f, f_far)] {
                        if !is_far {
                            continue;
                        }
                        let target = match to {
                            To::Next => pos + 1 + n_tramp,
                            To::L(l) => label_pos[l.0],
                        };
                        let k = target.checked_sub(out.len() + 1)?;
                        out.push(Insn {
                            code: JA,
                            jt: 0,
                            jf: 0,
                            k: u32::try_from(k).ok()?,
                        });
                    }
                }
                Item::Bind(_) => {}
            }
        }
        Some(out)
    }
}

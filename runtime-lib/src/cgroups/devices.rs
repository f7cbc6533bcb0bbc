//! The device allow-list: `linux.resources.devices` plus runc's default devices, reduced to
//! the state the v1 devices controller keeps (a default and a list of exceptions), written to
//! `devices.allow`/`devices.deny` on v1 or compiled to a `BPF_PROG_TYPE_CGROUP_DEVICE` program on
//! v2.
//!
//! Semantics, as runc (libcontainer/cgroups/devices emulator) and the v1 kernel code:
//! - the list starts as "deny everything" (runc: "this defaults to a white-list"), so a config
//!   with no device rules still gets only the defaults;
//! - a rule of type `a` (all) resets: default allow or deny, exceptions cleared;
//! - another rule whose allow matches the default REMOVES those permissions from the exception
//!   with exactly the same type/major/minor; otherwise it ADDS them (merging permissions);
//! - runc's default devices are appended AFTER the config's rules (runc's specconv appends
//!   `AllowedDevices`), so containers can always open /dev/null, /dev/zero, /dev/pts/*, ...
//!
//! A request is allowed, under a default deny, when ONE exception matches it and holds all the
//! requested permissions (kernel `match_exception`); under a default allow, it is denied when an
//! exception matches and shares any requested permission (`match_exception_partial`).

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use super::CgroupError;

/// `mknod` permission (the values are those of the eBPF device context, `BPF_DEVCG_ACC_*`).
pub(crate) const ACC_MKNOD: u8 = 1;
/// `read` permission.
pub(crate) const ACC_READ: u8 = 2;
/// `write` permission.
pub(crate) const ACC_WRITE: u8 = 4;
const ACC_ALL: u8 = ACC_MKNOD | ACC_READ | ACC_WRITE;

/// Linux's dev_t holds a 12-bit major and a 20-bit minor.
const MAX_MAJOR: i64 = (1 << 12) - 1;
const MAX_MINOR: i64 = (1 << 20) - 1;

/// A device type in a cgroup rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DevType {
    All,
    Char,
    Block,
}

/// One cgroup device rule; `None` major/minor is the wildcard `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rule {
    pub allow: bool,
    pub typ: DevType,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: u8,
}

impl Rule {
    const fn chr(major: Option<u32>, minor: Option<u32>, access: u8) -> Rule {
        Rule {
            allow: true,
            typ: DevType::Char,
            major,
            minor,
            access,
        }
    }

    /// The v1 text form: `c 1:3 rwm`, `b *:* m`, `a`.
    pub(crate) fn v1_text(&self) -> String {
        let t = match self.typ {
            DevType::All => return "a".into(),
            DevType::Char => 'c',
            DevType::Block => 'b',
        };
        let num = |n: Option<u32>| n.map_or_else(|| "*".to_string(), |n| n.to_string());
        let mut acc = String::new();
        for (bit, ch) in [(ACC_READ, 'r'), (ACC_WRITE, 'w'), (ACC_MKNOD, 'm')] {
            if self.access & bit != 0 {
                acc.push(ch);
            }
        }
        format!("{t} {}:{} {acc}", num(self.major), num(self.minor))
    }
}

/// runc 1.1's `AllowedDevices` (libcontainer/specconv): mknod of any device, the standard
/// character devices, /dev/pts/*, /dev/ptmx and /dev/net/tun.
pub(crate) const DEFAULT_ALLOWED: &[Rule] = &[
    Rule::chr(None, None, ACC_MKNOD),
    Rule {
        allow: true,
        typ: DevType::Block,
        major: None,
        minor: None,
        access: ACC_MKNOD,
    },
    Rule::chr(Some(1), Some(3), ACC_ALL),    // /dev/null
    Rule::chr(Some(1), Some(8), ACC_ALL),    // /dev/random
    Rule::chr(Some(1), Some(7), ACC_ALL),    // /dev/full
    Rule::chr(Some(5), Some(0), ACC_ALL),    // /dev/tty
    Rule::chr(Some(1), Some(5), ACC_ALL),    // /dev/zero
    Rule::chr(Some(1), Some(9), ACC_ALL),    // /dev/urandom
    Rule::chr(Some(136), None, ACC_ALL),     // /dev/pts/*
    Rule::chr(Some(5), Some(2), ACC_ALL),    // /dev/ptmx
    Rule::chr(Some(10), Some(200), ACC_ALL), // /dev/net/tun
];

/// Convert and check `linux.resources.devices`.
pub(crate) fn from_spec(rules: &[LinuxDeviceCgroup]) -> Result<Vec<Rule>, CgroupError> {
    rules
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let field = |f: &str| format!("linux.resources.devices[{i}].{f}");
            let invalid = |f: &str, msg: String| CgroupError::Invalid {
                field: field(f),
                msg,
            };
            let typ = match r.typ() {
                None | Some(LinuxDeviceType::A) => DevType::All,
                Some(LinuxDeviceType::C) => DevType::Char,
                Some(LinuxDeviceType::B) => DevType::Block,
                Some(other) => {
                    return Err(invalid(
                        "type",
                        format!(
                            "{:?} is not a cgroup device type (want \"a\", \"b\" or \"c\")",
                            other.as_str()
                        ),
                    ))
                }
            };
            let num = |f: &str, v: Option<i64>, max: i64| match v {
                None | Some(-1) => Ok(None),
                Some(n) if (0..=max).contains(&n) => Ok(Some(n as u32)),
                Some(n) => Err(invalid(
                    f,
                    format!("{n} is out of range (0 to {max}, or -1 for any)"),
                )),
            };
            let major = num("major", r.major(), MAX_MAJOR)?;
            let minor = num("minor", r.minor(), MAX_MINOR)?;
            let access = match r.access().as_deref() {
                // crun's reading of an absent access: everything.
                None | Some("") => ACC_ALL,
                Some(s) => {
                    let mut a = 0;
                    for ch in s.chars() {
                        a |= match ch {
                            'r' => ACC_READ,
                            'w' => ACC_WRITE,
                            'm' => ACC_MKNOD,
                            _ => {
                                return Err(invalid(
                                    "access",
                                    format!("{s:?}: {ch:?} is not one of r, w, m"),
                                ))
                            }
                        };
                    }
                    a
                }
            };
            Ok(Rule {
                allow: r.allow(),
                typ,
                major,
                minor,
                access,
            })
        })
        .collect()
}

/// The effect of a list of rules: the default and the exceptions to it, in first-added order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeviceState {
    pub default_allow: bool,
    pub exceptions: Vec<Rule>,
}

impl DeviceState {
    fn apply(&mut self, r: &Rule) {
        if r.typ == DevType::All {
            self.default_allow = r.allow;
            self.exceptions.clear();
            return;
        }
        let same = |e: &Rule| e.typ == r.typ && e.major == r.major && e.minor == r.minor;
        if r.allow == self.default_allow {
            if let Some(pos) = self.exceptions.iter().position(same) {
                self.exceptions[pos].access &= !r.access;
                if self.exceptions[pos].access == 0 {
                    self.exceptions.remove(pos);
                }
            }
        } else if let Some(e) = self.exceptions.iter_mut().find(|e| same(e)) {
            e.access |= r.access;
        } else {
            self.exceptions.push(Rule {
                allow: !self.default_allow,
                ..*r
            });
        }
    }

    /// Would this state let a process do `access` on the device? (For tests; the kernel
    /// decides for real.)
    #[cfg(test)]
    fn permits(&self, typ: DevType, major: u32, minor: u32, access: u8) -> bool {
        let matches = |e: &&Rule| {
            e.typ == typ && e.major.is_none_or(|m| m == major) && e.minor.is_none_or(|m| m == minor)
        };
        if self.default_allow {
            !self
                .exceptions
                .iter()
                .filter(matches)
                .any(|e| e.access & access != 0)
        } else {
            self.exceptions
                .iter()
                .filter(matches)
                .any(|e| access & !e.access == 0)
        }
    }
}

#[cfg(test)]
impl DeviceState {
    /// The same policy (exceptions compared as a set).
    pub(crate) fn same_as(&self, other: &DeviceState) -> bool {
        self.default_allow == other.default_allow
            && self.exceptions.len() == other.exceptions.len()
            && self.exceptions.iter().all(|e| other.exceptions.contains(e))
    }
}

/// Parse a v1 `devices.list`. The kernel shows a default-allow cgroup as the single line
/// `a *:* rwm` WITHOUT its deny exceptions, so that case is only known when it has none;
/// `None` when the list cannot be read back exactly.
pub(crate) fn parse_v1_list(text: &str) -> Option<DeviceState> {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines == ["a *:* rwm"] {
        return Some(DeviceState {
            default_allow: true,
            exceptions: Vec::new(),
        });
    }
    let mut exceptions = Vec::new();
    for l in lines {
        let mut it = l.split(' ');
        let typ = match it.next()? {
            "c" => DevType::Char,
            "b" => DevType::Block,
            _ => return None,
        };
        let (ma, mi) = it.next()?.split_once(':')?;
        let num = |s: &str| -> Option<Option<u32>> {
            if s == "*" {
                Some(None)
            } else {
                s.parse().ok().map(Some)
            }
        };
        let mut access = 0;
        for ch in it.next()?.chars() {
            access |= match ch {
                'r' => ACC_READ,
                'w' => ACC_WRITE,
                'm' => ACC_MKNOD,
                _ => return None,
            };
        }
        exceptions.push(Rule {
            allow: true,
            typ,
            major: num(ma)?,
            minor: num(mi)?,
            access,
        });
    }
    Some(DeviceState {
        default_allow: false,
        exceptions,
    })
}

/// The state `rules` (from the config) lead to, starting from "deny all" and ending with runc's
/// default devices.
pub(crate) fn effective(rules: &[Rule]) -> DeviceState {
    let mut st = DeviceState {
        default_allow: false,
        exceptions: Vec::new(),
    };
    for r in rules.iter().chain(DEFAULT_ALLOWED) {
        st.apply(r);
    }
    st
}

/// What to write to a fresh v1 devices cgroup, in order: `(file, line)`. The reset comes
/// first (writing `a` clears the kernel's exception list), then one line per exception.
pub(crate) fn v1_writes(st: &DeviceState) -> Vec<(&'static str, String)> {
    let (reset, exc) = if st.default_allow {
        ("devices.allow", "devices.deny")
    } else {
        ("devices.deny", "devices.allow")
    };
    let mut out = vec![(reset, "a".to_string())];
    out.extend(st.exceptions.iter().map(|e| (exc, e.v1_text())));
    out
}

/// The writes that turn the default-deny list `cur` into the default-deny list `target`
/// without a reset: first grant what is missing, then take away what is too much (the kernel
/// merges an allow into, and subtracts a deny from, the exception with the same
/// type/major/minor). `None` when either side is default-allow (then only a reset works).
pub(crate) fn v1_transition(
    cur: &DeviceState,
    target: &DeviceState,
) -> Option<Vec<(&'static str, String)>> {
    if cur.default_allow || target.default_allow {
        return None;
    }
    let same = |a: &Rule, b: &Rule| a.typ == b.typ && a.major == b.major && a.minor == b.minor;
    let perms = |list: &[Rule], r: &Rule| {
        list.iter()
            .filter(|e| same(e, r))
            .fold(0, |acc, e| acc | e.access)
    };
    let mut out = Vec::new();
    for t in &target.exceptions {
        let add = t.access & !perms(&cur.exceptions, t);
        if add != 0 {
            out.push(("devices.allow", Rule { access: add, ..*t }.v1_text()));
        }
    }
    for c in &cur.exceptions {
        let rm = c.access & !perms(&target.exceptions, c);
        if rm != 0 {
            out.push(("devices.deny", Rule { access: rm, ..*c }.v1_text()));
        }
    }
    Some(out)
}

/// eBPF instruction encoding (struct bpf_insn, little endian): opcode, dst/src registers,
/// 16-bit offset, 32-bit immediate.
const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> u64 {
    (code as u64)
        | (((dst & 0xf) | ((src & 0xf) << 4)) as u64) << 8
        | ((off as u16) as u64) << 16
        | ((imm as u32) as u64) << 32
}

const LDX_W: u8 = 0x61; // dst = *(u32 *)(src + off)
const AND32_K: u8 = 0x54; // w_dst &= imm
const RSH32_K: u8 = 0x74; // w_dst >>= imm
const MOV64_X: u8 = 0xbf; // dst = src
const MOV32_K: u8 = 0xb4; // w_dst = imm
const JNE_K: u8 = 0x55; // if dst != imm goto +off
const JEQ_K: u8 = 0x15; // if dst == imm goto +off
const EXIT: u8 = 0x95;

/// `BPF_DEVCG_DEV_BLOCK` / `BPF_DEVCG_DEV_CHAR`.
const fn bpf_type(t: DevType) -> i32 {
    match t {
        DevType::Block => 1,
        DevType::Char => 2,
        DevType::All => 0,
    }
}

/// Compile the state into a `BPF_PROG_TYPE_CGROUP_DEVICE` program with the v1 semantics
/// (see the module comment). The context is `struct bpf_cgroup_dev_ctx { u32 access_type;
/// u32 major; u32 minor; }` with `access_type = access << 16 | type`; the program returns 1
/// to allow, 0 to deny.
pub(crate) fn bpf_program(st: &DeviceState) -> Vec<u64> {
    // r2 = type, r3 = access, r4 = major, r5 = minor.
    let mut p = vec![
        insn(LDX_W, 2, 1, 0, 0),
        insn(AND32_K, 2, 0, 0, 0xffff),
        insn(LDX_W, 3, 1, 0, 0),
        insn(RSH32_K, 3, 0, 0, 16),
        insn(LDX_W, 4, 1, 4, 0),
        insn(LDX_W, 5, 1, 8, 0),
    ];
    for e in &st.exceptions {
        // Each block: conditional jumps to the block's end when it does not match.
        let mut block: Vec<(u8, u8, u8, i32)> = Vec::new(); // (code, dst, src, imm); jumps patched
        block.push((JNE_K, 2, 0, bpf_type(e.typ)));
        if let Some(m) = e.major {
            block.push((JNE_K, 4, 0, m as i32));
        }
        if let Some(m) = e.minor {
            block.push((JNE_K, 5, 0, m as i32));
        }
        block.push((MOV64_X, 1, 3, 0));
        if st.default_allow {
            // Deny when the request shares a permission with this (deny) exception.
            block.push((AND32_K, 1, 0, i32::from(e.access)));
            block.push((JEQ_K, 1, 0, 0));
        } else {
            // Allow when the request asks for nothing beyond this exception's permissions.
            block.push((AND32_K, 1, 0, i32::from(!e.access & ACC_ALL)));
            block.push((JNE_K, 1, 0, 0));
        }
        block.push((MOV32_K, 0, 0, i32::from(!st.default_allow)));
        block.push((EXIT, 0, 0, 0));
        let len = block.len();
        for (i, (code, dst, src, imm)) in block.into_iter().enumerate() {
            let off = if code == JNE_K || code == JEQ_K {
                (len - i - 1) as i16
            } else {
                0
            };
            p.push(insn(code, dst, src, off, imm));
        }
    }
    p.push(insn(MOV32_K, 0, 0, 0, i32::from(st.default_allow)));
    p.push(insn(EXIT, 0, 0, 0, 0));
    p
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use oci_spec::runtime::LinuxDeviceCgroupBuilder;

    pub(crate) fn rule(
        allow: bool,
        t: Option<LinuxDeviceType>,
        maj: Option<i64>,
        min: Option<i64>,
        acc: &str,
    ) -> LinuxDeviceCgroup {
        let mut b = LinuxDeviceCgroupBuilder::default().allow(allow).access(acc);
        if let Some(t) = t {
            b = b.typ(t);
        }
        if let Some(m) = maj {
            b = b.major(m);
        }
        if let Some(m) = min {
            b = b.minor(m);
        }
        b.build().unwrap()
    }

    /// A tiny interpreter for the instructions `bpf_program` emits, to check the compiled
    /// program decides like the state (the kernel verifier and a real device open are
    /// exercised by the v1/v2 system tests).
    fn run(prog: &[u64], typ: u32, access: u32, major: u32, minor: u32) -> u64 {
        let ctx = [(access << 16) | typ, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = prog[pc];
            let code = i as u8;
            let dst = ((i >> 8) & 0xf) as usize;
            let src = ((i >> 12) & 0xf) as usize;
            let off = (i >> 16) as u16 as i16;
            let imm = (i >> 32) as u32 as i32;
            pc += 1;
            match code {
                LDX_W => {
                    assert_eq!(src, 1);
                    r[dst] = u64::from(ctx[off as usize / 4]);
                }
                AND32_K => r[dst] = u64::from(r[dst] as u32 & imm as u32),
                RSH32_K => r[dst] = u64::from((r[dst] as u32) >> imm),
                MOV64_X => r[dst] = r[src],
                MOV32_K => r[dst] = u64::from(imm as u32),
                JNE_K | JEQ_K => {
                    let eq = r[dst] == imm as i64 as u64;
                    if eq == (code == JEQ_K) {
                        pc = (pc as i64 + i64::from(off)) as usize;
                    }
                }
                EXIT => return r[0],
                _ => panic!("unexpected opcode {code:#x}"),
            }
        }
    }

    fn default_config() -> Vec<Rule> {
        // The devices section of a `runc spec` / podman config: deny everything.
        from_spec(&[rule(false, None, None, None, "rwm")]).unwrap()
    }

    #[test]
    fn runc_defaults_are_allowed_after_deny_all() {
        let st = effective(&default_config());
        assert!(!st.default_allow);
        assert!(st.permits(DevType::Char, 1, 3, ACC_READ | ACC_WRITE)); // /dev/null
        assert!(st.permits(DevType::Char, 136, 4, ACC_READ)); // /dev/pts/4
        assert!(st.permits(DevType::Block, 8, 0, ACC_MKNOD)); // mknod anything
        assert!(!st.permits(DevType::Block, 8, 0, ACC_READ)); // /dev/sda
        assert!(!st.permits(DevType::Char, 1, 1, ACC_READ)); // /dev/mem
        let w = v1_writes(&st);
        assert_eq!(w[0], ("devices.deny", "a".to_string()));
        assert!(w.contains(&("devices.allow", "c 1:3 rwm".to_string())));
        assert!(w.contains(&("devices.allow", "c 136:* rwm".to_string())));
        assert!(w.contains(&("devices.allow", "b *:* m".to_string())));
        assert_eq!(w.len(), 1 + DEFAULT_ALLOWED.len());
    }

    #[test]
    fn v1_list_roundtrip() {
        let st = effective(&default_config());
        let list: String = v1_writes(&st)[1..]
            .iter()
            .map(|(_, l)| format!("{l}\n"))
            .collect();
        assert!(parse_v1_list(&list).unwrap().same_as(&st));
        assert!(!parse_v1_list("c 1:3 rwm\n").unwrap().same_as(&st));
        assert!(parse_v1_list("a *:* rwm\n").unwrap().default_allow);
        assert_eq!(parse_v1_list("x 1:3 rwm\n"), None);
    }

    #[test]
    fn v1_transition_writes_only_the_difference() {
        let base = effective(&default_config());
        assert_eq!(v1_transition(&base, &base), Some(vec![]));
        let more = effective(
            &from_spec(&[
                rule(false, None, None, None, "rwm"),
                rule(true, Some(LinuxDeviceType::C), Some(1), Some(11), "r"),
                rule(false, Some(LinuxDeviceType::C), Some(10), Some(200), "rwm"),
            ])
            .unwrap(),
        );
        // (The defaults come after the config's rules, so 10:200 stays allowed.)
        assert_eq!(
            v1_transition(&base, &more).unwrap(),
            vec![("devices.allow", "c 1:11 r".to_string())]
        );
        assert_eq!(
            v1_transition(&more, &base).unwrap(),
            vec![("devices.deny", "c 1:11 r".to_string())]
        );
        let open = effective(&from_spec(&[rule(true, None, None, None, "rwm")]).unwrap());
        assert_eq!(v1_transition(&base, &open), None);
    }

    #[test]
    fn no_rules_still_denies_by_default() {
        let st = effective(&[]);
        assert!(!st.default_allow);
        assert!(!st.permits(DevType::Char, 4, 1, ACC_READ));
    }

    #[test]
    fn allow_all_then_deny_one() {
        let rules = from_spec(&[
            rule(true, Some(LinuxDeviceType::A), None, None, "rwm"),
            rule(false, Some(LinuxDeviceType::C), Some(4), Some(-1), "w"),
        ])
        .unwrap();
        let st = effective(&rules);
        assert!(st.default_allow);
        assert!(st.permits(DevType::Char, 4, 1, ACC_READ));
        assert!(!st.permits(DevType::Char, 4, 1, ACC_WRITE | ACC_READ));
        // The defaults' allows under a default allow remove nothing they don't match.
        assert_eq!(v1_writes(&st)[0], ("devices.allow", "a".to_string()));
        assert!(v1_writes(&st).contains(&("devices.deny", "c 4:* w".to_string())));
    }

    #[test]
    fn later_rules_merge_and_remove_permissions() {
        let rules = from_spec(&[
            rule(false, None, None, None, "rwm"),
            rule(true, Some(LinuxDeviceType::C), Some(7), Some(1), "r"),
            rule(true, Some(LinuxDeviceType::C), Some(7), Some(1), "w"),
            rule(false, Some(LinuxDeviceType::C), Some(7), Some(1), "r"),
        ])
        .unwrap();
        let st = effective(&rules);
        assert!(st.permits(DevType::Char, 7, 1, ACC_WRITE));
        assert!(!st.permits(DevType::Char, 7, 1, ACC_READ));
    }

    #[test]
    fn bad_rules_name_the_field() {
        let cases = [
            (
                rule(true, Some(LinuxDeviceType::U), Some(1), Some(1), "r"),
                "devices[0].type",
            ),
            (
                rule(true, Some(LinuxDeviceType::C), Some(-2), None, "r"),
                "devices[0].major",
            ),
            (
                rule(true, Some(LinuxDeviceType::C), Some(1), Some(1 << 20), "r"),
                "devices[0].minor",
            ),
            (
                rule(true, Some(LinuxDeviceType::C), Some(1), Some(1), "rx"),
                "devices[0].access",
            ),
        ];
        for (r, field) in cases {
            let e = from_spec(&[r]).unwrap_err().to_string();
            assert!(e.starts_with(&format!("linux.resources.{field}: ")), "{e}");
        }
    }

    #[test]
    fn bpf_program_decides_like_the_state() {
        let configs = [
            default_config(),
            from_spec(&[
                rule(true, Some(LinuxDeviceType::A), None, None, "rwm"),
                rule(false, Some(LinuxDeviceType::B), Some(8), None, "rw"),
                rule(false, Some(LinuxDeviceType::C), Some(1), Some(1), "r"),
            ])
            .unwrap(),
        ];
        for cfg in &configs {
            let st = effective(cfg);
            let prog = bpf_program(&st);
            for (t, tb) in [(DevType::Char, 2), (DevType::Block, 1)] {
                for (maj, min) in [(1, 3), (1, 1), (136, 9), (8, 0), (10, 200), (5, 1)] {
                    for acc in 1..=7u8 {
                        let want = st.permits(t, maj, min, acc);
                        let got = run(&prog, tb, u32::from(acc), maj, min) == 1;
                        assert_eq!(got, want, "{t:?} {maj}:{min} acc {acc} in {st:?}");
                    }
                }
            }
        }
    }
}

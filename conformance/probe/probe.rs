//! husk-probe: runs as (or inside) a container process and prints, as ONE line of JSON on
//! stdout, what the process sees of its environment. The conformance harness compares that
//! report with the config it gave the runtime.
//!
//! Deliberately std-only and free of `unsafe`: it is compiled by `conformance/build.rs` with
//! plain `rustc -C target-feature=+crt-static` (no cargo, no crates) so the harness can embed a
//! static binary that runs in a root filesystem holding nothing but busybox. Everything the
//! report needs is readable from procfs or reachable through std's file APIs; the errno of a
//! "chosen syscall" is observed through the std call that issues it (mkdir, chmod, open...).
//!
//! Usage: `husk-probe [OP=ARG]...` where OP is one of
//!   stat lstat read openw create mkdir chmod(ARG=PATH:OCTAL) ls sysctl exit sleep
//! Every op's outcome lands under `"ops"` keyed by `OP=ARG`; `exit=N` sets the exit status after
//! printing and `sleep=SECS` sleeps after printing (for tests that need a live process).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

/// A minimal JSON value: the probe has no serde.
enum J {
    Null,
    Bool(bool),
    Num(i64),
    Str(String),
    Arr(Vec<J>),
    Obj(BTreeMap<String, J>),
}

impl J {
    fn write(&self, out: &mut String) {
        match self {
            J::Null => out.push_str("null"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Num(n) => {
                let _ = write!(out, "{n}");
            }
            J::Str(s) => write_str(s, out),
            J::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            J::Obj(map) => {
                out.push('{');
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_str(k, out);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }
}

fn write_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn obj(pairs: Vec<(&str, J)>) -> J {
    J::Obj(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

fn s(v: impl Into<String>) -> J {
    J::Str(v.into())
}

fn errno_of(e: &io::Error) -> J {
    obj(vec![
        ("errno", J::Num(i64::from(e.raw_os_error().unwrap_or(-1)))),
        ("error", s(e.to_string())),
    ])
}

fn read_text(path: &str) -> J {
    match fs::read_to_string(path) {
        Ok(t) => s(t.trim_end_matches('\n')),
        Err(e) => errno_of(&e),
    }
}

/// `/proc/self/status` as a map of its `Key:\tvalue` lines.
fn status() -> BTreeMap<String, String> {
    let text = fs::read_to_string("/proc/self/status").unwrap_or_default();
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

fn nums(v: Option<&String>) -> J {
    J::Arr(
        v.map(|v| {
            v.split_whitespace()
                .filter_map(|n| n.parse().ok())
                .map(J::Num)
                .collect()
        })
        .unwrap_or_default(),
    )
}

/// Linux dev_t encoding (see `new_encode_dev` in the kernel's kdev_t.h).
fn major(dev: u64) -> i64 {
    (((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff)) as i64
}
fn minor(dev: u64) -> i64 {
    ((dev & 0xff) | ((dev >> 12) & !0xff)) as i64
}

fn stat(path: &str, follow: bool) -> J {
    let md = if follow {
        fs::metadata(path)
    } else {
        fs::symlink_metadata(path)
    };
    match md {
        Err(e) => errno_of(&e),
        Ok(md) => {
            let ft = md.file_type();
            let kind = if ft.is_char_device() {
                "c"
            } else if ft.is_block_device() {
                "b"
            } else if ft.is_dir() {
                "d"
            } else if ft.is_symlink() {
                "l"
            } else if ft.is_fifo() {
                "p"
            } else if ft.is_socket() {
                "s"
            } else {
                "f"
            };
            let mut pairs = vec![
                ("type", s(kind)),
                ("mode", J::Num(i64::from(md.permissions().mode() & 0o7777))),
                ("uid", J::Num(i64::from(md.uid()))),
                ("gid", J::Num(i64::from(md.gid()))),
                ("size", J::Num(md.size() as i64)),
                ("major", J::Num(major(md.rdev()))),
                ("minor", J::Num(minor(md.rdev()))),
            ];
            if ft.is_symlink() {
                if let Ok(t) = fs::read_link(path) {
                    pairs.push(("target", s(t.to_string_lossy())));
                }
            }
            obj(pairs)
        }
    }
}

fn op(name: &str, arg: &str) -> J {
    match name {
        "stat" => stat(arg, true),
        "lstat" => stat(arg, false),
        // Read at most 4 KiB: enough to tell "empty" (masked) from "has content".
        "read" => match fs::File::open(arg) {
            Err(e) => errno_of(&e),
            Ok(f) => {
                let mut buf = Vec::new();
                match f.take(4096).read_to_end(&mut buf) {
                    Ok(n) => obj(vec![
                        ("len", J::Num(n as i64)),
                        ("text", s(String::from_utf8_lossy(&buf).into_owned())),
                    ]),
                    Err(e) => errno_of(&e),
                }
            }
        },
        // Open for writing but write nothing: read-only paths include /proc/sysrq-trigger, where
        // a write on a broken runtime would act on the host. EROFS is reported by open(2).
        "openw" => match fs::OpenOptions::new().write(true).open(arg) {
            Ok(_) => obj(vec![("ok", J::Bool(true))]),
            Err(e) => errno_of(&e),
        },
        "create" => match fs::File::create(arg) {
            Ok(_) => {
                let _ = fs::remove_file(arg);
                obj(vec![("ok", J::Bool(true))])
            }
            Err(e) => errno_of(&e),
        },
        "mkdir" => match fs::create_dir(arg) {
            Ok(()) => {
                let _ = fs::remove_dir(arg);
                obj(vec![("ok", J::Bool(true))])
            }
            Err(e) => errno_of(&e),
        },
        "chmod" => {
            let (path, mode) = arg.rsplit_once(':').unwrap_or((arg, "644"));
            let mode = u32::from_str_radix(mode, 8).unwrap_or(0o644);
            match fs::set_permissions(path, fs::Permissions::from_mode(mode)) {
                Ok(()) => obj(vec![("ok", J::Bool(true))]),
                Err(e) => errno_of(&e),
            }
        }
        "ls" => match fs::read_dir(arg) {
            Err(e) => errno_of(&e),
            Ok(rd) => {
                let mut names: Vec<String> = rd
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                names.sort();
                obj(vec![(
                    "entries",
                    J::Arr(names.into_iter().map(s).collect()),
                )])
            }
        },
        "sysctl" => read_text(&format!("/proc/sys/{}", arg.replace('.', "/"))),
        "exit" | "sleep" => J::Null,
        other => obj(vec![("error", s(format!("unknown op {other}")))]),
    }
}

fn mountinfo() -> J {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut out = Vec::new();
    for line in text.lines() {
        // id parent major:minor root mount-point options optional... - fstype source super
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let l: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        if l.len() < 6 || r.len() < 3 {
            continue;
        }
        out.push(obj(vec![
            ("root", s(unescape(l[3]))),
            ("mount_point", s(unescape(l[4]))),
            ("options", s(l[5])),
            ("optional", s(l[6..].join(" "))),
            ("fstype", s(r[0])),
            ("source", s(unescape(r[1]))),
            ("super_options", s(r[2])),
        ]));
    }
    J::Arr(out)
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let n = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(n);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn limits() -> J {
    // "Max open files            1024                 4096                 files"
    let text = fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let mut map = BTreeMap::new();
    for line in text.lines().skip(1) {
        if line.len() < 26 {
            continue;
        }
        let name = line[..26].trim().to_string();
        let rest: Vec<&str> = line[26..].split_whitespace().collect();
        if rest.len() < 2 {
            continue;
        }
        let val = |v: &str| match v {
            "unlimited" => s("unlimited"),
            n => n.parse().map(J::Num).unwrap_or_else(|_| s(n)),
        };
        map.insert(
            name,
            obj(vec![("soft", val(rest[0])), ("hard", val(rest[1]))]),
        );
    }
    J::Obj(map)
}

fn namespaces() -> J {
    let mut map = BTreeMap::new();
    for ns in [
        "cgroup",
        "ipc",
        "mnt",
        "net",
        "pid",
        "pid_for_children",
        "time",
        "time_for_children",
        "user",
        "uts",
    ] {
        let v = match fs::read_link(format!("/proc/self/ns/{ns}")) {
            Ok(t) => s(t.to_string_lossy()),
            Err(e) => errno_of(&e),
        };
        map.insert(ns.to_string(), v);
    }
    J::Obj(map)
}

fn fds() -> J {
    let mut map = BTreeMap::new();
    let me = fs::read_link("/proc/self")
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let own_dir = format!("/proc/{me}/fd");
    if let Ok(rd) = fs::read_dir("/proc/self/fd") {
        for e in rd.filter_map(|e| e.ok()) {
            let target = fs::read_link(e.path())
                .map(|t| t.to_string_lossy().into_owned())
                .unwrap_or_default();
            // The directory stream we are reading is itself an open fd: leave it out.
            if target == own_dir {
                continue;
            }
            map.insert(e.file_name().to_string_lossy().into_owned(), s(target));
        }
    }
    J::Obj(map)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let st = status();
    let field = |k: &str| st.get(k).cloned().map(s).unwrap_or(J::Null);
    let caps = obj(vec![
        ("inheritable", field("CapInh")),
        ("permitted", field("CapPrm")),
        ("effective", field("CapEff")),
        ("bounding", field("CapBnd")),
        ("ambient", field("CapAmb")),
    ]);
    let mut env: Vec<J> = std::env::vars_os()
        .map(|(k, v)| s(format!("{}={}", k.to_string_lossy(), v.to_string_lossy())))
        .collect();
    env.sort_by(|a, b| match (a, b) {
        (J::Str(a), J::Str(b)) => a.cmp(b),
        _ => std::cmp::Ordering::Equal,
    });
    let mut ops = BTreeMap::new();
    let mut exit_code = 0;
    let mut sleep_secs = 0u64;
    for a in args.iter().skip(1) {
        let (name, arg) = a.split_once('=').unwrap_or((a.as_str(), ""));
        match name {
            "exit" => exit_code = arg.parse().unwrap_or(0),
            "sleep" => sleep_secs = arg.parse().unwrap_or(0),
            _ => {}
        }
        ops.insert(a.clone(), op(name, arg));
    }
    let report = obj(vec![
        ("probe", s("husk-probe 1")),
        ("argv", J::Arr(args.iter().map(|a| s(a.as_str())).collect())),
        ("env", J::Arr(env)),
        (
            "cwd",
            match std::env::current_dir() {
                Ok(p) => s(p.to_string_lossy()),
                Err(e) => errno_of(&e),
            },
        ),
        ("pid", J::Num(i64::from(std::process::id()))),
        ("uid", nums(st.get("Uid"))),
        ("gid", nums(st.get("Gid"))),
        ("groups", nums(st.get("Groups"))),
        ("umask", field("Umask")),
        ("caps", caps),
        ("no_new_privs", field("NoNewPrivs")),
        ("seccomp", field("Seccomp")),
        ("ns", namespaces()),
        ("hostname", read_text("/proc/sys/kernel/hostname")),
        ("domainname", read_text("/proc/sys/kernel/domainname")),
        ("oom_score_adj", read_text("/proc/self/oom_score_adj")),
        ("limits", limits()),
        ("cgroup", read_text("/proc/self/cgroup")),
        ("personality", read_text("/proc/self/personality")),
        ("uid_map", read_text("/proc/self/uid_map")),
        ("gid_map", read_text("/proc/self/gid_map")),
        ("fds", fds()),
        ("mounts", mountinfo()),
        ("ops", J::Obj(ops)),
    ]);
    let mut out = String::with_capacity(16 * 1024);
    report.write(&mut out);
    out.push('\n');
    use std::io::Write;
    let stdout = io::stdout();
    let mut lock = stdout.lock();
    let _ = lock.write_all(out.as_bytes());
    let _ = lock.flush();
    drop(lock);
    if sleep_secs > 0 {
        std::thread::sleep(std::time::Duration::from_secs(sleep_secs));
    }
    std::process::exit(exit_code);
}

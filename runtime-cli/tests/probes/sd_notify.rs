//! A static sd_notify(3) client and server for busybox containers and shell tests (busybox
//! has no unix datagram client, and the host may have no socat):
//!
//! - `sd_notify MSG...` sends ONE datagram, the arguments joined by newlines, to
//!   `$NOTIFY_SOCKET`, as sd_notify(3) does. Exit 0 when it was sent, 1 (error on stderr)
//!   otherwise.
//! - `sd_notify --listen PATH SECONDS COUNT` binds a datagram socket at PATH (replacing a stale
//!   one), prints each datagram it receives on one line (newlines inside shown as `|`), and
//!   exits 0 after COUNT datagrams, 1 when SECONDS pass first. Passed fds (a `BARRIER=1`
//!   message's pipe) are closed by the kernel, since no control buffer is offered.
//!
//! Built by the tests themselves, std only:
//! `rustc -O -C target-feature=+crt-static -o sd_notify sd_notify.rs` (no cargo, no crates).

use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn send(msg: &str) -> ExitCode {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        eprintln!("sd_notify: NOTIFY_SOCKET is not set");
        return ExitCode::from(1);
    };
    let sent = UnixDatagram::unbound().and_then(|s| s.send_to(msg.as_bytes(), &path));
    match sent {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sd_notify: send to {}: {e}", path.to_string_lossy());
            ExitCode::from(1)
        }
    }
}

fn listen(path: &str, seconds: u64, count: usize) -> ExitCode {
    let _ = std::fs::remove_file(path);
    let sock = match UnixDatagram::bind(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sd_notify: bind {path}: {e}");
            return ExitCode::from(1);
        }
    };
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut buf = [0u8; 4096];
    for _ in 0..count {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || sock.set_read_timeout(Some(left)).is_err() {
            eprintln!("sd_notify: timed out");
            return ExitCode::from(1);
        }
        match sock.recv(&mut buf) {
            Ok(n) => {
                let text = String::from_utf8_lossy(&buf[..n]).replace('\n', "|");
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{text}").and_then(|_| out.flush());
            }
            Err(e) => {
                eprintln!("sd_notify: recv on {path}: {e}");
                return ExitCode::from(1);
            }
        }
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--listen") {
        let num = |i: usize| args.get(i).and_then(|s| s.parse::<u64>().ok());
        return match (args.get(1), num(2), num(3)) {
            (Some(p), Some(s), Some(c)) => listen(p, s, c as usize),
            _ => {
                eprintln!("usage: sd_notify --listen PATH SECONDS COUNT");
                ExitCode::from(2)
            }
        };
    }
    send(&args.join("\n"))
}

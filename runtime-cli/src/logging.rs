//! The CLI's log: runc's `--log`, `--log-format text|json` and `--debug`.
//!
//! Only the CLI edge logs (the library returns errors, it never logs them), so that every failed
//! call writes exactly ONE error line: containerd's shim and conmon read the LAST line whose
//! `level` is `"error"` from the log file and show its `msg` to the user (compat.md).
//!
//! Where lines go, as runc 1.1 does it:
//! - with `--log FILE`: lines are appended to FILE (`O_APPEND`, created if missing; several
//!   calls share one file, and one `write(2)` per line keeps concurrent writers from
//!   interleaving) and an error is also printed as a bare message on stderr;
//! - without `--log`: lines go to stderr in the chosen format.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `time="..." level=error msg="..."` (logrus' text format, as runc writes it).
    Text,
    /// `{"level":"error","msg":"...","time":"..."}`.
    Json,
}

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Only written with `--debug`.
    Debug,
    /// Warnings the caller should see, the command still succeeds.
    Warning,
    /// The command failed.
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// The destination of log lines for one CLI invocation.
pub struct Logger {
    format: LogFormat,
    file: Option<File>,
    debug: bool,
}

impl Logger {
    /// Open `--log` for appending (created with mode 0644 if missing). When it cannot be opened
    /// the problem is reported on stderr and lines go to stderr instead: losing the error line
    /// entirely would leave the caller with nothing to show.
    pub fn open(path: Option<&Path>, format: LogFormat, debug: bool) -> Logger {
        let file = path.and_then(
            |p| match OpenOptions::new().create(true).append(true).open(p) {
                Ok(f) => Some(f),
                Err(e) => {
                    eprintln!("husk: open log file {}: {e}", p.display());
                    None
                }
            },
        );
        Logger {
            format,
            file,
            debug,
        }
    }

    /// Log a debug line (only with `--debug`).
    pub fn debug(&mut self, msg: impl AsRef<str>) {
        if self.debug {
            self.write(Level::Debug, msg.as_ref());
        }
    }

    /// Log a warning.
    pub fn warn(&mut self, msg: impl AsRef<str>) {
        self.write(Level::Warning, msg.as_ref());
    }

    /// Log the one error line of a failed command.
    pub fn error(&mut self, msg: impl AsRef<str>) {
        let msg = msg.as_ref();
        self.write(Level::Error, msg);
        if self.file.is_some() {
            // As runc: the log file gets the structured line, the terminal a readable one.
            eprintln!("husk: {msg}");
        }
    }

    /// Write the error line to the log file only (the caller prints its own message).
    pub fn write_error_only(&mut self, msg: &str) {
        if self.file.is_some() {
            self.write(Level::Error, msg);
        }
    }

    fn write(&mut self, level: Level, msg: &str) {
        let line = format_line(self.format, level, msg, &rfc3339_now());
        match &mut self.file {
            // Ignoring a failed log write is deliberate: the command's own outcome (exit code)
            // must not change because its log could not be written.
            Some(f) => drop(f.write_all(line.as_bytes())),
            None => drop(std::io::stderr().write_all(line.as_bytes())),
        }
    }
}

/// One log line, with its trailing newline.
pub fn format_line(format: LogFormat, level: Level, msg: &str, time: &str) -> String {
    match format {
        LogFormat::Json => {
            // serde_json's map is ordered by key: level, msg, time — logrus' order too.
            let v = serde_json::json!({ "level": level.as_str(), "msg": msg, "time": time });
            format!("{v}\n")
        }
        LogFormat::Text => {
            format!(
                "time={} level={} msg={}\n",
                quote(time),
                level.as_str(),
                quote(msg)
            )
        }
    }
}

/// Quote like Go's `%q` for the characters that matter in one log line.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The current time in RFC 3339, UTC, whole seconds (what logrus writes by default).
pub fn rfc3339_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(secs: u64) -> String {
    husk::state::rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn json_line_is_one_object_in_logrus_key_order() {
        let l = format_line(LogFormat::Json, Level::Error, "a \"b\"\nc", "T");
        assert_eq!(
            l,
            "{\"level\":\"error\",\"msg\":\"a \\\"b\\\"\\nc\",\"time\":\"T\"}\n"
        );
        assert_eq!(l.matches('\n').count(), 1);
    }

    #[test]
    fn text_line_matches_logrus() {
        let l = format_line(
            LogFormat::Text,
            Level::Error,
            "container does not exist",
            "T",
        );
        assert_eq!(
            l,
            "time=\"T\" level=error msg=\"container does not exist\"\n"
        );
    }
}

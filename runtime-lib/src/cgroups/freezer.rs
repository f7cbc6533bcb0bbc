//! Freezing and thawing a cgroup (`pause`/`resume`), waiting until the kernel says it is done.
//!
//! v1: write `FROZEN`/`THAWED` to `freezer.state`; reading it back says `FREEZING` while
//! tasks are still being stopped, so the write is repeated until it reads `FROZEN` (runc
//! re-writes too: a task that was in an uninterruptible sleep is only caught by a new write).
//! v2: write `1`/`0` to `cgroup.freeze`, then wait for `frozen 1`/`frozen 0` in
//! `cgroup.events`.
//!
//! A freeze that does not complete within the timeout is undone (thawed) and reported: a
//! half-frozen container is worse than a running one.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{fs, CgroupError};

/// How long a freeze may take before it is abandoned.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(5);

/// Poll `done` with a short, growing delay until it is true or `timeout` passes.
fn wait_until(
    timeout: Duration,
    mut done: impl FnMut() -> Result<bool, CgroupError>,
) -> Result<bool, CgroupError> {
    let deadline = Instant::now() + timeout;
    let mut delay = Duration::from_micros(500);
    loop {
        if done()? {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(20));
    }
}

fn timed_out(dir: &Path, what: &'static str, timeout: Duration) -> CgroupError {
    CgroupError::Io {
        op: what,
        path: dir.to_path_buf(),
        source: std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("not done after {} ms", timeout.as_millis()),
        ),
    }
}

/// v1: freeze (or thaw) `dir` and wait.
pub(crate) fn set_v1(dir: &Path, freeze: bool, timeout: Duration) -> Result<(), CgroupError> {
    let want = if freeze { "FROZEN" } else { "THAWED" };
    let ok = wait_until(timeout, || {
        fs::write(None, dir, "freezer.state", want)?;
        Ok(fs::read(dir, "freezer.state")?.trim() == want)
    })?;
    if ok {
        return Ok(());
    }
    if freeze {
        let _ = fs::write(None, dir, "freezer.state", "THAWED");
    }
    Err(timed_out(
        dir,
        if freeze { "freeze" } else { "thaw" },
        timeout,
    ))
}

/// v1: true when `freezer.state` reads `FROZEN`.
pub(crate) fn is_frozen_v1(dir: &Path) -> Result<bool, CgroupError> {
    Ok(fs::read(dir, "freezer.state")?.trim() == "FROZEN")
}

/// v2: the `frozen` key of `cgroup.events`.
fn events_frozen(dir: &Path) -> Result<bool, CgroupError> {
    let ev = fs::read(dir, "cgroup.events")?;
    Ok(ev.lines().any(|l| l.trim() == "frozen 1"))
}

/// v2: freeze (or thaw) `dir` and wait.
pub(crate) fn set_v2(dir: &Path, freeze: bool, timeout: Duration) -> Result<(), CgroupError> {
    fs::write(None, dir, "cgroup.freeze", if freeze { "1" } else { "0" })?;
    if wait_until(timeout, || Ok(events_frozen(dir)? == freeze))? {
        return Ok(());
    }
    if freeze {
        let _ = fs::write(None, dir, "cgroup.freeze", "0");
    }
    Err(timed_out(
        dir,
        if freeze { "freeze" } else { "thaw" },
        timeout,
    ))
}

/// v2: true when asked to freeze AND the kernel reports it frozen (runc's "frozen" state;
/// still freezing counts as not paused).
pub(crate) fn is_frozen_v2(dir: &Path) -> Result<bool, CgroupError> {
    Ok(fs::read(dir, "cgroup.freeze")?.trim() == "1" && events_frozen(dir)?)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{read, TempDir};
    use super::*;

    #[test]
    fn v1_write_and_confirm() {
        let t = TempDir::new("frz");
        let d = t.touch("f", &["freezer.state"]);
        set_v1(&d, true, TIMEOUT).unwrap();
        assert_eq!(read(&d, "freezer.state"), "FROZEN");
        assert!(is_frozen_v1(&d).unwrap());
        set_v1(&d, false, TIMEOUT).unwrap();
        assert!(!is_frozen_v1(&d).unwrap());
    }

    #[test]
    fn v2_waits_for_events_and_undoes_a_stuck_freeze() {
        let t = TempDir::new("frz");
        let d = t.touch("f", &["cgroup.freeze", "cgroup.events"]);
        std::fs::write(d.join("cgroup.events"), "populated 1\nfrozen 1\n").unwrap();
        set_v2(&d, true, TIMEOUT).unwrap();
        assert!(is_frozen_v2(&d).unwrap());
        // The kernel never reports frozen: time out, thaw again, say so.
        std::fs::write(d.join("cgroup.events"), "populated 1\nfrozen 0\n").unwrap();
        let e = set_v2(&d, true, Duration::from_millis(30))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("freeze ") && e.contains("not done after 30 ms"),
            "{e}"
        );
        assert_eq!(read(&d, "cgroup.freeze"), "0");
        assert!(!is_frozen_v2(&d).unwrap());
    }

    #[test]
    fn missing_freezer_is_an_error() {
        let t = TempDir::new("frz");
        let d = t.touch("f", &[]);
        assert!(set_v1(&d, true, TIMEOUT).is_err());
        assert!(set_v2(&d, true, TIMEOUT).is_err());
    }
}

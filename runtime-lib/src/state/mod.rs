//! The state directory: one folder per container under the state root, written atomically
//! (temp file + rename), locked per container with `flock` on the folder itself.
//!
//! Layout of `<root>/<id>/`:
//!
//! | file | what |
//! |---|---|
//! | `state.json` | [`StateFile`]: what `state`, `kill`, `delete` need |
//! | `exec.fifo` | exists while the container is `created`; `start` opens it to release init |
//! | `exec.json` | what `exec` takes from the config (`process`, `linux.seccomp`): apart from `state.json`, which every command reads, because a real profile makes it 5 times bigger |

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::cgroups::CgroupConfig;

/// Errors of the state directory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// A filesystem operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: crate::error::OsError,
    },
    /// `state.json` is not valid.
    #[error("invalid state file {path}: {msg}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The parse error.
        msg: String,
    },
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StateError + 'a {
    move |source| StateError::Io {
        op,
        path: path.to_path_buf(),
        source: source.into(),
    }
}

/// What husk remembers about a container between commands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateFile {
    /// The container id.
    pub id: String,
    /// `ociVersion` of the config.
    pub oci_version: String,
    /// Absolute bundle path.
    pub bundle: PathBuf,
    /// Absolute rootfs path.
    pub rootfs: PathBuf,
    /// Host pid of the container process (0 while creating).
    pub pid: i32,
    /// Its start time in clock ticks since boot (`/proc/<pid>/stat` field 22), to tell a
    /// reused pid from ours.
    pub pid_start: u64,
    /// Creation time, RFC 3339 UTC.
    pub created: String,
    /// `true` once `create` finished (init blocked or later).
    pub created_done: bool,
    /// Uid that created the container.
    pub owner_uid: u32,
    /// The cgroup, when one was made.
    pub cgroup: Option<CgroupConfig>,
    /// The config's annotations.
    #[serde(default)]
    pub annotations: std::collections::HashMap<String, String>,
    /// The config's hooks (poststart and poststop run from later commands).
    #[serde(default)]
    pub hooks: Option<oci_spec::runtime::Hooks>,
    /// The resources in force (`linux.resources`, then every `update`).
    #[serde(default)]
    pub resources: Option<oci_spec::runtime::LinuxResources>,
    /// What `exec` takes from the config. Written to `exec.json` ([`StateDir::save_exec`]),
    /// not here: `state`, `start`, `kill`, `delete` and `list` would parse a whole seccomp
    /// profile for nothing (podman's config: 9 KiB of state, +460k instructions per `state`).
    /// Read here only from state files written before `exec.json` existed.
    #[serde(default, skip_serializing)]
    pub exec: Option<crate::container::ExecDefaults>,
}

impl StateFile {
    /// The state of a folder whose `create` died before writing anything: `creating`, no
    /// process, no cgroup known. `delete --force` removes it.
    pub fn placeholder(id: &str) -> StateFile {
        StateFile {
            id: id.to_string(),
            oci_version: String::new(),
            bundle: PathBuf::new(),
            rootfs: PathBuf::new(),
            pid: 0,
            pid_start: 0,
            created: String::new(),
            created_done: false,
            owner_uid: 0,
            cgroup: None,
            annotations: Default::default(),
            hooks: None,
            resources: None,
            exec: None,
        }
    }
}

/// The state root and one container's folder in it.
#[derive(Debug, Clone)]
pub struct StateDir {
    dir: PathBuf,
}

/// Check a container id before any path is built from it (security.md): not empty, at most
/// 1024 bytes, no `/`, not `.` or `..`, only `[A-Za-z0-9_.+-]` like runc.
///
/// # Errors
/// The reason, for [`crate::Error::InvalidId`].
pub fn validate_id(id: &str) -> Result<(), &'static str> {
    if id.is_empty() {
        return Err("id is empty");
    }
    if id.len() > 1024 {
        return Err("id is longer than 1024 bytes");
    }
    if id == "." || id == ".." {
        return Err("id is . or ..");
    }
    if id.contains('/') {
        return Err("id contains '/'");
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_.+-".contains(&b))
    {
        return Err("id may only contain letters, digits, '_', '.', '+' and '-'");
    }
    Ok(())
}

impl StateDir {
    /// The folder of container `id` (not created). `id` must have passed [`validate_id`].
    pub fn new(root: &Path, id: &str) -> StateDir {
        StateDir { dir: root.join(id) }
    }

    /// The folder's path.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The exec fifo's path.
    pub fn fifo(&self) -> PathBuf {
        self.dir.join("exec.fifo")
    }

    /// Whether the folder exists.
    pub fn exists(&self) -> bool {
        self.dir.is_dir()
    }

    /// Create the folder (0700, root-only), and the state root if needed. Returns `Ok(false)`
    /// when it exists already: creating it is how a new container claims its id.
    ///
    /// # Errors
    /// When the folder cannot be made.
    pub fn create(&self) -> Result<bool, StateError> {
        if let Some(root) = self.dir.parent() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(root)
                .map_err(io_err("mkdir", root))?;
        }
        match fs::DirBuilder::new().mode(0o700).create(&self.dir) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(io_err("mkdir", &self.dir)(e)),
        }
    }

    /// Take the container's exclusive lock (held until the returned file is dropped).
    ///
    /// # Errors
    /// When the folder cannot be opened or locked.
    pub fn lock(&self) -> Result<nix::fcntl::Flock<File>, StateError> {
        let f = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(&self.dir)
            .map_err(io_err("open", &self.dir))?;
        nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| io_err("flock", &self.dir)(e.into()))
    }

    /// Read `state.json`.
    ///
    /// # Errors
    /// When it is missing or invalid.
    pub fn load(&self) -> Result<StateFile, StateError> {
        let p = self.dir.join("state.json");
        let data = crate::sys::read_small(&p, 2048).map_err(io_err("read", &p))?;
        serde_json::from_slice(&data).map_err(|e| StateError::Corrupt {
            path: p,
            msg: e.to_string(),
        })
    }

    /// Write `state.json` atomically.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn save(&self, state: &StateFile) -> Result<(), StateError> {
        let data = serde_json::to_vec(state).expect("state serialises");
        write_atomic(&self.dir.join("state.json"), &data, 0o600)
    }

    /// Write `exec.json` (what `exec` takes from the config) atomically.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn save_exec(&self, exec: &crate::container::ExecDefaults) -> Result<(), StateError> {
        let data = serde_json::to_vec(exec).expect("exec defaults serialise");
        write_atomic(&self.dir.join("exec.json"), &data, 0o600)
    }

    /// Read `exec.json`; `Ok(None)` when there is none (a state from before it existed).
    ///
    /// # Errors
    /// When it exists but cannot be read or is invalid.
    pub fn load_exec(&self) -> Result<Option<crate::container::ExecDefaults>, StateError> {
        let p = self.dir.join("exec.json");
        let data = match fs::read(&p) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("read", &p)(e)),
        };
        serde_json::from_slice(&data)
            .map(Some)
            .map_err(|e| StateError::Corrupt {
                path: p,
                msg: e.to_string(),
            })
    }

    /// Remove the folder and everything in it. Succeeds when it is already gone.
    ///
    /// # Errors
    /// When it exists and cannot be removed.
    pub fn remove(&self) -> Result<(), StateError> {
        match fs::remove_dir_all(&self.dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err("remove", &self.dir)(e)),
            _ => Ok(()),
        }
    }
}

/// Write `data` to `path` atomically: a temp file `.<name>` in the same folder, then
/// `rename`. The file never exists half-written (containerd reads pid files without waiting).
/// No fsync, as in runc: the state root is on `/run`, a tmpfs that a reboot empties anyway.
///
/// # Errors
/// The failing step, with the path it used.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<(), StateError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}"));
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .custom_flags(libc::O_CLOEXEC)
        .open(&tmp)
        .map_err(io_err("open", &tmp))?;
    f.write_all(data).map_err(io_err("write", &tmp))?;
    drop(f);
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io_err("rename", path)(e)
    })
}

/// Format a time as RFC 3339 in UTC with nanoseconds, like Go's `time.RFC3339Nano`.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, dd) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{dd:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_nanos()
    )
}

/// Format a time as RFC 3339 in UTC to the second, like Go's `time.RFC3339` (log lines).
pub fn rfc3339_seconds(t: SystemTime) -> String {
    let full = rfc3339(t);
    // "YYYY-MM-DDTHH:MM:SS" is the first 19 characters of the nanosecond form.
    format!("{}Z", &full[..19])
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// What `/proc/<pid>/stat` says of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcInfo {
    /// The state letter (`R`, `S`, `Z`, ...).
    pub state: char,
    /// The parent's pid.
    pub ppid: i32,
    /// Start time in clock ticks since boot.
    pub start: u64,
}

impl ProcInfo {
    /// Read `/proc/<pid>/stat`; `None` when the process does not exist.
    pub fn read(pid: i32) -> Option<ProcInfo> {
        let stat = crate::sys::read_small(Path::new(&format!("/proc/{pid}/stat")), 1024).ok()?;
        let stat = std::str::from_utf8(&stat).ok()?;
        let rest = stat.rsplit_once(')')?.1;
        let mut f = rest.split_whitespace();
        let state = f.next()?.chars().next()?;
        let ppid = f.next()?.parse().ok()?;
        // After ppid (field 4), starttime is field 22: 18 fields further on.
        let start = f.nth(17)?.parse().ok()?;
        Some(ProcInfo { state, ppid, start })
    }

    /// Whether this process is still alive as the one started at `start` (a zombie or dead
    /// process counts as exited: PID 1 here reaps orphans late, environment.md).
    pub fn alive_as(pid: i32, start: u64) -> bool {
        ProcInfo::read(pid).is_some_and(|p| p.is_alive_as(start))
    }

    /// Whether this look at the process shows it alive as the one started at `start` (see
    /// [`ProcInfo::alive_as`]), without reading `/proc` again.
    pub fn is_alive_as(&self, start: u64) -> bool {
        self.start == start && !matches!(self.state, 'Z' | 'X' | 'x')
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(
            rfc3339(SystemTime::UNIX_EPOCH),
            "1970-01-01T00:00:00.000000000Z"
        );
        let t = SystemTime::UNIX_EPOCH + Duration::new(1_709_251_199, 5);
        assert_eq!(rfc3339(t), "2024-02-29T23:59:59.000000005Z");
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(t), "2000-02-29T00:00:00.000000000Z");
        assert_eq!(
            rfc3339_seconds(t + Duration::from_millis(999)),
            "2000-02-29T00:00:00Z"
        );
    }

    #[test]
    fn ids() {
        assert!(validate_id("abc-1.2_x+y").is_ok());
        for bad in ["", ".", "..", "a/b", "../x", "a b", "a\0b"] {
            assert!(validate_id(bad).is_err(), "{bad:?} accepted");
        }
        assert!(validate_id(&"a".repeat(1024)).is_ok());
        assert!(validate_id(&"a".repeat(1025)).is_err());
    }

    #[test]
    fn state_roundtrip_and_atomic_write() {
        let root = std::env::temp_dir().join(format!("husk-state-test-{}", std::process::id()));
        let d = StateDir::new(&root, "c1");
        assert!(d.create().unwrap());
        assert!(
            !d.create().unwrap(),
            "second create must report the id as taken"
        );
        let s = StateFile {
            id: "c1".into(),
            oci_version: "1.2.0".into(),
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            pid: 42,
            pid_start: 7,
            created: rfc3339(SystemTime::now()),
            created_done: true,
            owner_uid: 0,
            cgroup: None,
            annotations: Default::default(),
            hooks: None,
            resources: None,
            exec: None,
        };
        d.save(&s).unwrap();
        assert_eq!(d.load().unwrap(), s);
        assert!(
            !d.path().join(".state.json").exists(),
            "temp file left behind"
        );
        let _l = d.lock().unwrap();
        d.remove().unwrap();
        assert!(!d.exists());
        d.remove().unwrap();
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn proc_info_of_self() {
        let me = ProcInfo::read(std::process::id() as i32).unwrap();
        assert!(ProcInfo::alive_as(std::process::id() as i32, me.start));
        assert!(!ProcInfo::alive_as(std::process::id() as i32, me.start + 1));
    }
}

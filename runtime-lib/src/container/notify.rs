//! `NOTIFY_SOCKET`: the sd_notify(3) proxy of runc 1.1, for a runtime started by systemd
//! (`Type=notify`) or by an engine that passes its notify socket down.
//!
//! The host's socket is not reachable from inside the container, so:
//! - `create` makes `<state>/<id>/notify/`, bind-mounts it read-only at `/run/notify` (appended
//!   to `mounts`, so it lands on top of a `/run` tmpfs) and sets
//!   `NOTIFY_SOCKET=/run/notify/notify.sock` for the container process (not for later `exec`s,
//!   whose template is the bundle's own `process`, as runc's is);
//! - `start` (with `NOTIFY_SOCKET` in ITS environment) binds a datagram socket at
//!   `<state>/<id>/notify/notify.sock` (mode 0777, so any container user may write), lets the
//!   container run, and waits until a datagram has a `READY=` line or the container exits;
//!   it then sends that line and `MAINPID=<pid>` to the host socket, each as its own datagram
//!   ending in a newline, as runc 1.1.5 does (checked: runc sends no `BARRIER=1`).
//!
//! Differences from runc, on purpose: a `READY=` line is found anywhere in a datagram (runc
//! only forwards datagrams that START with `READY=`); the host socket is connected before the
//! container is released, so an unreachable one fails `start` with the container still
//! `created` (runc fails after starting it); a container created without `NOTIFY_SOCKET` is
//! started without a proxy (runc's `start` fails: it cannot bind in the missing folder).

use std::io::ErrorKind;
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::{Path, PathBuf};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::spec::Plan;
use crate::state::StateDir;
use crate::sys::process::pidfd_open;
use crate::{Error, Result};

/// Where the notify folder is mounted in the container, and the socket's name in it.
pub const CONTAINER_DIR: &str = "/run/notify";
const SOCKET_NAME: &str = "notify.sock";

/// The notify folder in the container's state directory.
fn host_dir(dir: &StateDir) -> PathBuf {
    dir.path().join("notify")
}

/// `create`, before the plan is used: the bind mount of the notify folder and `NOTIFY_SOCKET`.
pub(super) fn add_to_plan(dir: &StateDir, plan: &mut Plan) {
    let mut mount = oci_spec::runtime::Mount::default();
    mount.set_destination(PathBuf::from(CONTAINER_DIR));
    mount.set_typ(Some("bind".into()));
    mount.set_source(Some(host_dir(dir)));
    mount.set_options(Some(
        ["bind", "nosuid", "noexec", "nodev", "ro"]
            .map(String::from)
            .to_vec(),
    ));
    plan.spec
        .mounts_mut()
        .get_or_insert_with(Vec::new)
        .push(mount);
    if let Some(p) = plan.spec.process_mut() {
        let value = format!("NOTIFY_SOCKET={CONTAINER_DIR}/{SOCKET_NAME}");
        crate::process::set_env(p.env_mut().get_or_insert_with(Vec::new), value);
    }
}

/// `create`, once the state folder exists: the notify folder (0755).
pub(super) fn make_dir(dir: &StateDir) -> Result<()> {
    let folder = host_dir(dir);
    std::fs::DirBuilder::new()
        .mode(0o755)
        .create(&folder)
        .map_err(|e| Error::Path {
            op: "mkdir",
            path: folder,
            source: e.into(),
        })
}

/// The proxy between the container's socket and the host's, alive during `start`.
pub(super) struct Relay {
    ours: UnixDatagram,
    host: UnixDatagram,
}

/// The host socket's address: a path, or an abstract name written `@name` (systemd's and Go's
/// convention).
fn host_addr(host: &Path) -> std::io::Result<SocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::ffi::OsStrExt;
    match host.as_os_str().as_bytes().strip_prefix(b"@") {
        Some(name) => SocketAddr::from_abstract_name(name),
        None => SocketAddr::from_pathname(host),
    }
}

impl Relay {
    /// Bind the container's socket and connect to the host's. `None` when the container was
    /// created without `NOTIFY_SOCKET` (no notify folder): nothing inside can notify.
    pub(super) fn bind(dir: &StateDir, host: &Path) -> Result<Option<Relay>> {
        let folder = host_dir(dir);
        if !folder.is_dir() {
            return Ok(None);
        }
        let path = folder.join(SOCKET_NAME);
        let path_err = |op: &'static str| {
            let path = path.clone();
            move |e: std::io::Error| Error::Path {
                op,
                path,
                source: e.into(),
            }
        };
        // A socket left by an earlier `start` that failed.
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != ErrorKind::NotFound => return Err(path_err("remove")(e)),
            _ => {}
        }
        let ours = UnixDatagram::bind(&path).map_err(path_err("bind"))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777))
            .map_err(path_err("chmod"))?;
        let host_err = |e: std::io::Error| Error::Path {
            op: "connect to NOTIFY_SOCKET",
            path: host.to_path_buf(),
            source: e.into(),
        };
        let client = UnixDatagram::unbound().map_err(host_err)?;
        client
            .connect_addr(&host_addr(host).map_err(host_err)?)
            .map_err(host_err)?;
        Ok(Some(Relay { ours, host: client }))
    }

    /// Wait for the container's `READY=` (or the exit of `pid`, the container process) and
    /// pass it on with `MAINPID=<main_pid>`.
    pub(super) fn forward(self, pid: i32, main_pid: u32) -> Result<()> {
        // Without a pidfd (the process is already gone) there is nothing to wait for.
        let Ok(pidfd) = pidfd_open(pid) else {
            return Ok(());
        };
        let mut buf = [0u8; 4096];
        loop {
            let mut fds = [
                PollFd::new(self.ours.as_fd(), PollFlags::POLLIN),
                PollFd::new(pidfd.as_fd(), PollFlags::POLLIN),
            ];
            match poll(&mut fds, PollTimeout::NONE) {
                Err(nix::Error::EINTR) => continue,
                Err(e) => return Err(Error::sys("poll(notify socket, pidfd)", e)),
                Ok(_) => {}
            }
            let readable = |f: &PollFd<'_>| f.revents().is_some_and(|r| !r.is_empty());
            let (message, exited) = (readable(&fds[0]), readable(&fds[1]));
            if message {
                let n = match self.ours.recv(&mut buf) {
                    Ok(n) => n,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(e) => return Err(Error::sys("recv(notify socket)", e)),
                };
                if let Some(line) = ready_line(&buf[..n]) {
                    let mut ready = line.to_vec();
                    ready.push(b'\n');
                    let send = |data: &[u8]| {
                        self.host
                            .send(data)
                            .map_err(|e| Error::sys("send to NOTIFY_SOCKET", e))
                    };
                    send(&ready)?;
                    send(format!("MAINPID={main_pid}\n").as_bytes())?;
                    return Ok(());
                }
                continue;
            }
            if exited {
                // runc returns quietly too: the container ended without being ready.
                return Ok(());
            }
        }
    }
}

/// The first `READY=...` line of a datagram.
fn ready_line(datagram: &[u8]) -> Option<&[u8]> {
    datagram
        .split(|&b| b == b'\n')
        .find(|l| l.starts_with(b"READY="))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_is_found_on_any_line() {
        assert_eq!(ready_line(b"READY=1"), Some(&b"READY=1"[..]));
        assert_eq!(
            ready_line(b"STATUS=up\nREADY=1\nX=2"),
            Some(&b"READY=1"[..])
        );
        assert_eq!(ready_line(b"STATUS=READY=1"), None);
        assert_eq!(ready_line(b""), None);
    }

    #[test]
    fn abstract_host_sockets() {
        use std::os::linux::net::SocketAddrExt;
        let a = host_addr(Path::new("@/org/x")).unwrap();
        assert_eq!(a.as_abstract_name(), Some(&b"/org/x"[..]));
        let p = host_addr(Path::new("/run/systemd/notify")).unwrap();
        assert_eq!(p.as_pathname(), Some(Path::new("/run/systemd/notify")));
    }
}

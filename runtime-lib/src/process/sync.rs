//! The parent/child channel: one `SOCK_SEQPACKET` socketpair, one JSON-encoded message per
//! packet (message boundaries come from the socket type).
//!
//! | # | direction | message | when |
//! |---|---|---|---|
//! | 1 | parent → child | `Go` | uid/gid maps written for a user namespace made by `clone3` |
//! | 1b | parent → child | `CgroupJoined` | right after `Go` and before any answer: the child is in its cgroups (it waits for this before forking, a cgroup namespace, a `cgroup` mount, `MountSources`, hooks) |
//! | 2 | child → parent | `NeedMaps` | slow path: the child `unshare`d a user namespace; parent writes its maps |
//! | 3 | parent → child | `MapsDone` | answer to `NeedMaps` |
//! | 4 | child → parent | `Init { pid }` | a second fork made the real init (a sibling, `CLONE_PARENT`); the intermediate exits |
//! | 5 | child → parent | `CreateRuntimeHooks` | namespaces exist, before mounts; parent runs prestart + createRuntime hooks |
//! | 6 | parent → child | `HooksDone` | answer to `CreateRuntimeHooks` |
//! | 7 | child → parent | `SeccompFd` + SCM_RIGHTS | the profile uses `SCMP_ACT_NOTIFY`: the listener fd, for the parent to send to `listenerPath` |
//! | 8 | parent → child | `SeccompDone` | the agent has the fd |
//! | 9 | child → parent | `Ready` | setup done; init now blocks on the exec fifo |
//! | 10 | child → parent | `MountSources` | user namespace with bind mounts, before any mount: init's namespaces are final; parent opens the bind sources as host root through `/proc/<init>/root` (rootfs::MountSources) |
//! | 11 | parent → child | `MountSource { index }` + SCM_RIGHTS | one per bind mount: the `O_PATH` fd of `mounts[index]`'s source |
//! | 12 | parent → child | `MountSourcesDone` | answer to `MountSources`, after the last fd |
//! | * | child → parent | `Error(..)` | any failure; the child exits right after |
//!
//! After a second fork, the intermediate process and the new one share the child's end:
//! the new one's first message can overtake the intermediate's `Init`. The parent reads
//! through an [`Inbox`], which holds such messages back until `Init` has been read.
//!
//! Errors cross as data (stage, errno, message), never as flattened strings, so the parent can
//! rebuild a typed [`InitError`](super::InitError).

use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{recv, send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};
use serde::{Deserialize, Serialize};

/// A message from the parent to the child.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum ToChild {
    Go,
    CgroupJoined,
    MapsDone,
    HooksDone,
    SeccompDone,
    MountSource { index: usize },
    MountSourcesDone,
}

/// A message from the child to the parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum ToParent {
    NeedMaps,
    Init { pid: i32 },
    CreateRuntimeHooks,
    SeccompFd,
    Ready,
    MountSources,
    Error(ErrorData),
}

/// A failure in the child, as data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ErrorData {
    /// The full message, runc-style.
    pub msg: String,
    /// The errno behind it.
    pub errno: Option<i32>,
}

/// One end of the channel.
#[derive(Debug)]
pub(crate) struct Channel(OwnedFd);

const MAX: usize = 64 * 1024;

impl Channel {
    /// A connected pair (both ends close-on-exec).
    pub(crate) fn pair() -> std::io::Result<(Channel, Channel)> {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )?;
        Ok((Channel(a), Channel(b)))
    }

    fn send_json<T: Serialize>(&self, msg: &T) -> std::io::Result<()> {
        let data = serde_json::to_vec(msg).map_err(std::io::Error::other)?;
        loop {
            match send(self.0.as_raw_fd(), &data, MsgFlags::MSG_NOSIGNAL) {
                Err(nix::Error::EINTR) => continue,
                r => return r.map(|_| ()).map_err(Into::into),
            }
        }
    }

    /// Receive one message; `Ok(None)` when the other end closed.
    fn recv_json<T: for<'de> Deserialize<'de>>(&self) -> std::io::Result<Option<T>> {
        let mut buf = vec![0u8; MAX];
        let n = loop {
            match recv(self.0.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Err(nix::Error::EINTR) => continue,
                r => break r?,
            }
        };
        if n == 0 {
            return Ok(None);
        }
        serde_json::from_slice(&buf[..n])
            .map(Some)
            .map_err(std::io::Error::other)
    }

    /// Send `m` with `fd` attached (SCM_RIGHTS).
    pub(crate) fn send_parent_fd(
        &self,
        m: &ToParent,
        fd: std::os::fd::BorrowedFd<'_>,
    ) -> std::io::Result<()> {
        self.send_json_fd(m, fd)
    }

    /// Send `m` to the child with `fd` attached (SCM_RIGHTS).
    pub(crate) fn send_child_fd(
        &self,
        m: &ToChild,
        fd: std::os::fd::BorrowedFd<'_>,
    ) -> std::io::Result<()> {
        self.send_json_fd(m, fd)
    }

    fn send_json_fd<T: Serialize>(
        &self,
        m: &T,
        fd: std::os::fd::BorrowedFd<'_>,
    ) -> std::io::Result<()> {
        use nix::sys::socket::{sendmsg, ControlMessage, UnixAddr};
        let data = serde_json::to_vec(m).map_err(std::io::Error::other)?;
        let fds = [fd.as_raw_fd()];
        let iov = [std::io::IoSlice::new(&data)];
        sendmsg::<UnixAddr>(
            self.0.as_raw_fd(),
            &iov,
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::MSG_NOSIGNAL,
            None,
        )?;
        Ok(())
    }

    /// Receive one message and the fd attached to it, if any.
    pub(crate) fn recv_from_child_fd(
        &self,
    ) -> std::io::Result<Option<(ToParent, Option<OwnedFd>)>> {
        self.recv_json_fd()
    }

    /// Receive one message from the parent and the fd attached to it, if any.
    pub(crate) fn recv_from_parent_fd(
        &self,
    ) -> std::io::Result<Option<(ToChild, Option<OwnedFd>)>> {
        self.recv_json_fd()
    }

    fn recv_json_fd<T: for<'de> Deserialize<'de>>(
        &self,
    ) -> std::io::Result<Option<(T, Option<OwnedFd>)>> {
        use nix::sys::socket::{recvmsg, ControlMessageOwned, UnixAddr};
        let mut buf = vec![0u8; MAX];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let (n, fd) = loop {
            let mut iov = [std::io::IoSliceMut::new(&mut buf)];
            match recvmsg::<UnixAddr>(
                self.0.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Err(nix::Error::EINTR) => continue,
                Err(e) => return Err(e.into()),
                Ok(msg) => {
                    let mut fd = None;
                    for c in msg.cmsgs()? {
                        if let ControlMessageOwned::ScmRights(fds) = c {
                            for raw in fds {
                                // Received with MSG_CMSG_CLOEXEC; each is a new fd we own.
                                let owned = crate::sys::process::own_received_fd(raw);
                                if fd.is_none() {
                                    fd = Some(owned);
                                }
                            }
                        }
                    }
                    break (msg.bytes, fd);
                }
            }
        };
        if n == 0 {
            return Ok(None);
        }
        let m = serde_json::from_slice(&buf[..n]).map_err(std::io::Error::other)?;
        Ok(Some((m, fd)))
    }

    pub(crate) fn send_child(&self, m: ToChild) -> std::io::Result<()> {
        self.send_json(&m)
    }

    pub(crate) fn send_parent(&self, m: &ToParent) -> std::io::Result<()> {
        self.send_json(m)
    }

    pub(crate) fn recv_from_parent(&self) -> std::io::Result<Option<ToChild>> {
        self.recv_json()
    }
}

/// A message from the child, with the fd that came with it.
pub(crate) type FromChild = (ToParent, Option<OwnedFd>);

/// The parent's reading end when the child forks a second time (init in some shapes, every
/// exec'd process). The intermediate process A sends `Init { pid }` right after that fork
/// and exits; the new process B starts at once on the same socket, so B's first message
/// (its seccomp fd, a hook request, an error) can arrive before A's `Init`. What B asks for
/// needs B's pid, and a failure must reap B, so until `Init` has been read every other
/// message waits here and comes out after it, in order. `NeedMaps` only ever comes from A,
/// before its fork, and A waits for the answer: it passes at once. If A exits without
/// `Init` (it failed before forking), what it sent comes out before the end of the stream.
pub(crate) struct Inbox<'a> {
    ch: &'a Channel,
    held: std::collections::VecDeque<FromChild>,
    before_init: bool,
}

impl<'a> Inbox<'a> {
    /// Read from `ch`; `second_fork`: the child will send `Init` (else messages pass as they
    /// come).
    pub(crate) fn new(ch: &'a Channel, second_fork: bool) -> Inbox<'a> {
        Inbox {
            ch,
            held: Default::default(),
            before_init: second_fork,
        }
    }

    /// The next message in an order the parent can act on; `None` at the end of the stream
    /// (every holder of the child's end has exited or exec'd).
    pub(crate) fn recv(&mut self) -> std::io::Result<Option<FromChild>> {
        if !self.before_init {
            if let Some(m) = self.held.pop_front() {
                return Ok(Some(m));
            }
        }
        loop {
            match self.ch.recv_from_child_fd()? {
                Some(m @ (ToParent::Init { .. }, _)) if self.before_init => {
                    self.before_init = false;
                    return Ok(Some(m));
                }
                Some(m @ (ToParent::NeedMaps, _)) => return Ok(Some(m)),
                Some(m) if self.before_init => self.held.push_back(m),
                Some(m) => return Ok(Some(m)),
                None => {
                    self.before_init = false;
                    return Ok(self.held.pop_front());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbox_hands_out_init_before_what_overtook_it() {
        let (child, parent) = Channel::pair().unwrap();
        // A asks for maps and waits; after its fork B's seccomp fd overtakes A's Init.
        child.send_parent(&ToParent::NeedMaps).unwrap();
        let f = std::fs::File::open("/proc/self/stat").unwrap();
        child
            .send_parent_fd(&ToParent::SeccompFd, std::os::fd::AsFd::as_fd(&f))
            .unwrap();
        child.send_parent(&ToParent::Ready).unwrap();
        child.send_parent(&ToParent::Init { pid: 42 }).unwrap();
        drop(child);
        let mut inbox = Inbox::new(&parent, true);
        let mut got = Vec::new();
        while let Some((m, fd)) = inbox.recv().unwrap() {
            got.push((m, fd.is_some()));
        }
        assert_eq!(
            got,
            [
                (ToParent::NeedMaps, false),
                (ToParent::Init { pid: 42 }, false),
                (ToParent::SeccompFd, true),
                (ToParent::Ready, false),
            ]
        );
    }

    #[test]
    fn inbox_gives_an_early_error_when_no_init_comes() {
        let (child, parent) = Channel::pair().unwrap();
        let e = ErrorData {
            msg: "setns: EPERM".into(),
            errno: Some(1),
        };
        child.send_parent(&ToParent::Error(e.clone())).unwrap();
        drop(child);
        let mut inbox = Inbox::new(&parent, true);
        assert_eq!(inbox.recv().unwrap().map(|m| m.0), Some(ToParent::Error(e)));
        assert!(inbox.recv().unwrap().is_none());
        // Without a second fork nothing is held back.
        let (child, parent) = Channel::pair().unwrap();
        child.send_parent(&ToParent::Ready).unwrap();
        let mut inbox = Inbox::new(&parent, false);
        assert_eq!(inbox.recv().unwrap().map(|m| m.0), Some(ToParent::Ready));
    }

    #[test]
    fn messages_round_trip_with_boundaries() {
        let (a, b) = Channel::pair().unwrap();
        a.send_parent(&ToParent::Init { pid: 7 }).unwrap();
        a.send_parent(&ToParent::Error(ErrorData {
            msg: "boom".into(),
            errno: Some(2),
        }))
        .unwrap();
        let (m, fd) = b.recv_from_child_fd().unwrap().unwrap();
        assert_eq!((m, fd.is_none()), (ToParent::Init { pid: 7 }, true));
        let (m, _) = b.recv_from_child_fd().unwrap().unwrap();
        assert_eq!(
            m,
            ToParent::Error(ErrorData {
                msg: "boom".into(),
                errno: Some(2)
            })
        );
        // An fd crosses with its message.
        let f = std::fs::File::open("/proc/self/stat").unwrap();
        a.send_parent_fd(&ToParent::SeccompFd, std::os::fd::AsFd::as_fd(&f))
            .unwrap();
        let (m, fd) = b.recv_from_child_fd().unwrap().unwrap();
        assert_eq!(m, ToParent::SeccompFd);
        let got = nix::sys::stat::fstat(fd.as_ref().unwrap()).unwrap();
        let want = nix::sys::stat::fstat(&f).unwrap();
        assert_eq!((got.st_dev, got.st_ino), (want.st_dev, want.st_ino));
        b.send_child(ToChild::Go).unwrap();
        assert_eq!(a.recv_from_parent().unwrap(), Some(ToChild::Go));
        drop(b);
        assert_eq!(a.recv_from_parent().unwrap(), None);
    }
}

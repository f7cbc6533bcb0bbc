//! The parent/child channel: one `SOCK_SEQPACKET` socketpair, one JSON-encoded message per
//! packet (message boundaries come from the socket type).
//!
//! | # | direction | message | when |
//! |---|---|---|---|
//! | 1 | parent → child | `Go` | child's cgroup is set (and uid/gid maps written for a user namespace made by `clone3`) |
//! | 2 | child → parent | `NeedMaps` | slow path: the child `unshare`d a user namespace; parent writes its maps |
//! | 3 | parent → child | `MapsDone` | answer to `NeedMaps` |
//! | 4 | child → parent | `Init { pid }` | a second fork made the real init (a sibling, `CLONE_PARENT`); the intermediate exits |
//! | 5 | child → parent | `CreateRuntimeHooks` | namespaces exist, before mounts; parent runs prestart + createRuntime hooks |
//! | 6 | parent → child | `HooksDone` | answer to `CreateRuntimeHooks` |
//! | 7 | child → parent | `Ready` | setup done; init now blocks on the exec fifo |
//! | * | child → parent | `Error(..)` | any failure; the child exits right after |
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
    MapsDone,
    HooksDone,
}

/// A message from the child to the parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum ToParent {
    NeedMaps,
    Init { pid: i32 },
    CreateRuntimeHooks,
    Ready,
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

    pub(crate) fn send_child(&self, m: ToChild) -> std::io::Result<()> {
        self.send_json(&m)
    }

    pub(crate) fn send_parent(&self, m: &ToParent) -> std::io::Result<()> {
        self.send_json(m)
    }

    pub(crate) fn recv_from_parent(&self) -> std::io::Result<Option<ToChild>> {
        self.recv_json()
    }

    pub(crate) fn recv_from_child(&self) -> std::io::Result<Option<ToParent>> {
        self.recv_json()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_with_boundaries() {
        let (a, b) = Channel::pair().unwrap();
        a.send_parent(&ToParent::Init { pid: 7 }).unwrap();
        a.send_parent(&ToParent::Error(ErrorData {
            msg: "boom".into(),
            errno: Some(2),
        }))
        .unwrap();
        assert_eq!(
            b.recv_from_child().unwrap(),
            Some(ToParent::Init { pid: 7 })
        );
        assert_eq!(
            b.recv_from_child().unwrap(),
            Some(ToParent::Error(ErrorData {
                msg: "boom".into(),
                errno: Some(2)
            }))
        );
        b.send_child(ToChild::Go).unwrap();
        assert_eq!(a.recv_from_parent().unwrap(), Some(ToChild::Go));
        drop(b);
        assert_eq!(a.recv_from_parent().unwrap(), None);
    }
}

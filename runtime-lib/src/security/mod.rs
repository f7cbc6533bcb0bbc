//! Capabilities, rlimits, user and groups, no_new_privileges, personality and seccomp, applied
//! inside the container process in the order the kernel requires:
//!
//! 1. rlimits (before dropping privileges: raising a hard limit needs CAP_SYS_RESOURCE),
//! 2. the bounding set (dropping needs CAP_SETPCAP, which may be gone after the uid switch),
//! 3. `PR_SET_KEEPCAPS`, groups, gid, uid (raw syscalls), then `PR_SET_KEEPCAPS` off,
//! 4. effective/permitted/inheritable with `capset`, then the ambient set,
//! 5. the AppArmor profile and SELinux label of the next `execve` ([`lsm`], through the trusted
//!    procfs), then `no_new_privs`, and seccomp last (security.md).

pub mod lsm;
pub mod seccomp;

use caps::{CapSet, Capability, CapsHashSet};
use nix::sys::resource::{setrlimit, Resource};
use oci_spec::runtime::{LinuxCapabilities, PosixRlimit, PosixRlimitType};

use crate::sys;

/// An error while applying the security context, with the failing call.
#[derive(Debug, thiserror::Error)]
#[error("{op}: {source}")]
pub struct SecurityError {
    /// The failing call, e.g. `setrlimit(RLIMIT_NOFILE, 1024, 1024)`.
    pub op: String,
    /// The OS error.
    #[source]
    pub source: crate::OsError,
}

fn err(op: impl Into<String>, e: impl Into<crate::OsError>) -> SecurityError {
    SecurityError {
        op: op.into(),
        source: e.into(),
    }
}

fn resource(t: PosixRlimitType) -> (Resource, &'static str) {
    use PosixRlimitType as T;
    match t {
        T::RlimitCpu => (Resource::RLIMIT_CPU, "RLIMIT_CPU"),
        T::RlimitFsize => (Resource::RLIMIT_FSIZE, "RLIMIT_FSIZE"),
        T::RlimitData => (Resource::RLIMIT_DATA, "RLIMIT_DATA"),
        T::RlimitStack => (Resource::RLIMIT_STACK, "RLIMIT_STACK"),
        T::RlimitCore => (Resource::RLIMIT_CORE, "RLIMIT_CORE"),
        T::RlimitRss => (Resource::RLIMIT_RSS, "RLIMIT_RSS"),
        T::RlimitNproc => (Resource::RLIMIT_NPROC, "RLIMIT_NPROC"),
        T::RlimitNofile => (Resource::RLIMIT_NOFILE, "RLIMIT_NOFILE"),
        T::RlimitMemlock => (Resource::RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK"),
        T::RlimitAs => (Resource::RLIMIT_AS, "RLIMIT_AS"),
        T::RlimitLocks => (Resource::RLIMIT_LOCKS, "RLIMIT_LOCKS"),
        T::RlimitSigpending => (Resource::RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING"),
        T::RlimitMsgqueue => (Resource::RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE"),
        T::RlimitNice => (Resource::RLIMIT_NICE, "RLIMIT_NICE"),
        T::RlimitRtprio => (Resource::RLIMIT_RTPRIO, "RLIMIT_RTPRIO"),
        T::RlimitRttime => (Resource::RLIMIT_RTTIME, "RLIMIT_RTTIME"),
    }
}

/// Apply `process.rlimits`.
///
/// # Errors
/// The first limit the kernel refuses (e.g. above the hard limit without CAP_SYS_RESOURCE).
pub fn apply_rlimits(limits: &[PosixRlimit]) -> Result<(), SecurityError> {
    for l in limits {
        let (r, name) = resource(l.typ());
        setrlimit(r, l.soft(), l.hard())
            .map_err(|e| err(format!("setrlimit({name}, {}, {})", l.soft(), l.hard()), e))?;
    }
    Ok(())
}

fn set_of(list: &Option<oci_spec::runtime::Capabilities>) -> CapsHashSet {
    list.iter()
        .flatten()
        // oci-spec displays `CAP_KILL` as `KILL`.
        .filter_map(|c| format!("CAP_{c}").parse::<Capability>().ok())
        .collect()
}

/// The five sets of `process.capabilities`, in the `caps` crate's terms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapSets {
    /// Bounding set.
    pub bounding: CapsHashSet,
    /// Effective set.
    pub effective: CapsHashSet,
    /// Permitted set.
    pub permitted: CapsHashSet,
    /// Inheritable set: only what the spec asks for (security.md S7).
    pub inheritable: CapsHashSet,
    /// Ambient set.
    pub ambient: CapsHashSet,
}

impl CapSets {
    /// From the config; an absent `process.capabilities` means no capabilities at all.
    pub fn from_spec(c: Option<&LinuxCapabilities>) -> CapSets {
        match c {
            None => CapSets::default(),
            Some(c) => CapSets {
                bounding: set_of(c.bounding()),
                effective: set_of(c.effective()),
                permitted: set_of(c.permitted()),
                inheritable: set_of(c.inheritable()),
                ambient: set_of(c.ambient()),
            },
        }
    }
}

/// Drop every capability outside `sets.bounding` from the bounding set.
///
/// # Errors
/// When `PR_CAPBSET_DROP` fails.
pub fn drop_bounding(sets: &CapSets) -> Result<(), SecurityError> {
    let all = caps::runtime::procfs_all_supported(None).unwrap_or_else(|_| caps::all());
    for c in all.difference(&sets.bounding) {
        caps::drop(None, CapSet::Bounding, *c).map_err(|e| {
            err(
                format!("prctl(PR_CAPBSET_DROP, {c})"),
                std::io::Error::other(e.to_string()),
            )
        })?;
    }
    Ok(())
}

/// Switch to the process user: supplementary groups, gid, uid. Capabilities survive the uid
/// switch through `PR_SET_KEEPCAPS` so that [`apply_caps`] can set exactly what is asked.
///
/// `set_groups` is false in a user namespace whose `setgroups` is denied.
///
/// # Errors
/// The failing call.
pub fn switch_user(
    uid: u32,
    gid: u32,
    groups: &[u32],
    set_groups: bool,
) -> Result<(), SecurityError> {
    nix::sys::prctl::set_keepcaps(true).map_err(|e| err("prctl(PR_SET_KEEPCAPS, 1)", e))?;
    if set_groups {
        sys::process::setgroups(groups).map_err(|e| err(format!("setgroups({groups:?})"), e))?;
    }
    sys::process::setresgid(gid).map_err(|e| err(format!("setresgid({gid}, {gid}, {gid})"), e))?;
    sys::process::setresuid(uid).map_err(|e| err(format!("setresuid({uid}, {uid}, {uid})"), e))?;
    nix::sys::prctl::set_keepcaps(false).map_err(|e| err("prctl(PR_SET_KEEPCAPS, 0)", e))?;
    Ok(())
}

/// Set the effective, permitted and inheritable sets with one `capset`, then raise the ambient
/// set. Nothing else: an exec'd process gets exactly the sets requested (S7).
///
/// # Errors
/// The failing call.
pub fn apply_caps(sets: &CapSets) -> Result<(), SecurityError> {
    let e = |what: &str, x: caps::errors::CapsError| {
        err(what.to_string(), std::io::Error::other(x.to_string()))
    };
    // The kernel checks every capset against the current sets: effective must stay within
    // permitted, so shrink effective first, then inheritable and permitted, then set effective.
    let eff_in_perm: CapsHashSet = sets
        .effective
        .intersection(&sets.permitted)
        .copied()
        .collect();
    caps::set(None, CapSet::Effective, &eff_in_perm).map_err(|x| e("capset(effective)", x))?;
    caps::set(None, CapSet::Inheritable, &sets.inheritable)
        .map_err(|x| e("capset(inheritable)", x))?;
    caps::set(None, CapSet::Permitted, &sets.permitted).map_err(|x| e("capset(permitted)", x))?;
    caps::set(None, CapSet::Effective, &sets.effective).map_err(|x| e("capset(effective)", x))?;
    caps::clear(None, CapSet::Ambient).map_err(|x| e("prctl(PR_CAP_AMBIENT_CLEAR_ALL)", x))?;
    for c in &sets.ambient {
        // runc ignores ambient capabilities the kernel refuses (not in permitted+inheritable).
        let _ = caps::raise(None, CapSet::Ambient, *c);
    }
    Ok(())
}

/// Set `no_new_privs`.
///
/// # Errors
/// When `prctl` fails.
pub fn set_no_new_privs() -> Result<(), SecurityError> {
    nix::sys::prctl::set_no_new_privs().map_err(|e| err("prctl(PR_SET_NO_NEW_PRIVS, 1)", e))
}

/// Apply `linux.personality.domain`.
///
/// # Errors
/// When `personality(2)` fails.
pub fn apply_personality(
    domain: oci_spec::runtime::LinuxPersonalityDomain,
) -> Result<(), SecurityError> {
    use nix::sys::personality::Persona;
    let p = match domain {
        oci_spec::runtime::LinuxPersonalityDomain::PerLinux => Persona::empty(),
        oci_spec::runtime::LinuxPersonalityDomain::PerLinux32 => Persona::from_bits_retain(0x0008),
    };
    nix::sys::personality::set(p)
        .map(|_| ())
        .map_err(|e| err(format!("personality({:#x})", p.bits()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_names_map_to_the_kernel_sets() {
        let c: LinuxCapabilities = serde_json::from_value(serde_json::json!({
            "bounding": ["CAP_KILL", "CAP_AUDIT_WRITE"],
            "effective": ["CAP_KILL"],
            "permitted": ["CAP_KILL"],
            "ambient": ["CAP_NET_BIND_SERVICE"]
        }))
        .unwrap();
        let s = CapSets::from_spec(Some(&c));
        assert_eq!(
            s.bounding,
            [Capability::CAP_KILL, Capability::CAP_AUDIT_WRITE]
                .into_iter()
                .collect()
        );
        assert_eq!(s.effective, [Capability::CAP_KILL].into_iter().collect());
        assert!(
            s.inheritable.is_empty(),
            "no inheritable capability unless asked (S7)"
        );
        assert_eq!(
            s.ambient,
            [Capability::CAP_NET_BIND_SERVICE].into_iter().collect()
        );
        assert_eq!(CapSets::from_spec(None), CapSets::default());
    }
}

//! `features`: what this husk implements, as the runtime-spec `features` document.
//!
//! Truthful by construction where possible: the mount options are the parser's own table, the
//! seccomp part is probed by the seccomp module, the capabilities are those husk can name.
//! containerd reads it to decide what to use (e.g. user-namespace pods need `user` AND
//! idmapped mounts), so nothing is claimed that husk refuses at create time.

use oci_spec::runtime::{
    Apparmor, Cgroup, Features, IDMap, IntelRdt, LinuxFeature, LinuxNamespaceType, MountExtensions,
    Selinux,
};

/// The oldest runtime-spec version husk accepts (`ociVersion` must start with `1.`).
pub const OCI_VERSION_MIN: &str = "1.0.0";

/// The six hook kinds husk runs (see `hooks`).
pub const HOOKS: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// The runtime-spec `features` document of this husk.
///
/// ```
/// let f = husk::features();
/// assert_eq!(f.oci_version_max(), husk::spec::SPEC_VERSION);
/// assert!(f.mount_options().as_ref().unwrap().iter().any(|o| o == "rbind"));
/// ```
pub fn features() -> Features {
    let mut caps: Vec<caps::Capability> = caps::all().into_iter().collect();
    caps.sort_by_key(|c| c.index());
    let mut cgroup = Cgroup::default();
    cgroup.set_v1(Some(true));
    cgroup.set_v2(Some(true));
    // `--systemd-cgroup` is refused at create.
    cgroup.set_systemd(Some(false));
    cgroup.set_systemd_user(Some(false));
    cgroup.set_rdma(Some(true));
    // "enabled" is the runtime's support, irrelevant to the host's (runtime-spec features.md):
    // husk applies both when the host has them, and refuses them clearly when not (runc
    // 1.1 reports true on a host with neither, too).
    let mut apparmor = Apparmor::default();
    apparmor.set_enabled(Some(true));
    let mut selinux = Selinux::default();
    selinux.set_enabled(Some(true));
    let mut rdt = IntelRdt::default();
    rdt.set_enabled(Some(false));
    let mut idmap = IDMap::default();
    idmap.set_enabled(Some(false));
    let mut ext = MountExtensions::default();
    ext.set_idmap(Some(idmap));
    let mut linux = LinuxFeature::default();
    linux.set_namespaces(Some(vec![
        LinuxNamespaceType::Cgroup,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Network,
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Time,
        LinuxNamespaceType::User,
        LinuxNamespaceType::Uts,
    ]));
    linux.set_capabilities(Some(caps.iter().map(|c| c.to_string()).collect()));
    linux.set_cgroup(Some(cgroup));
    linux.set_seccomp(Some(crate::security::seccomp::features()));
    linux.set_apparmor(Some(apparmor));
    linux.set_selinux(Some(selinux));
    linux.set_intel_rdt(Some(rdt));
    linux.set_mount_extensions(Some(ext));
    let mut f = Features::default();
    f.set_oci_version_min(OCI_VERSION_MIN.to_string());
    f.set_oci_version_max(crate::spec::SPEC_VERSION.to_string());
    f.set_hooks(Some(HOOKS.iter().map(|h| h.to_string()).collect()));
    f.set_mount_options(Some(
        crate::rootfs::known_option_names()
            .into_iter()
            .map(str::to_string)
            .collect(),
    ));
    f.set_linux(Some(linux));
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_claimed_mount_option_parses() {
        for o in features().mount_options().as_ref().unwrap() {
            let ok = ["tmpfs", "bind"].iter().any(|t| {
                let mut opts = vec![o.clone()];
                if *t == "bind" {
                    opts.push("bind".into());
                }
                crate::rootfs::parse_mount_options(Some(t), &opts).is_ok()
            });
            assert!(ok, "{o} is claimed but refused");
        }
    }

    #[test]
    fn shape_matches_the_schema_names() {
        let v = serde_json::to_value(features()).unwrap();
        assert_eq!(v["ociVersionMin"], "1.0.0");
        assert_eq!(v["hooks"].as_array().unwrap().len(), 6);
        assert_eq!(v["linux"]["namespaces"].as_array().unwrap().len(), 8);
        assert_eq!(v["linux"]["cgroup"]["systemd"], false);
        assert_eq!(v["linux"]["cgroup"]["systemdUser"], false);
        assert_eq!(v["linux"]["apparmor"]["enabled"], true);
        assert_eq!(v["linux"]["selinux"]["enabled"], true);
        assert_eq!(v["linux"]["mountExtensions"]["idmap"]["enabled"], false);
        assert_eq!(v["linux"]["capabilities"][0], "CAP_CHOWN");
        assert_eq!(v["linux"]["seccomp"]["enabled"], true);
    }
}

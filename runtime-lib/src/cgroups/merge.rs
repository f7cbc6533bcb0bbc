//! Overlaying a partial `linux.resources` (what `update --resources` or runc's `update` flags
//! give) on the container's current one, so [`super::Manager::apply_resources`] gets the
//! complete picture: every field set in the update wins, every field it leaves out keeps its
//! value. Lists (devices, hugepage limits, throttle lists, priorities) are replaced whole;
//! maps (rdma, unified) are merged key by key.

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxNetwork, LinuxResources};

fn pick<T: Clone>(update: &Option<T>, base: &Option<T>) -> Option<T> {
    update.clone().or_else(|| base.clone())
}

fn memory(b: &LinuxMemory, u: &LinuxMemory) -> LinuxMemory {
    let mut m = *b;
    m.set_limit(u.limit().or(b.limit()));
    m.set_reservation(u.reservation().or(b.reservation()));
    m.set_swap(u.swap().or(b.swap()));
    m.set_kernel(u.kernel().or(b.kernel()));
    m.set_kernel_tcp(u.kernel_tcp().or(b.kernel_tcp()));
    m.set_swappiness(u.swappiness().or(b.swappiness()));
    m.set_disable_oom_killer(u.disable_oom_killer().or(b.disable_oom_killer()));
    m.set_use_hierarchy(u.use_hierarchy().or(b.use_hierarchy()));
    m.set_check_before_update(u.check_before_update().or(b.check_before_update()));
    m
}

fn cpu(b: &LinuxCpu, u: &LinuxCpu) -> LinuxCpu {
    let mut c = b.clone();
    c.set_shares(u.shares().or(b.shares()));
    c.set_quota(u.quota().or(b.quota()));
    c.set_idle(u.idle().or(b.idle()));
    c.set_burst(u.burst().or(b.burst()));
    c.set_period(u.period().or(b.period()));
    c.set_realtime_runtime(u.realtime_runtime().or(b.realtime_runtime()));
    c.set_realtime_period(u.realtime_period().or(b.realtime_period()));
    c.set_cpus(pick(u.cpus(), b.cpus()));
    c.set_mems(pick(u.mems(), b.mems()));
    c
}

fn block_io(b: &LinuxBlockIo, u: &LinuxBlockIo) -> LinuxBlockIo {
    let mut x = b.clone();
    x.set_weight(u.weight().or(b.weight()));
    x.set_leaf_weight(u.leaf_weight().or(b.leaf_weight()));
    x.set_weight_device(pick(u.weight_device(), b.weight_device()));
    x.set_throttle_read_bps_device(pick(
        u.throttle_read_bps_device(),
        b.throttle_read_bps_device(),
    ));
    x.set_throttle_write_bps_device(pick(
        u.throttle_write_bps_device(),
        b.throttle_write_bps_device(),
    ));
    x.set_throttle_read_iops_device(pick(
        u.throttle_read_iops_device(),
        b.throttle_read_iops_device(),
    ));
    x.set_throttle_write_iops_device(pick(
        u.throttle_write_iops_device(),
        b.throttle_write_iops_device(),
    ));
    x
}

fn network(b: &LinuxNetwork, u: &LinuxNetwork) -> LinuxNetwork {
    let mut n = b.clone();
    n.set_class_id(u.class_id().or(b.class_id()));
    n.set_priorities(pick(u.priorities(), b.priorities()));
    n
}

fn both<T: Clone>(b: &Option<T>, u: &Option<T>, f: impl Fn(&T, &T) -> T) -> Option<T> {
    match (b, u) {
        (Some(b), Some(u)) => Some(f(b, u)),
        _ => pick(u, b),
    }
}

/// `base` with every field that `update` sets replaced by the update's value.
///
/// ```
/// let base: oci_spec::runtime::LinuxResources =
///     serde_json::from_str(r#"{"memory":{"limit":1000000,"swap":2000000},"pids":{"limit":9}}"#)
///         .unwrap();
/// let update = serde_json::from_str(r#"{"memory":{"limit":1500000}}"#).unwrap();
/// let r = husk::cgroups::merge_resources(&base, &update);
/// let m = r.memory().as_ref().unwrap();
/// assert_eq!((m.limit(), m.swap()), (Some(1500000), Some(2000000)));
/// assert_eq!(r.pids().as_ref().unwrap().limit(), 9);
/// ```
pub fn merge_resources(base: &LinuxResources, update: &LinuxResources) -> LinuxResources {
    let mut r = base.clone();
    r.set_devices(pick(update.devices(), base.devices()));
    r.set_memory(both(base.memory(), update.memory(), memory));
    r.set_cpu(both(base.cpu(), update.cpu(), cpu));
    r.set_pids(pick(update.pids(), base.pids()));
    r.set_block_io(both(base.block_io(), update.block_io(), block_io));
    r.set_hugepage_limits(pick(update.hugepage_limits(), base.hugepage_limits()));
    r.set_network(both(base.network(), update.network(), network));
    r.set_rdma(both(base.rdma(), update.rdma(), |b, u| {
        let mut m = b.clone();
        m.extend(u.iter().map(|(k, v)| (k.clone(), *v)));
        m
    }));
    r.set_unified(both(base.unified(), update.unified(), |b, u| {
        let mut m = b.clone();
        m.extend(u.iter().map(|(k, v)| (k.clone(), v.clone())));
        m
    }));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(j: &str) -> LinuxResources {
        serde_json::from_str(j).unwrap()
    }

    #[test]
    fn update_overrides_only_what_it_sets() {
        let base = res(r#"{"devices":[{"allow":false,"access":"rwm"}],
                "memory":{"limit":100,"swap":200},
                "cpu":{"shares":512,"cpus":"0"},
                "blockIO":{"weight":100},
                "unified":{"memory.high":"5","pids.max":"3"}}"#);
        let upd = res(
            r#"{"cpu":{"quota":20000,"cpus":"1"},"blockIO":{"weight":200},
                "unified":{"pids.max":"4"},"pids":{"limit":7}}"#,
        );
        let r = merge_resources(&base, &upd);
        assert_eq!(r.devices(), base.devices());
        assert_eq!(r.memory(), base.memory());
        let c = r.cpu().as_ref().unwrap();
        assert_eq!(c.shares(), Some(512));
        assert_eq!(c.quota(), Some(20000));
        assert_eq!(c.cpus().as_deref(), Some("1"));
        assert_eq!(r.block_io().as_ref().unwrap().weight(), Some(200));
        assert_eq!(r.pids().as_ref().unwrap().limit(), 7);
        let u = r.unified().as_ref().unwrap();
        assert_eq!(
            (u["memory.high"].as_str(), u["pids.max"].as_str()),
            ("5", "4")
        );
        assert_eq!(merge_resources(&base, &LinuxResources::default()), base);
    }
}

//! How long compiling a real engine profile (containerd 1.6's default, Docker's profile) into a
//! BPF program takes. The runtime does this on every `create`, before the fork.

use criterion::{criterion_main, Criterion};
use oci_spec::runtime::LinuxSeccomp;

fn compile_profiles(c: &mut Criterion) {
    for (name, json) in [
        (
            "containerd-1.6",
            include_str!("../src/security/seccomp/testdata/containerd-1.6.json"),
        ),
        (
            "podman-4.3",
            include_str!("../src/security/seccomp/testdata/podman-4.3.json"),
        ),
    ] {
        let profile: LinuxSeccomp = serde_json::from_str(json).expect("profile");
        c.bench_function(&format!("seccomp compile {name}"), |b| {
            b.iter(|| husk::security::seccomp::compile(std::hint::black_box(&profile)).unwrap())
        });
    }
}

// criterion's macro defines an undocumented public function.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::compile_profiles);
}
use group::benches;
criterion_main!(benches);

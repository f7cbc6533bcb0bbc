//! What `create` spends in pure code before it forks: parsing `config.json`, validating it
//! against the spec and this host, and resolving it into a [`husk::spec::Plan`] (namespace
//! actions, mounts, the compiled seccomp filter). Two configs: runc's default spec (minimal)
//! and the config podman 4.3 generates for a busybox container (seccomp profile, masked paths,
//! 11 mounts): the same file as /work/shared/data/configs/podman-4.3-busybox.json.

use std::path::PathBuf;

use criterion::{criterion_main, Criterion};

/// A bundle folder with an empty `rootfs/` (plan() checks that the root is a directory).
fn bundle() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("husk-bench-spec-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("rootfs")).expect("bundle dir");
    dir
}

fn load_validate_plan(c: &mut Criterion) {
    let dir = bundle();
    for (name, json) in [
        ("minimal", include_str!("../src/spec/default-config.json")),
        (
            "podman-4.3",
            include_str!("../src/rootfs/testdata/podman-4.3-busybox.json"),
        ),
    ] {
        let data = json.as_bytes();
        c.bench_function(&format!("spec parse {name}"), |b| {
            b.iter(|| {
                let mut w = Vec::new();
                husk::spec::parse(std::hint::black_box(data), &mut w).unwrap()
            })
        });
        c.bench_function(&format!("spec parse+validate+plan {name}"), |b| {
            b.iter(|| {
                let mut w = Vec::new();
                let spec = husk::spec::parse(std::hint::black_box(data), &mut w).unwrap();
                husk::spec::plan(spec, dir.clone(), w).unwrap()
            })
        });
    }
    // Through the file, as `create` does it (canonicalize + read + the above).
    std::fs::write(
        dir.join("config.json"),
        include_str!("../src/rootfs/testdata/podman-4.3-busybox.json"),
    )
    .expect("config.json");
    c.bench_function("spec load podman-4.3 (from the bundle)", |b| {
        b.iter(|| husk::spec::load(std::hint::black_box(&dir)).unwrap())
    });
    let _ = std::fs::remove_dir_all(&dir);
}

// criterion's macro defines an undocumented public function.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::load_validate_plan);
}
use group::benches;
criterion_main!(benches);

//! husk-bench: husk against runc and crun on the same bundles, in one run, alternating the
//! runtimes call by call so that machine noise hits all of them alike.
//!
//! ```text
//! husk-bench [--husk PATH] [--runc PATH] [--crun PATH] [--runs N] [--series N] [--series-reps N] [--many N] [--out DIR]
//! ```
//!
//! Measures, for a minimal config (`/bin/true`, runc's default spec) and a realistic one
//! (podman's generated config: seccomp profile, masked paths and all):
//! - `run`: `run --bundle B id` of `/bin/true`, wall time, and the runtime's peak RSS from
//!   `wait4`'s rusage;
//! - `lifecycle`: create → start → wait for the container to exit → delete, the way
//!   containerd's shim calls it (this process is a child subreaper, like the shim);
//! - `exec`: `exec <id> /bin/true` into a running `sleep` container, and its peak RSS;
//! - `state` and `list` with `--many` (1,000) created containers in each runtime's own root;
//! - `series`: 100 `sleep` containers created and started in a row by each runtime on its own
//!   (the median cost of the first and of the last fifth, the least-squares line through all
//!   of them, and the slope per container with its 95 % interval over the repetitions), then
//!   killed and deleted;
//! - the peak RSS of `run` and of `create`;
//! - the binary sizes.
//!
//! Writes `report.md` and `report.svg` to `--out` (default `target/bench`), and prints the
//! table.

mod report;
mod run;

use std::path::{Path, PathBuf};

use clap::Parser;

/// Command-line options.
#[derive(Debug, Parser)]
#[command(
    name = "husk-bench",
    about = "husk against runc and crun, side by side"
)]
struct Opts {
    /// The husk binary (default: target/release/husk next to this binary)
    #[arg(long)]
    husk: Option<PathBuf>,
    /// The runc binary
    #[arg(long, default_value = "/usr/sbin/runc")]
    runc: PathBuf,
    /// The crun binary
    #[arg(long, default_value = "/usr/bin/crun")]
    crun: PathBuf,
    /// Iterations per measurement and runtime
    #[arg(long, default_value_t = 30)]
    runs: usize,
    /// Containers in the series
    #[arg(long, default_value_t = 100)]
    series: usize,
    /// How many times the series runs (the report shows the median container by container,
    /// and each runtime's slope with its spread over the repetitions)
    #[arg(long, default_value_t = 7)]
    series_reps: usize,
    /// Created containers in the state root for the `state` and `list` measurements (0: skip)
    #[arg(long, default_value_t = 1000)]
    many: usize,
    /// Where the report goes
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
    /// The engine configs (podman-4.3-busybox.json)
    #[arg(long, default_value = "../shared/data/configs")]
    configs: PathBuf,
}

fn main() {
    let o = Opts::parse();
    if !nix::unistd::geteuid().is_root() {
        eprintln!("husk-bench: must run as root");
        std::process::exit(2);
    }
    let husk = o.husk.clone().unwrap_or_else(|| {
        let me = std::env::current_exe().unwrap_or_default();
        let dir = me.parent().unwrap_or(Path::new("."));
        let release = dir.join("husk");
        if release.exists() {
            release
        } else {
            PathBuf::from("target/release/husk")
        }
    });
    let runtimes: Vec<run::Runtime> = [
        ("husk", husk),
        ("crun", o.crun.clone()),
        ("runc", o.runc.clone()),
    ]
    .into_iter()
    .filter_map(|(name, path)| {
        if path.exists() {
            Some(run::Runtime { name, path })
        } else {
            eprintln!(
                "husk-bench: {name} not found at {}: left out",
                path.display()
            );
            None
        }
    })
    .collect();
    // Like containerd's shim: containers created by a runtime that exits are re-parented to us.
    if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
        eprintln!("husk-bench: PR_SET_CHILD_SUBREAPER: {e}");
        std::process::exit(1);
    }
    let work = std::env::temp_dir().join(format!("husk-bench.{}", std::process::id()));
    let result = run::all(
        &runtimes,
        &o.configs,
        &work,
        o.runs,
        o.series,
        o.series_reps,
        o.many,
    );
    let _ = std::fs::remove_dir_all(&work);
    let results = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("husk-bench: {e}");
            std::process::exit(1);
        }
    };
    let md = report::markdown(&results, &runtimes);
    print!("{md}");
    if let Err(e) = std::fs::create_dir_all(&o.out)
        .and_then(|()| std::fs::write(o.out.join("report.md"), &md))
        .and_then(|()| std::fs::write(o.out.join("report.svg"), report::svg(&results, &runtimes)))
    {
        eprintln!("husk-bench: write {}: {e}", o.out.display());
        std::process::exit(1);
    }
    eprintln!(
        "husk-bench: wrote {}/report.md and report.svg",
        o.out.display()
    );
}

//! husk-conformance: checks a runc-compatible runtime against the OCI runtime-spec.
//!
//! It writes a bundle per case (busybox-static + a static probe, config generated in code),
//! drives the runtime through its command line the way engines do, and compares what the probe
//! reports from inside the container with the config. Output is TAP-like, one line per case,
//! and a summary line `N passed, M failed, K skipped`; `--json FILE` keeps the evidence.

mod cases;
mod ctx;
mod host;
mod probe;
mod proc;
mod spec;

use clap::Parser;
use ctx::{Ctx, Env, Fail, Runtime};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Command-line interface.
#[derive(Parser, Debug)]
#[command(
    name = "husk-conformance",
    version,
    about = "Check a runc-compatible OCI runtime against the runtime-spec"
)]
struct Cli {
    /// The runtime binary to test (runc, crun, husk, ...).
    #[arg(long, value_name = "PATH", required_unless_present = "list")]
    runtime: Option<PathBuf>,
    /// An extra global flag for every runtime call (repeatable), e.g. `--runtime-arg=--debug`.
    #[arg(long = "runtime-arg", value_name = "ARG", allow_hyphen_values = true)]
    runtime_args: Vec<String>,
    /// The runtime's state directory (`--root`); default: a fresh one in the work directory.
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Only cases whose name matches this regular expression (a plain substring works).
    #[arg(long, value_name = "REGEX")]
    filter: Option<String>,
    /// List the cases (after --filter) and exit.
    #[arg(long)]
    list: bool,
    /// Cases run in parallel.
    #[arg(long, default_value_t = 2)]
    jobs: usize,
    /// Time limit per case, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    timeout: u64,
    /// Write every case's result and evidence to this JSON file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Gate against another runtime's `--json` report: exit 1 only if a case that passed there
    /// does not pass here (CI: husk must pass every case runc passes).
    #[arg(long, value_name = "FILE.json")]
    baseline: Option<PathBuf>,
    /// A list of case names (one per line, `#` comments) expected not to pass: exit 1 only for
    /// failures NOT on the list (CI: the harness checked against runc).
    #[arg(long, value_name = "FILE")]
    known_failures: Option<PathBuf>,
    /// The static busybox to put in each root filesystem.
    #[arg(long, value_name = "PATH", default_value = "/usr/bin/busybox")]
    busybox: PathBuf,
    /// Where bundles are written (default /run/husk-conformance.PID).
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
    /// Keep the work directory (bundles, command output) for inspection.
    #[arg(long)]
    keep: bool,
}

/// The result of one case, as written to `--json`.
#[derive(Serialize)]
struct CaseResult {
    n: usize,
    name: &'static str,
    result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    millis: u64,
    evidence: Vec<ctx::Evidence>,
    commands: Vec<proc::CmdOut>,
}

#[derive(Serialize)]
struct Report<'a> {
    runtime: String,
    runtime_version: String,
    passed: usize,
    failed: usize,
    skipped: usize,
    cases: &'a [CaseResult],
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let all = cases::all();
    let filter = match cli.filter.as_deref().map(regex::Regex::new).transpose() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("husk-conformance: --filter: {e}");
            return ExitCode::from(2);
        }
    };
    let selected: Vec<&cases::Case> = all
        .iter()
        .filter(|c| filter.as_ref().is_none_or(|f| f.is_match(c.name)))
        .collect();
    if cli.list {
        for c in &selected {
            println!("{}", c.name);
        }
        return ExitCode::SUCCESS;
    }
    match run(&cli, &selected) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("husk-conformance: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: &Cli, selected: &[&cases::Case]) -> Result<ExitCode, String> {
    let runtime = cli.runtime.clone().expect("clap requires --runtime");
    let runtime = std::fs::canonicalize(&runtime)
        .map_err(|e| format!("--runtime {}: {e}", runtime.display()))?;
    if !nix::unistd::geteuid().is_root() {
        return Err("must run as root (containers, cgroups, namespaces)".into());
    }
    if !host::is_static_elf(&cli.busybox) {
        return Err(format!(
            "--busybox {}: not a static executable (apt-get install busybox-static)",
            cli.busybox.display()
        ));
    }
    let run_id = std::process::id();
    let work = cli
        .work_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("/run/husk-conformance.{run_id}")));
    let template = work.join("template");
    std::fs::create_dir_all(&template).map_err(|e| format!("{}: {e}", template.display()))?;
    let root = cli.root.clone().unwrap_or_else(|| work.join("state"));
    std::fs::create_dir_all(&root).map_err(|e| format!("--root {}: {e}", root.display()))?;
    std::fs::copy(&cli.busybox, template.join("busybox"))
        .map_err(|e| format!("copy busybox: {e}"))?;
    {
        use std::os::unix::fs::PermissionsExt;
        let p = template.join("husk-probe");
        std::fs::write(&p, probe::BYTES).map_err(|e| format!("write probe: {e}"))?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| e.to_string())?;
    }
    // Before the reaper starts: Command::output() waits for its own child.
    let applets = applets(&cli.busybox)?;
    proc::init().map_err(|e| format!("prctl(PR_SET_CHILD_SUBREAPER): {e}"))?;
    let env = Env {
        rt: Runtime {
            path: runtime.clone(),
            global: cli.runtime_args.clone(),
            root,
        },
        applets,
        work: work.clone(),
        template,
        cg_prefix: format!("husk-conformance.{run_id}"),
        run_id,
        timeout: Duration::from_secs(cli.timeout),
        keep: cli.keep,
    };
    let version = runtime_version(&env);
    println!("# husk-conformance: {} ({version})", runtime.display());
    println!("1..{}", selected.len());

    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, CaseResult)>();
    let mut results: Vec<Option<CaseResult>> = (0..selected.len()).map(|_| None).collect();
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    std::thread::scope(|s| {
        for _ in 0..cli.jobs.max(1) {
            let tx = tx.clone();
            let (next, env) = (&next, &env);
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(case) = selected.get(i) else { break };
                let r = run_case(env, i + 1, case);
                if tx.send((i, r)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        // Print in case order as soon as every earlier case has finished.
        let mut printed = 0;
        for (i, r) in rx {
            results[i] = Some(r);
            while printed < results.len() {
                let Some(r) = &results[printed] else { break };
                let line = match (r.result, &r.reason) {
                    ("ok", _) => format!("ok {} - {}", r.n, r.name),
                    ("skip", reason) => format!(
                        "ok {} - {} # SKIP {}",
                        r.n,
                        r.name,
                        reason.as_deref().unwrap_or("")
                    ),
                    (_, reason) => format!(
                        "not ok {} - {} # {}",
                        r.n,
                        r.name,
                        one_line(reason.as_deref().unwrap_or(""))
                    ),
                };
                match r.result {
                    "ok" => passed += 1,
                    "skip" => skipped += 1,
                    _ => failed += 1,
                }
                println!("{line}");
                let _ = std::io::stdout().flush();
                printed += 1;
            }
        }
    });
    cleanup_run(&env);
    let results: Vec<CaseResult> = results.into_iter().flatten().collect();
    if let Some(path) = &cli.json {
        let report = Report {
            runtime: runtime.display().to_string(),
            runtime_version: version,
            passed,
            failed,
            skipped,
            cases: &results,
        };
        let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("--json {}: {e}", path.display()))?;
    }
    let gate = gate(cli, &results)?;
    println!("{passed} passed, {failed} failed, {skipped} skipped");
    let success = gate.unwrap_or(failed == 0);
    Ok(if success {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Apply --baseline / --known-failures. `None`: no gate given (exit status = any failure).
/// Prints one `# ...` line per finding, before the summary line.
fn gate(cli: &Cli, results: &[CaseResult]) -> Result<Option<bool>, String> {
    let mut ok = true;
    let mut gated = false;
    if let Some(path) = &cli.baseline {
        gated = true;
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("--baseline {}: {e}", path.display()))?;
        let base: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| format!("--baseline {}: {e}", path.display()))?;
        let passed_there: std::collections::BTreeSet<&str> = base["cases"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|c| c["result"] == "ok")
                    .filter_map(|c| c["name"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        for r in results
            .iter()
            .filter(|r| r.result != "ok" && passed_there.contains(r.name))
        {
            println!(
                "# regression: {} passes with the baseline runtime ({})",
                r.name,
                base["runtime"].as_str().unwrap_or("?")
            );
            ok = false;
        }
    }
    if let Some(path) = &cli.known_failures {
        gated = true;
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("--known-failures {}: {e}", path.display()))?;
        let known: std::collections::BTreeSet<&str> = text
            .lines()
            .map(|l| l.split('#').next().unwrap_or("").trim())
            .filter(|l| !l.is_empty())
            .collect();
        for r in results {
            match (r.result, known.contains(r.name)) {
                ("fail", false) => {
                    println!("# unexpected failure: {}", r.name);
                    ok = false;
                }
                ("ok", true) => {
                    println!("# note: {} is listed as a known failure but passed", r.name)
                }
                _ => {}
            }
        }
    }
    Ok(gated.then_some(ok))
}

fn one_line(s: &str) -> String {
    let s = s.replace('\n', "\\n");
    if s.len() > 500 {
        let mut i = 500;
        while !s.is_char_boundary(i) {
            i -= 1;
        }
        format!("{}...", &s[..i])
    } else {
        s
    }
}

fn run_case(env: &Env, n: usize, case: &cases::Case) -> CaseResult {
    let started = Instant::now();
    let mut ctx = match Ctx::new(env, n) {
        Ok(c) => c,
        Err(e) => {
            return CaseResult {
                n,
                name: case.name,
                result: "fail",
                reason: Some(format!("harness: {e}")),
                millis: 0,
                evidence: vec![],
                commands: vec![],
            }
        }
    };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (case.f)(&mut ctx)));
    let outcome = match outcome {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()));
            Err(Fail::Fail(format!(
                "harness panic: {}",
                msg.unwrap_or_default()
            )))
        }
    };
    let leaks = ctx.cleanup();
    let (result, reason) = match (outcome, leaks.is_empty()) {
        (Ok(()), true) => ("ok", None),
        (Ok(()), false) => ("fail", Some(format!("leak: {}", leaks.join("; ")))),
        (Err(Fail::Skip(r)), true) => ("skip", Some(r)),
        (Err(Fail::Fail(r)), true) => ("fail", Some(r)),
        (Err(Fail::Fail(r)) | Err(Fail::Skip(r)), false) => {
            ("fail", Some(format!("{r}; leak: {}", leaks.join("; "))))
        }
    };
    // A skip that also leaked is a failure: the runtime left something behind.
    CaseResult {
        n,
        name: case.name,
        result,
        reason,
        millis: started.elapsed().as_millis() as u64,
        evidence: std::mem::take(&mut ctx.evidence),
        commands: std::mem::take(&mut ctx.commands),
    }
}

fn applets(busybox: &std::path::Path) -> Result<Vec<String>, String> {
    let out = std::process::Command::new(busybox)
        .arg("--list")
        .stderr(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("{} --list: {e}", busybox.display()))?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|a| !a.is_empty() && *a != "busybox")
        .map(str::to_string)
        .collect())
}

fn runtime_version(env: &Env) -> String {
    let dir = env.work.join("version");
    let _ = std::fs::create_dir_all(&dir);
    let mut argv = vec![env.rt.path.to_string_lossy().into_owned()];
    argv.push("--version".into());
    let deadline = Instant::now() + Duration::from_secs(10);
    match proc::run(&argv, None, &dir.join("out"), &dir.join("err"), deadline) {
        Ok(o) => o.stdout.lines().next().unwrap_or("").trim().to_string(),
        Err(e) => format!("--version failed: {e}"),
    }
}

/// Remove the run-wide cgroup parent directories and (unless --keep) the work directory.
fn cleanup_run(env: &Env) {
    let mut per_hierarchy: BTreeMap<PathBuf, ()> = BTreeMap::new();
    for h in host::hierarchies() {
        per_hierarchy.insert(h.path.join(&env.cg_prefix), ());
    }
    for d in per_hierarchy.keys() {
        if d.is_dir() {
            ctx::remove_cgroup(d);
        }
    }
    if !env.keep {
        let _ = std::fs::remove_dir_all(&env.work);
    }
}

//! `husk events`: cgroup statistics and OOM notices in runc's envelope,
//! `{"type":"stats"|"oom","id":...,"data":...}`, one JSON object per line. `--stats` prints
//! once; otherwise a line every `--interval` (default 5s) until the container stops.

use std::time::{Duration, Instant};

use husk::{Container, Status};
use serde_json::json;

use crate::{err_msg, Cli, CmdResult};

/// `events` arguments.
#[derive(Debug, clap::Args)]
pub struct EventsArgs {
    /// Print the statistics once and exit
    #[arg(long)]
    pub stats: bool,
    /// The interval between statistics lines (e.g. 5s, 500ms)
    #[arg(long, default_value = "5s")]
    pub interval: String,
    /// The container id
    pub id: String,
}

/// Run `events`.
pub fn run(cli: &Cli, a: &EventsArgs) -> CmdResult {
    let interval = parse_duration(&a.interval)?;
    let c = Container::load(&cli.root, &a.id).map_err(err_msg)?;
    let line = |c: &Container| -> Result<String, String> {
        let stats = c.stats().map_err(err_msg)?;
        let mut data = serde_json::to_value(stats).map_err(|e| e.to_string())?;
        // runc's stats object also has these two; husk reads neither Intel RDT nor network
        // counters (runc 1.1 fills neither for a container without intelRdt), and a
        // consumer decoding runc's type expects the keys.
        data["intel_rdt"] = json!({});
        data["network_interfaces"] = serde_json::Value::Null;
        Ok(json!({"type": "stats", "id": a.id, "data": data}).to_string())
    };
    if a.stats {
        println!("{}", line(&c)?);
        return Ok(0);
    }
    let mut ooms = c.oom_kills().unwrap_or(0);
    // The OOM counter is polled at a finer grain than the statistics, so an `oom` line comes
    // soon after the kill.
    let tick = interval.min(Duration::from_millis(200));
    let mut next = Instant::now();
    loop {
        let Ok(c) = Container::load(&cli.root, &a.id) else {
            return Ok(0);
        };
        // The OOM counter first: the kill may be what stopped the container.
        let now_ooms = c.oom_kills().unwrap_or(ooms);
        if now_ooms > ooms {
            println!("{}", json!({"type": "oom", "id": a.id}));
            ooms = now_ooms;
        }
        if c.status() == Status::Stopped {
            return Ok(0);
        }
        if Instant::now() >= next {
            match line(&c) {
                Ok(l) => println!("{l}"),
                Err(_) => return Ok(0),
            }
            next += interval;
        }
        std::thread::sleep(tick);
    }
}

/// `5s`, `500ms`, `1m`, or plain seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("invalid interval {s:?}");
    let (num, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: f64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(bad()),
    };
    if secs <= 0.0 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("fast").is_err());
    }
}

//! The report: a markdown table and an SVG bar chart of the medians.

use std::fmt::Write;

use crate::run::{med, Results, Runtime};

fn ms(s: f64) -> String {
    format!("{:.2}", s * 1000.0)
}

fn min_max(v: &[f64]) -> (f64, f64) {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(0.0, f64::max);
    (min, max)
}

/// The index of runtime `name`.
fn idx(rts: &[Runtime], name: &str) -> Option<usize> {
    rts.iter().position(|r| r.name == name)
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}", a / b)
    } else {
        "-".into()
    }
}

/// The values at the first and the last index of the least-squares line through `v` (by
/// index): the trend of a series, from every point rather than from its two ends.
fn line_ends(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    if v.len() < 2 {
        return (mean, mean);
    }
    let mid = (n - 1.0) / 2.0;
    let (mut num, mut den) = (0.0, 0.0);
    for (i, y) in v.iter().enumerate() {
        let dx = i as f64 - mid;
        num += dx * (y - mean);
        den += dx * dx;
    }
    let slope = num / den;
    (mean - slope * mid, mean + slope * mid)
}

/// The Theil–Sen slope of `v` by index (the median of the slopes between every two points),
/// in `v`'s unit per index: one slow container (a 20 ms outlier in a 7 ms series) tilts a
/// least-squares line, not this.
fn slope(v: &[f64]) -> f64 {
    let mut s = Vec::with_capacity(v.len() * v.len() / 2);
    for i in 0..v.len() {
        for j in i + 1..v.len() {
            s.push((v[j] - v[i]) / (j - i) as f64);
        }
    }
    med(&s)
}

/// The mean of `v` and the half-width of its 95 % confidence interval (Student's t): how far
/// the slopes of the repetitions let one trust their mean.
fn mean_ci95(v: &[f64]) -> (f64, f64) {
    // t(0.975) for 1..=10 degrees of freedom; 1.96 beyond.
    const T: [f64; 10] = [12.71, 4.30, 3.18, 2.78, 2.57, 2.45, 2.36, 2.31, 2.26, 2.23];
    let n = v.len();
    let mean = v.iter().sum::<f64>() / n.max(1) as f64;
    if n < 2 {
        return (mean, f64::NAN);
    }
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let t = T.get(n - 2).copied().unwrap_or(1.96);
    (mean, t * (var / n as f64).sqrt())
}

/// The series' section: per runtime, the median container by container over the repetitions
/// (its first and last fifth, and the least-squares line through it), and the slope of each
/// repetition (Theil–Sen): their mean and its 95 % interval, in µs per container of the
/// series, i.e. per container of that runtime already running.
fn series_section(o: &mut String, reps: &[Vec<Vec<f64>>], names: &[&str]) {
    let Some(first) = reps.first() else { return };
    let n = first.first().map(Vec::len).unwrap_or(0);
    // A fifth of the series at each end (at least one container): with 10 the medians moved
    // by ±15% from run to run on this 2-core machine, more than any trend.
    let k = (n / 5).max(1).min(n);
    let _ = writeln!(
        o,
        "\n## A series of {n} `sleep` containers: create+start of each, median of {} repetitions, in ms\n",
        reps.len()
    );
    let _ = writeln!(
        o,
        "| runtime | first {k} | last {k} | last/first | least-squares line, first → last | slope, µs per container (95 % interval) |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|");
    for (i, name) in names.iter().enumerate() {
        let s: Vec<f64> = (0..n)
            .map(|j| med(&reps.iter().map(|rep| rep[i][j]).collect::<Vec<_>>()))
            .collect();
        if s.len() < k || k == 0 {
            continue;
        }
        let (a, b) = (med(&s[..k]), med(&s[s.len() - k..]));
        let (y0, y1) = line_ends(&s);
        let slopes: Vec<f64> = reps.iter().map(|rep| slope(&rep[i]) * 1e6).collect();
        let (m, ci) = mean_ci95(&slopes);
        let _ = writeln!(
            o,
            "| {name} | {} | {} | {} | {} → {} ({}) | {m:.1} ± {ci:.1} |",
            ms(a),
            ms(b),
            ratio(b, a),
            ms(y0),
            ms(y1),
            ratio(y1, y0)
        );
    }
}

/// The markdown report.
pub fn markdown(r: &Results, rts: &[Runtime]) -> String {
    let mut o = String::new();
    let names: Vec<&str> = rts.iter().map(|r| r.name).collect();
    let (h, c, rc) = (idx(rts, "husk"), idx(rts, "crun"), idx(rts, "runc"));
    let _ = writeln!(o, "## Wall time, median (min–max) in ms\n");
    let _ = write!(o, "| measurement |");
    for n in &names {
        let _ = write!(o, " {n} |");
    }
    let _ = writeln!(o, " husk/crun | husk/runc |");
    let _ = writeln!(o, "|---|{}---|---|", "---|".repeat(names.len()));
    for m in &r.measures {
        let _ = write!(o, "| {} |", m.name);
        for t in &m.times {
            let (lo, hi) = min_max(t);
            let _ = write!(o, " {} ({}–{}) |", ms(med(t)), ms(lo), ms(hi));
        }
        let md = |i: Option<usize>| i.map(|i| med(&m.times[i])).unwrap_or(0.0);
        let _ = writeln!(o, " {} | {} |", ratio(md(h), md(c)), ratio(md(h), md(rc)));
    }
    let _ = writeln!(
        o,
        "\nSamples per cell: {}.\n",
        r.measures.first().map(|m| m.times[0].len()).unwrap_or(0)
    );
    let _ = writeln!(
        o,
        "## Peak RSS of the runtime process (KiB): of `run` (run rows), `create` (lifecycle rows), `exec` (exec row)\n"
    );
    let _ = writeln!(o, "| config | {} |", names.join(" | "));
    let _ = writeln!(o, "|---|{}", "---|".repeat(names.len()));
    for m in r
        .measures
        .iter()
        .filter(|m| m.rss.iter().any(Option::is_some))
    {
        let cells: Vec<String> = m
            .rss
            .iter()
            .map(|x| x.map(|k| k.to_string()).unwrap_or("-".into()))
            .collect();
        let _ = writeln!(o, "| {} | {} |", m.name, cells.join(" | "));
    }
    series_section(&mut o, &r.series_reps, &names);
    let _ = writeln!(o, "\n## Binary size\n");
    let _ = writeln!(o, "| {} |", names.join(" | "));
    let _ = writeln!(o, "|{}", "---|".repeat(names.len()));
    let cells: Vec<String> = r
        .sizes
        .iter()
        .map(|s| format!("{:.1} MiB", *s as f64 / 1048576.0))
        .collect();
    let _ = writeln!(o, "| {} |", cells.join(" | "));
    o
}

/// A grouped bar chart of the medians, one group per measurement.
pub fn svg(r: &Results, rts: &[Runtime]) -> String {
    const COLORS: [&str; 3] = ["#2b8a3e", "#1c7ed6", "#e8590c"];
    let groups = r.measures.len().max(1);
    let bar = 28.0;
    let gap = 40.0;
    let group_w = bar * rts.len() as f64 + gap;
    let (left, top, height) = (60.0, 30.0, 260.0);
    let width = left + group_w * groups as f64 + 20.0;
    // Each group is scaled to its own slowest runtime: `list` of 1,000 containers takes
    // hundreds of milliseconds, and would flatten every other group on one common scale.
    let mut o = String::new();
    let _ = writeln!(
        o,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{}\" font-family=\"sans-serif\" font-size=\"11\">",
        top + height + 90.0
    );
    let _ = writeln!(o, "<text x=\"{left}\" y=\"18\" font-size=\"13\">median wall time (ms), lower is better; each group scaled to its slowest</text>");
    for (g, m) in r.measures.iter().enumerate() {
        let x0 = left + g as f64 * group_w;
        let max = m.times.iter().map(|t| med(t)).fold(0.0, f64::max).max(1e-6);
        for (i, t) in m.times.iter().enumerate() {
            let v = med(t);
            let h = v / max * height;
            let x = x0 + i as f64 * bar;
            let y = top + height - h;
            let _ = writeln!(
                o,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                bar - 2.0,
                COLORS[i % 3],
                x + bar / 2.0,
                y - 3.0,
                ms(v)
            );
        }
        let _ = writeln!(
            o,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            x0 + bar * rts.len() as f64 / 2.0,
            top + height + 15.0,
            m.name.replace('&', "&amp;").replace('<', "&lt;")
        );
    }
    for (i, rt) in rts.iter().enumerate() {
        let y = top + height + 40.0 + i as f64 * 14.0;
        let _ = writeln!(
            o,
            "<rect x=\"{left}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{}\" y=\"{:.1}\">{}</text>",
            y - 9.0,
            COLORS[i % 3],
            left + 14.0,
            y,
            rt.name
        );
    }
    o.push_str("</svg>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::Measure;
    use std::path::PathBuf;

    #[test]
    fn confidence_interval_of_the_mean() {
        let (m, h) = mean_ci95(&[1.0, 2.0, 3.0]);
        // sd 1, n 3, t(2) 4.30: 4.30 / sqrt(3).
        assert_eq!(m, 2.0);
        assert!((h - 4.30 / 3f64.sqrt()).abs() < 1e-9, "{h}");
        assert!(mean_ci95(&[5.0]).1.is_nan());
        assert!((slope(&[1.0, 3.0, 5.0]) - 2.0).abs() < 1e-12);
        // One outlier does not move it.
        assert!((slope(&[1.0, 2.0, 30.0, 4.0, 5.0]) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn line_ends_follow_the_trend() {
        // y = 1 + i: the line is exact; one outlier at the end moves it, but not all the way.
        let v: Vec<f64> = (0..5).map(|i| 1.0 + i as f64).collect();
        assert_eq!(line_ends(&v), (1.0, 5.0));
        let (a, b) = line_ends(&[2.0, 2.0, 2.0, 2.0, 12.0]);
        assert!(a < 2.0 && b > 6.0 && b < 12.0, "{a} {b}");
        assert_eq!(line_ends(&[3.0]), (3.0, 3.0));
    }

    #[test]
    fn table_has_medians_and_ratios() {
        let rts = vec![
            Runtime {
                name: "husk",
                path: PathBuf::new(),
            },
            Runtime {
                name: "crun",
                path: PathBuf::new(),
            },
            Runtime {
                name: "runc",
                path: PathBuf::new(),
            },
        ];
        let r = Results {
            measures: vec![Measure {
                name: "run".into(),
                times: vec![
                    vec![0.004, 0.005, 0.006],
                    vec![0.010, 0.010, 0.012],
                    vec![0.020, 0.030, 0.040],
                ],
                rss: vec![Some(4000), None, Some(10000)],
            }],
            // Two repetitions: husk's rises by 1 µs per container in one and 3 in the other.
            series_reps: (1..=3)
                .step_by(2)
                .map(|d| {
                    vec![
                        (0..20).map(|i| 0.01 + i as f64 * d as f64 * 1e-6).collect(),
                        vec![0.02; 20],
                        vec![0.03; 20],
                    ]
                })
                .collect(),
            sizes: vec![1 << 20, 2 << 20, 3 << 20],
        };
        let md = markdown(&r, &rts);
        assert!(md.contains("| run | 5.00 (4.00–6.00) | 10.00 (10.00–12.00) | 30.00 (20.00–40.00) | 0.50 | 0.17 |"), "{md}");
        assert!(md.contains("| run | 4000 | - | 10000 |"), "{md}");
        // Per index the median of two is the larger (the upper median): the 3 µs repetition.
        assert!(
            md.contains("| husk | 10.01 | 10.05 | 1.00 | 10.00 → 10.06 (1.01) | 2.0 ± 12.7 |"),
            "{md}"
        );
        assert!(
            md.contains("| crun | 20.00 | 20.00 | 1.00 | 20.00 → 20.00 (1.00) | 0.0 ± 0.0 |"),
            "{md}"
        );
        let svg = svg(&r, &rts);
        assert!(svg.starts_with("<svg") && svg.contains(">5.00<"), "{svg}");
    }
}

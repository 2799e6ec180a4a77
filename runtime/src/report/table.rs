//! The terminal table of measurements.

use crate::measure::stats::{human_ns, human_rate};

use super::Report;

/// Renders all measurements as an aligned table.
pub fn render_table(report: &Report) -> String {
    let header = [
        "measurement",
        "count",
        "errors",
        "mean",
        "p50",
        "p90",
        "p99",
        "p99.9",
        "max",
        "throughput",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    for s in &report.measurements {
        rows.push(vec![
            s.name.clone(),
            s.count.to_string(),
            s.errors.to_string(),
            human_ns(s.mean),
            human_ns(s.p50 as f64),
            human_ns(s.p90 as f64),
            human_ns(s.p99 as f64),
            human_ns(s.p999 as f64),
            human_ns(s.max as f64),
            human_rate(s.throughput),
        ]);
    }
    let mut out = grid(&rows);
    let lags: Vec<_> = report
        .measurements
        .iter()
        .filter_map(|s| Some((s, s.send_lag?)))
        .collect();
    if !lags.is_empty() {
        // The generator's own share: a p99 above is judged against it.
        let mut rows = vec![
            [
                "send lag (inside each latency above)",
                "p50",
                "p99",
                "p99.9",
                "max",
            ]
            .map(String::from)
            .to_vec(),
        ];
        for (s, lag) in lags {
            let mut row = vec![s.name.clone()];
            row.extend(lag_cells(&lag));
            rows.push(row);
        }
        out.push('\n');
        out.push_str(&grid(&rows));
    }
    if !report.comparisons.is_empty() {
        let mut rows = vec![vec![
            "comparison".to_string(),
            "B / A (median)".into(),
            "spread".into(),
            "rounds".into(),
        ]];
        for c in &report.comparisons {
            rows.push(vec![
                format!("{} vs {}", c.b, c.a),
                format!("{:.2}x", c.ratio),
                format!("{:.2}x .. {:.2}x", c.ratio_min, c.ratio_max),
                c.rounds.to_string(),
            ]);
        }
        out.push('\n');
        out.push_str(&grid(&rows));
    }
    if !report.thresholds.is_empty() {
        let mut rows = vec![vec![
            "threshold".to_string(),
            "rule".into(),
            "actual".into(),
            "verdict".into(),
        ]];
        for t in &report.thresholds {
            let th = &t.threshold;
            let rules: Vec<String> = [
                ("target", &th.target),
                ("acceptable", &th.acceptable),
                ("critical", &th.critical),
            ]
            .into_iter()
            .filter_map(|(tier, r)| r.as_ref().map(|r| format!("{tier}: {}", r.text)))
            .collect();
            let stat = [&th.target, &th.acceptable, &th.critical]
                .into_iter()
                .flatten()
                .next()
                .map(|r| r.stat().to_string())
                .unwrap_or_default();
            let actual = match t.actual {
                None => "-".to_string(),
                Some(v) if ["throughput"].contains(&stat.as_str()) => human_rate(v),
                Some(v) if super::threshold::SIZE_STATS.contains(&stat.as_str()) => {
                    format!("{:.1} KiB", v / 1024.0)
                }
                Some(v) if ["count", "errors"].contains(&stat.as_str()) => format!("{v}"),
                Some(v) => human_ns(v),
            };
            rows.push(vec![
                th.metric.clone(),
                rules.join(", "),
                actual,
                match t.verdict {
                    super::Verdict::Pass => "PASS".into(),
                    super::Verdict::Warn => format!("WARN ({})", t.detail),
                    super::Verdict::Fail => format!("FAIL ({})", t.detail),
                },
            ]);
        }
        out.push('\n');
        out.push_str(&grid(&rows));
    }
    if let Some(b) = &report.baseline {
        out.push('\n');
        out.push_str(&render_baseline(b));
    }
    if !report.verdicts.is_empty() {
        out.push_str("\nverdicts\n");
        for v in &report.verdicts {
            out.push_str(&format!("  - {v}\n"));
        }
    }
    out
}

/// A send lag's p50, p99, p99.9 and max for people (table and Markdown).
pub(crate) fn lag_cells(lag: &crate::measure::SendLag) -> [String; 4] {
    [lag.p50, lag.p99, lag.p999, lag.max].map(|ns| human_ns(ns as f64))
}

/// A metric's value for people: a rate for throughput, a time otherwise.
pub(crate) fn metric_value(metric: &str, v: f64) -> String {
    if metric == "throughput" {
        human_rate(v)
    } else {
        human_ns(v)
    }
}

/// A change as a signed percentage.
pub(crate) fn percent(change: f64) -> String {
    format!("{:+.1}%", change * 100.0)
}

/// The comparison with a baseline: Baseline / Current / Change per metric,
/// regressions flagged.
pub fn render_baseline(b: &super::BaselineComparison) -> String {
    let mut rows = vec![
        [
            "measurement",
            "metric",
            "baseline",
            "current",
            "change",
            "noise band",
            "",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for c in &b.changes {
        rows.push(vec![
            c.measurement.clone(),
            c.metric.clone(),
            metric_value(&c.metric, c.baseline),
            metric_value(&c.metric, c.current),
            percent(c.change),
            format!("±{:.1}%", c.band * 100.0),
            if c.regression { "REGRESSION" } else { "ok" }.into(),
        ]);
    }
    let mut out = format!(
        "baseline `{}` (a regression is worse by more than {:.0}% and the noise band)\n",
        b.name,
        b.threshold * 100.0
    );
    out.push_str(&grid(&rows));
    for name in &b.new {
        out.push_str(&format!("  new (not in the baseline): {name}\n"));
    }
    for name in &b.missing {
        out.push_str(&format!("  missing (in the baseline only): {name}\n"));
    }
    out
}

/// Rows as an aligned table: the first row is the header, the first column
/// left-aligned, the others right-aligned.
fn grid(rows: &[Vec<String>]) -> String {
    let columns = rows[0].len();
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                let pad = widths[c] - cell.chars().count();
                if c == 0 {
                    format!("{cell}{}", " ".repeat(pad))
                } else {
                    format!("{}{cell}", " ".repeat(pad))
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
        if i == 0 {
            let total: usize = widths.iter().sum::<usize>() + 2 * (columns - 1);
            out.push_str(&"-".repeat(total));
            out.push('\n');
        }
    }
    out
}

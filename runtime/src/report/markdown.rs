//! The report as Markdown: Summary, Throughput, Latency and Resource Usage
//! tables, each figure as Baseline / Current / Change (the baseline columns
//! show `-` when the run was not compared with one), and the send lag of
//! open-model load runs.

use std::time::{Duration, UNIX_EPOCH};

use super::table::{lag_cells, metric_value, percent};
use super::threshold::Verdict;
use super::{BaselineComparison, Report};
use crate::measure::Stats;
use crate::measure::stats::human_ns;

/// Renders `report` as a Markdown document.
pub fn render_markdown(report: &Report) -> String {
    let mut out = String::from("# Caxton report\n\n## Summary\n\n| | |\n|---|---|\n");
    let started = UNIX_EPOCH + Duration::from_secs(report.started_unix);
    let mut row = |k: &str, v: String| out.push_str(&format!("| {k} | {} |\n", cell(&v)));
    row("Script", format!("`{}`", report.script));
    row("Caxton", report.caxton_version.clone());
    row("Started", httpdate::fmt_http_date(started));
    row("Wall time", format!("{:.1} s", report.elapsed_s));
    row("Measurements", report.measurements.len().to_string());
    if !report.thresholds.is_empty() {
        let count = |v: Verdict| report.thresholds.iter().filter(|t| t.verdict == v).count();
        row(
            "Thresholds",
            format!(
                "{} pass, {} warn, {} fail",
                count(Verdict::Pass),
                count(Verdict::Warn),
                count(Verdict::Fail)
            ),
        );
    }
    if let Some(b) = &report.baseline {
        let regressions = b.changes.iter().filter(|c| c.regression).count();
        row(
            "Baseline",
            format!(
                "`{}`: {regressions} regression(s) beyond {:.0}% and the noise band",
                b.name,
                b.threshold * 100.0
            ),
        );
    }
    if !report.verdicts.is_empty() {
        out.push_str("\n**Verdicts**\n\n");
        for v in &report.verdicts {
            out.push_str(&format!("- {v}\n"));
        }
    }

    let base = report.baseline.as_ref();
    out.push_str(
        "\n## Throughput\n\n| Measurement | Baseline | Current | Change |\n|---|--:|--:|--:|\n",
    );
    for (i, s) in report.measurements.iter().enumerate() {
        let old = baseline_of(base, report, i);
        out.push_str(&format!(
            "| {} | {} |\n",
            cell(&s.name),
            triple(old.map(|o| o.throughput), s.throughput, "throughput").join(" | ")
        ));
    }

    out.push_str(
        "\n## Latency\n\n| Measurement | p50 Baseline | p50 Current | p50 Change | p99 Baseline | p99 Current | p99 Change | p99.9 | max | errors |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n",
    );
    for (i, s) in report.measurements.iter().enumerate() {
        let old = baseline_of(base, report, i);
        let p50 = triple(old.map(|o| o.p50 as f64), s.p50 as f64, "p50");
        let p99 = triple(old.map(|o| o.p99 as f64), s.p99 as f64, "p99");
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            cell(&s.name),
            p50.join(" | "),
            p99.join(" | "),
            human_ns(s.p999 as f64),
            human_ns(s.max as f64),
            s.errors
        ));
    }

    if report.measurements.iter().any(|s| s.send_lag.is_some()) {
        out.push_str(
            "\n## Send Lag\n\nHow far behind its schedule the open-model load generator sent: its own share of each latency above.\n\n| Measurement | p50 | p99 | p99.9 | max |\n|---|--:|--:|--:|--:|\n",
        );
        for s in &report.measurements {
            let Some(lag) = s.send_lag else { continue };
            out.push_str(&format!(
                "| {} | {} |\n",
                cell(&s.name),
                lag_cells(&lag).join(" | ")
            ));
        }
    }

    out.push_str(
        "\n## Resource Usage\n\n| Measurement | Agents | RSS Baseline | RSS Current | RSS Change | RSS/agent Baseline | RSS/agent Current | RSS/agent Change | CPU Baseline | CPU Current | CPU Change |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n",
    );
    for (i, s) in report.measurements.iter().enumerate() {
        let Some(r) = &s.resources else { continue };
        let old = baseline_of(base, report, i).and_then(|o| o.resources);
        let mib = |b: f64| format!("{:.1} MiB", b / (1024.0 * 1024.0));
        let kib = |b: f64| format!("{:.0} KiB", b / 1024.0);
        let secs = |c: f64| format!("{c:.2} s");
        let rss = with(old.map(|o| o.rss_bytes as f64), r.rss_bytes as f64, mib);
        let per = match r.rss_per_agent {
            Some(p) => with(
                old.and_then(|o| o.rss_per_agent).map(|p| p as f64),
                p as f64,
                kib,
            ),
            None => ["-".into(), "-".into(), "-".into()],
        };
        let cpu = with(old.map(|o| o.cpu_s), r.cpu_s, secs);
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            cell(&s.name),
            r.agents,
            rss.join(" | "),
            per.join(" | "),
            cpu.join(" | ")
        ));
    }
    out
}

/// The baseline's stats for the `i`th measurement of `report`.
fn baseline_of<'a>(
    base: Option<&'a BaselineComparison>,
    report: &Report,
    i: usize,
) -> Option<&'a Stats> {
    super::baseline::counterpart(&base?.baseline, &report.measurements, i).map(|(_, s)| s)
}

fn triple(old: Option<f64>, new: f64, metric: &str) -> [String; 3] {
    with(old, new, |v| metric_value(metric, v))
}

/// Baseline, current and change cells.
fn with(old: Option<f64>, new: f64, fmt: impl Fn(f64) -> String) -> [String; 3] {
    match old {
        Some(o) if o > 0.0 => [fmt(o), fmt(new), percent((new - o) / o)],
        Some(o) => [fmt(o), fmt(new), "-".into()],
        None => ["-".into(), fmt(new), "-".into()],
    }
}

/// Text safe inside a table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::measure::{Resources, new_histogram};
    use crate::report::Baseline;

    fn report(ns: u64) -> Report {
        let mut h = new_histogram();
        h.record(ns).unwrap();
        let mut s = Stats::from_histogram("echo | burst", &h, 0, Duration::from_secs(1), None);
        s.resources = Some(Resources {
            rss_bytes: 64 << 20,
            agents: 8,
            rss_per_agent: Some(8 << 20),
            cpu_s: 1.5,
        });
        let mut r = Report::new("s.rhai");
        r.measurements.push(s);
        r
    }

    #[test]
    fn has_the_four_sections_with_baseline_columns() {
        let old = report(1000);
        let mut new = report(1500);
        new.verdicts.push("WASM overhead 1.4x".into());
        new.baseline = Some(Baseline::new("main", &old, &[]).unwrap().compare(&new, 0.1));
        let md = render_markdown(&new);
        for section in [
            "## Summary",
            "## Throughput",
            "## Latency",
            "## Resource Usage",
        ] {
            assert!(md.contains(section), "{section} missing:\n{md}");
        }
        assert!(md.contains("echo \\| burst"), "{md}");
        assert!(md.contains("+50.0%"), "p50 change missing:\n{md}");
        assert!(md.contains("64.0 MiB"), "{md}");
        assert!(md.contains("- WASM overhead 1.4x"), "{md}");
        assert!(md.contains("3 regression(s)"), "mean, p50 and p99:\n{md}");
    }

    #[test]
    fn an_open_load_run_has_its_send_lag_and_others_none() {
        assert!(!render_markdown(&report(1000)).contains("## Send Lag"));
        let mut r = report(1000);
        r.measurements[0].send_lag = Some(crate::measure::SendLag {
            p50: 40_000,
            p99: 300_000,
            p999: 1_200_000,
            max: 5_000_000,
        });
        let md = render_markdown(&r);
        assert!(
            md.contains("| echo \\| burst | 40.00 µs | 300.00 µs | 1.20 ms | 5.00 ms |"),
            "{md}"
        );
        let table = crate::report::render_table(&r);
        assert!(table.contains("send lag"), "{table}");
        assert!(table.contains("300.00 µs"), "{table}");
    }

    #[test]
    fn without_a_baseline_the_baseline_columns_are_dashes() {
        let md = render_markdown(&report(1000));
        assert!(md.contains("| echo \\| burst | - | 1/s | - |"), "{md}");
    }
}

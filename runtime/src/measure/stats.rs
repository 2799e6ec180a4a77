//! The summary of one measurement.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Highest value a histogram records: one hour in nanoseconds.
const MAX_NS: u64 = 3_600_000_000_000;

/// A histogram of nanosecond latencies, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_NS, 3).expect("valid histogram bounds")
}

/// Statistics of one measurement. Times are nanoseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// What was measured.
    pub name: String,
    /// Successful samples.
    pub count: u64,
    /// Samples that failed (not included in the latencies).
    pub errors: u64,
    /// Mean latency.
    pub mean: f64,
    /// Fastest.
    pub min: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 95th percentile.
    pub p95: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Slowest.
    pub max: u64,
    /// Standard deviation.
    pub stdev: f64,
    /// Successful samples per second of wall time.
    pub throughput: f64,
    /// Wall time of the measured phase.
    pub elapsed_ns: u64,
    /// The first error seen, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    /// How much repeated sub-samples of this measurement disagree: the
    /// spread of their means relative to the median one (0.05 = 5%). A
    /// baseline comparison flags a change only beyond it.
    #[serde(default)]
    pub noise: f64,
    /// What the process used while this was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// An open-model load run's own lateness, which every latency above
    /// includes; `None` for anything without a schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_lag: Option<SendLag>,
    /// Fuel the guests burned per operation (on a node that meters fuel):
    /// a count of WebAssembly work, the same on any machine and any day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuel: Option<f64>,
    /// A `load` run window by window, if it asked for windows: for the
    /// timelines of the HTML report.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<crate::measure::load::Window>,
}

/// How far behind its schedule an open-model load generator sent, ns: its
/// own share of every latency it reports, so a p99 can be judged against
/// what the generator (and the OS waking it) added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendLag {
    /// Median.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest.
    pub max: u64,
}

impl SendLag {
    /// The lag's summary from one lag per send.
    pub fn from_histogram(h: &Histogram<u64>) -> SendLag {
        SendLag {
            p50: h.value_at_quantile(0.5),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }
}

/// The process's resources around one measurement.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    /// Resident memory at the end, bytes.
    pub rss_bytes: u64,
    /// Agents alive at the end (this node and the nodes a script serves).
    pub agents: u64,
    /// `rss_bytes / agents` (the whole process, runtime included).
    pub rss_per_agent: Option<u64>,
    /// CPU time (user + system, all threads) spent during the measurement.
    pub cpu_s: f64,
}

/// The spread of repeated sub-samples' means relative to their median:
/// `(max - min) / median`. Fewer than two means give 0.
pub fn spread(means: &[f64]) -> f64 {
    let mut v: Vec<f64> = means.iter().copied().filter(|m| m.is_finite()).collect();
    if v.len() < 2 {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let median = v[v.len() / 2];
    if median <= 0.0 {
        return 0.0;
    }
    (v[v.len() - 1] - v[0]) / median
}

impl Stats {
    /// Summarises `hist`, taken over `elapsed` of wall time.
    pub fn from_histogram(
        name: &str,
        hist: &Histogram<u64>,
        errors: u64,
        elapsed: Duration,
        first_error: Option<String>,
    ) -> Stats {
        let count = hist.len();
        let pct = |q: f64| {
            if count == 0 {
                0
            } else {
                hist.value_at_quantile(q)
            }
        };
        let secs = elapsed.as_secs_f64();
        Stats {
            name: name.to_string(),
            count,
            errors,
            mean: if count == 0 { 0.0 } else { hist.mean() },
            min: if count == 0 { 0 } else { hist.min() },
            p50: pct(0.50),
            p90: pct(0.90),
            p95: pct(0.95),
            p99: pct(0.99),
            p999: pct(0.999),
            max: if count == 0 { 0 } else { hist.max() },
            stdev: if count == 0 { 0.0 } else { hist.stdev() },
            throughput: if secs > 0.0 { count as f64 / secs } else { 0.0 },
            elapsed_ns: elapsed.as_nanos() as u64,
            first_error,
            noise: 0.0,
            resources: None,
            send_lag: None,
            fuel: None,
            timeline: Vec::new(),
        }
    }
}

/// Formats nanoseconds for people: `850 ns`, `12.3 µs`, `4.56 ms`, `1.20 s`.
pub fn human_ns(ns: f64) -> String {
    if ns < 1_000.0 {
        format!("{ns:.0} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1_000_000_000.0 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

/// Formats bytes for people: `512 B`, `64.0 KiB`, `1.50 MiB`, `2.00 GiB`.
pub fn human_bytes(bytes: u64) -> String {
    let b = bytes as f64;
    if bytes < 1 << 10 {
        format!("{bytes} B")
    } else if bytes < 1 << 20 {
        format!("{:.1} KiB", b / 1024.0)
    } else if bytes < 1 << 30 {
        format!("{:.2} MiB", b / (1u64 << 20) as f64)
    } else {
        format!("{:.2} GiB", b / (1u64 << 30) as f64)
    }
}

/// Formats a rate: `950/s`, `12.3K/s`, `2.10M/s`.
pub fn human_rate(per_s: f64) -> String {
    if per_s < 1e3 {
        format!("{per_s:.0}/s")
    } else if per_s < 1e6 {
        format!("{:.1}K/s", per_s / 1e3)
    } else {
        format!("{:.2}M/s", per_s / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_recorded_values() {
        let mut h = new_histogram();
        for v in 1..=1000u64 {
            h.record(v * 1000).unwrap();
        }
        let s = Stats::from_histogram("x", &h, 2, Duration::from_secs(2), None);
        assert_eq!(s.count, 1000);
        assert_eq!(s.errors, 2);
        assert!((s.p50 as i64 - 500_000).abs() < 1000, "{}", s.p50);
        assert!((s.p99 as i64 - 990_000).abs() < 1000, "{}", s.p99);
        assert_eq!(s.min, 1000);
        assert!(s.max >= 999_000);
        assert!((s.throughput - 500.0).abs() < 1e-9);
    }

    #[test]
    fn empty_histogram_is_all_zero() {
        let s = Stats::from_histogram(
            "e",
            &new_histogram(),
            5,
            Duration::ZERO,
            Some("boom".into()),
        );
        assert_eq!((s.count, s.p99, s.max), (0, 0, 0));
        assert_eq!(s.throughput, 0.0);
    }

    #[test]
    fn human_units() {
        assert_eq!(human_ns(850.0), "850 ns");
        assert_eq!(human_ns(12_300.0), "12.30 µs");
        assert_eq!(human_rate(2_100_000.0), "2.10M/s");
    }

    #[test]
    fn spread_is_range_over_median() {
        assert_eq!(spread(&[]), 0.0);
        assert_eq!(spread(&[5.0]), 0.0);
        assert!((spread(&[90.0, 100.0, 110.0]) - 0.2).abs() < 1e-12);
    }
}

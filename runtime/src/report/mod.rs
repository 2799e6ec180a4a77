//! What a run produced, for people (a terminal table) and for machines
//! (versioned JSON, see `docs/scripting.md` for the schema).

pub mod baseline;
pub mod html;
mod markdown;
pub mod plot;
mod table;
pub mod threshold;

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::measure::Stats;
use threshold::{Threshold, ThresholdResult, Verdict};

pub use baseline::{Baseline, BaselineComparison};
pub use markdown::render_markdown;
pub use table::{render_baseline, render_table};

/// The JSON report's schema identifier; bumped on incompatible change.
pub const SCHEMA: &str = "caxton.report/v1";

/// All measurements of one script run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The script's path.
    pub script: String,
    /// The version of Caxton that ran it.
    pub caxton_version: String,
    /// Start time, seconds since the Unix epoch.
    pub started_unix: u64,
    /// Wall time of the whole run, seconds.
    pub elapsed_s: f64,
    /// Every `measure` and `load` in order.
    pub measurements: Vec<Stats>,
    /// `threshold()` rules, judged when the script ends.
    #[serde(default)]
    pub thresholds: Vec<ThresholdResult>,
    /// The A/B comparisons of `compare()`.
    #[serde(default)]
    pub comparisons: Vec<Comparison>,
    /// Conclusions the script drew from its figures (`verdict()`).
    #[serde(default)]
    pub verdicts: Vec<String>,
    /// The comparison with `--baseline NAME`, if one was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineComparison>,
}

/// An A/B comparison made by alternating runs (see [`crate::measure::compare`]).
pub use crate::measure::compare::Comparison;

impl Report {
    /// An empty report for `script`, started now.
    pub fn new(script: &str) -> Self {
        Report {
            schema: SCHEMA.to_string(),
            script: script.to_string(),
            caxton_version: env!("CARGO_PKG_VERSION").to_string(),
            started_unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            elapsed_s: 0.0,
            measurements: Vec::new(),
            thresholds: Vec::new(),
            comparisons: Vec::new(),
            verdicts: Vec::new(),
            baseline: None,
        }
    }

    /// Judges `thresholds` against the measurements, keeping the results.
    pub fn judge(&mut self, thresholds: &[Threshold]) {
        self.thresholds = thresholds
            .iter()
            .map(|t| t.judge(&self.measurements))
            .collect();
    }

    /// Whether a threshold failed.
    pub fn failed(&self) -> bool {
        self.thresholds.iter().any(|t| t.verdict == Verdict::Fail)
    }

    /// Whether a metric regressed against the baseline.
    pub fn regressed(&self) -> bool {
        self.baseline.as_ref().is_some_and(|b| b.regressed())
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serializes")
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::measure::new_histogram;

    #[test]
    fn json_round_trips() {
        let mut h = new_histogram();
        h.record(1234).unwrap();
        let mut report = Report::new("x.rhai");
        report.measurements.push(Stats::from_histogram(
            "m",
            &h,
            0,
            Duration::from_millis(1),
            None,
        ));
        let back: Report = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(back, report);
        assert_eq!(back.schema, SCHEMA);
    }
}

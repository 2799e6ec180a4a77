//! What a run produced, for people (a terminal table) and for machines
//! (versioned JSON, see `docs/scripting.md` for the schema).

mod table;

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::measure::Stats;

pub use table::render_table;

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
    /// Every `measure` in order.
    pub measurements: Vec<Stats>,
}

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
        }
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

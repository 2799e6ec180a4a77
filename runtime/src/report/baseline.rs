//! Baselines: a run's stats and histograms kept under a name, and the
//! comparison of a later run against them.
//!
//! A change counts as a regression only when it is worse than the baseline
//! by more than the threshold (10% unless told) *and* by more than the noise
//! either run showed between its own repeated samples: a measurement that
//! moves 15% between its own sub-samples cannot show a 12% regression.

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

use super::Report;
use crate::measure::Stats;

/// The baseline file's schema identifier; bumped on incompatible change.
pub const BASELINE_SCHEMA: &str = "caxton.baseline/v1";

/// Why a baseline cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// The name would not make a plain file name.
    #[error(
        "baseline name `{0}` is not allowed: use letters, digits, `.`, `_` and `-` (not starting with `.`)"
    )]
    BadName(String),
    /// The file is not a baseline this version reads.
    #[error("not a Caxton baseline: {0}")]
    Format(String),
}

/// A run kept for later comparison.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Baseline {
    /// Always [`BASELINE_SCHEMA`].
    pub schema: String,
    /// The name it was saved under.
    pub name: String,
    /// The run.
    pub report: Report,
    /// Each measurement's latency histogram (HdrHistogram V2, deflated,
    /// base64), in the order of the measurements that have one.
    pub histograms: Vec<NamedHistogram>,
}

/// One stored histogram.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NamedHistogram {
    /// The measurement's name.
    pub name: String,
    /// HdrHistogram V2 deflate encoding, base64.
    pub v2_deflate_base64: String,
}

/// How a run compares with a baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineComparison {
    /// The baseline's name.
    pub name: String,
    /// The smallest change that can count as a regression (0.10 = 10%).
    pub threshold: f64,
    /// The baseline's measurements (for the Baseline columns of reports).
    pub baseline: Vec<Stats>,
    /// Every metric of every measurement found in both runs.
    pub changes: Vec<Change>,
    /// Measurements of this run that the baseline does not have.
    pub new: Vec<String>,
    /// Measurements of the baseline that this run no longer has.
    pub missing: Vec<String>,
}

/// One metric of one measurement, baseline against current.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The measurement.
    pub measurement: String,
    /// `throughput`, `mean`, `p50` or `p99`.
    pub metric: String,
    /// Its value in the baseline (ns, or per second for throughput).
    pub baseline: f64,
    /// Its value now.
    pub current: f64,
    /// `(current - baseline) / baseline`.
    pub change: f64,
    /// How large a worsening must be to count: the threshold or the
    /// noise of either run, whichever is larger.
    pub band: f64,
    /// Worse by more than `band`.
    pub regression: bool,
}

impl BaselineComparison {
    /// Whether any metric regressed.
    pub fn regressed(&self) -> bool {
        self.changes.iter().any(|c| c.regression)
    }
}

/// The measurement of `base` that `current[i]` compares with, and where
/// it stands: the nth measurement of a name matches the nth of that name.
pub(crate) fn counterpart<'a>(
    base: &'a [Stats],
    current: &[Stats],
    i: usize,
) -> Option<(usize, &'a Stats)> {
    let name = &current[i].name;
    let nth = current[..i].iter().filter(|s| &s.name == name).count();
    base.iter()
        .enumerate()
        .filter(|(_, s)| &s.name == name)
        .nth(nth)
}

/// Checks that `name` is a plain file-name stem.
pub fn check_name(name: &str) -> Result<(), BaselineError> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(BaselineError::BadName(name.to_string()))
    }
}

impl Baseline {
    /// A baseline of `report` and its histograms, to be saved as `name`.
    pub fn new(
        name: &str,
        report: &Report,
        histograms: &[(String, Histogram<u64>)],
    ) -> Result<Self, BaselineError> {
        check_name(name)?;
        let histograms = histograms
            .iter()
            .map(|(name, h)| {
                let mut bytes = Vec::new();
                V2DeflateSerializer::new()
                    .serialize(h, &mut bytes)
                    .map_err(|e| BaselineError::Format(format!("encoding `{name}`: {e:?}")))?;
                Ok(NamedHistogram {
                    name: name.clone(),
                    v2_deflate_base64: base64::engine::general_purpose::STANDARD.encode(bytes),
                })
            })
            .collect::<Result<_, BaselineError>>()?;
        Ok(Baseline {
            schema: BASELINE_SCHEMA.to_string(),
            name: name.to_string(),
            report: report.clone(),
            histograms,
        })
    }

    /// The baseline as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a baseline always serializes")
    }

    /// Reads a baseline written by [`Baseline::to_json`].
    pub fn from_json(text: &str) -> Result<Self, BaselineError> {
        let b: Baseline =
            serde_json::from_str(text).map_err(|e| BaselineError::Format(e.to_string()))?;
        if b.schema != BASELINE_SCHEMA {
            return Err(BaselineError::Format(format!(
                "schema `{}`, this version reads `{BASELINE_SCHEMA}`",
                b.schema
            )));
        }
        Ok(b)
    }

    /// The stored histogram of measurement `name` (its first, if several).
    pub fn histogram(&self, name: &str) -> Result<Option<Histogram<u64>>, BaselineError> {
        let Some(h) = self.histograms.iter().find(|h| h.name == name) else {
            return Ok(None);
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&h.v2_deflate_base64)
            .map_err(|e| BaselineError::Format(format!("histogram `{name}`: {e}")))?;
        Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map(Some)
            .map_err(|e| BaselineError::Format(format!("histogram `{name}`: {e:?}")))
    }

    /// Compares `current` with this baseline; `threshold` is the smallest
    /// relative worsening that may count as a regression.
    pub fn compare(&self, current: &Report, threshold: f64) -> BaselineComparison {
        let base = &self.report.measurements;
        let mut changes = Vec::new();
        let mut new = Vec::new();
        let mut matched = vec![false; base.len()];
        for (i, cur) in current.measurements.iter().enumerate() {
            let Some((j, old)) = counterpart(base, &current.measurements, i) else {
                new.push(cur.name.clone());
                continue;
            };
            matched[j] = true;
            let band = threshold.max(old.noise).max(cur.noise);
            let metrics = [
                ("throughput", old.throughput, cur.throughput, true),
                ("mean", old.mean, cur.mean, false),
                ("p50", old.p50 as f64, cur.p50 as f64, false),
                ("p99", old.p99 as f64, cur.p99 as f64, false),
            ];
            // Fuel is a count of guest work, not a time: no noise moves
            // it, so any increase is a regression.
            let fuel = old.fuel.zip(cur.fuel).map(|(b, c)| ("fuel", b, c, false));
            for (metric, b, c, higher_is_better) in metrics.into_iter().chain(fuel) {
                if b <= 0.0 {
                    continue;
                }
                let band = if metric == "fuel" { 0.0 } else { band };
                let change = (c - b) / b;
                let worse = if higher_is_better { -change } else { change };
                changes.push(Change {
                    measurement: cur.name.clone(),
                    metric: metric.to_string(),
                    baseline: b,
                    current: c,
                    change,
                    band,
                    regression: worse > band,
                });
            }
        }
        let missing = base
            .iter()
            .zip(&matched)
            .filter(|(_, m)| !**m)
            .map(|(s, _)| s.name.clone())
            .collect();
        BaselineComparison {
            name: self.name.clone(),
            threshold,
            baseline: base.clone(),
            changes,
            new,
            missing,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::measure::new_histogram;

    fn run(values: &[(&str, u64, f64)]) -> (Report, Vec<(String, Histogram<u64>)>) {
        let mut report = Report::new("x.rhai");
        let mut hists = Vec::new();
        for (name, ns, noise) in values {
            let mut h = new_histogram();
            for _ in 0..100 {
                h.record(*ns).unwrap();
            }
            let mut s = Stats::from_histogram(name, &h, 0, Duration::from_secs(1), None);
            s.noise = *noise;
            report.measurements.push(s);
            hists.push((name.to_string(), h));
        }
        (report, hists)
    }

    #[test]
    fn a_baseline_round_trips_with_its_histograms() {
        let (report, hists) = run(&[("a", 1000, 0.0), ("b", 5000, 0.0)]);
        let saved = Baseline::new("main", &report, &hists).unwrap();
        let back = Baseline::from_json(&saved.to_json()).unwrap();
        assert_eq!(back.report, report);
        let h = back.histogram("b").unwrap().unwrap();
        assert_eq!(h.len(), 100);
        assert_eq!(h.value_at_quantile(0.5), hists[1].1.value_at_quantile(0.5));
        assert!(back.histogram("zzz").unwrap().is_none());
    }

    #[test]
    fn only_a_change_beyond_threshold_and_noise_is_a_regression() {
        let (old, hists) = run(&[
            ("fast", 1000, 0.02),
            ("noisy", 1000, 0.30),
            ("gone", 1, 0.0),
        ]);
        let baseline = Baseline::new("b", &old, &hists).unwrap();
        // fast: 20% slower (beyond 10% and its 2% noise); noisy: 20% slower
        // but it moves 30% between its own sub-samples.
        let (new, _) = run(&[
            ("fast", 1200, 0.02),
            ("noisy", 1200, 0.05),
            ("added", 1, 0.0),
        ]);
        let cmp = baseline.compare(&new, 0.10);
        assert!(cmp.regressed());
        let p50 = |m: &str| {
            cmp.changes
                .iter()
                .find(|c| c.measurement == m && c.metric == "p50")
                .unwrap()
                .clone()
        };
        assert!(p50("fast").regression);
        assert!((p50("fast").change - 0.2).abs() < 0.01);
        assert!(!p50("noisy").regression);
        assert_eq!(p50("noisy").band, 0.30);
        assert_eq!(cmp.new, vec!["added".to_string()]);
        assert_eq!(cmp.missing, vec!["gone".to_string()]);
        // Faster is never a regression, and neither is a 5% change.
        let (better, _) = run(&[("fast", 950, 0.0), ("noisy", 500, 0.0)]);
        assert!(!baseline.compare(&better, 0.10).regressed());
    }

    #[test]
    fn any_increase_in_fuel_is_a_regression_whatever_the_noise() {
        let (mut old, hists) = run(&[("work", 1000, 0.30)]);
        old.measurements[0].fuel = Some(10_000.0);
        let baseline = Baseline::new("b", &old, &hists).unwrap();
        let with_fuel = |fuel: f64| {
            let (mut new, _) = run(&[("work", 1000, 0.30)]);
            new.measurements[0].fuel = Some(fuel);
            baseline.compare(&new, 0.10)
        };
        let cmp = with_fuel(10_001.0);
        let fuel = cmp.changes.iter().find(|c| c.metric == "fuel").unwrap();
        assert!(fuel.regression && fuel.band == 0.0, "{fuel:?}");
        assert!(!with_fuel(10_000.0).regressed());
        assert!(!with_fuel(9_000.0).regressed());
    }

    #[test]
    fn names_that_escape_the_directory_are_refused() {
        for bad in ["", "../x", "a/b", ".hidden", "a b"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        check_name("main-2026.11_x").unwrap();
    }

    #[test]
    fn a_foreign_file_is_a_clear_error() {
        let err = Baseline::from_json("{\"schema\": \"other\"}").unwrap_err();
        assert!(err.to_string().contains("not a Caxton baseline"), "{err}");
    }
}

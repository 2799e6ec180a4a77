//! Pass/fail rules on measurements, k6-style, with tiers.
//!
//! A rule reads `<stat> <op> <value>`: `p99 < 10ms`, `throughput > 100000`,
//! `errors == 0`. Latency stats (`min`, `mean`, `p50` .. `p999`, `max`)
//! take a duration with a unit; `throughput` (per second), `count` and
//! `errors` take a number. A threshold has up to three tiers; the verdict is
//! `fail` when the `critical` rule fails, `warn` when only `acceptable` or
//! `target` fails, `pass` when all hold. A plain rule is a `critical` one.

use serde::{Deserialize, Serialize};

use crate::core::limits::parse_duration;
use crate::measure::Stats;

/// One comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// The rule as written.
    pub text: String,
    stat: String,
    op: String,
    value: f64,
}

const TIME_STATS: [&str; 9] = [
    "min", "mean", "p50", "p90", "p95", "p99", "p999", "max", "stdev",
];
const COUNT_STATS: [&str; 4] = ["throughput", "count", "errors", "fuel"];
/// Memory stats, from the measurement's resources (bytes; `64KiB`, `10MB`).
pub(crate) const SIZE_STATS: [&str; 2] = ["rss", "rss_per_agent"];

impl std::str::FromStr for Rule {
    type Err = String;
    fn from_str(text: &str) -> Result<Rule, String> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        let [stat, op, value @ ..] = parts.as_slice() else {
            return Err(format!(
                "`{text}` is not a rule: write `<stat> <op> <value>`, e.g. `p99 < 10ms` or `throughput > 100000`"
            ));
        };
        let value = value.join(" ");
        if !["<", "<=", ">", ">=", "=="].contains(op) {
            return Err(format!(
                "`{op}` in `{text}` is not a comparison: <, <=, >, >= or =="
            ));
        }
        let value = if TIME_STATS.contains(stat) {
            if value.trim().chars().all(|c| c.is_ascii_digit() || c == '.') {
                return Err(format!(
                    "`{value}` in `{text}` needs a unit: {stat} is a time, e.g. `10ms` or `250us`"
                ));
            }
            parse_duration(&value)
                .map_err(|e| e.to_string())?
                .as_nanos() as f64
        } else if COUNT_STATS.contains(stat) {
            value
                .replace('_', "")
                .parse::<f64>()
                .map_err(|_| format!("`{value}` in `{text}` is not a number"))?
        } else if SIZE_STATS.contains(stat) {
            crate::core::limits::parse_size(&value).map_err(|e| e.to_string())? as f64
        } else {
            return Err(format!(
                "`{stat}` in `{text}` is not a stat: {}, {} or {}",
                TIME_STATS.join(", "),
                COUNT_STATS.join(", "),
                SIZE_STATS.join(", ")
            ));
        };
        Ok(Rule {
            text: text.trim().to_string(),
            stat: stat.to_string(),
            op: op.to_string(),
            value,
        })
    }
}

impl Rule {
    /// The stat's value in `stats` (ns for times).
    pub fn actual(&self, stats: &Stats) -> f64 {
        match self.stat.as_str() {
            "min" => stats.min as f64,
            "mean" => stats.mean,
            "p50" => stats.p50 as f64,
            "p90" => stats.p90 as f64,
            "p95" => stats.p95 as f64,
            "p99" => stats.p99 as f64,
            "p999" => stats.p999 as f64,
            "max" => stats.max as f64,
            "stdev" => stats.stdev,
            "throughput" => stats.throughput,
            "count" => stats.count as f64,
            "fuel" => stats.fuel.unwrap_or(f64::NAN),
            // No resources known: NaN, which no comparison holds for.
            "rss" => stats.resources.map_or(f64::NAN, |r| r.rss_bytes as f64),
            "rss_per_agent" => stats
                .resources
                .and_then(|r| r.rss_per_agent)
                .map_or(f64::NAN, |b| b as f64),
            _ => stats.errors as f64,
        }
    }

    /// Whether `stats` satisfies the rule.
    pub fn holds(&self, stats: &Stats) -> bool {
        let a = self.actual(stats);
        match self.op.as_str() {
            "<" => a < self.value,
            "<=" => a <= self.value,
            ">" => a > self.value,
            ">=" => a >= self.value,
            _ => a == self.value,
        }
    }

    /// The stat's name (`p99`, `throughput`, ...).
    pub fn stat(&self) -> &str {
        &self.stat
    }
}

/// How a threshold came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every tier holds.
    Pass,
    /// The critical tier holds, a stricter one does not.
    Warn,
    /// The critical tier fails, or the measurement is missing.
    Fail,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Pass => "pass",
            Verdict::Warn => "warn",
            Verdict::Fail => "fail",
        })
    }
}

/// A threshold on one measurement (by name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// The measurement's name.
    pub metric: String,
    /// Our own goal.
    pub target: Option<Rule>,
    /// Good enough.
    pub acceptable: Option<Rule>,
    /// The line that must not be crossed.
    pub critical: Option<Rule>,
}

/// A threshold with its verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    /// The threshold.
    pub threshold: Threshold,
    /// The verdict.
    pub verdict: Verdict,
    /// The measured value of the rule's stat (ns for times), if measured.
    pub actual: Option<f64>,
    /// Why, in words.
    pub detail: String,
}

impl Threshold {
    /// Judges the threshold against the last measurement named `metric`.
    pub fn judge(&self, measurements: &[Stats]) -> ThresholdResult {
        let Some(stats) = measurements.iter().rev().find(|m| m.name == self.metric) else {
            return ThresholdResult {
                threshold: self.clone(),
                verdict: Verdict::Fail,
                actual: None,
                detail: format!("no measurement named `{}`", self.metric),
            };
        };
        let tiers = [
            ("critical", &self.critical, Verdict::Fail),
            ("acceptable", &self.acceptable, Verdict::Warn),
            ("target", &self.target, Verdict::Warn),
        ];
        for (tier, rule, verdict) in tiers {
            let Some(rule) = rule else { continue };
            if !rule.holds(stats) {
                return ThresholdResult {
                    threshold: self.clone(),
                    verdict,
                    actual: Some(rule.actual(stats)),
                    detail: format!("{tier} `{}` does not hold", rule.text),
                };
            }
        }
        // The strictest tier's stat: the one a report shows (and formats)
        // for the threshold.
        let strictest = [&self.target, &self.acceptable, &self.critical]
            .into_iter()
            .flatten()
            .next();
        ThresholdResult {
            threshold: self.clone(),
            verdict: Verdict::Pass,
            actual: strictest.map(|rule| rule.actual(stats)),
            detail: "all tiers hold".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::measure::new_histogram;

    fn stats(name: &str, ns: &[u64]) -> Stats {
        let mut h = new_histogram();
        for &v in ns {
            h.record(v).unwrap();
        }
        Stats::from_histogram(name, &h, 0, Duration::from_secs(1), None)
    }

    fn rule(text: &str) -> Option<Rule> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn rules_parse_with_units_and_reject_nonsense() {
        let r: Rule = "p99 < 10ms".parse().unwrap();
        assert_eq!(r.value, 10e6);
        let r: Rule = "throughput >= 100_000".parse().unwrap();
        assert_eq!(r.value, 100_000.0);
        assert!(
            "p99 < 10"
                .parse::<Rule>()
                .unwrap_err()
                .contains("needs a unit")
        );
        assert!(
            "p98 < 1ms"
                .parse::<Rule>()
                .unwrap_err()
                .contains("not a stat")
        );
        assert!(
            "p99 ~ 1ms"
                .parse::<Rule>()
                .unwrap_err()
                .contains("not a comparison")
        );
        assert!("p99".parse::<Rule>().unwrap_err().contains("not a rule"));
    }

    #[test]
    fn memory_rules_read_the_resources() {
        let r: Rule = "rss_per_agent < 64KiB".parse().unwrap();
        assert_eq!(r.value, 65536.0);
        let mut s = stats("idle", &[1_000]);
        // Unknown resources never pass.
        assert!(!r.holds(&s));
        s.resources = Some(crate::measure::Resources {
            rss_bytes: 100 << 20,
            agents: 2000,
            rss_per_agent: Some(50 << 10),
            cpu_s: 0.0,
        });
        assert!(r.holds(&s));
        assert!(!"rss < 10MiB".parse::<Rule>().unwrap().holds(&s));
    }

    #[test]
    fn tiers_give_pass_warn_and_fail() {
        let m = [stats("rt", &[5_000; 100])]; // p99 = 5 us
        let t = |target, acceptable, critical| Threshold {
            metric: "rt".into(),
            target: rule(target),
            acceptable: rule(acceptable),
            critical: rule(critical),
        };
        let pass = t("p99 < 10us", "p99 < 1ms", "p99 < 10ms").judge(&m);
        assert_eq!(pass.verdict, Verdict::Pass);
        let warn = t("p99 < 1us", "p99 < 1ms", "p99 < 10ms").judge(&m);
        assert_eq!(warn.verdict, Verdict::Warn);
        assert!(warn.detail.contains("target"));
        let fail = t("p99 < 1us", "p99 < 2us", "p99 < 3us").judge(&m);
        assert_eq!(fail.verdict, Verdict::Fail);
        assert!(fail.detail.contains("critical"));
        let missing = Threshold {
            metric: "nope".into(),
            ..t("p99 < 1s", "p99 < 1s", "p99 < 1s")
        }
        .judge(&m);
        assert_eq!(missing.verdict, Verdict::Fail);
    }

    /// A report shows one value per threshold, in the unit of its strictest
    /// tier's stat: when every tier holds, that tier's value, not the
    /// first checked (a storm's `errors == 0` showed as "0/s").
    #[test]
    fn a_passing_threshold_shows_its_strictest_tiers_value() {
        let mut m = stats("storm", &[5_000; 100]);
        m.throughput = 150_000.0;
        let t = Threshold {
            metric: "storm".into(),
            target: rule("throughput > 100000"),
            acceptable: None,
            critical: rule("errors == 0"),
        };
        let result = t.judge(&[m]);
        assert_eq!(result.verdict, Verdict::Pass);
        assert_eq!(result.actual, Some(150_000.0));
    }
}

//! A load run split between nodes (`load(#{ on: [nodes...] })`): each node
//! runs the native generator next to its own agents on its share of the
//! rate or concurrency (k6's execution segments: contiguous shares that
//! add up to the whole), and sends back its histogram, which the caller
//! merges losslessly (HdrHistograms add bucket by bucket). A node runs its
//! share with `Node::run_share` (this layer knows nothing of nodes).

use std::time::Duration;

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

use super::{LoadOptions, LoadReport};
use crate::measure::Stats;

/// One node's share of a run, as it travels to the node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Share {
    /// Agents of the caller's tenant on that node, by name.
    pub targets: Vec<String>,
    /// The load options (as `load(#{...})` takes them, without `targets`
    /// and `on`), with this node's part of `rate`, `concurrency` or
    /// `messages`.
    pub options: serde_json::Value,
}

/// What a node measured of its share.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShareResult {
    /// The node's name.
    pub node: String,
    /// Its statistics (throughput: messages per second).
    pub latency: Stats,
    /// Its latency histogram, HdrHistogram V2 deflated, base64.
    pub histogram: String,
    /// Messages answered.
    pub messages: u64,
    /// Operations started.
    pub sent: u64,
    /// Operations failed.
    pub errors: u64,
    /// Operations unanswered at the end.
    pub lost: u64,
    /// Operations not started (too many in flight).
    pub dropped: u64,
    /// Operations sent late.
    pub late: u64,
    /// Messages answered per second.
    pub throughput: f64,
}

/// Splits `total` into `n` contiguous shares that add up to it; the first
/// shares take the remainder.
pub fn split(total: u64, n: usize) -> Vec<u64> {
    let n = n.max(1) as u64;
    (0..n)
        .map(|i| total / n + u64::from(i < total % n))
        .collect()
}

/// The share of node `i` of `n`: `options` with its part of the rate,
/// concurrency or operation count. Errors when a share would be empty.
pub fn share_options(
    options: &serde_json::Value,
    resolved: &LoadOptions,
    i: usize,
    n: usize,
) -> Result<serde_json::Value, String> {
    let mut out = options.clone();
    let map = out.as_object_mut().ok_or("load options must be a map")?;
    match resolved.model {
        super::Model::Open { rate, .. } => {
            map.insert("rate".into(), (rate / n as f64).into());
        }
        super::Model::Closed { concurrency } => {
            let part = split(concurrency as u64, n)[i];
            if part == 0 {
                return Err(format!(
                    "concurrency {concurrency} is less than one per node ({n} nodes)"
                ));
            }
            map.insert("concurrency".into(), part.into());
        }
    }
    if let super::Until::Operations(ops) = resolved.until {
        let part = split(ops, n)[i];
        if part == 0 {
            return Err(format!(
                "messages {ops} is less than one per node ({n} nodes)"
            ));
        }
        map.insert("messages".into(), part.into());
    }
    Ok(out)
}

/// How long a caller should wait for a node's share.
pub fn expected(options: &LoadOptions) -> Duration {
    let run = match options.until {
        super::Until::Elapsed(d) => d,
        super::Until::Operations(_) => Duration::from_secs(600),
    };
    run + options.warmup + options.drain + Duration::from_secs(30)
}

impl ShareResult {
    /// A node's result from its run.
    pub fn of(node: String, report: &LoadReport) -> Result<ShareResult, String> {
        let mut bytes = Vec::new();
        V2DeflateSerializer::new()
            .serialize(&report.histogram, &mut bytes)
            .map_err(|e| format!("encoding the histogram: {e:?}"))?;
        let mut latency = report.latency.clone();
        latency.throughput = report.throughput;
        Ok(ShareResult {
            node,
            latency,
            histogram: base64::engine::general_purpose::STANDARD.encode(bytes),
            messages: report.messages,
            sent: report.sent,
            errors: report.errors,
            lost: report.lost,
            dropped: report.dropped,
            late: report.late,
            throughput: report.throughput,
        })
    }

    /// Its histogram.
    pub fn histogram(&self) -> Result<Histogram<u64>, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&self.histogram)
            .map_err(|e| format!("{}'s histogram: {e}", self.node))?;
        Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| format!("{}'s histogram: {e:?}", self.node))
    }
}

/// The whole run from its shares: the histograms added, counts and rates
/// summed, the wall time the longest share's.
pub fn merge(name: &str, parts: &[ShareResult]) -> Result<(Stats, Histogram<u64>, Merged), String> {
    let mut merged: Option<Histogram<u64>> = None;
    for part in parts {
        let h = part.histogram()?;
        // A decoded histogram has a fixed range: merge into one that grows
        // to whatever range the nodes' histograms cover together.
        let m = merged.get_or_insert_with(|| {
            let mut m = Histogram::<u64>::new(h.sigfig()).expect("a decoded histogram's precision");
            m.auto(true);
            m
        });
        m.add(&h)
            .map_err(|e| format!("merging {}'s histogram: {e:?}", part.node))?;
    }
    let hist = merged.ok_or("no node ran a share")?;
    let sum = |f: fn(&ShareResult) -> u64| parts.iter().map(f).sum::<u64>();
    let elapsed = parts
        .iter()
        .map(|p| Duration::from_nanos(p.latency.elapsed_ns))
        .max()
        .unwrap_or_default();
    let first_error = parts.iter().find_map(|p| p.latency.first_error.clone());
    let mut stats = Stats::from_histogram(name, &hist, sum(|p| p.errors), elapsed, first_error);
    let throughput: f64 = parts.iter().map(|p| p.throughput).sum();
    stats.throughput = throughput;
    // How far the nodes' medians disagree, as `noise` does for shards.
    let p50s: Vec<f64> = parts.iter().map(|p| p.latency.p50 as f64).collect();
    stats.noise = crate::measure::stats::spread(&p50s);
    let totals = Merged {
        messages: sum(|p| p.messages),
        sent: sum(|p| p.sent),
        lost: sum(|p| p.lost),
        dropped: sum(|p| p.dropped),
        late: sum(|p| p.late),
        throughput,
    };
    Ok((stats, hist, totals))
}

/// The counts of a merged run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Merged {
    /// Messages answered on all nodes.
    pub messages: u64,
    /// Operations started.
    pub sent: u64,
    /// Unanswered at the end.
    pub lost: u64,
    /// Not started.
    pub dropped: u64,
    /// Sent late.
    pub late: u64,
    /// Messages per second, all nodes together.
    pub throughput: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_to_the_whole() {
        assert_eq!(split(64, 3), [22, 21, 21]);
        assert_eq!(split(2, 3), [1, 1, 0]);
        assert_eq!(split(9, 3).iter().sum::<u64>(), 9);
    }

    #[test]
    fn merging_adds_the_histograms_exactly_and_sums_the_rates() {
        let mut parts = Vec::new();
        let mut whole = Histogram::<u64>::new(3).unwrap();
        for (node, values) in [("a", 1..=100u64), ("b", 50..=400), ("c", 1000..=1010)] {
            let mut h = Histogram::<u64>::new(3).unwrap();
            for v in values {
                h.record(v * 1000).unwrap();
                whole.record(v * 1000).unwrap();
            }
            let report = LoadReport {
                latency: Stats::from_histogram(node, &h, 0, Duration::from_secs(1), None),
                histogram: h.clone(),
                messages: h.len(),
                throughput: h.len() as f64,
                sent: h.len(),
                errors: 0,
                lost: 0,
                dropped: 0,
                late: 0,
                send_lag: None,
                rate: None,
                timeline: Vec::new(),
            };
            parts.push(ShareResult::of(node.into(), &report).unwrap());
        }
        let (stats, merged, totals) = merge("all", &parts).unwrap();
        assert_eq!(merged, whole);
        assert_eq!(stats.count, 100 + 351 + 11);
        assert_eq!(totals.messages, stats.count);
        assert_eq!(stats.throughput, (100 + 351 + 11) as f64);
        assert_eq!(stats.max, whole.max());
        assert_eq!(stats.p99, whole.value_at_quantile(0.99));
    }
}

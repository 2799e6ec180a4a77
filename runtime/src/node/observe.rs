//! What an observer (`caxton-run top`) sees of a node: its agents with
//! their mailboxes, memory and restarts, and the node's totals. Counters
//! are cumulative; the observer turns two observations into rates, so the
//! node keeps no per-observer state.
//!
//! Request latency is timed only once someone has observed the node (a
//! node nobody watches pays one relaxed load per request for it), and then
//! for a sample of requests.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use histogram::{AtomicHistogram, SparseHistogram};
use serde::{Deserialize, Serialize};

use super::cell::{AgentCell, Status};
use super::local::Node;

/// One request in this many is timed once the node is observed.
pub const SAMPLE_EVERY: u32 = 8;

thread_local! {
    static SAMPLED: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Most agent rows one observation carries; `agents_total` says how many
/// matched. (At ~150 bytes a row this keeps an observation near 3 MB, well
/// inside a frame.)
pub const MAX_ROWS: usize = 20_000;

/// Request latencies, ns: buckets within 1/16 (6%) of their value, up to
/// 2^36 ns (~69 s).
pub(crate) fn request_histogram() -> AtomicHistogram {
    AtomicHistogram::new(4, 36).expect("valid histogram parameters")
}

/// One look at a node, or at one tenant's part of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// When it was taken, milliseconds since the Unix epoch.
    pub at_unix_ms: u64,
    /// The tenant it is limited to, if any.
    pub tenant: Option<String>,
    /// Agents that matched (the rows may be fewer, see [`MAX_ROWS`]).
    pub agents_total: usize,
    /// Agents per status (`running`, `stopping`, `stopped`, `failed`).
    pub by_status: BTreeMap<String, u64>,
    /// Messages the matching agents have handled, in total.
    pub handled: u64,
    /// The whole node's figures: only for an operator (a tenant sees no
    /// other tenant's traffic, not even as a total).
    pub node: Option<NodeTotals>,
    /// The agents, in no particular order.
    pub agents: Vec<AgentRow>,
}

/// The whole node, cumulative since it started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeTotals {
    /// Messages handled by agents.
    pub messages_in: u64,
    /// Replies, forwards and sends produced by agents.
    pub messages_out: u64,
    /// Request round trips (in-process and remote) since the node was first
    /// observed, ns. Subtract an earlier observation's for an interval.
    pub requests: SparseHistogram,
    /// The process's CPU time, seconds.
    pub cpu_s: Option<f64>,
    /// The process's resident memory, bytes.
    pub rss_bytes: Option<u64>,
    /// Agent failures per reason.
    pub failures: BTreeMap<String, u64>,
    /// What the QUIC listener has seen (absent for a node without one).
    pub transport: Option<Transport>,
}

/// A listener's counters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transport {
    /// Authenticated connections open now.
    pub connections: u64,
    /// Connections accepted since start.
    pub accepted: u64,
    /// Handshakes refused for a missing or wrong token.
    pub auth_failures: u64,
}

/// One agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentRow {
    /// Its tenant.
    pub tenant: String,
    /// Its name.
    pub name: String,
    /// Its plugin.
    pub plugin: String,
    /// `running`, `stopping`, `stopped` or `failed` (see `failure`).
    pub status: String,
    /// Messages waiting in its mailbox.
    pub queued: usize,
    /// Messages it has handled.
    pub handled: u64,
    /// Linear memory its instance holds, bytes.
    pub memory: u64,
    /// Its memory limit, bytes.
    pub memory_limit: u64,
    /// Times it was restarted.
    pub restarts: u64,
    /// Its most recent failure, if any (also after a restart).
    pub last_failure: Option<String>,
}

impl Observation {
    /// Request latency percentiles (`qs` in 0..=1) over the requests made
    /// since `earlier`, ns; `None` without node totals or requests.
    pub fn request_quantiles_since(
        &self,
        earlier: Option<&Observation>,
        qs: &[f64],
    ) -> Option<Vec<u64>> {
        let now = &self.node.as_ref()?.requests;
        let interval = match earlier.and_then(|e| e.node.as_ref()) {
            Some(before) => now.checked_sub(&before.requests).ok()?,
            None => now.clone(),
        };
        let result = interval.quantiles(qs).ok()??;
        Some(result.entries().values().map(|b| b.end()).collect())
    }
}

fn status_word(status: &Status) -> &'static str {
    match status {
        Status::Running => "running",
        Status::Stopping => "stopping",
        Status::Stopped => "stopped",
        Status::Failed(_) => "failed",
    }
}

impl Node {
    /// What an observer sees: every agent, or those of `tenant`. Node
    /// totals only when `with_totals` (an operator's view). Starts timing
    /// requests, if nobody observed this node before.
    pub fn observe(&self, tenant: Option<&str>, with_totals: bool) -> Observation {
        self.inner.observed.store(true, Relaxed);
        let cells: Vec<std::sync::Arc<AgentCell>> = {
            let registry = self.inner.registry.read().unwrap();
            match tenant {
                Some(t) => registry
                    .get(t)
                    .map(|agents| agents.values().cloned().collect())
                    .unwrap_or_default(),
                None => registry
                    .values()
                    .flat_map(|agents| agents.values().cloned())
                    .collect(),
            }
        };
        let mut by_status = BTreeMap::new();
        let mut handled = 0;
        let mut agents = Vec::with_capacity(cells.len().min(MAX_ROWS));
        for cell in &cells {
            let (status, queued, count, restarts, last_failure) = {
                let life = cell.inner.lock().unwrap();
                (
                    life.status().clone(),
                    life.mailbox().len(),
                    life.handled_count(),
                    life.supervisor().restarts,
                    life.supervisor()
                        .last_failure
                        .as_ref()
                        .map(|(f, _)| f.to_string()),
                )
            };
            let word = status_word(&status);
            *by_status.entry(word.to_string()).or_insert(0) += 1;
            handled += count;
            if agents.len() < MAX_ROWS {
                agents.push(AgentRow {
                    tenant: cell.tenant.to_string(),
                    name: cell.name.to_string(),
                    plugin: cell.plugin.name().to_string(),
                    status: word.to_string(),
                    queued,
                    handled: count,
                    memory: cell.memory.load(Relaxed),
                    memory_limit: cell.limits.memory,
                    restarts,
                    last_failure,
                });
            }
        }
        let node = with_totals.then(|| {
            let (messages_in, messages_out) = self.message_counts();
            NodeTotals {
                messages_in,
                messages_out,
                requests: SparseHistogram::from(&self.inner.requests.load()),
                cpu_s: crate::measure::resources::cpu_seconds(),
                rss_bytes: crate::measure::resources::rss_bytes(),
                failures: self
                    .failure_counts()
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
                transport: None,
            }
        });
        Observation {
            at_unix_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
            tenant: tenant.map(str::to_string),
            agents_total: cells.len(),
            by_status,
            handled,
            node,
            agents,
        }
    }

    /// Whether to time this request round trip: only once someone observed
    /// the node, and then one request in [`SAMPLE_EVERY`] per thread.
    /// Timing every request cost `peak.rhai` about a tenth of its rate
    /// (two clock readings and a shared histogram's cache line per
    /// request); a sample keeps the interval's percentiles (at a million
    /// requests a second, 125,000 samples) for a fraction of that.
    pub(crate) fn timing_requests(&self) -> bool {
        if !self.inner.observed.load(Relaxed) {
            return false;
        }
        SAMPLED.with(|n| {
            let next = n.get().wrapping_add(1);
            n.set(next);
            next % SAMPLE_EVERY == 0
        })
    }

    /// Records a request round trip that began at `started`.
    pub(crate) fn record_request(&self, started: Instant) {
        let ns = started.elapsed().as_nanos().min(u64::MAX as u128) as u64;
        // Past the histogram's range (~69 s) counts as its top bucket.
        let _ = self.inner.requests.increment(ns.min((1 << 36) - 1));
    }
}

//! What a run is asked to do, and what it reports.

use std::time::Duration;

use hdrhistogram::Histogram;

use super::timeline::Window;
use crate::measure::stats::Stats;

/// Which agents each operation goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// Every operation to the first agent.
    Targeted,
    /// Operation `i` to agent `i mod n`.
    RoundRobin,
    /// Every operation to every agent; it completes when all replied.
    Broadcast,
    /// Each worker walks the agents in order from its own starting point
    /// (worker `w`'s `j`-th operation goes to agent `(w + j) mod n`), so
    /// workers move around the ring without piling onto one agent.
    Ring,
}

impl std::str::FromStr for Pattern {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "targeted" => Ok(Pattern::Targeted),
            "round-robin" => Ok(Pattern::RoundRobin),
            "broadcast" => Ok(Pattern::Broadcast),
            "ring" => Ok(Pattern::Ring),
            other => Err(format!(
                "`{other}` is not a pattern: targeted, round-robin, broadcast or ring"
            )),
        }
    }
}

/// How operations are started.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Model {
    /// `concurrency` workers, each waiting for its previous operation.
    Closed {
        /// Operations in flight at once.
        concurrency: usize,
    },
    /// A constant arrival rate.
    Open {
        /// Operations per second.
        rate: f64,
        /// Operations in flight beyond which a scheduled one is dropped.
        max_in_flight: usize,
    },
}

/// A stretch of an open-model run at another rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Burst {
    /// When it starts, from the start of the run.
    pub at: Duration,
    /// How long it lasts.
    pub length: Duration,
    /// Operations per second meanwhile.
    pub rate: f64,
}

/// When a run ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Until {
    /// After this long.
    Elapsed(Duration),
    /// After this many operations were started.
    Operations(u64),
}

/// A load run's settings.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// What the run is called in the report.
    pub name: String,
    /// Which agents each operation goes to.
    pub pattern: Pattern,
    /// Closed or open.
    pub model: Model,
    /// When to stop starting operations.
    pub until: Until,
    /// Payload bytes per message (`x` repeated), unless `payload` is set.
    pub size: usize,
    /// The exact payload of every message (e.g. a relay's `hops=N;`).
    pub payload: Option<Vec<u8>>,
    /// A run of the same load before, whose results are discarded.
    pub warmup: Duration,
    /// How long to wait for operations in flight when the run ends; those
    /// still unanswered then are counted as lost.
    pub drain: Duration,
    /// An open-model send this far behind its schedule counts as late.
    pub late_after: Duration,
    /// Open model only: a stretch at another rate.
    pub burst: Option<Burst>,
    /// Open model only: the scheduler sleeps at least this long between
    /// wake-ups, and the sends that fell due meanwhile go out together.
    /// Their wait counts in their latency (timed from the schedule, as
    /// always), so this changes the arrival pattern (batches every `tick`
    /// instead of one send at a time), not what is timed. Where each
    /// wake-up is costly (a small VM) fewer, larger batches cost the
    /// generator and the target less CPU per request.
    pub tick: Duration,
    /// Split the run into windows of this length (needs `Until::Elapsed`).
    pub window: Option<Duration>,
}

/// Most windows a timeline may have.
pub const MAX_WINDOWS: u64 = 2000;

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            name: "load".into(),
            pattern: Pattern::RoundRobin,
            model: Model::Closed { concurrency: 64 },
            until: Until::Elapsed(Duration::from_secs(2)),
            size: 256,
            payload: None,
            warmup: Duration::ZERO,
            drain: Duration::from_secs(10),
            late_after: Duration::from_millis(1),
            burst: None,
            tick: Duration::ZERO,
            window: None,
        }
    }
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Latency per successful operation (from its scheduled time in the
    /// open model); `count` is operations, `throughput` operations/s.
    pub latency: Stats,
    /// The latencies, for plots and baselines.
    pub histogram: Histogram<u64>,
    /// Messages answered (an operation of a broadcast is one per agent).
    pub messages: u64,
    /// Messages answered per second of the run.
    pub throughput: f64,
    /// Operations started.
    pub sent: u64,
    /// Operations that failed.
    pub errors: u64,
    /// Operations still unanswered when the drain time ran out.
    pub lost: u64,
    /// Scheduled operations not started because too many were in flight.
    pub dropped: u64,
    /// Operations started later than `late_after` behind schedule.
    pub late: u64,
    /// Open model: how far behind its schedule each operation was sent.
    /// This is the generator's own share of every latency (the OS wakes
    /// its sleeping thread late, and sends that fell due meanwhile go out
    /// together), so a reader can tell it from the target's share. `None`
    /// in the closed model, which has no schedule.
    pub send_lag: Option<Histogram<u64>>,
    /// The open model's target rate, if any.
    pub rate: Option<f64>,
    /// The run window by window, if windows were asked for.
    pub timeline: Vec<Window>,
}

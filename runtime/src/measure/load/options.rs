//! What a run is asked to do, and what it reports.

use std::time::Duration;

use hdrhistogram::Histogram;

use serde::Deserialize;

use super::timeline::Window;
use crate::core::options::{ByteSize, OptionsError, PerSecond, Span};
use crate::measure::stats::Stats;

/// Which agents each operation goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
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
    /// Where a live view reads the run's figures as it goes (`None`: no
    /// live view, nothing recorded twice).
    pub live: Option<std::sync::Arc<crate::measure::live::Live>>,
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
            live: None,
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

/// Load options as a user writes them (a script's `load(#{...})` without
/// its `targets`): every field optional, unknown keys refused. They
/// resolve to [`LoadOptions`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadSpec {
    /// The run's name in the report.
    #[serde(default)]
    pub name: Option<String>,
    /// Which agents each operation goes to.
    #[serde(default)]
    pub pattern: Option<Pattern>,
    /// Payload bytes per message.
    #[serde(default)]
    pub size: Option<ByteSize>,
    /// The exact payload: a string or a blob.
    #[serde(default)]
    pub payload: Option<Payload>,
    /// Closed model: operations in flight.
    #[serde(default)]
    pub concurrency: Option<u64>,
    /// Open model: operations per second.
    #[serde(default)]
    pub rate: Option<PerSecond>,
    /// Run for this long...
    #[serde(default)]
    pub duration: Option<Span>,
    /// ...or for this many operations.
    #[serde(default)]
    pub messages: Option<u64>,
    /// A discarded run first.
    #[serde(default)]
    pub warmup: Option<Span>,
    /// How long to wait for operations in flight at the end.
    #[serde(default)]
    pub drain: Option<Span>,
    /// Open model: in flight beyond this, a scheduled operation is dropped.
    #[serde(default)]
    pub max_in_flight: Option<u64>,
    /// Open model: a stretch at another rate.
    #[serde(default)]
    pub burst: Option<BurstSpec>,
    /// Open model: the scheduler's shortest sleep.
    #[serde(default)]
    pub tick: Option<Span>,
    /// Windows of the timeline.
    #[serde(default)]
    pub window: Option<Span>,
}

/// `burst: #{ at: "2s", length: "500ms", rate: 50000 }`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BurstSpec {
    /// When it starts.
    pub at: Span,
    /// How long it lasts.
    pub length: Span,
    /// Operations per second meanwhile.
    pub rate: PerSecond,
}

/// A payload: a string's UTF-8 bytes, or a list of bytes (a script's blob).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload(pub Vec<u8>);

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Text(String),
            Bytes(Vec<u8>),
        }
        match Either::deserialize(d) {
            Ok(Either::Text(s)) => Ok(Payload(s.into_bytes())),
            Ok(Either::Bytes(b)) => Ok(Payload(b)),
            Err(_) => Err(serde::de::Error::custom("expected a string or a blob")),
        }
    }
}

impl LoadSpec {
    /// Reads load options from any source (see [`crate::core::options`]).
    pub fn parse(value: serde_json::Value) -> Result<LoadSpec, OptionsError> {
        crate::core::options::parse("load", value)
    }
}

impl TryFrom<LoadSpec> for LoadOptions {
    type Error = OptionsError;

    /// Resolves the options against the defaults; an open-model option
    /// without `rate`, or both models at once, is an error.
    fn try_from(spec: LoadSpec) -> Result<LoadOptions, OptionsError> {
        let conflict = |message: &str| OptionsError {
            what: "load",
            key: None,
            message: message.to_string(),
        };
        let mut o = LoadOptions::default();
        let rate = spec.rate.map(|r| r.0);
        if spec.tick.is_some() && rate.is_none() {
            return Err(conflict(
                "`tick` batches an open model's sends: give `rate` too",
            ));
        }
        if spec.burst.is_some() && rate.is_none() {
            return Err(conflict(
                "`burst` changes an open model's rate: give `rate` too",
            ));
        }
        o.model = match (spec.concurrency, rate) {
            (Some(_), Some(_)) => {
                return Err(conflict(
                    "give either `concurrency` (closed loop) or `rate` (open model), not both",
                ));
            }
            (None, Some(rate)) => Model::Open {
                rate,
                max_in_flight: spec.max_in_flight.unwrap_or(100_000) as usize,
            },
            (Some(concurrency), None) => Model::Closed {
                concurrency: concurrency as usize,
            },
            (None, None) => o.model,
        };
        o.until = match (spec.duration, spec.messages) {
            (Some(_), Some(_)) => {
                return Err(conflict(
                    "give either `duration` or `messages` to end the run, not both",
                ));
            }
            (Some(d), None) => Until::Elapsed(d.0),
            (None, Some(n)) => Until::Operations(n),
            (None, None) => o.until,
        };
        o.name = spec.name.unwrap_or(o.name);
        o.pattern = spec.pattern.unwrap_or(o.pattern);
        o.size = spec.size.map_or(o.size, |b| b.0 as usize);
        o.payload = spec.payload.map(|p| p.0);
        o.warmup = spec.warmup.map_or(o.warmup, |s| s.0);
        o.drain = spec.drain.map_or(o.drain, |s| s.0);
        o.tick = spec.tick.map_or(o.tick, |s| s.0);
        o.window = spec.window.map(|s| s.0);
        o.burst = spec.burst.map(|b| Burst {
            at: b.at.0,
            length: b.length.0,
            rate: b.rate.0,
        });
        Ok(o)
    }
}

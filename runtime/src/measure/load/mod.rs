//! The native load generator behind `load()`: the hot loop runs in Rust,
//! driven by completions, never by a script.
//!
//! Two models:
//! - **closed** (`concurrency`): that many workers, each sending its next
//!   operation when the previous one completes. Measures capacity; hides
//!   stalls (a stalled target also stops the senders).
//! - **open** (`rate`): operations are scheduled at a constant arrival rate,
//!   whatever the target does, and each latency is measured from the
//!   operation's *scheduled* time, not from when it was actually sent. A
//!   stall therefore shows in the percentiles (no coordinated omission).
//!   Sends more than `late_after` behind schedule are counted as late; a
//!   send that would exceed `max_in_flight` is not made and is counted as
//!   dropped.
//!
//! The generator knows nothing of nodes or sockets: it drives a [`Target`],
//! which the node (in-process) and the QUIC client (remote) implement.
//!
//! - `options`: what a run is asked to do ([`LoadOptions`]) and what it
//!   reports ([`LoadReport`]);
//! - `run`: one run's shared state, how an operation starts and is timed,
//!   and the run from start to report;
//! - `closed` and `open`: the two models;
//! - `timeline`: the run window by window;
//! - [`distributed`]: a run split between nodes, merged losslessly.

mod closed;
pub mod distributed;
mod open;
mod options;
mod run;
mod timeline;

use std::sync::Arc;
use std::time::Duration;

pub use options::{
    Burst, BurstSpec, LoadOptions, LoadReport, LoadSpec, MAX_WINDOWS, Model, Pattern, Payload,
    Until,
};

/// Why a load run could not be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LoadError {
    /// No agents to send to.
    #[error("load: no targets")]
    NoTargets,
    /// The open model's rate (or its burst's) is not a positive number.
    #[error("load: {what} must be a positive number, got {rate}")]
    Rate {
        /// "rate" or "burst rate".
        what: &'static str,
        /// What was given.
        rate: f64,
    },
    /// `window` is zero.
    #[error("load: `window` must be longer than zero")]
    ZeroWindow,
    /// `window` with a run bounded by a count, not a duration.
    #[error("load: `window` needs a `duration` (not `messages`)")]
    WindowNeedsDuration,
    /// More windows than a timeline may have.
    #[error(
        "load: {windows} windows of {window:?} in {duration:?} is more than {MAX_WINDOWS}; use longer windows"
    )]
    TooManyWindows {
        /// How many the options make.
        windows: u64,
        /// Their length.
        window: Duration,
        /// The run's length.
        duration: Duration,
    },
    /// The shards' histograms could not be merged (a value out of range).
    #[error("load: merging histograms: {0}")]
    Merge(String),
}
pub use timeline::Window;

/// Called once when an operation completes: `Ok` for a reply, `Err` with
/// the reason otherwise.
pub type Done = Box<dyn FnOnce(Result<(), String>) + Send>;

/// Something load can be sent to: a set of agents, by index.
pub trait Target: Send + Sync {
    /// How many agents there are.
    fn len(&self) -> usize;
    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Sends a request with `payload` to agent `index`; `done` is called
    /// exactly once, on any thread, when it completes.
    fn call(&self, index: usize, payload: Vec<u8>, done: Done);
}

/// Runs load against `target` on the calling thread (which schedules the
/// open model and waits for the end), after an optional warmup.
pub fn run_load(target: Arc<dyn Target>, options: &LoadOptions) -> Result<LoadReport, LoadError> {
    run_load_observed(target, options, || {})
}

/// [`run_load`], calling `measured` once the warmup is over, right before
/// the run that is reported (e.g. to read a counter the run should be
/// charged with from there).
pub fn run_load_observed(
    target: Arc<dyn Target>,
    options: &LoadOptions,
    measured: impl FnOnce(),
) -> Result<LoadReport, LoadError> {
    if target.is_empty() {
        return Err(LoadError::NoTargets);
    }
    if !options.warmup.is_zero() {
        let mut warm = options.clone();
        warm.warmup = Duration::ZERO;
        warm.until = Until::Elapsed(options.warmup);
        run::run_once(target.clone(), &warm)?;
    }
    measured();
    run::run_once(target, options)
}

#[cfg(test)]
mod tests;

//! Why an agent failed: a typed reason, never a host crash.

use std::time::Duration;

use super::budget::OverBudget;

/// The reason an agent instance stopped serving.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The guest trapped (e.g. `unreachable`, out-of-bounds, a Rust panic).
    #[error("trapped: {trap}{}", detail.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Trap {
        /// The trap as wasmtime names it.
        trap: String,
        /// What the guest printed last to stderr (a panic message), if anything.
        detail: Option<String>,
    },
    /// The guest tried to grow its memory beyond its limit.
    #[error(
        "memory limit exceeded: tried to grow to {requested} bytes, limit is {limit} bytes (the spawn option `memory`)"
    )]
    MemoryLimit {
        /// Bytes the guest asked for.
        requested: u64,
        /// The agent's limit.
        limit: u64,
    },
    /// A call (`init`, `handle` or a whole `handle-batch`) ran longer than
    /// the agent's deadline in wall-clock time, host calls and waits
    /// included.
    #[error("deadline exceeded: a call ran longer than {limit:?}")]
    Deadline {
        /// The deadline of one call.
        limit: Duration,
    },
    /// A call would have made the host hold more for the agent than its
    /// budget allows (see [`crate::core::budget`]).
    #[error("host budget exceeded: {0}")]
    Budget(OverBudget),
    /// The guest ran out of fuel for one message.
    #[error("fuel exhausted: a message used more than {limit} fuel")]
    Fuel {
        /// The per-message fuel.
        limit: u64,
    },
    /// The guest recursed past its stack limit.
    #[error("stack overflow")]
    StackOverflow,
    /// `init` returned an error.
    #[error("init failed: {0}")]
    Init(String),
    /// The agent was killed by its owner.
    #[error("killed")]
    Killed,
    /// The supervisor stopped restarting the agent.
    #[error("gave up after {restarts} restarts within {window:?}; last failure: {last}")]
    GaveUp {
        /// Restarts counted in the window.
        restarts: u32,
        /// The policy's window.
        window: Duration,
        /// The failure that used up the budget.
        last: Box<Failure>,
    },
    /// The node could not run the agent (e.g. the instance pool is exhausted).
    #[error("host error: {0}")]
    Host(String),
}

impl Failure {
    /// A short stable label for metrics and reports.
    pub fn label(&self) -> &'static str {
        match self {
            Failure::Trap { .. } => "trap",
            Failure::MemoryLimit { .. } => "memory",
            Failure::Deadline { .. } => "deadline",
            Failure::Budget(_) => "budget",
            Failure::Fuel { .. } => "fuel",
            Failure::StackOverflow => "stack-overflow",
            Failure::Init(_) => "init",
            Failure::Killed => "killed",
            Failure::GaveUp { .. } => "gave-up",
            Failure::Host(_) => "host",
        }
    }
}

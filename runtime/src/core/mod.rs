//! The sans-IO core: plain data and rules with no tokio, wasmtime or rhai in
//! them, so they can be tested deterministically.
//!
//! - [`limits`]: parsing human sizes and durations, the per-agent limits.
//! - [`name`]: agent and tenant names and how they are checked.
//! - [`address`]: where an agent sends, parsed once; [`address::Reach`]
//!   decides at the call whether it may.
//! - [`budget`]: what the host holds for one agent, charged before it is
//!   allocated.
//! - [`envelope`]: a message as the node moves it, and what a handler did.
//! - [`mailbox`]: a bounded queue that hands back what does not fit.
//! - [`failure`]: why an agent stopped, as a typed reason.
//! - [`frame`]: the length-prefixed wire format and its decoder.
//! - [`options`]: options as users write them (sizes, durations, rates),
//!   read from scripts, TOML and the wire by one typed parser.
//! - [`spawn`]: spawn options (scripts and clients).
//! - [`supervision`]: restart policy, backoff and the restart budget.
//! - [`lifecycle`]: an agent's life as a state machine (mailbox, drain
//!   ownership, failures, retries, dead letters, stop, kill), checked by a
//!   seeded simulation.

pub mod address;
pub mod budget;
pub mod envelope;
pub mod failure;
pub mod frame;
pub mod lifecycle;
pub mod limits;
pub mod mailbox;
pub mod name;
pub mod options;
pub mod spawn;
pub mod supervision;
pub mod tenant;

//! Caxton: a sandboxed host that runs agents as WebAssembly components with
//! hard per-agent limits, and measures them.
//!
//! Layers, each using only the ones before it (docs/architecture.md has
//! the table, and a request's path through them):
//!
//! - [`core`]: sans-IO data and rules (limits, names, addresses, envelopes,
//!   mailboxes, host budgets, failure reasons, quotas, the frame codec). No
//!   tokio, wasmtime, quinn or rhai; it never reads a clock.
//! - `preempt`: giving a core back to the OS where Caxton's threads run
//!   long between system calls.
//! - [`host`]: wasmtime: the engine, compiled-component cache, plugins
//!   checked against `wit/`, one agent instance and the host functions it
//!   imports. Knows nothing of routing.
//! - [`measure`]: HdrHistogram statistics, A/B comparisons, the load
//!   generator (which drives a `Target`, knowing nothing of nodes).
//! - [`persist`]: SQLite storage of agent specs and state (durable nodes).
//! - [`node`]: the async shell: registry, mailboxes, drains, routing,
//!   requests. [`node::Node`] is the entry point of the library. A peer
//!   node is a [`node::PeerLink`]: `node` never imports `net`.
//! - [`net`]: QUIC transport: pinned TLS, tenant tokens, frames <-> node;
//!   its client is a `PeerLink` and a load `Target`.
//! - [`sandbox`]: the hostile corpus, run against a node to show each case
//!   is contained.
//! - [`script`]: the sandboxed Rhai engine and the API scripts use.
//! - [`report`]: terminal tables, JSON, Markdown, plots, baselines.
//!
//! The `caxton-run` binary wires these together and is the only place that
//! reads the environment or chooses directories.

pub mod core;
pub mod host;
pub mod measure;
pub mod net;
pub mod node;
pub mod persist;
pub(crate) mod preempt;
pub mod report;
pub mod sandbox;
pub mod script;

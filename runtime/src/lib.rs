//! Caxton: a sandboxed host that runs agents as WebAssembly components with
//! hard per-agent limits, and measures them.
//!
//! Layers, each depending only on the ones before it:
//!
//! - [`core`]: sans-IO data and rules (limits, names, envelopes, mailboxes,
//!   failure reasons). No tokio, wasmtime or rhai.
//! - [`host`]: wasmtime: the engine, compiled-component cache, plugins
//!   checked against `wit/`, one agent instance and the host functions it
//!   imports. Knows nothing of routing.
//! - [`node`]: the async shell: registry, mailboxes, drains, routing,
//!   requests. [`node::Node`] is the entry point of the library.
//! - [`net`]: QUIC transport: pinned TLS, tenant tokens, frames <-> node.
//! - [`persist`]: SQLite storage of agent specs and state (durable nodes).
//! - [`measure`]: HdrHistogram recorders and the statistics they report.
//! - [`script`]: the sandboxed Rhai engine and the API scripts use.
//! - [`report`]: terminal tables and JSON reports.
//! - [`sandbox`]: the hostile corpus, run against a node to show each case
//!   is contained.
//! - `preempt`: giving a core back to the OS where Caxton's threads run long
//!   between system calls (used by `host`, `node` and `net` alike).
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

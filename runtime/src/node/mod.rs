//! The async shell around agents: the registry, mailboxes, routing, and the
//! drain loop that feeds messages to instances on the tokio runtime.
//!
//! - [`Node`]: spawn, send, request, stop, kill; the entry point.
//! - [`NodeApi`]: those operations as one trait, which a remote node's
//!   client implements too; [`Targets`]: any node's agents under load.
//! - [`AgentHandle`]: one agent as seen by its owner.
//! - `local`: the [`Node`] type; its operations by concern in `spawn`,
//!   `request`, `registry` and `stats`.
//! - `cell`: an agent's mailbox and run state (an idle agent holds no task);
//!   `drain`: feeding the instance and supervising it (restarts, retries,
//!   dead letters); `route`: how effects of a handler become deliveries;
//!   `observe`: what an observer sees ([`Observation`]);
//!   `share`: a node's share of a load split between nodes;
//!   `uploads`: components tenants upload ([`UploadPolicy`]);
//!   `peer`: what the node needs of a link to another node ([`PeerLink`],
//!   which the QUIC client implements: this layer never imports `net`).

mod api;
mod background;
mod cell;
mod dead_letter;
mod direct;
mod drain;
mod durable;
mod error;
mod handle;
mod local;
mod observe;
mod peer;
mod registry;
mod request;
mod route;
mod share;
mod spawn;
mod stats;
mod uploads;

pub use crate::core::spawn::SpawnOptions;
pub use api::{NodeApi, NodeError, PluginRef, Targets};
pub use cell::Status;
pub use dead_letter::DeadLetter;
pub use durable::RestoreReport;
pub use error::{RequestError, SendError, SpawnError, TenantError};
pub use handle::AgentHandle;
pub use local::Node;
pub(crate) use local::run_here;
pub use observe::{AgentRow, MAX_ROWS, NodeTotals, Observation, SAMPLE_EVERY, Transport};
pub use peer::{LinkError, LinkReply, PeerLink};
pub use uploads::{UploadError, UploadPolicy, Uploaded};

/// The tenant of agents spawned without one.
pub const DEFAULT_TENANT: &str = "default";

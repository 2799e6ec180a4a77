//! The wasmtime layer: everything that touches a component.
//!
//! - [`engine`]: the one [`wasmtime::Engine`] of a node (pooling allocator,
//!   epoch interruption, async support); [`ticker`]: its epoch ticker,
//!   which runs only while guest code does.
//! - [`cache`]: compiled components kept on disk, so a second start skips
//!   compilation; [`compiler`]: compiling untrusted bytes with a budget.
//! - [`files`]: the host's files as the embedding program lends them
//!   (component files, data dirs); the library opens none by itself.
//! - [`plugin`]: a loaded component checked against the `caxton:agent` world,
//!   with its `InstancePre`; [`builtin`] lists the embedded ones.
//! - [`ctx`] and [`imports`]: the per-agent store data and the host
//!   functions agents import; [`wasi`] the deny-by-default WASI context.
//! - [`instance`]: one live agent instance: instantiate, init, handle;
//!   [`batch`] the messages of one call as the guest receives them.
//! - [`raw`]: the same component in plain wasmtime, the baseline Caxton's
//!   spawns and calls are measured against.
//!
//! This layer knows nothing of mailboxes or routing: a handler's sends and
//! replies come back as [`crate::core::envelope::Effects`] for the node.

mod batch;
pub mod bindings;
pub mod builtin;
pub mod cache;
pub mod compiler;
pub mod ctx;
pub mod engine;
pub mod files;
mod imports;
pub mod instance;
pub mod plugin;
pub mod raw;
pub mod ticker;
mod wasi;

pub use engine::{CaxtonEngine, EngineOptions, MemoryLayout};
pub use files::{AmbientFiles, HostFiles, NoFiles};
pub use instance::{AgentInstance, InstanceSpec};
pub use plugin::{Interface, Plugin, PluginError};

/// The `caxton:agent` world every agent implements (`wit/agent.wit`), as
/// `caxton-run wit` prints it and `caxton-run new` writes it into projects.
pub const WIT: &str = include_str!("../../../wit/agent.wit");

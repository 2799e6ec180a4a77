//! The Rhai engine that runs `caxton-run` scripts, its limits, and the API
//! scripts see (documented in `docs/scripting.md`).
//!
//! - [`limits`]: the sandbox: operations, call depth, sizes, wall clock.
//! - [`error`]: [`ScriptError`], which points at `file:line:col` with a caret.
//! - `api`: the registered functions (`plugin`, `spawn`, `request`,
//!   `measure`, ...).
//! - [`context`]: what the API works on ([`ScriptContext`]: the node, the
//!   report, what the script started).
//! - [`runner`]: compile and run a script against a node.
//!
//! Hot loops run in Rust (`measure` times a closure, but the iteration loop
//! is native); a Rhai loop iteration costs ~100 ns.

mod api;
pub mod context;
pub mod error;
pub mod limits;
pub mod runner;

pub use context::{Progress, ScriptContext};
pub use error::ScriptError;
pub use limits::ScriptLimits;
pub use runner::Runner;

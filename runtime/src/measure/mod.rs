//! Recording latencies and turning them into statistics.
//!
//! - [`stats`]: [`Stats`], the summary every measurement reports, built from
//!   an HdrHistogram (3 significant digits, 1 ns to 1 hour).
//! - [`sampler`]: timing a closure for a number of iterations or a duration.
//! - [`compare`]: A against B in alternating rounds.
//! - [`storm`]: many short timed cycles (spawn, request, kill) on every core.
//! - [`load`]: the native load generator (closed and open models).
//! - [`resources`]: the process's resident memory and CPU time.
//! - [`machine`]: the machine's own pauses and wake-up costs, so a tail can
//!   be told apart from what it measures.

pub mod compare;
pub mod live;
pub mod load;
pub mod machine;
pub mod resources;
pub mod sampler;
pub mod stats;
pub mod storm;

pub use sampler::{Sampler, SamplerOptions, SamplerSpec};
pub use stats::{Resources, SendLag, Stats, new_histogram, spread};

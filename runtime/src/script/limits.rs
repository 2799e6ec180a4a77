//! The script sandbox: every script runs under these limits, so an infinite
//! loop, runaway recursion or a giant string stops with an error that names
//! the limit instead of hanging or exhausting the host.

use std::time::{Duration, Instant};

use rhai::{Dynamic, Engine};

/// Limits of one script run.
#[derive(Debug, Clone)]
pub struct ScriptLimits {
    /// Rhai operations (roughly, evaluated expressions) before the script is stopped.
    pub max_operations: u64,
    /// Nested function calls.
    pub max_call_depth: usize,
    /// Longest string, in bytes.
    pub max_string: usize,
    /// Longest array or blob.
    pub max_array: usize,
    /// Largest object map.
    pub max_map: usize,
    /// Wall-clock time for the whole script.
    pub wall_clock: Duration,
}

impl Default for ScriptLimits {
    fn default() -> Self {
        ScriptLimits {
            max_operations: 500_000_000,
            max_call_depth: 64,
            max_string: 16 << 20,
            max_array: 1 << 20,
            max_map: 1 << 16,
            wall_clock: Duration::from_secs(30 * 60),
        }
    }
}

/// The marker value `on_progress` terminates with when the wall clock runs out.
pub(crate) const WALL_CLOCK_TOKEN: &str = "caxton:wall-clock";

impl ScriptLimits {
    /// Applies the limits to `engine`. The wall clock starts now; it is
    /// checked between Rhai operations (a blocking host call has its own
    /// timeout).
    pub fn apply(&self, engine: &mut Engine) {
        engine
            .set_max_operations(self.max_operations)
            .set_max_call_levels(self.max_call_depth)
            .set_max_expr_depths(128, 64)
            .set_max_string_size(self.max_string)
            .set_max_array_size(self.max_array)
            .set_max_map_size(self.max_map);
        let start = Instant::now();
        let wall = self.wall_clock;
        engine.on_progress(move |ops| {
            if ops % 16 == 0 && start.elapsed() > wall {
                Some(Dynamic::from(WALL_CLOCK_TOKEN))
            } else {
                None
            }
        });
    }
}

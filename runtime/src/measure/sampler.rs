//! Timing a piece of work repeatedly.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::stats::{Stats, new_histogram, spread};

/// Consecutive groups a run is split into to see its noise.
const GROUPS: usize = 5;

/// How long to sample.
#[derive(Debug, Clone)]
pub struct SamplerOptions {
    /// Untimed runs first (JIT caches, allocator, branch predictors).
    pub warmup: u64,
    /// Timed runs (ignored when `duration` is set).
    pub iterations: u64,
    /// Sample for this long instead of a fixed count.
    pub duration: Option<Duration>,
}

impl Default for SamplerOptions {
    fn default() -> Self {
        SamplerOptions {
            warmup: 100,
            iterations: 1000,
            duration: None,
        }
    }
}

/// `measure` and `compare` options as a user writes them: every field
/// optional, unknown keys refused. The warmup defaults to a tenth of the
/// iterations (at most 10,000).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplerSpec {
    /// Untimed runs first.
    #[serde(default)]
    pub warmup: Option<u64>,
    /// Timed runs.
    #[serde(default)]
    pub iterations: Option<u64>,
    /// Sample for this long instead (`measure` only).
    #[serde(default)]
    pub duration: Option<crate::core::options::Span>,
    /// Rounds of A and B (`compare` only).
    #[serde(default)]
    pub rounds: Option<u32>,
}

impl From<&SamplerSpec> for SamplerOptions {
    fn from(spec: &SamplerSpec) -> SamplerOptions {
        let iterations = spec
            .iterations
            .unwrap_or(SamplerOptions::default().iterations);
        SamplerOptions {
            iterations,
            warmup: spec.warmup.unwrap_or((iterations / 10).min(10_000)),
            duration: spec.duration.map(|d| d.0),
        }
    }
}

/// Times a closure: one histogram sample per call. A failing call is
/// counted as an error and left out of the latencies.
#[derive(Debug)]
pub struct Sampler {
    options: SamplerOptions,
    live: Option<std::sync::Arc<super::live::Live>>,
}

impl Sampler {
    /// A sampler with these options.
    pub fn new(options: SamplerOptions) -> Self {
        Sampler {
            options,
            live: None,
        }
    }

    /// Also records every timed sample into `live` (for a live view).
    pub fn with_live(mut self, live: Option<std::sync::Arc<super::live::Live>>) -> Self {
        self.live = live;
        self
    }

    /// Runs warm-up and timed calls of `work`; `progress` is told the
    /// fraction done now and then (for a progress bar). Returns the stats
    /// (with their noise: how far the means of five consecutive groups of
    /// samples spread) and the histogram of every sample.
    pub fn run<E: std::fmt::Display>(
        &self,
        name: &str,
        mut work: impl FnMut() -> Result<(), E>,
        mut progress: impl FnMut(f64),
    ) -> (Stats, Histogram<u64>) {
        let mut errors = 0;
        let mut first_error = None;
        let mut note = |e: E, errors: &mut u64| {
            *errors += 1;
            if first_error.is_none() {
                first_error = Some(e.to_string());
            }
        };
        let mut warmup_errors = 0;
        for _ in 0..self.options.warmup {
            if let Err(e) = work() {
                note(e, &mut warmup_errors);
            }
        }
        let mut hist = new_histogram();
        let start = Instant::now();
        let mut groups = [(0u128, 0u64); GROUPS];
        let mut i = 0u64;
        loop {
            let done = match self.options.duration {
                Some(d) => {
                    let elapsed = start.elapsed();
                    if elapsed >= d {
                        break;
                    }
                    elapsed.as_secs_f64() / d.as_secs_f64()
                }
                None => {
                    if i >= self.options.iterations {
                        break;
                    }
                    i as f64 / self.options.iterations.max(1) as f64
                }
            };
            if i.is_multiple_of(256) {
                progress(done);
            }
            let t0 = Instant::now();
            let result = work();
            let ns = t0.elapsed().as_nanos() as u64;
            match result {
                Ok(()) => {
                    hist.saturating_record(ns.max(1));
                    if let Some(live) = &self.live {
                        live.record(ns);
                    }
                    let g = &mut groups[((done * GROUPS as f64) as usize).min(GROUPS - 1)];
                    g.0 += u128::from(ns);
                    g.1 += 1;
                }
                Err(e) => {
                    if let Some(live) = &self.live {
                        live.error();
                    }
                    note(e, &mut errors)
                }
            }
            i += 1;
        }
        let elapsed = start.elapsed();
        let mut stats = Stats::from_histogram(name, &hist, errors, elapsed, first_error);
        let means: Vec<f64> = groups
            .iter()
            .filter(|g| g.1 > 0)
            .map(|g| g.0 as f64 / g.1 as f64)
            .collect();
        stats.noise = spread(&means);
        (stats, hist)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_iterations_and_errors() {
        let mut n = 0;
        let (stats, hist) = Sampler::new(SamplerOptions {
            warmup: 5,
            iterations: 100,
            duration: None,
        })
        .run(
            "t",
            || {
                n += 1;
                if n % 10 == 0 {
                    Err("every tenth fails")
                } else {
                    Ok(())
                }
            },
            |_| {},
        );
        assert_eq!(n, 105);
        assert_eq!(stats.count + stats.errors, 100);
        assert_eq!(stats.errors, 10);
        assert_eq!(stats.first_error.as_deref(), Some("every tenth fails"));
        assert_eq!(hist.len(), 90);
    }

    #[test]
    fn noise_shows_when_one_group_is_slower() {
        let mut n = 0u32;
        let (stats, _) = Sampler::new(SamplerOptions {
            warmup: 0,
            iterations: 50,
            duration: None,
        })
        .run(
            "t",
            || -> Result<(), String> {
                n += 1;
                // The last fifth sleeps: its mean is far above the others.
                let pause = if n > 40 { 2_000 } else { 20 };
                std::thread::sleep(Duration::from_micros(pause));
                Ok(())
            },
            |_| {},
        );
        assert!(stats.noise > 0.5, "noise {}", stats.noise);
    }
}

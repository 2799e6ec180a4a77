//! A storm: many short lives at once, on every core. Each of `threads`
//! threads runs its share of `cycles` calls of one closure (a spawn, a
//! request, a kill), each timed; the result's throughput is cycles per
//! second over the whole storm.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::new_histogram;
use super::stats::Stats;

/// Runs `cycles` calls of `one` spread over `threads` threads; the
/// measurement is named `name`. A failing call counts as an error.
pub fn storm<E: std::fmt::Display>(
    name: &str,
    cycles: u64,
    threads: usize,
    one: impl Fn() -> Result<(), E> + Sync,
) -> (Stats, Histogram<u64>) {
    let threads = threads.max(1) as u64;
    let start = Instant::now();
    let shares: Vec<(Histogram<u64>, u64, Option<String>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let one = &one;
                let share = cycles / threads + u64::from(t < cycles % threads);
                scope.spawn(move || {
                    let mut hist = new_histogram();
                    let (mut errors, mut first_error) = (0, None);
                    for _ in 0..share {
                        let began = Instant::now();
                        match one() {
                            Ok(()) => {
                                let _ = hist.record(began.elapsed().as_nanos() as u64);
                            }
                            Err(e) => {
                                errors += 1;
                                first_error.get_or_insert_with(|| e.to_string());
                            }
                        }
                    }
                    (hist, errors, first_error)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let elapsed: Duration = start.elapsed();
    let mut all = new_histogram();
    let (mut errors, mut first_error) = (0, None);
    for (hist, e, first) in shares {
        let _ = all.add(&hist);
        errors += e;
        first_error = first_error.or(first);
    }
    (
        Stats::from_histogram(name, &all, errors, elapsed, first_error),
        all,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cycle_runs_once_and_failures_are_counted() {
        let done = std::sync::atomic::AtomicU64::new(0);
        let (stats, hist) = storm("s", 101, 3, || {
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if n.is_multiple_of(10) {
                Err("every tenth")
            } else {
                Ok(())
            }
        });
        assert_eq!(done.into_inner(), 101);
        assert_eq!(stats.errors, 11);
        assert_eq!(stats.count, 90);
        assert_eq!(hist.len(), 90);
        assert_eq!(stats.first_error.as_deref(), Some("every tenth"));
    }
}

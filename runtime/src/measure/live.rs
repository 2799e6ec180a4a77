//! A measurement's figures while it runs, for a live view (the
//! `--dashboard` page): operations done, failed, and their latencies so
//! far. Recording is lock-free (an atomic histogram), and a run without a
//! live view records nothing: the samplers hold an `Option<Arc<Live>>`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use histogram::AtomicHistogram;

/// The measurement in progress, shared by the sampler and the viewer.
#[derive(Debug)]
pub struct Live {
    current: Mutex<Option<Current>>,
    count: AtomicU64,
    errors: AtomicU64,
    hist: AtomicHistogram,
}

#[derive(Debug, Clone)]
struct Current {
    name: String,
    started: Instant,
    /// Since when `count` counts (the end of a warm-up).
    counting: Instant,
    expected: Option<Duration>,
}

/// What a viewer sees of the measurement in progress.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveFigures {
    /// Its name.
    pub name: String,
    /// Time since it began.
    pub elapsed: Duration,
    /// How long it should take, if known.
    pub expected: Option<Duration>,
    /// Operations done.
    pub count: u64,
    /// Operations failed.
    pub errors: u64,
    /// Operations per second since counting (re)started.
    pub rate: f64,
    /// Median latency so far, ns.
    pub p50: Option<u64>,
    /// 99th percentile so far, ns.
    pub p99: Option<u64>,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            current: Mutex::new(None),
            count: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            // Within 1/16 of the value, up to 2^36 ns (~69 s).
            hist: AtomicHistogram::new(4, 36).expect("valid histogram parameters"),
        }
    }
}

impl Live {
    /// `name` starts now (forgetting the previous measurement's figures).
    pub fn begin(&self, name: &str, expected: Option<Duration>) {
        let mut current = self.current.lock().unwrap();
        self.clear();
        let now = Instant::now();
        *current = Some(Current {
            name: name.to_string(),
            started: now,
            counting: now,
            expected,
        });
    }

    /// Forgets the figures so far (after a warm-up) but keeps the name.
    pub fn restart(&self) {
        let mut current = self.current.lock().unwrap();
        self.clear();
        if let Some(c) = current.as_mut() {
            c.counting = Instant::now();
        }
    }

    fn clear(&self) {
        self.count.store(0, Relaxed);
        self.errors.store(0, Relaxed);
        // An atomic histogram has no reset: subtracting what it holds is
        // not atomic either, so clear bucket by bucket from a snapshot.
        let held = self.hist.load();
        for bucket in held.iter().filter(|b| b.count() > 0) {
            let _ = self
                .hist
                .add(bucket.start(), 0u64.wrapping_sub(bucket.count()));
        }
    }

    /// The measurement ended.
    pub fn end(&self) {
        *self.current.lock().unwrap() = None;
    }

    /// One operation took `ns`.
    pub fn record(&self, ns: u64) {
        self.count.fetch_add(1, Relaxed);
        let _ = self.hist.increment(ns.min((1 << 36) - 1));
    }

    /// One operation failed.
    pub fn error(&self) {
        self.errors.fetch_add(1, Relaxed);
    }

    /// The figures now, if a measurement is under way.
    pub fn figures(&self) -> Option<LiveFigures> {
        let current = self.current.lock().unwrap().clone()?;
        let hist = self.hist.load();
        let q = hist
            .quantiles(&[0.5, 0.99])
            .ok()
            .flatten()
            .map(|r| r.entries().values().map(|b| b.end()).collect::<Vec<_>>());
        let count = self.count.load(Relaxed);
        let counting = current.counting.elapsed().as_secs_f64();
        Some(LiveFigures {
            name: current.name,
            elapsed: current.started.elapsed(),
            expected: current.expected,
            count,
            rate: if counting > 0.0 {
                count as f64 / counting
            } else {
                0.0
            },
            errors: self.errors.load(Relaxed),
            p50: q.as_ref().and_then(|q| q.first().copied()),
            p99: q.as_ref().and_then(|q| q.get(1).copied()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_follow_the_measurement_and_restart_clears_them() {
        let live = Live::default();
        assert!(live.figures().is_none());
        live.begin("m", Some(Duration::from_secs(1)));
        for ns in 1..=100u64 {
            live.record(ns * 1000);
        }
        live.error();
        let f = live.figures().unwrap();
        assert_eq!((f.name.as_str(), f.count, f.errors), ("m", 100, 1));
        assert!(f.rate > 0.0);
        let (p50, p99) = (f.p50.unwrap(), f.p99.unwrap());
        assert!((47_000..=54_000).contains(&p50), "{p50}");
        assert!((95_000..=106_000).contains(&p99), "{p99}");
        live.restart();
        let f = live.figures().unwrap();
        assert_eq!((f.count, f.errors, f.p50), (0, 0, None));
        live.end();
        assert!(live.figures().is_none());
    }
}

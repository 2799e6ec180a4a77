//! One run's shared state: how an operation starts, is timed and recorded,
//! and the run from start to report.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::options::{LoadOptions, LoadReport, Model, Pattern, Until};
use super::timeline::{RssSampler, Windows};
use super::{LoadError, Target};
use crate::measure::stats::{Stats, new_histogram, spread};

/// Histograms the completions record into: each thread that completes
/// operations takes its own (a thread-local index), so two cores never
/// bounce one histogram's counts between them. The same number of
/// interleaved sub-samples (by worker or by send) give the run's noise.
pub(super) const SHARDS: usize = 16;

/// This thread's histogram shard.
fn thread_shard() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local!(static SHARD: usize = NEXT.fetch_add(1, Relaxed));
    SHARD.with(|s| *s) % SHARDS
}

/// A sub-sample's count and sum of latencies (ns), for its mean.
#[derive(Default)]
pub(super) struct SubSample {
    count: AtomicU64,
    sum: AtomicU64,
}

/// One run's shared state: what completions record into and what the
/// models read to decide whether to start more.
pub(super) struct Run {
    pub(super) target: Arc<dyn Target>,
    pub(super) pattern: Pattern,
    pub(super) payload: Vec<u8>,
    pub(super) start: Instant,
    pub(super) end: Option<Instant>,
    pub(super) budget: Option<u64>,
    pub(super) started: AtomicU64,
    /// Operations claimed from the budget (closed model).
    pub(super) claimed: AtomicU64,
    pub(super) in_flight: AtomicUsize,
    pub(super) ok_ops: AtomicU64,
    pub(super) ok_msgs: AtomicU64,
    pub(super) errors: AtomicU64,
    /// When the last operation completed, in ns since `start`.
    pub(super) last_done_ns: AtomicU64,
    pub(super) first_error: Mutex<Option<String>>,
    pub(super) hists: Vec<Mutex<Histogram<u64>>>,
    /// Interleaved sub-samples (by worker or by send), for the noise.
    pub(super) samples: Vec<SubSample>,
    /// Per window of send time, if a timeline was asked for.
    pub(super) windows: Option<Windows>,
    /// A live view's recorder, if one watches.
    pub(super) live: Option<Arc<crate::measure::live::Live>>,
    pub(super) stopping: AtomicBool,
    /// Closed model: workers still running.
    pub(super) workers: AtomicUsize,
    pub(super) idle: (Mutex<()>, Condvar),
}

impl Run {
    /// Whether a new operation may start; with a budget, claims one of it
    /// (workers race for the last ones: a claim, not a check, keeps the run
    /// at exactly `messages` operations).
    pub(super) fn may_start(&self) -> bool {
        if self.stopping.load(Relaxed) {
            return false;
        }
        let over = self.end.is_some_and(|end| Instant::now() >= end)
            || self
                .budget
                .is_some_and(|max| self.claimed.fetch_add(1, Relaxed) >= max);
        if over {
            self.stopping.store(true, Relaxed);
        }
        !over
    }

    /// Waits (in steps of 10 ms, calling `meanwhile` after each) until
    /// `done` holds; completions and workers that stop wake it early.
    pub(super) fn wait_idle(&self, done: impl Fn(&Run) -> bool, mut meanwhile: impl FnMut(&Run)) {
        let mut guard = self.idle.0.lock().unwrap();
        while !done(self) {
            meanwhile(self);
            guard = self
                .idle
                .1
                .wait_timeout(guard, Duration::from_millis(10))
                .unwrap()
                .0;
        }
    }

    /// Starts operation `seq` of `worker`, timed from `origin`; `then`
    /// runs after it completes.
    pub(super) fn start_op(
        self: &Arc<Self>,
        worker: usize,
        seq: u64,
        origin: Instant,
        then: impl FnOnce(&Arc<Run>) + Send + 'static,
    ) {
        let n = self.target.len();
        let global = self.started.fetch_add(1, Relaxed);
        self.in_flight.fetch_add(1, Relaxed);
        let complete = {
            let run = self.clone();
            move |result: Result<(), String>, messages: u64| {
                run.finish(worker, origin, result, messages);
                then(&run);
                if run.in_flight.fetch_sub(1, Relaxed) == 1 {
                    let _guard = run.idle.0.lock().unwrap();
                    run.idle.1.notify_all();
                }
            }
        };
        match self.pattern {
            Pattern::Broadcast => {
                let left = Arc::new(AtomicUsize::new(n));
                let failure: Arc<Mutex<Option<String>>> = Arc::default();
                let complete = Arc::new(Mutex::new(Some(complete)));
                for i in 0..n {
                    let (left, failure, complete) =
                        (left.clone(), failure.clone(), complete.clone());
                    self.target.call(
                        i,
                        self.payload.clone(),
                        Box::new(move |result| {
                            if let Err(e) = result {
                                failure.lock().unwrap().get_or_insert(e);
                            }
                            if left.fetch_sub(1, Relaxed) == 1 {
                                let result = failure.lock().unwrap().take().map_or(Ok(()), Err);
                                if let Some(complete) = complete.lock().unwrap().take() {
                                    complete(result, n as u64);
                                }
                            }
                        }),
                    );
                }
            }
            pattern => {
                let index = match pattern {
                    Pattern::Targeted => 0,
                    Pattern::RoundRobin => (global % n as u64) as usize,
                    _ => ((worker as u64 + seq) % n as u64) as usize,
                };
                self.target.call(
                    index,
                    self.payload.clone(),
                    Box::new(move |result| complete(result, 1)),
                );
            }
        }
    }

    fn finish(&self, worker: usize, origin: Instant, result: Result<(), String>, messages: u64) {
        let now = Instant::now();
        match result {
            Ok(()) => {
                let ns = now.saturating_duration_since(origin).as_nanos() as u64;
                self.hists[thread_shard()]
                    .lock()
                    .unwrap()
                    .saturating_record(ns.max(1));
                let sample = &self.samples[worker % SHARDS];
                sample.count.fetch_add(1, Relaxed);
                sample.sum.fetch_add(ns, Relaxed);
                if let Some((length, windows)) = &self.windows {
                    let i = super::timeline::window_index(
                        origin.saturating_duration_since(self.start),
                        *length,
                    );
                    windows[i.min(windows.len() - 1)]
                        .lock()
                        .unwrap()
                        .saturating_record(ns.max(1));
                }
                self.ok_ops.fetch_add(1, Relaxed);
                self.ok_msgs.fetch_add(messages, Relaxed);
                if let Some(live) = &self.live {
                    live.record(ns);
                }
            }
            Err(e) => {
                if let Some(live) = &self.live {
                    live.error();
                }
                self.errors.fetch_add(1, Relaxed);
                self.first_error.lock().unwrap().get_or_insert(e);
            }
        }
        let since = now.saturating_duration_since(self.start).as_nanos() as u64;
        self.last_done_ns.fetch_max(since, Relaxed);
    }
}

/// One run, from start to report (a warmup is a run of its own).
pub(super) fn run_once(
    target: Arc<dyn Target>,
    options: &LoadOptions,
) -> Result<LoadReport, LoadError> {
    let windows = super::timeline::windows(options)?;
    let hists: Vec<_> = (0..SHARDS)
        .map(|_| Mutex::new(touched(new_histogram())))
        .collect();
    let start = Instant::now();
    let (end, budget) = match options.until {
        Until::Elapsed(d) => (Some(start + d), None),
        Until::Operations(n) => (None, Some(n)),
    };
    let mut rss = RssSampler::new(options.window, start);
    let run = Arc::new(Run {
        target,
        pattern: options.pattern,
        payload: options
            .payload
            .clone()
            .unwrap_or_else(|| vec![b'x'; options.size]),
        start,
        end,
        budget,
        started: AtomicU64::new(0),
        claimed: AtomicU64::new(0),
        in_flight: AtomicUsize::new(0),
        ok_ops: AtomicU64::new(0),
        ok_msgs: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        last_done_ns: AtomicU64::new(0),
        first_error: Mutex::new(None),
        hists,
        samples: (0..SHARDS).map(|_| SubSample::default()).collect(),
        windows,
        live: options.live.clone(),
        stopping: AtomicBool::new(false),
        workers: AtomicUsize::new(0),
        idle: (Mutex::new(()), Condvar::new()),
    });
    let tally = match options.model {
        Model::Closed { concurrency } => {
            super::closed::drive(&run, concurrency, &mut rss);
            Tally::default()
        }
        Model::Open {
            rate,
            max_in_flight,
        } => super::open::drive(&run, options, rate, max_in_flight, &mut rss)?,
    };
    // Let what is in flight finish; what does not is lost.
    let drain_until = Instant::now() + options.drain;
    run.wait_idle(
        |run| run.in_flight.load(Relaxed) == 0 || Instant::now() >= drain_until,
        |_| {},
    );
    let lost = run.in_flight.load(Relaxed) as u64;
    let mut histogram = new_histogram();
    // The shards are repeated samples of one run (interleaved sends or
    // concurrent workers): the spread of their means is the run's noise.
    let means: Vec<f64> = run
        .samples
        .iter()
        .map(|s| (s.count.load(Relaxed), s.sum.load(Relaxed)))
        .filter(|(count, _)| *count >= 10)
        .map(|(count, sum)| sum as f64 / count as f64)
        .collect();
    for h in &run.hists {
        let h = h.lock().unwrap();
        histogram
            .add(&*h)
            .map_err(|e| LoadError::Merge(e.to_string()))?;
    }
    let elapsed = Duration::from_nanos(run.last_done_ns.load(Relaxed).max(1));
    let errors = run.errors.load(Relaxed);
    let first_error = run.first_error.lock().unwrap().clone();
    let mut latency =
        Stats::from_histogram(&options.name, &histogram, errors, elapsed, first_error);
    latency.noise = spread(&means);
    let messages = run.ok_msgs.load(Relaxed);
    Ok(LoadReport {
        latency,
        histogram,
        messages,
        throughput: messages as f64 / elapsed.as_secs_f64(),
        sent: run.started.load(Relaxed),
        errors,
        lost,
        dropped: tally.dropped,
        late: tally.late,
        send_lag: tally.send_lag,
        rate: match options.model {
            Model::Open { rate, .. } => Some(rate),
            Model::Closed { .. } => None,
        },
        timeline: super::timeline::timeline(&run.windows, &rss),
    })
}

/// What the open model counts beside the latencies.
#[derive(Default)]
pub(super) struct Tally {
    /// Scheduled operations not started (too many in flight).
    pub(super) dropped: u64,
    /// Operations started later than `late_after`.
    pub(super) late: u64,
    /// How far behind schedule each operation was sent.
    pub(super) send_lag: Option<Histogram<u64>>,
}

/// `h` with its memory written once. A new histogram's counts are pages
/// the OS has not mapped yet; left so, the first value recorded in each
/// page takes a page fault on the thread doing the work, inside a timed
/// operation. On this project's VM that put a p99 of 1.7-3.3 ms on the
/// first 50 ms window of an in-process open-model run whose other windows
/// mostly sat near 0.2 ms (`load` with `window: "50ms"` at 110K/s).
pub(super) fn touched(mut h: Histogram<u64>) -> Histogram<u64> {
    h.reset();
    h
}

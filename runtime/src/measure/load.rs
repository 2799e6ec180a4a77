//! The native load generator behind `load()`: the hot loop runs in Rust,
//! driven by completions, never by a script.
//!
//! Two models:
//! - **closed** (`concurrency`): that many workers, each sending its next
//!   operation when the previous one completes. Measures capacity; hides
//!   stalls (a stalled target also stops the senders).
//! - **open** (`rate`): operations are scheduled at a constant arrival rate,
//!   whatever the target does, and each latency is measured from the
//!   operation's *scheduled* time, not from when it was actually sent. A
//!   stall therefore shows in the percentiles (no coordinated omission).
//!   Sends more than `late_after` behind schedule are counted as late; a
//!   send that would exceed `max_in_flight` is not made and is counted as
//!   dropped.
//!
//! The generator knows nothing of nodes or sockets: it drives a [`Target`],
//! which the node (in-process) and the QUIC client (remote) implement.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::stats::{Stats, new_histogram, spread};

/// Called once when an operation completes: `Ok` for a reply, `Err` with
/// the reason otherwise.
pub type Done = Box<dyn FnOnce(Result<(), String>) + Send>;

/// Something load can be sent to: a set of agents, by index.
pub trait Target: Send + Sync {
    /// How many agents there are.
    fn len(&self) -> usize;
    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Sends a request with `payload` to agent `index`; `done` is called
    /// exactly once, on any thread, when it completes.
    fn call(&self, index: usize, payload: Vec<u8>, done: Done);
}

/// Which agents each operation goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// Every operation to the first agent.
    Targeted,
    /// Operation `i` to agent `i mod n`.
    RoundRobin,
    /// Every operation to every agent; it completes when all replied.
    Broadcast,
    /// Each worker walks the agents in order from its own starting point
    /// (worker `w`'s `j`-th operation goes to agent `(w + j) mod n`), so
    /// workers move around the ring without piling onto one agent.
    Ring,
}

impl std::str::FromStr for Pattern {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "targeted" => Ok(Pattern::Targeted),
            "round-robin" => Ok(Pattern::RoundRobin),
            "broadcast" => Ok(Pattern::Broadcast),
            "ring" => Ok(Pattern::Ring),
            other => Err(format!(
                "`{other}` is not a pattern: targeted, round-robin, broadcast or ring"
            )),
        }
    }
}

/// How operations are started.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Model {
    /// `concurrency` workers, each waiting for its previous operation.
    Closed {
        /// Operations in flight at once.
        concurrency: usize,
    },
    /// A constant arrival rate.
    Open {
        /// Operations per second.
        rate: f64,
        /// Operations in flight beyond which a scheduled one is dropped.
        max_in_flight: usize,
    },
}

/// A stretch of an open-model run at another rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Burst {
    /// When it starts, from the start of the run.
    pub at: Duration,
    /// How long it lasts.
    pub length: Duration,
    /// Operations per second meanwhile.
    pub rate: f64,
}

/// One window of a run's timeline: the operations *sent* in it (latency by
/// send time, so a backlog shows where it was caused).
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// Start of the window, seconds from the start of the run.
    pub start_s: f64,
    /// Successful operations sent in it.
    pub count: u64,
    /// Median latency, ns.
    pub p50: u64,
    /// 99th percentile latency, ns.
    pub p99: u64,
    /// Highest latency, ns.
    pub max: u64,
    /// The process's resident memory when the window began.
    pub rss_bytes: Option<u64>,
}

/// When a run ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Until {
    /// After this long.
    Elapsed(Duration),
    /// After this many operations were started.
    Operations(u64),
}

/// A load run's settings.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// What the run is called in the report.
    pub name: String,
    /// Which agents each operation goes to.
    pub pattern: Pattern,
    /// Closed or open.
    pub model: Model,
    /// When to stop starting operations.
    pub until: Until,
    /// Payload bytes per message (`x` repeated), unless `payload` is set.
    pub size: usize,
    /// The exact payload of every message (e.g. a relay's `hops=N;`).
    pub payload: Option<Vec<u8>>,
    /// A run of the same load before, whose results are discarded.
    pub warmup: Duration,
    /// How long to wait for operations in flight when the run ends; those
    /// still unanswered then are counted as lost.
    pub drain: Duration,
    /// An open-model send this far behind its schedule counts as late.
    pub late_after: Duration,
    /// Open model only: a stretch at another rate.
    pub burst: Option<Burst>,
    /// Open model only: the scheduler sleeps at least this long between
    /// wake-ups, and the sends that fell due meanwhile go out together.
    /// Their wait counts in their latency (timed from the schedule, as
    /// always), so this changes the arrival pattern (batches every `tick`
    /// instead of one send at a time), not what is timed. Where each
    /// wake-up is costly (a small VM) fewer, larger batches cost the
    /// generator and the target less CPU per request.
    pub tick: Duration,
    /// Split the run into windows of this length (needs `Until::Elapsed`).
    pub window: Option<Duration>,
}

/// Most windows a timeline may have.
pub const MAX_WINDOWS: u64 = 2000;

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            name: "load".into(),
            pattern: Pattern::RoundRobin,
            model: Model::Closed { concurrency: 64 },
            until: Until::Elapsed(Duration::from_secs(2)),
            size: 256,
            payload: None,
            warmup: Duration::ZERO,
            drain: Duration::from_secs(10),
            late_after: Duration::from_millis(1),
            burst: None,
            tick: Duration::ZERO,
            window: None,
        }
    }
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Latency per successful operation (from its scheduled time in the
    /// open model); `count` is operations, `throughput` operations/s.
    pub latency: Stats,
    /// The latencies, for plots and baselines.
    pub histogram: Histogram<u64>,
    /// Messages answered (an operation of a broadcast is one per agent).
    pub messages: u64,
    /// Messages answered per second of the run.
    pub throughput: f64,
    /// Operations started.
    pub sent: u64,
    /// Operations that failed.
    pub errors: u64,
    /// Operations still unanswered when the drain time ran out.
    pub lost: u64,
    /// Scheduled operations not started because too many were in flight.
    pub dropped: u64,
    /// Operations started later than `late_after` behind schedule.
    pub late: u64,
    /// Open model: how far behind its schedule each operation was sent.
    /// This is the generator's own share of every latency (the OS wakes
    /// its sleeping thread late, and sends that fell due meanwhile go out
    /// together), so a reader can tell it from the target's share. `None`
    /// in the closed model, which has no schedule.
    pub send_lag: Option<Histogram<u64>>,
    /// The open model's target rate, if any.
    pub rate: Option<f64>,
    /// The run window by window, if windows were asked for.
    pub timeline: Vec<Window>,
}

const SHARDS: usize = 16;

struct Run {
    target: Arc<dyn Target>,
    pattern: Pattern,
    payload: Vec<u8>,
    start: Instant,
    end: Option<Instant>,
    budget: Option<u64>,
    started: AtomicU64,
    /// Operations claimed from the budget (closed model).
    claimed: AtomicU64,
    in_flight: AtomicUsize,
    ok_ops: AtomicU64,
    ok_msgs: AtomicU64,
    errors: AtomicU64,
    /// When the last operation completed, in ns since `start`.
    last_done_ns: AtomicU64,
    first_error: Mutex<Option<String>>,
    hists: Vec<Mutex<Histogram<u64>>>,
    /// Per window of send time, if a timeline was asked for.
    windows: Option<(Duration, Vec<Mutex<Histogram<u64>>>)>,
    stopping: AtomicBool,
    /// Closed model: workers still running.
    workers: AtomicUsize,
    idle: (Mutex<()>, Condvar),
}

impl Run {
    /// Whether a new operation may start; with a budget, claims one of it
    /// (workers race for the last ones: a claim, not a check, keeps the run
    /// at exactly `messages` operations).
    fn may_start(&self) -> bool {
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

    /// Starts operation `seq` of `worker`, timed from `origin`; `then`
    /// runs after it completes.
    fn start_op(
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
                self.hists[worker % SHARDS]
                    .lock()
                    .unwrap()
                    .saturating_record(ns.max(1));
                if let Some((length, windows)) = &self.windows {
                    let i = window_index(origin.saturating_duration_since(self.start), *length);
                    windows[i.min(windows.len() - 1)]
                        .lock()
                        .unwrap()
                        .saturating_record(ns.max(1));
                }
                self.ok_ops.fetch_add(1, Relaxed);
                self.ok_msgs.fetch_add(messages, Relaxed);
            }
            Err(e) => {
                self.errors.fetch_add(1, Relaxed);
                self.first_error.lock().unwrap().get_or_insert(e);
            }
        }
        let since = now.saturating_duration_since(self.start).as_nanos() as u64;
        self.last_done_ns.fetch_max(since, Relaxed);
    }
}

/// Closed model: the worker's next operation, as long as the run lasts.
fn closed_worker(run: &Arc<Run>, worker: usize, seq: u64) {
    if !run.may_start() {
        if run.workers.fetch_sub(1, Relaxed) == 1 {
            let _guard = run.idle.0.lock().unwrap();
            run.idle.1.notify_all();
        }
        return;
    }
    run.start_op(worker, seq, Instant::now(), move |run| {
        closed_worker(run, worker, seq + 1)
    });
}

/// Runs load against `target` on the calling thread (which schedules the
/// open model and waits for the end), after an optional warmup.
pub fn run_load(target: Arc<dyn Target>, options: &LoadOptions) -> Result<LoadReport, String> {
    if target.is_empty() {
        return Err("load: no targets".into());
    }
    if !options.warmup.is_zero() {
        let mut warm = options.clone();
        warm.warmup = Duration::ZERO;
        warm.until = Until::Elapsed(options.warmup);
        run_once(target.clone(), &warm)?;
    }
    run_once(target, options)
}

/// `h` with its memory written once. A new histogram's counts are pages
/// the OS has not mapped yet; left so, the first value recorded in each
/// page takes a page fault on the thread doing the work, inside a timed
/// operation. On this project's VM that put a p99 of 1.7-3.3 ms on the
/// first 50 ms window of an in-process open-model run whose other windows
/// mostly sat near 0.2 ms (`load` with `window: "50ms"` at 110K/s).
fn touched(mut h: Histogram<u64>) -> Histogram<u64> {
    h.reset();
    h
}

fn window_index(offset: Duration, length: Duration) -> usize {
    // Nanoseconds fit a u64 for 584 years; u64 division is the cheap one.
    (offset.as_nanos() as u64 / (length.as_nanos() as u64).max(1)) as usize
}

fn run_once(target: Arc<dyn Target>, options: &LoadOptions) -> Result<LoadReport, String> {
    let windows = match (options.window, options.until) {
        (None, _) => None,
        (Some(w), Until::Elapsed(d)) => {
            if w.is_zero() {
                return Err("load: `window` must be longer than zero".into());
            }
            let n = d.as_nanos().div_ceil(w.as_nanos()) as u64;
            if n > MAX_WINDOWS {
                return Err(format!(
                    "load: {n} windows of {w:?} in {d:?} is more than {MAX_WINDOWS}; use longer windows"
                ));
            }
            // Two significant digits: a window needs its shape, not 0.1%.
            let h = || {
                Mutex::new(touched(
                    Histogram::new_with_bounds(1, 3_600_000_000_000, 2).expect("valid bounds"),
                ))
            };
            Some((w, (0..n.max(1)).map(|_| h()).collect::<Vec<_>>()))
        }
        (Some(_), Until::Operations(_)) => {
            return Err("load: `window` needs a `duration` (not `messages`)".into());
        }
    };
    let hists: Vec<_> = (0..SHARDS)
        .map(|_| Mutex::new(touched(new_histogram())))
        .collect();
    // The open model's send lag, recorded by its scheduling thread alone
    // (no lock); the closed model has no schedule to lag behind.
    let mut send_lag = match options.model {
        Model::Open { .. } => Some(touched(new_histogram())),
        Model::Closed { .. } => None,
    };
    let start = Instant::now();
    let (end, budget) = match options.until {
        Until::Elapsed(d) => (Some(start + d), None),
        Until::Operations(n) => (None, Some(n)),
    };
    // The timeline's memory: sampled by the scheduling thread as each
    // window begins (never by the threads doing the work).
    // The check per scheduled send is one comparison with the next
    // window's start.
    let mut rss: Vec<Option<u64>> = Vec::new();
    let mut next_window = options.window.map(|_| start);
    let mut sample_rss = |now: Instant| {
        if let (Some(next), Some(w)) = (next_window.as_mut(), options.window) {
            while now >= *next {
                rss.push(super::resources::rss_bytes());
                *next += w;
            }
        }
    };
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
        windows,
        stopping: AtomicBool::new(false),
        workers: AtomicUsize::new(0),
        idle: (Mutex::new(()), Condvar::new()),
    });
    let (mut dropped, mut late) = (0, 0);
    match options.model {
        Model::Closed { concurrency } => {
            let concurrency = concurrency.max(1);
            run.workers.store(concurrency, Relaxed);
            for w in 0..concurrency {
                closed_worker(&run, w, 0);
            }
            // Wait for every worker to stop starting operations.
            let mut guard = run.idle.0.lock().unwrap();
            while run.workers.load(Relaxed) > 0 {
                sample_rss(Instant::now());
                guard = run
                    .idle
                    .1
                    .wait_timeout(guard, Duration::from_millis(10))
                    .unwrap()
                    .0;
            }
        }
        Model::Open {
            rate,
            max_in_flight,
        } => {
            if !(rate > 0.0 && rate.is_finite()) {
                return Err(format!("load: rate must be a positive number, got {rate}"));
            }
            if let Some(b) = options.burst
                && !(b.rate > 0.0 && b.rate.is_finite())
            {
                return Err(format!(
                    "load: burst rate must be a positive number, got {}",
                    b.rate
                ));
            }
            // The rate at offset `t`: the burst's inside it, else `rate`.
            let rate_at = |t: Duration| match options.burst {
                Some(b) if t >= b.at && t < b.at + b.length => b.rate,
                _ => rate,
            };
            let mut offset = Duration::ZERO;
            let mut k: u64 = 0;
            loop {
                let scheduled = start + offset;
                if end.is_some_and(|end| scheduled >= end) || budget.is_some_and(|b| k >= b) {
                    break;
                }
                let now = Instant::now();
                sample_rss(now.min(scheduled));
                if scheduled > now {
                    // Sleep, never spin: a spinning scheduler would take a
                    // core from what it measures. The OS wakes it late
                    // (tens of us on bare metal, hundreds on a small VM);
                    // that lateness is part of each latency (timed from
                    // the schedule) and `send_lag` reports it, and the
                    // sends that fell due meanwhile go out together.
                    std::thread::sleep((scheduled - now).max(options.tick));
                    continue;
                }
                if run.in_flight.load(Relaxed) >= max_in_flight {
                    dropped += 1;
                } else {
                    let behind = now - scheduled;
                    if behind > options.late_after {
                        late += 1;
                    }
                    if let Some(lag) = send_lag.as_mut() {
                        lag.saturating_record(behind.as_nanos().try_into().unwrap_or(u64::MAX));
                    }
                    run.start_op((k % SHARDS as u64) as usize, k, scheduled, |_| {});
                }
                k += 1;
                offset += Duration::from_secs_f64(1.0 / rate_at(offset));
            }
            run.stopping.store(true, Relaxed);
        }
    }
    // Let what is in flight finish; what does not is lost.
    let drain_until = Instant::now() + options.drain;
    let mut guard = run.idle.0.lock().unwrap();
    while run.in_flight.load(Relaxed) > 0 && Instant::now() < drain_until {
        guard = run
            .idle
            .1
            .wait_timeout(guard, Duration::from_millis(10))
            .unwrap()
            .0;
    }
    drop(guard);
    let lost = run.in_flight.load(Relaxed) as u64;
    let mut histogram = new_histogram();
    // The shards are repeated samples of one run (interleaved sends or
    // concurrent workers): the spread of their means is the run's noise.
    let mut means = Vec::with_capacity(SHARDS);
    for h in &run.hists {
        let h = h.lock().unwrap();
        if h.len() >= 10 {
            means.push(h.mean());
        }
        histogram
            .add(&*h)
            .map_err(|e| format!("load: merging histograms: {e}"))?;
    }
    let elapsed = Duration::from_nanos(run.last_done_ns.load(Relaxed).max(1));
    let errors = run.errors.load(Relaxed);
    let first_error = run.first_error.lock().unwrap().clone();
    let mut latency =
        Stats::from_histogram(&options.name, &histogram, errors, elapsed, first_error);
    latency.noise = spread(&means);
    let messages = run.ok_msgs.load(Relaxed);
    let timeline = match &run.windows {
        None => Vec::new(),
        Some((length, windows)) => windows
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let h = h.lock().unwrap();
                let q = |q: f64| {
                    if h.is_empty() {
                        0
                    } else {
                        h.value_at_quantile(q)
                    }
                };
                Window {
                    start_s: length.as_secs_f64() * i as f64,
                    count: h.len(),
                    p50: q(0.5),
                    p99: q(0.99),
                    max: h.max(),
                    rss_bytes: rss.get(i).copied().flatten(),
                }
            })
            .collect(),
    };
    Ok(LoadReport {
        latency,
        histogram,
        messages,
        throughput: messages as f64 / elapsed.as_secs_f64(),
        sent: run.started.load(Relaxed),
        errors,
        lost,
        dropped,
        late,
        send_lag,
        rate: match options.model {
            Model::Open { rate, .. } => Some(rate),
            Model::Closed { .. } => None,
        },
        timeline,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers on a thread of its own after `delay` (a stall from `stall_at`
    /// for `stall`), to test the generator without a node.
    struct Sleepy {
        n: usize,
        calls: AtomicU64,
        stall_at: u64,
        stall: Duration,
        fail_every: u64,
    }

    impl Target for Sleepy {
        fn len(&self) -> usize {
            self.n
        }
        fn call(&self, index: usize, _payload: Vec<u8>, done: Done) {
            assert!(index < self.n);
            let k = self.calls.fetch_add(1, Relaxed);
            let stall = if k == self.stall_at {
                self.stall
            } else {
                Duration::ZERO
            };
            let fail = self.fail_every > 0 && k.is_multiple_of(self.fail_every);
            std::thread::spawn(move || {
                std::thread::sleep(stall);
                done(if fail { Err("boom".into()) } else { Ok(()) });
            });
        }
    }

    /// `operations` sends at `rate` per second (open model).
    fn open_at(rate: f64, operations: u64) -> LoadOptions {
        LoadOptions {
            model: Model::Open {
                rate,
                max_in_flight: 10_000,
            },
            until: Until::Operations(operations),
            ..LoadOptions::default()
        }
    }

    fn sleepy(n: usize) -> Arc<Sleepy> {
        Arc::new(Sleepy {
            n,
            calls: AtomicU64::new(0),
            stall_at: u64::MAX,
            stall: Duration::ZERO,
            fail_every: 0,
        })
    }

    #[test]
    fn a_closed_run_of_n_operations_answers_n() {
        let t = sleepy(3);
        let options = LoadOptions {
            model: Model::Closed { concurrency: 4 },
            until: Until::Operations(200),
            ..LoadOptions::default()
        };
        let r = run_load(t.clone(), &options).unwrap();
        assert_eq!(r.sent, 200);
        assert_eq!(r.latency.count, 200);
        assert_eq!(r.messages, 200);
        assert_eq!((r.errors, r.lost, r.dropped), (0, 0, 0));
        assert_eq!(t.calls.load(Relaxed), 200);
    }

    #[test]
    fn many_workers_racing_for_the_last_operations_start_exactly_n() {
        for _ in 0..5 {
            let t = sleepy(2);
            let options = LoadOptions {
                model: Model::Closed { concurrency: 128 },
                until: Until::Operations(1000),
                ..LoadOptions::default()
            };
            let r = run_load(t.clone(), &options).unwrap();
            assert_eq!((r.sent, r.latency.count), (1000, 1000));
            assert_eq!(t.calls.load(Relaxed), 1000);
        }
    }

    #[test]
    fn broadcast_counts_a_message_per_agent_and_errors_per_operation() {
        let t = Arc::new(Sleepy {
            fail_every: 7,
            ..Arc::into_inner(sleepy(5)).unwrap()
        });
        let options = LoadOptions {
            pattern: Pattern::Broadcast,
            model: Model::Closed { concurrency: 2 },
            until: Until::Operations(20),
            ..LoadOptions::default()
        };
        let r = run_load(t.clone(), &options).unwrap();
        assert_eq!(t.calls.load(Relaxed), 100);
        assert_eq!(r.latency.count + r.errors, 20);
        assert!(r.errors > 0);
        assert_eq!(r.messages, r.latency.count * 5);
        assert_eq!(r.latency.first_error.as_deref(), Some("boom"));
    }

    /// Like an agent: one thread handles calls in order, so a stall delays
    /// everything queued behind it.
    struct Serial {
        tx: Mutex<std::sync::mpsc::Sender<Done>>,
    }

    impl Serial {
        fn new(stall_at: u64, stall: Duration) -> Arc<Serial> {
            let (tx, rx) = std::sync::mpsc::channel::<Done>();
            std::thread::spawn(move || {
                for (k, done) in rx.into_iter().enumerate() {
                    if k as u64 == stall_at {
                        std::thread::sleep(stall);
                    }
                    done(Ok(()));
                }
            });
            Arc::new(Serial { tx: Mutex::new(tx) })
        }
    }

    impl Target for Serial {
        fn len(&self) -> usize {
            1
        }
        fn call(&self, _index: usize, _payload: Vec<u8>, done: Done) {
            self.tx.lock().unwrap().send(done).unwrap();
        }
    }

    #[test]
    fn the_open_model_shows_a_stall_that_the_closed_model_hides() {
        let stall = Duration::from_millis(200);
        let closed = LoadOptions {
            model: Model::Closed { concurrency: 1 },
            until: Until::Operations(400),
            ..LoadOptions::default()
        };
        let r = run_load(Serial::new(20, stall), &closed).unwrap();
        assert_eq!(r.latency.count, 400);
        // One sample of 400 saw the stall: p99 does not.
        assert!(r.latency.max >= stall.as_nanos() as u64);
        assert!(
            r.latency.p99 < stall.as_nanos() as u64 / 2,
            "{:?}",
            r.latency
        );

        let r = run_load(Serial::new(20, stall), &open_at(1000.0, 400)).unwrap();
        assert_eq!(r.latency.count, 400);
        assert_eq!(r.rate, Some(1000.0));
        // Every operation scheduled during the stall waited for it, timed
        // from its scheduled send: p99 carries the stall.
        assert!(
            r.latency.p99 >= stall.as_nanos() as u64 / 2,
            "{:?}",
            r.latency
        );
    }

    /// Holds the sending thread itself for `hold` at its `at`-th call, as a
    /// target whose send path blocks would.
    struct Holding {
        calls: AtomicU64,
        at: u64,
        hold: Duration,
    }

    impl Target for Holding {
        fn len(&self) -> usize {
            1
        }
        fn call(&self, _index: usize, _payload: Vec<u8>, done: Done) {
            if self.calls.fetch_add(1, Relaxed) == self.at {
                std::thread::sleep(self.hold);
            }
            done(Ok(()));
        }
    }

    #[test]
    fn the_send_lag_shows_the_generator_falling_behind_its_schedule() {
        let hold = Duration::from_millis(50);
        let target = Arc::new(Holding {
            calls: AtomicU64::new(0),
            at: 10,
            hold,
        });
        let r = run_load(target, &open_at(1000.0, 200)).unwrap();
        let lag = r.send_lag.expect("an open run has a schedule");
        // One lag per send...
        assert_eq!(lag.len(), r.sent);
        // ...and the sends due while the sender was held left that late:
        // at 1000/s, the next one about the whole hold behind.
        assert!(
            lag.max() >= hold.as_nanos() as u64 - 1_000_000,
            "max lag {} ns",
            lag.max()
        );
        assert!(r.late > 0);

        let closed = LoadOptions {
            model: Model::Closed { concurrency: 2 },
            until: Until::Operations(20),
            ..LoadOptions::default()
        };
        let r = run_load(sleepy(2), &closed).unwrap();
        assert!(r.send_lag.is_none(), "a closed run has no schedule");
    }

    /// Notes when each call came.
    struct Clock(Mutex<Vec<Instant>>);

    impl Target for Clock {
        fn len(&self) -> usize {
            1
        }
        fn call(&self, _index: usize, _payload: Vec<u8>, done: Done) {
            self.0.lock().unwrap().push(Instant::now());
            done(Ok(()));
        }
    }

    #[test]
    fn a_tick_sends_what_fell_due_in_batches() {
        // 100 sends 1 ms apart: one at a time, or with a 20 ms tick in
        // about 5 batches (a gap between two calls marks a new batch).
        let wakeups = |tick: Duration| {
            let clock = Arc::new(Clock(Mutex::new(Vec::new())));
            let options = LoadOptions {
                tick,
                ..open_at(1000.0, 100)
            };
            let r = run_load(clock.clone(), &options).unwrap();
            assert_eq!(r.latency.count, 100);
            let calls = clock.0.lock().unwrap();
            1 + calls
                .windows(2)
                .filter(|w| w[1] - w[0] > Duration::from_micros(500))
                .count()
        };
        let batched = wakeups(Duration::from_millis(20));
        assert!((2..=10).contains(&batched), "{batched} wake-ups");
        // Without a tick, about one per send (a stalled host merges some).
        let single = wakeups(Duration::ZERO);
        assert!(single > 10, "{single} wake-ups without a tick");
    }

    #[test]
    fn a_burst_and_a_stall_show_in_the_timeline() {
        let ms = Duration::from_millis;
        let options = LoadOptions {
            model: Model::Open {
                rate: 1000.0,
                max_in_flight: 100_000,
            },
            until: Until::Elapsed(ms(1000)),
            burst: Some(Burst {
                at: ms(500),
                length: ms(200),
                rate: 5000.0,
            }),
            window: Some(ms(100)),
            ..LoadOptions::default()
        };
        // Operation 150 (sent at ~150 ms) stalls the agent for 150 ms.
        let r = run_load(Serial::new(150, ms(150)), &options).unwrap();
        assert_eq!(r.timeline.len(), 10);
        let counts: Vec<u64> = r.timeline.iter().map(|w| w.count).collect();
        // Sends follow the schedule: 100 per window, 500 during the burst.
        for (i, c) in counts.iter().enumerate() {
            let want = if i == 5 || i == 6 { 500 } else { 100 };
            assert!(c.abs_diff(want) <= 2, "window {i}: {counts:?}");
        }
        assert!(r.sent.abs_diff(1800) <= 4, "{}", r.sent);
        // The stall shows in the window whose sends it delayed, not before.
        assert!(
            r.timeline[1].max >= ms(100).as_nanos() as u64,
            "{:?}",
            r.timeline[1]
        );
        assert!(
            r.timeline[0].p99 < ms(100).as_nanos() as u64,
            "{:?}",
            r.timeline[0]
        );
        assert!(r.timeline[0].rss_bytes.is_some() || resources_unknown());
        assert!((r.timeline[3].start_s - 0.3).abs() < 1e-9);
    }

    fn resources_unknown() -> bool {
        crate::measure::resources::rss_bytes().is_none()
    }

    #[test]
    fn a_timeline_needs_a_duration() {
        let options = LoadOptions {
            until: Until::Operations(10),
            window: Some(Duration::from_millis(10)),
            ..LoadOptions::default()
        };
        let err = run_load(sleepy(1), &options).unwrap_err();
        assert!(err.contains("needs a `duration`"), "{err}");
    }

    #[test]
    fn the_open_model_drops_what_would_exceed_the_in_flight_limit() {
        let open = LoadOptions {
            model: Model::Open {
                rate: 2000.0,
                max_in_flight: 5,
            },
            until: Until::Operations(200),
            ..LoadOptions::default()
        };
        let r = run_load(Serial::new(10, Duration::from_millis(50)), &open).unwrap();
        assert!(r.dropped > 0, "{r:?}");
        assert_eq!(r.sent + r.dropped, 200);
        assert_eq!(r.latency.count, r.sent);
    }
}

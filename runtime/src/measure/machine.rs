//! How the machine itself treats a latency benchmark, measured with plain
//! threads (no runtime, no sockets, no guest code), so a reader can tell
//! the machine's share of a tail from Caxton's.
//!
//! - **Pauses**: one thread per CPU reads the clock in a loop and never
//!   sleeps; every gap longer than [`PAUSE`] is time the machine took that
//!   thread away (an interrupt, another task, or, in a virtual machine, the
//!   host running something else on that CPU). Nothing a program does
//!   avoids these: a request in flight on a paused thread waits them out.
//! - **Wake-ups**: two threads hand a turn back and forth, each sleeping
//!   until the other wakes it (a futex, as tokio's idle workers and every
//!   channel receiver do). Each request over QUIC takes several such
//!   hand-offs unless the threads are already running.
//! - **Sleeps**: short timed sleeps, as the open model's scheduler takes
//!   between sends: how late they end, and what each costs in CPU time.
//!
//! CPU time is read per thread from `/proc/thread-self/schedstat`
//! (nanoseconds; Linux only, `None` elsewhere).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::stats::new_histogram;

/// A gap in a spinning thread's clock readings longer than this is a pause.
/// Reading the clock takes tens of nanoseconds, so 200 µs is far above the
/// loop's own noise and well below the 1 ms a latency goal cares about.
pub const PAUSE: Duration = Duration::from_micros(200);

/// What to measure, and for how long.
#[derive(Debug, Clone)]
pub struct MachineOptions {
    /// How long the spinning threads watch for pauses.
    pub pause_watch: Duration,
    /// Wake-up round trips between two threads.
    pub round_trips: u64,
    /// Timed sleeps.
    pub sleeps: u64,
    /// How long each sleep asks for.
    pub sleep: Duration,
}

impl Default for MachineOptions {
    fn default() -> Self {
        MachineOptions {
            pause_watch: Duration::from_secs(2),
            round_trips: 10_000,
            sleeps: 10_000,
            sleep: Duration::from_micros(10),
        }
    }
}

/// Pauses seen by threads that never sleep, one per CPU, summed.
#[derive(Debug, Clone, PartialEq)]
pub struct Pauses {
    /// Spinning threads (one per CPU the process may use).
    pub threads: usize,
    /// How long each watched.
    pub watched: Duration,
    /// Gaps longer than [`PAUSE`].
    pub count: u64,
    /// Of those, the ones longer than 1 ms.
    pub over_1ms: u64,
    /// The longest.
    pub max: Duration,
    /// Time lost to pauses over time watched, over all threads (0 to 1).
    pub fraction: f64,
}

/// A distribution of durations with the CPU time it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Timed {
    /// How many were timed.
    pub count: u64,
    /// Mean wall time of one.
    pub mean: Duration,
    /// Median wall time of one.
    pub p50: Duration,
    /// 99th percentile of the wall time of one.
    pub p99: Duration,
    /// The longest.
    pub max: Duration,
    /// CPU time per one, every thread taking part counted; `None` where
    /// per-thread CPU time cannot be read.
    pub cpu: Option<Duration>,
}

/// The machine's report.
#[derive(Debug, Clone, PartialEq)]
pub struct MachineReport {
    /// Pauses of spinning threads.
    pub pauses: Pauses,
    /// A round trip between two sleeping threads (two wake-ups).
    pub round_trip: Timed,
    /// A timed sleep of [`MachineOptions::sleep`], from asking to waking.
    pub sleep: Timed,
}

/// Runs the three probes one after another (each alone on the machine's
/// CPUs, as far as this process is concerned). A count of 0 skips its
/// probe (its `Timed` has `count` 0).
pub fn probe(options: &MachineOptions) -> MachineReport {
    MachineReport {
        pauses: pauses(options.pause_watch),
        round_trip: round_trips(options.round_trips),
        sleep: sleeps(options.sleeps, options.sleep),
    }
}

/// Nanoseconds this thread has run, from `/proc/thread-self/schedstat`.
fn thread_cpu() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

fn cpu_between(before: Option<u64>, after: Option<u64>) -> Option<u64> {
    Some(after?.saturating_sub(before?))
}

fn pauses(watch: Duration) -> Pauses {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let watchers: Vec<_> = (0..threads)
        .map(|_| {
            std::thread::spawn(move || {
                let (mut count, mut over_1ms, mut max, mut lost) =
                    (0, 0, Duration::ZERO, Duration::ZERO);
                let start = Instant::now();
                let mut last = start;
                loop {
                    let now = Instant::now();
                    let gap = now - last;
                    last = now;
                    if gap > PAUSE {
                        count += 1;
                        lost += gap;
                        max = max.max(gap);
                        if gap > Duration::from_millis(1) {
                            over_1ms += 1;
                        }
                    }
                    if now - start >= watch {
                        return (count, over_1ms, max, lost, now - start);
                    }
                }
            })
        })
        .collect();
    let mut p = Pauses {
        threads,
        watched: watch,
        count: 0,
        over_1ms: 0,
        max: Duration::ZERO,
        fraction: 0.0,
    };
    let (mut lost, mut watched) = (Duration::ZERO, Duration::ZERO);
    for w in watchers {
        let (count, over_1ms, max, l, t) = w.join().expect("a pause watcher does not panic");
        p.count += count;
        p.over_1ms += over_1ms;
        p.max = p.max.max(max);
        lost += l;
        watched += t;
    }
    p.fraction = lost.as_secs_f64() / watched.as_secs_f64().max(f64::MIN_POSITIVE);
    p
}

fn timed(h: &Histogram<u64>, cpu: Option<u64>) -> Timed {
    let count = h.len();
    Timed {
        count,
        mean: Duration::from_nanos(h.mean() as u64),
        p50: Duration::from_nanos(h.value_at_quantile(0.5)),
        p99: Duration::from_nanos(h.value_at_quantile(0.99)),
        max: Duration::from_nanos(h.max()),
        cpu: cpu.map(|ns| Duration::from_nanos(ns / count.max(1))),
    }
}

/// Whose turn it is in [`round_trips`].
const CALLER: u8 = 0;
const PEER: u8 = 1;

fn round_trips(n: u64) -> Timed {
    let turn = Arc::new(AtomicU8::new(CALLER));
    let done = Arc::new(AtomicBool::new(false));
    let caller = std::thread::current();
    let peer = {
        let (turn, done) = (turn.clone(), done.clone());
        std::thread::spawn(move || {
            let before = thread_cpu();
            loop {
                // `park` may return spuriously: the turn decides.
                while turn.load(Ordering::Acquire) != PEER {
                    std::thread::park();
                }
                if done.load(Ordering::Acquire) {
                    return cpu_between(before, thread_cpu());
                }
                turn.store(CALLER, Ordering::Release);
                caller.unpark();
            }
        })
    };
    let mut h = new_histogram();
    let before = thread_cpu();
    for _ in 0..n {
        let t0 = Instant::now();
        turn.store(PEER, Ordering::Release);
        peer.thread().unpark();
        while turn.load(Ordering::Acquire) != CALLER {
            std::thread::park();
        }
        h.saturating_record(t0.elapsed().as_nanos().try_into().unwrap_or(u64::MAX));
    }
    let mine = cpu_between(before, thread_cpu());
    done.store(true, Ordering::Release);
    turn.store(PEER, Ordering::Release);
    peer.thread().unpark();
    let theirs = peer.join().expect("the peer does not panic");
    timed(&h, mine.zip(theirs).map(|(a, b)| a + b))
}

fn sleeps(n: u64, asked: Duration) -> Timed {
    // A thread of its own: the caller's CPU time so far is not the probe's.
    std::thread::spawn(move || {
        let mut h = new_histogram();
        let before = thread_cpu();
        for _ in 0..n {
            let t0 = Instant::now();
            std::thread::sleep(asked);
            h.saturating_record(t0.elapsed().as_nanos().try_into().unwrap_or(u64::MAX));
        }
        timed(&h, cpu_between(before, thread_cpu()))
    })
    .join()
    .expect("the sleeper does not panic")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> MachineOptions {
        MachineOptions {
            pause_watch: Duration::from_millis(100),
            round_trips: 200,
            sleeps: 50,
            sleep: Duration::from_micros(100),
        }
    }

    #[test]
    fn every_round_trip_and_sleep_is_timed_and_none_ends_early() {
        let r = probe(&small());
        assert_eq!(r.round_trip.count, 200);
        assert_eq!(r.sleep.count, 50);
        // A sleep never ends before it was asked to; a histogram of three
        // significant digits may round its value down by 0.1% at most.
        assert!(r.sleep.p50 >= Duration::from_micros(99), "{:?}", r.sleep);
        assert!(r.round_trip.p50 <= r.round_trip.p99 && r.round_trip.p99 <= r.round_trip.max);
        assert!(r.round_trip.p50 > Duration::ZERO);
        if cfg!(target_os = "linux") {
            // Two threads ran for every round trip: some CPU was spent.
            assert!(
                r.round_trip.cpu.is_some_and(|c| c > Duration::ZERO),
                "{:?}",
                r.round_trip
            );
            assert!(r.sleep.cpu.is_some(), "{:?}", r.sleep);
        }
    }

    #[test]
    fn a_cpu_shared_with_busy_threads_shows_as_pauses() {
        // As many busy threads again as there are CPUs: each watcher gets
        // a CPU about half the time, in slices the OS hands out, so the
        // watchers must see pauses taking a large share of their time.
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        let stop = Arc::new(AtomicBool::new(false));
        let hogs: Vec<_> = (0..n)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        let p = pauses(Duration::from_millis(300));
        stop.store(true, Ordering::Relaxed);
        for h in hogs {
            h.join().unwrap();
        }
        assert_eq!(p.threads, n);
        assert!(
            p.count > 0 && p.fraction > 0.1 && p.fraction <= 1.0,
            "{p:?}"
        );
        assert!(p.over_1ms <= p.count && p.max > PAUSE, "{p:?}");
    }
}

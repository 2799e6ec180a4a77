//! The generator against a target of sleeping threads, without a node.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    assert_eq!(err, LoadError::WindowNeedsDuration);
    assert!(err.to_string().contains("needs a `duration`"), "{err}");
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

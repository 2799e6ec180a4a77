//! The epoch ticker: wasmtime checks a guest's deadline, a kill and its
//! fairness yield only when the engine's epoch moves, so something must
//! move it every `tick` while guest code runs. Nothing else needs it: the
//! ticker counts the calls in guest code ([`Ticker::enter`]) and parks its
//! thread when there have been none for a while, so an idle node wakes up
//! for nothing (no periodic wake-ups, no CPU).

use std::sync::Arc;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::thread::Thread;
use std::time::Duration;

use wasmtime::Engine;

/// Ticks without guest code after which the ticker parks: a short gap
/// between calls (a request every few milliseconds) keeps it awake and
/// costs the next call no wake-up.
const IDLE_TICKS: u32 = 64;

/// The ticker thread's shared state.
#[derive(Debug)]
pub struct Ticker {
    /// Calls now running guest code.
    active: AtomicUsize,
    /// Whether the thread is parked (or about to be).
    parked: AtomicBool,
    /// Set when the engine goes: the thread ends.
    stop: AtomicBool,
    thread: Thread,
}

/// One call in guest code; the ticker keeps ticking while any exists.
#[derive(Debug)]
pub(crate) struct Running<'a>(&'a Ticker);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, SeqCst);
    }
}

impl Ticker {
    /// Starts the thread that ticks `engine`'s epoch every `tick` while
    /// guest code runs.
    pub(crate) fn start(engine: &Engine, tick: Duration) -> Arc<Ticker> {
        let weak = engine.weak();
        let (tx, rx) = std::sync::mpsc::channel::<Arc<Ticker>>();
        let thread = std::thread::Builder::new()
            .name("caxton-epoch".into())
            .spawn(move || {
                let Ok(ticker) = rx.recv() else { return };
                let mut idle = 0u32;
                while !ticker.stop.load(SeqCst) {
                    let Some(engine) = weak.upgrade() else { return };
                    engine.increment_epoch();
                    drop(engine);
                    if ticker.active.load(SeqCst) > 0 {
                        idle = 0;
                    } else {
                        idle += 1;
                    }
                    if idle >= IDLE_TICKS {
                        // Dekker with `enter`: either it sees `parked` and
                        // unparks, or this sees its call and does not park.
                        ticker.parked.store(true, SeqCst);
                        if ticker.active.load(SeqCst) == 0 && !ticker.stop.load(SeqCst) {
                            std::thread::park();
                        }
                        ticker.parked.store(false, SeqCst);
                        idle = 0;
                        continue;
                    }
                    std::thread::sleep(tick);
                }
            })
            .expect("spawning the epoch thread");
        let ticker = Arc::new(Ticker {
            active: AtomicUsize::new(0),
            parked: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            thread: thread.thread().clone(),
        });
        let _ = tx.send(ticker.clone());
        ticker
    }

    /// Marks a call entering guest code; the ticker runs until it ends.
    pub(crate) fn enter(&self) -> Running<'_> {
        if self.active.fetch_add(1, SeqCst) == 0 && self.parked.load(SeqCst) {
            self.thread.unpark();
        }
        Running(self)
    }

    /// Whether the thread is parked: no guest code for a while.
    pub fn is_parked(&self) -> bool {
        self.parked.load(SeqCst)
    }
}

/// Ends the ticker thread when the last clone of the engine goes.
#[derive(Debug)]
pub(crate) struct TickerOwner(pub(crate) Arc<Ticker>);

impl Drop for TickerOwner {
    fn drop(&mut self) {
        self.0.stop.store(true, SeqCst);
        self.0.thread.unpark();
    }
}

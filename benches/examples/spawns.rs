//! `spawns SIDE N PAUSE_US [compact]`: N spawns of the echo component into a warm
//! slot, timed one by one, each after PAUSE_US microseconds of sleep;
//! prints the p50 and p90. SIDE is `raw` (plain wasmtime: a store and
//! `InstancePre::instantiate`, dropped), `async` (the same on a fiber, with
//! `init`) or `caxton` (`spawn_blocking` + `kill`).
//!
//! It shows what a restart after a pause costs (`recovery.rhai`'s deadline
//! row: the agent spun for its whole deadline before it crashed): with
//! a pause of a few milliseconds, every side, plain wasmtime's included,
//! is several times slower than in a back-to-back loop, so the pause's
//! share is the machine's (cold caches), not the runtime's.
//!
//!   cargo run --release -p caxton-benches --example spawns -- raw 400 3000
//!
//! `compact` spawns into bounds-checked memories: valgrind cannot reserve
//! the address space of guarded ones.

use std::hint::black_box;
use std::time::{Duration, Instant};

use caxton::host::{EngineOptions, MemoryLayout};
use caxton::node::SpawnOptions;
use caxton_benches::{Fixture, poll_once, raw_store};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let usage = "usage: spawns raw|async|caxton N PAUSE_US";
    let mut args = std::env::args().skip(1);
    let side = args.next().expect(usage);
    let mut number = || -> u64 { args.next().and_then(|n| n.parse().ok()).expect(usage) };
    let (n, pause) = (number(), Duration::from_micros(number()));
    let f = match args.next().as_deref() {
        None => Fixture::new(16),
        Some("compact") => Fixture::with(EngineOptions {
            max_agents: 16,
            max_memory: 64 << 20,
            memory_layout: MemoryLayout::Compact,
            ..EngineOptions::default()
        }),
        Some(other) => panic!("{usage} (not `{other}`)"),
    };
    let engine = f.engine.wasmtime().clone();
    if !matches!(side.as_str(), "raw" | "async" | "caxton") {
        panic!("{usage} (not `{side}`)");
    }
    let mut took: Vec<Duration> = (0..n)
        .map(|_| {
            std::thread::sleep(pause);
            let start = Instant::now();
            spawn(&f, &engine, &side);
            start.elapsed()
        })
        .collect();
    took.sort();
    let at = |q: f64| took[((took.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e6;
    println!(
        "{side}, {} us pause: p50 {:.1} us, p90 {:.1} us over {n} spawns",
        pause.as_micros(),
        at(0.5),
        at(0.9)
    );
}

/// One spawn of `side`, and its end. Not inlined: callgrind can count
/// spawns alone by collecting inside it (`--toggle-collect='spawns::spawn'`,
/// with `RUST_BACKTRACE=0`: under valgrind, wasmtime's pagemap reset fails
/// and falls back, and the error it makes would otherwise take a backtrace).
#[inline(never)]
fn spawn(f: &Fixture, engine: &wasmtime::Engine, side: &str) {
    match side {
        "raw" => {
            let mut store = raw_store(engine);
            black_box(f.pre.instantiate(&mut store).expect("echo instantiates"));
        }
        "async" => {
            black_box(poll_once(f.raw_agent.spawn_async()).expect("echo spawns"));
        }
        _ => f
            .node
            .spawn_blocking(&f.plugin, SpawnOptions::default())
            .expect("echo spawns")
            .kill(),
    }
}

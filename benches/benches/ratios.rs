//! Caxton / plain wasmtime as ratios with their spread: every round times
//! each side in turn, in one process, so a phase of a noisy machine lands
//! on both sides of a ratio instead of on one row (criterion's rows in
//! `spawn_call` run one after another). Prints, per row, the medians of
//! the rounds and the ratio's median and range:
//!
//! - spawn into a warm slot: raw `Store::new` + instantiate (+ drop); the
//!   same with `init`, async on fibers; Caxton's `spawn_blocking` + `kill`;
//! - spawn into a fresh slot: the same, each instance kept until 500 exist;
//! - 256 B to echo: the raw typed call; the same async; Caxton's
//!   `request_blocking`.
//!
//! Run with `cargo bench -p caxton-benches --bench ratios`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use caxton::host::raw::request_message;
use caxton::node::SpawnOptions;
use caxton_benches::{Fixture, fresh_spawns, poll_once, raw_echo, raw_store};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ROUNDS: usize = 9;
const SPAWNS: u32 = 5_000;
const KEEP: usize = 500;
const CALLS: u32 = 100_000;

/// Nanoseconds per operation of `n` runs of `op`.
fn per_op(n: u32, mut op: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        op();
    }
    start.elapsed().as_nanos() as f64 / f64::from(n)
}

/// Nanoseconds per spawn into a fresh slot: [`fresh_spawns`] of `SPAWNS`.
fn per_fresh_spawn<T>(spawn: impl FnMut() -> T, clear: impl FnMut(&mut Vec<T>)) -> f64 {
    fresh_spawns(u64::from(SPAWNS), KEEP, spawn, clear).as_nanos() as f64 / f64::from(SPAWNS)
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One row: the medians of each side, and Caxton's ratio to the first two
/// sides (median and range over the rounds).
fn report(row: &str, names: [&str; 3], rounds: &[[f64; 3]], goal: &str) {
    let side = |i: usize| rounds.iter().map(|r| r[i]).collect::<Vec<_>>();
    let ratio = |i: usize| {
        let r: Vec<f64> = rounds.iter().map(|r| r[2] / r[i]).collect();
        let (lo, hi) = r
            .iter()
            .fold((f64::MAX, 0.0f64), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
        format!("{:.2}x ({:.2}-{:.2})", median(&r), lo, hi)
    };
    println!(
        "{row}: {} {:.3} us, {} {:.3} us, {} {:.3} us; Caxton / {}: {} [goal {goal}]; Caxton / {}: {}",
        names[0],
        median(&side(0)) / 1e3,
        names[1],
        median(&side(1)) / 1e3,
        names[2],
        median(&side(2)) / 1e3,
        names[0],
        ratio(0),
        names[1],
        ratio(1),
    );
}

fn main() {
    let f = Fixture::new(2 * KEEP as u32 + 8);
    let engine = f.engine.wasmtime().clone();
    let spawn_agent = || {
        f.node
            .spawn_blocking(&f.plugin, SpawnOptions::default())
            .expect("echo spawns")
    };

    let (mut store, handle) = raw_echo(&f.pre);
    let msg = request_message(vec![b'x'; 256]);
    let agent = spawn_agent();
    let payload = vec![b'x'; 256];

    let (mut warm, mut fresh, mut call) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        eprintln!("round {} of {ROUNDS}", round + 1);
        warm.push([
            per_op(SPAWNS, || {
                let mut store = raw_store(&engine);
                black_box(f.pre.instantiate(&mut store).expect("echo instantiates"));
            }),
            per_op(SPAWNS, || {
                black_box(poll_once(f.raw_agent.spawn_async()).expect("echo spawns"));
            }),
            per_op(SPAWNS, || spawn_agent().kill()),
        ]);
        fresh.push([
            per_fresh_spawn(
                || {
                    let mut store = raw_store(&engine);
                    let instance = f.pre.instantiate(&mut store).expect("echo instantiates");
                    (store, instance)
                },
                Vec::clear,
            ),
            per_fresh_spawn(
                || poll_once(f.raw_agent.spawn_async()).expect("echo spawns"),
                Vec::clear,
            ),
            per_fresh_spawn(spawn_agent, |kept| kept.drain(..).for_each(|a| a.kill())),
        ]);
        call.push([
            per_op(CALLS, || {
                handle
                    .call(&mut store, (black_box(&msg),))
                    .expect("handle runs")
                    .0
                    .expect("echo answers");
            }),
            per_op(CALLS, || {
                poll_once(handle.call_async(&mut store, (black_box(&msg),)))
                    .expect("handle runs")
                    .0
                    .expect("echo answers");
            }),
            per_op(CALLS, || {
                agent
                    .request_blocking(black_box(payload.clone()), Duration::from_secs(5))
                    .expect("echo answers");
            }),
        ]);
    }
    println!("{ROUNDS} rounds, each side in turn; medians, and Caxton's ratio with its range:");
    let spawn_names = ["raw", "raw async + init", "Caxton"];
    report("spawn, warm slot", spawn_names, &warm, "<= 1.5x");
    report("spawn, fresh slot", spawn_names, &fresh, "<= 1.5x");
    report(
        "256 B to echo",
        ["raw typed call", "raw async call", "Caxton request"],
        &call,
        "<= 2x",
    );
}

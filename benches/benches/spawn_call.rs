//! Caxton against plain wasmtime, same component, same engine, same run:
//!
//! - `spawn/raw`: `Store::new` + `InstancePre::instantiate` of the echo
//!   component (with a WASI context, which any WASI embedding must build),
//!   store dropped after;
//! - `spawn/raw_init`: the same plus the component's `init` (which every
//!   agent spawn runs), store dropped after;
//! - `spawn/raw_async_init`: `raw_init` made async (instantiation and
//!   `init` each on a fiber, polled once: it never yields): what any host
//!   that can pre-empt its guests pays;
//! - `spawn/caxton`: `Node::spawn` of the same plugin (instantiate + `init`
//!   + registry), then `kill` (reap);
//! - `spawn_cold/*`: the same, but every instance is kept alive until 500
//!   exist (each lands in a pool slot no instance used before: page faults
//!   included), then all are dropped untimed;
//! - `call/raw`: a typed call of echo's `handle` with a 256-byte request;
//! - `call/raw_async`: the same call made async, on a fiber, as Caxton
//!   makes it;
//! - `call/caxton`: `request` of 256 bytes to a live echo agent (mailbox,
//!   handler, reply routed back to the waiting caller).
//!
//! Both sides run on mimalloc, the allocator `caxton-run` ships with.
//!
//! Run with `cargo bench -p caxton-benches --bench spawn_call`.

use std::hint::black_box;
use std::time::Duration;

use caxton::host::raw::request_message;
use caxton::node::SpawnOptions;
use caxton_benches::{Fixture, fresh_spawns, poll_once, raw_echo, raw_store};
use criterion::{Criterion, criterion_group, criterion_main};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn benches(c: &mut Criterion) {
    let Fixture {
        runtime: _runtime,
        engine: caxton_engine,
        node,
        plugin,
        pre,
        raw_agent,
    } = Fixture::new(1000);
    let engine = caxton_engine.wasmtime().clone();

    let mut spawn = c.benchmark_group("spawn");
    spawn.bench_function("raw", |b| {
        b.iter(|| {
            let mut store = raw_store(&engine);
            black_box(pre.instantiate(&mut store).unwrap());
        })
    });
    // What every agent spawn also does: run the component's `init`.
    spawn.bench_function("raw_init", |b| {
        b.iter(|| black_box(raw_agent.spawn().unwrap()))
    });
    spawn.bench_function("raw_async_init", |b| {
        b.iter(|| black_box(poll_once(raw_agent.spawn_async()).unwrap()))
    });
    spawn.bench_function("caxton", |b| {
        b.iter(|| {
            let agent = node
                .spawn_blocking(&plugin, SpawnOptions::default())
                .unwrap();
            agent.kill();
        })
    });
    spawn.finish();

    // Cold slots: keep each instance, so the next one cannot reuse a warm slot.
    const KEEP: usize = 500;
    let mut cold = c.benchmark_group("spawn_cold");
    cold.bench_function("raw", |b| {
        b.iter_custom(|iters| {
            let spawn = || {
                let mut store = raw_store(&engine);
                let instance = pre.instantiate(&mut store).unwrap();
                (store, instance)
            };
            fresh_spawns(iters, KEEP, spawn, Vec::clear)
        })
    });
    cold.bench_function("raw_init", |b| {
        b.iter_custom(|iters| fresh_spawns(iters, KEEP, || raw_agent.spawn().unwrap(), Vec::clear))
    });
    cold.bench_function("raw_async_init", |b| {
        b.iter_custom(|iters| {
            let spawn = || poll_once(raw_agent.spawn_async()).unwrap();
            fresh_spawns(iters, KEEP, spawn, Vec::clear)
        })
    });
    cold.bench_function("caxton", |b| {
        b.iter_custom(|iters| {
            let spawn = || {
                node.spawn_blocking(&plugin, SpawnOptions::default())
                    .unwrap()
            };
            fresh_spawns(iters, KEEP, spawn, |kept| {
                kept.drain(..).for_each(|a| a.kill())
            })
        })
    });
    cold.finish();

    let mut call = c.benchmark_group("call");
    let (mut store, handle) = raw_echo(&pre);
    let msg = request_message(vec![b'x'; 256]);
    call.bench_function("raw", |b| {
        b.iter(|| {
            handle
                .call(&mut store, (black_box(&msg),))
                .unwrap()
                .0
                .unwrap()
        })
    });
    // The same call made the way Caxton must make it: async, on a fiber
    // (what lets a long handler yield its thread at epoch ticks). Echo's
    // handler never yields, so one poll finishes it.
    call.bench_function("raw_async", |b| {
        b.iter(|| {
            poll_once(handle.call_async(&mut store, (black_box(&msg),)))
                .unwrap()
                .0
                .unwrap()
        })
    });
    let agent = node
        .spawn_blocking(&plugin, SpawnOptions::default())
        .unwrap();
    let payload = vec![b'x'; 256];
    call.bench_function("caxton", |b| {
        b.iter(|| {
            agent
                .request_blocking(black_box(payload.clone()), Duration::from_secs(5))
                .unwrap()
        })
    });
    call.finish();
}

criterion_group! {
    name = spawn_call;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = benches
}
criterion_main!(spawn_call);

//! `calls SIDE N`: N calls of 256 B to echo, on one side only, for counting
//! instructions: `benches/instructions.sh` runs it under valgrind's
//! callgrind, collecting inside [`calls`] alone, so start-up (compiling the
//! component, spawning) does not count. An instruction count does not
//! move with the machine's noise the way a time does.
//!
//! SIDE is `raw` (the typed call of plain wasmtime), `async` (the same
//! call on a fiber) or `caxton` (`request_blocking`).
//!
//! The engine is `compact` because valgrind cannot reserve the address
//! space of guarded memories; the guest code is the same on all sides.

use std::hint::black_box;
use std::time::Duration;

use caxton::host::raw::request_message;
use caxton::host::{EngineOptions, MemoryLayout};
use caxton::node::SpawnOptions;
use caxton_benches::{Fixture, poll_once, raw_echo};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: calls raw|async|caxton N";
    let side = args.next().expect(usage);
    let n: u32 = args.next().and_then(|n| n.parse().ok()).expect(usage);
    let f = Fixture::with(EngineOptions {
        max_agents: 4,
        max_memory: 64 << 20,
        memory_layout: MemoryLayout::Compact,
        ..EngineOptions::default()
    });
    let agent = f
        .node
        .spawn_blocking(&f.plugin, SpawnOptions::default())
        .expect("echo spawns");
    let (mut store, handle) = raw_echo(&f.pre);
    let msg = request_message(vec![b'x'; 256]);
    let payload = vec![b'x'; 256];
    let mut call = || -> Result<Result<(), String>, wasmtime::Error> {
        match side.as_str() {
            "raw" => handle.call(&mut store, (black_box(&msg),)).map(|r| r.0),
            "async" => poll_once(handle.call_async(&mut store, (black_box(&msg),))).map(|r| r.0),
            "caxton" => {
                let reply =
                    agent.request_blocking(black_box(payload.clone()), Duration::from_secs(5));
                Ok(reply.map(drop).map_err(|e| e.to_string()))
            }
            other => panic!("{usage} (not `{other}`)"),
        }
    };
    // One call outside the counted loop: the first call of a store pays
    // once (its fiber stack, lazily initialised tables).
    call().expect("the call runs").expect("echo answers");
    calls(n, &mut call);
}

/// The counted region: `instructions.sh` has callgrind collect only
/// inside this function, so what the process does besides (compiling the
/// component on however many threads, spawning) cannot leak into the
/// count.
#[inline(never)]
fn calls(n: u32, call: &mut impl FnMut() -> Result<Result<(), String>, wasmtime::Error>) {
    for _ in 0..n {
        call().expect("the call runs").expect("echo answers");
    }
}

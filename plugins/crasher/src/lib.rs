//! `crasher`: misbehaves on command, to show that one agent's failure stays
//! its own. Payloads: `ok` (replies "ok"), `err` (a handled error), `trap`
//! (wasm `unreachable`), `panic`, `loop` (spins forever: the deadline must
//! cut it), `overflow` (unbounded recursion: wasmtime's native stack limit),
//! `deep-frames` (recursion with big frames: exhausts the shadow stack Rust
//! keeps in linear memory, which surfaces as an out-of-bounds access).
//! `bomb` (allocates until the memory limit stops it), `huge-output`
//! (replies 4 MiB: over the default message limit), `flood` (sends to itself
//! until the host refuses, then replies how many it sent), `sleep` (blocks
//! in a WASI sleep for an hour), `noop` (does nothing).
//! For recovery tests it also keeps a count in persistent state: `count`
//! adds one and replies the count, `get` replies it, `count-then-trap` adds
//! one and then traps (the write must not survive).

use caxton_sdk::{Agent, Message, host};
use std::hint::black_box;

struct Crasher;

fn count() -> u64 {
    host::state_get("count")
        .and_then(|b| b.try_into().ok())
        .map(u64::from_le_bytes)
        .unwrap_or(0)
}

fn add_one() -> u64 {
    let n = count() + 1;
    host::state_set("count", Some(&n.to_le_bytes()));
    n
}

/// Recursion the optimiser cannot turn into a loop (the result is combined
/// after the call), with no address-taken locals: only the native stack grows.
#[inline(never)]
fn deep(n: u64, limit: u64) -> u64 {
    if n >= limit {
        return n;
    }
    deep(n + 1, limit).rotate_left(1) ^ n
}

/// Recursion with a 128-byte frame in linear memory per call.
fn recurse(depth: u64) -> u64 {
    let frame = black_box([depth; 16]);
    // `black_box(true)` hides from rustc that this never stops recursing.
    if black_box(true) {
        black_box(recurse(depth + 1)) + frame[depth as usize % 16]
    } else {
        frame[0]
    }
}

impl Agent for Crasher {
    fn init(_config: &str) -> Result<Self, String> {
        Ok(Crasher)
    }

    fn handle(&mut self, msg: Message) -> Result<(), String> {
        match msg.payload.as_slice() {
            b"ok" => caxton_sdk::reply(&msg, b"ok".to_vec()),
            b"count" => caxton_sdk::reply(&msg, add_one().to_string().into_bytes()),
            b"get" => caxton_sdk::reply(&msg, count().to_string().into_bytes()),
            b"count-then-trap" => {
                add_one();
                core::arch::wasm32::unreachable()
            }
            b"err" => Err("crasher was asked to fail".to_string()),
            b"trap" => core::arch::wasm32::unreachable(),
            b"panic" => panic!("crasher was asked to panic"),
            b"loop" => {
                let mut i = 0u64;
                loop {
                    i = black_box(i.wrapping_add(1));
                }
            }
            b"overflow" => {
                let depth = deep(0, u64::MAX);
                caxton_sdk::reply(&msg, depth.to_string().into_bytes())
            }
            b"bomb" => {
                let mut held: Vec<Vec<u8>> = Vec::new();
                loop {
                    let mut block = vec![0u8; 1 << 20];
                    block[0] = 1;
                    held.push(black_box(block));
                }
            }
            b"huge-output" => caxton_sdk::reply(&msg, vec![7u8; 4 << 20]),
            b"flood" => {
                let me = host::self_id();
                let mut sent = 0u64;
                while caxton_sdk::send(&me, b"noop".to_vec()).is_ok() {
                    sent += 1;
                }
                caxton_sdk::reply(&msg, sent.to_string().into_bytes())
            }
            b"sleep" => {
                std::thread::sleep(std::time::Duration::from_secs(3600));
                caxton_sdk::reply(&msg, b"woke".to_vec())
            }
            b"noop" => Ok(()),
            b"deep-frames" => {
                let depth = recurse(0);
                caxton_sdk::reply(&msg, depth.to_string().into_bytes())
            }
            other => Err(format!(
                "unknown command `{}` (ok, err, trap, panic, loop, overflow, deep-frames, bomb, huge-output, flood, sleep, noop, count, get, count-then-trap)",
                String::from_utf8_lossy(other)
            )),
        }
    }
}

caxton_sdk::export_agent!(Crasher);

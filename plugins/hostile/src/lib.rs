//! `hostile`: an agent that attacks the host through the `caxton:agent`
//! world itself, written without the SDK. Each request payload is a
//! command; most reply with what the host let them do.
//!
//! `init` config: `loop` (spins forever), `sleep` (blocks in a WASI sleep),
//! `host-loop` (calls the host forever), anything else starts normally.
//!
//! Commands:
//! - `batch-loop`: spins forever inside `handle-batch` (never returns), or
//!   in `handle` when it comes alone;
//! - `pause N`: spins for N ms (so the messages sent meanwhile queue up
//!   and arrive as one batch);
//! - `loop`: spins forever in `handle`;
//! - `host-loop`: calls `state-get` on a large value forever (the time is
//!   all in host calls);
//! - `send-big`: sends 1 MiB messages to itself until refused; replies the
//!   count and the refusal;
//! - `amplify`: sends itself fifteen 256 KiB informs per message it handles;
//! - `flood-to NAME`: sends NAME fifteen 256 KiB informs, and itself a
//!   message to do it again (so NAME's mailbox fills while NAME is busy);
//! - `state-keys N`, `state-big`, `state-deletes`: state writes until the
//!   host stops it (many keys of N + a few bytes, big values, deletes of
//!   absent keys);
//! - `log-flood N`: logs N lines of 4 KiB; replies N;
//! - `forward-self`: forwards the request to itself (a forwarding loop);
//! - `spoof ADDR`: sends to ADDR; replies `ok` or `refused: REASON`;
//! - `spoof-long N`: sends to an address of N bytes;
//! - `long-error N`: fails the request with a reason of N bytes;
//! - `reply-blob N`: replies N bytes of 0xFF (not UTF-8);
//! - `echo ...`: replies the payload;
//! - WASI escapes (`read PATH`, `list PATH`, `write PATH TEXT`, `remove`,
//!   `symlink`, `env`, `clock`, `connect ADDR`): see `wasi.rs`; replies
//!   what it got, or `denied: <error>`.

#[allow(clippy::all)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "caxton:agent/agent",
        pub_export_macro: true,
        default_bindings_module: "bindings",
    });
}

use bindings::caxton::agent::host;
use bindings::caxton::agent::types::{HandleFailure, Kind, Level, Message, Outgoing};
use bindings::{Guest, export};
use std::hint::black_box;

mod wasi;

struct Hostile;

fn spin() -> ! {
    let mut i = 0u64;
    loop {
        i = black_box(i.wrapping_add(1));
    }
}

fn outgoing(kind: Kind, payload: Vec<u8>) -> Outgoing {
    Outgoing {
        kind,
        conversation: None,
        payload,
    }
}

fn reply(msg: &Message, payload: Vec<u8>) -> Result<(), String> {
    host::reply(msg.id, &outgoing(Kind::Reply, payload))
}

fn number(arg: &str) -> usize {
    arg.trim().parse().unwrap_or(0)
}

fn handle(msg: Message) -> Result<(), String> {
    let text = String::from_utf8_lossy(&msg.payload).into_owned();
    if let Some(result) = wasi::run(&text) {
        let answer = result.unwrap_or_else(|e| format!("denied: {e}"));
        return reply(&msg, answer.into_bytes());
    }
    let (verb, arg) = text.split_once(' ').unwrap_or((&text, ""));
    match verb {
        "loop" | "batch-loop" => spin(),
        "pause" => {
            let until = host::now() + number(arg) as u64 * 1_000_000;
            while host::now() < until {
                black_box(0);
            }
            Ok(())
        }
        "host-loop" => {
            host::state_set("big", Some(&vec![1u8; 256 << 10]));
            loop {
                black_box(host::state_get("big"));
            }
        }
        "send-big" => {
            let me = host::self_id();
            let big = vec![7u8; 1 << 20];
            let mut sent = 0u64;
            let refusal = loop {
                match host::send(&me, &outgoing(Kind::Inform, big.clone())) {
                    Ok(()) => sent += 1,
                    Err(e) => break e,
                }
            };
            reply(
                &msg,
                format!("sent {sent}; refused: {refusal}").into_bytes(),
            )
        }
        "flood-to" => {
            // Fills another agent's mailbox: fifteen 256 KiB informs to it
            // (as many as one call's budget takes), and a small inform to
            // itself to do it again.
            let mut copy = b"inert ".to_vec();
            copy.resize(256 << 10, b'.');
            for _ in 0..15 {
                if host::send(arg, &outgoing(Kind::Inform, copy.clone())).is_err() {
                    break;
                }
            }
            let again = format!("flood-to {arg}").into_bytes();
            host::send(&host::self_id(), &outgoing(Kind::Inform, again))?;
            if msg.kind == Kind::Request {
                reply(&msg, b"flooding".to_vec())?;
            }
            Ok(())
        }
        "inert" => Ok(()),
        "amplify" => {
            let me = host::self_id();
            let mut copy = b"amplify ".to_vec();
            copy.resize(256 << 10, b'.');
            // Fifteen copies: as many as one call's budget takes (a 16 MiB
            // agent's is 4 MiB), so the mailbox fills at once.
            for _ in 0..15 {
                host::send(&me, &outgoing(Kind::Inform, copy.clone()))?;
            }
            if msg.kind == Kind::Request {
                reply(&msg, b"amplifying".to_vec())?;
            }
            Ok(())
        }
        "state-keys" => {
            let pad = "k".repeat(number(arg));
            for i in 0u64.. {
                host::state_set(&format!("{pad}{i}"), Some(b"v"));
            }
            unreachable!()
        }
        "state-big" => {
            let value = vec![3u8; 1 << 20];
            for i in 0u64.. {
                host::state_set(&format!("big{i}"), Some(&value));
            }
            unreachable!()
        }
        "state-deletes" => {
            let key = "d".repeat(1000);
            for i in 0u64.. {
                host::state_set(&format!("{key}{i}"), None);
            }
            unreachable!()
        }
        "log-flood" => {
            let n = number(arg);
            let line = "L".repeat(4096);
            for _ in 0..n {
                host::log(Level::Info, &line);
            }
            reply(&msg, n.to_string().into_bytes())
        }
        "forward-self" => host::forward(
            msg.id,
            &host::self_id(),
            &outgoing(Kind::Request, msg.payload.clone()),
        ),
        "spoof" => {
            let answer = match host::send(arg, &outgoing(Kind::Inform, b"spoofed".to_vec())) {
                Ok(()) => "ok".to_string(),
                Err(e) => format!("refused: {e}"),
            };
            reply(&msg, answer.into_bytes())
        }
        "spoof-long" => {
            let to = "x".repeat(number(arg));
            let answer = match host::send(&to, &outgoing(Kind::Inform, b"spoofed".to_vec())) {
                Ok(()) => "ok".to_string(),
                Err(e) => format!("refused: {e}"),
            };
            reply(&msg, answer.into_bytes())
        }
        "long-error" => Err("E".repeat(number(arg))),
        "reply-blob" => reply(&msg, vec![0xFF; number(arg)]),
        "echo" => reply(&msg, msg.payload.clone()),
        other => Err(format!("unknown command `{other}`")),
    }
}

impl Guest for Hostile {
    fn init(config: String) -> Result<(), String> {
        match config.as_str() {
            "loop" => spin(),
            "sleep" => {
                std::thread::sleep(std::time::Duration::from_secs(3600));
                Ok(())
            }
            "host-loop" => loop {
                black_box(host::now());
            },
            _ => Ok(()),
        }
    }

    fn handle(msg: Message) -> Result<(), String> {
        handle(msg)
    }

    fn handle_batch(batch: Vec<Message>) -> Vec<HandleFailure> {
        if batch.iter().any(|m| m.payload == b"batch-loop") {
            spin();
        }
        batch
            .into_iter()
            .filter_map(|m| {
                let id = m.id;
                handle(m).err().map(|reason| HandleFailure { id, reason })
            })
            .collect()
    }
}

export!(Hostile);

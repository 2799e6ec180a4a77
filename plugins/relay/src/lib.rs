//! `relay`: passes messages on to the next hop named by its `config`.
//! A request is forwarded (the next hop's reply goes straight back to the
//! original requester); an inform is sent on. With an empty config it is the
//! end of the line and answers requests itself, like `echo`.
//!
//! A payload starting `hops=N;` bounds the trip, for conversations whose
//! hops lead back to the start (ping-pong A<->B, a ring A->B->C->A): each
//! relay passes it on with N - 1, and the one that receives `hops=0;`
//! answers (with the payload as it arrived). That reply still goes straight
//! to the original requester.

use caxton_sdk::{Agent, Kind, Message, Outgoing, host};

struct Relay {
    next: String,
}

impl Agent for Relay {
    fn init(config: &str) -> Result<Self, String> {
        Ok(Relay {
            next: config.trim().to_string(),
        })
    }

    fn handle(&mut self, mut msg: Message) -> Result<(), String> {
        let hops = hops(&msg.payload);
        if let Some((0, _)) = hops {
            if msg.kind == Kind::Request {
                caxton_sdk::reply(&msg, msg.payload.clone())?;
            }
            return Ok(());
        }
        if let Some((n, rest)) = hops {
            let mut onward = format!("hops={};", n - 1).into_bytes();
            onward.extend_from_slice(&msg.payload[rest..]);
            msg.payload = onward;
        }
        if self.next.is_empty() {
            if msg.kind == Kind::Request {
                caxton_sdk::reply(&msg, msg.payload.clone())?;
            }
            return Ok(());
        }
        let onward = Outgoing {
            kind: msg.kind,
            conversation: msg.conversation,
            payload: msg.payload,
        };
        match msg.kind {
            Kind::Request => host::forward(msg.id, &self.next, &onward),
            Kind::Inform => host::send(&self.next, &onward),
            Kind::Reply | Kind::Failure => Ok(()),
        }
    }
}

/// `hops=N;` at the start of `payload`: N and where the rest begins.
fn hops(payload: &[u8]) -> Option<(u64, usize)> {
    let rest = payload.strip_prefix(b"hops=")?;
    let end = rest.iter().position(|b| *b == b';')?;
    let n = std::str::from_utf8(&rest[..end]).ok()?.parse().ok()?;
    Some((n, 5 + end + 1))
}

caxton_sdk::export_agent!(Relay);

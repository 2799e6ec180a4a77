//! `streamer`: consumes a token stream, one token per message, the way an
//! agent consumes a model's streamed output: each token is checked as UTF-8,
//! folded into a running digest, and appended to the transcript it keeps
//! (the memory a long stream costs). A request is answered with the token
//! count so far; the payload `end` answers `<tokens> <bytes> <digest>` and
//! starts a new stream (freeing the transcript).

use caxton_sdk::{Agent, Kind, Message};

struct Streamer {
    tokens: u64,
    transcript: String,
    digest: u64,
}

/// FNV-1a, continued from `hash` over `bytes`.
fn fold(mut hash: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x100_0000_01b3);
    }
    hash
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

impl Agent for Streamer {
    fn init(_config: &str) -> Result<Self, String> {
        Ok(Streamer {
            tokens: 0,
            transcript: String::new(),
            digest: FNV_OFFSET,
        })
    }

    fn handle(&mut self, msg: Message) -> Result<(), String> {
        if msg.payload == b"end" {
            let summary = format!(
                "{} {} {:016x}",
                self.tokens,
                self.transcript.len(),
                self.digest
            );
            *self = Streamer::init("")?;
            if msg.kind == Kind::Request {
                caxton_sdk::reply(&msg, summary.into_bytes())?;
            }
            return Ok(());
        }
        let token =
            std::str::from_utf8(&msg.payload).map_err(|e| format!("not a UTF-8 token: {e}"))?;
        self.tokens += 1;
        self.digest = fold(self.digest, token.as_bytes());
        self.transcript.push_str(token);
        if msg.kind == Kind::Request {
            caxton_sdk::reply(&msg, self.tokens.to_string().into_bytes())?;
        }
        Ok(())
    }
}

caxton_sdk::export_agent!(Streamer);

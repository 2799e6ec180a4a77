//! `counter`: counts the messages it handles in persistent state (`count`),
//! so the count survives restarts. Payload `get` reads without counting;
//! requests are answered with the count in decimal.

use caxton_sdk::{Agent, Kind, Message, host};

const KEY: &str = "count";

struct Counter;

fn load() -> u64 {
    host::state_get(KEY)
        .and_then(|bytes| bytes.try_into().ok())
        .map(u64::from_le_bytes)
        .unwrap_or(0)
}

impl Agent for Counter {
    fn init(_config: &str) -> Result<Self, String> {
        Ok(Counter)
    }

    fn handle(&mut self, msg: Message) -> Result<(), String> {
        let mut count = load();
        if msg.payload != b"get" {
            count += 1;
            host::state_set(KEY, Some(&count.to_le_bytes()));
        }
        if msg.kind == Kind::Request {
            caxton_sdk::reply(&msg, count.to_string().into_bytes())?;
        }
        Ok(())
    }
}

caxton_sdk::export_agent!(Counter);

//! `echo`: answers every request with its own payload. The smallest agent,
//! and the template for writing one: call overhead, latency, throughput.

use caxton_sdk::{Agent, Kind, Message};

struct Echo;

impl Agent for Echo {
    fn init(_config: &str) -> Result<Self, String> {
        Ok(Echo)
    }

    fn handle(&mut self, msg: Message) -> Result<(), String> {
        if msg.kind == Kind::Request {
            caxton_sdk::reply(&msg, msg.payload.clone())?;
        }
        Ok(())
    }
}

caxton_sdk::export_agent!(Echo);

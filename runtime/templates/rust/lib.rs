//! `{{name}}`: a Caxton agent. It answers every request with its payload
//! and counts the messages it has handled in its persistent state; edit
//! `handle` to make it yours.

use caxton_sdk::{Agent, Kind, Message};

struct {{type}} {
    /// The spawn's config (JSON when a script passes a map, "" for none).
    config: String,
}

impl Agent for {{type}} {
    fn init(config: &str) -> Result<Self, String> {
        Ok({{type}} {
            config: config.to_string(),
        })
    }

    fn handle(&mut self, msg: Message) -> Result<(), String> {
        let handled = caxton_sdk::state::get("handled")
            .and_then(|v| String::from_utf8(v).ok()?.parse::<u64>().ok())
            .unwrap_or(0);
        caxton_sdk::state::set("handled", (handled + 1).to_string().into_bytes());
        if msg.payload == b"config" {
            return caxton_sdk::reply(&msg, self.config.clone().into_bytes());
        }
        if msg.kind == Kind::Request {
            caxton_sdk::reply(&msg, msg.payload.clone())?;
        }
        Ok(())
    }
}

caxton_sdk::export_agent!({{type}});

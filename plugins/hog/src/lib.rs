//! `hog`: allocates memory on command, to exercise per-agent memory limits.
//! Payload `alloc N` allocates N bytes, touches every page and keeps them;
//! `free` releases everything. Requests get the bytes held in decimal.
//! Going over the agent's memory limit fails the agent (the host denies the
//! `memory.grow`).

use caxton_sdk::{Agent, Message};

struct Hog {
    held: Vec<Vec<u8>>,
}

impl Hog {
    fn total(&self) -> usize {
        self.held.iter().map(Vec::len).sum()
    }
}

impl Agent for Hog {
    fn init(_config: &str) -> Result<Self, String> {
        Ok(Hog { held: Vec::new() })
    }

    fn handle(&mut self, msg: Message) -> Result<(), String> {
        let command = std::str::from_utf8(&msg.payload).map_err(|e| e.to_string())?;
        match command.split_once(' ') {
            Some(("alloc", n)) => {
                let n: usize = n.trim().parse().map_err(|e| format!("alloc: {e}"))?;
                let mut block = vec![0u8; n];
                for byte in block.iter_mut().step_by(4096) {
                    *byte = 1;
                }
                self.held.push(block);
            }
            None if command == "free" => self.held.clear(),
            _ => return Err(format!("unknown command `{command}` (alloc N, free)")),
        }
        caxton_sdk::reply(&msg, self.total().to_string().into_bytes())
    }
}

caxton_sdk::export_agent!(Hog);

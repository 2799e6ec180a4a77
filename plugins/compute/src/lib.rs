//! `compute`: runs a CPU kernel from `caxton-kernels` on request; the host
//! runs the same kernel natively, so their ratio is the WASM overhead.
//! Payload: `<kernel> <n>` (see `caxton_kernels::run`); the reply is the
//! kernel's checksum in decimal.

use caxton_sdk::{Agent, Message};

struct Compute;

impl Agent for Compute {
    fn init(_config: &str) -> Result<Self, String> {
        Ok(Compute)
    }

    fn handle(&mut self, msg: Message) -> Result<(), String> {
        let command = std::str::from_utf8(&msg.payload).map_err(|e| e.to_string())?;
        let checksum = caxton_kernels::run(command)?;
        caxton_sdk::reply(&msg, checksum.to_string().into_bytes())
    }
}

caxton_sdk::export_agent!(Compute);

//! `relay`: passes messages on to the next hop named by its `config`.
//! A request is forwarded (the next hop's reply goes straight back to the
//! original requester); an inform is sent on. With an empty config it is the
//! end of the line and answers requests itself, like `echo`.

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

    fn handle(&mut self, msg: Message) -> Result<(), String> {
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

caxton_sdk::export_agent!(Relay);

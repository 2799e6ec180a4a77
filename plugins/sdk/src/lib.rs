//! Write a Caxton agent in Rust.
//!
//! Implement [`Agent`] for a type and call [`export_agent!`] once; the SDK
//! generates the component's exports from `wit/agent.wit`, keeps your agent
//! value between calls, and turns the node's batched deliveries
//! (`handle-batch`) into one [`Agent::handle`] call per message, so a simple
//! agent never sees batches.
//!
//! ```ignore
//! use caxton_sdk::{Agent, Message};
//!
//! struct Echo;
//!
//! impl Agent for Echo {
//!     fn init(_config: &str) -> Result<Self, String> {
//!         Ok(Echo)
//!     }
//!     fn handle(&mut self, msg: Message) -> Result<(), String> {
//!         caxton_sdk::reply(&msg, msg.payload.clone())
//!     }
//! }
//!
//! caxton_sdk::export_agent!(Echo);
//! ```
//!
//! Build with `cargo build --release --target wasm32-wasip2`; the `.wasm` in
//! `target/wasm32-wasip2/release/` is the component `plugin("path")` loads.

/// The bindings generated from `wit/agent.wit` (the one source of the contract).
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "caxton:agent/agent",
        pub_export_macro: true,
        default_bindings_module: "caxton_sdk::bindings",
    });
}

pub use bindings::caxton::agent::host;
pub use bindings::caxton::agent::types::{HandleFailure, Kind, Level, Message, Outgoing};

/// An agent: created by `init`, then handed every message addressed to it.
pub trait Agent: Sized + 'static {
    /// Builds the agent from the spawn's `config` string (JSON when the
    /// script passed a map, "" when it passed nothing). An error fails the spawn.
    fn init(config: &str) -> Result<Self, String>;

    /// Handles one message. An `Err` answers a waiting request with the
    /// reason and keeps the agent alive; a panic or trap fails the agent.
    fn handle(&mut self, msg: Message) -> Result<(), String>;
}

/// Replies to `msg` with `payload` (kind `reply`, same conversation).
pub fn reply(msg: &Message, payload: Vec<u8>) -> Result<(), String> {
    host::reply(
        msg.id,
        &Outgoing {
            kind: Kind::Reply,
            conversation: msg.conversation,
            payload,
        },
    )
}

/// Sends `payload` to the agent `to` as an `inform`.
pub fn send(to: &str, payload: Vec<u8>) -> Result<(), String> {
    host::send(
        to,
        &Outgoing {
            kind: Kind::Inform,
            conversation: None,
            payload,
        },
    )
}

/// The agent's persistent state: bytes by key, kept by the node (and in its
/// data dir when it is durable). Writes take effect when the handler returns.
pub mod state {
    /// The value of `key`, if set.
    pub fn get(key: &str) -> Option<Vec<u8>> {
        super::host::state_get(key)
    }

    /// Sets `key` to `value` (over the agent's state budget the call traps).
    pub fn set(key: &str, value: Vec<u8>) {
        super::host::state_set(key, Some(&value));
    }

    /// Deletes `key`.
    pub fn delete(key: &str) {
        super::host::state_set(key, None);
    }
}

/// Logs `text` at `level` through the node's log, tagged with this agent.
pub fn log(level: Level, text: &str) {
    host::log(level, text);
}

/// Runs `handle` over a batch in order and collects the failures; used by
/// [`export_agent!`], public so hand-written exports can share it.
pub fn handle_batch<A: Agent>(agent: &mut A, batch: Vec<Message>) -> Vec<HandleFailure> {
    let mut failures = Vec::new();
    for msg in batch {
        let id = msg.id;
        if let Err(reason) = agent.handle(msg) {
            failures.push(HandleFailure { id, reason });
        }
    }
    failures
}

/// Exports `$agent` (a type implementing [`Agent`]) as this component's agent.
#[macro_export]
macro_rules! export_agent {
    ($agent:ty) => {
        const _: () = {
            struct Component;

            ::std::thread_local! {
                static AGENT: ::core::cell::RefCell<::core::option::Option<$agent>> =
                    const { ::core::cell::RefCell::new(::core::option::Option::None) };
            }

            fn with_agent<R>(
                f: impl FnOnce(&mut $agent) -> R,
            ) -> ::core::result::Result<R, String> {
                AGENT.with(|cell| match cell.borrow_mut().as_mut() {
                    ::core::option::Option::Some(agent) => ::core::result::Result::Ok(f(agent)),
                    ::core::option::Option::None => {
                        ::core::result::Result::Err("agent called before init".to_string())
                    }
                })
            }

            impl $crate::bindings::Guest for Component {
                fn init(config: String) -> ::core::result::Result<(), String> {
                    let agent = <$agent as $crate::Agent>::init(&config)?;
                    AGENT.with(|cell| *cell.borrow_mut() = ::core::option::Option::Some(agent));
                    ::core::result::Result::Ok(())
                }

                fn handle(msg: $crate::Message) -> ::core::result::Result<(), String> {
                    with_agent(|agent| $crate::Agent::handle(agent, msg))?
                }

                fn handle_batch(batch: Vec<$crate::Message>) -> Vec<$crate::HandleFailure> {
                    let ids: Vec<u64> = batch.iter().map(|m| m.id).collect();
                    match with_agent(|agent| $crate::handle_batch(agent, batch)) {
                        ::core::result::Result::Ok(failures) => failures,
                        ::core::result::Result::Err(reason) => ids
                            .into_iter()
                            .map(|id| $crate::HandleFailure {
                                id,
                                reason: reason.clone(),
                            })
                            .collect(),
                    }
                }
            }

    $crate::bindings::export!(Component with_types_in $crate::bindings);
        };
    };
}

//! The host functions an agent imports (`caxton:agent/host`).
//!
//! Guest arguments are hostile: sizes are checked, ids must name a message
//! of the batch in progress, and nothing takes effect before the call
//! returns (the node applies [`Effects`](crate::core::envelope::Effects)).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::bindings::caxton::agent::{host, types};
use super::ctx::AgentCtx;
use crate::core::address::Address;
use crate::core::budget::{self, ENTRY, LogVerdict, MAX_EFFECTS, MAX_KEY, MAX_STATE_KEYS};
use crate::core::envelope::{Kind, Outgoing};
use crate::core::failure::Failure;

impl From<types::Kind> for Kind {
    fn from(kind: types::Kind) -> Self {
        match kind {
            types::Kind::Request => Kind::Request,
            types::Kind::Inform => Kind::Inform,
            types::Kind::Reply => Kind::Reply,
            types::Kind::Failure => Kind::Failure,
        }
    }
}

impl From<Kind> for types::Kind {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::Request => types::Kind::Request,
            Kind::Inform => types::Kind::Inform,
            Kind::Reply => types::Kind::Reply,
            Kind::Failure => types::Kind::Failure,
        }
    }
}

impl AgentCtx {
    /// Checks a message the agent wants to send and charges what the host
    /// will hold for it (`extra`: its address) to the call's budget.
    fn check_outgoing(
        &mut self,
        what: &'static str,
        msg: &types::Outgoing,
        extra: usize,
    ) -> Result<(), String> {
        if msg.payload.len() > self.limits.max_message {
            return Err(format!(
                "payload of {} bytes is over this agent's message limit of {} bytes",
                msg.payload.len(),
                self.limits.max_message
            ));
        }
        let effects = &self.effects;
        if effects.sends.len() + effects.replies.len() + effects.forwards.len() >= MAX_EFFECTS {
            return Err(format!(
                "more than {MAX_EFFECTS} messages sent while handling one call"
            ));
        }
        self.held
            .charge(what, msg.payload.len() + extra + ENTRY)
            .map_err(|e| e.to_string())
    }

    /// Marks `request` answered; errors if it is not being handled or was answered.
    fn answer(&mut self, request: u64) -> Result<(), String> {
        match self.batch.iter_mut().find(|(id, _)| *id == request) {
            None => Err(format!("no message with id {request} is being handled")),
            Some((_, true)) => Err(format!(
                "message {request} was already answered or forwarded"
            )),
            Some((_, answered)) => {
                *answered = true;
                Ok(())
            }
        }
    }

    /// Parses `to` and asks the node whether the agent may address it.
    fn address(&self, to: &str) -> Result<Address, String> {
        let address = Address::parse(to).map_err(|e| e.to_string())?;
        self.reach.check(&address).map_err(|e| e.to_string())?;
        Ok(address)
    }
}

/// The host's monotonic clock: what `now` returns, and the log limiter's time.
fn since_start() -> Duration {
    static BASE: OnceLock<Instant> = OnceLock::new();
    BASE.get_or_init(Instant::now).elapsed()
}

/// A trap that fails the call with a budget reason.
fn over(e: budget::OverBudget) -> wasmtime::Error {
    wasmtime::Error::new(Failure::Budget(e))
}

impl types::Host for AgentCtx {}

impl host::Host for AgentCtx {
    fn send(&mut self, to: String, msg: types::Outgoing) -> wasmtime::Result<Result<(), String>> {
        let checked = self.address(&to).and_then(|to| {
            self.check_outgoing("send", &msg, to.bytes())?;
            Ok(to)
        });
        Ok(checked.map(|to| {
            self.effects.sends.push((
                to,
                Outgoing {
                    kind: msg.kind.into(),
                    conversation: msg.conversation,
                    payload: msg.payload,
                },
            ));
        }))
    }

    fn reply(
        &mut self,
        request: u64,
        msg: types::Outgoing,
    ) -> wasmtime::Result<Result<(), String>> {
        let checked = self
            .check_outgoing("reply", &msg, 0)
            .and_then(|()| self.answer(request));
        Ok(checked.map(|()| {
            self.effects.replies.push((
                request,
                Outgoing {
                    kind: msg.kind.into(),
                    conversation: msg.conversation,
                    payload: msg.payload,
                },
            ));
        }))
    }

    fn forward(
        &mut self,
        request: u64,
        to: String,
        msg: types::Outgoing,
    ) -> wasmtime::Result<Result<(), String>> {
        let checked = self.address(&to).and_then(|to| {
            self.check_outgoing("forward", &msg, to.bytes())?;
            self.answer(request)?;
            Ok(to)
        });
        Ok(checked.map(|to| {
            let out = Outgoing {
                kind: msg.kind.into(),
                conversation: msg.conversation,
                payload: msg.payload,
            };
            self.effects.forwards.push((request, to, out));
        }))
    }

    fn log(&mut self, level: types::Level, text: String) -> wasmtime::Result<()> {
        let text = budget::clamp_text(&text);
        let (verdict, rate) = {
            let mut log = self.log.lock().unwrap();
            (log.admit(since_start(), text.len()), log.rate())
        };
        let agent = &*self.name;
        match verdict {
            LogVerdict::Drop { first: true } => {
                tracing::warn!(
                    target: "caxton::agent",
                    agent,
                    "over its log rate ({} lines, {} bytes per second): dropping its lines",
                    rate.lines,
                    rate.bytes
                );
                return Ok(());
            }
            LogVerdict::Drop { first: false } => return Ok(()),
            LogVerdict::WriteAfterDrops { dropped } => {
                tracing::warn!(target: "caxton::agent", agent, "{dropped} log lines dropped over its rate");
            }
            LogVerdict::Write => {}
        }
        match level {
            types::Level::Trace => tracing::trace!(target: "caxton::agent", agent, "{text}"),
            types::Level::Debug => tracing::debug!(target: "caxton::agent", agent, "{text}"),
            types::Level::Info => tracing::info!(target: "caxton::agent", agent, "{text}"),
            types::Level::Warn => tracing::warn!(target: "caxton::agent", agent, "{text}"),
            types::Level::Error => tracing::error!(target: "caxton::agent", agent, "{text}"),
        }
        Ok(())
    }

    fn now(&mut self) -> wasmtime::Result<u64> {
        Ok(since_start().as_nanos() as u64)
    }

    fn self_id(&mut self) -> wasmtime::Result<String> {
        Ok(self.name.to_string())
    }

    fn state_get(&mut self, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        if let Some(pending) = self.overlay.get(&key) {
            return Ok(pending.clone());
        }
        Ok(self.state.lock().unwrap().get(&key).cloned())
    }

    /// Charges a write (or delete) to the call's budget while it is
    /// pending, and to the state's budget and key count for after the
    /// commit, before anything is kept. Over either, the call traps with
    /// the reason (this import has no error result to return it in).
    fn state_set(&mut self, key: String, value: Option<Vec<u8>>) -> wasmtime::Result<()> {
        if key.len() > MAX_KEY {
            wasmtime::bail!(
                "state key of {} bytes is over the limit of {MAX_KEY} bytes",
                key.len()
            );
        }
        let size = |v: &Option<Vec<u8>>| v.as_ref().map(|v| key.len() + v.len() + ENTRY);
        let held = |v: &Option<Vec<u8>>| key.len() + ENTRY + v.as_ref().map_or(0, Vec::len);
        let (before, pending_before) = match self.overlay.get(&key) {
            Some(pending) => (size(pending), Some(held(pending))),
            None => {
                let state = self.state.lock().unwrap();
                (state.get(&key).map(|v| key.len() + v.len() + ENTRY), None)
            }
        };
        let after = size(&value);
        let (bytes, keys) = self.state_pending;
        let bytes = bytes - before.unwrap_or(0) + after.unwrap_or(0);
        let keys = keys - usize::from(before.is_some()) + usize::from(after.is_some());
        if after > before && bytes > self.budget.state {
            return Err(over(budget::OverBudget {
                what: "state write",
                budget: "state",
                unit: "bytes",
                would: bytes,
                limit: self.budget.state,
            }));
        }
        if keys > MAX_STATE_KEYS && after.is_some() && before.is_none() {
            return Err(over(budget::OverBudget {
                what: "state write",
                budget: "state",
                unit: "keys",
                would: keys,
                limit: MAX_STATE_KEYS,
            }));
        }
        self.held
            .replace("state write", pending_before.unwrap_or(0), held(&value))
            .map_err(over)?;
        self.state_pending = (bytes, keys);
        self.overlay.insert(key, value);
        Ok(())
    }
}

//! The host functions an agent imports (`caxton:agent/host`).
//!
//! Guest arguments are hostile: sizes are checked, ids must name a message
//! of the batch in progress, and nothing takes effect before the call
//! returns (the node applies [`Effects`](crate::core::envelope::Effects)).

use std::sync::OnceLock;
use std::time::Instant;

use super::bindings::caxton::agent::{host, types};
use super::ctx::AgentCtx;
use crate::core::envelope::{Kind, Outgoing};

/// Most sends, replies and forwards one call may produce; beyond that the
/// agent gets an error (a send flood cannot exhaust host memory).
const MAX_EFFECTS: usize = 65_536;
/// Longest state key, and the most state one agent may keep.
const MAX_KEY: usize = 1024;
const MAX_STATE_BYTES: usize = 64 << 20;
/// Longest log line kept.
const MAX_LOG: usize = 4096;

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
    fn check_outgoing(&self, msg: &types::Outgoing) -> Result<(), String> {
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
        Ok(())
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
}

/// `name`, `tenant/name` (another tenant's agent; delivery needs a grant)
/// or `name@node`.
fn check_address(to: &str) -> Result<(), String> {
    let (name, node) = match to.split_once('@') {
        Some((name, node)) => (name, Some(node)),
        None => (to, None),
    };
    let name = match name.split_once('/') {
        Some((tenant, name)) if node.is_none() => {
            crate::core::name::check(tenant).map_err(|e| format!("tenant name: {e}"))?;
            name
        }
        _ => name,
    };
    crate::core::name::check(name).map_err(|e| e.to_string())?;
    if let Some(node) = node {
        crate::core::name::check(node).map_err(|e| format!("node name: {e}"))?;
    }
    Ok(())
}

impl types::Host for AgentCtx {}

impl host::Host for AgentCtx {
    fn send(&mut self, to: String, msg: types::Outgoing) -> wasmtime::Result<Result<(), String>> {
        let checked = check_address(&to).and_then(|()| self.check_outgoing(&msg));
        Ok(checked.map(|()| {
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
            .check_outgoing(&msg)
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
        let checked = check_address(&to)
            .and_then(|()| self.check_outgoing(&msg))
            .and_then(|()| self.answer(request));
        Ok(checked.map(|()| {
            let out = Outgoing {
                kind: msg.kind.into(),
                conversation: msg.conversation,
                payload: msg.payload,
            };
            self.effects.forwards.push((request, to, out));
        }))
    }

    fn log(&mut self, level: types::Level, text: String) -> wasmtime::Result<()> {
        let text = truncate(&text, MAX_LOG);
        let agent = &*self.name;
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
        static BASE: OnceLock<Instant> = OnceLock::new();
        Ok(BASE.get_or_init(Instant::now).elapsed().as_nanos() as u64)
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

    fn state_set(&mut self, key: String, value: Option<Vec<u8>>) -> wasmtime::Result<()> {
        if key.len() > MAX_KEY {
            wasmtime::bail!(
                "state key of {} bytes is over the limit of {MAX_KEY} bytes",
                key.len()
            );
        }
        if let Some(v) = &value {
            let pending: usize = self.overlay.values().flatten().map(Vec::len).sum();
            let stored: usize = self.state.lock().unwrap().values().map(Vec::len).sum();
            if v.len() + pending + stored > MAX_STATE_BYTES {
                wasmtime::bail!("agent state would exceed {MAX_STATE_BYTES} bytes");
            }
        }
        self.overlay.insert(key, value);
        Ok(())
    }
}

fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

//! Turning a handler's effects into deliveries and answers.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use super::cell::{AgentCell, Delivery, ReplyTo};
use super::error::{RequestError, SendError};
use super::local::Node;
use crate::core::envelope::{Effects, Envelope, Kind, Outgoing};

impl Node {
    /// Applies what a handler did: answers, forwards, sends. Requests of
    /// the batch that got no answer are told so (never left hanging).
    pub(crate) fn apply(
        &self,
        cell: &Arc<AgentCell>,
        effects: Effects,
        mut slots: Vec<(u64, Option<ReplyTo>)>,
    ) {
        if effects.is_empty() && slots.iter().all(|(_, s)| s.is_none()) {
            return;
        }
        // State first: nobody hears of a handled message before its state
        // writes are stored.
        self.persist_writes(cell, &effects.state_writes);
        let mut take = |id: u64| {
            slots
                .iter_mut()
                .find(|(i, _)| *i == id)
                .and_then(|(_, s)| s.take())
        };
        for (id, out) in effects.replies {
            if let Some(to) = take(id) {
                self.answer(cell, to, Ok(out));
            }
        }
        for (id, reason) in effects.failures {
            if let Some(to) = take(id) {
                let err = RequestError::Handler {
                    name: cell.name.to_string(),
                    reason,
                };
                self.answer(cell, to, Err(err));
            }
        }
        for (id, target, out) in effects.forwards {
            let reply = take(id);
            if self.deliver(cell, &target, out, reply).is_err() {
                self.inner.undeliverable.fetch_add(1, Relaxed);
            }
        }
        for (_, slot) in slots {
            if let Some(to @ ReplyTo::Waiter(_)) = slot {
                self.answer(cell, to, Err(RequestError::NoReply(cell.name.to_string())));
            }
        }
        for (target, out) in effects.sends {
            let reply = (out.kind == Kind::Request).then(|| ReplyTo::Agent {
                tenant: cell.tenant.clone(),
                name: cell.name.to_string(),
            });
            if let Err(e) = self.deliver(cell, &target, out, reply) {
                self.inner.undeliverable.fetch_add(1, Relaxed);
                tracing::debug!(agent = &*cell.name, "send to `{target}` failed: {e}");
            }
        }
    }

    /// Delivers a message from agent `from` to `target` of the same tenant.
    /// If it cannot be delivered, its reply slot (if any) gets the error.
    fn deliver(
        &self,
        from: &AgentCell,
        target: &str,
        out: Outgoing,
        reply: Option<ReplyTo>,
    ) -> Result<(), SendError> {
        let delivery = Delivery::new(self.envelope_from(from, out), reply);
        let result = match self.lookup(&from.tenant, target) {
            Ok(cell) => match self.push(&cell, delivery, false) {
                Ok(()) => return Ok(()),
                Err(rejected) => *rejected,
            },
            Err(e) => (e, delivery),
        };
        let (err, delivery) = result;
        if let Some(to) = delivery.reply {
            self.answer(from, to, Err(RequestError::Send(err.clone())));
        }
        Err(err)
    }

    /// A message from agent `from`, with a fresh id.
    fn envelope_from(&self, from: &AgentCell, out: Outgoing) -> Envelope {
        Envelope {
            id: self.next_id(),
            sender: from.name.to_string(),
            conversation: out.conversation,
            kind: out.kind,
            payload: out.payload,
        }
    }

    /// Completes a reply slot: wakes a waiting caller, or delivers a `reply`
    /// (or `failure`) message to the requesting agent.
    pub(crate) fn answer(
        &self,
        from: &AgentCell,
        to: ReplyTo,
        result: Result<Outgoing, RequestError>,
    ) {
        match to {
            ReplyTo::Waiter(tx) => {
                let result = result.and_then(|out| match out.kind {
                    Kind::Failure => Err(RequestError::Handler {
                        name: from.name.to_string(),
                        reason: String::from_utf8_lossy(&out.payload).into_owned(),
                    }),
                    _ => Ok(out.payload),
                });
                let _ = tx.send(result);
            }
            ReplyTo::Agent { tenant, name } => {
                let out = match result {
                    Ok(out) => out,
                    Err(e) => Outgoing {
                        kind: Kind::Failure,
                        conversation: None,
                        payload: e.to_string().into_bytes(),
                    },
                };
                let env = self.envelope_from(from, out);
                let delivered = self
                    .lookup(&tenant, &name)
                    .is_ok_and(|cell| self.push(&cell, Delivery::new(env, None), false).is_ok());
                if !delivered {
                    self.inner.undeliverable.fetch_add(1, Relaxed);
                }
            }
        }
    }
}

//! Turning a handler's effects into deliveries and answers.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Weak};

use tokio::sync::oneshot;

use super::cell::{AgentCell, Delivery, MAX_HOPS, ReplyTo, TenantState, may_send};
use super::error::{RequestError, SendError};
use super::local::{Node, NodeInner};
use super::request::Reply;
use crate::core::address::{Address, AddressError, Reach};
use crate::core::envelope::{Effects, Envelope, Kind, Outgoing};

/// What an agent of one tenant may address, asked at each `send` and
/// `forward` so a bad address fails at the call: another tenant only with
/// a grant, a peer node only if this node has a link to it.
pub(crate) struct TenantReach {
    pub(crate) node: Weak<NodeInner>,
    pub(crate) tenant: Arc<str>,
    pub(crate) state: Option<Arc<TenantState>>,
}

impl std::fmt::Debug for TenantReach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantReach")
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

impl Reach for TenantReach {
    fn check(&self, to: &Address) -> Result<(), AddressError> {
        match to {
            Address::Local(_) => Ok(()),
            Address::Tenant { tenant, name } => {
                if may_send(&self.tenant, self.state.as_deref(), tenant) {
                    Ok(())
                } else {
                    Err(AddressError::NotGranted {
                        from: self.tenant.to_string(),
                        tenant: tenant.clone(),
                        name: name.clone(),
                    })
                }
            }
            Address::Peer { name, node } => {
                let linked = self
                    .node
                    .upgrade()
                    .is_some_and(|inner| Node { inner }.peer(&self.tenant, node).is_some());
                if linked {
                    Ok(())
                } else {
                    Err(AddressError::NoSuchPeer {
                        name: name.clone(),
                        node: node.clone(),
                    })
                }
            }
        }
    }
}

/// What [`Node::apply`] hands back for a [`ReplyTo::Here`] slot.
pub(crate) enum Here {
    /// The answer.
    Answered(Result<Vec<u8>, RequestError>),
    /// The handler forwarded the request: its answer comes from where it
    /// went.
    Forwarded(Reply),
}

impl Node {
    /// Applies what a handler did: answers, forwards, sends. Requests of
    /// the batch that got no answer are told so (never left hanging). The
    /// answer for a [`ReplyTo::Here`] slot is returned. Leaves `effects`
    /// empty, with its buffers, for the instance's next call
    /// ([`crate::host::AgentInstance::applied`]).
    pub(crate) fn apply(
        &self,
        cell: &Arc<AgentCell>,
        effects: &mut Effects,
        slots: &mut [(u64, Option<ReplyTo>, u8)],
    ) -> Option<Here> {
        if effects.is_empty() && slots.iter().all(|(_, s, _)| s.is_none()) {
            return None;
        }
        let out = effects.replies.len() + effects.forwards.len() + effects.sends.len();
        self.inner.emitted.fetch_add(out as u64, Relaxed);
        // State first: nobody hears of a handled message before its state
        // writes are stored.
        self.persist_writes(cell, &effects.state_writes);
        effects.state_writes.clear();
        let mut here = None;
        let settle = |here: &mut Option<Here>, to, result| match to {
            ReplyTo::Here => *here = Some(Here::Answered(for_caller(&cell.name, result))),
            to => self.answer(&cell.name, to, result),
        };
        let mut take = |id: u64| {
            slots
                .iter_mut()
                .find(|(i, _, _)| *i == id)
                .map(|(_, s, hops)| (s.take(), *hops))
        };
        for (id, out) in effects.replies.drain(..) {
            if let Some((Some(to), _)) = take(id) {
                settle(&mut here, to, Ok(out));
            }
        }
        for (id, reason) in effects.failures.drain(..) {
            if let Some((Some(to), _)) = take(id) {
                let err = RequestError::Handler {
                    name: cell.name.to_string(),
                    reason,
                };
                settle(&mut here, to, Err(err));
            }
        }
        for (id, target, out) in effects.forwards.drain(..) {
            let (reply, hops) = take(id).unwrap_or((None, 0));
            if hops >= MAX_HOPS {
                self.inner.undeliverable.fetch_add(1, Relaxed);
                if let Some(to) = reply {
                    let err = SendError::HopLimit {
                        name: cell.name.to_string(),
                        hops,
                    };
                    settle(&mut here, to, Err(RequestError::Send(err)));
                }
                continue;
            }
            // A direct caller waits, like any, for where it went to answer.
            let reply = match reply {
                Some(ReplyTo::Here) => {
                    let (tx, rx) = oneshot::channel();
                    here = Some(Here::Forwarded(rx));
                    Some(ReplyTo::Waiter(tx))
                }
                reply => reply,
            };
            if self.deliver(cell, &target, out, reply, hops + 1).is_err() {
                self.inner.undeliverable.fetch_add(1, Relaxed);
            }
        }
        for (_, slot, _) in slots.iter_mut() {
            if let Some(to @ (ReplyTo::Waiter(_) | ReplyTo::Callback(_) | ReplyTo::Here)) =
                slot.take()
            {
                let err = RequestError::NoReply(cell.name.to_string());
                settle(&mut here, to, Err(err));
            }
        }
        for (target, out) in effects.sends.drain(..) {
            let reply = (out.kind == Kind::Request).then(|| ReplyTo::Agent {
                tenant: cell.tenant.clone(),
                name: cell.name.to_string(),
            });
            if let Err(e) = self.deliver(cell, &target, out, reply, 0) {
                self.inner.undeliverable.fetch_add(1, Relaxed);
                tracing::debug!(agent = &*cell.name, "send to `{target}` failed: {e}");
            }
        }
        here
    }

    /// Delivers a message from agent `from` to `target`: a name in its own
    /// tenant, `tenant/name` in a tenant it was granted, or `name@peer`.
    /// If it cannot be delivered, its reply slot (if any) gets the error.
    /// (The address was checked at the call; grants and links are checked
    /// again here, as they may have changed since.)
    fn deliver(
        &self,
        from: &AgentCell,
        target: &Address,
        out: Outgoing,
        reply: Option<ReplyTo>,
        hops: u8,
    ) -> Result<(), SendError> {
        let (tenant, name) = match target {
            Address::Local(name) => (&*from.tenant, name.as_str()),
            Address::Tenant { tenant, name } => (tenant.as_str(), name.as_str()),
            Address::Peer { name, node } => {
                return self.forward_to_peer(from, name, node, out, reply, hops);
            }
        };
        let mut env = self.envelope_from(from, out);
        let found = if from.may_send_to(tenant) {
            if tenant != &*from.tenant {
                // Answerable across the boundary: the receiver sees where
                // the message came from.
                env.sender = format!("{}/{}", from.tenant, from.name);
            }
            self.lookup(tenant, name)
        } else {
            Err(SendError::NotGranted {
                from: from.tenant.to_string(),
                to: tenant.to_string(),
                name: name.to_string(),
            })
        };
        let mut delivery = Delivery::new(env, reply);
        delivery.hops = hops;
        let result = match found {
            Ok(cell) => match self.push(&cell, delivery) {
                Ok(()) => return Ok(()),
                Err(rejected) => *rejected,
            },
            Err(e) => (e, delivery),
        };
        let (err, delivery) = result;
        if let Some(to) = delivery.reply {
            self.answer(&from.name, to, Err(RequestError::Send(err.clone())));
        }
        Err(err)
    }

    /// Sends to `name` on the peer node `peer` over its QUIC link; a
    /// request's answer comes back into its reply slot.
    fn forward_to_peer(
        &self,
        from: &AgentCell,
        name: &str,
        peer: &str,
        out: Outgoing,
        reply: Option<ReplyTo>,
        hops: u8,
    ) -> Result<(), SendError> {
        let Some(link) = self.peer(&from.tenant, peer) else {
            let err = SendError::NoSuchPeer {
                name: name.to_string(),
                peer: peer.to_string(),
            };
            if let Some(to) = reply {
                self.answer(&from.name, to, Err(RequestError::Send(err.clone())));
            }
            return Err(err);
        };
        let refused = |why: String| SendError::Peer {
            name: name.to_string(),
            peer: peer.to_string(),
            why,
        };
        match reply {
            Some(to) => {
                let node = self.clone();
                let (name, peer) = (name.to_string(), peer.to_string());
                let timeout = self.inner.peer_timeout;
                self.inner.rt.spawn(async move {
                    let result = link
                        .forward(&name, out.payload, hops, timeout)
                        .await
                        .map(|payload| Outgoing {
                            kind: Kind::Reply,
                            conversation: out.conversation,
                            payload,
                        })
                        .map_err(|e| {
                            RequestError::Send(SendError::Peer {
                                name: name.clone(),
                                peer: peer.clone(),
                                why: e.to_string(),
                            })
                        });
                    node.answer(&format!("{name}@{peer}"), to, result);
                });
                Ok(())
            }
            None => link
                .try_send(name, out.payload)
                .map_err(|e| refused(e.to_string())),
        }
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
    pub(crate) fn answer(&self, from: &str, to: ReplyTo, result: Result<Outgoing, RequestError>) {
        let for_caller = |result| for_caller(from, result);
        match to {
            ReplyTo::Waiter(tx) => {
                let _ = tx.send(for_caller(result));
            }
            ReplyTo::Callback(f) => f(for_caller(result)),
            // `apply` answers a direct caller itself, and never passes its
            // slot on.
            ReplyTo::Here => unreachable!("a direct caller's answer is returned by `apply`"),
            ReplyTo::Agent { tenant, name } => {
                let out = match result {
                    Ok(out) => out,
                    Err(e) => Outgoing {
                        kind: Kind::Failure,
                        conversation: None,
                        payload: e.to_string().into_bytes(),
                    },
                };
                let env = Envelope {
                    id: self.next_id(),
                    sender: from.to_string(),
                    conversation: out.conversation,
                    kind: out.kind,
                    payload: out.payload,
                };
                let delivered = self
                    .lookup(&tenant, &name)
                    .is_ok_and(|cell| self.push(&cell, Delivery::new(env, None)).is_ok());
                if !delivered {
                    self.inner.undeliverable.fetch_add(1, Relaxed);
                }
            }
        }
    }
}

/// What a caller waiting for agent `from`'s answer gets: the reply's bytes,
/// or the error (a `failure` reply is the handler's error).
pub(crate) fn for_caller(
    from: &str,
    result: Result<Outgoing, RequestError>,
) -> Result<Vec<u8>, RequestError> {
    result.and_then(|out| match out.kind {
        Kind::Failure => Err(RequestError::Handler {
            name: from.to_string(),
            reason: String::from_utf8_lossy(&out.payload).into_owned(),
        }),
        _ => Ok(out.payload),
    })
}

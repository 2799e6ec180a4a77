//! What an orchestrator asks a served node (Kubernetes' probes): `/healthz`
//! (the process is up and answering) and `/readyz` (it has its identity,
//! has restored its agents and listens, and is not shutting down), served
//! next to `/metrics`.
//!
//! The listener starts before the agents are restored, so a slow restore
//! shows as "alive, not ready" instead of a process that does not answer
//! and gets restarted in a loop.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use super::server::Counters;
use crate::node::Node;

/// A served node's progress from start to ready, and on to shutting down.
#[derive(Debug, Default)]
pub struct Health {
    identity: AtomicBool,
    restored: AtomicBool,
    draining: AtomicBool,
    serving: OnceLock<(Node, Arc<Counters>)>,
}

impl Health {
    /// A node that has done nothing yet.
    pub fn new() -> Arc<Health> {
        Arc::default()
    }

    /// Its certificate and tokens are loaded.
    pub fn identity_loaded(&self) {
        self.identity.store(true, Ordering::Release);
    }

    /// Its stored agents are back.
    pub fn restored(&self) {
        self.restored.store(true, Ordering::Release);
    }

    /// It accepts connections: `/metrics` shows `node` and the transport's
    /// `counters` from now on.
    pub fn listening(&self, node: Node, counters: Arc<Counters>) {
        let _ = self.serving.set((node, counters));
    }

    /// It is shutting down: not ready any more, so no new work is routed
    /// to it while it finishes.
    pub fn draining(&self) {
        self.draining.store(true, Ordering::Release);
    }

    /// The node and transport, once listening.
    pub fn serving(&self) -> Option<&(Node, Arc<Counters>)> {
        self.serving.get()
    }

    /// `Ok` when ready, else what it is still waiting for.
    pub fn ready(&self) -> Result<(), String> {
        if self.draining.load(Ordering::Acquire) {
            return Err("shutting down".into());
        }
        let missing: Vec<&str> = [
            (self.identity.load(Ordering::Acquire), "identity not loaded"),
            (
                self.restored.load(Ordering::Acquire),
                "agents not restored yet",
            ),
            (self.serving.get().is_some(), "not listening yet"),
        ]
        .into_iter()
        .filter(|(done, _)| !done)
        .map(|(_, what)| what)
        .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(missing.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_names_what_is_missing_until_all_is_done_and_not_while_draining() {
        let h = Health::default();
        assert_eq!(
            h.ready().unwrap_err(),
            "identity not loaded, agents not restored yet, not listening yet"
        );
        h.identity_loaded();
        h.restored();
        assert_eq!(h.ready().unwrap_err(), "not listening yet");
        h.draining();
        assert_eq!(h.ready().unwrap_err(), "shutting down");
    }
}

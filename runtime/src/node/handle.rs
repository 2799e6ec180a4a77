//! An agent as its owner sees it.

use std::sync::Arc;
use std::time::Duration;

use super::cell::{AgentCell, Status};
use super::error::{RequestError, SendError};
use super::local::Node;

/// A handle on one agent: address it, ask its status, stop it.
#[derive(Clone)]
pub struct AgentHandle {
    node: Node,
    pub(crate) cell: Arc<AgentCell>,
}

impl std::fmt::Debug for AgentHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentHandle")
            .field("name", &self.name())
            .field("tenant", &self.tenant())
            .finish()
    }
}

impl AgentHandle {
    pub(crate) fn new(node: Node, cell: Arc<AgentCell>) -> Self {
        AgentHandle { node, cell }
    }

    /// Its name (unique within its tenant).
    pub fn name(&self) -> &str {
        &self.cell.name
    }

    /// Its tenant.
    pub fn tenant(&self) -> &str {
        &self.cell.tenant
    }

    /// The plugin it runs.
    pub fn plugin(&self) -> &str {
        self.cell.plugin.name()
    }

    /// Where it is in its life.
    pub fn status(&self) -> Status {
        self.cell.status()
    }

    /// Messages it has handled.
    pub fn handled(&self) -> u64 {
        self.cell.inner.lock().unwrap().handled_count()
    }

    /// Times it was restarted after a failure.
    pub fn restarts(&self) -> u64 {
        self.cell.inner.lock().unwrap().supervisor().restarts
    }

    /// Its most recent failure, if any (also after a successful restart).
    pub fn last_failure(&self) -> Option<crate::core::failure::Failure> {
        let inner = self.cell.inner.lock().unwrap();
        inner
            .supervisor()
            .last_failure
            .as_ref()
            .map(|(f, _)| f.clone())
    }

    /// Bytes of linear memory its instance holds now (0 while it has none).
    pub fn memory(&self) -> u64 {
        self.cell.memory.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Messages waiting in its mailbox.
    pub fn queued(&self) -> usize {
        self.cell.inner.lock().unwrap().mailbox().len()
    }

    /// Log lines the agent wrote over its rate limit, dropped so far.
    pub fn log_dropped(&self) -> u64 {
        self.cell.log.lock().unwrap().dropped()
    }

    /// Bytes its mailbox holds now (queued messages and the batch in hand).
    pub fn queued_bytes(&self) -> usize {
        self.cell.inner.lock().unwrap().mailbox().bytes()
    }

    /// Fire and forget (see [`Node::send`]).
    pub fn send(&self, payload: Vec<u8>) -> Result<(), SendError> {
        self.node.send(self, payload)
    }

    /// Request and wait, from outside the runtime (see [`Node::request_blocking`]).
    pub fn request_blocking(
        &self,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, RequestError> {
        self.node.request_blocking(self, payload, timeout)
    }

    /// Request and wait (see [`Node::request`]).
    pub async fn request(
        &self,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, RequestError> {
        self.node.request(self, payload, timeout).await
    }

    /// Graceful stop.
    pub fn stop(&self) {
        self.node.stop(self);
    }

    /// Abrupt stop.
    pub fn kill(&self) {
        self.node.kill(self);
    }
}

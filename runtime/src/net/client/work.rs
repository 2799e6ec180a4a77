//! Calls on a node beyond messaging: observing it, uploading a component
//! to it, running a share of a distributed load on it.

use std::time::Duration;

use super::RemoteNode;
use crate::core::frame::Frame;
use crate::net::NetError;
use crate::node::Observation;

impl RemoteNode {
    /// Observes the node: every tenant's agents and the node's totals with
    /// the operator's token, its own tenant's agents with a tenant's
    /// (`tenant` narrows an operator's view; a tenant may name only its
    /// own).
    pub async fn observe(&self, tenant: Option<&str>) -> Result<Observation, NetError> {
        let frame = self
            .call(
                |req| Frame::Observe {
                    req,
                    tenant: tenant.unwrap_or_default().into(),
                },
                Duration::from_secs(30),
            )
            .await?;
        match frame {
            Frame::Reply { payload, .. } => serde_json::from_slice(&payload).map_err(|e| {
                NetError::Remote(format!("the node sent an unreadable observation: {e}"))
            }),
            other => Err(NetError::Remote(format!("unexpected answer {other:?}"))),
        }
    }

    /// Uploads a component for this connection's tenant as `name` (see
    /// `Node::upload`): its receipt, or the node's reason for refusing it.
    /// `timeout` covers sending and compiling.
    pub async fn upload(
        &self,
        name: &str,
        bytes: &[u8],
        timeout: Duration,
    ) -> Result<crate::node::Uploaded, NetError> {
        let (req, rx) = self.expect_answer()?;
        let sent = crate::net::upload::send(&self.conn, req, name, bytes).await;
        // A node that refuses early stops the stream before it has all the
        // bytes; its answer on the main stream says why.
        let wait = if sent.is_ok() {
            timeout
        } else {
            Duration::from_secs(5)
        };
        match self.answer(req, rx, wait).await {
            Ok(Frame::Reply { payload, .. }) => serde_json::from_slice(&payload).map_err(|e| {
                NetError::Remote(format!("the node sent an unreadable upload receipt: {e}"))
            }),
            Ok(other) => Err(NetError::Remote(format!("unexpected answer {other:?}"))),
            Err(NetError::Timeout(_)) if sent.is_err() => Err(NetError::Remote(format!(
                "the upload failed: {}",
                sent.unwrap_err()
            ))),
            Err(e) => Err(e),
        }
    }

    /// Runs `share` of a distributed load on the node, next to its agents;
    /// what it measured, within `timeout`.
    pub async fn run_share(
        &self,
        share: &crate::measure::load::distributed::Share,
        timeout: Duration,
    ) -> Result<crate::measure::load::distributed::ShareResult, NetError> {
        let share = serde_json::to_string(share)
            .map_err(|e| NetError::Remote(format!("the load share: {e}")))?;
        let frame = self.call(|req| Frame::Load { req, share }, timeout).await?;
        match frame {
            Frame::Reply { payload, .. } => serde_json::from_slice(&payload).map_err(|e| {
                NetError::Remote(format!("the node sent an unreadable load result: {e}"))
            }),
            other => Err(NetError::Remote(format!("unexpected answer {other:?}"))),
        }
    }
}

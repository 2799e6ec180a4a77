//! The client as something else's part: a node's link to its peer
//! (`name@peer`), and agents on remote nodes as a load target.

use std::time::Duration;

use super::RemoteNode;

/// Agents of remote nodes as a load [`Target`]: requests pipelined on each
/// agent's connection's one stream. Agents may be on several connections,
/// so that a load spreads over them as it does over the workers in-process.
#[derive(Debug, Clone)]
pub struct RemoteTargets {
    agents: Vec<(RemoteNode, String)>,
}

impl RemoteTargets {
    /// Load on `agents`, each named on the connection it is reached through.
    pub fn new(agents: Vec<(RemoteNode, String)>) -> Self {
        RemoteTargets { agents }
    }
}

impl crate::measure::load::Target for RemoteTargets {
    fn len(&self) -> usize {
        self.agents.len()
    }

    fn call(&self, index: usize, payload: Vec<u8>, done: crate::measure::load::Done) {
        let (node, name) = &self.agents[index];
        node.request_with(name, payload, move |result| {
            done(result.map(drop).map_err(|e| e.to_string()))
        });
    }
}

/// A node's link to this client's node, for `name@peer` addresses.
impl crate::node::PeerLink for RemoteNode {
    fn forward(
        &self,
        agent: &str,
        payload: Vec<u8>,
        hops: u8,
        timeout: Duration,
    ) -> crate::node::LinkReply {
        let (link, agent) = (self.clone(), agent.to_string());
        Box::pin(async move {
            link.forward(&agent, payload, hops, timeout)
                .await
                .map_err(Into::into)
        })
    }

    fn try_send(&self, agent: &str, payload: Vec<u8>) -> Result<(), crate::node::LinkError> {
        RemoteNode::try_send(self, agent, payload).map_err(Into::into)
    }
}

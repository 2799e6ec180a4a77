//! The client as something else's part: a node like the embedded one
//! ([`NodeApi`]), and a node's link to its peer (`name@peer`).

use std::time::Duration;

use super::RemoteNode;
use crate::core::spawn::SpawnSpec;
use crate::net::NetError;
use crate::node::{NodeApi, PluginRef, SpawnOptions};

/// A remote node offers what the embedded one does: agents are held by
/// name, spawn options travel in their typed wire form ([`SpawnSpec`]) and
/// are resolved by the node with the same parser as a local spawn.
#[async_trait::async_trait]
impl NodeApi for RemoteNode {
    type Agent = String;
    type Error = NetError;

    async fn spawn(&self, plugin: &PluginRef, options: SpawnOptions) -> Result<String, NetError> {
        let plugin = match plugin {
            PluginRef::Name(name) => name.clone(),
            PluginRef::Loaded(p) if crate::host::builtin::bytes(p.name()).is_some() => {
                p.name().to_string()
            }
            PluginRef::Loaded(p) => {
                return Err(NetError::NotBuiltin(p.name().to_string()));
            }
        };
        let options = serde_json::to_string(&SpawnSpec::from(&options))
            .map_err(|e| NetError::Remote(format!("spawn options: {e}")))?;
        RemoteNode::spawn(self, &plugin, &options).await
    }

    async fn send(&self, agent: &String, payload: Vec<u8>) -> Result<(), NetError> {
        RemoteNode::send(self, agent, payload).await
    }

    async fn request(
        &self,
        agent: &String,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, NetError> {
        RemoteNode::request(self, agent, payload, timeout).await
    }

    fn request_with(
        &self,
        agent: &String,
        payload: Vec<u8>,
        done: impl FnOnce(Result<Vec<u8>, NetError>) + Send + 'static,
    ) {
        RemoteNode::request_with(self, agent, payload, done)
    }

    async fn stop(&self, agent: &String) -> Result<(), NetError> {
        RemoteNode::stop(self, agent, false).await
    }

    async fn kill(&self, agent: &String) -> Result<(), NetError> {
        RemoteNode::stop(self, agent, true).await
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

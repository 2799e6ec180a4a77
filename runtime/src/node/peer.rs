//! Links to peer nodes, as the node sees them: where `name@peer` goes. The
//! node defines what it needs of a link; the QUIC client
//! (`net::client::RemoteNode`) provides it, so this layer never reaches up
//! into the transport.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// Why a peer link did not carry a message (the transport's own error).
pub type LinkError = Box<dyn std::error::Error + Send + Sync>;

/// A request's answer from a peer, when it comes.
pub type LinkReply = Pin<Box<dyn Future<Output = Result<Vec<u8>, LinkError>> + Send>>;

/// A link to another node, for the agents of one tenant.
pub trait PeerLink: Send + Sync {
    /// Sends a request to `agent` on the peer that has been through `hops`
    /// forwards already; its reply, or why there is none, within `timeout`.
    fn forward(&self, agent: &str, payload: Vec<u8>, hops: u8, timeout: Duration) -> LinkReply;

    /// Fire and forget to `agent` on the peer, without waiting: fails at
    /// once when the link is congested or gone.
    fn try_send(&self, agent: &str, payload: Vec<u8>) -> Result<(), LinkError>;
}

/// A link for every tenant, used by one: names the agent `tenant/name`, so
/// the peer delivers within that tenant.
pub(crate) struct Scoped {
    pub(crate) tenant: String,
    pub(crate) link: std::sync::Arc<dyn PeerLink>,
}

impl PeerLink for Scoped {
    fn forward(&self, agent: &str, payload: Vec<u8>, hops: u8, timeout: Duration) -> LinkReply {
        self.link
            .forward(&format!("{}/{agent}", self.tenant), payload, hops, timeout)
    }

    fn try_send(&self, agent: &str, payload: Vec<u8>) -> Result<(), LinkError> {
        self.link
            .try_send(&format!("{}/{agent}", self.tenant), payload)
    }
}

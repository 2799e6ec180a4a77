//! QUIC transport: nodes reachable by clients (and, later, other nodes).
//!
//! - [`tls`]: the node's self-signed identity and the client's pinning of
//!   its certificate fingerprint (no CA: the fingerprint is the trust).
//! - [`server`]: accepts connections, checks the tenant token in the
//!   versioned handshake, maps frames onto a [`crate::node::Node`].
//! - [`metrics`]: `/metrics` in the Prometheus text format.
//! - [`socket`]: the UDP socket under each endpoint, with buffers large
//!   enough that a stalled reader does not cost dropped datagrams.
//! - [`client`]: connects with a fingerprint and a token; spawn, send,
//!   request, stop and kill on the remote node.
//!
//! One long-lived bidirectional stream per connection carries many frames
//! (see [`crate::core::frame`]); requests are correlated by id, so many can
//! be in flight at once. Writes are batched by a writer task.

pub mod client;
pub mod metrics;
pub mod server;
pub mod socket;
pub mod tls;
mod wire;

/// Application error codes closing a connection or answering a request.
pub mod code {
    /// The handshake was missing, malformed or of another version.
    pub const BAD_HANDSHAKE: u32 = 1;
    /// The tenant token was not accepted.
    pub const BAD_TOKEN: u32 = 2;
    /// A frame could not be decoded (oversized, malformed).
    pub const BAD_FRAME: u32 = 3;
    /// The node is shutting down.
    pub const SHUTDOWN: u32 = 4;
    /// A request failed (the message says why).
    pub const REQUEST_FAILED: u16 = 10;
}

/// ALPN protocol id: the transport version.
pub const ALPN: &[u8] = b"caxton/1";

/// Why a QUIC operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// TLS setup failed.
    #[error("TLS: {0}")]
    Tls(String),
    /// Binding or connecting failed.
    #[error("cannot reach {addr}: {why}")]
    Connect {
        /// The address.
        addr: String,
        /// Why.
        why: String,
    },
    /// The node refused the handshake.
    #[error("the node refused the connection: {0}")]
    Refused(String),
    /// The connection broke.
    #[error("connection lost: {0}")]
    Lost(String),
    /// The remote request failed.
    #[error("{0}")]
    Remote(String),
    /// No answer in time.
    #[error("no answer from the node within {0:?}")]
    Timeout(std::time::Duration),
    /// A payload too large for one frame; refused before it is queued (a
    /// frame the node cannot take would end the whole connection).
    #[error("a payload of {size} bytes is over the {max} bytes one frame carries")]
    TooLarge {
        /// The payload's size.
        size: usize,
        /// The most a frame carries.
        max: usize,
    },
}

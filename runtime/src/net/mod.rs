//! QUIC transport: nodes reachable by clients (and, later, other nodes).
//!
//! - [`tls`]: the node's self-signed identity and the client's pinning of
//!   its certificate fingerprint (no CA: the fingerprint is the trust).
//! - [`server`]: accepts connections, checks the tenant token in the
//!   versioned handshake, maps frames onto a [`crate::node::Node`].
//! - [`metrics`]: `/metrics` in the Prometheus text format, and the
//!   [`health`] probes `/healthz` and `/readyz` on the same listener.
//! - [`socket`]: the UDP socket under each endpoint, with buffers large
//!   enough that a stalled reader does not cost dropped datagrams.
//! - [`peering`]: a served node's links to its peers, kept up.
//! - [`upload`]: components sent to a node on streams of their own.
//! - [`client`]: connects with a fingerprint and a token; spawn, send,
//!   request, stop and kill on the remote node.
//!
//! One long-lived bidirectional stream per connection carries many frames
//! (see [`crate::core::frame`]); requests are correlated by id, so many can
//! be in flight at once. Writes are batched by a writer task.

pub mod client;
pub mod health;
pub mod metrics;
pub mod peering;
pub mod server;
pub mod socket;
pub mod tls;
pub mod upload;
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

/// The error beneath a [`NetError`], kept for `source()`.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why a QUIC operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// TLS setup failed.
    #[error("TLS: {what}: {source}")]
    Tls {
        /// What was being set up.
        what: &'static str,
        /// The TLS library's error.
        #[source]
        source: Cause,
    },
    /// Binding or connecting failed.
    #[error("cannot reach {addr}: {source}")]
    Connect {
        /// The address.
        addr: String,
        /// The socket's or QUIC's error.
        #[source]
        source: Cause,
    },
    /// The node refused the handshake.
    #[error("the node refused the connection: {0}")]
    Refused(String),
    /// The connection broke.
    #[error("connection lost: {why}")]
    Lost {
        /// What happened, as QUIC or the node said it.
        why: String,
        /// QUIC's error, when there is one.
        #[source]
        source: Option<Cause>,
    },
    /// The remote request failed.
    #[error("{0}")]
    Remote(String),
    /// A spawn on a remote node of a component loaded here.
    #[error("`{0}` was loaded from a file here; a remote node spawns its built-in plugins only")]
    NotBuiltin(String),
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

impl NetError {
    /// The connection broke with QUIC's `error`.
    pub(crate) fn lost(error: impl std::error::Error + Send + Sync + 'static) -> NetError {
        NetError::Lost {
            why: error.to_string(),
            source: Some(Box::new(error)),
        }
    }

    /// The connection broke, for a reason QUIC did not give as an error.
    pub(crate) fn lost_because(why: impl Into<String>) -> NetError {
        NetError::Lost {
            why: why.into(),
            source: None,
        }
    }

    /// TLS setup of `what` failed with `error`.
    pub(crate) fn tls(what: &'static str, error: impl Into<Cause>) -> NetError {
        NetError::Tls {
            what,
            source: error.into(),
        }
    }

    /// `addr` could not be bound or reached: `error`.
    pub(crate) fn connect(addr: impl ToString, error: impl Into<Cause>) -> NetError {
        NetError::Connect {
            addr: addr.to_string(),
            source: error.into(),
        }
    }
}

//! The QUIC side of a node: accept, authenticate, serve frames.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use tokio::sync::{Semaphore, mpsc};

use super::tls::Identity;
use super::wire::{ReadError, read_frame, writer};
use super::{NetError, code};
use crate::core::frame::{DEFAULT_MAX_FRAME, Decoder, Frame, PROTOCOL_VERSION};
use crate::node::Node;

mod dispatch;
mod roles;

use dispatch::dispatch;
use roles::{Role, for_tenant, operate};

/// How a node listens.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Address to bind (port 0 picks a free one).
    pub listen: SocketAddr,
    /// Accepted tenant tokens: token -> tenant.
    pub tokens: HashMap<String, String>,
    /// The operator's token, if operators may connect: it observes every
    /// tenant's agents and the node's totals, and may do nothing else.
    pub operator_token: Option<String>,
    /// The cluster's peer token, if peers may connect: a peer forwards
    /// requests and sends to `tenant/name` for the agents of every tenant
    /// on its side (see [`super::peering`]), and may do nothing else.
    pub peer_token: Option<String>,
    /// Largest frame accepted from a client.
    pub max_frame: usize,
    /// The node's name, told to clients in the handshake (peers link it
    /// under this name by default).
    pub name: String,
    /// Requests one connection may have in flight; past this the node
    /// stops reading from it (QUIC flow control pushes back on the client).
    pub max_in_flight: usize,
}

impl ServerOptions {
    /// Listen on `listen`, accepting `token` for the tenant `tenant`.
    pub fn new(listen: SocketAddr, token: &str, tenant: &str) -> Self {
        ServerOptions {
            listen,
            tokens: HashMap::from([(token.to_string(), tenant.to_string())]),
            operator_token: None,
            peer_token: None,
            max_frame: DEFAULT_MAX_FRAME,
            name: "caxton".into(),
            max_in_flight: 16_384,
        }
    }
}

/// What the transport has seen, for metrics (shared with `/metrics`).
#[derive(Debug, Clone)]
pub struct Counters {
    /// Connections accepted (before authentication).
    pub connections: Counter,
    /// Handshakes refused for a missing or wrong token.
    pub auth_failures: Counter,
    /// Connections closed for an oversized or malformed frame.
    pub bad_frames: Counter,
    /// Frames received from authenticated clients.
    pub frames_in: Counter,
    /// Authenticated connections open now.
    pub open: Gauge,
    /// Remote requests: seconds from the frame's arrival to its reply.
    pub latency: Histogram,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            connections: Counter::default(),
            auth_failures: Counter::default(),
            bad_frames: Counter::default(),
            frames_in: Counter::default(),
            open: Gauge::default(),
            // 5 us .. ~80 ms, doubling.
            latency: Histogram::new(exponential_buckets(5e-6, 2.0, 15)),
        }
    }
}

/// A listening node.
#[derive(Debug)]
pub struct Server {
    endpoint: quinn::Endpoint,
    addr: SocketAddr,
    fingerprint: String,
    counters: Arc<Counters>,
    udp_buffer: usize,
}

struct Shared {
    node: Node,
    options: ServerOptions,
    counters: Arc<Counters>,
    /// Uploads being received at once (see [`super::upload`]).
    uploads: Arc<Semaphore>,
}

impl Server {
    /// Binds and starts accepting on the node's runtime.
    pub fn start(
        node: Node,
        identity: &Identity,
        options: ServerOptions,
    ) -> Result<Server, NetError> {
        let _guard = node.runtime().enter();
        let (endpoint, udp_buffer) =
            super::socket::endpoint(options.listen, Some(identity.server_config()?))
                .map_err(|e| NetError::connect(options.listen, e))?;
        let addr = endpoint
            .local_addr()
            .map_err(|e| NetError::connect(options.listen, e))?;
        let counters = Arc::new(Counters::default());
        let shared = Arc::new(Shared {
            node: node.clone(),
            options,
            counters: counters.clone(),
            uploads: super::upload::slots(),
        });
        let accepting = endpoint.clone();
        node.runtime().spawn(async move {
            while let Some(incoming) = accepting.accept().await {
                let shared = shared.clone();
                tokio::spawn(async move { serve_connection(shared, incoming).await });
            }
        });
        Ok(Server {
            endpoint,
            addr,
            fingerprint: identity.fingerprint(),
            counters,
            udp_buffer,
        })
    }

    /// The UDP receive buffer the OS gave the node's socket, in bytes, as
    /// Linux reports it (twice what it grants). See [`super::socket`].
    pub fn udp_buffer(&self) -> usize {
        self.udp_buffer
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The certificate fingerprint clients pin.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// What the transport has seen.
    pub fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    /// Closes every connection and stops accepting.
    pub fn close(&self) {
        self.endpoint
            .close(code::SHUTDOWN.into(), b"the node is shutting down");
    }

    /// Closes every connection, stops accepting, and waits (at most
    /// `bound`) until the peers have been told. A process that exits right
    /// after [`close`](Self::close) drops the close before it is sent, and
    /// its clients wait out their timeouts instead of getting an error.
    pub async fn shutdown(&self, bound: Duration) {
        self.close();
        let _ = tokio::time::timeout(bound, self.endpoint.wait_idle()).await;
    }
}

async fn serve_connection(shared: Arc<Shared>, incoming: quinn::Incoming) {
    let Ok(conn) = incoming.await else { return };
    shared.counters.connections.inc();
    let Ok((send, mut recv)) = conn.accept_bi().await else {
        return;
    };
    let mut dec = Decoder::new(shared.options.max_frame);
    let hello =
        tokio::time::timeout(Duration::from_secs(10), read_frame(&mut recv, &mut dec)).await;
    let role = match hello {
        Ok(Ok(Some(Frame::Hello { version, token }))) if version == PROTOCOL_VERSION => {
            match shared.options.tokens.get(&token) {
                Some(tenant) => Role::Tenant(tenant.clone()),
                None if shared.options.operator_token.as_deref() == Some(token.as_str()) => {
                    Role::Operator
                }
                None if shared.options.peer_token.as_deref() == Some(token.as_str()) => Role::Peer,
                None => {
                    shared.counters.auth_failures.inc();
                    tracing::info!(peer = %conn.remote_address(), "refused a connection with a wrong tenant token");
                    conn.close(code::BAD_TOKEN.into(), b"the tenant token was not accepted");
                    return;
                }
            }
        }
        Ok(Ok(Some(Frame::Hello { version, .. }))) => {
            let why = format!(
                "protocol version {version} is not supported (this node speaks {PROTOCOL_VERSION})"
            );
            conn.close(code::BAD_HANDSHAKE.into(), why.as_bytes());
            return;
        }
        _ => {
            shared.counters.auth_failures.inc();
            conn.close(
                code::BAD_HANDSHAKE.into(),
                b"expected a Hello frame with a tenant token first",
            );
            return;
        }
    };
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(writer(send, rx));
    let welcome = Frame::Welcome {
        version: PROTOCOL_VERSION,
        node: shared.options.name.clone(),
    };
    if tx.send(welcome).is_err() {
        return;
    }
    tokio::spawn(super::upload::accept_uploads(
        shared.node.clone(),
        conn.clone(),
        match &role {
            Role::Tenant(tenant) => Some(tenant.clone()),
            Role::Operator | Role::Peer => None,
        },
        tx.clone(),
        shared.uploads.clone(),
    ));
    let in_flight = Arc::new(Semaphore::new(shared.options.max_in_flight));
    shared.counters.open.inc();
    let _open = OpenGuard(&shared.counters);
    loop {
        match read_frame(&mut recv, &mut dec).await {
            Ok(Some(frame)) => {
                shared.counters.frames_in.inc();
                let Ok(permit) = in_flight.clone().acquire_owned().await else {
                    return;
                };
                match &role {
                    Role::Tenant(tenant) => dispatch(&shared, tenant, frame, &tx, permit).await,
                    Role::Operator => {
                        let _ = tx.send(operate(&shared, frame));
                        drop(permit);
                    }
                    Role::Peer => match for_tenant(frame) {
                        Ok((tenant, frame)) => {
                            dispatch(&shared, &tenant, frame, &tx, permit).await;
                        }
                        Err(refusal) => {
                            let _ = tx.send(refusal);
                            drop(permit);
                        }
                    },
                }
            }
            Ok(None) => return,
            Err(ReadError::Frame(e)) => {
                shared.counters.bad_frames.inc();
                tracing::info!(peer = %conn.remote_address(), "closing a connection: {e}");
                conn.close(code::BAD_FRAME.into(), e.to_string().as_bytes());
                return;
            }
            Err(ReadError::Stream(why)) => {
                tracing::debug!(peer = %conn.remote_address(), "connection ended: {why}");
                return;
            }
        }
    }
}

/// Counts a connection as closed however its task ends.
struct OpenGuard<'a>(&'a Counters);

impl Drop for OpenGuard<'_> {
    fn drop(&mut self) {
        self.0.open.dec();
    }
}

/// A request's failure, its text clamped (an agent's reason can be as long
/// as it likes; a frame's text field cannot).
fn failed(req: u64, message: impl std::fmt::Display) -> Frame {
    Frame::error(req, code::REQUEST_FAILED, &message.to_string())
}

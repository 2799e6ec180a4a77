//! The QUIC side of a node: accept, authenticate, serve frames.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::tls::Identity;
use super::wire::{ReadError, read_frame, writer};
use super::{NetError, code};
use crate::core::frame::{DEFAULT_MAX_FRAME, Decoder, Frame, PROTOCOL_VERSION};
use crate::core::limits::{parse_duration, parse_size};
use crate::node::{AgentHandle, Node, SpawnOptions};

/// How a node listens.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Address to bind (port 0 picks a free one).
    pub listen: SocketAddr,
    /// Accepted tenant tokens: token -> tenant.
    pub tokens: HashMap<String, String>,
    /// Largest frame accepted from a client.
    pub max_frame: usize,
    /// How long a request may wait for its agent.
    pub request_timeout: Duration,
}

impl ServerOptions {
    /// Listen on `listen`, accepting `token` for the tenant `tenant`.
    pub fn new(listen: SocketAddr, token: &str, tenant: &str) -> Self {
        ServerOptions {
            listen,
            tokens: HashMap::from([(token.to_string(), tenant.to_string())]),
            max_frame: DEFAULT_MAX_FRAME,
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// What the transport has seen, for metrics.
#[derive(Debug, Default)]
pub struct Counters {
    /// Connections accepted (before authentication).
    pub connections: AtomicU64,
    /// Handshakes refused for a missing or wrong token.
    pub auth_failures: AtomicU64,
    /// Connections closed for an oversized or malformed frame.
    pub bad_frames: AtomicU64,
    /// Frames received from authenticated clients.
    pub frames_in: AtomicU64,
}

/// A listening node.
#[derive(Debug)]
pub struct Server {
    endpoint: quinn::Endpoint,
    addr: SocketAddr,
    fingerprint: String,
    counters: Arc<Counters>,
}

struct Shared {
    node: Node,
    options: ServerOptions,
    counters: Arc<Counters>,
}

impl Server {
    /// Binds and starts accepting on the node's runtime.
    pub fn start(
        node: Node,
        identity: &Identity,
        options: ServerOptions,
    ) -> Result<Server, NetError> {
        let _guard = node.runtime().enter();
        let endpoint =
            quinn::Endpoint::server(identity.server_config()?, options.listen).map_err(|e| {
                NetError::Connect {
                    addr: options.listen.to_string(),
                    why: e.to_string(),
                }
            })?;
        let addr = endpoint.local_addr().map_err(|e| NetError::Connect {
            addr: options.listen.to_string(),
            why: e.to_string(),
        })?;
        let counters = Arc::new(Counters::default());
        let shared = Arc::new(Shared {
            node: node.clone(),
            options,
            counters: counters.clone(),
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
        })
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
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Closes every connection and stops accepting.
    pub fn close(&self) {
        self.endpoint
            .close(code::SHUTDOWN.into(), b"the node is shutting down");
    }
}

async fn serve_connection(shared: Arc<Shared>, incoming: quinn::Incoming) {
    let Ok(conn) = incoming.await else { return };
    shared.counters.connections.fetch_add(1, Relaxed);
    let Ok((send, mut recv)) = conn.accept_bi().await else {
        return;
    };
    let mut dec = Decoder::new(shared.options.max_frame);
    let hello =
        tokio::time::timeout(Duration::from_secs(10), read_frame(&mut recv, &mut dec)).await;
    let tenant = match hello {
        Ok(Ok(Some(Frame::Hello { version, token }))) if version == PROTOCOL_VERSION => {
            match shared.options.tokens.get(&token) {
                Some(tenant) => tenant.clone(),
                None => {
                    shared.counters.auth_failures.fetch_add(1, Relaxed);
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
            shared.counters.auth_failures.fetch_add(1, Relaxed);
            conn.close(
                code::BAD_HANDSHAKE.into(),
                b"expected a Hello frame with a tenant token first",
            );
            return;
        }
    };
    let (tx, rx) = mpsc::channel(4096);
    tokio::spawn(writer(send, rx));
    let welcome = Frame::Welcome {
        version: PROTOCOL_VERSION,
        node: "caxton".into(),
    };
    if tx.send(welcome).await.is_err() {
        return;
    }
    loop {
        match read_frame(&mut recv, &mut dec).await {
            Ok(Some(frame)) => {
                shared.counters.frames_in.fetch_add(1, Relaxed);
                dispatch(&shared, &tenant, frame, &tx).await;
            }
            Ok(None) => return,
            Err(ReadError::Frame(e)) => {
                shared.counters.bad_frames.fetch_add(1, Relaxed);
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

fn failed(req: u64, message: impl std::fmt::Display) -> Frame {
    Frame::Error {
        req,
        code: code::REQUEST_FAILED,
        message: message.to_string(),
    }
}

async fn dispatch(shared: &Arc<Shared>, tenant: &str, frame: Frame, tx: &mpsc::Sender<Frame>) {
    let node = &shared.node;
    let find = |name: &str| -> Result<AgentHandle, String> {
        node.agent(tenant, name)
            .ok_or_else(|| format!("no agent named `{name}` in tenant `{tenant}`"))
    };
    let answer = match frame {
        Frame::Request { req, to, payload } => match find(&to) {
            Ok(agent) => {
                let tx = tx.clone();
                let timeout = shared.options.request_timeout;
                tokio::spawn(async move {
                    let answer = match agent.request(payload.to_vec(), timeout).await {
                        Ok(reply) => Frame::Reply {
                            req,
                            payload: Bytes::from(reply),
                        },
                        Err(e) => failed(req, e),
                    };
                    let _ = tx.send(answer).await;
                });
                return;
            }
            Err(e) => failed(req, e),
        },
        Frame::Send { to, payload } => {
            match find(&to).and_then(|a| a.send(payload.to_vec()).map_err(|e| e.to_string())) {
                Ok(()) => return,
                Err(e) => failed(0, e),
            }
        }
        Frame::Spawn {
            req,
            plugin,
            options,
        } => match spawn(node, tenant, &plugin, &options).await {
            Ok(name) => Frame::Spawned { req, name },
            Err(e) => failed(req, e),
        },
        Frame::Stop { req, name, kill } => match find(&name) {
            Ok(agent) => {
                if kill {
                    agent.kill()
                } else {
                    agent.stop()
                }
                Frame::Reply {
                    req,
                    payload: Bytes::new(),
                }
            }
            Err(e) => failed(req, e),
        },
        other => failed(0, format!("a client may not send {other:?}")),
    };
    let _ = tx.send(answer).await;
}

/// Spawns for a remote client: built-in plugins only (a client must not
/// make the node read files), always in the client's own tenant.
async fn spawn(node: &Node, tenant: &str, plugin: &str, options: &str) -> Result<String, String> {
    if plugin.contains('/') || plugin.contains('\\') || plugin.ends_with(".wasm") {
        return Err("remote clients may spawn built-in plugins only, not component files".into());
    }
    let mut spawn = spawn_options(options)?;
    spawn.tenant = Some(tenant.to_string());
    let plugin = node.plugin(plugin).map_err(|e| e.to_string())?;
    node.spawn(&plugin, spawn)
        .await
        .map(|a| a.name().to_string())
        .map_err(|e| e.to_string())
}

/// Spawn options sent as JSON by a client (the same names as in scripts).
fn spawn_options(json: &str) -> Result<SpawnOptions, String> {
    let mut options = SpawnOptions::default();
    if json.trim().is_empty() {
        return Ok(options);
    }
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json)
        .map_err(|e| format!("spawn options are not a JSON object: {e}"))?;
    for (key, value) in map {
        let text = || {
            value
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| value.to_string())
        };
        let bad = |e: String| format!("spawn option `{key}`: {e}");
        match key.as_str() {
            "name" => options.name = Some(text()),
            "memory" => {
                options.limits.memory = parse_size(&text()).map_err(|e| bad(e.to_string()))?
            }
            "deadline" => {
                options.limits.deadline = parse_duration(&text()).map_err(|e| bad(e.to_string()))?
            }
            "mailbox" => {
                options.limits.mailbox = value
                    .as_u64()
                    .ok_or_else(|| bad("expected a number".into()))?
                    as usize
            }
            "config" => options.config = text(),
            other => {
                return Err(format!(
                    "unknown spawn option `{other}` (name, memory, deadline, mailbox, config)"
                ));
            }
        }
    }
    Ok(options)
}

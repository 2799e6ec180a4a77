//! Talking to a remote node.
//!
//! `reader`: the task that hands each answer to its waiter; `links`: the
//! client as a node's `PeerLink` and as a load `Target`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use super::NetError;
use super::tls::client_config;
use super::wire::{ReadError, read_frame, writer};

mod links;
mod reader;
mod work;

use crate::core::frame::{DEFAULT_MAX_FRAME, Decoder, Frame, MAX_PAYLOAD, PROTOCOL_VERSION};
use reader::reader;

/// Code called with a request's answer where it arrives (the reader task).
pub type Then = Box<dyn FnOnce(Result<Frame, NetError>) + Send>;

/// Who waits for an answer.
pub(super) enum Waiter {
    /// An async caller.
    Once(oneshot::Sender<Frame>),
    /// A callback (the load generator: no task per request).
    Then(Then),
}

impl std::fmt::Debug for Waiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Waiter::Once(_) => "Once",
            Waiter::Then(_) => "Then",
        })
    }
}

pub(super) type Pending = Arc<Mutex<Option<HashMap<u64, Waiter>>>>;

/// A client connection's QUIC path, as [`RemoteNode::path_stats`] reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathStats {
    /// QUIC's smoothed round-trip estimate.
    pub rtt: Duration,
    /// The congestion window, bytes.
    pub cwnd: u64,
    /// Packets this client sent.
    pub sent_packets: u64,
    /// Of those, how many QUIC declared lost and sent again. (Losses on
    /// the way back are the node's to count.)
    pub lost_packets: u64,
    /// How often the congestion controller cut its window.
    pub congestion_events: u64,
    /// UDP datagrams received.
    pub datagrams_in: u64,
    /// UDP datagrams sent.
    pub datagrams_out: u64,
}

/// A connection to a remote node, authenticated as one tenant.
#[derive(Debug, Clone)]
pub struct RemoteNode {
    conn: quinn::Connection,
    tx: mpsc::Sender<Frame>,
    pending: Pending,
    next: Arc<AtomicU64>,
    name: Arc<str>,
    addr: SocketAddr,
    rt: tokio::runtime::Handle,
    _endpoint: quinn::Endpoint,
}

impl RemoteNode {
    /// Connects to `addr`, trusting only the certificate with `fingerprint`,
    /// and authenticates with `token`. Must run inside a tokio runtime.
    pub async fn connect(
        addr: SocketAddr,
        fingerprint: &str,
        token: &str,
    ) -> Result<RemoteNode, NetError> {
        let bind: SocketAddr = if addr.is_ipv6() {
            "[::]:0".parse().unwrap()
        } else {
            "0.0.0.0:0".parse().unwrap()
        };
        let (mut endpoint, _) =
            super::socket::endpoint(bind, None).map_err(|e| NetError::connect(addr, e))?;
        endpoint.set_default_client_config(client_config(fingerprint)?);
        let conn = endpoint
            .connect(addr, "caxton.node")
            .map_err(|e| NetError::connect(addr, e))?
            .await
            .map_err(|e| NetError::connect(addr, e))?;
        let (mut send, mut recv) = conn.open_bi().await.map_err(NetError::lost)?;
        let mut hello = bytes::BytesMut::new();
        Frame::Hello {
            version: PROTOCOL_VERSION,
            token: token.to_string(),
        }
        .encode(&mut hello)
        .map_err(|e| NetError::Refused(e.to_string()))?;
        send.write_all(&hello).await.map_err(NetError::lost)?;
        let mut dec = Decoder::new(DEFAULT_MAX_FRAME);
        let welcome =
            tokio::time::timeout(Duration::from_secs(10), read_frame(&mut recv, &mut dec))
                .await
                .map_err(|_| NetError::Timeout(Duration::from_secs(10)))?;
        let name = match welcome {
            Ok(Some(Frame::Welcome { node, .. })) => node,
            Ok(Some(other)) => {
                return Err(NetError::Refused(format!("unexpected answer {other:?}")));
            }
            Ok(None) | Err(ReadError::Stream(_)) => {
                let why = match conn.close_reason() {
                    Some(quinn::ConnectionError::ApplicationClosed(close)) => {
                        String::from_utf8_lossy(&close.reason).into_owned()
                    }
                    Some(other) => other.to_string(),
                    None => "the node closed the stream".into(),
                };
                return Err(NetError::Refused(why));
            }
            Err(ReadError::Frame(e)) => return Err(NetError::Refused(e.to_string())),
        };
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(writer(send, rx));
        let pending: Pending = Arc::new(Mutex::new(Some(HashMap::new())));
        tokio::spawn(reader(recv, dec, pending.clone(), conn.clone()));
        Ok(RemoteNode {
            conn,
            tx,
            pending,
            next: Arc::new(AtomicU64::new(1)),
            name: name.into(),
            addr,
            rt: tokio::runtime::Handle::current(),
            _endpoint: endpoint,
        })
    }

    /// The name the node gave in the handshake.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The node's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What QUIC has seen on this connection so far. A run whose tail was
    /// shaped by loss or congestion shows it here.
    pub fn path_stats(&self) -> PathStats {
        let stats = self.conn.stats();
        PathStats {
            rtt: stats.path.rtt,
            cwnd: stats.path.cwnd,
            sent_packets: stats.path.sent_packets,
            lost_packets: stats.path.lost_packets,
            congestion_events: stats.path.congestion_events,
            datagrams_in: stats.udp_rx.datagrams,
            datagrams_out: stats.udp_tx.datagrams,
        }
    }

    /// Waits until the connection is closed, by either side or by a lost
    /// path; why, in words.
    pub async fn closed(&self) -> String {
        self.conn.closed().await.to_string()
    }

    /// Closes the connection; pending calls fail at once.
    pub fn close(&self) {
        self.conn.close(0u32.into(), b"closed by the client");
    }

    async fn call(
        &self,
        make: impl FnOnce(u64) -> Frame,
        timeout: Duration,
    ) -> Result<Frame, NetError> {
        let (req, rx) = self.expect_answer()?;
        self.tx.send(make(req)).await.map_err(|_| self.lost())?;
        self.answer(req, rx, timeout).await
    }

    /// A request id and where its answer will come.
    fn expect_answer(&self) -> Result<(u64, oneshot::Receiver<Frame>), NetError> {
        let req = self.next.fetch_add(1, Relaxed);
        let (tx, rx) = oneshot::channel();
        match self.pending.lock().unwrap().as_mut() {
            Some(pending) => pending.insert(req, Waiter::Once(tx)),
            None => return Err(self.lost()),
        };
        Ok((req, rx))
    }

    /// Waits for request `req`'s answer.
    async fn answer(
        &self,
        req: u64,
        rx: oneshot::Receiver<Frame>,
        timeout: Duration,
    ) -> Result<Frame, NetError> {
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(Frame::Error { message, .. })) => Err(NetError::Remote(message)),
            Ok(Ok(frame)) => Ok(frame),
            Ok(Err(_)) => Err(self.lost()),
            Err(_) => {
                if let Some(p) = self.pending.lock().unwrap().as_mut() {
                    p.remove(&req);
                }
                Err(NetError::Timeout(timeout))
            }
        }
    }

    /// Sends a request to `agent`; `then` gets the reply (or why there is
    /// none) on the connection's reader task. Never waits: when the send
    /// queue is full, the frame is queued by a task.
    pub fn request_with(
        &self,
        agent: &str,
        payload: Vec<u8>,
        then: impl FnOnce(Result<Vec<u8>, NetError>) + Send + 'static,
    ) {
        if let Err(e) = fits(&payload) {
            return then(Err(e));
        }
        let req = self.next.fetch_add(1, Relaxed);
        let then: Then = Box::new(move |answer| {
            then(answer.and_then(|frame| match frame {
                Frame::Reply { payload, .. } => Ok(payload.to_vec()),
                Frame::Error { message, .. } => Err(NetError::Remote(message)),
                other => Err(NetError::Remote(format!("unexpected answer {other:?}"))),
            }))
        });
        match self.pending.lock().unwrap().as_mut() {
            Some(pending) => pending.insert(req, Waiter::Then(then)),
            None => return then(Err(self.lost())),
        };
        let frame = Frame::Request {
            req,
            hops: 0,
            to: agent.into(),
            payload: Bytes::from(payload),
        };
        match self.tx.try_send(frame) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(frame)) => {
                let tx = self.tx.clone();
                self.rt.spawn(async move { tx.send(frame).await });
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                let waiter = self
                    .pending
                    .lock()
                    .unwrap()
                    .as_mut()
                    .and_then(|p| p.remove(&req));
                if let Some(Waiter::Then(then)) = waiter {
                    then(Err(self.lost()));
                }
            }
        }
    }

    fn lost(&self) -> NetError {
        match self.conn.close_reason() {
            Some(reason) => NetError::lost(reason),
            None => NetError::lost_because("the connection closed"),
        }
    }

    /// Spawns a built-in plugin on the node; `options` is a JSON object of
    /// spawn options (name, memory, deadline, mailbox, config).
    pub async fn spawn(&self, plugin: &str, options: &str) -> Result<String, NetError> {
        let frame = self
            .call(
                |req| Frame::Spawn {
                    req,
                    plugin: plugin.into(),
                    options: options.into(),
                },
                Duration::from_secs(30),
            )
            .await?;
        match frame {
            Frame::Spawned { name, .. } => Ok(name),
            other => Err(NetError::Remote(format!("unexpected answer {other:?}"))),
        }
    }

    /// Sends a request to an agent and waits for its reply.
    pub async fn request(
        &self,
        agent: &str,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, NetError> {
        self.forward(agent, payload, 0, timeout).await
    }

    /// [`RemoteNode::request`] for a request that has already been through
    /// `hops` forwards (a node passing an agent's forward on to a peer).
    pub async fn forward(
        &self,
        agent: &str,
        payload: Vec<u8>,
        hops: u8,
        timeout: Duration,
    ) -> Result<Vec<u8>, NetError> {
        fits(&payload)?;
        let frame = self
            .call(
                |req| Frame::Request {
                    req,
                    hops,
                    to: agent.into(),
                    payload: Bytes::from(payload),
                },
                timeout,
            )
            .await?;
        match frame {
            Frame::Reply { payload, .. } => Ok(payload.to_vec()),
            other => Err(NetError::Remote(format!("unexpected answer {other:?}"))),
        }
    }

    /// Fire and forget.
    pub async fn send(&self, agent: &str, payload: Vec<u8>) -> Result<(), NetError> {
        fits(&payload)?;
        self.tx
            .send(Frame::Send {
                to: agent.into(),
                payload: Bytes::from(payload),
            })
            .await
            .map_err(|_| self.lost())
    }

    /// Fire and forget without waiting: fails at once if the connection's
    /// queue is full (backpressure) or the connection is gone.
    pub fn try_send(&self, agent: &str, payload: Vec<u8>) -> Result<(), NetError> {
        fits(&payload)?;
        self.tx
            .try_send(Frame::Send {
                to: agent.into(),
                payload: Bytes::from(payload),
            })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => {
                    NetError::lost_because("the connection's send queue is full")
                }
                mpsc::error::TrySendError::Closed(_) => self.lost(),
            })
    }

    /// Stops (or kills) an agent.
    pub async fn stop(&self, agent: &str, kill: bool) -> Result<(), NetError> {
        self.call(
            |req| Frame::Stop {
                req,
                name: agent.into(),
                kill,
            },
            Duration::from_secs(30),
        )
        .await
        .map(drop)
    }
}

/// Refuses a payload no frame can carry, before it is queued.
fn fits(payload: &[u8]) -> Result<(), NetError> {
    if payload.len() > MAX_PAYLOAD {
        return Err(NetError::TooLarge {
            size: payload.len(),
            max: MAX_PAYLOAD,
        });
    }
    Ok(())
}

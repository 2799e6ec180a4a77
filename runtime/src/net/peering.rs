//! Served nodes linked to their peers without a script: `caxton-run serve
//! --peer NAME=HOST:PORT#FINGERPRINT` (or `[peers]` in the config). Each
//! link presents the cluster's peer token, carries the messages of every
//! tenant's agents to `name@NAME` (as `tenant/name`, so a tenant reaches
//! its own agents there), and reconnects with backoff when the peer goes
//! away.
//!
//! While a peer is away nothing is queued for it: a request to an agent
//! there fails at once with `peer NAME is unreachable ...` (the caller gets
//! the error), and a send is refused the same way (the sending agent's
//! `send` returns the error). Nothing is lost silently; what to retry is
//! the sender's decision.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::NetError;
use super::client::RemoteNode;
use crate::node::{LinkError, LinkReply, Node, PeerLink};

/// Where a peer is: its name, address (a host name is resolved at each
/// connection attempt, so a restarted pod's new address is found) and
/// certificate fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerSpec {
    /// The name agents use (`agent@NAME`).
    pub name: String,
    /// `HOST:PORT`.
    pub addr: String,
    /// The peer's certificate fingerprint.
    pub fingerprint: String,
}

impl PeerSpec {
    /// Reads `NAME=HOST:PORT#FINGERPRINT`.
    pub fn parse(text: &str) -> Result<PeerSpec, String> {
        let (name, rest) = text
            .split_once('=')
            .ok_or_else(|| format!("`{text}`: expected NAME=HOST:PORT#FINGERPRINT"))?;
        PeerSpec::with_name(name.trim(), rest.trim())
    }

    /// Reads `HOST:PORT#FINGERPRINT` for peer `name`.
    pub fn with_name(name: &str, value: &str) -> Result<PeerSpec, String> {
        crate::core::name::check(name).map_err(|e| format!("peer `{name}`: {e}"))?;
        let (addr, fingerprint) = value.split_once('#').ok_or_else(|| {
            format!("peer `{name}`: `{value}` should be HOST:PORT#FINGERPRINT (serve prints the fingerprint)")
        })?;
        if addr
            .rsplit_once(':')
            .is_none_or(|(_, port)| port.parse::<u16>().is_err())
        {
            return Err(format!("peer `{name}`: `{addr}` is not HOST:PORT"));
        }
        if fingerprint.trim().is_empty() {
            return Err(format!("peer `{name}`: the fingerprint is empty"));
        }
        Ok(PeerSpec {
            name: name.to_string(),
            addr: addr.to_string(),
            fingerprint: fingerprint.trim().to_string(),
        })
    }
}

/// A link to one peer that keeps itself connected.
pub struct Peer {
    spec: PeerSpec,
    state: Mutex<State>,
}

enum State {
    Up(RemoteNode),
    Away { since: Instant, why: String },
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer").field("spec", &self.spec).finish()
    }
}

/// First and longest wait between connection attempts.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(5));

impl Peer {
    /// Links `node` to the peer for every tenant and starts connecting
    /// (on the node's runtime) with `token`, the cluster's peer token.
    pub fn start(node: &Node, spec: PeerSpec, token: String) -> Arc<Peer> {
        let peer = Arc::new(Peer {
            spec,
            state: Mutex::new(State::Away {
                since: Instant::now(),
                why: "not connected yet".into(),
            }),
        });
        node.link_all(&peer.spec.name, peer.clone());
        let keep = peer.clone();
        node.runtime()
            .spawn(async move { keep.stay_connected(token).await });
        peer
    }

    /// Whether the link is up now.
    pub fn is_up(&self) -> bool {
        matches!(*self.state.lock().unwrap(), State::Up(_))
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    async fn stay_connected(&self, token: String) {
        let mut wait = BACKOFF.0;
        loop {
            match self.connect(&token).await {
                Ok(remote) => {
                    tracing::info!(target: "caxton::lifecycle", event = "peer-up", peer = %self.spec.name, addr = %remote.addr(), "linked to a peer");
                    wait = BACKOFF.0;
                    *self.state.lock().unwrap() = State::Up(remote.clone());
                    let why = remote.closed().await;
                    tracing::info!(target: "caxton::lifecycle", event = "peer-down", peer = %self.spec.name, why = %why, "lost a peer");
                    self.away(format!("the connection was lost ({why})"));
                }
                Err(e) => self.away(e.to_string()),
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(BACKOFF.1);
        }
    }

    fn away(&self, why: String) {
        let mut state = self.state.lock().unwrap();
        let since = match &*state {
            State::Away { since, .. } => *since,
            State::Up(_) => Instant::now(),
        };
        *state = State::Away { since, why };
    }

    async fn connect(&self, token: &str) -> Result<RemoteNode, NetError> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host(&self.spec.addr)
            .await
            .map_err(|e| NetError::Remote(format!("resolving {}: {e}", self.spec.addr)))?
            .collect();
        let addr = addrs.first().ok_or_else(|| {
            NetError::Remote(format!("{} resolves to no address", self.spec.addr))
        })?;
        RemoteNode::connect(*addr, &self.spec.fingerprint, token).await
    }

    /// The connection, or why there is none.
    fn link(&self) -> Result<RemoteNode, LinkError> {
        match &*self.state.lock().unwrap() {
            State::Up(remote) => Ok(remote.clone()),
            State::Away { since, why } => Err(format!(
                "peer `{}` is unreachable ({why}; reconnecting, away for {:.1} s): the message was not sent",
                self.spec.name,
                since.elapsed().as_secs_f64()
            )
            .into()),
        }
    }
}

impl PeerLink for Peer {
    fn forward(&self, agent: &str, payload: Vec<u8>, hops: u8, timeout: Duration) -> LinkReply {
        match self.link() {
            Ok(remote) => PeerLink::forward(&remote, agent, payload, hops, timeout),
            Err(e) => Box::pin(async move { Err(e) }),
        }
    }

    fn try_send(&self, agent: &str, payload: Vec<u8>) -> Result<(), LinkError> {
        PeerLink::try_send(&self.link()?, agent, payload)
    }
}

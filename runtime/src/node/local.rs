//! The node: one engine, one registry of agents, one tokio runtime. This
//! file holds the type and what every part shares; the operations are in
//! `spawn` (start and end agents), `request` (send and request),
//! `registry` (find agents, tenants, peers) and `stats` (what it counts).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::runtime::Handle;

use hdrhistogram::Histogram;

use super::background::BackgroundPool;
use super::cell::{AgentCell, TenantState};
use super::dead_letter::DeadLetter;
use super::peer::PeerLink;
use crate::host::{CaxtonEngine, Plugin, PluginError};
use crate::persist::Db;

pub(super) type Registry = HashMap<Arc<str>, HashMap<Arc<str>, Arc<AgentCell>>>;

/// Polls `fut` once on this thread, inside `rt`'s context (for its timers
/// and spawns) but without `block_on`, whose entry costs more than an
/// echo's handler: most spawns and inline drains finish in that poll. A
/// later poll (with a real waker) registers what the future waits for.
pub(crate) fn poll_here<F: Future>(rt: &Handle, fut: Pin<&mut F>) -> Poll<F::Output> {
    let _runtime = rt.enter();
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// Runs `fut` to completion on this thread (one outside the runtime):
/// [`poll_here`] first, and `block_on` only if that left it pending.
pub(crate) fn run_here<F: Future>(rt: &Handle, fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    match poll_here(rt, fut.as_mut()) {
        Poll::Ready(out) => out,
        Poll::Pending => rt.block_on(fut),
    }
}

/// A Caxton node: spawns agents, routes their messages, answers requests.
///
/// Cheap to clone. Async methods run on the node's tokio runtime; the
/// `*_blocking` ones are for threads outside it (a script), and run an idle
/// agent's handler inline on the calling thread.
#[derive(Clone)]
pub struct Node {
    pub(crate) inner: Arc<NodeInner>,
}

pub(crate) struct NodeInner {
    pub(crate) engine: CaxtonEngine,
    pub(crate) rt: Handle,
    pub(super) registry: RwLock<Registry>,
    /// Tenants with quotas; a tenant not here has none.
    pub(super) tenants: RwLock<HashMap<String, Arc<TenantState>>>,
    pub(super) plugins: Mutex<HashMap<String, Plugin>>,
    pub(super) next_id: AtomicU64,
    pub(crate) undeliverable: AtomicU64,
    pub(crate) dead_letters: Mutex<Vec<DeadLetter>>,
    /// Where specs and state are stored, on a durable node.
    pub(crate) db: Option<Db>,
    /// Failure -> serving again, per failure label.
    pub(super) recovery: Mutex<HashMap<&'static str, Histogram<u64>>>,
    /// Messages handled by agents (metrics: messages in).
    pub(crate) handled: AtomicU64,
    /// Replies, forwards and sends produced by agents (messages out).
    pub(crate) emitted: AtomicU64,
    /// Agent failures per reason label.
    pub(super) failures: Mutex<HashMap<&'static str, u64>>,
    /// QUIC links to other nodes, per (tenant, peer name): where
    /// `name@peer` addresses go.
    pub(super) peers: RwLock<HashMap<(String, String), Arc<dyn PeerLink>>>,
    /// How long a request forwarded to a peer waits for its reply.
    pub(crate) peer_timeout: Duration,
    /// Where background tenants' agents run, made on first use (`None` if
    /// the OS would not start its threads: they then share `rt`).
    pub(super) background: OnceLock<Option<BackgroundPool>>,
    /// Set once the node has been observed: from then on request round
    /// trips are timed into `requests` (see `observe`).
    pub(super) observed: AtomicBool,
    pub(super) requests: histogram::AtomicHistogram,
    /// Components tenants uploaded.
    pub(super) uploads: super::uploads::Uploads,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("agents", &self.agent_count())
            .finish()
    }
}

impl Node {
    /// A node on `engine` whose agents run on the runtime behind `rt`,
    /// keeping everything in memory.
    pub fn new(engine: CaxtonEngine, rt: Handle) -> Node {
        Node::build(engine, rt, None)
    }

    pub(crate) fn build(engine: CaxtonEngine, rt: Handle, db: Option<Db>) -> Node {
        Node {
            inner: Arc::new(NodeInner {
                engine,
                rt,
                registry: RwLock::new(HashMap::new()),
                tenants: RwLock::new(HashMap::new()),
                plugins: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(1),
                undeliverable: AtomicU64::new(0),
                dead_letters: Mutex::new(Vec::new()),
                db,
                recovery: Mutex::new(HashMap::new()),
                handled: AtomicU64::new(0),
                emitted: AtomicU64::new(0),
                failures: Mutex::new(HashMap::new()),
                peers: RwLock::new(HashMap::new()),
                peer_timeout: Duration::from_secs(30),
                background: OnceLock::new(),
                observed: AtomicBool::new(false),
                requests: super::observe::request_histogram(),
                uploads: super::uploads::Uploads::default(),
            }),
        }
    }

    /// The engine.
    pub fn engine(&self) -> &CaxtonEngine {
        &self.inner.engine
    }

    /// The runtime agents run on.
    pub fn runtime(&self) -> &Handle {
        &self.inner.rt
    }

    /// The runtime `cell`'s handlers run on: the node's, or the background
    /// pool for a background tenant's agent.
    pub(super) fn runtime_of(&self, cell: &AgentCell) -> &Handle {
        if !cell.is_background() {
            return &self.inner.rt;
        }
        let pool = self.inner.background.get_or_init(|| {
            BackgroundPool::new()
                .inspect_err(|e| {
                    tracing::warn!(
                        "no background pool ({e}): background tenants share the node's workers"
                    )
                })
                .ok()
        });
        pool.as_ref().map_or(&self.inner.rt, BackgroundPool::handle)
    }

    /// A built-in plugin by name or a component file by path; each is
    /// loaded once per node and then shared.
    pub fn plugin(&self, name_or_path: &str) -> Result<Plugin, PluginError> {
        if let Some(plugin) = self.inner.plugins.lock().unwrap().get(name_or_path) {
            return Ok(plugin.clone());
        }
        let plugin = Plugin::resolve(&self.inner.engine, name_or_path)?;
        self.inner
            .plugins
            .lock()
            .unwrap()
            .insert(name_or_path.to_string(), plugin.clone());
        Ok(plugin)
    }

    pub(crate) fn next_id(&self) -> u64 {
        self.inner.next_id.fetch_add(1, Relaxed)
    }

    /// After start or a handed-off drain: runs a drain if messages wait,
    /// else marks the agent idle.
    pub(super) fn release(&self, cell: &Arc<AgentCell>) {
        let waiting = cell.inner.lock().unwrap().started();
        if waiting {
            self.schedule(cell.clone());
        }
    }

    /// Runs the agent's drain on its runtime.
    pub(crate) fn schedule(&self, cell: Arc<AgentCell>) {
        let node = self.clone();
        self.runtime_of(&cell)
            .clone()
            .spawn(async move { node.drain(cell, None).await });
    }
}

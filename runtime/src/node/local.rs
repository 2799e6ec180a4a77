//! The node: one engine, one registry of agents, one tokio runtime.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::sync::oneshot;

use super::DEFAULT_TENANT;
use hdrhistogram::Histogram;

use super::background::BackgroundPool;
use super::cell::{AgentCell, Delivery, Enqueued, Inner, ReplyTo, TenantState};
use super::dead_letter::DeadLetter;
use super::error::{RequestError, SendError, SpawnError, TenantError};
use super::handle::AgentHandle;
use super::route::TenantReach;
use crate::core::budget::{LogLimiter, LogRate};
use crate::core::envelope::{Envelope, Kind};
use crate::core::name;
use crate::core::tenant::Tenant;
use crate::host::{AgentInstance, CaxtonEngine, Plugin, PluginError};
use crate::measure::{Stats, new_histogram};
use crate::net::client::RemoteNode;
use crate::persist::Db;

pub use crate::core::spawn::SpawnOptions;

type Registry = HashMap<Arc<str>, HashMap<Arc<str>, Arc<AgentCell>>>;

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
    registry: RwLock<Registry>,
    /// Tenants with quotas; a tenant not here has none.
    tenants: RwLock<HashMap<String, Arc<TenantState>>>,
    plugins: Mutex<HashMap<String, Plugin>>,
    next_id: AtomicU64,
    pub(crate) undeliverable: AtomicU64,
    pub(crate) dead_letters: Mutex<Vec<DeadLetter>>,
    /// Where specs and state are stored, on a durable node.
    pub(crate) db: Option<Db>,
    /// Failure -> serving again, per failure label.
    recovery: Mutex<HashMap<&'static str, Histogram<u64>>>,
    /// Messages handled by agents (metrics: messages in).
    pub(crate) handled: AtomicU64,
    /// Replies, forwards and sends produced by agents (messages out).
    pub(crate) emitted: AtomicU64,
    /// Agent failures per reason label.
    failures: Mutex<HashMap<&'static str, u64>>,
    /// QUIC links to other nodes, per (tenant, peer name): where
    /// `name@peer` addresses go.
    peers: RwLock<HashMap<(String, String), RemoteNode>>,
    /// How long a request forwarded to a peer waits for its reply.
    pub(crate) peer_timeout: Duration,
    /// Where background tenants' agents run, made on first use (`None` if
    /// the OS would not start its threads: they then share `rt`).
    background: OnceLock<Option<BackgroundPool>>,
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
    fn runtime_of(&self, cell: &AgentCell) -> &Handle {
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

    /// Spawns one agent: instantiates the plugin and runs its `init`. On a
    /// durable node the agent's spec is stored, so it comes back after a
    /// node restart.
    pub async fn spawn(
        &self,
        plugin: &Plugin,
        options: SpawnOptions,
    ) -> Result<AgentHandle, SpawnError> {
        self.spawn_with_state(plugin, options, HashMap::new(), true)
            .await
    }

    /// [`Node::spawn`] with the agent's state already populated; `fresh`
    /// is false for a restore (its spec and state are already stored).
    pub(crate) async fn spawn_with_state(
        &self,
        plugin: &Plugin,
        options: SpawnOptions,
        state: HashMap<String, Vec<u8>>,
        fresh: bool,
    ) -> Result<AgentHandle, SpawnError> {
        let mut options = options;
        let tenant = options
            .tenant
            .take()
            .unwrap_or_else(|| DEFAULT_TENANT.to_string());
        name::check(&tenant)?;
        let tenant_state = self.inner.tenants.read().unwrap().get(&tenant).cloned();
        if let Some(t) = &tenant_state {
            t.def
                .quotas
                .fit(&tenant, &mut options.limits, &options.given)?;
        }
        options.limits.check(self.inner.engine.options.max_memory)?;
        let id = self.next_id();
        let name = match options.name {
            Some(name) => name,
            None => format!("{}-{id}", short_name(plugin.name())),
        };
        name::check(&name)?;
        let name: Arc<str> = name.into();
        let tenant: Arc<str> = tenant.into();
        let cell = Arc::new(AgentCell {
            name: name.clone(),
            tenant: tenant.clone(),
            plugin: plugin.clone(),
            limits: options.limits.clone(),
            policy: options.restart.clone(),
            config: options.config.clone(),
            state: Arc::new(Mutex::new(state)),
            kill: Arc::new(AtomicBool::new(false)),
            log: Arc::new(Mutex::new(LogLimiter::new(LogRate::default()))),
            reach: Arc::new(TenantReach {
                node: Arc::downgrade(&self.inner),
                tenant: tenant.clone(),
                state: tenant_state.clone(),
            }),
            inner: Mutex::new(Inner::new(&options.limits)),
            instance: Mutex::new(None),
            tenant_state,
        });
        self.register(&cell)?;
        // A background tenant's `init` runs at its priority too.
        let start = {
            let (engine, plugin, spec) = (
                self.inner.engine.clone(),
                plugin.clone(),
                cell.instance_spec(),
            );
            async move { AgentInstance::start(&engine, &plugin, spec).await }
        };
        let started = if cell.is_background() {
            match self.runtime_of(&cell).spawn(start).await {
                Ok(started) => started,
                Err(join) => std::panic::resume_unwind(join.into_panic()),
            }
        } else {
            start.await
        };
        match started {
            Ok(mut instance) => {
                self.persist_spawn(&cell, instance.take_init_writes(), fresh);
                *cell.instance.lock().unwrap() = Some(instance);
                self.release(&cell);
                Ok(AgentHandle::new(self.clone(), cell))
            }
            Err(failure) => {
                self.unregister(&cell);
                for delivery in cell.fail(failure.clone()) {
                    self.reject(&cell, delivery);
                }
                Err(SpawnError::Start {
                    name: name.to_string(),
                    failure,
                })
            }
        }
    }

    /// Spawns `n` agents, using every worker of the runtime.
    pub async fn spawn_many(
        &self,
        plugin: &Plugin,
        n: usize,
        options: SpawnOptions,
    ) -> Result<Vec<AgentHandle>, SpawnError> {
        let workers = self.inner.rt.metrics().num_workers().max(1);
        let mut tasks = Vec::with_capacity(workers);
        for w in 0..workers {
            let node = self.clone();
            let plugin = plugin.clone();
            let options = options.clone();
            let indices: Vec<usize> = (w..n).step_by(workers).collect();
            tasks.push(self.inner.rt.spawn(async move {
                let mut out = Vec::with_capacity(indices.len());
                for i in indices {
                    let mut options = options.clone();
                    options.name = options.name.map(|prefix| format!("{prefix}-{i}"));
                    out.push((i, node.spawn(&plugin, options).await?));
                }
                Ok::<_, SpawnError>(out)
            }));
        }
        let mut all = Vec::with_capacity(n);
        let mut first_error = None;
        for task in tasks {
            match task.await {
                Ok(Ok(agents)) => all.extend(agents),
                Ok(Err(e)) => first_error = first_error.or(Some(e)),
                Err(join) => std::panic::resume_unwind(join.into_panic()),
            }
        }
        if let Some(e) = first_error {
            for (_, agent) in all {
                agent.kill();
            }
            return Err(e);
        }
        all.sort_by_key(|(i, _)| *i);
        Ok(all.into_iter().map(|(_, a)| a).collect())
    }

    /// [`Node::spawn`] for a thread outside the runtime.
    pub fn spawn_blocking(
        &self,
        plugin: &Plugin,
        options: SpawnOptions,
    ) -> Result<AgentHandle, SpawnError> {
        self.inner.rt.block_on(self.spawn(plugin, options))
    }

    fn register(&self, cell: &Arc<AgentCell>) -> Result<(), SpawnError> {
        let mut registry = self.inner.registry.write().unwrap();
        let total: usize = registry.values().map(HashMap::len).sum();
        let max = self.inner.engine.options.max_agents;
        if total >= max as usize {
            return Err(SpawnError::Capacity(max));
        }
        let agents = registry.entry(cell.tenant.clone()).or_default();
        if let Some(t) = &cell.tenant_state {
            let in_use = || agents.values().map(|a| a.limits.memory).sum();
            t.def.quotas.admit(
                &cell.tenant,
                agents.len() as u64,
                in_use,
                cell.limits.memory,
            )?;
        }
        if agents.contains_key(&cell.name) {
            return Err(SpawnError::NameTaken {
                name: cell.name.to_string(),
                tenant: cell.tenant.to_string(),
            });
        }
        agents.insert(cell.name.clone(), cell.clone());
        Ok(())
    }

    pub(crate) fn unregister(&self, cell: &Arc<AgentCell>) {
        let mut registry = self.inner.registry.write().unwrap();
        if let Some(agents) = registry.get_mut(&cell.tenant)
            && agents.get(&cell.name).is_some_and(|c| Arc::ptr_eq(c, cell))
        {
            agents.remove(&cell.name);
        }
    }

    /// The live agent `name` of `tenant`.
    pub fn agent(&self, tenant: &str, name: &str) -> Option<AgentHandle> {
        self.lookup(tenant, name)
            .ok()
            .map(|cell| AgentHandle::new(self.clone(), cell))
    }

    pub(crate) fn lookup(&self, tenant: &str, name: &str) -> Result<Arc<AgentCell>, SendError> {
        self.inner
            .registry
            .read()
            .unwrap()
            .get(tenant)
            .and_then(|agents| agents.get(name))
            .cloned()
            .ok_or_else(|| SendError::NoSuchAgent(name.to_string()))
    }

    /// Defines `tenant` (replacing what it had): its quotas, data dir and
    /// grants, or just quotas. The definition holds for the agents spawned
    /// from now on and the messages to and from them; an agent already
    /// running keeps the definition of its spawn. A data dir is created if
    /// missing.
    pub fn set_tenant(&self, tenant: &str, def: impl Into<Tenant>) -> Result<(), TenantError> {
        name::check(tenant)?;
        let mut def = def.into();
        if let Some(dir) = &def.data_dir {
            let bad = |e: std::io::Error| TenantError::DataDir {
                tenant: tenant.to_string(),
                dir: dir.clone(),
                why: e.to_string(),
            };
            std::fs::create_dir_all(dir).map_err(bad)?;
            // Absolute, so agents spawned later see the same directory
            // whatever the working directory is then.
            def.data_dir = Some(std::fs::canonicalize(dir).map_err(bad)?);
        }
        self.inner
            .tenants
            .write()
            .unwrap()
            .insert(tenant.to_string(), Arc::new(TenantState::new(def)));
        Ok(())
    }

    /// The definition of `tenant`, if it has one.
    pub fn tenant(&self, tenant: &str) -> Option<Tenant> {
        self.inner
            .tenants
            .read()
            .unwrap()
            .get(tenant)
            .map(|t| t.def.clone())
    }

    /// Every live agent of every tenant.
    pub fn agents(&self) -> Vec<AgentHandle> {
        let cells: Vec<Arc<AgentCell>> = self
            .inner
            .registry
            .read()
            .unwrap()
            .values()
            .flat_map(|agents| agents.values().cloned())
            .collect();
        cells
            .into_iter()
            .map(|cell| AgentHandle::new(self.clone(), cell))
            .collect()
    }

    /// Agents registered on this node.
    pub fn agent_count(&self) -> usize {
        self.inner
            .registry
            .read()
            .unwrap()
            .values()
            .map(HashMap::len)
            .sum()
    }

    /// Messages that agents sent to addresses that did not accept them.
    pub fn undeliverable(&self) -> u64 {
        self.inner.undeliverable.load(Relaxed)
    }

    /// Messages moved to the dead-letter queue, oldest first.
    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.inner.dead_letters.lock().unwrap().clone()
    }

    pub(crate) fn record_recovery(&self, label: &'static str, took: Duration) {
        let mut recovery = self.inner.recovery.lock().unwrap();
        let hist = recovery.entry(label).or_insert_with(new_histogram);
        hist.saturating_record((took.as_nanos() as u64).max(1));
    }

    /// Time from a failure to the next successfully handled message, per
    /// failure reason (`trap`, `memory`, `deadline`, ...).
    pub fn recovery_stats(&self) -> Vec<Stats> {
        let recovery = self.inner.recovery.lock().unwrap();
        let mut out: Vec<Stats> = recovery
            .iter()
            .map(|(label, h)| {
                Stats::from_histogram(&format!("recovery ({label})"), h, 0, Duration::ZERO, None)
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    pub(crate) fn count_failure(&self, label: &'static str) {
        *self
            .inner
            .failures
            .lock()
            .unwrap()
            .entry(label)
            .or_default() += 1;
    }

    /// Agent failures so far, per reason (`trap`, `memory`, `deadline`, ...).
    pub fn failure_counts(&self) -> Vec<(&'static str, u64)> {
        let mut out: Vec<_> = self
            .inner
            .failures
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (*k, *v))
            .collect();
        out.sort();
        out
    }

    /// Messages handled by agents, and messages they produced (replies,
    /// forwards, sends), since the node started.
    pub fn message_counts(&self) -> (u64, u64) {
        (
            self.inner.handled.load(Relaxed),
            self.inner.emitted.load(Relaxed),
        )
    }

    /// Live agents per plugin name.
    pub fn agents_per_plugin(&self) -> Vec<(String, usize)> {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for agents in self.inner.registry.read().unwrap().values() {
            for cell in agents.values() {
                *counts.entry(cell.plugin.name().to_string()).or_default() += 1;
            }
        }
        let mut out: Vec<_> = counts.into_iter().collect();
        out.sort();
        out
    }

    /// Links `peer` for the agents of `tenant`: a message they send to
    /// `name@peer` goes over `link` to the agent `name` on that node (in
    /// the tenant `link`'s token stands for). Replaces an older link.
    pub fn link(&self, tenant: &str, peer: &str, link: RemoteNode) {
        self.inner
            .peers
            .write()
            .unwrap()
            .insert((tenant.to_string(), peer.to_string()), link);
    }

    pub(crate) fn peer(&self, tenant: &str, peer: &str) -> Option<RemoteNode> {
        self.inner
            .peers
            .read()
            .unwrap()
            .get(&(tenant.to_string(), peer.to_string()))
            .cloned()
    }

    /// After start or a handed-off drain: runs a drain if messages wait,
    /// else marks the agent idle.
    fn release(&self, cell: &Arc<AgentCell>) {
        let mut inner = cell.inner.lock().unwrap();
        if inner.mailbox.is_empty() {
            inner.running = false;
        } else {
            drop(inner);
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

    /// Sends `payload` to `agent` as an `inform` (fire and forget).
    pub fn send(&self, agent: &AgentHandle, payload: Vec<u8>) -> Result<(), SendError> {
        let env = self.envelope(Kind::Inform, payload);
        self.enqueue(&agent.cell, Delivery::new(env, None))
    }

    fn envelope(&self, kind: Kind, payload: Vec<u8>) -> Envelope {
        Envelope {
            id: self.next_id(),
            sender: String::new(),
            conversation: None,
            kind,
            payload,
        }
    }

    /// Enqueues and, if this made the agent busy, starts its drain.
    fn enqueue(&self, cell: &Arc<AgentCell>, delivery: Delivery) -> Result<(), SendError> {
        self.push(cell, delivery).map_err(|rejected| rejected.0)
    }

    /// Enqueues `delivery` and, if that made the agent busy, starts its
    /// drain on the runtime. A refused delivery is handed back with the
    /// reason.
    pub(crate) fn push(
        &self,
        cell: &Arc<AgentCell>,
        delivery: Delivery,
    ) -> Result<(), Box<(SendError, Delivery)>> {
        if cell.enqueue(delivery)? == Enqueued::Schedule {
            self.schedule(cell.clone());
        }
        Ok(())
    }

    /// Runs `cell`'s drain on this thread (outside the runtime) until
    /// `until`; if it is not done by then, the rest of it runs on the
    /// runtime and this returns false. So a caller's timeout holds even
    /// when the handler runs on its thread; the handler itself runs on
    /// until it ends or its deadline cuts it.
    fn drain_inline(&self, cell: Arc<AgentCell>, until: Instant) -> bool {
        let node = self.clone();
        let mut drain = Box::pin(async move { node.drain(cell, Some(4)).await });
        let done = self.inner.rt.block_on(async {
            let first = std::future::poll_fn(|cx| Poll::Ready(drain.as_mut().poll(cx))).await;
            // A timer only for a drain that did not finish at once.
            first.is_ready()
                || tokio::time::timeout_at(until.into(), &mut drain)
                    .await
                    .is_ok()
        });
        if !done {
            self.inner.rt.spawn(drain);
        }
        done
    }

    /// Sends a request and waits for the reply (from inside the runtime).
    pub async fn request(
        &self,
        agent: &AgentHandle,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, RequestError> {
        let rx = self.submit_request(agent, payload)?;
        wait(agent, rx, timeout).await
    }

    /// Sends a request and waits for the reply, from a thread outside the
    /// runtime. If the agent is idle its handler runs right here, which
    /// makes an in-process round trip cost one component call, not two
    /// thread wake-ups. (Not a background tenant's: this thread has the
    /// caller's priority, not the tenant's.) Either way the answer comes
    /// within `timeout` or the call returns [`RequestError::Timeout`].
    pub fn request_blocking(
        &self,
        agent: &AgentHandle,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, RequestError> {
        let until = Instant::now() + timeout;
        let (tx, mut rx) = oneshot::channel();
        let env = self.envelope(Kind::Request, payload);
        let cell = &agent.cell;
        let timed_out = || RequestError::Timeout {
            name: agent.name().to_string(),
            timeout,
        };
        match cell.enqueue(Delivery::new(env, Some(ReplyTo::Waiter(tx)))) {
            Err(rejected) => return Err(RequestError::Send(rejected.0)),
            Ok(Enqueued::Queued) => {}
            Ok(Enqueued::Schedule) if !cell.is_background() => {
                if !self.drain_inline(cell.clone(), until) {
                    return Err(timed_out());
                }
            }
            Ok(Enqueued::Schedule) => self.schedule(cell.clone()),
        }
        match rx.try_recv() {
            Ok(result) => result,
            Err(oneshot::error::TryRecvError::Closed) => {
                Err(RequestError::Dropped(agent.name().to_string()))
            }
            Err(oneshot::error::TryRecvError::Empty) => self.inner.rt.block_on(async {
                match tokio::time::timeout_at(until.into(), rx).await {
                    Ok(Ok(result)) => result,
                    Ok(Err(_closed)) => Err(RequestError::Dropped(agent.name().to_string())),
                    Err(_elapsed) => Err(timed_out()),
                }
            }),
        }
    }

    /// Sends a request whose answer is handed to `done` wherever it is
    /// produced (usually a runtime worker). `done` is always called once:
    /// with the reply, the handler's failure, or why it was not delivered.
    pub fn request_with(
        &self,
        agent: &AgentHandle,
        payload: Vec<u8>,
        done: impl FnOnce(Result<Vec<u8>, RequestError>) + Send + 'static,
    ) {
        self.forwarded_request(agent, payload, 0, done)
    }

    /// [`Node::request_with`] for a request that has been through `hops`
    /// forwards already (from a peer node), so a forwarding loop across
    /// nodes ends at the hop limit too.
    pub(crate) fn forwarded_request(
        &self,
        agent: &AgentHandle,
        payload: Vec<u8>,
        hops: u8,
        done: impl FnOnce(Result<Vec<u8>, RequestError>) + Send + 'static,
    ) {
        let env = self.envelope(Kind::Request, payload);
        let mut delivery = Delivery::new(env, Some(ReplyTo::Callback(Box::new(done))));
        delivery.hops = hops;
        if let Err(rejected) = self.push(&agent.cell, delivery) {
            let (err, delivery) = *rejected;
            if let Some(ReplyTo::Callback(done)) = delivery.reply {
                done(Err(RequestError::Send(err)));
            }
        }
    }

    /// Enqueues a request whose answer arrives on the returned receiver.
    fn submit_request(&self, agent: &AgentHandle, payload: Vec<u8>) -> Result<Reply, SendError> {
        let (tx, rx) = oneshot::channel();
        let env = self.envelope(Kind::Request, payload);
        let reply = Some(ReplyTo::Waiter(tx));
        self.enqueue(&agent.cell, Delivery::new(env, reply))?;
        Ok(rx)
    }

    /// Graceful stop: queued messages are still handled, new ones refused.
    pub fn stop(&self, agent: &AgentHandle) {
        let instance = agent.cell.stop();
        self.dispose(&agent.cell, instance);
        self.unregister(&agent.cell);
        self.forget(&agent.cell);
    }

    /// Abrupt stop: a running handler is interrupted at the next epoch
    /// tick; queued requests get [`RequestError::Dropped`].
    pub fn kill(&self, agent: &AgentHandle) {
        let (queued, instance) = agent.cell.kill();
        self.dispose(&agent.cell, instance);
        for delivery in queued {
            self.reject(&agent.cell, delivery);
        }
        self.unregister(&agent.cell);
        self.forget(&agent.cell);
    }

    /// Drops a stopped agent's instance. Giving its memory back to the
    /// pool (unmapping or zeroing up to its whole linear memory) is
    /// kernel work that no scheduler priority interrupts, so a background
    /// tenant's is done on its own pool, not on the caller's thread.
    fn dispose(&self, cell: &AgentCell, instance: Option<AgentInstance>) {
        if let Some(instance) = instance
            && cell.is_background()
        {
            self.runtime_of(cell).spawn(async move { drop(instance) });
        }
    }
}

/// Where a request's answer arrives.
type Reply = oneshot::Receiver<Result<Vec<u8>, RequestError>>;

async fn wait(agent: &AgentHandle, rx: Reply, timeout: Duration) -> Result<Vec<u8>, RequestError> {
    match tokio::time::timeout(timeout, rx).await {
        Ok(Ok(result)) => result,
        Ok(Err(_closed)) => Err(RequestError::Dropped(agent.name().to_string())),
        Err(_elapsed) => Err(RequestError::Timeout {
            name: agent.name().to_string(),
            timeout,
        }),
    }
}

/// `echo` for a built-in, the file stem for a path.
fn short_name(plugin: &str) -> String {
    let stem = std::path::Path::new(plugin)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("agent");
    let cleaned: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if cleaned.is_empty() {
        "agent".into()
    } else {
        cleaned
    }
}

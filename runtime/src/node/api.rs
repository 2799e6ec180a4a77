//! The operations a node offers, wherever it runs: [`NodeApi`] is
//! implemented by the embedded [`Node`] (here) and by the QUIC client's
//! `RemoteNode` (in `net`, which sits above this layer). Scripts spawn
//! through it, and the load generator drives any node's agents through
//! one [`Targets`], so local and remote agents are reached the same way.

use std::time::Duration;

use async_trait::async_trait;

use super::{AgentHandle, Node, RequestError, SendError, SpawnError, SpawnOptions};
use crate::host::Plugin;
use crate::measure::load::{Done, Target};

/// Which component to spawn: a plugin's name (a built-in, or a file the
/// node may read), or a component already loaded here.
#[derive(Debug, Clone)]
pub enum PluginRef {
    /// By name.
    Name(String),
    /// Loaded by this process.
    Loaded(Plugin),
}

/// What a node offers its callers: spawn, send, request, stop, kill.
#[async_trait]
pub trait NodeApi: Clone + Send + Sync + std::fmt::Debug + 'static {
    /// How a caller holds an agent of this node (a handle in-process, a
    /// name across a connection).
    type Agent: Clone + Send + Sync + std::fmt::Debug + 'static;
    /// Why an operation failed.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Spawns an agent of `plugin`.
    async fn spawn(
        &self,
        plugin: &PluginRef,
        options: SpawnOptions,
    ) -> Result<Self::Agent, Self::Error>;

    /// Spawns `n` agents, all or none (a name in `options` is a prefix:
    /// `NAME-0`, `NAME-1`, ...). By default the spawns run concurrently.
    async fn spawn_many(
        &self,
        plugin: &PluginRef,
        n: usize,
        options: SpawnOptions,
    ) -> Result<Vec<Self::Agent>, Self::Error> {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..n {
            let (node, plugin, mut options) = (self.clone(), plugin.clone(), options.clone());
            options.name = options.name.map(|prefix| format!("{prefix}-{i}"));
            tasks.spawn(async move { (i, node.spawn(&plugin, options).await) });
        }
        let mut agents = vec![None; n];
        let mut first_error = None;
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok((i, Ok(agent))) => agents[i] = Some(agent),
                Ok((_, Err(e))) => first_error = first_error.or(Some(e)),
                Err(join) => std::panic::resume_unwind(join.into_panic()),
            }
        }
        if let Some(e) = first_error {
            for agent in agents.into_iter().flatten() {
                let _ = self.kill(&agent).await;
            }
            return Err(e);
        }
        Ok(agents.into_iter().flatten().collect())
    }

    /// Queues `payload` for `agent`; no reply.
    async fn send(&self, agent: &Self::Agent, payload: Vec<u8>) -> Result<(), Self::Error>;

    /// Sends a request and waits up to `timeout` for its reply.
    async fn request(
        &self,
        agent: &Self::Agent,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, Self::Error>;

    /// Sends a request; `done` gets the reply, exactly once, on any thread.
    /// For the load generator, which keeps many in flight without a task
    /// each.
    fn request_with(
        &self,
        agent: &Self::Agent,
        payload: Vec<u8>,
        done: impl FnOnce(Result<Vec<u8>, Self::Error>) + Send + 'static,
    );

    /// Stops `agent` after the messages already queued.
    async fn stop(&self, agent: &Self::Agent) -> Result<(), Self::Error>;

    /// Stops `agent` now; queued messages are dropped, requests answered
    /// with an error.
    async fn kill(&self, agent: &Self::Agent) -> Result<(), Self::Error>;
}

/// Why an operation on the embedded node failed.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// A spawn.
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    /// A send.
    #[error(transparent)]
    Send(#[from] SendError),
    /// A request.
    #[error(transparent)]
    Request(#[from] RequestError),
}

#[async_trait]
impl NodeApi for Node {
    type Agent = AgentHandle;
    type Error = NodeError;

    async fn spawn(
        &self,
        plugin: &PluginRef,
        options: SpawnOptions,
    ) -> Result<AgentHandle, NodeError> {
        let plugin = self.resolve(plugin)?;
        Ok(Node::spawn(self, &plugin, options).await?)
    }

    async fn spawn_many(
        &self,
        plugin: &PluginRef,
        n: usize,
        options: SpawnOptions,
    ) -> Result<Vec<AgentHandle>, NodeError> {
        let plugin = self.resolve(plugin)?;
        Ok(Node::spawn_many(self, &plugin, n, options).await?)
    }

    async fn send(&self, agent: &AgentHandle, payload: Vec<u8>) -> Result<(), NodeError> {
        Ok(Node::send(self, agent, payload)?)
    }

    async fn request(
        &self,
        agent: &AgentHandle,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, NodeError> {
        Ok(Node::request(self, agent, payload, timeout).await?)
    }

    fn request_with(
        &self,
        agent: &AgentHandle,
        payload: Vec<u8>,
        done: impl FnOnce(Result<Vec<u8>, NodeError>) + Send + 'static,
    ) {
        Node::request_with(self, agent, payload, move |r| done(r.map_err(Into::into)));
    }

    async fn stop(&self, agent: &AgentHandle) -> Result<(), NodeError> {
        Node::stop(self, agent);
        Ok(())
    }

    async fn kill(&self, agent: &AgentHandle) -> Result<(), NodeError> {
        Node::kill(self, agent);
        Ok(())
    }
}

impl Node {
    fn resolve(&self, plugin: &PluginRef) -> Result<Plugin, SpawnError> {
        match plugin {
            PluginRef::Name(name) => Ok(self.plugin(name)?),
            PluginRef::Loaded(p) => Ok(p.clone()),
        }
    }
}

/// Agents of any node as a load [`Target`]: each request through
/// [`NodeApi::request_with`]. The agents may be on several nodes (or
/// several connections to one), so that a load spreads over them.
#[derive(Debug, Clone)]
pub struct Targets<N: NodeApi> {
    agents: Vec<(N, N::Agent)>,
}

impl<N: NodeApi> Targets<N> {
    /// Load on `agents`, each with the node it is reached through.
    pub fn new(agents: Vec<(N, N::Agent)>) -> Self {
        Targets { agents }
    }
}

impl<N: NodeApi> Target for Targets<N> {
    fn len(&self) -> usize {
        self.agents.len()
    }

    fn call(&self, index: usize, payload: Vec<u8>, done: Done) {
        let (node, agent) = &self.agents[index];
        node.request_with(agent, payload, move |result| {
            done(result.map(drop).map_err(|e| e.to_string()))
        });
    }
}

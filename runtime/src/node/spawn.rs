//! Starting and ending agents: spawn (one or many, on every worker),
//! the registry entries that make them reachable, stop and kill.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use super::DEFAULT_TENANT;
use super::cell::{AgentCell, life};
use super::error::SpawnError;
use super::handle::AgentHandle;
use super::local::Node;
use super::route::TenantReach;
use crate::core::budget::{LogLimiter, LogRate};
use crate::core::name;
use crate::core::spawn::SpawnOptions;
use crate::host::{AgentInstance, Plugin};

impl Node {
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
            inner: Mutex::new(life(&options.limits)),
            instance: Mutex::new(None),
            tenant_state,
            memory: Arc::default(),
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
        super::local::run_here(&self.inner.rt, self.spawn(plugin, options))
    }

    pub(super) fn register(&self, cell: &Arc<AgentCell>) -> Result<(), SpawnError> {
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
    pub(super) fn dispose(&self, cell: &AgentCell, instance: Option<AgentInstance>) {
        if let Some(instance) = instance
            && cell.is_background()
        {
            self.runtime_of(cell).spawn(async move { drop(instance) });
        }
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

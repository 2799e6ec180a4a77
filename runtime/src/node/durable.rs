//! A durable node: agent specs and state in the node's database, and
//! bringing every agent back after the node process restarts.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio::runtime::Handle;

use super::cell::AgentCell;
use super::local::Node;
use crate::core::spawn::SpawnOptions;
use crate::host::CaxtonEngine;
use crate::persist::{AgentRecord, Db, PersistError, StateWrite};

/// An agent as the database holds it: its spec and its state.
type Stored = (AgentRecord, HashMap<String, Vec<u8>>);

/// What a restore brought back.
#[derive(Debug, Clone, Default)]
pub struct RestoreReport {
    /// Agents serving again.
    pub restored: usize,
    /// Agents that could not be spawned again, with the reason.
    pub failed: Vec<(String, String)>,
    /// Time from opening the database to the last agent serving.
    pub took: Duration,
}

impl Node {
    /// A node that stores agent specs and state in `db`.
    pub fn durable(engine: CaxtonEngine, rt: Handle, db: Db) -> Node {
        Node::build(engine, rt, Some(db))
    }

    /// Spawns again every agent stored in the database, with its state,
    /// using every worker of the runtime. Messages that were queued when the
    /// node died are not stored and do not come back.
    pub async fn restore(&self) -> Result<RestoreReport, PersistError> {
        let start = Instant::now();
        let Some(db) = &self.inner.db else {
            return Ok(RestoreReport::default());
        };
        // Tenants' components first: their agents need them.
        let components_failed = self.restore_uploads()?;
        let records = db.agents()?;
        let mut with_state = Vec::with_capacity(records.len());
        for record in records {
            let state = db.load_state(&record.tenant, &record.name)?;
            with_state.push((record, state));
        }
        let workers = self.runtime().metrics().num_workers().max(1);
        let mut chunks: Vec<Vec<Stored>> = (0..workers).map(|_| Vec::new()).collect();
        for (i, item) in with_state.into_iter().enumerate() {
            chunks[i % workers].push(item);
        }
        let mut tasks = Vec::new();
        for chunk in chunks {
            let node = self.clone();
            tasks.push(self.runtime().spawn(async move {
                let mut restored = 0;
                let mut failed = Vec::new();
                for (record, state) in chunk {
                    let label = format!("{}/{}", record.tenant, record.name);
                    match node.respawn(record, state).await {
                        Ok(()) => restored += 1,
                        Err(e) => failed.push((label, e)),
                    }
                }
                (restored, failed)
            }));
        }
        let mut report = RestoreReport {
            failed: components_failed,
            ..RestoreReport::default()
        };
        for task in tasks {
            let (restored, failed) = task.await.expect("restore task panicked");
            report.restored += restored;
            report.failed.extend(failed);
        }
        report.took = start.elapsed();
        Ok(report)
    }

    async fn respawn(
        &self,
        record: AgentRecord,
        state: HashMap<String, Vec<u8>>,
    ) -> Result<(), String> {
        let plugin = match self.uploaded_by_hash(&record.tenant, &record.plugin) {
            Some(plugin) => plugin,
            None => self.plugin(&record.plugin).map_err(|e| e.to_string())?,
        };
        let options = SpawnOptions {
            name: Some(record.name),
            tenant: Some(record.tenant),
            limits: record.limits,
            config: record.config,
            restart: record.restart,
            given: Vec::new(),
        };
        self.spawn_with_state(&plugin, options, state, false)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    /// Stores a freshly spawned agent's spec (and what its `init` wrote).
    /// A restored agent's spec and state are already stored: only its
    /// `init` writes are.
    pub(crate) fn persist_spawn(
        &self,
        cell: &AgentCell,
        init_writes: Vec<StateWrite>,
        fresh: bool,
    ) {
        let Some(db) = &self.inner.db else { return };
        if !fresh {
            self.persist_writes(cell, &init_writes);
            return;
        }
        let record = AgentRecord {
            tenant: cell.tenant.to_string(),
            name: cell.name.to_string(),
            plugin: cell.plugin.name().to_string(),
            limits: cell.limits.clone(),
            restart: cell.policy.clone(),
            config: cell.config.clone(),
        };
        if let Err(e) = db.create_agent(&record) {
            tracing::error!(
                agent = &*cell.name,
                "the agent will not survive a node restart: {e}"
            );
        }
        self.persist_writes(cell, &init_writes);
    }

    /// Stores the state writes of one handled batch, in one transaction.
    pub(crate) fn persist_writes(&self, cell: &AgentCell, writes: &[StateWrite]) {
        let Some(db) = &self.inner.db else { return };
        if writes.is_empty() {
            return;
        }
        if let Err(e) = db.commit_state(&cell.tenant, &cell.name, writes) {
            tracing::error!(agent = &*cell.name, "state writes were not stored: {e}");
        }
    }

    /// Forgets a stopped or killed agent.
    pub(crate) fn forget(&self, cell: &AgentCell) {
        let Some(db) = &self.inner.db else { return };
        if let Err(e) = db.delete_agent(&cell.tenant, &cell.name) {
            tracing::error!(agent = &*cell.name, "could not forget the agent: {e}");
        }
    }
}

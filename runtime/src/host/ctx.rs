//! What one agent's `Store` holds: its WASI context, limits, the effects of
//! the call in progress and a handle on its persistent state.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::core::address::Reach;
use crate::core::budget::{ENTRY, HostBudget, Ledger, LogLimiter};
use crate::core::envelope::Effects;
use crate::core::failure::Failure;
use crate::core::limits::AgentLimits;

use super::bindings::Agent;
use super::wasi::StderrTail;

/// An agent's persistent key-value state, owned by the node so it outlives
/// any one instance (a restarted instance sees it again).
pub type SharedState = Arc<Mutex<HashMap<String, Vec<u8>>>>;

/// An agent's log rate limiter, owned by the node so a restarted instance
/// does not start with a fresh allowance.
pub type SharedLog = Arc<Mutex<LogLimiter>>;

/// Store data of one agent instance.
pub struct AgentCtx {
    pub(crate) name: Arc<str>,
    pub(crate) limits: AgentLimits,
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    /// Effects of the call in progress; taken when it returns.
    pub(crate) effects: Effects,
    /// Ids of the messages being handled and whether each was answered.
    pub(crate) batch: Vec<(u64, bool)>,
    /// State writes of the call in progress, visible to its own reads.
    pub(crate) overlay: HashMap<String, Option<Vec<u8>>>,
    pub(crate) state: SharedState,
    /// Bytes and keys of the stored state (each key charged with its value
    /// and [`ENTRY`]), as committed.
    pub(crate) state_held: (usize, usize),
    /// The same after the pending writes of this call are committed.
    pub(crate) state_pending: (usize, usize),
    /// Its byte budgets, and what the call in progress holds of `call`.
    pub(crate) budget: HostBudget,
    pub(crate) held: Ledger,
    /// When the call in progress must have ended (the wall clock).
    pub(crate) deadline_at: Instant,
    pub(crate) kill: Arc<AtomicBool>,
    pub(crate) stderr_tail: StderrTail,
    /// Whom it may address (its tenant's grants, the node's peers).
    pub(crate) reach: Arc<dyn Reach>,
    pub(crate) log: SharedLog,
}

impl AgentCtx {
    pub(crate) fn new(spec: &super::InstanceSpec) -> Result<Self, Failure> {
        let name = spec.name.clone();
        let limits = spec.limits.clone();
        let stderr_tail = StderrTail::default();
        let wasi = super::wasi::deny_by_default(
            name.clone(),
            stderr_tail.clone(),
            spec.data_dir.as_deref(),
        )
        .map_err(|e| Failure::Host(e.to_string()))?;
        let state_held = {
            let state = spec.state.lock().unwrap();
            let bytes = state.iter().map(|(k, v)| k.len() + v.len() + ENTRY).sum();
            (bytes, state.len())
        };
        let budget = HostBudget::of(&limits);
        Ok(AgentCtx {
            limiter: MemoryLimiter {
                limit: limits.memory,
                granted: 0,
                in_use: spec.memory.clone(),
            },
            name,
            limits,
            wasi,
            table: ResourceTable::new(),
            effects: Effects::default(),
            batch: Vec::new(),
            overlay: HashMap::new(),
            state: spec.state.clone(),
            state_held,
            state_pending: state_held,
            budget,
            held: Ledger::new("call", budget.call),
            deadline_at: Instant::now(),
            kill: spec.kill.clone(),
            stderr_tail,
            reach: spec.reach.clone(),
            log: spec.log.clone(),
        })
    }

    /// Starts a guest call that must end within the agent's deadline (a
    /// handler call is preceded by [`AgentCtx::discard`], which also
    /// forgets what the last call held).
    pub(crate) fn start_call(&mut self) {
        self.start_call_at(Instant::now());
    }

    /// [`AgentCtx::start_call`] of a call that started at `now`.
    pub(crate) fn start_call_at(&mut self, now: Instant) {
        self.deadline_at = now + self.limits.deadline;
    }

    /// Commits the state writes of a call that returned normally to the
    /// shared state, and returns them (for durable storage).
    pub(crate) fn commit_state(&mut self) -> Vec<(String, Option<Vec<u8>>)> {
        if self.overlay.is_empty() {
            return Vec::new();
        }
        let mut state = self.state.lock().unwrap();
        self.state_held = self.state_pending;
        let writes: Vec<_> = self.overlay.drain().collect();
        for (key, value) in &writes {
            match value {
                Some(v) => state.insert(key.clone(), v.clone()),
                None => state.remove(key),
            };
        }
        writes
    }

    /// Forgets everything a failed call did. Every call starts with it, so
    /// what `init` left, or a call whose effects were not applied, does not
    /// leak into the next (a handled call's were emptied already:
    /// `AgentInstance::applied`).
    pub(crate) fn discard(&mut self) {
        self.overlay.clear();
        self.state_pending = self.state_held;
        self.held.clear();
        self.effects.clear();
        self.batch.clear();
    }
}

impl WasiView for AgentCtx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Enforces the agent's memory limit. Growing past it raises
/// [`Failure::MemoryLimit`] as a trap, so the failure carries its reason
/// instead of surfacing as an allocator abort.
pub(crate) struct MemoryLimiter {
    limit: u64,
    /// What this instance's memories have been granted, bytes.
    granted: u64,
    /// The agent's memory in use, shared with the node for observers: this
    /// instance's grants are added as they happen and taken back when it is
    /// dropped, so a restarted agent never counts its old instance too.
    in_use: Arc<AtomicU64>,
}

impl Drop for MemoryLimiter {
    fn drop(&mut self) {
        self.in_use.fetch_sub(self.granted, Relaxed);
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired as u64 > self.limit {
            return Err(wasmtime::Error::new(Failure::MemoryLimit {
                requested: desired as u64,
                limit: self.limit,
            }));
        }
        // Called at each memory's creation too (from 0), so this counts
        // initial memories as well as growth.
        let grown = desired.saturating_sub(current) as u64;
        self.granted += grown;
        self.in_use.fetch_add(grown, Relaxed);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }

    fn instances(&self) -> usize {
        16
    }

    fn tables(&self) -> usize {
        16
    }

    fn memories(&self) -> usize {
        2
    }
}

/// Links WASI (deny-by-default through the context) and the Caxton host
/// interface into `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<AgentCtx>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    Agent::add_to_linker::<AgentCtx, HasSelf<AgentCtx>>(linker, |ctx| ctx)
}

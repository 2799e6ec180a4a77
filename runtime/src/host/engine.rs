//! The node's wasmtime engine and its epoch ticker.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::cache::ComponentCache;
use super::ticker::{Ticker, TickerOwner};

/// How a node's engine is sized. The pooling allocator reserves its slots up
/// front, so the maximum agent count and memory per agent are fixed here.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Agent instances that may be alive at once.
    pub max_agents: u32,
    /// The most linear memory any one agent may be given, in bytes.
    pub max_memory: u64,
    /// Epoch tick: the granularity of deadlines and of fairness yields.
    pub tick: Duration,
    /// Where compiled components are cached; `None` compiles every time.
    pub cache_dir: Option<PathBuf>,
    /// Meter fuel (costs some speed for every agent; needed for fuel quotas).
    pub fuel: bool,
    /// How agents' memories sit in the address space: whether compiled
    /// code needs explicit bounds checks.
    pub memory_layout: MemoryLayout,
    /// The host's files the node may use (component files, data dirs);
    /// none by default.
    pub files: Arc<dyn super::files::HostFiles>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            max_agents: 12_000,
            max_memory: 1 << 30,
            tick: Duration::from_millis(1),
            cache_dir: None,
            fuel: false,
            memory_layout: MemoryLayout::Guarded,
            files: Arc::new(super::files::NoFiles),
        }
    }
}

/// How agents' linear memories are laid out in the address space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MemoryLayout {
    /// Each memory gets 4 GiB of address space and guard regions around
    /// it, so a 32-bit guest address can never reach past them: Cranelift
    /// compiles loads and stores without bounds checks, and a stray access
    /// traps on an unmapped page. About 4.06 GiB of (untouched, unbacked)
    /// address space per agent slot: up to [`GUARDED_MAX_AGENTS`] slots.
    #[default]
    Guarded,
    /// Each memory gets only the address space of the largest memory an
    /// agent may have: more slots fit, and every guest load and store is
    /// bounds-checked (memory-heavy code runs slower). For nodes with more
    /// agent slots than `Guarded` allows.
    Compact,
}

impl MemoryLayout {
    /// Its name, as the figures that depend on it report it.
    pub fn name(self) -> &'static str {
        match self {
            MemoryLayout::Guarded => "guarded (no bounds checks)",
            MemoryLayout::Compact => "compact (bounds-checked)",
        }
    }
}

/// The most core module instances one component may create. componentize-py
/// components create 14 (its `--stub-wasi` builds 38, which do not fit).
pub const MAX_CORE_INSTANCES_PER_COMPONENT: u32 = 32;
/// The most tables one component may define across its core modules.
pub const MAX_TABLES_PER_COMPONENT: u32 = 32;
/// The most linear memories one component may define.
pub const MAX_MEMORIES_PER_COMPONENT: u32 = 2;

/// The most agent slots a [`MemoryLayout::Guarded`] engine may have: their
/// reservations (4 GiB + 2 x 32 MiB of guards each) must fit in a 47-bit
/// user address space (128 TiB) with room for everything else.
pub const GUARDED_MAX_AGENTS: u32 = 24_000;

/// A configured engine, the on-disk cache, and the thread that ticks epochs
/// while guest code runs (it ends with the last clone of the engine).
#[derive(Clone)]
pub struct CaxtonEngine {
    pub(crate) engine: Engine,
    pub(crate) cache: ComponentCache,
    pub(crate) options: EngineOptions,
    pub(crate) ticker: Arc<TickerOwner>,
    /// Fuel burned by all guests' handlers so far (metering on).
    pub(crate) fuel_burned: Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for CaxtonEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaxtonEngine")
            .field("options", &self.options)
            .finish()
    }
}

/// The engine could not be created with the requested sizing.
#[derive(Debug, thiserror::Error)]
#[error("cannot create the wasmtime engine ({max_agents} agents x {max_memory} bytes): {why}")]
pub struct EngineError {
    max_agents: u32,
    max_memory: u64,
    why: String,
}

impl CaxtonEngine {
    /// Builds the engine and starts its epoch ticker.
    pub fn new(options: EngineOptions) -> Result<Self, EngineError> {
        let fail = |why: String| EngineError {
            max_agents: options.max_agents,
            max_memory: options.max_memory,
            why,
        };
        let config = wasmtime_config(&options).map_err(fail)?;
        let engine = Engine::new(&config).map_err(|e| fail(format!("{e:#}")))?;
        let ticker = Arc::new(TickerOwner(Ticker::start(&engine, options.tick)));
        let cache = ComponentCache::new(options.cache_dir.clone());
        Ok(CaxtonEngine {
            engine,
            cache,
            options,
            ticker,
            fuel_burned: Arc::default(),
        })
    }

    /// A wasmtime engine configured like this one but without the epoch
    /// checks that deadlines need. Code compiled for it cannot be stopped,
    /// so no agent runs on it: `overhead.rhai` runs the host's own kernels
    /// on it to tell WebAssembly's overhead from what deadlines add.
    pub fn uninterrupted_twin(&self) -> Result<Engine, EngineError> {
        let options = EngineOptions {
            max_agents: 4,
            ..self.options.clone()
        };
        let fail = |why: String| EngineError {
            max_agents: options.max_agents,
            max_memory: options.max_memory,
            why,
        };
        let mut config = wasmtime_config(&options).map_err(fail)?;
        config.epoch_interruption(false);
        Engine::new(&config).map_err(|e| fail(format!("{e:#}")))
    }

    /// The wasmtime engine (for baselines that use it directly).
    pub fn wasmtime(&self) -> &Engine {
        &self.engine
    }

    /// Fuel all guests' handlers have burned so far, if fuel is metered: a
    /// count of WebAssembly operators executed (host calls, I/O and the
    /// host's own work are not in it), the same on any machine.
    pub fn fuel_burned(&self) -> Option<u64> {
        self.options
            .fuel
            .then(|| self.fuel_burned.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// The epoch ticker (whether it is parked: an idle node's is).
    pub fn ticker(&self) -> &Arc<Ticker> {
        &self.ticker.0
    }

    /// The sizing this engine was built with.
    pub fn options(&self) -> &EngineOptions {
        &self.options
    }
}

/// The wasmtime configuration of `options`: pooled slots, deadlines by
/// epochs, and the memory layout's reservation and guards.
/// The configuration of a node's engine without its instance pool: what
/// compiling for that engine needs (see [`super::compiler`]).
pub(crate) fn config_for_compiling(options: &EngineOptions) -> Result<Config, EngineError> {
    let mut config = wasmtime_config(options).map_err(|why| EngineError::new(options, why))?;
    config.allocation_strategy(InstanceAllocationStrategy::OnDemand);
    Ok(config)
}

impl EngineError {
    pub(crate) fn new(options: &EngineOptions, why: String) -> Self {
        EngineError {
            max_agents: options.max_agents,
            max_memory: options.max_memory,
            why,
        }
    }
}

fn wasmtime_config(options: &EngineOptions) -> Result<Config, String> {
    let agents = options.max_agents.max(1);
    let mut pool = PoolingAllocationConfig::default();
    // A Rust wasip2 component instantiates 4 core modules (the program plus
    // wit-component's shims), each with a table, and one memory; a
    // JavaScript one (componentize-js) 4, a Python one (componentize-py) 14.
    // The totals fit one Rust or JavaScript agent per slot; a Python agent
    // takes the core instances of about 3.5 slots (docs/plugins.md).
    pool.total_component_instances(agents)
        .total_core_instances(agents * 4)
        .total_memories(agents)
        .total_tables(agents * 4)
        .total_stacks(agents)
        .max_memory_size(options.max_memory as usize)
        .max_memories_per_component(MAX_MEMORIES_PER_COMPONENT)
        .max_tables_per_component(MAX_TABLES_PER_COMPONENT)
        .max_core_instances_per_component(MAX_CORE_INSTANCES_PER_COMPONENT)
        // Reuse slots warm: reset only the pages an instance dirtied
        // (PAGEMAP_SCAN where the kernel has it) instead of madvise +
        // page faults + TLB shootdowns on every spawn.
        .pagemap_scan(Enabled::Auto)
        .linear_memory_keep_resident(2 << 20)
        .table_keep_resident(64 << 10)
        .async_stack_keep_resident(256 << 10)
        .decommit_batch_size(16);
    let mut config = Config::new();
    config
        .epoch_interruption(true)
        .consume_fuel(options.fuel)
        .memory_init_cow(true)
        .max_wasm_stack(512 << 10)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    match options.memory_layout {
        // wasmtime's defaults on 64-bit hosts: a 4 GiB reservation and
        // 32 MiB guards, before and after; traps are signals.
        MemoryLayout::Guarded if agents > GUARDED_MAX_AGENTS => {
            return Err(format!(
                "{agents} agent slots of 4 GiB of address space each do not fit in the address space \
                     (at most {GUARDED_MAX_AGENTS}); lower --max-agents, or use --compact-memory \
                     (bounds-checked guest code, for any number of slots)"
            ));
        }
        MemoryLayout::Guarded => {
            config
                .memory_reservation(4 << 30)
                .memory_guard_size(32 << 20)
                .guard_before_linear_memory(true)
                .signals_based_traps(true);
        }
        MemoryLayout::Compact => {
            let reservation = options.max_memory.next_power_of_two().max(64 << 20);
            config
                .memory_reservation(reservation)
                .memory_guard_size(64 << 10);
        }
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guarded_memories_refuse_more_slots_than_fit_and_name_the_way_out() {
        let err = CaxtonEngine::new(EngineOptions {
            max_agents: GUARDED_MAX_AGENTS + 1,
            ..EngineOptions::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("--compact-memory"), "{err}");
        let engine = CaxtonEngine::new(EngineOptions {
            max_agents: 16,
            max_memory: 64 << 20,
            memory_layout: MemoryLayout::Compact,
            ..EngineOptions::default()
        })
        .unwrap();
        assert_eq!(
            engine.options().memory_layout.name(),
            "compact (bounds-checked)"
        );
    }
}

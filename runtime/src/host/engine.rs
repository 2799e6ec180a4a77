//! The node's wasmtime engine and its epoch ticker.

use std::path::PathBuf;
use std::time::Duration;

use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::cache::ComponentCache;

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
    /// The host's files the node may use (component files, data dirs);
    /// none by default.
    pub files: std::sync::Arc<dyn super::files::HostFiles>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            max_agents: 12_000,
            max_memory: 1 << 30,
            tick: Duration::from_millis(1),
            cache_dir: None,
            fuel: false,
            files: std::sync::Arc::new(super::files::NoFiles),
        }
    }
}

/// A configured engine, the on-disk cache, and the thread that ticks epochs.
///
/// The ticker thread holds only a weak reference and exits once the last
/// clone of the engine is dropped.
#[derive(Clone)]
pub struct CaxtonEngine {
    pub(crate) engine: Engine,
    pub(crate) cache: ComponentCache,
    pub(crate) options: EngineOptions,
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
        let agents = options.max_agents.max(1);
        let mut pool = PoolingAllocationConfig::default();
        // A std wasip2 component instantiates a few core modules (the program
        // plus wit-component's shims), each with a table; one memory.
        pool.total_component_instances(agents)
            .total_core_instances(agents * 4)
            .total_memories(agents)
            .total_tables(agents * 4)
            .total_stacks(agents)
            .max_memory_size(options.max_memory as usize)
            .max_memories_per_component(2)
            .max_tables_per_component(8)
            .max_core_instances_per_component(8)
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
        // Thousands of slots at the default 4 GiB reservation each would
        // exhaust the address space: reserve what an agent can really use
        // and let wasmtime bounds-check above it.
        let reservation = options.max_memory.next_power_of_two().max(64 << 20);
        if u64::from(agents) * (4 << 30) > (32u64 << 40) {
            config
                .memory_reservation(reservation)
                .memory_guard_size(64 << 10);
        }
        let engine = Engine::new(&config).map_err(|e| fail(format!("{e:#}")))?;
        spawn_ticker(&engine, options.tick);
        let cache = ComponentCache::new(options.cache_dir.clone());
        Ok(CaxtonEngine {
            engine,
            cache,
            options,
        })
    }

    /// The wasmtime engine (for baselines that use it directly).
    pub fn wasmtime(&self) -> &Engine {
        &self.engine
    }

    /// The sizing this engine was built with.
    pub fn options(&self) -> &EngineOptions {
        &self.options
    }
}

fn spawn_ticker(engine: &Engine, tick: Duration) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("caxton-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(tick);
            }
        })
        .expect("spawning the epoch thread");
}

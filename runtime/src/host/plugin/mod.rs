//! Loading a component and checking it against the `caxton:agent` world.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{Component, Linker};

mod check;

use check::{check_header, check_world, classify};

use super::bindings::AgentPre;
use super::cache::Origin;
use super::ctx::AgentCtx;
use super::engine::CaxtonEngine;

/// Why a plugin could not be loaded. Each message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// Neither a built-in plugin name nor a path to a file.
    #[error(
        "no plugin named `{name}`: the built-in plugins are {builtins}; \
         to load your own, pass the path of a .wasm component (e.g. `plugin(\"target/wasm32-wasip2/release/my_agent.wasm\")`)"
    )]
    Unknown {
        /// What the script asked for.
        name: String,
        /// The built-in names.
        builtins: String,
    },
    /// The file could not be read.
    #[error(
        "cannot read the component file `{path}`: {source}. Check the path (it is relative to the current directory)"
    )]
    Read {
        /// The path as given.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The bytes are not a WebAssembly component.
    #[error("`{what}` is not a WebAssembly component: {why}")]
    NotAComponent {
        /// The plugin name or path.
        what: String,
        /// What was found instead and how to get a component.
        why: String,
    },
    /// A valid component that creates more core instances, tables or
    /// memories than one agent slot of the node's pool holds.
    #[error(
        "`{what}` is a component, but larger than an agent slot allows: {why}. A slot holds {cores} core \
         module instances, {tables} tables and {memories} memories per component; a component built with \
         stubbed or extra adapters can exceed them (see docs/plugins.md)"
    )]
    ExceedsSlot {
        /// The plugin name or path.
        what: String,
        /// wasmtime's words.
        why: String,
        /// Core instances a slot holds.
        cores: u32,
        /// Tables a slot holds.
        tables: u32,
        /// Memories a slot holds.
        memories: u32,
    },
    /// The compiler gave up: over its time or memory budget, or it failed.
    #[error("`{what}` was not compiled: {why}")]
    Compile {
        /// The plugin name.
        what: String,
        /// Why (the budget it went over, or the compiler's words).
        why: String,
    },
    /// A component, but not one of the `caxton:agent` world.
    #[error(
        "`{what}` does not fit the caxton:agent@0.1.0 world: {why}. Generate its bindings from \
         wit/agent.wit (plugins/echo is the smallest template)"
    )]
    WorldMismatch {
        /// The plugin name or path.
        what: String,
        /// Which import or export is wrong.
        why: String,
    },
}

/// A component ready to be instantiated as agents: compiled once, linked
/// once (`InstancePre`), shared by every agent spawned from it.
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<PluginInner>,
}

struct PluginInner {
    name: String,
    pre: AgentPre<AgentCtx>,
    origin: Origin,
    load_time: Duration,
    size: usize,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.inner.name)
            .finish()
    }
}

const EXPORTS: [&str; 3] = ["init", "handle", "handle-batch"];

impl Plugin {
    /// Loads a built-in plugin by name, or a component file by path (read
    /// through the engine's [`super::files::HostFiles`]).
    pub fn resolve(engine: &CaxtonEngine, name_or_path: &str) -> Result<Plugin, PluginError> {
        let bytes = read(engine, name_or_path)?;
        Plugin::from_bytes(engine, name_or_path, &bytes)
    }

    /// Like [`Plugin::resolve`], but always compiles, bypassing the disk
    /// cache (what a node pays for a component it has never seen).
    pub fn compile(engine: &CaxtonEngine, name_or_path: &str) -> Result<Plugin, PluginError> {
        let bytes = read(engine, name_or_path)?;
        Plugin::load(
            engine,
            name_or_path,
            &bytes,
            &super::cache::ComponentCache::new(None),
        )
    }

    /// Compiles (or loads from cache) and checks a component.
    pub fn from_bytes(
        engine: &CaxtonEngine,
        name: &str,
        bytes: &[u8],
    ) -> Result<Plugin, PluginError> {
        Plugin::load(engine, name, bytes, &engine.cache)
    }

    fn load(
        engine: &CaxtonEngine,
        name: &str,
        bytes: &[u8],
        cache: &super::cache::ComponentCache,
    ) -> Result<Plugin, PluginError> {
        let start = Instant::now();
        check_header(name, bytes)?;
        let (component, origin) = compile(engine, name, bytes, cache)?;
        Plugin::link(engine, (name, name), bytes, component, origin, start)
    }

    /// Loads a component compiled by `compiler` (unless the engine's cache
    /// has it): for bytes from outside the host, whose compilation must be
    /// bounded in time and memory (see [`super::compiler`]).
    ///
    /// `name` is the plugin's name on the node; errors call it `label` (the
    /// uploader's name for it).
    pub fn from_untrusted(
        engine: &CaxtonEngine,
        name: &str,
        label: &str,
        bytes: &[u8],
        compiler: &dyn super::compiler::Compiler,
    ) -> Result<Plugin, PluginError> {
        let start = Instant::now();
        check_header(label, bytes)?;
        let compile_error = std::cell::RefCell::new(None);
        let loaded = engine
            .cache
            .load_with(&engine.engine, bytes, |wasmtime, bytes| {
                let artifact = compiler.precompile(engine, bytes).map_err(|why| {
                    *compile_error.borrow_mut() = Some(why.clone());
                    wasmtime::Error::msg(why)
                })?;
                // SAFETY: the artifact was made by `Engine::precompile_component`
                // of this very binary (in this process or a child it started),
                // and wasmtime checks its header and that it was compiled for an
                // engine compatible with this one.
                #[allow(unsafe_code)]
                unsafe {
                    Component::deserialize(wasmtime, &artifact)
                }
            });
        let (component, origin) = match loaded {
            Ok(ok) => ok,
            Err(e) => {
                return Err(match compile_error.into_inner() {
                    Some(why) => PluginError::Compile {
                        what: label.to_string(),
                        why,
                    },
                    None => classify(label, &e),
                });
            }
        };
        Plugin::link(engine, (name, label), bytes, component, origin, start)
    }

    /// Checks the world and links; `(name, label)`: the plugin's name, and
    /// what its errors call it.
    fn link(
        engine: &CaxtonEngine,
        (name, label): (&str, &str),
        bytes: &[u8],
        component: Component,
        origin: Origin,
        start: Instant,
    ) -> Result<Plugin, PluginError> {
        check_world(engine, label, &component)?;
        let mut linker = Linker::<AgentCtx>::new(&engine.engine);
        super::ctx::add_to_linker(&mut linker).map_err(|e| PluginError::WorldMismatch {
            what: label.to_string(),
            why: format!("linking the host failed: {e:#}"),
        })?;
        let mismatch = |e: wasmtime::Error| PluginError::WorldMismatch {
            what: label.to_string(),
            why: format!("{e:#}"),
        };
        let pre = linker.instantiate_pre(&component).map_err(mismatch)?;
        let pre = AgentPre::new(pre).map_err(mismatch)?;
        Ok(Plugin {
            inner: Arc::new(PluginInner {
                name: name.to_string(),
                pre,
                origin,
                load_time: start.elapsed(),
                size: bytes.len(),
            }),
        })
    }

    /// The name (or path) this plugin was loaded as.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Whether it was compiled now or came from the disk cache.
    pub fn origin(&self) -> Origin {
        self.inner.origin
    }

    /// The component's size in bytes.
    pub fn size(&self) -> usize {
        self.inner.size
    }

    /// How long loading took (compile or cache load, plus checks and linking).
    pub fn load_time(&self) -> Duration {
        self.inner.load_time
    }

    pub(crate) fn pre(&self) -> &AgentPre<AgentCtx> {
        &self.inner.pre
    }
}

/// The bytes of a built-in plugin, or of a component file (read through
/// the engine's [`super::files::HostFiles`]).
fn read(
    engine: &CaxtonEngine,
    name_or_path: &str,
) -> Result<std::borrow::Cow<'static, [u8]>, PluginError> {
    if let Some(bytes) = super::builtin::bytes(name_or_path) {
        return Ok(std::borrow::Cow::Borrowed(bytes));
    }
    let looks_like_path = name_or_path.contains('/') || name_or_path.ends_with(".wasm");
    if !looks_like_path {
        return Err(PluginError::Unknown {
            name: name_or_path.to_string(),
            builtins: super::builtin::names().collect::<Vec<_>>().join(", "),
        });
    }
    engine
        .options
        .files
        .component(name_or_path)
        .map(std::borrow::Cow::Owned)
        .map_err(|source| PluginError::Read {
            path: name_or_path.to_string(),
            source,
        })
}

/// Compiles `bytes` (or loads them from `cache`), naming why a component
/// does not compile: too large for a pool slot, or not valid.
fn compile(
    engine: &CaxtonEngine,
    name: &str,
    bytes: &[u8],
    cache: &super::cache::ComponentCache,
) -> Result<(Component, Origin), PluginError> {
    cache
        .load(&engine.engine, bytes)
        .map_err(|e| classify(name, &e))
}

/// A component's imports and exports by name, as the loader reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// Imported interfaces (e.g. `caxton:agent/host@0.1.0`, `wasi:clocks/...`).
    pub imports: Vec<String>,
    /// Exported names (an agent's are `init`, `handle`, `handle-batch`).
    pub exports: Vec<String>,
}

/// What the component in `bytes` imports and exports, whether or not it
/// fits the world (compiled through the engine's cache, as loading is).
pub fn interface(
    engine: &CaxtonEngine,
    name: &str,
    bytes: &[u8],
) -> Result<Interface, PluginError> {
    check_header(name, bytes)?;
    let (component, _) = compile(engine, name, bytes, &engine.cache)?;
    let ty = component.component_type();
    Ok(Interface {
        imports: ty
            .imports(&engine.engine)
            .map(|(n, _)| n.to_string())
            .collect(),
        exports: ty
            .exports(&engine.engine)
            .map(|(n, _)| n.to_string())
            .collect(),
    })
}

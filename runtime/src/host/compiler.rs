//! Compiling components that come from outside the host (tenants'
//! uploads) with a budget.
//!
//! Cranelift cannot be stopped half way, and some inputs take it a long
//! time (huge functions, many locals). A [`Compiler`] that must bound what
//! a hostile upload costs therefore runs the compilation in a child process
//! it can kill at the budget and whose address space it can cap: the
//! binary's `caxton-run compile-component` does that with
//! [`precompile`]. [`InProcess`] compiles on the calling thread and checks
//! the budget only afterwards: for tests and trusted bytes.

use std::time::{Duration, Instant};

use wasmtime::{Config, Engine};

use super::engine::{CaxtonEngine, EngineError, EngineOptions};

/// Turns component bytes into an artifact for an engine like `engine`
/// (`Engine::precompile_component`), or says why not.
pub trait Compiler: Send + Sync + std::fmt::Debug {
    /// The artifact, or why there is none (over the budget, out of memory,
    /// invalid) in words for the uploader.
    fn precompile(&self, engine: &CaxtonEngine, bytes: &[u8]) -> Result<Vec<u8>, String>;
}

/// Compiles on the calling thread; a compilation over `budget` is refused
/// when it ends (its time is spent all the same).
#[derive(Debug, Clone)]
pub struct InProcess {
    /// The longest a compilation may take.
    pub budget: Duration,
}

impl Compiler for InProcess {
    fn precompile(&self, engine: &CaxtonEngine, bytes: &[u8]) -> Result<Vec<u8>, String> {
        let start = Instant::now();
        let artifact = precompile(
            &compile_engine(engine.options()).map_err(|e| e.to_string())?,
            bytes,
        )?;
        if start.elapsed() > self.budget {
            return Err(over_budget(self.budget));
        }
        Ok(artifact)
    }
}

/// The words for a compilation stopped at its budget.
pub fn over_budget(budget: Duration) -> String {
    format!(
        "compiling took longer than the node's budget of {budget:?} and was stopped; a smaller \
         component (fewer or smaller functions) compiles faster"
    )
}

/// An engine that compiles exactly as a node's engine with `options` does
/// (same target, features and memory layout, so its artifacts load there)
/// but allocates no instance pool and compiles on one thread: what a
/// compile-only process needs.
pub fn compile_engine(options: &EngineOptions) -> Result<Engine, EngineError> {
    let mut config: Config = super::engine::config_for_compiling(options)?;
    config.parallel_compilation(false);
    Engine::new(&config).map_err(|e| EngineError::new(options, format!("{e:#}")))
}

/// `bytes` compiled by `engine` into an artifact, or the compiler's words.
pub fn precompile(engine: &Engine, bytes: &[u8]) -> Result<Vec<u8>, String> {
    engine
        .precompile_component(bytes)
        .map_err(|e| format!("it does not validate: {e:#}"))
}

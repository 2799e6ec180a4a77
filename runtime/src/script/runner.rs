//! Compiling and running one script.

use rhai::{AST, Engine};

use super::context::ScriptContext;
use super::error::ScriptError;
use super::limits::ScriptLimits;

/// A sandboxed Rhai engine with the Caxton API registered.
pub struct Runner {
    engine: Engine,
    limits: ScriptLimits,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("limits", &self.limits)
            .finish()
    }
}

impl Runner {
    /// An engine for `ctx` under `limits`; the wall clock starts now.
    pub fn new(ctx: &ScriptContext, limits: ScriptLimits) -> Self {
        let mut engine = Engine::new();
        limits.apply(&mut engine);
        engine.on_print(|text| println!("{text}"));
        engine.on_debug(|text, _source, pos| eprintln!("[debug {pos}] {text}"));
        super::api::register(&mut engine, ctx);
        Runner { engine, limits }
    }

    /// Compiles `source` (read from `path`), without running it.
    pub fn compile(&self, path: &str, source: &str) -> Result<AST, ScriptError> {
        self.engine
            .compile(source)
            .map_err(|e| ScriptError::parse(path, source, &e))
    }

    /// Compiles and runs a script.
    pub fn run(&self, path: &str, source: &str) -> Result<(), ScriptError> {
        let ast = self.compile(path, source)?;
        self.engine
            .run_ast(&ast)
            .map_err(|e| ScriptError::eval(path, source, &e, &self.limits))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::Node;

    /// Every function a script can call is in `docs/scripting.md`, as
    /// `` `name(`` (a heading or the reference table); `to_string` and
    /// `to_debug` only teach Rhai to print Caxton's types.
    #[test]
    fn every_registered_function_is_documented() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let engine = crate::host::CaxtonEngine::new(crate::host::EngineOptions {
            max_agents: 4,
            max_memory: 64 << 20,
            ..Default::default()
        })
        .unwrap();
        let node = Node::new(engine, rt.handle().clone());
        let ctx = ScriptContext::new(node, "doc-check");
        let runner = Runner::new(&ctx, ScriptLimits::default());
        let docs = include_str!("../../../docs/scripting.md");
        let mut names: Vec<String> = runner
            .engine
            .gen_fn_signatures(false)
            .into_iter()
            .filter_map(|sig| sig.split('(').next().map(str::trim).map(String::from))
            .filter(|name| {
                name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                    && !name.contains('$')
                    && name != "to_string"
                    && name != "to_debug"
            })
            .collect();
        names.sort();
        names.dedup();
        assert!(names.len() > 20, "{names:?}");
        let missing: Vec<_> = names
            .iter()
            .filter(|name| !docs.contains(&format!("`{name}(")))
            .collect();
        assert!(missing.is_empty(), "not in docs/scripting.md: {missing:?}");
    }
}

//! Compiling and running one script.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rhai::{AST, Engine};

use super::error::ScriptError;
use super::limits::ScriptLimits;
use crate::measure::Stats;
use crate::node::Node;
use crate::report::Report;

/// What the script API works on.
#[derive(Clone)]
pub struct ScriptContext {
    /// The node scripts spawn agents on.
    pub node: Node,
    /// Where measurements are collected.
    pub report: Arc<Mutex<Report>>,
    /// How long `request` waits by default.
    pub request_timeout: Duration,
    /// What restoring a durable node brought back, if it was restored.
    pub restore: Option<crate::node::RestoreReport>,
    /// Nodes the script started with `serve()`, alive until it ends.
    pub(crate) served: Arc<Mutex<Vec<super::api::Served>>>,
    /// `threshold()` rules, judged by [`ScriptContext::finish`].
    pub(crate) thresholds: Arc<Mutex<Vec<crate::report::threshold::Threshold>>>,
}

impl std::fmt::Debug for ScriptContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptContext")
            .field("node", &self.node)
            .finish()
    }
}

impl ScriptContext {
    /// A context on `node` with an empty report for `script`.
    pub fn new(node: Node, script: &str) -> Self {
        ScriptContext {
            node,
            report: Arc::new(Mutex::new(Report::new(script))),
            request_timeout: Duration::from_secs(10),
            restore: None,
            served: Arc::default(),
            thresholds: Arc::default(),
        }
    }

    /// The report with every threshold judged: call once the script ended.
    pub fn finish(&self) -> Report {
        let mut report = self.report.lock().unwrap().clone();
        report.judge(&self.thresholds.lock().unwrap());
        report
    }

    pub(crate) fn record(&self, stats: Stats) {
        self.report.lock().unwrap().measurements.push(stats);
    }
}

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

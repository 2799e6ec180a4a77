//! Compiling and running one script.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rhai::{AST, Engine};

use super::error::ScriptError;
use super::limits::ScriptLimits;
use hdrhistogram::Histogram;

use crate::measure::{Resources, Stats};
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
    /// Runtimes the script started (`threads(n)`, and `serve()` and
    /// `connect()` with `workers: N`); declared after `served`, so those
    /// nodes close before their threads stop.
    pub(crate) threads: Arc<Mutex<Vec<super::api::Threads>>>,
    /// `threshold()` rules, judged by [`ScriptContext::finish`].
    pub(crate) thresholds: Arc<Mutex<Vec<crate::report::threshold::Threshold>>>,
    /// The latency histogram of each measurement, by name (for baselines
    /// and plots).
    pub(crate) histograms: Arc<Mutex<Vec<Named>>>,
    /// Told when long work starts, for a progress bar.
    pub progress: Option<Arc<dyn Progress>>,
    /// Values given on the command line (`--set key=value`), read with
    /// `param()`.
    pub params: Arc<BTreeMap<String, String>>,
    /// Reads a script for `include(name)`: its path (for errors) and text.
    /// Given by the binary, which decides where scripts may come from.
    pub read_script: Option<Arc<ReadScript>>,
}

/// A measurement's name and its latency histogram.
pub type Named = (String, Histogram<u64>);

/// How `include(name)` finds a script: `(path, source)` or why not.
pub type ReadScript = dyn Fn(&str) -> Result<(String, String), String> + Send + Sync;

/// Shows that long work is under way (a progress bar in the binary).
pub trait Progress: Send + Sync {
    /// `name` starts and, if known, lasts about `expected`; the work ends
    /// when the returned guard is dropped.
    fn begin(&self, name: &str, expected: Option<Duration>) -> Box<dyn Send>;
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
            threads: Arc::default(),
            thresholds: Arc::default(),
            histograms: Arc::default(),
            progress: None,
            params: Arc::default(),
            read_script: None,
        }
    }

    /// The report with every threshold judged: call once the script ended.
    pub fn finish(&self) -> Report {
        let mut report = self.report.lock().unwrap().clone();
        report.judge(&self.thresholds.lock().unwrap());
        report
    }

    /// The latency histogram of each measurement, by name, in order.
    pub fn histograms(&self) -> Vec<Named> {
        self.histograms.lock().unwrap().clone()
    }

    pub(crate) fn record(&self, stats: Stats) {
        self.report.lock().unwrap().measurements.push(stats);
    }

    /// Records a measurement with its histogram.
    pub(crate) fn record_with(&self, stats: Stats, histogram: Histogram<u64>) {
        self.histograms
            .lock()
            .unwrap()
            .push((stats.name.clone(), histogram));
        self.record(stats);
    }

    /// Shows `name` as under way until the guard is dropped.
    pub(crate) fn begin(&self, name: &str, expected: Option<Duration>) -> Option<Box<dyn Send>> {
        self.progress.as_ref().map(|p| p.begin(name, expected))
    }

    /// Agents alive on this node and the nodes the script serves.
    fn agents(&self) -> u64 {
        let served: usize = self
            .served
            .lock()
            .unwrap()
            .iter()
            .map(|s| s.node().agent_count())
            .sum();
        (self.node.agent_count() + served) as u64
    }

    /// Starts watching resources; [`Usage::end`] gives what was used.
    pub(crate) fn usage(&self) -> Usage {
        Usage {
            cpu_s: crate::measure::resources::cpu_seconds(),
        }
    }
}

/// CPU time at the start of a measurement.
pub(crate) struct Usage {
    cpu_s: Option<f64>,
}

impl Usage {
    /// The resources used since [`ScriptContext::usage`]; `None` where the
    /// platform does not tell.
    pub(crate) fn end(self, ctx: &ScriptContext) -> Option<Resources> {
        let rss_bytes = crate::measure::resources::rss_bytes()?;
        let cpu_s = crate::measure::resources::cpu_seconds()? - self.cpu_s?;
        let agents = ctx.agents();
        Some(Resources {
            rss_bytes,
            agents,
            rss_per_agent: (agents > 0).then(|| rss_bytes / agents),
            cpu_s,
        })
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

#[cfg(test)]
mod tests {
    use super::*;

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

//! What a script's API works on ([`ScriptContext`]): the node, the report
//! being built, thresholds, parameters, and what the script started that
//! lives until it ends (served nodes, runtimes of their own).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::measure::{Resources, Stats};
use crate::net::server::Server;
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
    pub(crate) served: Arc<Mutex<Vec<Served>>>,
    /// Runtimes the script started (`threads(n)`, and `serve()` and
    /// `connect()` with `workers: N`); declared after `served`, so those
    /// nodes close before their threads stop.
    pub(crate) threads: Arc<Mutex<Vec<Threads>>>,
    /// `threshold()` rules, judged by [`ScriptContext::finish`].
    pub(crate) thresholds: Arc<Mutex<Vec<crate::report::threshold::Threshold>>>,
    /// The latency histogram of each measurement, by name (for baselines
    /// and plots).
    pub(crate) histograms: Arc<Mutex<Vec<Named>>>,
    /// Told when long work starts, for a progress bar.
    pub progress: Option<Arc<dyn Progress>>,
    /// Where a live view (`--dashboard`) reads the measurement under way;
    /// `None` records nothing.
    pub live: Option<Arc<crate::measure::live::Live>>,
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
            live: None,
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

    /// Runs `f` on the histograms without copying them (a live view reads
    /// the new ones as they come).
    pub fn with_histograms<R>(&self, f: impl FnOnce(&[Named]) -> R) -> R {
        f(&self.histograms.lock().unwrap())
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

    /// Shows `name` as under way (a progress bar, a live view) until the
    /// guard is dropped.
    pub(crate) fn begin(&self, name: &str, expected: Option<Duration>) -> Begun {
        if let Some(live) = &self.live {
            live.begin(name, expected);
        }
        Begun {
            _bar: self.progress.as_ref().map(|p| p.begin(name, expected)),
            live: self.live.clone(),
        }
    }

    /// The report so far, with the thresholds whose measurement exists
    /// already judged (for a live view; [`ScriptContext::finish`] judges
    /// them all).
    pub fn report_so_far(&self) -> Report {
        let mut report = self.report.lock().unwrap().clone();
        let decided: Vec<_> = self
            .thresholds
            .lock()
            .unwrap()
            .iter()
            .filter(|t| report.measurements.iter().any(|m| m.name == t.metric))
            .cloned()
            .collect();
        report.judge(&decided);
        report
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

/// Long work under way: ends its progress bar and live figures when dropped.
pub(crate) struct Begun {
    _bar: Option<Box<dyn Send>>,
    live: Option<Arc<crate::measure::live::Live>>,
}

impl Drop for Begun {
    fn drop(&mut self) {
        if let Some(live) = &self.live {
            live.end();
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

/// A node started by `serve()`: it listens until the script ends.
#[derive(Debug)]
pub(crate) struct Served(pub(crate) Server, pub(crate) Node);

impl Served {
    /// The node behind the server.
    pub(crate) fn node(&self) -> &Node {
        &self.1
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// A tokio runtime a script started, shared by whatever it was given to and
/// alive until the last of them, and the script, are gone.
#[derive(Debug, Clone)]
pub(crate) struct Threads(Arc<Own>);

#[derive(Debug)]
struct Own {
    /// `Some` until drop (a runtime cannot be dropped inside another
    /// runtime's context, so drop shuts it down in the background).
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Own {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Threads {
    /// Keeps `runtime` until the last clone is gone.
    pub(crate) fn new(runtime: tokio::runtime::Runtime) -> Threads {
        Threads(Arc::new(Own {
            runtime: Some(runtime),
        }))
    }

    /// Its handle.
    pub(crate) fn handle(&self) -> &tokio::runtime::Handle {
        self.0
            .runtime
            .as_ref()
            .expect("the runtime lives until drop")
            .handle()
    }
}

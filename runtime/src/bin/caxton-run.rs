//! `caxton-run`: runs a Rhai workflow script against an embedded Caxton node
//! and reports its measurements.
//!
//! The only place that reads the environment or picks directories: the
//! library below receives everything as arguments.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use caxton::core::limits::{parse_duration, parse_size};
use caxton::host::{CaxtonEngine, EngineOptions};
use caxton::node::Node;
use caxton::persist::Db;
use caxton::report::render_table;
use caxton::script::{Runner, ScriptContext, ScriptLimits};
use clap::Parser;

/// Exit codes, documented in `docs/scripting.md`.
mod exit {
    /// The script ran to the end.
    pub const OK: u8 = 0;
    /// The script failed (syntax or run-time error) or the node could not start.
    pub const ERROR: u8 = 1;
}

/// Run a Caxton workflow script: spawn WebAssembly agents, drive them,
/// measure them, report.
///
/// The script is Rhai with the Caxton API (plugin, spawn, spawn_many, send,
/// request, stop, kill, measure); see docs/scripting.md. Built-in plugins:
/// echo, counter, compute, hog, crasher, relay; any other component loads by
/// path.
///
/// Exit codes: 0 ok, 1 script or runtime error (printed as file:line:col with
/// the source line), 2 bad command line.
#[derive(Debug, Parser)]
#[command(name = "caxton-run", version, verbatim_doc_comment)]
struct Cli {
    /// The workflow script to run (e.g. scripts/quickstart.rhai).
    script: PathBuf,

    /// Also write the report as JSON (schema caxton.report/v1) to FILE.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,

    /// Print only errors and the final table.
    #[arg(long, short)]
    quiet: bool,

    /// Stop the script after this much wall time (e.g. 90s, 10m).
    #[arg(long, default_value = "30m", value_parser = duration_arg)]
    timeout: Duration,

    /// How many agents the node can hold at once (sizes the instance pool).
    #[arg(long, default_value_t = 12_000)]
    max_agents: u32,

    /// The most linear memory any agent may be given (e.g. 256MiB, 1GiB).
    #[arg(long, default_value = "1GiB", value_parser = size_arg)]
    max_memory: u64,

    /// Where compiled components are cached [default: $XDG_CACHE_HOME/caxton or ~/.cache/caxton].
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,

    /// Compile every component afresh; read and write no cache.
    #[arg(long)]
    no_cache: bool,

    /// Make the node durable: agent specs and state are kept in DIR/node.db
    /// (SQLite), and the agents stored there are started again (with their
    /// state) before the script runs. Queued messages are not kept.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

fn duration_arg(text: &str) -> Result<Duration, String> {
    parse_duration(text).map_err(|e| e.to_string())
}

fn size_arg(text: &str) -> Result<u64, String> {
    parse_size(text).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.quiet);
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::ERROR)
        }
    }
}

fn init_logging(quiet: bool) {
    let default = if quiet { "error" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("CAXTON_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("caxton"))
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    let started = Instant::now();
    let path = cli.script.display().to_string();
    let source = match std::fs::read_to_string(&cli.script) {
        Ok(source) => source,
        Err(e) => {
            eprintln!("{}", caxton::script::ScriptError::io(&path, &e));
            return Ok(exit::ERROR);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("caxton-worker")
        .build()
        .context("starting the tokio runtime")?;
    let cache_dir = if cli.no_cache {
        None
    } else {
        cli.cache_dir.or_else(default_cache_dir)
    };
    let engine = CaxtonEngine::new(EngineOptions {
        max_agents: cli.max_agents,
        max_memory: cli.max_memory,
        cache_dir,
        ..EngineOptions::default()
    })
    .context("starting the node")?;
    let (node, restore) = match &cli.data_dir {
        None => (Node::new(engine, runtime.handle().clone()), None),
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the data dir {}", dir.display()))?;
            let db = Db::open(&dir.join("node.db"))?;
            let node = Node::durable(engine, runtime.handle().clone(), db);
            let report = runtime.block_on(node.restore())?;
            if !cli.quiet && (report.restored > 0 || !report.failed.is_empty()) {
                eprintln!(
                    "restored {} agents from {} in {:.1} ms",
                    report.restored,
                    dir.display(),
                    report.took.as_secs_f64() * 1e3
                );
            }
            for (agent, why) in &report.failed {
                eprintln!("warning: agent {agent} could not be restored: {why}");
            }
            (node, Some(report))
        }
    };
    let mut ctx = ScriptContext::new(node, &path);
    ctx.restore = restore;
    let limits = ScriptLimits {
        wall_clock: cli.timeout,
        ..ScriptLimits::default()
    };
    let runner = Runner::new(&ctx, limits);
    let outcome = runner.run(&path, &source);

    let mut report = ctx.report.lock().unwrap().clone();
    report.elapsed_s = started.elapsed().as_secs_f64();
    if !report.measurements.is_empty() {
        println!("\n{}", render_table(&report));
    }
    if let Some(json) = &cli.json {
        std::fs::write(json, report.to_json())
            .with_context(|| format!("writing the JSON report to {}", json.display()))?;
    }
    // Agents may still be running; do not wait for them.
    runtime.shutdown_background();
    match outcome {
        Ok(()) => {
            if !cli.quiet {
                eprintln!("done in {:.2}s", report.elapsed_s);
            }
            Ok(exit::OK)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(exit::ERROR)
        }
    }
}

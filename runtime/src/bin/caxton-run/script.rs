//! `caxton-run SCRIPT`: run a workflow script and report.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use caxton::report::render_table;
use caxton::script::{Runner, ScriptContext, ScriptLimits};
use clap::Args;

use super::{NodeArgs, duration_arg, exit, start_node};

/// Running a script.
#[derive(Debug, Args)]
pub(crate) struct ScriptArgs {
    /// The workflow script to run (e.g. scripts/quickstart.rhai).
    #[arg(required = true)]
    script: Option<PathBuf>,

    /// Also write the report as JSON (schema caxton.report/v1) to FILE.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,

    /// Print only errors and the final table.
    #[arg(long, short)]
    pub(crate) quiet: bool,

    /// Stop the script after this much wall time (e.g. 90s, 10m).
    #[arg(long, default_value = "30m", value_parser = duration_arg)]
    timeout: Duration,

    #[command(flatten)]
    node: NodeArgs,
}

/// Runs a script against an embedded node.
pub(crate) fn run(cli: ScriptArgs) -> anyhow::Result<u8> {
    let started = Instant::now();
    let script = cli.script.clone().context("no script given")?;
    let path = script.display().to_string();
    let source = match std::fs::read_to_string(&script) {
        Ok(source) => source,
        Err(e) => {
            eprintln!("{}", caxton::script::ScriptError::io(&path, &e));
            return Ok(exit::ERROR);
        }
    };
    let (runtime, node, restore) = start_node(&cli.node, cli.quiet)?;
    let mut ctx = ScriptContext::new(node, &path);
    ctx.restore = restore;
    let limits = ScriptLimits {
        wall_clock: cli.timeout,
        ..ScriptLimits::default()
    };
    let runner = Runner::new(&ctx, limits);
    let outcome = runner.run(&path, &source);

    let mut report = ctx.finish();
    report.elapsed_s = started.elapsed().as_secs_f64();
    if !report.measurements.is_empty() || !report.thresholds.is_empty() {
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
            if report.failed() {
                eprintln!("a threshold failed (see the table above)");
                return Ok(exit::THRESHOLD);
            }
            Ok(exit::OK)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(exit::ERROR)
        }
    }
}

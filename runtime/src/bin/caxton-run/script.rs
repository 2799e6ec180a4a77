//! `caxton-run SCRIPT`: run a workflow script and report.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use caxton::measure::live::Live;
use caxton::report::html::{self, PageState, render_html};
use caxton::report::{Baseline, Report, plot, render_markdown, render_table};
use caxton::script::{Progress, Runner, ScriptContext, ScriptLimits};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::dashboard::Dashboard;
use super::{NodeArgs, duration_arg, exit, observe, start_node};

/// Running a script.
#[derive(Debug, Args)]
pub(crate) struct ScriptArgs {
    /// The workflow script to run (e.g. scripts/quickstart.rhai).
    #[arg(required = true)]
    script: Option<PathBuf>,

    /// Also write the report as JSON (schema caxton.report/v1) to FILE.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,

    /// Also write the report as Markdown (Summary, Throughput, Latency,
    /// Resource Usage; Baseline / Current / Change; and the send lag of
    /// open-model load runs) to FILE.
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,

    /// Also write the report as one self-contained HTML page (no network
    /// needed): summary, verdicts, thresholds, baseline comparison,
    /// latency-by-percentile charts with runs overlaid, load timelines.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,

    /// Write an SVG latency-distribution plot per measurement into DIR.
    #[arg(long, value_name = "DIR")]
    plots: Option<PathBuf>,

    /// Save this run's stats and histograms as baseline NAME (in
    /// RESULTS_DIR/baselines/NAME.json), if the script ran to the end.
    #[arg(long, value_name = "NAME")]
    save_baseline: Option<String>,

    /// Compare this run with baseline NAME: Baseline / Current / Change per
    /// metric; a regression exits with code 3.
    #[arg(long, value_name = "NAME")]
    baseline: Option<String>,

    /// Where baselines are kept.
    #[arg(long, value_name = "DIR", default_value = "caxton-results")]
    results_dir: PathBuf,

    /// The smallest worsening that counts as a regression, in percent (it
    /// must also exceed the noise either run showed).
    #[arg(long, value_name = "PERCENT", default_value_t = 10.0)]
    regression_threshold: f64,

    /// A value for the script's `param(KEY, default)` (repeatable), e.g.
    /// `--set quick=true --set agents=1000`.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = key_value)]
    params: Vec<(String, String)>,

    /// Let `caxton-run top` watch this run's node: listen for observers on
    /// ADDR (UDP, e.g. 127.0.0.1:7701; port 0 picks one) and print the
    /// fingerprint and operator token they need. Tenants with a token in
    /// the config's [tokens] may watch their own agents.
    #[arg(long, value_name = "ADDR")]
    observe: Option<std::net::SocketAddr>,

    /// Show the run live on a local web page at http://ADDR/ (e.g.
    /// 127.0.0.1:7702; port 0 picks one, printed at the start): the
    /// measurement under way with its rate and p50/p99 so far, finished
    /// measurements and thresholds as they are decided, and at the end the
    /// same report as --html. Anyone who can reach ADDR sees the page.
    #[arg(long, value_name = "ADDR")]
    dashboard: Option<std::net::SocketAddr>,

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
    // Read the baseline first: a typo in its name should cost nothing.
    let baseline = match &cli.baseline {
        Some(name) => Some(read_baseline(&cli.results_dir, name)?),
        None => None,
    };
    if let Some(name) = &cli.save_baseline {
        check_name(name)?;
    }
    let started_node = start_node(&cli.node, cli.quiet)?;
    let observed = match cli.observe {
        Some(addr) => Some(observe::listen(&started_node, addr)?),
        None => None,
    };
    let super::Started {
        runtime,
        node,
        restore,
        ..
    } = started_node;
    let mut ctx = ScriptContext::new(node, &path);
    ctx.restore = restore;
    ctx.params = Arc::new(cli.params.iter().cloned().collect());
    // include("x.rhai") reads next to the script being run.
    let dir = script.parent().map(Path::to_path_buf).unwrap_or_default();
    ctx.read_script = Some(Arc::new(move |name: &str| {
        let file = dir.join(name);
        std::fs::read_to_string(&file)
            .map(|text| (file.display().to_string(), text))
            .map_err(|e| format!("reading {}: {e}", file.display()))
    }));
    if !cli.quiet && std::io::stdout().is_terminal() && std::io::stderr().is_terminal() {
        ctx.progress = Some(Arc::new(Bars));
    }
    let dashboard = match cli.dashboard {
        Some(addr) => {
            ctx.live = Some(Arc::new(Live::default()));
            let baseline_curves = match &baseline {
                Some(b) => html::baseline_curves(b)?,
                None => Vec::new(),
            };
            Some(Dashboard::start(addr, &ctx, baseline_curves)?)
        }
        None => None,
    };
    let limits = ScriptLimits {
        wall_clock: cli.timeout,
        ..ScriptLimits::default()
    };
    let runner = Runner::new(&ctx, limits);
    let outcome = runner.run(&path, &source);

    let mut report = ctx.finish();
    report.elapsed_s = started.elapsed().as_secs_f64();
    if let Some(b) = &baseline {
        report.baseline = Some(b.compare(&report, cli.regression_threshold / 100.0));
    }
    if !report.measurements.is_empty() || !report.thresholds.is_empty() {
        println!("\n{}", render_table(&report));
    }
    write_reports(&cli, &report, &ctx, baseline.as_ref())?;
    if let Some(dashboard) = dashboard {
        let mut state = page_state(&report, &ctx, baseline.as_ref(), true)?;
        state.error = outcome.as_ref().err().map(ToString::to_string);
        dashboard.finish(state);
    }
    if let Some(name) = cli.save_baseline.as_deref().filter(|_| outcome.is_ok()) {
        let file = save_baseline(&cli.results_dir, name, &report, &ctx)?;
        if !cli.quiet {
            eprintln!("saved baseline `{name}` to {}", file.display());
        }
    }
    if let Some(server) = observed {
        server.close();
    }
    // Agents may still be running; do not wait for them.
    runtime.shutdown_background();
    match outcome {
        Ok(()) => {
            if !cli.quiet {
                eprintln!("done in {:.2}s", report.elapsed_s);
            }
            if report.failed() || report.regressed() {
                if report.failed() {
                    eprintln!("a threshold failed (see the table above)");
                }
                if report.regressed() {
                    eprintln!("a metric regressed against the baseline (see the table above)");
                }
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

fn key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got `{text}`")),
    }
}

fn check_name(name: &str) -> anyhow::Result<()> {
    caxton::report::baseline::check_name(name)?;
    Ok(())
}

fn baseline_file(dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
    check_name(name)?;
    Ok(dir.join("baselines").join(format!("{name}.json")))
}

fn read_baseline(dir: &Path, name: &str) -> anyhow::Result<Baseline> {
    let file = baseline_file(dir, name)?;
    let text = std::fs::read_to_string(&file).with_context(|| {
        format!(
            "reading baseline `{name}` from {} (save one with --save-baseline {name})",
            file.display()
        )
    })?;
    Baseline::from_json(&text).with_context(|| format!("reading {}", file.display()))
}

/// Writes the baseline through a temporary file and a rename, so a crash
/// never leaves half a baseline under the name.
fn save_baseline(
    dir: &Path,
    name: &str,
    report: &Report,
    ctx: &ScriptContext,
) -> anyhow::Result<PathBuf> {
    let file = baseline_file(dir, name)?;
    let parent = file.parent().expect("a baseline file has a directory");
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let baseline = Baseline::new(name, report, &ctx.histograms())?;
    let tmp = file.with_extension("json.tmp");
    std::fs::write(&tmp, baseline.to_json())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &file).with_context(|| format!("writing {}", file.display()))?;
    Ok(file)
}

/// The JSON, Markdown and plot files asked for.
fn write_reports(
    cli: &ScriptArgs,
    report: &Report,
    ctx: &ScriptContext,
    baseline: Option<&Baseline>,
) -> anyhow::Result<()> {
    if let Some(file) = &cli.html {
        std::fs::write(file, render_html(&page_state(report, ctx, baseline, true)?))
            .with_context(|| format!("writing the HTML report to {}", file.display()))?;
    }
    if let Some(json) = &cli.json {
        std::fs::write(json, report.to_json())
            .with_context(|| format!("writing the JSON report to {}", json.display()))?;
    }
    if let Some(md) = &cli.markdown {
        std::fs::write(md, render_markdown(report))
            .with_context(|| format!("writing the Markdown report to {}", md.display()))?;
    }
    if let Some(dir) = &cli.plots {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        for (i, (name, hist)) in ctx.histograms().iter().enumerate() {
            let file = dir.join(plot::file_name(i + 1, name));
            std::fs::write(&file, plot::latency_svg(name, hist)?)
                .with_context(|| format!("writing {}", file.display()))?;
        }
    }
    Ok(())
}

/// What the HTML page shows of the run so far (or of the whole run).
fn page_state(
    report: &Report,
    ctx: &ScriptContext,
    baseline: Option<&Baseline>,
    finished: bool,
) -> anyhow::Result<PageState> {
    let histograms = ctx.histograms();
    let curves = html::curves(histograms.iter().map(|(name, h)| (name.as_str(), h)));
    let baseline_curves = match baseline {
        Some(b) => html::baseline_curves(b)?,
        None => Vec::new(),
    };
    let mut state = PageState::finished(report.clone(), curves, baseline_curves);
    state.finished = finished;
    Ok(state)
}

/// Progress bars on the terminal (stderr), one per long measurement.
struct Bars;

impl Progress for Bars {
    fn begin(&self, name: &str, expected: Option<Duration>) -> Box<dyn Send> {
        let bar = match expected {
            Some(d) => {
                let bar = ProgressBar::new(d.as_millis() as u64);
                bar.set_style(
                    ProgressStyle::with_template("{msg:40} [{bar:30}] {elapsed}/{duration}")
                        .expect("a valid template")
                        .progress_chars("=> "),
                );
                bar
            }
            None => {
                let bar = ProgressBar::new_spinner();
                bar.set_style(
                    ProgressStyle::with_template("{msg:40} {spinner} {elapsed}")
                        .expect("a valid template"),
                );
                bar
            }
        };
        bar.set_message(name.to_string());
        // The bar moves with the clock, from one thread of its own: the
        // measured work is not slowed by reporting its progress.
        let ticker = bar.clone();
        let start = Instant::now();
        std::thread::spawn(move || {
            while !ticker.is_finished() {
                ticker.set_position(start.elapsed().as_millis() as u64);
                ticker.tick();
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Box::new(Finish(bar))
    }
}

/// Clears its bar when the work ends.
struct Finish(ProgressBar);

impl Drop for Finish {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

//! `caxton-run`: runs a Rhai workflow script against an embedded Caxton
//! node (`caxton-run SCRIPT`), or runs a node reachable over QUIC
//! (`caxton-run serve`).
//!
//! The only place that reads the environment, picks directories or files,
//! or installs signal handlers: the library receives everything as arguments.

mod compile;
mod dashboard;
mod deploy;
mod identity;
mod inspect;
mod new;
mod observe;
mod script;
mod serve;
mod start;
mod top;

use start::{Started, connect_client, start_node, start_node_then};

/// mimalloc instead of glibc's malloc. A QUIC request allocates on one
/// worker thread and frees on another (frames, payloads, callbacks), and
/// glibc serialises that on its arena locks: in a profile of
/// `scripts/quic.rhai` its malloc, free and lock waits were about a tenth
/// of all CPU. With mimalloc, 4 alternating runs of that script on this
/// project's 2-vCPU machine gave a QUIC burst of 258-287K msg/s against
/// 186-238K with glibc.
///
/// Built without transparent huge pages (`no_thp`): with them, a fresh
/// 2 MiB page is zeroed in one page fault on whichever thread touches it
/// first. With one worker (`--workers 1`) at 20K QUIC requests/s, the
/// p99 was 1.3 and 14 ms in 2 runs with huge pages, 0.36-0.55 ms in 5
/// runs without, and 0.36-0.48 ms in 4 of 5 runs with glibc (1.4 in one).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use caxton::core::limits::{parse_duration, parse_size};
use clap::{Args, Parser, Subcommand};

/// Exit codes, documented in `docs/scripting.md`.
mod exit {
    /// The script ran to the end (or the node shut down cleanly).
    pub const OK: u8 = 0;
    /// The script failed (syntax or run-time error) or the node could not start.
    pub const ERROR: u8 = 1;
    /// The script ran to the end, but a `threshold()` failed its critical tier.
    pub const THRESHOLD: u8 = 3;
}

/// Run a Caxton workflow script: spawn WebAssembly agents, drive them,
/// measure them, report. Or run a node that clients reach over QUIC.
///
/// The script is Rhai with the Caxton API (plugin, spawn, spawn_many, send,
/// request, stop, kill, measure, ...); see docs/scripting.md. Built-in
/// plugins: echo, counter, compute, hog, crasher, relay, streamer; any other component
/// loads by path.
///
/// Watching: `caxton-run top ADDR` shows a served node (or a script run
/// with `--observe ADDR`) live in the terminal.
///
/// Many nodes: `serve --peer NAME=HOST:PORT#FINGERPRINT` links served nodes,
/// `caxton-run deploy FILE` uploads a tenant's component to one,
/// `caxton-run identity` makes a cluster's certificates (docs/cluster.md).
///
/// Plugins: `caxton-run new NAME --lang rust|js|python` writes a project,
/// `caxton-run wit` prints the world, `caxton-run inspect FILE.wasm` checks a
/// component.
///
/// Exit codes: 0 ok, 1 script or runtime error (printed as file:line:col with
/// the source line), 2 bad command line, 3 a threshold failed (after the
/// full report is printed).
#[derive(Debug, Parser)]
#[command(
    name = "caxton-run",
    version,
    verbatim_doc_comment,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    #[command(flatten)]
    script: script::ScriptArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a node that clients reach over QUIC (TLS 1.3, pinned certificate,
    /// tenant token), until Ctrl-C or SIGTERM.
    Serve(serve::ServeArgs),
    /// Watch a node: its totals and a table of its agents (mailbox, rate,
    /// memory, restarts, last failure), redrawn every second. Keys: q quit,
    /// s sort, r reverse, t tenant.
    Top(top::TopArgs),
    /// Write a new plugin project in Rust, JavaScript or Python that builds
    /// with that language's toolchain alone.
    New(new::NewArgs),
    /// Print the caxton:agent WIT world every agent implements.
    Wit,
    /// Say whether a component fits the world and what it costs (size,
    /// imports, compile, spawn, least memory), before spawning anything.
    Inspect(inspect::InspectArgs),
    /// Upload a component to a served node for your tenant; its agents are
    /// then spawned by the name it was given, and survive node restarts.
    Deploy(deploy::DeployArgs),
    /// Make certificates for the nodes of a cluster and print their
    /// fingerprints (for [peers] and `serve --identity-dir`).
    Identity(identity::IdentityArgs),
    /// (Internal) compile a component from stdin for a node's upload.
    #[command(hide = true)]
    CompileComponent(compile::CompileArgs),
}

/// How the node is sized and where it keeps things (script and serve alike).
#[derive(Debug, Args)]
struct NodeArgs {
    /// How many agents the node can hold at once (sizes the instance pool;
    /// above 24,000 needs --compact-memory).
    #[arg(long, default_value_t = 12_000)]
    max_agents: u32,

    /// Lay agents' memories out compactly: more agent slots fit in the
    /// address space, but every guest load and store is bounds-checked
    /// (memory-heavy guests run slower). By default each memory has 4 GiB
    /// of address space and guard regions, and needs no bounds checks.
    #[arg(long)]
    compact_memory: bool,

    /// The most linear memory any agent may be given (e.g. 256MiB, 1GiB).
    #[arg(long, default_value = "1GiB", value_parser = size_arg)]
    max_memory: u64,

    /// Where compiled components are cached [default: $XDG_CACHE_HOME/caxton or ~/.cache/caxton].
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,

    /// Compile every component afresh; read and write no cache.
    #[arg(long)]
    no_cache: bool,

    /// Meter fuel, so agents can be given a `fuel` budget per message
    /// (spawn option `fuel`). Costs some speed for every agent, so it is off
    /// unless asked for.
    #[arg(long)]
    fuel: bool,

    /// Tenants and their quotas, tenants' tokens and peers, from a TOML
    /// file ([tenants.NAME], [tokens], [peers]; see docs/tenants.md).
    /// Repeatable: the files are merged, and a tenant, token or peer given
    /// twice is an error (e.g. the tokens from a secret, the rest from a
    /// config map). Unknown keys are errors.
    #[arg(long, value_name = "FILE")]
    config: Vec<PathBuf>,

    /// Worker threads of the node's async runtime, which runs the agents,
    /// the script's load and QUIC [default: one per core]. On a small
    /// machine 1 can be cheaper for QUIC runs: every hand-off between two
    /// workers is a thread wake-up (see docs/performance.md).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    workers: Option<u16>,

    /// The largest component a tenant may upload (caxton-run deploy, a
    /// script's plugin(node, FILE)).
    #[arg(long, default_value = "64MiB", value_parser = size_arg, help_heading = "Uploads")]
    max_upload: u64,

    /// The longest compiling an upload may take; the compiler is stopped
    /// there and the upload refused.
    #[arg(long, default_value = "60s", value_parser = duration_arg, help_heading = "Uploads")]
    compile_budget: Duration,

    /// The address space compiling an upload may use.
    #[arg(long, default_value = "2GiB", value_parser = size_arg, help_heading = "Uploads")]
    compile_memory: u64,

    /// Components per tenant (a tenant's `components` quota overrides it).
    #[arg(long, default_value_t = 16, help_heading = "Uploads")]
    max_components: u64,

    /// Bytes of all of a tenant's components (its `component_bytes` quota
    /// overrides it).
    #[arg(long, default_value = "256MiB", value_parser = size_arg, help_heading = "Uploads")]
    max_component_bytes: u64,

    /// Make the node durable: agent specs and state are kept in DIR/node.db
    /// (SQLite), and the agents stored there are started again (with their
    /// state) on start. Queued messages are not kept.
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
    // `top` owns the screen: a log line would tear it.
    let quiet =
        (cli.command.is_none() && cli.script.quiet) || matches!(cli.command, Some(Command::Top(_)));
    match &cli.command {
        // A served node logs its lifecycle (starting, restored, listening,
        // ready, shutting down, stopped) one line per event.
        Some(Command::Serve(args)) => init_logging("warn,caxton::lifecycle=info", args.log_format),
        _ => init_logging(if quiet { "error" } else { "warn" }, LogFormat::Text),
    }
    let result = match cli.command {
        Some(Command::Serve(args)) => serve::run(args),
        Some(Command::New(args)) => new::run(args),
        Some(Command::Top(args)) => top::run(args),
        Some(Command::Wit) => {
            print!("{}", caxton::host::WIT);
            Ok(exit::OK)
        }
        Some(Command::Inspect(args)) => inspect::run(args),
        Some(Command::Deploy(args)) => deploy::run(args),
        Some(Command::Identity(args)) => identity::run(args),
        Some(Command::CompileComponent(args)) => compile::run(args),
        None => script::run(cli.script),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::ERROR)
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// For people.
    Text,
    /// One JSON object per line (for log collectors).
    Json,
}

/// Logs to stderr, filtered by `CAXTON_LOG` if set, else by `default`.
fn init_logging(default: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CAXTON_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().flatten_event(true).init(),
    }
}

//! `caxton-run inspect FILE.wasm`: what a component is and costs, before
//! anything is spawned from it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use caxton::core::failure::Failure;
use caxton::core::limits::AgentLimits;
use caxton::host::Plugin;
use caxton::host::cache::Origin;
use caxton::node::{Node, SpawnError, SpawnOptions};
use clap::Args;

/// Say whether a component fits the caxton:agent world (and if not, which
/// import or export does not), its size and imports, what compiling it
/// costs (or loading it from the cache), what a spawn of it costs, and the
/// least memory its `init` needs.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The component file.
    file: PathBuf,

    /// Spawns to time (instantiate + init).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    spawns: u32,

    #[command(flatten)]
    node: crate::NodeArgs,
}

pub fn run(args: InspectArgs) -> anyhow::Result<u8> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("reading the component {}", args.file.display()))?;
    let name = args.file.display().to_string();
    println!(
        "{name}: {} bytes ({:.1} MiB)",
        bytes.len(),
        mib(bytes.len() as u64)
    );
    let crate::Started {
        runtime: _runtime,
        node,
        ..
    } = crate::start_node(&args.node, true)?;
    let engine = node.engine();
    let start = Instant::now();
    let loaded = Plugin::from_bytes(engine, &name, &bytes);
    let took = start.elapsed();
    let interface = match caxton::host::plugin::interface(engine, &name, &bytes) {
        Ok(interface) => interface,
        Err(e) => {
            println!("fits the caxton:agent@0.1.0 world: no\n  {e}");
            return Ok(crate::exit::ERROR);
        }
    };
    println!("imports ({}):", interface.imports.len());
    for import in &interface.imports {
        println!("  {import}");
    }
    println!("exports: {}", interface.exports.join(", "));
    let plugin = match loaded {
        Ok(plugin) => plugin,
        Err(e) => {
            println!("fits the caxton:agent@0.1.0 world: no\n  {e}");
            return Ok(crate::exit::ERROR);
        }
    };
    println!("fits the caxton:agent@0.1.0 world: yes");
    match plugin.origin() {
        Origin::Compiled => println!("compiled in {}", human(took)),
        Origin::Cached => println!(
            "loaded from the cache in {} (--no-cache to time a compile)",
            human(took)
        ),
    }
    spawn_cost(&node, &plugin, args.spawns)?;
    least_memory(&node, &plugin);
    Ok(crate::exit::OK)
}

/// Times `n` spawns (instantiate + init), each agent kept until all are
/// done so each lands in a fresh pool slot, as a node filling up does.
fn spawn_cost(node: &Node, plugin: &Plugin, n: u32) -> anyhow::Result<()> {
    let mut times = Vec::with_capacity(n as usize);
    let mut agents = Vec::with_capacity(n as usize);
    let rss_before = caxton::measure::resources::rss_bytes();
    for _ in 0..n {
        let start = Instant::now();
        let agent = node
            .spawn_blocking(plugin, SpawnOptions::default())
            .with_context(|| format!("spawning {} with the default limits", plugin.name()))?;
        times.push(start.elapsed());
        agents.push(agent);
    }
    let rss_after = caxton::measure::resources::rss_bytes();
    agents.iter().for_each(|a| a.kill());
    times.sort();
    println!(
        "spawn (instantiate + init), {n} into fresh slots: p50 {}, max {}",
        human(times[times.len() / 2]),
        human(times[times.len() - 1])
    );
    if let (Some(before), Some(after)) = (rss_before, rss_after) {
        // The process's growth while they were spawned: their memories,
        // stacks and the host's state for them.
        println!(
            "resident memory per agent after init: about {:.2} MiB (the process grew {:.1} MiB for {n})",
            mib(after.saturating_sub(before)) / f64::from(n),
            mib(after.saturating_sub(before))
        );
    }
    Ok(())
}

/// The least memory limit `init` runs within: each failed try names what
/// the guest asked for, so a few tries find it.
fn least_memory(node: &Node, plugin: &Plugin) {
    let mut limit: u64 = 1 << 20;
    for _ in 0..12 {
        let options = SpawnOptions {
            limits: AgentLimits {
                memory: limit,
                ..AgentLimits::default()
            },
            ..SpawnOptions::default()
        };
        match node.spawn_blocking(plugin, options) {
            Ok(agent) => {
                agent.kill();
                println!(
                    "least memory to start: {:.1} MiB (the spawn option `memory`; default {} MiB)",
                    mib(limit),
                    AgentLimits::default().memory >> 20
                );
                return;
            }
            Err(SpawnError::Start {
                failure: Failure::MemoryLimit { requested, .. },
                ..
            }) if requested > limit => {
                limit = requested.next_multiple_of(64 << 10);
            }
            Err(e) => {
                println!("least memory to start: not found ({e})");
                return;
            }
        }
    }
    println!("least memory to start: more than {:.1} MiB", mib(limit));
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1 << 20)
}

fn human(d: Duration) -> String {
    caxton::measure::stats::human_ns(d.as_nanos() as f64)
}

//! `spawn` and `spawn_many`, on the script's own node or on a remote one:
//! both through [`NodeApi`], so an option or a `Plugin` value means the
//! same on either, and the agents come back as one [`Agent`] type.

use std::sync::{Arc, Mutex};

use rhai::{Array, Dynamic, Engine, Map};

use super::agent::Agent;
use super::spawn_syntax::{self, options_arg, plugin_arg};
use super::{Fallible, fail, options};
use crate::host::Plugin;
use crate::host::raw::{RawAgent, RawInstance};
use crate::measure::storm::storm;
use crate::net::client::RemoteNode;
use crate::node::{NodeApi, PluginRef, SpawnOptions};
use crate::script::context::ScriptContext;

pub(super) fn register(engine: &mut Engine, ctx: &ScriptContext) {
    // spawn(plugin), spawn(plugin, #{..}), spawn(node, plugin),
    // spawn(node, plugin, #{..}): a second argument that is not a map is
    // the plugin, so the first is a node.
    let c = ctx.clone();
    let spawn = move |args: Vec<Dynamic>| -> Fallible<Dynamic> {
        let mut args = args.into_iter();
        let first = args.next().unwrap_or(Dynamic::UNIT);
        let second = args.next();
        let third = args.next();
        if third.is_some() || second.as_ref().is_some_and(|s| !s.is_map()) {
            let node = remote(first)?;
            let plugin = plugin_arg(second.unwrap_or(Dynamic::UNIT))?;
            let opts = options_arg(third)?;
            return spawn_on(&c, &node, &plugin, None, &opts, |name| Agent::Remote {
                node: node.clone(),
                name,
            })
            .map(first_agent);
        }
        let plugin = plugin_arg(first)?;
        let opts = options_arg(second)?;
        spawn_on(&c, &c.node, &plugin, None, &opts, Agent::Local).map(first_agent)
    };
    spawn_syntax::register(engine, Arc::new(spawn));

    let c = ctx.clone();
    let local = move |plugin: Dynamic, n: i64, opts: &Map| -> Fallible<Array> {
        let agents = spawn_on(
            &c,
            &c.node,
            &plugin_arg(plugin)?,
            Some(count("spawn_many", n)?),
            opts,
            Agent::Local,
        )?;
        Ok(agents.into_iter().map(Dynamic::from).collect())
    };
    let l = local.clone();
    engine.register_fn("spawn_many", move |p: Dynamic, n: i64| l(p, n, &Map::new()));
    engine.register_fn("spawn_many", move |p: Dynamic, n: i64, opts: Map| {
        local(p, n, &opts)
    });
    let c = ctx.clone();
    let remote = move |node: RemoteNode, plugin: Dynamic, n: i64, opts: &Map| -> Fallible<Array> {
        let agents = spawn_on(
            &c,
            &node,
            &plugin_arg(plugin)?,
            Some(count("spawn_many", n)?),
            opts,
            |name| Agent::Remote {
                node: node.clone(),
                name,
            },
        )?;
        Ok(agents.into_iter().map(Dynamic::from).collect())
    };
    // Storms: spawn + one request + kill, on every core; Caxton's, and the
    // same component's in plain wasmtime, for the same run's comparison.
    let c = ctx.clone();
    engine.register_fn(
        "storm",
        move |plugin: Plugin, agents: i64| -> Fallible<Map> {
            let node = c.node.clone();
            let payload = b"storm".to_vec();
            let one = || -> Result<(), String> {
                let agent = node
                    .spawn_blocking(&plugin, SpawnOptions::default())
                    .map_err(|e| e.to_string())?;
                let reply = agent.request_blocking(payload.clone(), c.request_timeout);
                agent.kill();
                reply.map(drop).map_err(|e| e.to_string())
            };
            let name = format!("spawn storm ({}, caxton)", plugin.name());
            Ok(record_storm(&c, &name, count("storm", agents)?, one))
        },
    );
    let c = ctx.clone();
    engine.register_fn(
        "raw_storm",
        move |plugin: Plugin, agents: i64| -> Fallible<Map> {
            let raw = RawAgent::new(c.node.engine(), &plugin).map_err(fail)?;
            let one = || raw.spawn_call_drop(b"storm");
            let name = format!("spawn storm ({}, raw wasmtime)", plugin.name());
            Ok(record_storm(&c, &name, count("raw_storm", agents)?, one))
        },
    );
    // Plain wasmtime's spawn of a plugin (store, instance, `init`), for a
    // spawn measured side by side with Caxton's: `let raw = raw_plugin(p);
    // raws.push(raw.instantiate())`. Instances live while a value holds them.
    let c = ctx.clone();
    engine
        .register_type_with_name::<Arc<RawAgent>>("RawPlugin")
        .register_type_with_name::<Arc<Mutex<RawInstance>>>("RawInstance")
        .register_fn(
            "raw_plugin",
            move |plugin: Plugin| -> Fallible<Arc<RawAgent>> {
                RawAgent::new(c.node.engine(), &plugin)
                    .map(Arc::new)
                    .map_err(|e| fail(format!("raw_plugin({}): {e:#}", plugin.name())))
            },
        )
        .register_fn(
            "instantiate",
            |raw: &mut Arc<RawAgent>| -> Fallible<Arc<Mutex<RawInstance>>> {
                raw.spawn()
                    .map(|i| Arc::new(Mutex::new(i)))
                    .map_err(|e| fail(format!("instantiate(): {e:#}")))
            },
        );
    let r = remote.clone();
    engine.register_fn("spawn_many", move |node: RemoteNode, p: Dynamic, n: i64| {
        r(node, p, n, &Map::new())
    });
    engine.register_fn(
        "spawn_many",
        move |node: RemoteNode, p: Dynamic, n: i64, opts: Map| remote(node, p, n, &opts),
    );
}

/// Runs a storm of `agents` cycles on every core, records it, and returns
/// its stats (`throughput` is agents per second).
fn record_storm<E: std::fmt::Display>(
    c: &ScriptContext,
    name: &str,
    agents: usize,
    one: impl Fn() -> Result<(), E> + Sync,
) -> Map {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let bar = c.begin(name, None);
    let (stats, hist) = storm(name, agents as u64, threads, one);
    drop(bar);
    c.record_with(stats.clone(), hist);
    super::stats_map(&stats)
}

/// Spawns agents of `plugin` on `node`: one (`many` is `None`; a name
/// option is its name) or `many` (a name option is their prefix).
fn spawn_on<N: NodeApi>(
    c: &ScriptContext,
    node: &N,
    plugin: &PluginRef,
    many: Option<usize>,
    opts: &Map,
    wrap: impl Fn(N::Agent) -> Agent,
) -> Fallible<Vec<Agent>> {
    let options = options::spawn_options(opts).map_err(fail)?;
    let rt = c.node.runtime();
    let agents = match many {
        // Polled here first: a local spawn usually finishes in one poll,
        // and `block_on`'s entry would be a good part of its cost.
        None => vec![crate::node::run_here(rt, node.spawn(plugin, options)).map_err(fail)?],
        Some(n) => rt
            .block_on(node.spawn_many(plugin, n, options))
            .map_err(fail)?,
    };
    Ok(agents.into_iter().map(wrap).collect())
}

fn first_agent(mut agents: Vec<Agent>) -> Dynamic {
    Dynamic::from(agents.remove(0))
}

/// `n` of `what(..., n)`, which must not be negative.
fn count(what: &str, n: i64) -> Fallible<usize> {
    usize::try_from(n).map_err(|_| fail(format!("{what}: n must not be negative, got {n}")))
}

/// The node argument of `spawn(node, plugin, ...)`.
fn remote(value: Dynamic) -> Fallible<RemoteNode> {
    let type_name = value.type_name();
    value.try_cast::<RemoteNode>().ok_or_else(|| {
        fail(format!(
            "spawn(node, plugin, #{{...}}): the first argument must be a node (from connect), got {type_name}; \
             to spawn here: spawn(plugin, #{{...}})"
        ))
    })
}

//! `spawn` and `spawn_many`, on the script's own node or on a remote one:
//! both through [`NodeApi`], so an option or a `Plugin` value means the
//! same on either, and the agents come back as one [`Agent`] type.

use rhai::{Array, Dynamic, Engine, Map};

use super::agent::Agent;
use super::spawn_syntax::{self, options_arg, plugin_arg};
use super::{Fallible, fail, options};
use crate::net::client::RemoteNode;
use crate::node::{NodeApi, PluginRef};
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
    spawn_syntax::register(engine, std::sync::Arc::new(spawn));

    let c = ctx.clone();
    let local = move |plugin: Dynamic, n: i64, opts: &Map| -> Fallible<Array> {
        let agents = spawn_on(
            &c,
            &c.node,
            &plugin_arg(plugin)?,
            Some(count(n)?),
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
            Some(count(n)?),
            opts,
            |name| Agent::Remote {
                node: node.clone(),
                name,
            },
        )?;
        Ok(agents.into_iter().map(Dynamic::from).collect())
    };
    let r = remote.clone();
    engine.register_fn("spawn_many", move |node: RemoteNode, p: Dynamic, n: i64| {
        r(node, p, n, &Map::new())
    });
    engine.register_fn(
        "spawn_many",
        move |node: RemoteNode, p: Dynamic, n: i64, opts: Map| remote(node, p, n, &opts),
    );
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
        None => vec![rt.block_on(node.spawn(plugin, options)).map_err(fail)?],
        Some(n) => rt
            .block_on(node.spawn_many(plugin, n, options))
            .map_err(fail)?,
    };
    Ok(agents.into_iter().map(wrap).collect())
}

fn first_agent(mut agents: Vec<Agent>) -> Dynamic {
    Dynamic::from(agents.remove(0))
}

fn count(n: i64) -> Fallible<usize> {
    usize::try_from(n).map_err(|_| fail("spawn_many: n must not be negative"))
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

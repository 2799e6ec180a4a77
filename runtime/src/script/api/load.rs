//! `load(#{...})`: the native load generator from a script.

use std::sync::Arc;

use rhai::{Array, Dynamic, Engine, Map};

use super::agent::Agent;
use super::job::Job;
use super::{Fallible, fail, stats_map};
use crate::measure::SendLag;
use crate::measure::load::distributed::{self, Share};
use crate::measure::load::{LoadOptions, LoadReport, LoadSpec, Target, Until, run_load_observed};
use crate::net::client::RemoteNode;
use crate::node::Targets;
use crate::script::context::ScriptContext;

pub(crate) fn register(engine: &mut Engine, ctx: &ScriptContext) {
    let c = ctx.clone();
    engine.register_fn("load", move |opts: Map| -> Fallible<Map> {
        if opts.contains_key("on") {
            return distributed(&c, &opts).map_err(fail);
        }
        let (target, options) = parse(&c, &opts).map_err(fail)?;
        execute(&c, target, &options, true).map_err(fail)
    });
    // The same run on a thread of its own, next to whatever the script does
    // meanwhile (a noisy neighbour); `wait(job)` gives its result. Options
    // are checked here, so a bad one fails at this line.
    let c = ctx.clone();
    engine.register_fn("start_load", move |opts: Map| -> Fallible<Job> {
        let (target, options) = parse(&c, &opts).map_err(fail)?;
        let c = c.clone();
        Job::start(&options.name.clone(), move || {
            execute(&c, target, &options, false).map(Dynamic::from_map)
        })
        .map_err(fail)
    });
}

/// Runs a load and records it into the report (a progress bar only for
/// one the script waits on).
fn execute(
    c: &ScriptContext,
    target: Arc<dyn Target>,
    options: &LoadOptions,
    progress: bool,
) -> Result<Map, String> {
    let expected = match options.until {
        Until::Elapsed(d) => Some(d + options.warmup),
        Until::Operations(_) => None,
    };
    let usage = c.usage();
    let bar = progress.then(|| c.begin(&options.name, expected));
    let fuel = std::cell::Cell::new(None);
    let mut options = options.clone();
    options.live = c.live.clone();
    let report = run_load_observed(target, &options, || {
        fuel.set(c.node.engine().fuel_burned());
        // The warm-up's figures are not the run's.
        if let Some(live) = &c.live {
            live.restart();
        }
    })
    .map_err(|e| e.to_string())?;
    drop(bar);
    let mut stats = report.latency.clone();
    // In the report a load run's throughput is messages per second.
    stats.throughput = report.throughput;
    stats.resources = usage.end(c);
    stats.send_lag = report.send_lag.as_ref().map(SendLag::from_histogram);
    stats.timeline = report.timeline.clone();
    // Fuel per message answered (a broadcast's operation is several).
    stats.fuel = fuel
        .get()
        .zip(c.node.engine().fuel_burned())
        .filter(|_| report.messages > 0)
        .map(|(before, after)| (after - before) as f64 / report.messages as f64);
    let mut map = report_map(&report, stats.send_lag);
    map.insert(
        "fuel".into(),
        stats.fuel.map_or(Dynamic::UNIT, Dynamic::from),
    );
    c.record_with(stats, report.histogram);
    Ok(map)
}

/// `load(#{ on: [nodes...], targets, ... })`: each node runs its share of
/// the load next to its agents; the shares' histograms are merged.
fn distributed(c: &ScriptContext, opts: &Map) -> Result<Map, String> {
    let mut opts = opts.clone();
    let on = opts.remove("on").expect("checked by the caller");
    let nodes: Vec<RemoteNode> = on
        .try_cast::<Array>()
        .ok_or("load option `on`: expected an array of nodes (connect(...))")?
        .into_iter()
        .map(|n| {
            let type_name = n.type_name();
            n.try_cast::<RemoteNode>()
                .ok_or_else(|| format!("load option `on`: expected nodes, got {type_name}"))
        })
        .collect::<Result<_, _>>()?;
    if nodes.is_empty() {
        return Err("load option `on`: no nodes given".into());
    }
    let targets = opts.remove("targets").ok_or(
        "load with `on`: the option `targets` (an agent name, or names, on every node) is required",
    )?;
    let targets = target_names(&targets)?;
    let json = super::options::map_value("load", &opts).map_err(|e| e.to_string())?;
    let resolved = LoadSpec::parse(json.clone())
        .and_then(LoadOptions::try_from)
        .map_err(|e| e.to_string())?;
    if resolved.window.is_some() {
        return Err(
            "load with `on`: `window` is not supported (each node would have its own timeline)"
                .into(),
        );
    }
    let n = nodes.len();
    let wait = distributed::expected(&resolved);
    let usage = c.usage();
    let bar = c.begin(
        &resolved.name,
        matches!(resolved.until, Until::Elapsed(_)).then(|| wait),
    );
    let mut runs = Vec::with_capacity(n);
    for (i, node) in nodes.iter().enumerate() {
        let share = Share {
            targets: targets.clone(),
            options: distributed::share_options(&json, &resolved, i, n)?,
        };
        let node = node.clone();
        runs.push(
            c.node
                .runtime()
                .spawn(async move { node.run_share(&share, wait).await }),
        );
    }
    let mut parts = Vec::with_capacity(n);
    for (run, node) in runs.into_iter().zip(&nodes) {
        let part = c
            .node
            .runtime()
            .block_on(run)
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("node `{}`: {e}", node.name()))?;
        parts.push(part);
    }
    drop(bar);
    let (mut stats, histogram, totals) = distributed::merge(&resolved.name, &parts)?;
    stats.resources = usage.end(c);
    let mut m = stats_map(&stats);
    for (k, v) in [
        ("messages", totals.messages),
        ("sent", totals.sent),
        ("lost", totals.lost),
        ("dropped", totals.dropped),
        ("late", totals.late),
    ] {
        m.insert(k.into(), Dynamic::from(v as i64));
    }
    m.insert("throughput".into(), Dynamic::from(totals.throughput));
    let per_node: Array = parts
        .iter()
        .map(|p| {
            let mut node = stats_map(&p.latency);
            node.insert("node".into(), p.node.clone().into());
            node.insert("messages".into(), Dynamic::from(p.messages as i64));
            node.insert("throughput".into(), Dynamic::from(p.throughput));
            Dynamic::from_map(node)
        })
        .collect();
    m.insert("nodes".into(), Dynamic::from_array(per_node));
    c.record_with(stats, histogram);
    Ok(m)
}

/// Agent names for a distributed load: a name, names, or remote agents.
fn target_names(value: &Dynamic) -> Result<Vec<String>, String> {
    let items: Array = match value.clone().try_cast::<Array>() {
        Some(a) => a,
        None => vec![value.clone()],
    };
    if items.is_empty() {
        return Err("load option `targets`: no agents given".into());
    }
    items
        .into_iter()
        .map(|item| {
            let type_name = item.type_name();
            if let Some(Agent::Remote { name, .. }) = item.clone().try_cast::<Agent>() {
                return Ok(name);
            }
            item.into_string().map_err(|_| {
                format!("load option `targets`: expected agent names, got {type_name}")
            })
        })
        .collect()
}

fn report_map(r: &LoadReport, send_lag: Option<SendLag>) -> Map {
    let mut m = stats_map(&r.latency);
    let mut int = |k: &str, v: u64| {
        m.insert(k.into(), Dynamic::from(v as i64));
    };
    int("messages", r.messages);
    int("sent", r.sent);
    int("lost", r.lost);
    int("dropped", r.dropped);
    int("late", r.late);
    m.insert("throughput".into(), Dynamic::from(r.throughput));
    m.insert("rate".into(), r.rate.map_or(Dynamic::UNIT, Dynamic::from));
    let send_lag = send_lag.map_or(Dynamic::UNIT, |l| {
        let mut lag = Map::new();
        for (k, v) in [
            ("p50", l.p50),
            ("p99", l.p99),
            ("p999", l.p999),
            ("max", l.max),
        ] {
            lag.insert(k.into(), Dynamic::from(v as i64));
        }
        Dynamic::from_map(lag)
    });
    m.insert("send_lag".into(), send_lag);
    let timeline: Array = r
        .timeline
        .iter()
        .map(|w| {
            let mut m = Map::new();
            m.insert("start_s".into(), Dynamic::from(w.start_s));
            m.insert("count".into(), Dynamic::from(w.count as i64));
            m.insert("p50".into(), Dynamic::from(w.p50 as i64));
            m.insert("p99".into(), Dynamic::from(w.p99 as i64));
            m.insert("max".into(), Dynamic::from(w.max as i64));
            m.insert(
                "rss".into(),
                w.rss_bytes
                    .map_or(Dynamic::UNIT, |b| Dynamic::from(b as i64)),
            );
            Dynamic::from_map(m)
        })
        .collect();
    m.insert("timeline".into(), Dynamic::from_array(timeline));
    m
}

fn parse(ctx: &ScriptContext, opts: &Map) -> Result<(Arc<dyn Target>, LoadOptions), String> {
    let mut opts = opts.clone();
    let targets = opts
        .remove("targets")
        .ok_or("load: the option `targets` (an agent or an array of agents) is required")?;
    let target = self::targets(ctx, &targets).map_err(|e| format!("load option `targets`: {e}"))?;
    let options = super::options::map_value("load", &opts)
        .and_then(LoadSpec::parse)
        .and_then(LoadOptions::try_from)
        .map_err(|e| e.to_string())?;
    Ok((target, options))
}

/// Agents of the embedded node, or of remote nodes (one or several
/// connections).
fn targets(ctx: &ScriptContext, value: &Dynamic) -> Result<Arc<dyn Target>, String> {
    let items: Array = match value.clone().try_cast::<Array>() {
        Some(a) => a,
        None => vec![value.clone()],
    };
    if items.is_empty() {
        return Err("no agents given".into());
    }
    let mut agents = Vec::with_capacity(items.len());
    for item in items {
        let type_name = item.type_name();
        agents.push(
            item.try_cast::<Agent>()
                .ok_or_else(|| format!("expected agents, got {type_name}"))?,
        );
    }
    // One load goes to agents of one kind: on this node (each request a
    // call into the node) or on remote ones (over their connections).
    if matches!(agents[0], Agent::Remote { .. }) {
        let remote = agents
            .into_iter()
            .map(|a| match a {
                Agent::Remote { node, name } => Ok((node, name)),
                Agent::Local(a) => Err(format!(
                    "a load goes to remote agents or to local ones, not both (`{}` is local)",
                    a.name()
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Arc::new(Targets::new(remote)));
    }
    let local = agents
        .into_iter()
        .map(|a| match a {
            Agent::Local(a) => Ok((ctx.node.clone(), a)),
            Agent::Remote { name, .. } => Err(format!(
                "a load goes to remote agents or to local ones, not both (`{name}` is remote)"
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Arc::new(Targets::new(local)))
}

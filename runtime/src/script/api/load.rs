//! `load(#{...})`: the native load generator from a script.

use std::sync::Arc;

use rhai::{Array, Dynamic, Engine, Map};

use super::agent::Agent;
use super::job::Job;
use super::options::{count, duration};
use super::{Fallible, fail, stats_map};
use crate::measure::SendLag;
use crate::measure::load::{Burst, LoadOptions, LoadReport, Model, Target, Until, run_load};
use crate::net::client::RemoteTargets;
use crate::node::AgentTargets;
use crate::script::context::ScriptContext;

const KEYS: &str = "targets, name, pattern, size, payload, concurrency, rate, duration, messages, warmup, drain, max_in_flight, burst, tick, window";

pub(crate) fn register(engine: &mut Engine, ctx: &ScriptContext) {
    let c = ctx.clone();
    engine.register_fn("load", move |opts: Map| -> Fallible<Map> {
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
    let report = run_load(target, options).map_err(|e| e.to_string())?;
    drop(bar);
    let mut stats = report.latency.clone();
    // In the report a load run's throughput is messages per second.
    stats.throughput = report.throughput;
    stats.resources = usage.end(c);
    stats.send_lag = report.send_lag.as_ref().map(SendLag::from_histogram);
    let map = report_map(&report, stats.send_lag);
    c.record_with(stats, report.histogram);
    Ok(map)
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

/// `#{ at: "2s", length: "500ms", rate: 50000 }`.
fn burst(value: &Dynamic) -> Result<Burst, String> {
    let map = value.read_lock::<Map>().ok_or_else(|| {
        format!(
            "expected #{{ at, length, rate }}, got {}",
            value.type_name()
        )
    })?;
    let get = |k: &str| {
        map.get(k)
            .ok_or_else(|| format!("`{k}` is missing (give at, length and rate)"))
    };
    let rate = get("rate")?;
    let rate = rate
        .as_float()
        .or_else(|_| rate.as_int().map(|i| i as f64))
        .map_err(|t| format!("rate: expected messages per second, got {t}"))?;
    if let Some(k) = map
        .keys()
        .find(|k| !["at", "length", "rate"].contains(&k.as_str()))
    {
        return Err(format!("unknown key `{k}`: the keys are at, length, rate"));
    }
    Ok(Burst {
        at: duration(get("at")?)?,
        length: duration(get("length")?)?,
        rate,
    })
}

fn parse(ctx: &ScriptContext, opts: &Map) -> Result<(Arc<dyn Target>, LoadOptions), String> {
    let mut options = LoadOptions::default();
    let mut target: Option<Arc<dyn Target>> = None;
    let (mut concurrency, mut rate, mut max_in_flight) = (None, None, 100_000usize);
    for (key, value) in opts {
        let bad = |e: String| format!("load option `{key}`: {e}");
        match key.as_str() {
            "targets" => target = Some(targets(ctx, value).map_err(bad)?),
            "name" => options.name = value.to_string(),
            "pattern" => {
                options.pattern = value
                    .clone()
                    .into_string()
                    .map_err(|t| format!("expected a string, got {t}"))
                    .and_then(|s| s.parse())
                    .map_err(bad)?
            }
            "size" => options.size = count(value).map_err(bad)? as usize,
            "payload" => {
                options.payload = Some(if value.is_blob() {
                    value.clone().cast::<rhai::Blob>()
                } else if value.is_string() {
                    value.to_string().into_bytes()
                } else {
                    return Err(bad(format!(
                        "expected a string or a blob, got {}",
                        value.type_name()
                    )));
                })
            }
            "concurrency" => concurrency = Some(count(value).map_err(bad)? as usize),
            "rate" => {
                let r = value
                    .as_float()
                    .or_else(|_| value.as_int().map(|i| i as f64))
                    .map_err(|t| bad(format!("expected messages per second, got {t}")))?;
                rate = Some(r);
            }
            "duration" => options.until = Until::Elapsed(duration(value).map_err(bad)?),
            "messages" => options.until = Until::Operations(count(value).map_err(bad)?),
            "warmup" => options.warmup = duration(value).map_err(bad)?,
            "drain" => options.drain = duration(value).map_err(bad)?,
            "max_in_flight" => max_in_flight = count(value).map_err(bad)? as usize,
            "window" => options.window = Some(duration(value).map_err(bad)?),
            "burst" => options.burst = Some(burst(value).map_err(bad)?),
            "tick" => options.tick = duration(value).map_err(bad)?,
            other => {
                return Err(format!(
                    "unknown load option `{other}`: the options are {KEYS}"
                ));
            }
        }
    }
    if !options.tick.is_zero() && rate.is_none() {
        return Err("load: `tick` batches an open model's sends: give `rate` too".into());
    }
    if options.burst.is_some() && rate.is_none() {
        return Err("load: `burst` changes an open model's rate: give `rate` too".into());
    }
    options.model = match (concurrency, rate) {
        (Some(_), Some(_)) => {
            return Err(
                "load: give either `concurrency` (closed loop) or `rate` (open model), not both"
                    .into(),
            );
        }
        (None, Some(rate)) => Model::Open {
            rate,
            max_in_flight,
        },
        (Some(concurrency), None) => Model::Closed { concurrency },
        (None, None) => Model::Closed { concurrency: 64 },
    };
    let target =
        target.ok_or("load: the option `targets` (an agent or an array of agents) is required")?;
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
        return Ok(Arc::new(RemoteTargets::new(remote)));
    }
    let local = agents
        .into_iter()
        .map(|a| match a {
            Agent::Local(a) => Ok(a),
            Agent::Remote { name, .. } => Err(format!(
                "a load goes to remote agents or to local ones, not both (`{name}` is remote)"
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Arc::new(AgentTargets::new(ctx.node.clone(), local)))
}

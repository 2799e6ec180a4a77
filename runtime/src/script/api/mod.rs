//! The functions a script can call. Each returns a Rhai error (with the
//! call's position) instead of panicking; each blocking call has a timeout.

mod job;
mod load;
mod machine;
mod options;
mod remote;
mod spawn_syntax;
mod threads;
mod workflow;

use std::time::Duration;

use rhai::{Array, Dynamic, Engine, EvalAltResult, FnPtr, Map, NativeCallContext, Position};

use super::context::ScriptContext;
use crate::host::Plugin;
use crate::measure::{Sampler, SamplerOptions, Stats};
use crate::node::AgentHandle;

type Fallible<T> = Result<T, Box<EvalAltResult>>;

fn fail(message: impl std::fmt::Display) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorRuntime(
        message.to_string().into(),
        Position::NONE,
    ))
}

/// Registers the whole API on `engine`.
pub(crate) fn register(engine: &mut Engine, ctx: &ScriptContext) {
    register_types(engine);
    register_agents(engine, ctx);
    register_measure(engine, ctx);
    remote::register(engine, ctx);
    threads::register(engine, ctx);
    load::register(engine, ctx);
    job::register(engine);
    machine::register(engine);
    register_thresholds(engine, ctx);
    register_compare(engine, ctx);
    workflow::register(engine, ctx);
    engine.register_fn("payload", |n: i64| -> Fallible<rhai::Blob> {
        let n = usize::try_from(n).map_err(|_| fail("payload(n): n must not be negative"))?;
        Ok(vec![b'x'; n])
    });
    engine.register_fn("rss", || -> Fallible<i64> {
        crate::measure::resources::rss_bytes()
            .map(|b| b as i64)
            .ok_or_else(|| {
                fail("rss(): resident memory is only known on Linux (/proc/self/status)")
            })
    });
    engine.register_fn("udp_drops", || -> Fallible<i64> {
        crate::measure::resources::udp_receive_drops()
            .map(|n| n as i64)
            .ok_or_else(|| {
                fail("udp_drops(): the kernel's UDP drop count is only known on Linux (/proc/net/snmp)")
            })
    });
    // The compute plugin's kernels, run natively: the other side of
    // "WASM vs native" on the same source.
    engine.register_fn("native", |command: &str| -> Fallible<String> {
        caxton_kernels::run(command)
            .map(|c| c.to_string())
            .map_err(fail)
    });
    // The cheapest OS process (`true`, started and waited for): the
    // reference an agent spawn is compared with.
    engine.register_fn("os_process", || -> Fallible<()> {
        let status = std::process::Command::new("true")
            .status()
            .map_err(|e| fail(format!("os_process(): starting `true`: {e}")))?;
        if status.success() {
            Ok(())
        } else {
            Err(fail(format!("os_process(): `true` exited with {status}")))
        }
    });
    // Rhai's own `sleep(seconds)` stays for numbers; this one takes units.
    engine.register_fn("sleep", |d: &str| -> Fallible<()> {
        std::thread::sleep(options::duration(&Dynamic::from(d.to_string())).map_err(fail)?);
        Ok(())
    });
}

fn register_types(engine: &mut Engine) {
    engine
        .register_type_with_name::<Plugin>("Plugin")
        .register_get("name", |p: &mut Plugin| p.name().to_string())
        .register_get("cached", |p: &mut Plugin| {
            p.origin() == crate::host::cache::Origin::Cached
        })
        .register_get("load_ns", |p: &mut Plugin| p.load_time().as_nanos() as i64)
        .register_fn("to_string", |p: &mut Plugin| {
            format!("plugin({})", p.name())
        });
    engine
        .register_type_with_name::<AgentHandle>("Agent")
        .register_get("name", |a: &mut AgentHandle| a.name().to_string())
        .register_get("tenant", |a: &mut AgentHandle| a.tenant().to_string())
        .register_get("plugin", |a: &mut AgentHandle| a.plugin().to_string())
        .register_get("status", |a: &mut AgentHandle| a.status().to_string())
        .register_get("handled", |a: &mut AgentHandle| a.handled() as i64)
        .register_get("queued", |a: &mut AgentHandle| a.queued() as i64)
        .register_get("restarts", |a: &mut AgentHandle| a.restarts() as i64)
        .register_get("last_failure", |a: &mut AgentHandle| -> Dynamic {
            a.last_failure()
                .map(|f| f.to_string().into())
                .unwrap_or(Dynamic::UNIT)
        })
        .register_fn("to_string", |a: &mut AgentHandle| {
            format!("agent({})", a.name())
        });
}

fn register_agents(engine: &mut Engine, ctx: &ScriptContext) {
    let c = ctx.clone();
    engine.register_fn("plugin", move |name: &str| -> Fallible<Plugin> {
        c.node.plugin(name).map_err(fail)
    });

    let c = ctx.clone();
    engine.register_fn("compile", move |name: &str| -> Fallible<Plugin> {
        Plugin::compile_builtin(c.node.engine(), name).map_err(fail)
    });

    let c = ctx.clone();
    let spawn = move |args: Vec<Dynamic>| -> Fallible<Dynamic> {
        let mut args = args.into_iter();
        let first = args.next().unwrap_or(Dynamic::UNIT);
        if first.is::<crate::net::client::RemoteNode>() {
            let node = first.cast::<crate::net::client::RemoteNode>();
            let plugin = args
                .next()
                .ok_or_else(|| fail("spawn(node, plugin, #{...}): the plugin is missing"))?;
            let opts = spawn_syntax::options_arg(args.next())?;
            return remote::spawn(&c, &node, plugin, &opts);
        }
        let opts = spawn_syntax::options_arg(args.next())?;
        if args.next().is_some() {
            return Err(fail(
                "spawn(plugin, #{...}) takes two arguments; three are for a remote node: spawn(node, plugin, #{...})",
            ));
        }
        let plugin = spawn_syntax::plugin_arg(first, |name| c.node.plugin(name).map_err(fail))?;
        let options = options::spawn_options(&opts).map_err(fail)?;
        c.node
            .spawn_blocking(&plugin, options)
            .map(Dynamic::from)
            .map_err(fail)
    };
    spawn_syntax::register(engine, std::sync::Arc::new(spawn));

    let c = ctx.clone();
    let spawn_many = move |plugin: &Plugin, n: i64, opts: &Map| -> Fallible<Array> {
        let n = usize::try_from(n).map_err(|_| fail("spawn_many: n must not be negative"))?;
        let options = options::spawn_options(opts).map_err(fail)?;
        let node = c.node.clone();
        let agents = node
            .runtime()
            .block_on(node.spawn_many(plugin, n, options))
            .map_err(fail)?;
        Ok(agents.into_iter().map(Dynamic::from).collect())
    };
    let s = spawn_many.clone();
    engine.register_fn("spawn_many", move |p: Plugin, n: i64| s(&p, n, &Map::new()));
    engine.register_fn("spawn_many", move |p: Plugin, n: i64, opts: Map| {
        spawn_many(&p, n, &opts)
    });

    engine.register_fn(
        "send",
        |agent: &mut AgentHandle, payload: Dynamic| -> Fallible<()> {
            agent
                .send(options::payload(payload).map_err(fail)?)
                .map_err(fail)
        },
    );
    let timeout = ctx.request_timeout;
    engine.register_fn(
        "request",
        move |ncx: NativeCallContext<'_>,
              agent: &mut AgentHandle,
              payload: Dynamic|
              -> Fallible<Dynamic> {
            let bytes = options::payload(payload).map_err(fail)?;
            let reply = agent.request_blocking(bytes, timeout).map_err(fail)?;
            options::reply(ncx.engine(), reply).map_err(fail)
        },
    );
    engine.register_fn(
        "request",
        |ncx: NativeCallContext<'_>,
         agent: &mut AgentHandle,
         payload: Dynamic,
         timeout: Dynamic|
         -> Fallible<Dynamic> {
            let bytes = options::payload(payload).map_err(fail)?;
            let timeout: Duration = options::duration(&timeout).map_err(fail)?;
            let reply = agent.request_blocking(bytes, timeout).map_err(fail)?;
            options::reply(ncx.engine(), reply).map_err(fail)
        },
    );
    engine.register_fn("stop", |agent: &mut AgentHandle| agent.stop());
    engine.register_fn("kill", |agent: &mut AgentHandle| agent.kill());
    engine.register_fn("kill", |agents: Array| {
        for agent in agents {
            if let Some(agent) = agent.try_cast::<AgentHandle>() {
                agent.kill();
            }
        }
    });
    let c = ctx.clone();
    engine.register_fn("agent_count", move || c.node.agent_count() as i64);
    let c = ctx.clone();
    engine.register_fn("agent", move |name: &str| -> Fallible<AgentHandle> {
        c.node
            .agent(crate::node::DEFAULT_TENANT, name)
            .ok_or_else(|| fail(format!("no agent named `{name}` on this node")))
    });
    let c = ctx.clone();
    engine.register_fn(
        "agent",
        move |tenant: &str, name: &str| -> Fallible<AgentHandle> {
            c.node
                .agent(tenant, name)
                .ok_or_else(|| fail(format!("no agent named `{name}` in tenant `{tenant}`")))
        },
    );
    let c = ctx.clone();
    engine.register_fn("restore_report", move || -> Dynamic {
        let Some(r) = &c.restore else {
            return Dynamic::UNIT;
        };
        let mut m = Map::new();
        m.insert("restored".into(), Dynamic::from(r.restored as i64));
        m.insert("failed".into(), Dynamic::from(r.failed.len() as i64));
        m.insert("took_ns".into(), Dynamic::from(r.took.as_nanos() as i64));
        Dynamic::from_map(m)
    });
    let c = ctx.clone();
    engine.register_fn(
        "dead_letters",
        move |ncx: NativeCallContext<'_>| -> Fallible<Array> {
            c.node
                .dead_letters()
                .into_iter()
                .map(|d| {
                    let payload = options::reply(ncx.engine(), d.payload).map_err(fail)?;
                    let mut m = Map::new();
                    m.insert("agent".into(), d.agent.into());
                    m.insert("tenant".into(), d.tenant.into());
                    m.insert("id".into(), Dynamic::from(d.id as i64));
                    m.insert("sender".into(), d.sender.into());
                    m.insert("payload".into(), payload);
                    m.insert("attempts".into(), Dynamic::from(i64::from(d.attempts)));
                    m.insert("reason".into(), d.reason.to_string().into());
                    Ok(Dynamic::from_map(m))
                })
                .collect()
        },
    );
    let c = ctx.clone();
    engine.register_fn("recovery", move || -> Map {
        let stats = c.node.recovery_stats();
        for s in &stats {
            c.record(s.clone());
        }
        stats
            .iter()
            .map(|s| {
                let label = s
                    .name
                    .trim_start_matches("recovery (")
                    .trim_end_matches(')');
                (label.into(), Dynamic::from_map(stats_map(s)))
            })
            .collect()
    });
}

fn register_measure(engine: &mut Engine, ctx: &ScriptContext) {
    let c = ctx.clone();
    engine.register_fn(
        "measure",
        move |call: NativeCallContext<'_>, name: &str, opts: Map, work: FnPtr| -> Fallible<Map> {
            let options = options::sampler_options(&opts).map_err(fail)?;
            let usage = c.usage();
            let bar = c.begin(name, options.duration);
            let (mut stats, histogram) = sample(&call, name, options, &work)?;
            drop(bar);
            stats.resources = usage.end(&c);
            c.record_with(stats.clone(), histogram);
            Ok(stats_map(&stats))
        },
    );
}

/// Times `work` with `options`: a closure that throws counts as a failed
/// sample; hitting a sandbox limit stops the script.
fn sample(
    call: &NativeCallContext<'_>,
    name: &str,
    options: SamplerOptions,
    work: &FnPtr,
) -> Fallible<(Stats, hdrhistogram::Histogram<u64>)> {
    let mut fatal: Option<Box<EvalAltResult>> = None;
    let measured = Sampler::new(options).run(
        name,
        || match work.call_within_context::<Dynamic>(call, ()) {
            Ok(_) => Ok(()),
            Err(e) if is_fatal(&e) => {
                let text = e.to_string();
                fatal.get_or_insert(e);
                Err(text)
            }
            Err(e) => Err(e.to_string()),
        },
        |_| {},
    );
    match fatal {
        Some(e) => Err(e),
        None => Ok(measured),
    }
}

fn register_thresholds(engine: &mut Engine, ctx: &ScriptContext) {
    use crate::report::threshold::{Rule, Threshold};
    let parse = |text: &str| -> Fallible<Rule> { text.parse().map_err(fail) };
    let c = ctx.clone();
    engine.register_fn(
        "threshold",
        move |metric: &str, rule: &str| -> Fallible<()> {
            let t = Threshold {
                metric: metric.to_string(),
                target: None,
                acceptable: None,
                critical: Some(parse(rule)?),
            };
            c.thresholds.lock().unwrap().push(t);
            Ok(())
        },
    );
    let c = ctx.clone();
    engine.register_fn("threshold", move |metric: &str, tiers: Map| -> Fallible<()> {
        let mut t = Threshold {
            metric: metric.to_string(),
            target: None,
            acceptable: None,
            critical: None,
        };
        for (tier, rule) in tiers {
            let rule = rule
                .into_string()
                .map_err(|ty| fail(format!("threshold tier `{tier}`: expected a rule string like \"p99 < 10ms\", got {ty}")))?;
            let rule = Some(parse(&rule)?);
            match tier.as_str() {
                "target" => t.target = rule,
                "acceptable" => t.acceptable = rule,
                "critical" => t.critical = rule,
                other => {
                    return Err(fail(format!(
                        "unknown threshold tier `{other}`: the tiers are target, acceptable, critical"
                    )));
                }
            }
        }
        if t.target.is_none() && t.acceptable.is_none() && t.critical.is_none() {
            return Err(fail("threshold: give at least one tier (target, acceptable, critical)"));
        }
        c.thresholds.lock().unwrap().push(t);
        Ok(())
    });
}

fn register_compare(engine: &mut Engine, ctx: &ScriptContext) {
    let c = ctx.clone();
    engine.register_fn(
        "compare",
        move |call: NativeCallContext<'_>,
              name_a: &str,
              a: FnPtr,
              name_b: &str,
              b: FnPtr,
              opts: Map|
              -> Fallible<Map> {
            let mut rounds = 5u32;
            let mut sampler = SamplerOptions::default();
            let mut warmup_set = false;
            for (key, value) in &opts {
                let bad = |e: String| fail(format!("compare option `{key}`: {e}"));
                match key.as_str() {
                    "rounds" => rounds = options::count(value).map_err(bad)?.clamp(1, 1000) as u32,
                    "iterations" => sampler.iterations = options::count(value).map_err(bad)?,
                    "warmup" => {
                        sampler.warmup = options::count(value).map_err(bad)?;
                        warmup_set = true;
                    }
                    other => {
                        return Err(fail(format!(
                            "unknown compare option `{other}`: the options are rounds, iterations, warmup"
                        )));
                    }
                }
            }
            if !warmup_set {
                sampler.warmup = (sampler.iterations / 10).min(10_000);
            }
            let run = |name: &str, f: &FnPtr| {
                sample(&call, name, sampler.clone(), f).map(|(stats, _)| stats)
            };
            let bar = c.begin(&format!("{name_a} vs {name_b}"), None);
            // Alternate, and swap the order each round, so drift (thermal,
            // caches, other load) hits both sides alike.
            let (mut all_a, mut all_b, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
            for round in 0..rounds {
                let (sa, sb) = if round % 2 == 0 {
                    let sa = run(name_a, &a)?;
                    (sa, run(name_b, &b)?)
                } else {
                    let sb = run(name_b, &b)?;
                    (run(name_a, &a)?, sb)
                };
                ratios.push(sb.mean / sa.mean.max(1e-9));
                all_a.push(sa);
                all_b.push(sb);
            }
            ratios.sort_by(f64::total_cmp);
            let comparison = crate::report::Comparison {
                a: name_a.to_string(),
                b: name_b.to_string(),
                ratio: ratios[ratios.len() / 2],
                ratio_min: ratios[0],
                ratio_max: ratios[ratios.len() - 1],
                rounds,
            };
            drop(bar);
            // The median round of each side goes into the report, with the
            // spread of the rounds as its noise.
            let median = |mut v: Vec<Stats>| {
                let means: Vec<f64> = v.iter().map(|s| s.mean).collect();
                v.sort_by(|x, y| x.mean.total_cmp(&y.mean));
                let mut mid = v.swap_remove(v.len() / 2);
                mid.noise = mid.noise.max(crate::measure::spread(&means));
                mid
            };
            let (sa, sb) = (median(all_a), median(all_b));
            c.record(sa.clone());
            c.record(sb.clone());
            c.report.lock().unwrap().comparisons.push(comparison.clone());
            let mut m = Map::new();
            m.insert("a".into(), Dynamic::from_map(stats_map(&sa)));
            m.insert("b".into(), Dynamic::from_map(stats_map(&sb)));
            m.insert("ratio".into(), Dynamic::from(comparison.ratio));
            m.insert("ratio_min".into(), Dynamic::from(comparison.ratio_min));
            m.insert("ratio_max".into(), Dynamic::from(comparison.ratio_max));
            m.insert("rounds".into(), Dynamic::from(i64::from(rounds)));
            Ok(m)
        },
    );
}

/// Errors that must stop the script, not count as a failed sample.
fn is_fatal(err: &EvalAltResult) -> bool {
    match err {
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _) => is_fatal(inner),
        EvalAltResult::ErrorTerminated(..)
        | EvalAltResult::ErrorTooManyOperations(_)
        | EvalAltResult::ErrorStackOverflow(_)
        | EvalAltResult::ErrorDataTooLarge(..) => true,
        _ => false,
    }
}

/// The stats as a script map (times in ns).
pub(crate) fn stats_map(s: &Stats) -> Map {
    let mut m = Map::new();
    let mut int = |k: &str, v: u64| {
        m.insert(k.into(), Dynamic::from(v as i64));
    };
    int("count", s.count);
    int("errors", s.errors);
    int("min", s.min);
    int("p50", s.p50);
    int("p90", s.p90);
    int("p95", s.p95);
    int("p99", s.p99);
    int("p999", s.p999);
    int("max", s.max);
    int("elapsed_ns", s.elapsed_ns);
    m.insert("mean".into(), Dynamic::from(s.mean));
    m.insert("stdev".into(), Dynamic::from(s.stdev));
    m.insert("throughput".into(), Dynamic::from(s.throughput));
    m.insert("name".into(), s.name.clone().into());
    if let Some(e) = &s.first_error {
        m.insert("first_error".into(), e.clone().into());
    }
    m
}

//! The functions a script can call. Each returns a Rhai error (with the
//! call's position) instead of panicking; each blocking call has a timeout.

mod agent;
mod job;
mod load;
mod machine;
mod measure;
mod options;
mod remote;
mod spawn;
mod spawn_syntax;
mod threads;
mod workflow;

use rhai::{Array, Dynamic, Engine, EvalAltResult, Map, NativeCallContext, Position};

use super::context::ScriptContext;
use crate::host::Plugin;
use agent::Agent;

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
    agent::register(engine, ctx);
    spawn::register(engine, ctx);
    measure::register(engine, ctx);
    remote::register(engine, ctx);
    threads::register(engine, ctx);
    load::register(engine, ctx);
    job::register(engine);
    machine::register(engine);
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
        .register_get("size", |p: &mut Plugin| p.size() as i64)
        .register_fn("to_string", |p: &mut Plugin| {
            format!("plugin({})", p.name())
        });
}

fn register_agents(engine: &mut Engine, ctx: &ScriptContext) {
    let c = ctx.clone();
    engine.register_fn("plugin", move |name: &str| -> Fallible<Plugin> {
        c.node.plugin(name).map_err(fail)
    });

    let c = ctx.clone();
    engine.register_fn("compile", move |name: &str| -> Fallible<Plugin> {
        Plugin::compile(c.node.engine(), name).map_err(fail)
    });

    // Through the disk cache but not the node's loaded plugins: what a
    // second start of a node pays for a component it compiled before.
    let c = ctx.clone();
    engine.register_fn("load_plugin", move |name: &str| -> Fallible<Plugin> {
        Plugin::resolve(c.node.engine(), name).map_err(fail)
    });

    let c = ctx.clone();
    engine.register_fn("agent_count", move || c.node.agent_count() as i64);
    // The engine's settings, which some figures depend on (bounds checks).
    let c = ctx.clone();
    engine.register_fn("engine_info", move || -> Map {
        let o = c.node.engine().options();
        let mut m = Map::new();
        m.insert("max_agents".into(), Dynamic::from(i64::from(o.max_agents)));
        m.insert("max_memory".into(), options::int(o.max_memory));
        m.insert("memory_layout".into(), o.memory_layout.name().into());
        m.insert("fuel".into(), o.fuel.into());
        m.insert("tick_ns".into(), options::int(o.tick.as_nanos() as u64));
        m
    });
    let c = ctx.clone();
    engine.register_fn("agent", move |name: &str| -> Fallible<Agent> {
        c.node
            .agent(crate::node::DEFAULT_TENANT, name)
            .map(Agent::Local)
            .ok_or_else(|| fail(format!("no agent named `{name}` on this node")))
    });
    let c = ctx.clone();
    engine.register_fn(
        "agent",
        move |tenant: &str, name: &str| -> Fallible<Agent> {
            c.node
                .agent(tenant, name)
                .map(Agent::Local)
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

pub(crate) use measure::{is_fatal, stats_map};

//! What makes a script a reusable workflow: parameters from the command
//! line, other scripts run into the same report, and the conclusions it
//! draws.

use rhai::{Dynamic, Engine, EvalAltResult, ImmutableString, NativeCallContext, Position};

use super::agent::Agent;
use super::job::Job;
use super::{Fallible, fail, is_fatal};
use crate::node::AgentHandle;
use crate::script::context::ScriptContext;
use crate::script::error::ScriptError;
use crate::script::limits::ScriptLimits;

pub(crate) fn register(engine: &mut Engine, ctx: &ScriptContext) {
    let c = ctx.clone();
    engine.register_fn(
        "param",
        move |key: &str, default: Dynamic| -> Fallible<Dynamic> {
            match c.params.get(key) {
                None => Ok(default),
                Some(text) => param_value(key, text, &default).map_err(fail),
            }
        },
    );
    let c = ctx.clone();
    engine.register_fn("verdict", move |text: ImmutableString| {
        c.report.lock().unwrap().verdicts.push(text.to_string());
    });
    let c = ctx.clone();
    engine.register_fn(
        "include",
        move |call: NativeCallContext<'_>, name: &str| -> Fallible<()> {
            let Some(read) = &c.read_script else {
                return Err(fail("include(): no script files can be read here"));
            };
            let (path, source) =
                read(name).map_err(|e| fail(format!("include(\"{name}\"): {e}")))?;
            let ast = call
                .engine()
                .compile(&source)
                .map_err(|e| fail(ScriptError::parse(&path, &source, &e)))?;
            // Each included script starts from the agents its includer had
            // and leaves them so: what it spawned is killed when it ends.
            let key = |a: &AgentHandle| std::sync::Arc::as_ptr(&a.cell) as usize;
            let before: std::collections::HashSet<usize> =
                c.node.agents().iter().map(key).collect();
            let result = call.engine().run_ast(&ast);
            for agent in c.node.agents() {
                if !before.contains(&key(&agent)) {
                    agent.kill();
                }
            }
            result.map_err(|e| {
                if is_fatal(&e) {
                    // A sandbox limit stops the whole run, named as such.
                    e
                } else {
                    let shown = ScriptError::eval(&path, &source, &e, &ScriptLimits::default());
                    Box::new(EvalAltResult::ErrorRuntime(
                        shown
                            .to_string()
                            .replacen("script error: ", "in the included script: ", 1)
                            .into(),
                        Position::NONE,
                    ))
                }
            })
        },
    );
    let c = ctx.clone();
    engine.register_fn(
        "record",
        move |name: &str, samples: rhai::Array| -> Fallible<rhai::Map> {
            let mut h = crate::measure::new_histogram();
            for v in &samples {
                let ns = v
                    .as_int()
                    .ok()
                    .and_then(|i| u64::try_from(i).ok())
                    .ok_or_else(|| {
                        fail(format!("record(\"{name}\", ...): samples are ns as non-negative integers, got {v}"))
                    })?;
                h.saturating_record(ns.max(1));
            }
            let stats = crate::measure::Stats::from_histogram(name, &h, 0, std::time::Duration::ZERO, None);
            c.record_with(stats.clone(), h);
            Ok(super::stats_map(&stats))
        },
    );
    // Tenants: quotas, data dir and grants for the agents spawned into them
    // from now on.
    let c = ctx.clone();
    engine.register_fn(
        "tenant",
        move |name: &str, def: rhai::Map| -> Fallible<()> {
            let t = super::options::tenant(&def)
                .map_err(|e| fail(format!("tenant(\"{name}\", ...): {e}")))?;
            c.node.set_tenant(name, t).map_err(fail)
        },
    );
    // The hostile corpus, each case in `tenant`, each followed by a request
    // to `bystander` (an agent of another tenant): once, or over and over
    // in the background for a while (`start_hostile`, joined by `wait`).
    let c = ctx.clone();
    engine.register_fn(
        "hostile",
        move |tenant: &str, bystander: Agent| -> Fallible<rhai::Array> {
            let bystander = bystander.local("hostile")?.clone();
            check_bystander(tenant, &bystander).map_err(fail)?;
            Ok(corpus(&c.node, tenant, &bystander, None))
        },
    );
    let c = ctx.clone();
    engine.register_fn(
        "start_hostile",
        move |tenant: &str, bystander: Agent, how_long: Dynamic| -> Fallible<Job> {
            let bystander = bystander.local("start_hostile")?.clone();
            check_bystander(tenant, &bystander).map_err(fail)?;
            let how_long = super::options::duration(&how_long)
                .map_err(|e| fail(format!("start_hostile(..., duration): {e}")))?;
            let (node, tenant) = (c.node.clone(), tenant.to_string());
            Job::start("hostile corpus", move || {
                Ok(corpus(&node, &tenant, &bystander, Some(how_long)).into())
            })
            .map_err(fail)
        },
    );
    engine.register_fn("cpu_time", || -> Fallible<f64> {
        crate::measure::resources::cpu_seconds()
            .ok_or_else(|| fail("cpu_time(): CPU time is only known on Linux (/proc/self/stat)"))
    });
}

fn check_bystander(tenant: &str, bystander: &AgentHandle) -> Result<(), String> {
    if bystander.tenant() == tenant {
        return Err(format!(
            "the bystander `{}` must be of another tenant than the corpus runs in (`{tenant}`)",
            bystander.name()
        ));
    }
    Ok(())
}

/// Runs the corpus once, or round after round until `for_at_least` has
/// passed; one map per case run: `#{name, contained, observed, ms}`.
fn corpus(
    node: &crate::node::Node,
    tenant: &str,
    bystander: &AgentHandle,
    for_at_least: Option<std::time::Duration>,
) -> rhai::Array {
    let start = std::time::Instant::now();
    let mut out = rhai::Array::new();
    let cases = crate::sandbox::cases_here(node);
    loop {
        for case in cases.iter().copied() {
            let o = crate::sandbox::run(node, tenant, case, bystander);
            let mut m = rhai::Map::new();
            let within_bound = o.within_bound();
            m.insert("name".into(), o.case.into());
            m.insert("contained".into(), o.contained.into());
            m.insert("cut".into(), o.cut.into());
            m.insert("observed".into(), o.observed.into());
            m.insert("ms".into(), (o.took.as_secs_f64() * 1e3).into());
            let mib =
                |b: Option<u64>| b.map_or(Dynamic::UNIT, |b| Dynamic::from(b as f64 / 1048576.0));
            m.insert("rss_mib".into(), mib(o.rss_growth));
            m.insert("rss_bound_mib".into(), mib(o.rss_bound));
            m.insert("within_bound".into(), within_bound.into());
            out.push(m.into());
        }
        if for_at_least.is_none_or(|d| start.elapsed() >= d) {
            return out;
        }
    }
}

/// `text` (from `--set key=text`) as a value of the default's type.
fn param_value(key: &str, text: &str, default: &Dynamic) -> Result<Dynamic, String> {
    let bad =
        |kind: &str| format!("param `{key}`: `{text}` is not {kind} (from --set {key}={text})");
    if default.is_bool() {
        match text {
            "true" | "yes" | "1" => Ok(true.into()),
            "false" | "no" | "0" => Ok(false.into()),
            _ => Err(bad("true or false")),
        }
    } else if default.is_int() {
        text.trim()
            .parse::<i64>()
            .map(Dynamic::from)
            .map_err(|_| bad("an integer"))
    } else if default.is_float() {
        text.trim()
            .parse::<f64>()
            .map(Dynamic::from)
            .map_err(|_| bad("a number"))
    } else {
        Ok(text.to_string().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_param_takes_the_type_of_its_default() {
        assert!(
            param_value("q", "true", &Dynamic::FALSE)
                .unwrap()
                .as_bool()
                .unwrap()
        );
        assert_eq!(
            param_value("n", "12", &Dynamic::from(1_i64))
                .unwrap()
                .as_int()
                .unwrap(),
            12
        );
        assert_eq!(
            param_value("r", "2.5", &Dynamic::from(1.0_f64))
                .unwrap()
                .as_float()
                .unwrap(),
            2.5
        );
        assert_eq!(
            param_value("s", "10s", &Dynamic::from("1s"))
                .unwrap()
                .into_string()
                .unwrap(),
            "10s"
        );
        let err = param_value("n", "many", &Dynamic::from(1_i64)).unwrap_err();
        assert!(err.contains("--set n=many"), "{err}");
    }
}

//! Timing from a script: `measure`, `compare` (A against B in alternating
//! rounds, see `measure::compare`) and `threshold` (k6-style pass/fail
//! tiers), and the stats map every measurement returns.

use rhai::{Dynamic, Engine, EvalAltResult, FnPtr, Map, NativeCallContext};

use super::{Fallible, fail, options};
use crate::measure::{Sampler, SamplerOptions, Stats};
use crate::script::context::ScriptContext;

pub(super) fn register(engine: &mut Engine, ctx: &ScriptContext) {
    register_measure(engine, ctx);
    register_thresholds(engine, ctx);
    register_compare(engine, ctx);
}

fn register_measure(engine: &mut Engine, ctx: &ScriptContext) {
    let c = ctx.clone();
    engine.register_fn(
        "measure",
        move |call: NativeCallContext<'_>, name: &str, opts: Map, work: FnPtr| -> Fallible<Map> {
            let (options, _) = options::sampler_options("measure", &opts).map_err(fail)?;
            let usage = c.usage();
            let bar = c.begin(name, options.duration);
            // Fuel from the first timed call on (a warm-up call may do
            // one-time work: the guest's allocator growing its heap).
            let fuel = std::cell::Cell::new(None);
            let timed = |done: f64| {
                if done == 0.0 {
                    fuel.set(c.node.engine().fuel_burned());
                }
            };
            let (mut stats, histogram) =
                sample(&call, name, options, &work, c.live.clone(), timed)?;
            drop(bar);
            stats.resources = usage.end(&c);
            let calls = stats.count + stats.errors;
            stats.fuel = fuel
                .get()
                .zip(c.node.engine().fuel_burned())
                .filter(|_| calls > 0)
                .map(|(before, after)| (after - before) as f64 / calls as f64);
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
    live: Option<std::sync::Arc<crate::measure::live::Live>>,
    progress: impl FnMut(f64),
) -> Fallible<(Stats, hdrhistogram::Histogram<u64>)> {
    let mut fatal: Option<Box<EvalAltResult>> = None;
    let measured = Sampler::new(options).with_live(live).run(
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
        progress,
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
            let (sampler, spec) = options::sampler_options("compare", &opts).map_err(fail)?;
            let rounds = spec.rounds.unwrap_or(5).clamp(1, 1000);
            let run = |name: &str, f: &FnPtr| {
                sample(&call, name, sampler.clone(), f, c.live.clone(), |_| {})
                    .map(|(stats, _)| stats)
            };
            let bar = c.begin(&format!("{name_a} vs {name_b}"), None);
            let (sa, sb, comparison) = crate::measure::compare::compare(
                (name_a, name_b),
                rounds,
                || run(name_a, &a),
                || run(name_b, &b),
            )?;
            drop(bar);
            c.record(sa.clone());
            c.record(sb.clone());
            c.report
                .lock()
                .unwrap()
                .comparisons
                .push(comparison.clone());
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
pub(crate) fn is_fatal(err: &EvalAltResult) -> bool {
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
    m.insert("fuel".into(), s.fuel.map_or(Dynamic::UNIT, Dynamic::from));
    if let Some(e) = &s.first_error {
        m.insert("first_error".into(), e.clone().into());
    }
    m
}

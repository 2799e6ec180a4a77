//! `machine()`: the machine's own pauses and wake-up costs (see
//! [`crate::measure::machine`]), for a script to print next to the latencies
//! it measured.

use std::time::Duration;

use rhai::{Dynamic, Engine, Map};

use super::options::{count, duration, int};
use super::{Fallible, fail};
use crate::measure::machine::{MachineOptions, MachineReport, Timed, probe};

const KEYS: &str = "duration, round_trips, sleeps, sleep";

/// The most round trips or sleeps one call makes (minutes at worst).
const MAX_COUNT: u64 = 10_000_000;

fn machine_options(map: &Map) -> Result<MachineOptions, String> {
    let mut options = MachineOptions::default();
    for (key, value) in map {
        let bad = |e: String| format!("machine option `{key}`: {e}");
        match key.as_str() {
            "duration" => options.pause_watch = duration(value).map_err(bad)?,
            "round_trips" => options.round_trips = count(value).map_err(bad)?,
            "sleeps" => options.sleeps = count(value).map_err(bad)?,
            "sleep" => options.sleep = duration(value).map_err(bad)?,
            other => {
                return Err(format!(
                    "unknown machine option `{other}`: the options are {KEYS}"
                ));
            }
        }
    }
    // Bounds that keep a typo from holding the script for hours (a host
    // call is not interrupted by the script's time limit).
    if options.pause_watch > Duration::from_secs(600) {
        return Err(
            "machine option `duration`: at most 10 minutes (it keeps every CPU busy)".into(),
        );
    }
    for (key, n) in [
        ("round_trips", options.round_trips),
        ("sleeps", options.sleeps),
    ] {
        if n > MAX_COUNT {
            return Err(format!(
                "machine option `{key}`: at most {MAX_COUNT}, got {n}"
            ));
        }
    }
    if options.sleep > Duration::from_secs(1) {
        return Err("machine option `sleep`: at most 1s".into());
    }
    Ok(options)
}

fn ns(d: Duration) -> Dynamic {
    int(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn timed_map(t: &Timed) -> Dynamic {
    let mut m = Map::new();
    m.insert("count".into(), int(t.count));
    m.insert("mean".into(), ns(t.mean));
    m.insert("p50".into(), ns(t.p50));
    m.insert("p99".into(), ns(t.p99));
    m.insert("max".into(), ns(t.max));
    m.insert("cpu".into(), t.cpu.map_or(Dynamic::UNIT, ns));
    m.into()
}

fn report_map(r: &MachineReport) -> Map {
    let p = &r.pauses;
    let mut pauses = Map::new();
    pauses.insert("threads".into(), int(p.threads as u64));
    pauses.insert("watched".into(), ns(p.watched));
    pauses.insert("count".into(), int(p.count));
    pauses.insert("over_1ms".into(), int(p.over_1ms));
    pauses.insert("max".into(), ns(p.max));
    pauses.insert("fraction".into(), Dynamic::from_float(p.fraction));
    let mut m = Map::new();
    m.insert("pauses".into(), pauses.into());
    m.insert("round_trip".into(), timed_map(&r.round_trip));
    m.insert("sleep".into(), timed_map(&r.sleep));
    m
}

pub(crate) fn register(engine: &mut Engine) {
    engine.register_fn("machine", || report_map(&probe(&MachineOptions::default())));
    engine.register_fn("machine", |options: Map| -> Fallible<Map> {
        let options = machine_options(&options).map_err(fail)?;
        Ok(report_map(&probe(&options)))
    });
}

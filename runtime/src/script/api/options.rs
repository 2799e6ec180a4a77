//! Turning script values (maps, strings, numbers) into typed options, with
//! errors that name the option and say what a valid value looks like.

use std::time::Duration;

use rhai::{Blob, Dynamic, Map};

use crate::core::limits::{parse_duration, parse_size};
use crate::measure::SamplerOptions;
use crate::node::SpawnOptions;

const SPAWN_KEYS: &str = "name, tenant, memory, deadline, mailbox, max_message, fuel, config, \
                          restart, max_restarts, restart_window, backoff, backoff_max, max_retries";

/// Parses the option map of `spawn`/`spawn_many`.
pub(crate) fn spawn_options(map: &Map) -> Result<SpawnOptions, String> {
    let mut options = SpawnOptions::default();
    for (key, value) in map {
        let key = key.as_str();
        let bad = |e: String| format!("spawn option `{key}`: {e}");
        match key {
            "name" => options.name = Some(string(value).map_err(bad)?),
            "tenant" => options.tenant = Some(string(value).map_err(bad)?),
            "memory" => options.limits.memory = size(value).map_err(bad)?,
            "deadline" => options.limits.deadline = duration(value).map_err(bad)?,
            "mailbox" => options.limits.mailbox = count(value).map_err(bad)? as usize,
            "max_message" => options.limits.max_message = size(value).map_err(bad)? as usize,
            "fuel" => options.limits.fuel = Some(count(value).map_err(bad)?),
            "config" => options.config = config(value),
            "restart" => {
                options.restart.mode = string(value).and_then(|s| s.parse()).map_err(bad)?
            }
            "max_restarts" => options.restart.max_restarts = small(value).map_err(bad)?,
            "restart_window" => options.restart.window = duration(value).map_err(bad)?,
            "backoff" => options.restart.backoff = duration(value).map_err(bad)?,
            "backoff_max" => options.restart.backoff_max = duration(value).map_err(bad)?,
            "max_retries" => options.restart.max_retries = small(value).map_err(bad)?,
            other => {
                return Err(format!(
                    "unknown spawn option `{other}`: the options are {SPAWN_KEYS}"
                ));
            }
        }
    }
    Ok(options)
}

/// Parses the option map of `measure`.
pub(crate) fn sampler_options(map: &Map) -> Result<SamplerOptions, String> {
    let mut options = SamplerOptions::default();
    let mut warmup_set = false;
    for (key, value) in map {
        let key = key.as_str();
        let bad = |e: String| format!("measure option `{key}`: {e}");
        match key {
            "iterations" => options.iterations = count(value).map_err(bad)?,
            "warmup" => {
                options.warmup = count(value).map_err(bad)?;
                warmup_set = true;
            }
            "duration" => options.duration = Some(duration(value).map_err(bad)?),
            other => {
                return Err(format!(
                    "unknown measure option `{other}`: the options are iterations, warmup, duration"
                ));
            }
        }
    }
    if !warmup_set {
        options.warmup = (options.iterations / 10).min(10_000);
    }
    Ok(options)
}

fn string(value: &Dynamic) -> Result<String, String> {
    value
        .clone()
        .into_string()
        .map_err(|t| format!("expected a string, got {t}"))
}

/// A size: an integer number of bytes or a string like "64 MiB".
fn size(value: &Dynamic) -> Result<u64, String> {
    if let Ok(n) = value.as_int() {
        return u64::try_from(n).map_err(|_| format!("{n} is negative"));
    }
    if let Ok(text) = value.clone().into_immutable_string() {
        return parse_size(&text).map_err(|e| e.to_string());
    }
    Err(format!(
        "expected a size like \"64 MiB\" or a number of bytes, got {}",
        value.type_name()
    ))
}

/// A duration: an integer number of milliseconds or a string like "250ms".
pub(crate) fn duration(value: &Dynamic) -> Result<Duration, String> {
    if let Ok(n) = value.as_int() {
        return u64::try_from(n)
            .map(Duration::from_millis)
            .map_err(|_| format!("{n} is negative"));
    }
    if let Ok(text) = value.clone().into_immutable_string() {
        return parse_duration(&text).map_err(|e| e.to_string());
    }
    Err(format!(
        "expected a duration like \"250ms\" or a number of milliseconds, got {}",
        value.type_name()
    ))
}

fn count(value: &Dynamic) -> Result<u64, String> {
    let n = value
        .as_int()
        .map_err(|t| format!("expected a whole number, got {t}"))?;
    u64::try_from(n).map_err(|_| format!("{n} is negative"))
}

fn small(value: &Dynamic) -> Result<u32, String> {
    let n = count(value)?;
    u32::try_from(n).map_err(|_| format!("{n} is too large"))
}

/// `config`: a string as is, a map as JSON, anything else as its text.
fn config(value: &Dynamic) -> String {
    if let Some(map) = value.read_lock::<Map>() {
        return rhai::format_map_as_json(&map);
    }
    value.to_string()
}

/// A message payload: a string's UTF-8 bytes or a blob's bytes.
pub(crate) fn payload(value: Dynamic) -> Result<Vec<u8>, String> {
    if value.is_blob() {
        return Ok(value.cast::<Blob>());
    }
    if value.is_string() {
        return Ok(value.into_string().unwrap_or_default().into_bytes());
    }
    if value.is_unit() {
        return Ok(Vec::new());
    }
    Err(format!(
        "a payload must be a string or a blob (see `payload(n)`), got {}",
        value.type_name()
    ))
}

/// A reply for the script: a string when it is UTF-8, else a blob.
pub(crate) fn reply(bytes: Vec<u8>) -> Dynamic {
    match String::from_utf8(bytes) {
        Ok(text) => text.into(),
        Err(e) => Dynamic::from_blob(e.into_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, Dynamic)]) -> Map {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), v.clone()))
            .collect()
    }

    #[test]
    fn spawn_options_in_both_notations() {
        let opts = spawn_options(&map(&[
            ("memory", "12 MiB".into()),
            ("deadline", Dynamic::from(250_i64)),
            ("mailbox", Dynamic::from(8_i64)),
            ("name", "a".into()),
        ]))
        .unwrap();
        assert_eq!(opts.limits.memory, 12 << 20);
        assert_eq!(opts.limits.deadline, Duration::from_millis(250));
        assert_eq!(opts.limits.mailbox, 8);
        assert_eq!(opts.name.as_deref(), Some("a"));
    }

    #[test]
    fn restart_options() {
        let opts = spawn_options(&map(&[
            ("restart", "on-failure".into()),
            ("max_restarts", Dynamic::from(3_i64)),
            ("restart_window", "2s".into()),
            ("max_retries", Dynamic::from(1_i64)),
        ]))
        .unwrap();
        assert_eq!(
            opts.restart.mode,
            crate::core::supervision::RestartMode::OnFailure
        );
        assert_eq!(opts.restart.max_restarts, 3);
        assert_eq!(opts.restart.window, Duration::from_secs(2));
        assert_eq!(opts.restart.max_retries, 1);
        let err = spawn_options(&map(&[("restart", "sometimes".into())])).unwrap_err();
        assert!(err.contains("not a restart policy"), "{err}");
    }

    #[test]
    fn bad_spawn_options_name_the_option() {
        let err = spawn_options(&map(&[("memory", "12 parsecs".into())])).unwrap_err();
        assert!(err.contains("spawn option `memory`"), "{err}");
        assert!(err.contains("`12 parsecs` is not a size"), "{err}");
        let err = spawn_options(&map(&[("memroy", "1".into())])).unwrap_err();
        assert!(err.contains("unknown spawn option `memroy`"), "{err}");
        let err = spawn_options(&map(&[("mailbox", Dynamic::from(-1_i64))])).unwrap_err();
        assert!(err.contains("negative"), "{err}");
    }
}

//! Turning script values (maps, strings, numbers) into typed options, with
//! errors that name the option and say what a valid value looks like.

use std::time::Duration;

use rhai::{Blob, Dynamic, Map};

use crate::core::limits::parse_duration;
use crate::core::spawn::OptionValue;
use crate::measure::SamplerOptions;
use crate::node::SpawnOptions;

/// Parses the option map of `spawn`/`spawn_many`.
pub(crate) fn spawn_options(map: &Map) -> Result<SpawnOptions, String> {
    SpawnOptions::parse(option_pairs(map))
}

/// A script map as option pairs (shared with remote spawns, which send
/// them as JSON).
pub(crate) fn option_pairs(map: &Map) -> impl Iterator<Item = (&str, OptionValue)> {
    map.iter().map(|(k, v)| (k.as_str(), option_value(v)))
}

fn option_value(value: &Dynamic) -> OptionValue {
    if let Ok(n) = value.as_int() {
        return OptionValue::Int(n);
    }
    if let Ok(text) = value.clone().into_immutable_string() {
        return OptionValue::Text(text.to_string());
    }
    OptionValue::Other(config(value))
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

/// A whole non-negative number.
pub(crate) fn count(value: &Dynamic) -> Result<u64, String> {
    let n = value
        .as_int()
        .map_err(|t| format!("expected a whole number, got {t}"))?;
    u64::try_from(n).map_err(|_| format!("{n} is negative"))
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

/// `config`: a string as is, a map as JSON, anything else as its text.
fn config(value: &Dynamic) -> String {
    if let Some(map) = value.read_lock::<Map>() {
        return rhai::format_map_as_json(&map);
    }
    if let Some(items) = value.read_lock::<rhai::Array>() {
        // As JSON, so a list of names (a tenant's grants) survives.
        let json: Vec<serde_json::Value> = items
            .iter()
            .map(|v| match v.clone().into_immutable_string() {
                Ok(s) => serde_json::Value::String(s.to_string()),
                Err(_) => serde_json::Value::String(v.to_string()),
            })
            .collect();
        return serde_json::Value::Array(json).to_string();
    }
    value.to_string()
}

/// A count for a script: Rhai's integers are `i64`, so a `u64` beyond
/// that saturates instead of wrapping negative.
pub(crate) fn int(n: u64) -> Dynamic {
    Dynamic::from_int(i64::try_from(n).unwrap_or(i64::MAX))
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

/// A reply for the script: a string when it is UTF-8, else a blob. A
/// reply larger than the script engine's limit for its kind (an agent may
/// reply up to its `max_message`, 64 MiB at most) is an error the script
/// can catch, naming the limit; handed over as it is, it would stop the
/// run with an error no `try` can catch.
pub(crate) fn reply(engine: &rhai::Engine, bytes: Vec<u8>) -> Result<Dynamic, String> {
    let (value, len, limit, kind, unit) = match String::from_utf8(bytes) {
        Ok(text) => {
            let len = text.len();
            (
                text.into(),
                len,
                engine.max_string_size(),
                "string",
                "bytes",
            )
        }
        Err(e) => {
            let bytes = e.into_bytes();
            let len = bytes.len();
            (
                Dynamic::from_blob(bytes),
                len,
                engine.max_array_size(),
                "blob",
                "bytes",
            )
        }
    };
    if limit != 0 && len > limit {
        return Err(format!(
            "a reply of {len} bytes is over the script's size limit for a {kind} ({limit} {unit}); \
             ask for less, or measure large replies with `load()` or `measure()`, which do not hand them to the script"
        ));
    }
    Ok(value)
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

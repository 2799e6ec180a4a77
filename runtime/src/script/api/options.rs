//! Turning script values (maps, strings, numbers) into typed options, with
//! errors that name the option and say what a valid value looks like.

use std::time::Duration;

use rhai::{Blob, Dynamic, Map};

use crate::core::limits::parse_duration;
use crate::core::options::{OptionsError, to_value};
use crate::core::spawn::SpawnSpec;
use crate::core::tenant::Tenant;
use crate::measure::{SamplerOptions, SamplerSpec};
use crate::node::SpawnOptions;

/// A script's option map as the JSON value the typed options are read
/// from (each value through `rhai::serde`).
pub(crate) fn map_value(what: &'static str, map: &Map) -> Result<serde_json::Value, OptionsError> {
    map.iter()
        .map(|(k, v)| Ok((k.to_string(), to_value(what, v)?)))
        .collect::<Result<serde_json::Map<_, _>, _>>()
        .map(serde_json::Value::Object)
}

/// Parses the option map of `spawn`/`spawn_many`.
pub(crate) fn spawn_options(map: &Map) -> Result<SpawnOptions, OptionsError> {
    map_value("spawn", map)
        .and_then(SpawnSpec::parse)
        .map(SpawnOptions::from)
}

/// Parses the map of `tenant(name, #{...})`.
pub(crate) fn tenant(map: &Map) -> Result<Tenant, OptionsError> {
    map_value("tenant", map).and_then(Tenant::parse)
}

/// Parses the option map of `measure` (`compare` if `rounds` is allowed).
pub(crate) fn sampler_options(
    what: &'static str,
    map: &Map,
) -> Result<(SamplerOptions, SamplerSpec), OptionsError> {
    let spec: SamplerSpec =
        map_value(what, map).and_then(|v| crate::core::options::parse(what, v))?;
    let misplaced = match what {
        "compare" => spec.duration.is_some().then_some("duration"),
        _ => spec.rounds.is_some().then_some("rounds"),
    };
    if let Some(key) = misplaced {
        return Err(OptionsError {
            what,
            key: Some(key.into()),
            message: format!("`{what}` does not take `{key}`"),
        });
    }
    Ok((SamplerOptions::from(&spec), spec))
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
        let err = spawn_options(&map(&[("memory", "12 parsecs".into())]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("spawn option `memory`"), "{err}");
        assert!(err.contains("`12 parsecs` is not a size"), "{err}");
        let err = spawn_options(&map(&[("memroy", "1".into())]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `memroy`"), "{err}");
        let err = spawn_options(&map(&[("mailbox", Dynamic::from(-1_i64))]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("spawn option `mailbox`"), "{err}");
    }

    #[test]
    fn script_maps_keep_their_kinds() {
        let mut config = Map::new();
        config.insert("next".into(), "b".into());
        let opts = spawn_options(&map(&[
            ("memory", Dynamic::from(1_048_576_i64)),
            ("deadline", "2s".into()),
            ("config", Dynamic::from_map(config)),
            ("restart", "always".into()),
        ]))
        .unwrap();
        assert_eq!(opts.limits.memory, 1 << 20);
        assert_eq!(opts.limits.deadline, Duration::from_secs(2));
        assert_eq!(opts.config, r#"{"next":"b"}"#);
        assert_eq!(
            opts.restart.mode,
            crate::core::supervision::RestartMode::Always
        );
    }
}

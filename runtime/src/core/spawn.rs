//! How to spawn an agent, and the one parser of spawn options that scripts
//! and remote clients share, so an option means the same everywhere.

use std::time::Duration;

use crate::core::limits::{AgentLimits, parse_duration, parse_size};
use crate::core::supervision::RestartPolicy;

/// The option names `spawn` accepts, for error messages.
pub const SPAWN_KEYS: &str = "name, tenant, memory, deadline, mailbox, max_message, fuel, config, \
                              restart, max_restarts, restart_window, backoff, backoff_max, max_retries";

/// How to spawn one agent.
#[derive(Debug, Clone, Default)]
pub struct SpawnOptions {
    /// Its name (unique within the tenant); default `<plugin>-<n>`.
    pub name: Option<String>,
    /// Its tenant; default `default`.
    pub tenant: Option<String>,
    /// Its limits.
    pub limits: AgentLimits,
    /// The string passed to its `init`.
    pub config: String,
    /// How it is restarted after a failure.
    pub restart: RestartPolicy,
    /// The limits the user set (the rest are defaults, which a tenant's
    /// quotas may lower).
    pub given: Vec<&'static str>,
}

/// One option value as a user wrote it, in a script or in JSON.
#[derive(Debug, Clone, PartialEq)]
pub enum OptionValue {
    /// A string, e.g. `"64 MiB"`.
    Text(String),
    /// A whole number.
    Int(i64),
    /// Anything else, already rendered as text (a map as JSON).
    Other(String),
}

impl OptionValue {
    /// From a JSON value (strings stay strings, integers stay integers).
    pub fn from_json(value: &serde_json::Value) -> OptionValue {
        match value {
            serde_json::Value::String(s) => OptionValue::Text(s.clone()),
            serde_json::Value::Number(n) if n.is_i64() => {
                OptionValue::Int(n.as_i64().unwrap_or_default())
            }
            other => OptionValue::Other(other.to_string()),
        }
    }

    /// As a JSON value.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            OptionValue::Text(s) => serde_json::Value::String(s.clone()),
            OptionValue::Int(n) => serde_json::Value::from(*n),
            OptionValue::Other(s) => {
                serde_json::from_str(s).unwrap_or_else(|_| serde_json::Value::String(s.clone()))
            }
        }
    }

    pub(crate) fn text(&self) -> Result<String, String> {
        match self {
            OptionValue::Text(s) => Ok(s.clone()),
            OptionValue::Int(n) => Err(format!("expected a string, got the number {n}")),
            OptionValue::Other(s) => Err(format!("expected a string, got {s}")),
        }
    }

    /// A size: a number of bytes or a string like "64 MiB".
    pub(crate) fn size(&self) -> Result<u64, String> {
        match self {
            OptionValue::Int(n) => u64::try_from(*n).map_err(|_| format!("{n} is negative")),
            OptionValue::Text(s) => parse_size(s).map_err(|e| e.to_string()),
            OptionValue::Other(s) => Err(format!(
                "expected a size like \"64 MiB\" or a number of bytes, got {s}"
            )),
        }
    }

    /// A duration: a number of milliseconds or a string like "250ms".
    pub(crate) fn duration(&self) -> Result<Duration, String> {
        match self {
            OptionValue::Int(n) => u64::try_from(*n)
                .map(Duration::from_millis)
                .map_err(|_| format!("{n} is negative")),
            OptionValue::Text(s) => parse_duration(s).map_err(|e| e.to_string()),
            OptionValue::Other(s) => Err(format!(
                "expected a duration like \"250ms\" or a number of milliseconds, got {s}"
            )),
        }
    }

    pub(crate) fn count(&self) -> Result<u64, String> {
        match self {
            OptionValue::Int(n) => u64::try_from(*n).map_err(|_| format!("{n} is negative")),
            OptionValue::Text(s) => Err(format!("expected a whole number, got \"{s}\"")),
            OptionValue::Other(s) => Err(format!("expected a whole number, got {s}")),
        }
    }

    fn small(&self) -> Result<u32, String> {
        let n = self.count()?;
        u32::try_from(n).map_err(|_| format!("{n} is too large"))
    }

    /// `config`: a string as is, anything else as its text (a map as JSON).
    fn config(&self) -> String {
        match self {
            OptionValue::Text(s) | OptionValue::Other(s) => s.clone(),
            OptionValue::Int(n) => n.to_string(),
        }
    }
}

impl SpawnOptions {
    /// Sets one option; the error names the option and what a valid value
    /// looks like.
    pub fn set(&mut self, key: &str, value: &OptionValue) -> Result<(), String> {
        let bad = |e: String| format!("spawn option `{key}`: {e}");
        if let Some(limit) = ["memory", "deadline", "mailbox", "max_message", "fuel"]
            .into_iter()
            .find(|k| *k == key)
            && !self.given.contains(&limit)
        {
            self.given.push(limit);
        }
        match key {
            "name" => self.name = Some(value.text().map_err(bad)?),
            "tenant" => self.tenant = Some(value.text().map_err(bad)?),
            "memory" => self.limits.memory = value.size().map_err(bad)?,
            "deadline" => self.limits.deadline = value.duration().map_err(bad)?,
            "mailbox" => self.limits.mailbox = value.count().map_err(bad)? as usize,
            "max_message" => self.limits.max_message = value.size().map_err(bad)? as usize,
            "fuel" => self.limits.fuel = Some(value.count().map_err(bad)?),
            "config" => self.config = value.config(),
            "restart" => {
                self.restart.mode = value.text().and_then(|s| s.parse()).map_err(bad)?;
            }
            "max_restarts" => self.restart.max_restarts = value.small().map_err(bad)?,
            "restart_window" => self.restart.window = value.duration().map_err(bad)?,
            "backoff" => self.restart.backoff = value.duration().map_err(bad)?,
            "backoff_max" => self.restart.backoff_max = value.duration().map_err(bad)?,
            "max_retries" => self.restart.max_retries = value.small().map_err(bad)?,
            other => {
                return Err(format!(
                    "unknown spawn option `{other}`: the options are {SPAWN_KEYS}"
                ));
            }
        }
        Ok(())
    }

    /// Parses options given as pairs.
    pub fn parse<'a>(
        pairs: impl IntoIterator<Item = (&'a str, OptionValue)>,
    ) -> Result<SpawnOptions, String> {
        let mut options = SpawnOptions::default();
        for (key, value) in pairs {
            options.set(key, &value)?;
        }
        Ok(options)
    }

    /// Parses options sent as a JSON object (empty text: the defaults).
    pub fn from_json(json: &str) -> Result<SpawnOptions, String> {
        if json.trim().is_empty() {
            return Ok(SpawnOptions::default());
        }
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json)
            .map_err(|e| format!("spawn options are not a JSON object: {e}"))?;
        SpawnOptions::parse(
            map.iter()
                .map(|(k, v)| (k.as_str(), OptionValue::from_json(v))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::supervision::RestartMode;

    #[test]
    fn both_notations_of_sizes_and_durations() {
        let opts = SpawnOptions::parse([
            ("memory", OptionValue::Text("12 MiB".into())),
            ("deadline", OptionValue::Int(250)),
            ("mailbox", OptionValue::Int(8)),
            ("name", OptionValue::Text("a".into())),
        ])
        .unwrap();
        assert_eq!(opts.limits.memory, 12 << 20);
        assert_eq!(opts.limits.deadline, Duration::from_millis(250));
        assert_eq!(opts.limits.mailbox, 8);
        assert_eq!(opts.name.as_deref(), Some("a"));
    }

    #[test]
    fn restart_options() {
        let opts = SpawnOptions::parse([
            ("restart", OptionValue::Text("on-failure".into())),
            ("max_restarts", OptionValue::Int(3)),
            ("restart_window", OptionValue::Text("2s".into())),
            ("max_retries", OptionValue::Int(1)),
        ])
        .unwrap();
        assert_eq!(opts.restart.mode, RestartMode::OnFailure);
        assert_eq!(opts.restart.max_restarts, 3);
        assert_eq!(opts.restart.window, Duration::from_secs(2));
        assert_eq!(opts.restart.max_retries, 1);
        let err =
            SpawnOptions::parse([("restart", OptionValue::Text("sometimes".into()))]).unwrap_err();
        assert!(err.contains("not a restart policy"), "{err}");
    }

    #[test]
    fn bad_options_name_the_option() {
        let err =
            SpawnOptions::parse([("memory", OptionValue::Text("12 parsecs".into()))]).unwrap_err();
        assert!(err.contains("spawn option `memory`"), "{err}");
        assert!(err.contains("`12 parsecs` is not a size"), "{err}");
        let err = SpawnOptions::parse([("memroy", OptionValue::Int(1))]).unwrap_err();
        assert!(err.contains("unknown spawn option `memroy`"), "{err}");
        let err = SpawnOptions::parse([("mailbox", OptionValue::Int(-1))]).unwrap_err();
        assert!(err.contains("negative"), "{err}");
    }

    #[test]
    fn json_round_trip_keeps_meaning() {
        let pairs = [
            ("memory", OptionValue::Text("1 MiB".into())),
            ("max_retries", OptionValue::Int(2)),
            ("config", OptionValue::Other(r#"{"next":"b"}"#.into())),
        ];
        let json: serde_json::Map<String, serde_json::Value> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_json()))
            .collect();
        let opts = SpawnOptions::from_json(&serde_json::Value::Object(json).to_string()).unwrap();
        assert_eq!(opts.limits.memory, 1 << 20);
        assert_eq!(opts.restart.max_retries, 2);
        assert_eq!(opts.config, r#"{"next":"b"}"#);
        assert!(SpawnOptions::from_json("[1]").is_err());
        assert!(SpawnOptions::from_json("").is_ok());
    }
}

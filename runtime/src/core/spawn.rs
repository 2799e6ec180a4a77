//! How to spawn an agent, and the one parser of spawn options that scripts
//! and remote clients share, so an option means the same everywhere.

use crate::core::limits::AgentLimits;
use crate::core::options::{ByteSize, Config, OptionsError, Span};
use crate::core::supervision::{RestartMode, RestartPolicy};

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

/// Spawn options as a user writes them (a script's map, a client's spawn
/// frame): every field optional, unknown keys refused. [`SpawnOptions`]
/// is what they resolve to.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpawnSpec {
    /// Its name (a prefix, for `spawn_many`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Linear memory limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<ByteSize>,
    /// Longest a message may take to handle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<Span>,
    /// Mailbox capacity, messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mailbox: Option<u64>,
    /// Largest message it accepts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_message: Option<ByteSize>,
    /// Fuel per message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuel: Option<u64>,
    /// What its `init` receives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Config>,
    /// When it is restarted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<RestartMode>,
    /// Restarts allowed within `restart_window`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_restarts: Option<u32>,
    /// The window of the restart budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_window: Option<Span>,
    /// First restart delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<Span>,
    /// Longest restart delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_max: Option<Span>,
    /// Deliveries of one message before it is dead-lettered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<u32>,
}

impl SpawnSpec {
    /// Reads spawn options from any source (see [`crate::core::options`]).
    pub fn parse(value: serde_json::Value) -> Result<SpawnSpec, OptionsError> {
        crate::core::options::parse("spawn", value)
    }
}

impl From<SpawnSpec> for SpawnOptions {
    fn from(spec: SpawnSpec) -> SpawnOptions {
        let mut o = SpawnOptions {
            name: spec.name,
            tenant: spec.tenant,
            config: spec.config.map(|c| c.0).unwrap_or_default(),
            ..SpawnOptions::default()
        };
        let mut given = |key: &'static str, set: bool| {
            if set {
                o.given.push(key);
            }
        };
        given("memory", spec.memory.is_some());
        given("deadline", spec.deadline.is_some());
        given("mailbox", spec.mailbox.is_some());
        given("max_message", spec.max_message.is_some());
        given("fuel", spec.fuel.is_some());
        let l = &mut o.limits;
        l.memory = spec.memory.map_or(l.memory, |b| b.0);
        l.deadline = spec.deadline.map_or(l.deadline, |s| s.0);
        l.mailbox = spec.mailbox.map_or(l.mailbox, |n| n as usize);
        l.max_message = spec.max_message.map_or(l.max_message, |b| b.0 as usize);
        l.fuel = spec.fuel.or(l.fuel);
        let r = &mut o.restart;
        r.mode = spec.restart.unwrap_or(r.mode);
        r.max_restarts = spec.max_restarts.unwrap_or(r.max_restarts);
        r.window = spec.restart_window.map_or(r.window, |s| s.0);
        r.backoff = spec.backoff.map_or(r.backoff, |s| s.0);
        r.backoff_max = spec.backoff_max.map_or(r.backoff_max, |s| s.0);
        r.max_retries = spec.max_retries.unwrap_or(r.max_retries);
        o
    }
}

impl From<&SpawnOptions> for SpawnSpec {
    /// What to send a remote node so that it resolves the same options: the
    /// limits the user gave (the rest stay the node's defaults, which its
    /// tenant's quotas may lower) and the whole restart policy.
    fn from(o: &SpawnOptions) -> SpawnSpec {
        let given = |key: &str| o.given.contains(&key);
        let l = &o.limits;
        SpawnSpec {
            name: o.name.clone(),
            tenant: o.tenant.clone(),
            memory: given("memory").then_some(ByteSize(l.memory)),
            deadline: given("deadline").then_some(Span(l.deadline)),
            mailbox: given("mailbox").then_some(l.mailbox as u64),
            max_message: given("max_message").then_some(ByteSize(l.max_message as u64)),
            fuel: if given("fuel") { l.fuel } else { None },
            config: (!o.config.is_empty()).then(|| Config(o.config.clone())),
            restart: Some(o.restart.mode),
            max_restarts: Some(o.restart.max_restarts),
            restart_window: Some(Span(o.restart.window)),
            backoff: Some(Span(o.restart.backoff)),
            backoff_max: Some(Span(o.restart.backoff_max)),
            max_retries: Some(o.restart.max_retries),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use serde_json::json;

    fn parse(value: serde_json::Value) -> Result<SpawnOptions, OptionsError> {
        SpawnSpec::parse(value).map(SpawnOptions::from)
    }

    #[test]
    fn both_notations_of_sizes_and_durations() {
        let opts =
            parse(json!({"memory": "12 MiB", "deadline": 250, "mailbox": 8, "name": "a"})).unwrap();
        assert_eq!(opts.limits.memory, 12 << 20);
        assert_eq!(opts.limits.deadline, Duration::from_millis(250));
        assert_eq!(opts.limits.mailbox, 8);
        assert_eq!(opts.name.as_deref(), Some("a"));
        assert_eq!(opts.given, ["memory", "deadline", "mailbox"]);
    }

    #[test]
    fn restart_options() {
        let opts = parse(json!({"restart": "on-failure", "max_restarts": 3,
                               "restart_window": "2s", "max_retries": 1}))
        .unwrap();
        assert_eq!(opts.restart.mode, RestartMode::OnFailure);
        assert_eq!(opts.restart.max_restarts, 3);
        assert_eq!(opts.restart.window, Duration::from_secs(2));
        assert_eq!(opts.restart.max_retries, 1);
        let err = parse(json!({"restart": "sometimes"})).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("restart"));
        assert!(err.message.contains("on-failure"), "{err}");
    }

    #[test]
    fn bad_options_name_the_option() {
        let err = parse(json!({"memory": "12 parsecs"})).unwrap_err();
        assert!(err.to_string().contains("spawn option `memory`"), "{err}");
        assert!(
            err.to_string().contains("`12 parsecs` is not a size"),
            "{err}"
        );
        let err = parse(json!({"memroy": 1})).unwrap_err();
        assert!(err.to_string().contains("unknown field `memroy`"), "{err}");
        let err = parse(json!({"mailbox": -1})).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("mailbox"), "{err}");
        assert!(parse(json!([1])).is_err());
    }

    #[test]
    fn the_wire_form_resolves_to_the_same_options() {
        let opts = parse(json!({"memory": "1 MiB", "max_retries": 2, "fuel": 500,
                               "config": {"next": "b"}, "backoff": "250us"}))
        .unwrap();
        assert_eq!(opts.config, r#"{"next":"b"}"#);
        let wire = serde_json::to_value(SpawnSpec::from(&opts)).unwrap();
        let back = parse(wire).unwrap();
        assert_eq!(back.limits, opts.limits);
        assert_eq!(back.restart, opts.restart);
        assert_eq!(back.config, opts.config);
        assert_eq!(back.given, opts.given);
    }
}

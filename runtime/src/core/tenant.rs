//! Tenants and their quotas: what a tenant's agents may use together, and
//! the node config file that defines them. Sans-IO: the binary reads the
//! file, this parses and checks it.
//!
//! A quota bounds the limits of each agent (memory, deadline, fuel,
//! mailbox, message size: a spawn asking for more fails, a spawn asking for
//! nothing gets the quota) and the tenant as a whole (agents, total memory,
//! message rate).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use crate::core::limits::AgentLimits;
use crate::core::spawn::OptionValue;

/// The keys a tenant's quotas accept, for error messages.
pub const QUOTA_KEYS: &str =
    "max_agents, memory, total_memory, deadline, fuel, mailbox, max_message, rate, workers";

/// The keys a tenant definition accepts: its quotas, plus its data dir and
/// its grants.
pub const TENANT_KEYS: &str = "max_agents, memory, total_memory, deadline, fuel, mailbox, max_message, rate, workers, data_dir, grants, priority";

/// A tenant: its quotas, the directory its agents may use, and the other
/// tenants its agents may send to. The default is no quotas, no files and
/// no one else to talk to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tenant {
    /// What its agents may use.
    pub quotas: Quotas,
    /// A host directory its agents see as `/data` through WASI, read and
    /// write within it only; without one they see no files at all.
    pub data_dir: Option<PathBuf>,
    /// Tenants whose agents this tenant's agents may address (as
    /// `tenant/name`). Grants go one way: `a` granted `b` lets `a`'s agents
    /// send to `b`'s, and `b`'s agents answer `a`'s requests, nothing more.
    pub grants: BTreeSet<String>,
    /// Whose CPU its agents' handlers run on: the node's workers, or
    /// threads that get the CPU only when no normal thread wants it.
    pub priority: Priority,
}

/// How a tenant's agents share the CPU with other tenants'.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Priority {
    /// On the node's workers, alongside every other normal tenant.
    #[default]
    Normal,
    /// On a pool of lowest-priority threads (`SCHED_IDLE` on Linux): the
    /// OS preempts them whenever a normal tenant's work is ready, so a
    /// tenant driven flat out takes only the CPU the others leave idle.
    /// Its agents never run inline on a caller's thread either. The
    /// priority for untrusted or batch tenants beside latency-sensitive
    /// ones.
    Background,
}

impl std::str::FromStr for Priority {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "normal" => Ok(Priority::Normal),
            "background" => Ok(Priority::Background),
            other => Err(format!(
                "`priority`: expected \"normal\" or \"background\", got `{other}`"
            )),
        }
    }
}

impl From<Quotas> for Tenant {
    fn from(quotas: Quotas) -> Self {
        Tenant {
            quotas,
            ..Tenant::default()
        }
    }
}

impl Tenant {
    /// Sets `key` (a quota, `data_dir` or `grants`) from a value as a user
    /// wrote it.
    pub fn set(&mut self, key: &str, value: &OptionValue) -> Result<(), String> {
        match key {
            "data_dir" => {
                let dir = value.text().map_err(|e| format!("`data_dir`: {e}"))?;
                if dir.is_empty() {
                    return Err("`data_dir` is empty: give a directory".into());
                }
                self.data_dir = Some(PathBuf::from(dir));
            }
            "priority" => {
                self.priority = value
                    .text()
                    .map_err(|e| format!("`priority`: {e}"))?
                    .parse()?;
            }
            "grants" => {
                let names = match value {
                    OptionValue::Text(one) => vec![one.clone()],
                    OptionValue::Other(json) => {
                        serde_json::from_str::<Vec<String>>(json).map_err(|_| {
                            format!("`grants`: expected a list of tenant names, got {json}")
                        })?
                    }
                    OptionValue::Int(n) => {
                        return Err(format!(
                            "`grants`: expected a list of tenant names, got {n}"
                        ));
                    }
                };
                for name in names {
                    crate::core::name::check(&name).map_err(|e| format!("`grants`: {e}"))?;
                    self.grants.insert(name);
                }
            }
            _ if QUOTA_KEYS.split(", ").any(|k| k == key) => self.quotas.set(key, value)?,
            _ => return Err(format!("unknown key `{key}`: a tenant takes {TENANT_KEYS}")),
        }
        Ok(())
    }

    /// Parses a tenant given as pairs; an unknown key is an error.
    pub fn parse<'a>(
        pairs: impl IntoIterator<Item = (&'a str, OptionValue)>,
    ) -> Result<Tenant, String> {
        let mut t = Tenant::default();
        for (key, value) in pairs {
            t.set(key, &value)?;
        }
        Ok(t)
    }

    /// Whether this tenant's agents may send to `other`'s (always for
    /// itself).
    pub fn may_send_to(&self, me: &str, other: &str) -> bool {
        me == other || self.grants.contains(other)
    }
}

/// What a tenant may use. `None` is unlimited (up to the node's own limits).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Quotas {
    /// Live agents at once.
    pub max_agents: Option<u64>,
    /// Linear memory per agent, bytes.
    pub memory: Option<u64>,
    /// Linear memory of all its agents together (their limits), bytes.
    pub total_memory: Option<u64>,
    /// Longest a message may take to handle.
    pub deadline: Option<Duration>,
    /// Fuel per message (needs a node that meters fuel).
    pub fuel: Option<u64>,
    /// Mailbox capacity per agent.
    pub mailbox: Option<u64>,
    /// Largest message an agent may receive, bytes.
    pub max_message: Option<u64>,
    /// Messages per second into the tenant's agents (a token bucket that
    /// holds one second's worth).
    pub rate: Option<f64>,
    /// Worker threads its agents may occupy at once. With fewer than the
    /// node has, the other tenants always find a worker free, however hard
    /// this one is driven. A hard cap, even on an idle node; to give a
    /// tenant only the CPU the others leave, see [`Priority::Background`].
    pub workers: Option<u64>,
}

/// A spawn or send over a quota.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("tenant `{tenant}` is over its `{quota}` quota: {detail}")]
pub struct QuotaError {
    /// The tenant.
    pub tenant: String,
    /// The quota's key (`max_agents`, `memory`, ...).
    pub quota: &'static str,
    /// What was asked against what is allowed.
    pub detail: String,
}

/// Why a config file or tenant definition is not usable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Quotas {
    /// Sets quota `key` from a value as a user wrote it.
    pub fn set(&mut self, key: &str, value: &OptionValue) -> Result<(), String> {
        let bad = |e: String| format!("quota `{key}`: {e}");
        match key {
            "max_agents" => self.max_agents = Some(value.count().map_err(bad)?),
            "memory" => self.memory = Some(value.size().map_err(bad)?),
            "total_memory" => self.total_memory = Some(value.size().map_err(bad)?),
            "deadline" => self.deadline = Some(value.duration().map_err(bad)?),
            "fuel" => self.fuel = Some(value.count().map_err(bad)?),
            "mailbox" => self.mailbox = Some(value.count().map_err(bad)?),
            "workers" => {
                let n = value.count().map_err(bad)?;
                if n == 0 {
                    return Err(bad(
                        "0 workers would never run its agents; give 1 or more".into()
                    ));
                }
                self.workers = Some(n);
            }
            "max_message" => self.max_message = Some(value.size().map_err(bad)?),
            "rate" => {
                let text = match value {
                    OptionValue::Int(n) => n.to_string(),
                    OptionValue::Text(s) | OptionValue::Other(s) => s.clone(),
                };
                let rate: f64 = text
                    .trim()
                    .parse()
                    .ok()
                    .filter(|r: &f64| *r > 0.0 && r.is_finite())
                    .ok_or_else(|| bad(format!("expected messages per second, got `{text}`")))?;
                self.rate = Some(rate);
            }
            other => {
                return Err(format!(
                    "unknown quota `{other}`: the quotas are {QUOTA_KEYS}"
                ));
            }
        }
        Ok(())
    }

    /// Parses quotas given as pairs; an unknown key is an error.
    pub fn parse<'a>(
        pairs: impl IntoIterator<Item = (&'a str, OptionValue)>,
    ) -> Result<Quotas, String> {
        let mut q = Quotas::default();
        for (key, value) in pairs {
            q.set(key, &value)?;
        }
        Ok(q)
    }

    /// Fits an agent's `limits` into these quotas: a limit the spawn left
    /// at its default (not in `given`) becomes the quota when the quota is
    /// lower; one it asked for must be within the quota.
    pub fn fit(
        &self,
        tenant: &str,
        limits: &mut AgentLimits,
        given: &[&str],
    ) -> Result<(), QuotaError> {
        let over = |quota: &'static str, asked: String, allowed: String| QuotaError {
            tenant: tenant.to_string(),
            quota,
            detail: format!("the spawn asks for {asked}, the quota allows {allowed}"),
        };
        let is_given = |k: &str| given.contains(&k);
        if let Some(q) = self.memory {
            if is_given("memory") && limits.memory > q {
                return Err(over("memory", bytes(limits.memory), bytes(q)));
            }
            limits.memory = limits.memory.min(q);
        }
        if let Some(q) = self.deadline {
            if is_given("deadline") && limits.deadline > q {
                return Err(over(
                    "deadline",
                    format!("{:?}", limits.deadline),
                    format!("{q:?}"),
                ));
            }
            limits.deadline = limits.deadline.min(q);
        }
        if let Some(q) = self.mailbox {
            let q = q as usize;
            if is_given("mailbox") && limits.mailbox > q {
                return Err(over("mailbox", limits.mailbox.to_string(), q.to_string()));
            }
            limits.mailbox = limits.mailbox.min(q);
        }
        if let Some(q) = self.max_message {
            let q = q as usize;
            if is_given("max_message") && limits.max_message > q {
                return Err(over(
                    "max_message",
                    bytes(limits.max_message as u64),
                    bytes(q as u64),
                ));
            }
            limits.max_message = limits.max_message.min(q);
        }
        if let Some(q) = self.fuel {
            match limits.fuel {
                Some(f) if f > q => {
                    return Err(over("fuel", format!("{f} fuel"), format!("{q} fuel")));
                }
                Some(_) => {}
                None => limits.fuel = Some(q),
            }
        }
        Ok(())
    }

    /// Checks the tenant-wide quotas for one more agent of `memory` bytes,
    /// given the tenant's live agents and the memory their limits add to
    /// (asked for only when there is a `total_memory` quota: summing is
    /// work per spawn).
    pub fn admit(
        &self,
        tenant: &str,
        agents: u64,
        memory_in_use: impl FnOnce() -> u64,
        memory: u64,
    ) -> Result<(), QuotaError> {
        if let Some(max) = self.max_agents
            && agents >= max
        {
            return Err(QuotaError {
                tenant: tenant.to_string(),
                quota: "max_agents",
                detail: format!("it has {agents} live agents, the quota allows {max}"),
            });
        }
        if let Some(total) = self.total_memory
            && let memory_in_use = memory_in_use()
            && memory_in_use.saturating_add(memory) > total
        {
            return Err(QuotaError {
                tenant: tenant.to_string(),
                quota: "total_memory",
                detail: format!(
                    "its agents hold {} and this one asks for {}, the quota allows {} in all",
                    bytes(memory_in_use),
                    bytes(memory),
                    bytes(total)
                ),
            });
        }
        Ok(())
    }
}

fn bytes(n: u64) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

/// A token bucket for a tenant's message rate: holds up to one second of
/// messages, refills continuously. Sans-IO: the caller passes the time.
#[derive(Debug, Clone)]
pub struct RateBucket {
    rate: f64,
    tokens: f64,
    last: Duration,
}

impl RateBucket {
    /// A full bucket for `rate` messages per second, at time `now`.
    pub fn new(rate: f64, now: Duration) -> Self {
        RateBucket {
            rate,
            tokens: rate.max(1.0),
            last: now,
        }
    }

    /// Takes one message's token at `now`, if there is one.
    pub fn take(&mut self, now: Duration) -> bool {
        let elapsed = now.saturating_sub(self.last).as_secs_f64();
        self.last = now.max(self.last);
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate.max(1.0));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The node config file (TOML):
///
/// ```toml
/// [tenants.acme]
/// max_agents = 100
/// memory = "16MiB"
/// total_memory = "512MiB"
/// deadline = "50ms"
/// mailbox = 256
/// max_message = "64KiB"
/// rate = 10000
/// workers = 1                     # never more than one worker thread at once
/// data_dir = "/srv/caxton/acme"   # seen by its agents as /data
/// grants = ["billing"]            # its agents may send to billing/NAME
/// priority = "background"         # runs only on CPU the others leave idle
/// ```
///
/// Unknown tables and keys are errors, so a typo never silently means
/// "unlimited".
pub fn parse_config(text: &str) -> Result<BTreeMap<String, Tenant>, ConfigError> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError(format!("not valid TOML: {e}")))?;
    let mut tenants = BTreeMap::new();
    for (key, value) in table {
        if key != "tenants" {
            return Err(ConfigError(format!(
                "unknown key `{key}`: the config has only [tenants.NAME] tables"
            )));
        }
        let toml::Value::Table(all) = value else {
            return Err(ConfigError(
                "`tenants` must be tables: [tenants.NAME]".into(),
            ));
        };
        for (name, quotas) in all {
            crate::core::name::check(&name)
                .map_err(|e| ConfigError(format!("[tenants.{name}]: {e}")))?;
            let toml::Value::Table(keys) = quotas else {
                return Err(ConfigError(format!(
                    "tenants.{name} must be a table ({TENANT_KEYS})"
                )));
            };
            let pairs = keys.iter().map(|(k, v)| (k.as_str(), toml_value(v)));
            let t =
                Tenant::parse(pairs).map_err(|e| ConfigError(format!("[tenants.{name}] {e}")))?;
            tenants.insert(name, t);
        }
    }
    Ok(tenants)
}

fn toml_value(v: &toml::Value) -> OptionValue {
    match v {
        toml::Value::String(s) => OptionValue::Text(s.clone()),
        toml::Value::Integer(i) => OptionValue::Int(*i),
        toml::Value::Float(f) => OptionValue::Other(f.to_string()),
        toml::Value::Boolean(b) => OptionValue::Other(b.to_string()),
        // Arrays (grants) as JSON, like a script's arrays.
        toml::Value::Array(items) => {
            let json: Vec<serde_json::Value> = items
                .iter()
                .map(|v| match v {
                    toml::Value::String(s) => serde_json::Value::String(s.clone()),
                    other => serde_json::Value::String(format!("{other:?}")),
                })
                .collect();
            OptionValue::Other(serde_json::Value::Array(json).to_string())
        }
        other => OptionValue::Other(format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_parses_and_rejects_unknown_keys() {
        let t = parse_config(
            "[tenants.acme]\nmax_agents = 3\nmemory = \"16MiB\"\ndeadline = \"50ms\"\nrate = 2.5\n\n[tenants.other]\n",
        )
        .unwrap();
        let acme = &t["acme"].quotas;
        assert_eq!(acme.max_agents, Some(3));
        assert_eq!(acme.memory, Some(16 << 20));
        assert_eq!(acme.deadline, Some(Duration::from_millis(50)));
        assert_eq!(acme.rate, Some(2.5));
        assert_eq!(t["other"], Tenant::default());

        let err = parse_config("[tenants.acme]\nmax_agent = 3\n").unwrap_err();
        assert!(err.0.contains("unknown key `max_agent`"), "{err}");
        assert!(err.0.contains("grants"), "{err}");
        let err = parse_config("[tenant.acme]\n").unwrap_err();
        assert!(err.0.contains("unknown key `tenant`"), "{err}");
        let err = parse_config("[tenants.acme]\nmemory = \"lots\"\n").unwrap_err();
        assert!(err.0.contains("quota `memory`"), "{err}");
        assert!(parse_config("tenants = [").unwrap_err().0.contains("TOML"));
    }

    #[test]
    fn a_config_gives_data_dirs_and_one_way_grants() {
        let t = parse_config(
            "[tenants.a]\ndata_dir = \"/srv/a\"\ngrants = [\"b\"]\n[tenants.b]\ngrants = []\n",
        )
        .unwrap();
        assert_eq!(t["a"].data_dir, Some(PathBuf::from("/srv/a")));
        assert!(t["a"].may_send_to("a", "b"));
        assert!(!t["b"].may_send_to("b", "a"));
        assert!(t["b"].may_send_to("b", "b"));
        let err = parse_config("[tenants.a]\ngrants = [\"../x\"]\n").unwrap_err();
        assert!(err.0.contains("`grants`"), "{err}");
        let err = parse_config("[tenants.a]\ngrants = 3\n").unwrap_err();
        assert!(err.0.contains("list of tenant names"), "{err}");
        let err = parse_config("[tenants.a]\ndata_dir = 3\n").unwrap_err();
        assert!(err.0.contains("`data_dir`"), "{err}");
    }

    #[test]
    fn a_tenant_is_normal_priority_unless_it_says_background() {
        let t = parse_config("[tenants.a]\n[tenants.b]\npriority = \"background\"\n").unwrap();
        assert_eq!(t["a"].priority, Priority::Normal);
        assert_eq!(t["b"].priority, Priority::Background);
        let err = parse_config("[tenants.a]\npriority = \"high\"\n").unwrap_err();
        assert!(err.0.contains("\"normal\" or \"background\""), "{err}");
        let err = parse_config("[tenants.a]\npriority = 1\n").unwrap_err();
        assert!(err.0.contains("`priority`"), "{err}");
    }

    #[test]
    fn quotas_default_and_bound_agent_limits() {
        let q = Quotas {
            memory: Some(16 << 20),
            mailbox: Some(8),
            fuel: Some(1000),
            ..Quotas::default()
        };
        let mut limits = AgentLimits::default();
        q.fit("t", &mut limits, &[]).unwrap();
        assert_eq!(
            (limits.memory, limits.mailbox, limits.fuel),
            (16 << 20, 8, Some(1000))
        );

        let mut limits = AgentLimits {
            memory: 32 << 20,
            ..AgentLimits::default()
        };
        let err = q.fit("t", &mut limits, &["memory"]).unwrap_err();
        assert_eq!(err.quota, "memory");
        assert!(
            err.to_string().contains("32 MiB") && err.to_string().contains("16 MiB"),
            "{err}"
        );
    }

    #[test]
    fn tenant_wide_quotas_count_agents_and_memory() {
        let q = Quotas {
            max_agents: Some(2),
            total_memory: Some(10 << 20),
            ..Quotas::default()
        };
        q.admit("t", 1, || 4 << 20, 4 << 20).unwrap();
        assert_eq!(q.admit("t", 2, || 0, 1).unwrap_err().quota, "max_agents");
        assert_eq!(
            q.admit("t", 1, || 8 << 20, 4 << 20).unwrap_err().quota,
            "total_memory"
        );
    }

    #[test]
    fn the_rate_bucket_refills_with_time() {
        let s = Duration::from_secs_f64;
        let mut b = RateBucket::new(10.0, s(0.0));
        assert_eq!((0..20).filter(|_| b.take(s(0.0))).count(), 10);
        assert!(!b.take(s(0.05)));
        assert!(b.take(s(0.1)));
        // Never more than a second's worth saved up.
        assert_eq!((0..50).filter(|_| b.take(s(100.0))).count(), 10);
    }
}

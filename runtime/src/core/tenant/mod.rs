//! Tenants and their quotas: what a tenant's agents may use together, and
//! the node config file that defines them. Sans-IO: the binary reads the
//! file, this parses and checks it.
//!
//! A quota bounds the limits of each agent (memory, deadline, fuel,
//! mailbox, message size: a spawn asking for more fails, a spawn asking for
//! nothing gets the quota) and the tenant as a whole (agents, total memory,
//! message rate).
//!
//! `quotas`: what a tenant may use and the checks against it; `config`: the
//! TOML file that defines tenants.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::core::options::{self, OptionsError};

/// The keys a tenant definition accepts: its quotas, plus its data dir, its
/// grants and its priority.
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
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

impl From<Quotas> for Tenant {
    fn from(quotas: Quotas) -> Self {
        Tenant {
            quotas,
            ..Tenant::default()
        }
    }
}

impl Tenant {
    /// Reads a tenant definition (a script's map, a `[tenants.NAME]`
    /// table): its own keys, and the rest as [`Quotas`].
    pub fn parse(value: serde_json::Value) -> Result<Tenant, OptionsError> {
        /// What a tenant has besides its quotas.
        #[derive(serde::Deserialize)]
        struct Own {
            #[serde(default)]
            data_dir: Option<PathBuf>,
            #[serde(default)]
            priority: Priority,
            #[serde(default)]
            grants: Option<serde_json::Value>,
        }
        let serde_json::Value::Object(mut map) = value else {
            return Err(OptionsError {
                what: "tenant",
                key: None,
                message: format!("expected a map of {TENANT_KEYS}"),
            });
        };
        let own: serde_json::Map<_, _> = ["data_dir", "priority", "grants"]
            .into_iter()
            .filter_map(|k| map.remove_entry(k))
            .collect();
        let own: Own = options::parse("tenant", serde_json::Value::Object(own))?;
        let quotas: Quotas =
            options::parse("quota", serde_json::Value::Object(map)).map_err(|mut e| {
                if e.message.starts_with("unknown field") {
                    e.message
                        .push_str("; a tenant also takes data_dir, grants, priority");
                }
                e
            })?;
        if own
            .data_dir
            .as_ref()
            .is_some_and(|d| d.as_os_str().is_empty())
        {
            return Err(bad_key("data_dir", "it is empty: give a directory".into()));
        }
        Ok(Tenant {
            quotas,
            data_dir: own.data_dir,
            grants: own.grants.map(grants).transpose()?.unwrap_or_default(),
            priority: own.priority,
        })
    }

    /// Whether this tenant's agents may send to `other`'s (always for
    /// itself).
    pub fn may_send_to(&self, me: &str, other: &str) -> bool {
        me == other || self.grants.contains(other)
    }
}

/// `grants`: one tenant name or a list of them, each a valid name.
fn grants(value: serde_json::Value) -> Result<BTreeSet<String>, OptionsError> {
    let names = match value {
        serde_json::Value::String(one) => vec![one],
        serde_json::Value::Array(items) => items
            .into_iter()
            .map(|v| match v {
                serde_json::Value::String(s) => Ok(s),
                other => Err(other),
            })
            .collect::<Result<_, _>>()
            .map_err(|v| {
                bad_key(
                    "grants",
                    format!("expected a list of tenant names, got {v}"),
                )
            })?,
        other => {
            return Err(bad_key(
                "grants",
                format!("expected a list of tenant names, got {other}"),
            ));
        }
    };
    names
        .into_iter()
        .map(|name| {
            crate::core::name::check(&name).map_err(|e| bad_key("grants", e.to_string()))?;
            Ok(name)
        })
        .collect()
}

fn bad_key(key: &str, message: String) -> OptionsError {
    OptionsError {
        what: "tenant",
        key: Some(key.to_string()),
        message,
    }
}

mod config;
mod quotas;

pub use config::{ConfigError, MIN_TOKEN_LEN, NodeConfig, parse_config, parse_node_config};
pub use quotas::{QuotaError, Quotas, RateBucket};

#[cfg(test)]
mod tests;

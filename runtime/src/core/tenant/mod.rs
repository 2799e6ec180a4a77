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

mod config;
mod quotas;

pub use config::{ConfigError, parse_config};
pub use quotas::{QuotaError, Quotas, RateBucket};

#[cfg(test)]
mod tests;

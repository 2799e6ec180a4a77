//! What a tenant may use, checked at each spawn and each message.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::core::limits::AgentLimits;
use crate::core::options::{OptionsError, PerSecond, size_opt, span_opt};

/// What a tenant may use. `None` is unlimited (up to the node's own limits).
/// Read from a script's map or a `[tenants.NAME]` table (see
/// [`crate::core::options`]); an unknown key is an error, so a typo never
/// silently means "unlimited".
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quotas {
    /// Live agents at once.
    #[serde(default)]
    pub max_agents: Option<u64>,
    /// Linear memory per agent, bytes.
    #[serde(default, with = "size_opt")]
    pub memory: Option<u64>,
    /// Linear memory of all its agents together (their limits), bytes.
    #[serde(default, with = "size_opt")]
    pub total_memory: Option<u64>,
    /// Longest a message may take to handle.
    #[serde(default, with = "span_opt")]
    pub deadline: Option<Duration>,
    /// Fuel per message (needs a node that meters fuel).
    #[serde(default)]
    pub fuel: Option<u64>,
    /// Mailbox capacity per agent.
    #[serde(default)]
    pub mailbox: Option<u64>,
    /// Largest message an agent may receive, bytes.
    #[serde(default, with = "size_opt")]
    pub max_message: Option<u64>,
    /// Messages per second into the tenant's agents (a token bucket that
    /// holds one second's worth).
    #[serde(default, deserialize_with = "rate")]
    pub rate: Option<f64>,
    /// Worker threads its agents may occupy at once. With fewer than the
    /// node has, the other tenants always find a worker free, however hard
    /// this one is driven. A hard cap, even on an idle node; to give a
    /// tenant only the CPU the others leave, see [`Priority::Background`].
    #[serde(default, deserialize_with = "workers")]
    pub workers: Option<u64>,
    /// Components it may upload to a served node (see `node::uploads`);
    /// unset: the node's default.
    #[serde(default)]
    pub components: Option<u64>,
    /// Bytes of all its uploaded components together; unset: the node's
    /// default.
    #[serde(default, with = "size_opt")]
    pub component_bytes: Option<u64>,
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

impl Quotas {
    /// Reads quotas from any source (see [`crate::core::options`]).
    pub fn parse(value: serde_json::Value) -> Result<Quotas, OptionsError> {
        crate::core::options::parse("quota", value)
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

fn rate<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(Option::<PerSecond>::deserialize(d)?.map(|r| r.0))
}

fn workers<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match Option::<u64>::deserialize(d)? {
        Some(0) => Err(serde::de::Error::custom(
            "0 workers would never run its agents; give 1 or more",
        )),
        n => Ok(n),
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

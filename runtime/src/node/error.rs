//! The errors of the node's operations, one enum per operation.

use std::time::Duration;

use crate::core::failure::Failure;
use crate::core::limits::LimitParseError;
use crate::core::name::NameError;
use crate::core::tenant::QuotaError;
use crate::host::PluginError;

/// Why an agent could not be spawned.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// The plugin could not be loaded.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// The name is not usable.
    #[error(transparent)]
    Name(#[from] NameError),
    /// Another live agent of the tenant has the name.
    #[error(
        "an agent named `{name}` already exists in tenant `{tenant}`: pick another name, or stop that agent first"
    )]
    NameTaken {
        /// The name.
        name: String,
        /// The tenant.
        tenant: String,
    },
    /// A limit option is out of range.
    #[error("bad spawn option: {0}")]
    Limits(#[from] LimitParseError),
    /// The tenant's quotas do not allow it.
    #[error(transparent)]
    Quota(#[from] QuotaError),
    /// The node holds as many agents as it was sized for.
    #[error("the node is full: it was started for at most {0} agents")]
    Capacity(u32),
    /// Instantiation or `init` failed.
    #[error("agent `{name}` failed to start: {failure}")]
    Start {
        /// The agent.
        name: String,
        /// Why.
        failure: Failure,
    },
}

/// Why a tenant could not be defined.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    /// The tenant's name is not usable.
    #[error(transparent)]
    Name(#[from] NameError),
    /// Its data dir cannot be created or opened.
    #[error("tenant `{tenant}`: data dir {}: {why}", dir.display())]
    DataDir {
        /// The tenant.
        tenant: String,
        /// The directory as given.
        dir: std::path::PathBuf,
        /// What went wrong.
        why: String,
    },
}

/// Why a message could not be delivered.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SendError {
    /// No live agent has the address.
    #[error("no agent named `{0}`")]
    NoSuchAgent(String),
    /// The agent is stopped, killed or failed.
    #[error("agent `{name}` is not running: {status}")]
    NotRunning {
        /// The agent.
        name: String,
        /// Its status.
        status: String,
    },
    /// Backpressure: the mailbox is at capacity.
    #[error(
        "the mailbox of `{name}` is full ({capacity} messages or {bytes} bytes, half its memory limit): the agent is not keeping up; retry later or spawn it with a larger `mailbox` or `memory`"
    )]
    MailboxFull {
        /// The agent.
        name: String,
        /// Its mailbox capacity in messages.
        capacity: usize,
        /// What its queued messages may hold in bytes.
        bytes: usize,
    },
    /// `name@peer` names a peer node this tenant has no link to.
    #[error(
        "no peer node named `{peer}` (for `{name}@{peer}`): connect to it first (`connect(addr, #{{name: \"{peer}\", ...}})`)"
    )]
    NoSuchPeer {
        /// The agent on the peer.
        name: String,
        /// The peer.
        peer: String,
    },
    /// The link to a peer node refused the message (lost or congested).
    #[error("cannot forward to `{name}@{peer}`: {why}")]
    Peer {
        /// The agent on the peer.
        name: String,
        /// The peer.
        peer: String,
        /// Why.
        why: String,
    },
    /// `tenant/name` names another tenant's agent, and the sender's tenant
    /// has no grant for that tenant.
    #[error(
        "tenant `{from}` may not send to tenant `{to}` (for `{to}/{name}`): no grant; add `grants = [\"{to}\"]` to [tenants.{from}] in the node config"
    )]
    NotGranted {
        /// The sender's tenant.
        from: String,
        /// The addressed tenant.
        to: String,
        /// The addressed agent.
        name: String,
    },
    /// The receiving tenant's message rate is used up.
    #[error(transparent)]
    Quota(#[from] QuotaError),
    /// A request was forwarded more times than a chain may be long.
    #[error(
        "`{name}` forwarded a request that had already been forwarded {hops} times (a forwarding loop?); the chain was ended"
    )]
    HopLimit {
        /// The agent that forwarded it last.
        name: String,
        /// The forwards it had been through.
        hops: u8,
    },
    /// The payload is over the receiver's message-size limit.
    #[error("a payload of {size} bytes is over the {limit}-byte message limit of `{name}`")]
    TooLarge {
        /// The agent.
        name: String,
        /// Payload size.
        size: usize,
        /// Its limit.
        limit: usize,
    },
}

/// Why a request got no reply.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RequestError {
    /// It was never delivered.
    #[error(transparent)]
    Send(#[from] SendError),
    /// The agent failed (trap, limit, deadline) while the request was pending.
    #[error("agent `{name}` failed before replying: {failure}")]
    AgentFailed {
        /// The agent.
        name: String,
        /// Why it failed.
        failure: Failure,
    },
    /// The handler returned an error for this message.
    #[error("agent `{name}` could not handle the request: {reason}")]
    Handler {
        /// The agent.
        name: String,
        /// Its reason.
        reason: String,
    },
    /// The handler returned without replying or forwarding.
    #[error("agent `{0}` handled the request without replying")]
    NoReply(String),
    /// The agent was stopped or killed with the request still queued.
    #[error("agent `{0}` was stopped before it handled the request")]
    Dropped(String),
    /// No reply in time.
    #[error("no reply from `{name}` within {timeout:?}")]
    Timeout {
        /// The agent.
        name: String,
        /// How long the caller waited.
        timeout: Duration,
    },
}

//! One agent as the node keeps it: mailbox, run state, instance.
//!
//! An idle agent has no task: a drain runs only while messages wait, either
//! on a tokio worker or inline on a blocking caller (a script's `request`),
//! which saves two thread wake-ups per round trip. The `running` flag makes
//! sure exactly one drain owns the instance at a time.

use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::oneshot;

use super::error::{RequestError, SendError};
use crate::core::address::Reach;
use crate::core::budget::{ENTRY, HostBudget};
use crate::core::envelope::Envelope;
use crate::core::failure::Failure;
use crate::core::limits::AgentLimits;
use crate::core::mailbox::{Full, Mailbox, Weight};
use crate::core::supervision::{Decision, RestartPolicy, Supervisor};
use crate::core::tenant::{Priority, QuotaError, RateBucket, Tenant};
use crate::host::ctx::{SharedLog, SharedState};
use crate::host::{AgentInstance, InstanceSpec, Plugin};

/// Most messages handed to one `handle-batch` call.
pub(crate) const BATCH: usize = 64;

/// Where the answer to a request goes.
pub(crate) enum ReplyTo {
    /// A caller blocked in `request`.
    Waiter(oneshot::Sender<Result<Vec<u8>, RequestError>>),
    /// Code that takes the answer where it is produced (a remote client's
    /// connection): no task and no channel per request.
    Callback(Box<dyn FnOnce(Result<Vec<u8>, RequestError>) + Send>),
    /// Another agent: the answer arrives in its mailbox as a `reply`.
    Agent {
        /// Its tenant.
        tenant: Arc<str>,
        /// Its name.
        name: String,
    },
}

/// A message in a mailbox, with where its answer goes.
pub(crate) struct Delivery {
    pub(crate) env: Envelope,
    pub(crate) reply: Option<ReplyTo>,
    /// Deliveries of this message that crashed the agent so far.
    pub(crate) attempts: u32,
    /// Forwards this message has been through (a forwarding loop ends at
    /// [`MAX_HOPS`]).
    pub(crate) hops: u8,
}

/// Most forwards one request may go through before its requester gets a
/// failure: a forwarding loop ends instead of cycling forever.
pub(crate) const MAX_HOPS: u8 = 32;

impl Delivery {
    /// A message delivered for the first time.
    pub(crate) fn new(env: Envelope, reply: Option<ReplyTo>) -> Self {
        Delivery {
            env,
            reply,
            attempts: 0,
            hops: 0,
        }
    }
}

impl Weight for Delivery {
    fn weight(&self) -> usize {
        self.env.payload.len() + self.env.sender.len() + ENTRY
    }
}

/// Where an agent is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Accepting and handling messages.
    Running,
    /// Finishing its queued messages, accepting no new ones.
    Stopping,
    /// Stopped gracefully.
    Stopped,
    /// Failed, with the reason (a kill is [`Failure::Killed`]).
    Failed(Failure),
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Status::Running => f.write_str("running"),
            Status::Stopping => f.write_str("stopping"),
            Status::Stopped => f.write_str("stopped"),
            Status::Failed(Failure::Killed) => f.write_str("killed"),
            Status::Failed(failure) => write!(f, "failed: {failure}"),
        }
    }
}

pub(crate) struct Inner {
    pub(crate) mailbox: Mailbox<Delivery>,
    /// A drain owns the instance.
    pub(crate) running: bool,
    pub(crate) status: Status,
    pub(crate) handled: u64,
    /// Restart history and backoff.
    pub(crate) supervisor: Supervisor,
    /// Deliveries still to hand over one at a time after a batch failed.
    pub(crate) probation: usize,
    /// Set after a restart until the next message is handled: when the
    /// failure happened and its label (for the recovery-time metric).
    pub(crate) recovering: Option<(Instant, &'static str)>,
}

impl Inner {
    pub(crate) fn new(limits: &AgentLimits) -> Self {
        Inner {
            mailbox: Mailbox::new(limits.mailbox, HostBudget::of(limits).mailbox),
            // `running` until started: messages sent meanwhile wait.
            running: true,
            status: Status::Running,
            handled: 0,
            supervisor: Supervisor::default(),
            probation: 0,
            recovering: None,
        }
    }
}

/// An agent: identity, limits, mailbox and (when live) its instance.
pub(crate) struct AgentCell {
    pub(crate) name: Arc<str>,
    pub(crate) tenant: Arc<str>,
    pub(crate) plugin: Plugin,
    pub(crate) limits: AgentLimits,
    pub(crate) policy: RestartPolicy,
    /// The `init` config, kept for restarts.
    pub(crate) config: String,
    pub(crate) state: SharedState,
    pub(crate) kill: Arc<AtomicBool>,
    /// Its log rate, kept across restarts.
    pub(crate) log: SharedLog,
    /// Whom it may address, asked at each send.
    pub(crate) reach: Arc<dyn Reach>,
    pub(crate) inner: Mutex<Inner>,
    pub(crate) instance: Mutex<Option<AgentInstance>>,
    /// Its tenant's quotas, if the tenant has any (the message rate is
    /// checked on every enqueue).
    pub(crate) tenant_state: Option<Arc<TenantState>>,
}

/// A tenant's definition and what it uses of the rate.
#[derive(Debug)]
pub(crate) struct TenantState {
    pub(crate) def: Tenant,
    bucket: Option<Mutex<RateBucket>>,
    epoch: Instant,
    /// One permit per worker thread its agents may occupy at once.
    pub(crate) workers: Option<Arc<tokio::sync::Semaphore>>,
}

impl TenantState {
    pub(crate) fn new(def: Tenant) -> Self {
        TenantState {
            bucket: def
                .quotas
                .rate
                .map(|r| Mutex::new(RateBucket::new(r, std::time::Duration::ZERO))),
            workers: def
                .quotas
                .workers
                .map(|n| Arc::new(tokio::sync::Semaphore::new(n as usize))),
            def,
            epoch: Instant::now(),
        }
    }

    /// Takes one message of the rate, or says which quota is used up.
    fn take(&self, tenant: &str) -> Result<(), QuotaError> {
        let Some(bucket) = &self.bucket else {
            return Ok(());
        };
        if bucket.lock().unwrap().take(self.epoch.elapsed()) {
            Ok(())
        } else {
            Err(QuotaError {
                tenant: tenant.to_string(),
                quota: "rate",
                detail: format!(
                    "more than {} messages per second; retry later",
                    self.def.quotas.rate.unwrap_or_default()
                ),
            })
        }
    }
}

/// What `enqueue` asks the caller to do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Enqueued {
    /// A drain is already running; nothing to do.
    Queued,
    /// The caller now owns the drain and must run it.
    Schedule,
}

impl AgentCell {
    /// What an instance of this agent starts with (at spawn and restart).
    /// Whether its tenant runs on the background pool.
    pub(crate) fn is_background(&self) -> bool {
        self.tenant_state
            .as_ref()
            .is_some_and(|t| t.def.priority == Priority::Background)
    }

    pub(crate) fn instance_spec(&self) -> InstanceSpec {
        InstanceSpec {
            name: self.name.clone(),
            limits: self.limits.clone(),
            config: self.config.clone(),
            state: self.state.clone(),
            kill: self.kill.clone(),
            data_dir: self
                .tenant_state
                .as_ref()
                .and_then(|t| t.def.data_dir.clone()),
            background: self.is_background(),
            reach: self.reach.clone(),
            log: self.log.clone(),
        }
    }

    /// Whether this agent may address agents of `tenant` (its own, or one
    /// its tenant was granted at its spawn).
    pub(crate) fn may_send_to(&self, tenant: &str) -> bool {
        match &self.tenant_state {
            Some(t) => t.def.may_send_to(&self.tenant, tenant),
            None => *self.tenant == *tenant,
        }
    }
    /// Appends to the mailbox, or says why not and hands the delivery back
    /// (boxed: the error path is rare, the success path stays small).
    pub(crate) fn enqueue(
        &self,
        delivery: Delivery,
    ) -> Result<Enqueued, Box<(SendError, Delivery)>> {
        if delivery.env.payload.len() > self.limits.max_message {
            let err = SendError::TooLarge {
                name: self.name.to_string(),
                size: delivery.env.payload.len(),
                limit: self.limits.max_message,
            };
            return Err(Box::new((err, delivery)));
        }
        if let Some(t) = &self.tenant_state
            && let Err(e) = t.take(&self.tenant)
        {
            return Err(Box::new((SendError::Quota(e), delivery)));
        }
        let mut inner = self.inner.lock().unwrap();
        if inner.status != Status::Running {
            let err = SendError::NotRunning {
                name: self.name.to_string(),
                status: inner.status.to_string(),
            };
            return Err(Box::new((err, delivery)));
        }
        if let Err(Full(delivery)) = inner.mailbox.push(delivery) {
            let err = SendError::MailboxFull {
                name: self.name.to_string(),
                capacity: self.limits.mailbox,
                bytes: inner.mailbox.max_bytes(),
            };
            return Err(Box::new((err, delivery)));
        }
        if inner.running {
            Ok(Enqueued::Queued)
        } else {
            inner.running = true;
            Ok(Enqueued::Schedule)
        }
    }

    /// Takes the next batch, or (when none is left) puts the instance back
    /// and releases the drain. Returns `None` when the drain must end.
    pub(crate) fn next_batch(&self, instance: &mut Option<AgentInstance>) -> Option<Vec<Delivery>> {
        let mut inner = self.inner.lock().unwrap();
        let size = if inner.probation > 0 {
            inner.probation -= 1;
            1
        } else {
            BATCH
        };
        let batch = inner.mailbox.pop_batch(size);
        if !batch.is_empty() {
            return Some(batch);
        }
        inner.running = false;
        inner.mailbox.shrink();
        match inner.status {
            Status::Running => *self.instance.lock().unwrap() = instance.take(),
            Status::Stopping => {
                inner.status = Status::Stopped;
                instance.take();
            }
            Status::Stopped | Status::Failed(_) => {
                instance.take();
            }
        }
        None
    }

    /// Marks the agent failed and hands back everything still queued.
    pub(crate) fn fail(&self, failure: Failure) -> Vec<Delivery> {
        let mut inner = self.inner.lock().unwrap();
        if !matches!(inner.status, Status::Failed(_) | Status::Stopped) {
            inner.status = Status::Failed(failure);
        }
        inner.mailbox.drain_all()
    }

    /// Graceful stop: no new messages; queued ones are still handled.
    /// Hands back the instance if the agent was idle and is now stopped
    /// (a running drain drops it when done), for the caller to dispose of.
    pub(crate) fn stop(&self) -> Option<AgentInstance> {
        let mut inner = self.inner.lock().unwrap();
        if inner.status != Status::Running {
            return None;
        }
        if inner.running {
            inner.status = Status::Stopping;
            None
        } else {
            inner.status = Status::Stopped;
            self.instance.lock().unwrap().take()
        }
    }

    /// Abrupt stop: interrupts a running call at its next epoch tick and
    /// hands back every queued message, and the instance if idle.
    pub(crate) fn kill(&self) -> (Vec<Delivery>, Option<AgentInstance>) {
        self.kill.store(true, Relaxed);
        let queued = self.fail(Failure::Killed);
        let inner = self.inner.lock().unwrap();
        let instance = if inner.running {
            None
        } else {
            self.instance.lock().unwrap().take()
        };
        (queued, instance)
    }

    /// Records a failure with the supervisor and returns its decision.
    pub(crate) fn supervise(&self, failure: &Failure, in_init: bool, now: Instant) -> Decision {
        let mut inner = self.inner.lock().unwrap();
        inner
            .supervisor
            .on_failure(&self.policy, failure, in_init, now)
    }

    pub(crate) fn status(&self) -> Status {
        self.inner.lock().unwrap().status.clone()
    }
}

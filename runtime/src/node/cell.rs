//! One agent as the node keeps it: identity, limits, its instance, and its
//! lifecycle (`core::lifecycle`: mailbox, run state, restart history),
//! whose decisions the node carries out.
//!
//! An idle agent has no task: a drain runs only while messages wait, either
//! on a tokio worker or inline on a blocking caller (a script's `request`),
//! which saves two thread wake-ups per round trip. The lifecycle makes sure
//! exactly one drain owns the instance at a time.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::oneshot;

use super::error::{RequestError, SendError};
use crate::core::address::Reach;
use crate::core::budget::{ENTRY, HostBudget};
use crate::core::envelope::Envelope;
use crate::core::failure::Failure;
use crate::core::lifecycle::{AfterDirect, Lifecycle, Next, Refused, Retried};
use crate::core::limits::AgentLimits;
use crate::core::mailbox::Weight;
use crate::core::supervision::RestartPolicy;
use crate::core::tenant::{Priority, QuotaError, RateBucket, Tenant};
use crate::host::ctx::{SharedLog, SharedState};
use crate::host::{AgentInstance, InstanceSpec, Plugin};

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
    /// The caller whose thread handled the request itself (a direct
    /// request, `node/direct.rs`): `Node::apply` hands the answer back to
    /// it, with no channel. Never queued, never passed on.
    Here,
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

impl Retried for Delivery {
    fn attempts(&mut self) -> &mut u32 {
        &mut self.attempts
    }
}

pub use crate::core::lifecycle::{Enqueued, Status};

/// An agent's lifecycle with the mailbox budgets of `limits`.
pub(crate) fn life(limits: &AgentLimits) -> Lifecycle<Delivery> {
    Lifecycle::new(limits.mailbox, HostBudget::of(limits).mailbox)
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
    /// Its mailbox, run state and restart history (the sans-IO lifecycle).
    pub(crate) inner: Mutex<Lifecycle<Delivery>>,
    /// Its instance while idle (a drain holds it otherwise).
    pub(crate) instance: Mutex<Option<AgentInstance>>,
    /// Its tenant's quotas, if the tenant has any (the message rate is
    /// checked on every enqueue).
    pub(crate) tenant_state: Option<Arc<TenantState>>,
    /// Linear memory its live instance holds, bytes (see `InstanceSpec`).
    pub(crate) memory: Arc<AtomicU64>,
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

/// Whether an agent of tenant `from` (defined by `state`, if it has a
/// definition) may address agents of tenant `to`: its own, or one it was
/// granted.
pub(crate) fn may_send(from: &str, state: Option<&TenantState>, to: &str) -> bool {
    match state {
        Some(t) => t.def.may_send_to(from, to),
        None => from == to,
    }
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
            memory: self.memory.clone(),
        }
    }

    /// Whether this agent may address agents of `tenant` (its own, or one
    /// its tenant was granted at its spawn).
    pub(crate) fn may_send_to(&self, tenant: &str) -> bool {
        may_send(&self.tenant, self.tenant_state.as_deref(), tenant)
    }

    /// Appends to the mailbox, or says why not and hands the delivery back
    /// (boxed: the error path is rare, the success path stays small).
    pub(crate) fn enqueue(
        &self,
        delivery: Delivery,
    ) -> Result<Enqueued, Box<(SendError, Delivery)>> {
        if let Err(err) = self.admit(delivery.env.payload.len()) {
            return Err(Box::new((err, delivery)));
        }
        self.enqueue_admitted(delivery)
    }

    /// Whether a message of `size` bytes may be sent to this agent now
    /// (its size limit, its tenant's rate; this takes one of the rate).
    pub(crate) fn admit(&self, size: usize) -> Result<(), SendError> {
        if size > self.limits.max_message {
            return Err(SendError::TooLarge {
                name: self.name.to_string(),
                size,
                limit: self.limits.max_message,
            });
        }
        if let Some(t) = &self.tenant_state {
            t.take(&self.tenant).map_err(SendError::Quota)?;
        }
        Ok(())
    }

    /// [`AgentCell::enqueue`] of a message already [admitted](AgentCell::admit).
    pub(crate) fn enqueue_admitted(
        &self,
        delivery: Delivery,
    ) -> Result<Enqueued, Box<(SendError, Delivery)>> {
        let refused = self.inner.lock().unwrap().enqueue(delivery);
        refused.map_err(|(why, delivery)| {
            let err = match why {
                Refused::NotRunning(status) => SendError::NotRunning {
                    name: self.name.to_string(),
                    status: status.to_string(),
                },
                Refused::Full => SendError::MailboxFull {
                    name: self.name.to_string(),
                    capacity: self.limits.mailbox,
                    bytes: HostBudget::of(&self.limits).mailbox,
                },
            };
            Box::new((err, delivery))
        })
    }

    /// Takes the next batch, or (when none is left) puts the instance back
    /// and releases the drain. Returns `None` when the drain must end. A
    /// drain's first call (`first`) takes the idle instance in the same
    /// lock.
    pub(crate) fn next_batch(
        &self,
        instance: &mut Option<AgentInstance>,
        first: bool,
    ) -> Option<Vec<Delivery>> {
        let mut inner = self.inner.lock().unwrap();
        if first {
            *instance = self.instance.lock().unwrap().take();
        }
        match inner.next_batch() {
            Next::Batch(batch) => Some(batch),
            Next::Park => {
                *self.instance.lock().unwrap() = instance.take();
                None
            }
            Next::Retire => {
                instance.take();
                None
            }
        }
    }

    /// The instance of an idle agent with nothing queued, for one message
    /// handled right where it was sent (see `Lifecycle::try_direct`); the
    /// caller owns it as a drain would, and ends with
    /// [`AgentCell::end_direct`] (or hands a failure to the supervisor).
    pub(crate) fn take_idle(&self) -> Option<AgentInstance> {
        let mut inner = self.inner.lock().unwrap();
        let mut slot = self.instance.lock().unwrap();
        if slot.is_none() || !inner.try_direct() {
            return None;
        }
        slot.take()
    }

    /// After a message handled with the instance of [`AgentCell::take_idle`]:
    /// counts it, and gives the instance back. Returns the recovery this
    /// ends (if any), whether a drain must now run (messages arrived
    /// meanwhile), and the instance if the agent is done with it (stopped
    /// meanwhile), to be dropped.
    pub(crate) fn end_direct(
        &self,
        instance: AgentInstance,
    ) -> (Option<(Instant, &'static str)>, bool, Option<AgentInstance>) {
        let mut inner = self.inner.lock().unwrap();
        let recovered = inner.handled(1);
        let after = inner.after_direct();
        if after == AfterDirect::Retire {
            return (recovered, false, Some(instance));
        }
        *self.instance.lock().unwrap() = Some(instance);
        (recovered, after == AfterDirect::Drain, None)
    }

    /// Marks the agent failed and hands back everything still queued.
    pub(crate) fn fail(&self, failure: Failure) -> Vec<Delivery> {
        self.inner.lock().unwrap().fail(failure)
    }

    /// Graceful stop: no new messages; queued ones are still handled.
    /// Hands back the instance if the agent was idle and is now stopped
    /// (a running drain drops it when done), for the caller to dispose of.
    pub(crate) fn stop(&self) -> Option<AgentInstance> {
        let mut inner = self.inner.lock().unwrap();
        let idle = inner.stop();
        idle.then(|| self.instance.lock().unwrap().take()).flatten()
    }

    /// Abrupt stop: interrupts a running call at its next epoch tick and
    /// hands back every queued message, and the instance if idle.
    pub(crate) fn kill(&self) -> (Vec<Delivery>, Option<AgentInstance>) {
        self.kill.store(true, Relaxed);
        let mut inner = self.inner.lock().unwrap();
        let (queued, idle) = inner.kill();
        let instance = idle.then(|| self.instance.lock().unwrap().take()).flatten();
        (queued, instance)
    }

    pub(crate) fn status(&self) -> Status {
        self.inner.lock().unwrap().status().clone()
    }
}

//! An agent's life as a state machine: its mailbox, whether a drain owns
//! its instance, its status, its restart history. Sans-IO, like
//! quinn-proto's connection: it takes inputs (a message, the end of a
//! batch, a failure, a stop) and the time, and returns what to do (run a
//! drain, hand a batch over, restart after a delay, answer these messages
//! with a failure, dead-letter that one). The node's async shell
//! (`node::drain`) only carries the decisions out, so every rule here is
//! tested deterministically, and by a seeded simulation (`sim`).
//!
//! The rules:
//! - a message enters only while the agent runs, and only if the mailbox
//!   has room (in messages and bytes);
//! - exactly one drain owns the instance at a time ([`Enqueued::Schedule`]
//!   tells the caller that it now owns it);
//! - a failed batch goes back to the front of the mailbox: several
//!   messages are redelivered one by one ("probation") to find the
//!   culprit; a single message is retried up to the policy's
//!   `max_retries`, then dead-lettered; nothing queued is lost by a crash;
//! - when the supervisor gives up, the batch and everything queued are
//!   handed back to be answered with the failure.

use std::time::Instant;

use super::failure::Failure;
use super::mailbox::{Full, Mailbox, Weight};
use super::supervision::{Decision, RestartPolicy, Supervisor};

#[cfg(test)]
mod sim;

/// Most messages handed to one `handle-batch` call.
pub const BATCH: usize = 64;

/// A message as the lifecycle keeps it: it knows how often it crashed the
/// agent.
pub trait Retried: Weight {
    /// Deliveries of this message that crashed the agent so far.
    fn attempts(&mut self) -> &mut u32;
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

/// What [`Lifecycle::enqueue`] asks the caller to do.
#[derive(Debug, PartialEq, Eq)]
pub enum Enqueued {
    /// A drain is already running; nothing to do.
    Queued,
    /// The caller now owns the drain and must run it.
    Schedule,
}

/// Why a message was not taken; it is handed back with this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The agent is not running (stopping, stopped or failed).
    NotRunning(Status),
    /// The mailbox is full (messages or bytes).
    Full,
}

/// What the drain does next.
#[derive(Debug, PartialEq, Eq)]
pub enum Next<M> {
    /// Hand these messages to the instance in one call.
    Batch(Vec<M>),
    /// Nothing left: keep the instance for the next message; the drain ends.
    Park,
    /// Nothing left and the agent is done (stopped or failed): drop the
    /// instance; the drain ends.
    Retire,
}

/// What [`Lifecycle::after_direct`] asks the caller to do.
#[derive(Debug, PartialEq, Eq)]
pub enum AfterDirect {
    /// Messages arrived meanwhile: the caller still owns the instance and
    /// must run a drain.
    Drain,
    /// Keep the instance for the next message.
    Park,
    /// The agent is done (stopped meanwhile): drop the instance.
    Retire,
}

/// What happens after a batch failed.
#[derive(Debug, PartialEq, Eq)]
pub struct AfterFailure<M> {
    /// Restart after a delay, or give up with a reason.
    pub decision: Decision,
    /// Messages that crashed the agent more than `max_retries` times: to
    /// the dead-letter queue, their requesters told.
    pub dead: Vec<M>,
    /// Messages that will never be handled (the supervisor gave up): to be
    /// answered with the failure.
    pub answer: Vec<M>,
}

/// One agent's life (see the module docs).
#[derive(Debug)]
pub struct Lifecycle<M> {
    mailbox: Mailbox<M>,
    /// A drain owns the instance.
    running: bool,
    status: Status,
    handled: u64,
    supervisor: Supervisor,
    /// Deliveries still to hand over one at a time after a batch failed.
    probation: usize,
    /// Set after a restart until the next message is handled: when the
    /// failure happened and its label (for the recovery-time metric).
    recovering: Option<(Instant, &'static str)>,
}

impl<M: Retried> Lifecycle<M> {
    /// A new agent with a mailbox of `capacity` messages and `max_bytes`
    /// bytes. It counts as owned by a drain until it has started: messages
    /// sent meanwhile wait, and [`Lifecycle::started`] releases it.
    pub fn new(capacity: usize, max_bytes: usize) -> Self {
        Lifecycle {
            mailbox: Mailbox::new(capacity, max_bytes),
            running: true,
            status: Status::Running,
            handled: 0,
            supervisor: Supervisor::default(),
            probation: 0,
            recovering: None,
        }
    }

    /// Takes `msg` into the mailbox, or hands it back with the reason.
    pub fn enqueue(&mut self, msg: M) -> Result<Enqueued, (Refused, M)> {
        if self.status != Status::Running {
            return Err((Refused::NotRunning(self.status.clone()), msg));
        }
        if let Err(Full(msg)) = self.mailbox.push(msg) {
            return Err((Refused::Full, msg));
        }
        if self.running {
            Ok(Enqueued::Queued)
        } else {
            self.running = true;
            Ok(Enqueued::Schedule)
        }
    }

    /// Takes one message straight to the instance, without the mailbox:
    /// allowed only while the agent runs, is idle (no drain) and has
    /// nothing queued, so it is exactly [`Lifecycle::enqueue`] followed by
    /// a drain's first batch. The caller then owns the instance as a drain
    /// does, and ends with [`Lifecycle::handled`] and
    /// [`Lifecycle::after_direct`] (or [`Lifecycle::failed`]).
    pub fn try_direct(&mut self) -> bool {
        if self.status != Status::Running || self.running || !self.mailbox.is_empty() {
            return false;
        }
        self.running = true;
        true
    }

    /// After a message taken by [`Lifecycle::try_direct`] was handled:
    /// what becomes of the instance.
    pub fn after_direct(&mut self) -> AfterDirect {
        if !self.mailbox.is_empty() {
            return AfterDirect::Drain;
        }
        match self.end_run() {
            Next::Park => AfterDirect::Park,
            Next::Retire => AfterDirect::Retire,
            Next::Batch(_) => unreachable!("the end of a run gives no batch"),
        }
    }

    /// The instance is up (after spawn, or after a drain handed it back):
    /// whether the caller must run a drain for what waits (else the agent
    /// is idle).
    pub fn started(&mut self) -> bool {
        if self.mailbox.is_empty() {
            self.running = false;
            false
        } else {
            true
        }
    }

    /// What the drain does next: the next batch (one message while on
    /// probation), or the end of the drain.
    pub fn next_batch(&mut self) -> Next<M> {
        let size = if self.probation > 0 {
            self.probation -= 1;
            1
        } else {
            BATCH
        };
        let batch = self.mailbox.pop_batch(size);
        if !batch.is_empty() {
            return Next::Batch(batch);
        }
        self.mailbox.shrink();
        self.end_run()
    }

    /// Nothing is left to hand the instance: it parks, or retires if the
    /// agent was stopped meanwhile.
    fn end_run(&mut self) -> Next<M> {
        self.running = false;
        match self.status {
            Status::Running => Next::Park,
            Status::Stopping => {
                self.status = Status::Stopped;
                Next::Retire
            }
            Status::Stopped | Status::Failed(_) => Next::Retire,
        }
    }

    /// A batch of `n` messages was handled; returns when the agent failed
    /// and why, if this ends a recovery.
    pub fn handled(&mut self, n: u64) -> Option<(Instant, &'static str)> {
        self.handled += n;
        self.supervisor.on_success();
        self.recovering.take()
    }

    /// A batch failed at `now`: what the supervisor decides, and what
    /// becomes of the batch and of what is queued.
    pub fn failed(
        &mut self,
        policy: &RestartPolicy,
        failure: &Failure,
        batch: Vec<M>,
        now: Instant,
    ) -> AfterFailure<M> {
        let decision = self.supervisor.on_failure(policy, failure, false, now);
        let mut after = AfterFailure {
            decision,
            dead: Vec::new(),
            answer: Vec::new(),
        };
        match &after.decision {
            Decision::Restart(_) => {
                let mut back = Vec::with_capacity(batch.len());
                if let [_] = batch.as_slice() {
                    for mut msg in batch {
                        *msg.attempts() += 1;
                        if *msg.attempts() > policy.max_retries {
                            after.dead.push(msg);
                        } else {
                            back.push(msg);
                        }
                    }
                } else {
                    back = batch;
                }
                self.probation = self.probation.max(back.len());
                self.mailbox.push_front_all(back.into_iter());
            }
            Decision::GiveUp(reason) => {
                after.answer = batch;
                after.answer.extend(self.fail(reason.clone()));
            }
        }
        after
    }

    /// A restart's `init` failed at `now`: restart again (after the delay)
    /// or give up, handing back everything queued to be answered.
    pub fn restart_failed(
        &mut self,
        policy: &RestartPolicy,
        failure: &Failure,
        now: Instant,
    ) -> (Decision, Vec<M>) {
        let decision = self.supervisor.on_failure(policy, failure, true, now);
        let queued = match &decision {
            Decision::GiveUp(reason) => self.fail(reason.clone()),
            Decision::Restart(_) => Vec::new(),
        };
        (decision, queued)
    }

    /// Whether a restart should still go ahead (the agent was not stopped
    /// or killed meanwhile).
    pub fn may_restart(&self) -> bool {
        matches!(self.status, Status::Running | Status::Stopping)
    }

    /// A restart succeeded; the failure at `failed_at` (labelled `label`)
    /// ends when the next message is handled.
    pub fn restarted(&mut self, failed_at: Instant, label: &'static str) {
        self.recovering = Some((failed_at, label));
    }

    /// Marks the agent failed (unless it already ended) and hands back
    /// everything queued.
    pub fn fail(&mut self, failure: Failure) -> Vec<M> {
        if !matches!(self.status, Status::Failed(_) | Status::Stopped) {
            self.status = Status::Failed(failure);
        }
        self.mailbox.drain_all()
    }

    /// Graceful stop: no new messages, queued ones are still handled.
    /// True if the agent was idle and is now stopped (the caller drops its
    /// instance; a running drain does so when it is done).
    pub fn stop(&mut self) -> bool {
        if self.status != Status::Running {
            return false;
        }
        if self.running {
            self.status = Status::Stopping;
            false
        } else {
            self.status = Status::Stopped;
            true
        }
    }

    /// Abrupt stop: everything queued is handed back; the second value is
    /// true if the agent was idle (the caller drops its instance).
    pub fn kill(&mut self) -> (Vec<M>, bool) {
        let queued = self.fail(Failure::Killed);
        (queued, !self.running)
    }

    /// Its status.
    pub fn status(&self) -> &Status {
        &self.status
    }

    /// Messages handled so far.
    pub fn handled_count(&self) -> u64 {
        self.handled
    }

    /// Its restart history.
    pub fn supervisor(&self) -> &Supervisor {
        &self.supervisor
    }

    /// Its mailbox.
    pub fn mailbox(&self) -> &Mailbox<M> {
        &self.mailbox
    }
}
